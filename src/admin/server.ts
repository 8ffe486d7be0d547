/**
 * The Admin API (Kong-compatible) on Fastify. Routes come from the entity tables in crud.ts; every
 * answer, error or not, is JSON in Kong's shapes. Bodies are read raw and parsed here (body.ts) so
 * JSON, form and multipart bodies all get Kong's rules and Kong's error messages.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Settings } from '../settings.ts';
import type { Dao } from '../store/dao.ts';
import type { EntityName } from '../store/types.ts';
import { HttpError, schemaViolation } from '../entities/errors.ts';
import { COLLECTIONS, NESTINGS, PARENT_LOOKUPS, EntityApi, bodyFor, type ListQuery } from './crud.ts';
import { parseBody, type ParsedBody } from './body.ts';
import { AdminGuard } from './guard.ts';
import { entitySchemaJson } from './schema-json.ts';
import { schemaFor, validateEntity, serviceSchema, routeSchema, consumerSchema, keyAuthCredentialSchema } from '../entities/index.ts';
import { getPluginSchema, pluginNames } from '../plugins/registry.ts';
import { pluginEntitySchema } from '../entities/plugins.ts';
import { isPlainObject } from '../schema/validate.ts';
import { registerMetricsRoutes } from './metrics-routes.ts';
import { registerUsageRoutes } from './usage-routes.ts';
import { allRows, registerBudgetRoutes } from './budget-routes.ts';
import { spendStore } from '../spend/store.ts';
import { errorAnswer, logErrorAnswer } from './error-reply.ts';
import { registerTestFaults } from './test-faults.ts';
import { enterRequestScope } from './request-scope.ts';

export const ADMIN_BODY_LIMIT = 10 * 1024 * 1024;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof METHODS)[number];

export interface AdminContext {
  settings: Settings;
  dao: Dao;
  log: Logger;
  /** Makes a committed write visible to the proxies before the Admin API answers. */
  afterWrite: () => Promise<void>;
  /** `GET /` */
  info: () => Record<string, unknown>;
  /** `GET /status` */
  status: () => Promise<Record<string, unknown>>;
  /** `GET /cluster/nodes`: this node first, then its peers (PostgreSQL mode; src/server/cluster-nodes.ts). */
  clusterNodes?: () => Promise<unknown>;
  /** Refuses writes with this error when set (DB-less mode, database down ...). */
  readOnly?: () => HttpError | null;
  /** Extra routes (declarative `/config`, `/metrics` ...). */
  extend?: (app: FastifyInstance, api: EntityApi) => void;
}

type Handler = (req: FastifyRequest, body: () => Promise<ParsedBody>) => Promise<{ status: number; body?: unknown }>;
type MethodTable = Partial<Record<Method, Handler>>;

const SCHEMAS_BY_NAME: Record<string, () => ReturnType<typeof schemaFor>> = {
  services: () => serviceSchema,
  routes: () => routeSchema,
  consumers: () => consumerSchema,
  keyauth_credentials: () => keyAuthCredentialSchema,
  plugins: () => pluginEntitySchema(undefined),
};

function params(req: FastifyRequest): Record<string, string> {
  return req.params as Record<string, string>;
}

function query(req: FastifyRequest): ListQuery {
  return req.query as ListQuery;
}

function pathOf(req: FastifyRequest): string {
  const url = req.url;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function createAdminServer(ctx: AdminContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: ADMIN_BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    return503OnClosing: true,
  });
  const api = new EntityApi(ctx.dao, ctx.afterWrite);
  const guard = new AdminGuard(ctx.settings);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ADMIN_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    const cors = guard.corsOrigin(req.headers.origin);
    if (cors) {
      reply.header('access-control-allow-origin', cors);
      reply.header('vary', 'Origin');
      reply.header('access-control-allow-credentials', 'true');
    }
    const verdict = guard.check(req.method, req.headers);
    if (verdict) return reply.code(verdict.status).send({ message: verdict.message });
    if (req.method === 'OPTIONS') {
      if (!cors) return reply.code(403).send({ message: 'Cross-origin requests to the Admin API are not allowed' });
      reply.header('access-control-allow-methods', METHODS.join(', '));
      reply.header('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'Content-Type');
      reply.header('access-control-max-age', '3600');
      return reply.code(204).send();
    }
    return undefined;
  });

  // an error thrown outside a handler's promise chain still finds its request (crash-guard.ts)
  enterRequestScope(app);

  // at debug, one line per request: the control plane's access log (nothing is added otherwise)
  if (ctx.log.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (req, reply) => {
      ctx.log.debug({ method: req.method, path: pathOf(req), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'admin request');
    });
  }

  app.setErrorHandler((err, req, reply) => {
    const answer = errorAnswer(err);
    logErrorAnswer(ctx.log, req, answer.status, err);
    if (answer.headers) reply.headers(answer.headers);
    return reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ message: 'Not found' }));

  const route = (url: string, table: MethodTable) => {
    app.route({
      method: [...METHODS],
      url,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const handler = table[req.method as Method];
        if (!handler) return reply.code(405).send({ message: 'Method not allowed' });
        if (req.method !== 'GET') {
          const blocked = ctx.readOnly?.();
          if (blocked) throw blocked;
        }
        const body = () => parseBody(req.headers['content-type'], req.body as Buffer | undefined);
        const out = await handler(req, body);
        if (out.status === 204) return reply.code(204).send();
        return reply.code(out.status).send(out.body);
      },
    });
  };

  registerEntityRoutes(route, api);
  registerInfoRoutes(route, ctx);
  registerMetricsRoutes(app, ctx);
  registerUsageRoutes(app, { store: spendStore, disabled: () => !ctx.settings.spend_log, find: (entity, key) => ctx.dao.find(entity, key) });
  registerBudgetRoutes(app, { store: spendStore, disabled: () => !ctx.settings.spend_log, all: (entity) => allRows((q) => ctx.dao.page(entity, q)) });
  ctx.extend?.(app, api);
  registerTestFaults(app);
  return app;
}

type Register = (url: string, table: MethodTable) => void;

function entityMethods(entity: EntityName, api: EntityApi, resolve: (req: FastifyRequest) => Promise<string>, withParent?: (req: FastifyRequest, input: Record<string, unknown>) => Promise<Record<string, unknown>>): MethodTable {
  const input = async (req: FastifyRequest, body: () => Promise<ParsedBody>) => {
    const value = bodyFor(entity, await body());
    return withParent ? withParent(req, value) : value;
  };
  return {
    GET: async (req) => ({ status: 200, body: await api.get(entity, await resolve(req)) }),
    PATCH: async (req, body) => ({ status: 200, body: await api.update(entity, await resolve(req), await input(req, body)) }),
    PUT: async (req, body) => ({ status: 200, body: await api.upsert(entity, params(req).p2 ?? params(req).p1, await input(req, body)) }),
    DELETE: async (req) => {
      try {
        await api.delete(entity, await resolve(req));
      } catch (e) {
        // Kong: deleting what is not there is not an error
        if (e instanceof HttpError && e.status === 404) return { status: 204 };
        throw e;
      }
      return { status: 204 };
    },
  };
}

function registerEntityRoutes(route: Register, api: EntityApi): void {
  for (const c of COLLECTIONS) {
    route(`/${c.path}`, {
      GET: async (req) => ({ status: 200, body: await api.list(c.entity, pathOf(req), query(req)) }),
      POST: async (req, body) => ({ status: 201, body: await api.create(c.entity, bodyFor(c.entity, await body())) }),
    });
    route(`/${c.path}/:p1`, entityMethods(c.entity, api, async (req) => params(req).p1));
  }

  for (const n of NESTINGS) {
    const setParent = async (req: FastifyRequest, value: Record<string, unknown>) => {
      const parent = await api.parent(n, params(req).p1);
      return { ...value, [n.field]: { id: parent.id } };
    };
    route(`/${n.parentPath}/:p1/${n.childPath}`, {
      GET: async (req) => {
        const parent = await api.parent(n, params(req).p1);
        return { status: 200, body: await api.list(n.child, pathOf(req), query(req), { column: api.foreignColumn(n), value: parent.id }) };
      },
      POST: async (req, body) => ({ status: 201, body: await api.create(n.child, await setParent(req, bodyFor(n.child, await body()))) }),
    });
    const childKey = async (req: FastifyRequest) => {
      const parent = await api.parent(n, params(req).p1);
      return (await api.child(n, parent, params(req).p2)).id;
    };
    const methods = entityMethods(n.child, api, childKey, setParent);
    // PUT on a nested entity must not move a child found under another parent
    const put = methods.PUT!;
    methods.PUT = async (req, body) => {
      const parent = await api.parent(n, params(req).p1);
      try {
        await api.child(n, parent, params(req).p2);
      } catch (e) {
        if (!(e instanceof HttpError && e.status === 404)) throw e;
      }
      return put(req, body);
    };
    route(`/${n.parentPath}/:p1/${n.childPath}/:p2`, methods);
  }

  for (const l of PARENT_LOOKUPS) {
    route(`/${l.childPath}/:p1/${l.field}`, {
      GET: async (req) => {
        const child = await api.get(l.child, params(req).p1);
        const ref = child[l.field]?.id as string | undefined;
        if (!ref) throw new HttpError(404, { message: 'Not found' });
        return { status: 200, body: await api.get(l.parent, ref) };
      },
    });
  }
}

function registerInfoRoutes(route: Register, ctx: AdminContext): void {
  route('/', { GET: async () => ({ status: 200, body: ctx.info() }) });
  route('/status', { GET: async () => ({ status: 200, body: await ctx.status() }) });
  // a route of its own, not a `/status` field: `/status` stays this node's (probes poll it, the
  // status listener serves it) and costs no read of the registry (docs/decisions.md)
  if (ctx.clusterNodes) {
    const nodes = ctx.clusterNodes;
    route('/cluster/nodes', { GET: async () => ({ status: 200, body: await nodes() }) });
  }
  route('/plugins/enabled', { GET: async () => ({ status: 200, body: { enabled_plugins: pluginNames() } }) });
  route('/schemas/plugins/:p1', {
    GET: async (req) => {
      const schema = getPluginSchema(params(req).p1);
      if (!schema) throw new HttpError(404, { message: `No plugin named '${params(req).p1}'` });
      return { status: 200, body: entitySchemaJson({ name: schema.name, fields: { protocols: schema.protocols ?? { type: 'set' }, config: schema.config } }) };
    },
  });
  route('/schemas/:p1', {
    GET: async (req) => {
      const make = SCHEMAS_BY_NAME[params(req).p1];
      if (!make) throw new HttpError(404, { message: `No entity named '${params(req).p1}'` });
      return { status: 200, body: entitySchemaJson(make()) };
    },
  });
  const validator = (entity: EntityName) => async (_req: FastifyRequest, body: () => Promise<ParsedBody>) => {
    const input = bodyFor(entity, await body());
    if (!isPlainObject(input)) throw new HttpError(400, { message: 'Cannot parse JSON body' });
    const res = validateEntity(entity, input);
    if (res.errors) throw schemaViolation(res.errors);
    return { status: 200, body: { message: 'schema validation successful' } };
  };
  for (const name of Object.keys(SCHEMAS_BY_NAME)) route(`/schemas/${name}/validate`, { POST: validator(name as EntityName) });
  route('/endpoints', {
    GET: async () => ({ status: 200, body: { data: endpointList() } }),
  });
}

function endpointList(): string[] {
  const out = ['/', '/status', '/cluster/nodes', '/endpoints', '/plugins/enabled', '/schemas/{name}', '/schemas/plugins/{name}'];
  for (const c of COLLECTIONS) out.push(`/${c.path}`, `/${c.path}/{${c.entity}}`);
  for (const n of NESTINGS) out.push(`/${n.parentPath}/{${n.parent}}/${n.childPath}`, `/${n.parentPath}/{${n.parent}}/${n.childPath}/{${n.child}}`);
  return out.sort();
}
