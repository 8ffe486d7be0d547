/**
 * Closing a connection whose client may still be sending (a body refused before it was read, a
 * request the parser rejected): the answer goes out, our side is half-closed, and whatever the
 * client still sends is read and dropped until it closes its side too, for a bounded time and
 * number of bytes; only then is the socket destroyed (nginx's lingering close).
 *
 * Closing at once loses the answer: a socket closed with unread bytes in its receive buffer, or
 * receiving bytes after it was closed, makes the kernel send RST, and the client's kernel then
 * drops our answer from its own receive buffer before the client read it. That is every client
 * that writes its whole request before reading (Python's http.client, Node's http.request, most
 * SDKs) when the body is larger than the socket buffers.
 */
import type { Socket } from 'node:net';

/** How long a refused client may go on sending before it is cut anyway. */
const LINGER_MS = 5000;
/** How much of it is read and dropped before it is cut anyway (loopback senders are fast). */
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Answer written, now close: half-close, drain, destroy. Takes the socket from node:http, as an
 * upgrade does (`on('data')` detaches its parser from the socket, then its own data and end
 * listeners go): nothing that arrives from here on is parsed, so neither a pipelined request after
 * the refused body is served nor the body cut by the client's end is reported as a parse error.
 */
export function lingeringClose(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  // the client already closed its side: nothing more can arrive, close once our answer is flushed
  if (socket.readableEnded) return destroyWhenFlushed(socket);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  let budget = LINGER_BYTES;
  socket.removeAllListeners('data');
  socket.removeAllListeners('end');
  socket.on('data', (chunk: Buffer) => {
    if ((budget -= chunk.length) < 0) socket.destroy();
  });
  // the client read our answer and closed: the usual end
  socket.once('end', () => destroyWhenFlushed(socket));
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
}

/**
 * When node:http closes this connection after its current answer (`Connection: close`), it closes
 * it with `lingeringClose` instead of at once. node:http ends a connection through the socket's
 * `destroySoon()` (end, then destroy once flushed: the reset above); this socket's own copy of it
 * lingers instead. Set only where a refusal may find the client still sending (a body refused
 * unread, an `Expect: 100-continue` request), never on the normal path.
 */
export function lingerOnClose(socket: Socket): void {
  (socket as Socket & { destroySoon(): void }).destroySoon = lingerInstead;
}

function lingerInstead(this: Socket): void {
  lingeringClose(this);
}

function destroyWhenFlushed(socket: Socket): void {
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}
