/** Every client API by its InboundFormat (types.ts says what one is). */
import type { InboundFormat } from '../types.ts';
import type { ClientApi } from './types.ts';
import { openAIChatApi, openAICompletionsApi } from './openai-chat.ts';
import { openAIResponsesApi } from './openai-responses.ts';
import { anthropicMessagesApi } from './anthropic-messages.ts';

const APIS: Record<InboundFormat, ClientApi> = {
  'openai-chat': openAIChatApi,
  'openai-completions': openAICompletionsApi,
  'openai-responses': openAIResponsesApi,
  'anthropic-messages': anthropicMessagesApi,
};

export function clientApi(format: InboundFormat): ClientApi {
  return APIS[format];
}

export type { ClientApi, SinkContext } from './types.ts';
