/**
 * Compiles a configuration version into what a worker serves requests from: the router, each
 * route's service target and plugin chain (Kong's scoping precedence, priority order), with every
 * plugin's config pre-processed by its handler. Built off the request path, swapped atomically.
 */
import { hash } from 'node:crypto';
import { Router, type RouteSpec } from '../router/router.ts';
import { getPluginSchema, loadPluginHandlers, pluginHandler } from '../plugins/registry.ts';
import type { CompileContext, PluginHandler } from '../plugins/types.ts';
import type { Row } from '../store/types.ts';
import type { UpstreamTarget } from '../proxy/upstream.ts';
import type { SnapshotData } from './types.ts';
import { isVaultReference, resolveReference, resolveVaultReferences } from './vault.ts';
import { registerSecret } from '../observability/redact.ts';
import { logger } from '../observability/logger.ts';
import { ClientError } from '../proxy/errors.ts';
import { LazyEntity } from './lazy-entity.ts';

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/** A service as requests use it; its row is parsed on first read (see LazyEntity). */
export class CompiledService extends LazyEntity {
  readonly id: string;
  readonly enabled: boolean;
  readonly target: UpstreamTarget;
  readonly host: string;
  readonly port: number;
  /** Service path, or null. */
  readonly path: string | null;

  constructor(row: Row) {
    super(row);
    const protocol = row.protocol === 'https' || row.protocol === 'wss' || row.protocol === 'grpcs' ? 'https' : 'http';
    const port = row.port ?? DEFAULT_PORTS[protocol];
    const hostForUrl = row.host.includes(':') ? `[${row.host}]` : row.host;
    this.id = row.id;
    this.enabled = row.enabled !== false;
    this.host = row.host;
    this.port = port;
    this.path = row.path ?? null;
    this.target = {
      origin: `${protocol}://${hostForUrl}:${port}`,
      connectTimeout: row.connect_timeout ?? 60000,
      readTimeout: row.read_timeout ?? 60000,
      writeTimeout: row.write_timeout ?? 60000,
      retries: row.retries ?? 5,
      tlsVerify: row.tls_verify !== false,
    };
  }
}

export interface PluginInstance {
  id: string;
  name: string;
  priority: number;
  handler: PluginHandler<any, any>;
  /** What the handler's `compile` derived from the config (or the config itself). */
  conf: unknown;
  entity: Row;
}

/** A chain's `opentelemetry` plugin (issue 21), or null. */
export function tracerIn(chain: PluginInstance[]): PluginInstance | null {
  for (const p of chain) if (p.name === 'opentelemetry') return p;
  return null;
}

/** A route as requests use it; its row is parsed on first read (see LazyEntity). */
export class CompiledRoute extends LazyEntity {
  readonly id: string;
  readonly name: string | null;
  readonly service: CompiledService | null;
  /** Plugins for requests without an authenticated consumer, highest priority first. */
  readonly chain: PluginInstance[];
  readonly stripPath: boolean;
  readonly preserveHost: boolean;
  readonly protocols: Set<string>;
  readonly httpsRedirectStatus: number;
  /** The chain's `opentelemetry` plugin, found once here: requests on routes without it pay one null check. */
  readonly tracer: PluginInstance | null;

  constructor(row: Row, service: CompiledService | null, chain: PluginInstance[], protocols: Set<string>) {
    super(row);
    this.id = row.id;
    this.name = row.name ?? null;
    this.service = service;
    this.chain = chain;
    this.stripPath = row.strip_path !== false;
    this.preserveHost = row.preserve_host === true;
    this.protocols = protocols;
    this.httpsRedirectStatus = row.https_redirect_status_code ?? 426;
    this.tracer = tracerIn(chain);
  }
}

export interface Snapshot {
  version: number;
  router: Router<CompiledRoute>;
  routes: Map<string, CompiledRoute>;
  services: Map<string, CompiledService>;
  /** Plugin instances by scope, to build consumer-specific chains after authentication. */
  plugins: PluginIndex;
  consumers: Map<string, Row>;
  /**
   * key-auth: SHA-256 (hex) of the credential key → credential row. Looked up by digest so the
   * lookup's timing says nothing about stored keys (docs/decisions.md, T24); see `keyDigest`.
   */
  keyauthCredentials: Map<string, Row>;
  builtAt: number;
  /** Chains per (route, consumer), built on first use. */
  chainCache: Map<string, PluginInstance[]>;
}

/** The lookup key of a key-auth credential in the snapshot. */
export function keyDigest(key: string): string {
  return hash('sha256', key, 'hex'); // one call, no Hash object per request (key-auth's every request)
}

const compileContext: CompileContext = {
  resolveSecret: (v) => v,
  registerSecret,
};

/** A plugin whose config cannot be compiled fails closed: it answers 500 rather than vanish. */
function brokenHandler(name: string, reason: string): PluginHandler {
  return {
    access() {
      throw new ClientError(500, { message: 'An unexpected error occurred' });
    },
    compile() {
      logger().error({ plugin: name, reason }, 'plugin configuration could not be loaded; requests through it are refused');
      return null;
    },
  };
}

function compilePlugin(row: Row): PluginInstance | null {
  const schema = getPluginSchema(row.name);
  if (!schema) {
    logger().warn({ plugin: row.name, id: row.id }, 'unknown plugin in configuration, ignored');
    return null;
  }
  const loaded = pluginHandler(row.name);
  let handler: PluginHandler;
  let conf: unknown;
  try {
    if (loaded instanceof Error) throw loaded;
    handler = loaded;
    const config = resolveVaultReferences(schema.config, row.config, registerSecret);
    conf = handler.compile ? handler.compile(config, compileContext) : config;
  } catch (e) {
    handler = brokenHandler(row.name, (e as Error).message);
    conf = handler.compile!(null, compileContext);
  }
  return { id: row.id, name: row.name, priority: schema.priority, handler, conf, entity: row };
}

const fk = (row: Row, field: string): string | null => row[field]?.id ?? null;

/**
 * Kong's precedence for plugins of the same name: the most specific scope wins.
 * consumer+route+service > consumer+route > consumer+service > route+service > consumer > route > service > global.
 */
function specificity(p: PluginInstance): number {
  const c = fk(p.entity, 'consumer') ? 1 : 0;
  const r = fk(p.entity, 'route') ? 1 : 0;
  const s = fk(p.entity, 'service') ? 1 : 0;
  if (c && r && s) return 8;
  if (c && r) return 7;
  if (c && s) return 6;
  if (r && s) return 5;
  if (c) return 4;
  if (r) return 3;
  if (s) return 2;
  return 1;
}

/**
 * Plugin instances grouped by their exact scope (route, service, consumer; each an id or none).
 * A chain looks up the eight scopes that can apply to a request instead of scanning every plugin:
 * with a plugin per route, scanning made a snapshot of 10,000 routes cost 10^8 comparisons
 * (seconds of a worker's event loop, with requests waiting).
 */
export class PluginIndex {
  readonly #byScope = new Map<string, PluginInstance[]>();
  readonly size: number;

  constructor(plugins: PluginInstance[]) {
    for (const p of plugins) {
      const key = scopeKey(fk(p.entity, 'route'), fk(p.entity, 'service'), fk(p.entity, 'consumer'));
      const list = this.#byScope.get(key);
      if (list) list.push(p);
      else this.#byScope.set(key, [p]);
    }
    this.size = plugins.length;
  }

  /** The plugins whose scope covers a request on this route, service and consumer. */
  *covering(routeId: string | null, serviceId: string | null, consumerId: string | null): Iterable<PluginInstance> {
    for (const r of routeId === null ? [null] : [routeId, null]) {
      for (const s of serviceId === null ? [null] : [serviceId, null]) {
        for (const c of consumerId === null ? [null] : [consumerId, null]) yield* this.#byScope.get(scopeKey(r, s, c)) ?? [];
      }
    }
  }
}

function scopeKey(route: string | null, service: string | null, consumer: string | null): string {
  return `${route ?? ''}|${service ?? ''}|${consumer ?? ''}`;
}

/** The chain of every route no plugin covers: one shared (frozen) array, not one per route. */
const NO_PLUGINS: PluginInstance[] = Object.freeze([]) as unknown as PluginInstance[];

/** Kong's precedence: of the plugins of one name that cover the request, the most specific scope wins. */
export function buildChain(plugins: PluginIndex, routeId: string | null, serviceId: string | null, consumerId: string | null): PluginInstance[] {
  let best: Map<string, PluginInstance> | null = null;
  for (const p of plugins.covering(routeId, serviceId, consumerId)) {
    best ??= new Map();
    const current = best.get(p.name);
    if (!current || specificity(p) > specificity(current)) best.set(p.name, p);
  }
  return best === null ? NO_PLUGINS : [...best.values()].sort((a, b) => b.priority - a.priority);
}

/**
 * Protocol sets shared by every route that lists the same protocols (nearly all list the
 * default): a configuration of 10,000 routes holds a handful of Sets, not 10,000.
 */
function protocolSet(cache: Map<string, Set<string>>, protocols: string[] | null | undefined): Set<string> {
  const list = protocols ?? ['http', 'https'];
  const key = list.join(',');
  let set = cache.get(key);
  if (!set) cache.set(key, (set = new Set(list)));
  return set;
}

/** Entities compiled between two yields of `compileSteps`: a few milliseconds of work. */
const ENTITIES_PER_STEP = 250;

/**
 * Compiles a snapshot in one go (tests, tools). The handlers of its plugins must have been loaded
 * (`loadPluginHandlers`); a plugin whose handler is not is compiled as broken (answers 500).
 */
export function compileSnapshot(data: SnapshotData): Snapshot {
  const steps = compileSteps(data);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Compiles a snapshot in slices, giving the event loop back between them: a worker keeps serving
 * requests on its current snapshot while a large new one (thousands of routes) is built.
 */
export async function compileSnapshotAsync(data: SnapshotData): Promise<Snapshot> {
  // the handlers of plugins this configuration uses for the first time (registry.ts: loaded on first use)
  await loadPluginHandlers(data.plugins.filter((p) => p.enabled !== false).map((p) => p.name as string));
  const steps = compileSteps(data);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The compilation, pausing (`yield`) every ENTITIES_PER_STEP entities. */
function* compileSteps(data: SnapshotData): Generator<void, Snapshot> {
  let work = 0;
  const services = new Map<string, CompiledService>();
  for (const s of data.services) {
    services.set(s.id, new CompiledService(s));
    if (++work % ENTITIES_PER_STEP === 0) yield;
  }

  const compiledPlugins: PluginInstance[] = [];
  for (const p of data.plugins) {
    if (p.enabled === false) continue;
    const inst = compilePlugin(p);
    if (inst) compiledPlugins.push(inst);
    if (++work % ENTITIES_PER_STEP === 0) yield;
  }
  const plugins = new PluginIndex(compiledPlugins);

  const routes = new Map<string, CompiledRoute>();
  const specs: RouteSpec<CompiledRoute>[] = [];
  const protocolSets = new Map<string, Set<string>>();
  for (const r of data.routes) {
    if (++work % ENTITIES_PER_STEP === 0) yield;
    const service = r.service?.id ? (services.get(r.service.id) ?? null) : null;
    if (service && !service.enabled) continue; // Kong: a disabled service's routes do not match
    const compiled = new CompiledRoute(r, service, buildChain(plugins, r.id, service?.id ?? null, null), protocolSet(protocolSets, r.protocols));
    routes.set(r.id, compiled);
    if (!compiled.protocols.has('http') && !compiled.protocols.has('https')) continue;
    specs.push({
      id: r.id,
      created_at: r.created_at,
      paths: r.paths ?? null,
      methods: r.methods ?? null,
      hosts: r.hosts ?? null,
      headers: r.headers ?? null,
      protocols: r.protocols ?? null,
      regex_priority: r.regex_priority ?? 0,
      data: compiled,
    });
  }

  const consumers = new Map<string, Row>();
  for (const c of data.consumers ?? []) consumers.set(c.id, c);
  const keyauthCredentials = new Map<string, Row>();
  for (const k of data.keyauth_credentials ?? []) {
    if (++work % ENTITIES_PER_STEP === 0) yield;
    if (typeof k.key !== 'string') continue;
    let key = k.key;
    if (isVaultReference(key)) {
      try {
        key = resolveReference(key);
      } catch (e) {
        logger().error({ credential: k.id, err: (e as Error).message }, 'key-auth credential key could not be resolved; it will not authenticate');
        continue;
      }
    }
    keyauthCredentials.set(keyDigest(key), k);
  }

  return {
    version: data.version,
    router: new Router(specs),
    routes,
    services,
    plugins,
    consumers,
    keyauthCredentials,
    builtAt: Date.now(),
    chainCache: new Map(),
  };
}

/** The chain for a route once a consumer is known (cached per snapshot). */
export function chainForConsumer(snapshot: Snapshot, route: CompiledRoute, consumerId: string): PluginInstance[] {
  const key = `${route.id}:${consumerId}`;
  let chain = snapshot.chainCache.get(key);
  if (!chain) {
    chain = buildChain(snapshot.plugins, route.id, route.service?.id ?? null, consumerId);
    if (snapshot.chainCache.size > 100_000) snapshot.chainCache.clear();
    snapshot.chainCache.set(key, chain);
  }
  return chain;
}
