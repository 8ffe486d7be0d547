/**
 * The benchmark's upstream: a minimal, fast OpenAI-compatible chat endpoint that must never be the
 * bottleneck (it shares a core with the load generator). It speaks HTTP/1.1 on raw sockets with
 * precomputed answers instead of going through node:http, which makes it several times cheaper
 * per request than any target it serves.
 *
 * `POST /v1/chat/completions` answers at once with a fixed `chat.completion` (with usage). With
 * `"stream":true` in the body it sends `chunks` `chat.completion.chunk` SSE events `delayMs` apart
 * (the first one at once), then `data: [DONE]`. The body is never JSON-parsed — that would cost
 * CPU on the load generator's core in proportion to the prompt size: the mock looks for the
 * `"stream":true` marker in the first and last 4 KB of the raw bytes.
 *
 * For the client-API scenarios (issue 18), two more endpoints answer at once with a fixed whole
 * answer (never a stream): `POST /v1/responses` an OpenAI Responses `response` object
 * (https://platform.openai.com/docs/api-reference/responses/object) and `POST /v1/messages` an
 * Anthropic Messages `message` (https://docs.anthropic.com/en/api/messages), each with usage.
 * Anything else answers 404.
 *
 * Run alone:  node bench/mock-upstream.ts [--port N] [--chunks N] [--delay-ms N]
 * (prints one JSON line `{"url":...,"port":...}` once listening).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Http1Parser, type Head } from './http1.ts';

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  /** Stream chunks per streamed answer (default 20). */
  chunks?: number;
  /** Delay between chunks in ms (default 20); 0 writes them all at once. */
  delayMs?: number;
}

export interface MockUpstream {
  url: string;
  port: number;
  /** Requests answered so far. */
  count(): number;
  close(): Promise<void>;
}

export const COMPLETION_BODY = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! This is a fixed answer from the benchmark mock upstream.' }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 },
  system_fingerprint: 'fp_bench',
});

const ANSWER_TEXT = 'Hello! This is a fixed answer from the benchmark mock upstream.';

/** OpenAI's Responses API answer to the same question (the fields of "The response object"). */
export const RESPONSE_BODY = JSON.stringify({
  id: 'resp_bench',
  object: 'response',
  created_at: 1700000000,
  status: 'completed',
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model: 'gpt-4o-mini',
  output: [{ type: 'message', id: 'msg_bench', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: ANSWER_TEXT, annotations: [] }] }],
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: true,
  temperature: 1,
  text: { format: { type: 'text' } },
  tool_choice: 'auto',
  tools: [],
  top_p: 1,
  truncation: 'disabled',
  usage: { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 14, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 26 },
  user: null,
  metadata: {},
});

/** Anthropic's Messages API answer to the same question. */
export const MESSAGE_BODY = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku-4-5',
  content: [{ type: 'text', text: ANSWER_TEXT }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 14 },
});

const okJson = (body: string, extraHeaders = ''): Buffer =>
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}Connection: keep-alive\r\nKeep-Alive: timeout=300\r\n\r\n${body}`);
const COMPLETION = okJson(COMPLETION_BODY);
/** Whole answers by path (the client-API scenarios never stream). */
const WHOLE_ANSWERS: [string, Buffer][] = [
  ['/v1/responses', okJson(RESPONSE_BODY)],
  ['/v1/messages', okJson(MESSAGE_BODY, 'request-id: req_bench\r\n')],
];
const NOT_FOUND_BODY = '{"error":{"message":"not found","type":"invalid_request_error"}}';
const NOT_FOUND = Buffer.from(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${NOT_FOUND_BODY.length}\r\nConnection: keep-alive\r\n\r\n${NOT_FOUND_BODY}`);
const SSE_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\nKeep-Alive: timeout=300\r\nTransfer-Encoding: chunked\r\n\r\n';

function chunked(payload: string): Buffer {
  return Buffer.from(`${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`);
}

function chunkEvent(i: number, last: boolean): string {
  const chunk = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: 'tok0 ' } : last ? {} : { content: `tok${i} ` }, logprobs: null, finish_reason: last ? 'stop' : null }],
    ...(last ? { usage: { prompt_tokens: 12, completion_tokens: i, total_tokens: 12 + i } } : {}),
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

const STREAM_MARK = /"stream"\s*:\s*true/;
const PEEK = 4096;

export async function startMockUpstream(opts: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const chunks = Math.max(1, opts.chunks ?? 20);
  const delayMs = opts.delayMs ?? 20;
  const events: Buffer[] = [];
  for (let i = 0; i < chunks; i++) events.push(chunked(chunkEvent(i, i === chunks - 1)));
  const first = Buffer.concat([Buffer.from(SSE_HEAD), events[0]]);
  const done = Buffer.concat([chunked('data: [DONE]\n\n'), Buffer.from('0\r\n\r\n')]);
  const allAtOnce = Buffer.concat([first, ...events.slice(1), done]);
  let served = 0;
  const sockets = new Set<net.Socket>();

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    let head: Head | null = null;
    let peekHead = '';
    let peekTail = '';
    let closeAfter = false;
    const timers = new Set<NodeJS.Timeout>();

    const stream = (): void => {
      if (delayMs <= 0) {
        socket.write(allAtOnce);
        if (closeAfter) socket.end();
        return;
      }
      socket.write(first);
      let i = 1;
      const tick = (): void => {
        timers.delete(timer);
        if (socket.destroyed) return;
        if (i < events.length) {
          socket.write(events[i++]);
          timer = setTimeout(tick, delayMs);
          timers.add(timer);
        } else {
          socket.write(done);
          if (closeAfter) socket.end();
        }
      };
      let timer = setTimeout(tick, delayMs);
      timers.add(timer);
    };

    const parser = new Http1Parser('request', {
      onHead(h) {
        head = h;
        peekHead = '';
        peekTail = '';
      },
      onBody(chunk) {
        if (peekHead.length < PEEK) peekHead += chunk.toString('latin1', 0, Math.min(chunk.length, PEEK - peekHead.length));
        // the tail only matters for bodies larger than the head window
        peekTail = (peekTail + chunk.toString('latin1', Math.max(0, chunk.length - PEEK))).slice(-PEEK);
      },
      onEnd() {
        served++;
        const h = head!;
        head = null;
        closeAfter = /close/i.test(h.headers.connection ?? '');
        const whole = h.method === 'POST' ? WHOLE_ANSWERS.find(([p]) => h.url === p || h.url.startsWith(`${p}?`)) : undefined;
        if (whole) {
          socket.write(whole[1]);
        } else if (h.method !== 'POST' || !h.url.startsWith('/v1/chat/completions')) {
          socket.write(NOT_FOUND);
        } else if (STREAM_MARK.test(peekHead) || STREAM_MARK.test(peekTail)) {
          stream(); // ends the socket itself when asked to close
          return;
        } else {
          socket.write(COMPLETION);
        }
        if (closeAfter) socket.end();
      },
    });
    socket.on('data', (data: Buffer) => {
      try {
        parser.execute(data);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      for (const t of timers) clearTimeout(t);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    count: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { port: { type: 'string' }, chunks: { type: 'string' }, 'delay-ms': { type: 'string' } } });
  const mock = await startMockUpstream({
    port: values.port ? Number(values.port) : 0,
    chunks: values.chunks ? Number(values.chunks) : undefined,
    delayMs: values['delay-ms'] !== undefined ? Number(values['delay-ms']) : undefined,
  });
  process.stdout.write(`${JSON.stringify({ url: mock.url, port: mock.port })}\n`);
  const stop = (): void => void mock.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}
