/**
 * "The exact request sent": the last turn's JSON body, and the same request as `curl` against the
 * proxy listener itself (not the GUI's relay), so it can be replayed from a shell. The consumer's
 * key is never written into it: a `$MODELGATE_KEY` variable stands in.
 */
import { html } from '../../lib/html.ts';
import type { SentRequest } from './chat.ts';

/** The proxy's base URL as a client on this machine reaches it, from `proxy_listen` (`0.0.0.0:8000`). */
export function proxyBase(proxyListen: unknown): string {
  const first = Array.isArray(proxyListen) && typeof proxyListen[0] === 'string' ? proxyListen[0] : null;
  if (!first) return 'http://localhost:8000';
  const colon = first.lastIndexOf(':');
  let host = first.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = first.slice(colon + 1);
  // a wildcard listener is reached at the host the GUI was opened on
  if (host === '0.0.0.0' || host === '::' || host === '*') host = location.hostname.replace(/^\[|\]$/g, '');
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A POSIX shell single-quoted word. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function curlOf(sent: SentRequest, base: string): string {
  let url = base + sent.path;
  const lines: string[] = [];
  if (sent.keyAuth?.where === 'query') url += `?${encodeURIComponent(sent.keyAuth.name)}=$MODELGATE_KEY`;
  lines.push(`curl -sS ${sent.body.stream ? '-N ' : ''}"${url}"`);
  lines.push(`  -H 'Content-Type: application/json'`);
  if (sent.keyAuth?.where === 'header') lines.push(`  -H "${sent.keyAuth.name}: $MODELGATE_KEY"`);
  lines.push(`  -d ${shellQuote(JSON.stringify(sent.body))}`);
  return lines.join(' \\\n');
}

export function RequestPanel(props: { sent: SentRequest | null; base: string }) {
  const { sent } = props;
  return html`<details class="card pg-request">
    <summary><h2>The exact request sent</h2></summary>
    ${sent
      ? html`<p class="hint">POST <code>${sent.path}</code> on the proxy${sent.keyAuth ? html`, the consumer's key in the <code>${sent.keyAuth.name}</code> ${sent.keyAuth.where}` : ''}.</p>
          <h3>JSON body</h3>
          <pre aria-label="Request body" tabindex="0">${JSON.stringify(sent.body, null, 2)}</pre>
          <h3>curl</h3>
          <pre aria-label="curl command" tabindex="0">${curlOf(sent, props.base)}</pre>`
      : html`<p class="empty">Nothing sent yet.</p>`}
  </details>`;
}
