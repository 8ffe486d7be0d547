/**
 * The entities the Configuration pages manage: their Admin API collection, their schema, how a
 * row is named, and the columns of their list. Names of related entities (a route's service, a
 * plugin's scope) come from a lookup of ids to names loaded beside the list.
 */
import { html } from '../../lib/html.ts';
import { apiAll } from '../../lib/api.ts';
import { when } from '../../lib/format.ts';

export type Row = Record<string, any>;

export type EntityKind = 'services' | 'routes' | 'plugins' | 'consumers';

/** Ids of services, routes and consumers → their names, for lists and selects. */
export type Names = Record<string, string>;

export interface Column {
  title: string;
  cell: (row: Row, names: Names) => unknown;
}

export interface EntityDesc {
  kind: EntityKind;
  /** Shown in tabs and headings. */
  title: string;
  singular: string;
  /** `GET /schemas/<schema>`. */
  schema: string;
  columns: Column[];
}

export function labelOf(row: Row): string {
  return row.name ?? row.username ?? row.custom_id ?? row.instance_name ?? row.id;
}

const tags = (row: Row) => (row.tags?.length ? row.tags.map((t: string) => html`<span class="badge">${t}</span> `) : '—');
const ref = (v: { id?: string } | null | undefined, names: Names) => (v?.id ? (names[v.id] ?? v.id) : null);

function serviceUrl(s: Row): string {
  return `${s.protocol}://${s.host}${s.port ? `:${s.port}` : ''}${s.path ?? ''}`;
}

function scopeOf(p: Row, names: Names): string {
  const parts = [p.route && `route ${ref(p.route, names)}`, p.service && `service ${ref(p.service, names)}`, p.consumer && `consumer ${ref(p.consumer, names)}`].filter(Boolean);
  return parts.length ? parts.join(', ') : 'global';
}

export const ENTITIES: Record<EntityKind, EntityDesc> = {
  services: {
    kind: 'services',
    title: 'Services',
    singular: 'service',
    schema: 'services',
    columns: [
      { title: 'URL', cell: (r) => html`<code>${serviceUrl(r)}</code>` },
      { title: 'Enabled', cell: (r) => (r.enabled === false ? html`<span class="badge warn">off</span>` : 'yes') },
      { title: 'Tags', cell: tags },
    ],
  },
  routes: {
    kind: 'routes',
    title: 'Routes',
    singular: 'route',
    schema: 'routes',
    columns: [
      { title: 'Paths', cell: (r) => (r.paths?.length ? r.paths.map((p: string) => html`<code>${p}</code> `) : '—') },
      { title: 'Methods', cell: (r) => r.methods?.join(', ') ?? 'any' },
      { title: 'Service', cell: (r, n) => ref(r.service, n) ?? '—' },
      { title: 'Tags', cell: tags },
    ],
  },
  plugins: {
    kind: 'plugins',
    title: 'Plugins',
    singular: 'plugin',
    schema: 'plugins',
    columns: [
      { title: 'Plugin', cell: (r) => html`<code>${r.name}</code>` },
      { title: 'Applies to', cell: scopeOf },
      { title: 'Enabled', cell: (r) => (r.enabled === false ? html`<span class="badge warn">off</span>` : 'yes') },
      { title: 'Tags', cell: tags },
    ],
  },
  consumers: {
    kind: 'consumers',
    title: 'Consumers',
    singular: 'consumer',
    schema: 'consumers',
    columns: [
      { title: 'Custom id', cell: (r) => r.custom_id ?? '—' },
      { title: 'Created', cell: (r) => when(r.created_at * 1000) },
      { title: 'Tags', cell: tags },
    ],
  },
};

/** Names of every service, route and consumer, by id. */
export async function loadNames(): Promise<Names> {
  const [services, routes, consumers] = await Promise.all([apiAll<Row>('/services'), apiAll<Row>('/routes'), apiAll<Row>('/consumers')]);
  const out: Names = {};
  for (const r of [...services, ...routes, ...consumers]) out[r.id] = labelOf(r);
  return out;
}

export { scopeOf };
