/** Kong's `ai-prompt-template` plugin schema (3.6, plus 3.8's `max_request_body_size`). */
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { DEFAULT_MAX_REQUEST_BODY_SIZE } from '../ai-proxy/schema.ts';

export interface PromptTemplate {
  name: string;
  template: string;
}

export interface AiPromptTemplateConfig {
  templates: PromptTemplate[];
  allow_untemplated_requests: boolean;
  log_original_request: boolean;
  max_request_body_size: number;
}

function uniqueNames(templates: PromptTemplate[]): string | undefined {
  const seen = new Set<string>();
  for (const t of templates) {
    if (seen.has(t.name)) return `duplicate template name: ${t.name}`;
    seen.add(t.name);
  }
  return undefined;
}

export const schema: PluginSchema = {
  name: 'ai-prompt-template',
  priority: 773,
  version: '0.1.0',
  noConsumer: true,
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      templates: {
        type: 'array',
        required: true,
        elements: {
          type: 'record',
          required: true,
          fields: {
            name: { type: 'string', required: true },
            template: { type: 'string', required: true },
          },
        },
      },
      allow_untemplated_requests: { type: 'boolean', required: true, default: true },
      log_original_request: { type: 'boolean', required: true, default: false },
      max_request_body_size: { type: 'integer', default: DEFAULT_MAX_REQUEST_BODY_SIZE, gt: 0 },
    },
    entity_checks: [{ custom_entity_check: { field_sources: ['templates'], fn: (c: AiPromptTemplateConfig) => uniqueNames(c.templates ?? []) } }],
  },
};
