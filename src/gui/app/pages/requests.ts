/**
 * The request log (issue 20): the spend rows of `/usage/requests`, newest first, a page at a time
 * ("Load more" follows the API's `next`), filtered from the URL (`#/requests?route=chat&status=5xx`).
 * `#/requests/<request_id>` is one request's detail (pages/requests/detail.ts).
 */
import { useMemo, useState } from 'preact/hooks';
import { html } from '../lib/html.ts';
import { api } from '../lib/api.ts';
import { replaceQuery } from '../lib/router.ts';
import { Empty, ErrorBox, Loading, PageHeader, useAsync } from '../lib/ui.ts';
import type { SpendRow } from '../../../spend/types.ts';
import type { PageProps } from '../main.ts';
import { filtersOf, queryOf, requestsPath, type Filters } from './requests/query.ts';
import { useNames } from './requests/names.ts';
import { FilterBar } from './requests/filters.ts';
import { RequestsTable } from './requests/table.ts';
import { RequestDetailPage } from './requests/detail.ts';

/** Rows per page; `#/requests?limit=` sets another (1–1000, as the API takes). */
const PAGE_SIZE = 50;

function pageSize(query: URLSearchParams): number {
  const n = Number(query.get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : PAGE_SIZE;
}

interface Page {
  data: SpendRow[];
  next: string | null;
}

/** The list's last URL, so the detail's "back" returns to the same filters. */
let lastListHash = '#/requests';

function distinct(rows: SpendRow[], pick: (r: SpendRow) => string | null): string[] {
  return [...new Set(rows.map(pick).filter((v): v is string => !!v))].sort();
}

function RequestList(props: { filters: Filters; limit: number; names: ReturnType<typeof useNames> }) {
  const { filters, limit, names } = props;
  const key = JSON.stringify([filters, limit]);
  // pages after the first, appended by "Load more"; a new filter starts over
  const [more, setMore] = useState<{ key: string; rows: SpendRow[]; next: string | null; error: unknown; busy: boolean }>({ key, rows: [], next: null, error: null, busy: false });
  const first = useAsync((signal) => api<Page>(requestsPath(filters, Date.now(), limit), { signal }), [key]);
  const extra = more.key === key ? more : { key, rows: [], next: null, error: null, busy: false };
  const rows = useMemo(() => [...(first.data?.data ?? []), ...extra.rows], [first.data, extra.rows]);
  const next = extra.rows.length ? extra.next : (first.data?.next ?? null);
  const loadMore = async () => {
    if (!next) return;
    setMore({ ...extra, busy: true, error: null });
    try {
      // `next` is the Admin API's own path (`/usage/requests?…&cursor=…`), range pinned
      const page = await api<Page>(next);
      setMore({ key, rows: [...extra.rows, ...page.data], next: page.next, error: null, busy: false });
    } catch (error) {
      setMore({ ...extra, error, busy: false });
    }
  };
  const refresh = () => {
    setMore({ key, rows: [], next: null, error: null, busy: false });
    first.reload();
  };
  return html`
    <${PageHeader} title="Requests">
      <button type="button" onClick=${refresh}>Refresh</button>
    </${PageHeader}>
    <${FilterBar}
      filters=${filters}
      names=${names}
      seen=${{ model: distinct(rows, (r) => r.model_served ?? r.model_requested), provider: distinct(rows, (r) => r.provider) }}
      onChange=${(f: Filters) => replaceQuery({ ...queryOf(f), limit: limit === PAGE_SIZE ? undefined : String(limit) })}
    />
    ${first.error ? html`<${ErrorBox} error=${first.error} />` : null}
    ${first.loading && !first.data ? html`<${Loading} what="requests" />` : null}
    ${first.data && rows.length === 0 ? html`<${Empty}>No request matches these filters in this time range.</${Empty}>` : null}
    ${rows.length > 0 &&
    html`<${RequestsTable} rows=${rows} names=${names} />
      <div class="rq-more">
        <span class="hint" role="status">${rows.length} request${rows.length === 1 ? '' : 's'} shown${next ? '' : ' (all)'}</span>
        ${next && html`<button type="button" onClick=${loadMore} disabled=${extra.busy}>${extra.busy ? 'Loading…' : 'Load more'}</button>`}
      </div>`}
    ${extra.error ? html`<${ErrorBox} error=${extra.error} />` : null}
  `;
}

export function RequestsPage(props: PageProps) {
  const { loc } = props;
  const names = useNames();
  const sub = loc.path.slice('/requests'.length).replace(/^\//, '');
  if (sub) {
    const at = Number(loc.query.get('at'));
    return html`<${RequestDetailPage} requestId=${decodeURIComponent(sub)} at=${loc.query.get('at') !== null && Number.isFinite(at) ? at : null} names=${names} backHref=${lastListHash} />`;
  }
  const qs = loc.query.toString();
  lastListHash = `#/requests${qs ? `?${qs}` : ''}`;
  return html`<div class="rq-page"><${RequestList} filters=${filtersOf(loc.query)} limit=${pageSize(loc.query)} names=${names} /></div>`;
}
