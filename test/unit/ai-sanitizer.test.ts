/**
 * ai-sanitizer: the configuration (Kong's shape and defaults, refusals), the request side on the
 * canonical request and the client's body of every API, synthetic values, and the properties the
 * issue asks for — redact → recover is the identity on what the client sees, streamed at any
 * chunking, and a secret split at any stream chunk boundary is still caught in an answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateEntity } from '../../src/entities/index.ts';
import { schema } from '../../src/plugins/ai-sanitizer/schema.ts';
import { handler, sanitizeRequest } from '../../src/plugins/ai-sanitizer/handler.ts';
import { Redactor } from '../../src/plugins/ai-sanitizer/redactor.ts';
import { Recoverer, RecoverHook } from '../../src/plugins/ai-sanitizer/recover.ts';
import { ScanHook, WINDOW } from '../../src/plugins/ai-sanitizer/scan.ts';
import { kindsFor } from '../../src/plugins/ai-sanitizer/kinds.ts';
import { syntheticValue } from '../../src/plugins/ai-sanitizer/synthetic.ts';
import { detect, DETECTED_KINDS } from '../../src/plugins/ai-sanitizer/detectors/index.ts';
import { isCardNumber } from '../../src/plugins/ai-sanitizer/detectors/card.ts';
import { isIban } from '../../src/plugins/ai-sanitizer/detectors/iban.ts';
import { bsnValid, dniLetter, nirKey } from '../../src/plugins/ai-sanitizer/detectors/national-id.ts';
import { parseRequest } from '../../src/plugins/ai-proxy/exchange.ts';
import { ResponseBlockedError } from '../../src/plugins/shared/response-hooks.ts';

const ALL = { kinds: new Set(DETECTED_KINDS), custom: [] };

const SAMPLES = [
  'jane.doe@example.org',
  '+44 20 7946 0958',
  '4111 1111 1111 1111',
  'GB82 WEST 1234 5698 7654 32',
  '123-45-6789',
  'AKIAIOSFODNN7EXAMPLE',
  'sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7s',
  'ghp_' + 'a1'.repeat(18),
  '10.20.30.40',
  'fe80::1ff:fe23:4567:890a',
  '12345678Z',
];

test('schema: Kong defaults, the PII service fields accepted (and warned about), NLP-only kinds and unsafe patterns refused', () => {
  const ok = validateEntity('plugins', { name: 'ai-sanitizer', config: {} });
  assert.equal(ok.errors, undefined);
  assert.deepEqual(ok.value.config, {
    allow_all_conversation_history: true,
    anonymize: ['all_and_credentials'],
    block_if_detected: false,
    custom_patterns: null,
    host: 'localhost',
    keepalive_timeout: 60000,
    port: 8080,
    recover_redacted: true,
    redact_type: 'placeholder',
    sanitization_mode: 'INPUT',
    scheme: 'http',
    skip_logging_sanitized_items: false,
    stop_on_error: true,
    timeout: 10000,
  });
  assert.equal(schema.priority, 776);
  const kong = validateEntity('plugins', { name: 'ai-sanitizer', config: { anonymize: ['phone'], host: 'pii.internal', port: 9000, redact_type: 'synthetic', stop_on_error: true, recover_redacted: false } });
  assert.equal(kong.errors, undefined);
  assert.match(schema.warnings!(kong.value.config)[0], /host, port ignored/);
  const nlp = validateEntity('plugins', { name: 'ai-sanitizer', config: { anonymize: ['email', 'general', 'passport'] } });
  assert.match(JSON.stringify(nlp.errors), /no detector for: general/);
  assert.match(JSON.stringify(nlp.errors), /no detector for: passport/);
  const unsafe = validateEntity('plugins', { name: 'ai-sanitizer', config: { anonymize: ['custom'], custom_patterns: [{ name: 'x', regex: '(a+)+$' }] } });
  assert.match(JSON.stringify(unsafe.errors), /unsafe regex/);
  const dup = validateEntity('plugins', { name: 'ai-sanitizer', config: { custom_patterns: [{ name: 'x', regex: 'a' }, { name: 'x', regex: 'b' }] } });
  assert.match(JSON.stringify(dup.errors), /unique/);
  const badMode = validateEntity('plugins', { name: 'ai-sanitizer', config: { sanitization_mode: 'BOTHS' } });
  assert.ok(badMode.errors);
});

test("anonymize categories: all has no credentials, all_and_credentials has them, a URL's password is both", () => {
  assert.ok(!kindsFor(['all']).has('openai_key'));
  assert.ok(kindsFor(['all']).has('iban'));
  assert.ok(kindsFor(['all_and_credentials']).has('openai_key'));
  assert.ok(kindsFor(['url']).has('url_credentials'));
  assert.ok(kindsFor(['credentials']).has('url_credentials'));
  assert.deepEqual([...kindsFor(['nationalid'])].sort(), ['bsn', 'dni', 'nino', 'nir', 'ssn']);
});

test('placeholders: one per distinct value, numbered per kind, never one the request already contains', () => {
  const r = new Redactor(ALL, 'placeholder');
  r.avoid('I typed <EMAIL_1> myself');
  const out = r.redact('a@example.org b@example.org a@example.org 10.0.0.1').text;
  assert.equal(out, '<EMAIL_2> <EMAIL_3> <EMAIL_2> <IPV4_1>');
  assert.equal(r.recoverable.get('<EMAIL_2>'), 'a@example.org');
});

test('synthetic values keep the format and pass the checks; credentials become # runs (Kong) and are not recovered', () => {
  const card = syntheticValue('creditcard', '5555 5555 5555 4444', 3);
  assert.match(card, /^\d{4} \d{4} \d{4} \d{4}$/);
  assert.ok(isCardNumber(card));
  const iban = syntheticValue('iban', 'GB82 WEST 1234 5698 7654 32', 1);
  assert.ok(iban.startsWith('GB') && isIban(iban), iban);
  assert.equal(iban.replace(/ /g, '').length, 22);
  const dni = syntheticValue('dni', '12345678Z', 7);
  assert.equal(dni.slice(-1), dniLetter(dni.slice(0, 8)));
  const nir = syntheticValue('nir', '184127645108946', 2);
  assert.equal(nir.slice(13), nirKey(nir.slice(0, 13)));
  assert.ok(bsnValid(syntheticValue('bsn', '111222333', 5)));
  assert.equal(syntheticValue('email', 'x@y.org', 4), 'user4@example.com');
  assert.equal(syntheticValue('ipv4', '10.0.0.1', 1), '192.0.2.1');
  const r = new Redactor(ALL, 'synthetic');
  const key = 'AKIAIOSFODNN7EXAMPLE';
  assert.equal(r.redact(`id ${key}`).text, `id ${'#'.repeat(key.length)}`);
  assert.equal(r.recoverable.size, 0);
});

/** Text made of random filler and sensitive values, with separators so that values stay whole. */
const promptText = fc
  .array(fc.oneof(fc.constantFrom(...SAMPLES), fc.string({ maxLength: 12 }), fc.constantFrom(' ', '\n', ', ', ' and ', '<', '>', '<EMAIL_', '_1>')), { maxLength: 14 })
  .map((parts) => parts.join(' '));

/** Cuts `text` into chunks at the given positions. */
function chunks(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(text.slice(prev, c));
    prev = c;
  }
  out.push(text.slice(prev));
  return out;
}

function streamThrough(hook: { push(t: string): unknown; flush(): unknown }, parts: string[]): string {
  let out = '';
  for (const p of parts) out += hook.push(p) as string;
  return out + (hook.flush() as string);
}

test('property: redact → recover is the identity on the client view, whole and streamed at any chunking', () => {
  fc.assert(
    fc.property(promptText, fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom('placeholder' as const, 'synthetic' as const), (text, cuts, type) => {
      // synthetic credentials are # runs, not recoverable by design: only PII kinds here
      const plan = type === 'placeholder' ? ALL : { kinds: kindsFor(['all']), custom: [] };
      const r = new Redactor(plan, type);
      r.avoid(text);
      const redacted = r.redact(text).text;
      for (const s of detect(text, plan)) {
        const value = text.slice(s.start, s.end);
        assert.ok(!redacted.includes(value) || [...r.recoverable.keys()].some((k) => k.includes(value)), `leaked ${value}`);
      }
      const recoverer = new Recoverer(r.recoverable);
      assert.equal(recoverer.recover(redacted, false).released, text);
      assert.equal(streamThrough(new RecoverHook(recoverer), chunks(redacted, cuts)), text);
    }),
    { numRuns: 400 },
  );
});

test('property: a secret or PII value split at ANY chunk boundary of an answer is still caught', () => {
  for (const secret of SAMPLES) {
    const text = `Here is what you asked: ${secret} — keep it safe. ${'filler words '.repeat(30)}`;
    const whole = new Redactor(ALL, 'placeholder').redact(text).text;
    assert.ok(!whole.includes(secret));
    for (let cut = 1; cut < text.length; cut++) {
      const hook = new ScanHook({ redactor: new Redactor(ALL, 'placeholder'), skip: new Map(), block: false, rule: 'ai-sanitizer', onFound: () => {} });
      assert.equal(streamThrough(hook, [text.slice(0, cut), text.slice(cut)]), whole, `${secret} cut at ${cut}`);
    }
  }
  fc.assert(
    fc.property(fc.constantFrom(...SAMPLES), fc.string({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 30 }), (secret, filler, cuts) => {
      const text = `${filler} ${secret} ${filler}`;
      const whole = new Redactor(ALL, 'placeholder').redact(text).text;
      const hook = new ScanHook({ redactor: new Redactor(ALL, 'placeholder'), skip: new Map(), block: false, rule: 'ai-sanitizer', onFound: () => {} });
      const streamed = streamThrough(hook, chunks(text, cuts));
      assert.equal(streamed, whole);
      assert.ok(!streamed.includes(secret));
    }),
    { numRuns: 300 },
  );
});

test('the answer scan holds back at most its window of ordinary text, and blocks with the kinds only', () => {
  const hook = new ScanHook({ redactor: new Redactor(ALL, 'placeholder'), skip: new Map(), block: true, rule: 'ai-sanitizer', onFound: () => {} });
  const released = hook.push('word '.repeat(200));
  assert.ok(released.length >= 1000 - WINDOW - 5);
  assert.throws(
    () => streamThrough(hook, ['and the key is AKIAIOSF', 'ODNN7EXAMPLE ok', ' ' + 'x '.repeat(200)]),
    (e: unknown) => e instanceof ResponseBlockedError && /aws_access_key/.test(e.clientMessage) && !e.clientMessage.includes('AKIA'),
  );
});

function requestFor(format: 'openai-chat' | 'anthropic-messages' | 'openai-responses', body: unknown) {
  return parseRequest(body, format);
}

test('request side: the canonical messages and the client body of every API carry the same placeholders; the body the client sent is not edited', () => {
  const email = 'jane.doe@example.org';
  const card = '4111 1111 1111 1111';
  const chat = { model: 'm', messages: [{ role: 'system', content: `contact ${email}` }, { role: 'user', content: [{ type: 'text', text: `pay with ${card}` }] }, { role: 'assistant', content: 'ok' }, { role: 'user', content: `again ${email}` }] };
  const frozen = JSON.stringify(chat);
  const req = requestFor('openai-chat', chat);
  const counts = sanitizeRequest(req, new Redactor(ALL, 'placeholder'), false, false);
  assert.deepEqual(counts, { email: 2, creditcard: 1 });
  assert.equal(JSON.stringify(chat), frozen);
  const sent = JSON.stringify(req.source.body) + JSON.stringify(req.messages);
  assert.ok(!sent.includes(email) && !sent.includes(card));
  assert.equal((req.source.body.messages as any)[3].content, 'again <EMAIL_1>');
  assert.deepEqual(req.messages[3].parts, [{ type: 'text', text: 'again <EMAIL_1>' }]);

  const anthropic = requestFor('anthropic-messages', {
    model: 'm',
    max_tokens: 10,
    system: `ops: ${email}`,
    messages: [
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: `db password in postgres://u:pw1234@db/x` }] },
      { role: 'user', content: `card ${card}` },
    ],
  });
  sanitizeRequest(anthropic, new Redactor(ALL, 'placeholder'), false, false);
  const aSent = JSON.stringify(anthropic.source.body) + JSON.stringify(anthropic.messages);
  assert.ok(!aSent.includes(email) && !aSent.includes(card) && !aSent.includes('pw1234'));
  assert.equal(anthropic.source.body.system, 'ops: <EMAIL_1>');

  const responses = requestFor('openai-responses', { model: 'm', instructions: `mail ${email}`, input: [{ role: 'user', content: [{ type: 'input_text', text: card }] }] });
  sanitizeRequest(responses, new Redactor(ALL, 'placeholder'), false, false);
  const rSent = JSON.stringify(responses.source.body) + JSON.stringify(responses.messages);
  assert.ok(!rSent.includes(email) && !rSent.includes(card));

  // Kong's allow_all_conversation_history: false reads the newest message only
  const last = requestFor('openai-chat', chat);
  sanitizeRequest(last, new Redactor(ALL, 'placeholder'), true, false);
  assert.equal((last.source.body.messages as any)[0].content, `contact ${email}`);
  assert.equal((last.source.body.messages as any)[3].content, 'again <EMAIL_1>');
});

test('the access phase registers the prompt hook and the response hooks by sanitization_mode', () => {
  const mk = (config: Record<string, unknown>) => handler.compile!((validateEntity('plugins', { name: 'ai-sanitizer', config }).value as any).config, { resolveSecret: (s) => s, registerSecret: () => {} });
  const ctx = () => ({ promptHooks: [] as unknown[], responseHooks: [] as unknown[], requestId: 'r1' });
  const input = ctx();
  handler.access!(input as any, mk({}));
  assert.equal(input.promptHooks.length, 1);
  assert.equal(input.responseHooks.length, 1); // recover_redacted (default true)
  const output = ctx();
  handler.access!(output as any, mk({ sanitization_mode: 'OUTPUT', recover_redacted: false }));
  assert.equal(output.promptHooks.length, 0);
  assert.equal(output.responseHooks.length, 1);
  const none = ctx();
  handler.access!(none as any, mk({ recover_redacted: false }));
  assert.equal(none.responseHooks.length, 0);
});
