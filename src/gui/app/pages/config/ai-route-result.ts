/** What "New AI route" made, and how to call it: curl and the OpenAI SDKs, each with a copy button. */
import { html } from '../../lib/html.ts';
import { Snippet } from './dialog.ts';
import { curlSnippet, nodeSnippet, proxyBase, pythonSnippet, type SnippetInput } from './snippets.ts';
import type { Row } from './entities.ts';

export interface Created {
  service: Row;
  route: Row;
  plugin: Row;
  path: string;
  routeType: string;
  model: string;
}

export function AiRouteResult(props: { created: Created; listen: unknown; onAnother: () => void }) {
  const c = props.created;
  const base = proxyBase(props.listen, location.hostname);
  const input: SnippetInput | null = base ? { base, path: c.path, routeType: c.routeType, model: c.model } : null;
  return html`<section class="ai-route-done" aria-labelledby="ai-done-title">
    <h2 id="ai-done-title">AI route ${c.route.name} is ready</h2>
    <p role="status">
      Created service <a href=${`#/config/services/${c.service.id}`}>${c.service.name}</a>, route
      <a href=${`#/config/routes/${c.route.id}`}>${c.route.name}</a> (<code>${c.path}</code>) and its
      <a href=${`#/config/plugins/${c.plugin.id}`}>ai-proxy plugin</a>.
    </p>
    ${input
      ? html`<${Snippet} title="curl" code=${curlSnippet(input)} />
          <div class="snippet-pair">
            <${Snippet} title="Node (openai)" code=${nodeSnippet(input)} />
            <${Snippet} title="Python (openai)" code=${pythonSnippet(input)} />
          </div>`
      : html`<p class="empty">This node has no proxy listener (MODELGATE_PROXY_LISTEN is off): call the route on a node that has one.</p>`}
    <div class="actions">
      <a class="button" href="#/config/routes">All routes</a>
      <a class="button" href="#/playground">Try it in the playground</a>
      <button type="button" class="primary" onClick=${props.onAnother}>New AI route</button>
    </div>
  </section>`;
}
