/**
 * `request-termination`: answers the client itself, without calling the upstream. Useful to take
 * a route offline, and the simplest end-to-end proof of the plugin chain.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestTerminationConfig } from './schema.ts';
import { defaultMessage } from '../../proxy/errors.ts';

export const handler: PluginHandler<RequestTerminationConfig> = {
  access(ctx, conf) {
    if (conf.trigger) {
      const name = conf.trigger.toLowerCase();
      if (ctx.req.headers[name] === undefined && !ctx.queryParams().has(conf.trigger)) return undefined;
    }
    if (conf.echo) {
      return ctx.readBody().then((body) => {
        ctx.exit(conf.status_code, {
          message: conf.message ?? defaultMessage(conf.status_code),
          request: {
            scheme: 'http',
            host: ctx.req.headers.host ?? null,
            port: ctx.localPort,
            method: ctx.method,
            path: ctx.path,
            query: Object.fromEntries(ctx.queryParams()),
            headers: ctx.req.headers,
            raw_body: body.toString('utf8'),
          },
          matched_route: ctx.route.entity,
          matched_service: ctx.service ?? null,
        });
      });
    }
    if (conf.body !== null) {
      ctx.exit(conf.status_code, conf.body, { 'content-type': conf.content_type ?? 'application/json; charset=utf-8' });
      return undefined;
    }
    ctx.exit(conf.status_code, { message: conf.message ?? defaultMessage(conf.status_code) });
    return undefined;
  },
};
