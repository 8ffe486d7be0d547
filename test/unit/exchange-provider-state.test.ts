/**
 * Provider state across turns (src/exchange/provider-state.ts): an answer's reasoning state is kept
 * under its tool-call ids in the shared cache and put back on the next request's assistant tool
 * calls that carry none, scoped per route and consumer, bounded in size and time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installSharedState, type SharedState } from '../../src/state/index.ts';
import { MemoryCache } from '../../src/state/memory-cache.ts';
import { MAX_STATE_BYTES, STATE_TTL_MS, rememberState, restoreState } from '../../src/exchange/provider-state.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import type { Carried } from '../../src/exchange/types.ts';

function install(): { cache: MemoryCache; ttls: number[] } {
  const cache = new MemoryCache();
  const ttls: number[] = [];
  const state: SharedState = {
    kind: 'local',
    increment: async () => [],
    read: async () => [],
    get: async (key: string) => cache.get(key),
    set: async (key: string, value: string, ttlMs: number) => {
      ttls.push(ttlMs);
      cache.set(key, value, ttlMs);
    },
    delete: async (key: string) => cache.delete(key),
  } as unknown as SharedState;
  installSharedState({ local: state });
  return { cache, ttls };
}

const conversation = (assistant: Record<string, unknown>) =>
  parseOpenAIRequest(
    {
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{}' } }], ...assistant },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      ],
    },
    'llm/v1/chat',
  );

const carried: Carried = {
  reasoning: [{ type: 'reasoning', text: 'I should call weather.', signature: 'sig-1', provider: 'anthropic' }],
  toolCallIds: ['toolu_1'],
};

test('an answer state comes back on the next turn of the same route and consumer, for an hour', async () => {
  const { ttls, cache } = install();
  await rememberState(carried, 'route-a:consumer-1');
  assert.deepEqual(ttls, [STATE_TTL_MS]);
  const req = conversation({});
  await restoreState(req, 'route-a:consumer-1');
  assert.deepEqual(req.messages[1].parts, [{ type: 'reasoning', text: 'I should call weather.', signature: 'sig-1', provider: 'anthropic' }, { type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{}' }]);
  cache.close();
});

test('another route or consumer does not get it; a message with its own reasoning keeps its own', async () => {
  const { cache } = install();
  await rememberState(carried, 'route-a:consumer-1');
  const other = conversation({});
  await restoreState(other, 'route-a:consumer-2');
  assert.equal(other.messages[1].parts.length, 1);
  const own = conversation({ reasoning_details: [{ type: 'reasoning.text', text: 'mine', signature: 'own', format: 'anthropic-claude-v1' }] });
  await restoreState(own, 'route-a:consumer-1');
  assert.deepEqual(own.messages[1].parts[0], { type: 'reasoning', text: 'mine', signature: 'own', provider: 'anthropic' });
  assert.equal(own.messages[1].parts.length, 2);
  cache.close();
});

test('Gemini signatures belong to their call; shared parts are not doubled on a message with two calls', async () => {
  const { cache } = install();
  await rememberState(
    {
      reasoning: [
        { type: 'reasoning', text: 'plan', provider: 'gemini', signature: 'shared' },
        { type: 'reasoning', text: '', provider: 'gemini', signature: 's1', toolCallId: 'c1' },
        { type: 'reasoning', text: '', provider: 'gemini', signature: 's2', toolCallId: 'c2' },
      ],
      toolCallIds: ['c1', 'c2'],
    },
    's',
  );
  const req = parseOpenAIRequest(
    {
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: ['c1', 'c2'].map((id) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } })) },
      ],
    },
    'llm/v1/chat',
  );
  await restoreState(req, 's');
  const signatures = req.messages[1].parts.filter((p) => p.type === 'reasoning').map((p) => (p as { signature?: string }).signature);
  assert.deepEqual(signatures.sort(), ['s1', 's2', 'shared']);
  cache.close();
});

test('too large, nothing to keep, or no shared state: nothing stored, requests go on', async () => {
  const { ttls, cache } = install();
  await rememberState({ reasoning: [{ type: 'reasoning', text: 'x'.repeat(MAX_STATE_BYTES), signature: 's', provider: 'anthropic' }], toolCallIds: ['big'] }, 's');
  await rememberState({ reasoning: [], toolCallIds: ['none'] }, 's');
  await rememberState(undefined, 's');
  assert.deepEqual(ttls, []);
  cache.close();
  installSharedState({ local: null as unknown as SharedState });
  await rememberState(carried, 's');
  const req = conversation({});
  await restoreState(req, 's');
  assert.equal(req.messages[1].parts.length, 1);
});
