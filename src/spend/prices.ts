/**
 * The price table: what a token of each kind costs, per provider and model, in USD per million
 * tokens (data/prices.json, its rules in data/prices.schema.json). Loaded once, on first use,
 * from the repository's own file; `MODELGATE_PRICES_FILE` names a file of the same shape whose
 * entries add to or replace the bundled ones, so a new model or a price change needs no release.
 *
 * Lookup is per provider: the exact name first, then the patterns, the most specific (most literal
 * characters) first, then the provider the entry says it is priced as (`same_as`: Azure is
 * OpenAI's table). An unknown model is `null`, never a guess: the caller counts and warns.
 * Self-hosted providers (vLLM, LM Studio, llama.cpp, Llama 2) have no per-token bill and price
 * every model at 0.
 *
 * The schema's rules are checked here by hand (no validator dependency): a bad table or override
 * file is refused with one message naming the file, the path inside it and the problem.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ModelPrice {
  /** `embeddings` models price input only. */
  kind?: 'chat' | 'embeddings';
  input: number;
  cached_input?: number;
  cache_write?: number;
  cache_write_1h?: number;
  output?: number;
  reasoning?: number;
  per_request?: number;
}

interface ModelEntry extends ModelPrice {
  patterns?: string[];
}

interface ProviderEntry {
  source?: string;
  retrieved?: string;
  notes?: string;
  self_hosted?: boolean;
  same_as?: string;
  prefixes?: string[];
  models?: Record<string, ModelEntry>;
  unpriced?: Record<string, string>;
}

export interface PriceFile {
  $schema?: string;
  updated?: string;
  currency?: 'USD';
  unit?: string;
  providers: Record<string, ProviderEntry>;
}

export class PricesError extends Error {}

export const PRICES_FILE_ENV = 'MODELGATE_PRICES_FILE';
/** The bundled table, next to the sources: found from a fresh clone, whatever the working directory. */
export const BUNDLED_PRICES = new URL('../../data/prices.json', import.meta.url);

const FREE: Readonly<ModelPrice> = Object.freeze({ input: 0, output: 0 });
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const PRICE_FIELDS = ['input', 'cached_input', 'cache_write', 'cache_write_1h', 'output', 'reasoning', 'per_request'] as const;
const MODEL_FIELDS = new Set<string>([...PRICE_FIELDS, 'kind', 'patterns']);
const PROVIDER_FIELDS = new Set(['source', 'retrieved', 'notes', 'self_hosted', 'same_as', 'prefixes', 'models', 'unpriced']);
const TOP_FIELDS = new Set(['$schema', 'updated', 'currency', 'unit', 'providers']);

// ---------------------------------------------------------------------------------------------
// Validation (data/prices.schema.json, by hand)

type Mode = 'bundled' | 'override';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function check(cond: unknown, where: string, problem: string): asserts cond {
  if (!cond) throw new PricesError(`${where}: ${problem}`);
}

function checkStrings(v: unknown, where: string): void {
  check(Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0), where, 'expected an array of non-empty strings');
}

function checkModel(v: unknown, where: string): void {
  check(isObject(v), where, 'expected an object');
  for (const k of Object.keys(v)) check(MODEL_FIELDS.has(k), `${where}.${k}`, 'unknown field');
  check(v.kind === undefined || v.kind === 'chat' || v.kind === 'embeddings', `${where}.kind`, "expected 'chat' or 'embeddings'");
  for (const f of PRICE_FIELDS) {
    const p = v[f];
    if (p === undefined) continue;
    check(typeof p === 'number' && Number.isFinite(p) && p >= 0, `${where}.${f}`, 'expected a price: a number >= 0 (USD per million tokens)');
  }
  check(v.input !== undefined, `${where}.input`, 'required');
  if (v.kind !== 'embeddings') check(v.output !== undefined, `${where}.output`, "required (or kind: 'embeddings')");
  if (v.patterns !== undefined) checkStrings(v.patterns, `${where}.patterns`);
}

function checkProvider(v: unknown, where: string, mode: Mode): void {
  check(isObject(v), where, 'expected an object');
  for (const k of Object.keys(v)) check(PROVIDER_FIELDS.has(k), `${where}.${k}`, 'unknown field');
  check(v.self_hosted === undefined || typeof v.self_hosted === 'boolean', `${where}.self_hosted`, 'expected true or false');
  if (mode === 'bundled' && v.self_hosted !== true) {
    check(typeof v.source === 'string' && /^https?:\/\//.test(v.source), `${where}.source`, 'required: the URL of the pricing page');
    check(typeof v.retrieved === 'string', `${where}.retrieved`, 'required: the date the page was read');
  }
  check(v.source === undefined || typeof v.source === 'string', `${where}.source`, 'expected a URL');
  check(v.retrieved === undefined || (typeof v.retrieved === 'string' && DATE.test(v.retrieved)), `${where}.retrieved`, 'expected a date YYYY-MM-DD');
  check(v.notes === undefined || typeof v.notes === 'string', `${where}.notes`, 'expected a string');
  check(v.same_as === undefined || typeof v.same_as === 'string', `${where}.same_as`, 'expected a provider name');
  if (v.prefixes !== undefined) checkStrings(v.prefixes, `${where}.prefixes`);
  if (v.models !== undefined) {
    check(isObject(v.models), `${where}.models`, 'expected an object of models');
    for (const [name, m] of Object.entries(v.models)) checkModel(m, `${where}.models["${name}"]`);
  }
  if (v.unpriced !== undefined) {
    check(isObject(v.unpriced) && Object.values(v.unpriced).every((s) => typeof s === 'string'), `${where}.unpriced`, 'expected an object of model name to reason');
  }
}

/** Checks a parsed table against the schema's rules; throws PricesError naming the path inside it. */
export function validatePrices(v: unknown, mode: Mode): PriceFile {
  check(isObject(v), '(top level)', 'expected a JSON object');
  for (const k of Object.keys(v)) check(TOP_FIELDS.has(k), k, 'unknown field');
  if (mode === 'bundled' || v.updated !== undefined) check(typeof v.updated === 'string' && DATE.test(v.updated), 'updated', 'required: a date YYYY-MM-DD');
  check(v.currency === undefined || v.currency === 'USD', 'currency', "only 'USD' is supported");
  check(isObject(v.providers), 'providers', 'required: an object of providers');
  for (const [name, p] of Object.entries(v.providers)) checkProvider(p, `providers.${name}`, mode);
  const providers = v.providers as Record<string, ProviderEntry>;
  for (const [name, p] of Object.entries(providers)) {
    if (p.same_as !== undefined) check(p.same_as !== name, `providers.${name}.same_as`, 'a provider cannot be priced as itself');
  }
  return v as unknown as PriceFile;
}

/** Reads and validates a price file; errors name the file. */
export function readPriceFile(file: string | URL, mode: Mode): PriceFile {
  const name = file instanceof URL ? file.pathname : file;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PricesError(`${name}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new PricesError(`${name}: not JSON (${(e as Error).message})`);
  }
  try {
    return validatePrices(parsed, mode);
  } catch (e) {
    throw e instanceof PricesError ? new PricesError(`${name}: ${e.message}`) : e;
  }
}

// ---------------------------------------------------------------------------------------------
// The merged, indexed table

interface Pattern {
  match: RegExp;
  /** Literal characters: the more, the more specific. */
  weight: number;
  price: ModelPrice;
}

interface ProviderIndex {
  selfHosted: boolean;
  sameAs?: string;
  prefixes: string[];
  exact: Map<string, ModelPrice>;
  patterns: Pattern[];
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

function priceOnly(m: ModelEntry): ModelPrice {
  const { patterns: _patterns, ...price } = m;
  return Object.freeze(price);
}

/** Bundled first, then the override: an override's provider fields win, and its models add to or replace the bundled ones by name (keeping the bundled patterns unless given new ones). */
function merge(base: PriceFile, over: PriceFile | null): Record<string, ProviderEntry> {
  const out: Record<string, ProviderEntry> = {};
  for (const [name, p] of Object.entries(base.providers)) out[name] = { ...p, models: { ...p.models } };
  if (!over) return out;
  for (const [name, p] of Object.entries(over.providers)) {
    const prev = out[name] ?? {};
    const models = { ...prev.models };
    for (const [model, entry] of Object.entries(p.models ?? {})) {
      // a re-priced model keeps matching its snapshots unless the override gives patterns of its own
      const patterns = entry.patterns ?? models[model]?.patterns;
      models[model] = patterns ? { ...entry, patterns } : entry;
    }
    out[name] = { ...prev, ...p, models };
  }
  return out;
}

export class PriceTable {
  readonly updated: string | undefined;
  readonly #providers = new Map<string, ProviderIndex>();

  constructor(bundled: PriceFile, override: PriceFile | null = null) {
    this.updated = override?.updated ?? bundled.updated;
    for (const [name, p] of Object.entries(merge(bundled, override))) {
      const idx: ProviderIndex = { selfHosted: p.self_hosted === true, sameAs: p.same_as, prefixes: p.prefixes ?? [], exact: new Map(), patterns: [] };
      for (const [model, entry] of Object.entries(p.models ?? {})) {
        const price = priceOnly(entry);
        idx.exact.set(model.toLowerCase(), price);
        for (const g of entry.patterns ?? []) idx.patterns.push({ match: globToRegExp(g.toLowerCase()), weight: g.replaceAll('*', '').length, price });
      }
      // most specific first; equal weights keep the table's order (sort is stable)
      idx.patterns.sort((a, b) => b.weight - a.weight);
      this.#providers.set(name.toLowerCase(), idx);
    }
  }

  /**
   * Answers by (provider, model), remembered: every answer is priced, and a served model is often a
   * dated id only a pattern matches (`gpt-4o-2024-08-06`), or one the table lacks, which would scan
   * every pattern each time. Bounded: names come from providers and clients. By provider, then
   * model: a key concatenated per call was flattened and hashed each time (~1 µs of every request).
   */
  readonly #known = new Map<string, Map<string, ModelPrice | null>>();
  #knownCount = 0;

  /** The price of `model` at `provider`, or null when the table does not know it. */
  priceOf(provider: string, model: string): ModelPrice | null {
    let models = this.#known.get(provider);
    const known = models?.get(model);
    if (known !== undefined) return known;
    const price = this.#lookup(provider.toLowerCase(), model.toLowerCase(), new Set());
    if (this.#knownCount >= MAX_KNOWN) {
      this.#known.clear();
      this.#knownCount = 0;
      models = undefined;
    }
    if (!models) this.#known.set(provider, (models = new Map()));
    models.set(model, price);
    this.#knownCount++;
    return price;
  }

  #lookup(provider: string, model: string, seen: Set<string>): ModelPrice | null {
    const p = this.#providers.get(provider);
    if (!p || seen.has(provider)) return null;
    seen.add(provider);
    if (p.selfHosted) return FREE;
    const names = [model];
    for (const prefix of p.prefixes) if (model.startsWith(prefix.toLowerCase())) names.push(model.slice(prefix.length));
    for (const n of names) {
      const hit = p.exact.get(n);
      if (hit) return hit;
    }
    for (const n of names) {
      for (const pat of p.patterns) if (pat.match.test(n)) return pat.price;
    }
    return p.sameAs ? this.#lookup(p.sameAs.toLowerCase(), model, seen) : null;
  }
}

/** priceOf answers a table remembers at most (then it starts again). */
const MAX_KNOWN = 4096;

// ---------------------------------------------------------------------------------------------
// The process's table

/**
 * The override file this process uses: `MODELGATE_PRICES_FILE`, else the `prices_file` setting the
 * primary handed its workers (src/server/worker-settings.ts puts the settings, as JSON, in
 * MODELGATE_WORKER_SETTINGS; read here by name to keep this module free of the server's imports).
 */
export function configuredPricesFile(env: NodeJS.ProcessEnv = process.env): string | null {
  const fromEnv = env[PRICES_FILE_ENV];
  if (fromEnv !== undefined) return fromEnv === '' || fromEnv === 'off' ? null : fromEnv;
  const handed = env.MODELGATE_WORKER_SETTINGS;
  if (!handed) return null;
  try {
    const file = (JSON.parse(handed) as { prices_file?: unknown }).prices_file;
    return typeof file === 'string' && file !== '' ? file : null;
  } catch {
    return null;
  }
}

/** Builds a table from the bundled file and an optional override file (both validated). */
export function loadPriceTable(overrideFile: string | null = null): PriceTable {
  const bundled = readPriceFile(BUNDLED_PRICES, 'bundled');
  const override = overrideFile ? readPriceFile(path.resolve(overrideFile), 'override') : null;
  return new PriceTable(bundled, override);
}

let table: PriceTable | null = null;

/** The process's table, loaded on first use (a bad override file throws here, and at start-up through settings). */
export function prices(): PriceTable {
  table ??= loadPriceTable(configuredPricesFile());
  return table;
}

/** Forget the loaded table: the next lookup reads the files again (tests; a reload). */
export function resetPrices(): void {
  table = null;
}

/** The price of `model` at `provider`: exact name, then patterns (most specific first); null when unknown. */
export function priceOf(provider: string, model: string): ModelPrice | null {
  return prices().priceOf(provider, model);
}
