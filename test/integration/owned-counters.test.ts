/**
 * A node with one proxy worker counts `local` limits in the worker itself (src/state/owned.ts),
 * the primary keeping a copy: a limit holds across the worker's crash and replacement. With two
 * workers the counters stay in the primary, shared exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the worker that replaced `victim` serves: listed, ready, and answering on the proxy
 * port (a path no route matches, so that nothing is counted while the port is still closed).
 */
async function replaced(gw: Gateway, victim: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const pids: number[] = (await gw.adminRequest('GET', '/')).json.pids.workers;
    const status = await gw.adminRequest('GET', '/status');
    if (pids.length === 1 && !pids.includes(victim) && status.json.server.workers_ready === 1) {
      const answered = await fetch(`${gw.proxy}/no-route-here`).then((r) => r.status, () => null);
      if (answered === 404) return;
    }
    await sleep(100);
  }
  throw new Error('the worker was not replaced');
}

/** A gateway of `workers` workers with a route to an echo server behind rate-limiting (`hour`, local). */
async function limitedRoute(workers: number, hour: number): Promise<{ gw: Gateway; echo: EchoServer }> {
  const echo = await EchoServer.start();
  const gw = await Gateway.start({ workers });
  await adminOk(gw, 'POST', '/services', { name: 'e', url: echo.url });
  await adminOk(gw, 'POST', '/services/e/routes', { name: 'e', paths: ['/e'] });
  await adminOk(gw, 'POST', '/routes/e/plugins', { name: 'rate-limiting', config: { hour, policy: 'local' } });
  return { gw, echo };
}

test('one worker: a rate limit is exact and survives the worker being killed', async () => {
  const { gw, echo } = await limitedRoute(1, 4);
  try {
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
  const { gw, echo } = await limitedRoute(2, 10);
  try {
    // fresh connections, so both workers take some of them
    const statuses = await Promise.all(Array.from({ length: 16 }, () => fetch(`${gw.proxy}/e`, { headers: { connection: 'close' } }).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 200).length, 10);
    assert.equal(statuses.filter((s) => s === 429).length, 6);
  } finally {
    await gw.close();
    await echo.close();
  }
});
