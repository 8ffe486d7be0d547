/**
 * src/util/undici.ts and src/observability/metrics.ts load undici's and prom-client's parts from
 * their own files (each index loads all of its package). Neither package has an `exports` map:
 * these paths are part of the locked versions (package-lock.json), and this test is where an upgrade that moves them
 * fails. The parts must be the very classes the indexes export (an `instanceof
 * errors.UndiciError` must hold for errors undici throws), and `request()` must send what undici's
 * own top-level `request()` sends.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import * as parts from '../../src/util/undici.ts';
import * as prom from 'prom-client';
import { client } from '../../src/observability/metrics.ts';

test('the parts are the classes and functions undici’s index exports', () => {
  assert.equal(parts.Agent, undici.Agent);
  assert.equal(parts.Pool, undici.Pool);
  assert.equal(parts.errors, undici.errors);
  assert.equal(parts.buildConnector, undici.buildConnector);
  assert.equal(parts.util.parseHeaders, undici.util.parseHeaders);
  assert.equal(parts.util.headerNameToString, undici.util.headerNameToString);
  assert.equal(typeof new parts.Agent().request, 'function', 'a dispatcher has request()');
});

test('the prom-client classes are the ones its index exports', () => {
  assert.equal(client.Registry, prom.Registry);
  assert.equal(client.Counter, prom.Counter);
  assert.equal(client.Gauge, prom.Gauge);
  assert.equal(client.Histogram, prom.Histogram);
  assert.equal(client.AggregatorRegistry, prom.AggregatorRegistry);
});

test('request() sends what undici’s request() sends: method, path with its query, headers and body', async () => {
  const seen: { method?: string; url?: string; header?: string | string[]; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, header: req.headers['x-probe'], body });
      res.writeHead(201, { 'x-answer': 'yes' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new parts.Agent();
  try {
    for (const [url, opts] of [
      [`${base}/a/b?c=1&d=2`, { method: 'POST' as const, headers: { 'x-probe': 'p' }, body: 'hello' }],
      [new URL(`${base}/plain`), {}],
      [`${base}/put`, { body: 'implied PUT' }],
    ] as const) {
      for (const send of [() => parts.request(url, { ...opts, dispatcher: agent }), () => undici.request(url, { ...opts, dispatcher: agent })]) {
        const r = await send();
        assert.equal(r.statusCode, 201);
        assert.equal(r.headers['x-answer'], 'yes');
        assert.equal(await r.body.text(), 'ok');
      }
      const [ours, theirs] = seen.splice(0);
      assert.deepEqual(ours, theirs, String(url));
    }
  } finally {
    await agent.close();
    server.close();
  }
});
