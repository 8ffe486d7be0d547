/** Small pieces every page uses, so that pages look and behave alike. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.ts';
import { ApiError } from './api.ts';

export function PageHeader(props: { title: string; children?: ComponentChildren }) {
  return html`<header class="page-header"><h1>${props.title}</h1><div class="page-actions">${props.children}</div></header>`;
}

export function Loading(props: { what?: string }) {
  return html`<p class="loading" role="status" aria-live="polite">Loading${props.what ? ` ${props.what}` : ''}…</p>`;
}

/** An error as the API gave it (its message), or any other error's message. */
export function ErrorBox(props: { error: unknown }) {
  const e = props.error;
  const text = e instanceof ApiError ? `${e.status}: ${e.body.message ?? e.message}` : e instanceof Error ? e.message : String(e);
  return html`<div class="error-box" role="alert">${text}</div>`;
}

export function Empty(props: { children: ComponentChildren }) {
  return html`<p class="empty">${props.children}</p>`;
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Load something when `deps` change; `reload()` loads it again. A newer load wins over an older
 * one still in flight (filters typed quickly), and an unmounted page ignores late answers.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, error: null, loading: false }),
      (error) => !ctl.signal.aborted && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Calls `fn` every `ms` while the tab is visible (auto-refresh). */
export function useInterval(fn: () => void, ms: number | null): void {
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') fn();
    }, ms);
    return () => clearInterval(id);
  }, [ms, fn]);
}
