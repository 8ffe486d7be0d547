/** ai-budget: period boundaries (calendar UTC day / ISO week / month, rolling buckets), reset arithmetic, schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarEnd, calendarStart, retryAt, spanOf, ROLLING } from '../../src/plugins/ai-budget/periods.ts';
import { dollars } from '../../src/plugins/ai-budget/handler.ts';
import { validateEntity } from '../../src/entities/index.ts';

const H = 3_600_000;
const D = 24 * H;

test('calendar day: UTC midnight to midnight', () => {
  const now = Date.UTC(2025, 6, 15, 23, 59, 59, 999);
  assert.equal(calendarStart('day', now), Date.UTC(2025, 6, 15));
  assert.equal(calendarStart('day', now + 1), Date.UTC(2025, 6, 16));
  assert.equal(calendarEnd('day', Date.UTC(2025, 6, 15)), Date.UTC(2025, 6, 16));
  const span = spanOf('day', 'calendar', now);
  assert.deepEqual(span.buckets, [Date.UTC(2025, 6, 15)]);
  assert.equal(span.resetAt, Date.UTC(2025, 6, 16));
  assert.equal(span.ttlMs, 1);
});

test('calendar week: ISO weeks start on Monday 00:00 UTC', () => {
  // 2025-07-14 is a Monday, 2025-07-20 a Sunday
  const monday = Date.UTC(2025, 6, 14);
  assert.equal(new Date(monday).getUTCDay(), 1);
  assert.equal(calendarStart('week', monday), monday);
  assert.equal(calendarStart('week', monday - 1), Date.UTC(2025, 6, 7));
  assert.equal(calendarStart('week', Date.UTC(2025, 6, 20, 23, 59)), monday);
  assert.equal(calendarStart('week', Date.UTC(2025, 6, 17, 12)), monday);
  assert.equal(calendarEnd('week', monday), Date.UTC(2025, 6, 21));
  // across a year boundary: 2024-12-30 is the Monday of ISO week 1 of 2025
  assert.equal(calendarStart('week', Date.UTC(2025, 0, 1, 5)), Date.UTC(2024, 11, 30));
  // the epoch fell on a Thursday: its week began on Monday 1969-12-29
  assert.equal(calendarStart('week', 0), Date.UTC(1969, 11, 29));
});

test('calendar month: the 1st 00:00 UTC to the next 1st, whatever the month length', () => {
  assert.equal(calendarStart('month', Date.UTC(2024, 1, 29, 23)), Date.UTC(2024, 1, 1));
  assert.equal(calendarEnd('month', Date.UTC(2024, 1, 1)), Date.UTC(2024, 2, 1));
  assert.equal(calendarEnd('month', Date.UTC(2025, 11, 1)), Date.UTC(2026, 0, 1));
  const span = spanOf('month', 'calendar', Date.UTC(2025, 3, 30, 12));
  assert.equal(span.bucketMs, 30 * D);
  assert.equal(span.resetAt, Date.UTC(2025, 4, 1));
});

test('rolling windows: the buckets overlapping the last 24 h / 7 d / 30 d', () => {
  const now = Date.UTC(2025, 6, 15, 13, 20);
  const day = spanOf('day', 'rolling', now);
  assert.equal(day.buckets.length, 25);
  assert.equal(day.buckets[0], Date.UTC(2025, 6, 14, 13));
  assert.equal(day.buckets.at(-1), Date.UTC(2025, 6, 15, 13));
  assert.equal(day.resetAt, null);
  // the current bucket is read until it leaves the window: its end + 24 h
  assert.equal(day.ttlMs, Date.UTC(2025, 6, 16, 14) - now);
  const week = spanOf('week', 'rolling', now);
  assert.equal(week.buckets.length, 29);
  assert.equal(week.buckets[0], Date.UTC(2025, 6, 8, 12));
  assert.equal(week.buckets.at(-1), Date.UTC(2025, 6, 15, 12));
  const month = spanOf('month', 'rolling', now);
  assert.equal(month.buckets.length, 31);
  assert.equal(month.buckets[0], Date.UTC(2025, 5, 15));
  // the oldest bucket read always begins at or before now − length: the last 24 h are all inside
  for (const p of ['day', 'week', 'month'] as const) {
    for (const t of [now, Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1) - 1]) {
      const s = spanOf(p, 'rolling', t);
      assert.ok(s.buckets[0] <= t - ROLLING[p].lengthMs && s.buckets[0] + s.bucketMs > t - ROLLING[p].lengthMs, `${p} at ${t}`);
    }
  }
});

test('retryAt: a calendar budget at its reset; a rolling one when its oldest spend leaves the window', () => {
  const now = Date.UTC(2025, 6, 15, 13, 20);
  const cal = spanOf('day', 'calendar', now);
  assert.equal(retryAt('day', cal, [10], 5), Date.UTC(2025, 6, 16));
  const roll = spanOf('day', 'rolling', now);
  const values = roll.buckets.map(() => 0);
  values[3] = 4; // spent 2025-07-14 16:00-17:00
  values[10] = 3; // 23:00-24:00
  // amount 5: 7 spent; once bucket 3 is out (2025-07-15 17:00), 3 < 5
  assert.equal(retryAt('day', roll, values, 5), Date.UTC(2025, 6, 15, 17));
  // amount 3: both must leave
  assert.equal(retryAt('day', roll, values, 3), Date.UTC(2025, 6, 16, 0));
});

test('dollars: at most six decimals, no float noise', () => {
  assert.equal(dollars(0.1 + 0.2), '0.3');
  assert.equal(dollars(5), '5');
  assert.equal(dollars(1.23456789), '1.234568');
});

test('schema: defaults, bounds, and the strategies it takes', () => {
  const ok = validateEntity('plugins', { name: 'ai-budget', config: { budgets: [{ amount: 5, period: 'day' }, { amount: 100, period: 'month', window: 'rolling', soft_limit: 0.5 }] } });
  assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  const c = ok.value.config as Record<string, any>;
  assert.deepEqual(c.budgets, [
    { amount: 5, period: 'day', window: 'calendar', soft_limit: 0.8 },
    { amount: 100, period: 'month', window: 'rolling', soft_limit: 0.5 },
  ]);
  assert.deepEqual([c.identifier, c.anonymous_policy, c.strategy, c.error_code, c.hide_client_headers, c.namespace], ['consumer', 'allow', 'local', 429, false, null]);

  const errs = (config: unknown) => (validateEntity('plugins', { name: 'ai-budget', config }).errors as any)?.config;
  assert.deepEqual(errs({ budgets: [{ amount: 0, period: 'day' }] }).budgets, [{ amount: 'value must be greater than 0' }]);
  assert.deepEqual(errs({ budgets: [{ amount: 1, period: 'year' }] }).budgets, [{ period: 'expected one of: day, week, month' }]);
  assert.deepEqual(errs({ budgets: [{ amount: 1, period: 'day', window: 'sliding' }] }).budgets, [{ window: 'expected one of: calendar, rolling' }]);
  assert.deepEqual(errs({ budgets: [{ amount: 1, period: 'day', soft_limit: 0 }] }).budgets, [{ soft_limit: 'value must be greater than 0' }]);
  assert.deepEqual(errs({ budgets: [{ amount: 1, period: 'day', soft_limit: 1.5 }] }).budgets, [{ soft_limit: 'value should be between 0 and 1' }]);
  assert.ok(errs({ budgets: [{ amount: 1, period: 'day', soft_limit: 1 }] }) === undefined);
  assert.equal(errs({ budgets: [] }).budgets, 'length must be at least 1');
  assert.equal(errs({ budgets: [{ amount: 1, period: 'day' }], identifier: 'ip' }).identifier, 'expected one of: consumer, credential');
  assert.match(errs({ budgets: [{ amount: 1, period: 'day' }], strategy: 'cluster' }).strategy, /not supported by ai-budget: use 'redis'/);
  assert.equal(errs({ budgets: [{ amount: 1, period: 'day' }], strategy: 'redis' }), undefined);
  assert.deepEqual(errs({ budgets: [{ amount: 1, period: 'day' }, { amount: 1, period: 'day' }] })['@entity'], ['the budget 1 per day (calendar) is listed twice']);
});
