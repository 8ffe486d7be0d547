/**
 * Kong's declarative configuration format: parse (parse.ts), validate and flatten into store
 * rows (flatten.ts, ids.ts), report errors as Kong does (errors.ts), and export back (export.ts).
 */
import { parseDeclarativeText } from './parse.ts';
import { flattenConfig, type FlattenResult } from './flatten.ts';
import type { DeclarativeErrors } from './errors.ts';

export { flattenConfig, type FlattenResult } from './flatten.ts';
export { declarativeError, type DeclarativeErrors } from './errors.ts';
export { exportConfig, toYaml } from './export.ts';
export { parseDeclarativeText } from './parse.ts';

/** Text → rows, or every error; a syntax error is reported as one issue at the top. */
export function loadDeclarativeText(text: string, now?: number): FlattenResult {
  const parsed = parseDeclarativeText(text);
  if (parsed.error !== undefined) {
    const errors: DeclarativeErrors = {
      fields: { '@entity': [parsed.error] },
      flattened: [],
      issues: [{ path: '(file)', message: parsed.error }],
    };
    return { errors, warnings: [], meta: {} };
  }
  return flattenConfig(parsed.doc, now);
}
