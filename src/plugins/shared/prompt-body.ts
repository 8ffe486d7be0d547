/**
 * The request body as the AI prompt plugins see it: JSON, read once and shared with ai-proxy
 * (`ctx.readJson` / `ctx.setJson`), so a decorator's or a template's change is exactly what
 * ai-proxy sends. The size limit is the plugin's own, never above the route's ai-proxy limit
 * (the body is read once: a larger limit here would bypass ai-proxy's).
 */
import type { RequestContext } from '../../proxy/context.ts';
import { ClientError } from '../../proxy/errors.ts';
import { JsonBodyError } from '../../util/json.ts';

/** Kong's AI plugin error shape. */
export function promptError(status: number, message: string): ClientError {
  return new ClientError(status, { error: { message } });
}

function aiProxyLimit(ctx: RequestContext): number {
  const p = ctx.chain.find((x) => x.name === 'ai-proxy');
  const limit = (p?.conf as { config?: { max_request_body_size?: unknown } } | undefined)?.config?.max_request_body_size;
  return typeof limit === 'number' ? limit : Infinity;
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  const type = value.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

export async function readPromptJson(ctx: RequestContext, maxSize: number): Promise<Record<string, unknown>> {
  const notJson = promptError(400, 'this LLM route only supports application/json requests');
  if (!isJsonContentType(ctx.req.headers['content-type'])) throw notJson;
  let value: unknown;
  try {
    value = await ctx.readJson(Math.min(maxSize, aiProxyLimit(ctx)));
  } catch (e) {
    if (e instanceof JsonBodyError) throw notJson;
    throw e;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw notJson;
  return value as Record<string, unknown>;
}
