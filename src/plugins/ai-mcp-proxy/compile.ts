/**
 * What the plugin derives once per snapshot from its config: the upstream's URL and headers with
 * vault references resolved and registered as secrets (so loggers mask them wherever they appear).
 */
import type { CompileContext } from '../types.ts';
import type { AiMcpProxyConfig } from './schema.ts';
import { isVaultReference, resolveReference } from '../../snapshot/vault.ts';

export interface CompiledMcp {
  config: AiMcpProxyConfig;
  /** server.url parsed, or null: the route's service is the upstream then. */
  upstreamUrl: URL | null;
  /** Headers the gateway adds toward the upstream, lower-cased names, resolved values. */
  upstreamHeaders: Record<string, string>;
  /** Lower-cased names of the configured upstream headers: a client's copies are dropped. */
  upstreamHeaderNames: Set<string>;
  /** The body limit in bytes (Kong: 0 means only the gateway's own limit). */
  maxBodySize: number;
  timeoutMs: number;
}

export function compileMcp(config: AiMcpProxyConfig, ctx: CompileContext): CompiledMcp {
  const upstreamHeaders: Record<string, string> = {};
  for (const [name, raw] of Object.entries(config.server.headers ?? {})) {
    // the snapshot resolves references in string fields; a map's values are this plugin's to resolve
    const value = isVaultReference(raw) ? resolveReference(raw) : ctx.resolveSecret(raw);
    ctx.registerSecret(value);
    upstreamHeaders[name.toLowerCase()] = value;
  }
  return {
    config,
    upstreamUrl: config.server.url ? new URL(config.server.url) : null,
    upstreamHeaders,
    upstreamHeaderNames: new Set(Object.keys(upstreamHeaders)),
    maxBodySize: config.max_request_body_size,
    timeoutMs: config.server.timeout,
  };
}
