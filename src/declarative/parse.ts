/**
 * Declarative text → a document. YAML (which also reads JSON); JSON-looking text is parsed as
 * JSON first, which is faster for the large files tools generate. Duplicate keys and alias
 * bombs are refused. Errors are one line with the position.
 */
import YAML from 'yaml';

export type ParseResult = { doc: unknown; error?: undefined } | { doc?: undefined; error: string };

export function parseDeclarativeText(text: string): ParseResult {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      return { doc: JSON.parse(trimmed) };
    } catch {
      // not strict JSON: YAML flow mappings start with { too
    }
  }
  try {
    const doc = YAML.parse(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: true });
    if (doc === null || doc === undefined) return { error: 'the file is empty' };
    return { doc };
  } catch (e) {
    return { error: String((e as Error).message).split('\n')[0] };
  }
}
