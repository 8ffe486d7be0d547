/**
 * The playground's side panel: the route (with its provider, model and route type), the model
 * when the route lets the request name one, the consumer's key when the route has key-auth (held
 * in the page's memory only: never stored, never shown again), the system prompt and sampling.
 */
import { html } from '../../lib/html.ts';
import type { AiRoute } from './routes.ts';

export interface PlaygroundSettings {
  model: string;
  key: string;
  system: string;
  temperature: string;
  maxTokens: string;
}

interface Props {
  routes: AiRoute[];
  route: AiRoute | null;
  onRoute: (id: string) => void;
  settings: PlaygroundSettings;
  onChange: (patch: Partial<PlaygroundSettings>) => void;
  disabled: boolean;
}

const value = (e: Event) => (e.target as HTMLInputElement).value;

export function SettingsPanel(props: Props) {
  const { route, settings: s, onChange } = props;
  return html`<section class="card pg-settings" aria-label="Playground settings">
    <label for="pg-route">Route</label>
    <select id="pg-route" value=${route?.id ?? ''} disabled=${props.disabled} onChange=${(e: Event) => props.onRoute(value(e))}>
      ${props.routes.map((r) => html`<option value=${r.id} disabled=${r.unusable !== null}>${r.label}${r.unusable ? ' (not a chat route)' : ''}</option>`)}
    </select>
    ${route && html`<${RouteFacts} route=${route} />`}
    ${route && !route.unusable && html`<${ModelField} route=${route} model=${s.model} disabled=${props.disabled} onChange=${(model: string) => onChange({ model })} />`}
    ${route?.keyAuth &&
    html`<label for="pg-key">Consumer key <span class="hint">(key-auth: <code>${route.keyAuth.name}</code> ${route.keyAuth.where}${route.keyAuth.optional ? ', optional' : ''})</span></label>
      <input id="pg-key" type="password" autocomplete="off" spellcheck="false" value=${s.key} onInput=${(e: Event) => onChange({ key: value(e) })} />
      <p class="hint">Kept in this page's memory only.</p>`}
    <label for="pg-system">System prompt</label>
    <textarea id="pg-system" rows="3" value=${s.system} onInput=${(e: Event) => onChange({ system: value(e) })}></textarea>
    <div class="pg-sampling">
      <div>
        <label for="pg-temperature">Temperature</label>
        <input id="pg-temperature" type="number" min="0" max="5" step="0.1" placeholder="route's" value=${s.temperature} onInput=${(e: Event) => onChange({ temperature: value(e) })} />
      </div>
      <div>
        <label for="pg-max-tokens">Max tokens</label>
        <input id="pg-max-tokens" type="number" min="1" step="1" placeholder="route's" value=${s.maxTokens} onInput=${(e: Event) => onChange({ maxTokens: value(e) })} />
      </div>
    </div>
    <p class="hint">A value the route configures wins over the request's (docs/ai-proxy.md, "Options").</p>
  </section>`;
}

function RouteFacts(props: { route: AiRoute }) {
  const r = props.route;
  return html`<dl class="pg-facts">
    <dt>Plugin</dt><dd>${r.plugin}</dd>
    <dt>Provider</dt><dd>${r.providers.join(', ')}</dd>
    <dt>Model</dt><dd>${r.fixedModel ?? (r.models.length ? `${r.models.length} target model${r.models.length > 1 ? 's' : ''}` : 'from the request')}</dd>
    <dt>Route type</dt><dd>${r.routeType}</dd>
    <dt>Path</dt><dd><code>${r.path ?? '—'}</code></dd>
    ${r.streaming !== 'allow' && html`<dt>Streaming</dt><dd>${r.streaming}</dd>`}
  </dl>
  ${r.unusable && html`<p class="field-error">This route ${r.unusable}.</p>`}`;
}

/**
 * A fixed model is shown, not chosen. A balanced route lists its targets' models ("any" lets the
 * balancer pick); a route that takes the model from the request (a unified endpoint, or ai-proxy
 * without `model.name`) lets one be typed, with the known ones offered.
 */
function ModelField(props: { route: AiRoute; model: string; disabled: boolean; onChange: (m: string) => void }) {
  const r = props.route;
  if (r.fixedModel) return html`<label for="pg-model">Model</label><input id="pg-model" readonly value=${r.fixedModel} />`;
  if (r.freeModel) {
    return html`<label for="pg-model">Model <span class="hint">(the route takes it from the request)</span></label>
      <input id="pg-model" list="pg-models" required placeholder="e.g. gpt-4o-mini" disabled=${props.disabled} value=${props.model} onInput=${(e: Event) => props.onChange(value(e))} />
      <datalist id="pg-models">${r.models.map((m) => html`<option value=${m.name}>${m.label}</option>`)}</datalist>`;
  }
  return html`<label for="pg-model">Model</label>
    <select id="pg-model" value=${props.model} disabled=${props.disabled} onChange=${(e: Event) => props.onChange(value(e))}>
      <option value="">Any target (the balancer picks)</option>
      ${r.models.map((m) => html`<option value=${m.name}>${m.label}</option>`)}
    </select>`;
}
