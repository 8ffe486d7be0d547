/**
 * Deterministic ids for declarative entities, computed as Kong computes them
 * (`kong/db/schema/others/declarative_config.lua`): a UUIDv5 of the entity's endpoint key (or,
 * for plugins, a cache key over name and scopes) in a per-entity namespace, itself the UUIDv5 of
 * the entity name in Kong's fixed namespace. The same file therefore gets the same ids on every
 * load and on every node, and a file that Kong loaded keeps Kong's ids here.
 */
import { createHash } from 'node:crypto';

/** Kong's `_entities` namespace. */
const ENTITIES_NAMESPACE = 'fd02801f-0957-4a15-a55a-c8d9606f30b5';

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** RFC 9562 version 5 UUID (SHA-1 of namespace bytes + name). */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const namespaces = new Map<string, string>();

/** The id Kong gives an entity of type `entity` (its schema name) identified by `key`. */
export function entityId(entity: string, key: string): string {
  let ns = namespaces.get(entity);
  if (!ns) {
    ns = uuidV5(ENTITIES_NAMESPACE, entity);
    namespaces.set(entity, ns);
  }
  return uuidV5(ns, key);
}
