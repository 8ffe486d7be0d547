/**
 * The dashboard's headline figures: `/usage`'s totals for the range, as the API gave them, in two
 * rows of four — what went through (requests, errors, tokens, cost), then how fast (latency and
 * time to first token, p50 and p95). Each tile carries the exact value in `data-value` (the text
 * is rounded for reading), so the browser test compares the API's number, not a rounding of it.
 */
import { html } from '../../lib/html.ts';
import { compact, count, money, ms, percent } from '../../lib/format.ts';
import type { UsageTotals } from './data.ts';

function Tile(props: { metric: string; label: string; value: number | null; text: string; sub?: string; title?: string }) {
  return html`<div class="tile" data-metric=${props.metric} data-value=${props.value === null ? '' : String(props.value)} title=${props.title}>
    <div class="tile-label">${props.label}</div>
    <div class="tile-value">${props.text}</div>
    ${props.sub && html`<div class="tile-sub">${props.sub}</div>`}
  </div>`;
}

export function Totals(props: { totals: UsageTotals }) {
  const t = props.totals;
  const rate = t.requests > 0 ? t.errors / t.requests : null;
  // no streamed request in the range: no time to first token (not zero)
  const ttftSub = t.ttft_p50_ms === null ? (t.requests > 0 ? 'no streamed request' : 'no requests') : 'streamed requests';
  return html`<section class="tiles tiles-main" aria-label="Totals">
    <${Tile} metric="requests" label="Requests" value=${t.requests} text=${count(t.requests)} />
    <${Tile} metric="errors" label="Errors" value=${t.errors} text=${count(t.errors)} sub=${rate === null ? 'no requests' : `${percent(rate)} error rate`} />
    <${Tile} metric="total_tokens" label="Tokens" value=${t.total_tokens} text=${compact(t.total_tokens)} title=${count(t.total_tokens)} />
    <${Tile} metric="cost" label="Cost" value=${t.cost} text=${money(t.cost)} title=${`$${t.cost}`} sub=${t.unpriced_requests > 0 ? `+ ${count(t.unpriced_requests)} unpriced requests` : undefined} />
    <${Tile} metric="latency_p50_ms" label="Latency p50" value=${t.latency_p50_ms} text=${ms(t.latency_p50_ms)} />
    <${Tile} metric="latency_p95_ms" label="Latency p95" value=${t.latency_p95_ms} text=${ms(t.latency_p95_ms)} />
    <${Tile} metric="ttft_p50_ms" label="Time to first token p50" value=${t.ttft_p50_ms} text=${ms(t.ttft_p50_ms)} sub=${ttftSub} />
    <${Tile} metric="ttft_p95_ms" label="Time to first token p95" value=${t.ttft_p95_ms} text=${ms(t.ttft_p95_ms)} sub=${ttftSub} />
  </section>`;
}

/**
 * What the semantic cache's hits saved in the range (issue 22): the original answers' cost and
 * tokens, not paid again. Only when there is something to say: a route without the cache shows no
 * empty tile.
 */
export function Saved(props: { totals: UsageTotals }) {
  const t = props.totals;
  if (!(t.saved_cost > 0) && !(t.saved_tokens > 0)) return null;
  return html`<section class="tiles tiles-small" aria-label="Saved by the cache">
    <${Tile} metric="saved_cost" label="Saved by the cache" value=${t.saved_cost} text=${money(t.saved_cost)} title=${`$${t.saved_cost}`} sub=${`${count(t.saved_tokens)} tokens not paid again`} />
  </section>`;
}

/** Tokens by kind: cached reads and cache writes are part of the input, reasoning of the output. */
export const TOKEN_KINDS: { key: keyof UsageTotals; label: string }[] = [
  { key: 'prompt_tokens', label: 'Input' },
  { key: 'cached_tokens', label: 'Cached read' },
  { key: 'cache_write_tokens', label: 'Cache write' },
  { key: 'completion_tokens', label: 'Output' },
  { key: 'reasoning_tokens', label: 'Reasoning' },
];

export function TokenKinds(props: { totals: UsageTotals }) {
  return html`<section class="tiles tiles-small" aria-label="Tokens by kind">
    ${TOKEN_KINDS.map((k) => {
      const v = props.totals[k.key] as number;
      return html`<${Tile} metric=${k.key} label=${`${k.label} tokens`} value=${v} text=${count(v)} />`;
    })}
  </section>`;
}
