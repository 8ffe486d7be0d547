/** Kong's `file-log` plugin schema (3.6). */
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { luaCodeMap } from '../shared/no-code.ts';

export interface FileLogConfig {
  path: string;
  reopen: boolean;
  custom_fields_by_lua: Record<string, string> | null;
}

export const schema: PluginSchema = {
  name: 'file-log',
  priority: 9,
  version: '0.1.0',
  protocols: typedefs.protocols(),
  config: {
    type: 'record',
    required: true,
    fields: {
      path: { type: 'string', required: true, match_all: [{ pattern: /^[^*&%`]+$/, err: 'not a valid filename' }] },
      reopen: { type: 'boolean', required: true, default: false },
      custom_fields_by_lua: luaCodeMap('custom_fields_by_lua'),
    },
  },
};
