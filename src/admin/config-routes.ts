/**
 * `/config` (Kong's DB-less endpoint) and DB-less write refusal, plugged into the Admin API
 * through `AdminContext.extend`.
 * - `GET /config`: the configuration being served, in the declarative format (`{"config": yaml}`).
 * - `POST /config`: replaces the whole configuration atomically. The body is a declarative
 *   document (JSON with `_format_version`), a `config` field holding one (JSON, form or
 *   multipart — `curl -F config=@kong.yml`), or raw YAML (`Content-Type: application/yaml`).
 *   An invalid one changes nothing and returns every error (400, Kong's code 14, with
 *   `flattened_errors`).
 * - Every other write is refused with Kong's DB-less message (405, code 12), except schema
 *   validation, which changes nothing.
 * With a database, `/config` answers 400 as Kong does: the database is the configuration.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { MAX_DECLARATIVE_ARRAY_ITEMS, parseBody } from './body.ts';
import { COLLECTIONS, NESTINGS } from './crud.ts';
import { ERROR_CODES, HttpError, daoError } from '../entities/errors.ts';
import { isPlainObject } from '../schema/validate.ts';
import type { ConfigData, EntityName } from '../store/types.ts';
import { declarativeError, exportConfig, flattenConfig, loadDeclarativeText, toYaml, type FlattenResult } from '../declarative/index.ts';

export interface DeclarativeTarget {
  /** Replaces the configuration (validated) and resolves once it is saved and in the store. */
  replace(data: ConfigData): Promise<void>;
  loadAll(): Promise<ConfigData>;
}

export interface ConfigRoutesOptions {
  /** DB-less mode; absent when a database holds the configuration. */
  declarative: DeclarativeTarget | null;
  /** Makes the new configuration reach the proxies before the answer (read-your-writes). */
  afterWrite: () => Promise<void>;
  log: Logger;
}

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Kong's DB-less messages per method (`kong/db/strategies/off`). */
const OPERATIONS: Record<string, string> = { POST: 'create', PUT: 'create or update', PATCH: 'update', DELETE: 'remove' };
const BY_PATH = new Map<string, EntityName>([...COLLECTIONS.map((c) => [c.path, c.entity] as const), ...NESTINGS.map((n) => [n.childPath, n.child] as const)]);

const onlyDbless = () => new HttpError(400, { message: 'this endpoint is only available when modelgate runs without a database (MODELGATE_DATABASE=off)' });

/** The entity a route URL pattern (`/services/:p1/routes`) is about. */
function entityOfRoute(url: string | undefined): EntityName | undefined {
  if (!url) return undefined;
  const segments = url.split('/').filter((s) => s && !s.startsWith(':'));
  for (let i = segments.length - 1; i >= 0; i--) {
    const e = BY_PATH.get(segments[i]);
    if (e) return e;
  }
  return undefined;
}

async function readConfig(req: FastifyRequest): Promise<FlattenResult> {
  const raw = req.body as Buffer | undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (YAML_TYPES.has(type)) return loadDeclarativeText(raw?.toString('utf8') ?? '');
  const body = await parseBody(req.headers['content-type'], raw, MAX_DECLARATIVE_ARRAY_ITEMS);
  const value = body.value;
  if (!body.fromForm && value._format_version !== undefined) return flattenConfig(value);
  const config = value.config;
  if (typeof config === 'string') return loadDeclarativeText(config);
  if (isPlainObject(config)) return flattenConfig(config);
  throw new HttpError(400, { message: 'expected a declarative configuration' });
}

function keyedById(data: ConfigData): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(data).map(([entity, rows]) => [entity, Object.fromEntries(rows.map((r) => [r.id, r]))]));
}

export function configRoutes(opts: ConfigRoutesOptions): (app: FastifyInstance) => void {
  return (app) => {
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const target = opts.declarative;
      if (req.method === 'GET') {
        if (!target) throw onlyDbless();
        return reply.code(200).send({ config: toYaml(exportConfig(await target.loadAll())) });
      }
      if (req.method !== 'POST') return reply.code(405).send({ message: 'Method not allowed' });
      if (!target) throw onlyDbless();
      const started = Date.now();
      const result = await readConfig(req);
      if (result.errors) {
        opts.log.warn({ errors: result.errors.issues.length }, 'POST /config: invalid declarative configuration refused; the current one stays');
        throw declarativeError(result.errors);
      }
      for (const w of result.warnings) opts.log.warn(`declarative configuration: ${w}`);
      await target.replace(result.data!);
      await opts.afterWrite();
      opts.log.info({ ms: Date.now() - started }, 'POST /config: configuration replaced');
      return reply.code(201).send(keyedById(result.data!));
    };
    app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/config', handler });

    if (!opts.declarative) return;
    // DB-less: the configuration changes only as a whole, through POST /config.
    app.addHook('preHandler', async (req, reply) => {
      if (READ_METHODS.has(req.method)) return undefined;
      const url = req.routeOptions.url;
      if (url === '/config' || url?.startsWith('/schemas/')) return undefined;
      const entity = entityOfRoute(url);
      if (!entity) return undefined;
      const err = daoError(ERROR_CODES.OPERATION_UNSUPPORTED, `cannot ${OPERATIONS[req.method] ?? 'change'} '${entity}' entities when not using a database`);
      return reply.code(err.status).send(err.body);
    });
  };
}
