/**
 * OpenAI's models endpoints on an AI route: `GET <route>/models` lists the models the route
 * serves and `GET <route>/models/{id}` describes one (404 `model_not_found` for any other), so
 * `client.models.list()` / `client.models.retrieve(id)` work with the SDK's `baseURL` set to the
 * route. The first `/models` segment of the path counts (`<route>/models`, `<route>/v1/models`);
 * an id is what follows it, percent-decoded, slashes included (`meta-llama/Llama-3-8b`, sent by
 * the SDKs as `meta-llama%2FLlama-3-8b` or by hand as is).
 */
import type { RequestContext } from '../../proxy/context.ts';
import { writeJson } from '../../proxy/respond.ts';
import { modelNotFound } from './openai-error.ts';

export interface ModelEntry {
  id: string;
  object: 'model';
  /** Unix seconds. */
  created: number;
  owned_by: string;
}

const SEGMENT = '/models';

/** `{ id }` for `GET …/models/{id}`, `{ id: null }` for `GET …/models`, null for anything else. */
export function modelsRequest(ctx: RequestContext): { id: string | null } | null {
  if (ctx.method !== 'GET') return null;
  const path = ctx.path;
  for (let i = path.indexOf(SEGMENT); i !== -1; i = path.indexOf(SEGMENT, i + 1)) {
    const end = i + SEGMENT.length;
    if (end !== path.length && path[end] !== '/') continue; // `/models-v2`: not the segment
    let last = path.length;
    while (last > end && path[last - 1] === '/') last--;
    const raw = path.slice(end + 1, Math.max(last, end + 1));
    if (raw === '') return { id: null };
    try {
      return { id: decodeURIComponent(raw) };
    } catch {
      return { id: raw }; // a stray `%`: the id as sent
    }
  }
  return null;
}

/**
 * When the route's plugin was created (its row's `created_at`), as the models' `created`: the
 * moment the route began serving them. The time of the request when a plugin has no such row
 * (never with a stored configuration).
 */
export function pluginCreatedAt(ctx: RequestContext, conf: unknown): number {
  const created = ctx.chain.find((p) => p.conf === conf)?.entity.created_at;
  return typeof created === 'number' ? created : Math.floor(Date.now() / 1000);
}

/** Anthropic's model object (`GET /v1/models`, https://docs.anthropic.com/en/api/models-list). */
function anthropicModel(entry: ModelEntry): Record<string, unknown> {
  return { type: 'model', id: entry.id, display_name: entry.id, created_at: new Date(entry.created * 1000).toISOString() };
}

/**
 * Answers a models request from the route's entries; `any` describes an id no entry has when the
 * route serves whatever model the client names (an ai-proxy without `model.name`). An Anthropic
 * route answers in Anthropic's shapes (a page with `has_more`, model objects with `display_name`).
 */
export function answerModels(ctx: RequestContext, asked: { id: string | null }, entries: ModelEntry[], any?: (id: string) => ModelEntry, api: 'openai' | 'anthropic' = 'openai'): void {
  if (asked.id === null) {
    const list =
      api === 'anthropic'
        ? { data: entries.map(anthropicModel), has_more: false, first_id: entries[0]?.id ?? null, last_id: entries.at(-1)?.id ?? null }
        : { object: 'list', data: entries };
    return writeJson(ctx.res, 200, list, ctx.requestId, ctx.startedAt);
  }
  const id = asked.id;
  const entry = entries.find((e) => e.id === id) ?? any?.(id);
  if (!entry) throw modelNotFound(id);
  writeJson(ctx.res, 200, api === 'anthropic' ? anthropicModel(entry) : entry, ctx.requestId, ctx.startedAt);
}
