/**
 * The compatibility matrix of issue 17: provider × feature, each cell decided by requests sent
 * through the real gateway to that provider's strict mock (test/mocks/), never written by hand.
 * `runMatrix()` starts the stack, probes every cell and returns the results; `renderMatrix()`
 * writes them as docs/compatibility.md. `npm run compat` (test/compat/compatibility.ts) regenerates
 * the page; test/integration/clients-compat-matrix.test.ts fails when the page is not current.
 *
 * Every route keeps the default unsupported-params policy (`error`): a feature the gateway cannot
 * carry to a provider is a 400 naming it, so "no" is what a client gets told, not a silent drop.
 * A 200 that lost the feature (text where a tool call or JSON was asked) is "no" too, with a note.
 *
 * - yes: the provider's own API carries the feature and the answer has it.
 * - emulated: the gateway provides it another way (structured output through a forced tool, a
 *   stream made from a whole answer).
 * - no: refused (400 naming the field), or the answer lacks it.
 */
import { Stack, PROVIDERS, type ProviderSpec } from './stack.ts';
import type { RecordedRequest } from '../mocks/providers.ts';
import { City, CITY_SCHEMA, declaresTools, emulated, jsonObject, no, refusalNote, yes, type Cell } from './cells.ts';
import { MESSAGES_FEATURES, RESPONSES_FEATURES, probeMessages, probeResponses, type MessagesFeature, type ResponsesFeature } from './client-apis.ts';

export type { Cell, Verdict } from './cells.ts';

export const FEATURES = ['chat', 'stream', 'tools', 'streamed tools', 'parallel tools', 'structured output', 'vision', 'audio in', 'reasoning', 'prompt caching', 'embeddings', 'usage kinds'] as const;
export type Feature = (typeof FEATURES)[number];
export type Matrix = Record<string, Record<Feature, Cell>>;

/** The whole page: the chat table, and the tables of the two client APIs of issue 18 (test/compat/client-apis.ts). */
export interface Matrices {
  chat: Matrix;
  responses: Record<string, Record<ResponsesFeature, Cell>>;
  messages: Record<string, Record<MessagesFeature, Cell>>;
}

/** Providers in the matrix, in the order of the table. */
export const MATRIX_PROVIDERS = ['openai', 'azure', 'anthropic', 'bedrock', 'gemini', 'cohere', 'mistral', 'ollama', 'huggingface', 'groq', 'vllm'] as const;

/** Each provider's route (test/compat/stack.ts), with a model that has every feature its API offers (OpenAI: a reasoning model). */
const SPECS: Record<string, ProviderSpec> = { ...PROVIDERS, openai: { ...PROVIDERS.openai, model: 'gpt-5-mini' } };

/** Each provider's embeddings route: model and upstream path (null: the provider has no embeddings API to try). */
const EMBEDDINGS: Record<string, { model: string; path: string; options?: Record<string, unknown> } | null> = {
  openai: { model: 'text-embedding-3-small', path: '/v1/embeddings' },
  azure: { model: 'text-embedding-3-small', path: '/openai/deployments/text-embedding-3-small/embeddings', options: { azure_deployment_id: 'text-embedding-3-small' } },
  anthropic: { model: 'claude-sonnet-4-5', path: '/v1/embeddings' },
  bedrock: { model: 'amazon.titan-embed-text-v2:0', path: '/model/amazon.titan-embed-text-v2%3A0/invoke' },
  gemini: { model: 'text-embedding-004', path: '/v1beta/models/text-embedding-004:batchEmbedContents' },
  cohere: { model: 'embed-english-v3.0', path: '/v1/embed' },
  mistral: { model: 'mistral-embed', path: '/v1/embeddings' },
  ollama: { model: 'nomic-embed-text', path: '/api/embed' },
  huggingface: { model: 'sentence-transformers/all-MiniLM-L6-v2', path: '/hf-inference/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction' },
  groq: { model: 'nomic-embed-text-v1.5', path: '/openai/v1' },
  vllm: { model: 'intfloat/e5-mistral-7b-instruct', path: '/v1' },
};

const USER = [{ role: 'user', content: 'What is 1+1?' }];
const WEATHER = {
  type: 'function',
  function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const FORCE_WEATHER = { type: 'function', function: { name: 'get_weather' } };
/** A 1×1 PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
/** 10 ms of 8 kHz 16-bit mono silence as WAV. */
const WAV = (() => {
  const samples = 80;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  return b.toString('base64');
})();

interface Reply {
  status: number;
  json: any;
  text: string;
  /** Streams: the chunks' JSON objects, in order. */
  chunks: any[];
  /** What the provider's mock received for this request (the last attempt), if it was called. */
  upstream: RecordedRequest | undefined;
}

/** One provider's probes: they share its route and collect the usage its answers report. */
class Probe {
  readonly stack: Stack;
  readonly spec: ProviderSpec;
  readonly usages: any[] = [];

  constructor(stack: Stack, spec: ProviderSpec) {
    this.stack = stack;
    this.spec = spec;
  }

  async send(body: Record<string, unknown>): Promise<Reply> {
    const mock = this.stack.mocks.get(this.spec.mock)!;
    const before = mock.requests.length;
    const res = await fetch(`${this.stack.gw.proxy}/${this.spec.route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    const chunks: any[] = [];
    let json: any;
    if (body.stream === true && res.status === 200) {
      for (const line of text.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        try {
          chunks.push(JSON.parse(line.slice(6)));
        } catch {
          // not JSON: left out, the checks then fail
        }
      }
      for (const c of chunks) if (c.usage) this.usages.push(c.usage);
    } else {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (res.status === 200 && json?.usage) this.usages.push(json.usage);
    }
    const upstream = mock.requests.slice(before).at(-1);
    return { status: res.status, json, text, chunks, upstream };
  }
}

/** The gateway's reason for a refusal, short and stable. */
function refusal(r: Reply): string {
  const message = r.json?.error?.message ?? r.json?.message ?? r.text.slice(0, 160);
  return refusalNote(r.status, message);
}

/** The provider answered with its streaming framing (stream frames), not one JSON body. */
const streamedUpstream = (r: Reply): boolean => (r.upstream?.eventsSent ?? 0) > 0;

function streamedText(r: Reply): string {
  return r.chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
}

function streamedCalls(r: Reply): { id: string; name: string; arguments: string }[] {
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const c of r.chunks) {
    for (const tc of c.choices?.[0]?.delta?.tool_calls ?? []) {
      const at = (calls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) at.id = tc.id;
      if (tc.function?.name) at.name += tc.function.name;
      if (typeof tc.function?.arguments === 'string') at.arguments += tc.function.arguments;
    }
  }
  return calls;
}


// ---------------------------------------------------------------------------------------------
// The probes, one per feature

type ProbeFn = (p: Probe) => Promise<Cell>;

const PROBES: Record<Exclude<Feature, 'usage kinds' | 'embeddings'>, ProbeFn> = {
  async chat(p) {
    const r = await p.send({ messages: USER });
    if (r.status !== 200) return no(refusal(r));
    return typeof r.json?.choices?.[0]?.message?.content === 'string' && r.json.choices[0].message.content.length > 0 ? yes() : no('200 without text');
  },

  async stream(p) {
    const r = await p.send({ messages: USER, stream: true, stream_options: { include_usage: true } });
    if (r.status !== 200) return no(refusal(r));
    if (!r.text.includes('data: [DONE]') || streamedText(r).length === 0) return no('the stream carried no text or did not end');
    return streamedUpstream(r) ? yes() : emulated('made from the provider\'s whole answer');
  },

  async tools(p) {
    const r = await p.send({ messages: USER, tools: [WEATHER], tool_choice: FORCE_WEATHER });
    if (r.status !== 200) return (await unforced(p, r, false)) ?? no(refusal(r));
    const call = r.json?.choices?.[0]?.message?.tool_calls?.[0];
    if (!call) return no('200 with text: the forced tool call was not made');
    if (call.function?.name !== 'get_weather' || !jsonObject(call.function?.arguments)) return no(`a call with invalid name or arguments: ${JSON.stringify(call.function)}`);
    return yes();
  },

  async 'streamed tools'(p) {
    const r = await p.send({ messages: USER, tools: [WEATHER], tool_choice: FORCE_WEATHER, stream: true });
    if (r.status !== 200) return (await unforced(p, r, true)) ?? no(refusal(r));
    const calls = streamedCalls(r);
    if (calls.length !== 1) return no(`${calls.length} streamed calls`);
    if (calls[0].name !== 'get_weather' || !jsonObject(calls[0].arguments)) return no(`a streamed call with invalid name or arguments: ${JSON.stringify(calls[0])}`);
    return streamedUpstream(r) ? yes() : emulated('made from the provider\'s whole answer');
  },

  async 'parallel tools'(p) {
    const calls = [
      { id: 'call_par_a1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_par_b2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
    ];
    const r = await p.send({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { role: 'assistant', content: null, tool_calls: calls },
        { role: 'tool', tool_call_id: 'call_par_a1', content: '{"temperature":18}' },
        { role: 'tool', tool_call_id: 'call_par_b2', content: '{"temperature":24}' },
      ],
      tools: [WEATHER],
    });
    if (r.status !== 200) return no(refusal(r));
    const body = r.upstream?.body ?? '';
    const both = ['call_par_a1', 'call_par_b2'].every((id) => body.split(id).length >= 3) || (body.includes('Paris') && body.includes('Rome') && body.includes('18') && body.includes('24'));
    return both ? yes() : no('200, but the provider did not get both calls and both results');
  },

  async 'structured output'(p) {
    const r = await p.send({ messages: [{ role: 'user', content: 'The capital of France, its population and two tags.' }], response_format: { type: 'json_schema', json_schema: { name: 'city', strict: true, schema: CITY_SCHEMA } } });
    if (r.status !== 200) return no(refusal(r));
    const message = r.json?.choices?.[0]?.message;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message?.content ?? '');
    } catch {
      return no('200, but the answer is not JSON: the schema did not reach the provider');
    }
    if (!City.safeParse(parsed).success) return no('200, but the JSON does not match the schema');
    if (message?.tool_calls?.length) return no('the answer is a tool call, not content');
    // the client sent no tools: a tool in the provider's body carries the schema
    return declaresTools(r.upstream) ? emulated('a forced tool whose input is the schema, unwrapped into the answer\'s content') : yes();
  },

  async vision(p) {
    const r = await p.send({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] }] });
    if (r.status !== 200) return no(refusal(r));
    return r.upstream?.body.includes(PNG.slice(0, 40)) ? yes() : no('200, but the image did not reach the provider');
  },

  async 'audio in'(p) {
    const r = await p.send({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is said?' }, { type: 'input_audio', input_audio: { data: WAV, format: 'wav' } }] }] });
    if (r.status !== 200) return no(refusal(r));
    return r.upstream?.body.includes(WAV.slice(0, 40)) ? yes() : no('200, but the audio did not reach the provider');
  },

  async reasoning(p) {
    const r = await p.send({ messages: USER, reasoning_effort: 'low' });
    if (r.status !== 200) return no(refusal(r));
    const text = r.json?.choices?.[0]?.message?.reasoning_content;
    const tokens = r.json?.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
    if ((typeof text === 'string' && text.length > 0) || tokens > 0) return yes();
    return no(`accepted, but ${p.spec.model} gave no reasoning back (no reasoning_content, no reasoning tokens)`);
  },

  async 'prompt caching'(p) {
    const long = 'You are a careful assistant who answers briefly. '.repeat(200);
    const body = { messages: [{ role: 'system', content: [{ type: 'text', text: long, cache_control: { type: 'ephemeral' } }] }, ...USER] };
    const first = await p.send(body);
    if (first.status !== 200) {
      // no markers: does the provider cache by itself and say so?
      const plain = await p.send({ messages: [{ role: 'system', content: long }, ...USER] });
      const plain2 = await p.send({ messages: [{ role: 'system', content: long }, ...USER] });
      if (plain.status === 200 && cacheReported(plain2.json?.usage)) return { value: 'yes', note: `automatic (cache_control markers refused: ${refusal(first)})` };
      return no(refusal(first));
    }
    const second = await p.send(body);
    const marked = /"cache_control"|"cachePoint"|"cached_content"/.test(second.upstream?.body ?? '');
    const reported = cacheReported(first.json?.usage) || cacheReported(second.json?.usage);
    if (marked && reported) return yes();
    if (reported) return { value: 'yes', note: 'automatic: the markers are not the provider\'s, its cache usage is reported' };
    return no(marked ? 'the markers reach the provider, but no cached tokens are reported' : '200, but no marker reached the provider and no cached tokens are reported');
  },
};

/**
 * When only forcing the call was refused (a 400 naming `tool_choice`): the same tools with the
 * model choosing (`auto`); a valid call in the answer is "yes", with that said.
 */
async function unforced(p: Probe, forced: Reply, stream: boolean): Promise<Cell | null> {
  if (forced.status !== 400 || !/^tool_choice\b/.test(String(forced.json?.error?.message ?? ''))) return null;
  const r = await p.send({ messages: USER, tools: [WEATHER], ...(stream ? { stream: true } : {}) });
  if (r.status !== 200 || !declaresTools(r.upstream)) return null;
  const call = stream ? streamedCalls(r)[0] : r.json?.choices?.[0]?.message?.tool_calls?.[0]?.function;
  if (!call || call.name !== 'get_weather' || !jsonObject(call.arguments)) return null;
  return { value: 'yes', note: `the model chooses (auto); forcing a call is refused: ${refusal(forced)}` };
}

function cacheReported(usage: any): boolean {
  const d = usage?.prompt_tokens_details;
  return (d?.cached_tokens ?? 0) > 0 || (d?.cache_write_tokens ?? 0) > 0;
}

/** The token kinds a provider's answers reported (a value above 0 at least once). */
function usageKinds(usages: any[]): Cell {
  const seen = new Set<string>();
  for (const u of usages) {
    if (u?.prompt_tokens > 0) seen.add('input');
    if (u?.completion_tokens > 0) seen.add('output');
    if (u?.prompt_tokens_details?.cached_tokens > 0) seen.add('cache read');
    if (u?.prompt_tokens_details?.cache_write_tokens > 0) seen.add('cache write');
    if (u?.completion_tokens_details?.reasoning_tokens > 0) seen.add('reasoning');
  }
  const order = ['input', 'output', 'cache read', 'cache write', 'reasoning'];
  return { value: order.filter((k) => seen.has(k)).join(', ') || 'none' };
}

async function embeddings(stack: Stack, name: string): Promise<Cell> {
  const e = EMBEDDINGS[name];
  if (!e) return no('no embeddings API');
  const base = SPECS[name];
  const spec: ProviderSpec = { ...base, route: `${name}-embeddings`, routeType: 'llm/v1/embeddings', model: e.model, path: e.path, options: { ...base.options, ...e.options } };
  const added = await stack.addRoute(spec);
  if (added.status !== 201) {
    let message = added.text;
    try {
      message = JSON.stringify(JSON.parse(added.text).fields ?? JSON.parse(added.text).message);
    } catch {
      // as is
    }
    return no(`route refused (${added.status}): ${message.slice(0, 160)}`);
  }
  const res = await stack.gw.proxyRequest('POST', `/${spec.route}`, { input: ['first text', 'second text'], model: e.model });
  if (res.status !== 200) return no(refusal({ status: res.status, json: res.json, text: res.text, chunks: [], upstream: undefined }));
  return res.json?.data?.length === 2 && Array.isArray(res.json.data[0].embedding) ? yes() : no('200 without two vectors');
}

/**
 * Probes every cell: the chat table, then the Responses and Anthropic Messages tables (each
 * provider's chat spec on a route of that client API). One gateway, one mock per kind; ~15 chat
 * requests and ~12 client calls per provider.
 */
export async function runMatrix(): Promise<Matrices> {
  const specs = MATRIX_PROVIDERS.map((name) => SPECS[name]);
  const stack = await Stack.start(specs);
  try {
    const chat: Matrix = {};
    for (const name of MATRIX_PROVIDERS) {
      const probe = new Probe(stack, SPECS[name]);
      const row = {} as Record<Feature, Cell>;
      for (const feature of FEATURES) {
        if (feature === 'usage kinds') continue;
        if (feature === 'embeddings') row[feature] = await embeddings(stack, name);
        else row[feature] = await PROBES[feature](probe);
      }
      row['usage kinds'] = usageKinds(probe.usages);
      chat[name] = row;
    }
    const responses: Matrices['responses'] = {};
    const messages: Matrices['messages'] = {};
    for (const name of MATRIX_PROVIDERS) responses[name] = await probeResponses(stack, SPECS[name]);
    for (const name of MATRIX_PROVIDERS) messages[name] = await probeMessages(stack, SPECS[name]);
    return { chat, responses, messages };
  } finally {
    await stack.close();
  }
}

/** A table's rows as markdown; cells with a note get the note's number, the notes go to `notes` prefixed with `label`. */
function renderTable(out: string[], notes: string[], label: string, features: readonly string[], rows: Record<string, Record<string, Cell>>): void {
  out.push(`| provider | ${features.join(' | ')} |`);
  out.push(`| --- | ${features.map(() => '---').join(' | ')} |`);
  for (const [name, row] of Object.entries(rows)) {
    const cells = features.map((f) => {
      const c = row[f];
      if (!c.note) return c.value;
      notes.push(`${label}${name}, ${f}: ${c.value}, ${c.note.replace(/\|/g, '\\|')}`);
      return `${c.value} [${notes.length}]`;
    });
    out.push(`| ${name} | ${cells.join(' | ')} |`);
  }
}

/** docs/compatibility.md */
export function renderMatrix(matrix: Matrices): string {
  const out: string[] = [];
  out.push('# Compatibility matrix');
  out.push('');
  out.push('<!-- Generated by `npm run compat` (test/compat/compatibility.ts) from test/compat/matrix.ts. Do not edit: -->');
  out.push('<!-- `npm test` fails when this page differs from what the probes find (test/integration/clients-compat-matrix.test.ts). -->');
  out.push('');
  out.push('What an OpenAI chat client gets from each provider through modelgate. Every cell is the result');
  out.push('of requests sent through the real gateway to a strict mock of the provider\'s API');
  out.push('(test/mocks/, written from the providers\' API references), with the route\'s default');
  out.push('`unsupported_params` policy (`error`). Nothing here is written by hand.');
  out.push('');
  out.push('- **yes**: the provider\'s own API carries it, and the answer has it.');
  out.push('- **emulated**: the gateway provides it another way (structured output through a forced tool');
  out.push('  whose input is the schema, a stream made from a whole answer); see the notes.');
  out.push('- **no**: the gateway refuses it with a 400 naming the field and the provider (or the answer');
  out.push('  lacks it; see the notes).');
  out.push('- **usage kinds**: the token kinds the provider\'s answers reported (input, output, cache read,');
  out.push('  cache write, reasoning), in `usage`, `usage.prompt_tokens_details` and');
  out.push('  `usage.completion_tokens_details`.');
  out.push('');
  const notes: string[] = [];
  renderTable(out, notes, '', FEATURES, matrix.chat);
  out.push('');
  out.push('What each column sends (test/compat/matrix.ts): **chat** a user message; **stream** the same');
  out.push('with `stream: true` (yes when the provider streamed); **tools** a forced `get_weather` call');
  out.push('(yes when the answer has the call with JSON arguments); **streamed tools** the same streamed;');
  out.push('**parallel tools** an assistant turn with two calls and their two results (yes when the');
  out.push('provider gets both); **structured output** `response_format: json_schema` (yes when the');
  out.push('answer\'s content is JSON matching the schema); **vision** an `image_url` data URL; **audio in**');
  out.push('an `input_audio` WAV; **reasoning** `reasoning_effort: "low"` (yes when `reasoning_content` or');
  out.push('reasoning tokens come back); **prompt caching** a system prompt with `cache_control`, twice');
  out.push('(yes when cached or cache-write tokens are reported); **embeddings** an `llm/v1/embeddings`');
  out.push('route with two inputs.');
  out.push('');
  out.push('## OpenAI Responses clients');
  out.push('');
  out.push('What the `openai` SDK\'s `responses.create` gets from each provider through a');
  out.push('`route_type: llm/v1/responses` route (`/<provider>-responses`, the chat route\'s provider, model');
  out.push('and upstream). Cells are labelled `responses` in the notes.');
  out.push('');
  renderTable(out, notes, 'responses: ', RESPONSES_FEATURES, matrix.responses);
  out.push('');
  out.push('**text** `input` a string with `instructions` (yes when `output_text` and usage come back);');
  out.push('**stream** the same with `stream: true` (yes when the events run from `response.created` to');
  out.push('`response.completed` with text deltas and the provider streamed); **function tools** a forced');
  out.push('`get_weather` call, then the output items back with its `function_call_output` (yes when');
  out.push('the call comes back with JSON arguments, the output reaches the provider and the second turn');
  out.push('answers); **structured output**');
  out.push('`text.format: json_schema` (yes when `output_text` is JSON matching the schema); **reasoning**');
  out.push('`reasoning.effort: "low"` (yes when a reasoning item or reasoning tokens come back).');
  out.push('');
  out.push('## Anthropic Messages clients');
  out.push('');
  out.push('What `@anthropic-ai/sdk` gets from each provider through an `llm_format: anthropic` route');
  out.push('(`/<provider>-messages`, Kong\'s Claude Code setup, the chat route\'s provider, model and');
  out.push('upstream). Cells are labelled `messages` in the notes.');
  out.push('');
  renderTable(out, notes, 'messages: ', MESSAGES_FEATURES, matrix.messages);
  out.push('');
  out.push('**text** `messages.create` with a `system` string (yes when a text block and usage come back);');
  out.push('**stream** `messages.stream` (yes when the events run from `message_start` to `message_stop`');
  out.push('with text and the provider streamed); **tools** a forced `get_weather` `tool_use`, then its');
  out.push('`tool_result` (yes when the call comes back with `stop_reason: tool_use`, the result reaches the');
  out.push('provider and the second turn answers); **thinking** `thinking: {type: "enabled"}` (yes when a');
  out.push('thinking block comes back and is accepted back next turn; a note when it is unsigned);');
  out.push('**count_tokens** `messages.countTokens` (yes when the provider counted, emulated when the');
  out.push('gateway estimated).');
  if (notes.length) {
    out.push('');
    out.push('## Notes');
    out.push('');
    notes.forEach((n, i) => out.push(`${i + 1}. ${n}`));
  }
  out.push('');
  return out.join('\n');
}
