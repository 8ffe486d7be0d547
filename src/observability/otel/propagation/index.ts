/**
 * Trace context propagation (issue 21): reading a caller's context from request headers in every
 * format Kong knows, writing the gateway's on outgoing requests, and the plugin's configuration of
 * both. Pure functions, no I/O; the plugin compiles its configuration once per snapshot and the
 * request path calls extract once per request and injectHeaders once per outgoing call.
 */
export { extract, extractEveryFormat } from './extract.ts';
export { injectHeaders, type InjectContext } from './inject.ts';
export { compilePropagation, headersToClear, LEGACY_EXTRACT, type PropagationSettings } from './config.ts';
