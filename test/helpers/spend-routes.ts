/**
 * The spend-log integration tests' configuration (spend-log.test.ts on SQLite,
 * spend-log-postgres.test.ts on PostgreSQL): a `chat` route (key-auth, route prices) and an `emb`
 * route, both to an OpenAI mock, and consumer `alice` with a key; the ids the rows must carry.
 */
import assert from 'node:assert/strict';
import type { Gateway } from './gateway.ts';

export interface SpendRouteIds {
  consumer: string;
  credential: string;
  chat: string;
  emb: string;
  service: string;
  chatPlugin: string;
  embPlugin: string;
}

export interface SpendRouteSetup {
  /** The OpenAI mock's base URL and key. */
  openaiUrl: string;
  openaiKey: string;
  aliceKey: string;
  /** The chat route's `input_cost` / `output_cost` (per million tokens). */
  inputCost: number;
  outputCost: number;
}

export async function configureSpendRoutes(gw: Gateway, s: SpendRouteSetup): Promise<SpendRouteIds> {
  const admin = async (method: string, url: string, body?: unknown): Promise<any> => {
    const r = await gw.adminRequest(method, url, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
    return r.json;
  };
  const service = await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  const chat = await admin('POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
  const emb = await admin('POST', '/services/ai/routes', { name: 'emb', paths: ['/emb'] });
  await admin('POST', '/routes/chat/plugins', { name: 'key-auth' });
  const auth = { header_name: 'Authorization', header_value: `Bearer ${s.openaiKey}` };
  const chatPlugin = await admin('POST', '/routes/chat/plugins', {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth,
      model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${s.openaiUrl}/v1/chat/completions`, input_cost: s.inputCost, output_cost: s.outputCost } },
    },
  });
  const embPlugin = await admin('POST', '/routes/emb/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/embeddings', auth, model: { provider: 'openai', name: 'text-embedding-3-small', options: { upstream_url: `${s.openaiUrl}/v1/embeddings` } } },
  });
  const consumer = await admin('POST', '/consumers', { username: 'alice' });
  const credential = await admin('POST', '/consumers/alice/key-auth', { key: s.aliceKey });
  return { consumer: consumer.id, credential: credential.id, chat: chat.id, emb: emb.id, service: service.id, chatPlugin: chatPlugin.id, embPlugin: embPlugin.id };
}

/** A streamed chat answer's usage (the last chunk, with `stream_options.include_usage`). */
export function streamUsage(text: string): any {
  let usage: any = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice(6));
    if (chunk.usage) usage = chunk.usage;
  }
  return usage;
}
