/**
 * Reading an upstream body the gateway must look at (to translate it): bounded in size before and
 * after decompression, so neither a huge answer nor a gzip bomb can take a worker's memory
 * (docs/decisions.md, T41, T42). Only the encodings we asked for are undone; a chain is refused.
 */
import zlib from 'node:zlib';

export class BodyTooLargeError extends Error {}
export class BodyEncodingError extends Error {}

export async function readCapped(body: AsyncIterable<Buffer>, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > cap) throw new BodyTooLargeError(`upstream response larger than ${cap} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

const DECODERS: Record<string, (buf: Buffer, opts: zlib.ZlibOptions) => Buffer> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: (buf, opts) => zlib.brotliDecompressSync(buf, { maxOutputLength: opts.maxOutputLength }),
};

/** Undoes `Content-Encoding` within `cap` bytes of output. `identity` or none: the bytes as they are. */
export function decodeContent(buf: Buffer, encoding: string | string[] | undefined, cap: number): Buffer {
  if (encoding === undefined) return buf;
  const value = (Array.isArray(encoding) ? encoding.join(',') : encoding).trim().toLowerCase();
  if (value === '' || value === 'identity') return buf;
  if (value.includes(',')) throw new BodyEncodingError(`unsupported content encoding chain '${value}'`);
  const decode = DECODERS[value];
  if (!decode) throw new BodyEncodingError(`unsupported content encoding '${value}'`);
  try {
    return decode(buf, { maxOutputLength: cap });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new BodyTooLargeError(`decoded upstream response larger than ${cap} bytes`);
    throw new BodyEncodingError(`upstream response is not valid ${value}`);
  }
}
