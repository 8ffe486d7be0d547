/**
 * What a detector finds: a span of the text (UTF-16 offsets, `end` exclusive) and the kind of
 * value it holds. Detectors are pure (no I/O, no clocks, no globals they change): the same text
 * always gives the same spans, which is what lets the request side and the response side agree.
 */
export interface Span {
  start: number;
  end: number;
  kind: DetectedKind;
}

/**
 * The kinds a span can carry: fixed and few, so they are safe as a Prometheus label and as the
 * word inside a placeholder (`<EMAIL_1>`). Custom patterns all report `custom` (their names are
 * in the configuration, never in metrics).
 */
export const DETECTED_KINDS = [
  'email',
  'phone',
  'creditcard',
  'iban',
  'ssn',
  'nino',
  'dni',
  'nir',
  'bsn',
  'ipv4',
  'ipv6',
  'url_credentials',
  'openai_key',
  'anthropic_key',
  'aws_access_key',
  'aws_secret_key',
  'gcp_private_key',
  'gcp_api_key',
  'github_token',
  'slack_token',
  'stripe_key',
  'jwt',
  'private_key',
  'high_entropy',
  'custom',
] as const;

export type DetectedKind = (typeof DETECTED_KINDS)[number];

/** A detector: every span of its kinds in `text`, in any order (overlaps are resolved by the caller). */
export type Detector = (text: string) => Span[];

/** Each match of a global regex as a span; `group` picks a capture group (its offsets need the `d` flag). */
export function regexSpans(re: RegExp, text: string, kind: DetectedKind, accept?: (m: RegExpExecArray) => boolean, group = 0): Span[] {
  const out: Span[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    if (accept && !accept(m)) continue;
    if (group === 0) out.push({ start: m.index, end: m.index + m[0].length, kind });
    else {
      const at = m.indices?.[group];
      if (at) out.push({ start: at[0], end: at[1], kind });
    }
  }
  return out;
}
