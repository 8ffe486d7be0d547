/** The request log's table: one spend row per line, newest first; the request id opens its detail. */
import { html } from '../../lib/html.ts';
import { count, money, ms, when } from '../../lib/format.ts';
import type { SpendRow } from '../../../../spend/types.ts';
import { nameOf, type Names } from './names.ts';

/** Badge class for a status: green 2xx, orange 4xx, red 5xx. */
export function statusClass(status: number): string {
  return status >= 500 ? 'err' : status >= 400 ? 'warn' : 'ok';
}

export function detailHref(row: SpendRow): string {
  return `#/requests/${encodeURIComponent(row.request_id)}?at=${row.time}`;
}

export function RequestsTable(props: { rows: SpendRow[]; names: Names }) {
  const { rows, names } = props;
  return html`<div class="rq-table-wrap">
    <table class="rq-table">
      <caption class="rq-sr-only">Requests, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Status</th>
          <th scope="col">Route</th>
          <th scope="col">Consumer</th>
          <th scope="col">Model</th>
          <th scope="col">Provider</th>
          <th scope="col" class="num">Tokens</th>
          <th scope="col" class="num">Cost</th>
          <th scope="col" class="num">Latency</th>
          <th scope="col" class="num">TTFT</th>
          <th scope="col">Stream</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) => html`<tr key=${`${r.time}/${r.request_id}`} data-request-id=${r.request_id}>
            <td class="rq-time"><a href=${detailHref(r)} title=${`Request ${r.request_id}`}>${when(r.time)}</a></td>
            <td><span class=${`badge ${statusClass(r.status)}`}>${r.status}</span>${r.error_class && html` <span class="rq-error">${r.error_class}</span>`}</td>
            <td>${nameOf(names.routes, r.route_id)}</td>
            <td>${nameOf(names.consumers, r.consumer_id)}</td>
            <td class="rq-model">${r.model_served ?? r.model_requested ?? '—'}</td>
            <td>${r.provider ?? '—'}</td>
            <td class="num">${count(r.total_tokens)}${r.estimated ? html`<abbr title="estimated by the gateway: the provider reported no usage">*</abbr>` : ''}</td>
            <td class="num rq-cost">${money(r.cost)}</td>
            <td class="num">${ms(r.latency_ms)}</td>
            <td class="num">${ms(r.ttft_ms)}</td>
            <td>${r.stream ? 'yes' : 'no'}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
