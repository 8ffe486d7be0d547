/**
 * Redaction by value: every secret the gateway knows (provider keys resolved from config, the
 * admin token) is registered here, and every log line is scrubbed of it in its raw, URL-encoded
 * and base64 forms before it is written. Masking by field name (Kong's approach) misses a key
 * injected as `x-api-key`, a query parameter, or quoted back in an upstream error.
 */
const MASK = '[REDACTED]';
const MIN_SECRET_LENGTH = 6;

const secrets = new Set<string>();
let pattern: RegExp | null = null;
/** A secret was added since the pattern was built: it is rebuilt on the next use, once, not once per secret (a snapshot registers thousands). */
let stale = false;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function forms(secret: string): string[] {
  const out = new Set<string>([secret]);
  out.add(encodeURIComponent(secret));
  out.add(JSON.stringify(secret).slice(1, -1));
  out.add(Buffer.from(secret).toString('base64'));
  out.add(Buffer.from(secret).toString('base64url'));
  // a bearer token often appears without its scheme
  const bare = secret.replace(/^(Bearer|Basic|Token)\s+/i, '');
  if (bare.length >= MIN_SECRET_LENGTH) {
    out.add(bare);
    out.add(encodeURIComponent(bare));
    out.add(Buffer.from(bare).toString('base64'));
  }
  return [...out].filter((s) => s.length >= MIN_SECRET_LENGTH);
}

export function registerSecret(secret: string | null | undefined): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH || secrets.has(secret)) return;
  secrets.add(secret);
  stale = true;
}

function currentPattern(): RegExp | null {
  if (stale) {
    const all = [...secrets].flatMap(forms).sort((a, b) => b.length - a.length);
    pattern = new RegExp(all.map(escapeRegExp).join('|'), 'g');
    stale = false;
  }
  return pattern;
}

/** Replaces the registered secrets (and their encodings) found in `text`. */
export function redact(text: string): string {
  const pattern = currentPattern();
  if (pattern === null) return text;
  pattern.lastIndex = 0;
  return pattern.test(text) ? text.replace(pattern, MASK) : text;
}

export function hasSecrets(): boolean {
  return secrets.size > 0;
}

/** For tests. */
export function clearSecrets(): void {
  secrets.clear();
  pattern = null;
  stale = false;
}
