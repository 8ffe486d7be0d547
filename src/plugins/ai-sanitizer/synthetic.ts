/**
 * Format-preserving fakes for `redact_type: synthetic`, the n-th value of each kind (n from 1):
 * values a model can work with (an address still looks like one) that belong to nobody —
 * reserved or documentation ranges where they exist:
 * - email: `userN@example.com` (RFC 2606's reserved domain);
 * - phone: `+1 202-555-01NN` (the 555-0100..0199 numbers the NANP reserves for fiction);
 * - card: Visa's test prefix 400000, the original's length and grouping, a valid Luhn digit;
 * - IBAN: the original's country and length, a numeric BBAN, valid check digits, same grouping;
 * - SSN: area 900 (never issued), NINO: prefix QQ (never issued), DNI/NIE: 0000000N and its
 *   letter, NIR: a 99 department and its key, BSN: 99… passing the 11-proof;
 * - IP: RFC 5737's 192.0.2.0/24 (then 198.51.100.0/24, 203.0.113.0/24), RFC 3849's 2001:db8::/32;
 * - URL credentials: `userN:passwordN`;
 * - custom patterns: `<CUSTOM_N>` (Kong's CUSTOM{i});
 * - credentials: a run of `#` as long as the value (Kong's behaviour; see kinds.ts HASHED).
 */
import type { DetectedKind } from './detectors/index.ts';
import { luhnCheckDigit } from './detectors/card.ts';
import { ibanCheckDigits } from './detectors/iban.ts';
import { dniLetter, nirKey, bsnValid } from './detectors/national-id.ts';
import { HASHED } from './kinds.ts';

const pad = (n: number, width: number) => String(n).padStart(width, '0').slice(-width);

/** Puts `digits` into the original's layout: each digit of the original replaced in order, separators kept. */
function sameLayout(original: string, digits: string, isSlot: (c: string) => boolean = (c) => c >= '0' && c <= '9'): string {
  let i = 0;
  let out = '';
  for (const c of original) out += isSlot(c) && i < digits.length ? digits[i++] : c;
  return out;
}

function card(original: string, n: number): string {
  const length = original.replace(/\D/g, '').length;
  const body = '400000' + pad(n, length - 7);
  return sameLayout(original, body + luhnCheckDigit(body));
}

function iban(original: string, n: number): string {
  const compact = original.replace(/ /g, '');
  const country = compact.slice(0, 2);
  const bban = pad(n, compact.length - 4);
  const fake = country + ibanCheckDigits(country, bban) + bban;
  return original.includes(' ') ? fake.replace(/(.{4})(?=.)/g, '$1 ') : fake;
}

function bsn(n: number): string {
  for (let k = n * 10; ; k++) {
    const candidate = '99' + pad(k, 7);
    if (bsnValid(candidate)) return candidate;
  }
}

function ipv4(n: number): string {
  const nets = ['192.0.2.', '198.51.100.', '203.0.113.'];
  const i = (n - 1) % (254 * 3);
  return nets[Math.floor(i / 254)] + ((i % 254) + 1);
}

/** The fake for the n-th distinct value of `kind` (n ≥ 1). */
export function syntheticValue(kind: DetectedKind, original: string, n: number): string {
  if (HASHED.has(kind)) return '#'.repeat(original.length);
  switch (kind) {
    case 'email':
      return `user${n}@example.com`;
    case 'phone':
      return n < 100 ? `+1 202-555-01${pad(n, 2)}` : `+1 202-555-${pad(n, 4)}`;
    case 'creditcard':
      return card(original, n);
    case 'iban':
      return iban(original, n);
    case 'ssn': {
      const sep = original[3] === ' ' ? ' ' : '-';
      return `900${sep}${pad(Math.floor(n / 10000) + 1, 2)}${sep}${pad(n, 4)}`;
    }
    case 'nino': {
      const digits = pad(n, 6);
      return original.includes(' ') ? `QQ ${digits.slice(0, 2)} ${digits.slice(2, 4)} ${digits.slice(4)} A` : `QQ${digits}A`;
    }
    case 'dni': {
      const number = pad(n, 8);
      return number + dniLetter(number);
    }
    case 'nir': {
      const thirteen = '1000199' + pad(n, 6);
      return thirteen + nirKey(thirteen);
    }
    case 'bsn':
      return bsn(n);
    case 'ipv4':
      return ipv4(n);
    case 'ipv6':
      return `2001:db8::${n.toString(16)}`;
    case 'url_credentials':
      return `user${n}:password${n}`;
    default:
      return `<CUSTOM_${n}>`;
  }
}
