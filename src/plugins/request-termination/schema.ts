/** Kong's `request-termination` plugin schema (3.6). */
import type { PluginSchema } from '../types.ts';
import { validateHeaderName } from '../../schema/typedefs.ts';

export interface RequestTerminationConfig {
  status_code: number;
  message: string | null;
  content_type: string | null;
  body: string | null;
  echo: boolean;
  trigger: string | null;
}

const present = (v: unknown) => v !== null && v !== undefined && v !== '';

export const schema: PluginSchema = {
  name: 'request-termination',
  priority: 2,
  version: '0.1.0',
  config: {
    type: 'record',
    required: true,
    fields: {
      status_code: { type: 'integer', required: true, default: 503, between: [100, 599] },
      message: { type: 'string' },
      content_type: { type: 'string' },
      body: { type: 'string' },
      echo: { type: 'boolean', required: true, default: false },
      trigger: { type: 'string', custom_validator: validateHeaderName },
    },
    entity_checks: [
      {
        custom_entity_check: {
          field_sources: ['message', 'content_type', 'body', 'echo'],
          fn: (c: RequestTerminationConfig) => {
            if (present(c.message) && (present(c.content_type) || present(c.body))) return 'message cannot be used with content_type or body';
            if (present(c.content_type) && !present(c.body)) return 'content_type requires a body';
            if (c.echo && (present(c.content_type) || present(c.body))) return 'echo cannot be used with content_type and body';
            return undefined;
          },
        },
      },
    ],
  },
};
