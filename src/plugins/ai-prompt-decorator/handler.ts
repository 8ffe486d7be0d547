/**
 * `ai-prompt-decorator`: the configured messages go before (`prompts.prepend`) and after
 * (`prompts.append`) the client's chat messages, in their configured order, before ai-proxy
 * builds the provider request. Only chat requests (`messages`) can be decorated.
 */
import type { PluginHandler } from '../types.ts';
import type { AiPromptDecoratorConfig, PromptMessage } from './schema.ts';
import { promptError, readPromptJson } from '../shared/prompt-body.ts';

export function decorate(request: Record<string, unknown>, prepend: PromptMessage[], append: PromptMessage[]): Record<string, unknown> {
  const copy = (m: PromptMessage) => ({ role: m.role, content: m.content });
  return { ...request, messages: [...prepend.map(copy), ...(request.messages as unknown[]), ...append.map(copy)] };
}

export const handler: PluginHandler<AiPromptDecoratorConfig> = {
  async access(ctx, conf) {
    const request = await readPromptJson(ctx, conf.max_request_body_size);
    if (!Array.isArray(request.messages) || request.messages.length < 1) throw promptError(400, 'this LLM route only supports llm/chat type requests');
    ctx.setJson(decorate(request, conf.prompts.prepend ?? [], conf.prompts.append ?? []));
  },
};
