/**
 * Google service-account credentials for Gemini (Kong 3.8 `auth.gcp_use_service_account`): the
 * service account's JSON key signs a JWT (RS256, node:crypto), which the key's `token_uri`
 * exchanges for an OAuth access token (RFC 7523 JWT bearer grant, as Google's auth libraries do).
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 *
 * Tokens live an hour: one is cached per service account and token URL, and refreshed five minutes
 * before it expires; concurrent requests share one exchange. The exchange has its own timeout and
 * is the one network call the LLM layer makes. `token_uri` must be https, except on loopback (so a
 * mock can serve it in tests).
 */
import { createHash, createSign } from 'node:crypto';
import { SigningError } from '../types.ts';
import { isObject } from '../json.ts';

export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Tokens are refreshed this long before they expire. */
const REFRESH_MARGIN_S = 300;
const EXCHANGE_TIMEOUT_MS = 10_000;
const JWT_LIFETIME_S = 3600;

export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

/** Parses and checks a service account key file (JSON). Throws SigningError naming what is wrong. */
export function parseServiceAccount(json: string): ServiceAccount {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new SigningError('gcp_service_account_json: not valid JSON');
  }
  if (!isObject(parsed)) throw new SigningError('gcp_service_account_json: expected a JSON object');
  const { client_email: email, private_key: key, private_key_id: keyId, token_uri: tokenUri } = parsed;
  if (typeof email !== 'string' || email === '') throw new SigningError('gcp_service_account_json: client_email is missing');
  if (typeof key !== 'string' || !key.includes('PRIVATE KEY')) throw new SigningError('gcp_service_account_json: private_key is missing');
  const uri = typeof tokenUri === 'string' && tokenUri !== '' ? tokenUri : DEFAULT_TOKEN_URI;
  checkTokenUri(uri);
  return { client_email: email, private_key: key, private_key_id: typeof keyId === 'string' ? keyId : undefined, token_uri: uri };
}

function checkTokenUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new SigningError('gcp_service_account_json: token_uri is not a URL');
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new SigningError('gcp_service_account_json: token_uri must be an https URL');
  }
  if (url.username || url.password) throw new SigningError('gcp_service_account_json: token_uri must not carry credentials');
}

const base64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** The signed JWT assertion for the token exchange (exported for tests). */
export function signAssertion(account: ServiceAccount, nowSeconds: number, scope = CLOUD_PLATFORM_SCOPE): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(account.private_key_id ? { kid: account.private_key_id } : {}) };
  const claims = { iss: account.client_email, scope, aud: account.token_uri, iat: nowSeconds, exp: nowSeconds + JWT_LIFETIME_S };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  let signature: Buffer;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(account.private_key);
  } catch {
    throw new SigningError('gcp_service_account_json: private_key is not a usable RSA key');
  }
  return `${unsigned}.${base64url(signature)}`;
}

interface CachedToken {
  token: string;
  /** Epoch seconds after which it is refreshed. */
  refreshAt: number;
}

const tokens = new Map<string, CachedToken>();
const pending = new Map<string, Promise<CachedToken>>();

/** Forgets cached tokens (tests, or a key rotated in place). */
export function clearGcpTokenCache(): void {
  tokens.clear();
  pending.clear();
}

/** An access token for the service account, from the cache or a fresh exchange. */
export async function gcpAccessToken(serviceAccountJson: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const account = parseServiceAccount(serviceAccountJson);
  const key = createHash('sha256').update(`${account.client_email}\n${account.token_uri}\n${account.private_key}`).digest('hex');
  const cached = tokens.get(key);
  if (cached && cached.refreshAt > nowSeconds) return cached.token;
  let inFlight = pending.get(key);
  if (!inFlight) {
    inFlight = exchange(account, nowSeconds).finally(() => pending.delete(key));
    pending.set(key, inFlight);
  }
  const fresh = await inFlight;
  tokens.set(key, fresh);
  return fresh.token;
}

async function exchange(account: ServiceAccount, nowSeconds: number): Promise<CachedToken> {
  const assertion = signAssertion(account, nowSeconds);
  let response: Response;
  try {
    response = await fetch(account.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
    });
  } catch (error) {
    throw new SigningError(`gcp token exchange failed: ${(error as Error)?.name === 'TimeoutError' ? 'timed out' : 'could not reach the token endpoint'}`, true);
  }
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.status !== 200 || !isObject(body) || typeof body.access_token !== 'string' || body.access_token === '') {
    const reason = isObject(body) && typeof body.error_description === 'string' ? `: ${body.error_description}` : isObject(body) && typeof body.error === 'string' ? `: ${body.error}` : '';
    throw new SigningError(`gcp token exchange failed with status ${response.status}${reason}`, true);
  }
  const lifetime = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0 ? body.expires_in : JWT_LIFETIME_S;
  return { token: body.access_token, refreshAt: nowSeconds + Math.max(0, lifetime - REFRESH_MARGIN_S) };
}
