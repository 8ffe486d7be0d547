/**
 * The range picker (presets, or a custom from/to in local time) and the auto-refresh toggle. The
 * choice lives in the URL (`#/?range=week`, `range=custom&from=…&to=…`, `refresh=off`), so a
 * dashboard view can be bookmarked and shared.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { PRESETS, fromLocalInput, toLocalInput, type Range, type RangeName } from './range.ts';

export interface ControlsProps {
  range: Range;
  autoRefresh: boolean;
  onRange: (name: RangeName, from?: number, to?: number) => void;
  onAutoRefresh: (on: boolean) => void;
  onRefresh: () => void;
  loading: boolean;
}

export function Controls(props: ControlsProps) {
  const [from, setFrom] = useState(toLocalInput(props.range.from));
  const [to, setTo] = useState(toLocalInput(props.range.to));
  const [custom, setCustom] = useState(props.range.name === 'custom');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setCustom(props.range.name === 'custom'), [props.range.name]);

  const apply = (e: Event) => {
    e.preventDefault();
    const f = fromLocalInput(from);
    const t = fromLocalInput(to);
    if (f === null || t === null) return setError('Enter both times.');
    if (f >= t) return setError('"To" must be after "from".');
    setError(null);
    props.onRange('custom', f, t);
  };

  return html`<div class="dash-controls">
    <div class="range-buttons" role="group" aria-label="Time range">
      ${PRESETS.map((p) => html`<button type="button" aria-pressed=${!custom && props.range.name === p.name} onClick=${() => { setCustom(false); props.onRange(p.name); }}>${p.label}</button>`)}
      <button type="button" aria-pressed=${custom} onClick=${() => { setFrom(toLocalInput(props.range.from)); setTo(toLocalInput(props.range.to)); setCustom(true); }}>Custom</button>
    </div>
    ${custom &&
    html`<form class="custom-range" onSubmit=${apply}>
      <label class="inline" for="range-from">From</label>
      <input id="range-from" type="datetime-local" value=${from} onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} required />
      <label class="inline" for="range-to">To</label>
      <input id="range-to" type="datetime-local" value=${to} onInput=${(e: Event) => setTo((e.target as HTMLInputElement).value)} required />
      <button type="submit" class="primary">Apply</button>
      ${error && html`<span class="field-error" role="alert">${error}</span>`}
    </form>`}
    <div class="refresh">
      <label class="inline"><input type="checkbox" checked=${props.autoRefresh} onChange=${(e: Event) => props.onAutoRefresh((e.target as HTMLInputElement).checked)} /> Auto-refresh (30 s)</label>
      <button type="button" onClick=${props.onRefresh} disabled=${props.loading}>Refresh</button>
    </div>
  </div>`;
}
