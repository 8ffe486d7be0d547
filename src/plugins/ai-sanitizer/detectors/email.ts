/**
 * Email addresses: RFC 5322's dot-atom local part (the characters real addresses use, no quoted
 * strings) at a domain of labels with a letter TLD. Bounded quantifiers (64 for the local part,
 * 63 per label, RFC 5321's limits) keep the scan linear.
 */
import { regexSpans, type Span } from './types.ts';

const EMAIL = /(?<![A-Za-z0-9._%+\-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}){0,8}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,63}(?![A-Za-z0-9-])/g;

export function detectEmails(text: string): Span[] {
  if (!text.includes('@')) return [];
  return regexSpans(EMAIL, text, 'email');
}
