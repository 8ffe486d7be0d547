/**
 * Payment card numbers: 12 to 19 digits, optionally grouped by single spaces or dashes, that pass
 * the Luhn check (ISO/IEC 7812-1) and start with a known issuer prefix at a length that network
 * issues. The IIN table is the networks' published ranges (Visa, Mastercard incl. 2-series,
 * American Express, Discover, Diners Club, JCB, UnionPay, Maestro); a Luhn-valid number outside
 * them is not reported (one random digit string in ten passes Luhn).
 */
import type { Span } from './types.ts';

const CANDIDATE = /(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d])/g;

/** [prefix range low, high (inclusive, same number of digits), allowed lengths]. */
const IIN: [number, number, number[]][] = [
  [4, 4, [13, 16, 19]], // Visa
  [51, 55, [16]], // Mastercard
  [2221, 2720, [16]], // Mastercard 2-series
  [34, 34, [15]], // American Express
  [37, 37, [15]],
  [6011, 6011, [16, 17, 18, 19]], // Discover
  [644, 649, [16, 17, 18, 19]],
  [65, 65, [16, 17, 18, 19]],
  [622126, 622925, [16, 17, 18, 19]], // Discover / UnionPay co-branded
  [300, 305, [14, 16, 17, 18, 19]], // Diners Club International
  [36, 36, [14, 16, 17, 18, 19]],
  [38, 39, [16, 17, 18, 19]],
  [3528, 3589, [16, 17, 18, 19]], // JCB
  [62, 62, [16, 17, 18, 19]], // UnionPay
  [50, 50, [12, 13, 14, 15, 16, 17, 18, 19]], // Maestro
  [56, 58, [12, 13, 14, 15, 16, 17, 18, 19]],
  [6759, 6759, [12, 13, 14, 15, 16, 17, 18, 19]],
  [6761, 6763, [12, 13, 14, 15, 16, 17, 18, 19]],
];

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The check digit that makes `body + digit` Luhn-valid. */
export function luhnCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return String(d);
  throw new Error('unreachable');
}

export function knownIssuer(digits: string): boolean {
  for (const [low, high, lengths] of IIN) {
    const width = String(low).length;
    const prefix = Number(digits.slice(0, width));
    if (prefix >= low && prefix <= high && lengths.includes(digits.length)) return true;
  }
  return false;
}

export function isCardNumber(raw: string): boolean {
  const digits = raw.replace(/[ -]/g, '');
  if (digits.length < 12 || digits.length > 19) return false;
  // grouping must be consistent: one separator kind at most, and a printed layout — groups of
  // four (the last may be shorter), or American Express / Diners Club's 4-6-5 / 4-6-4
  if (raw.includes(' ') && raw.includes('-')) return false;
  if (digits.length !== raw.length) {
    const groups = raw.split(/[ -]/).map((g) => g.length);
    const fours = groups.slice(0, -1).every((n) => n === 4) && groups[groups.length - 1] <= 4;
    const amex = groups.length === 3 && groups[0] === 4 && groups[1] === 6 && (groups[2] === 5 || groups[2] === 4);
    if (!fours && !amex) return false;
  }
  return knownIssuer(digits) && luhnValid(digits);
}

/**
 * A candidate run can hold more than one number (`0 4111 1111 1111 1111`, two cards in a row):
 * when the whole run is not a card, its separator-delimited groups are tried, the longest
 * contiguous sequence first, from the left, without overlap.
 */
export function detectCards(text: string): Span[] {
  const out: Span[] = [];
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    const run = m[0];
    if (isCardNumber(run)) {
      out.push({ start: m.index, end: m.index + run.length, kind: 'creditcard' });
      continue;
    }
    const groups: [number, number][] = [];
    for (const g of run.matchAll(/\d+/g)) groups.push([g.index, g.index + g[0].length]);
    if (groups.length < 2) continue;
    let lastEnd = -1;
    for (let i = 0; i < groups.length; ) {
      let taken = 0;
      for (let j = groups.length - 1; j >= i; j--) {
        const piece = run.slice(groups[i][0], groups[j][1]);
        if (isCardNumber(piece)) {
          out.push({ start: m.index + groups[i][0], end: m.index + groups[j][1], kind: 'creditcard' });
          lastEnd = m.index + groups[j][1];
          taken = j - i + 1;
          break;
        }
      }
      i += taken || 1;
    }
    // the run may have taken the first groups of a card that goes on after it (`123-45-6789 4111`
    // then ` 1111 1111 1111`): scan again from after the last card found, or from the second group
    CANDIDATE.lastIndex = lastEnd >= 0 ? lastEnd : m.index + groups[1][0];
  }
  return out;
}
