/**
 * Hash routing (`#/requests?route=chat`): every page has a URL that can be bookmarked and shared,
 * and the server needs to know only `/`.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  /** The page path, e.g. `/config/routes`. */
  path: string;
  /** The query after the path. */
  query: URLSearchParams;
}

export function currentLocation(): Location {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  return { path: q === -1 ? raw : raw.slice(0, q), query: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)) };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(currentLocation);
  useEffect(() => {
    const on = () => setLoc(currentLocation());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return loc;
}

/** Go to a page: `navigate('/requests', { route: 'chat' })`. */
export function navigate(path: string, query?: Record<string, string | undefined>): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  location.hash = `#${path}${s ? `?${s}` : ''}`;
}

/** Replace the query of the current page without a new history entry (filters). */
export function replaceQuery(query: Record<string, string | undefined>): void {
  const { path } = currentLocation();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  history.replaceState(null, '', `#${path}${s ? `?${s}` : ''}`);
  dispatchEvent(new HashChangeEvent('hashchange'));
}
