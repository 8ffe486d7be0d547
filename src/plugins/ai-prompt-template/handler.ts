/**
 * `ai-prompt-template`: a request whose `messages` (or `prompt`) is `{template://name}` is replaced
 * by the named template rendered with the request's `properties`; ai-proxy then sends exactly
 * that. With `allow_untemplated_requests: false` every request must use a template.
 * `log_original_request` puts the client's body in the log entry (`ai.payload.original_request`).
 *
 * A body step, before the exchange parses the request (until it is rendered, a templated body is
 * no request any API adapter accepts), and a whole-body one, as in Kong: the template is the
 * request, in the API of the route it serves. Kong documents template references in `messages`
 * (llm/v1/chat) and `prompt` (llm/v1/completions) only
 * (https://developer.konghq.com/plugins/ai-prompt-template/), so those are the fields templated,
 * whatever the API (an Anthropic Messages body has `messages` too). A reference in another API's
 * prompt field (Responses `input` / `instructions`, Anthropic `system`) is a 400 that says where
 * references go, never sent on as prompt text. A Responses body without a reference (it has
 * `input`, no `messages`) is an untemplated request, not a wrong one.
 */
import type { PluginHandler } from '../types.ts';
import type { AiPromptTemplateConfig, PromptTemplate } from './schema.ts';
import { promptError, readPromptJson } from '../shared/prompt-body.ts';
import { render, TemplateError } from './templater.ts';
import { ORIGINAL_REQUEST_KEY } from '../shared/serializer.ts';
import { parseJsonText } from '../../util/json.ts';

interface Compiled {
  config: AiPromptTemplateConfig;
  byName: Map<string, PromptTemplate>;
}

const REFERENCE = /^\{template:\/\/(.*)\}$/s;

/** The prompt fields of the other APIs (Responses `input` / `instructions`, Anthropic `system`): Kong documents no template there. */
const UNTEMPLATED_FIELDS = ['input', 'instructions', 'system'] as const;

const present = (value: unknown) => value !== undefined && value !== null;
const isReference = (value: unknown) => typeof value === 'string' && REFERENCE.test(value);

export const handler: PluginHandler<AiPromptTemplateConfig, Compiled> = {
  compile(config) {
    return { config, byName: new Map(config.templates.map((t) => [t.name, t])) };
  },
  async access(ctx, conf) {
    const request = await readPromptJson(ctx, conf.config.max_request_body_size);
    if (conf.config.log_original_request) ctx.shared[ORIGINAL_REQUEST_KEY] = (await ctx.readBody()).toString('utf8');
    const misplaced = UNTEMPLATED_FIELDS.find((field) => isReference(request[field]));
    if (misplaced !== undefined) throw promptError(400, `template references are only supported in 'messages' (llm/v1/chat) or 'prompt' (llm/v1/completions), not in '${misplaced}'`);
    const hasMessages = present(request.messages);
    const hasPrompt = present(request.prompt);
    if (!hasMessages && !hasPrompt && !present(request.input)) throw promptError(400, 'this LLM route only supports llm/chat or llm/completions type requests');
    if (hasMessages && hasPrompt) throw promptError(400, "cannot run 'messages' and 'prompt' templates at the same time");
    const reference = hasMessages ? request.messages : request.prompt;
    const m = typeof reference === 'string' ? REFERENCE.exec(reference) : null;
    if (!m) {
      if (!conf.config.allow_untemplated_requests) throw promptError(400, 'this LLM route only supports templated requests');
      return;
    }
    const template = conf.byName.get(m[1]);
    if (!template) throw promptError(400, `could not find template name [${m[1]}]`);
    let rendered: string;
    try {
      rendered = render(template.template, request.properties);
    } catch (e) {
      if (e instanceof TemplateError) throw promptError(400, e.message);
      throw e;
    }
    let value: unknown;
    try {
      value = parseJsonText(rendered);
    } catch {
      throw promptError(400, `template [${template.name}] did not render valid JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw promptError(400, `template [${template.name}] did not render a JSON object`);
    ctx.setJson(value);
  },
};
