/**
 * Phone numbers, found by libphonenumber-js (Google's libphonenumber metadata, `max` set: numbers
 * are checked against each country's number patterns, not only their lengths).
 *
 * Numbers in international form (`+44 20 7946 0958`, `0044 ...`) are found for every country;
 * numbers in national form are read as North American ones (`(213) 373-4253`): the config has no
 * country field (Kong's PII service decides by its NLP model), and one default country keeps
 * 8-digit order numbers and the like from being taken for some country's phone number.
 *
 * findPhoneNumbersInText costs about 1 ms per KB of text, so it only runs on candidate runs of
 * digits and separators (7 digits at least) found by a linear regex first; text without such a
 * run costs one regex scan.
 */
import { findPhoneNumbersInText } from 'libphonenumber-js/max';
import type { Span } from './types.ts';

const CANDIDATE = /(?:\+|(?<![\d])00)?\(?\d[\d\s().\-/]{5,24}\d/g;
const MIN_DIGITS = 7;

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

export function detectPhones(text: string): Span[] {
  const out: Span[] = [];
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    if (digitCount(m[0]) < MIN_DIGITS) continue;
    // a little context before the run: libphonenumber rejects a number glued to letters or digits
    const from = Math.max(0, m.index - 1);
    const window = text.slice(from, m.index + m[0].length + 1);
    for (const found of findPhoneNumbersInText(window, { defaultCountry: 'US' })) {
      out.push({ start: from + found.startsAt, end: from + found.endsAt, kind: 'phone' });
    }
  }
  return out;
}
