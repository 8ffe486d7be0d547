/**
 * A refusal names the field as the client wrote it, whatever API it spoke: provider formats name
 * fields as Chat Completions does, and the client API's table renames them (src/exchange/apis/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientApi } from '../../src/exchange/apis/index.ts';
import { clientFieldPath } from '../../src/exchange/apis/types.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { EMPTY_OPTIONS } from '../../src/plugins/ai-proxy/compile.ts';
import type { InboundFormat } from '../../src/exchange/types.ts';
import type { ProviderName } from '../../src/llm/types.ts';

function refusal(format: InboundFormat, provider: ProviderName, body: unknown, options: Record<string, unknown> = {}): string {
  const req = clientApi(format).parse(body);
  const ctx = new ExchangeContext({ provider, routeType: 'llm/v1/chat', model: 'm', options: { ...EMPTY_OPTIONS, ...options }, stream: false, includeUsage: true, inbound: format, request: req });
  try {
    providerBody(getDriver(provider), req, ctx);
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
}

test("an Anthropic client's thinking budget refused by name: thinking.budget_tokens", () => {
  const body = { model: 'm', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'hi' }] };
  assert.match(refusal('anthropic-messages', 'mistral', body, { mistral_format: 'openai' }), /^thinking\.budget_tokens: /);
});

test("a Responses client's reasoning effort refused by name: reasoning.effort", () => {
  assert.match(refusal('openai-responses', 'cohere', { model: 'm', input: 'hi', reasoning: { effort: 'high' } }), /^reasoning\.effort: /);
});

test("a Chat Completions client's names stay its own", () => {
  assert.match(refusal('openai-chat', 'cohere', { model: 'm', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'high' }), /^reasoning_effort: /);
});

test('only the leading field is renamed, the rest of the path kept', () => {
  const names = [['response_format', 'text.format']] as const;
  assert.equal(clientFieldPath('response_format.json_schema', names), 'text.format.json_schema');
  assert.equal(clientFieldPath('response_formats', names), 'response_formats');
  assert.equal(clientFieldPath('tools[0]', names), 'tools[0]');
});

test("an Anthropic client's thinking budget reaches an OpenAI reasoning model as the effort it corresponds to", () => {
  const body = (budget: number) => ({ model: 'm', max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: budget }, messages: [{ role: 'user', content: 'hi' }] });
  const sent = (budget: number, model: string) => {
    const req = clientApi('anthropic-messages').parse(body(budget));
    const ctx = new ExchangeContext({ provider: 'openai', routeType: 'llm/v1/chat', model, options: EMPTY_OPTIONS, stream: false, includeUsage: true, inbound: 'anthropic-messages', request: req });
    return providerBody(getDriver('openai'), req, ctx);
  };
  assert.equal(sent(1024, 'gpt-5-mini').reasoning_effort, 'low');
  assert.equal(sent(31999, 'o4-mini').reasoning_effort, 'high');
  assert.match(refusal('anthropic-messages', 'openai', body(4096)), /^thinking\.budget_tokens: not supported by the openai provider/); // refusal() asks model 'm', not a reasoning model
});
