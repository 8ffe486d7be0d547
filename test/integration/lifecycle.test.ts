/**
 * What an operator sees of the process: one start-up line per listener, an https-only route
 * reached over http told to upgrade (Kong's 426), and a drain that does not wait forever: requests
 * still running at the drain deadline are cut and the process exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, httpRequest } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

test('start-up logs one line per listener, with its address', async () => {
  const gw = await Gateway.start({ workers: 1 });
  try {
    const lines = gw.stdout.split('\n').filter((l) => l.includes('listening on'));
    const messages = lines.map((l) => JSON.parse(l).msg);
    assert.deepEqual(messages.sort(), [
      `admin API listening on 127.0.0.1:${gw.adminPort}`,
      `admin GUI listening on http://127.0.0.1:${gw.guiPort}`, // a URL: the one a user opens
      `proxy listening on 127.0.0.1:${gw.proxyPort}`,
    ]);
  } finally {
    await gw.close();
  }
});

test("an https-only route reached over http gets Kong's 426", async () => {
  const gw = await Gateway.start({ workers: 1 });
  const echo = await EchoServer.start();
  try {
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'echo', url: echo.url })).status, 201);
    const r = await gw.adminRequest('POST', '/services/echo/routes', { name: 'secure', paths: ['/secure'], protocols: ['https'] });
    assert.equal(r.status, 201, r.text);
    const res = await gw.proxyRequest('GET', '/secure');
    assert.equal(res.status, 426);
    assert.deepEqual(res.json, { message: 'Please use HTTPS protocol' });
    assert.equal(echo.received.length, 0, 'the upstream is never called');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('SIGTERM waits for in-flight requests only until the drain timeout, then exits', async () => {
  const echo = await EchoServer.start();
  const gw = await Gateway.start({ workers: 1, env: { MODELGATE_DRAIN_TIMEOUT_MS: '500' } });
  try {
    await gw.adminRequest('POST', '/services', { name: 'forever', url: `${echo.url}/slow/5000` });
    await gw.adminRequest('POST', '/services/forever/routes', { name: 'forever', paths: ['/forever'] });
    const inflight = httpRequest(gw.proxy + '/forever').then(
      (r) => r.status,
      () => 'cut',
    );
    while (!echo.received.length) await new Promise((r) => setTimeout(r, 20));
    gw.proc!.kill('SIGTERM');
    // a 5 s upstream cannot hold the process: it exits once the 500 ms drain deadline passes
    assert.equal(await gw.waitExit(), 0);
    assert.equal(await inflight, 'cut', 'the request still running at the deadline is cut, not answered');
  } finally {
    await gw.close();
    await echo.close();
  }
});
