/** Kong's `key-auth` plugin schema (3.6, plus 3.7's `realm`). */
import type { PluginSchema } from '../types.ts';
import { typedefs, validateHeaderName } from '../../schema/typedefs.ts';

export interface KeyAuthConfig {
  key_names: string[];
  hide_credentials: boolean;
  anonymous: string | null;
  key_in_header: boolean;
  key_in_query: boolean;
  key_in_body: boolean;
  run_on_preflight: boolean;
  realm: string | null;
}

export const schema: PluginSchema = {
  name: 'key-auth',
  priority: 1250,
  version: '0.1.0',
  noConsumer: true,
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      key_names: { type: 'array', required: true, default: ['apikey'], elements: { type: 'string', custom_validator: validateHeaderName } },
      hide_credentials: { type: 'boolean', required: true, default: false },
      anonymous: { type: 'string' },
      key_in_header: { type: 'boolean', required: true, default: true },
      key_in_query: { type: 'boolean', required: true, default: true },
      key_in_body: { type: 'boolean', required: true, default: false },
      run_on_preflight: { type: 'boolean', required: true, default: true },
      realm: { type: 'string' },
    },
  },
};
