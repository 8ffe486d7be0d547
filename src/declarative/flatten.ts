/**
 * Kong's declarative configuration → the rows a store holds. Validates every entity with the same
 * schemas as the Admin API and reports *every* problem at once, each at its place in the input
 * (a Kong-style error tree nested like the input, plus a flat list with paths), so a user fixes a
 * file in one go.
 *
 * Steps: walk the document (nested and top-level lists), give each entity its id (given, or
 * Kong's deterministic UUIDv5, so reloading a file keeps ids stable), resolve foreign keys given
 * by name or id, validate, then check uniqueness across the whole file.
 */
import { createHash } from 'node:crypto';
import { validateEntity, schemaFor } from '../entities/index.ts';
import { MESSAGES, isPlainObject } from '../schema/validate.ts';
import type { ErrorTree } from '../schema/types.ts';
import { TABLES } from '../store/tables.ts';
import type { ConfigData, EntityName, Row } from '../store/types.ts';
import { getPluginSchema } from '../plugins/registry.ts';
import { relocateMisplacedModelOptions } from '../plugins/ai-proxy/schema.ts';
import { entityId } from './ids.ts';
import { ENTITY_META_KEYS, FORMAT_VERSION, META_KEYS, NESTED, TOP_LEVEL, UNSUPPORTED_ENTITIES, type Nesting } from './model.ts';
import { buildErrors, formatPath, type DeclarativeErrors, type Path } from './errors.ts';

export interface Item {
  entity: EntityName;
  /** The entity as written (without its nested lists). */
  input: Record<string, unknown>;
  path: Path;
  parent: { item: Item; nesting: Nesting } | null;
  id: string;
  /** Field errors and `@entity` messages, Kong's shape. */
  errors: ErrorTree;
  row?: Row;
}

export interface FlattenResult {
  data?: ConfigData;
  errors?: DeclarativeErrors;
  /** Accepted but worth telling (misplaced ai-proxy options moved ...), each with its path. */
  warnings: string[];
  meta: Record<string, unknown>;
}

const PLACEHOLDER_ID = '00000000-0000-0000-0000-000000000000';

function addEntityError(errors: ErrorTree, message: string): void {
  const list = (errors['@entity'] as string[] | undefined) ?? [];
  list.push(message);
  errors['@entity'] = list;
}

function hasErrors(errors: ErrorTree): boolean {
  return Object.keys(errors).length > 0;
}

/** A stable JSON text for hashing (sorted keys). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

class Flattener {
  readonly items: Item[] = [];
  readonly topErrors: ErrorTree = {};
  readonly warnings: string[] = [];
  readonly #byId = new Map<EntityName, Map<string, Item>>();
  readonly #byKey = new Map<EntityName, Map<string, Item>>();
  readonly #fallbackKeys = new Map<string, number>();
  /** Errors on something that is not an entity (a list that is not a list ...), kept by path. */
  readonly #pathErrors: { path: Path; message: string }[] = [];
  readonly #now: number;

  constructor(now: number) {
    this.#now = now;
    for (const e of TOP_LEVEL) {
      this.#byId.set(e, new Map());
      this.#byKey.set(e, new Map());
    }
  }

  run(doc: unknown): FlattenResult {
    const meta: Record<string, unknown> = {};
    if (!isPlainObject(doc)) {
      this.topErrors['@entity'] = ['the declarative configuration must be a map (a YAML mapping or a JSON object)'];
      return this.#result(meta);
    }
    this.#checkMeta(doc, meta);
    for (const key of Object.keys(doc)) {
      if (META_KEYS.has(key) || (TOP_LEVEL as string[]).includes(key)) continue;
      const v = doc[key];
      if (UNSUPPORTED_ENTITIES.has(key)) {
        if (v === null || (Array.isArray(v) && v.length === 0)) continue;
        this.topErrors[key] = `modelgate does not support '${key}' entities`;
      } else {
        Object.defineProperty(this.topErrors, key, { value: MESSAGES.UNKNOWN, enumerable: true, writable: true, configurable: true });
      }
    }
    for (const entity of TOP_LEVEL) this.#walkList(doc[entity], entity, [entity], null);
    for (const item of this.items) this.#validate(item);
    this.#checkUniqueness();
    return this.#result(meta);
  }

  #checkMeta(doc: Record<string, unknown>, meta: Record<string, unknown>): void {
    const version = doc._format_version;
    if (version === undefined || version === null) this.topErrors._format_version = MESSAGES.REQUIRED;
    else if (typeof version !== 'string') this.topErrors._format_version = `expected a string (write it quoted: "${FORMAT_VERSION}")`;
    else if (version !== FORMAT_VERSION) {
      this.topErrors._format_version =
        version === '1.1' || version === '2.1'
          ? `format version ${version} is not supported; modelgate reads "${FORMAT_VERSION}" (convert the file with 'deck file convert')`
          : `expected one of: ${FORMAT_VERSION}`;
    }
    const types: Record<string, (v: unknown) => boolean> = {
      _transform: (v) => typeof v === 'boolean',
      _comment: (v) => typeof v === 'string',
      _workspace: (v) => typeof v === 'string',
      _ignore: (v) => Array.isArray(v),
    };
    for (const [key, ok] of Object.entries(types)) {
      const v = doc[key];
      if (v === undefined || v === null) continue;
      if (!ok(v)) this.topErrors[key] = key === '_transform' ? MESSAGES.BOOLEAN : key === '_ignore' ? MESSAGES.ARRAY : MESSAGES.STRING;
    }
    for (const key of META_KEYS) if (doc[key] !== undefined) meta[key] = doc[key];
  }

  #walkList(list: unknown, entity: EntityName, path: Path, parent: Item['parent']): void {
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) {
      this.#setError(path, MESSAGES.ARRAY);
      return;
    }
    list.forEach((raw, i) => {
      const itemPath = [...path, i];
      if (!isPlainObject(raw)) {
        this.#setError(itemPath, MESSAGES.RECORD);
        return;
      }
      const input: Record<string, unknown> = {};
      const children: { nesting: Nesting; list: unknown }[] = [];
      for (const [k, v] of Object.entries(raw)) {
        const nesting = NESTED[entity].find((n) => n.key === k);
        if (nesting) children.push({ nesting, list: v });
        else if (!ENTITY_META_KEYS.has(k)) Object.defineProperty(input, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      const item: Item = { entity, input, path: itemPath, parent, id: '', errors: {} };
      item.id = this.#idFor(item);
      this.#index(item);
      this.items.push(item);
      for (const c of children) this.#walkList(c.list, c.nesting.entity, [...itemPath, c.nesting.key], { item, nesting: c.nesting });
    });
  }

  #setError(path: Path, message: string): void {
    this.#pathErrors.push({ path, message });
  }

  /** The given id, or Kong's deterministic one (see ids.ts); a content hash when Kong would pick a random one. */
  #idFor(item: Item): string {
    const given = item.input.id;
    if (typeof given === 'string') return given.toLowerCase();
    const schema = schemaFor(item.entity, item.input);
    const endpointKey = schema.endpoint_key;
    const keyValue = endpointKey ? item.input[endpointKey] : undefined;
    if (typeof keyValue === 'string') return entityId(item.entity, keyValue);
    if (item.entity === 'plugins') return entityId('plugins', this.#pluginCacheKey(item));
    // Kong would give these a random id, changing on every load; a hash of the content keeps it stable.
    const base = `${item.parent?.item.id ?? ''}:${canonical(item.input)}`;
    const seen = this.#fallbackKeys.get(base) ?? 0;
    this.#fallbackKeys.set(base, seen + 1);
    const key = createHash('sha256').update(seen ? `${base}#${seen}` : base).digest('hex');
    return entityId(item.entity, key);
  }

  /** Kong's `plugins:<name>:<route>:<service>:<consumer>`, with the nesting parent's id for its own scope. */
  #pluginCacheKey(item: Item): string {
    const ck = ['plugins', typeof item.input.name === 'string' ? item.input.name : ''];
    for (const field of ['route', 'service', 'consumer']) {
      const v = item.input[field];
      if (item.parent?.nesting.field === field) ck.push(item.parent.item.id);
      else if (typeof v === 'string') ck.push(v);
      else if (isPlainObject(v)) ck.push(String(v.id ?? v.name ?? ''));
      else ck.push('');
    }
    return ck.join(':');
  }

  #index(item: Item): void {
    const byId = this.#byId.get(item.entity)!;
    if (byId.has(item.id)) {
      addEntityError(item.errors, `uniqueness violation: '${item.entity}' entity with primary key set to '${item.id}' already declared`);
    } else byId.set(item.id, item);
    const key = schemaFor(item.entity, item.input).endpoint_key;
    const v = key ? item.input[key] : undefined;
    if (typeof v === 'string' && !this.#byKey.get(item.entity)!.has(v)) this.#byKey.get(item.entity)!.set(v, item);
  }

  #lookup(entity: EntityName, ref: unknown): Item | undefined {
    if (typeof ref === 'string') return this.#byKey.get(entity)!.get(ref) ?? this.#byId.get(entity)!.get(ref.toLowerCase());
    if (isPlainObject(ref)) {
      if (typeof ref.id === 'string') return this.#byId.get(entity)!.get(ref.id.toLowerCase());
      if (typeof ref.name === 'string') return this.#byKey.get(entity)!.get(ref.name);
    }
    return undefined;
  }

  #validate(item: Item): void {
    const input: Record<string, unknown> = { ...item.input };
    for (const fk of TABLES[item.entity].foreignKeys) {
      if (item.parent?.nesting.field === fk.field) {
        input[fk.field] = { id: item.parent.item.id };
        continue;
      }
      const ref = input[fk.field];
      if (ref === undefined || ref === null) continue;
      if (typeof ref !== 'string' && !isPlainObject(ref)) continue; // the schema reports the type
      const target = this.#lookup(fk.references, ref);
      if (target) input[fk.field] = { id: target.id };
      else {
        const shown = typeof ref === 'string' ? ref : JSON.stringify(ref);
        addEntityError(item.errors, `invalid reference '${fk.field}: ${shown}' (no such entry in '${fk.references}')`);
        input[fk.field] = { id: PLACEHOLDER_ID };
      }
    }
    if (item.entity === 'plugins') this.#pluginFixups(item, input);
    if (item.entity === 'keyauth_credentials' && (input.key === undefined || input.key === null)) {
      // The Admin API generates a key; here a generated key would change on every load.
      item.errors.key = 'required field missing (a declarative configuration must give each credential its key)';
    }
    const res = validateEntity(item.entity, input);
    if (res.errors) mergeErrors(item.errors, res.errors);
    if (hasErrors(item.errors)) return;
    item.row = this.#complete(item, res.value);
  }

  #pluginFixups(item: Item, input: Record<string, unknown>): void {
    if (input.name === 'ai-proxy' && isPlainObject(input.config)) {
      const config = structuredClone(input.config);
      for (const w of relocateMisplacedModelOptions(config)) this.warnings.push(`${formatPath(item.path)}: ${w}`);
      input.config = config;
    }
    const warn = typeof input.name === 'string' ? getPluginSchema(input.name)?.warnings : undefined;
    if (warn && isPlainObject(input.config)) for (const w of warn(input.config)) this.warnings.push(`${formatPath(item.path)}: ${w}`);
  }

  /** The row as the DAO would store it: schema field order, id and timestamps. */
  #complete(item: Item, value: Record<string, unknown>): Row {
    const full: Record<string, unknown> = { ...value, id: item.id, created_at: value.created_at ?? this.#now, updated_at: this.#now };
    const schema = schemaFor(item.entity, full);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(schema.fields)) if (full[k] !== undefined) out[k] = full[k];
    return out as Row;
  }

  #checkUniqueness(): void {
    for (const entity of TOP_LEVEL) {
      const spec = TABLES[entity];
      const seen = new Map<string, Map<unknown, Item>>();
      for (const item of this.items) {
        if (item.entity !== entity || !item.row) continue;
        for (const col of spec.unique) {
          const v = item.row[col];
          if (v === null || v === undefined) continue;
          const m = seen.get(col) ?? new Map<unknown, Item>();
          seen.set(col, m);
          if (m.has(v)) addEntityError(item.errors, `uniqueness violation: '${entity}' entity with ${col} set to '${String(v)}' already declared`);
          else m.set(v, item);
        }
        if (spec.cacheKey) {
          const v = spec.cacheKey(item.row);
          const m = seen.get('cache_key') ?? new Map<unknown, Item>();
          seen.set('cache_key', m);
          if (m.has(v)) addEntityError(item.errors, `uniqueness violation: plugin '${item.row.name}' is already declared for the same route, service and consumer`);
          else m.set(v, item);
        }
      }
    }
  }

  #result(meta: Record<string, unknown>): FlattenResult {
    const bad = this.items.filter((i) => hasErrors(i.errors));
    if (bad.length || hasErrors(this.topErrors) || this.#pathErrors.length) {
      return { errors: buildErrors(this.topErrors, this.#pathErrors, bad), warnings: this.warnings, meta };
    }
    const data = Object.fromEntries(TOP_LEVEL.map((e) => [e, [] as Row[]])) as unknown as ConfigData;
    for (const item of this.items) data[item.entity].push(item.row!);
    return { data, warnings: this.warnings, meta };
  }
}

function mergeErrors(into: ErrorTree, from: ErrorTree): void {
  for (const [k, v] of Object.entries(from)) {
    if (k === '@entity' && Array.isArray(into['@entity'])) (into['@entity'] as string[]).push(...(v as string[]));
    else if (into[k] === undefined) Object.defineProperty(into, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
}

/** Validates and flattens a parsed declarative document. `now` (seconds) stamps created_at/updated_at. */
export function flattenConfig(doc: unknown, now = Math.floor(Date.now() / 1000)): FlattenResult {
  return new Flattener(now).run(doc);
}
