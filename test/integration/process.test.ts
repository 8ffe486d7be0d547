/**
 * The gateway as a process: start-up failures are one clear line and exit code 1, SIGTERM drains
 * in-flight requests, SIGKILL loses no acknowledged write, a dead worker is replaced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Gateway, httpRequest, type HttpResult } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

test('an invalid setting stops start-up with one line naming it', async () => {
  const gw = await Gateway.start({ noWait: true, env: { MODELGATE_WORKERS: 'lots' } });
  const code = await gw.waitExit();
  assert.equal(code, 1);
  assert.equal(gw.stderr.trim().split('\n').length, 1);
  assert.match(gw.stderr, /MODELGATE_WORKERS: invalid value 'lots'/);
  await gw.close();
});

test('a port already in use is a clear error and exit code 1', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const gw = await Gateway.start({ noWait: true, env: { MODELGATE_PROXY_LISTEN: `127.0.0.1:${port}` } });
    assert.equal(await gw.waitExit(), 1);
    assert.match(gw.stderr, new RegExp(`MODELGATE_PROXY_LISTEN: cannot listen on 127.0.0.1:${port} \\(address already in use\\)`));
    await gw.close();
    const gw2 = await Gateway.start({ noWait: true, env: { MODELGATE_ADMIN_LISTEN: `127.0.0.1:${port}` } });
    assert.equal(await gw2.waitExit(), 1);
    assert.match(gw2.stderr, /MODELGATE_ADMIN_LISTEN: cannot listen on .* \(address already in use\)/);
    await gw2.close();
  } finally {
    blocker.close();
  }
});

test('SIGTERM lets in-flight requests finish, then exits 0', async () => {
  const echo = await EchoServer.start();
  const gw = await Gateway.start({ workers: 2 });
  try {
    await gw.adminRequest('POST', '/services', { name: 'slow', url: `${echo.url}/slow/1500` });
    await gw.adminRequest('POST', '/services/slow/routes', { name: 'slow', paths: ['/slow'] });
    const inflight = httpRequest(gw.proxy + '/slow');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    gw.proc!.kill('SIGTERM');
    const res = await inflight;
    assert.equal(res.status, 200, 'the request that was in flight completes');
    assert.equal(await gw.waitExit(), 0);
    assert.ok(Date.now() - t0 < 10_000);
    await assert.rejects(fetch(gw.proxy + '/slow'), 'no new connections after the drain');
    assert.match(gw.stdout, /draining/);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('SIGKILL right after a burst of writes loses none of the acknowledged ones', async () => {
  const gw = await Gateway.start();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await gw.adminRequest('POST', '/services', { name: `kill-${i}`, host: 'example.com' });
      assert.equal(r.status, 201);
      ids.push(r.json.id);
    }
    gw.proc!.kill('SIGKILL');
    await gw.waitExit();
    // cluster workers notice the primary is gone and exit by themselves
    await gw.launch();
    const list = await gw.adminRequest('GET', '/services?size=1000');
    const found = new Set(list.json.data.map((s: { id: string }) => s.id));
    for (const id of ids) assert.ok(found.has(id), `service ${id} survived`);
  } finally {
    await gw.close();
  }
});

test('SIGKILL in the middle of concurrent Admin API writes loses none that got a 201', async () => {
  const gw = await Gateway.start();
  try {
    const acked = new Map<string, string>(); // name → id
    let killed = false;
    let n = 0;
    const writer = async () => {
      while (!killed) {
        const name = `burst-${n++}`;
        let r: HttpResult;
        try {
          r = await gw.adminRequest('POST', '/services', { name, host: 'example.com', tags: ['burst'] });
        } catch {
          return; // the gateway is gone: this write was never acknowledged
        }
        if (r.status === 201) acked.set(name, r.json.id);
        if (acked.size >= 40 && !killed) {
          killed = true; // the other writers still have requests in flight
          gw.proc!.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, writer));
    await gw.waitExit();
    assert.ok(acked.size >= 40);
    await gw.launch();
    const list = await gw.adminRequest('GET', '/services?size=1000');
    assert.equal(list.status, 200);
    const stored = new Map(list.json.data.map((s: { name: string; id: string }) => [s.name, s.id]));
    for (const [name, id] of acked) assert.equal(stored.get(name), id, `acknowledged service ${name} survived`);
    // the store still takes writes after the crash
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'after-crash', host: 'example.com' })).status, 201);
  } finally {
    await gw.close();
  }
});

test('a worker that dies is replaced; the others keep serving', async () => {
  const echo = await EchoServer.start();
  const gw = await Gateway.start({ workers: 2 });
  try {
    await gw.adminRequest('POST', '/services', { name: 'e', url: echo.url });
    await gw.adminRequest('POST', '/services/e/routes', { name: 'e', paths: ['/e'] });
    const info = await gw.adminRequest('GET', '/');
    const [victim] = info.json.pids.workers as number[];
    process.kill(victim, 'SIGKILL');
    let ok = 0;
    for (let i = 0; i < 20; i++) {
      try {
        if ((await fetch(gw.proxy + '/e', { signal: AbortSignal.timeout(5000) })).status === 200) ok++;
      } catch {
        // a request on the dying worker's connection may fail
      }
    }
    assert.ok(ok >= 18, `${ok}/20 requests succeeded while a worker was replaced`);
    const deadline = Date.now() + 10_000;
    let pids: number[] = [];
    while (Date.now() < deadline) {
      pids = (await gw.adminRequest('GET', '/')).json.pids.workers;
      const status = await gw.adminRequest('GET', '/status');
      if (pids.length === 2 && !pids.includes(victim) && status.json.server.workers_ready === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(victim));
    assert.equal((await fetch(gw.proxy + '/e')).status, 200);
    assert.match(gw.stdout, /proxy worker died; starting a replacement/);
  } finally {
    await gw.close();
    await echo.close();
  }
});
