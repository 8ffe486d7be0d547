/**
 * The cluster page's node table: `GET /cluster/nodes` (src/server/cluster-nodes.ts) — this node
 * first, then the peers sharing its PostgreSQL database, each with its version, configuration
 * version (a node behind the newest is marked), ready workers, memory, last heartbeat and state.
 */
import { html } from '../../lib/html.ts';
import { bytes } from '../../lib/format.ts';
import { ErrorBox } from '../../lib/ui.ts';
import { ago } from './status.ts';

import type { ClusterNode, ClusterNodesAnswer } from '../../../../server/cluster-node-types.ts';

export type { ClusterNode };
/** The answer as the page reads it (`next` unused). */
export type ClusterNodes = Omit<ClusterNodesAnswer, 'next'>;

function Note(props: { list: ClusterNodes }) {
  const r = props.list.registry;
  if (r.kind === 'none') return html`<p class="hint cl-note">No shared database (SQLite or DB-less): nodes share nothing, so this node is the whole list.</p>`;
  if (!r.reachable) return html`<p class="cl-note"><span class="badge warn">peers unknown</span> <span class="cl-error">the node registry cannot be read: ${r.error}</span></p>`;
  return html`<p class="hint cl-note">Each node writes its row every ${r.heartbeat_ms / 1000} s; one silent for 3 of its heartbeats is unreachable, one stopped cleanly leaves the list.</p>`;
}

export function NodesCard(props: { list: ClusterNodes | undefined; error: unknown }) {
  const { list, error } = props;
  return html`<section class="card" aria-labelledby="cl-nodes">
    <h2 id="cl-nodes">Nodes${list ? ` (${list.data.length})` : ''}</h2>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${list &&
    html`<table class="cl-nodes">
        <thead>
          <tr>
            <th scope="col">Hostname</th>
            <th scope="col">Id</th>
            <th scope="col">Version</th>
            <th scope="col" class="num">Configuration</th>
            <th scope="col" class="num">Workers ready</th>
            <th scope="col" class="num">Primary RSS</th>
            <th scope="col" class="num">Workers RSS</th>
            <th scope="col">Last seen</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          ${list.data.map((n) => {
            const behind = n.configuration_version < list.configuration_version;
            return html`<tr data-id=${n.id} class=${[n.self ? 'self' : '', behind ? 'behind' : ''].join(' ').trim() || undefined}>
              <td>${n.hostname}${n.self ? html` <span class="badge">this node</span>` : null}</td>
              <td><code title=${n.id}>${n.id.slice(0, 8)}</code></td>
              <td>${n.version}</td>
              <td class="num">${n.configuration_version}${behind ? html` <span class="badge warn" title=${`the newest is ${list.configuration_version}`}>behind</span>` : null}</td>
              <td class="num">${n.workers_ready} of ${n.workers}</td>
              <td class="num">${bytes(n.memory.primary_rss_bytes)}</td>
              <td class="num">${bytes(n.memory.workers_rss_bytes)}</td>
              <td title=${n.last_seen ?? undefined}>${n.self && n.last_seen === null ? '—' : ago(n.last_seen_age_ms)}</td>
              <td><span class=${`badge ${n.state === 'running' ? 'ok' : 'err'}`}>${n.state}</span></td>
            </tr>`;
          })}
        </tbody>
      </table>
      <${Note} list=${list} />`}
  </section>`;
}
