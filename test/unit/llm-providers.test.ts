/**
 * The drivers added for issue 10: Gemini (AI Studio, Vertex AI), Bedrock (Converse), Hugging Face
 * and the OpenAI-compatible family. Endpoints (and T72: nothing interpolated can change the host),
 * request and answer mapping, streams. Kong's fixtures are in test/conformance; the strict mocks in
 * llm-mock-roundtrip.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { RequestError, TranslationError, UpstreamStreamError, type LlmRouteType, type ProviderName } from '../../src/llm/types.ts';
import { encodeEventStreamMessage } from '../../src/llm/stream/aws-eventstream.ts';
import { assembledText, buildFor, buildWithContext, clientFrames, context, parseFor, runStream, type ContextInit } from '../conformance/support.ts';

type Json = Record<string, any>;
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';

const build = buildFor;
const parse = parseFor;

function url(provider: ProviderName, init: Partial<ContextInit> = {}): string {
  return getDriver(provider).endpoint(context({ provider, ...init })).url;
}

const requestError = (pattern: RegExp) => (e: unknown) => e instanceof RequestError && pattern.test(e.message);
const translationError = (pattern: RegExp) => (e: unknown) => e instanceof TranslationError && pattern.test(e.message);
const hi = { messages: [{ role: 'user', content: 'hi' }] };
const sse = (...events: unknown[]) => new TextEncoder().encode(events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join(''));

// ---------------------------------------------------------------------------------------------

describe('gemini', () => {
  const vertex = { gemini: { api_endpoint: 'us-central1-aiplatform.googleapis.com', project_id: 'my-project', location_id: 'us-central1' } };

  it('sends to Google AI Studio, or to Vertex AI when its three options are set', () => {
    assert.equal(url('gemini', { model: 'gemini-2.5-flash' }), 'https://generativelanguage.googleapis.com:443/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(url('gemini', { model: 'models/gemini-2.5-flash', stream: true }), 'https://generativelanguage.googleapis.com:443/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    assert.equal(
      url('gemini', { model: 'gemini-2.5-pro', options: vertex }),
      'https://us-central1-aiplatform.googleapis.com:443/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent',
    );
    assert.equal(url('gemini', { model: 'g', stream: true, options: vertex }), 'https://us-central1-aiplatform.googleapis.com:443/v1/projects/my-project/locations/us-central1/publishers/google/models/g:streamGenerateContent?alt=sse');
    // Two of three is AI Studio (the schema requires all or none).
    assert.match(url('gemini', { model: 'g', options: { gemini: { api_endpoint: 'x.googleapis.com', project_id: 'p' } } }), /^https:\/\/generativelanguage/);
  });

  it('keeps upstream_url, switching the operation to match the request', () => {
    const upstream_url = 'http://mock:9/v1beta/models/gemini-pro:generateContent?key=ignored';
    assert.equal(url('gemini', { options: { upstream_url } }), 'http://mock:9/v1beta/models/gemini-pro:generateContent');
    assert.equal(url('gemini', { stream: true, options: { upstream_url } }), 'http://mock:9/v1beta/models/gemini-pro:streamGenerateContent?alt=sse');
    assert.equal(url('gemini', { options: { upstream_url: 'http://mock:9/v1/chat/completions' } }), 'http://mock:9/v1/chat/completions');
    assert.equal(url('gemini', { model: 'g', options: { upstream_path: '/v1/models/g:streamGenerateContent' } }), 'https://generativelanguage.googleapis.com:443/v1/models/g:generateContent');
  });

  it('never lets the API endpoint, project, location or model change where the request goes (T72)', () => {
    for (const api_endpoint of ['evil.com/x', 'a@evil.com', 'https://x.googleapis.com', 'x.com:8080', 'x\r\nHost: y', 'x..y']) {
      assert.throws(() => url('gemini', { options: { gemini: { ...vertex.gemini, api_endpoint } } }), requestError(/gemini\.api_endpoint/), api_endpoint);
    }
    for (const project_id of ['../x', 'a/b', 'a?b', 'a#b', '..']) assert.throws(() => url('gemini', { options: { gemini: { ...vertex.gemini, project_id } } }), requestError(/gemini\.project_id/), project_id);
    for (const location_id of ['a/b', '%2e%2e', 'a b']) assert.throws(() => url('gemini', { options: { gemini: { ...vertex.gemini, location_id } } }), requestError(/gemini\.location_id/), location_id);
    for (const model of ['..', '.', 'a\nb']) assert.throws(() => url('gemini', { model }), requestError(/model/), model);
    for (const model of ['../../v1/evil', 'x?key=1', 'x#y', 'a/b:streamGenerateContent']) {
      const u = new URL(url('gemini', { model }));
      assert.equal(u.host, 'generativelanguage.googleapis.com');
      assert.equal(u.search, '');
      assert.match(u.pathname, /^\/v1beta\/models\/[^/]+:generateContent$/, model);
    }
  });

  it('maps system messages, turns, images, sampling options (configured ones win) and JSON mode', () => {
    const body = build(
      'gemini',
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: 'Use French.' },
          { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }, { type: 'image_url', image_url: { url: 'https://x/cat.webp?size=2' } }] },
          { role: 'assistant', content: 'A cat.' },
          { role: 'user', content: 'Sure?' },
        ],
        temperature: 0.2,
        top_p: 0.5,
        max_tokens: 10,
        stop: ['END'],
        seed: 7,
        n: 2,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', additionalProperties: false } } },
        safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
      },
      { options: { temperature: 1.5, top_k: 0, max_tokens: 100 } },
    );
    assert.deepEqual(body.systemInstruction, { parts: [{ text: 'Be brief.' }, { text: 'Use French.' }] });
    assert.deepEqual(body.contents.map((c: Json) => c.role), ['user', 'model', 'user']);
    assert.deepEqual(body.contents[0].parts, [
      { text: 'What is this?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://x/cat.webp?size=2' } },
    ]);
    assert.deepEqual(body.generationConfig, {
      maxOutputTokens: 100,
      temperature: 1.5,
      topP: 0.5,
      stopSequences: ['END'],
      seed: 7,
      candidateCount: 2,
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object', additionalProperties: false },
    });
    assert.equal('topK' in body.generationConfig, false, 'top_k 0 means unset');
    assert.deepEqual(body.safetySettings, [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }]);
    assert.equal('model' in body, false, 'the model is in the URL');
    assert.equal(build('gemini', hi, { options: { temperature: 5 } }).generationConfig.temperature, 2, "clamped to Gemini's 0..2");
    assert.deepEqual(build('gemini', { prompt: 'Say hi' }, { routeType: COMPLETIONS }).contents, [{ role: 'user', parts: [{ text: 'Say hi' }] }]);
  });

  it('maps tools, tool calls (thought signatures restored from reasoning_details) and their results', () => {
    const body = build('gemini', {
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          // the signature travels in OpenRouter's reasoning_details shape, never inside the id (issue 17)
          reasoning_details: [{ type: 'reasoning.text', text: '', signature: 'c2lnMQ==', id: 'call_1', format: 'google-gemini-v1', index: 0 }],
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
        { role: 'tool', tool_call_id: 'call_2', content: 'sunny' },
      ],
      tools: [
        { type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
        { type: 'function', function: { name: 'strict', parameters: { type: 'object', properties: { a: { type: 'string', const: 'x' } }, additionalProperties: false } } },
        { type: 'function', function: { name: 'noargs', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    assert.deepEqual(body.contents[1], {
      role: 'model',
      parts: [
        { functionCall: { id: 'call_1', name: 'weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnMQ==' },
        { functionCall: { id: 'call_2', name: 'weather', args: { city: 'Rome' } } },
      ],
    });
    assert.deepEqual(body.contents[2], {
      role: 'user',
      parts: [{ functionResponse: { id: 'call_1', name: 'weather', response: { temp: 21 } } }, { functionResponse: { id: 'call_2', name: 'weather', response: { content: 'sunny' } } }],
    });
    const [weather, strict, noargs] = body.tools[0].functionDeclarations;
    assert.deepEqual(weather, { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } });
    assert.ok(strict.parametersJsonSchema && !strict.parameters, 'schemas beyond the OpenAPI subset go in parametersJsonSchema');
    assert.deepEqual(noargs, { name: 'noargs' });
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } });
    assert.deepEqual(build('gemini', { ...hi, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' }).toolConfig, { functionCallingConfig: { mode: 'NONE' } });
  });

  it('refuses what it cannot express', () => {
    assert.throws(() => build('gemini', { messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }), requestError(/tool_call_id: no earlier assistant tool call/));
    assert.throws(() => build('gemini', { ...hi, stop: ['a', 'b', 'c', 'd', 'e', 'f'] }), requestError(/more than 5 stop sequences/));
    assert.throws(() => build('gemini', { messages: [{ role: 'system', content: 'only a system prompt' }] }), requestError(/at least one user or assistant message/));
    assert.throws(() => build('gemini', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }] }), requestError(/image_url\.url/));
    assert.throws(() => build('gemini', { ...hi, tools: [{ type: 'code_interpreter' }] }), requestError(/^tools\[0\]: the built-in tool 'code_interpreter' is not supported by the gemini provider$/));
    assert.throws(() => build('gemini', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] }), requestError(/arguments: expected a JSON object/));
  });

  it('answers with tool calls (neutral ids, the signature in reasoning_details), finish reasons, thoughts as reasoning_content and usage with thinking tokens', () => {
    const answer = parse('gemini', {
      candidates: [
        {
          content: { role: 'model', parts: [{ text: 'thinking...', thought: true }, { functionCall: { name: 'weather', args: { city: 'Zürich' } }, thoughtSignature: 'abc=' }] },
          finishReason: 'STOP',
        },
      ],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 20, totalTokenCount: 35 },
      modelVersion: 'gemini-2.5-pro',
      responseId: 'resp-1',
    });
    assert.equal(answer.id, 'resp-1');
    assert.equal(answer.model, 'gemini-2.5-pro');
    assert.deepEqual(answer.choices[0].message, {
      role: 'assistant',
      content: null,
      reasoning_content: 'thinking...',
      reasoning_details: [{ type: 'reasoning.text', text: '', signature: 'abc=', id: 'call_resp-1_0', format: 'google-gemini-v1', index: 0 }],
      tool_calls: [{ id: 'call_resp-1_0', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }],
    });
    assert.equal(answer.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(answer.usage, { prompt_tokens: 10, completion_tokens: 25, total_tokens: 35, completion_tokens_details: { reasoning_tokens: 20 } });
    const reason = (finishReason: string) => parse('gemini', { candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason }] }).choices[0].finish_reason;
    assert.deepEqual(['STOP', 'MAX_TOKENS', 'SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'OTHER', 'SOMETHING_NEW'].map(reason), ['stop', 'length', 'content_filter', 'content_filter', 'content_filter', 'stop', 'stop']);
    const blocked = parse('gemini', { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 } });
    assert.deepEqual(blocked.choices[0], { index: 0, message: { role: 'assistant', content: '' }, logprobs: null, finish_reason: 'content_filter' });
    const two = parse('gemini', { candidates: [{ content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' }, { content: { parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS' }] });
    assert.deepEqual(two.choices.map((c: Json) => [c.index, c.message.content, c.finish_reason]), [[0, 'a', 'stop'], [1, 'b', 'length']]);
    assert.equal(parse('gemini', { candidates: [{ content: { parts: [{ text: 'x' }] } }] }, { routeType: COMPLETIONS }).object, 'text_completion');
  });

  it('reads a JSON-array stream answer whole, and refuses what is not an answer', () => {
    const merged = parse('gemini', [
      { candidates: [{ content: { parts: [{ text: 'Hel' }] } }], usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } },
      { candidates: [{ content: { parts: [{ text: 'lo' }] }, finishReason: 'MAX_TOKENS' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 } },
    ]);
    assert.equal(merged.choices[0].message.content, 'Hello');
    assert.equal(merged.choices[0].finish_reason, 'length');
    assert.deepEqual(merged.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    assert.throws(() => parse('gemini', { candidates: [] }), translationError(/^no generation candidates received from Gemini/));
    assert.throws(() => parse('gemini', { error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' } }), translationError(/^gemini error: bad$/));
    assert.throws(() => parse('gemini', '<html>'), translationError(/^failed to decode gemini response$/));
  });

  it('streams: text, tool calls, one finish at the end, errors', () => {
    const ctx = context({ provider: 'gemini', stream: true, includeUsage: true });
    const run = runStream(ctx, sse(
      { candidates: [{ content: { parts: [{ text: 'Bon' }], role: 'model' } }], modelVersion: 'gemini-2.0-flash', responseId: 'r1' },
      { candidates: [{ content: { parts: [{ text: 'jour' }], role: 'model' }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 2, totalTokenCount: 4 } },
    ));
    const frames = clientFrames(run.output) as Json[];
    assert.equal(assembledText(frames), 'Bonjour');
    assert.equal(frames[0].id, 'r1');
    assert.deepEqual(frames.filter((f) => f.choices?.[0]?.finish_reason).map((f) => f.choices[0].finish_reason), ['stop']);
    assert.deepEqual(frames.at(-2)!.usage, { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 });
    assert.equal(frames.at(-1), '[DONE]');
    // A stream that never says why it stopped is truncated: no [DONE].
    assert.equal(runStream(ctx, sse({ candidates: [{ content: { parts: [{ text: 'Bon' }] } }] })).done, false);
    const error = () => runStream(ctx, sse({ candidates: [{ content: { parts: [{ text: 'x' }] } }] }, { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }));
    assert.throws(error, (e: unknown) => e instanceof UpstreamStreamError && e.type === 'UNAVAILABLE' && e.message === 'The model is overloaded.');
  });
});

// ---------------------------------------------------------------------------------------------

describe('bedrock', () => {
  const region = { bedrock: { aws_region: 'eu-west-3' } };

  it('builds the Converse URL from the region and the encoded model id', () => {
    assert.equal(url('bedrock', { model: 'anthropic.claude-3-haiku-20240307-v1:0', options: region }), 'https://bedrock-runtime.eu-west-3.amazonaws.com:443/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    assert.equal(url('bedrock', { model: 'amazon.nova-lite-v1:0', stream: true, options: region }), 'https://bedrock-runtime.eu-west-3.amazonaws.com:443/model/amazon.nova-lite-v1%3A0/converse-stream');
    const arn = 'arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-3-5-sonnet-20240620-v1:0';
    assert.equal(new URL(url('bedrock', { model: arn, options: region })).pathname, `/model/${encodeURIComponent(arn)}/converse`);
    assert.equal(url('bedrock', { stream: true, options: { upstream_url: 'https://vpce-1.bedrock-runtime.eu-west-3.vpce.amazonaws.com/model/m/converse' } }), 'https://vpce-1.bedrock-runtime.eu-west-3.vpce.amazonaws.com/model/m/converse-stream');
  });

  it('needs a region, and neither it nor the model can change the host (T72)', () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      assert.throws(() => url('bedrock', { model: 'm' }), requestError(/bedrock\.aws_region: required/));
      process.env.AWS_DEFAULT_REGION = 'ap-south-1';
      assert.match(url('bedrock', { model: 'm' }), /^https:\/\/bedrock-runtime\.ap-south-1\.amazonaws\.com:443\//);
    } finally {
      Object.assign(process.env, saved);
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    }
    for (const aws_region of ['evil.com/', 'us-east-1.evil.com', 'a@b', 'x y']) assert.throws(() => url('bedrock', { model: 'm', options: { bedrock: { aws_region } } }), requestError(/aws_region/), aws_region);
    for (const model of ['../../x', 'a/b', 'x?y', 'x#y']) {
      const u = new URL(url('bedrock', { model, options: region }));
      assert.equal(u.host, 'bedrock-runtime.eu-west-3.amazonaws.com');
      assert.equal(u.search, '');
      assert.match(u.pathname, /^\/model\/[^/]+\/converse$/, model);
    }
  });

  it('maps system messages, alternating turns, images, tools and sampling options', () => {
    const body = build(
      'bedrock',
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } }] },
          { role: 'user', content: 'And weather?' },
          { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'tu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Lyon"}' } }] },
          { role: 'tool', tool_call_id: 'tu_1', content: '{"temp":19}' },
          { role: 'tool', tool_call_id: 'tu_2', content: 'not json' },
        ],
        tools: [{ type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }, { type: 'function', function: { name: 'noargs' } }],
        tool_choice: 'required',
        temperature: 1.7,
        stop: 'END',
        guardrailConfig: { guardrailIdentifier: 'g', guardrailVersion: '1' },
      },
      { options: { max_tokens: 64, top_p: 0.9 } },
    );
    assert.deepEqual(body.system, [{ text: 'Be brief.' }]);
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ text: 'Look:' }, { image: { format: 'jpeg', source: { bytes: '/9j/4AAQ' } } }, { text: 'And weather?' }] },
      { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 'tu_1', name: 'weather', input: { city: 'Lyon' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tu_1', content: [{ json: { temp: 19 } }] } }, { toolResult: { toolUseId: 'tu_2', content: [{ text: 'not json' }] } }] },
    ]);
    assert.deepEqual(body.inferenceConfig, { maxTokens: 64, temperature: 1, topP: 0.9, stopSequences: ['END'] });
    assert.deepEqual(body.toolConfig, {
      tools: [
        { toolSpec: { name: 'weather', description: 'Weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } },
        { toolSpec: { name: 'noargs', inputSchema: { json: { type: 'object', properties: {} } } } },
      ],
      toolChoice: { any: {} },
    });
    assert.deepEqual(body.guardrailConfig, { guardrailIdentifier: 'g', guardrailVersion: '1' });
    assert.deepEqual(build('bedrock', { prompt: 'Hi' }, { routeType: COMPLETIONS }).messages, [{ role: 'user', content: [{ text: 'Hi' }] }]);
  });

  it('refuses what Converse cannot take', () => {
    assert.throws(() => build('bedrock', { ...hi, n: 2 }), requestError(/^n:/));
    assert.throws(() => build('bedrock', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/cat.png' } }] }] }), requestError(/base64 data URLs/));
    const toolTurns = { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'a', content: 'y' }] };
    assert.throws(() => build('bedrock', toolTurns), requestError(/needs the tool definitions/));
    // a legacy function result must answer an earlier function_call (the inbound adapter maps both to a tool call and its result)
    assert.throws(() => build('bedrock', { messages: [{ role: 'function', name: 'f', content: 'x' }] }), requestError(/^messages\[0\]\.name: no earlier assistant function_call/));
  });

  it('answers text, tool uses, stop reasons and usage with cache tokens', () => {
    const answer = parse('bedrock', {
      output: { message: { role: 'assistant', content: [{ reasoningContent: { reasoningText: { text: 'hmm' } } }, { text: 'Let me check.' }, { toolUse: { toolUseId: 'tu_9', name: 'weather', input: { city: 'Nice' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 8, totalTokens: 48, cacheReadInputTokens: 30 },
      metrics: { latencyMs: 100 },
    });
    assert.deepEqual(answer.choices[0].message, { role: 'assistant', content: 'Let me check.', reasoning_content: 'hmm', tool_calls: [{ id: 'tu_9', type: 'function', function: { name: 'weather', arguments: '{"city":"Nice"}' } }] });
    assert.equal(answer.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(answer.usage, { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48, prompt_tokens_details: { cached_tokens: 30 }, completion_tokens_details: { reasoning_tokens: 2 } });
    assert.equal(answer.model, 'test-model');
    const reason = (stopReason: string) => parse('bedrock', { output: { message: { content: [{ text: 'x' }] } }, stopReason }).choices[0].finish_reason;
    assert.deepEqual(['end_turn', 'stop_sequence', 'max_tokens', 'guardrail_intervened', 'content_filtered', 'new_reason'].map(reason), ['stop', 'stop', 'length', 'content_filter', 'content_filter', 'stop']);
    assert.throws(() => parse('bedrock', { message: 'The provided model identifier is invalid.' }), translationError(/^bedrock error: The provided model identifier is invalid\.$/));
    assert.throws(() => parse('bedrock', { output: {} }), translationError(/^no generation candidates received from Bedrock/));
  });

  it('streams: an exception event is an UpstreamStreamError; a stream without messageStop is truncated', () => {
    const ev = (type: string, payload: unknown) => encodeEventStreamMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(payload));
    const exception = encodeEventStreamMessage({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, '{"message":"Too many requests, please wait before trying again."}');
    const bytes = (...frames: Uint8Array[]) => new Uint8Array(Buffer.concat(frames));
    const ctx = context({ provider: 'bedrock', stream: true });
    const start = ev('messageStart', { role: 'assistant' });
    const text = ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } });
    assert.throws(() => runStream(ctx, bytes(start, text, exception)), (e: unknown) => e instanceof UpstreamStreamError && e.type === 'throttlingException' && /Too many requests/.test(e.message));
    const cut = runStream(ctx, bytes(start, text));
    assert.equal(cut.done, false);
    assert.doesNotMatch(cut.output, /\[DONE\]/);
    const done = runStream(ctx, bytes(start, text, ev('messageStop', { stopReason: 'end_turn' })));
    assert.equal(done.done, true);
    assert.equal(done.usage, null, 'no metadata: the plugin estimates');
  });
});

// ---------------------------------------------------------------------------------------------

describe('huggingface', () => {
  it('uses the router by default and an endpoint base at upstream_url (Kong)', () => {
    assert.equal(url('huggingface', { model: 'meta-llama/Llama-3.1-8B-Instruct' }), 'https://router.huggingface.co:443/v1/chat/completions');
    assert.equal(url('huggingface', { model: 'mistralai/Mistral-7B-v0.1', routeType: COMPLETIONS }), 'https://router.huggingface.co:443/hf-inference/models/mistralai/Mistral-7B-v0.1');
    assert.equal(url('huggingface', { options: { upstream_url: 'https://xyz.endpoints.huggingface.cloud/' } }), 'https://xyz.endpoints.huggingface.cloud/v1/chat/completions');
    assert.equal(url('huggingface', { options: { upstream_url: 'http://tgi:8080/v1/chat/completions' } }), 'http://tgi:8080/v1/chat/completions');
    assert.equal(url('huggingface', { routeType: COMPLETIONS, options: { upstream_url: 'http://tgi:8080/generate' } }), 'http://tgi:8080/generate');
    for (const model of ['a/b/c', '../x', 'a/..', 'x\ny']) assert.throws(() => url('huggingface', { model, routeType: COMPLETIONS }), requestError(/model/), model);
    assert.equal(new URL(url('huggingface', { model: 'a?b/c#d', routeType: COMPLETIONS })).pathname, '/hf-inference/models/a%3Fb/c%23d');
  });

  it("sends use_cache and wait_for_model as headers, and as the task's options", () => {
    const huggingface = { use_cache: false, wait_for_model: true };
    assert.deepEqual(getDriver('huggingface').endpoint(context({ provider: 'huggingface', options: { huggingface } })).headers, { 'x-use-cache': 'false', 'x-wait-for-model': 'true' });
    assert.deepEqual(getDriver('huggingface').endpoint(context({ provider: 'huggingface' })).headers, {});
    const body = build('huggingface', { prompt: 'Once upon', max_tokens: 5, temperature: 0.7, top_p: 1 }, { routeType: COMPLETIONS, options: { huggingface } });
    assert.deepEqual(body, { inputs: 'Once upon', parameters: { max_new_tokens: 5, temperature: 0.7, return_full_text: false, details: true }, stream: false, options: huggingface });
    // top_k is not a field of TGI's Messages API: refused by default, a named drop under `drop`
    assert.throws(() => build('huggingface', { ...hi, top_k: 3 }, { model: 'm' }), requestError(/^top_k: not supported by the huggingface provider$/));
    const { body: chat, ctx } = buildWithContext('huggingface', { ...hi, top_k: 3, max_tokens: 9 }, { model: 'm', options: { huggingface }, policy: 'drop' });
    assert.deepEqual(chat, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 9, model: 'm', stream: false });
    assert.deepEqual(ctx.dropped, ['top_k']);
  });

  it("normalizes TGI's answers (finish reason eos_token, an empty id) and reads the task's", () => {
    const answer = parse('huggingface', { object: 'chat.completion', id: '', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'eos_token' }], usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } });
    assert.equal(answer.id, 'chatcmpl-gateway');
    assert.equal(answer.choices[0].finish_reason, 'stop');
    const tools = parse('huggingface', { id: 'x', choices: [{ message: { role: 'assistant', tool_calls: [{ id: '0', type: 'function', function: { name: 'f', arguments: { a: 1 } } }] }, finish_reason: 'stop' }] });
    assert.deepEqual(tools.choices[0].message.tool_calls, [{ id: '0', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }]);
    assert.equal(tools.choices[0].finish_reason, 'tool_calls');
    const text = parse('huggingface', [{ generated_text: 'once upon a time', details: { finish_reason: 'length', generated_tokens: 4 } }], { routeType: COMPLETIONS });
    assert.deepEqual([text.object, text.choices[0].text, text.choices[0].finish_reason], ['text_completion', 'once upon a time', 'length']);
    assert.throws(() => parse('huggingface', { error: 'Model x is currently loading', estimated_time: 20 }, { routeType: COMPLETIONS }), translationError(/^huggingface endpoint error: Model x is currently loading$/));
  });
});

// ---------------------------------------------------------------------------------------------

describe('the OpenAI-compatible family', () => {
  const table: [ProviderName, string, string][] = [
    ['groq', 'https://api.groq.com:443/openai/v1/chat/completions', 'https://api.groq.com:443/openai/v1/chat/completions'],
    ['together', 'https://api.together.xyz:443/v1/chat/completions', 'https://api.together.xyz:443/v1/completions'],
    ['deepseek', 'https://api.deepseek.com:443/chat/completions', 'https://api.deepseek.com:443/beta/completions'],
    ['fireworks', 'https://api.fireworks.ai:443/inference/v1/chat/completions', 'https://api.fireworks.ai:443/inference/v1/completions'],
    ['openrouter', 'https://openrouter.ai:443/api/v1/chat/completions', 'https://openrouter.ai:443/api/v1/completions'],
  ];

  it('has each provider at its base URL (Groq bridges completions through chat)', () => {
    for (const [provider, chat, completions] of table) {
      assert.equal(url(provider), chat, provider);
      assert.equal(url(provider, { routeType: COMPLETIONS }), completions, provider);
    }
  });

  it('treats an upstream_url ending in a version as a base; self-hosted servers need one', () => {
    for (const provider of ['vllm', 'lmstudio', 'llamacpp'] as const) {
      assert.throws(() => url(provider), requestError(/upstream_url: required/), provider);
      assert.equal(url(provider, { options: { upstream_url: 'http://gpu:8000' } }), 'http://gpu:8000/v1/chat/completions');
      assert.equal(url(provider, { options: { upstream_url: 'http://gpu:8000/v1/' } }), 'http://gpu:8000/v1/chat/completions');
      assert.equal(url(provider, { routeType: COMPLETIONS, options: { upstream_url: 'http://gpu:8000/v1' } }), 'http://gpu:8000/v1/completions');
      assert.equal(url(provider, { options: { upstream_url: 'http://gpu:8000/custom/chat' } }), 'http://gpu:8000/custom/chat');
    }
    assert.equal(url('groq', { options: { upstream_url: 'http://proxy/openai/v1' } }), 'http://proxy/openai/v1/chat/completions');
    assert.equal(url('together', { options: { upstream_path: '/v2/chat' } }), 'https://api.together.xyz:443/v2/chat');
  });

  it("leaves out what each provider refuses and maps what it names differently", () => {
    const client = { messages: [{ role: 'user', content: 'hi', name: 'bob' }], logprobs: true, top_logprobs: 2, logit_bias: { 1: 2 }, n: 1, top_k: 5, max_completion_tokens: 30, models: ['other'], api_base: 'http://evil' };
    // by default (unsupported_params: error) the first field the provider cannot take is a 400 naming it and the provider
    assert.throws(() => build('groq', client), requestError(/^models: not supported by the groq provider$/));
    assert.throws(() => build('groq', { ...hi, logprobs: true }), requestError(/^logprobs: not supported by the groq provider$/));
    const { body: groq, ctx } = buildWithContext('groq', client, { stream: true, policy: 'drop' });
    assert.deepEqual(groq.messages, [{ role: 'user', content: 'hi' }]);
    for (const field of ['logprobs', 'top_logprobs', 'logit_bias', 'n', 'top_k', 'models', 'api_base']) assert.equal(field in groq, false, field);
    assert.deepEqual([...ctx.dropped].sort(), ['api_base', 'logit_bias', 'logprobs', 'messages[0].name', 'models', 'top_k', 'top_logprobs']);
    assert.deepEqual(groq.stream_options, { include_usage: true });
    assert.throws(() => build('groq', { ...hi, n: 2 }), requestError(/^n: the groq provider returns one choice/));
    const deepseek = build('deepseek', client, { options: { max_tokens: 10 }, policy: 'drop' });
    assert.equal(deepseek.max_tokens, 10);
    assert.equal('max_completion_tokens' in deepseek, false, 'DeepSeek only knows max_tokens');
    assert.equal(build('deepseek', { ...hi, max_completion_tokens: 30 }).max_tokens, 30);
    assert.equal(build('together', client, { policy: 'drop' }).top_k, 5, 'Together takes top_k');
    assert.equal(build('together', client, { stream: true, policy: 'drop' }).stream_options, undefined, 'Together reports streamed usage by itself');
    assert.equal('models' in build('openrouter', { ...client, provider: { order: ['x'] } }, { policy: 'drop' }), false, 'a client never picks other models');
    assert.deepEqual(build('openrouter', { ...hi, provider: { order: ['x'] } }).provider, { order: ['x'] });
    assert.equal(build('vllm', { ...hi, guided_json: { type: 'object' } }, { options: { upstream_url: 'http://v/v1' } }).guided_json.type, 'object');
    // A message's reasoning_content (DeepSeek answers carry it) is not sent back: deepseek-reasoner answers 400 to it.
    assert.deepEqual(build('deepseek', { messages: [{ role: 'assistant', content: 'a', reasoning_content: 'r' }, { role: 'user', content: 'b' }] }).messages[0], { role: 'assistant', content: 'a' });
  });

  it("passes DeepSeek's reasoning_content to the client unchanged", () => {
    const body = JSON.stringify({ id: 'x', object: 'chat.completion', model: 'deepseek-reasoner', choices: [{ index: 0, message: { role: 'assistant', content: '2', reasoning_content: 'because' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
    assert.equal(getDriver('deepseek').parseResponse(body, context({ provider: 'deepseek' })).body, body);
  });
});
