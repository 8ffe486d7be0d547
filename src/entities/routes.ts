/** The Route entity, as Kong 3.6 defines it (traditional_compatible router flavour). */
import type { EntitySchema } from '../schema/types.ts';
import { PROTOCOLS, typedefs } from '../schema/typedefs.ts';

export const routeSchema: EntitySchema = {
  name: 'routes',
  endpoint_key: 'name',
  fields: {
    id: typedefs.uuid(),
    created_at: typedefs.autoTimestamp(),
    updated_at: typedefs.autoTimestamp(),
    name: typedefs.utf8Name(),
    protocols: { type: 'set', len_min: 1, required: true, default: ['http', 'https'], elements: { type: 'string', one_of: PROTOCOLS } },
    methods: typedefs.methods(),
    hosts: typedefs.hosts(),
    paths: typedefs.routerPaths(),
    headers: typedefs.headers(),
    https_redirect_status_code: { type: 'integer', one_of: [426, 301, 302, 307, 308], default: 426, required: true },
    regex_priority: { type: 'integer', default: 0 },
    strip_path: { type: 'boolean', required: true, default: true },
    path_handling: { type: 'string', default: 'v0', one_of: ['v0', 'v1'] },
    preserve_host: { type: 'boolean', required: true, default: false },
    request_buffering: { type: 'boolean', required: true, default: true },
    response_buffering: { type: 'boolean', required: true, default: true },
    snis: { type: 'set', elements: { type: 'string' } },
    sources: { type: 'set', elements: { type: 'record', fields: { ip: { type: 'string' }, port: typedefs.port() } } },
    destinations: { type: 'set', elements: { type: 'record', fields: { ip: { type: 'string' }, port: typedefs.port() } } },
    tags: typedefs.tags(),
    service: typedefs.foreign('services'),
  },
  entity_checks: [
    {
      conditional: {
        if_field: 'protocols',
        if_match: { elements: { not_one_of: ['grpcs', 'https', 'tls', 'tls_passthrough'] } },
        then_field: 'snis',
        then_match: { len_eq: 0 },
        then_err: "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
      },
    },
    {
      // Kong's http subschema: an http(s) route must match on something.
      custom_entity_check: {
        field_sources: ['protocols', 'methods', 'hosts', 'paths', 'headers', 'snis'],
        fn: (route) => {
          const protocols = (route.protocols as string[] | null) ?? [];
          const https = protocols.includes('https');
          if (!https && !protocols.includes('http')) return undefined;
          const names = https ? ['methods', 'hosts', 'headers', 'paths', 'snis'] : ['methods', 'hosts', 'headers', 'paths'];
          const has = (k: string) => {
            const v = route[k];
            return Array.isArray(v) ? v.length > 0 : v !== null && v !== undefined && Object.keys(v).length > 0;
          };
          if (names.some(has)) return undefined;
          return `must set one of ${names.map((n) => `'${n}'`).join(', ')} when 'protocols' is '${https ? 'https' : 'http'}'`;
        },
      },
    },
    {
      custom_entity_check: {
        field_sources: ['protocols', 'sources', 'destinations'],
        fn: (route) => {
          const protocols = (route.protocols as string[] | null) ?? [];
          if (!protocols.some((p) => p === 'http' || p === 'https')) return undefined;
          if ((route.sources as unknown[] | null)?.length) return "cannot set 'sources' when 'protocols' is 'http' or 'https'";
          if ((route.destinations as unknown[] | null)?.length) return "cannot set 'destinations' when 'protocols' is 'http' or 'https'";
          return undefined;
        },
      },
    },
  ],
};
