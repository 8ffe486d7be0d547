/**
 * Kong's DAO semantics over a Store: ids and timestamps, defaults, foreign keys given by id or
 * name, PATCH merging, PUT upserts, cascades, and every failure as Kong's error object.
 * The Admin API and the declarative loader both write through here.
 */
import { randomUUID } from 'node:crypto';
import { validateEntity, schemaFor } from '../entities/index.ts';
import { ERROR_CODES, HttpError, daoError, luaKey, notFound, schemaViolation } from '../entities/errors.ts';
import { mergeRecord } from '../schema/validate.ts';
import { TABLES } from './tables.ts';
import { StoreError, type EntityName, type PageQuery, type Row, type Store } from './types.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string): boolean => UUID_RE.test(s);

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export interface PageResult {
  data: Row[];
  offset?: string;
}

export class Dao {
  readonly store: Store;
  /** Called after every successful write, with the entity written (for change propagation). */
  onWrite: (entity: EntityName) => void = () => {};

  constructor(store: Store) {
    this.store = store;
  }

  /** Finds by id, or by the entity's endpoint key (name, username, instance_name...). */
  async find(entity: EntityName, idOrKey: string): Promise<Row | null> {
    try {
      if (isUuid(idOrKey)) {
        const row = await this.store.get(entity, idOrKey.toLowerCase());
        if (row) return row;
      }
      const key = schemaFor(entity).endpoint_key;
      return key ? await this.store.findBy(entity, key, idOrKey) : null;
    } catch (e) {
      throw storeFailure(e);
    }
  }

  /** A row by a unique column (`GET /consumers?custom_id=`); a database failure is the Admin API's 503, like every other read. */
  async findBy(entity: EntityName, column: string, value: string): Promise<Row | null> {
    try {
      return await this.store.findBy(entity, column, value);
    } catch (e) {
      throw storeFailure(e);
    }
  }

  async mustFind(entity: EntityName, idOrKey: string): Promise<Row> {
    const row = await this.find(entity, idOrKey);
    if (!row) throw notFound();
    return row;
  }

  async page(entity: EntityName, q: PageQuery): Promise<PageResult> {
    let rows: Row[];
    try {
      rows = await this.store.page(entity, { ...q, size: q.size + 1 });
    } catch (e) {
      throw storeFailure(e);
    }
    if (rows.length > q.size) {
      rows = rows.slice(0, q.size);
      return { data: rows, offset: encodeOffset(rows[rows.length - 1].id) };
    }
    return { data: rows };
  }

  /** Resolves foreign keys given as `{name}` to `{id}`, and checks that referenced rows exist. */
  async #resolveForeign(entity: EntityName, value: Record<string, unknown>): Promise<void> {
    for (const fk of TABLES[entity].foreignKeys) {
      const ref = value[fk.field] as { id?: string; name?: string } | null | undefined;
      if (!ref) continue;
      let target: Row | null = null;
      try {
        target = ref.id ? await this.store.get(fk.references, ref.id) : ref.name ? await this.find(fk.references, ref.name) : null;
      } catch (e) {
        throw storeFailure(e);
      }
      if (!target) {
        const key = ref.id ? { id: ref.id } : { name: ref.name };
        throw daoError(
          ERROR_CODES.FOREIGN_KEY_VIOLATION,
          `the foreign key '${luaKey(key)}' does not reference an existing '${fk.references}' entity.`,
          { [fk.field]: key },
        );
      }
      value[fk.field] = { id: target.id };
    }
  }

  #validate(entity: EntityName, input: Record<string, unknown>): Record<string, unknown> {
    const res = validateEntity(entity, input);
    if (res.errors) throw schemaViolation(res.errors);
    return res.value;
  }

  async #write(entity: EntityName, row: Row, mode: 'insert' | 'update' | 'upsert'): Promise<Row> {
    try {
      await this.store.write(entity, row, mode);
    } catch (e) {
      throw this.#translate(e, entity, row);
    }
    this.onWrite(entity);
    return row;
  }

  #translate(e: unknown, entity: EntityName, row: Row): unknown {
    if (!(e instanceof StoreError)) return storeFailure(e);
    if (e.kind === 'unique') {
      const column = String(e.detail.column);
      if (column === 'id') {
        return daoError(ERROR_CODES.PRIMARY_KEY_VIOLATION, `primary key violation on key '${luaKey({ id: row.id })}'`, { id: row.id });
      }
      if (column === 'cache_key') {
        const key = { consumer: row.consumer ?? null, name: row.name, route: row.route ?? null, service: row.service ?? null };
        return daoError(ERROR_CODES.UNIQUE_VIOLATION, `UNIQUE violation detected on '${luaKey(key)}'`, key);
      }
      return daoError(ERROR_CODES.UNIQUE_VIOLATION, `UNIQUE violation detected on '${luaKey({ [column]: row[column] })}'`, {
        [column]: row[column],
      });
    }
    if (e.kind === 'not_found') return notFound();
    if (e.kind === 'referenced') {
      const child = Object.entries(TABLES).find(([, t]) => t.foreignKeys.some((fk) => fk.references === entity && fk.onDelete === 'restrict'));
      const childName = child ? child[0] : 'routes';
      return daoError(ERROR_CODES.FOREIGN_KEY_VIOLATION, `an existing '${childName}' entity references this '${entity}' entity`, {
        '@referenced_by': childName,
      });
    }
    return storeFailure(e);
  }

  async insert(entity: EntityName, input: Record<string, unknown>): Promise<Row> {
    const value = this.#validate(entity, input);
    await this.#resolveForeign(entity, value);
    const now = nowSeconds();
    const row = this.#complete(entity, { ...value, id: (input.id as string | undefined)?.toLowerCase() ?? randomUUID(), created_at: now, updated_at: now });
    return this.#write(entity, row, 'insert');
  }

  /** PATCH: merge into the stored entity, validate the result, replace. */
  async update(entity: EntityName, idOrKey: string, patch: Record<string, unknown>): Promise<Row> {
    const current = await this.mustFind(entity, idOrKey);
    if (patch.id !== undefined && patch.id !== current.id) {
      throw schemaViolation({ id: 'immutable field cannot be updated' });
    }
    const schema = schemaFor(entity, { ...current, ...patch });
    const { id: _id, created_at: _c, updated_at: _u, ...base } = current;
    const merged = mergeRecord(schema.fields, base, patch);
    // A changed plugin name brings a different config schema: start from its defaults.
    if (entity === 'plugins' && patch.name !== undefined && patch.name !== current.name && patch.config === undefined) delete merged.config;
    const value = this.#validate(entity, merged);
    await this.#resolveForeign(entity, value);
    const row = this.#complete(entity, { ...value, id: current.id, created_at: current.created_at, updated_at: nowSeconds() });
    return this.#write(entity, row, 'update');
  }

  /** PUT: create or fully replace the entity named by the URL. */
  async upsert(entity: EntityName, idOrKey: string, input: Record<string, unknown>): Promise<Row> {
    const current = await this.find(entity, idOrKey);
    const body = { ...input };
    delete body.id;
    const endpointKey = schemaFor(entity).endpoint_key;
    if (!isUuid(idOrKey) && endpointKey && body[endpointKey] === undefined) body[endpointKey] = idOrKey;
    const value = this.#validate(entity, body);
    await this.#resolveForeign(entity, value);
    const now = nowSeconds();
    const id = current?.id ?? (isUuid(idOrKey) ? idOrKey.toLowerCase() : randomUUID());
    const row = this.#complete(entity, { ...value, id, created_at: current?.created_at ?? now, updated_at: now });
    return this.#write(entity, row, current ? 'update' : 'upsert');
  }

  async delete(entity: EntityName, idOrKey: string): Promise<boolean> {
    const row = await this.find(entity, idOrKey);
    if (!row) return false;
    try {
      const deleted = await this.store.delete(entity, row.id);
      if (deleted) this.onWrite(entity);
      return deleted;
    } catch (e) {
      throw this.#translate(e, entity, row);
    }
  }

  /** Puts fields in schema order (Kong's output is a map; a stable order makes diffs readable). */
  #complete(entity: EntityName, value: Record<string, unknown>): Row {
    const schema = schemaFor(entity, value);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(schema.fields)) if (value[k] !== undefined) out[k] = value[k];
    if (schema.fields.updated_at === undefined) delete out.updated_at;
    return out as Row;
  }
}

export function encodeOffset(id: string): string {
  return Buffer.from(JSON.stringify([id])).toString('base64url');
}

export function decodeOffset(offset: string): string {
  const fail = () => daoError(ERROR_CODES.INVALID_OFFSET, `'${offset}' is not a valid offset: bad base64 encoding`);
  if (!/^[A-Za-z0-9_\-+/=]+$/.test(offset)) throw fail();
  try {
    const v = JSON.parse(Buffer.from(offset, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && isUuid(v[0])) return v[0];
  } catch {
    // fall through
  }
  throw daoError(ERROR_CODES.INVALID_OFFSET, `'${offset}' is not a valid offset: bad base64 encoding`);
}

/** Seconds a client is asked to wait before trying again while the database refuses work. */
const RETRY_AFTER_SECONDS = '5';

/**
 * A database problem: a 503 with `Retry-After` when the database is unreachable or refusing work
 * (the client may try again), else Kong's generic 500. Either way the details stay out of the
 * answer; the Admin API logs the cause.
 */
export class StoreUnavailableError extends HttpError {
  override readonly cause: unknown;
  constructor(cause: unknown, status = 500) {
    if (status === 503) super(503, { message: 'The database is unavailable; try again once it is back' }, { 'retry-after': RETRY_AFTER_SECONDS });
    else super(status, { message: 'An unexpected error occurred' });
    this.cause = cause;
  }
}

function storeFailure(e: unknown): unknown {
  if (e instanceof HttpError) return e;
  if (e instanceof StoreError && e.kind === 'unavailable') return new StoreUnavailableError(e, 503);
  return new StoreUnavailableError(e);
}
