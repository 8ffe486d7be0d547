/**
 * Admin API abuse limits (issue 8, docs/decisions.md, T17): a form array index over the limit and a
 * JSON body with a huge array are refused with a clear 400, store nothing, and leave the gateway
 * serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';

/** The bounds under test: `MAX_INDEX` in src/admin/form.ts, `MAX_JSON_ARRAY_ITEMS` in src/admin/body.ts. */
const MAX_INDEX = 1000;
const MAX_ARRAY_ITEMS = 10_000;

let gw: Gateway;

before(async () => {
  gw = await Gateway.start();
});
after(async () => {
  await gw?.close();
});

const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);

test('a form array index over the limit is a 400; the index at the limit is accepted', async () => {
  const over = await gw.adminForm('POST', '/services', [['name', 'far-index'], ['host', 'example.com'], [`tags[${MAX_INDEX + 1}]`, 'x']]);
  assert.equal(over.status, 400, over.text);
  assert.match(over.json.message, /array index too large/);
  assert.equal((await gw.adminRequest('GET', '/services/far-index')).status, 404, 'nothing stored');

  const huge = await gw.adminForm('POST', '/services', [['name', 'huge-index'], ['host', 'example.com'], ['tags[99999999999999999999]', 'x']]);
  assert.equal(huge.status, 400, huge.text);

  const atLimit = await gw.adminForm('POST', '/services', [['name', 'last-index'], ['host', 'example.com'], [`tags[${MAX_INDEX}]`, 'x']]);
  assert.equal(atLimit.status, 201, atLimit.text);
  assert.deepEqual(atLimit.json.tags, ['x'], 'a sparse index is compacted, not filled with holes');
});

test('a JSON body with an array over the limit is a 400, at any depth', async () => {
  const top = await gw.adminRequest('POST', '/services', { name: 'many-tags', host: 'example.com', tags: tags(MAX_ARRAY_ITEMS + 1) });
  assert.equal(top.status, 400, top.text.slice(0, 200));
  assert.match(top.json.message, new RegExp(`more than ${MAX_ARRAY_ITEMS} items`));
  assert.equal((await gw.adminRequest('GET', '/services/many-tags')).status, 404, 'nothing stored');

  const service = await gw.adminRequest('POST', '/services', { name: 'svc', host: 'example.com' });
  assert.equal(service.status, 201);
  const nested = await gw.adminRequest('POST', '/services/svc/routes', { name: 'many-values', paths: ['/x'], headers: { 'x-tenant': tags(MAX_ARRAY_ITEMS + 1) } });
  assert.equal(nested.status, 400, nested.text.slice(0, 200));
  assert.match(nested.json.message, /items/);
  assert.equal((await gw.adminRequest('GET', '/routes/many-values')).status, 404, 'nothing stored');

  // the same items in a JSON text that is small enough on the wire: the count is what is bounded
  const numbers = await gw.adminRequest('PATCH', '/services/svc', `{"tags":[${'1,'.repeat(MAX_ARRAY_ITEMS * 50)}1]}`, { 'content-type': 'application/json' });
  assert.equal(numbers.status, 400);
  assert.match(numbers.json.message, /items/);
});

test('an array at the limit is not refused for its size, and the gateway keeps serving', async () => {
  const many = await gw.adminRequest('POST', '/services', { name: 'at-limit', host: 'example.com', tags: tags(MAX_ARRAY_ITEMS) });
  assert.doesNotMatch(many.text, /items/, 'not the size limit');
  assert.equal((await gw.adminRequest('GET', '/status')).status, 200);
  const ok = await gw.adminRequest('POST', '/services', { name: 'after-limits', host: 'example.com' });
  assert.equal(ok.status, 201);
});

test('a declarative /config body may list more entities of one kind than the entity-field bound', async () => {
  const dbless = await Gateway.start({ env: { MODELGATE_DATABASE: 'off' } });
  try {
    const consumers = Array.from({ length: MAX_ARRAY_ITEMS + 1 }, (_, i) => ({ username: `user-${i}` }));
    const r = await dbless.adminRequest('POST', '/config', { _format_version: '3.0', consumers });
    assert.equal(r.status, 201, r.text.slice(0, 300));
    const page = await dbless.adminRequest('GET', '/consumers?size=1');
    assert.equal(page.status, 200);
    assert.equal(page.json.data.length, 1);
  } finally {
    await dbless.close();
  }
});

test('a multipart upload cut short inside a file part is a 400, and the Admin API keeps answering', async () => {
  const raw = '--X\r\nContent-Disposition: form-data; name="name"; filename="f.txt"\r\n\r\ncut-off';
  const r = await gw.adminRequest('POST', '/services', raw, { 'content-type': 'multipart/form-data; boundary=X' });
  assert.equal(r.status, 400, r.text);
  assert.equal(typeof r.json.message, 'string');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await gw.adminRequest('GET', '/status')).status, 200, 'the control plane survived');
  assert.equal(gw.exitCode, null);
});
