/**
 * A consumer's key-auth credentials (`/consumers/{id}/key-auth`). A new key is shown once, right
 * after it is created, with a copy button; lists show only ids, tags and dates — the Admin API
 * returns the keys, but a screen that shows them is a screen someone photographs.
 */
import { useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { api } from '../../lib/api.ts';
import { when } from '../../lib/format.ts';
import { Empty, ErrorBox, Loading, useAsync } from '../../lib/ui.ts';
import { ConfirmDialog, CopyButton } from './dialog.ts';
import { SchemaFields, type FormCtx } from './form.ts';
import { bodyForCreate, fieldsOf, loadSchema, setAt, type Values } from './schema.ts';
import { formError, type FormError } from './errors.ts';
import type { Row } from './entities.ts';

export function Credentials(props: { consumerId: string; readOnly: boolean }) {
  const base = `/consumers/${props.consumerId}/key-auth`;
  const list = useAsync(async () => {
    const [page, schema] = await Promise.all([api<{ data: Row[] }>(`${base}?size=1000`), loadSchema('keyauth_credentials')]);
    return { rows: page.data, fields: fieldsOf(schema.fields).filter((f) => f.name !== 'consumer') };
  }, [props.consumerId]);
  const [adding, setAdding] = useState(false);
  const [values, setValues] = useState<Values>({});
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Row | null>(null);
  const [deleting, setDeleting] = useState<Row | null>(null);

  if (list.error) return html`<${ErrorBox} error=${list.error} />`;
  if (!list.data) return html`<${Loading} what="credentials" />`;
  const { rows, fields } = list.data;

  const ctx: FormCtx = {
    values,
    errors: error?.fields ?? {},
    readOnly: false,
    foreign: {},
    idBase: 'cred-',
    set: (path, v) => {
      setValues((vs) => setAt(vs, path, v));
      setTouched((t) => new Set(t).add(path));
    },
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const row = await api<Row>(base, { method: 'POST', body: bodyForCreate(fields, values, touched) });
      setCreated(row);
      setAdding(false);
      setValues({});
      setTouched(new Set());
      list.reload();
    } catch (err) {
      setError(formError(err));
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="card credentials" aria-labelledby="cred-title">
    <div class="section-head">
      <h2 id="cred-title">Key-auth credentials</h2>
      ${!props.readOnly && !adding && html`<button type="button" class="primary" onClick=${() => (setAdding(true), setCreated(null))}>New key</button>`}
    </div>
    ${created &&
    html`<div class="key-once" role="status">
      <p><strong>New key</strong> — copy it now: it is not shown again.</p>
      <div class="key-row"><code aria-label="New key">${created.key}</code><${CopyButton} text=${created.key} label="Copy key" /></div>
      <button type="button" class="small" onClick=${() => setCreated(null)}>Done</button>
    </div>`}
    ${adding &&
    html`<form novalidate onSubmit=${submit} aria-label="New key-auth credential" class="inline-form">
      ${error && html`<div class="error-box" role="alert">${error.message}</div>`}
      <p class="hint">Leave the key empty and the gateway generates one.</p>
      <${SchemaFields} fields=${fields} ctx=${ctx} />
      <div class="actions">
        <button type="button" onClick=${() => (setAdding(false), setError(null))}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>Create key</button>
      </div>
    </form>`}
    ${rows.length === 0
      ? html`<${Empty}>No credentials: this consumer cannot authenticate with key-auth yet.<//>`
      : html`<table aria-label="Credentials">
          <thead><tr><th scope="col">Id</th><th scope="col">Created</th><th scope="col">TTL</th><th scope="col">Tags</th>${!props.readOnly && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
          <tbody>
            ${rows.map(
              (r) => html`<tr key=${r.id}>
                <td><code>${r.id}</code></td>
                <td>${when(r.created_at * 1000)}</td>
                <td>${r.ttl ?? '—'}</td>
                <td>${r.tags?.length ? r.tags.map((t: string) => html`<span class="badge">${t}</span> `) : '—'}</td>
                ${!props.readOnly && html`<td class="row-actions"><button type="button" class="small danger" aria-label=${`Delete credential ${r.id}`} onClick=${() => setDeleting(r)}>Delete</button></td>`}
              </tr>`,
            )}
          </tbody>
        </table>`}
    ${deleting &&
    html`<${ConfirmDialog}
      title="Delete this credential?"
      message=${html`Requests with this key are refused from now on (<code>${deleting.id}</code>).`}
      confirmLabel="Delete"
      onConfirm=${async () => {
        await api(`${base}/${deleting.id}`, { method: 'DELETE' });
        list.reload();
      }}
      onClose=${() => setDeleting(null)}
    />`}
  </section>`;
}
