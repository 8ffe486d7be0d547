/**
 * A small reader of server-sent events from a fetch body, as the HTML standard's event-stream
 * interpretation says (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines end with CRLF, LF or CR; `field: value` with one optional space after the colon; the
 * `data` lines of an event are joined with LF; a blank line dispatches the event; lines starting
 * with `:` are comments. Bytes are decoded as UTF-8 as they stream (a character split across
 * chunks is kept for the next one).
 */

export interface SseEvent {
  event: string;
  data: string;
}

export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = (body as ReadableStream<BufferSource>).pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  let buf = '';
  let data: string[] = [];
  let event = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      // a CR at the very end may be the first half of a CRLF: keep it until the next chunk
      let end: number;
      while ((end = buf.search(/\r\n|\n|\r(?!$)/)) !== -1) {
        const line = buf.slice(0, end);
        buf = buf.slice(end + (buf.startsWith('\r\n', end) ? 2 : 1));
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n') };
          data = [];
          event = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let v = colon === -1 ? '' : line.slice(colon + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'data') data.push(v);
        else if (field === 'event') event = v;
      }
    }
    // the standard drops an event not followed by a blank line: so does this reader
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // a consumer that stopped early (Stop, an error event) lets go of the connection too
    void reader.cancel().catch(() => {});
  }
}
