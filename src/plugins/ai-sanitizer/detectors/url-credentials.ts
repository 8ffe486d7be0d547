/**
 * URLs carrying credentials in their userinfo (RFC 3986 §3.2.1: `scheme://user:password@host`):
 * the span is the `user:password` part only, so the host and path stay readable to the model.
 * A userinfo without a password (`ssh://git@host`) is not a credential.
 */
import { regexSpans, type Span } from './types.ts';

const URL_USERINFO = /\b[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/([^\s:/?#@]{1,256}:[^\s/?#@]{1,256})@(?=[A-Za-z0-9[])/dg;

export function detectUrlCredentials(text: string): Span[] {
  if (!text.includes('://')) return [];
  return regexSpans(URL_USERINFO, text, 'url_credentials', undefined, 1);
}
