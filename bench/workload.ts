/**
 * Request bodies the benchmark sends: OpenAI chat completions requests (the same bytes to every
 * target), built once; and the same small question as an OpenAI Responses request and as an
 * Anthropic Messages request, for the client-API scenarios.
 */
import { encode } from 'gpt-tokenizer';
import { MODEL } from './targets.ts';

/** Plain English, so the token count per byte is realistic (~4 bytes per token). */
const PARAGRAPH =
  'The gateway receives a chat request, checks it, picks the provider and model from its configuration, ' +
  'adds the provider key, sends the request upstream and relays the answer back to the client, ' +
  'recording the number of tokens used and the time it took. Operators expect it to add almost nothing ' +
  'to the latency of a model call, to hold thousands of streams open at once, and to stay predictable ' +
  'when the configuration grows to many routes, consumers and plugins. ';

const SMALL_QUESTION = 'Say hello in one short sentence.';
const SYSTEM = 'You are a helpful assistant.';

function textOf(bytes: number): string {
  let s = '';
  while (s.length < bytes) s += PARAGRAPH;
  return s.slice(0, bytes);
}

function chat(content: string, stream: boolean, model = MODEL): Buffer {
  // `stream` first: the mock looks for it in the first bytes of the body
  const body: Record<string, unknown> = stream ? { stream: true } : {};
  body.model = model;
  body.messages = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content },
  ];
  return Buffer.from(JSON.stringify(body));
}

export const smallBody = (model = MODEL): Buffer => chat(SMALL_QUESTION, false, model);

/** The small question as `POST /v1/responses` sends it (the system prompt as `instructions`). */
export const responsesBody = (model: string, fields: Record<string, unknown> = {}): Buffer => Buffer.from(JSON.stringify({ model, instructions: SYSTEM, input: SMALL_QUESTION, ...fields }));

/** The small question as `POST /v1/messages` sends it (`max_tokens` is required there). */
export const messagesBody = (model: string, fields: Record<string, unknown> = {}): Buffer =>
  Buffer.from(JSON.stringify({ model, max_tokens: 256, system: SYSTEM, messages: [{ role: 'user', content: SMALL_QUESTION }], ...fields }));
export const streamBody = (): Buffer => chat(SMALL_QUESTION, true);

/** A user prompt of about `tokens` tokens (cl100k/o200k-style count via gpt-tokenizer). */
export function promptBody(tokens: number): { body: Buffer; tokens: number } {
  let bytes = tokens * 4;
  let text = textOf(bytes);
  let count = encode(text).length;
  // adjust once or twice towards the target count
  for (let i = 0; i < 3 && Math.abs(count - tokens) > tokens * 0.02; i++) {
    bytes = Math.round((bytes * tokens) / count);
    text = textOf(bytes);
    count = encode(text).length;
  }
  return { body: chat(text, false), tokens: count };
}

/** A request whose whole JSON body is `bytes` long (±1 byte). */
export function sizedBody(bytes: number): Buffer {
  const overhead = chat('', false).length;
  return chat(textOf(Math.max(0, bytes - overhead)), false);
}
