/**
 * The playground (issue 20): pick an AI route, chat with it through the gateway with the answer
 * streaming in, and see each answer's tokens, cost, latency and time to first token — the
 * browser's measure beside the gateway's spend row — and the exact request sent. The route is in
 * the URL (`#/playground?route=<id>`); the conversation and the consumer's key live in the page only.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../lib/html.ts';
import { apiAll, ApiError } from '../lib/api.ts';
import { replaceQuery } from '../lib/router.ts';
import { useNodeInfo } from '../lib/node.ts';
import { Empty, ErrorBox, Loading, PageHeader, useAsync } from '../lib/ui.ts';
import type { PageProps } from '../main.ts';
import { aiRoutes, type AiRoute, type PluginRow, type RouteRow } from './playground/routes.ts';
import { buildRequest, runTurn, type ChatMessage, type SentRequest } from './playground/chat.ts';
import { spendRowOf } from './playground/spend.ts';
import { Conversation, type Turn } from './playground/conversation.ts';
import { SettingsPanel, type PlaygroundSettings } from './playground/settings.ts';
import { proxyBase, RequestPanel } from './playground/request-panel.ts';

const EMPTY_SETTINGS: PlaygroundSettings = { model: '', key: '', system: '', temperature: '', maxTokens: '' };

export function PlaygroundPage(props: PageProps) {
  const loaded = useAsync(async () => aiRoutes(await apiAll<RouteRow>('/routes'), await apiAll<PluginRow>('/plugins')), []);
  const routes = loaded.data ?? [];
  const wanted = props.loc.query.get('route');
  const route = routes.find((r) => r.id === wanted && !r.unusable) ?? routes.find((r) => !r.unusable) ?? null;
  return html`<${PageHeader} title="Playground" />
    ${loaded.error ? html`<${ErrorBox} error=${loaded.error} />`
    : loaded.loading && !loaded.data ? html`<${Loading} what="AI routes" />`
    : routes.length === 0 ? html`<${Empty}>No AI route yet: a route needs an <code>ai-proxy</code> or <code>ai-proxy-advanced</code> plugin (<a href="#/config">Configuration</a>).</${Empty}>`
    : html`<${Chat} key=${route?.id ?? 'none'} routes=${routes} route=${route} />`}`;
}

function numberOrNull(s: string): number | null {
  return s.trim() === '' || !Number.isFinite(Number(s)) ? null : Number(s);
}

/** History sent with the next message: turns that got an answer (a failed one is left out). */
function history(turns: Turn[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const t of turns) {
    if (t.answer.text === '') continue;
    out.push({ role: 'user', content: t.user }, { role: 'assistant', content: t.answer.text });
  }
  return out;
}

/** One route's chat; a new route mounts a new one (its conversation starts over). */
function Chat(props: { routes: AiRoute[]; route: AiRoute | null }) {
  const { route } = props;
  const info = useNodeInfo();
  const [settings, setSettings] = useState<PlaygroundSettings>({ ...EMPTY_SETTINGS, model: route?.fixedModel ?? '' });
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState('');
  const [sent, setSent] = useState<SentRequest | null>(null);
  const [busy, setBusy] = useState(false);
  const stop = useRef<AbortController | null>(null);
  // leaving the page stops the answer and the spend look-ups
  const alive = useRef(new AbortController());
  useEffect(() => () => {
    stop.current?.abort();
    alive.current.abort();
  }, []);

  const patchTurn = (i: number, patch: Partial<Turn>) => setTurns((ts) => ts.map((t, j) => (j === i ? { ...t, ...patch } : t)));

  const send = async () => {
    const text = input.trim();
    if (!route || busy || text === '') return;
    const sentNow = buildRequest({
      route,
      model: settings.model.trim() || null,
      system: settings.system,
      messages: [...history(turns), { role: 'user', content: text }],
      sampling: { temperature: numberOrNull(settings.temperature), maxTokens: numberOrNull(settings.maxTokens) },
      key: settings.key,
    });
    const i = turns.length;
    const ctl = new AbortController();
    stop.current = ctl;
    setBusy(true);
    setSent(sentNow);
    setInput('');
    setTurns((ts) => [...ts, { user: text, answer: { text: '', state: 'waiting', error: null, httpStatus: null, requestId: null, model: null, finishReason: null, usage: null, ttftMs: null, latencyMs: null }, spend: undefined, spendError: null }]);
    const result = await runTurn(sentNow, settings.key, ctl.signal, (answer) => !alive.current.signal.aborted && patchTurn(i, { answer }));
    stop.current = null;
    if (alive.current.signal.aborted) return;
    setBusy(false);
    if (!result.requestId) return patchTurn(i, { spend: null });
    try {
      patchTurn(i, { spend: await spendRowOf(result.requestId, alive.current.signal) });
    } catch (e) {
      if (!alive.current.signal.aborted) patchTurn(i, { spend: null, spendError: e instanceof ApiError ? `${e.status}: ${e.body.message ?? e.message}` : (e as Error).message });
    }
  };

  const onKey = (e: KeyboardEvent) => {
    // Enter sends, Shift+Enter is a new line (and so is Enter while an IME composes)
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send();
    }
  };
  const needsModel = route !== null && route.freeModel && route.models.length === 0 && settings.model.trim() === '';
  const needsKey = route?.keyAuth && !route.keyAuth.optional && settings.key === '';

  return html`<div class="pg-layout">
    <div class="pg-main">
      <${Conversation} turns=${turns} />
      <form class="pg-composer" onSubmit=${(e: Event) => (e.preventDefault(), void send())}>
        <label for="pg-input" class="pg-sr-only">Message</label>
        <textarea id="pg-input" rows="2" placeholder=${route ? 'Message (Enter sends, Shift+Enter for a new line)' : 'Pick a chat route first'} disabled=${!route} value=${input} onInput=${(e: Event) => setInput((e.target as HTMLTextAreaElement).value)} onKeyDown=${onKey}></textarea>
        <div class="pg-buttons">
          ${busy ? html`<button type="button" class="danger" onClick=${() => stop.current?.abort()}>Stop</button>` : html`<button type="submit" class="primary" disabled=${!route || input.trim() === '' || needsModel}>Send</button>`}
          <button type="button" disabled=${busy || turns.length === 0} onClick=${() => (setTurns([]), setSent(null))}>New chat</button>
        </div>
      </form>
      ${needsModel && html`<p class="hint">This route takes the model from the request: type one in the side panel.</p>`}
      ${needsKey && html`<p class="hint">This route has key-auth: enter a consumer's key in the side panel (without one the gateway answers 401).</p>`}
      <${RequestPanel} sent=${sent} base=${proxyBase(info?.configuration.proxy_listen)} />
    </div>
    <${SettingsPanel}
      routes=${props.routes}
      route=${route}
      disabled=${busy}
      settings=${settings}
      onRoute=${(id: string) => replaceQuery({ route: id })}
      onChange=${(patch: Partial<PlaygroundSettings>) => setSettings((s) => ({ ...s, ...patch }))}
    />
  </div>`;
}
