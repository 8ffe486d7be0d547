/**
 * Phone numbers, validated by libphonenumber-js (Google's libphonenumber metadata, `max` set:
 * numbers are checked against each country's number patterns, not only their lengths).
 *
 * Numbers in international form (`+44 20 7946 0958`) are found for every country; numbers in
 * national form are read as North American ones (`(213) 373-4253`): the config has no country
 * field (Kong's PII service decides by its NLP model), and one default country keeps 8-digit
 * order numbers and the like from being taken for some country's phone number.
 *
 * Why not findPhoneNumbersInText alone: it takes a number and the digits that follow it as one
 * candidate (`+44 20 7946 0958 10.20.30.40` finds nothing), and costs about 1 ms per KB of any
 * text. So runs of digits and separators are found by a linear regex first, split at spaces, and
 * each contiguous sequence of pieces (longest first, from the left, 7 to 15 digits) is validated
 * with parsePhoneNumberFromString; text without such a run costs one regex scan.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { Span } from './types.ts';

const CANDIDATE = /(?<![\w+])[+(]?\d[\d\s().\-/]{5,40}\d(?!\w)/g;
const PIECE = /\S+/g;
const MAX_PIECES = 7;

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

function validPhone(s: string): boolean {
  const digits = digitCount(s);
  if (digits < 7 || digits > 15) return false;
  // a number starts with its country code, an area code in brackets, or a digit, and ends with a digit
  if (!/^[+(\d]/.test(s) || !/\d$/.test(s)) return false;
  // national form is read as North American: 10 digits, or 11 with the trunk prefix 1 (a cheap
  // test that spares the parser most digit runs: card groups, dates, amounts)
  if (s[0] !== '+' && digits !== 10 && !(digits === 11 && /^\(?1/.test(s))) return false;
  return parsePhoneNumberFromString(s, 'US')?.isValid() === true;
}

export function detectPhones(text: string): Span[] {
  const out: Span[] = [];
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    if (digitCount(m[0]) < 7) continue;
    const pieces: [number, number][] = [];
    PIECE.lastIndex = 0;
    for (let p = PIECE.exec(m[0]); p !== null; p = PIECE.exec(m[0])) pieces.push([p.index, p.index + p[0].length]);
    let lastEnd = -1;
    for (let i = 0; i < pieces.length; ) {
      let taken = 0;
      for (let j = Math.min(pieces.length, i + MAX_PIECES) - 1; j >= i; j--) {
        if (validPhone(m[0].slice(pieces[i][0], pieces[j][1]))) {
          out.push({ start: m.index + pieces[i][0], end: m.index + pieces[j][1], kind: 'phone' });
          lastEnd = m.index + pieces[j][1];
          taken = j - i + 1;
          break;
        }
      }
      i += taken || 1;
    }
    // a number may begin inside this run and go on after it: scan again from after the last number
    // found, or from the second piece (the run is bounded, so this stays linear in the text)
    if (lastEnd >= 0) CANDIDATE.lastIndex = lastEnd;
    else if (pieces.length > 1) CANDIDATE.lastIndex = m.index + pieces[1][0];
  }
  return out;
}
