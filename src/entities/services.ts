/** The Service entity, as Kong 3.6 defines it (`kong/db/schema/entities/services.lua`). */
import type { EntitySchema } from '../schema/types.ts';
import { typedefs } from '../schema/typedefs.ts';

const NOT_TLS = { not_one_of: ['https', 'tls'] } as const;

export const serviceSchema: EntitySchema = {
  name: 'services',
  endpoint_key: 'name',
  fields: {
    id: typedefs.uuid(),
    created_at: typedefs.autoTimestamp(),
    updated_at: typedefs.autoTimestamp(),
    name: typedefs.utf8Name(),
    retries: { type: 'integer', default: 5, between: [0, 32767] },
    protocol: typedefs.protocol({ required: true, default: 'http' }),
    host: typedefs.host({ required: true }),
    port: typedefs.port({ required: true, default: 80 }),
    path: typedefs.path(),
    connect_timeout: typedefs.timeout(60000),
    write_timeout: typedefs.timeout(60000),
    read_timeout: typedefs.timeout(60000),
    tags: typedefs.tags(),
    client_certificate: typedefs.foreign('certificates'),
    tls_verify: { type: 'boolean' },
    tls_verify_depth: { type: 'integer', between: [0, 64] },
    ca_certificates: { type: 'array', elements: { type: 'string', uuid: true } },
    enabled: { type: 'boolean', required: true, default: true },
  },
  entity_checks: [
    { conditional: { if_field: 'protocol', if_match: { one_of: ['tcp', 'tls', 'udp', 'grpc', 'grpcs'] }, then_field: 'path', then_match: { eq: null } } },
    { conditional: { if_field: 'protocol', if_match: NOT_TLS, then_field: 'client_certificate', then_match: { eq: null } } },
    { conditional: { if_field: 'protocol', if_match: NOT_TLS, then_field: 'tls_verify', then_match: { eq: null } } },
    { conditional: { if_field: 'protocol', if_match: NOT_TLS, then_field: 'tls_verify_depth', then_match: { eq: null } } },
    { conditional: { if_field: 'protocol', if_match: NOT_TLS, then_field: 'ca_certificates', then_match: { eq: null } } },
  ],
  shorthand_fields: {
    url: { type: 'string', func: expandServiceUrl },
  },
};

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ws: 80, wss: 443, grpc: 80, grpcs: 443 };

/** Kong's `url` shorthand: `url=http://localhost:32000/x` sets protocol, host, port and path. */
export function expandServiceUrl(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):\/\/)?(\[[^\]]*\]|[^/:?#]*)(?::(\d*))?([^?#]*)/.exec(value);
  if (!m) return undefined;
  const [, scheme, host, portStr, path] = m;
  const port = portStr ? Number(portStr) : undefined;
  const protocol = scheme?.toLowerCase() ?? (port === 443 ? 'https' : 'http');
  return {
    protocol,
    host: host ? host.replace(/^\[|\]$/g, '') : null,
    port: port ?? DEFAULT_PORTS[protocol] ?? 80,
    path: path || null,
  };
}
