/**
 * OpenAI Chat Completions (`llm/v1/chat`) and legacy Completions (`llm/v1/completions`) as client
 * APIs: the inbound adapter (inbound/openai-chat.ts), the renderer (render/openai-chat.ts) and
 * OpenAI's error envelope (plugins/ai-proxy/openai-error.ts).
 */
import type { ClientApi } from './types.ts';
import { parseOpenAIRequest } from '../inbound/openai-chat.ts';
import { createOpenAISink, openAIStreamError, renderOpenAIResponse } from '../render/openai-chat.ts';
import { openAiErrorBody } from '../../plugins/ai-proxy/openai-error.ts';

export const openAIChatApi: ClientApi = {
  format: 'openai-chat',
  idPrefix: 'chatcmpl-',
  parse: (value) => parseOpenAIRequest(value, 'llm/v1/chat'),
  createSink: createOpenAISink,
  renderResponse: (response) => renderOpenAIResponse(response, 'llm/v1/chat'),
  errorBody: openAiErrorBody,
  streamError: openAIStreamError,
};

export const openAICompletionsApi: ClientApi = {
  format: 'openai-completions',
  idPrefix: 'cmpl-',
  parse: (value) => parseOpenAIRequest(value, 'llm/v1/completions'),
  createSink: createOpenAISink,
  renderResponse: (response) => renderOpenAIResponse(response, 'llm/v1/completions'),
  errorBody: openAiErrorBody,
  streamError: openAIStreamError,
};
