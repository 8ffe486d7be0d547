/**
 * Preloaded (`node --import`) into the peer gateway (Portkey) only:
 *  1. servers that would listen on every interface listen on 127.0.0.1 instead, so the benchmark
 *     never opens a port beyond loopback (Portkey has no host setting of its own);
 *  2. a compatibility shim for its streaming path on Node 24 (below).
 */
import net from 'node:net';

type Listen = (...args: unknown[]) => net.Server;
const original = net.Server.prototype.listen as unknown as Listen;

function patched(this: net.Server, ...args: unknown[]): net.Server {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !('fd' in first) && !('path' in first) && !('handle' in first) && !('_handle' in first)) {
    args[0] = { ...(first as object), host: '127.0.0.1' };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const second = args[1];
    if (second === undefined || second === null || typeof second === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1'); // listen(port, backlog | callback)
  }
  return original.apply(this, args);
}

net.Server.prototype.listen = patched as unknown as typeof net.Server.prototype.listen;

/*
 * Portkey 1.15 on Node 24: its streaming path appends headers to a Response built from the
 * upstream `fetch` answer, whose headers are immutable by the fetch spec, and @hono/node-server's
 * lightweight Response keeps that immutable Headers object, so every stream fails with
 * `TypeError: immutable` (Portkey-AI/gateway#1389, fix proposed in #1390). The shim gives each
 * `fetch` answer a mutable copy of its headers, which is what that fix does; it costs the peer one
 * Headers copy per upstream call.
 */
const originalFetch = globalThis.fetch;
globalThis.fetch = async function fetchWithMutableHeaders(...args: Parameters<typeof fetch>): Promise<Response> {
  const res = await originalFetch(...args);
  Object.defineProperty(res, 'headers', { value: new Headers(res.headers), configurable: true });
  return res;
};
