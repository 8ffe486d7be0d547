/**
 * Streamed answers: the provider's native stream (SSE or NDJSON) decoded as it arrives, each event
 * translated by the driver and written to the client at once, as OpenAI's server-sent events.
 *
 * - Back-pressure: while the client's socket is full we stop reading the provider (the loop awaits
 *   'drain'), so a slow reader slows the provider instead of growing memory.
 * - Honesty: `data: [DONE]` only follows the provider's own end of stream; a stream that breaks,
 *   stalls past the read timeout or carries an error event ends with an SSE error event instead.
 * - Accounting: the provider's usage when it reports it, otherwise counted, marked estimated.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Exchange } from './exchange.ts';
import { answerHeaders, readProviderBody, relayProviderError, estimateUsage, translateOr502 } from './relay-json.ts';
import { recordExchange } from './analytics.ts';
import { noteStream, tracesAnswer } from './tracing.ts';
import { StreamFacts } from '../../observability/otel/genai.ts';
import { createFrameDecoder } from '../../llm/stream/index.ts';
import { TranslationError, UpstreamStreamError, type StreamEvent, type StreamFraming, type StreamTranslator, type Usage } from '../../llm/types.ts';
import { jsonAnswerAsStream } from './stream-from-json.ts';
import { HEADERS } from '../../proxy/names.ts';
import { isCollected } from '../../proxy/upstream.ts';
import type { AbortLike } from '../../proxy/context.ts';
import { hasState, rememberState } from '../../exchange/provider-state.ts';
import type { StreamFailure } from '../../exchange/types.ts';
import { guardedWholeAnswer, noteBlocked, StreamGuard } from './guard-answer.ts';
import { ResponseBlockedError } from '../shared/response-hooks.ts';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  server: HEADERS.server,
};

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** The framing the provider says it used, when its Content-Type says. */
function framingOf(contentType: string): StreamFraming | null {
  if (contentType.includes('text/event-stream')) return 'sse';
  if (contentType.includes('ndjson') || contentType.includes('stream+json')) return 'ndjson';
  if (contentType.includes('vnd.amazon.eventstream')) return 'aws-eventstream';
  return null;
}

/** The provider's stream ended without its end-of-stream event. */
class TruncatedStream extends Error {}


/** A provider's error event that says it is a rate limit (Cohere's ERROR_LIMIT, Bedrock's throttling, Gemini's RESOURCE_EXHAUSTED). */
const RATE_LIMIT_TYPE = /rate.?limit|throttl|exhausted|quota/i;

function describeFailure(e: unknown, signal: AbortLike, provider: string): StreamFailure {
  if (e instanceof UpstreamStreamError) {
    const limited = RATE_LIMIT_TYPE.test(e.type);
    return { message: e.message, status: limited ? 429 : 502, code: limited ? 'rate_limit_exceeded' : 'provider_error', provider: { name: provider, type: e.type === 'upstream_error' ? null : e.type } }; // upstream_error: the translator's default, not the provider's
  }
  if (e instanceof ResponseBlockedError) return { message: e.clientMessage, status: e.status, code: e.code };
  if (e instanceof TruncatedStream) return { message: e.message, status: 502, code: 'upstream_truncated' };
  if (e instanceof TranslationError) return { message: `transformation failed: ${e.message}`, status: 502, code: 'translation_failed' };
  if (signal.aborted && (signal.reason as Error)?.name === 'TimeoutError') return { message: 'the stream reached the maximum stream duration', status: 504, code: 'max_stream_duration' };
  const code = (e as { code?: string })?.code;
  if (code === 'UND_ERR_BODY_TIMEOUT') return { message: 'the provider stopped sending within the read timeout', status: 504, code: 'upstream_timeout' };
  return { message: 'the provider connection failed mid-stream', status: 502, code: 'upstream_connection_error' };
}

export async function relayStream(x: Exchange): Promise<void> {
  const { ctx, conf, driver, response } = x;
  if (response.statusCode !== 200) return relayProviderError(ctx, conf, response, driver.model, driver.dropped, driver.api);

  if (isCollected(response)) throw new Error('a stream relay needs a streamed answer');
  const res = ctx.res;
  const type = String(response.headers['content-type'] ?? '').toLowerCase();
  const headers = Object.assign(answerHeaders(ctx, conf, driver.model, response, driver.dropped), SSE_HEADERS);

  // A provider that answered the whole thing at once (no stream support): still a stream for the client.
  if (type.includes('application/json')) {
    const text = await readProviderBody(ctx, response);
    let translated = translateOr502(ctx, driver.provider, driver.routeType, () => conf.driver.parseResponse(text, driver));
    // nothing was written yet: a refused answer is the client API's error, as for a JSON answer
    translated = await guardedWholeAnswer(ctx, driver, x.canonical, translated, () => record(x, translated.usage, translated.responseModel, translated.text ?? '', null, true));
    const { frames, usage, responseModel, text: answer, answer: kept } = jsonAnswerAsStream(translated, driver);
    res.writeHead(200, headers);
    res.end(frames);
    record(x, usage, responseModel, translated.text ?? answer, null, false);
    if (tracesAnswer(ctx)) {
      const facts = new StreamFacts();
      facts.scan(frames);
      noteStream(ctx, facts, translated.text ?? answer);
    }
    if (hasState(translated.carried)) void rememberState(translated.carried, x.stateScope);
    if (x.keep && kept) x.keep(kept);
    return;
  }

  // response hooks: the translator writes to the guard's recorder, which renders what the hooks release
  const guard = ctx.responseHooks.length > 0 ? new StreamGuard(ctx, driver, x.canonical) : null;
  if (guard !== null) {
    driver.answerHooks = true;
    driver.wrapSink = guard.wrap;
  }
  const translator: StreamTranslator = conf.driver.createStreamTranslator(driver);
  const decoder = createFrameDecoder(framingOf(type) ?? conf.driver.streamFraming(driver));
  res.writeHead(200, headers);
  // The client learns at once that the stream started, unless the first event came with the
  // provider's headers (usual): then headers and first event leave together, in one write.
  if (response.body.readableLength === 0) res.flushHeaders();
  // time to first token: the first event with content; the first event at all is the fallback
  // for an answer whose translator does not tell (or that carried no content)
  let firstTokenAt: number | null = null;
  let firstFrameAt: number | null = null;
  // traced requests: the answer's id and finish reasons, read from the frames the client gets
  const facts = tracesAnswer(ctx) ? new StreamFacts() : null;
  // One read's frames: written at once; a failure among its events ends the stream after them.
  const step = (out: Translated): boolean | Promise<boolean> => {
    if (out.frames) {
      if (facts !== null) facts.scan(out.frames);
      firstFrameAt ??= performance.now();
      if (firstTokenAt === null && translator.contentStarted !== false) firstTokenAt = performance.now();
      if (!res.write(out.frames)) return waitDrain(res).then(() => settle(out.failure));
    }
    return settle(out.failure);
  };
  const settle = (failure: unknown): boolean => {
    if (failure) throw failure;
    return res.destroyed; // the client left: stop reading
  };
  try {
    await eachChunk(response.body as Readable, (chunk) => {
      const out = translateAll(translator, decoder.push(chunk));
      // what the hooks released of this read (awaited when a hook is asynchronous: the provider waits meanwhile)
      if (guard !== null) {
        const released = guard.drain();
        if (typeof released !== 'string') return released.then((text) => step({ frames: out.frames + text, failure: out.failure }));
        out.frames += released;
      }
      return step(out);
    });
    if (!res.destroyed) {
      const last = translateAll(translator, decoder.end());
      if (guard !== null) last.frames += await guard.drain();
      const failure = last.failure ?? (translator.done ? null : new TruncatedStream('the provider ended the stream before it was complete'));
      if (failure) {
        res.write(last.frames);
        throw failure;
      }
      // asked for usage and the provider gave none: the client gets our count in the usage chunk
      let tail = last.frames + translator.finish(translator.usage() === null && driver.includeUsage ? estimateUsage(x, translator.text) : null);
      // the end flushes the hooks' pending text before the finish and [DONE] they recorded
      if (guard !== null) tail += await guard.drain();
      if (facts !== null) facts.scan(tail);
      res.end(tail);
    }
  } catch (e) {
    if (res.destroyed || ctx.clientSignal.aborted) {
      // the client left: the upstream request is aborted by the signal; nothing more to say
    } else {
      if (e instanceof ResponseBlockedError) noteBlocked(ctx, e);
      const failure = describeFailure(e, x.signal, driver.provider);
      ctx.error = { status: failure.status, code: failure.code, message: failure.message };
      // the client's API's error event: the sink's when it tracked the stream (Responses' sequence numbers)
      res.end(translator.errorFrame?.(failure) ?? driver.api.streamError(failure));
      response.body.destroy();
    }
  }
  const complete = translator.done && !ctx.error && !ctx.clientSignal.aborted;
  record(x, translator.usage(), translator.responseModel, translator.text, firstTokenAt ?? firstFrameAt, !complete, guard?.released);
  if (facts !== null) noteStream(ctx, facts, translator.text);
  if (complete && hasState(translator.carried)) void rememberState(translator.carried, x.stateScope);
  if (complete && x.keep && translator.answer) x.keep(translator.answer);
}

interface Translated {
  frames: string;
  failure: unknown;
}

/**
 * The provider's body, chunk by chunk as it arrives, through 'data' events: what `for await`
 * costs per chunk (an async iterator step, a promise, `read()` and its buffer list) is most of
 * the gateway's own work on a passed-through chunk. `take` returns true to stop reading (the
 * client left), or a promise while it must wait (back-pressure, asynchronous response hooks): the
 * body is paused meanwhile, so a slow client slows the provider. Resolves at the body's end;
 * rejects with the body's error or what `take` threw. Stopping or failing destroys the body, as
 * leaving a `for await` loop does; a body's error that comes while `take` waits is raised once it
 * is done, as the loop would have.
 */
const ignore = (): void => {};

function eachChunk(body: Readable, take: (chunk: Buffer) => boolean | Promise<boolean>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let waiting = false;
    let pendingError: unknown = null;
    const detach = () => {
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      // destroying an unfinished undici body emits its abort error: nobody waits for it any more
      body.on('error', ignore);
    };
    const fail = (e: unknown) => {
      if (settled) return;
      detach();
      body.destroy();
      reject(e);
    };
    const stop = () => {
      if (settled) return;
      detach();
      body.destroy();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      let result: boolean | Promise<boolean>;
      try {
        result = take(chunk);
      } catch (e) {
        return fail(e);
      }
      if (result === true) return stop();
      if (result === false) return;
      waiting = true;
      body.pause();
      result.then(
        (done) => {
          waiting = false;
          if (pendingError !== null) fail(pendingError);
          else if (done) stop();
          else if (!settled) body.resume();
        },
        (e: unknown) => {
          waiting = false;
          fail(e);
        },
      );
    };
    const onEnd = () => {
      if (settled) return;
      detach();
      resolve();
    };
    const onError = (e: unknown) => {
      if (waiting) pendingError ??= e;
      else fail(e);
    };
    const onClose = () => {
      // destroyed without an error and before its end: what `for await` reports as a premature close
      if (!settled && !waiting) fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      else if (waiting) pendingError ??= Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/**
 * Translates the events of one network read. An event that fails to translate stops there, but
 * the frames of the events before it are still the client's: what a client sees must not depend
 * on how the provider's bytes were split across reads.
 */
function translateAll(translator: StreamTranslator, events: StreamEvent[]): Translated {
  let frames = '';
  try {
    for (const event of events) frames += translator.push(event);
  } catch (failure) {
    return { frames, failure };
  }
  return { frames, failure: null };
}

/** `released`: the text the client got when response hooks changed it (the payload log's), else the provider's. */
function record(x: Exchange, reported: Usage | null, responseModel: string | null, text: string, firstTokenAt: number | null, partial: boolean, released?: string): void {
  const usage = reported ?? estimateUsage(x, text);
  recordExchange(
    x.ctx,
    x.conf,
    {
      provider: x.driver.provider,
      requestModel: x.driver.model,
      responseModel,
      usage,
      estimated: reported === null,
      stream: true,
      llmLatencyMs: performance.now() - x.sentAt,
      timeToFirstTokenMs: firstTokenAt === null ? null : firstTokenAt - x.sentAt,
      partial,
      dropped: x.driver.dropped,
      clientApi: x.driver.inbound,
    },
    x.conf.config.logging.log_payloads ? { request: x.rawRequest, response: released ?? text } : undefined,
  );
}
