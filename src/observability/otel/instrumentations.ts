/**
 * Which spans a traced request records: Kong's node setting `tracing_instrumentations`
 * (kong.conf; here `MODELGATE_TRACING_INSTRUMENTATIONS`, src/settings.ts), with Kong's values.
 *
 * - `off`: nothing is recorded; the opentelemetry plugin still continues and propagates the
 *   caller's trace (Kong: "propagation only") and sends its log records and GenAI metrics.
 * - `request`: the request span (`kong`) and, on AI routes, the GenAI client span of each
 *   provider call: an AI call is what an AI request is made of (docs/plugins.md, "opentelemetry").
 * - `balancer`: a `kong.balancer` span per attempt at a service.
 * - `router`, `plugin_access`, `plugin_header_filter`: Kong's router and plugin-phase spans.
 * - `plugin_rewrite`, `http_client`, `db_query`, `dns_query`: accepted (Kong's configuration is
 *   valid here) and record nothing: modelgate has no rewrite phase, and no database query, DNS
 *   lookup or other HTTP client call on a request's path outside the ones above.
 * - `all`: every one of them.
 *
 * modelgate's default is `request,balancer`, not Kong's `off`: an operator who adds the plugin
 * wants the requests' traces (as with the sampling rate's default, docs/decisions.md); the
 * router and plugin-phase spans are diagnostics, two to five more spans per request, asked for
 * with `all`.
 */
export const INSTRUMENTATIONS = ['off', 'all', 'request', 'router', 'balancer', 'plugin_rewrite', 'plugin_access', 'plugin_header_filter', 'http_client', 'db_query', 'dns_query'] as const;
export type Instrumentation = (typeof INSTRUMENTATIONS)[number];

export const DEFAULT_INSTRUMENTATIONS = 'request,balancer';

/** What a traced request records, decided once per worker. */
export interface Instruments {
  request: boolean;
  router: boolean;
  balancer: boolean;
  pluginAccess: boolean;
  pluginHeaderFilter: boolean;
}

/** The instruments of a `tracing_instrumentations` list (already checked against INSTRUMENTATIONS). */
export function instrumentsOf(values: readonly Instrumentation[]): Instruments {
  const on = (v: Instrumentation) => values.includes('all') || values.includes(v);
  if (values.includes('off')) return { request: false, router: false, balancer: false, pluginAccess: false, pluginHeaderFilter: false };
  return { request: on('request'), router: on('router'), balancer: on('balancer'), pluginAccess: on('plugin_access'), pluginHeaderFilter: on('plugin_header_filter') };
}

/** Every instrument: what tests and tools that want Kong's full span set use. */
export const ALL_INSTRUMENTS: Instruments = instrumentsOf(['all']);

/** No instrument: what an unsampled trace records. */
export const NO_INSTRUMENTS: Instruments = instrumentsOf(['off']);
