/**
 * Every plugin modelgate ships, by name. The control plane reads schemas from here to validate
 * Admin API writes; workers read handlers to build plugin chains.
 *
 * Schemas are loaded with this module; a plugin's handler (its index.ts: the handler and any
 * module that registers itself with it) only when a configuration first uses the plugin
 * (`loadPluginHandlers`, awaited by the worker's snapshot compile, so a request never waits on an
 * import). A worker carries only the handlers its configuration names: the others (the MCP
 * proxy, the sanitizer with libphonenumber's metadata, the log plugins ...) were ~8 MB
 * of idle RSS in every worker, and the primary, which never runs a handler, loads none.
 */
import type { PluginHandler, PluginModule, PluginSchema } from './types.ts';
import { schema as requestTermination } from './request-termination/schema.ts';
import { schema as aiProxy } from './ai-proxy/schema.ts';
import { schema as aiProxyAdvanced } from './ai-proxy-advanced/schema.ts';
import { schema as keyAuth } from './key-auth/schema.ts';
import { schema as rateLimiting } from './rate-limiting/schema.ts';
import { schema as aiRateLimitingAdvanced } from './ai-rate-limiting-advanced/schema.ts';
import { schema as aiBudget } from './ai-budget/schema.ts';
import { schema as aiPromptDecorator } from './ai-prompt-decorator/schema.ts';
import { schema as aiPromptGuard } from './ai-prompt-guard/schema.ts';
import { schema as aiGuardrailWebhook } from './ai-guardrail-webhook/schema.ts';
import { schema as aiPromptTemplate } from './ai-prompt-template/schema.ts';
import { schema as aiSanitizer } from './ai-sanitizer/schema.ts';
import { schema as aiSemanticCache } from './ai-semantic-cache/schema.ts';
import { schema as prometheus } from './prometheus/schema.ts';
import { schema as httpLog } from './http-log/schema.ts';
import { schema as fileLog } from './file-log/schema.ts';
import { schema as opentelemetry } from './opentelemetry/schema.ts';
import { schema as aiMcpProxy } from './ai-mcp-proxy/schema.ts';

type HandlerModule = Pick<PluginModule, 'handler'>;

// Literal import() paths, one per plugin: each is a module of its own, loaded on first use.
const PLUGINS: [PluginSchema, () => Promise<HandlerModule>][] = [
  [requestTermination, () => import('./request-termination/index.ts')],
  [aiProxy, () => import('./ai-proxy/index.ts')],
  [aiProxyAdvanced, () => import('./ai-proxy-advanced/index.ts')],
  [keyAuth, () => import('./key-auth/index.ts')],
  [rateLimiting, () => import('./rate-limiting/index.ts')],
  [aiRateLimitingAdvanced, () => import('./ai-rate-limiting-advanced/index.ts')],
  [aiBudget, () => import('./ai-budget/index.ts')],
  [aiPromptDecorator, () => import('./ai-prompt-decorator/index.ts')],
  [aiPromptGuard, () => import('./ai-prompt-guard/index.ts')],
  [aiGuardrailWebhook, () => import('./ai-guardrail-webhook/index.ts')],
  [aiPromptTemplate, () => import('./ai-prompt-template/index.ts')],
  [aiSanitizer, () => import('./ai-sanitizer/index.ts')],
  [aiSemanticCache, () => import('./ai-semantic-cache/index.ts')],
  [prometheus, () => import('./prometheus/index.ts')],
  [httpLog, () => import('./http-log/index.ts')],
  [fileLog, () => import('./file-log/index.ts')],
  [opentelemetry, () => import('./opentelemetry/index.ts')],
  [aiMcpProxy, () => import('./ai-mcp-proxy/index.ts')],
];

const SCHEMAS = new Map<string, PluginSchema>(PLUGINS.map(([s]) => [s.name, s]));
const LOADERS = new Map<string, () => Promise<HandlerModule>>(PLUGINS.map(([s, load]) => [s.name, load]));
/** Handlers loaded so far, and why the ones that could not be loaded failed. */
const HANDLERS = new Map<string, PluginHandler>();
const FAILED = new Map<string, string>();

export function getPluginSchema(name: string): PluginSchema | undefined {
  return SCHEMAS.get(name);
}

export function pluginNames(): string[] {
  return [...SCHEMAS.keys()].sort();
}

/**
 * Loads the handlers of the named plugins not loaded yet (unknown names are skipped: the compile
 * reports them). A plugin whose handler fails to load is left out: `pluginHandler` says why.
 */
export async function loadPluginHandlers(names: Iterable<string>): Promise<void> {
  const wanted = [...new Set(names)].filter((n) => LOADERS.has(n) && !HANDLERS.has(n));
  await Promise.all(
    wanted.map(async (name) => {
      try {
        HANDLERS.set(name, (await LOADERS.get(name)!()).handler);
      } catch (e) {
        FAILED.set(name, (e as Error)?.message ?? String(e));
      }
    }),
  );
}

/**
 * A loaded plugin's handler; an Error naming the reason when it is not loaded (never asked for
 * with `loadPluginHandlers`, or its module failed to load).
 */
export function pluginHandler(name: string): PluginHandler | Error {
  return HANDLERS.get(name) ?? new Error(FAILED.get(name) ?? `the handler of plugin '${name}' is not loaded`);
}
