/**
 * Egress policy, enforced when a connection is made (after DNS, so a name that resolves to a
 * forbidden address is caught too): cloud metadata addresses are refused by default, loopback and
 * private ranges stay allowed for self-hosted models, and an optional allow-list narrows the rest.
 */
import net from 'node:net';
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';

export interface EgressPolicy {
  allowMetadata: boolean;
  deny: string[];
  allow: string[];
}

export class EgressBlockedError extends Error {
  readonly code = 'MODELGATE_EGRESS_BLOCKED';
}

/** Link-local (AWS, GCP, Azure, OpenStack metadata), and the other clouds' metadata addresses. */
const METADATA_V4 = [['169.254.0.0', 16], ['100.100.100.200', 32], ['192.0.0.192', 32]] as const;
const METADATA_V6 = [['fe80::', 10], ['fd00:ec2::254', 128]] as const;

interface Compiled {
  deny: net.BlockList;
  allow: net.BlockList | null;
  allowNames: Set<string>;
}

function addEntry(list: net.BlockList, entry: string): boolean {
  const [addr, bits] = entry.split('/');
  const type = net.isIP(addr);
  if (!type) return false;
  const family = type === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(addr, family);
  else list.addSubnet(addr, Number(bits), family);
  return true;
}

let policy: Compiled = compile({ allowMetadata: false, deny: [], allow: [] });

function compile(p: EgressPolicy): Compiled {
  const deny = new net.BlockList();
  if (!p.allowMetadata) {
    for (const [a, b] of METADATA_V4) deny.addSubnet(a, b, 'ipv4');
    for (const [a, b] of METADATA_V6) deny.addSubnet(a, b, 'ipv6');
  }
  for (const d of p.deny) addEntry(deny, d);
  let allow: net.BlockList | null = null;
  const allowNames = new Set<string>();
  for (const a of p.allow) {
    allow ??= new net.BlockList();
    if (!addEntry(allow, a)) allowNames.add(a.toLowerCase());
  }
  return { deny, allow, allowNames };
}

export function setEgressPolicy(p: EgressPolicy): void {
  policy = compile(p);
}

/** Normalises IPv4-mapped IPv6 (`::ffff:169.254.169.254`) so it is judged as the IPv4 it is. */
function unmap(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1], family: 'ipv4' };
  return { address, family: net.isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** Why connecting to `address` (resolved from `hostname`) is refused, or null when it is allowed. */
export function egressVerdict(address: string, hostname: string): string | null {
  const { address: a, family } = unmap(address);
  if (policy.deny.check(a, family)) return `connections to ${a} are not allowed (cloud metadata or denied range)`;
  if (policy.allow) {
    if (!policy.allow.check(a, family) && !policy.allowNames.has(hostname.toLowerCase())) return `${hostname} is not in the egress allow-list`;
  }
  return null;
}

/** A DNS lookup that applies the policy to every resolved address. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return (callback as (e: Error | null, a: string, f: number) => void)(err, '', 0);
    const list = addresses as dns.LookupAddress[];
    for (const a of list) {
      const why = egressVerdict(a.address, hostname);
      if (why) return (callback as (e: Error | null, a: string, f: number) => void)(new EgressBlockedError(why), '', 0);
    }
    if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    return (callback as (e: null, a: string, f: number) => void)(null, list[0].address, list[0].family);
  });
};
