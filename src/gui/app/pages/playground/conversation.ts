/**
 * The conversation: each turn's user message and the answer as it streams, then the answer's
 * figures side by side — what the stream reported and the browser measured, and what the gateway
 * recorded in its spend row (tokens, cost, latency, time to first token). Errors are shown in the
 * turn they belong to, as the gateway said them.
 */
import { useEffect, useRef } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { count, money, ms } from '../../lib/format.ts';
import type { TurnResult } from './chat.ts';
import type { SpendRow } from './spend.ts';

export interface Turn {
  user: string;
  answer: TurnResult;
  /** The spend row: undefined while looked up, null when it did not come. */
  spend: SpendRow | null | undefined;
  /** Why the spend row could not be read (the Usage API's error). */
  spendError: string | null;
}

const STATE_LABEL: Record<TurnResult['state'], string> = { waiting: 'waiting…', streaming: 'streaming…', done: 'done', error: 'failed', stopped: 'stopped' };

export function Conversation(props: { turns: Turn[] }) {
  const end = useRef<HTMLDivElement>(null);
  const last = props.turns[props.turns.length - 1];
  // follow the answer as it grows
  useEffect(() => end.current?.scrollIntoView({ block: 'end' }), [props.turns.length, last?.answer.text, last?.answer.state]);
  if (props.turns.length === 0) return html`<div class="pg-conversation"><p class="empty">No messages yet: write one below and press Enter.</p></div>`;
  return html`<div class="pg-conversation" role="log" aria-label="Conversation">
    ${props.turns.map((t, i) => html`<${TurnView} turn=${t} n=${i + 1} />`)}
    <div ref=${end}></div>
  </div>`;
}

function TurnView(props: { turn: Turn; n: number }) {
  const { answer } = props.turn;
  const busy = answer.state === 'waiting' || answer.state === 'streaming';
  return html`<article class="pg-turn" aria-label=${`Turn ${props.n}`}>
    <div class="pg-msg pg-user"><span class="pg-role">You</span><div class="pg-text">${props.turn.user}</div></div>
    <div class="pg-msg pg-assistant" aria-busy=${busy ? 'true' : 'false'}>
      <span class="pg-role">Assistant <span class=${`badge ${answer.state === 'done' ? 'ok' : answer.state === 'error' ? 'err' : answer.state === 'stopped' ? 'warn' : ''}`}>${STATE_LABEL[answer.state]}</span></span>
      <div class="pg-text" aria-label=${`Answer ${props.n}`}>${answer.text}${busy ? html`<span class="pg-caret" aria-hidden="true"></span>` : null}</div>
      ${answer.error && html`<div class="error-box" role="alert">${answer.error}</div>`}
      ${!busy && html`<${Figures} turn=${props.turn} n=${props.n} />`}
    </div>
  </article>`;
}

function Cell(props: { v: string; exact?: number | null }) {
  return html`<td class="num" data-value=${props.exact === undefined || props.exact === null ? undefined : String(props.exact)} title=${props.exact === undefined || props.exact === null ? undefined : String(props.exact)}>${props.v}</td>`;
}

function Figures(props: { turn: Turn; n: number }) {
  const { answer, spend, spendError } = props.turn;
  const u = answer.usage;
  const cached = u?.prompt_tokens_details?.cached_tokens;
  const reasoning = u?.completion_tokens_details?.reasoning_tokens;
  const rows: [string, string, number | null | undefined, string, number | null | undefined][] = [
    ['Prompt tokens', count(u?.prompt_tokens), u?.prompt_tokens, count(spend?.prompt_tokens), spend?.prompt_tokens],
    ['Completion tokens', count(u?.completion_tokens), u?.completion_tokens, count(spend?.completion_tokens), spend?.completion_tokens],
    ['Total tokens', count(u?.total_tokens), u?.total_tokens, count(spend?.total_tokens), spend?.total_tokens],
  ];
  if ((cached ?? 0) > 0 || (spend?.cached_tokens ?? 0) > 0) rows.push(['Cached prompt tokens', count(cached), cached, count(spend?.cached_tokens), spend?.cached_tokens]);
  if ((spend?.cache_write_tokens ?? 0) > 0) rows.push(['Cache write tokens', '—', null, count(spend?.cache_write_tokens), spend?.cache_write_tokens]);
  if ((reasoning ?? 0) > 0 || (spend?.reasoning_tokens ?? 0) > 0) rows.push(['Reasoning tokens', count(reasoning), reasoning, count(spend?.reasoning_tokens), spend?.reasoning_tokens]);
  rows.push(['Time to first token', ms(answer.ttftMs), answer.ttftMs, ms(spend?.ttft_ms), spend?.ttft_ms]);
  rows.push(['Latency', ms(answer.latencyMs), answer.latencyMs, ms(spend?.latency_ms), spend?.latency_ms]);
  rows.push(['Cost', '—', null, spend ? money(spend.cost) : '—', spend?.cost]);
  const gatewayNote =
    spendError !== null ? html`<p class="field-error" role="alert">Gateway figures unavailable: ${spendError}</p>`
    : spend === undefined && answer.requestId ? html`<p class="hint" role="status">Looking up the gateway's spend row…</p>`
    : spend === null ? html`<p class="hint">No spend row for this request (the spend log may be off).</p>`
    : null;
  return html`<div class="pg-figures">
    <table aria-label=${`Answer ${props.n} figures`}>
      <thead><tr><th scope="col">Figure</th><th scope="col" class="num">In the browser</th><th scope="col" class="num">Gateway (spend log)</th></tr></thead>
      <tbody>
        ${rows.map(([name, a, ax, g, gx]) => html`<tr><th scope="row">${name}</th><${Cell} v=${a} exact=${ax} /><${Cell} v=${g} exact=${gx} /></tr>`)}
      </tbody>
    </table>
    <p class="hint">
      ${answer.httpStatus !== null ? html`HTTP ${answer.httpStatus}` : null}
      ${answer.model ? html` · model <code>${answer.model}</code>` : null}
      ${answer.finishReason ? html` · finish <code>${answer.finishReason}</code>` : null}
      ${answer.requestId ? html` · request id <code>${answer.requestId}</code>` : null}
      ${spend?.estimated ? ' · usage estimated by the gateway' : null}
    </p>
    ${gatewayNote}
  </div>`;
}
