/**
 * Each built mode's server (modes.ts names them). `conversion-only` serves nothing itself: its
 * route proxies as usual, and a `listener` lists and calls its tools (conversion.ts); it maps to
 * null.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import type { BuiltMode } from './modes.ts';
import { servePassthrough } from './passthrough.ts';
import { serveConversion } from './conversion.ts';
import { serveListener } from './listener.ts';

export type ModeServer = (ctx: RequestContext, conf: CompiledMcp) => Promise<void>;

/** The server of each built mode (the config check refuses the others before they get here). */
export const SERVE: Record<BuiltMode, ModeServer | null> = {
  'passthrough-listener': servePassthrough,
  'conversion-listener': serveConversion,
  'conversion-only': null,
  listener: serveListener,
};
