/**
 * What a spend row holds beyond the request's own figures, when it holds it: the attempts of a
 * balanced route (ai-proxy-advanced: each target called, in order) and the payloads of a route
 * that logs them. Rows of an older gateway have neither field; both are null when not recorded.
 */
import { html } from '../../lib/html.ts';
import { ms } from '../../lib/format.ts';
import type { SpendRow } from '../../../../spend/types.ts';

/** Rows of a gateway older than these fields have neither. */
export type RowExtras = Partial<Pick<SpendRow, 'attempts' | 'payload'>>;

export function Attempts(props: { row: SpendRow }) {
  const attempts = (props.row as SpendRow & RowExtras).attempts;
  if (!attempts || attempts.length === 0) return null;
  return html`<section class="card" aria-label="Attempts">
    <h2>Attempts of the balanced route</h2>
    <table class="rq-attempts">
      <thead>
        <tr><th scope="col">#</th><th scope="col">Target</th><th scope="col">Provider</th><th scope="col">Model</th><th scope="col">Answer</th><th scope="col" class="num">Latency</th></tr>
      </thead>
      <tbody>
        ${attempts.map(
          (a, i) => html`<tr>
            <td>${i + 1}</td>
            <td>targets[${a.target}]</td>
            <td>${a.provider}</td>
            <td>${a.model}</td>
            <td>${a.status !== undefined ? html`<span class=${`badge ${a.status >= 500 ? 'err' : a.status >= 400 ? 'warn' : 'ok'}`}>${a.status}</span>` : html`<span class="rq-error">${a.error ?? 'no answer'}</span>`}</td>
            <td class="num">${ms(a.latency_ms)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

export function Payloads(props: { row: SpendRow }) {
  const payload = (props.row as SpendRow & RowExtras).payload;
  if (!payload) return null;
  return html`<section class="card" aria-label="Payloads">
    <h2>Payloads <span class="hint">(the route logs them; bodies only, never headers)</span></h2>
    <h3 class="rq-payload-h">Request body</h3>
    <pre>${payload.request}</pre>
    <h3 class="rq-payload-h">Response body</h3>
    <pre>${payload.response}</pre>
  </section>`;
}
