/**
 * The Responses store: the responses the gateway produced for OpenAI Responses clients, kept so
 * that `previous_response_id` continues a conversation on any provider, and so that
 * `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and `DELETE /v1/responses/{id}`
 * answer as OpenAI's do.
 *
 * References (OpenAI Responses API):
 * - delete:       https://developers.openai.com/api/reference/resources/beta/subresources/responses/methods/delete/index.md
 *                 (`{"id","object":"response","deleted":true}`)
 * - input items:  https://developers.openai.com/api/reference/typescript/resources/responses/subresources/input_items/index.md
 *                 (a `list` with `data`, `first_id`, `last_id`, `has_more`; `limit` 1–100, default 20;
 *                 `order` asc|desc, default desc; `after` an item id)
 * - retrieve and create: the `openai` SDK's types (resources/responses/responses.d.ts): `instructions`
 *   "When using along with `previous_response_id`, the instructions from a previous response will
 *   not be carried over to the next response."
 * - errors: an unknown `previous_response_id` is a 400 `previous_response_not_found`, "Previous
 *   response with id 'resp_…' not found." with `param: "previous_response_id"` (as OpenAI's
 *   WebSocket-mode guide prints it, and as clients such as Roo Code and Codex meet it); an unknown
 *   response on retrieve/delete is a 404 "Response with id 'resp_…' not found." (OpenAI's wording,
 *   which vLLM's Responses server copies).
 *
 * What is stored, per response: every input item of the conversation up to it (history included,
 * as Responses items) and the response object exactly as the client got it. A chain of
 * `previous_response_id`s therefore needs one read, whatever its length, and deleting or losing an
 * earlier response never breaks a later one. The price: history is stored again with each response
 * (a long conversation costs the sum of its prefixes), which is why one entry is bounded in size.
 *
 * Where, and for how long:
 * - in the shared cache of `policy` (src/state): `local` is the node's cache in the primary, shared
 *   by its workers; `redis` is the node's Redis (`MODELGATE_REDIS_URL`; the `redis` record of the
 *   configuration is informational, as for the rate limiters), seen by every node and kept across
 *   gateway restarts. Without Redis configured, `redis` is `local`.
 * - it is a cache, not a database: an entry lives `ttl` seconds at most, and may vanish earlier —
 *   on `local` the node's cache is bounded (entries and bytes, least recently used first, shared
 *   with the other users of the cache), and a gateway restart empties it; on `redis`, Redis's own
 *   `maxmemory` policy decides, and a Redis outage sends reads and writes to the node's local cache
 *   until it is back (src/state/failover.ts). A response that vanished answers as unknown.
 * - at most `max_per_consumer` per scope: each save writes the entry and appends its key to the
 *   scope's ring of the last `max` keys in one atomic step (CacheStore.setInRing: one IPC message
 *   on `local`, one Lua script on Redis); keys pushed out of the ring are deleted with it. Saving
 *   used to take three to six round trips, which cost a Responses request three times the CPU of a
 *   chat request. The ring lives as long as its newest entry; on `local` it is bounded with the
 *   cache (least recently written rings go first), and lowering `max_per_consumer` trims at the next
 *   save.
 *
 * Scopes: the caller passes the route id and the consumer id (`stateScope` in ai-proxy). Keys are
 * built from the scope, so a client can never read or delete another consumer's responses — an id
 * from elsewhere is simply unknown. Without a consumer, every client of the route shares one scope;
 * response ids are 128 random bits, so they are not guessed.
 */
import { createHash } from 'node:crypto';
import type { Field } from '../schema/types.ts';
import { redisRecord } from '../plugins/shared/redis-schema.ts';
import { cacheStore } from '../state/index.ts';
import { isObject, type JsonObject } from '../llm/json.ts';
import { RequestError } from '../llm/types.ts';

export interface StoredResponse {
  id: string;
  /** Every input item of the conversation up to this response, history included, as Responses items. */
  input: JsonObject[];
  /** The response object exactly as the client got it. */
  response: JsonObject;
}

export interface ResponsesStoreSettings {
  /** Whether the gateway keeps the responses it produces (false: `previous_response_id` is refused with a 400). */
  store: boolean;
  /** Seconds a response is kept (at most: the store is a cache). */
  ttl: number;
  /** Responses kept per scope (route and consumer); the oldest go first. */
  max_per_consumer: number;
  /** `local`: this node's shared cache; `redis`: the node's Redis (`MODELGATE_REDIS_URL`), else local. */
  policy: 'local' | 'redis';
  /** Kong's `redis` record, accepted as the rate limiters accept it (the connection is the node's). */
  redis?: Record<string, unknown>;
}

/** OpenAI keeps responses 30 days. */
export const DEFAULT_TTL_SECONDS = 30 * 24 * 60 * 60;
export const DEFAULT_MAX_PER_CONSUMER = 1000;
/**
 * The largest entry stored, in bytes of JSON (UTF-8). About 250k tokens of text: a conversation
 * bigger than that is past most context windows, and on `local` a few such entries would evict
 * the rest of the node's cache. Above it, the response is not stored (`save` answers false).
 */
export const DEFAULT_MAX_ENTRY_BYTES = 2 * 1024 * 1024;

/** `config.responses` of ai-proxy and ai-proxy-advanced. */
export const responsesStoreField: Field = {
  type: 'record',
  required: true,
  description: 'Responses API conversation state: responses the gateway keeps for previous_response_id, GET and DELETE /v1/responses/{id}',
  fields: {
    store: { type: 'boolean', required: true, default: true },
    ttl: { type: 'integer', required: true, default: DEFAULT_TTL_SECONDS, between: [1, 365 * 24 * 60 * 60] },
    max_per_consumer: { type: 'integer', required: true, default: DEFAULT_MAX_PER_CONSUMER, between: [1, 1_000_000] },
    policy: { type: 'string', required: true, default: 'local', one_of: ['local', 'redis'] },
    redis: redisRecord(),
  },
};

/** `resp_` and letters or digits, as OpenAI's (and the gateway's own) response ids are. */
const RESPONSE_ID = /^resp_[A-Za-z0-9]{1,200}$/;

export function isResponseId(value: unknown): value is string {
  return typeof value === 'string' && RESPONSE_ID.test(value);
}

const NAMESPACE = 'responses';

export interface ResponsesStoreOptions {
  maxEntryBytes?: number;
}

export class ResponsesStore {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #policy: 'local' | 'redis';
  readonly #maxEntryBytes: number;
  #store: ReturnType<typeof cacheStore> | null = null;

  constructor(settings: Pick<ResponsesStoreSettings, 'ttl' | 'max_per_consumer' | 'policy'>, opts: ResponsesStoreOptions = {}) {
    this.#ttlMs = Math.max(1, settings.ttl * 1000);
    this.#max = Math.max(1, Math.trunc(settings.max_per_consumer));
    this.#policy = settings.policy;
    this.#maxEntryBytes = opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  }

  /** The cache wrapper resolves the worker's installed store on each call, so one made here follows a later install. */
  #cache() {
    return (this.#store ??= cacheStore(this.#policy, NAMESPACE));
  }

  /**
   * Keeps `stored` for the scope. False when it was not stored: an id that is not a response id,
   * or an entry above the size bound (the request itself goes on: the caller decides what to say).
   * Rejects when the store does not answer.
   */
  save(scope: string, stored: StoredResponse): Promise<boolean> {
    return this.saveJson(scope, stored.id, JSON.stringify(stored.input), JSON.stringify(stored.response));
  }

  /**
   * save() for a response already in JSON text (the answer as the client got it): the entry is
   * written around the two texts, without parsing the answer back (this runs after every answer).
   */
  async saveJson(scope: string, id: string, inputJson: string, responseJson: string): Promise<boolean> {
    if (!isResponseId(id)) return false;
    const json = `{"id":${JSON.stringify(id)},"input":${inputJson},"response":${responseJson}}`;
    if (json.length > this.#maxEntryBytes || Buffer.byteLength(json) > this.#maxEntryBytes) return false;
    // one round trip: the entry, and its key on the scope's ring of the last `max` (older ones deleted)
    await this.#cache().setInRing(ringKey(scope), this.#max, entryKey(scope, id), json, this.#ttlMs);
    return true;
  }

  /** The scope's response `id`, or null when unknown, expired, evicted, or another scope's. Rejects when the store does not answer. */
  async load(scope: string, id: string): Promise<StoredResponse | null> {
    if (!isResponseId(id)) return null;
    const json = await this.#cache().get(entryKey(scope, id));
    return json === null ? null : parseStored(json, id);
  }

  /** Deletes the scope's response `id`; false when there was none. Rejects when the store does not answer. */
  async delete(scope: string, id: string): Promise<boolean> {
    if (!isResponseId(id)) return false;
    const cache = this.#cache();
    const key = entryKey(scope, id);
    // CacheStore.delete does not say whether the key existed; a delete racing this one may both answer true
    if ((await cache.get(key)) === null) return false;
    await cache.delete(key);
    return true;
  }
}

// Ids never contain ':', so a key ending in `:<id>` (or `:<n>`) is unambiguous whatever the scope holds.
const entryKey = (scope: string, id: string) => `e:${scope}:${id}`;
const ringKey = (scope: string) => `r:${scope}`;

/** A stored entry as written by save; anything else (a foreign or damaged value) is unknown. */
function parseStored(json: string, id: string): StoredResponse | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isObject(value) || value.id !== id || !Array.isArray(value.input) || !isObject(value.response)) return null;
  return { id, input: value.input.filter(isObject), response: value.response };
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/** A string input as the one user message it stands for. */
function userMessage(text: string): JsonObject {
  return { type: 'message', role: 'user', content: text };
}

/**
 * The request's `input` as an item list, for saving (string → one user message item; absent →
 * none). Throws RequestError for an input the Responses API itself refuses.
 */
export function storedInputOf(body: JsonObject): JsonObject[] {
  const input = body.input;
  if (input === undefined || input === null) return [];
  if (typeof input === 'string') return [userMessage(input)];
  if (!Array.isArray(input)) throw new RequestError('input: must be a string or an array of input items');
  return input.map((item, i) => {
    if (!isObject(item)) throw new RequestError(`input[${i}]: an input item must be an object`);
    return item;
  });
}

/**
 * An output item as an input item. Output items are valid input items (the Responses API takes
 * back `message`, `function_call` and `reasoning` items as it produced them), except that it
 * refuses some fields set to null (`status: null` on a reasoning item: "Unknown parameter:
 * 'input[1].status'", BerriAI/litellm#13420); a null field says nothing, so it is left out.
 */
function asInputItem(item: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(item)) if (v !== null) out[k] = v;
  return out;
}

/**
 * The request body that continues `previous`: its `input` is the previous conversation
 * (previous.input), the previous response's output items, then the body's own input, and it has
 * no `previous_response_id`. The previous request's `instructions` are not carried over (OpenAI's
 * documented behaviour: they never were in `input`); the body's own stay. Save the answer to the
 * returned body with `storedInputOf(returned)`, so a chain keeps its whole history.
 */
export function expandPrevious(body: JsonObject, previous: StoredResponse): JsonObject {
  const own = storedInputOf(body);
  const output = Array.isArray(previous.response.output) ? previous.response.output.filter(isObject).map(asInputItem) : [];
  const { previous_response_id: _, ...rest } = body;
  return { ...rest, input: [...previous.input, ...output, ...own] };
}

// ---------------------------------------------------------------------------------------------
// Answers

export interface ResourceAnswer {
  status: number;
  body: JsonObject;
}

function openAiError(status: number, message: string, type: string, param: string | null, code: string | null): ResourceAnswer {
  return { status, body: { error: { message, type, param, code } } };
}

export function responseNotFound(id: string): ResourceAnswer {
  return openAiError(404, `Response with id '${id}' not found.`, 'invalid_request_error', null, null);
}

export function previousResponseNotFound(id: string): ResourceAnswer {
  return openAiError(400, `Previous response with id '${id}' not found.`, 'invalid_request_error', 'previous_response_id', 'previous_response_not_found');
}

/** `previous_response_id` on a route that keeps no responses: the client must send the conversation itself. */
export function storageDisabled(): ResourceAnswer {
  return openAiError(
    400,
    "previous_response_id is not supported on this route: the gateway does not store responses here (config.responses.store is false). Send the whole conversation in 'input' instead.",
    'invalid_request_error',
    'previous_response_id',
    'unsupported_parameter',
  );
}

/** GET or DELETE of a response on a route that keeps none: unknown, as OpenAI answers for a `store: false` response, and saying why. */
function notStoredHere(id: string): ResourceAnswer {
  return openAiError(404, `Response with id '${id}' not found. This route does not store responses (config.responses.store is false).`, 'invalid_request_error', null, null);
}

export function storeUnavailable(): ResourceAnswer {
  return openAiError(503, 'The response store did not answer; try again.', 'server_error', null, 'response_store_unavailable');
}

export type ResponsesResourceOp = 'get' | 'delete' | 'input_items';

const RESOURCE_PATH = /\/responses\/(resp_[A-Za-z0-9]{1,200})(\/input_items)?$/;

/**
 * `GET|DELETE …/responses/{id}` and `GET …/responses/{id}/input_items` at the end of a path (a
 * query string is ignored); null for anything else, `POST /responses` included.
 */
export function responsesResourceRequest(method: string, path: string): { op: ResponsesResourceOp; id: string } | null {
  const q = path.indexOf('?');
  const m = RESOURCE_PATH.exec(q === -1 ? path : path.slice(0, q));
  if (!m) return null;
  const verb = method.toUpperCase();
  if (m[2]) return verb === 'GET' ? { op: 'input_items', id: m[1] } : null;
  if (verb === 'GET') return { op: 'get', id: m[1] };
  if (verb === 'DELETE') return { op: 'delete', id: m[1] };
  return null;
}

/** A query value as one string (Fastify gives an array for a repeated parameter: the last wins). */
function queryString(value: unknown): string | undefined {
  if (Array.isArray(value)) return queryString(value[value.length - 1]);
  return typeof value === 'string' ? value : undefined;
}

export type QueryValues = Record<string, unknown>;

/** `include` is accepted and has nothing to add: the stored response is what the client got. */
export function answerRetrieve(stored: StoredResponse | null, id: string, query: QueryValues = {}): ResourceAnswer {
  if (queryString(query.stream) === 'true') {
    return openAiError(400, 'Streaming a stored response again is not supported by this gateway: retrieve it without stream.', 'invalid_request_error', 'stream', 'unsupported_parameter');
  }
  return stored ? { status: 200, body: stored.response } : responseNotFound(id);
}

export function answerDelete(deleted: boolean, id: string): ResourceAnswer {
  return deleted ? { status: 200, body: { id, object: 'response', deleted: true } } : responseNotFound(id);
}

/**
 * An item as OpenAI lists it: with an id (items without one get a stable one, from their place in
 * the conversation and their content: a place is the same in every later response of a chain, as
 * history is a prefix), and a message's string content as its one text part.
 */
function listedItem(item: JsonObject, index: number): JsonObject {
  const out: JsonObject = { ...item };
  const isMessage = item.type === 'message' || (item.type === undefined && typeof item.role === 'string');
  if (isMessage) {
    out.type = 'message';
    if (typeof item.content === 'string') {
      out.content = [item.role === 'assistant' ? { type: 'output_text', text: item.content, annotations: [] } : { type: 'input_text', text: item.content }];
    }
  }
  if (typeof item.id !== 'string' || item.id === '') {
    const digest = createHash('sha256').update(`${index}\n${JSON.stringify(item)}`).digest('hex').slice(0, 32);
    out.id = `${isMessage ? 'msg' : 'item'}_${digest}`;
  }
  return out;
}

/** `GET /responses/{id}/input_items` for a stored response: `limit` 1–100 (20), `order` asc|desc (desc), `after` an item id. */
export function answerInputItems(stored: StoredResponse | null, id: string, query: QueryValues = {}): ResourceAnswer {
  if (!stored) return responseNotFound(id);
  const limitText = queryString(query.limit);
  const limit = limitText === undefined ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return openAiError(400, `Invalid 'limit': expected an integer between 1 and 100, got ${JSON.stringify(limitText)}.`, 'invalid_request_error', 'limit', 'invalid_value');
  }
  const order = queryString(query.order) ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    return openAiError(400, `Invalid 'order': expected 'asc' or 'desc', got ${JSON.stringify(order)}.`, 'invalid_request_error', 'order', 'invalid_value');
  }
  const items = stored.input.map(listedItem);
  if (order === 'desc') items.reverse();
  let start = 0;
  const after = queryString(query.after);
  if (after !== undefined) {
    const at = items.findIndex((item) => item.id === after);
    if (at === -1) {
      return openAiError(400, `Invalid 'after': no input item with id '${after}' in response '${id}'.`, 'invalid_request_error', 'after', 'invalid_value');
    }
    start = at + 1;
  }
  const data = items.slice(start, start + limit);
  return {
    status: 200,
    body: {
      object: 'list',
      data,
      first_id: data.length ? data[0].id : null,
      last_id: data.length ? data[data.length - 1].id : null,
      has_more: start + limit < items.length,
    },
  };
}

/**
 * Answers one of the three resource requests for the scope. `store` is null when the route keeps
 * no responses. A store that does not answer is a 503, never a wrong "not found".
 */
export async function answerResponsesResource(
  store: ResponsesStore | null,
  scope: string,
  request: { op: ResponsesResourceOp; id: string },
  query: QueryValues = {},
): Promise<ResourceAnswer> {
  if (!store) return notStoredHere(request.id);
  try {
    switch (request.op) {
      case 'get':
        return answerRetrieve(await store.load(scope, request.id), request.id, query);
      case 'input_items':
        return answerInputItems(await store.load(scope, request.id), request.id, query);
      case 'delete':
        return answerDelete(await store.delete(scope, request.id), request.id);
    }
  } catch {
    return storeUnavailable();
  }
}

export type PreviousResolution = { ok: true; body: JsonObject; previous: StoredResponse | null } | { ok: false; answer: ResourceAnswer };

/**
 * A create request's body with its `previous_response_id` resolved: unchanged without one; else
 * expanded with the stored conversation (expandPrevious), or the answer to give instead — a 400
 * when the route keeps no responses (`store` null) or the id is unknown to this scope, a 503 when
 * the store does not answer. Throws RequestError for an `input` the Responses API refuses.
 */
export async function resolvePrevious(store: ResponsesStore | null, scope: string, body: JsonObject): Promise<PreviousResolution> {
  const id = body.previous_response_id;
  if (id === undefined || id === null) return { ok: true, body, previous: null };
  if (typeof id !== 'string') {
    return { ok: false, answer: openAiError(400, "Invalid type for 'previous_response_id': expected a string.", 'invalid_request_error', 'previous_response_id', 'invalid_type') };
  }
  if (!store) return { ok: false, answer: storageDisabled() };
  let previous: StoredResponse | null;
  try {
    previous = await store.load(scope, id);
  } catch {
    return { ok: false, answer: storeUnavailable() };
  }
  if (!previous) return { ok: false, answer: previousResponseNotFound(id) };
  return { ok: true, body: expandPrevious(body, previous), previous };
}
