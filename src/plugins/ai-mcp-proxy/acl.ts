/**
 * Kong's per-tool ACL for `ai-mcp-proxy` (Kong 3.13's MCP tool ACLs: `tools[].acl`, `default_acl`,
 * `consumer_identifier`), registered as a tool policy (governance.ts), so every mode hides the
 * tools a consumer may not use from tools/list and refuses their calls (-32602).
 *
 * Which rules apply to a tool: the `acl` of the `tools[]` entry with its name (names may be glob
 * patterns, `*` and `?`; an exact name first, then the first pattern that matches), else every
 * `default_acl` entry of scope `tools`. Kong's published example gives a tool's own ACL the last
 * word over the default (a consumer outside the default allow list reaches a tool whose own list
 * names it). How a subject is judged against the rules that apply:
 *   - no rules: allowed (no ACL configured for the tool);
 *   - no consumer (a route without authentication): denied — an ACL needs an identity;
 *   - the subject matches a `deny` entry: denied (deny wins);
 *   - an `allow` list is present and the subject matches none of it: denied;
 *   - otherwise allowed.
 * The subject is the consumer's `username`, `custom_id` or id (`consumer_identifier`); entries
 * may be glob patterns. modelgate has no consumer groups, so `include_consumer_groups` is refused
 * when the config is written (schema.ts) rather than silently ignored: a deny list naming a group
 * would deny nobody.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import { registerToolPolicy } from './governance.ts';

interface Rule {
  allow: Matcher | null;
  deny: Matcher | null;
}

interface CompiledAcl {
  exact: Map<string, Rule[]>;
  patterns: { match: Matcher; rules: Rule[] }[];
  defaults: Rule[];
  /** Nothing configured: every tool allowed, at no cost. */
  empty: boolean;
}

export type Matcher = (value: string) => boolean;

/** `*` any run of characters, `?` one character, the rest literal; a list matches when any entry does. */
export function globMatcher(patterns: readonly string[]): Matcher {
  const exact = new Set<string>();
  const regexes: RegExp[] = [];
  for (const p of patterns) {
    if (!/[*?]/.test(p)) exact.add(p);
    else regexes.push(new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`, 's'));
  }
  return (v) => exact.has(v) || regexes.some((r) => r.test(v));
}

export function isGlob(name: string): boolean {
  return /[*?]/.test(name);
}

function rule(acl: { allow: string[] | null; deny: string[] | null }): Rule {
  return { allow: acl.allow ? globMatcher(acl.allow) : null, deny: acl.deny && acl.deny.length > 0 ? globMatcher(acl.deny) : null };
}

const compiled = new WeakMap<CompiledMcp, CompiledAcl>();

function aclOf(conf: CompiledMcp): CompiledAcl {
  let c = compiled.get(conf);
  if (c) return c;
  const exact = new Map<string, Rule[]>();
  const patterns: CompiledAcl['patterns'] = [];
  for (const t of conf.config.tools ?? []) {
    if (!t.acl || !t.name) continue;
    if (isGlob(t.name)) patterns.push({ match: globMatcher([t.name]), rules: [rule(t.acl)] });
    else exact.set(t.name, [...(exact.get(t.name) ?? []), rule(t.acl)]);
  }
  const defaults = (conf.config.default_acl ?? []).filter((d) => (d.scope ?? 'tools') === 'tools').map(rule);
  c = { exact, patterns, defaults, empty: exact.size === 0 && patterns.length === 0 && defaults.length === 0 };
  compiled.set(conf, c);
  return c;
}

/** The consumer as the ACL names it (Kong's `consumer_identifier`), or null without one. */
export function aclSubject(ctx: RequestContext, conf: CompiledMcp): string | null {
  const c = ctx.consumer;
  if (!c) return null;
  const v = conf.config.consumer_identifier === 'custom_id' ? c.custom_id : conf.config.consumer_identifier === 'consumer_id' ? c.id : c.username;
  return typeof v === 'string' && v !== '' ? v : null;
}

export function aclAllows(ctx: RequestContext, conf: CompiledMcp, tool: string): boolean {
  const acl = aclOf(conf);
  if (acl.empty) return true;
  const rules = acl.exact.get(tool) ?? acl.patterns.find((p) => p.match(tool))?.rules ?? acl.defaults;
  if (rules.length === 0) return true;
  const subject = aclSubject(ctx, conf);
  if (subject === null) return false;
  for (const r of rules) if (r.deny?.(subject)) return false;
  // several default entries with allow lists: the subject needs to be in one of them
  const allows = rules.filter((r) => r.allow !== null);
  return allows.length === 0 || allows.some((r) => r.allow!(subject));
}

registerToolPolicy({ name: 'acl', toolAllowed: aclAllows });
