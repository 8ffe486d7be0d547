/**
 * All detectors behind one call: `detect(text, plan)` runs the detectors the plan selects, in
 * priority order (specific formats before generic ones: a PEM key before the high-entropy tokens
 * inside it, an Anthropic key before OpenAI's `sk-`), and keeps each span that overlaps no span
 * already kept, so every character belongs to one finding at most. Spans come back sorted.
 */
import type { DetectedKind, Detector, Span } from './types.ts';
import { detectEmails } from './email.ts';
import { detectPhones } from './phone.ts';
import { detectCards } from './card.ts';
import { detectIbans } from './iban.ts';
import { detectBsns, detectDnis, detectNinos, detectNirs, detectSsns } from './national-id.ts';
import { detectIpv4, detectIpv6 } from './ip.ts';
import { detectUrlCredentials } from './url-credentials.ts';
import { detectApiKeys, detectAwsSecrets, detectPrivateKeys } from './secrets.ts';
import { detectHighEntropy } from './entropy.ts';
import { detectCustom, type CustomPattern } from './custom.ts';

export type { Span, DetectedKind } from './types.ts';
export { DETECTED_KINDS } from './types.ts';

/** The built-in detectors in priority order, each with the kinds it can report. */
const BUILT_IN: { kinds: DetectedKind[]; run: Detector }[] = [
  { kinds: ['private_key', 'gcp_private_key'], run: detectPrivateKeys },
  { kinds: ['url_credentials'], run: detectUrlCredentials },
  { kinds: ['anthropic_key', 'openai_key', 'aws_access_key', 'gcp_api_key', 'github_token', 'slack_token', 'stripe_key', 'jwt'], run: detectApiKeys },
  { kinds: ['aws_secret_key'], run: detectAwsSecrets },
  { kinds: ['email'], run: detectEmails },
  { kinds: ['iban'], run: detectIbans },
  { kinds: ['creditcard'], run: detectCards },
  { kinds: ['nir'], run: detectNirs },
  { kinds: ['ssn'], run: detectSsns },
  { kinds: ['nino'], run: detectNinos },
  { kinds: ['dni'], run: detectDnis },
  { kinds: ['bsn'], run: detectBsns },
  { kinds: ['ipv6'], run: detectIpv6 },
  { kinds: ['ipv4'], run: detectIpv4 },
  { kinds: ['phone'], run: detectPhones },
];

/** What to look for: the enabled kinds, and the compiled custom patterns (run after the built-ins, before high_entropy). */
export interface DetectionPlan {
  kinds: ReadonlySet<DetectedKind>;
  custom: readonly CustomPattern[];
}

export function detect(text: string, plan: DetectionPlan): Span[] {
  if (text.length === 0) return [];
  const kept: Span[] = [];
  const take = (spans: Span[]) => {
    for (const s of spans) {
      if (!plan.kinds.has(s.kind)) continue;
      if (kept.some((k) => s.start < k.end && k.start < s.end)) continue;
      kept.push(s);
    }
  };
  for (const d of BUILT_IN) if (d.kinds.some((k) => plan.kinds.has(k))) take(d.run(text));
  if (plan.kinds.has('custom')) take(detectCustom(plan.custom, text));
  if (plan.kinds.has('high_entropy')) take(detectHighEntropy(text));
  return kept.sort((a, b) => a.start - b.start);
}
