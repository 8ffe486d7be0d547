/**
 * The text of a canonical request, whatever API it came in: what the gateway counts when a
 * provider reports no usage (src/llm/tokens.ts estimates tokens from it) and what prompt checks
 * read. Instructions, every message's text, tool results, earlier tool calls' arguments and the
 * tool definitions all reach the model, so all of them count.
 */
import type { CanonicalRequest, Part } from './types.ts';

function partText(part: Part): string {
  switch (part.type) {
    case 'text':
    case 'refusal':
    case 'reasoning':
      return part.text;
    case 'tool_call':
      return `${part.name} ${part.arguments}`;
    case 'tool_result':
      return part.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    default:
      return '';
  }
}

export function promptTextOf(req: CanonicalRequest): string {
  if (req.kind === 'completions' && typeof req.prompt === 'string') return req.prompt;
  const out: string[] = [];
  for (const message of req.messages) for (const part of message.parts) {
    const text = partText(part);
    if (text !== '') out.push(text);
  }
  for (const tool of req.tools ?? []) if (tool.type === 'function') out.push(`${tool.name} ${tool.description ?? ''} ${JSON.stringify(tool.parameters)}`);
  return out.join('\n');
}
