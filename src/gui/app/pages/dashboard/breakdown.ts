/**
 * The breakdown: one `/usage` answer grouped by provider, model, route or consumer, drawn as a
 * chart (one series per group, the eight with the most cost; the rest are in the table) and a
 * table of each group's sums; and the top consumers and models by spend.
 */
import { useMemo } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { compact, count, money, percent } from '../../lib/format.ts';
import { Empty, ErrorBox } from '../../lib/ui.ts';
import { Chart } from './chart.ts';
import { column, DIMENSIONS, groupSums, timeAxis, type Dimension, type GroupSum, type UsageAnswer } from './data.ts';

export type Metric = 'cost' | 'requests' | 'total_tokens';
export const METRICS: { name: Metric; label: string; format: (v: number) => string }[] = [
  { name: 'cost', label: 'Cost', format: money },
  { name: 'requests', label: 'Requests', format: compact },
  { name: 'total_tokens', label: 'Tokens', format: compact },
];
/** Series a chart draws: as many as the theme has colours. */
const MAX_SERIES = 8;

export interface BreakdownProps {
  answer: UsageAnswer | undefined;
  error: unknown;
  dim: Dimension;
  metric: Metric;
  onDim: (d: Dimension) => void;
  onMetric: (m: Metric) => void;
  onDrawn: (id: string) => void;
}

export function Breakdown(props: BreakdownProps) {
  const dimLabel = DIMENSIONS.find((d) => d.name === props.dim)!.label;
  const metric = METRICS.find((m) => m.name === props.metric)!;
  const sums = useMemo(() => (props.answer ? groupSums(props.answer, props.dim) : []), [props.answer, props.dim]);
  const chart = useMemo(() => {
    if (!props.answer) return null;
    const x = timeAxis(props.answer);
    const top = [...sums].sort((a, b) => b[props.metric] - a[props.metric]).slice(0, MAX_SERIES);
    return { x, series: top.map((g) => ({ label: g.label, values: column(x, g.points, (p) => p[props.metric], 0) })) };
  }, [props.answer, sums, props.metric]);
  const totalCost = sums.reduce((a, g) => a + g.cost, 0);

  return html`<section class="card breakdown" aria-labelledby="breakdown-title">
    <div class="card-head">
      <h2 id="breakdown-title">Breakdown by ${dimLabel.toLowerCase()}</h2>
      <div class="controls">
        <label class="inline" for="breakdown-dim">Group by</label>
        <select id="breakdown-dim" value=${props.dim} onChange=${(e: Event) => props.onDim((e.target as HTMLSelectElement).value as Dimension)}>
          ${DIMENSIONS.map((d) => html`<option value=${d.name}>${d.label}</option>`)}
        </select>
        <label class="inline" for="breakdown-metric">Chart</label>
        <select id="breakdown-metric" value=${props.metric} onChange=${(e: Event) => props.onMetric((e.target as HTMLSelectElement).value as Metric)}>
          ${METRICS.map((m) => html`<option value=${m.name}>${m.label}</option>`)}
        </select>
      </div>
    </div>
    ${props.error ? html`<${ErrorBox} error=${props.error} />` : null}
    ${props.answer && sums.length === 0 ? html`<${Empty}>No requests in this range.</${Empty}>` : null}
    ${chart && sums.length > 0 &&
    html`<${Chart} id="breakdown" title=${`${metric.label} by ${dimLabel.toLowerCase()}, per ${props.answer!.interval}`} x=${chart.x} series=${chart.series} format=${metric.format} onDrawn=${props.onDrawn} />
      <${GroupTable} dim=${props.dim} label=${dimLabel} sums=${sums} totalCost=${totalCost} />`}
  </section>`;
}

function GroupTable(props: { dim: Dimension; label: string; sums: GroupSum[]; totalCost: number }) {
  return html`<div class="table-scroll"><table class="group-table" aria-label=${`Totals by ${props.label.toLowerCase()}`}>
    <thead><tr><th scope="col">${props.label}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Errors</th><th scope="col" class="num">Tokens</th><th scope="col" class="num">Cost</th><th scope="col" class="num">Share of cost</th></tr></thead>
    <tbody>
      ${props.sums.map(
        (g) => html`<tr data-group=${g.value ?? ''} data-requests=${g.requests} data-errors=${g.errors} data-tokens=${g.total_tokens} data-cost=${g.cost}>
          <th scope="row" class=${g.value === null ? 'muted' : ''}>${g.label}</th>
          <td class="num">${count(g.requests)}</td>
          <td class="num">${count(g.errors)}${g.requests > 0 && g.errors > 0 ? html` <span class="hint">(${percent(g.errors / g.requests)})</span>` : null}</td>
          <td class="num">${count(g.total_tokens)}</td>
          <td class="num" title=${`$${g.cost}`}>${money(g.cost)}${g.unpriced_requests > 0 ? html` <span class="hint">+${g.unpriced_requests} unpriced</span>` : null}</td>
          <td class="num">${props.totalCost > 0 ? percent(g.cost / props.totalCost) : '—'}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

/** The top five groups by spend (consumers, models). */
export function TopSpenders(props: { title: string; dim: Dimension; answer: UsageAnswer | undefined; error: unknown }) {
  const top = useMemo(() => (props.answer ? groupSums(props.answer, props.dim).slice(0, 5) : []), [props.answer, props.dim]);
  const id = `top-${props.dim}`;
  return html`<section class="card top" aria-labelledby=${id}>
    <h2 id=${id}>${props.title}</h2>
    ${props.error ? html`<${ErrorBox} error=${props.error} />` : null}
    ${props.answer && top.length === 0 ? html`<${Empty}>No requests in this range.</${Empty}>` : null}
    ${top.length > 0 &&
    html`<table data-top=${props.dim}>
      <thead><tr><th scope="col">${DIMENSIONS.find((d) => d.name === props.dim)!.label}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Cost</th></tr></thead>
      <tbody>${top.map((g) => html`<tr data-group=${g.value ?? ''} data-cost=${g.cost}><th scope="row">${g.label}</th><td class="num">${count(g.requests)}</td><td class="num" title=${`$${g.cost}`}>${money(g.cost)}</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}
