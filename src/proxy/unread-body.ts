/**
 * A request answered before its body was all read (no route matched, a plugin answered first, the
 * upstream answered early) on a connection that stays open: node:http reads and drops the rest of
 * the body so the next request can be parsed, but with no clock at all, so a client that stalled
 * mid-body held the socket until the keep-alive timeout (75 s), whatever the body timeout said.
 * Here that rest is held to the same rules as a body we read: the body idle timeout and the size
 * limit.
 */
import type { IncomingMessage } from 'node:http';
import { watchIdle, type IdleWatch } from '../util/idle-watch.ts';
import { lingeringClose } from './lingering-close.ts';

/**
 * Called once the answer is out, with node:http draining the body itself (its parser reads the
 * socket directly and drops the bytes, so no 'data' event tells progress): progress is the
 * socket's byte count, sampled once per idle period. A period without a byte closes the
 * connection, so a stall is cut between one and two body timeouts after it began; more than
 * `limit` bytes end it (lingering: that client is still sending).
 */
export function watchUnreadBody(req: IncomingMessage, idleMs: number, limit: number): void {
  const socket = req.socket;
  if (req.complete || !socket.writable) return; // the body is all in, or the connection is closing anyway
  const start = socket.bytesRead;
  let seen = start;
  let watch: IdleWatch;
  const check = () => {
    if (req.complete || socket.destroyed) return;
    const now = socket.bytesRead;
    if (now - start > limit) return lingeringClose(socket);
    if (now === seen) return void socket.destroy();
    seen = now;
    watch = watchIdle(idleMs, check);
  };
  watch = watchIdle(idleMs, check);
  // 'close' comes once the body ended, or the connection went away
  req.once('close', () => watch.stop());
}
