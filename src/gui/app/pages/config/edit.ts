/**
 * Create or edit one service, route, plugin or consumer with a form generated from its schema
 * (`GET /schemas/<entity>`, and for a plugin `GET /schemas/plugins/<name>` for its `config` and
 * `protocols`). A create sends what the user set plus what is required; an edit PATCHes only what
 * changed. A refusal's messages go next to their fields, the general message on top.
 */
import { useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { api, apiAll } from '../../lib/api.ts';
import { navigate } from '../../lib/router.ts';
import { nodeInfo } from '../../lib/node.ts';
import { ErrorBox, Loading, useAsync } from '../../lib/ui.ts';
import { SchemaFields, type FormCtx, type Option } from './form.ts';
import { bodyForCreate, bodyForUpdate, defaultsOf, fieldsOf, loadSchema, setAt, type NamedField, type Values } from './schema.ts';
import { ENTITIES, labelOf, type EntityKind, type Row } from './entities.ts';
import { formError, type FormError } from './errors.ts';

/** Entities a foreign key may point to that have a select of their own. */
const REFERENCED = ['services', 'routes', 'consumers'] as const;

/** The Admin API's `url` shorthand for a service (protocol, host, port and path at once). */
const SERVICE_URL: NamedField = { name: 'url', def: { type: 'string', description: 'protocol, host, port and path at once, e.g. http://127.0.0.1:8080/v1' } };
const URL_PARTS = ['protocol', 'host', 'port', 'path'];

async function loadForeign(): Promise<Record<string, Option[]>> {
  const lists = await Promise.all(REFERENCED.map((r) => apiAll<Row>(`/${r}`)));
  return Object.fromEntries(REFERENCED.map((r, i) => [r, lists[i].map((row) => ({ value: row.id as string, label: labelOf(row) }))]));
}

export function EntityEditor(props: { kind: EntityKind; id: string | null; query: URLSearchParams; readOnly: boolean }) {
  const desc = ENTITIES[props.kind];
  const base = useAsync(async () => {
    const [schema, row, foreign, info] = await Promise.all([
      loadSchema(desc.schema),
      props.id ? api<Row>(`/${props.kind}/${props.id}`) : Promise.resolve(null),
      loadForeign(),
      nodeInfo(),
    ]);
    return { schema, row, foreign, plugins: Object.keys(info.plugins.available_on_server).sort() };
  }, [props.kind, props.id]);
  if (base.error) return html`<${ErrorBox} error=${base.error} />`;
  if (!base.data) return html`<${Loading} what=${desc.singular} />`;
  const { schema, row, foreign, plugins } = base.data;
  return html`<${Editor}
    key=${props.id ?? 'new'}
    kind=${props.kind}
    entityFields=${fieldsOf(schema.fields)}
    row=${row}
    foreign=${foreign}
    plugins=${plugins}
    query=${props.query}
    readOnly=${props.readOnly}
  />`;
}

interface EditorProps {
  kind: EntityKind;
  entityFields: NamedField[];
  row: Row | null;
  foreign: Record<string, Option[]>;
  plugins: string[];
  query: URLSearchParams;
  readOnly: boolean;
}

function Editor(props: EditorProps) {
  const desc = ENTITIES[props.kind];
  const isPlugin = props.kind === 'plugins';
  const creating = !props.row;
  const [pluginName, setPluginName] = useState<string>(props.row?.name ?? props.query.get('name') ?? '');
  const pluginSchema = useAsync(async () => (isPlugin && pluginName ? loadSchema(`plugins/${pluginName}`) : null), [pluginName]);

  const fields = useMemo<NamedField[] | null>(() => {
    const own = props.entityFields.filter((f) => f.def.type !== 'foreign' || (REFERENCED as readonly string[]).includes(f.def.reference ?? ''));
    if (!isPlugin) return props.kind === 'services' && creating ? [SERVICE_URL, ...own] : own;
    if (!pluginSchema.data) return null;
    const specific = fieldsOf(pluginSchema.data.fields);
    const names = new Set(specific.map((f) => f.name));
    const scope = own.filter((f) => f.def.type === 'foreign');
    const rest = own.filter((f) => f.def.type !== 'foreign' && f.name !== 'name' && !names.has(f.name));
    return [...scope, ...specific, ...rest];
  }, [pluginSchema.data, props.entityFields]);

  const [values, setValues] = useState<Values>({});
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  // before the browser paints the fields: an effect ran after it, so a user (or a test) typing fast
  // could fill a field that the defaults then overwrote
  useLayoutEffect(() => {
    if (!fields) return;
    if (props.row) return setValues(props.row);
    let start = defaultsOf(fields);
    const preset = new Set<string>();
    for (const ref of ['route', 'service', 'consumer']) {
      const id = props.query.get(ref);
      if (id) (start = setAt(start, ref, { id })), preset.add(ref);
    }
    setValues(start);
    setTouched(preset);
    setError(null);
  }, [fields]);

  const ctx: FormCtx = {
    values,
    errors: error?.fields ?? {},
    readOnly: props.readOnly,
    foreign: props.foreign,
    idBase: `${props.kind}-`,
    set: (path, v) => {
      setValues((vs) => setAt(vs, path, v));
      setTouched((t) => new Set(t).add(path));
    },
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!fields || props.readOnly) return;
    setBusy(true);
    setError(null);
    try {
      let saved: Row;
      if (creating) {
        const body = bodyForCreate(fields, values, touched);
        if (isPlugin) body.name = pluginName;
        // the url shorthand replaces the parts it sets, unless the user set them too
        if (props.kind === 'services' && body.url) for (const p of URL_PARTS) if (!touched.has(p)) delete body[p];
        saved = await api<Row>(`/${props.kind}`, { method: 'POST', body });
      } else {
        saved = await api<Row>(`/${props.kind}/${props.row!.id}`, { method: 'PATCH', body: bodyForUpdate(fields, values, touched) });
      }
      navigate(props.kind === 'consumers' ? `/config/consumers/${saved.id}` : props.kind === 'plugins' && saved.name === 'ai-budget' && props.query.get('from') === 'budgets' ? '/config/budgets' : `/config/${props.kind}`);
    } catch (err) {
      setError(formError(err));
      setBusy(false);
    }
  };

  const title = props.readOnly ? `${desc.singular} ${props.row ? labelOf(props.row) : ''}` : creating ? `New ${desc.singular}` : `Edit ${desc.singular} ${labelOf(props.row!)}`;
  const back = `#/config/${props.kind}`;
  return html`<section class="entity-form">
    <h2>${title}${isPlugin && pluginName && !creating ? html` <code>${pluginName}</code>` : null}</h2>
    <form novalidate onSubmit=${submit} aria-label=${title}>
      ${error && html`<div class="error-box" role="alert">${error.message}</div>`}
      ${isPlugin &&
      html`<div class="field">
        <span class="field-label"><label for="plugins-name">Plugin</label><span class="req" aria-hidden="true"> *</span></span>
        <select id="plugins-name" aria-required="true" disabled=${!creating || props.readOnly} value=${pluginName} onChange=${(e: Event) => setPluginName((e.target as HTMLSelectElement).value)}>
          <option value="">Choose a plugin…</option>
          ${props.plugins.map((p) => html`<option value=${p}>${p}</option>`)}
        </select>
      </div>`}
      ${pluginSchema.error && html`<${ErrorBox} error=${pluginSchema.error} />`}
      ${isPlugin && pluginName && !fields && !pluginSchema.error && html`<${Loading} what="the plugin's schema" />`}
      ${fields && html`<${SchemaFields} fields=${fields} ctx=${ctx} />`}
      <div class="actions">
        <a class="button" href=${back}>${props.readOnly ? 'Back' : 'Cancel'}</a>
        ${!props.readOnly && html`<button type="submit" class="primary" disabled=${busy || !fields}>${busy ? 'Saving…' : creating ? `Create ${desc.singular}` : 'Save'}</button>`}
      </div>
    </form>
  </section>`;
}
