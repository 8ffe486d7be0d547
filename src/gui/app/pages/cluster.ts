/**
 * The cluster view (issue 20): the nodes (`GET /cluster/nodes`: this node and, in PostgreSQL
 * mode, the peers of the node registry), then this node as `GET /status` and `GET /` describe it
 * — configuration version and what each worker applied, the database and its change feed, Redis,
 * the workers' memory, uptime — refreshed every 5 s.
 */
import { useCallback, useRef } from 'preact/hooks';
import { html } from '../lib/html.ts';
import { api } from '../lib/api.ts';
import { bytes, count, when } from '../lib/format.ts';
import { ErrorBox, Loading, PageHeader, useAsync, useInterval } from '../lib/ui.ts';
import type { NodeInfo } from '../lib/node.ts';
import type { PageProps } from '../main.ts';
import type { NodeStatus } from './cluster/status.ts';
import { uptime } from './cluster/status.ts';
import { NodesCard, type ClusterNodes } from './cluster/nodes.ts';

const REFRESH_MS = 5000;

type Info = NodeInfo & { node_version?: string; pids?: { master: number; workers: number[] } };

interface Snapshot {
  status: NodeStatus;
  info: Info;
  /** the node list, or why it could not be read (this node's cards still show) */
  nodes: ClusterNodes | undefined;
  nodesError: unknown;
  at: number;
}

function Badge(props: { ok: boolean | null; yes: string; no: string; warn?: boolean }) {
  const cls = props.ok ? 'ok' : props.warn ? 'warn' : 'err';
  return html`<span class=${`badge ${cls}`}>${props.ok ? props.yes : props.no}</span>`;
}

function Item(props: { label: string; children: unknown; id?: string }) {
  return html`<div class="cl-item"><dt>${props.label}</dt><dd data-field=${props.id}>${props.children}</dd></div>`;
}

const listen = (v: unknown) => (Array.isArray(v) && v.length ? v.join(', ') : 'off');

function NodeCard(props: { s: Snapshot }) {
  const { status, info } = props.s;
  return html`<section class="card" aria-labelledby="cl-node">
    <h2 id="cl-node">This node</h2>
    <dl class="cl-items">
      <${Item} label="Hostname" id="hostname">${info.hostname}<//>
      <${Item} label="Node id" id="node_id"><code>${info.node_id}</code><//>
      <${Item} label="modelgate" id="version">${info.version}<//>
      <${Item} label="Node.js" id="node_version">${info.node_version ?? '—'}<//>
      <${Item} label="Uptime" id="uptime">${uptime(status.server.uptime_seconds)}<//>
      <${Item} label="Primary process" id="master_pid">pid ${info.pids?.master ?? '—'}, ${bytes(status.memory.primary_rss_bytes)} RSS<//>
      <${Item} label="Proxy listens on" id="proxy_listen">${listen(info.configuration.proxy_listen)}<//>
      <${Item} label="Admin API listens on" id="admin_listen">${listen(info.configuration.admin_listen)}<//>
    </dl>
  </section>`;
}

function ConfigCard(props: { s: Snapshot }) {
  const { configuration: c, server } = props.s.status;
  return html`<section class="card" aria-labelledby="cl-config">
    <h2 id="cl-config">Configuration</h2>
    <dl class="cl-items">
      <${Item} label="Version" id="config_version">${c.version}<//>
      <${Item} label="Workers serving it" id="workers_ready">${server.workers_ready} of ${server.workers}<//>
      <${Item} label="State" id="config_state"
        >${c.stale
          ? html`<span class="badge warn">stale</span> <span class="hint">the store could not be read lately: workers serve the last configuration they got</span>`
          : html`<span class="badge ok">current</span>`}<//
      >
    </dl>
  </section>`;
}

function DatabaseCard(props: { s: Snapshot }) {
  const db = props.s.status.database;
  return html`<section class="card" aria-labelledby="cl-db">
    <h2 id="cl-db">Database</h2>
    <dl class="cl-items">
      <${Item} label="Kind" id="db_kind">${db.kind === 'off' ? 'none (DB-less, declarative)' : db.kind}<//>
      <${Item} label="Reachable" id="db_reachable"><${Badge} ok=${db.reachable} yes="reachable" no="unreachable" /><//>
      ${db.error && html`<${Item} label="Error" id="db_error"><span class="cl-error">${db.error}</span><//>`}
      ${db.change_feed !== undefined && html`<${Item} label="Change feed" id="change_feed"><${Badge} ok=${db.change_feed === 'listening'} yes="listening" no=${db.change_feed} warn=${true} /><//>`}
      ${db.source !== undefined && html`<${Item} label="Declarative source" id="db_source">${db.source ?? '—'}<//>`}
    </dl>
  </section>`;
}

function RedisCard(props: { s: Snapshot }) {
  const { redis, server } = props.s.status;
  return html`<section class="card" aria-labelledby="cl-redis">
    <h2 id="cl-redis">Redis</h2>
    ${!redis
      ? html`<p class="hint">This gateway's <code>/status</code> does not report Redis.</p>`
      : !redis.configured
        ? html`<p data-field="redis">Not configured (<code>MODELGATE_REDIS_URL</code>): shared counters and the cache are per node.</p>`
        : html`<dl class="cl-items">
            <${Item} label="Workers connected" id="redis"
              ><${Badge} ok=${redis.workers_connected === server.workers} yes=${`${redis.workers_connected} of ${server.workers}`} no=${`${redis.workers_connected} of ${server.workers}`} warn=${redis.workers_connected! > 0} /><//
            >
          </dl>
          <p class="hint">Each worker holds its own connection and reports it every 5 s; one that is not connected counts locally until Redis is back.</p>`}
  </section>`;
}

function WorkersCard(props: { s: Snapshot }) {
  const { status, info } = props.s;
  const pids = info.pids?.workers ?? [];
  const current = status.configuration.version;
  const memory = new Map(status.memory.workers.map((m) => [m.pid, m]));
  return html`<section class="card" aria-labelledby="cl-workers">
    <h2 id="cl-workers">Workers (${status.server.workers})</h2>
    <table class="cl-workers">
      <thead>
        <tr>
          <th scope="col">Worker</th>
          <th scope="col">pid</th>
          <th scope="col" class="num">Configuration applied</th>
          <th scope="col" class="num">Memory (RSS)</th>
          <th scope="col" class="num">Heap used</th>
          <th scope="col" class="num">Heap total</th>
        </tr>
      </thead>
      <tbody>
        ${status.configuration.applied_versions.map((v, i) => {
          const pid = pids[i];
          const m = pid === undefined ? undefined : memory.get(pid);
          return html`<tr data-pid=${pid}>
            <td>${i + 1}</td>
            <td>${pid ?? '—'}</td>
            <td class="num">${v} ${v >= current ? html`<span class="badge ok">current</span>` : html`<span class="badge warn">behind</span>`}</td>
            ${m
              ? html`<td class="num">${bytes(m.rss_bytes)}</td><td class="num">${bytes(m.heap_used_bytes)}</td><td class="num">${bytes(m.heap_total_bytes)}</td>`
              : html`<td class="num hint" colspan="3">not reported yet (every 5 s)</td>`}
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

export function ClusterPage(_props: PageProps) {
  const load = useCallback(async (signal: AbortSignal): Promise<Snapshot> => {
    // `/` each time too: its worker pids follow restarts, in the order of applied_versions
    const [status, info, nodes] = await Promise.all([
      api<NodeStatus>('/status', { signal }),
      api<Info>('/', { signal }),
      api<ClusterNodes>('/cluster/nodes', { signal }).then(
        (list) => ({ list, error: null }),
        (error: unknown) => ({ list: undefined, error }),
      ),
    ]);
    return { status, info, nodes: nodes.list, nodesError: nodes.error, at: Date.now() };
  }, []);
  const { data, error, loading, reload } = useAsync(load, []);
  // one timer for the page's life (reload is a new function each render)
  const latest = useRef(reload);
  latest.current = reload;
  const tick = useCallback(() => latest.current(), []);
  useInterval(tick, REFRESH_MS);
  return html`<div class="cl-page">
    <${PageHeader} title="Cluster">
      <span class="hint" role="status">${data ? `Updated ${when(data.at)} · every 5 s` : ''}</span>
      <button type="button" onClick=${reload}>Refresh</button>
    <//>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${!data && loading ? html`<${Loading} what="the node's status" />` : null}
    ${data &&
    html`<${NodesCard} list=${data.nodes} error=${data.nodesError} />
      <div class="cl-grid">
        <${NodeCard} s=${data} />
        <${ConfigCard} s=${data} />
        <${DatabaseCard} s=${data} />
        <${RedisCard} s=${data} />
      </div>
      <${WorkersCard} s=${data} />
      <p class="hint">${count(data.status.server.workers)} worker${data.status.server.workers === 1 ? '' : 's'} on this node; the primary process holds the configuration, the database connection and the node's shared counters.</p>`}
  </div>`;
}
