/**
 * Anthropic: the Messages API, `https://api.anthropic.com:443/v1/messages`, for both route types.
 * Every request carries `anthropic-version` (default `2023-06-01`, the only version of the
 * Messages API). Anthropic authenticates API keys only through `x-api-key`; the guide configures
 * `apikey`, Kong's tests `x-api-key`, and people paste `Authorization: Bearer sk-...`: all of them
 * are sent as `x-api-key`.
 *
 * No `anthropic-beta` header is needed for what the format sends: structured outputs are GA as
 * `output_config.format` (the beta `output_format` wanted `structured-outputs-2025-11-13`), adaptive
 * thinking and `output_config.effort` need none, and prompt caching (with `ttl`) is GA. The
 * endpoint depends on the route only (the plugin reuses it across requests), so a per-request beta
 * could not go here anyway.
 */
import { anthropicMessagesFormat } from '../formats/anthropic-messages.ts';
import { anthropicNativeFormat } from '../formats/anthropic-native.ts';
import { headerValue, resolveUrl } from '../url.ts';
import { defineDriver } from './define.ts';

export const ANTHROPIC_ORIGIN = 'https://api.anthropic.com:443';
export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';

export const anthropicDriver = defineDriver({
  name: 'anthropic',
  endpoint: (ctx) => ({
    url: resolveUrl(ctx.options, ANTHROPIC_ORIGIN, '/v1/messages'),
    headers: {
      'anthropic-version': headerValue(ctx.options.anthropic_version ?? ANTHROPIC_DEFAULT_VERSION, 'anthropic_version'),
      'content-type': 'application/json',
    },
  }),
  authHeader: (_name, value) => ['x-api-key', value.replace(/^\s*bearer\s+/i, '').trim()],
  // An Anthropic client's own body goes to the same /v1/messages as it came (anthropic-native.ts).
  formatFor: (ctx) => (ctx.inbound === 'anthropic-messages' ? anthropicNativeFormat : anthropicMessagesFormat),
});
