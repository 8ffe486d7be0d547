/**
 * Ready-to-copy client code for a new AI route: `curl`, and the OpenAI SDKs for Node and Python
 * pointed at the route (their `baseURL` / `base_url`). The SDKs append their own path
 * (`/chat/completions` ...) to the base, which the route's prefix path matches; the API key they
 * insist on is never forwarded by the gateway (docs/ai-proxy.md, "Requests": the configured key is
 * injected, client credentials are not).
 */

/** The proxy's address as a browser user reaches it, from `/` info's `configuration.proxy_listen`. */
export function proxyBase(listen: unknown, pageHost: string): string | null {
  const first = Array.isArray(listen) ? String(listen[0] ?? '') : '';
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(first.split(/\s+/)[0]);
  if (!m) return null;
  let host = m[1];
  // a wildcard listener answers on every address: the one this page was loaded from is one of them
  if (host === '0.0.0.0' || host === '::' || host === '') host = pageHost;
  if (host.includes(':')) host = `[${host}]`;
  return `http://${host}:${m[2]}`;
}

export type RouteType = 'llm/v1/chat' | 'llm/v1/completions' | 'llm/v1/embeddings' | 'llm/v1/responses';

export interface SnippetInput {
  base: string;
  path: string;
  routeType: string;
  /** The configured model, or '' when clients name it. */
  model: string;
}

const SAMPLE: Record<string, { body: Record<string, unknown>; node: string; python: string; print: [string, string] }> = {
  'llm/v1/chat': {
    body: { messages: [{ role: 'user', content: 'Hello!' }] },
    node: 'chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hello!" }] })',
    python: 'chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hello!"}])',
    print: ['r.choices[0].message.content', 'r.choices[0].message.content'],
  },
  'llm/v1/completions': {
    body: { prompt: 'Say hello' },
    node: 'completions.create({ model: MODEL, prompt: "Say hello" })',
    python: 'completions.create(model=MODEL, prompt="Say hello")',
    print: ['r.choices[0].text', 'r.choices[0].text'],
  },
  'llm/v1/embeddings': {
    body: { input: 'Hello!' },
    node: 'embeddings.create({ model: MODEL, input: "Hello!" })',
    python: 'embeddings.create(model=MODEL, input="Hello!")',
    print: ['r.data[0].embedding.length', 'len(r.data[0].embedding)'],
  },
  'llm/v1/responses': {
    body: { input: 'Hello!' },
    node: 'responses.create({ model: MODEL, input: "Hello!" })',
    python: 'responses.create(model=MODEL, input="Hello!")',
    print: ['r.output_text', 'r.output_text'],
  },
};

function sample(routeType: string) {
  return SAMPLE[routeType] ?? SAMPLE['llm/v1/chat'];
}

/** The route's URL: its path on the proxy (no trailing slash, so SDKs can append theirs). */
export function routeUrl(s: SnippetInput): string {
  return `${s.base}${s.path.replace(/\/+$/, '')}`;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function curlSnippet(s: SnippetInput): string {
  const body = s.model ? sample(s.routeType).body : { model: 'YOUR-MODEL', ...sample(s.routeType).body };
  return `curl -X POST ${shellQuote(routeUrl(s))} \\\n  -H 'Content-Type: application/json' \\\n  --data ${shellQuote(JSON.stringify(body))}`;
}

export function nodeSnippet(s: SnippetInput): string {
  const x = sample(s.routeType);
  return `import OpenAI from "openai";

// the gateway adds the provider's key: the SDK's own key is not passed on
const client = new OpenAI({ baseURL: ${JSON.stringify(routeUrl(s))}, apiKey: "unused" });
const MODEL = ${JSON.stringify(s.model || 'YOUR-MODEL')};

const r = await client.${x.node};
console.log(${x.print[0]});`;
}

export function pythonSnippet(s: SnippetInput): string {
  const x = sample(s.routeType);
  return `from openai import OpenAI

# the gateway adds the provider's key: the SDK's own key is not passed on
client = OpenAI(base_url=${JSON.stringify(routeUrl(s))}, api_key="unused")
MODEL = ${JSON.stringify(s.model || 'YOUR-MODEL')}

r = client.${x.python}
print(${x.print[1]})`;
}
