/**
 * A deterministic OpenAI-shaped embeddings server (POST /v1/embeddings, the answer of
 * https://platform.openai.com/docs/api-reference/embeddings/create: `{"object":"list","data":[{
 * "object":"embedding","index","embedding"}],"model","usage":{"prompt_tokens","total_tokens"}}`),
 * for the semantic cache's tests: a bag-of-words hashing embedder, so paraphrases that use the
 * same words are close and other prompts far, with no model.
 *
 * Words: lower-cased, contractions expanded (`what's` → `what is`), split on anything but letters
 * and digits; each word adds 1 to the component its FNV-1a hash picks; the vector is L2-normalised.
 * So "What is 2+2?" and "what's 2 + 2" have the same bag (what, is, 2, 2): cosine distance 0; "What
 * is the capital of France?" shares two words of seven: distance ≈ 0.6.
 *
 * Modes (`setMode`): `ok`; `error` answers 500; `hang` never answers (the gateway's timeout must).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type EmbeddingsMode = 'ok' | 'error' | 'hang';

export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/(\w)'s\b/g, '$1 is')
    .replace(/(\w)'re\b/g, '$1 are')
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function embedText(text: string, dimensions: number): number[] {
  const v = new Array<number>(dimensions).fill(0);
  for (const w of words(text)) v[fnv1a(w) % dimensions] += 1;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm === 0 ? v : v.map((x) => x / norm);
}

export interface EmbeddingsMock {
  url: string;
  /** The `input` of every request, in order. */
  inputs: string[];
  /** The Authorization header of every request. */
  auth: (string | undefined)[];
  /** TCP connections accepted so far (a client that reuses its pool opens few). */
  readonly connections: number;
  setMode(mode: EmbeddingsMode): void;
  close(): Promise<void>;
}

export async function startEmbeddingsMock(opts: { dimensions?: number; key?: string } = {}): Promise<EmbeddingsMock> {
  const dimensions = opts.dimensions ?? 64;
  let mode: EmbeddingsMode = 'ok';
  const inputs: string[] = [];
  const auth: (string | undefined)[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      auth.push(req.headers.authorization);
      let body: { input?: unknown; model?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
        return;
      }
      const input = typeof body.input === 'string' ? body.input : JSON.stringify(body.input);
      inputs.push(input);
      if (req.url !== '/v1/embeddings' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad key","type":"invalid_request_error"}}');
        return;
      }
      if (mode === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"embeddings down","type":"server_error"}}');
        return;
      }
      if (mode === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const tokens = words(input).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: embedText(input, dimensions) }],
          model: typeof body.model === 'string' ? body.model : 'mock-embed',
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        }),
      );
    });
  });
  let connections = 0;
  server.on('connection', () => void connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inputs,
    auth,
    get connections() {
      return connections;
    },
    setMode: (m) => void (mode = m),
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
