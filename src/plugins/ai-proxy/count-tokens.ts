/**
 * Anthropic's `POST /v1/messages/count_tokens` on an Anthropic-format route (Claude Code calls it
 * to size its context): in front of Anthropic it is Anthropic's own count (the client's body,
 * the target's model, the gateway's key); in front of any other provider the gateway's estimate
 * of the same request (src/llm/tokens.ts), marked `X-Modelgate-Token-Count: estimated` so nobody
 * mistakes it for the provider's count.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import type { UpstreamLimits } from './upstream-request.ts';
import { relayProviderError, readProviderBody, sendBody, answerHeaders } from './relay-json.ts';
import { endSent, resolveModel, sendCall } from './exchange.ts';
import { ExchangeContext } from '../../exchange/context.ts';
import { clientApi } from '../../exchange/apis/index.ts';
import { parseCountTokensRequest } from '../../exchange/inbound/anthropic-messages.ts';
import { estimateInputTokens } from '../../exchange/estimate.ts';
import { countTokensUrl } from '../../llm/formats/anthropic-native.ts';
import { RequestError } from '../../llm/types.ts';
import { aiError } from './openai-error.ts';
import { applyPromptHooks } from '../shared/prompt-hooks.ts';

export interface CountTarget {
  conf: CompiledAiProxy;
  /** The target's configured model name (null: the client's). */
  model: string | null;
}

const ANTHROPIC_API = clientApi('anthropic-messages');

export async function countTokens(ctx: RequestContext, target: CountTarget, value: unknown, limits: UpstreamLimits): Promise<void> {
  let canonical;
  try {
    canonical = parseCountTokensRequest(value);
  } catch (e) {
    if (e instanceof RequestError) throw aiError(400, e.message, { code: 'invalid_request' });
    throw e;
  }
  applyPromptHooks(ctx, canonical); // a decorator's messages are part of what the model will read
  const model = resolveModel(target.model, value as { model?: unknown });
  const { conf } = target;
  if (conf.config.model.provider !== 'anthropic') {
    const headers: Record<string, string> = { 'x-modelgate-token-count': 'estimated' };
    sendBody(ctx.res, 200, JSON.stringify({ input_tokens: estimateInputTokens(canonical) }), headers);
    return;
  }
  const driver = new ExchangeContext({ provider: 'anthropic', routeType: 'llm/v1/chat', model, options: conf.options, stream: false, includeUsage: true, inbound: 'anthropic-messages', request: canonical });
  const endpoint = conf.driver.endpoint(driver);
  const body = JSON.stringify({ ...canonical.source.body, model });
  const sent = await sendCall(ctx, conf, countTokensUrl(endpoint.url), endpoint.headers, body, null, limits, true, driver);
  ctx.attempts = sent.attempts;
  try {
    if (sent.response.statusCode !== 200) return await relayProviderError(ctx, conf, sent.response, model, undefined, ANTHROPIC_API);
    const text = await readProviderBody(ctx, sent.response);
    sendBody(ctx.res, 200, text, answerHeaders(ctx, conf, model, sent.response));
  } finally {
    endSent(ctx, sent);
  }
}
