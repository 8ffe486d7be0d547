/**
 * The plugin's `propagation` record and its deprecated `header_type`, folded into one
 * PropagationConfig once per snapshot (the plugin's compile), as Kong's get_plugin_params does
 * (kong/observability/tracing/propagation/init.lua):
 *
 * - any of `extract`, `clear`, `inject` set (an empty list counts as set): the record as it is,
 *   `header_type` ignored;
 * - otherwise `header_type` decides: `preserve` (Kong's default) reads every format in the old
 *   fixed order and injects the format read; `ignore` reads nothing and injects `default_format`;
 *   a format name reads every format and injects both the format read and that one;
 * - `default_header_type` (zipkin's name for `default_format`) is honoured the same way.
 */
import { PROPAGATION_FORMATS, type PropagationConfig, type PropagationFormat } from '../types.ts';

/** The plugin configuration's fields this reads (Kong's names; null is how an unset field is stored). */
export interface PropagationSettings {
  propagation?: {
    extract?: readonly string[] | null;
    clear?: readonly string[] | null;
    inject?: readonly string[] | null;
    default_format?: string | null;
  } | null;
  header_type?: string | null;
  default_header_type?: string | null;
}

/** The order the old propagation module tried formats in, which `header_type` still implies. */
export const LEGACY_EXTRACT: readonly PropagationFormat[] = ['b3', 'w3c', 'jaeger', 'ot', 'datadog', 'aws', 'gcp', 'instana'];

const KNOWN = new Set<string>(PROPAGATION_FORMATS);

function isFormat(v: unknown): v is PropagationFormat {
  return typeof v === 'string' && KNOWN.has(v);
}

function set(v: unknown): boolean {
  return v !== null && v !== undefined;
}

/** Formats to read: known names, in order, once each; `b3-single` reads as b3 (Kong has one extractor for both). */
function extractList(list: readonly string[] | null | undefined): PropagationFormat[] {
  const out: PropagationFormat[] = [];
  for (const v of list ?? []) {
    const f = v === 'b3-single' ? 'b3' : v;
    if (isFormat(f) && !out.includes(f)) out.push(f);
  }
  return out;
}

function injectList(list: readonly string[] | null | undefined): (PropagationFormat | 'preserve')[] {
  const out: (PropagationFormat | 'preserve')[] = [];
  for (const v of list ?? []) {
    if ((v === 'preserve' || isFormat(v)) && !out.includes(v)) out.push(v);
  }
  return out;
}

/** Header names, lower-case (how Node hands request headers over), once each. */
function clearList(list: readonly string[] | null | undefined): string[] {
  const out: string[] = [];
  for (const v of list ?? []) {
    if (typeof v !== 'string' || v.length === 0) continue;
    const name = v.toLowerCase();
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

export function compilePropagation(conf: PropagationSettings): PropagationConfig {
  const p = conf.propagation ?? {};
  let defaultFormat: PropagationFormat = isFormat(p.default_format) ? p.default_format : 'w3c';

  if (set(p.extract) || set(p.clear) || set(p.inject)) {
    return { extract: extractList(p.extract), clear: clearList(p.clear), inject: injectList(p.inject), default_format: defaultFormat };
  }

  if (isFormat(conf.default_header_type)) defaultFormat = conf.default_header_type;
  const legacy = conf.header_type;
  if (legacy === 'preserve') return { extract: [...LEGACY_EXTRACT], clear: [], inject: ['preserve'], default_format: defaultFormat };
  if (legacy === 'ignore') return { extract: [], clear: [], inject: [defaultFormat], default_format: defaultFormat };
  if (isFormat(legacy)) return { extract: [...LEGACY_EXTRACT], clear: [], inject: injectList(['preserve', legacy]), default_format: defaultFormat };
  // neither set: Kong configures no extractor and no injector
  return { extract: [], clear: [], inject: [], default_format: defaultFormat };
}

/** The request headers to delete after extraction (`clear`), before the injected ones are set. */
export function headersToClear(config: PropagationConfig): readonly string[] {
  return config.clear;
}
