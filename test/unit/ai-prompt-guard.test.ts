/**
 * ai-prompt-guard: Kong's decisions (which messages are matched, allow/deny precedence), and the
 * regex safety of docs/decisions.md, D10 and T82 — catastrophic shapes refused at config time,
 * accepted patterns fast on long input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGuardPattern, validateGuardPattern, foldPattern, MAX_GUARDED_CHARS, LINEAR_ENGINE } from '../../src/plugins/ai-prompt-guard/regex.ts';
import { collectPrompt, judgePrompt } from '../../src/plugins/ai-prompt-guard/handler.ts';
import { validateEntity } from '../../src/entities/index.ts';

function guard(conf: { allow?: string[]; deny?: string[] }) {
  return {
    config: { allow_patterns: conf.allow ?? null, deny_patterns: conf.deny ?? null, allow_all_conversation_history: false, match_all_roles: false, max_request_body_size: 1e6, llm_format: 'openai' as const, check_response: false, response_window: 256 },
    allow: (conf.allow ?? []).map(compileGuardPattern),
    deny: (conf.deny ?? []).map(compileGuardPattern),
  };
}

const chat = (...messages: [string, string][]) => ({ messages: messages.map(([role, content]) => ({ role, content })) });

test('catastrophic shapes are refused, with a reason', () => {
  for (const p of ['(a+)+$', '(x+x+)+y', '(a*)*b', '(a?){25}a{25}', '(a|a)*$', '(a|ab)*c', '(\\w|\\d)+$', '(.*a){20}', '(a)\\1', '(?<x>a)\\k<x>', '(|a)+']) {
    assert.match(validateGuardPattern(p) ?? '', /^unsafe regex/, p);
  }
  assert.match(validateGuardPattern('[') ?? '', /^invalid regex/);
  assert.match(validateGuardPattern('(?x)a b') ?? '', /inline flag 'x'/);
});

test("Kong's usual patterns are accepted, PCRE's leading (?i) included", () => {
  for (const p of ['(?i)(ignore.previous.instructions|jailbreak)', '(?i)(reveal.*system.prompt|you.are.now)', 'pa..ern', '.*credit card.*', '\\b(ssn|passport)\\b', '(foo|bar)+', '(\\d{3}-)+\\d{4}', '^[A-Z][a-z]+$']) {
    assert.equal(validateGuardPattern(p), undefined, p);
  }
  const ci = compileGuardPattern('(?i)Ignore ALL');
  assert.ok(ci.re.test(ci.fold ? 'please ignore all of it' : 'please ignore all of it'.toUpperCase()) || ci.re.test('please ignore all of it'));
});

// Linear time is a property of the engine, not a measured duration (a wall-clock bound fails on a
// busy machine): every accepted pattern with unbounded repetition must run on V8's linear-time
// engine, and judging long adversarial inputs must still answer.
test('accepted patterns run in linear time on 50 000 characters (T82)', () => {
  assert.ok(LINEAR_ENGINE, 'the linear-time regex engine is available in this runtime');
  const patterns = ['(?i)ignore.*previous.*instructions', '.*a.*b.*c', 'a.*a.*a.*!', '\\s+$', '[a-z]+@[a-z]+\\.com', '(?:ignore|disregard).*(?:previous|prior).*instructions', '(?i)^(?:a|b)+$', 'x{1,5}y', '(foo|bar)+baz', '\\w+\\s\\w+\\s\\w+!!'];
  for (const pattern of patterns) {
    const compiled = compileGuardPattern(pattern);
    assert.ok(compiled.linear && compiled.re.flags.includes('l'), `${pattern} runs on the linear-time engine`);
  }
  const conf = guard({ deny: patterns });
  for (const input of ['a'.repeat(50_000) + '!', 'ignore previous '.repeat(3_125), 'ab'.repeat(25_000), ' '.repeat(50_000) + 'x']) {
    assert.equal(typeof (judgePrompt(input, conf) ?? ''), 'string');
  }
});

test('case-insensitive patterns match as (?i) does', () => {
  const g = compileGuardPattern('(?i)Ignore\\s+ALL [A-C]x\\W');
  const t = (s: string) => g.re.test(g.fold ? s.toLowerCase() : s);
  assert.ok(t('please IGNORE   all bX!'));
  assert.ok(!t('please ignore all dx!'));
  assert.equal(foldPattern('A\\W(?<Name>B)\\x41[A-Z]'), 'a\\W(?<Name>b)\\x41[a-z]');
});

test("Kong's decisions: deny wins, allow must match, user messages by default, newest only with allow_all_conversation_history", () => {
  const deny = guard({ deny: ['deny match'] });
  assert.equal(judgePrompt(collectPrompt(chat(['user', 'this has a deny match']), deny.config), deny), 'prompt pattern is blocked');
  assert.equal(judgePrompt(collectPrompt(chat(['system', 'deny match'], ['user', 'hello']), deny.config), deny), null, 'system messages are not matched');
  assert.equal(judgePrompt(collectPrompt(chat(['system', 'deny match'], ['user', 'hi']), { ...deny.config, match_all_roles: true }), deny), 'prompt pattern is blocked');

  const allow = guard({ allow: ['pa..ern'], deny: ['deny match'] });
  assert.equal(judgePrompt(collectPrompt(chat(['user', 'a pattern']), allow.config), allow), null);
  assert.equal(judgePrompt(collectPrompt(chat(['user', 'no match']), allow.config), allow), "prompt doesn't match any allowed pattern");
  assert.equal(judgePrompt(collectPrompt(chat(['user', 'pattern with deny match']), allow.config), allow), 'prompt pattern is blocked');

  // history: every user message by default, only the newest with allow_all_conversation_history
  const history = chat(['user', 'pattern'], ['assistant', 'ok'], ['user', 'no match']);
  assert.equal(judgePrompt(collectPrompt(history, allow.config), allow), null);
  assert.equal(judgePrompt(collectPrompt(history, { ...allow.config, allow_all_conversation_history: true }), allow), "prompt doesn't match any allowed pattern");

  // completions and content parts
  assert.equal(judgePrompt(collectPrompt({ prompt: 'deny match' }, deny.config), deny), 'prompt pattern is blocked');
  assert.equal(collectPrompt({ messages: [{ role: 'user', content: [{ type: 'text', text: 'deny' }, { type: 'image_url', image_url: {} }, { type: 'text', text: 'match' }] }] }, deny.config), 'deny match');
  assert.throws(() => collectPrompt({ input: 'x' }, deny.config));
  assert.throws(() => collectPrompt({ messages: [{ content: 'no role' }] }, deny.config));
  assert.match(judgePrompt('a'.repeat(MAX_GUARDED_CHARS + 1), deny) ?? '', /longer than/);
});

test('schema: Kong fields and checks', () => {
  const ok = validateEntity('plugins', { name: 'ai-prompt-guard', config: { deny_patterns: ['x'] } });
  assert.equal(ok.errors, undefined);
  assert.deepEqual(ok.value.config, { allow_patterns: null, deny_patterns: ['x'], allow_all_conversation_history: false, max_request_body_size: 20 * 1024 * 1024, match_all_roles: false, llm_format: 'openai', check_response: false, response_window: 256 });
  const none = validateEntity('plugins', { name: 'ai-prompt-guard', config: {} });
  assert.deepEqual((none.errors as any).config['@entity'], ["at least one of these fields must be non-empty: 'allow_patterns', 'deny_patterns'"]);
  const bad = validateEntity('plugins', { name: 'ai-prompt-guard', config: { deny_patterns: ['(a+)+'] } });
  assert.match((bad.errors as any).config.deny_patterns[0], /nested quantifiers/);
});
