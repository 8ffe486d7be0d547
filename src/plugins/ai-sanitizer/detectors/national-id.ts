/**
 * National identity numbers, one rule set each:
 * - US Social Security numbers (`ssn`): no check digit exists, so only the SSA's format rules —
 *   AAA-GG-SSSS written with dashes or spaces (nine bare digits are too often something else),
 *   area not 000, 666 or 900-999, group not 00, serial not 0000 — and the two numbers the SSA
 *   lists as invalid after they were printed in advertising (078-05-1120, 219-09-9999).
 * - UK National Insurance numbers (`nino`): no check digit either; HMRC's format — two prefix
 *   letters (first not D F I Q U V, second not D F I O Q U V, and not BG GB KN NK NT TN ZZ), six
 *   digits, a suffix A-D — compact or in pairs.
 * - Spanish DNI and NIE (`dni`): eight digits (NIE: X, Y or Z and seven digits) and the control
 *   letter, TRWAGMYFPDXBNJZSQVHLCKE indexed by the number mod 23.
 * - French NIR (`nir`, numéro de sécurité sociale): 13 characters (sex, year, month, department —
 *   2A/2B for Corsica, counted as 19 and 18 — commune, order) and the key 97 - (number mod 97).
 * - Dutch BSN (`bsn`): nine digits passing the 11-proof (9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11).
 */
import { regexSpans, type Span } from './types.ts';

const SSN = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;
const SSN_PUBLICIZED = new Set(['078051120', '219099999']);

export function isSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  if (a === 0 || a === 666 || a >= 900) return false;
  if (group === '00' || serial === '0000') return false;
  return !SSN_PUBLICIZED.has(area + group + serial);
}

export function detectSsns(text: string): Span[] {
  return regexSpans(SSN, text, 'ssn', (m) => isSsn(m[1], m[3], m[4]));
}

const NINO = /(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])(?![A-Za-z0-9])/g;
const NINO_UNUSED = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

export function detectNinos(text: string): Span[] {
  return regexSpans(NINO, text, 'nino', (m) => !NINO_UNUSED.has(m[1]));
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
const DNI = /(?<![A-Za-z0-9])([XYZ]\d{7}|\d{8})-?([A-Z])(?![A-Za-z0-9])/g;

export function dniLetter(number: string): string {
  const n = Number(number.replace(/^[XYZ]/, (c) => String('XYZ'.indexOf(c))));
  return DNI_LETTERS[n % 23];
}

export function detectDnis(text: string): Span[] {
  return regexSpans(DNI, text, 'dni', (m) => dniLetter(m[1]) === m[2]);
}

const NIR = /(?<![A-Za-z0-9])([12378]) ?(\d{2}) ?(\d{2}) ?(\d{2}|2[AB]) ?(\d{3}) ?(\d{3}) ?(\d{2})(?![A-Za-z0-9])/g;

/** The NIR key of its 13 characters (Corsica's 2A / 2B counted as 19 / 18), as two digits. */
export function nirKey(thirteen: string): string {
  const numeric = thirteen.replace('2A', '19').replace('2B', '18');
  return String(97 - Number(BigInt(numeric) % 97n)).padStart(2, '0');
}

export function detectNirs(text: string): Span[] {
  return regexSpans(NIR, text, 'nir', (m) => {
    const month = Number(m[3]);
    if (month === 0 || (month > 12 && month < 20)) return false;
    return nirKey(m[1] + m[2] + m[3] + m[4] + m[5] + m[6]) === m[7];
  });
}

const BSN = /(?<![\d.,-])\d{9}(?![\d.,-]?\d)/g;

export function bsnValid(digits: string): boolean {
  if (/^0+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (9 - i) * (digits.charCodeAt(i) - 48);
  sum -= digits.charCodeAt(8) - 48;
  return sum % 11 === 0;
}

export function detectBsns(text: string): Span[] {
  return regexSpans(BSN, text, 'bsn', (m) => bsnValid(m[0]));
}
