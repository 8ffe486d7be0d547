/**
 * Issue 22, ai-sanitizer against the real gateway and strict mock providers: a chat carrying an
 * email, a card and an AWS key — the provider never receives them (the mock's recorded body), the
 * client reads them restored in the answer, JSON and streamed (the stream cut into small pieces
 * so that placeholders straddle chunks), for OpenAI chat (the `openai` SDK) and Anthropic Messages
 * (`@anthropic-ai/sdk`); block_if_detected answers 400 in the client's API shape naming kinds,
 * never values; OUTPUT mode redacts what the model writes; the log never holds a value; the
 * detections are counted.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { parseSse } from '../helpers/sse.ts';

const OPENAI_AUTH = { header_name: 'Authorization', header_value: 'Bearer sk-test' };
const ANTHROPIC_AUTH = { header_name: 'x-api-key', header_value: 'sk-ant-test' };
const EMAIL = 'jane.doe@example.org';
const CARD = '4111 1111 1111 1111';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const PROMPT = `My email is ${EMAIL}, charge card ${CARD}, and use the key ${AWS} for the upload.`;
/** What a model would answer from the sanitized prompt: the placeholders it was given. */
const ANSWER = 'Done: I wrote to <EMAIL_1>, charged <CREDITCARD_1> and uploaded with <AWS_ACCESS_KEY_1>. Anything else?';
const RESTORED = `Done: I wrote to ${EMAIL}, charged ${CARD} and uploaded with ${AWS}. Anything else?`;

let gw: Gateway;
let openai: MockProvider;
let anthropic: MockProvider;

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

async function route(name: string, plugins: Record<string, unknown>[]): Promise<void> {
  await admin('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
  for (const p of plugins) await admin('POST', `/routes/${name}/plugins`, p);
}

const openaiProxy = () => ({ name: 'ai-proxy', config: { route_type: 'llm/v1/chat', auth: OPENAI_AUTH, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions` } } } });
const anthropicProxy = () => ({
  name: 'ai-proxy',
  config: { route_type: 'llm/v1/chat', llm_format: 'anthropic', auth: ANTHROPIC_AUTH, model: { provider: 'anthropic', name: 'claude-sonnet-4-5', options: { upstream_url: `${anthropic.url}/v1/messages` } } },
});
const sanitizer = (config: Record<string, unknown> = {}) => ({ name: 'ai-sanitizer', config: { anonymize: ['all_and_credentials'], ...config } });

before(async () => {
  // small stream pieces: placeholders and values are cut between chunks
  openai = await startMockProvider('openai', { chunks: 40 });
  anthropic = await startMockProvider('anthropic', { models: '*', chunks: 40 });
  gw = await Gateway.start({ workers: 1 });
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await route('san-chat', [openaiProxy(), sanitizer()]);
  await route('san-msg', [anthropicProxy(), sanitizer()]);
  await route('san-block', [openaiProxy(), sanitizer({ block_if_detected: true })]);
  await route('san-block-msg', [anthropicProxy(), sanitizer({ block_if_detected: true })]);
  await route('san-out', [openaiProxy(), sanitizer({ sanitization_mode: 'OUTPUT' })]);
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await anthropic?.close();
});

/** Everything the provider mock received, as text. */
const receivedText = (mock: MockProvider) => mock.requests.map((r) => JSON.stringify(r.json)).join('\n');

function assertNeverSent(mock: MockProvider) {
  const sent = receivedText(mock);
  assert.ok(sent.length > 0);
  for (const v of [EMAIL, CARD, AWS, '4111111111111111']) assert.ok(!sent.includes(v), `the provider received ${v}`);
  assert.ok(sent.includes('<EMAIL_1>') && sent.includes('<CREDITCARD_1>') && sent.includes('<AWS_ACCESS_KEY_1>'), sent);
}

const openaiClient = (path: string) => new OpenAI({ baseURL: `${gw.proxy}/${path}`, apiKey: 'unused', maxRetries: 0 });
const anthropicClient = (path: string) => new Anthropic({ baseURL: `${gw.proxy}/${path}`, apiKey: 'unused', maxRetries: 0 });

describe('ai-sanitizer: redact on the way in, recover on the way out', () => {
  test('OpenAI chat, JSON (official SDK): the provider never sees the values; the client reads them restored', async () => {
    openai.clear();
    openai.nextResponse({ text: ANSWER });
    const r = await openaiClient('san-chat').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: PROMPT }] });
    assertNeverSent(openai);
    assert.equal(r.choices[0].message.content, RESTORED);
  });

  test('OpenAI chat, streamed in small pieces: placeholders cut between chunks are restored', async () => {
    openai.clear();
    openai.nextResponse({ text: ANSWER });
    const stream = await openaiClient('san-chat').chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: PROMPT }] }] });
    let text = '';
    let pieces = 0;
    for await (const c of stream) {
      const d = c.choices[0]?.delta?.content;
      if (d) {
        text += d;
        pieces++;
      }
    }
    assertNeverSent(openai);
    assert.ok(pieces > 5, 'the answer came in many pieces');
    assert.equal(text, RESTORED);
  });

  test('Anthropic Messages, JSON and streamed (official SDK)', async () => {
    anthropic.clear();
    anthropic.nextResponse({ text: ANSWER });
    const msg = await anthropicClient('san-msg').messages.create({ model: 'claude-sonnet-4-5', max_tokens: 200, system: `Reply to ${EMAIL}.`, messages: [{ role: 'user', content: PROMPT }] });
    assert.equal(msg.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), RESTORED);
    anthropic.nextResponse({ text: ANSWER });
    const streamed = await anthropicClient('san-msg').messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 200, messages: [{ role: 'user', content: PROMPT }] }).finalMessage();
    assert.equal(streamed.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), RESTORED);
    assertNeverSent(anthropic);
  });

  test('block_if_detected: 400 in the client API shape, naming the kinds and none of the values; the provider is not called', async () => {
    openai.clear();
    const r = await gw.proxyRequest('POST', '/san-block', { model: 'gpt-4o', messages: [{ role: 'user', content: PROMPT }] });
    assert.equal(r.status, 400);
    assert.equal(typeof r.json.error.message, 'string');
    assert.match(r.json.error.message, /aws_access_key/);
    assert.match(r.json.error.message, /creditcard/);
    assert.match(r.json.error.message, /email/);
    for (const v of [EMAIL, CARD, AWS]) assert.ok(!r.text.includes(v));
    assert.equal(openai.requests.length, 0);
    await assert.rejects(openaiClient('san-block').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: PROMPT }] }), (e: any) => e.status === 400);

    anthropic.clear();
    const a = await gw.proxyRequest('POST', '/san-block-msg', { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: PROMPT }] });
    assert.equal(a.status, 400);
    assert.equal(a.json.type, 'error', a.text);
    assert.equal(typeof a.json.error.type, 'string');
    assert.match(a.json.error.message, /email/);
    assert.equal(anthropic.requests.length, 0);
    const clean = await gw.proxyRequest('POST', '/san-block', { model: 'gpt-4o', messages: [{ role: 'user', content: 'nothing sensitive here' }] });
    assert.equal(clean.status, 200);
  });

  test('OUTPUT mode: what the model writes is redacted, streamed or not, and the prompt goes as it is', async () => {
    openai.clear();
    const leak = `Sure, the admin is ops@example.net and the token is ghp_${'a1'.repeat(18)}.`;
    openai.nextResponse({ text: leak });
    const json = await gw.proxyRequest('POST', '/san-out', { model: 'gpt-4o', messages: [{ role: 'user', content: 'who is the admin?' }] });
    assert.equal(json.json.choices[0].message.content, 'Sure, the admin is <EMAIL_1> and the token is <GITHUB_TOKEN_1>.');
    openai.nextResponse({ text: leak });
    const s = await gw.proxyRequest('POST', '/san-out', { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `my mail ${EMAIL}` }] });
    let content = '';
    for (const e of parseSse(s.text)) if (e.data !== '[DONE]') content += e.data?.choices?.[0]?.delta?.content ?? '';
    assert.equal(content, 'Sure, the admin is <EMAIL_1> and the token is <GITHUB_TOKEN_1>.');
    assert.ok(receivedText(openai).includes(EMAIL), 'OUTPUT mode leaves the prompt alone');
  });

  test('the detections are counted by kind; the logs never hold a value', async () => {
    const m = (await gw.adminRequest('GET', '/metrics')).text;
    const count = (kind: string, phase: string) => Number(m.split('\n').find((l) => l.startsWith('modelgate_ai_sanitizer_detections_total{') && l.includes(`kind="${kind}"`) && l.includes(`phase="${phase}"`))?.split(' ').pop() ?? 0);
    assert.ok(count('email', 'request') >= 4);
    assert.ok(count('creditcard', 'request') >= 4);
    assert.ok(count('aws_access_key', 'request') >= 4);
    assert.ok(count('github_token', 'response') >= 2);
    const logs = gw.logs;
    assert.match(logs, /sensitive data redacted/);
    for (const v of [EMAIL, CARD, AWS]) assert.ok(!logs.includes(v), `a log line holds ${v}`);
  });
});
