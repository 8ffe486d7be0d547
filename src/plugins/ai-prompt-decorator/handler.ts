/**
 * `ai-prompt-decorator`: the configured messages go before (`prompts.prepend`) and after
 * (`prompts.append`) the client's chat messages, in their configured order, before ai-proxy
 * builds the provider request. Only chat requests can be decorated (a completions `prompt`, an
 * embeddings request: Kong's 400).
 *
 * Whatever API the client speaks (issue 18), the decoration is a prompt hook over the canonical
 * messages (shared/prompt-hooks.ts): each configured message becomes a canonical message with one
 * text part. The same messages are put into the client's own body, in that API's shape, because a
 * format may send that body on as it came (OpenAI chat to an OpenAI-compatible provider, the
 * same API to its own provider): what the provider receives must say what the canonical messages
 * say. For OpenAI chat this is exactly the body the access-phase decoration made before the hooks:
 * `{role, content}` objects around the client's messages.
 * - OpenAI Responses (https://platform.openai.com/docs/api-reference/responses/create): `{role,
 *   content}` items (EasyInputMessage; `system` is one of its roles) around `input`, a string input
 *   being one user message. `instructions` is the first item of the model's context: prepended
 *   messages go after the canonical message made of it, as they come after it in the body.
 * - Anthropic Messages (https://docs.anthropic.com/en/api/messages): system prompts go to the
 *   top-level `system` (before and after the client's, `\n\n`-joined as the Anthropic format joins
 *   system messages; text blocks when the client's is blocks), the others to `messages`.
 */
import type { PluginHandler } from '../types.ts';
import type { AiPromptDecoratorConfig, PromptMessage } from './schema.ts';
import type { CanonicalRequest, InboundFormat } from '../../exchange/types.ts';
import type { JsonObject } from '../../llm/json.ts';
import { promptError, readPromptJson } from '../shared/prompt-body.ts';
import { textMessage, type PromptHook } from '../shared/prompt-hooks.ts';

const NOT_CHAT = 'this LLM route only supports llm/chat type requests';

const copy = (m: PromptMessage) => ({ role: m.role, content: m.content });

export function decorate(request: Record<string, unknown>, prepend: PromptMessage[], append: PromptMessage[]): Record<string, unknown> {
  return { ...request, messages: [...prepend.map(copy), ...(request.messages as unknown[]), ...append.map(copy)] };
}

function decorateResponses(body: JsonObject, prepend: PromptMessage[], append: PromptMessage[]): JsonObject {
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  return { ...body, input: [...prepend.map(copy), ...input, ...append.map(copy)] };
}

function anthropicSystem(system: unknown, before: string[], after: string[]): unknown {
  if (before.length === 0 && after.length === 0) return system;
  if (Array.isArray(system)) return [...before.map((text) => ({ type: 'text', text })), ...system, ...after.map((text) => ({ type: 'text', text }))];
  return [...before, ...(typeof system === 'string' && system !== '' ? [system] : []), ...after].join('\n\n');
}

function decorateAnthropic(body: JsonObject, prepend: PromptMessage[], append: PromptMessage[]): JsonObject {
  const system = (list: PromptMessage[]) => list.filter((m) => m.role === 'system').map((m) => m.content);
  const turns = (list: PromptMessage[]) => list.filter((m) => m.role !== 'system').map(copy);
  const out: JsonObject = { ...body, messages: [...turns(prepend), ...(Array.isArray(body.messages) ? body.messages : []), ...turns(append)] };
  const merged = anthropicSystem(body.system, system(prepend), system(append));
  if (merged !== undefined) out.system = merged;
  return out;
}

/** Where prepended messages go in the canonical messages: after Responses' `instructions`, at the start otherwise. */
function prependAt(req: CanonicalRequest): number {
  if (req.source.format !== 'openai-responses') return 0;
  const instructions = req.source.body.instructions;
  const first = req.messages[0];
  const fromInstructions =
    typeof instructions === 'string' && instructions !== '' && first !== undefined && (first.role === 'system' || first.role === 'developer') &&
    first.parts.length === 1 && first.parts[0].type === 'text' && first.parts[0].text === instructions;
  return fromInstructions ? 1 : 0;
}

/** The same decoration in the client's own body, by its API (a completions request is refused before). */
const BODY_DECORATORS: Record<Exclude<InboundFormat, 'openai-completions'>, (body: JsonObject, prepend: PromptMessage[], append: PromptMessage[]) => JsonObject> = {
  'openai-chat': (body, prepend, append) => decorate(body, prepend, append) as JsonObject,
  'openai-responses': decorateResponses,
  'anthropic-messages': decorateAnthropic,
};

/** The decoration as a prompt hook: new arrays and a new body, never the client's edited in place (prompt-hooks.ts). */
export function decoratorHook(prepend: PromptMessage[], append: PromptMessage[]): PromptHook {
  return (req) => {
    if (req === null || req.kind !== 'chat' || req.source.format === 'openai-completions' || req.messages.length < 1) throw promptError(400, NOT_CHAT);
    const at = prependAt(req);
    req.messages = [
      ...req.messages.slice(0, at),
      ...prepend.map((m) => textMessage(m.role, m.content)),
      ...req.messages.slice(at),
      ...append.map((m) => textMessage(m.role, m.content)),
    ];
    req.source = { format: req.source.format, body: BODY_DECORATORS[req.source.format](req.source.body, prepend, append) };
  };
}

export const handler: PluginHandler<AiPromptDecoratorConfig> = {
  async access(ctx, conf) {
    // read here for the plugin's own body limit and messages (Kong's); the hook decorates once the exchange has parsed it
    await readPromptJson(ctx, conf.max_request_body_size);
    ctx.promptHooks.push(decoratorHook(conf.prompts.prepend ?? [], conf.prompts.append ?? []));
  },
};
