/**
 * One entity's list: a page of 100 at a time with "Load more" (Kong's `next`), each row linking to
 * its form, with Edit and Delete (after a confirm dialog) unless the node is DB-less.
 */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { api } from '../../lib/api.ts';
import { Empty, ErrorBox, Loading, useAsync } from '../../lib/ui.ts';
import { ConfirmDialog } from './dialog.ts';
import { labelOf, loadNames, type EntityDesc, type Names, type Row } from './entities.ts';

interface Page {
  data: Row[];
  next: string | null;
}

const PAGE_SIZE = 100;

export function EntityList(props: { desc: EntityDesc; readOnly: boolean; filter?: (r: Row) => boolean; empty?: unknown }) {
  const { desc } = props;
  const first = useAsync(async () => {
    const [page, names] = await Promise.all([api<Page>(`/${desc.kind}?size=${PAGE_SIZE}`), loadNames()]);
    return { page, names };
  }, [desc.kind]);
  const [rows, setRows] = useState<Row[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [more, setMore] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const [deleting, setDeleting] = useState<Row | null>(null);
  useEffect(() => {
    if (!first.data) return;
    setRows(first.data.page.data);
    setNext(first.data.page.next);
  }, [first.data]);

  const loadMore = async () => {
    if (!next) return;
    setMore({ busy: true, error: null });
    try {
      const page = await api<Page>(next.replace(/^https?:\/\/[^/]+/, ''));
      setRows((r) => [...r, ...page.data]);
      setNext(page.next);
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error });
    }
  };

  if (first.error) return html`<${ErrorBox} error=${first.error} />`;
  if (!first.data) return html`<${Loading} what=${desc.title.toLowerCase()} />`;
  const names: Names = first.data.names;
  const shown = props.filter ? rows.filter(props.filter) : rows;
  return html`<div class="entity-list">
    ${shown.length === 0 && !next
      ? html`<${Empty}>${props.empty ?? `No ${desc.title.toLowerCase()} yet.`}<//>`
      : html`<table aria-label=${desc.title}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              ${desc.columns.map((c) => html`<th scope="col">${c.title}</th>`)}
              ${!props.readOnly && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}
            </tr>
          </thead>
          <tbody>
            ${shown.map(
              (r) => html`<tr key=${r.id}>
                <td><a href=${`#/config/${desc.kind}/${r.id}`}>${labelOf(r)}</a></td>
                ${desc.columns.map((c) => html`<td>${c.cell(r, names)}</td>`)}
                ${!props.readOnly &&
                html`<td class="row-actions">
                  <a class="button small" href=${`#/config/${desc.kind}/${r.id}`} aria-label=${`Edit ${desc.singular} ${labelOf(r)}`}>Edit</a>
                  <button type="button" class="small danger" aria-label=${`Delete ${desc.singular} ${labelOf(r)}`} onClick=${() => setDeleting(r)}>Delete</button>
                </td>`}
              </tr>`,
            )}
          </tbody>
        </table>`}
    ${next && html`<p><button type="button" onClick=${loadMore} disabled=${more.busy}>${more.busy ? 'Loading…' : 'Load more'}</button></p>`}
    ${more.error && html`<${ErrorBox} error=${more.error} />`}
    ${deleting &&
    html`<${ConfirmDialog}
      title=${`Delete ${desc.singular} ${labelOf(deleting)}?`}
      message=${desc.kind === 'services' ? 'The service must have no routes left. This cannot be undone.' : desc.kind === 'consumers' ? 'Its credentials and plugins are deleted with it. This cannot be undone.' : 'This cannot be undone.'}
      confirmLabel="Delete"
      onConfirm=${async () => {
        await api(`/${desc.kind}/${deleting.id}`, { method: 'DELETE' });
        setRows((rs) => rs.filter((x) => x.id !== deleting.id));
      }}
      onClose=${() => setDeleting(null)}
    />`}
  </div>`;
}
