/**
 * Plain proxying through the real gateway: Kong's route matching and header handling, config
 * changes taking effect without restart, Kong's error answers, and the plugin chain.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Gateway, freePort, httpRequest } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

let gw: Gateway;
let echo: EchoServer;

before(async () => {
  echo = await EchoServer.start();
  gw = await Gateway.start({ workers: 2 });
  const svc = await gw.adminForm('POST', '/services', { name: 'echo', url: `${echo.url}/base` });
  assert.equal(svc.status, 201, svc.text);
});
after(async () => {
  await gw.close();
  await echo.close();
});

/** Sends raw bytes on a fresh connection, resolves with everything answered until it closed. */
function rawRequest(payload: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = net.connect(gw.proxyPort, '127.0.0.1', () => s.end(payload));
    let out = '';
    s.setEncoding('utf8').on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

test('a prefix route forwards with strip_path, service path, and forwarding headers', async () => {
  const r = await gw.adminForm('POST', '/services/echo/routes', [['name', 'prefix'], ['paths[]', '/api']]);
  assert.equal(r.status, 201, r.text);
  const res = await httpRequest(gw.proxy + '/api/things?x=1', {
    method: 'POST',
    body: '{"hello":"world"}',
    headers: { 'content-type': 'application/json', 'x-custom': 'kept', connection: 'keep-alive, x-drop-me', 'x-drop-me': 'secret' },
  });
  assert.equal(res.status, 200, res.text);
  const got = res.json;
  assert.equal(got.url, '/base/things?x=1');
  assert.equal(got.method, 'POST');
  assert.equal(got.body, '{"hello":"world"}');
  assert.equal(got.headers['x-custom'], 'kept');
  assert.equal(got.headers['x-drop-me'], undefined, 'Connection-listed headers stay on their hop');
  assert.equal(got.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(got.headers['x-forwarded-proto'], 'http');
  assert.equal(got.headers['x-forwarded-host'], '127.0.0.1');
  assert.equal(got.headers['x-forwarded-port'], String(gw.proxyPort));
  assert.equal(got.headers['x-forwarded-path'], '/api/things');
  assert.equal(got.headers['x-real-ip'], '127.0.0.1');
  assert.equal(got.headers.host, `127.0.0.1:${echo.port}`);
  assert.match(res.headers.get('x-modelgate-request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.ok(res.headers.get('x-modelgate-upstream-latency') !== null);
  assert.ok(res.headers.get('x-modelgate-proxy-latency') !== null);
  assert.equal(res.headers.get('via'), '1.1 modelgate/0.1.0');
  assert.equal(res.headers.get('x-internal'), null, 'headers the upstream listed in Connection are dropped');
  assert.equal(res.headers.get('x-upstream'), 'echo');
});

test('a regex route matches exactly what the guide means by ~/openai-chat$', async () => {
  await gw.adminForm('POST', '/services/echo/routes', [['name', 'exact'], ['paths[]', '~/exact-chat$'], ['strip_path', 'false']]);
  const ok = await gw.proxyRequest('POST', '/exact-chat', {});
  assert.equal(ok.status, 200);
  assert.equal(ok.json.url, '/base/exact-chat');
  const longer = await gw.proxyRequest('POST', '/exact-chat/more', {});
  assert.equal(longer.status, 404);
  assert.deepEqual(Object.keys(longer.json).sort(), ['message', 'request_id']);
  assert.equal(longer.json.message, 'no Route matched with those values');
});

test('methods, hosts and headers narrow a match; priorities pick the most specific route', async () => {
  await gw.adminRequest('POST', '/services/echo/routes', { name: 'wide', paths: ['/prio'] });
  await gw.adminRequest('POST', '/services/echo/routes', { name: 'narrow', paths: ['/prio'], methods: ['PUT'], headers: { 'x-tenant': ['blue'] }, strip_path: false });
  await gw.adminRequest('POST', '/services/echo/routes', { name: 'hosted', hosts: ['*.example.test'], paths: ['/prio'], strip_path: false, preserve_host: true });
  const wide = await gw.proxyRequest('POST', '/prio/a', {});
  assert.equal(wide.json.url, '/base/a');
  const narrow = await gw.proxyRequest('PUT', '/prio/a', {}, { 'x-tenant': 'blue' });
  assert.equal(narrow.json.url, '/base/prio/a');
  const hosted = await httpRequest(gw.proxy + '/prio/h', { headers: { host: 'api.example.test' } });
  const body = hosted.json;
  assert.equal(body.url, '/base/prio/h');
  assert.equal(body.headers.host, 'api.example.test', 'preserve_host keeps the client Host');
});

test('a configuration change reaches the proxy before the Admin API answers', async () => {
  const created = await gw.adminRequest('POST', '/services/echo/routes', { name: 'moving', paths: ['/before'] });
  assert.equal((await gw.proxyRequest('GET', '/before')).status, 200);
  const patched = await gw.adminRequest('PATCH', '/routes/moving', { paths: ['/after'] });
  assert.equal(patched.status, 200);
  // two workers: every one of them must already serve the new version
  for (let i = 0; i < 10; i++) {
    assert.equal((await gw.proxyRequest('GET', '/before')).status, 404);
    assert.equal((await gw.proxyRequest('GET', '/after')).status, 200);
  }
  assert.equal((await gw.adminRequest('DELETE', `/routes/${created.json.id}`)).status, 204);
  assert.equal((await gw.proxyRequest('GET', '/after')).status, 404);
});

test('request-termination answers for the route, then is removed without restart', async () => {
  await gw.adminRequest('POST', '/services/echo/routes', { name: 'closed', paths: ['/closed'] });
  const p = await gw.adminForm('POST', '/routes/closed/plugins', { name: 'request-termination', 'config.status_code': '403', 'config.message': 'So long' });
  assert.equal(p.status, 201, p.text);
  const blocked = await gw.proxyRequest('GET', '/closed');
  assert.equal(blocked.status, 403);
  assert.deepEqual(blocked.json, { message: 'So long' });
  await gw.adminRequest('PATCH', `/plugins/${p.json.id}`, { enabled: false });
  assert.equal((await gw.proxyRequest('GET', '/closed')).status, 200);
  // a global plugin applies everywhere; the route-scoped one wins over it on its route
  const global = await gw.adminRequest('POST', '/plugins', { name: 'request-termination', config: { status_code: 418 } });
  assert.equal(global.status, 201, global.text);
  assert.equal((await gw.proxyRequest('GET', '/api/x')).status, 418);
  await gw.adminRequest('PATCH', `/plugins/${p.json.id}`, { enabled: true });
  assert.equal((await gw.proxyRequest('GET', '/closed')).status, 403);
  await gw.adminRequest('DELETE', `/plugins/${global.json.id}`);
  assert.equal((await gw.proxyRequest('GET', '/api/x')).status, 200);
});

test('upstream failures get Kong answers: refused 502, timeout 504, unresolvable 503', async () => {
  const deadPort = await freePort();
  await gw.adminRequest('POST', '/services', { name: 'dead', url: `http://127.0.0.1:${deadPort}`, retries: 2 });
  await gw.adminRequest('POST', '/services/dead/routes', { name: 'dead', paths: ['/dead'] });
  const refused = await gw.proxyRequest('GET', '/dead');
  assert.equal(refused.status, 502);
  assert.equal(refused.json.message, 'An invalid response was received from the upstream server');

  await gw.adminRequest('POST', '/services', { name: 'slow', url: `${echo.url}/slow/2000`, read_timeout: 200 });
  await gw.adminRequest('POST', '/services/slow/routes', { name: 'slow', paths: ['/slow'] });
  const slow = await gw.proxyRequest('GET', '/slow');
  assert.equal(slow.status, 504);
  assert.equal(slow.json.message, 'The upstream server is timing out');

  await gw.adminRequest('POST', '/services', { name: 'nowhere', url: 'http://no-such-host.invalid' });
  await gw.adminRequest('POST', '/services/nowhere/routes', { name: 'nowhere', paths: ['/nowhere'] });
  const dns = await gw.proxyRequest('GET', '/nowhere');
  assert.equal(dns.status, 503);

  // the gateway keeps serving
  assert.equal((await gw.proxyRequest('GET', '/api/ok')).status, 200);
});

test('upstream statuses and large bodies pass through', async () => {
  await gw.adminRequest('POST', '/services', { name: 'raw', url: echo.url });
  await gw.adminRequest('POST', '/services/raw/routes', { name: 'raw', paths: ['/raw'] });
  const teapot = await gw.proxyRequest('GET', '/raw/status/418');
  assert.equal(teapot.status, 418);
  const big = await fetch(gw.proxy + '/raw/big/5000000');
  assert.equal((await big.arrayBuffer()).byteLength, 5_000_000);
  const upload = 'x'.repeat(3_000_000);
  const echoed = await gw.proxyRequest('POST', '/raw/upload', upload, { 'content-type': 'text/plain' });
  assert.equal(echoed.json.body.length, upload.length);
});

test('malformed requests get JSON errors and never reach the upstream', async () => {
  const before = echo.received.length;
  const smuggle = await rawRequest('POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  assert.match(smuggle, /^HTTP\/1.1 400/);
  const absolute = await rawRequest('GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n');
  assert.match(absolute, /^HTTP\/1.1 400/);
  assert.match(absolute, /application\/json/);
  const connect = await rawRequest('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
  assert.match(connect, /^HTTP\/1.1 405/);
  const hugeHeader = await rawRequest(`GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(hugeHeader, /^HTTP\/1.1 431/);
  assert.equal(echo.received.length, before);
});

test('request smuggling: duplicate Content-Length and obs-fold continuation lines are refused with a JSON 400', async () => {
  const before = echo.received.length;
  const attempts = {
    'two different Content-Length values': 'POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 9\r\n\r\nabcdabcde',
    'the same Content-Length twice': 'POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd',
    'a list in one Content-Length': 'POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nabcd',
    'an obs-fold continuation line': 'GET /api/x HTTP/1.1\r\nHost: a\r\nX-Folded: first\r\n second\r\n\r\n',
    'an obs-fold continuing Transfer-Encoding': 'POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: identity\r\n\tchunked\r\n\r\n0\r\n\r\n',
  };
  for (const [what, payload] of Object.entries(attempts)) {
    const answer = await rawRequest(payload);
    assert.match(answer, /^HTTP\/1.1 400 /, `${what}: ${answer.slice(0, 80)}`);
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    assert.equal(typeof JSON.parse(body).message, 'string', `${what}: a JSON body`);
  }
  assert.equal(echo.received.length, before, 'nothing reached the upstream');
  assert.equal((await gw.proxyRequest('GET', '/api/ok')).status, 200);
});

test('the request id is in the access log', async () => {
  const r = await gw.proxyRequest('GET', '/api/logged?apikey=secret-in-query');
  const id = r.headers.get('x-modelgate-request-id')!;
  await new Promise((res) => setTimeout(res, 100));
  const line = gw.stdout.split('\n').find((l) => l.includes(id));
  assert.ok(line, 'an access log line carries the request id');
  const entry = JSON.parse(line);
  assert.equal(entry.status, 200);
  assert.equal(entry.route, 'prefix');
  assert.equal(entry.path, '/api/logged');
  assert.ok(!line.includes('secret-in-query'), 'query strings are not logged');
});
