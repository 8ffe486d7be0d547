/**
 * Kong's integration fixtures (specs 02-07, 10) that are pure translation: a client request file
 * through validation and the request transform, an upstream answer file through the response
 * transform. Configs follow the specs (`upstream_url` at a mock; the model names they use).
 *
 * Answers Kong's mock returns with a non-200 status (unauthorized.json, bad_request.json, the HTML
 * 500) are passed through by the plugin and never reach a driver; here they check that, had one
 * come with a 200, the driver answers with a TranslationError and never crashes.
 */
import assert from 'node:assert/strict';
import type { LlmRouteType, ModelOptions, ProviderName, TranslatedResponse } from '../../src/llm/types.ts';

type Json = Record<string, any>;

export interface RequestCase {
  file: string;
  provider: ProviderName;
  route: LlmRouteType;
  model?: string;
  options?: Partial<ModelOptions>;
  stream?: boolean;
  /** Either the validation/transform error, or checks on the upstream body. */
  error?: string;
  check?(body: Json, request: Json): void;
}

export interface ResponseCase {
  file: string;
  provider: ProviderName;
  route: LlmRouteType;
  model?: string;
  options?: Partial<ModelOptions>;
  error?: string;
  check?(answer: Json, translated: TranslatedResponse, raw: string): void;
}

const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';
const MOCK = 'http://127.0.0.1:9999';

const openaiOptions = { max_tokens: 256, temperature: 1.0 };
const anthropicOptions = { max_tokens: 256, temperature: 1.0, anthropic_version: '2023-06-01' };
const cohereOptions = { max_tokens: 256, temperature: 1.0 };
const mistralOpenAI = { max_tokens: 256, temperature: 1.0, mistral_format: 'openai' as const, upstream_url: `${MOCK}/v1/chat/completions` };
const llama2Raw = { max_tokens: 256, temperature: 1.0, llama2_format: 'raw' as const, upstream_url: `${MOCK}/raw/llm/v1/chat` };
const llama2OpenAI = { llama2_format: 'openai' as const, upstream_url: `${MOCK}/v1/chat/completions` };

const NOT_RECOGNISED = 'request format not recognised';

const sameMessages = (body: Json, request: Json) => assert.deepEqual(body.messages, request.messages);
const unchanged = (_answer: Json, translated: TranslatedResponse, raw: string) => assert.equal(translated.body, raw);

const huggingfaceOptions = {
  max_tokens: 256,
  temperature: 1.0,
  huggingface: { use_cache: false, wait_for_model: true },
  upstream_url: MOCK,
};
const HF_MODEL = 'mistralai/Mistral-7B-Instruct-v0.2';
const geminiOptions = { max_tokens: 256, temperature: 1.0, upstream_url: `${MOCK}/v1/chat/completions`, input_cost: 15.0, output_cost: 15.0 };

export const REQUEST_CASES: RequestCase[] = [
  // openai (02) and azure (05)
  {
    file: 'openai/llm-v1-chat/requests/good.json',
    provider: 'openai',
    route: CHAT,
    model: 'gpt-3.5-turbo',
    options: openaiOptions,
    check: (body, request) => {
      sameMessages(body, request);
      assert.equal(body.model, 'gpt-3.5-turbo');
      assert.equal(body.stream, false);
      assert.equal(body.max_tokens, 256);
      assert.equal(body.temperature, 1);
      assert.equal('stream_options' in body, false);
    },
  },
  {
    file: 'openai/llm-v1-chat/requests/good.json',
    provider: 'azure',
    route: CHAT,
    model: 'gpt-3.5-turbo',
    options: { ...openaiOptions, azure_instance: 'ai-proxy-regression', azure_deployment_id: 'kong-gpt-3-5', azure_api_version: '2023-05-15' },
    check: (body, request) => {
      sameMessages(body, request);
      assert.equal(body.model, 'gpt-3.5-turbo');
    },
  },
  {
    // The plugin answers 400 "cannot use own model": validation keeps `model` for it to judge.
    file: 'openai/llm-v1-chat/requests/good_own_model.json',
    provider: 'openai',
    route: CHAT,
    model: 'gpt-3.5-turbo',
    check: (body, request) => {
      assert.equal(request.model, 'try-to-override-the-model');
      assert.equal(body.model, 'gpt-3.5-turbo');
    },
  },
  { file: 'openai/llm-v1-chat/requests/bad_request.json', provider: 'openai', route: CHAT, error: NOT_RECOGNISED },
  {
    file: 'openai/llm-v1-chat/requests/good-stream.json',
    provider: 'openai',
    route: CHAT,
    stream: true,
    check: (body) => {
      assert.equal(body.stream, true);
      assert.deepEqual(body.stream_options, { include_usage: true });
    },
  },
  {
    file: 'openai/llm-v1-chat/requests/good-stream-with-functions.json',
    provider: 'openai',
    route: CHAT,
    options: openaiOptions,
    stream: true,
    check: (body, request) => {
      assert.deepEqual(body.tools, request.tools);
      assert.equal(body.n, 1);
      assert.equal(body.temperature, 1, 'the configured temperature wins (Kong 3.8+)');
    },
  },
  {
    file: 'openai/llm-v1-chat/requests/good-stream-with-functions.json',
    provider: 'anthropic',
    route: CHAT,
    stream: true,
    check: (body) => {
      assert.deepEqual(body.tools.map((t: Json) => t.name), ['add', 'multiply']);
      assert.deepEqual(body.tools[0].input_schema.required, ['a', 'b']);
      assert.equal(body.temperature, 0.7);
    },
  },
  {
    file: 'openai/llm-v1-chat/requests/good_multi_modal.json',
    provider: 'openai',
    route: CHAT,
    check: sameMessages,
  },
  {
    file: 'openai/llm-v1-chat/requests/good_multi_modal.json',
    provider: 'anthropic',
    route: CHAT,
    check: (body) => {
      assert.equal(body.system, 'You are a helpful assistant.');
      assert.deepEqual(body.messages[0].content[1], {
        type: 'image',
        source: { type: 'url', url: 'https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg' },
      });
    },
  },
  {
    file: 'openai/llm-v1-chat/requests/good_multi_modal.json',
    provider: 'cohere',
    route: CHAT,
    error: 'messages[1].content[1]: image content is not supported by the cohere provider',
  },
  ...(['tool_choice_auto', 'tool_choice_none', 'tool_choice_object_function', 'tool_choice_required'] as const).map(
    (name): RequestCase => ({
      file: `openai/llm-v1-chat/requests/${name}.json`,
      provider: 'openai',
      route: CHAT,
      model: 'gpt-4o',
      check: (body, request) => {
        assert.deepEqual(body.tool_choice, request.tool_choice);
        assert.equal(body.model, 'gpt-4o');
      },
    }),
  ),
  { file: 'openai/llm-v1-chat/requests/tool_choice_auto.json', provider: 'anthropic', route: CHAT, check: (body) => assert.deepEqual(body.tool_choice, { type: 'auto' }) },
  // tool_choice without tools would be an error at Anthropic: it is left out.
  { file: 'openai/llm-v1-chat/requests/tool_choice_none.json', provider: 'anthropic', route: CHAT, check: (body) => assert.equal('tool_choice' in body, false) },
  {
    file: 'openai/llm-v1-chat/requests/tool_choice_object_function.json',
    provider: 'anthropic',
    route: CHAT,
    check: (body) => assert.deepEqual(body.tool_choice, { type: 'tool', name: 'my_function' }),
  },
  { file: 'openai/llm-v1-chat/requests/tool_choice_required.json', provider: 'anthropic', route: CHAT, check: (body) => assert.deepEqual(body.tool_choice, { type: 'any' }) },
  {
    file: 'openai/llm-v1-completions/requests/good.json',
    provider: 'openai',
    route: COMPLETIONS,
    model: 'gpt-3.5-turbo-instruct',
    options: openaiOptions,
    check: (body) => assert.deepEqual(body, { prompt: 'What are you?', model: 'gpt-3.5-turbo-instruct', stream: false, max_tokens: 256, temperature: 1 }),
  },
  { file: 'openai/llm-v1-completions/requests/bad_request.json', provider: 'openai', route: COMPLETIONS, error: NOT_RECOGNISED },

  // anthropic (03)
  {
    file: 'anthropic/llm-v1-chat/requests/good.json',
    provider: 'anthropic',
    route: CHAT,
    model: 'claude-2.1',
    options: anthropicOptions,
    check: (body) =>
      assert.deepEqual(body, {
        model: 'claude-2.1',
        system: 'You are a helpful assistant.',
        messages: [{ role: 'user', content: 'What is 1 + 1?' }],
        max_tokens: 256,
        temperature: 1,
        stream: false,
      }),
  },
  { file: 'anthropic/llm-v1-chat/requests/good-stream.json', provider: 'anthropic', route: CHAT, stream: true, check: (body) => assert.equal(body.stream, true) },
  { file: 'anthropic/llm-v1-chat/requests/good_own_model.json', provider: 'anthropic', route: CHAT, check: (_body, request) => assert.equal(request.model, 'try-to-override-the-model') },
  { file: 'anthropic/llm-v1-chat/requests/bad_request.json', provider: 'anthropic', route: CHAT, error: NOT_RECOGNISED },
  {
    file: 'anthropic/llm-v1-completions/requests/good.json',
    provider: 'anthropic',
    route: COMPLETIONS,
    model: 'claude-2.1',
    options: anthropicOptions,
    check: (body) => assert.deepEqual(body.messages, [{ role: 'user', content: 'What are you?' }]),
  },
  { file: 'anthropic/llm-v1-completions/requests/bad_request.json', provider: 'anthropic', route: COMPLETIONS, error: NOT_RECOGNISED },

  // cohere (04)
  {
    file: 'cohere/llm-v1-chat/requests/good.json',
    provider: 'cohere',
    route: CHAT,
    model: 'command',
    options: cohereOptions,
    check: (body) =>
      assert.deepEqual(body, { model: 'command', preamble: 'You are a helpful assistant.', message: 'What is 1 + 1?', stream: false, max_tokens: 256, temperature: 1 }),
  },
  { file: 'cohere/llm-v1-chat/requests/good-stream.json', provider: 'cohere', route: CHAT, stream: true, check: (body) => assert.equal(body.stream, true) },
  { file: 'cohere/llm-v1-chat/requests/good_own_model.json', provider: 'cohere', route: CHAT, check: (_body, request) => assert.equal(request.model, 'try-to-override-the-model') },
  { file: 'cohere/llm-v1-chat/requests/bad_request.json', provider: 'cohere', route: CHAT, error: NOT_RECOGNISED },
  { file: 'cohere/llm-v1-completions/requests/good.json', provider: 'cohere', route: COMPLETIONS, check: (body) => assert.equal(body.prompt, 'What are you?') },
  { file: 'cohere/llm-v1-completions/requests/bad_request.json', provider: 'cohere', route: COMPLETIONS, error: NOT_RECOGNISED },

  // llama2 (07): raw
  {
    file: 'llama2/raw/requests/good-chat.json',
    provider: 'llama2',
    route: CHAT,
    options: llama2Raw,
    check: (body) =>
      assert.equal(
        body.inputs,
        '<s>[INST] <<SYS>> You are a video game knowledgebase. <</SYS>> What is Missingno.? <<SYS>> Missingno. is a weird character from a popular game. <</SYS>> Why is it popular? [/INST]',
      ),
  },
  {
    file: 'llama2/raw/requests/good-completions.json',
    provider: 'llama2',
    route: COMPLETIONS,
    options: llama2Raw,
    check: (body) => assert.equal(body.inputs, '<s>[INST] <<SYS>> You are a helpful assistant. <</SYS>> What is Missingno.? [/INST]'),
  },
  {
    file: 'llama2/ollama/chat-stream.json',
    provider: 'llama2',
    route: CHAT,
    model: 'llama2',
    options: { llama2_format: 'ollama', upstream_url: `${MOCK}/api/chat` },
    stream: true,
    check: (body, request) => {
      assert.equal(body.stream, true);
      assert.deepEqual(body.messages, request.messages);
    },
  },
  // huggingface (10): the same server family as llama2 raw
  { file: 'huggingface/llm-v1-chat/requests/good.json', provider: 'llama2', route: CHAT, options: llama2Raw, check: (body) => assert.equal(body.stream, false) },
  { file: 'huggingface/llm-v1-completions/requests/good.json', provider: 'llama2', route: COMPLETIONS, options: llama2Raw, check: (body) => assert.match(body.inputs, /What are you\? \[\/INST\]$/) },

  // native-format fixtures (12) hold OpenAI requests with tool calls and results: good translation input.
  ...(['native/target/target-openai-complete.json', 'native/target/target-openai-complete-stream.json'] as const).flatMap((file): RequestCase[] => [
    {
      file,
      provider: 'anthropic',
      route: CHAT,
      check: (body) => {
        assert.match(body.system, /lighting system bot/);
        const assistant = body.messages[1];
        assert.equal(assistant.role, 'assistant');
        assert.deepEqual(assistant.content.at(-1), { type: 'tool_use', id: 'tooluse_12j842hSE-_gkri61ab2A', name: 'enable_lights', input: {} });
        assert.deepEqual(body.messages[2].content[0], { type: 'tool_result', tool_use_id: 'tooluse_12j842hSE-_gkri61ab2A', content: '{"success":true}' });
      },
    },
    {
      file,
      provider: 'mistral',
      route: CHAT,
      options: { mistral_format: 'ollama', upstream_url: `${MOCK}/api/chat` },
      check: (body) => {
        const calls = body.messages.find((m: Json) => m.tool_calls?.[0]?.function?.name === 'set_light_color');
        assert.deepEqual(calls.tool_calls[0].function.arguments, { rgb_hex: 'FFA500' });
        assert.equal(body.messages.find((m: Json) => m.role === 'tool').tool_name, 'enable_lights');
      },
    },
  ]),
  // The template plugin's input: `prompt` is an object, not a completions request.
  { file: 'unit/requests/llm-v1-completion-template.json', provider: 'openai', route: COMPLETIONS, error: 'prompt: expected a string' },
  // gemini (11): Kong's spec sends OpenAI's chat request to a gemini route.
  {
    file: 'openai/llm-v1-chat/requests/good.json',
    provider: 'gemini',
    route: CHAT,
    model: 'gemini-1.5-pro',
    options: geminiOptions,
    check: (body, request) => {
      assert.deepEqual(body.systemInstruction, { parts: [{ text: request.messages[0].content }] });
      assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: request.messages[1].content }] }]);
      assert.deepEqual(body.generationConfig, { maxOutputTokens: 256, temperature: 1 });
    },
  },
  // huggingface (10): chat to TGI's Messages API, completions to the text-generation task.
  {
    file: 'huggingface/llm-v1-chat/requests/good.json',
    provider: 'huggingface',
    route: CHAT,
    model: HF_MODEL,
    options: huggingfaceOptions,
    check: (body, request) => {
      sameMessages(body, request);
      assert.deepEqual([body.model, body.stream, body.max_tokens, body.temperature], [HF_MODEL, false, 256, 1]);
      assert.equal('options' in body, false, 'use_cache / wait_for_model travel as headers for chat');
    },
  },
  {
    file: 'huggingface/llm-v1-completions/requests/good.json',
    provider: 'huggingface',
    route: COMPLETIONS,
    model: HF_MODEL,
    options: huggingfaceOptions,
    check: (body) => {
      assert.deepEqual(body, {
        inputs: 'What are you?',
        parameters: { max_new_tokens: 256, temperature: 1, return_full_text: false, details: true },
        stream: false,
        options: { use_cache: false, wait_for_model: true },
      });
    },
  },
];

const chatAnswer = (content: string, model: string) => (answer: Json) => {
  assert.equal(answer.object, 'chat.completion');
  assert.equal(answer.model, model);
  assert.equal(answer.choices[0].message.content, content);
  assert.equal(answer.choices[0].message.role, 'assistant');
};

const completionAnswer = (text: string, model: string) => (answer: Json) => {
  assert.equal(answer.object, 'text_completion');
  assert.equal(answer.model, model);
  assert.equal(answer.choices[0].text, text);
};

const NO_CHOICES_CHAT = "'choices' not in llm/v1/chat response";
const NO_CHOICES_COMPLETIONS = "'choices' not in llm/v1/completions response";
const NO_CONTENT_CHAT = "'content' not in anthropic://llm/v1/chat response";
const NO_COHERE_TEXT = "'text' or 'generations' missing from cohere response body";

export const RESPONSE_CASES: ResponseCase[] = [
  // openai (02), azure (05): the upstream bytes are the answer
  {
    file: 'openai/llm-v1-chat/responses/good.json',
    provider: 'openai',
    route: CHAT,
    check: (answer, translated, raw) => {
      unchanged(answer, translated, raw);
      assert.equal(answer.id, 'chatcmpl-8T6YwgvjQVVnGbJ2w8hpOA17SeNy2');
      assert.equal(translated.responseModel, 'gpt-3.5-turbo-0613');
      assert.deepEqual(translated.usage, { prompt_tokens: 25, completion_tokens: 12, total_tokens: 37 });
    },
  },
  { file: 'openai/llm-v1-chat/responses/good.json', provider: 'azure', route: CHAT, check: unchanged },
  { file: 'openai/llm-v1-chat/responses/bad_upstream_response.json', provider: 'openai', route: CHAT, error: NO_CHOICES_CHAT },
  { file: 'openai/llm-v1-chat/responses/bad_upstream_response.json', provider: 'azure', route: CHAT, error: NO_CHOICES_CHAT },
  { file: 'openai/llm-v1-chat/responses/unauthorized.json', provider: 'openai', route: CHAT, error: NO_CHOICES_CHAT },
  { file: 'openai/llm-v1-chat/responses/bad_request.json', provider: 'openai', route: CHAT, error: NO_CHOICES_CHAT },
  { file: 'openai/llm-v1-chat/responses/internal_server_error.html', provider: 'openai', route: CHAT, error: 'failed to decode llm/v1/chat response' },
  {
    file: 'openai/llm-v1-completions/responses/good.json',
    provider: 'openai',
    route: COMPLETIONS,
    check: (answer, translated, raw) => {
      unchanged(answer, translated, raw);
      assert.equal(answer.id, 'cmpl-8TBeaJVQIhE9kHEJbk1RnKzgFxIqN');
    },
  },
  { file: 'openai/llm-v1-completions/responses/bad_request.json', provider: 'openai', route: COMPLETIONS, error: NO_CHOICES_COMPLETIONS },
  { file: 'openai/llm-v1-completions/responses/unauthorized.json', provider: 'openai', route: COMPLETIONS, error: NO_CHOICES_COMPLETIONS },
  ...[
    'openai/request-transformer/response-in-json.json',
    'openai/request-transformer/response-not-json.json',
    'openai/request-transformer/response-with-bad-instructions.json',
    'openai/request-transformer/response-with-instructions.json',
  ].map((file): ResponseCase => ({ file, provider: 'openai', route: CHAT, check: unchanged })),
  { file: 'azure/request-transformer/response-in-json.json', provider: 'azure', route: CHAT, check: unchanged },

  // anthropic (03): Messages API answers
  {
    file: 'anthropic/llm-v1-chat/responses/good.json',
    provider: 'anthropic',
    route: CHAT,
    model: 'claude-2.1',
    check: (answer, translated) => {
      chatAnswer('The sum of 1 + 1 is 2.', 'claude-2.1')(answer);
      assert.equal(answer.choices[0].finish_reason, 'stop');
      assert.deepEqual(translated.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    },
  },
  { file: 'anthropic/llm-v1-chat/responses/bad_upstream_response.json', provider: 'anthropic', route: CHAT, error: NO_CONTENT_CHAT },
  { file: 'anthropic/llm-v1-chat/responses/bad_request.json', provider: 'anthropic', route: CHAT, error: NO_CONTENT_CHAT },
  { file: 'anthropic/llm-v1-chat/responses/unauthorized.json', provider: 'anthropic', route: CHAT, error: NO_CONTENT_CHAT },
  { file: 'anthropic/llm-v1-chat/responses/internal_server_error.html', provider: 'anthropic', route: CHAT, error: 'failed to decode anthropic response' },
  ...['anthropic/llm-v1-chat/responses/malformed_usage_response.json', 'anthropic/llm-v1-chat/responses/no_usage_response.json'].map(
    (file): ResponseCase => ({
      file,
      provider: 'anthropic',
      route: CHAT,
      check: (answer, translated) => {
        chatAnswer('The sum of 1 + 1 is 2.', 'claude-2.1')(answer);
        assert.equal(translated.usage, null, 'no usable usage: the plugin estimates (T39)');
        assert.equal(answer.usage, null);
      },
    }),
  ),
  {
    file: 'anthropic/llm-v1-completions/responses/good.json',
    provider: 'anthropic',
    route: COMPLETIONS,
    check: completionAnswer(' Hello! My name is Claude.', 'claude-2.1'),
  },
  { file: 'anthropic/llm-v1-completions/responses/bad_request.json', provider: 'anthropic', route: COMPLETIONS, error: "'content' not in anthropic://llm/v1/completions response" },
  { file: 'anthropic/llm-v1-completions/responses/unauthorized.json', provider: 'anthropic', route: COMPLETIONS, error: "'content' not in anthropic://llm/v1/completions response" },
  {
    file: 'anthropic/request-transformer/response-in-json.json',
    provider: 'anthropic',
    route: CHAT,
    check: (answer, translated) => {
      assert.equal(answer.id, 'msg_013Zva2CMHLNnXjNJJKqJ2EF');
      assert.match(answer.choices[0].message.content, /"persons"/);
      assert.deepEqual(translated.usage, { prompt_tokens: 10, completion_tokens: 25, total_tokens: 35 });
    },
  },

  // cohere (04)
  {
    file: 'cohere/llm-v1-chat/responses/good.json',
    provider: 'cohere',
    route: CHAT,
    model: 'command',
    check: (answer, translated) => {
      chatAnswer('The sum of 1 + 1 is 2.', 'command')(answer);
      assert.equal(answer.id, '3fa85f64-5717-4562-b3fc-2c963f66afa6');
      assert.deepEqual(translated.usage, { prompt_tokens: 81, completion_tokens: 258, total_tokens: 339 });
    },
  },
  { file: 'cohere/llm-v1-chat/responses/bad_upstream_response.json', provider: 'cohere', route: CHAT, error: NO_COHERE_TEXT },
  { file: 'cohere/llm-v1-chat/responses/bad_request.json', provider: 'cohere', route: CHAT, error: NO_COHERE_TEXT },
  { file: 'cohere/llm-v1-chat/responses/unauthorized.json', provider: 'cohere', route: CHAT, error: NO_COHERE_TEXT },
  { file: 'cohere/llm-v1-chat/responses/internal_server_error.html', provider: 'cohere', route: CHAT, error: 'failed to decode cohere response' },
  { file: 'cohere/llm-v1-completions/responses/good.json', provider: 'cohere', route: COMPLETIONS, model: 'command', check: completionAnswer('1 + 1 is 2.', 'command') },
  { file: 'cohere/llm-v1-completions/responses/bad_request.json', provider: 'cohere', route: COMPLETIONS, error: NO_COHERE_TEXT },
  { file: 'cohere/llm-v1-completions/responses/unauthorized.json', provider: 'cohere', route: COMPLETIONS, error: NO_COHERE_TEXT },
  { file: 'cohere/request-transformer/response-in-json.json', provider: 'cohere', route: CHAT, check: (answer) => assert.match(answer.choices[0].message.content, /Kong B/) },

  // mistral (06): OpenAI format at a self-hosted upstream
  {
    file: 'mistral/llm-v1-chat/responses/good.json',
    provider: 'mistral',
    route: CHAT,
    options: mistralOpenAI,
    check: (answer, translated, raw) => {
      unchanged(answer, translated, raw);
      assert.equal(translated.responseModel, 'mistralai/Mistral-7B-Instruct-v0.1-instruct');
    },
  },
  {
    file: 'mistral/llm-v1-completions/responses/good.json',
    provider: 'mistral',
    route: COMPLETIONS,
    options: { ...mistralOpenAI, upstream_url: `${MOCK}/v1/completions` },
    check: (answer, translated, raw) => {
      unchanged(answer, translated, raw);
      assert.equal(answer.model, 'mistralai/Mistral-7B-Instruct-v0.1-instruct');
    },
  },
  {
    file: 'mistral/request-transformer/response-in-json.json',
    provider: 'mistral',
    route: CHAT,
    options: { mistral_format: 'ollama', upstream_url: `${MOCK}/api/chat` },
    check: (answer, translated) => {
      assert.equal(answer.model, 'mistral-tiny');
      assert.equal(answer.created, 1705306418, 'created is epoch seconds, not the ISO string');
      assert.deepEqual(translated.usage, { prompt_tokens: 26, completion_tokens: 100, total_tokens: 126 });
    },
  },

  // llama2 (07): raw
  { file: 'llama2/raw/responses/good.json', provider: 'llama2', route: CHAT, model: 'llama2', options: llama2Raw, check: chatAnswer('Is a well known font.', 'llama2') },
  { file: 'llama2/raw/responses/good.json', provider: 'llama2', route: COMPLETIONS, model: 'llama2', options: llama2Raw, check: completionAnswer('Is a well known font.', 'llama2') },
  { file: 'llama2/raw/responses/unauthorized.json', provider: 'llama2', route: CHAT, options: llama2Raw, error: 'llama2 endpoint error: Model requires a Pro subscription.' },
  { file: 'llama2/raw/responses/bad_request.json', provider: 'llama2', route: CHAT, options: llama2Raw, error: 'llama2 endpoint error: some error' },
  { file: 'llama2/request-transformer/response-in-json.json', provider: 'llama2', route: CHAT, options: llama2Raw, check: (answer) => assert.match(answer.choices[0].message.content, /^\{\n {4}"persons"/) },

  // huggingface (10): an OpenAI-compatible chat server and a TGI-style generation server
  {
    file: 'huggingface/llm-v1-chat/responses/good.json',
    provider: 'llama2',
    route: CHAT,
    options: llama2OpenAI,
    check: (answer, translated, raw) => {
      unchanged(answer, translated, raw);
      assert.equal(translated.responseModel, 'mistralai/Mistral-7B-Instruct-v0.2');
    },
  },
  ...[
    ['huggingface/llm-v1-chat/responses/bad_request.json', 'llama2 endpoint error: Template error: undefined value (in <string>:1)'],
    ['huggingface/llm-v1-chat/responses/bad_response_model_load.json', 'llama2 endpoint error: Model mistralai/Mistral-7B-Instruct-v0.2 is currently loading'],
    ['huggingface/llm-v1-chat/responses/bad_response_timeout.json', 'llama2 endpoint error: Model mistralai/Mistral-7B-Instruct-v0.2 time out'],
    ['huggingface/llm-v1-chat/responses/unauthorized.json', 'llama2 endpoint error: Authorization header is correct, but the token seems invalid'],
    ['huggingface/llm-v1-completions/responses/unauthorized.json', 'llama2 endpoint error: Authorization header is correct, but the token seems invalid'],
    // The Hugging Face router's `{"message": ...}` error body is reported like TGI's `{"error": ...}`.
    ['huggingface/llm-v1-completions/responses/bad_request.json', 'llama2 endpoint error: Failed to deserialize the JSON body into the target type: missing field `inputs` at line 9 column 7'],
  ].map(([file, error]): ResponseCase => ({ file, provider: 'llama2', route: CHAT, options: llama2Raw, error })),
  {
    file: 'huggingface/llm-v1-completions/responses/good.json',
    provider: 'llama2',
    route: COMPLETIONS,
    model: 'mistral',
    options: llama2Raw,
    check: completionAnswer('I am a language model AI created by Mistral AI', 'mistral'),
  },
  // gemini (11)
  {
    file: 'gemini/llm-v1-chat/responses/good.json',
    provider: 'gemini',
    route: CHAT,
    model: 'gemini-1.5-pro',
    options: geminiOptions,
    check: (answer, translated) => {
      assert.equal(answer.object, 'chat.completion');
      assert.equal(answer.choices[0].message.content, 'Everything is okay.');
      assert.equal(answer.choices[0].finish_reason, 'stop');
      assert.deepEqual(translated.usage, { prompt_tokens: 2, completion_tokens: 11, total_tokens: 13 });
      // Kong answers with the configured name; we report the model that answered, as OpenAI does.
      assert.equal(answer.model, 'gemini-1.5-flash-002');
      assert.equal(translated.responseModel, 'gemini-1.5-flash-002');
    },
  },
  {
    file: 'gemini/llm-v1-chat/responses/fails_safety.json',
    provider: 'gemini',
    route: CHAT,
    model: 'gemini-1.5-pro',
    check: (answer, translated) => {
      assert.deepEqual(answer.choices, [{ index: 0, message: { role: 'assistant', content: '' }, logprobs: null, finish_reason: 'content_filter' }]);
      assert.deepEqual(translated.usage, { prompt_tokens: 319, completion_tokens: 0, total_tokens: 319 });
    },
  },
  {
    file: 'gemini/request-transformer/response-in-json.json',
    provider: 'gemini',
    route: CHAT,
    model: 'gemini-1.5-flash',
    check: (answer) => assert.deepEqual(JSON.parse(answer.choices[0].message.content), { persons: [{ name: 'Kong A', age: 62 }, { name: 'Kong B', age: 84 }] }),
  },
  // huggingface (10)
  {
    file: 'huggingface/llm-v1-chat/responses/good.json',
    provider: 'huggingface',
    route: CHAT,
    model: HF_MODEL,
    options: huggingfaceOptions,
    check: (answer, translated) => {
      assert.equal(answer.model, HF_MODEL);
      assert.equal(answer.object, 'chat.completion');
      assert.equal(answer.choices[0].message.content, ' The sum of 1 + 1 is 2. This is a basic arithmetic operation and the answer is always the same: adding one to one results in having two in total.');
      // TGI's eos_token is OpenAI's stop (Kong answers "complete"); its empty id is replaced.
      assert.equal(answer.choices[0].finish_reason, 'stop');
      assert.match(answer.id, /^chatcmpl-/);
      assert.deepEqual(translated.usage, { prompt_tokens: 26, completion_tokens: 40, total_tokens: 66 });
    },
  },
  { file: 'huggingface/llm-v1-chat/responses/bad_request.json', provider: 'huggingface', route: CHAT, model: HF_MODEL, error: 'huggingface endpoint error: Template error: undefined value (in <string>:1)' },
  { file: 'huggingface/llm-v1-chat/responses/bad_response_model_load.json', provider: 'huggingface', route: CHAT, model: HF_MODEL, error: 'huggingface endpoint error: Model mistralai/Mistral-7B-Instruct-v0.2 is currently loading' },
  { file: 'huggingface/llm-v1-chat/responses/bad_response_timeout.json', provider: 'huggingface', route: CHAT, model: HF_MODEL, error: 'huggingface endpoint error: Model mistralai/Mistral-7B-Instruct-v0.2 time out' },
  { file: 'huggingface/llm-v1-chat/responses/unauthorized.json', provider: 'huggingface', route: CHAT, model: HF_MODEL, error: 'huggingface endpoint error: Authorization header is correct, but the token seems invalid' },
  {
    file: 'huggingface/llm-v1-completions/responses/good.json',
    provider: 'huggingface',
    route: COMPLETIONS,
    model: HF_MODEL,
    options: huggingfaceOptions,
    check: (answer) => {
      // Kong answers `object: "llm/v1/completions"` with a chat message; this is OpenAI's text_completion.
      assert.equal(answer.object, 'text_completion');
      assert.equal(answer.model, HF_MODEL);
      assert.equal(answer.choices[0].text, 'I am a language model AI created by Mistral AI');
    },
  },
  {
    file: 'huggingface/llm-v1-completions/responses/bad_request.json',
    provider: 'huggingface',
    route: COMPLETIONS,
    model: HF_MODEL,
    error: 'huggingface endpoint error: Failed to deserialize the JSON body into the target type: missing field `inputs` at line 9 column 7',
  },
  { file: 'huggingface/llm-v1-completions/responses/unauthorized.json', provider: 'huggingface', route: COMPLETIONS, model: HF_MODEL, error: 'huggingface endpoint error: Authorization header is correct, but the token seems invalid' },
];

/** `llm/v1/embeddings` answers: through the provider's embeddings driver. */
export interface EmbeddingsCase {
  file: string;
  provider: ProviderName;
  model: string;
  /** The client's request body. */
  request: Json;
  check(answer: Json, translated: TranslatedResponse, raw: string): void;
}

export const EMBEDDINGS_CASES: EmbeddingsCase[] = [
  {
    file: 'openai/llm-v1-embeddings/responses/good.json',
    provider: 'openai',
    model: 'text-embedding-3-large',
    request: { input: 'The food was delicious and the waiter...', model: 'text-embedding-3-large' },
    check: (answer, translated, raw) => {
      assert.equal(translated.body, raw, 'an OpenAI answer is passed through unchanged');
      assert.deepEqual(translated.usage, { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4 });
      assert.equal(translated.responseModel, 'text-embedding-3-large');
      assert.equal(answer.data[0].embedding.length, 3072);
    },
  },
  {
    file: 'openai/llm-v1-embeddings/responses/good.json',
    provider: 'mistral',
    model: 'text-embedding-3-large',
    request: { input: 'The food was delicious and the waiter...', encoding_format: 'base64' },
    check: (answer) => {
      // A server that only answers floats: the gateway encodes base64 (little-endian float32) itself.
      const bytes = Buffer.from(answer.data[0].embedding, 'base64');
      assert.equal(bytes.length, 3072 * 4);
      assert.ok(Math.abs(bytes.readFloatLE(0) - -0.041530054) < 1e-7);
      assert.deepEqual(answer.usage, { prompt_tokens: 4, total_tokens: 4 });
    },
  },
];
