/**
 * Admin API request bodies, as Kong accepts them: JSON, `application/x-www-form-urlencoded` with
 * Kong's dotted keys and arrays, and `multipart/form-data` (same key rules). Form values are
 * strings; the entity's schema turns them into numbers, booleans and arrays (infer.ts).
 */
import { Readable } from 'node:stream';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { HttpError } from '../entities/errors.ts';
import { JsonBodyError, parseJsonBody, decodeUtf8 } from '../util/json.ts';
import { buildArgs, FormError, MAX_FORM_ARGS, parseUrlEncoded } from './form.ts';
import { isPlainObject } from '../schema/validate.ts';

export interface ParsedBody {
  value: Record<string, unknown>;
  /** Values arrived as strings and need schema inference. */
  fromForm: boolean;
}

const badRequest = (message: string) => new HttpError(400, { message });

/**
 * The most items one JSON array may hold in an Admin API body. The 10 MiB body limit alone lets
 * `[1,1,1,…]` carry five million items, each then validated, stored and compiled into every
 * worker's router. No entity field needs anywhere near this many (Kong caps form bodies at 1000
 * arguments); 10,000 stays generous for big `paths`, `hosts` or `tags` lists. A declarative
 * `/config` body lists whole entity kinds in one array, so it gets its own, larger bound.
 */
export const MAX_JSON_ARRAY_ITEMS = 10_000;
export const MAX_DECLARATIVE_ARRAY_ITEMS = 1_000_000;

/** Whether any array in a parsed JSON value (nesting already bounded) holds more than `limit` items. */
function hasLongArray(value: unknown, limit: number): boolean {
  if (Array.isArray(value)) return value.length > limit || value.some((v) => hasLongArray(v, limit));
  if (typeof value === 'object' && value !== null) return Object.values(value).some((v) => hasLongArray(v, limit));
  return false;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

export async function parseBody(contentType: string | undefined, raw: Buffer | undefined, maxArrayItems = MAX_JSON_ARRAY_ITEMS): Promise<ParsedBody> {
  if (!raw || raw.length === 0) return { value: {}, fromForm: true };
  const type = mediaType(contentType);
  if (type === 'application/json' || type.endsWith('+json')) return { value: parseJsonObject(raw, maxArrayItems), fromForm: false };
  if (type === 'application/x-www-form-urlencoded' || type === '') return { value: parseForm(raw), fromForm: true };
  if (type === 'multipart/form-data') return { value: await parseMultipart(contentType!, raw), fromForm: true };
  throw new HttpError(415, { message: `Unsupported Content-Type: ${type}` });
}

export function parseJsonObject(raw: Buffer, maxArrayItems = MAX_JSON_ARRAY_ITEMS): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJsonBody(raw);
  } catch (e) {
    if (e instanceof JsonBodyError && e.reason === 'depth') throw badRequest(`Cannot parse JSON body: ${e.message}`);
    if (e instanceof JsonBodyError && e.reason === 'utf8') throw badRequest('Cannot parse JSON body: invalid UTF-8');
    throw badRequest('Cannot parse JSON body');
  }
  if (!isPlainObject(value)) throw badRequest('Cannot parse JSON body: expected a JSON object');
  if (hasLongArray(value, maxArrayItems)) throw badRequest(`Cannot parse JSON body: an array has more than ${maxArrayItems} items`);
  return value;
}

function parseForm(raw: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = decodeUtf8(raw);
  } catch {
    throw badRequest('Cannot parse form body: invalid UTF-8');
  }
  try {
    return parseUrlEncoded(text);
  } catch (e) {
    if (e instanceof FormError) throw badRequest(e.message);
    throw e;
  }
}

function parseMultipart(contentType: string, raw: Buffer): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const pairs: [string, string][] = [];
    let bb: BusboyInstance;
    try {
      bb = new Busboy({ headers: { 'content-type': contentType }, limits: { fields: MAX_FORM_ARGS + 1, files: MAX_FORM_ARGS + 1, parts: MAX_FORM_ARGS + 1 } });
    } catch {
      reject(badRequest('Cannot parse multipart body'));
      return;
    }
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      reject(e);
    };
    bb.on('field', (name: string, value: string) => pairs.push([name, value]));
    bb.on('file', (name: string, stream: Readable) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => pairs.push([name, Buffer.concat(chunks).toString('utf8')]));
      // a file part cut short by the end of the body errors here: unhandled, it would crash the primary
      stream.on('error', () => fail(badRequest('Cannot parse multipart body')));
    });
    bb.on('partsLimit', () => fail(badRequest('Too many arguments')));
    bb.on('fieldsLimit', () => fail(badRequest('Too many arguments')));
    bb.on('filesLimit', () => fail(badRequest('Too many arguments')));
    bb.on('error', () => fail(badRequest('Cannot parse multipart body')));
    bb.on('finish', () => {
      if (failed) return;
      try {
        resolve(buildArgs(pairs));
      } catch (e) {
        fail(e instanceof FormError ? badRequest(e.message) : (e as Error));
      }
    });
    Readable.from([raw]).pipe(bb);
  });
}
