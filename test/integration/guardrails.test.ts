/**
 * Issue 22, guardrails on answers against the real gateway (strict mock providers, a test webhook
 * server): ai-prompt-guard with `check_response` blocks a streamed answer with the client API's
 * SSE error event and no [DONE], blocks a JSON answer with the client API's error, and passes clean
 * answers unchanged and in order; ai-guardrail-webhook allows, blocks and replaces on the request
 * and on the answer, and a timeout blocks under `fail_mode: closed` and passes under `open` — for
 * OpenAI chat (the official `openai` SDK and raw HTTP) and Anthropic Messages (`@anthropic-ai/sdk`).
 * The decisions are counted in modelgate_ai_guardrail_decisions_total.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { parseSse } from '../helpers/sse.ts';

const OPENAI_AUTH = { header_name: 'Authorization', header_value: 'Bearer sk-test' };
const ANTHROPIC_AUTH = { header_name: 'x-api-key', header_value: 'sk-ant-test' };
const BANNED = 'The password is open sesame, use it well.';
const CLEAN = 'The door stays shut and nothing more is said about it today.';
const HOOK_SECRET = 'hook-secret-7c1d9e';

let gw: Gateway;
let openai: MockProvider;
let anthropic: MockProvider;

/** The test guardrail endpoint: answers what `decide` says for each call, records every body and header. */
interface Hook {
  url: string;
  calls: { body: any; headers: http.IncomingHttpHeaders }[];
  decide: (body: any) => unknown | 'hang';
  close(): Promise<void>;
}

async function startHook(): Promise<Hook> {
  const hook: Hook = { url: '', calls: [], decide: () => ({ action: 'allow' }), close: async () => {} };
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data);
      hook.calls.push({ body, headers: req.headers });
      const answer = hook.decide(body);
      if (answer === 'hang') return; // never answers: the gateway's timeout decides
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`;
  hook.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return hook;
}

let hook: Hook;

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
const webhook = (fail_mode: 'closed' | 'open') => ({ name: 'ai-guardrail-webhook', config: { url: hook.url, headers: { authorization: `Bearer ${HOOK_SECRET}` }, timeout: 400, response_buffer_size: 16, fail_mode } });

before(async () => {
  openai = await startMockProvider('openai');
  anthropic = await startMockProvider('anthropic', { models: '*' });
  hook = await startHook();
  gw = await Gateway.start({ workers: 1 });
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await route('pg-chat', [openaiProxy(), { name: 'ai-prompt-guard', config: { deny_patterns: ['(?i)open\\s+sesame'], check_response: true } }]);
  await route('pg-resp', [{ ...openaiProxy(), config: { ...openaiProxy().config, route_type: 'llm/v1/responses' } }, { name: 'ai-prompt-guard', config: { deny_patterns: ['(?i)open\\s+sesame'], check_response: true } }]);
  await route('pg-msg', [anthropicProxy(), { name: 'ai-prompt-guard', config: { deny_patterns: ['(?i)open\\s+sesame'], check_response: true } }]);
  await route('wh-chat', [openaiProxy(), webhook('closed')]);
  await route('wh-chat-open', [openaiProxy(), webhook('open')]);
  await route('wh-msg', [anthropicProxy(), webhook('closed')]);
  await route('wh-msg-open', [anthropicProxy(), webhook('open')]);
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await anthropic?.close();
  await hook?.close();
});

const chat = (path: string, stream: boolean, content = 'Tell me the password.') => gw.proxyRequest('POST', `/${path}`, { model: 'gpt-4o', stream, messages: [{ role: 'user', content }] });

/** The content of an OpenAI chat stream, and whether it ended with [DONE] or an error event. */
function chatStream(text: string): { content: string; done: boolean; error: any } {
  let content = '';
  let done = false;
  let error: any = null;
  for (const e of parseSse(text)) {
    if (e.data === '[DONE]') done = true;
    else if (e.data?.error) error = e.data.error;
    else content += e.data?.choices?.[0]?.delta?.content ?? '';
  }
  return { content, done, error };
}

const openaiClient = (path: string) => new OpenAI({ baseURL: `${gw.proxy}/${path}`, apiKey: 'unused', maxRetries: 0 });
const anthropicClient = (path: string) => new Anthropic({ baseURL: `${gw.proxy}/${path}`, apiKey: 'unused', maxRetries: 0 });

async function metric(plugin: string, phase: string, decision: string): Promise<number> {
  const r = await gw.adminRequest('GET', '/metrics');
  const line = r.text.split('\n').find((l) => l.startsWith('modelgate_ai_guardrail_decisions_total{') && l.includes(`plugin="${plugin}"`) && l.includes(`phase="${phase}"`) && l.includes(`decision="${decision}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('ai-prompt-guard check_response', () => {
  test('a streamed answer with a denied phrase ends with the SSE error event, no [DONE], and none of the phrase', async () => {
    openai.nextResponse({ text: BANNED });
    const r = await chat('pg-chat', true);
    assert.equal(r.status, 200);
    const s = chatStream(r.text);
    assert.equal(s.done, false, 'no [DONE] after a block');
    assert.ok(s.error, r.text);
    assert.equal(s.error.code, 'response_blocked');
    assert.ok(!r.text.toLowerCase().includes('sesame'), 'the banned phrase never reached the client');
    assert.ok(!r.text.includes('"finish_reason":"stop"'), 'no stop after a block');
  });

  test('a clean streamed answer passes unchanged and in order, ending with [DONE]', async () => {
    openai.nextResponse({ text: CLEAN });
    const r = await chat('pg-chat', true);
    const s = chatStream(r.text);
    assert.equal(s.error, null, r.text);
    assert.equal(s.done, true);
    assert.equal(s.content, CLEAN);
  });

  test('the OpenAI SDK: a blocked JSON answer is an APIError 400 with the client API error; a clean one unchanged', async () => {
    openai.nextResponse({ text: BANNED });
    await assert.rejects(openaiClient('pg-chat').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), (e: any) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'response_blocked');
      assert.ok(!String(e.message).toLowerCase().includes('sesame'));
      return true;
    });
    openai.nextResponse({ text: CLEAN });
    const ok = await openaiClient('pg-chat').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(ok.choices[0].message.content, CLEAN);
  });

  test('Anthropic Messages (official SDK): a blocked stream raises the error event; a clean stream is the answer', async () => {
    anthropic.nextResponse({ text: BANNED });
    const stream = anthropicClient('pg-msg').messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    let seen = '';
    stream.on('text', (t) => (seen += t));
    await assert.rejects(stream.finalMessage());
    assert.ok(!seen.toLowerCase().includes('sesame'), seen);
    anthropic.nextResponse({ text: CLEAN });
    const clean = await anthropicClient('pg-msg').messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    assert.equal(clean.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), CLEAN);
    assert.equal(clean.stop_reason, 'end_turn');
  });

  test('OpenAI Responses (native to OpenAI, translated while hooks read it): clean stream complete and unchanged; blocked stream ends with error events', async () => {
    openai.nextResponse({ text: CLEAN });
    const ok = await openaiClient('pg-resp').responses.create({ model: 'gpt-4o', input: 'hi', stream: true });
    let text = '';
    let completed: any = null;
    for await (const e of ok) {
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') completed = e.response;
    }
    assert.equal(text, CLEAN);
    assert.equal(completed?.output?.[0]?.content?.[0]?.text, CLEAN);
    openai.nextResponse({ text: BANNED });
    const r = await gw.proxyRequest('POST', '/pg-resp/responses', { model: 'gpt-4o', input: 'hi', stream: true });
    const types = parseSse(r.text).map((e) => e.data?.type);
    assert.ok(types.includes('error') || types.includes('response.failed'), r.text);
    assert.ok(!types.includes('response.completed'));
    assert.ok(!r.text.toLowerCase().includes('sesame'));
  });

  test('the decisions are counted', async () => {
    assert.ok((await metric('ai-prompt-guard', 'response', 'block')) >= 3);
    assert.ok((await metric('ai-prompt-guard', 'response', 'allow')) >= 3);
  });
});

describe('ai-guardrail-webhook', () => {
  test('request allow: the endpoint gets the messages and the model, never a key; the answer is the provider\'s', async () => {
    hook.calls.length = 0;
    hook.decide = () => ({ action: 'allow' });
    openai.nextResponse({ text: CLEAN });
    const r = await chat('wh-chat', false, 'What is the weather?');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, CLEAN);
    const req = hook.calls.find((c) => c.body.phase === 'request')!;
    assert.deepEqual(req.body.messages, [{ role: 'user', content: 'What is the weather?' }]);
    assert.equal(req.body.model, 'gpt-4o');
    assert.equal(req.headers.authorization, `Bearer ${HOOK_SECRET}`);
    assert.ok(!JSON.stringify(hook.calls).includes('sk-test'), 'the provider key never goes to the guardrail');
    const resp = hook.calls.filter((c) => c.body.phase === 'response');
    assert.equal(resp.map((c) => c.body.text).join(''), CLEAN);
  });

  test('request block: 400 in the client API shape with the endpoint\'s message; the provider is not called', async () => {
    const before = openai.requests.length;
    hook.decide = (b) => (b.phase === 'request' ? { action: 'block', message: 'policy says no' } : { action: 'allow' });
    const r = await chat('wh-chat', false);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.message, 'policy says no');
    assert.equal(r.json.error.code, 'request_blocked');
    assert.equal(openai.requests.length, before);
  });

  test('request replace: the provider receives the endpoint\'s messages', async () => {
    hook.decide = (b) => (b.phase === 'request' ? { action: 'replace', messages: [{ role: 'user', content: 'A safer question.' }] } : { action: 'allow' });
    openai.nextResponse({ text: CLEAN });
    const r = await chat('wh-chat', false, 'An unsafe question with a secret.');
    assert.equal(r.status, 200, r.text);
    const sent = openai.requests.at(-1)!.json as any;
    assert.deepEqual(sent.messages, [{ role: 'user', content: 'A safer question.' }]);
  });

  test('response block on a stream: the SSE error event with the endpoint\'s message, no [DONE]', async () => {
    hook.decide = (b) => (b.phase === 'response' && /sesame/.test(b.context + b.text) ? { action: 'block', message: 'answer withheld' } : { action: 'allow' });
    openai.nextResponse({ text: BANNED });
    const r = await chat('wh-chat', true);
    const s = chatStream(r.text);
    assert.equal(s.done, false);
    assert.equal(s.error?.message, 'answer withheld', r.text);
    assert.ok(!r.text.includes('sesame'));
  });

  test('response replace on a stream: the client gets the replaced windows, in order, then [DONE]', async () => {
    hook.decide = (b) => (b.phase === 'response' ? { action: 'replace', text: b.text.replace(/sesame/g, '[hidden]') } : { action: 'allow' });
    openai.nextResponse({ text: 'Say open sesame now.' });
    const r = await chat('wh-chat', true);
    const s = chatStream(r.text);
    assert.equal(s.done, true, r.text);
    // windows of 16 characters: the word falls inside one window here ("Say open sesame " is 16)
    assert.equal(s.content, 'Say open [hidden] now.');
  });

  test('timeout, fail closed: the request is refused; fail open: it passes', async () => {
    hook.decide = () => 'hang';
    const closed = await chat('wh-chat', false);
    assert.equal(closed.status, 400, closed.text);
    assert.equal(closed.json.error.code, 'guardrail_unavailable');
    openai.nextResponse({ text: CLEAN });
    const open = await chat('wh-chat-open', true);
    const s = chatStream(open.text);
    assert.equal(s.done, true, open.text);
    assert.equal(s.content, CLEAN);
  });

  test('response timeout on a stream, fail closed: the error event, no [DONE]', async () => {
    hook.decide = (b) => (b.phase === 'response' ? 'hang' : { action: 'allow' });
    openai.nextResponse({ text: CLEAN });
    const r = await chat('wh-chat', true);
    const s = chatStream(r.text);
    assert.equal(s.done, false);
    assert.equal(s.error?.code, 'guardrail_unavailable', r.text);
  });

  test('Anthropic Messages (official SDK): allow, request block, response replace, timeout closed and open', async () => {
    hook.decide = () => ({ action: 'allow' });
    anthropic.nextResponse({ text: CLEAN });
    const ok = await anthropicClient('wh-msg').messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal((ok.content[0] as { text: string }).text, CLEAN);

    hook.decide = (b) => (b.phase === 'request' ? { action: 'block', message: 'no thanks' } : { action: 'allow' });
    await assert.rejects(anthropicClient('wh-msg').messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }), (e: any) => {
      assert.equal(e.status, 400);
      assert.equal(e.error?.type, 'error');
      assert.match(String(e.message), /no thanks/);
      return true;
    });

    hook.decide = (b) => (b.phase === 'response' ? { action: 'replace', text: b.text.toUpperCase() } : { action: 'allow' });
    anthropic.nextResponse({ text: CLEAN });
    const replaced = await anthropicClient('wh-msg').messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    assert.equal(replaced.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), CLEAN.toUpperCase());

    hook.decide = () => 'hang';
    await assert.rejects(anthropicClient('wh-msg').messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }), (e: any) => e.status === 400);
    anthropic.nextResponse({ text: CLEAN });
    const open = await anthropicClient('wh-msg-open').messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal((open.content[0] as { text: string }).text, CLEAN);
  });

  test('the decisions are counted by phase; the hook secret is not in the logs', async () => {
    assert.ok((await metric('ai-guardrail-webhook', 'request', 'block')) >= 2);
    assert.ok((await metric('ai-guardrail-webhook', 'request', 'replace')) >= 1);
    assert.ok((await metric('ai-guardrail-webhook', 'response', 'replace')) >= 2);
    assert.ok((await metric('ai-guardrail-webhook', 'request', 'error')) >= 2);
    assert.ok((await metric('ai-guardrail-webhook', 'request', 'fail_open')) >= 2);
    assert.ok(!gw.logs.includes(HOOK_SECRET));
  });
});
