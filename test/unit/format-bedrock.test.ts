/**
 * The Bedrock Converse format on the canonical exchange, called directly: canonical requests in,
 * the Converse body out; Converse answers in, the canonical answer out; Converse stream events in,
 * the events the client's renderer is told (a recording EventSink). Issue 17: nothing Converse can
 * carry is lost (cache points, reasoning state, structured output, cache usage, zero-argument
 * tool calls), and what it cannot carry goes through ctx.unsupported.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bedrockConverseFormat, claudeVersion, converseUsage, RESPONSE_TOOL } from '../../src/llm/formats/bedrock-converse.ts';
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type ModelOptions } from '../../src/llm/types.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { estimateTokens } from '../../src/llm/tokens.ts';
import { TOOL_CALL_ID, type CanonicalRequest, type CanonicalResponse, type Message, type Usage, type UnsupportedPolicy } from '../../src/exchange/types.ts';
import { recordingContext, type RecordingSink } from '../helpers/format-context.ts';

type Json = Record<string, any>;

const CLAUDE = 'anthropic.claude-3-7-sonnet-20250219-v1:0';

type Event = [string, ...unknown[]];

interface Harness {
  ctx: DriverContext;
  /** Paths reported through ctx.unsupported (policy drop). */
  unsupported: string[];
  sinks: RecordingSink[];
}

function harness(init: { model?: string; policy?: UnsupportedPolicy; options?: Partial<ModelOptions>; stream?: boolean; includeUsage?: boolean; routeType?: DriverContext['routeType'] } = {}): Harness {
  const ctx = recordingContext({
    provider: 'bedrock',
    ...init,
    model: init.model ?? CLAUDE,
    policy: init.policy ?? 'drop',
    id: 'chatcmpl-test',
    sink: { id: 'chatcmpl-test', model: CLAUDE },
  });
  return { ctx, unsupported: ctx.dropped, sinks: ctx.sinks };
}

function request(messages: Message[], extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return { kind: 'chat', messages, sampling: {}, stream: false, includeUsage: false, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} }, ...extra };
}

const user = (text: string): Message => ({ role: 'user', parts: [{ type: 'text', text }] });

function build(req: CanonicalRequest, h = harness()): Json {
  return bedrockConverseFormat.buildRequest(req, h.ctx) as Json;
}

function parse(answer: unknown, h = harness()): CanonicalResponse {
  const parsed = bedrockConverseFormat.parseResponse(JSON.stringify(answer), h.ctx);
  assert.ok(!('passthrough' in parsed));
  return parsed as CanonicalResponse;
}

/** Runs Converse stream events (type, payload) through the translator: the sink's events, the usage, and finish(). */
function stream(events: [string, Json][], init: Parameters<typeof harness>[0] = {}): { events: Event[]; usage: Usage | null; done: boolean; text: string } {
  const h = harness({ stream: true, ...init });
  const translator = bedrockConverseFormat.createStreamTranslator(h.ctx);
  for (const [event, payload] of events) translator.push({ event, data: JSON.stringify({ ...payload, p: 'abc' }) });
  translator.finish(null);
  assert.equal(h.sinks.length, 1);
  return { events: h.sinks[0].events, usage: translator.usage(), done: translator.done, text: translator.text };
}

const WEATHER = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const weatherTool = { type: 'function' as const, name: 'get_weather', description: 'Weather now', parameters: WEATHER };
const PERSON = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };

// ---------------------------------------------------------------------------------------------

describe('bedrock converse: requests', () => {
  it('maps system, developer, user and assistant turns; consecutive turns of one role become one', () => {
    const body = build(
      request([
        { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
        { role: 'developer', parts: [{ type: 'text', text: 'Answer in French.' }, { type: 'text', text: '' }] },
        user('Hi'),
        user('there'),
        { role: 'assistant', parts: [{ type: 'text', text: 'Bonjour.' }] },
        user('Bye'),
      ]),
    );
    assert.deepEqual(body.system, [{ text: 'Be brief.' }, { text: 'Answer in French.' }]);
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ text: 'Hi' }, { text: 'there' }] },
      { role: 'assistant', content: [{ text: 'Bonjour.' }] },
      { role: 'user', content: [{ text: 'Bye' }] },
    ]);
    assert.equal(body.toolConfig, undefined);
  });

  it('a completions prompt is one user message', () => {
    const body = build(request([], { kind: 'completions', prompt: 'Once upon' }), harness({ routeType: 'llm/v1/completions' }));
    assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: 'Once upon' }] }]);
  });

  it('sampling: configured options win, temperature clamped to 0..1, stop sequences; top_k only for Claude', () => {
    const sampling = { maxTokens: 100, temperature: 1.7, topP: 0.9, stop: ['END'], topK: 40 };
    let body = build(request([user('x')], { sampling }));
    assert.deepEqual(body.inferenceConfig, { maxTokens: 100, temperature: 1, topP: 0.9, stopSequences: ['END'] });
    assert.deepEqual(body.additionalModelRequestFields, { top_k: 40 });
    body = build(request([user('x')], { sampling }), harness({ options: { max_tokens: 256, temperature: 0.2, top_k: 0 } }));
    assert.deepEqual(body.inferenceConfig, { maxTokens: 256, temperature: 0.2, topP: 0.9, stopSequences: ['END'] });
    // A client's top_k to a model without one is reported; a configured one is left out.
    const llama = harness({ model: 'meta.llama3-1-8b-instruct-v1:0' });
    body = build(request([user('x')], { sampling }), llama);
    assert.equal(body.additionalModelRequestFields, undefined);
    assert.deepEqual(llama.unsupported, ['top_k']);
    const configured = harness({ model: 'meta.llama3-1-8b-instruct-v1:0', options: { top_k: 5 } });
    build(request([user('x')]), configured);
    assert.deepEqual(configured.unsupported, []);
  });

  it('reports every sampling field Converse has no equivalent for', () => {
    const h = harness();
    build(request([user('x')], { sampling: { n: 2, seed: 7, presencePenalty: 0.5, frequencyPenalty: 0.1, logprobs: true, topLogprobs: 3, logitBias: { '50256': -100 } } }), h);
    assert.deepEqual(h.unsupported, ['n', 'seed', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs', 'logit_bias']);
    // neutral values carry nothing
    const quiet = harness();
    build(request([user('x')], { sampling: { n: 1, presencePenalty: 0, frequencyPenalty: 0, logprobs: false, logitBias: {} } }), quiet);
    assert.deepEqual(quiet.unsupported, []);
    // the default policy refuses before the provider is called
    assert.throws(() => build(request([user('x')], { sampling: { n: 3 } }), harness({ policy: 'error' })), (e: unknown) => e instanceof RequestError && /^n:/.test(e.message));
  });

  it('user media: base64 images, audio and documents as bytes; image URLs, file ids and unknown formats reported', () => {
    const h = harness();
    const body = build(
      request([
        {
          role: 'user',
          parts: [
            { type: 'text', text: 'Look' },
            { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' }, detail: 'high' },
            { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.png' } },
            { type: 'image', source: { kind: 'base64', mediaType: 'image/bmp', data: 'Qk0=' } },
            { type: 'audio', data: 'UklGRg==', format: 'wav' },
            { type: 'audio', data: 'xx', format: 'speex' },
            { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBERi0=' }, filename: 'Q3 report.final.pdf' },
            { type: 'file', source: { kind: 'base64', mediaType: 'text/plain', data: 'aGk=' } },
            { type: 'file', source: { kind: 'file_id', fileId: 'file-abc' } },
            { type: 'file', source: { kind: 'base64', mediaType: 'application/zip', data: 'UEs=' } },
          ],
        },
      ]),
      h,
    );
    assert.deepEqual(body.messages[0].content, [
      { text: 'Look' },
      { image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } } },
      { audio: { format: 'wav', source: { bytes: 'UklGRg==' } } },
      { document: { format: 'pdf', name: 'Q3 report-final', source: { bytes: 'JVBERi0=' } } },
      { document: { format: 'txt', name: 'document-2', source: { bytes: 'aGk=' } } },
    ]);
    assert.deepEqual(h.unsupported, ['messages[0].content[2]', 'messages[0].content[3]', 'messages[0].content[5]', 'messages[0].content[8]', 'messages[0].content[9]']);
    // Before: an image URL was a hard 400 whatever the route said; now the policy decides.
    assert.throws(
      () => build(request([{ role: 'user', parts: [{ type: 'image', source: { kind: 'url', url: 'https://x/c.png' } }] }]), harness({ policy: 'error' })),
      (e: unknown) => e instanceof RequestError && /^messages\[0\]\.content\[0\]: image URLs/.test(e.message),
    );
  });

  it('participant names and non-text system content are reported', () => {
    const h = harness();
    const body = build(request([{ role: 'system', parts: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'x' } }, { type: 'text', text: 'S' }] }, { role: 'user', name: 'alice', parts: [{ type: 'text', text: 'x' }] }]), h);
    assert.deepEqual(body.system, [{ text: 'S' }]);
    assert.deepEqual(h.unsupported, ['messages[0].content[0]', 'messages[1].name']);
    // a tool message's name is the tool's (LangChain sends it), not a participant
    const tool = harness();
    build(request([user('x'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: '{}' }] }, { role: 'tool', name: 'f', parts: [{ type: 'tool_result', toolCallId: 'c1', name: 'f', content: [{ type: 'text', text: 'ok' }] }] }], { tools: [{ ...weatherTool, name: 'f' }] }), tool);
    assert.deepEqual(tool.unsupported, []);
  });

  it('tool calls and results: toolUse with the input object, results in one user turn (json, text, images, error status)', () => {
    const body = build(
      request(
        [
          user('Weather in Paris and Rome?'),
          {
            role: 'assistant',
            parts: [
              { type: 'text', text: ' ' },
              { type: 'tool_call', id: 'tooluse_abc', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { type: 'tool_call', id: 'call_x/y+z=', name: 'get_weather', arguments: '' },
            ],
          },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'tooluse_abc', content: [{ type: 'text', text: '{"temp": 21}' }] }] },
          {
            role: 'tool',
            parts: [{ type: 'tool_result', toolCallId: 'call_x/y+z=', isError: true, content: [{ type: 'text', text: 'no data' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/jpeg', data: '/9j/' } }] }],
          },
        ],
        { tools: [weatherTool] },
      ),
    );
    const neutral = body.messages[1].content[1].toolUse.toolUseId;
    assert.match(neutral, TOOL_CALL_ID);
    assert.notEqual(neutral, 'call_x/y+z=');
    assert.deepEqual(body.messages.slice(1), [
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'tooluse_abc', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: neutral, name: 'get_weather', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tooluse_abc', content: [{ json: { temp: 21 } }] } },
          { toolResult: { toolUseId: neutral, content: [{ text: 'no data' }, { image: { format: 'jpeg', source: { bytes: '/9j/' } } }], status: 'error' } },
        ],
      },
    ]);
    assert.deepEqual(body.toolConfig, { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: WEATHER }, description: 'Weather now' } }] });
    assert.throws(
      () => build(request([user('x'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: '[1]' }] }], { tools: [weatherTool] })),
      (e: unknown) => e instanceof RequestError && e.message === 'messages[1].tool_calls[0].function.arguments: expected a JSON object',
    );
    assert.throws(
      () => build(request([user('x'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: '{}' }] }])),
      (e: unknown) => e instanceof RequestError && /needs the tool definitions/.test(e.message),
    );
  });

  it('tool choice: auto, required as any, a named tool; none leaves the tools out, or is reported when the conversation has tool calls', () => {
    const tools = [weatherTool];
    assert.deepEqual(build(request([user('x')], { tools, toolChoice: { type: 'auto' } })).toolConfig.toolChoice, { auto: {} });
    assert.deepEqual(build(request([user('x')], { tools, toolChoice: { type: 'required' } })).toolConfig.toolChoice, { any: {} });
    assert.deepEqual(build(request([user('x')], { tools, toolChoice: { type: 'tool', name: 'get_weather' } })).toolConfig.toolChoice, { tool: { name: 'get_weather' } });
    assert.equal(build(request([user('x')], { tools })).toolConfig.toolChoice, undefined);
    // Before: 'none' kept the tools and let the model call them.
    assert.equal(build(request([user('x')], { tools, toolChoice: { type: 'none' } })).toolConfig, undefined);
    const history = [user('x'), { role: 'assistant' as const, parts: [{ type: 'tool_call' as const, id: 'c1', name: 'get_weather', arguments: '{}' }] }, { role: 'tool' as const, parts: [{ type: 'tool_result' as const, toolCallId: 'c1', content: [{ type: 'text' as const, text: 'sunny' }] }] }];
    const h = harness();
    const body = build(request(history, { tools, toolChoice: { type: 'none' } }), h);
    assert.deepEqual(h.unsupported, ['tool_choice']);
    assert.equal(body.toolConfig.toolChoice, undefined);
    assert.equal(body.toolConfig.tools.length, 1);
  });

  it('parallel_tool_calls false, built-in tools and the reserved tool name', () => {
    const h = harness();
    const body = build(request([user('x')], { tools: [weatherTool, { type: 'builtin', name: 'web_search', config: {} }], parallelToolCalls: false }), h);
    assert.deepEqual(h.unsupported, ['tools[1]', 'parallel_tool_calls']);
    assert.equal(body.toolConfig.tools.length, 1);
    // without tools, parallel_tool_calls says nothing
    const quiet = harness();
    build(request([user('x')], { parallelToolCalls: false }), quiet);
    assert.deepEqual(quiet.unsupported, []);
    assert.throws(() => build(request([user('x')], { tools: [{ ...weatherTool, name: RESPONSE_TOOL }] })), (e: unknown) => e instanceof RequestError && /reserved/.test(e.message));
  });

  it('strict tools keep strict', () => {
    const body = build(request([user('x')], { tools: [{ ...weatherTool, strict: true }] }));
    assert.equal(body.toolConfig.tools[0].toolSpec.strict, true);
  });
});

describe('bedrock converse: prompt caching', () => {
  it('puts a cachePoint after each marked block: system, message parts, whole messages, tools', () => {
    const h = harness();
    const body = build(
      request(
        [
          { role: 'system', parts: [{ type: 'text', text: 'Long instructions', cache: { type: 'ephemeral' } }, { type: 'text', text: 'Today is Monday.' }] },
          { role: 'user', parts: [{ type: 'text', text: 'Document A', cache: { type: 'ephemeral', ttl: '1h' } }, { type: 'text', text: 'Question' }] },
          { role: 'assistant', parts: [{ type: 'text', text: 'Answer' }], cache: { type: 'ephemeral' } },
          { role: 'user', parts: [{ type: 'text', text: 'More', cache: { type: 'ephemeral', ttl: '10m' } }], cache: { type: 'ephemeral' } },
        ],
        { tools: [{ ...weatherTool, cache: { type: 'ephemeral' } }, { ...weatherTool, name: 'get_time' }] },
      ),
      h,
    );
    const point = { cachePoint: { type: 'default' } };
    assert.deepEqual(body.system, [{ text: 'Long instructions' }, point, { text: 'Today is Monday.' }]);
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ text: 'Document A' }, { cachePoint: { type: 'default', ttl: '1h' } }, { text: 'Question' }] },
      { role: 'assistant', content: [{ text: 'Answer' }, point] },
      // the part's mark and the message's fall on the same block: one cache point
      { role: 'user', content: [{ text: 'More' }, point] },
    ]);
    assert.deepEqual(
      body.toolConfig.tools.map((t: Json) => Object.keys(t)[0]),
      ['toolSpec', 'cachePoint', 'toolSpec'],
    );
    // a TTL Converse does not know is reported (the default TTL is used)
    assert.deepEqual(h.unsupported, ['messages[3].content[0].cache_control.ttl']);
  });

  it('a mark on a part that is left out does not produce a cache point of its own', () => {
    const body = build(request([{ role: 'system', parts: [{ type: 'text', text: '', cache: { type: 'ephemeral' } }] }, user('x')]));
    assert.equal(body.system, undefined);
  });
});

describe('bedrock converse: reasoning', () => {
  it('reasoning effort becomes Claude thinking, with max tokens above the budget', () => {
    let body = build(request([user('x')], { reasoning: { effort: 'low' }, sampling: { maxTokens: 256 } }));
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    assert.equal(body.inferenceConfig.maxTokens, 1024 + 256);
    body = build(request([user('x')], { reasoning: { effort: 'high' }, sampling: { maxTokens: 32000 } }));
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 16384 } });
    assert.equal(body.inferenceConfig.maxTokens, 32000);
    body = build(request([user('x')], { reasoning: { budgetTokens: 500 } }));
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    assert.equal(body.inferenceConfig.maxTokens, 1024 + 4096);
    // 'none' asks for nothing, on any model
    body = build(request([user('x')], { reasoning: { effort: 'none' } }), harness({ model: 'meta.llama3-1-8b-instruct-v1:0' }));
    assert.equal(body.additionalModelRequestFields, undefined);
  });

  it('Claude refuses thinking with a forced tool choice or after a tool turn without its reasoning: reported, and thinking left off', () => {
    const tools = [weatherTool];
    let h = harness();
    let body = build(request([user('x')], { tools, toolChoice: { type: 'required' }, reasoning: { effort: 'low' } }), h);
    assert.deepEqual(h.unsupported, ['reasoning_effort']);
    assert.equal(body.additionalModelRequestFields, undefined);
    assert.deepEqual(body.toolConfig.toolChoice, { any: {} });
    const loop = (reasoning: Message['parts']): Message[] => [
      user('Weather?'),
      { role: 'assistant', parts: [...reasoning, { type: 'tool_call', id: 'tooluse_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'tooluse_1', content: [{ type: 'text', text: 'sunny' }] }] },
    ];
    h = harness();
    body = build(request(loop([{ type: 'reasoning', text: 't', signature: 's', provider: 'anthropic' }]), { tools, reasoning: { effort: 'low' } }), h);
    assert.deepEqual(h.unsupported, ['reasoning_effort']);
    assert.equal(body.additionalModelRequestFields, undefined);
    h = harness();
    body = build(request(loop([{ type: 'reasoning', text: 't', signature: 's', provider: 'bedrock' }]), { tools, reasoning: { effort: 'low' }, sampling: { maxTokens: 4096 } }), h);
    assert.deepEqual(h.unsupported, []);
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    assert.throws(() => build(request([user('x')], { tools, toolChoice: { type: 'tool', name: 'get_weather' }, reasoning: { effort: 'low' } }), harness({ policy: 'error' })), (e: unknown) => e instanceof RequestError && /^reasoning_effort: extended thinking with a forced tool_choice/.test(e.message));
  });

  it('sampling Claude refuses with thinking, and temperature with top_p on Claude 4.5 and later', () => {
    let h = harness();
    let body = build(request([user('x')], { reasoning: { effort: 'low' }, sampling: { maxTokens: 4096, temperature: 0.3, topP: 0.5, topK: 10 } }), h);
    assert.deepEqual(h.unsupported, ['temperature', 'top_k', 'top_p']);
    assert.deepEqual(body.inferenceConfig, { maxTokens: 4096 });
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    const sonnet45 = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
    h = harness({ model: sonnet45 });
    body = build(request([user('x')], { sampling: { temperature: 0.3, topP: 0.5 } }), h);
    assert.deepEqual(h.unsupported, ['top_p']);
    assert.deepEqual(body.inferenceConfig, { temperature: 0.3 });
    // top_p 1 changes nothing: left out without a word; older Claude models take both
    h = harness({ model: sonnet45 });
    assert.deepEqual(build(request([user('x')], { sampling: { temperature: 0.3, topP: 1 } }), h).inferenceConfig, { temperature: 0.3 });
    assert.deepEqual(h.unsupported, []);
    assert.deepEqual(build(request([user('x')], { sampling: { temperature: 0.3, topP: 0.5 } })).inferenceConfig, { temperature: 0.3, topP: 0.5 });
  });

  it('Nova 2 gets reasoningConfig; other models report the effort', () => {
    const body = build(request([user('x')], { reasoning: { effort: 'minimal' } }), harness({ model: 'us.amazon.nova-2-lite-v1:0' }));
    assert.deepEqual(body.additionalModelRequestFields, { reasoningConfig: { type: 'enabled', maxReasoningEffort: 'low' } });
    const h = harness({ model: 'meta.llama3-1-8b-instruct-v1:0' });
    assert.equal(build(request([user('x')], { reasoning: { effort: 'high' } }), h).additionalModelRequestFields, undefined);
    assert.deepEqual(h.unsupported, ['reasoning_effort']);
  });

  it('reads Claude versions from Bedrock model ids', () => {
    assert.equal(claudeVersion('anthropic.claude-3-5-sonnet-20240620-v1:0'), 3.5);
    assert.equal(claudeVersion('anthropic.claude-3-haiku-20240307-v1:0'), 3);
    assert.equal(claudeVersion('us.anthropic.claude-sonnet-4-20250514-v1:0'), 4);
    assert.equal(claudeVersion('anthropic.claude-opus-4-1-20250805-v1:0'), 4.1);
    assert.equal(claudeVersion('global.anthropic.claude-sonnet-4-5-20250929-v1:0'), 4.5);
    assert.equal(claudeVersion('amazon.nova-lite-v1:0'), undefined);
  });

  it("returns Bedrock's own reasoning state first in the assistant turn; other providers' reasoning is left out", () => {
    const body = build(
      request([
        user('x'),
        {
          role: 'assistant',
          parts: [
            { type: 'text', text: 'Sunny.' },
            { type: 'reasoning', text: 'Let me think.', signature: 'sig-1', provider: 'bedrock' },
            { type: 'reasoning', text: '', redacted: 'cmVkYWN0ZWQ=', provider: 'bedrock' },
            { type: 'reasoning', text: 'Anthropic thought', signature: 'sig-a', provider: 'anthropic' },
            { type: 'reasoning', text: 'deepseek text' },
            { type: 'reasoning', text: 'no state', provider: 'bedrock' },
          ],
        },
        user('y'),
      ]),
    );
    assert.deepEqual(body.messages[1].content, [
      { reasoningContent: { reasoningText: { text: 'Let me think.', signature: 'sig-1' } } },
      { reasoningContent: { redactedContent: 'cmVkYWN0ZWQ=' } },
      { text: 'Sunny.' },
    ]);
  });

  it('an assistant turn of nothing but foreign reasoning is left out', () => {
    const body = build(request([user('x'), { role: 'assistant', parts: [{ type: 'reasoning', text: 't', signature: 's', provider: 'gemini' }] }, user('y')]));
    assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: 'x' }, { text: 'y' }] }]);
  });
});

describe('bedrock converse: structured output', () => {
  const schema = { type: 'json_schema' as const, name: 'person', schema: PERSON, strict: true };

  it('json_schema is a forced response tool whose input schema is the schema (before: the schema was never sent)', () => {
    const body = build(request([user('Alice is 30.')], { output: schema }));
    assert.equal(body.toolConfig.tools.length, 1);
    const spec = body.toolConfig.tools[0].toolSpec;
    assert.equal(spec.name, RESPONSE_TOOL);
    assert.deepEqual(spec.inputSchema, { json: PERSON });
    assert.equal(spec.strict, true);
    assert.match(spec.description, /person/);
    assert.deepEqual(body.toolConfig.toolChoice, { tool: { name: RESPONSE_TOOL } });
  });

  it('json_object is a forced tool with an open object schema', () => {
    const body = build(request([user('x')], { output: { type: 'json_object' } }));
    assert.deepEqual(body.toolConfig.tools[0].toolSpec.inputSchema, { json: { type: 'object', additionalProperties: true } });
    assert.deepEqual(body.toolConfig.toolChoice, { tool: { name: RESPONSE_TOOL } });
    assert.equal(build(request([user('x')], { output: { type: 'text' } })).toolConfig, undefined);
  });

  it('with client tools the model must call one of them or answer through the response tool', () => {
    const body = build(request([user('x')], { output: schema, tools: [weatherTool] }));
    assert.deepEqual(body.toolConfig.tools.map((t: Json) => t.toolSpec.name), ['get_weather', RESPONSE_TOOL]);
    assert.deepEqual(body.toolConfig.toolChoice, { any: {} });
    // tool_choice required: one of the client's tools or the answer (Converse's any cannot leave the response tool out)
    const required = build(request([user('x')], { output: schema, tools: [weatherTool], toolChoice: { type: 'required' } }));
    assert.deepEqual(required.toolConfig.tools.map((t: Json) => t.toolSpec.name), ['get_weather', RESPONSE_TOOL]);
    assert.deepEqual(required.toolConfig.toolChoice, { any: {} });
    // a named choice stays the client's; the schema still reaches the provider (before: it was left out in silence)
    const named = build(request([user('x')], { output: schema, tools: [weatherTool], toolChoice: { type: 'tool', name: 'get_weather' } }));
    assert.deepEqual(named.toolConfig.tools.map((t: Json) => t.toolSpec.name), ['get_weather', RESPONSE_TOOL]);
    assert.deepEqual(named.toolConfig.toolChoice, { tool: { name: 'get_weather' } });
    // 'none': the client's tools cannot be called, the answer is forced
    const none = build(request([user('x')], { output: schema, tools: [weatherTool], toolChoice: { type: 'none' } }));
    assert.deepEqual(none.toolConfig.toolChoice, { tool: { name: RESPONSE_TOOL } });
  });

  it('with Claude thinking the response tool is offered with auto and asked for in the system prompt', () => {
    const body = build(request([{ role: 'system', parts: [{ type: 'text', text: 'Be exact.' }] }, user('x')], { output: schema, reasoning: { effort: 'low' } }));
    assert.deepEqual(body.toolConfig.toolChoice, { auto: {} });
    assert.equal(body.toolConfig.tools[0].toolSpec.name, RESPONSE_TOOL);
    assert.equal(body.system.length, 2);
    assert.equal(body.system[0].text, 'Be exact.');
    assert.match(body.system[1].text, new RegExp(RESPONSE_TOOL));
  });

  it('a schema whose top level is not an object is reported', () => {
    const h = harness();
    const body = build(request([user('x')], { output: { type: 'json_schema', name: 'list', schema: { type: 'array', items: { type: 'string' } } } }), h);
    assert.deepEqual(h.unsupported, ['response_format.json_schema.schema']);
    assert.equal(body.toolConfig, undefined);
  });

  it("the response tool's input comes back as the answer's text, finish reason stop", () => {
    const answer = parse({
      output: { message: { role: 'assistant', content: [{ text: 'Here you go:' }, { toolUse: { toolUseId: 'tooluse_1', name: RESPONSE_TOOL, input: { name: 'Alice', age: 30 } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
    });
    assert.deepEqual(answer.choices, [{ parts: [{ type: 'text', text: '{"name":"Alice","age":30}' }], finishReason: 'stop' }]);
  });

  it('streamed: the response tool input deltas are text deltas; a call without input answers {}', () => {
    const events: [string, Json][] = [
      ['messageStart', { role: 'assistant' }],
      ['contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_9', name: RESPONSE_TOOL } } }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '' } } }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"name":' } } }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '"Alice"}' } } }],
      ['contentBlockStop', { contentBlockIndex: 0 }],
      ['messageStop', { stopReason: 'tool_use' }],
    ];
    const run = stream(events);
    assert.deepEqual(run.events, [['start'], ['text', '{"name":'], ['text', '"Alice"}'], ['finish', 'stop'], ['done']]);
    assert.equal(run.text, '{"name":"Alice"}');
    const empty = stream([events[0], events[1], events[5], events[6]]);
    assert.deepEqual(empty.events, [['start'], ['text', '{}'], ['finish', 'stop'], ['done']]);
  });
});

describe('bedrock converse: answers', () => {
  it('text, reasoning with its signature, redacted reasoning, tool calls with neutral ids', () => {
    const answer = parse({
      output: {
        message: {
          role: 'assistant',
          content: [
            { reasoningContent: { reasoningText: { text: 'The user wants weather.', signature: 'EqQBCkgIARABGAIiQL' } } },
            { reasoningContent: { redactedContent: 'ZW5jcnlwdGVk' } },
            { text: 'Checking.' },
            { toolUse: { toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'get_weather', input: { city: 'Paris' } } },
            { toolUse: { toolUseId: 'functions.get_time:1', name: 'get_time', input: {} } },
          ],
        },
      },
      stopReason: 'tool_use',
      usage: { inputTokens: 30, outputTokens: 20, totalTokens: 50 },
    });
    const [choice] = answer.choices;
    assert.equal(choice.finishReason, 'tool_calls');
    assert.deepEqual(choice.parts.slice(0, 3), [
      { type: 'reasoning', text: 'The user wants weather.', provider: 'bedrock', signature: 'EqQBCkgIARABGAIiQL' },
      { type: 'reasoning', text: '', redacted: 'ZW5jcnlwdGVk', provider: 'bedrock' },
      { type: 'text', text: 'Checking.' },
    ]);
    const calls = choice.parts.slice(3) as Json[];
    assert.deepEqual(calls[0], { type: 'tool_call', id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'get_weather', arguments: '{"city":"Paris"}' });
    assert.equal(calls[1].arguments, '{}');
    assert.match(calls[1].id, TOOL_CALL_ID);
    // Converse counts no reasoning tokens: estimated from the reasoning text
    assert.deepEqual(answer.usage, { prompt_tokens: 30, completion_tokens: 20, total_tokens: 50, completion_tokens_details: { reasoning_tokens: estimateTokens('The user wants weather.') } });
    assert.equal(answer.id, 'chatcmpl-test');
    assert.equal(answer.model, CLAUDE);
  });

  it('usage: prompt tokens include cache reads and writes, reported as cached_tokens and cache_write_tokens', () => {
    assert.deepEqual(converseUsage({ inputTokens: 12, outputTokens: 8, totalTokens: 1520, cacheReadInputTokens: 1000, cacheWriteInputTokens: 500 }), {
      prompt_tokens: 1512,
      completion_tokens: 8,
      total_tokens: 1520,
      prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 500 },
    });
    assert.deepEqual(converseUsage({ inputTokens: 5, outputTokens: 1, cacheReadInputTokens: 0 }), { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6, prompt_tokens_details: { cached_tokens: 0 } });
    assert.equal(converseUsage({ inputTokens: 'x', outputTokens: 1 }), null);
    assert.equal(converseUsage(undefined), null);
    // the reasoning estimate never exceeds the output tokens
    assert.deepEqual(converseUsage({ inputTokens: 1, outputTokens: 2 }, 'a long line of reasoning text, longer than two tokens')?.completion_tokens_details, { reasoning_tokens: 2 });
  });

  it('stop reasons', () => {
    const reason = (stopReason: string) => parse({ output: { message: { content: [{ text: 'x' }] } }, stopReason }).choices[0].finishReason;
    assert.equal(reason('end_turn'), 'stop');
    assert.equal(reason('max_tokens'), 'length');
    assert.equal(reason('guardrail_intervened'), 'content_filter');
    assert.equal(reason('content_filtered'), 'content_filter');
    assert.equal(reason('something_new'), 'stop');
  });

  it('errors are TranslationErrors', () => {
    assert.throws(() => parse({ message: 'The provided model identifier is invalid.' }), (e: unknown) => e instanceof TranslationError && e.message === 'bedrock error: The provided model identifier is invalid.');
    assert.throws(() => parse({ output: {} }), (e: unknown) => e instanceof TranslationError && /^no generation candidates/.test(e.message));
    assert.throws(() => bedrockConverseFormat.parseResponse('<html>', harness().ctx), TranslationError);
  });
});

describe('bedrock converse: streams', () => {
  it('text, reasoning text then its signature, redacted reasoning, usage with cache kinds', () => {
    const run = stream(
      [
        ['messageStart', { role: 'assistant' }],
        ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'Think' } } }],
        ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'ing.' } } }],
        ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig-xyz' } } }],
        ['contentBlockStop', { contentBlockIndex: 0 }],
        ['contentBlockDelta', { contentBlockIndex: 1, delta: { reasoningContent: { redactedContent: 'b3BhcXVl' } } }],
        ['contentBlockStop', { contentBlockIndex: 1 }],
        ['contentBlockDelta', { contentBlockIndex: 2, delta: { text: 'Hello' } }],
        ['contentBlockDelta', { contentBlockIndex: 2, delta: { text: ' world' } }],
        ['contentBlockStop', { contentBlockIndex: 2 }],
        ['messageStop', { stopReason: 'end_turn' }],
        ['metadata', { usage: { inputTokens: 3, outputTokens: 9, totalTokens: 112, cacheReadInputTokens: 100 }, metrics: { latencyMs: 5 } }],
      ],
      { includeUsage: true },
    );
    const usage = { prompt_tokens: 103, completion_tokens: 9, total_tokens: 112, prompt_tokens_details: { cached_tokens: 100 }, completion_tokens_details: { reasoning_tokens: estimateTokens('Thinking.') } };
    assert.deepEqual(run.events, [
      ['start'],
      ['reasoning', 'Think'],
      ['reasoning', 'ing.'],
      ['reasoningState', { type: 'reasoning', text: '', signature: 'sig-xyz', provider: 'bedrock' }],
      ['reasoningState', { type: 'reasoning', text: '', redacted: 'b3BhcXVl', provider: 'bedrock' }],
      ['text', 'Hello'],
      ['text', ' world'],
      ['finish', 'stop'],
      ['usage', usage],
      ['done'],
    ]);
    assert.deepEqual(run.usage, usage);
    assert.equal(run.text, 'Thinking.Hello world');
  });

  it('tool calls: the start with an id and empty arguments, then fragments; a call with no input gets no fragments (the renderer closes it with {})', () => {
    const run = stream([
      ['messageStart', { role: 'assistant' }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Let me check.' } }],
      ['contentBlockStop', { contentBlockIndex: 0 }],
      ['contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_A1', name: 'get_time' } } }],
      ['contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '' } } }],
      ['contentBlockStop', { contentBlockIndex: 1 }],
      ['contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'tooluse_B2', name: 'get_weather' } } }],
      ['contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{"city":' } } }],
      ['contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '"Paris"}' } } }],
      ['contentBlockStop', { contentBlockIndex: 2 }],
      ['messageStop', { stopReason: 'tool_use' }],
      ['metadata', { usage: { inputTokens: 3, outputTokens: 9, totalTokens: 12 } }],
    ]);
    assert.deepEqual(run.events, [
      ['start'],
      ['text', 'Let me check.'],
      ['toolCalls', [{ index: 0, id: 'tooluse_A1', name: 'get_time', arguments: '' }]],
      ['toolCalls', [{ index: 1, id: 'tooluse_B2', name: 'get_weather', arguments: '' }]],
      ['toolCalls', [{ index: 1, arguments: '{"city":' }]],
      ['toolCalls', [{ index: 1, arguments: '"Paris"}' }]],
      ['finish', 'tool_calls'],
      ['done'],
    ]);
    assert.deepEqual(run.usage, { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 });
  });

  it('a tool id that is not neutral is made neutral in the stream as in the answer', () => {
    const id = 'functions.get_time:0';
    const run = stream([
      ['contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: id, name: 'get_time' } } }],
      ['messageStop', { stopReason: 'tool_use' }],
    ]);
    const streamed = (run.events[0][1] as Json[])[0].id;
    const answered = (parse({ output: { message: { content: [{ toolUse: { toolUseId: id, name: 'get_time', input: {} } }] } }, stopReason: 'tool_use' }).choices[0].parts[0] as Json).id;
    assert.match(streamed, TOOL_CALL_ID);
    assert.equal(streamed, answered);
  });

  it('no [DONE] without messageStop; exception events are UpstreamStreamErrors', () => {
    const run = stream([
      ['messageStart', { role: 'assistant' }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } }],
    ]);
    assert.equal(run.done, false);
    assert.deepEqual(run.events, [['start'], ['text', 'Hi']]);
    const h = harness({ stream: true });
    const translator = bedrockConverseFormat.createStreamTranslator(h.ctx);
    assert.throws(
      () => translator.push({ event: 'exception:throttlingException', data: JSON.stringify({ message: 'Too many requests' }) }),
      (e: unknown) => e instanceof UpstreamStreamError && e.message === 'Too many requests' && e.type === 'throttlingException',
    );
    assert.throws(() => translator.push({ event: 'contentBlockDelta', data: '{' }), TranslationError);
  });
});

describe('bedrock converse: metadata, OpenAI fields and native fields', () => {
  it('user and metadata become requestMetadata; values it cannot hold are reported', () => {
    const h = harness();
    const body = build(request([user('x')], { user: 'user-42@example.com', metadata: { team: 'search', bad: 'a\u0000b' } }), h);
    assert.deepEqual(body.requestMetadata, { user: 'user-42@example.com', team: 'search' });
    assert.deepEqual(h.unsupported, ['metadata.bad']);
  });

  it('service_tier maps; other OpenAI fields are reported', () => {
    const h = harness();
    const body = build(request([user('x')], { openai: { service_tier: 'flex', store: false, modalities: ['text'], prediction: { type: 'content', content: 'x' }, verbosity: 'low' } }), h);
    assert.deepEqual(body.serviceTier, { type: 'flex' });
    assert.deepEqual(h.unsupported, ['prediction', 'verbosity']);
  });

  it("Converse's own fields are sent whatever the policy; additionalModelRequestFields and requestMetadata are merged; others follow the policy", () => {
    const passthrough = { guardrailConfig: { guardrailIdentifier: 'g1', guardrailVersion: '1' }, additionalModelRequestFields: { anthropic_beta: ['x'] }, requestMetadata: { app: 'a' }, min_p: 0.1 };
    const h = harness();
    const body = providerBody(getDriver('bedrock'), request([user('x')], { passthrough, user: 'u1', reasoning: { effort: 'low' }, sampling: { maxTokens: 4000 } }), h.ctx) as Json;
    assert.deepEqual(body.guardrailConfig, passthrough.guardrailConfig);
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 1024 }, anthropic_beta: ['x'] });
    assert.deepEqual(body.requestMetadata, { user: 'u1', app: 'a' });
    assert.equal(body.min_p, undefined);
    assert.deepEqual(h.unsupported, ['min_p']);
    // without anything of the gateway's, the client's own go as they are
    const plain = providerBody(getDriver('bedrock'), request([user('x')], { passthrough }), harness({ policy: 'pass' }).ctx) as Json;
    assert.deepEqual(plain.additionalModelRequestFields, { anthropic_beta: ['x'] });
    assert.deepEqual(plain.requestMetadata, { app: 'a' });
    assert.equal(plain.min_p, 0.1);
    assert.throws(() => providerBody(getDriver('bedrock'), request([user('x')], { passthrough }), harness({ policy: 'error' }).ctx), (e: unknown) => e instanceof RequestError && /^min_p/.test(e.message));
  });
});
