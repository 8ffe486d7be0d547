/**
 * The Admin GUI's shell: the navigation, the page for the current hash, and the admin-token prompt.
 * Pages are one module each under pages/; the table below is the only place a page is added.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { FunctionComponent } from 'preact';
import { html } from './lib/html.ts';
import { useLocation, type Location } from './lib/router.ts';
import { api, ApiError, onUnauthorized, setAdminToken } from './lib/api.ts';
import { resetNodeInfo, useNodeInfo } from './lib/node.ts';
import { DashboardPage } from './pages/dashboard.ts';
import { RequestsPage } from './pages/requests.ts';
import { PlaygroundPage } from './pages/playground.ts';
import { ConfigPage } from './pages/config.ts';
import { ClusterPage } from './pages/cluster.ts';

export interface PageProps {
  loc: Location;
}

interface PageEntry {
  /** The hash path the page answers (and every path under it). */
  path: string;
  title: string;
  page: FunctionComponent<PageProps>;
}

const PAGES: PageEntry[] = [
  { path: '/', title: 'Dashboard', page: DashboardPage },
  { path: '/requests', title: 'Requests', page: RequestsPage },
  { path: '/playground', title: 'Playground', page: PlaygroundPage },
  { path: '/config', title: 'Configuration', page: ConfigPage },
  { path: '/cluster', title: 'Cluster', page: ClusterPage },
];

function pageFor(path: string): PageEntry | undefined {
  if (path === '/' || path === '') return PAGES[0];
  return PAGES.find((p) => p.path !== '/' && (path === p.path || path.startsWith(`${p.path}/`)));
}

function Nav(props: { path: string }) {
  const current = pageFor(props.path);
  return html`<nav class="nav" aria-label="Main">
    <a class="brand" href="#/">modelgate</a>
    <ul>
      ${PAGES.map((p) => html`<li><a href=${`#${p.path}`} aria-current=${current === p ? 'page' : undefined}>${p.title}</a></li>`)}
    </ul>
  </nav>`;
}

function TokenPrompt(props: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setAdminToken(token);
    try {
      await api('/status');
      resetNodeInfo();
      props.onDone();
    } catch (err) {
      setAdminToken(null);
      setError(err instanceof ApiError && err.status === 401 ? 'The gateway refused this token.' : `Could not reach the Admin API: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="modal-backdrop">
    <form class="modal token-prompt" role="dialog" aria-modal="true" onSubmit=${submit} aria-labelledby="token-title">
      <h2 id="token-title">Admin token</h2>
      <p>This gateway requires its admin token (<code>MODELGATE_ADMIN_TOKEN</code>). It is kept for this browser tab only.</p>
      <label for="admin-token">Token</label>
      <input id="admin-token" name="token" type="password" autocomplete="current-password" required autofocus value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      ${error && html`<p class="field-error" role="alert">${error}</p>`}
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>Sign in</button></div>
    </form>
  </div>`;
}

function App() {
  const loc = useLocation();
  const [needsToken, setNeedsToken] = useState(false);
  const [checked, setChecked] = useState(false);
  // a new token remounts the page, which loads again
  const [generation, setGeneration] = useState(0);
  useEffect(() => onUnauthorized(() => setNeedsToken(true)), []);
  useEffect(() => {
    api('/status').then(
      () => setChecked(true),
      () => setChecked(true),
    );
  }, []);
  const info = useNodeInfo();
  const entry = pageFor(loc.path);
  useEffect(() => {
    document.title = entry ? `${entry.title} · modelgate` : 'modelgate';
  }, [entry]);
  const Page = entry?.page;
  return html`<div class="shell">
    <${Nav} path=${loc.path} />
    <main id="main" class="main" key=${generation}>
      ${info && info.configuration.database === 'off' && html`<p class="banner">DB-less node: the configuration is read-only here; change it by uploading a declarative file (<a href="#/config/declarative">Configuration → Declarative</a>).</p>`}
      ${!checked ? null : Page ? html`<${Page} loc=${loc} />` : html`<h1>Not found</h1><p>No page at <code>${loc.path}</code>. <a href="#/">Back to the dashboard</a>.</p>`}
    </main>
    ${needsToken &&
    html`<${TokenPrompt}
      onDone=${() => {
        setNeedsToken(false);
        setGeneration((g) => g + 1);
      }}
    />`}
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
