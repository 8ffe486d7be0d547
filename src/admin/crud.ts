/**
 * Kong's generic entity endpoints (`kong/api/endpoints.lua`), driven by a table: every entity has
 * a collection (`GET` list with `size`/`offset`/`tags`, `POST` create) and an entity endpoint
 * (`GET`/`PATCH`/`PUT`/`DELETE` by id or endpoint key), and the same again nested under a parent
 * (`/services/{s}/routes`, `/routes/{r}/plugins`, `/consumers/{c}/key-auth` ...), where the parent
 * is set on create and a child of another parent is "Not found".
 */
import { randomUUID } from 'node:crypto';
import type { Dao } from '../store/dao.ts';
import { decodeOffset } from '../store/dao.ts';
import type { EntityName, Row } from '../store/types.ts';
import { daoError, ERROR_CODES, HttpError, notFound } from '../entities/errors.ts';
import { schemaFor } from '../entities/index.ts';
import { inferRecord } from './infer.ts';
import { TABLES } from '../store/tables.ts';
import type { ParsedBody } from './body.ts';

export interface Collection {
  entity: EntityName;
  /** URL segment: `services`, `key-auths` ... */
  path: string;
}

export interface Nesting {
  parent: EntityName;
  parentPath: string;
  child: EntityName;
  childPath: string;
  /** The child's field that references the parent. */
  field: string;
}

export const COLLECTIONS: Collection[] = [
  { entity: 'services', path: 'services' },
  { entity: 'routes', path: 'routes' },
  { entity: 'plugins', path: 'plugins' },
  { entity: 'consumers', path: 'consumers' },
  { entity: 'keyauth_credentials', path: 'key-auths' },
];

export const NESTINGS: Nesting[] = [
  { parent: 'services', parentPath: 'services', child: 'routes', childPath: 'routes', field: 'service' },
  { parent: 'services', parentPath: 'services', child: 'plugins', childPath: 'plugins', field: 'service' },
  { parent: 'routes', parentPath: 'routes', child: 'plugins', childPath: 'plugins', field: 'route' },
  { parent: 'consumers', parentPath: 'consumers', child: 'plugins', childPath: 'plugins', field: 'consumer' },
  { parent: 'consumers', parentPath: 'consumers', child: 'keyauth_credentials', childPath: 'key-auth', field: 'consumer' },
];

/** `GET /routes/{r}/service`, `GET /key-auths/{k}/consumer`: the entity a child points to. */
export const PARENT_LOOKUPS: { child: EntityName; childPath: string; field: string; parent: EntityName }[] = [
  { child: 'routes', childPath: 'routes', field: 'service', parent: 'services' },
  { child: 'plugins', childPath: 'plugins', field: 'route', parent: 'routes' },
  { child: 'plugins', childPath: 'plugins', field: 'service', parent: 'services' },
  { child: 'plugins', childPath: 'plugins', field: 'consumer', parent: 'consumers' },
  { child: 'keyauth_credentials', childPath: 'key-auths', field: 'consumer', parent: 'consumers' },
];

/** Values the store generates when the client leaves them out (Kong's key-auth generates keys). */
const GENERATED: Partial<Record<EntityName, Record<string, () => unknown>>> = {
  keyauth_credentials: { key: () => randomUUID().replace(/-/g, '') },
};

function withGenerated(entity: EntityName, input: Record<string, unknown>): Record<string, unknown> {
  const out = { ...input };
  for (const [field, make] of Object.entries(GENERATED[entity] ?? {})) {
    if (out[field] === undefined || out[field] === null) out[field] = make();
  }
  return out;
}

/** The query string as Fastify parses it: a repeated argument comes as an array. */
export interface ListQuery {
  [k: string]: string | string[] | undefined;
}

/** Kong reads the first of a repeated `tags` (or `custom_id`) argument. */
function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A repeated `size` or `offset` is as wrong as a malformed one (Kong: "size must be a number"). */
function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

const MAX_PAGE_SIZE = 1000;
const DEFAULT_PAGE_SIZE = 100;

function pageSize(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_PAGE_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw daoError(ERROR_CODES.INVALID_SIZE, "size must be a number");
  if (n < 1 || n > MAX_PAGE_SIZE) throw daoError(ERROR_CODES.INVALID_SIZE, `size must be an integer between 1 and ${MAX_PAGE_SIZE}`);
  return n;
}

function parseTags(raw: string | undefined): { tags?: string[]; mode?: 'and' | 'or' } {
  if (!raw) return {};
  if (raw.includes(',') && raw.includes('/')) throw daoError(ERROR_CODES.SCHEMA_VIOLATION, "invalid option (tags: cannot mix 'and' with 'or')");
  const mode = raw.includes('/') ? 'or' : 'and';
  const tags = raw.split(mode === 'or' ? '/' : ',').filter(Boolean);
  if (tags.length > 5) throw daoError(ERROR_CODES.SCHEMA_VIOLATION, 'invalid option (tags: cannot query more than 5 tags)');
  return { tags, mode };
}

/** Form values arrive as strings: the entity's schema decides their types, as Kong's `infer_value` does. */
export function bodyFor(entity: EntityName, body: ParsedBody): Record<string, unknown> {
  if (!body.fromForm) return body.value;
  const schema = schemaFor(entity, body.value);
  return inferRecord(schema.fields, body.value);
}

export class EntityApi {
  readonly #dao: Dao;
  /** Runs after every successful write, before the answer: the new config reaches the proxies. */
  readonly #afterWrite: () => Promise<void>;

  constructor(dao: Dao, afterWrite: () => Promise<void>) {
    this.#dao = dao;
    this.#afterWrite = afterWrite;
  }

  async list(entity: EntityName, basePath: string, q: ListQuery, where?: { column: string; value: string }): Promise<{ data: Row[]; next: string | null; offset?: string }> {
    const size = pageSize(joined(q.size));
    const rawTags = first(q.tags);
    const { tags, mode } = parseTags(rawTags);
    const offset = joined(q.offset);
    const after = offset ? decodeOffset(offset) : undefined;
    // Kong's consumers endpoint filters by custom_id
    const customId = first(q.custom_id);
    if (entity === 'consumers' && customId !== undefined) {
      const row = await this.#dao.findBy('consumers', 'custom_id', customId);
      return { data: row ? [row] : [], next: null };
    }
    const page = await this.#dao.page(entity, { size, after, tags, tagsMode: mode, where });
    if (!page.offset) return { data: page.data, next: null };
    const params = new URLSearchParams({ offset: page.offset });
    if (q.size) params.set('size', String(size));
    if (rawTags) params.set('tags', rawTags);
    return { data: page.data, next: `${basePath}?${params.toString()}`, offset: page.offset };
  }

  async create(entity: EntityName, input: Record<string, unknown>): Promise<Row> {
    const row = await this.#dao.insert(entity, withGenerated(entity, input));
    await this.#afterWrite();
    return row;
  }

  get(entity: EntityName, key: string): Promise<Row> {
    return this.#dao.mustFind(entity, key);
  }

  async update(entity: EntityName, key: string, patch: Record<string, unknown>): Promise<Row> {
    const row = await this.#dao.update(entity, key, patch);
    await this.#afterWrite();
    return row;
  }

  async upsert(entity: EntityName, key: string, input: Record<string, unknown>): Promise<Row> {
    const row = await this.#dao.upsert(entity, key, withGenerated(entity, input));
    await this.#afterWrite();
    return row;
  }

  async delete(entity: EntityName, key: string): Promise<void> {
    if (await this.#dao.delete(entity, key)) await this.#afterWrite();
  }

  /** The parent entity named in a nested URL, or 404. */
  parent(n: Nesting, key: string): Promise<Row> {
    return this.#dao.mustFind(n.parent, key);
  }

  /** A child that must belong to the given parent (Kong answers 404 otherwise). */
  async child(n: Nesting, parent: Row, key: string): Promise<Row> {
    const row = await this.#dao.mustFind(n.child, key);
    if (row[n.field]?.id !== parent.id) throw notFound();
    return row;
  }

  foreignColumn(n: Nesting): string {
    const fk = TABLES[n.child].foreignKeys.find((f) => f.field === n.field);
    if (!fk) throw new HttpError(500, { message: 'An unexpected error occurred' });
    return fk.column;
  }
}
