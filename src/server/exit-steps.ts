/**
 * Steps that modules loaded on demand add to a worker's exit. The worker's drain runs them, in the
 * order they were added, after its last spend batch is on the channel; a worker that never loaded
 * such a module (the OpenTelemetry plugin's exporters) neither loads nor runs anything for it.
 */
type ExitStep = (deadlineMs: number) => void | Promise<void>;

const steps: ExitStep[] = [];

export function atWorkerExit(step: ExitStep): void {
  steps.push(step);
}

/** Runs every step, one after another, each given the same deadline. */
export async function runExitSteps(deadlineMs: number): Promise<void> {
  for (const step of steps.splice(0)) await step(deadlineMs);
}
