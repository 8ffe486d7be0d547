/**
 * Custom patterns (Kong's `custom_patterns`: `name`, `regex`, `score`), vetted when the
 * configuration is written, never on the request path:
 * - safe-regex2 (the star-height check Fastify itself uses) refuses nested quantifiers;
 * - then the project's guard-pattern vetting (ai-prompt-guard/regex.ts, docs/decisions.md D10):
 *   no backreferences or ambiguous repeated alternatives, and linear-time matching by V8's
 *   linear engine where it has the construct;
 * - the pattern is at most MAX_PATTERN_LENGTH characters, and the text it runs on is bounded by
 *   the request body limit.
 * `score` (0-1, Kong's confidence for its NLP matches) is kept and ignored: a regex match is certain.
 */
import safeRegex from 'safe-regex2';
import { compileGuardPattern, UnsafePatternError } from '../../ai-prompt-guard/regex.ts';
import type { Span } from './types.ts';

export const MAX_PATTERN_LENGTH = 500;

export interface CustomPattern {
  name: string;
  re: RegExp;
  /** Match against the lower-cased text (a case-insensitive pattern on the linear engine). */
  fold: boolean;
}

/** Why the pattern is refused, or undefined: the schema's custom validator. */
export function validateCustomPattern(regex: string): string | undefined {
  if (regex.length > MAX_PATTERN_LENGTH) return `custom pattern longer than ${MAX_PATTERN_LENGTH} characters`;
  try {
    compileCustomPattern('check', regex);
    return undefined;
  } catch (e) {
    if (e instanceof UnsafePatternError) return `unsafe regex '${regex}': ${e.message}`;
    return `invalid regex '${regex}': ${(e as Error).message}`;
  }
}

export function compileCustomPattern(name: string, regex: string): CustomPattern {
  const vetted = compileGuardPattern(regex); // SyntaxError / UnsafePatternError
  if (!safeRegex(vetted.re)) throw new UnsafePatternError('nested quantifiers (catastrophic backtracking)');
  if (vetted.re.test('')) throw new UnsafePatternError('the pattern matches the empty string');
  const flags = vetted.re.flags.includes('g') ? vetted.re.flags : vetted.re.flags + 'g';
  return { name, re: new RegExp(vetted.re.source, flags), fold: vetted.fold };
}

export function detectCustom(patterns: readonly CustomPattern[], text: string): Span[] {
  if (patterns.length === 0) return [];
  let lower: string | null = null;
  const out: Span[] = [];
  for (const p of patterns) {
    let subject = text;
    if (p.fold) {
      lower ??= text.toLowerCase();
      // offsets hold only when lower-casing kept every length (it does outside a few Unicode letters)
      if (lower.length === text.length) subject = lower;
    }
    p.re.lastIndex = 0;
    for (let m = p.re.exec(subject); m !== null; m = p.re.exec(subject)) {
      if (m[0] === '') {
        p.re.lastIndex++;
        continue;
      }
      out.push({ start: m.index, end: m.index + m[0].length, kind: 'custom' });
    }
  }
  return out;
}
