/**
 * The plugin's modes (Kong's `config.mode`) and which of them modelgate serves. A mode is a
 * function that owns the request (`ctx.handler`). Adding one: write its module, put it in `SERVE`;
 * the config check below then accepts it. Nothing else in the plugin names modes.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import { servePassthrough } from './passthrough.ts';
import { serveConversion } from './conversion.ts';
import { serveListener } from './listener.ts';

export const MCP_MODES = ['passthrough-listener', 'conversion-listener', 'conversion-only', 'listener'] as const;
export type McpMode = (typeof MCP_MODES)[number];

export type ModeServer = (ctx: RequestContext, conf: CompiledMcp) => Promise<void>;

/** The built modes. `conversion-only` serves nothing itself (its tools are exported to a `listener`): it maps to null once built. */
export const SERVE: Partial<Record<McpMode, ModeServer | null>> = {
  'passthrough-listener': servePassthrough,
  'conversion-listener': serveConversion,
  // serves nothing itself: its route proxies as usual, and a `listener` lists and calls its tools (conversion.ts)
  'conversion-only': null,
  listener: serveListener,
};

/** Config-time check: a mode not built yet is refused by name, not accepted and then failing at request time. */
export function builtModeCheck(c: { mode?: string }): string | undefined {
  if (!c.mode || c.mode in SERVE) return undefined;
  return `mode '${c.mode}' is not available in modelgate yet (built: ${Object.keys(SERVE).join(', ')})`;
}
