/**
 * What a plugin is: a schema (validated by the control plane when written) and phase functions
 * (run by proxy workers, in Kong's priority order: higher priority first).
 */
import type { Field } from '../schema/types.ts';
import type { RequestContext } from '../proxy/context.ts';

export interface PluginSchema {
  name: string;
  /** Kong's PRIORITY: higher runs earlier in access and later in nothing else. */
  priority: number;
  version: string;
  /** The `config` record. */
  config: Field & { type: 'record' };
  /** Kong's `no_consumer` / `no_service` / `no_route` typedefs: scopes the plugin cannot attach to. */
  noConsumer?: boolean;
  noService?: boolean;
  noRoute?: boolean;
  protocols?: Field;
  /** Non-fatal notes about a valid config (deprecated placement and the like), logged when loaded. */
  warnings?: (config: any) => string[];
}

/** The per-snapshot state a handler derives once from its config (compiled regexes, URLs...). */
export type Compiled = unknown;

export interface CompileContext {
  /** Resolves `{vault://env/NAME}` references; returns the input when it is not a reference. */
  resolveSecret(value: string): string;
  /** Registers a secret so that loggers mask it wherever it appears. */
  registerSecret(value: string): void;
}

/**
 * Where a plugin's configuration says a credential travels: names the log serializer masks in
 * every entry (request headers, request query, `upstream_uri`'s query) on routes the plugin is on.
 */
export interface CredentialNames {
  /** Header names, lower-cased. */
  headers: readonly string[];
  /** Query parameter names, as configured (case matters in a query). */
  query: readonly string[];
}

export interface PluginHandler<C = any, S = C> {
  /** Derive per-snapshot state from the stored config; runs when a snapshot is compiled, not per request. */
  compile?(config: C, ctx: CompileContext): S;
  /** Before the upstream call. May answer the client with `ctx.exit()`. */
  access?(ctx: RequestContext, conf: S): void | Promise<void>;
  /** Response status and headers are known and still mutable. */
  headerFilter?(ctx: RequestContext, conf: S): void;
  /** The whole response body, when a plugin asked for buffering (`ctx.bufferResponse`). */
  bodyFilter?(ctx: RequestContext, conf: S, body: Buffer): Buffer | string | void;
  /** After the response is sent (or the client went away). Must not throw or block. */
  log?(ctx: RequestContext, conf: S): void;
  /** Credential names this configuration uses (ai-proxy's auth header or query parameter); read only by log serializers. */
  credentialNames?(conf: S): CredentialNames;
  /**
   * The shape of every error answer the gateway writes on a route this plugin is on (a plugin's
   * exit, a body limit, an upstream failure, this plugin's own errors): ai-proxy gives them
   * OpenAI's error envelope. `body` is what would be sent (Kong's `{"message"}` and the like);
   * the result is sent instead. Called only for statuses of 400 and above.
   */
  errorBody?(ctx: RequestContext, conf: S, status: number, body: unknown): unknown;
}

export interface PluginModule<C = any, S = C> {
  schema: PluginSchema;
  handler: PluginHandler<C, S>;
}
