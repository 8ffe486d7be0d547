/**
 * A plugin instance's identity as counters see it. Handlers receive their compiled config only;
 * the instance (its id and route/service scope) is found once in the request's chain and cached.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { PluginInstance } from '../../snapshot/compile.ts';

const cache = new WeakMap<object, PluginInstance>();

export function instanceOf(ctx: RequestContext, conf: object): PluginInstance | undefined {
  let inst = cache.get(conf);
  if (!inst) {
    inst = ctx.chain.find((p) => p.conf === conf);
    if (inst) cache.set(conf, inst);
  }
  return inst;
}

/** Kong's counter scope for rate-limiting: the plugin's own route and service ids (empty when global). */
export function routeServiceScope(ctx: RequestContext, conf: object): string {
  const e = instanceOf(ctx, conf)?.entity;
  return `${e?.route?.id ?? ''}:${e?.service?.id ?? ''}`;
}
