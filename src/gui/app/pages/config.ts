/**
 * Configuration (`#/config/...`): services, routes, plugins, consumers with their key-auth
 * credentials, budgets (ai-budget plugins), the "new AI route" flow, and on a DB-less node the
 * declarative file. This module is the router and the tabs; each view is in pages/config/.
 *
 *   #/config/<kind>            list          (kind: services, routes, plugins, consumers)
 *   #/config/<kind>/new        create form   (plugins: ?name=<plugin>&route=<id> ...)
 *   #/config/<kind>/<id>       edit form     (read-only on a DB-less node)
 *   #/config/budgets  #/config/new-ai-route  #/config/declarative
 */
import { html } from '../lib/html.ts';
import { isDbless, useNodeInfo } from '../lib/node.ts';
import { Loading, PageHeader } from '../lib/ui.ts';
import type { PageProps } from '../main.ts';
import { ENTITIES, scopeOf, type EntityDesc, type EntityKind, type Row } from './config/entities.ts';
import { EntityList } from './config/list.ts';
import { EntityEditor } from './config/edit.ts';
import { Credentials } from './config/credentials.ts';
import { NewAiRoute } from './config/new-ai-route.ts';
import { Declarative } from './config/declarative.ts';
import { money } from '../lib/format.ts';

const KINDS: EntityKind[] = ['routes', 'services', 'plugins', 'consumers'];

interface Tab {
  path: string;
  title: string;
}

function tabsFor(dbless: boolean): Tab[] {
  const tabs: Tab[] = [...KINDS.map((k) => ({ path: k, title: ENTITIES[k].title })), { path: 'budgets', title: 'Budgets' }];
  if (!dbless) tabs.push({ path: 'new-ai-route', title: 'New AI route' });
  if (dbless) tabs.push({ path: 'declarative', title: 'Declarative' });
  return tabs;
}

function Tabs(props: { tabs: Tab[]; current: string }) {
  return html`<nav class="config-tabs" aria-label="Configuration">
    <ul>
      ${props.tabs.map((t) => html`<li><a href=${`#/config/${t.path}`} aria-current=${props.current === t.path ? 'page' : undefined}>${t.title}</a></li>`)}
    </ul>
  </nav>`;
}

/** ai-budget plugins: the plugins list filtered, with the limits spelled out. */
const BUDGETS: EntityDesc = {
  ...ENTITIES.plugins,
  title: 'Budgets',
  singular: 'budget',
  columns: [
    { title: 'Applies to', cell: scopeOf },
    { title: 'Limits', cell: (r: Row) => (r.config?.budgets ?? []).map((b: Row) => `${money(b.amount)} per ${b.period} (${b.window}, warn at ${Math.round(b.soft_limit * 100)}%)`).join('; ') },
    { title: 'Per', cell: (r: Row) => r.config?.identifier ?? '—' },
    { title: 'Enabled', cell: (r: Row) => (r.enabled === false ? 'off' : 'yes') },
  ],
};

export function ConfigPage(props: PageProps) {
  const info = useNodeInfo();
  if (!info) return html`<${PageHeader} title="Configuration" /><${Loading} />`;
  const dbless = isDbless(info);
  const [, , section = 'routes', sub] = props.loc.path.split('/');
  const kind = (KINDS as string[]).includes(section) ? (section as EntityKind) : null;
  const newButton = (href: string, label: string) => !dbless && html`<a class="button primary" href=${href}>${label}</a>`;

  let header = null;
  let body;
  if (kind && sub) {
    const id = sub === 'new' ? null : decodeURIComponent(sub);
    body = html`<${EntityEditor} key=${`${kind}/${sub}`} kind=${kind} id=${id} query=${props.loc.query} readOnly=${dbless} />
      ${kind === 'consumers' && id && html`<${Credentials} consumerId=${id} readOnly=${dbless} />`}`;
  } else if (kind) {
    header = newButton(`#/config/${kind}/new`, `New ${ENTITIES[kind].singular}`);
    body = html`<${EntityList} key=${kind} desc=${ENTITIES[kind]} readOnly=${dbless} />`;
  } else if (section === 'budgets') {
    header = newButton('#/config/plugins/new?name=ai-budget&from=budgets', 'New budget');
    body = html`<${EntityList}
      key="budgets"
      desc=${BUDGETS}
      readOnly=${dbless}
      filter=${(r: Row) => r.name === 'ai-budget'}
      empty="No budgets: an ai-budget plugin on a route, service or consumer caps what it may spend per day, week or month."
    />`;
  } else if (section === 'new-ai-route') {
    body = dbless ? html`<p class="empty">A DB-less node's configuration changes only by uploading a declarative file.</p>` : html`<${NewAiRoute} />`;
  } else if (section === 'declarative') {
    body = html`<${Declarative} dbless=${dbless} />`;
  } else {
    body = html`<p>No configuration page at <code>${props.loc.path}</code>.</p>`;
  }
  return html`<div class="config-page">
    <${PageHeader} title="Configuration">${header}<//>
    <${Tabs} tabs=${tabsFor(dbless)} current=${section} />
    ${body}
  </div>`;
}
