/**
 * Kong's "Getting started with AI Proxy" guide as the project's own test table: the null service,
 * then for each provider tab the route + plugin YAML and the `curl` calls that create them, written
 * out from the guide word for word (its mistakes included: the Anthropic example's top_p=256 and
 * top_k=0.5 that Kong's schema refuses, the Llama2/Mistral YAML putting `llama2_format`,
 * `mistral_format` and `upstream_url` under `model`, and the stray `\` ending their plugin calls).
 *
 * The integration tests replay these commands against the real gateway, so they run in a bare
 * clone. `test/unit/kong-guide.test.ts` checks the table still matches the guide's text when that
 * is available beside the repository.
 */
import YAML from 'yaml';

export interface GuideProvider {
  /** The guide's tab. */
  tab: string;
  /** `config.model.provider`. */
  provider: string;
  /** The route's name; its path is `~/<route>$`. */
  route: string;
  /** The route with its ai-proxy plugin, as YAML. */
  yaml: string;
  /** `POST /services/ai-proxy/routes`. */
  routeCurl: string;
  /** `POST /routes/<route>/plugins`. */
  pluginCurl: string;
}

/** The "null" service every AI route hangs off, created first. */
export const GUIDE_SERVICE_CURL = String.raw`curl -X POST http://localhost:8001/services \
    --data "name=ai-proxy" \
    --data "url=http://localhost:32000"
`;

/** The chat request of every tab's "Test" step. */
export const GUIDE_CHAT_BODY = { messages: [{ role: 'system', content: 'You are a mathematician' }, { role: 'user', content: 'What is 1+1?' }] };

/** The "Test" step's call for a route, as the guide writes it. */
export function guideTestCurl(route: string): string {
  return String.raw`curl -X POST http://localhost:8000/${route} \
  -H 'Content-Type: application/json' \
  --data-raw '{ "messages": [ { "role": "system", "content": "You are a mathematician" }, { "role": "user", "content": "What is 1+1?"} ] }'
`;
}

/** The guide's six tabs, in its order. */
export const GUIDE_PROVIDERS: readonly GuideProvider[] = [
  {
    tab: 'OpenAI',
    provider: 'openai',
    route: 'openai-chat',
    yaml: String.raw`name: openai-chat
paths:
  - "~/openai-chat$"
methods:
  - POST
plugins:
  - name: ai-proxy
    config:
      route_type: "llm/v1/chat"
      auth:
        header_name: "Authorization"
        header_value: "Bearer <openai_key>"  # add your own OpenAI API key
      model:
        provider: "openai"
        name: "gpt-4"
        options:
          max_tokens: 512
          temperature: 1.0
`,
    routeCurl: String.raw`curl -X POST http://localhost:8001/services/ai-proxy/routes \
    --data "name=openai-chat" \
    --data "paths[]=~/openai-chat$"
`,
    pluginCurl: String.raw`curl -X POST http://localhost:8001/routes/openai-chat/plugins \
    --data "name=ai-proxy" \
    --data "config.route_type=llm/v1/chat" \
    --data "config.auth.header_name=Authorization" \
    --data "config.auth.header_value=Bearer <openai_key>" \
    --data "config.model.provider=openai" \
    --data "config.model.name=gpt-4" \
    --data "config.model.options.max_tokens=512" \
    --data "config.model.options.temperature=1.0"
`,
  },
  {
    tab: 'Azure',
    provider: 'azure',
    route: 'azure-chat',
    yaml: String.raw`name: azure-chat
paths:
  - "~/azure-chat$"
methods:
  - POST
plugins:
  - name: ai-proxy
    config:
      route_type: "llm/v1/chat"
      auth:
        header_name: "api-key"
        header_value: "<azure_ai_access_key>"  # add your own 'Azure OpenAI' access key
      model:
        provider: "azure"
        name: "gpt-35-turbo"
        options:
          azure_instance: "ai-proxy-regression"
          azure_deployment_id: "kong-gpt-3-5"
`,
    routeCurl: String.raw`curl -X POST http://localhost:8001/services/ai-proxy/routes \
    --data "name=azure-chat" \
    --data "paths[]=~/azure-chat$"
`,
    pluginCurl: String.raw`curl -X POST http://localhost:8001/routes/azure-chat/plugins \
    --data "name=ai-proxy" \
    --data "config.route_type=llm/v1/chat" \
    --data "config.auth.header_name=api-key" \
    --data "config.auth.header_value=<azure_ai_access_key>" \
    --data "config.model.provider=azure" \
    --data "config.model.name=gpt-35-turbo" \
    --data "config.model.options.azure_instance=ai-proxy-regression" \
    --data "config.model.options.azure_deployment_id=kong-gpt-3-5"
`,
  },
  {
    tab: 'Cohere',
    provider: 'cohere',
    route: 'cohere-chat',
    yaml: String.raw`name: cohere-chat
paths:
  - "~/cohere-chat$"
methods:
  - POST
plugins:
  - name: ai-proxy
    config:
      route_type: "llm/v1/chat"
      auth:
        header_name: "Authorization"
        header_value: "Bearer <cohere_key>"  # add your own Cohere API key
      model:
        provider: "cohere"
        name: "command"
        options:
          max_tokens: 512
          temperature: 1.0
`,
    routeCurl: String.raw`curl -X POST http://localhost:8001/services/ai-proxy/routes \
    --data "name=cohere-chat" \
    --data "paths[]=~/cohere-chat$"
`,
    pluginCurl: String.raw`curl -X POST http://localhost:8001/routes/cohere-chat/plugins \
    --data "name=ai-proxy" \
    --data "config.route_type=llm/v1/chat" \
    --data "config.auth.header_name=Authorization" \
    --data "config.auth.header_value=Bearer <cohere_key>" \
    --data "config.model.provider=cohere" \
    --data "config.model.name=command" \
    --data "config.model.options.max_tokens=512" \
    --data "config.model.options.temperature=1.0"
`,
  },
  {
    tab: 'Anthropic',
    provider: 'anthropic',
    route: 'anthropic-chat',
    yaml: String.raw`name: anthropic-chat
paths:
  - "~/anthropic-chat$"
methods:
  - POST
plugins:
  - name: ai-proxy
    config:
      route_type: "llm/v1/chat"
      auth:
        header_name: "apikey"
        header_value: "<anthropic_key>"  # add your own Anthropic API key
      model:
        provider: "anthropic"
        name: "claude-2.1"
        options:
          max_tokens: 512
          temperature: 1.0
          top_p: 256
          top_k: 0.5
`,
    routeCurl: String.raw`curl -X POST http://localhost:8001/services/ai-proxy/routes \
    --data "name=anthropic-chat" \
    --data "paths[]=~/anthropic-chat$"
`,
    pluginCurl: String.raw`curl -X POST http://localhost:8001/routes/anthropic-chat/plugins \
    --data "name=ai-proxy" \
    --data "config.route_type=llm/v1/chat" \
    --data "config.auth.header_name=apikey" \
    --data "config.auth.header_value=<anthropic_key>" \
    --data "config.model.provider=anthropic" \
    --data "config.model.name=claude-2.1" \
    --data "config.model.options.max_tokens=512" \
    --data "config.model.options.temperature=1.0" \
    --data "config.model.options.top_p=256" \
    --data "config.model.options.top_k=0.5"
`,
  },
  {
    tab: 'Llama2',
    provider: 'llama2',
    route: 'llama2-chat',
    yaml: String.raw`name: llama2-chat
paths:
  - "~/llama2-chat$"
methods:
  - POST
plugins:
  - name: ai-proxy
    config:
      route_type: "llm/v1/chat"
      model:
        provider: "llama2"
        name: "llama2"
        llama2_format: "ollama"
        upstream_url: "http://llama2-server.local:11434/v1/chat"
`,
    routeCurl: String.raw`curl -X POST http://localhost:8001/services/ai-proxy/routes \
    --data "name=llama2-chat" \
    --data "paths[]=~/llama2-chat$"
`,
    pluginCurl: String.raw`curl -X POST http://localhost:8001/routes/llama2-chat/plugins \
    --data "name=ai-proxy" \
    --data "config.route_type=llm/v1/chat" \
    --data "config.model.provider=llama2" \
    --data "config.model.name=llama2" \
    --data "config.model.options.llama2_format=ollama" \
    --data "config.model.options.upstream_url=http://ollama-server.local:11434/v1/chat" \
`,
  },
  {
    tab: 'Mistral',
    provider: 'mistral',
    route: 'mistral-chat',
    yaml: String.raw`name: mistral-chat
paths:
  - "~/mistral-chat$"
methods:
  - POST
plugins:
  - name: ai-proxy
    config:
      route_type: "llm/v1/chat"
      model:
        provider: "mistral"
        name: "mistral"
        mistral_format: "ollama"
        upstream_url: "http://ollama-server.local:11434/v1/chat"
`,
    routeCurl: String.raw`curl -X POST http://localhost:8001/services/ai-proxy/routes \
    --data "name=mistral-chat" \
    --data "paths[]=~/mistral-chat$"
`,
    pluginCurl: String.raw`curl -X POST http://localhost:8001/routes/mistral-chat/plugins \
    --data "name=ai-proxy" \
    --data "config.route_type=llm/v1/chat" \
    --data "config.model.provider=mistral" \
    --data "config.model.name=mistral" \
    --data "config.model.options.mistral_format=ollama" \
    --data "config.model.options.upstream_url=http://ollama-server.local:11434/v1/chat" \
`,
  },
];

export const GUIDE_ROUTES: readonly string[] = GUIDE_PROVIDERS.map((p) => p.route);

/** The guide's code blocks in its order (the Llama2 tab's `json` illustration left out). */
export function guideBlocks(): { lang: 'bash' | 'yaml'; code: string }[] {
  const out: { lang: 'bash' | 'yaml'; code: string }[] = [{ lang: 'bash', code: GUIDE_SERVICE_CURL }];
  for (const p of GUIDE_PROVIDERS) {
    out.push({ lang: 'yaml', code: p.yaml }, { lang: 'bash', code: p.routeCurl }, { lang: 'bash', code: p.pluginCurl }, { lang: 'bash', code: guideTestCurl(p.route) });
  }
  return out;
}

/** The `--data "k=v"` pairs of a `curl` command, in order, values as curl sends them. */
export function curlData(command: string): [string, string][] {
  const out: [string, string][] = [];
  for (const m of command.matchAll(/--data "([^"]*)"/g)) {
    const i = m[1].indexOf('=');
    out.push([m[1].slice(0, i), m[1].slice(i + 1)]);
  }
  return out;
}

/** A curl command's Admin API path and form pairs. */
export function adminCall(command: string): { path: string; data: [string, string][] } {
  const m = /curl -X POST http:\/\/localhost:8001(\S+)/.exec(command);
  if (!m) throw new Error(`not an Admin API call: ${command}`);
  return { path: m[1], data: curlData(command) };
}

/** Every Admin API call of the guide, in order: the service, then each tab's route and plugin. */
export function guideAdminCalls(): { path: string; data: [string, string][] }[] {
  return [GUIDE_SERVICE_CURL, ...GUIDE_PROVIDERS.flatMap((p) => [p.routeCurl, p.pluginCurl])].map(adminCall);
}

function tabOf(route: string): GuideProvider {
  const p = GUIDE_PROVIDERS.find((x) => x.route === route);
  if (!p) throw new Error(`no route ${route} in the guide`);
  return p;
}

/** The form pairs creating the null service (`POST /services`). */
export function guideServiceCall(): [string, string][] {
  return curlData(GUIDE_SERVICE_CURL);
}

/** The form pairs creating a tab's route (`POST /services/ai-proxy/routes`). */
export function guideRouteCall(route: string): [string, string][] {
  return curlData(tabOf(route).routeCurl);
}

/** The form pairs creating a tab's plugin (`POST /routes/<route>/plugins`). */
export function guidePluginCall(route: string): [string, string][] {
  return curlData(tabOf(route).pluginCurl);
}

/** The guide's YAML routes, parsed afresh on each call (callers edit them). */
export function guideYamlRoutes(): Record<string, any>[] {
  return GUIDE_PROVIDERS.map((p) => YAML.parse(p.yaml));
}
