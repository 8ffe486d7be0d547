/**
 * Incremental, strict UTF-8 decoding for upstream streams. A character split across network
 * chunks comes out whole; invalid bytes are an error, never a silent U+FFFD (docs/decisions.md, §2.4.4).
 */
import { TranslationError } from '../types.ts';

export class StrictUtf8Decoder {
  private decoder = new TextDecoder('utf-8', { fatal: true });

  /** Decodes one chunk; an incomplete trailing sequence waits for the next chunk. */
  push(chunk: Uint8Array): string {
    try {
      return this.decoder.decode(chunk, { stream: true });
    } catch {
      throw new TranslationError('upstream stream is not valid UTF-8');
    }
  }

  /** Flushes; a stream that ends inside a multi-byte character is invalid. */
  end(): string {
    try {
      return this.decoder.decode();
    } catch {
      throw new TranslationError('upstream stream ended inside a UTF-8 character');
    }
  }
}
