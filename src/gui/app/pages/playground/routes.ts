/**
 * Which routes the playground can talk to, read from the Admin API's routes, services and plugins:
 * a route is an AI route when an enabled `ai-proxy` or `ai-proxy-advanced` applies to it — on the
 * route, else on its service, else global (Kong's precedence; consumer-scoped ones are left out,
 * the playground has no consumer until a key is given). Its `key-auth`, found the same way, says
 * which header (or query argument) carries the consumer's key.
 *
 * What the playground can chat with: an OpenAI Chat Completions client API (docs/ai-proxy.md,
 * "Client APIs"): `ai-proxy` with `route_type: llm/v1/chat` and `llm_format: openai`, or
 * `ai-proxy-advanced` with a chat or responses target (both serve Chat Completions at the route's
 * own path, docs/ai-proxy-advanced.md). Other AI routes are listed, with why they cannot be used.
 */

export interface PluginRow {
  id: string;
  name: string;
  enabled?: boolean;
  route?: { id: string } | null;
  service?: { id: string } | null;
  consumer?: { id: string } | null;
  config: Record<string, unknown>;
}

export interface RouteRow {
  id: string;
  name?: string | null;
  paths?: string[] | null;
  hosts?: string[] | null;
  methods?: string[] | null;
  service?: { id: string } | null;
}

/** One model the user can pick on a route. */
export interface ModelChoice {
  /** The name the request's `model` carries (a target's alias, else its model name). */
  name: string;
  provider: string;
  /** What is shown: `openai/gpt-4o`, with the served name when an alias hides it. */
  label: string;
}

export interface KeyAuth {
  /** The header (or query argument) the key goes in: the first of `key_names`. */
  name: string;
  where: 'header' | 'query';
  /** An anonymous consumer is configured: the key may be left empty. */
  optional: boolean;
}

export interface AiRoute {
  id: string;
  /** The route's name, else its id. */
  label: string;
  plugin: 'ai-proxy' | 'ai-proxy-advanced';
  /** Where on the proxy the playground sends (a plain path of the route), or null when it has none. */
  path: string | null;
  /** `llm/v1/chat` …, or the targets' route types joined for a balanced route. */
  routeType: string;
  providers: string[];
  /** The models a request may name; empty when any model may be typed. */
  models: ModelChoice[];
  /** The route fixes the model (ai-proxy with `model.name`): the request's `model` must be it. */
  fixedModel: string | null;
  /** The request may name a model no list holds (ai-proxy without `model.name`). */
  freeModel: boolean;
  /** `response_streaming: deny`: the answer comes as one JSON body. */
  streaming: 'allow' | 'deny' | 'always';
  keyAuth: KeyAuth | null;
  /** Why the playground cannot chat on this route, or null when it can. */
  unusable: string | null;
}

const AI_PLUGINS = new Set(['ai-proxy', 'ai-proxy-advanced']);

type Scope = 'route' | 'service' | 'global';

/** The enabled plugin of one of `names` that applies to a route, by Kong's precedence. */
function pluginFor(route: RouteRow, plugins: PluginRow[], names: Set<string>): PluginRow | null {
  const byScope: Record<Scope, PluginRow | null> = { route: null, service: null, global: null };
  for (const p of plugins) {
    if (!names.has(p.name) || p.enabled === false || p.consumer) continue;
    if (p.route) {
      if (p.route.id === route.id) byScope.route ??= p;
    } else if (p.service) {
      if (route.service && p.service.id === route.service.id) byScope.service ??= p;
    } else byScope.global ??= p;
  }
  return byScope.route ?? byScope.service ?? byScope.global;
}

/** A path the proxy routes to this route: the first plain (not `~` regex) one; `/` when it has none. */
function plainPath(route: RouteRow): string | null {
  const paths = route.paths ?? [];
  if (paths.length === 0) return '/';
  return paths.find((p) => !p.startsWith('~')) ?? null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

interface ModelConfig {
  provider?: unknown;
  name?: unknown;
}

function keyAuthOf(p: PluginRow | null): KeyAuth | null {
  if (!p) return null;
  const c = p.config as { key_names?: unknown; key_in_header?: unknown; key_in_query?: unknown; anonymous?: unknown };
  const names = Array.isArray(c.key_names) && c.key_names.length ? (c.key_names as string[]) : ['apikey'];
  const where = c.key_in_header === false && c.key_in_query !== false ? 'query' : 'header';
  return { name: names[0], where, optional: str(c.anonymous) !== null };
}

function describe(route: RouteRow, ai: PluginRow, keyAuth: PluginRow | null): AiRoute {
  const base = {
    id: route.id,
    label: str(route.name) ?? route.id,
    plugin: ai.name as AiRoute['plugin'],
    path: plainPath(route),
    streaming: (str(ai.config.response_streaming) ?? 'allow') as AiRoute['streaming'],
    keyAuth: keyAuthOf(keyAuth),
  };
  const format = str(ai.config.llm_format) ?? 'openai';
  let unusable: string | null = null;
  if (format !== 'openai') unusable = `speaks the ${format} client API (llm_format), not OpenAI Chat Completions`;
  else if (!base.path) unusable = 'has only regex paths: no plain path to send to';
  else if ((route.methods?.length ?? 0) > 0 && !route.methods!.includes('POST')) unusable = 'does not accept POST';
  else if ((route.hosts?.length ?? 0) > 0) unusable = `matches only hosts ${route.hosts!.join(', ')}, which the GUI's relay does not send`;

  if (ai.name === 'ai-proxy') {
    const model = (ai.config.model ?? {}) as ModelConfig;
    const provider = str(model.provider) ?? '?';
    const name = str(model.name);
    const routeType = str(ai.config.route_type) ?? 'llm/v1/chat';
    if (!unusable && routeType !== 'llm/v1/chat') unusable = `is a ${routeType} route: the playground chats (llm/v1/chat)`;
    return {
      ...base,
      routeType,
      providers: [provider],
      models: name ? [{ name, provider, label: `${provider}/${name}` }] : [],
      fixedModel: name,
      freeModel: name === null,
      unusable,
    };
  }
  const targets = (Array.isArray(ai.config.targets) ? ai.config.targets : []) as { route_type?: unknown; alias?: unknown; model?: ModelConfig }[];
  const chat = targets.filter((t) => t.route_type === 'llm/v1/chat' || t.route_type === 'llm/v1/responses' || t.route_type === undefined);
  const models: ModelChoice[] = [];
  for (const t of chat) {
    const provider = str(t.model?.provider) ?? '?';
    const served = str(t.model?.name);
    const name = str(t.alias) ?? served;
    if (!name || models.some((m) => m.name === name)) continue;
    models.push({ name, provider, label: `${provider}/${served ?? name}${served && name !== served ? ` (as ${name})` : ''}` });
  }
  if (!unusable && chat.length === 0) unusable = 'has no chat target';
  return {
    ...base,
    routeType: [...new Set(targets.map((t) => str(t.route_type) ?? 'llm/v1/chat'))].join(', '),
    providers: [...new Set(targets.map((t) => str(t.model?.provider) ?? '?'))],
    models,
    fixedModel: null,
    // a target without a model name takes the request's
    freeModel: chat.some((t) => !str(t.model?.name)),
    unusable,
  };
}

/** The AI routes among `routes`, usable ones first, each group by name. */
export function aiRoutes(routes: RouteRow[], plugins: PluginRow[]): AiRoute[] {
  const out: AiRoute[] = [];
  const keyAuth = new Set(['key-auth']);
  for (const r of routes) {
    const ai = pluginFor(r, plugins, AI_PLUGINS);
    if (ai) out.push(describe(r, ai, pluginFor(r, plugins, keyAuth)));
  }
  return out.sort((a, b) => Number(a.unusable !== null) - Number(b.unusable !== null) || a.label.localeCompare(b.label));
}
