/**
 * Reading OpenAI message content (a string or an array of parts) for providers whose formats
 * differ: flattening to text, finding images, and refusing what a provider cannot express.
 */
import { RequestError, type ChatMessage, type ContentPart } from './types.ts';
import { isObject } from './json.ts';

export type Content = ChatMessage['content'];

/** The text of a message: a string as is, text parts joined by newlines (so words never run together). */
export function textOf(content: Content): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const part of content) if (isTextPart(part)) texts.push(part.text);
  return texts.join('\n');
}

export function isTextPart(part: ContentPart): part is { type: 'text'; text: string } {
  return part.type === 'text' && typeof part.text === 'string';
}

export function imageUrlOf(part: ContentPart): string | undefined {
  if (part.type !== 'image_url') return undefined;
  const image = part.image_url;
  return isObject(image) && typeof image.url === 'string' ? image.url : undefined;
}

/** Text of a message for a provider that only takes text: any other part is a RequestError naming it. */
export function textOnly(content: Content, path: string, provider: string): string {
  if (Array.isArray(content)) {
    content.forEach((part, j) => {
      if (!isTextPart(part)) throw unsupportedPart(part, `${path}.content[${j}]`, provider);
    });
  }
  return textOf(content);
}

export function unsupportedPart(part: ContentPart, path: string, provider: string): RequestError {
  return new RequestError(`${path}.type: '${String(part.type)}' content is not supported by the ${provider} provider`);
}

export interface DataUrl {
  mediaType: string;
  data: string;
}

/** `data:image/png;base64,....` → its media type and base64 payload; anything else → undefined. */
export function parseDataUrl(url: string): DataUrl | undefined {
  const match = /^data:([\w.+-]+\/[\w.+-]+);base64,/.exec(url);
  if (!match) return undefined;
  return { mediaType: match[1], data: url.slice(match[0].length) };
}
