/** How each entity maps to a table: unique columns, foreign keys, Kong's cascade rules. */
import type { EntityName, Row, TableSpec } from './types.ts';

const fkId = (v: unknown): string => (v && typeof v === 'object' && 'id' in v ? String((v as { id: string }).id) : '');

export const TABLES: Record<EntityName, TableSpec> = {
  services: { entity: 'services', unique: ['name'], foreignKeys: [] },
  routes: {
    entity: 'routes',
    unique: ['name'],
    foreignKeys: [{ field: 'service', column: 'service_id', references: 'services', onDelete: 'restrict' }],
  },
  consumers: { entity: 'consumers', unique: ['username', 'custom_id'], foreignKeys: [] },
  plugins: {
    entity: 'plugins',
    unique: ['instance_name'],
    foreignKeys: [
      { field: 'route', column: 'route_id', references: 'routes', onDelete: 'cascade' },
      { field: 'service', column: 'service_id', references: 'services', onDelete: 'cascade' },
      { field: 'consumer', column: 'consumer_id', references: 'consumers', onDelete: 'cascade' },
    ],
    // Kong allows one plugin of a name per (route, service, consumer) combination.
    cacheKey: (row: Row) => ['plugins', row.name, fkId(row.route), fkId(row.service), fkId(row.consumer)].join(':'),
  },
  keyauth_credentials: {
    entity: 'keyauth_credentials',
    unique: ['key'],
    foreignKeys: [{ field: 'consumer', column: 'consumer_id', references: 'consumers', onDelete: 'cascade' }],
  },
};

/** Order in which entities are created (parents first) and deleted (children first). */
export const ENTITY_ORDER: EntityName[] = ['services', 'routes', 'consumers', 'plugins', 'keyauth_credentials'];

export function foreignId(row: Row, field: string): string | null {
  const v = row[field];
  return v && typeof v === 'object' && typeof v.id === 'string' ? v.id : null;
}
