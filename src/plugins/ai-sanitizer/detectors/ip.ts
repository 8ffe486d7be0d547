/**
 * IP addresses: dotted-quad IPv4 (each octet 0-255, no leading zeros, not part of a longer dotted
 * run such as a version number `1.2.3.4.5`), and IPv6 in RFC 5952 / RFC 4291 text forms (full,
 * `::`-compressed, with an embedded IPv4 tail), validated group by group. Candidates need `::`
 * or 8 groups so that times (`12:30`) and MAC-like strings are not taken.
 */
import { regexSpans, type Span } from './types.ts';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\d.])${OCTET}(?:\\.${OCTET}){3}(?![\\d]|\\.\\d)`, 'g');

export function detectIpv4(text: string): Span[] {
  if (!text.includes('.')) return [];
  return regexSpans(IPV4, text, 'ipv4');
}

const IPV6_CANDIDATE = /(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![0-9A-Fa-f:]|\.\d)/g;
const IPV4_TAIL = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

export function isIpv6(s: string): boolean {
  let head = s;
  let tailGroups = 0;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    if (!IPV4_TAIL.test(s.slice(lastColon + 1))) return false;
    head = s.slice(0, lastColon + 1) + '0'; // stands for the two groups the IPv4 tail fills
    tailGroups = 1;
  }
  const halves = head.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const parts = halves.flatMap(groups);
  if (!parts.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  const count = parts.length + tailGroups;
  return halves.length === 2 ? count <= 7 : count === 8;
}

export function detectIpv6(text: string): Span[] {
  if (!text.includes(':')) return [];
  return regexSpans(IPV6_CANDIDATE, text, 'ipv6', (m) => {
    const s = m[0];
    // full form, or `::`-compressed with two groups at least and a digit: times (`12:30`), `::1`
    // and C++ names (`std::vector`'s `d::`) are left alone
    if (!s.includes('::') && s.split(':').length < 8) return false;
    if (s.split(':').filter((g) => g !== '').length < 2 || !/\d/.test(s)) return false;
    return isIpv6(s);
  });
}
