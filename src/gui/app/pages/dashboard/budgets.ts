/**
 * Budgets close to their limit (`GET /budgets`, src/admin/budget-routes.ts): those at 80% of their
 * limit or more, all of them with the toggle. The API sorts them, highest ratio first.
 */
import { useState } from 'preact/hooks';
import { html } from '../../lib/html.ts';
import { money, percent, when } from '../../lib/format.ts';
import { Empty, ErrorBox, Loading } from '../../lib/ui.ts';
import type { BudgetState } from './data.ts';

export const NEAR_LIMIT = 0.8;

const PERIOD: Record<BudgetState['period'], [string, string]> = {
  day: ['calendar day', 'rolling 24 h'],
  week: ['calendar week', 'rolling 7 days'],
  month: ['calendar month', 'rolling 30 days'],
};

function label(b: BudgetState): string {
  return `${money(b.limit)} per ${PERIOD[b.period][b.window === 'calendar' ? 0 : 1]}`;
}

function status(b: BudgetState) {
  if (b.exceeded) return html`<span class="badge err">exceeded</span>`;
  if (b.soft_limit_reached) return html`<span class="badge warn">past soft limit</span>`;
  return html`<span class="badge ok">ok</span>`;
}

export function Budgets(props: { budgets: BudgetState[] | undefined; error: unknown; loading: boolean }) {
  const [all, setAll] = useState(false);
  const list = props.budgets ?? [];
  const shown = all ? list : list.filter((b) => b.ratio >= NEAR_LIMIT);
  return html`<section class="card budgets" aria-labelledby="budgets-title">
    <div class="card-head">
      <h2 id="budgets-title">Budgets close to their limit</h2>
      <label class="inline"><input type="checkbox" checked=${all} onChange=${(e: Event) => setAll((e.target as HTMLInputElement).checked)} /> Show all budgets</label>
    </div>
    ${props.error ? html`<${ErrorBox} error=${props.error} />` : null}
    ${!props.budgets && props.loading ? html`<${Loading} what="budgets" />` : null}
    ${props.budgets && shown.length === 0
      ? html`<${Empty}>${list.length === 0 ? 'No consumer has spent against an ai-budget budget in its current period.' : `No budget is at ${percent(NEAR_LIMIT)} of its limit or more (${list.length} with spend).`}</${Empty}>`
      : null}
    ${shown.length > 0 &&
    html`<table>
      <thead><tr><th scope="col">Consumer</th><th scope="col">Budget</th><th scope="col" class="num">Spent</th><th scope="col">Used</th><th scope="col" class="num">Remaining</th><th scope="col">Resets</th><th scope="col">Status</th></tr></thead>
      <tbody>
        ${shown.map(
          (b) => html`<tr data-budget=${`${b.plugin_id}/${b.budget_index}/${b.consumer.id}`}>
            <td>${b.consumer.username ?? b.consumer.custom_id ?? b.consumer.id}</td>
            <td>${label(b)}${b.scope.route || b.scope.service ? html` <span class="hint">(${b.scope.route ? 'one route' : 'one service'})</span>` : null}</td>
            <td class="num" title=${`$${b.spent}`}>${money(b.spent)}</td>
            <td><meter min="0" max="1" low=${b.soft_limit} high=${b.soft_limit} optimum="0" value=${Math.min(1, b.ratio)} aria-label=${`${percent(b.ratio)} of ${label(b)}`}></meter> ${percent(b.ratio)}</td>
            <td class="num">${money(b.remaining)}</td>
            <td>${b.resets_at ? when(b.resets_at) : 'rolling'}</td>
            <td>${status(b)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
  </section>`;
}
