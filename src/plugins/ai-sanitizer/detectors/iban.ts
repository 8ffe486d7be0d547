/**
 * IBANs (ISO 13616): two letters of a country that uses IBANs, two check digits, then the BBAN,
 * at exactly that country's length (SWIFT's IBAN registry), with the mod-97 check (ISO 7064
 * MOD 97-10: the rearranged number, letters as 10..35, leaves 1). Written compact or in groups of
 * four separated by single spaces, as printed.
 */
import { regexSpans, type Span } from './types.ts';

/** Country → IBAN length, from SWIFT's IBAN registry. */
export const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

// compact, or printed in groups of four (the last one shorter): two alternatives without overlap, so a long run backtracks little
const CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])/g;

/** ISO 7064 MOD 97-10 over an IBAN already rearranged (country and check digits moved to the end). */
function mod97(rearranged: string): number {
  let rest = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 55; // '0'..'9' → 0..9, 'A'..'Z' → 10..35
    rest = v > 9 ? (rest * 100 + v) % 97 : (rest * 10 + v) % 97;
  }
  return rest;
}

export function isIban(raw: string): boolean {
  const s = raw.replace(/ /g, '');
  const length = IBAN_LENGTHS[s.slice(0, 2)];
  if (length === undefined || s.length !== length) return false;
  // printed IBANs group by four from the start: a space anywhere else is not one IBAN
  if (raw.includes(' ') && !/^[A-Z0-9]{4}(?: [A-Z0-9]{4})*(?: [A-Z0-9]{1,3})?$/.test(raw)) return false;
  return mod97(s.slice(4) + s.slice(0, 4)) === 1;
}

/** The two check digits that make `country + '00' + bban` a valid IBAN. */
export function ibanCheckDigits(country: string, bban: string): string {
  const check = 98 - mod97(bban + country + '00');
  return String(check).padStart(2, '0');
}

export function detectIbans(text: string): Span[] {
  return regexSpans(CANDIDATE, text, 'iban', (m) => isIban(m[0]));
}
