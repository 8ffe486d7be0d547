/**
 * A node with one proxy worker counts `local` limits in the worker itself (src/state/owned.ts),
 * the primary keeping a copy: a limit holds across the worker's crash and replacement, and a
 * gateway stopped and started again counts afresh (Kong's `local` policy lives in memory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the worker that replaced `victim` serves. */
async function replaced(gw: Gateway, victim: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const pids: number[] = (await gw.adminRequest('GET', '/')).json.pids.workers;
    const status = await gw.adminRequest('GET', '/status');
    if (pids.length === 1 && !pids.includes(victim) && status.json.server.workers_ready === 1) return;
    await sleep(100);
  }
  throw new Error('the worker was not replaced');
}

test('one worker: a rate limit is exact, survives the worker being killed, and starts afresh with the gateway', async () => {
  const echo = await EchoServer.start();
  const gw = await Gateway.start({ workers: 1 });
  try {
    await adminOk(gw, 'POST', '/services', { name: 'e', url: echo.url });
    await adminOk(gw, 'POST', '/services/e/routes', { name: 'e', paths: ['/e'] });
    await adminOk(gw, 'POST', '/routes/e/plugins', { name: 'rate-limiting', config: { hour: 4, policy: 'local' } });
    const get = async () => {
      const r = await gw.proxyRequest('GET', '/e');
      return { status: r.status, remaining: r.headers.get('x-ratelimit-remaining-hour') };
    };
    // concurrent requests: each sees its own count, none more than the limit lets through
    const burst = await Promise.all([get(), get(), get()]);
    assert.deepEqual(burst.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(burst.map((r) => r.remaining).sort(), ['1', '2', '3']);

    // the primary's copy is sent within 250 ms; then the worker dies and is replaced
    await sleep(600);
    const [victim] = (await gw.adminRequest('GET', '/')).json.pids.workers as number[];
    process.kill(victim, 'SIGKILL');
    await replaced(gw, victim);
    assert.deepEqual(await get(), { status: 200, remaining: '0' }, 'the new worker starts from the three counted before');
    assert.equal((await get()).status, 429);
    assert.match(gw.stdout, /proxy worker died; starting a replacement/);
    assert.doesNotMatch(gw.stdout, /could not read the counters the primary kept/);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('two workers: the counters stay in the primary, shared exactly', async () => {
  const echo = await EchoServer.start();
  const gw = await Gateway.start({ workers: 2 });
  try {
    await adminOk(gw, 'POST', '/services', { name: 'e', url: echo.url });
    await adminOk(gw, 'POST', '/services/e/routes', { name: 'e', paths: ['/e'] });
    await adminOk(gw, 'POST', '/routes/e/plugins', { name: 'rate-limiting', config: { hour: 10, policy: 'local' } });
    // fresh connections, so both workers take some of them
    const statuses = await Promise.all(Array.from({ length: 16 }, () => fetch(`${gw.proxy}/e`, { headers: { connection: 'close' } }).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 200).length, 10);
    assert.equal(statuses.filter((s) => s === 429).length, 6);
  } finally {
    await gw.close();
    await echo.close();
  }
});
