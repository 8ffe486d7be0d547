/** Kong's `ai-prompt-decorator` plugin schema (3.8: `max_request_body_size`, `llm_format`). */
import type { PluginSchema } from '../types.ts';
import type { Field } from '../../schema/types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { DEFAULT_MAX_REQUEST_BODY_SIZE } from '../ai-proxy/schema.ts';

export interface PromptMessage {
  role: 'system' | 'assistant' | 'user';
  content: string;
}

export interface AiPromptDecoratorConfig {
  prompts: { prepend: PromptMessage[] | null; append: PromptMessage[] | null };
  max_request_body_size: number;
  llm_format: 'openai' | 'bedrock' | 'gemini';
}

const message: Field = {
  type: 'record',
  fields: {
    role: { type: 'string', required: true, default: 'system', one_of: ['system', 'assistant', 'user'] },
    content: { type: 'string', required: true, len_min: 1, len_max: 500 },
  },
};

export const schema: PluginSchema = {
  name: 'ai-prompt-decorator',
  priority: 772,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      prompts: {
        type: 'record',
        fields: {
          prepend: { type: 'array', elements: message, len_max: 15 },
          append: { type: 'array', elements: message, len_max: 15 },
        },
        entity_checks: [{ at_least_one_of: ['prepend', 'append'] }],
      },
      max_request_body_size: { type: 'integer', default: DEFAULT_MAX_REQUEST_BODY_SIZE, gt: 0 },
      llm_format: { type: 'string', default: 'openai', one_of: ['openai'] },
    },
  },
};
