/**
 * The Admin API's nested and by-name endpoints, and plugin scopes, through the real gateway:
 * plugins attached to a service apply to its routes, a route's plugin beats its service's, which
 * beats a global one (Kong's precedence); routes and plugins are read, replaced and deleted by
 * name or id; a request already in flight finishes on the configuration it started with.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

let gw: Gateway;
let echo: EchoServer;

const terminate = (status: number, message: string) => ({ name: 'request-termination', config: { status_code: status, message } });

before(async () => {
  echo = await EchoServer.start();
  gw = await Gateway.start({ workers: 1 });
  for (const name of ['alpha', 'beta']) {
    const s = await gw.adminRequest('POST', '/services', { name, url: `${echo.url}/${name}` });
    assert.equal(s.status, 201, s.text);
  }
  for (const [service, route] of [['alpha', 'a1'], ['alpha', 'a2'], ['beta', 'b1']]) {
    const r = await gw.adminRequest('POST', `/services/${service}/routes`, { name: route, paths: [`/${route}`] });
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

test('nested listings: a service lists its routes and its plugins', async () => {
  const routes = await gw.adminRequest('GET', '/services/alpha/routes');
  assert.equal(routes.status, 200);
  assert.deepEqual(routes.json.data.map((r: { name: string }) => r.name).sort(), ['a1', 'a2']);
  const none = await gw.adminRequest('GET', '/services/beta/plugins');
  assert.deepEqual([none.status, none.json.data], [200, []]);
  const missing = await gw.adminRequest('GET', '/services/nope/routes');
  assert.equal(missing.status, 404);
});

test("plugin precedence is Kong's: route over service over global", async () => {
  const global = await gw.adminRequest('POST', '/plugins', terminate(418, 'global'));
  assert.equal(global.status, 201, global.text);
  const service = await gw.adminRequest('POST', '/services/alpha/plugins', terminate(403, 'service'));
  assert.equal(service.status, 201, service.text);
  assert.equal(service.json.service.id, (await gw.adminRequest('GET', '/services/alpha')).json.id);
  const route = await gw.adminRequest('POST', '/routes/a1/plugins', terminate(409, 'route'));
  assert.equal(route.status, 201, route.text);

  const answers = async () => Object.fromEntries(await Promise.all(['a1', 'a2', 'b1'].map(async (p) => [p, (await gw.proxyRequest('GET', `/${p}`)).status])));
  assert.deepEqual(await answers(), { a1: 409, a2: 403, b1: 418 });

  const listed = await gw.adminRequest('GET', '/plugins');
  assert.equal(listed.status, 200);
  assert.deepEqual(new Set(listed.json.data.map((p: { id: string }) => p.id)), new Set([global.json.id, service.json.id, route.json.id]));
  assert.deepEqual((await gw.adminRequest('GET', '/services/alpha/plugins')).json.data.map((p: { id: string }) => p.id), [service.json.id]);

  // PUT replaces a plugin whole: the service's becomes a 401
  const put = await gw.adminRequest('PUT', `/plugins/${service.json.id}`, { ...terminate(401, 'replaced'), service: { id: service.json.service.id } });
  assert.equal(put.status, 200, put.text);
  assert.equal((await gw.adminRequest('GET', `/plugins/${service.json.id}`)).json.config.status_code, 401);
  assert.deepEqual(await answers(), { a1: 409, a2: 401, b1: 418 });

  for (const p of [route, service, global]) assert.equal((await gw.adminRequest('DELETE', `/plugins/${p.json.id}`)).status, 204);
  assert.deepEqual(await answers(), { a1: 200, a2: 200, b1: 200 });
});

test('routes by name: GET, PUT (upsert), DELETE', async () => {
  const got = await gw.adminRequest('GET', '/routes/a2');
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.paths, ['/a2']);

  const replaced = await gw.adminRequest('PUT', '/routes/a2', { paths: ['/a2-new'], service: { id: got.json.service.id } });
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.json.id, got.json.id, 'PUT on an existing name keeps the id');
  assert.equal((await gw.proxyRequest('GET', '/a2')).status, 404);
  assert.equal((await gw.proxyRequest('GET', '/a2-new')).status, 200);

  const created = await gw.adminRequest('PUT', '/routes/c1', { paths: ['/c1'], service: { id: got.json.service.id } });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.json.name, 'c1', 'PUT on a new name creates the route under that name');
  assert.equal((await gw.proxyRequest('GET', '/c1')).status, 200);

  assert.equal((await gw.adminRequest('DELETE', '/routes/c1')).status, 204);
  assert.equal((await gw.adminRequest('GET', '/routes/c1')).status, 404);
  assert.equal((await gw.proxyRequest('GET', '/c1')).status, 404);
});

test('malformed form and multipart bodies are 400 in JSON, and change nothing', async () => {
  const before = (await gw.adminRequest('GET', '/services')).json.data.length;
  const multipart = await gw.adminRequest('POST', '/services', '--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nbroken', { 'content-type': 'multipart/form-data; boundary=xyz' });
  assert.equal(multipart.status, 400, multipart.text);
  assert.equal(typeof multipart.json.message, 'string');
  const form = await gw.adminRequest('POST', '/services', 'name=x&url=%E0%A4%A', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 400, form.text);
  assert.equal(typeof form.json.message, 'string');
  assert.equal((await gw.adminRequest('GET', '/services')).json.data.length, before);
});

test('a request in flight finishes on the configuration it started with', async () => {
  const s = await gw.adminRequest('POST', '/services', { name: 'slowpoke', url: `${echo.url}/slow/800` });
  assert.equal(s.status, 201, s.text);
  assert.equal((await gw.adminRequest('POST', '/services/slowpoke/routes', { name: 'slowpoke', paths: ['/slowpoke'] })).status, 201);
  const inFlight = gw.proxyRequest('GET', '/slowpoke/x');
  while (!echo.received.some((r) => r.url.startsWith('/slow/800'))) await new Promise((r) => setTimeout(r, 10));
  // while it waits on the upstream, its service is pointed elsewhere and a terminating plugin added
  assert.equal((await gw.adminRequest('PATCH', '/services/slowpoke', { path: '/status/500' })).status, 200);
  assert.equal((await gw.adminRequest('POST', '/routes/slowpoke/plugins', terminate(403, 'closed'))).status, 201);
  const first = await inFlight;
  assert.equal(first.status, 200, first.text);
  assert.match(first.json.url, /^\/slow\/800/);
  assert.equal((await gw.proxyRequest('GET', '/slowpoke/x')).status, 403, 'the next request sees the new configuration');
});
