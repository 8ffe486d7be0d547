/**
 * The Plugin entity. Its `config` is abstract: the plugin's own schema (found by `name` in the
 * registry) validates it, as Kong's subschemas do.
 */
import type { EntitySchema, Field } from '../schema/types.ts';
import { typedefs } from '../schema/typedefs.ts';
import type { PluginSchema } from '../plugins/types.ts';

export function pluginEntitySchema(plugin: PluginSchema | undefined): EntitySchema {
  const noScope = (flag: boolean | undefined, reference: string): Field =>
    flag ? { type: 'foreign', reference, eq: null } : typedefs.foreign(reference);
  return {
    name: 'plugins',
    endpoint_key: 'instance_name',
    fields: {
      id: typedefs.uuid(),
      name: { type: 'string', required: true },
      instance_name: typedefs.utf8Name(),
      created_at: typedefs.autoTimestamp(),
      updated_at: typedefs.autoTimestamp(),
      route: noScope(plugin?.noRoute, 'routes'),
      service: noScope(plugin?.noService, 'services'),
      consumer: noScope(plugin?.noConsumer, 'consumers'),
      config: plugin ? plugin.config : { type: 'record', required: true, fields: {} },
      protocols: plugin?.protocols ?? typedefs.protocols(),
      enabled: { type: 'boolean', required: true, default: true },
      tags: typedefs.tags(),
    },
  };
}
