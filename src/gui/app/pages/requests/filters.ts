/**
 * The request log's filter bar. Every change goes to the URL at once (replaceQuery), so a filtered
 * list can be bookmarked and shared; text fields apply on Enter or when they lose focus.
 */
import { html } from '../../lib/html.ts';
import { CUSTOM, RANGES, type Filters, type Passed } from './query.ts';
import type { Names } from './names.ts';

const STATUS = [
  { value: '2xx', label: '2xx' },
  { value: '4xx', label: '4xx' },
  { value: '5xx', label: '5xx' },
];

/** An ISO time as a datetime-local input shows it (the reader's own zone). */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (the reader's zone) as ISO 8601 UTC for the API. */
function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Options for a select whose URL value may be one the list does not hold (a name typed in the URL). */
function withCurrent(options: { value: string; label: string }[], current: string | undefined) {
  return current && !options.some((o) => o.value === current) ? [...options, { value: current, label: current }] : options;
}

export interface FilterBarProps {
  filters: Filters;
  names: Names;
  /** Values seen in the loaded rows, offered as suggestions. */
  seen: { model: string[]; provider: string[] };
  onChange: (f: Filters) => void;
}

export function FilterBar(props: FilterBarProps) {
  const f = props.filters;
  const set = (k: Passed, v: string) => props.onChange({ ...f, values: { ...f.values, [k]: v || undefined } });
  const value = (e: Event) => (e.target as HTMLInputElement | HTMLSelectElement).value;
  const routeOptions = withCurrent(
    props.names.routes.map((r) => ({ value: r.name ?? r.id, label: r.name ?? r.id })),
    f.values.route,
  );
  const consumerOptions = withCurrent(
    props.names.consumers.map((c) => ({ value: c.name ?? c.id, label: c.name ?? c.id })),
    f.values.consumer,
  );
  const statusOptions = withCurrent(STATUS, f.values.status);
  const select = (id: string, label: string, k: Passed, options: { value: string; label: string }[], any = 'Any') => html`<div class="rq-filter">
    <label for=${id}>${label}</label>
    <select id=${id} value=${f.values[k] ?? ''} onChange=${(e: Event) => set(k, value(e))}>
      <option value="">${any}</option>
      ${options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
    </select>
  </div>`;
  const text = (id: string, label: string, k: 'model' | 'provider') => html`<div class="rq-filter">
    <label for=${id}>${label}</label>
    <input id=${id} type="search" list=${`${id}-seen`} value=${f.values[k] ?? ''} placeholder="Any" onChange=${(e: Event) => set(k, value(e).trim())} />
    <datalist id=${`${id}-seen`}>${props.seen[k].map((v) => html`<option value=${v} />`)}</datalist>
  </div>`;
  return html`<form class="rq-filters card" role="search" aria-label="Filter requests" onSubmit=${(e: Event) => e.preventDefault()}>
    <div class="rq-filter">
      <label for="rq-range">Time</label>
      <select
        id="rq-range"
        value=${f.range}
        onChange=${(e: Event) => {
          const range = value(e);
          if (range === CUSTOM) {
            const to = new Date();
            props.onChange({ ...f, range, from: new Date(to.getTime() - 86_400_000).toISOString(), to: to.toISOString() });
          } else props.onChange({ range, values: f.values });
        }}
      >
        ${RANGES.map((r) => html`<option value=${r.value}>${r.label}</option>`)}
        <option value=${CUSTOM}>Custom…</option>
      </select>
    </div>
    ${f.range === CUSTOM &&
    html`<div class="rq-filter">
        <label for="rq-from">From</label>
        <input id="rq-from" type="datetime-local" value=${toLocalInput(f.from)} onChange=${(e: Event) => props.onChange({ ...f, from: fromLocalInput(value(e)) })} />
      </div>
      <div class="rq-filter">
        <label for="rq-to">To</label>
        <input id="rq-to" type="datetime-local" value=${toLocalInput(f.to)} onChange=${(e: Event) => props.onChange({ ...f, to: fromLocalInput(value(e)) })} />
      </div>`}
    ${select('rq-route', 'Route', 'route', routeOptions)}
    ${select('rq-consumer', 'Consumer', 'consumer', consumerOptions)}
    ${text('rq-model', 'Model', 'model')} ${text('rq-provider', 'Provider', 'provider')}
    ${select('rq-status', 'Status', 'status', statusOptions)}
    ${select('rq-streamed', 'Streamed', 'streamed', [
      { value: 'true', label: 'Streamed' },
      { value: 'false', label: 'Not streamed' },
    ])}
  </form>`;
}
