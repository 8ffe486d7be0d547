/** Consumers and key-auth credentials (Kong 3.6 `consumers.lua`, `keyauth_credentials`). */
import type { EntitySchema } from '../schema/types.ts';
import { typedefs } from '../schema/typedefs.ts';

export const consumerSchema: EntitySchema = {
  name: 'consumers',
  endpoint_key: 'username',
  fields: {
    id: typedefs.uuid(),
    created_at: typedefs.autoTimestamp(),
    updated_at: typedefs.autoTimestamp(),
    username: { type: 'string', unique: true },
    custom_id: { type: 'string', unique: true },
    tags: typedefs.tags(),
  },
  entity_checks: [{ at_least_one_of: ['custom_id', 'username'] }],
};

export const keyAuthCredentialSchema: EntitySchema = {
  name: 'keyauth_credentials',
  endpoint_key: 'key',
  fields: {
    id: typedefs.uuid(),
    created_at: typedefs.autoTimestamp(),
    consumer: { type: 'foreign', reference: 'consumers', required: true },
    key: { type: 'string', unique: true, auto: true, referenceable: true, encrypted: true },
    ttl: { type: 'integer', between: [0, 100000000] },
    tags: typedefs.tags(),
  },
};
