/**
 * Kong's unit fixture pairs (spec/03-plugins/38-ai-proxy/01-unit_spec.lua at the fixtures'
 * commit): `unit/requests/<route>.json` through the request transform must equal
 * `unit/expected-requests/...`; `unit/real-responses/...` through the response transform must match
 * `unit/expected-responses/...` on `choices[0].message` and `model` (the only fields Kong compares).
 *
 * The configs are those of the spec at that commit (the fixtures were regenerated with them); the
 * README's list is 3.6.0's and no longer matches the files. Where our behaviour deliberately
 * differs, the case says how (`ours` patches Kong's expected value) and why; test/conformance/README.md
 * lists the same exceptions.
 */
import type { LlmRouteType, ModelOptions, ProviderName } from '../../src/llm/types.ts';

type Json = Record<string, any>;

export interface Deviation {
  reason: string;
  /** Our expected value, derived from Kong's. */
  ours(kong: Json): Json;
}

export interface UnitCase {
  provider: ProviderName;
  /** llama2 / mistral format: also the fixture sub-directory. */
  format?: 'raw' | 'ollama' | 'openai';
  route: LlmRouteType;
  model: string;
  options: Partial<ModelOptions>;
  request?: Deviation;
  response?: Deviation;
}

const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';

export const UNIT_CASES: UnitCase[] = [
  { provider: 'openai', route: CHAT, model: 'gpt-4', options: { max_tokens: 512, temperature: 0.5 } },
  { provider: 'openai', route: COMPLETIONS, model: 'gpt-3.5-turbo-instruct', options: { max_tokens: 512, temperature: 0.5 } },
  { provider: 'azure', route: CHAT, model: 'gpt-4', options: { max_tokens: 512, temperature: 0.5, top_p: 1.0 } },
  { provider: 'azure', route: COMPLETIONS, model: 'gpt-3.5-turbo-instruct', options: { max_tokens: 512, temperature: 0.5, top_p: 1.0 } },
  { provider: 'anthropic', route: CHAT, model: 'claude-2.1', options: { max_tokens: 512, temperature: 0.5, top_p: 1.0 } },
  {
    provider: 'anthropic',
    route: COMPLETIONS,
    model: 'claude-2.1',
    options: { max_tokens: 512, temperature: 0.5, top_p: 1.0 },
    request: {
      reason: 'Messages API for completions too: the legacy /v1/complete body (Human:/Assistant: prompt, max_tokens_to_sample) is not served for current Claude models',
      ours: (kong) => ({
        model: kong.model,
        messages: [{ role: 'user', content: "Explain why you can't divide by zero?" }],
        max_tokens: kong.max_tokens_to_sample,
        temperature: kong.temperature,
        stream: false,
      }),
    },
  },
  {
    provider: 'cohere',
    route: CHAT,
    model: 'command',
    options: { max_tokens: 512, temperature: 0.5, top_p: 1.0 },
    request: {
      reason: "system messages go to Cohere's `preamble` (its system prompt), not into chat_history as USER turns; p is clamped to Cohere's 0.01..0.99",
      ours: (kong) => ({ ...kong, chat_history: kong.chat_history.slice(1), preamble: 'You are a mathematician.', p: 0.99 }),
    },
  },
  { provider: 'cohere', route: COMPLETIONS, model: 'command', options: { max_tokens: 512, temperature: 0.5, top_p: 0.75, top_k: 5 } },
  {
    provider: 'llama2',
    format: 'raw',
    route: CHAT,
    model: 'llama2',
    options: { max_tokens: 512, temperature: 0.5, llama2_format: 'raw', top_p: 1, top_k: 40 },
    request: {
      reason:
        'the assistant turns Kong drops are kept (`{answer} </s>`); `stream` is top-level as TGI reads it; top_p 1 is omitted (TGI rejects top_p >= 1 with 422); return_full_text:false and details:true are asked for',
      ours: () => ({
        inputs:
          "<s>[INST] <<SYS>> You are a mathematician. <</SYS>> What is 1 + 2? [/INST] The sum of 1 + 2 is 3. If you have any more math questions or if there's anything else I can help you with, feel free to ask! </s> <s>[INST] Multiply that by 2 [/INST] Certainly! If you multiply 3 by 2, the result is 6. If you have any more questions or if there's anything else I can help you with, feel free to ask! </s> <s>[INST] Why can't you divide by zero? [/INST]",
        parameters: { max_new_tokens: 512, temperature: 0.5, top_k: 40, return_full_text: false, details: true },
        stream: false,
      }),
    },
    response: {
      reason: 'every answer carries `model` (the configured one: raw servers do not report it); Kong 3.6 left it out',
      ours: (kong) => ({ ...kong, model: 'llama2' }),
    },
  },
  {
    provider: 'llama2',
    format: 'raw',
    route: COMPLETIONS,
    model: 'llama2',
    options: { max_tokens: 512, temperature: 0.5, llama2_format: 'raw' },
    request: {
      reason: 'Kong\'s template leaves `<<SYS>>` unclosed and puts a space in `<s> [INST]`; we render the well-formed Llama 2 template; `stream` top-level; return_full_text/details as for chat',
      ours: () => ({
        inputs: "<s>[INST] <<SYS>> You are a helpful assistant. <</SYS>> Explain why you can't divide by zero? [/INST]",
        parameters: { max_new_tokens: 512, temperature: 0.5, return_full_text: false, details: true },
        stream: false,
      }),
    },
    response: {
      reason: 'every answer carries `model` (the configured one)',
      ours: (kong) => ({ ...kong, model: 'llama2' }),
    },
  },
  { provider: 'llama2', format: 'ollama', route: CHAT, model: 'llama2', options: { max_tokens: 512, temperature: 0.5, llama2_format: 'ollama' } },
  { provider: 'llama2', format: 'ollama', route: COMPLETIONS, model: 'llama2', options: { max_tokens: 512, temperature: 0.5, llama2_format: 'ollama' } },
  { provider: 'mistral', format: 'openai', route: CHAT, model: 'mistral-tiny', options: { max_tokens: 512, temperature: 0.5, mistral_format: 'openai' } },
  { provider: 'mistral', format: 'ollama', route: CHAT, model: 'mistral-tiny', options: { max_tokens: 512, temperature: 0.5, mistral_format: 'ollama', upstream_url: 'http://ollama.local:11434/api/chat' } },
  // Kong 3.8's gemini and bedrock unit configs.
  { provider: 'gemini', route: CHAT, model: 'gemini-pro', options: { max_tokens: 8192, temperature: 0.8, top_k: 1, top_p: 0.6 } },
  {
    provider: 'bedrock',
    route: CHAT,
    model: 'bedrock',
    options: { max_tokens: 8192, temperature: 0.8, top_k: 1, top_p: 0.6 },
    request: {
      reason: 'no top-level `anthropic_version`: it belongs to Anthropic\'s InvokeModel body, not to the Converse API, which refuses fields it does not know',
      ours: ({ anthropic_version: _, ...kong }) => kong,
    },
  },
];

export function unitDir(c: UnitCase): string {
  return c.format ? `${c.provider}/${c.format}` : c.provider;
}

export function routeFile(route: LlmRouteType): string {
  return `${route.replaceAll('/', '-')}.json`;
}

export function unitFiles(c: UnitCase): { request: string; expectedRequest: string; realResponse: string; expectedResponse: string } {
  return {
    request: `unit/requests/${routeFile(c.route)}`,
    expectedRequest: `unit/expected-requests/${unitDir(c)}/${routeFile(c.route)}`,
    realResponse: `unit/real-responses/${unitDir(c)}/${routeFile(c.route)}`,
    expectedResponse: `unit/expected-responses/${unitDir(c)}/${routeFile(c.route)}`,
  };
}
