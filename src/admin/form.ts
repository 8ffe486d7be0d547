/**
 * Kong's form-body conventions (`kong/api/api_helpers.lua`, `kong/tools/http.lua`):
 * dotted keys nest (`config.model.options.max_tokens=512`), `a[]=x` appends, `a[2]=x` places by
 * index, repeated keys make arrays, `""` means null. Values stay strings here; the schema
 * decides their types afterwards (infer.ts). Hostile keys are refused, never assigned.
 */
import { FORBIDDEN_KEYS } from '../schema/validate.ts';

export const MAX_FORM_ARGS = 1000;
const MAX_KEY_DEPTH = 32;
const MAX_INDEX = 1000;

export class FormError extends Error {}

type Segment = string | { index: number | null };

export function parseKey(key: string): Segment[] {
  const segments: Segment[] = [];
  const re = /([^.[\]]+)|\[(\d*)\]|\./g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(key)) !== null) {
    if (m.index !== last) throw new FormError(`invalid argument name: ${key}`);
    last = re.lastIndex;
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) {
      const index = m[2] === '' ? null : Number(m[2]);
      if (index !== null && index > MAX_INDEX) throw new FormError(`array index too large in ${key}`);
      segments.push({ index });
    }
  }
  if (last !== key.length || segments.length === 0 || typeof segments[0] !== 'string') {
    throw new FormError(`invalid argument name: ${key}`);
  }
  if (segments.length > MAX_KEY_DEPTH) throw new FormError(`argument name too deep: ${key}`);
  for (const s of segments) if (typeof s === 'string' && FORBIDDEN_KEYS.has(s)) throw new FormError(`invalid argument name: ${key}`);
  return segments;
}

type Tree = Record<string, unknown>;
/** Sparse arrays are built as index maps first, then compacted in index order. */
const INDEXED = Symbol('indexed');
type Indexed = { [INDEXED]: true; items: Map<number, unknown>; appended: unknown[] };

function isIndexed(v: unknown): v is Indexed {
  return typeof v === 'object' && v !== null && INDEXED in v;
}

function newIndexed(): Indexed {
  return { [INDEXED]: true, items: new Map(), appended: [] };
}

function setIn(container: Tree | Indexed, seg: Segment, value: unknown, isLast: boolean): unknown {
  if (typeof seg === 'string') {
    if (isIndexed(container)) throw new FormError('cannot mix array and field syntax');
    const existing = Object.prototype.hasOwnProperty.call(container, seg) ? container[seg] : undefined;
    if (isLast) {
      if (existing === undefined) container[seg] = value;
      else if (isIndexed(existing)) existing.appended.push(value);
      else if (Array.isArray(existing)) existing.push(value);
      else container[seg] = [existing, value];
      return undefined;
    }
    return existing;
  }
  if (!isIndexed(container)) throw new FormError('cannot mix array and field syntax');
  if (isLast) {
    if (seg.index === null) container.appended.push(value);
    else container.items.set(seg.index, value);
    return undefined;
  }
  return seg.index === null ? undefined : container.items.get(seg.index);
}

function ensureChild(container: Tree | Indexed, seg: Segment, next: Segment): Tree | Indexed {
  const existing = setIn(container, seg, undefined, false);
  const wantIndexed = typeof next !== 'string';
  if (existing !== undefined) {
    if (wantIndexed && isIndexed(existing)) return existing;
    if (!wantIndexed && typeof existing === 'object' && existing !== null && !Array.isArray(existing) && !isIndexed(existing)) {
      return existing as Tree;
    }
    if (wantIndexed && typeof existing === 'string') {
      // `a=x&a[]=y`: keep the scalar as the first element
      const idx = newIndexed();
      idx.appended.push(existing);
      assign(container, seg, idx);
      return idx;
    }
    throw new FormError('conflicting argument names');
  }
  const child: Tree | Indexed = wantIndexed ? newIndexed() : {};
  assign(container, seg, child);
  return child;
}

function assign(container: Tree | Indexed, seg: Segment, child: unknown): void {
  if (typeof seg === 'string') (container as Tree)[seg] = child;
  else if (isIndexed(container)) {
    if (seg.index === null) container.appended.push(child);
    else container.items.set(seg.index, child);
  }
}

function finalize(v: unknown): unknown {
  if (isIndexed(v)) {
    const ordered = [...v.items.entries()].sort((a, b) => a[0] - b[0]).map(([, x]) => finalize(x));
    return [...ordered, ...v.appended.map(finalize)];
  }
  if (Array.isArray(v)) return v.map(finalize);
  if (typeof v === 'object' && v !== null) {
    const out: Tree = {};
    for (const [k, x] of Object.entries(v)) out[k] = finalize(x);
    return out;
  }
  return v;
}

/** Builds Kong's nested argument tree from ordered `[key, value]` pairs. */
export function buildArgs(pairs: Iterable<[string, string]>): Tree {
  const root: Tree = {};
  let n = 0;
  for (const [key, raw] of pairs) {
    if (++n > MAX_FORM_ARGS) throw new FormError('Too many arguments');
    const segments = parseKey(key);
    const value = raw === '' ? null : raw;
    let container: Tree | Indexed = root;
    for (let i = 0; i < segments.length - 1; i++) container = ensureChild(container, segments[i], segments[i + 1]);
    setIn(container, segments[segments.length - 1], value, true);
  }
  return finalize(root) as Tree;
}

export function parseUrlEncoded(body: string): Tree {
  const params = new URLSearchParams(body);
  return buildArgs(params as unknown as Iterable<[string, string]>);
}
