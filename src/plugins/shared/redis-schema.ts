/**
 * Kong's `redis` record (3.6 `kong/tools/redis/schema.lua`), accepted by the counting plugins so a
 * Kong configuration loads unchanged. modelgate keeps one Redis connection per node
 * (`MODELGATE_REDIS_URL`, the shared counter store): `policy`/`strategy: redis` counts there, and
 * the per-plugin connection fields are informational. The password is a secret (never logged).
 */
import type { Field } from '../../schema/types.ts';
import { typedefs } from '../../schema/typedefs.ts';

export function redisRecord(): Field {
  return {
    type: 'record',
    fields: {
      host: typedefs.host(),
      port: typedefs.port({ default: 6379 }),
      timeout: typedefs.timeout(2000),
      username: { type: 'string', referenceable: true },
      password: { type: 'string', referenceable: true, encrypted: true, len_min: 0 },
      database: { type: 'integer', default: 0 },
      ssl: { type: 'boolean', default: false },
      ssl_verify: { type: 'boolean', default: false },
      server_name: { type: 'string' },
    },
  };
}
