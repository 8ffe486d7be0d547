/**
 * Each built mode's server (modes.ts names them). `conversion-only` serves nothing itself: its
 * route proxies as usual, and a `listener` lists and calls its tools (conversion.ts); it maps to
 * null.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import type { BuiltMode, McpMode } from './modes.ts';
import { servePassthrough } from './passthrough.ts';
import { serveConversion } from './conversion.ts';
import { serveListener } from './listener.ts';

export type ModeServer = (ctx: RequestContext, conf: CompiledMcp) => Promise<void>;

const BUILT: Record<BuiltMode, ModeServer | null> = {
  'passthrough-listener': servePassthrough,
  'conversion-listener': serveConversion,
  'conversion-only': null,
  listener: serveListener,
};

/** The server of a mode; undefined for a mode not built (the config check refuses those first). */
export const SERVE: Partial<Record<McpMode, ModeServer | null>> = BUILT;
