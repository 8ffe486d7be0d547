/**
 * One request of the log (`#/requests/<request_id>?at=<ms>`): every field of its spend row, the
 * usage by kind, cost, latencies and error. A spend row holds ids, never a key (the key-auth
 * credential is its id). Where the row has them (SpendRow.attempts, SpendRow.payload: rows of
 * older gateways do not), a balanced route's calls to its targets and the bodies of a route that
 * logs payloads (extras.ts).
 */
import { html } from '../../lib/html.ts';
import { api } from '../../lib/api.ts';
import { count, money, ms, when } from '../../lib/format.ts';
import { ErrorBox, Loading, PageHeader, useAsync } from '../../lib/ui.ts';
import type { RequestsAnswer, SpendRow } from '../../../../spend/types.ts';
import { detailPath } from './query.ts';
import { nameOf, type Names } from './names.ts';
import { statusClass } from './table.ts';
import { Attempts, Payloads } from './extras.ts';

type Field = [label: string, value: unknown];

function Fields(props: { title: string; fields: Field[] }) {
  return html`<section class="card rq-section" aria-label=${props.title}>
    <h2>${props.title}</h2>
    <dl class="rq-fields">
      ${props.fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
    </dl>
  </section>`;
}

const withId = (name: string, id: string | null) => (id === null ? '—' : html`${name !== id.slice(0, 8) ? html`${name} ` : ''}<code>${id}</code>`);
const yesNo = (b: boolean) => (b ? 'yes' : 'no');

export function RequestDetail(props: { row: SpendRow; names: Names }) {
  const { row: r, names } = props;
  const ok = r.error_class === null;
  return html`<div class="rq-detail">
    <div class="rq-summary card">
      <div><span class="rq-k">Status</span> <span class=${`badge ${statusClass(r.status)}`}>${r.status}</span></div>
      <div><span class="rq-k">Cost</span> <strong class="rq-detail-cost">${money(r.cost)}</strong></div>
      <div><span class="rq-k">Latency</span> <strong>${ms(r.latency_ms)}</strong></div>
      <div><span class="rq-k">Time to first token</span> <strong>${ms(r.ttft_ms)}</strong></div>
      <div><span class="rq-k">Tokens</span> <strong>${count(r.total_tokens)}</strong></div>
      ${!ok && html`<div><span class="rq-k">Error</span> <strong class="rq-error">${r.error_class}</strong></div>`}
    </div>
    <div class="rq-detail-grid">
      <${Fields}
        title="Details"
        fields=${[
          ['Request id', html`<code>${r.request_id}</code>`],
          ['Time', `${when(r.time)} (${new Date(r.time).toISOString()})`],
          ['Client API', r.client_api ?? '—'],
          ['Streamed', yesNo(r.stream)],
          ['Answered from cache', yesNo(r.cache_hit)],
          ['Error class', r.error_class ?? 'none'],
        ]}
      />
      <${Fields}
        title="Who and where"
        fields=${[
          ['Route', withId(nameOf(names.routes, r.route_id), r.route_id)],
          ['Service', r.service_id ? html`<code>${r.service_id}</code>` : '—'],
          ['Plugin', r.plugin_id ? html`<code>${r.plugin_id}</code>` : '—'],
          ['Consumer', withId(nameOf(names.consumers, r.consumer_id), r.consumer_id)],
          ['Credential', r.credential_id ? html`<code>${r.credential_id}</code> <span class="hint">(key-auth credential id; the key is never logged)</span>` : '—'],
        ]}
      />
      <${Fields}
        title="Model"
        fields=${[
          ['Provider', r.provider ?? '—'],
          ['Model requested', r.model_requested ?? '—'],
          ['Model served', r.model_served ?? '—'],
        ]}
      />
      <${Fields}
        title="Usage"
        fields=${[
          ['Prompt tokens', count(r.prompt_tokens)],
          ['of which cached', count(r.cached_tokens)],
          ['of which cache writes', count(r.cache_write_tokens)],
          ['Completion tokens', count(r.completion_tokens)],
          ['of which reasoning', count(r.reasoning_tokens)],
          ['Total tokens', count(r.total_tokens)],
          ['Estimated', r.estimated ? 'yes: the provider reported no usage, the gateway counted' : 'no: as the provider reported'],
        ]}
      />
      <${Fields}
        title="Cost and time"
        fields=${[
          ['Cost', r.cost === null ? 'not priced (no price for this model)' : html`${money(r.cost)} <span class="hint">(exactly <span class="rq-exact-cost">${r.cost}</span> USD)</span>`],
          ['Latency', `${ms(r.latency_ms)} (${r.latency_ms} ms)`],
          ['Time to first token', r.ttft_ms === null ? '— (not streamed)' : `${ms(r.ttft_ms)} (${r.ttft_ms} ms)`],
        ]}
      />
    </div>
    <${Attempts} row=${r} />
    <${Payloads} row=${r} />
    <details class="card">
      <summary>The spend row as the Usage API gives it</summary>
      <pre>${JSON.stringify(r, null, 2)}</pre>
    </details>
  </div>`;
}

/** The detail page: the row fetched by its id (and time, when the link has it). */
export function RequestDetailPage(props: { requestId: string; at: number | null; names: Names; backHref: string }) {
  const { data, error, loading } = useAsync((signal) => api<RequestsAnswer & { next: string | null }>(detailPath(props.requestId, props.at), { signal }), [props.requestId, props.at]);
  // the answer of a previous link stays in `data` while the next one loads: never show it as this one
  const current = !loading && !error && data !== undefined;
  const row = current ? data.data.find((r) => r.request_id === props.requestId) : undefined;
  return html`<div class="rq-page">
    <p class="rq-back"><a href=${props.backHref}>← All requests</a></p>
    <${PageHeader} title="Request" />
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${loading ? html`<${Loading} what="the request" />` : null}
    ${current && !row ? html`<p class="empty">No request <code>${props.requestId}</code> in the spend log (it may be older than the log keeps).</p>` : null}
    ${row ? html`<${RequestDetail} row=${row} names=${props.names} />` : null}
  </div>`;
}
