/**
 * DB-less mode's configuration: what the node serves, as Kong's declarative YAML (`GET /config`
 * answers `{"config": yaml}`, src/admin/config-routes.ts), and a replacement uploaded as a file or
 * pasted, POSTed to `/config` as YAML. An invalid one changes nothing: its errors are listed, one
 * line per bad entity (Kong's `flattened_errors`).
 */
import { useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { api, ApiError } from '../../lib/api.ts';
import { count } from '../../lib/format.ts';
import { ErrorBox, Loading, useAsync } from '../../lib/ui.ts';
import { CopyButton } from './dialog.ts';

interface FlatError {
  entity_type: string;
  entity_name?: string;
  entity_id?: string;
  errors: { field?: string; message: string; path?: string }[];
}

type Result = { ok: true; counts: [string, number][] } | { ok: false; message: string; flat: FlatError[] };

export function Declarative(props: { dbless: boolean }) {
  const current = useAsync(() => (props.dbless ? api<{ config: string }>('/config') : Promise.resolve(null)), [props.dbless]);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  if (!props.dbless)
    return html`<p class="empty">This node keeps its configuration in a database: edit it in the other tabs. A declarative file is what a DB-less node (<code>MODELGATE_DATABASE=off</code>) serves; <code>modelgate config db_export</code> writes one from a database.</p>`;

  const onFile = async (e: Event) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) setText(await file.text());
  };
  const upload = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    setFailure(null);
    try {
      const saved = await api<Record<string, Record<string, unknown>>>('/config', { method: 'POST', rawBody: text, headers: { 'Content-Type': 'application/yaml' } });
      setResult({ ok: true, counts: Object.entries(saved).map(([k, v]) => [k, Object.keys(v ?? {}).length] as [string, number]).filter(([, n]) => n > 0) });
      current.reload();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setResult({ ok: false, message: err.body.message ?? 'invalid', flat: (err.body.flattened_errors as FlatError[] | undefined) ?? [] });
      else setFailure(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<div class="declarative">
    <section class="card" aria-labelledby="decl-current">
      <div class="section-head">
        <h2 id="decl-current">Current configuration</h2>
        ${current.data && html`<${CopyButton} text=${current.data.config} label="Copy YAML" />`}
      </div>
      ${current.error ? html`<${ErrorBox} error=${current.error} />` : !current.data ? html`<${Loading} what="the configuration" />` : html`<pre class="yaml" tabindex="0" aria-label="Current configuration (YAML)"><code>${current.data.config}</code></pre>`}
    </section>
    <section class="card" aria-labelledby="decl-upload">
      <h2 id="decl-upload">Replace the configuration</h2>
      <p class="hint">The whole configuration is replaced at once, or nothing changes. Kong's format (<code>_format_version: "3.0"</code>), YAML or JSON.</p>
      <form onSubmit=${upload} aria-label="Upload a declarative configuration">
        <label for="decl-file">From a file</label>
        <input id="decl-file" type="file" accept=".yml,.yaml,.json,application/yaml,application/json,text/yaml" onChange=${onFile} />
        <label for="decl-text">Declarative configuration</label>
        <textarea id="decl-text" class="mono" rows="12" spellcheck="false" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea>
        <div class="actions">
          <button type="button" onClick=${() => current.data && setText(current.data.config)} disabled=${!current.data}>Start from the current one</button>
          <button type="submit" class="primary" disabled=${busy || !text.trim()}>${busy ? 'Uploading…' : 'Upload'}</button>
        </div>
      </form>
      ${failure && html`<${ErrorBox} error=${failure} />`}
      ${result?.ok &&
      html`<p class="ok-box" role="status">Configuration replaced: ${result.counts.length ? result.counts.map(([k, n], i) => `${i ? ', ' : ''}${count(n)} ${k}`) : 'it is empty now'}.</p>`}
      ${result && !result.ok &&
      html`<div class="error-box" role="alert">
        <p>Refused, nothing changed: ${result.message}</p>
        ${result.flat.length > 0 &&
        html`<ul class="decl-errors">
          ${result.flat.map(
            (f) => html`<li><strong>${f.entity_type}${f.entity_name ? ` ${f.entity_name}` : ''}</strong>: ${f.errors.map((x, i) => html`${i ? '; ' : ''}${x.field ? html`<code>${x.field}</code> ` : null}${x.message}`)}</li>`,
          )}
        </ul>`}
      </div>`}
    </section>
  </div>`;
}
