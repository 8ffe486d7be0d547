/**
 * OpenAI Responses (`POST /v1/responses`) as a client API: the inbound adapter
 * (inbound/openai-responses.ts), the renderer of `response` objects and Responses streaming events
 * (render/openai-responses.ts), and OpenAI's error envelope, which the Responses API shares with
 * Chat Completions (https://platform.openai.com/docs/guides/error-codes).
 */
import type { ClientApi } from './types.ts';
import { parseResponsesRequest } from '../inbound/openai-responses.ts';
import { createResponsesSink, renderResponsesResponse, responsesErrorBody, responsesStreamError } from '../render/openai-responses.ts';

export const openAIResponsesApi: ClientApi = {
  format: 'openai-responses',
  idPrefix: 'resp_',
  parse: parseResponsesRequest,
  createSink: createResponsesSink,
  renderResponse: renderResponsesResponse,
  errorBody: responsesErrorBody,
  streamError: responsesStreamError,
  // the Chat Completions names formats use, as a Responses client wrote them
  fieldNames: [
    ['reasoning_effort', 'reasoning.effort'],
    ['reasoning.budget_tokens', 'reasoning.effort'],
    ['response_format', 'text.format'],
    ['max_completion_tokens', 'max_output_tokens'],
    ['max_tokens', 'max_output_tokens'],
    ['verbosity', 'text.verbosity'],
  ],
};
