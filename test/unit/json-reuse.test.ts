/**
 * Serialising a provider body that copies the client's bytes where it can (util/json-reuse.ts):
 * whatever the client's text looks like (spacing, escaped keys, repeated keys, brackets and quotes
 * inside strings) and whatever the driver kept, changed, dropped or added, the bytes sent are the
 * JSON text of exactly the body `JSON.stringify` would have written, member for member.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { prng } from '../helpers/prng.ts';
import { REUSE_MIN_BYTES, encodeReusing, topLevelMembers, type ClientJson } from '../../src/util/json-reuse.ts';

/** A JSON writer with the liberties clients take: spacing anywhere, letters escaped as \u00XX, repeated keys. */
function looseJson(value: unknown, rnd: () => number): string {
  const space = () => [' ', '', '\n  ', '\t', ''][Math.floor(rnd() * 5)];
  const str = (s: string) =>
    `"${[...s].map((c) => (/[a-z]/.test(c) && rnd() < 0.1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(c).slice(1, -1))).join('')}"`;
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${space()}${v.map((x) => write(x)).join(`${space()},${space()}`)}${space()}]`;
    if (v !== null && typeof v === 'object') {
      // now and then a decoy member before the real one: JSON.parse keeps the last of repeated keys
      const members = Object.entries(v).map(([k, x]) => `${rnd() < 0.15 ? `${str(k)}:"decoy",` : ''}${str(k)}${space()}:${space()}${write(x)}`);
      return `{${space()}${members.join(`${space()},${space()}`)}${space()}}`;
    }
    return typeof v === 'string' ? str(v) : JSON.stringify(v);
  };
  return `${space()}${write(value)}${space()}`;
}

function clientJson(text: string): ClientJson {
  return { bytes: Buffer.from(text), text, value: JSON.parse(text) };
}

const PAD = 'x'.repeat(REUSE_MIN_BYTES);
const asciiValue = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary-ascii' });
const trickyKey = fc.stringMatching(/^[a-z_"\\{}[\]:, ]{0,8}$/);

test('top-level members: spans of each value, the last of repeated keys, escaped keys decoded', () => {
  const text = ' {"a" : [1, "]", {"b": "}"}] , "\\u006dodel":"x\\"y",  "n":-1.5e3,"t":true,"a":null , "o":{}}  ';
  const spans = topLevelMembers(text)!;
  const slice = (k: string) => text.slice(spans.get(k)!.start, spans.get(k)!.end);
  assert.deepEqual([...spans.keys()], ['a', 'model', 'n', 't', 'o']);
  assert.equal(slice('a'), 'null', 'the last "a" is the one JSON.parse keeps');
  assert.equal(slice('model'), '"x\\"y"');
  assert.equal(slice('n'), '-1.5e3');
  assert.equal(slice('t'), 'true');
  assert.equal(slice('o'), '{}');
  assert.deepEqual(topLevelMembers('{}'), new Map());
  assert.equal(topLevelMembers('[1,2]'), null);
  assert.equal(topLevelMembers('"text"'), null);
});

test('the bytes sent parse to the body JSON.stringify writes, member for member, whatever was kept, changed or added', () => {
  fc.assert(
    fc.property(
      fc.dictionary(trickyKey, asciiValue, { maxKeys: 6 }),
      fc.array(fc.constantFrom('keep', 'change', 'drop'), { minLength: 8, maxLength: 8 }),
      fc.dictionary(trickyKey, asciiValue, { maxKeys: 3 }),
      asciiValue,
      fc.integer(),
      fc.boolean(),
      (client, fates, added, replacement, seed, padFirst) => {
        const withPad = padFirst ? { pad: PAD, ...client } : { ...client, pad: PAD };
        const source = clientJson(looseJson(withPad, prng(seed)));
        const original = source.value as Record<string, unknown>;
        const body: Record<string, unknown> = {};
        Object.keys(original).forEach((k, i) => {
          const fate = fates[i % fates.length];
          if (fate === 'keep') body[k] = original[k];
          else if (fate === 'change') body[k] = replacement;
        });
        Object.assign(body, added);
        const out = encodeReusing(body, source);
        assert.ok(out, 'an ASCII object body over the size limit is encoded');
        const expected = JSON.stringify(body);
        assert.equal(JSON.stringify(JSON.parse(out.toString('utf8'))), expected);
      },
    ),
    { seed: 20261204, numRuns: 500 },
  );
});

test('a value is copied as the client wrote it only when it is the very value parsed from there', () => {
  const client = `{"messages": [ {"role":"user", "content": "${PAD}"} ], "stream" : false, "temperature": 0.5}`;
  const source = clientJson(client);
  const original = source.value as Record<string, unknown>;
  const out = encodeReusing({ model: 'gpt-4o', messages: original.messages, stream: true }, source)!.toString();
  assert.ok(out.includes(`[ {"role":"user", "content": "${PAD}"} ]`), 'the messages are the client bytes, spacing and all');
  assert.deepEqual(JSON.parse(out), { model: 'gpt-4o', messages: original.messages, stream: true });

  // an equal but different array (a driver rebuilt it) is serialised, not copied
  const rebuilt = structuredClone(original.messages);
  const again = encodeReusing({ messages: rebuilt }, source)!.toString();
  assert.equal(again, JSON.stringify({ messages: rebuilt }));
});

test('non-ASCII, BOM-prefixed, small or non-object bodies are left to JSON.stringify', () => {
  const big = (content: string) => `{"messages":[{"role":"user","content":"${content}"}]}`;
  const unicode = clientJson(big(`${PAD}é`));
  assert.equal(encodeReusing({ messages: (unicode.value as any).messages }, unicode), null, 'offsets would not be byte offsets');

  const text = big(PAD);
  const bom: ClientJson = { bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), text, value: JSON.parse(text) };
  assert.equal(encodeReusing({ messages: (bom.value as any).messages }, bom), null);

  const small = clientJson(big('hello'));
  assert.equal(encodeReusing({ messages: (small.value as any).messages }, small), null);

  const list = clientJson(`[${JSON.stringify(PAD)}]`);
  assert.equal(encodeReusing({ a: 1 }, list), null);
  assert.equal(encodeReusing({ a: 1 }, null), null);
});

test('members JSON.stringify leaves out are left out, non-ASCII changes are UTF-8', () => {
  const source = clientJson(`{"prompt": "${PAD}", "user": "u"}`);
  const original = source.value as Record<string, unknown>;
  const out = encodeReusing({ prompt: original.prompt, user: undefined, model: 'modèle-ü', fn: () => 1 }, source)!;
  assert.deepEqual(JSON.parse(out.toString('utf8')), { prompt: PAD, model: 'modèle-ü' });
});
