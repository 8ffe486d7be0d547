/**
 * The llama2 `raw` format: a Llama 2 chat prompt in `inputs`, as HuggingFace Text Generation
 * Inference (TGI) and the HF Inference API take it, with TGI's `parameters`.
 *
 * Prompt template (https://huggingface.co/blog/llama2#how-to-prompt-llama-2), with Kong's single
 * spaces in place of newlines:
 *   <s>[INST] <<SYS>> {system} <</SYS>> {user 1} [/INST] {answer 1} </s> <s>[INST] {user 2} [/INST]
 * Kong 3.6 dropped the assistant's answers from this history and left the completions template's
 * `<<SYS>>` unclosed; both are fixed here (docs/providers.md). Without assistant turns the chat
 * prompt is byte-identical to Kong's.
 *
 * Answers come in several shapes, all accepted: TGI `{"generated_text"}`, the HF Inference API's
 * `[{"generated_text"}]`, Kong's fixture `{"data":[{"generated_text"}]}`, llama.cpp's
 * `{"content"}`. When the server echoes the prompt, the answer is the text after the last `[/INST]`.
 */
import { TranslationError, UpstreamStreamError, type DriverContext, type StreamEvent } from '../types.ts';
import type { CanonicalRequest, CanonicalResponse, FinishReason, Message, Usage } from '../../exchange/types.ts';
import { asArray, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { mapFinishReason, usageOf } from '../openai-shape.ts';
import { putDefined, resolveSampling } from '../params.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { partPath, reportCacheMarks, reportUnmapped } from '../../exchange/report.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'llama2';

/** Kong's system prompt for completions routes. */
export const COMPLETIONS_SYSTEM_PROMPT = 'You are a helpful assistant.';

const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  length: 'length',
  eos_token: 'stop',
  stop_sequence: 'stop',
  limit: 'length',
  eos: 'stop',
  word: 'stop',
};

export const llama2RawFormat: WireFormat = {
  framing: 'sse',
  buildRequest: (req, ctx) => buildRawRequest(req, ctx, llama2Inputs, 'the llama2 raw format'),
  parseResponse: (body, ctx) => parseRawResponse(body, ctx, PROVIDER, answerText),
  createStreamTranslator: (ctx) => new RawStreamTranslator(ctx, PROVIDER),
};

/**
 * The same text-generation API (TGI `/generate`, the HF Inference API's text-generation task)
 * with the client's prompt sent as it is: Hugging Face completions routes. `extra` adds fields
 * to the body (the Inference API's `options`).
 */
export function textGenerationFormat(provider: string, extra: (ctx: DriverContext) => JsonObject = () => ({})): WireFormat {
  return {
    framing: 'sse',
    buildRequest: (req, ctx) => ({ ...buildRawRequest(req, ctx, (r) => r.prompt ?? promptOf(r, ctx), `the ${provider} provider`), ...extra(ctx) }),
    parseResponse: (body, ctx) => parseRawResponse(body, ctx, provider, (text) => text),
    createStreamTranslator: (ctx) => new RawStreamTranslator(ctx, provider),
  };
}

// ---------------------------------------------------------------------------------------------
// Request
//
// A text-generation server takes a prompt and sampling parameters: no tools, no structured output
// (TGI's `grammar` is not used: not every server behind this format has it), no reasoning, no
// images, audio or files, no prompt caching markers, no logprobs in the canonical answer, no
// penalties (TGI's `frequency_penalty` is documented with another neutral value than OpenAI's).
// Each is reported through `ctx.unsupported`; reasoning parts of earlier turns are left out (their
// provider state means nothing here); tool results are the user's input.

function llama2Inputs(req: CanonicalRequest, ctx: DriverContext): string {
  return req.kind === 'chat'
    ? llama2ChatPrompt(req.messages, ctx)
    : renderPrompt(COMPLETIONS_SYSTEM_PROMPT, [{ instruction: [req.prompt ?? ''] }]);
}

/** Completions routes get the prompt; a chat request to a prompt API gets its texts (reported like chat). */
function promptOf(req: CanonicalRequest, ctx: DriverContext): string {
  return messageTexts(req.messages, ctx).join('\n');
}

function buildRawRequest(req: CanonicalRequest, ctx: DriverContext, render: (req: CanonicalRequest, ctx: DriverContext) => string, what: string): JsonObject {
  reportUnmapped(req, ctx, { seed: true }, what);
  reportCacheMarks(req, ctx);
  // tool_choice `none`: no tool may be called, which is what sending no tools means.
  if ((req.tools?.length ?? 0) > 0 && req.toolChoice?.type !== 'none') ctx.unsupported('tools', 'tools (a text-generation server has none)');
  else if (req.toolChoice?.type === 'required' || req.toolChoice?.type === 'tool') ctx.unsupported('tool_choice', 'forcing a tool call');
  if (req.output && req.output.type !== 'text') ctx.unsupported('response_format', 'structured output');
  if (req.reasoning?.effort !== undefined && req.reasoning.effort !== 'none') ctx.unsupported('reasoning_effort', 'reasoning');
  else if (req.reasoning?.budgetTokens !== undefined && req.reasoning.budgetTokens > 0) ctx.unsupported('reasoning_effort', 'a thinking budget');
  const inputs = render(req, ctx);

  const params = resolveSampling(req.sampling, ctx.options);
  const parameters: JsonObject = {};
  // TGI validates strictly (HTTP 422): temperature and top_k must be > 0 and top_p inside (0, 1).
  // Values at the neutral end (temperature 0 = greedy, top_p 1, top_k 0) are left out, which means the same.
  putDefined(parameters, {
    max_new_tokens: params.maxTokens,
    temperature: params.temperature !== undefined && params.temperature > 0 ? params.temperature : undefined,
    top_p: params.topP !== undefined && params.topP > 0 && params.topP < 1 ? params.topP : undefined,
    top_k: params.topK !== undefined && params.topK > 0 ? params.topK : undefined,
    stop: params.stop,
    seed: params.seed,
    // The answer only, not the prompt echoed back (the HF Inference API echoes by default).
    return_full_text: false,
    // TGI then reports the finish reason and the generated token count.
    details: true,
  });
  return { inputs, parameters, stream: ctx.stream };
}

interface Turn {
  instruction: string[];
  answer?: string;
}

/** The text of each message (text, refusal and tool-result text); anything else is reported. */
function messageTexts(messages: Message[], ctx: DriverContext): string[] {
  return messages.map((message, i) => {
    if (message.name !== undefined) ctx.unsupported(`messages[${i}].name`, 'participant names');
    const texts: string[] = [];
    message.parts.forEach((part, j) => {
      const at = partPath(message, i, j);
      switch (part.type) {
        case 'text':
        case 'refusal':
          texts.push(part.text);
          return;
        case 'reasoning':
          return;
        case 'tool_result':
          part.content.forEach((inner, k) => {
            if (inner.type === 'text') texts.push(inner.text);
            else ctx.unsupported(`${at}.content[${k}]`, 'image content');
          });
          if (part.isError) ctx.unsupported(`${at}.is_error`, 'tool error flags');
          return;
        case 'tool_call':
          ctx.unsupported(at, 'tool calls');
          return;
        default:
          ctx.unsupported(at, `${part.type} content`);
      }
    });
    return texts.join('\n');
  });
}

/** Canonical messages as a Llama 2 chat prompt. */
function llama2ChatPrompt(messages: Message[], ctx: DriverContext): string {
  const texts = messageTexts(messages, ctx);
  let first = 0;
  const system: string[] = [];
  while (first < messages.length && isSystem(messages[first])) system.push(texts[first++]);

  const turns: Turn[] = [];
  for (let i = first; i < messages.length; i++) {
    const current = turns[turns.length - 1];
    if (messages[i].role === 'assistant') {
      if (!current) turns.push({ instruction: [], answer: texts[i] });
      else current.answer = current.answer === undefined ? texts[i] : `${current.answer} ${texts[i]}`;
      continue;
    }
    // A later system message is an instruction inside the user's turn; tool results are user input.
    const text = isSystem(messages[i]) ? `<<SYS>> ${texts[i]} <</SYS>>` : texts[i];
    if (!current || current.answer !== undefined) turns.push({ instruction: [text] });
    else current.instruction.push(text);
  }
  return renderPrompt(system.length > 0 ? system.join('\n') : undefined, turns);
}

function renderPrompt(system: string | undefined, turns: Turn[]): string {
  if (turns.length === 0) turns = [{ instruction: [] }];
  let prompt = '';
  turns.forEach((turn, index) => {
    const parts = [index === 0 ? '<s>[INST]' : ' <s>[INST]'];
    if (index === 0 && system !== undefined) parts.push(`<<SYS>> ${system} <</SYS>>`);
    parts.push(...turn.instruction.filter((text) => text !== ''), '[/INST]');
    prompt += parts.join(' ');
    // A closed answer ends its sequence; a final answer without </s> is a prefill the model continues.
    if (turn.answer !== undefined) prompt += index < turns.length - 1 ? ` ${turn.answer} </s>` : ` ${turn.answer}`;
  });
  return prompt;
}

function isSystem(message: Message): boolean {
  return message.role === 'system' || message.role === 'developer';
}

// ---------------------------------------------------------------------------------------------
// Response

interface RawAnswer {
  text: string;
  details: unknown;
  /** The object the text came from: llama.cpp puts its counts next to `content`. */
  source: JsonObject;
}

function parseRawResponse(body: string, ctx: DriverContext, provider: string, clean: (text: string) => string): CanonicalResponse {
  const parsed = parseUpstreamJson(body, provider);
  const answer = rawAnswer(parsed, provider);
  return {
    id: ctx.id,
    created: ctx.now,
    model: ctx.model,
    choices: [{ parts: [{ type: 'text', text: clean(answer.text) }], finishReason: rawFinishReason(answer) }],
    usage: rawUsage(parsed, answer),
  };
}

function rawAnswer(parsed: unknown, provider: string): RawAnswer {
  // TGI's `{"error", "error_type"}`; the Hugging Face router's `{"message"}`.
  const error = asString(dig(parsed, 'error')) ?? (dig(parsed, 'generated_text') === undefined && dig(parsed, 'content') === undefined ? asString(dig(parsed, 'message')) : undefined);
  if (error !== undefined) throw new TranslationError(`${provider} endpoint error: ${error}`);
  const list = Array.isArray(parsed) ? parsed : asArray(dig(parsed, 'data'));
  if (list) {
    if (list.length !== 1) throw new TranslationError(`cannot parse response from ${provider} endpoint`);
    const entry = asObject(list[0]);
    const text = asString(entry?.generated_text);
    if (!entry || text === undefined) throw new TranslationError(`response data is empty from ${provider} endpoint`);
    return { text, details: entry.details, source: entry };
  }
  const object = asObject(parsed);
  const text = asString(object?.generated_text) ?? asString(object?.content);
  if (!object || text === undefined) throw new TranslationError(`cannot parse response from ${provider} endpoint`);
  return { text, details: object.details, source: object };
}

/** The text after the last `[/INST]` (servers that echo the prompt), trimmed as Kong does. */
function answerText(generated: string): string {
  const end = generated.lastIndexOf('[/INST]');
  return (end === -1 ? generated : generated.slice(end + '[/INST]'.length)).trim();
}

function rawUsage(parsed: unknown, answer: RawAnswer): Usage | null {
  return (
    usageOf(dig(parsed, 'usage', 'prompt_tokens'), dig(parsed, 'usage', 'completion_tokens')) ??
    usageOf(answer.source.tokens_evaluated, answer.source.tokens_predicted)
  );
}

function rawFinishReason(answer: RawAnswer): FinishReason {
  const tgi = dig(answer.details, 'finish_reason');
  if (typeof tgi === 'string') return mapFinishReason(FINISH_REASONS, tgi) ?? 'stop';
  const llamaCpp = answer.source.stop_type ?? (answer.source.stopped_limit === true ? 'limit' : undefined);
  return mapFinishReason(FINISH_REASONS, llamaCpp) ?? 'stop';
}

// ---------------------------------------------------------------------------------------------
// Stream: TGI's `data:{"token":{...},"generated_text":null,"details":null}` events, whose last one
// has `generated_text` and `details`; or llama.cpp's `data: {"content":"...","stop":false}`.

class RawStreamTranslator extends BaseStreamTranslator {
  protected readonly source: string;
  #started = false;

  constructor(ctx: DriverContext, provider: string) {
    super(ctx);
    this.source = provider;
  }

  protected translate(event: StreamEvent): string {
    const data = this.parse(event);
    if (!isObject(data)) throw new TranslationError(`malformed ${this.source} stream event: not an object`);
    const error = asString(data.error);
    if (error !== undefined || event.event === 'error') {
      throw new UpstreamStreamError(error ?? `${this.source} endpoint reported an error in the stream`, asString(data.error_type) ?? 'upstream_error');
    }
    let frames = '';
    if (!this.#started) {
      this.#started = true;
      frames += this.out.start();
    }
    const token = asObject(data.token);
    const text = token ? (token.special === true ? '' : (asString(token.text) ?? '')) : (asString(data.content) ?? '');
    this.keepText(text);
    frames += this.out.text(text);

    const tgiEnd = typeof data.generated_text === 'string' || isObject(data.details);
    if (tgiEnd || data.stop === true) {
      this.setUsage(usageOf(data.tokens_evaluated, data.tokens_predicted) ?? usageOf(dig(data, 'usage', 'prompt_tokens'), dig(data, 'usage', 'completion_tokens')));
      this.markDone();
      frames += this.out.finish(rawFinishReason({ text: '', details: data.details, source: data }));
    }
    return frames;
  }
}
