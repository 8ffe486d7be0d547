/**
 * The dashboard (`#/`): traffic, errors, latency, time to first token, tokens and cost over a time range from the Usage
 * API (`/api/usage`), broken down by provider, model, route or consumer, the top spenders, and the
 * budgets close to their limit (`/api/budgets`). Every figure is the API's own; the page only lays
 * them out (pages/dashboard/data.ts). `performance.mark('dashboard-rendered')` is set once the
 * first answers are drawn (bench/gui-render.ts measures it).
 */
import { useCallback, useMemo, useRef, useState } from 'preact/hooks';
import { html } from '../lib/html.ts';
import { count, money, ms, when } from '../lib/format.ts';
import { replaceQuery } from '../lib/router.ts';
import { ErrorBox, Loading, PageHeader, useAsync, useInterval } from '../lib/ui.ts';
import type { PageProps } from '../main.ts';
import { Chart } from './dashboard/chart.ts';
import { Controls } from './dashboard/controls.ts';
import { Saved, Totals, TokenKinds, TOKEN_KINDS } from './dashboard/tiles.ts';
import { Breakdown, METRICS, TopSpenders, type Metric } from './dashboard/breakdown.ts';
import { Budgets } from './dashboard/budgets.ts';
import { column, DIMENSIONS, fetchBudgets, fetchUsage, timeAxis, usageQuery, type Dimension, type UsageAnswer } from './dashboard/data.ts';
import { rangeOf, type Range, type RangeName } from './dashboard/range.ts';

const REFRESH_MS = 30_000;
const MAIN_CHARTS = ['traffic', 'latency', 'tokens', 'cost'];

interface Loaded {
  range: Range;
  query: string;
  /** The grouped answers' query, without group_by. */
  groupQuery: string;
  main: UsageAnswer;
  /** By dimension: the answer, or why there is none (a range too large for many groups: the API's 400). */
  grouped: Partial<Record<Dimension, { answer?: UsageAnswer; error?: unknown }>>;
}

async function load(q: URLSearchParams, dim: Dimension, signal: AbortSignal): Promise<Loaded> {
  const range = rangeOf(q, Date.now());
  const base = usageQuery(range.from, range.to, range.interval);
  const dims = [...new Set<Dimension>([dim, 'consumer', 'model'])];
  const [main, ...groups] = await Promise.all([
    fetchUsage(base, signal),
    ...dims.map((d) =>
      fetchUsage(usageQuery(range.from, range.to, range.groupInterval, d), signal).then(
        (answer) => ({ answer }),
        (error: unknown) => ({ error }),
      ),
    ),
  ]);
  const grouped: Loaded['grouped'] = {};
  dims.forEach((d, i) => (grouped[d] = groups[i]));
  return { range, query: base, groupQuery: usageQuery(range.from, range.to, range.groupInterval), main, grouped };
}

export function DashboardPage(props: PageProps) {
  const q = props.loc.query;
  const dim = (DIMENSIONS.some((d) => d.name === q.get('group')) ? q.get('group') : 'model') as Dimension;
  const metric = (METRICS.some((m) => m.name === q.get('metric')) ? q.get('metric') : 'cost') as Metric;
  const autoRefresh = q.get('refresh') !== 'off';
  const key = q.toString();

  const usage = useAsync((signal) => load(q, dim, signal), [key]);
  const budgets = useAsync((signal) => fetchBudgets(signal), []);
  const refresh = useCallback(() => {
    usage.reload();
    budgets.reload();
  }, [usage.reload, budgets.reload]);
  useInterval(refresh, autoRefresh ? REFRESH_MS : null);

  const set = (changes: Record<string, string | undefined>) => {
    const next: Record<string, string | undefined> = {};
    q.forEach((v, k) => (next[k] = v));
    replaceQuery({ ...next, ...changes });
  };
  const onRange = (name: RangeName, from?: number, to?: number) =>
    set({ range: name, from: from === undefined ? undefined : new Date(from).toISOString(), to: to === undefined ? undefined : new Date(to).toISOString() });

  // the first complete render: every chart of the first answers has drawn once (refs: a chart
  // keeps the callback it was built with)
  const drawn = useRef(new Set<string>());
  const expected = useRef<string[]>([]);
  const [rendered, setRendered] = useState(false);
  const data = usage.data;
  expected.current = data ? [...MAIN_CHARTS, ...(data.grouped[dim]?.answer?.series.length ? ['breakdown'] : [])] : [];
  const onDrawn = useCallback((id: string) => {
    drawn.current.add(id);
    if (drawn.current.has('marked') || expected.current.length === 0 || !expected.current.every((c) => drawn.current.has(c))) return;
    drawn.current.add('marked');
    performance.mark('dashboard-rendered');
    setRendered(true);
  }, []);

  return html`<div class="dashboard" data-usage-query=${data?.query ?? ''} data-group-query=${data?.groupQuery ?? ''} data-rendered=${rendered ? 'true' : 'false'}>
    <${PageHeader} title="Dashboard">
      ${data && html`<span class="hint range-note">${when(data.range.from)} – ${when(data.range.to)}, by ${data.main.interval}</span>`}
    </${PageHeader}>
    <${Controls} range=${data?.range ?? rangeOf(q, Date.now())} autoRefresh=${autoRefresh} loading=${usage.loading} onRange=${onRange} onAutoRefresh=${(on: boolean) => set({ refresh: on ? undefined : 'off' })} onRefresh=${refresh} />
    ${usage.error ? html`<${ErrorBox} error=${usage.error} />` : null}
    ${!data && usage.loading ? html`<${Loading} what="usage" />` : null}
    ${data &&
    html`<${Totals} totals=${data.main.totals} />
      <${TokenKinds} totals=${data.main.totals} />
      <${Saved} totals=${data.main.totals} />
      <${Budgets} budgets=${budgets.data} error=${budgets.error} loading=${budgets.loading} />
      <${OverTime} answer=${data.main} onDrawn=${onDrawn} />
      <${Breakdown} answer=${data.grouped[dim]?.answer} error=${data.grouped[dim]?.error} dim=${dim} metric=${metric} onDim=${(d: Dimension) => set({ group: d })} onMetric=${(m: Metric) => set({ metric: m })} onDrawn=${onDrawn} />
      <div class="top-grid">
        <${TopSpenders} title="Top consumers by spend" dim="consumer" answer=${data.grouped.consumer?.answer} error=${data.grouped.consumer?.error} />
        <${TopSpenders} title="Top models by spend" dim="model" answer=${data.grouped.model?.answer} error=${data.grouped.model?.error} />
      </div>`}
  </div>`;
}

/** The four charts of the range's totals over time. */
function OverTime(props: { answer: UsageAnswer; onDrawn: (id: string) => void }) {
  const charts = useMemo(() => {
    const a = props.answer;
    const x = timeAxis(a);
    const col = (pick: Parameters<typeof column>[2], empty: 0 | null) => column(x, a.series, pick, empty);
    return {
      x,
      traffic: [
        { label: 'Requests', values: col((p) => p.requests, 0) },
        { label: 'Errors', values: col((p) => p.errors, 0) },
      ],
      // time to first token beside the whole request's latency: null where no request streamed
      latency: [
        { label: 'p50', values: col((p) => p.latency_p50_ms, null) },
        { label: 'p95', values: col((p) => p.latency_p95_ms, null) },
        { label: 'First token p50', values: col((p) => p.ttft_p50_ms, null) },
        { label: 'First token p95', values: col((p) => p.ttft_p95_ms, null) },
      ],
      tokens: TOKEN_KINDS.map((k) => ({ label: k.label, values: col((p) => p[k.key] as number, 0) })),
      cost: [{ label: 'Cost', values: col((p) => p.cost, 0) }],
    };
  }, [props.answer]);
  return html`<section class="card over-time" aria-label="Over time">
    <div class="chart-grid">
      <${Chart} id="traffic" title="Requests and errors" x=${charts.x} series=${charts.traffic} format=${count} onDrawn=${props.onDrawn} />
      <${Chart} id="latency" title="Latency and time to first token" x=${charts.x} series=${charts.latency} format=${ms} onDrawn=${props.onDrawn} />
      <${Chart} id="tokens" title="Tokens by kind" x=${charts.x} series=${charts.tokens} format=${count} onDrawn=${props.onDrawn} />
      <${Chart} id="cost" title="Cost" x=${charts.x} series=${charts.cost} format=${money} onDrawn=${props.onDrawn} />
    </div>
  </section>`;
}
