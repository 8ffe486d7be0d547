/**
 * Spend rows carry ids (the log keeps the history of deleted entities); the request log shows the
 * route's name and the consumer's username beside them, read once from the Admin API. A name
 * that cannot be read (entity gone, API refused) leaves the id alone, never an error on the page.
 */
import { useEffect, useState } from 'preact/hooks';
import { apiAll } from '../../lib/api.ts';

export interface Named {
  id: string;
  name: string | null;
}

export interface Names {
  routes: Named[];
  consumers: Named[];
}

const EMPTY: Names = { routes: [], consumers: [] };

async function list(path: string, field: string): Promise<Named[]> {
  try {
    const rows = await apiAll<Record<string, unknown>>(path);
    return rows.map((r) => ({ id: String(r.id), name: typeof r[field] === 'string' ? (r[field] as string) : typeof r.custom_id === 'string' ? (r.custom_id as string) : null }));
  } catch {
    return [];
  }
}

export function useNames(): Names {
  const [names, setNames] = useState<Names>(EMPTY);
  useEffect(() => {
    let live = true;
    Promise.all([list('/routes', 'name'), list('/consumers', 'username')]).then(([routes, consumers]) => live && setNames({ routes, consumers }));
    return () => {
      live = false;
    };
  }, []);
  return names;
}

/** A name for an id, or the id shortened (a UUID's first block) when the entity has no name. */
export function nameOf(list: Named[], id: string | null): string {
  if (id === null) return '—';
  const n = list.find((e) => e.id === id)?.name;
  return n ?? id.slice(0, 8);
}
