/**
 * Kong's `anonymize` categories → the kinds the detectors report. `all` is every category
 * modelgate detects, custom patterns included; `all_and_credentials` adds the credentials
 * (Kong's `/sanitize_credentials`): API keys, cloud secrets, private keys, JWTs, high-entropy
 * tokens and URLs with a password. A URL's userinfo is both `url` and `credentials`.
 */
import type { DetectedKind } from './detectors/index.ts';
import type { Anonymize } from './schema.ts';

const CREDENTIALS: DetectedKind[] = [
  'url_credentials', 'openai_key', 'anthropic_key', 'aws_access_key', 'aws_secret_key', 'gcp_private_key', 'gcp_api_key',
  'github_token', 'slack_token', 'stripe_key', 'jwt', 'private_key', 'high_entropy',
];

const BY_CATEGORY: Partial<Record<Anonymize, DetectedKind[]>> = {
  email: ['email'],
  phone: ['phone'],
  creditcard: ['creditcard'],
  bank: ['iban'],
  ssn: ['ssn'],
  nationalid: ['ssn', 'nino', 'dni', 'nir', 'bsn'],
  ip: ['ipv4', 'ipv6'],
  url: ['url_credentials'],
  custom: ['custom'],
  credentials: CREDENTIALS,
};

const ALL: Anonymize[] = ['email', 'phone', 'creditcard', 'bank', 'ssn', 'nationalid', 'ip', 'url', 'custom'];

export function kindsFor(anonymize: readonly Anonymize[]): Set<DetectedKind> {
  const out = new Set<DetectedKind>();
  const add = (c: Anonymize) => {
    for (const k of BY_CATEGORY[c] ?? []) out.add(k);
  };
  for (const c of anonymize) {
    if (c === 'all' || c === 'all_and_credentials') ALL.forEach(add);
    if (c === 'all_and_credentials') add('credentials');
    add(c);
  }
  return out;
}

/** Kinds whose synthetic replacement is Kong's run of `#` (credentials): not recoverable, never put back. */
export const HASHED: ReadonlySet<DetectedKind> = new Set(CREDENTIALS.filter((k) => k !== 'url_credentials'));
