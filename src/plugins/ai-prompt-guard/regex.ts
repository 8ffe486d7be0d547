/**
 * Guard patterns that cannot stall the event loop (docs/decisions.md, D10, T82).
 *
 * JavaScript's regex engine backtracks without limit: `/(a+)+$/` on 30 `a` and a `!` blocks a
 * core for seconds, and even ordinary-looking patterns such as `ignore.*previous.*instructions`
 * take time polynomial in the input (84 s on 50 000 characters). So a pattern is accepted only if:
 *
 * 1. it parses (Kong's PCRE leading `(?i)`, `(?s)`, `(?m)` are understood as flags);
 * 2. it has none of the catastrophic shapes: backreferences, a repeated group containing a
 *    variable-length repetition (nested quantifiers: `(a+)+`, `(x+x+)+y`, `(a?){20}`), a repeated
 *    group whose alternatives can start with the same character (`(a|ab)*`, `(\w|\d)+`);
 * 3. it runs in linear time: V8's linear-time engine (`--enable-experimental-regexp-engine`, the
 *    `l` flag) compiles it — case-insensitive patterns are case-folded for it (pattern and input
 *    lower-cased) — or, for the few constructs that engine lacks (lookahead, large counted
 *    repetitions), the pattern has no unbounded repetition at all.
 *
 * And the text matched is bounded (MAX_GUARDED_CHARS): longer prompts are refused.
 */
import v8 from 'node:v8';

/** Longest prompt text the guard matches; a longer one is refused (deny by default). */
export const MAX_GUARDED_CHARS = 128 * 1024;

function linearEngineAvailable(): boolean {
  try {
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    new RegExp('a', 'l');
    return true;
  } catch {
    return false;
  }
}

export const LINEAR_ENGINE = linearEngineAvailable();

export interface GuardPattern {
  source: string;
  re: RegExp;
  /** Match against the lower-cased text (case-insensitive pattern run by the linear engine). */
  fold: boolean;
  linear: boolean;
}

export class UnsafePatternError extends Error {}

// ---------------------------------------------------------------------------------------------
// A parser for JavaScript (non-unicode) regex syntax, enough to see the pattern's structure.

type Node =
  | { t: 'char'; ch: string }
  | { t: 'set'; src: string }
  | { t: 'anchor' }
  | { t: 'backref' }
  | { t: 'group'; alts: Node[][]; look: boolean }
  | { t: 'quant'; node: Node; min: number; max: number };

class Parser {
  readonly s: string;
  i = 0;
  constructor(s: string) {
    this.s = s;
  }

  parse(): Node[][] {
    const alts = this.alternation();
    return alts;
  }

  alternation(): Node[][] {
    const alts = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts;
  }

  sequence(): Node[] {
    const seq: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      let atom = this.atom();
      const q = this.quantifier();
      if (q) atom = { t: 'quant', node: atom, min: q[0], max: q[1] };
      seq.push(atom);
    }
    return seq;
  }

  quantifier(): [number, number] | null {
    const c = this.s[this.i];
    let q: [number, number] | null = null;
    if (c === '*') q = [0, Infinity];
    else if (c === '+') q = [1, Infinity];
    else if (c === '?') q = [0, 1];
    if (q) this.i++;
    else if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) return null;
      const min = Number(m[1]);
      const max = m[2] ? (m[3] ? Number(m[3]) : Infinity) : min;
      q = [min, max];
      this.i += m[0].length;
    }
    if (q && this.s[this.i] === '?') this.i++; // lazy
    return q;
  }

  atom(): Node {
    const s = this.s;
    const c = s[this.i++];
    if (c === '(') {
      let look = false;
      if (s[this.i] === '?') {
        const rest = s.slice(this.i + 1);
        if (rest.startsWith(':')) this.i += 2;
        else if (rest.startsWith('=') || rest.startsWith('!')) {
          look = true;
          this.i += 2;
        } else if (rest.startsWith('<=') || rest.startsWith('<!')) {
          look = true;
          this.i += 3;
        } else if (rest.startsWith('<')) {
          this.i = s.indexOf('>', this.i) + 1;
        } else {
          // modifiers group (?i:...) / (?-i:...)
          this.i = s.indexOf(':', this.i) + 1;
        }
      }
      const alts = this.alternation();
      this.i++; // ')'
      return { t: 'group', alts, look };
    }
    if (c === '[') {
      const start = this.i - 1;
      if (s[this.i] === '^') this.i++;
      while (this.i < s.length && s[this.i] !== ']') this.i += s[this.i] === '\\' ? 2 : 1;
      this.i++;
      return { t: 'set', src: s.slice(start, this.i) };
    }
    if (c === '\\') {
      const e = s[this.i++];
      if (e >= '1' && e <= '9') {
        while (s[this.i] >= '0' && s[this.i] <= '9') this.i++;
        return { t: 'backref' };
      }
      if (e === 'k' && s[this.i] === '<') {
        this.i = s.indexOf('>', this.i) + 1;
        return { t: 'backref' };
      }
      if ('dDwWsS'.includes(e)) return { t: 'set', src: `\\${e}` };
      if (e === 'b' || e === 'B') return { t: 'anchor' };
      if (e === 'x') {
        this.i += 2;
        return { t: 'char', ch: String.fromCharCode(parseInt(s.slice(this.i - 2, this.i), 16)) };
      }
      if (e === 'u') {
        this.i += 4;
        return { t: 'char', ch: String.fromCharCode(parseInt(s.slice(this.i - 4, this.i), 16)) };
      }
      if (e === 'c') {
        this.i++;
        return { t: 'set', src: `\\c${s[this.i - 1]}` };
      }
      const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', v: '\v', f: '\f', '0': '\0' };
      return { t: 'char', ch: named[e] ?? e };
    }
    if (c === '.') return { t: 'set', src: '.' };
    if (c === '^' || c === '$') return { t: 'anchor' };
    return { t: 'char', ch: c };
  }
}

function walk(node: Node, fn: (n: Node) => void): void {
  fn(node);
  if (node.t === 'quant') walk(node.node, fn);
  else if (node.t === 'group') for (const alt of node.alts) for (const n of alt) walk(n, fn);
}

function any(node: Node, pred: (n: Node) => boolean): boolean {
  let found = false;
  walk(node, (n) => {
    if (!found && pred(n)) found = true;
  });
  return found;
}

function canBeEmpty(seq: Node[]): boolean {
  return seq.every(nodeCanBeEmpty);
}

function nodeCanBeEmpty(n: Node): boolean {
  if (n.t === 'anchor') return true;
  if (n.t === 'quant') return n.min === 0 || nodeCanBeEmpty(n.node);
  if (n.t === 'group') return n.look || n.alts.some(canBeEmpty);
  return false;
}

type First = { ch: string } | { src: string };

/** The characters a sequence can start with (null: unknown or it can match the empty string). */
function firstOf(seq: Node[]): First[] | null {
  const out: First[] = [];
  for (const n of seq) {
    const f = nodeFirst(n);
    if (f === null) return null;
    out.push(...f);
    if (!nodeCanBeEmpty(n)) return out;
  }
  return null; // the whole sequence can be empty
}

function nodeFirst(n: Node): First[] | null {
  switch (n.t) {
    case 'char':
      return [{ ch: n.ch }];
    case 'set':
      return [{ src: n.src }];
    case 'anchor':
      return [];
    case 'backref':
      return null;
    case 'quant':
      return nodeFirst(n.node);
    case 'group': {
      if (n.look) return [];
      const out: First[] = [];
      for (const alt of n.alts) {
        const f = firstOf(alt);
        if (f === null) return null;
        out.push(...f);
      }
      return out;
    }
  }
}

const SAMPLE = Array.from({ length: 0x300 }, (_, i) => String.fromCharCode(i));

function overlap(a: First, b: First, flags: string): boolean {
  if ('ch' in a && 'ch' in b) return flags.includes('i') ? a.ch.toLowerCase() === b.ch.toLowerCase() : a.ch === b.ch;
  const test = (f: First, ch: string) => ('ch' in f ? (flags.includes('i') ? f.ch.toLowerCase() === ch.toLowerCase() : f.ch === ch) : new RegExp(f.src, flags).test(ch));
  if ('ch' in a) return test(b, a.ch);
  if ('ch' in b) return test(a, b.ch);
  const ra = new RegExp(a.src, flags);
  const rb = new RegExp(b.src, flags);
  return SAMPLE.some((ch) => ra.test(ch) && rb.test(ch));
}

/** A repeated group's alternatives must start with distinct characters, or repetition becomes ambiguous. */
function ambiguousAlternation(node: Node, flags: string): boolean {
  return any(node, (n) => {
    if (n.t !== 'group' || n.alts.length < 2) return false;
    const firsts = n.alts.map(firstOf);
    if (firsts.some((f) => f === null)) return true;
    for (let i = 0; i < firsts.length; i++) {
      for (let j = i + 1; j < firsts.length; j++) {
        for (const a of firsts[i]!) for (const b of firsts[j]!) if (overlap(a, b, flags)) return true;
      }
    }
    return false;
  });
}

function check(alts: Node[][], flags: string): void {
  const root: Node = { t: 'group', alts, look: false };
  if (any(root, (n) => n.t === 'backref')) throw new UnsafePatternError('backreferences are not allowed');
  walk(root, (n) => {
    if (n.t !== 'quant' || n.max <= 1) return;
    if (any(n.node, (m) => m.t === 'quant' && m.min !== m.max)) {
      throw new UnsafePatternError('nested quantifiers (a repeated group containing a variable repetition) can take exponential time');
    }
    if (ambiguousAlternation(n.node, flags)) {
      throw new UnsafePatternError('a repeated group whose alternatives can match the same text can take exponential time');
    }
    if (n.node.t === 'group' && n.node.alts.some(canBeEmpty)) {
      throw new UnsafePatternError('a repeated group that can match the empty string is not allowed');
    }
  });
}

function unboundedRepetitions(alts: Node[][]): number {
  let count = 0;
  walk({ t: 'group', alts, look: false }, (n) => {
    if (n.t === 'quant' && n.max === Infinity) count++;
  });
  return count;
}

/** Lower-cases a pattern's literal letters (not escapes, not group names), for matching lower-cased text. */
export function foldPattern(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const e = src[i + 1] ?? '';
      let len = 2;
      if (e === 'x') len = 4;
      else if (e === 'u') len = 6;
      else if (e === 'c') len = 3;
      else if (e === 'k' && src[i + 2] === '<') len = src.indexOf('>', i) - i + 1;
      out += src.slice(i, i + len);
      i += len - 1;
      continue;
    }
    if (c === '(' && src.startsWith('?<', i + 1) && src[i + 3] !== '=' && src[i + 3] !== '!') {
      const end = src.indexOf('>', i);
      out += src.slice(i, end + 1);
      i = end;
      continue;
    }
    out += c.toLowerCase();
  }
  return out;
}

/** Compiles a guard pattern, or throws UnsafePatternError / SyntaxError with the reason. */
export function compileGuardPattern(pattern: string): GuardPattern {
  let body = pattern;
  let flags = '';
  const lead = /^\(\?([a-z]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1]) {
      if (!'ims'.includes(f)) throw new UnsafePatternError(`inline flag '${f}' is not supported`);
      if (!flags.includes(f)) flags += f;
    }
    body = body.slice(lead[0].length);
  }
  const re = new RegExp(body, flags); // SyntaxError for invalid patterns
  const alts = new Parser(body).parse();
  check(alts, flags);
  if (LINEAR_ENGINE) {
    const fold = flags.includes('i');
    try {
      const linear = new RegExp(fold ? foldPattern(body) : body, flags.replace('i', '') + 'l');
      return { source: pattern, re: linear, fold, linear: true };
    } catch {
      // a construct the linear-time engine lacks: accepted only without unbounded repetition
    }
  }
  if (unboundedRepetitions(alts) > 0) {
    throw new UnsafePatternError('this pattern combines unbounded repetition with constructs that cannot be matched in linear time (lookahead, large counted repetition ...)');
  }
  return { source: pattern, re, fold: false, linear: false };
}

/** Schema validator: undefined when the pattern is accepted, else Kong-style message. */
export function validateGuardPattern(pattern: string): string | undefined {
  try {
    compileGuardPattern(pattern);
    return undefined;
  } catch (e) {
    if (e instanceof UnsafePatternError) return `unsafe regex '${pattern}': ${e.message}`;
    return `invalid regex '${pattern}': ${(e as Error).message}`;
  }
}
