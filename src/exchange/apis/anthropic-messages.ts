/**
 * Anthropic Messages (`POST /v1/messages`) as a client API: the inbound adapter
 * (inbound/anthropic-messages.ts), the renderer and Anthropic's error shape
 * (render/anthropic-messages.ts). Answer ids the gateway makes are `msg_…`, as Anthropic's.
 */
import type { ClientApi } from './types.ts';
import { parseAnthropicRequest } from '../inbound/anthropic-messages.ts';
import { anthropicErrorBody, anthropicStreamError, createAnthropicSink, renderAnthropicResponse } from '../render/anthropic-messages.ts';

export const anthropicMessagesApi: ClientApi = {
  format: 'anthropic-messages',
  idPrefix: 'msg_',
  parse: parseAnthropicRequest,
  createSink: createAnthropicSink,
  renderResponse: renderAnthropicResponse,
  errorBody: anthropicErrorBody,
  streamError: anthropicStreamError,
  // the Chat Completions names formats use, as an Anthropic client wrote them
  fieldNames: [
    ['reasoning.budget_tokens', 'thinking.budget_tokens'],
    ['reasoning_effort', 'thinking'],
    ['response_format', 'output_config.format'],
    ['max_completion_tokens', 'max_tokens'],
    ['stop', 'stop_sequences'],
    ['user', 'metadata.user_id'],
    ['parallel_tool_calls', 'tool_choice.disable_parallel_tool_use'],
  ],
};
