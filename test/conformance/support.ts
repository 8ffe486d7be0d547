/**
 * Shared by the LLM conformance and unit tests: fixture paths, driver contexts, and running a
 * recorded byte stream through a decoder and a translator in chunks of any size.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KONG_FIXTURES as FIXTURES, kongFixturesMissing } from '../helpers/shared.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { createFrameDecoder, type DecoderOptions } from '../../src/llm/stream/index.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { NO_OPTIONS } from '../helpers/format-context.ts';
import type { UnsupportedPolicy } from '../../src/exchange/types.ts';
import type { LlmRouteType, ModelOptions, ProviderName, StreamEvent, StreamFraming, Usage } from '../../src/llm/types.ts';

/**
 * Kong's fixtures are not part of the repository (test/helpers/shared.ts): suites reading them
 * skip with `kongFixturesMissing` as the reason when they are absent.
 */
export { FIXTURES, kongFixturesMissing };
export const RECORDINGS = path.resolve(import.meta.dirname, 'recordings');

export function fixtureText(relative: string): string {
  return readFileSync(path.join(FIXTURES, relative), 'utf8');
}

/** A fixture's bytes, for binary ones (AWS event streams). */
export function fixtureBytes(relative: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(FIXTURES, relative)));
}

export function fixtureJson(relative: string): unknown {
  return JSON.parse(fixtureText(relative));
}

export function recording(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(RECORDINGS, name)));
}

/**
 * Golden client output of a recorded stream: `recordings/<name>.expected.json`, the array of frames
 * the client gets (each `data:` payload parsed, `[DONE]` as the string, see `clientFrames`).
 * `UPDATE_GOLDENS=1` rewrites them from the current translation (review the diff before keeping it).
 */
export const UPDATE_GOLDENS = process.env.UPDATE_GOLDENS === '1';
export const GOLDEN_SUFFIX = '.expected.json';

export function goldenFile(name: string): string {
  return `${name}${GOLDEN_SUFFIX}`;
}

/** Serialized as written to disk: a JSON array with one frame per line, to read beside the recording. */
export function goldenText(frames: unknown[]): string {
  return `[\n${frames.map((frame) => `  ${JSON.stringify(frame)}`).join(',\n')}\n]\n`;
}

/** The golden frames of `name`; with UPDATE_GOLDENS=1, `actual` (when given) is first written as the new golden. */
export function golden(name: string, actual?: unknown[]): unknown[] {
  const file = path.join(RECORDINGS, goldenFile(name));
  if (UPDATE_GOLDENS && actual) writeFileSync(file, goldenText(actual));
  if (!existsSync(file)) throw new Error(`no golden ${path.relative(process.cwd(), file)}: run with UPDATE_GOLDENS=1 and review it`);
  return JSON.parse(readFileSync(file, 'utf8')) as unknown[];
}

/** Every model option unset (test/helpers/format-context.ts, from src/plugins/ai-proxy/compile.ts). */
export { NO_OPTIONS };

export interface ContextInit {
  provider: ProviderName;
  routeType?: LlmRouteType;
  model?: string;
  options?: Partial<ModelOptions>;
  stream?: boolean;
  includeUsage?: boolean;
  /** The unsupported-params policy (default: the options', else `error`, as on a route). */
  policy?: UnsupportedPolicy;
}

/**
 * A driver's upstream body for a client body, in a test context, the way the plugin makes it:
 * the inbound adapter (Kong's validation first), the unsupported-params policy, the format.
 */
export function buildFor(provider: ProviderName, body: unknown, init: Partial<ContextInit> = {}): Record<string, any> {
  const ctx = context({ provider, ...init });
  return providerBody(getDriver(provider), parseOpenAIRequest(body, ctx.routeType), ctx);
}

/** buildFor, with the call's context too (what it dropped under `drop` / `pass`). */
export function buildWithContext(provider: ProviderName, body: unknown, init: Partial<ContextInit> = {}): { body: Record<string, any>; ctx: ExchangeContext } {
  const ctx = context({ provider, ...init });
  return { body: providerBody(getDriver(provider), parseOpenAIRequest(body, ctx.routeType), ctx), ctx };
}

/** A driver's translated answer (parsed) for a provider body (an object or its text), in a test context. */
export function parseFor(provider: ProviderName, body: unknown, init: Partial<ContextInit> = {}): Record<string, any> {
  const ctx = context({ provider, ...init });
  return JSON.parse(getDriver(provider).parseResponse(typeof body === 'string' ? body : JSON.stringify(body), ctx).body);
}

export function context(init: ContextInit): ExchangeContext {
  const routeType = init.routeType ?? 'llm/v1/chat';
  return new ExchangeContext({
    provider: init.provider,
    routeType,
    model: init.model ?? 'test-model',
    options: { ...NO_OPTIONS, ...init.options },
    stream: init.stream ?? false,
    includeUsage: init.includeUsage ?? false,
    now: 1_700_000_000,
    id: routeType === 'llm/v1/chat' ? 'chatcmpl-gateway' : 'cmpl-gateway',
    ...(init.policy ? { policy: init.policy } : {}),
  });
}

export interface StreamRun {
  /** Everything sent to the client, `finish()` included. */
  output: string;
  done: boolean;
  text: string;
  usage: Usage | null;
  responseModel: string | null;
}

/** Feeds `bytes` cut at `cuts` (ascending offsets) through the driver's decoder and translator. */
export function runStream(ctx: ExchangeContext, bytes: Uint8Array, cuts: number[] = []): StreamRun {
  const driver = getDriver(ctx.provider);
  const decoder = createFrameDecoder(driver.streamFraming(ctx));
  const translator = driver.createStreamTranslator(ctx);
  let output = '';
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    for (const event of decoder.push(bytes.subarray(start, cut))) output += translator.push(event);
    start = cut;
  }
  for (const event of decoder.end()) output += translator.push(event);
  output += translator.finish();
  return { output, done: translator.done, text: translator.text, usage: translator.usage(), responseModel: translator.responseModel };
}

/** All events a decoder produces for `bytes` cut at `cuts`. */
export function decodeAll(framing: StreamFraming, bytes: Uint8Array, cuts: number[] = [], options?: DecoderOptions): StreamEvent[] {
  const decoder = createFrameDecoder(framing, options);
  const events: StreamEvent[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...decoder.push(bytes.subarray(start, cut)));
    start = cut;
  }
  events.push(...decoder.end());
  return events;
}

/** The JSON payloads of the client frames (`data: {...}`), `[DONE]` as the string. */
export function clientFrames(output: string): unknown[] {
  return output
    .split('\n\n')
    .filter((frame) => frame !== '')
    .map((frame) => {
      const data = frame
        .split('\n')
        .map((line) => line.replace(/^data: /, ''))
        .join('\n');
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

/** The text a client would assemble from chat deltas or completion chunks. */
export function assembledText(frames: unknown[]): string {
  let text = '';
  for (const frame of frames) {
    const choice = (frame as { choices?: { delta?: { content?: unknown }; text?: unknown }[] }).choices?.[0];
    const piece = choice?.delta?.content ?? choice?.text;
    if (typeof piece === 'string') text += piece;
  }
  return text;
}
