/**
 * OpenRouter (https://openrouter.ai/api/v1): the OpenAI-compatible mock at `/api/v1`, a Bearer key
 * required, answering with OpenRouter's usage accounting
 * (https://openrouter.ai/docs/use-cases/usage-accounting):
 *
 * - every answer carries its usage, streamed (the last SSE message) or not, whether or not the
 *   request asked: `stream_options.include_usage` is deprecated there and has no effect;
 * - the usage says what the call cost: `cost` (credits, i.e. USD: what the account was charged),
 *   `is_byok`, and `cost_details.upstream_inference_cost` (what the upstream provider charged; with
 *   a BYOK key the upstream bills the user's own key and `cost` is OpenRouter's fee, 5% here as in
 *   the page's example: 0.95 on an upstream 19), with its prompt and completion parts.
 *
 * The mock's cost is the usage's tokens at `prices` (USD per million tokens), so a test can compute
 * it from the usage the client got; the figure itself is whatever the mock sent.
 */
import type { HandlerCtx, ProviderImpl, Reply } from './server.ts';
import { sse } from './server.ts';
import { isObject } from './text.ts';
import { openaiCompatibleProvider, type OpenAIOptions } from './openai.ts';

export interface OpenRouterOptions extends OpenAIOptions {
  /** USD per million prompt and completion tokens the mock bills at (default 0.15 / 0.6). */
  prices?: { input: number; output: number };
  /** Answer as for a BYOK key: `is_byok: true`, `cost` OpenRouter's 5% fee on the upstream's charge. */
  byok?: boolean;
}

const BYOK_FEE = 0.05;

/** The usage object with OpenRouter's cost fields added. */
export function withOpenRouterCost(usage: Record<string, unknown>, opts: OpenRouterOptions): Record<string, unknown> {
  const prices = opts.prices ?? { input: 0.15, output: 0.6 };
  const promptCost = (Number(usage.prompt_tokens) * prices.input) / 1e6;
  const completionCost = (Number(usage.completion_tokens) * prices.output) / 1e6;
  const upstream = promptCost + completionCost;
  return {
    ...usage,
    cost: opts.byok ? upstream * BYOK_FEE : upstream,
    is_byok: opts.byok === true,
    cost_details: { upstream_inference_cost: upstream, upstream_inference_prompt_cost: promptCost, upstream_inference_completions_cost: completionCost },
  };
}

export function openrouterProvider(opts: OpenRouterOptions & Record<string, unknown>): ProviderImpl {
  const inner = openaiCompatibleProvider({ pathPrefix: '/api/v1', ...opts });
  return {
    handle(ctx: HandlerCtx): Reply {
      const body = ctx.req.json;
      const streamed = isObject(body) && body.stream === true;
      const asked = streamed && isObject(body.stream_options) && body.stream_options.include_usage === true;
      // the inner mock sends stream usage only when asked; OpenRouter always does
      const json = streamed ? { ...body, stream_options: { include_usage: true } } : body;
      const reply = inner.handle({ ...ctx, req: { ...ctx.req, json } });
      if (reply.kind === 'json') {
        if (reply.status === 200 && isObject(reply.body) && isObject(reply.body.usage)) reply.body = { ...reply.body, usage: withOpenRouterCost(reply.body.usage, opts) };
        return reply;
      }
      reply.frames = reply.frames.map((frame) => {
        if (typeof frame !== 'string' || !frame.startsWith('data: {')) return frame;
        const chunk = JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>;
        if (isObject(chunk.usage)) chunk.usage = withOpenRouterCost(chunk.usage, opts);
        else if (!asked) delete chunk.usage; // `usage: null` on every chunk is OpenAI's answer to include_usage
        return sse(chunk);
      });
      return reply;
    },
    errorReply: inner.errorReply,
  };
}
