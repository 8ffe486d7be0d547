/**
 * What a mock model answers when a request asks for JSON of a schema (structured output, a forced
 * tool call): one value that satisfies it. Shared by the OpenAI, Anthropic, Gemini, Cohere and Ollama mocks; the
 * Bedrock mock keeps its own, which also follows `$ref`s and honours `minLength`.
 */
import { isObject } from './text.ts';

/** A JSON value that satisfies a (JSON or OpenAPI-subset) schema: the first enum value, each property, minimal arrays. */
export function schemaValue(schema: unknown, text: string, depth = 0): unknown {
  if (!isObject(schema) || depth > 8) return text;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const options = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : null;
  if (options && options.length > 0) return schemaValue(options[0], text, depth + 1);
  const type = String(Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : (schema.type ?? (isObject(schema.properties) ? 'object' : 'string'))).toLowerCase();
  switch (type) {
    case 'object': {
      const value: Record<string, unknown> = {};
      if (isObject(schema.properties)) for (const [name, sub] of Object.entries(schema.properties)) value[name] = schemaValue(sub, text, depth + 1);
      return value;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 1;
      return Array.from({ length: Math.max(min, 1) }, () => schemaValue(schema.items, text, depth + 1));
    }
    case 'integer':
      return typeof schema.minimum === 'number' ? Math.ceil(schema.minimum) : 1;
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1.5;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}
