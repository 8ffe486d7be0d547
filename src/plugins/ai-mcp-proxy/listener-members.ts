/**
 * Which servers a `listener` aggregates (Kong's `config.server.tag`): every other `ai-mcp-proxy`
 * plugin whose own `tags[]` holds that tag — Kong's way of binding conversion-only tools into one
 * MCP server, which modelgate extends to `passthrough-listener` plugins, so the tools of upstream
 * MCP servers fronted by the gateway are aggregated too. Found once per snapshot and tag (the
 * snapshot is immutable), in route-name order so tools/list pages are stable.
 *
 * Each member gets a tool-name prefix from the listener's `server.tool_prefix` template
 * (`{server}` is the member's route name, else its route id). Names can still meet when one
 * prefix is the start of another (routes `a` and `a_b`): the listener keeps the first listed and
 * routes calls by the names it listed (listener.ts).
 */
import type { Snapshot, CompiledRoute, PluginInstance } from '../../snapshot/compile.ts';
import type { CompiledMcp } from './compile.ts';
import type { UpstreamTarget } from './upstream-session.ts';

export interface Member {
  /** A stable key within the snapshot: the member plugin's id. */
  key: string;
  /** The member's name: its route's name, else the route's id. */
  server: string;
  prefix: string;
  route: CompiledRoute;
  /** The member plugin's compiled config: its ACL applies to its tools through the listener too. */
  conf: CompiledMcp;
  mode: 'passthrough-listener' | 'conversion-only';
  /** Where its MCP server is (passthrough members), or null when it has none. */
  target: UpstreamTarget | null;
}

const byTag = new WeakMap<Snapshot, Map<string, Member[]>>();

/** The members for a listener on this snapshot (the listener's own plugin never among them). */
export function membersOf(snapshot: Snapshot, tag: string | null, prefixTemplate: string, selfId: string): Member[] {
  if (!tag) return [];
  let perTag = byTag.get(snapshot);
  if (!perTag) byTag.set(snapshot, (perTag = new Map()));
  const key = `${tag}\u0000${prefixTemplate}\u0000${selfId}`;
  let found = perTag.get(key);
  if (!found) perTag.set(key, (found = discover(snapshot, tag, prefixTemplate, selfId)));
  return found;
}

function discover(snapshot: Snapshot, tag: string, prefixTemplate: string, selfId: string): Member[] {
  const out: Member[] = [];
  const seen = new Set<string>();
  for (const route of snapshot.routes.values()) {
    for (const p of route.chain) {
      if (p.name !== 'ai-mcp-proxy' || p.id === selfId || seen.has(p.id) || !hasTag(p, tag)) continue;
      const conf = p.conf as CompiledMcp | null;
      if (!conf) continue; // a config that could not be compiled: its route answers 500, the listener skips it
      const mode = conf.config.mode;
      if (mode !== 'passthrough-listener' && mode !== 'conversion-only') continue;
      seen.add(p.id);
      const server = route.name ?? route.id;
      out.push({ key: p.id, server, prefix: prefixTemplate.replaceAll('{server}', server), route, conf, mode, target: mode === 'passthrough-listener' ? targetOf(route, conf, server) : null });
    }
  }
  return out.sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
}

function hasTag(p: PluginInstance, tag: string): boolean {
  const tags = p.entity.tags;
  return Array.isArray(tags) && tags.includes(tag);
}

/** A passthrough member's upstream, as its own route reaches it: `server.url`, else its route's service. */
function targetOf(route: CompiledRoute, conf: CompiledMcp, server: string): UpstreamTarget | null {
  let url: string;
  if (conf.upstreamUrl) url = conf.upstreamUrl.href;
  else if (route.service) url = `${route.service.target.origin}${route.service.path ?? '/'}`;
  else return null;
  return { name: server, url, headers: { ...conf.upstreamHeaders }, timeoutMs: conf.timeoutMs };
}

/** The member a listed name belongs to: the longest prefix that matches (when the name was never listed in the session). */
export function memberByPrefix(members: Member[], name: string): Member | null {
  let best: Member | null = null;
  for (const m of members) if (name.startsWith(m.prefix) && name.length > m.prefix.length && (!best || m.prefix.length > best.prefix.length)) best = m;
  return best;
}
