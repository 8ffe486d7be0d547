/**
 * `key-auth`: the client names itself with a key (header, query argument or body field, under one
 * of `key_names`); the key's credential gives the consumer, which every later plugin and the log
 * see (`ctx.setConsumer`, which also switches to the consumer's plugin chain).
 *
 * - Lookup: by the key's SHA-256 digest (snapshot map), so the lookup's timing depends on nothing
 *   an attacker can steer toward a stored key (docs/decisions.md, T24). Keys are stored as Kong stores
 *   them (the Admin API returns them); the digest map exists only in the workers' memory.
 * - `hide_credentials`: the key's header and query argument (and body field) never reach the
 *   upstream. ai-proxy strips client credential headers toward providers in any case (D4).
 * - The presented key, valid or not, is recorded so log serializers mask it.
 * - `anonymous`: a failed authentication proceeds as the named consumer (Kong's logical OR).
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { Snapshot } from '../../snapshot/compile.ts';
import { keyDigest } from '../../snapshot/compile.ts';
import type { Row } from '../../store/types.ts';
import type { KeyAuthConfig } from './schema.ts';
import { recordPresentedCredential } from '../shared/credentials.ts';
import { JsonBodyError } from '../../util/json.ts';
import { ClientError } from '../../proxy/errors.ts';
import { requestHeaderValues } from '../../proxy/headers.ts';

interface Compiled {
  config: KeyAuthConfig;
  /** `key_names` lower-cased, for header lookups. */
  lowerNames: string[];
  wwwAuthenticate: string;
}

const ERR_DUPLICATE_API_KEY = 'Duplicate API key found';
const ERR_NO_API_KEY = 'No API key found in request';
/** Kong ≤ 3.5's message, which the issue asks for (Kong 3.6+ answers "Unauthorized"). */
const ERR_INVALID_AUTH_CRED = 'Invalid authentication credentials';

/** Kong's upstream headers naming the authenticated consumer; client-sent copies are dropped. */
const CONSUMER_HEADERS = ['x-consumer-id', 'x-consumer-custom-id', 'x-consumer-username', 'x-credential-identifier', 'x-anonymous-consumer'];

type Found = { key: string; name: string; where: 'header' | 'query' | 'body' } | { duplicate: true } | null;

/** `anonymous` is a consumer id or username; usernames are indexed once per snapshot. */
const byUsername = new WeakMap<Snapshot, Map<string, Row>>();

function findConsumer(snapshot: Snapshot, idOrName: string): Row | undefined {
  const byId = snapshot.consumers.get(idOrName);
  if (byId) return byId;
  let index = byUsername.get(snapshot);
  if (!index) {
    index = new Map();
    for (const c of snapshot.consumers.values()) if (typeof c.username === 'string') index.set(c.username, c);
    byUsername.set(snapshot, index);
  }
  return index.get(idOrName);
}

function firstOrAll(values: string[] | undefined): string | string[] | undefined {
  if (!values || values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}

function findKey(ctx: RequestContext, conf: Compiled, body: Record<string, unknown> | null): Found {
  const c = conf.config;
  for (let i = 0; i < c.key_names.length; i++) {
    const name = c.key_names[i];
    let v: unknown;
    let where: 'header' | 'query' | 'body' = 'header';
    if (c.key_in_header) v = requestHeaderValues(ctx.req, conf.lowerNames[i]);
    if (v === undefined && c.key_in_query && ctx.rawQuery) {
      v = firstOrAll(ctx.queryParams().getAll(name));
      where = 'query';
    }
    if (v === undefined && c.key_in_body && body && Object.prototype.hasOwnProperty.call(body, name)) {
      v = body[name];
      where = 'body';
    }
    if (typeof v === 'string') return { key: where === 'header' ? withoutBearer(conf.lowerNames[i], v) : v, name, where };
    if (Array.isArray(v)) return { duplicate: true };
  }
  return null;
}

/**
 * With `key_names: [authorization]`, `Authorization: Bearer <key>` presents `<key>`: what the
 * OpenAI SDKs send as their API key and Claude Code as `ANTHROPIC_AUTH_TOKEN` (beyond Kong, whose
 * key-auth would look up the whole header value; docs/plugins.md).
 */
function withoutBearer(name: string, value: string): string {
  if (name !== 'authorization') return value;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
  return m ? m[1] : value;
}

/** The request body as a table, for `key_in_body` (JSON or form); unreadable bodies count as empty, as in Kong. */
async function readBodyTable(ctx: RequestContext): Promise<{ table: Record<string, unknown> | null; kind: 'json' | 'form' | null }> {
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  try {
    if (type === 'application/json' || type.endsWith('+json')) {
      const v = await ctx.readJson();
      return { table: v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null, kind: 'json' };
    }
    if (type === 'application/x-www-form-urlencoded') {
      const params = new URLSearchParams((await ctx.readBody()).toString('utf8'));
      const table: Record<string, unknown> = Object.create(null);
      for (const k of new Set(params.keys())) table[k] = firstOrAll(params.getAll(k));
      return { table, kind: 'form' };
    }
  } catch (e) {
    if (e instanceof ClientError) throw e; // too large, client gone: not ours to swallow
    if (!(e instanceof JsonBodyError)) throw e;
  }
  return { table: null, kind: null };
}

function hide(ctx: RequestContext, conf: Compiled, found: { name: string }, body: { table: Record<string, unknown> | null; kind: 'json' | 'form' | null }): void {
  const lower = found.name.toLowerCase();
  delete ctx.req.headers[lower];
  ctx.clearQueryArg(found.name);
  if (conf.config.key_in_body && body.table && Object.prototype.hasOwnProperty.call(body.table, found.name)) {
    delete body.table[found.name];
    if (body.kind === 'json') {
      ctx.setJson(body.table);
      ctx.upstream.body = JSON.stringify(body.table);
    } else {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(body.table)) for (const x of Array.isArray(v) ? v : [v]) params.append(k, String(x));
      ctx.upstream.body = params.toString();
    }
  }
}

/** Kong's consumer headers toward a plain upstream. Not set when an AI plugin owns the exchange: a provider has no need for them. */
function setConsumerHeaders(ctx: RequestContext, consumer: Row, credential: Row | null): void {
  const h = ctx.req.headers;
  for (const name of CONSUMER_HEADERS) delete h[name];
  if (ctx.chain.some((p) => p.name === 'ai-proxy')) return;
  if (consumer.id) h['x-consumer-id'] = consumer.id;
  if (consumer.custom_id) h['x-consumer-custom-id'] = consumer.custom_id;
  if (consumer.username) h['x-consumer-username'] = consumer.username;
  if (credential?.id) h['x-credential-identifier'] = credential.id;
  if (!credential) h['x-anonymous-consumer'] = 'true';
}

function expired(credential: Row, nowSeconds: number): boolean {
  const ttl = credential.ttl;
  if (typeof ttl !== 'number' || ttl <= 0) return false;
  const created = typeof credential.created_at === 'number' ? credential.created_at : 0;
  return created + ttl <= nowSeconds;
}

type Outcome = { ok: true } | { ok: false; status: number; message: string };

function authenticate(ctx: RequestContext, conf: Compiled, body: { table: Record<string, unknown> | null; kind: 'json' | 'form' | null }): Outcome {
  const found = findKey(ctx, conf, body.table);
  if (found && 'duplicate' in found) {
    recordPresentedCredential(ctx, conf.config.key_names, null);
    return { ok: false, status: 401, message: ERR_DUPLICATE_API_KEY };
  }
  recordPresentedCredential(ctx, conf.config.key_names, found?.key || null);
  if (found && conf.config.hide_credentials) hide(ctx, conf, found, body);
  if (!found || found.key === '') return { ok: false, status: 401, message: ERR_NO_API_KEY };

  const credential = ctx.snapshot.keyauthCredentials.get(keyDigest(found.key));
  if (!credential || expired(credential, Date.now() / 1000)) return { ok: false, status: 401, message: ERR_INVALID_AUTH_CRED };
  const consumer = ctx.snapshot.consumers.get(credential.consumer?.id);
  if (!consumer) return { ok: false, status: 500, message: 'An unexpected error occurred' };
  ctx.setConsumer(consumer, credential);
  setConsumerHeaders(ctx, consumer, credential);
  return { ok: true };
}

function decide(ctx: RequestContext, conf: Compiled, outcome: Outcome): void {
  if (outcome.ok) return;
  const anonymous = conf.config.anonymous;
  if (anonymous) {
    const consumer = findConsumer(ctx.snapshot, anonymous);
    if (!consumer) {
      ctx.exit(500, { message: `anonymous consumer ${anonymous} is configured but doesn't exist` });
      return;
    }
    ctx.setConsumer(consumer, null);
    setConsumerHeaders(ctx, consumer, null);
    return;
  }
  const headers = outcome.status === 401 ? { 'www-authenticate': conf.wwwAuthenticate } : undefined;
  ctx.exit(outcome.status, { message: outcome.message }, headers);
}

const NO_BODY = { table: null, kind: null } as const;

export const handler: PluginHandler<KeyAuthConfig, Compiled> = {
  compile(config) {
    return {
      config,
      lowerNames: config.key_names.map((n) => n.toLowerCase()),
      wwwAuthenticate: `Key realm="${config.realm ?? 'modelgate'}"`,
    };
  },
  access(ctx, conf) {
    if (!conf.config.run_on_preflight && ctx.method === 'OPTIONS') return undefined;
    // anonymous (logical OR): another auth plugin already identified the client
    if (conf.config.anonymous && ctx.credential) return undefined;
    // the body is read only when neither a header nor the query string carries a key
    if (conf.config.key_in_body && findKey(ctx, conf, null) === null) {
      return readBodyTable(ctx).then((body) => decide(ctx, conf, authenticate(ctx, conf, body)));
    }
    decide(ctx, conf, authenticate(ctx, conf, NO_BODY));
    return undefined;
  },
};
