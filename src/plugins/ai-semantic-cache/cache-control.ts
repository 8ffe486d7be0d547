/**
 * The client's `Cache-Control` request header, read when `config.cache_control` is on (RFC 9111
 * §5.2.1 directives; names case-insensitive, `max-age=N` with an optional quoted value, several
 * headers joined by commas), and what each directive means for the cache:
 * - `no-store`: Bypass — neither read nor written;
 * - `no-cache`: Refresh — not served from the cache (RFC 9111: a stored answer must not be used
 *   without validating it with the origin, and a provider cannot validate one), the provider
 *   answers and that answer replaces the entry;
 * - `max-age=N` / `s-maxage=N`: an entry older than N seconds is not served: Refresh (`s-maxage`
 *   wins: the gateway's cache is a shared cache; `max-age=0` is `no-cache`);
 * - `private` on a cache shared by the route's consumers (`cache_scope: route`): Bypass.
 * Kong's own handler answers Bypass for `no-cache` too; its docs say "forces validation with the
 * origin server", which is what Refresh does (docs/plugins.md).
 */
export interface RequestCacheControl {
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  /** Seconds, or null when not given. */
  maxAge: number | null;
}

const NONE: RequestCacheControl = { noStore: false, noCache: false, private: false, maxAge: null };

export function parseCacheControl(header: string | string[] | undefined): RequestCacheControl {
  if (header === undefined) return NONE;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '') return NONE;
  const out: RequestCacheControl = { ...NONE };
  let sMaxAge: number | null = null;
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    let value = eq < 0 ? null : item.slice(eq + 1).trim();
    if (value !== null && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    switch (name) {
      case 'no-store':
        out.noStore = true;
        break;
      case 'no-cache':
        out.noCache = true;
        break;
      case 'private':
        out.private = true;
        break;
      case 'max-age':
        out.maxAge = seconds(value) ?? out.maxAge;
        break;
      case 's-maxage':
        sMaxAge = seconds(value) ?? sMaxAge;
        break;
    }
  }
  if (sMaxAge !== null) out.maxAge = sMaxAge;
  return out;
}

/** A delta-seconds value (RFC 9111 §1.2.2: digits only); anything else is ignored. */
function seconds(value: string | null): number | null {
  if (value === null || !/^\d{1,10}$/.test(value)) return null;
  return Number(value);
}
