/**
 * "New AI route": a provider, a model and a key become a service, a route and its `ai-proxy`
 * plugin in one click — the three calls of Kong's "Getting started with AI Proxy" guide
 * (test/helpers/kong-guide.ts). Every choice comes from the ai-proxy schema: the providers and
 * route types (`one_of`), which providers need a key (its entity check), and each provider's own
 * options under `model.options` (`azure_*`, `gemini.*` ...). If a later call fails, what the
 * earlier ones created is deleted again and the refusal is shown on its field.
 */
import { useMemo, useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { api } from '../../lib/api.ts';
import { nodeInfo } from '../../lib/node.ts';
import { ErrorBox, Loading, useAsync } from '../../lib/ui.ts';
import { Field, errorText, type FormCtx } from './form.ts';
import { fieldAt, fieldsOf, getAt, isEmpty, loadSchema, setAt, type FieldDef, type NamedField, type SchemaJson, type Values } from './schema.ts';
import { formError } from './errors.ts';
import { keyAuth, keyLabel, type KeyAuth } from './provider-auth.ts';
import { AiRouteResult, type Created } from './ai-route-result.ts';
import type { Row } from './entities.ts';

/** The route types a client calls with an OpenAI SDK; `preserve` passes any body through and has no snippet. */
const FLOW_ROUTE_TYPES = new Set(['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings', 'llm/v1/responses']);

/** The "null" service of Kong's guide: ai-proxy decides where requests go, the service only holds the route. */
const GUIDE_SERVICE_URL = 'http://localhost:32000';

interface Derived {
  providers: unknown[];
  routeTypes: unknown[];
  /** Providers the schema requires auth for (`conditional_at_least_one_of` on `auth.header_name`). */
  hosted: Set<string>;
  options: NamedField[];
  /** Option paths an entity check requires per provider (`model.options.llama2_format` ...). */
  requiredOptions: Map<string, Set<string>>;
}

function derive(schema: SchemaJson): Derived {
  const config = fieldAt(schema, 'config')!;
  const checks = (config.entity_checks ?? []) as Record<string, any>[];
  const hosted = new Set<string>();
  const requiredOptions = new Map<string, Set<string>>();
  for (const c of checks) {
    const cond = c.conditional_at_least_one_of;
    if (!cond || cond.if_field !== 'model.provider') continue;
    for (const p of cond.if_match?.one_of ?? []) {
      for (const then of cond.then_at_least_one_of as string[]) {
        if (then.startsWith('auth.')) hosted.add(p);
        if (then.startsWith('model.options.')) {
          if (!requiredOptions.has(p)) requiredOptions.set(p, new Set());
          requiredOptions.get(p)!.add(then.slice('model.options.'.length));
        }
      }
    }
  }
  return {
    providers: fieldAt(schema, 'config.model.provider')?.one_of ?? [],
    routeTypes: (fieldAt(schema, 'config.route_type')?.one_of ?? []).filter((t) => FLOW_ROUTE_TYPES.has(String(t))),
    hosted,
    options: fieldsOf(fieldAt(schema, 'config.model.options')?.fields),
    requiredOptions,
  };
}

/** A provider's own options: named after it (`azure_instance`, the `gemini` record), and `upstream_url` for everyone. */
function optionsFor(d: Derived, provider: string): NamedField[] {
  const own = d.options.filter((f) => f.name === provider || f.name.startsWith(`${provider}_`));
  const required = d.requiredOptions.get(provider) ?? new Set();
  // an option with a default is always set; the check only matters for those without one
  const marked = own.map((f) => (required.has(f.name) && f.def.default === undefined ? { ...f, def: { ...f.def, required: true } } : f));
  const upstream = d.options.find((f) => f.name === 'upstream_url');
  const described = upstream && { ...upstream, def: { ...upstream.def, description: "the provider's endpoint URL; empty: the provider's own (self-hosted models need one)" } };
  return described ? [...marked, described] : marked;
}

export function NewAiRoute() {
  const data = useAsync(async () => {
    const [schema, info] = await Promise.all([loadSchema('plugins/ai-proxy'), nodeInfo()]);
    return { schema, info };
  }, []);
  const [created, setCreated] = useState<Created | null>(null);
  if (data.error) return html`<${ErrorBox} error=${data.error} />`;
  if (!data.data) return html`<${Loading} what="the ai-proxy schema" />`;
  if (created) return html`<${AiRouteResult} created=${created} listen=${data.data.info.configuration.proxy_listen} onAnother=${() => setCreated(null)} />`;
  return html`<${AiRouteForm} schema=${data.data.schema} onCreated=${setCreated} />`;
}

const NAME_DEF: FieldDef = { type: 'string', required: true, description: 'names the service, the route and the path' };
const PATH_DEF: FieldDef = { type: 'string', required: true, starts_with: '/', description: 'clients call the proxy here' };
const MODEL_DEF: FieldDef = { type: 'string', description: "the provider's model id; empty lets each client name its own" };

function AiRouteForm(props: { schema: SchemaJson; onCreated: (c: Created) => void }) {
  const d = useMemo(() => derive(props.schema), [props.schema]);
  const [values, setValues] = useState<Values>({ config: { route_type: 'llm/v1/chat', model: { provider: 'openai', options: {} } } });
  const [pathTouched, setPathTouched] = useState(false);
  const [errors, setErrors] = useState<Values>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const provider = String(getAt(values, 'config.model.provider') ?? '');
  const auth: KeyAuth = keyAuth(provider);
  const needsKey = d.hosted.has(provider);
  const name = String(values.name ?? '');
  const path = pathTouched ? String(values.path ?? '') : name ? `/${name}` : '';

  const ctx: FormCtx = {
    values: { ...values, path },
    errors,
    readOnly: false,
    foreign: {},
    idBase: 'ai-',
    set: (p, v) => {
      if (p === 'path') setPathTouched(true);
      setValues((vs) => setAt(vs, p, v));
    },
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setGeneral(null);
    const config = pluginConfig(values, optionsFor(d, provider), auth);
    let service: Row | null = null;
    let route: Row | null = null;
    let step: 'service' | 'route' | 'plugin' = 'service';
    try {
      service = await api<Row>('/services', { method: 'POST', body: { name, url: GUIDE_SERVICE_URL } });
      step = 'route';
      route = await api<Row>(`/services/${service.id}/routes`, { method: 'POST', body: { name, paths: [path] } });
      step = 'plugin';
      const plugin = await api<Row>(`/routes/${route.id}/plugins`, { method: 'POST', body: { name: 'ai-proxy', config } });
      props.onCreated({ service, route, plugin, path, routeType: String(config.route_type), model: String(config.model?.name ?? '') });
    } catch (err) {
      const undone = await undo(route, service);
      const fe = formError(err);
      setErrors(fieldErrors(step, fe.fields, auth));
      setGeneral(`Creating the ${step} failed: ${fe.message}${undone}`);
      setBusy(false);
    }
  };

  const providerField = fieldAt(props.schema, 'config.model.provider')!;
  const routeTypeField = { ...fieldAt(props.schema, 'config.route_type')!, one_of: d.routeTypes };
  const keyDef: FieldDef = { type: 'string', required: needsKey, encrypted: true, referenceable: true, description: keyLabel(auth) };
  return html`<section class="ai-route">
    <h2>New AI route</h2>
    <p class="lede">Creates a service, a route and its <code>ai-proxy</code> plugin, as Kong's AI Proxy guide does in three calls.</p>
    <form novalidate onSubmit=${submit} aria-label="New AI route" class="card">
      ${general && html`<div class="error-box" role="alert">${general}</div>`}
      <div class="form-grid">
        <${Field} name="provider" label="Provider" def=${providerField} path="config.model.provider" ctx=${ctx} depth=${1} />
        <${Field} name="model" label="Model" def=${MODEL_DEF} path="config.model.name" ctx=${ctx} depth=${1} />
        <${Field} name="key" label=${auth.kind === 'aws' ? 'AWS access key id' : 'API key'} def=${keyDef} path="key" ctx=${ctx} depth=${1} inputType="password" />
        ${auth.kind === 'aws' && html`<${Field} name="secret" label="AWS secret access key" def=${{ ...keyDef, description: undefined }} path="secret" ctx=${ctx} depth=${1} inputType="password" />`}
        <${Field} name="route_type" label="Route type" def=${routeTypeField} path="config.route_type" ctx=${ctx} depth=${1} />
        <${Field} name="name" label="Name" def=${NAME_DEF} path="name" ctx=${ctx} depth=${1} />
        <${Field} name="path" label="Path" def=${PATH_DEF} path="path" ctx=${ctx} depth=${1} />
      </div>
      <fieldset class="provider-options" aria-label=${`${provider} options`}>
        <legend>Options for ${provider}</legend>
        <div class="form-grid">
          ${optionsFor(d, provider).map((f) => html`<${Field} key=${`${provider}-${f.name}`} name=${f.name} def=${f.def} path=${`config.model.options.${f.name}`} ctx=${ctx} depth=${1} />`)}
        </div>
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Creating…' : 'Create AI route'}</button>
      </div>
    </form>
  </section>`;
}

/** The plugin's config: what the form holds, the key placed where the provider reads it. */
function pluginConfig(values: Values, options: NamedField[], auth: KeyAuth): Record<string, any> {
  const model: Record<string, unknown> = { provider: getAt(values, 'config.model.provider') };
  const name = getAt(values, 'config.model.name');
  if (!isEmpty(name)) model.name = name;
  const opts: Values = {};
  for (const f of options) {
    const v = getAt(values, `config.model.options.${f.name}`);
    if (!isEmpty(v)) opts[f.name] = v;
  }
  if (!isEmpty(opts)) model.options = opts;
  const config: Record<string, any> = { route_type: getAt(values, 'config.route_type'), model };
  const key = String(values.key ?? '');
  if (key) config.auth = auth.build(key, String(values.secret ?? ''));
  return config;
}

/** Deletes what was created before the failing call, newest first; says what could not be. */
async function undo(route: Row | null, service: Row | null): Promise<string> {
  const left: string[] = [];
  for (const [kind, row] of [['routes', route], ['services', service]] as const) {
    if (!row) continue;
    try {
      await api(`/${kind}/${row.id}`, { method: 'DELETE' });
    } catch (e) {
      left.push(`${kind.slice(0, -1)} ${row.name} (${(e as Error).message})`);
    }
  }
  return left.length ? ` — and could not remove ${left.join(', ')}` : '';
}

/** The failing call's field errors, placed on this form's fields. */
function fieldErrors(step: 'service' | 'route' | 'plugin', fields: Record<string, unknown>, auth: KeyAuth): Values {
  if (step === 'service') return { name: fields.name ?? fields.url ?? fields.host };
  if (step === 'route') return { name: fields.name, path: firstText(fields.paths) };
  const config = (fields.config ?? {}) as Values;
  const authErrs = (config.auth ?? {}) as Values;
  const entity = ((config['@entity'] as string[] | undefined) ?? []).filter((m) => typeof m === 'string');
  const keyMsgs = [...auth.fields.map((f) => errorText(authErrs[f])).filter(Boolean), ...entity.filter((m) => /auth\./.test(m))];
  return { config, key: keyMsgs.length ? keyMsgs.join('; ') : undefined };
}

function firstText(e: unknown): string | undefined {
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object') for (const v of Object.values(e)) if (typeof v === 'string') return v;
  return undefined;
}
