/**
 * The client's side of an AI exchange: its body read within the plugin's size limit and parsed as
 * strict JSON, with Kong's messages for what cannot be read, in OpenAI's envelope
 * (`{"error":{"message":...,"type":"invalid_request_error","code":"invalid_body",...}}`).
 */
import type { RequestContext } from '../../proxy/context.ts';
import { JsonBodyError, decodeUtf8, parseJsonText } from '../../util/json.ts';
import type { ClientJson } from '../../util/json-reuse.ts';
import { aiError } from './openai-error.ts';

const BAD_BODY = 'content-type header does not match request body, or bad JSON formatting';
const badBody = (message = BAD_BODY) => aiError(400, message, { code: 'invalid_body' });

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'application/json') return true; // Kong treats a missing Content-Type as JSON
  const type = value.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * The client's body, parsed. `source` is the body as it came (bytes, text, parsed value) when the
 * value is still exactly what its text says, so a driver may copy parts of it unchanged; null when
 * a plugin before us replaced the request.
 */
export async function readClientJson(ctx: RequestContext, limit: number): Promise<{ value: unknown; raw: string; source: ClientJson | null }> {
  if (!isJsonContentType(ctx.req.headers['content-type'])) throw badBody();
  const buf = await ctx.readBody(limit);
  let raw: string;
  try {
    raw = decodeUtf8(buf);
  } catch {
    throw badBody('request body is not valid UTF-8');
  }
  // a plugin before us (prompt decorator, template) may have replaced the request
  if (ctx.jsonParsed) return { value: await ctx.readJson(), raw, source: null };
  let value: unknown;
  try {
    value = parseJsonText(raw);
  } catch (e) {
    if (e instanceof JsonBodyError && e.reason === 'depth') throw badBody(e.message);
    throw badBody();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badBody();
  ctx.setJson(value);
  return { value, raw, source: { bytes: buf, text: raw, value } };
}
