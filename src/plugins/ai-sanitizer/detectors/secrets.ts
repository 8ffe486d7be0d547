/**
 * API keys and cloud secrets, by the formats their issuers document or use:
 * - OpenAI: `sk-proj-…`, `sk-svcacct-…`, `sk-admin-…` and legacy `sk-…` keys (`openai_key`);
 * - Anthropic: `sk-ant-api03-…` / `sk-ant-admin01-…` (`anthropic_key`, checked before OpenAI's `sk-`);
 * - AWS: access key ids `AKIA…` (long-term) and `ASIA…` (temporary), 16 base32 characters after
 *   the prefix (`aws_access_key`); secret access keys, 40 base64 characters, only when an access
 *   key id or the words aws / secret are within 256 characters (`aws_secret_key`): 40 base64
 *   characters alone are as often a hash as a key;
 * - GCP: service-account private keys (`gcp_private_key`: a PEM private key right after
 *   `"private_key"`) and API keys `AIza` + 35 characters (`gcp_api_key`);
 * - GitHub: `ghp_` `gho_` `ghu_` `ghs_` `ghr_` tokens and fine-grained `github_pat_` ones (`github_token`);
 * - Slack: `xoxa-` `xoxb-` `xoxp-` `xoxr-` `xoxs-` `xoxo-` tokens (`slack_token`);
 * - Stripe: secret and restricted keys, live and test (`sk_live_`, `rk_live_`, `sk_test_`, `rk_test_`) (`stripe_key`);
 * - JWTs: three base64url segments, header and payload starting `eyJ` (`{"`) (`jwt`);
 * - PEM private keys of any type (`private_key`), also JSON-escaped (`\n` written as two characters).
 * Every quantifier is bounded and no two alternatives overlap, so each scan is linear.
 */
import { regexSpans, type DetectedKind, type Span } from './types.ts';

const T = '(?![A-Za-z0-9_-])';
const PATTERNS: [DetectedKind, RegExp][] = [
  ['anthropic_key', new RegExp(`(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9]{3,10}-[A-Za-z0-9_-]{20,300}${T}`, 'g')],
  ['openai_key', new RegExp(`(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,300}${T}`, 'g')],
  ['aws_access_key', /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])/g],
  ['gcp_api_key', new RegExp(`(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}${T}`, 'g')],
  ['github_token', /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g],
  ['slack_token', /(?<![A-Za-z0-9-])xox[abposr]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g],
  ['stripe_key', /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{10,247}(?![A-Za-z0-9])/g],
  ['jwt', /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,4000}\.eyJ[A-Za-z0-9_-]{5,8000}\.[A-Za-z0-9_-]{0,1000}(?![A-Za-z0-9_.-])/g],
];

// the body is base64 with real or JSON-escaped newlines; bounded so one BEGIN scans at most 16 KiB
const PEM = /-----BEGIN (?:[A-Z0-9]{1,10} ){0,2}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\n|\\r){1,16384}?-----END (?:[A-Z0-9]{1,10} ){0,2}PRIVATE KEY-----/g;
const GCP_FIELD = /"private_key"\s*:\s*"$/;

export function detectPrivateKeys(text: string): Span[] {
  if (!text.includes('PRIVATE KEY-----')) return [];
  return regexSpans(PEM, text, 'private_key').map((s) => (GCP_FIELD.test(text.slice(Math.max(0, s.start - 40), s.start)) ? { ...s, kind: 'gcp_private_key' } : s));
}

export function detectApiKeys(text: string): Span[] {
  const out: Span[] = [];
  for (const [kind, re] of PATTERNS) out.push(...regexSpans(re, text, kind));
  return out;
}

const AWS_SECRET = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
const AWS_NEAR = /(?:AKIA|ASIA)[A-Z2-7]{16}|aws|secret/i;
const NEAR = 256;

export function detectAwsSecrets(text: string): Span[] {
  return regexSpans(AWS_SECRET, text, 'aws_secret_key', (m) => {
    const s = m[0];
    // a key mixes cases and digits; a 40-character hex hash or word has not
    if (!/[a-z]/.test(s) || !/[A-Z]/.test(s) || !/\d/.test(s)) return false;
    return AWS_NEAR.test(text.slice(Math.max(0, m.index - NEAR), m.index + s.length + NEAR));
  });
}
