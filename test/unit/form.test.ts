import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildArgs, parseUrlEncoded, FormError, MAX_FORM_ARGS } from '../../src/admin/form.ts';
import { inferRecord } from '../../src/admin/infer.ts';
import { schemaFor } from '../../src/entities/index.ts';

test('dotted keys nest, as in the guide', () => {
  const args = parseUrlEncoded('name=ai-proxy&config.model.options.max_tokens=512&config.model.provider=openai');
  assert.deepEqual(args, { name: 'ai-proxy', config: { model: { options: { max_tokens: '512' }, provider: 'openai' } } });
});

test('arrays: a[]=, a[n]= and repeated keys', () => {
  assert.deepEqual(parseUrlEncoded('paths[]=%7E%2Fopenai-chat%24'), { paths: ['~/openai-chat$'] });
  assert.deepEqual(parseUrlEncoded('paths[2]=/b&paths[1]=/a'), { paths: ['/a', '/b'] });
  assert.deepEqual(parseUrlEncoded('tags=a&tags=b&tags=c'), { tags: ['a', 'b', 'c'] });
  assert.deepEqual(parseUrlEncoded('x[1].name=a&x[2].name=b'), { x: [{ name: 'a' }, { name: 'b' }] });
});

test('an empty value is an explicit null', () => {
  assert.deepEqual(parseUrlEncoded('path='), { path: null });
});

test('hostile keys are refused, never assigned', () => {
  for (const key of ['__proto__.x', 'config.__proto__.polluted', 'constructor.prototype.x', 'a[0].__proto__']) {
    assert.throws(() => parseUrlEncoded(`${encodeURIComponent(key)}=1`), FormError);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('too many arguments are refused', () => {
  const pairs = Array.from({ length: MAX_FORM_ARGS + 1 }, (_, i) => [`k${i}`, 'v'] as [string, string]);
  assert.throws(() => buildArgs(pairs), /Too many arguments/);
});

test('schema inference types form strings like Kong', () => {
  const input = parseUrlEncoded(
    'name=ai-proxy&config.route_type=llm/v1/chat&config.model.provider=openai&config.model.options.max_tokens=512&config.model.options.temperature=1.0&config.logging.log_statistics=true&protocols=http',
  );
  const typed = inferRecord(schemaFor('plugins', input).fields, input) as any;
  assert.equal(typed.config.model.options.max_tokens, 512);
  assert.equal(typed.config.model.options.temperature, 1);
  assert.equal(typed.config.logging.log_statistics, true);
  assert.deepEqual(typed.protocols, ['http'], 'a lone value becomes a one-element set');
  const notANumber = inferRecord(schemaFor('services', { port: 'abc' }).fields, { port: 'abc' });
  assert.equal(notANumber.port, 'abc', 'left for validation to report');
});

test('property: any key/value pairs give a tree or a FormError, never another exception', () => {
  const key = fc.oneof(fc.string(), fc.stringMatching(/^[a-z_]{1,5}(\.[a-z_]{1,5}|\[\d{0,3}\]){0,4}$/));
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.string()), { maxLength: 30 }), (pairs) => {
      try {
        const tree = buildArgs(pairs);
        assert.equal(typeof tree, 'object');
        JSON.stringify(tree);
      } catch (e) {
        assert.ok(e instanceof FormError, `unexpected ${(e as Error).name}: ${(e as Error).message}`);
      }
    }),
    { numRuns: 2000 },
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
