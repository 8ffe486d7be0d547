/**
 * The compatibility matrix's two inbound client APIs of issue 18: what an OpenAI Responses client
 * (the `openai` SDK's `responses.create`) and an Anthropic Messages client (`@anthropic-ai/sdk`)
 * get from each provider through modelgate. Every cell is decided by the real client calling the
 * real gateway in front of the provider's strict mock, on a route of its own per provider and API:
 * `/<provider>-responses` (`route_type: llm/v1/responses`) and `/<provider>-messages`
 * (`llm_format: anthropic`, Kong's Claude Code setup), with the default unsupported-params policy
 * (`error`), so "no" is what the client is told.
 *
 * Verdicts as in test/compat/matrix.ts: yes (the provider's API carries it and the answer has it),
 * emulated (the gateway provides it another way, said in the note), no (refused, or lacking).
 */
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { CLIENT_KEY, type Stack, type ProviderSpec } from './stack.ts';
import { City, CITY_SCHEMA, declaresTools, emulated, jsonObject, no, refusalNote, streamedUpstream, yes, type Cell } from './cells.ts';
import type { RecordedRequest } from '../mocks/providers.ts';

export const RESPONSES_FEATURES = ['text', 'stream', 'function tools', 'structured output', 'reasoning'] as const;
export type ResponsesFeature = (typeof RESPONSES_FEATURES)[number];
export const MESSAGES_FEATURES = ['text', 'stream', 'tools', 'thinking', 'count_tokens'] as const;
export type MessagesFeature = (typeof MESSAGES_FEATURES)[number];

/** A client's calls may take a while on a busy machine, but a hung one must not hang the matrix. */
const TIMEOUT_MS = 30_000;
const QUESTION = 'What is 1+1?';
const TOOL_RESULT = '{"temperature":21}';

/** One provider behind one client-API route: runs a client call and reads what the provider got. */
class ClientProbe {
  readonly stack: Stack;
  readonly spec: ProviderSpec;

  constructor(stack: Stack, spec: ProviderSpec) {
    this.stack = stack;
    this.spec = spec;
  }

  get model(): string {
    return this.spec.model;
  }

  get baseURL(): string {
    return this.stack.baseURL(this.spec.route);
  }

  /** Runs `call`; the answer and the requests the provider's mock received meanwhile, or the refusal as a note. */
  async run<T>(call: () => Promise<T>): Promise<{ ok: true; value: T; upstream: RecordedRequest[] } | { ok: false; note: string; status: number | undefined; message: string }> {
    const mock = this.stack.mocks.get(this.spec.mock)!;
    const before = mock.requests.length;
    try {
      const value = await call();
      return { ok: true, value, upstream: mock.requests.slice(before) };
    } catch (e) {
      const { status, message } = sdkError(e);
      // an error the provider answered: say where the gateway sent the call
      const failed = mock.requests.slice(before).at(-1);
      const where = failed && failed.status !== 200 ? ` (the provider's answer to ${failed.method} ${failed.path})` : '';
      return { ok: false, note: refusalNote(status ?? 'error', message) + where, status, message };
    }
  }
}

/** Both SDKs' errors: the HTTP status and the gateway's own message (OpenAI's `error.message`, Anthropic's `error.error.message`). */
function sdkError(e: unknown): { status: number | undefined; message: string } {
  if (e instanceof OpenAI.APIError || e instanceof Anthropic.APIError) {
    const body = e.error as { message?: unknown; error?: { message?: unknown } } | undefined;
    const message = body?.error?.message ?? body?.message ?? e.message;
    return { status: e.status ?? undefined, message: String(message) };
  }
  return { status: undefined, message: (e as Error)?.message ?? String(e) };
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses

const WEATHER_FUNCTION: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

function openai(p: ClientProbe): OpenAI {
  return new OpenAI({ baseURL: p.baseURL, apiKey: CLIENT_KEY, maxRetries: 0, timeout: TIMEOUT_MS });
}

/** A forced `get_weather` call, then the output items back with its `function_call_output`; `state` goes into both calls. */
async function functionRoundTrip(p: ClientProbe, state: Pick<OpenAI.Responses.ResponseCreateParamsNonStreaming, 'store' | 'include'>): Promise<Cell> {
  const client = openai(p);
  const question: OpenAI.Responses.ResponseInputItem = { role: 'user', content: 'What is the weather in Paris?' };
  const ask = (tool_choice: OpenAI.Responses.ResponseCreateParams['tool_choice']) =>
    p.run(() => client.responses.create({ model: p.model, input: [question], tools: [WEATHER_FUNCTION], tool_choice, stream: false, ...state }));
  let first = await ask({ type: 'function', name: 'get_weather' });
  let unforced: string | undefined;
  // only forcing the call refused: the model may still choose it (as the chat table's tools column)
  if (!first.ok && first.status === 400 && /tool_choice/.test(first.message)) {
    unforced = `the model chooses (auto); forcing a call is refused: ${first.note}`;
    first = await ask('auto');
  }
  if (!first.ok) return no(first.note);
  const output = first.value.output;
  const call = output.find((o) => o.type === 'function_call');
  if (!call || call.type !== 'function_call') return no(`no function_call in the output: ${output.map((o) => o.type).join(', ')}`);
  if (call.name !== 'get_weather' || !jsonObject(call.arguments)) return no(`a call with invalid name or arguments: ${JSON.stringify({ name: call.name, arguments: call.arguments })}`);
  const second = await p.run(() =>
    client.responses.create({
      model: p.model,
      tools: [WEATHER_FUNCTION],
      stream: false,
      ...state,
      input: [question, ...(output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: TOOL_RESULT }],
    }),
  );
  if (!second.ok) return no(`the function_call_output turn: ${second.note}`);
  if (second.value.output_text.length === 0) return no('the function_call_output turn answered without text');
  if (!second.upstream.at(-1)?.body.includes('temperature')) return no('200, but the function_call_output did not reach the provider');
  return yes(unforced);
}

type ResponsesProbe = (p: ClientProbe) => Promise<Cell>;

const RESPONSES_PROBES: Record<ResponsesFeature, ResponsesProbe> = {
  async text(p) {
    const r = await p.run(() => openai(p).responses.create({ model: p.model, instructions: 'Be brief.', input: QUESTION }));
    if (!r.ok) return no(r.note);
    if (r.value.status !== 'completed' || r.value.output_text.length === 0) return no(`status ${r.value.status}, output_text '${r.value.output_text}'`);
    return r.value.usage && r.value.usage.output_tokens > 0 ? yes() : no('the answer has no usage');
  },

  async stream(p) {
    const r = await p.run(async () => {
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const e of await openai(p).responses.create({ model: p.model, input: QUESTION, stream: true })) events.push(e);
      return events;
    });
    if (!r.ok) return no(r.note);
    const types = r.value.map((e) => e.type);
    const text = r.value.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    if (types[0] !== 'response.created' || types.at(-1) !== 'response.completed') return no(`the stream did not run from response.created to response.completed: ${types.join(' ')}`);
    if (text.length === 0) return no('the stream carried no output_text deltas');
    return streamedUpstream(r.upstream.at(-1)) ? yes() : emulated("made from the provider's whole answer");
  },

  async 'function tools'(p) {
    const plain = await functionRoundTrip(p, {});
    // The strict mocks keep no responses (test/mocks/openai-responses.ts), so a reasoning item sent
    // back by id alone is "not found" there where OpenAI would have stored it: the round trip is
    // then made as a stateless client makes it, the reasoning carried as encrypted content.
    if (plain.value === 'no' && /Item with id 'rs_[^']*' not found/.test(plain.note ?? '')) {
      const stateless = await functionRoundTrip(p, { store: false, include: ['reasoning.encrypted_content'] });
      if (stateless.value === 'no') return stateless;
      return yes(`with store: false and include: reasoning.encrypted_content (the mock keeps no items to find by id)${stateless.note ? `; ${stateless.note}` : ''}`);
    }
    return plain;
  },

  async 'structured output'(p) {
    const r = await p.run(() =>
      openai(p).responses.create({
        model: p.model,
        input: 'The capital of France, its population and two tags.',
        text: { format: { type: 'json_schema', name: 'city', strict: true, schema: CITY_SCHEMA } },
      }),
    );
    if (!r.ok) return no(r.note);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.value.output_text);
    } catch {
      return no('200, but the answer is not JSON: the schema did not reach the provider');
    }
    if (!City.safeParse(parsed).success) return no('200, but the JSON does not match the schema');
    if (r.value.output.some((o) => o.type === 'function_call')) return no('the answer is a function call, not text');
    return declaresTools(r.upstream.at(-1)) ? emulated("a forced tool whose input is the schema, unwrapped into the answer's text") : yes();
  },

  async reasoning(p) {
    const r = await p.run(() => openai(p).responses.create({ model: p.model, input: QUESTION, reasoning: { effort: 'low' } }));
    if (!r.ok) return no(r.note);
    const item = r.value.output.some((o) => o.type === 'reasoning');
    const tokens = r.value.usage?.output_tokens_details?.reasoning_tokens ?? 0;
    if (item || tokens > 0) return yes();
    return no(`accepted, but ${p.model} gave no reasoning back (no reasoning item, no reasoning tokens)`);
  },
};

// ---------------------------------------------------------------------------------------------
// Anthropic Messages

const WEATHER_TOOL: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

function anthropic(p: ClientProbe): Anthropic {
  return new Anthropic({ baseURL: p.baseURL, apiKey: CLIENT_KEY, maxRetries: 0, timeout: TIMEOUT_MS });
}

const textOf = (m: Anthropic.Message): string => m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');

type MessagesProbe = (p: ClientProbe) => Promise<Cell>;

const MESSAGES_PROBES: Record<MessagesFeature, MessagesProbe> = {
  async text(p) {
    const r = await p.run(() => anthropic(p).messages.create({ model: p.model, max_tokens: 256, system: 'Be brief.', messages: [{ role: 'user', content: QUESTION }] }));
    if (!r.ok) return no(r.note);
    if (textOf(r.value).length === 0) return no(`200 without text: ${JSON.stringify(r.value.content).slice(0, 160)}`);
    return r.value.usage.output_tokens > 0 ? yes() : no('the answer has no usage');
  },

  async stream(p) {
    const r = await p.run(async () => {
      const stream = anthropic(p).messages.stream({ model: p.model, max_tokens: 256, messages: [{ role: 'user', content: QUESTION }] });
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      return { types, final: await stream.finalMessage() };
    });
    if (!r.ok) return no(r.note);
    const { types, final } = r.value;
    if (types[0] !== 'message_start' || types.at(-1) !== 'message_stop') return no(`the stream did not run from message_start to message_stop: ${types.join(' ')}`);
    if (!types.includes('content_block_delta') || textOf(final).length === 0) return no('the stream carried no text');
    return streamedUpstream(r.upstream.at(-1)) ? yes() : emulated("made from the provider's whole answer");
  },

  async tools(p) {
    const client = anthropic(p);
    const question: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris?' };
    const ask = (tool_choice: Anthropic.ToolChoice) => p.run(() => client.messages.create({ model: p.model, max_tokens: 256, messages: [question], tools: [WEATHER_TOOL], tool_choice }));
    let first = await ask({ type: 'tool', name: 'get_weather' });
    let unforced: string | undefined;
    if (!first.ok && first.status === 400 && /tool_choice/.test(first.message)) {
      unforced = `the model chooses (auto); forcing a call is refused: ${first.note}`;
      first = await ask({ type: 'auto' });
    }
    if (!first.ok) return no(first.note);
    const use = first.value.content.find((b) => b.type === 'tool_use');
    if (!use || use.type !== 'tool_use') return no(`no tool_use block: ${first.value.content.map((b) => b.type).join(', ')}`);
    if (use.name !== 'get_weather' || typeof use.input !== 'object' || use.input === null) return no(`a call with invalid name or input: ${JSON.stringify({ name: use.name, input: use.input })}`);
    if (first.value.stop_reason !== 'tool_use') return no(`stop_reason ${first.value.stop_reason} with a tool_use block`);
    const second = await p.run(() =>
      client.messages.create({
        model: p.model,
        max_tokens: 256,
        tools: [WEATHER_TOOL],
        messages: [question, { role: 'assistant', content: first.value.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: TOOL_RESULT }] }],
      }),
    );
    if (!second.ok) return no(`the tool_result turn: ${second.note}`);
    if (textOf(second.value).length === 0) return no('the tool_result turn answered without text');
    if (!second.upstream.at(-1)?.body.includes('temperature')) return no('200, but the tool_result did not reach the provider');
    return yes(unforced);
  },

  async thinking(p) {
    const client = anthropic(p);
    const thinking = { type: 'enabled', budget_tokens: 1024 } as const;
    const question: Anthropic.MessageParam = { role: 'user', content: QUESTION };
    const first = await p.run(() => client.messages.create({ model: p.model, max_tokens: 2048, thinking, messages: [question] }));
    if (!first.ok) return no(first.note);
    const block = first.value.content.find((b) => b.type === 'thinking');
    if (!block || block.type !== 'thinking' || block.thinking.length === 0) return no(`accepted, but ${p.model} gave no thinking block back: ${first.value.content.map((b) => b.type).join(', ')}`);
    // the thinking goes back with the next turn, as Anthropic's documentation asks of tool loops
    const second = await p.run(() => client.messages.create({ model: p.model, max_tokens: 2048, thinking, messages: [question, { role: 'assistant', content: first.value.content }, { role: 'user', content: 'And 2+2?' }] }));
    if (!second.ok) return no(`the thinking block sent back next turn: ${second.note}`);
    return block.signature.length > 0 ? yes() : yes('the thinking blocks come without a signature');
  },

  async count_tokens(p) {
    const r = await p.run(() => anthropic(p).messages.countTokens({ model: p.model, system: 'Be brief.', messages: [{ role: 'user', content: 'What is the capital of France?' }] }));
    if (!r.ok) return no(r.note);
    if (!(r.value.input_tokens > 0)) return no(`200 with input_tokens ${r.value.input_tokens}`);
    const asked = r.upstream.filter((u) => u.status === 200);
    if (asked.length === 0) return emulated("estimated by the gateway: no token-count call to the provider");
    return yes();
  },
};

// ---------------------------------------------------------------------------------------------

/** A provider's route for a client API; null when the gateway refused to configure it (every cell then says why). */
async function route(stack: Stack, spec: ProviderSpec): Promise<string | null> {
  const added = await stack.addRoute(spec);
  if (added.status === 201) return null;
  let message = added.text;
  try {
    const body = JSON.parse(added.text);
    message = JSON.stringify(body.fields ?? body.message);
  } catch {
    // as is
  }
  return `route refused (${added.status}): ${message.slice(0, 160)}`;
}

async function probeRow<F extends string>(stack: Stack, spec: ProviderSpec, features: readonly F[], probes: Record<F, (p: ClientProbe) => Promise<Cell>>): Promise<Record<F, Cell>> {
  const refused = await route(stack, spec);
  const probe = new ClientProbe(stack, spec);
  const row = {} as Record<F, Cell>;
  for (const f of features) row[f] = refused ? no(refused) : await probes[f](probe);
  return row;
}

/** A provider's row for Responses clients: its chat spec on an `llm/v1/responses` route at `/<route>-responses`. */
export function probeResponses(stack: Stack, chat: ProviderSpec): Promise<Record<ResponsesFeature, Cell>> {
  const spec: ProviderSpec = { ...chat, route: `${chat.route}-responses`, routeType: 'llm/v1/responses' };
  return probeRow(stack, spec, RESPONSES_FEATURES, RESPONSES_PROBES);
}

/** A provider's row for Anthropic clients: its chat spec with `llm_format: anthropic` at `/<route>-messages`. */
export function probeMessages(stack: Stack, chat: ProviderSpec): Promise<Record<MessagesFeature, Cell>> {
  const spec: ProviderSpec = { ...chat, route: `${chat.route}-messages`, llmFormat: 'anthropic' };
  return probeRow(stack, spec, MESSAGES_FEATURES, MESSAGES_PROBES);
}
