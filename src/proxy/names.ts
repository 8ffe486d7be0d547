/**
 * Header names the gateway adds. Kong's are `X-Kong-*`; ours say `X-Modelgate-*` so nobody mistakes
 * one gateway for the other in a trace (docs/decisions.md, "Response headers").
 */
export const VERSION = '0.1.0';

export const HEADERS = {
  requestId: 'x-modelgate-request-id',
  upstreamLatency: 'x-modelgate-upstream-latency',
  proxyLatency: 'x-modelgate-proxy-latency',
  responseLatency: 'x-modelgate-response-latency',
  llmModel: 'x-modelgate-llm-model',
  /** The client fields the unsupported-params policy dropped (`drop`, or `pass` for what cannot be passed), comma-separated. */
  droppedParams: 'x-modelgate-dropped-params',
  server: `modelgate/${VERSION}`,
  via: `1.1 modelgate/${VERSION}`,
} as const;
