/**
 * Stored rows → Kong's declarative format (`GET /config`, `modelgate config db_export`): routes
 * nested in their service, plugins in the one entity they are scoped to (global and multi-scope
 * plugins at the top level, referencing by id), credentials in their consumer. Ids are kept, so
 * loading the export gives the same entities; timestamps and empty (null) fields are left out.
 */
import YAML from 'yaml';
import type { ConfigData, Row } from '../store/types.ts';
import { FORMAT_VERSION } from './model.ts';

const DROP = new Set(['created_at', 'updated_at']);

function clean(row: Row, nestedUnder?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined || DROP.has(k) || k === nestedUnder) continue;
    // other foreign keys: Kong's format references by name or id; the id is always there
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { id?: unknown }).id === 'string' && Object.keys(v).length === 1 ? (v as { id: string }).id : v;
  }
  return out;
}

const scopes = (p: Row): string[] => ['route', 'service', 'consumer'].filter((f) => p[f]?.id);

export function exportConfig(data: ConfigData): Record<string, unknown> {
  const pluginsBy = new Map<string, Row[]>();
  const topPlugins: Row[] = [];
  for (const p of data.plugins ?? []) {
    const s = scopes(p);
    if (s.length === 1) {
      const key = `${s[0]}:${p[s[0]].id}`;
      pluginsBy.set(key, [...(pluginsBy.get(key) ?? []), p]);
    } else topPlugins.push(p);
  }
  const withPlugins = (scope: string, row: Row, nestedUnder?: string) => {
    const out = clean(row, nestedUnder);
    const plugins = pluginsBy.get(`${scope}:${row.id}`);
    if (plugins?.length) out.plugins = plugins.map((p) => clean(p, scope));
    return out;
  };
  const routesBy = new Map<string, Row[]>();
  const topRoutes: Row[] = [];
  for (const r of data.routes ?? []) {
    if (r.service?.id) routesBy.set(r.service.id, [...(routesBy.get(r.service.id) ?? []), r]);
    else topRoutes.push(r);
  }
  const credsBy = new Map<string, Row[]>();
  for (const k of data.keyauth_credentials ?? []) credsBy.set(k.consumer.id, [...(credsBy.get(k.consumer.id) ?? []), k]);

  const doc: Record<string, unknown> = { _format_version: FORMAT_VERSION };
  const services = (data.services ?? []).map((s) => {
    const out = withPlugins('service', s);
    const routes = routesBy.get(s.id);
    if (routes?.length) out.routes = routes.map((r) => withPlugins('route', r, 'service'));
    return out;
  });
  if (services.length) doc.services = services;
  if (topRoutes.length) doc.routes = topRoutes.map((r) => withPlugins('route', r));
  const consumers = (data.consumers ?? []).map((c) => {
    const out = withPlugins('consumer', c);
    const creds = credsBy.get(c.id);
    if (creds?.length) out.keyauth_credentials = creds.map((k) => clean(k, 'consumer'));
    return out;
  });
  if (consumers.length) doc.consumers = consumers;
  if (topPlugins.length) doc.plugins = topPlugins.map((p) => clean(p));
  return doc;
}

export function toYaml(doc: unknown): string {
  return YAML.stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}
