/**
 * Form inputs generated from a Kong schema (schema.ts): one component per field type, nested
 * records as collapsible fieldsets, arrays and sets as rows to add and remove, foreign keys as a
 * select of the existing entities. Each input has its label, its hint (default, range) and, when
 * the Admin API refused it, the API's message right under it (role="alert", aria-describedby).
 */
import { html } from '../../lib/html.ts';
import { fieldsOf, getAt, isEmpty, isGenerated, parseScalar, setAt, type FieldDef, type NamedField, type Values } from './schema.ts';

export interface Option {
  value: string;
  label: string;
}

export interface FormCtx {
  values: Values;
  /** Kong's `fields` tree of the last refusal, mirroring the values. */
  errors: unknown;
  /** Sets the value at a dotted path and marks it as set by the user. */
  set: (path: string, v: unknown) => void;
  readOnly: boolean;
  /** Choices for foreign keys, by the referenced entity (`services` → its names and ids). */
  foreign: Record<string, Option[]>;
  /** Prefix of element ids, unique per form. */
  idBase: string;
}

/** The text of an error leaf: Kong gives a string, or a list of strings for entity checks. */
export function errorText(e: unknown): string | null {
  if (typeof e === 'string') return e;
  if (Array.isArray(e) && e.every((x) => typeof x === 'string')) return e.join('; ');
  return null;
}

function idOf(ctx: FormCtx, path: string): string {
  return `${ctx.idBase}${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

function hintOf(def: FieldDef): string {
  const parts: string[] = [];
  if (def.description) parts.push(def.description);
  if (def.between) parts.push(`${def.between[0]} to ${def.between[1]}`);
  if (def.gt !== undefined) parts.push(`more than ${def.gt}`);
  if (def.starts_with) parts.push(`starts with ${def.starts_with}`);
  if (def.default !== undefined && def.default !== null && typeof def.default !== 'object') parts.push(`default ${String(def.default)}`);
  if (def.referenceable) parts.push('a {vault://…} reference works too');
  return parts.join(' · ');
}

/** Label, hint and error around an input; `describedBy` ties the input to both. */
function Wrap(props: { id: string; name: string; def: FieldDef; error: string | null; label?: string; children: unknown; inline?: boolean }) {
  const hint = hintOf(props.def);
  const req = props.def.required ? html`<span class="req" aria-hidden="true"> *</span>` : null;
  return html`<div class=${`field${props.inline ? ' field-inline' : ''}${props.error ? ' has-error' : ''}`}>
    ${props.inline ? props.children : null}
    <span class="field-label"><label for=${props.id}>${props.label ?? props.name}</label>${req}</span>
    ${props.inline ? null : props.children}
    ${hint && html`<p class="hint" id=${`${props.id}-hint`}>${hint}</p>`}
    ${props.error && html`<p class="field-error" role="alert" id=${`${props.id}-error`}>${props.error}</p>`}
  </div>`;
}

function describedBy(id: string, def: FieldDef, error: string | null): string | undefined {
  const ids = [hintOf(def) ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

/** A field that takes one line: consecutive ones share a grid row, records and lists take the width. */
function isCompact(def: FieldDef): boolean {
  return !(def.type === 'record' || def.type === 'array' || def.type === 'set' || def.type === 'map' || def.type === 'json');
}

export function SchemaFields(props: { fields: NamedField[]; ctx: FormCtx; prefix?: string; depth?: number }) {
  const shown = props.fields.filter((f) => !isGenerated(f.def));
  const groups: NamedField[][] = [];
  for (const f of shown) {
    const last = groups[groups.length - 1];
    if (last && isCompact(f.def) && isCompact(last[0].def)) last.push(f);
    else groups.push([f]);
  }
  const one = (f: NamedField) => html`<${Field} key=${f.name} name=${f.name} def=${f.def} path=${(props.prefix ?? '') + f.name} ctx=${props.ctx} depth=${props.depth ?? 0} />`;
  return html`${groups.map((g) => (isCompact(g[0].def) ? html`<div class="form-grid" key=${g[0].name}>${g.map(one)}</div>` : one(g[0])))}`;
}

export function Field(props: { name: string; def: FieldDef; path: string; ctx: FormCtx; depth: number; label?: string; inputType?: string }) {
  const { def, path, ctx } = props;
  const id = idOf(ctx, path);
  const value = getAt(ctx.values, path);
  const errTree = getAt(ctx.errors as Values, path);
  const error = errorText(errTree);
  const common = { id, 'aria-describedby': describedBy(id, def, error), 'aria-invalid': error ? 'true' : undefined, 'aria-required': def.required ? 'true' : undefined, disabled: ctx.readOnly };

  if (def.type === 'record' && def.fields) return html`<${RecordField} ...${props} errTree=${errTree} />`;
  if ((def.type === 'array' || def.type === 'set') && def.elements) {
    // a list's errors are per entry (`paths: [null, "should start with /"]`); a string is about the whole list
    return html`<${ArrayField} ...${props} value=${Array.isArray(value) ? value : []} errTree=${errTree} error=${typeof errTree === 'string' ? errTree : null} />`;
  }
  if (def.type === 'boolean') {
    return html`<${Wrap} id=${id} name=${props.name} label=${props.label} def=${def} error=${error} inline>
      <input type="checkbox" ...${common} checked=${value === true} onChange=${(e: Event) => ctx.set(path, (e.target as HTMLInputElement).checked)} />
    <//>`;
  }
  if (def.type === 'foreign') {
    const options = ctx.foreign[def.reference ?? ''] ?? [];
    const current = (value as { id?: string } | null)?.id ?? '';
    return html`<${Wrap} id=${id} name=${props.name} label=${props.label} def=${def} error=${error}>
      <select ...${common} value=${current} onChange=${(e: Event) => {
        const v = (e.target as HTMLSelectElement).value;
        ctx.set(path, v ? { id: v } : null);
      }}>
        <option value="">${def.required ? 'Choose…' : '— none —'}</option>
        ${options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
      </select>
    <//>`;
  }
  if (def.one_of) {
    const text = value === null || value === undefined ? '' : String(value);
    return html`<${Wrap} id=${id} name=${props.name} label=${props.label} def=${def} error=${error}>
      <select ...${common} value=${text} onChange=${(e: Event) => ctx.set(path, parseScalar(def, (e.target as HTMLSelectElement).value))}>
        ${(!def.required || def.default === undefined || text === '') && html`<option value="">${def.required ? 'Choose…' : '— not set —'}</option>`}
        ${def.one_of.map((o) => html`<option value=${String(o)}>${String(o)}</option>`)}
      </select>
    <//>`;
  }
  if (def.type === 'string' || def.type === 'number' || def.type === 'integer') {
    const numeric = def.type !== 'string';
    const type = props.inputType ?? (numeric ? 'number' : def.encrypted ? 'password' : 'text');
    return html`<${Wrap} id=${id} name=${props.name} label=${props.label} def=${def} error=${error}>
      <input
        type=${type}
        step=${numeric ? (def.type === 'integer' ? '1' : 'any') : undefined}
        autocomplete=${type === 'password' ? 'new-password' : 'off'}
        ...${common}
        placeholder=${def.default !== undefined && def.default !== null && typeof def.default !== 'object' ? String(def.default) : undefined}
        value=${value === null || value === undefined ? '' : String(value)}
        onInput=${(e: Event) => ctx.set(path, parseScalar(def, (e.target as HTMLInputElement).value))}
      />
    <//>`;
  }
  return html`<${JsonField} ...${props} value=${value} error=${error} common=${common} />`;
}

/** A nested record: a collapsible fieldset, open at the top, when required, or when it holds an error. */
function RecordField(props: { name: string; def: FieldDef; path: string; ctx: FormCtx; depth: number; errTree: unknown }) {
  const own = errorText(getAt((props.errTree ?? {}) as Values, '@entity'));
  const open = props.depth === 0 || props.def.required || (props.errTree !== undefined && props.errTree !== null);
  const id = idOf(props.ctx, props.path);
  return html`<details class="record" open=${open}>
    <summary>${props.name}${props.def.required ? html`<span class="req" aria-hidden="true"> *</span>` : null}</summary>
    <fieldset id=${id} aria-label=${props.path} disabled=${props.ctx.readOnly}>
      ${own && html`<p class="field-error" role="alert">${own}</p>`}
      <${SchemaFields} fields=${fieldsOf(props.def.fields)} ctx=${props.ctx} prefix=${`${props.path}.`} depth=${props.depth + 1} />
    </fieldset>
  </details>`;
}

/** Arrays and sets: of choices (checkboxes), of scalars (rows of inputs), of records (fieldsets). */
function ArrayField(props: { name: string; def: FieldDef; path: string; ctx: FormCtx; depth: number; value: unknown[]; errTree: unknown; error: string | null; label?: string }) {
  const { def, path, ctx, value } = props;
  const el = def.elements!;
  const id = idOf(ctx, path);
  const setItems = (items: unknown[]) => ctx.set(path, items);
  const legend = html`${props.label ?? props.name}${def.required ? html`<span class="req" aria-hidden="true"> *</span>` : null}`;
  const hint = hintOf(def);
  const foot = html`${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    ${props.error && html`<p class="field-error" role="alert" id=${`${id}-error`}>${props.error}</p>`}`;
  if (el.one_of && def.type === 'set') {
    return html`<fieldset class="field choices" id=${id} aria-describedby=${describedBy(id, def, props.error)} disabled=${ctx.readOnly}>
      <legend>${legend}</legend>
      ${el.one_of.map((o) => {
        const on = value.includes(o);
        return html`<label class="choice"><input type="checkbox" checked=${on} onChange=${() => setItems(on ? value.filter((x) => x !== o) : [...value, o])} /> ${String(o)}</label>`;
      })}
      ${foot}
    </fieldset>`;
  }
  const isRecord = el.type === 'record' && el.fields;
  const add = () => setItems([...value, isRecord ? {} : '']);
  return html`<fieldset class="field array" id=${id} aria-describedby=${describedBy(id, def, props.error)}>
    <legend>${legend}</legend>
    ${value.map((item, i) => {
      const itemErr = getAt((props.errTree ?? {}) as Values, String(i));
      const remove = !ctx.readOnly && html`<button type="button" class="small" aria-label=${`Remove ${props.name} ${i + 1}`} onClick=${() => setItems(value.filter((_, j) => j !== i))}>Remove</button>`;
      if (isRecord) {
        const sub: FormCtx = { ...ctx, values: (item ?? {}) as Values, errors: itemErr, idBase: `${id}-${i}-`, set: (p, v) => setItems(value.map((e, j) => (j === i ? setAt((e ?? {}) as Values, p, v) : e))) };
        return html`<div class="array-record">
          <div class="array-record-head"><span>${props.name} ${i + 1}</span>${remove}</div>
          <${SchemaFields} fields=${fieldsOf(el.fields)} ctx=${sub} depth=${props.depth + 1} />
        </div>`;
      }
      const itemId = `${id}-${i}`;
      const msg = errorText(itemErr);
      return html`<div class="array-row">
        <input
          id=${itemId}
          type=${el.type === 'string' ? 'text' : 'number'}
          aria-label=${`${props.name} ${i + 1}`}
          aria-invalid=${msg ? 'true' : undefined}
          aria-describedby=${msg ? `${itemId}-error` : undefined}
          disabled=${ctx.readOnly}
          value=${item === null || item === undefined ? '' : String(item)}
          onInput=${(e: Event) => setItems(value.map((x, j) => (j === i ? parseScalar(el, (e.target as HTMLInputElement).value) : x)))}
        />
        ${remove}
        ${msg && html`<p class="field-error" role="alert" id=${`${itemId}-error`}>${msg}</p>`}
      </div>`;
    })}
    ${!ctx.readOnly && html`<button type="button" class="small" onClick=${add}>Add ${isRecord ? 'an entry' : 'a value'} to ${props.name}</button>`}
    ${foot}
  </fieldset>`;
}

/** Maps and anything else without a dedicated input: JSON text, sent as parsed when it parses. */
function JsonField(props: { name: string; def: FieldDef; path: string; ctx: FormCtx; value: unknown; error: string | null; common: Record<string, unknown>; label?: string }) {
  const text = isEmpty(props.value) ? '' : typeof props.value === 'string' ? props.value : JSON.stringify(props.value, null, 2);
  return html`<${Wrap} id=${props.common.id as string} name=${props.name} label=${props.label} def=${{ ...props.def, description: `JSON ${props.def.type}` }} error=${props.error}>
    <textarea
      class="mono"
      rows="3"
      ...${props.common}
      value=${text}
      onChange=${(e: Event) => {
        const t = (e.target as HTMLTextAreaElement).value.trim();
        if (t === '') return props.ctx.set(props.path, null);
        try {
          props.ctx.set(props.path, JSON.parse(t));
        } catch {
          props.ctx.set(props.path, t);
        }
      }}
    ></textarea>
  <//>`;
}
