/**
 * The shape of Kong's declarative format (`_format_version: "3.0"`) for the entities modelgate
 * has: which lists may appear at the top level, which may be nested in which parent (and the
 * foreign key the nesting sets), and the keys that are metadata rather than configuration.
 */
import type { EntityName } from '../store/types.ts';

export const FORMAT_VERSION = '3.0';

/** Top-level lists, in the order entities are processed (parents first). */
export const TOP_LEVEL: EntityName[] = ['services', 'routes', 'consumers', 'plugins', 'keyauth_credentials'];

export interface Nesting {
  /** Key of the list inside the parent (`routes` inside a service). */
  key: string;
  entity: EntityName;
  /** The child's foreign key the nesting sets to the parent (`service`). */
  field: string;
}

/** Kong nests any entity under an entity it has a foreign key to. */
export const NESTED: Record<EntityName, Nesting[]> = {
  services: [
    { key: 'routes', entity: 'routes', field: 'service' },
    { key: 'plugins', entity: 'plugins', field: 'service' },
  ],
  routes: [{ key: 'plugins', entity: 'plugins', field: 'route' }],
  consumers: [
    { key: 'plugins', entity: 'plugins', field: 'consumer' },
    { key: 'keyauth_credentials', entity: 'keyauth_credentials', field: 'consumer' },
  ],
  plugins: [],
  keyauth_credentials: [],
};

/** Kong's `entity_type` in flattened errors. */
export const SINGULAR: Record<EntityName, string> = {
  services: 'service',
  routes: 'route',
  consumers: 'consumer',
  plugins: 'plugin',
  keyauth_credentials: 'keyauth_credential',
};

/** Top-level keys that are not entities. */
export const META_KEYS = new Set(['_format_version', '_transform', '_comment', '_workspace', '_ignore', '_info', '_konnect']);

/** Keys any entity may carry that are comments, not configuration. */
export const ENTITY_META_KEYS = new Set(['_comment', '_ignore']);

/** Kong entities modelgate does not have: accepted when empty, refused (with this note) otherwise. */
export const UNSUPPORTED_ENTITIES = new Set([
  'upstreams',
  'targets',
  'certificates',
  'ca_certificates',
  'snis',
  'vaults',
  'key_sets',
  'keys',
  'filter_chains',
  'acls',
  'basicauth_credentials',
  'hmacauth_credentials',
  'jwt_secrets',
  'oauth2_credentials',
  'mtls_auth_credentials',
  'parameters',
  'workspaces',
]);
