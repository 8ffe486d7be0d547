/**
 * The plugin's modes (Kong's `config.mode`) and which of them modelgate serves. A mode is a
 * function that owns the request (`ctx.handler`). Adding one: write its module, name it in
 * `BUILT_MODES` and map it in `SERVE` (serve.ts: its type makes the two agree); the config check
 * below then accepts it. Nothing else in the plugin names modes.
 *
 * The names live apart from the servers because the schema (loaded by every process, whether a
 * configuration uses MCP or not) needs only the names: importing the servers here pulled the
 * whole MCP proxy, ~25 modules, into every worker.
 */
export const MCP_MODES = ['passthrough-listener', 'conversion-listener', 'conversion-only', 'listener'] as const;
export type McpMode = (typeof MCP_MODES)[number];

/** The modes modelgate serves (each mapped to its server in serve.ts): all of Kong's, today. */
export const BUILT_MODES = MCP_MODES;
export type BuiltMode = (typeof BUILT_MODES)[number];

/** Config-time check: a mode not built yet is refused by name, not accepted and then failing at request time. */
export function builtModeCheck(c: { mode?: string }): string | undefined {
  if (!c.mode || (BUILT_MODES as readonly string[]).includes(c.mode)) return undefined;
  return `mode '${c.mode}' is not available in modelgate yet (built: ${BUILT_MODES.join(', ')})`;
}
