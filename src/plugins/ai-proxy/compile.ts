/**
 * What an ai-proxy config compiles to once per snapshot: the driver, the options with defaults,
 * the auth to inject, and a cache of parsed upstream URLs, so a request does no config work.
 */
import type { AiProxyConfig, AuthConfig, ModelOptions } from './schema.ts';
import type { AnyRouteType, Endpoint, ProviderDriver } from '../../llm/types.ts';
import type { UpstreamLimits } from './upstream-request.ts';
import { getDriver } from '../../llm/drivers/index.ts';
import type { CompileContext, CredentialNames } from '../types.ts';
import type { UpstreamTarget } from '../../proxy/upstream.ts';
import { compileResponsesStore, type ResponsesStoreRef } from './responses-state.ts';

export interface ResolvedEndpoint {
  target: UpstreamTarget;
  /** Path and query string. */
  path: string;
  /** `host[:port]` for the Host header. */
  host: string;
  /** Headers the provider requires (anthropic-version ...), auth included. */
  headers: Record<string, string>;
  /** The driver's headers these were made from. */
  providerHeaders: Record<string, string>;
}

export interface CompiledAiProxy {
  config: AiProxyConfig;
  driver: ProviderDriver;
  routeType: AnyRouteType;
  options: ModelOptions;
  /**
   * The options for clients of the APIs Kong 3.6 never had (OpenAI Responses, Anthropic Messages):
   * without Kong 3.6's schema defaults (`max_tokens` 256, `temperature` 1.0), which exist for the
   * chat guide's clients. Those clients' own values apply unless the operator set others
   * (docs/ai-proxy.md, "Client APIs").
   */
  newApiOptions: ModelOptions;
  /** The header as the provider must get it (lower-cased name), or null. */
  authHeader: [string, string] | null;
  /** The client header that may replace the configured value (`allow_override`), lower-cased. */
  overrideHeader: string | null;
  authQuery: [string, string] | null;
  authBody: [string, string] | null;
  /**
   * The configured auth header and query parameter names, masked in log entries: the key this
   * plugin adds to the provider's URL, and what a client sends under the same names (its own key,
   * with `allow_override`).
   */
  credentialNames: CredentialNames;
  /** url → parsed endpoint, per service timeouts (a plugin may serve several routes). */
  endpoints: Map<string, ResolvedEndpoint>;
  /** The endpoint the last request resolved, checked first. */
  lastEndpoint: { url: string; limits: UpstreamLimits; providerHeaders: Record<string, string>; resolved: ResolvedEndpoint } | null;
  /** The driver's endpoint for the last (route type, model, stream), checked first. */
  /** Where Responses API answers are kept (null: the route keeps none). */
  responses: ResponsesStoreRef;
  lastDriverEndpoint: { routeType: string; inbound: string; model: string; stream: boolean; endpoint: Endpoint } | null;
}

/** Every model option unset: what a route without `model.options` compiles to (the tests use it too). */
export const EMPTY_OPTIONS: ModelOptions = {
  max_tokens: null,
  temperature: null,
  top_p: null,
  top_k: null,
  anthropic_version: null,
  azure_instance: null,
  azure_api_version: null,
  azure_deployment_id: null,
  llama2_format: null,
  mistral_format: null,
  upstream_url: null,
  upstream_path: null,
  input_cost: null,
  output_cost: null,
};

function auth(config: AuthConfig | null, driver: ProviderDriver, ctx: CompileContext): Pick<CompiledAiProxy, 'authHeader' | 'overrideHeader' | 'authQuery' | 'authBody' | 'credentialNames'> {
  let authHeader: [string, string] | null = null;
  let authQuery: [string, string] | null = null;
  let authBody: [string, string] | null = null;
  if (config?.header_name && config.header_value) {
    const [name, value] = driver.authHeader ? driver.authHeader(config.header_name, config.header_value) : [config.header_name, config.header_value];
    authHeader = [name.toLowerCase(), value];
    ctx.registerSecret(value);
  }
  if (config?.param_name && config.param_value) {
    ctx.registerSecret(config.param_value);
    if (config.param_location === 'body') authBody = [config.param_name, config.param_value];
    else authQuery = [config.param_name, config.param_value];
  }
  // cloud identities are as secret as keys: never in a log line or an error body
  for (const value of [config?.aws_secret_access_key, config?.gcp_service_account_json]) if (value) ctx.registerSecret(value);
  const overrideHeader = config?.allow_override && config.header_name ? config.header_name.toLowerCase() : null;
  const credentialNames: CredentialNames = {
    headers: [...new Set([config?.header_name?.toLowerCase(), authHeader?.[0]].filter((n): n is string => !!n))],
    query: config?.param_name && config.param_location !== 'body' ? [config.param_name] : [],
  };
  return { authHeader, overrideHeader, authQuery, authBody, credentialNames };
}

/** Kong 3.6's schema defaults for `model.options` (docs/ai-proxy.md, "Configuration"). */
const KONG_36_DEFAULTS = { max_tokens: 256, temperature: 1.0 } as const;

function withoutKong36Defaults(options: ModelOptions): ModelOptions {
  return {
    ...options,
    max_tokens: options.max_tokens === KONG_36_DEFAULTS.max_tokens ? null : options.max_tokens,
    temperature: options.temperature === KONG_36_DEFAULTS.temperature ? null : options.temperature,
  };
}

export function compileAiProxy(config: AiProxyConfig, ctx: CompileContext): CompiledAiProxy {
  const driver = getDriver(config.model.provider);
  const options: ModelOptions = { ...EMPTY_OPTIONS, ...(config.model.options ?? {}) };
  return {
    config,
    driver,
    routeType: config.route_type,
    options,
    newApiOptions: withoutKong36Defaults(options),
    ...auth(config.auth, driver, ctx),
    endpoints: new Map(),
    lastEndpoint: null,
    lastDriverEndpoint: null,
    responses: compileResponsesStore(config.responses),
  };
}
