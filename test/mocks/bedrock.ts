/**
 * Amazon Bedrock runtime, the Converse API: `POST /model/{modelId}/converse` and
 * `/model/{modelId}/converse-stream` (AWS's binary event stream), authenticated by SigV4 or a
 * Bedrock API key (`Authorization: Bearer ...`).
 *
 * Sources:
 * - API reference (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
 *   API_runtime_ConverseStream.html and the types they use): request members `messages`, `system`,
 *   `inferenceConfig` (maxTokens >= 1, temperature 0..1, topP 0..1, stopSequences), `toolConfig`
 *   (`tools[].toolSpec.{name, description, inputSchema.json}`, `toolChoice` auto/any/tool),
 *   `guardrailConfig`, `additionalModelRequestFields`, `additionalModelResponseFieldPaths`,
 *   `promptVariables`, `requestMetadata`, `performanceConfig`; answers `output.message`,
 *   `stopReason`, `usage.{inputTokens, outputTokens, totalTokens}`, `metrics.latencyMs`; stream
 *   events messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageStop, metadata.
 * - Validation messages as the service returns them (quoted in public reports): "A conversation
 *   must start with a user message. Try again with a conversation that starts with a user message.",
 *   "A conversation must alternate between user and assistant roles. ...", "The text field in the
 *   ContentBlock object at messages.0.content.0 is blank. ...", "The toolConfig field must be defined
 *   when using toolUse and toolResult content blocks.", "The provided model identifier is invalid.",
 *   "1 validation error detected: Value '1.5' at 'inferenceConfig.temperature' failed to satisfy
 *   constraint: Member must have value less than or equal to 1"; errors are `{"message": ...}` with
 *   the `x-amzn-ErrorType` header.
 * - SigV4 (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
 *   verified here independently of the gateway's signer: the canonical request (path segments
 *   URI-encoded once more for every service but S3, sorted query, the signed headers, the body's
 *   SHA-256), the credential scope, a 5-minute clock skew. Failures: 403
 *   MissingAuthenticationTokenException "Missing Authentication Token", UnrecognizedClientException
 *   "The security token included in the request is invalid.", InvalidSignatureException "The request
 *   signature we calculated does not match the signature you provided. ...".
 * - The event stream: `:event-type`, `:content-type`, `:message-type` headers, JSON payloads padded
 *   with a `p` field (as captured in Kong's fixtures `bedrock/chunks`).
 * - Issue 17's features, from the same API reference (the shapes of botocore's bedrock-runtime
 *   2023-09-30 model): `cachePoint {type: default, ttl?: 5m|1h}` blocks in messages, `system` and
 *   `toolConfig.tools`, each after the content it closes, at most 4 per request (the prompt-caching
 *   guide); `usage.cacheReadInputTokens` / `cacheWriteInputTokens` with `inputTokens` counting only
 *   the rest; `reasoningContent {reasoningText {text, signature} | redactedContent}` in assistant
 *   turns (Claude checks the signature and wants thinking first), answered when
 *   `additionalModelRequestFields.thinking` is enabled (Claude: budget_tokens >= 1024 and below
 *   maxTokens, temperature 1, no top_k, no forced tool choice: Anthropic's extended-thinking rules)
 *   or Nova 2's `reasoningConfig` (its reasoning text is redacted); streamed as
 *   `contentBlockDelta.delta.reasoningContent {text | signature}`; `toolSpec.strict`,
 *   `toolResult.status`, `document`, `audio`, `requestMetadata` (<= 16 pairs of a limited
 *   alphabet), `serviceTier`.
 * - Behaviour: a forced tool choice (`any`, `tool`) is answered with a toolUse whose input satisfies
 *   the tool's schema; a tool without properties streams a single empty input delta, as Claude does.
 *   Cache usage is deterministic per mock instance: the first request with a cached prefix writes
 *   its words, later ones read them.
 */
import { createHash, createHmac } from 'node:crypto';
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { countTokens, isObject, splitChunks, textOf, truncateTokens } from './text.ts';
import { encodeEventStreamMessage } from '../../src/llm/stream/aws-eventstream.ts';

export interface BedrockCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface BedrockOptions {
  /** SigV4 credentials accepted (default AKIDMOCKEXAMPLE / mock-secret); null: no auth. */
  credentials?: BedrockCredentials | null;
  /** A Bedrock API key accepted as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** The region requests must be signed for (default us-east-1). */
  region?: string;
  /** Model ids served (default BEDROCK_MODELS), or '*'. */
  models?: string[] | '*';
}

export const DEFAULT_BEDROCK_CREDENTIALS: BedrockCredentials = { accessKeyId: 'AKIDMOCKEXAMPLE', secretAccessKey: 'mock-secret-key' };

export const BEDROCK_MODELS = [
  'anthropic.claude-3-haiku-20240307-v1:0', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
  'amazon.nova-lite-v1:0', 'amazon.nova-pro-v1:0', 'meta.llama3-1-8b-instruct-v1:0', 'mistral.mistral-large-2407-v1:0', 'cohere.command-r-v1:0',
];

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;

export function bedrockError(status: number, type: string, message: string): JsonReply {
  return { kind: 'json', status, headers: { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` }, body: { message } };
}

const validation = (message: string): JsonReply => bedrockError(400, 'ValidationException', message);

// ---------------------------------------------------------------------------------------------
// SigV4 verification

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding (unreserved characters kept), as SigV4 wants. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical request of SigV4 for a non-S3 service: each path segment (as received) encoded once more. */
export function canonicalRequest(method: string, rawPath: string, query: Record<string, string>, headers: Record<string, string | string[] | undefined>, signed: string[], body: string): string {
  const path = rawPath.split('/').map(uriEncode).join('/') || '/';
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${uriEncode(k)}=${uriEncode(query[k])}`)
    .join('&');
  const canonicalHeaders = signed.map((name) => {
    const value = headers[name];
    const text = Array.isArray(value) ? value.join(',') : (value ?? '');
    return `${name}:${text.trim().replace(/\s+/g, ' ')}\n`;
  });
  return [method, path, canonicalQuery, canonicalHeaders.join(''), signed.join(';'), sha256(body)].join('\n');
}

function verifySigV4(ctx: HandlerCtx, credentials: BedrockCredentials, region: string): JsonReply | null {
  const header = ctx.req.headers.authorization;
  if (typeof header !== 'string' || header === '') return bedrockError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(header);
  if (!m) return bedrockError(403, 'IncompleteSignatureException', `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${header.slice(0, 20)}`);
  const [, keyId, date, scopeRegion, service, signedList, signature] = m;
  if (keyId !== credentials.accessKeyId) return bedrockError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (scopeRegion !== region) return bedrockError(403, 'InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  if (service !== 'bedrock') return bedrockError(403, 'InvalidSignatureException', `Credential should be scoped to correct service: 'bedrock'.`);
  const signed = signedList.split(';');
  const amzDate = ctx.req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate) || !signed.includes('x-amz-date') || !signed.includes('host')) {
    return bedrockError(403, 'IncompleteSignatureException', 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.');
  }
  if (amzDate.slice(0, 8) !== date) return bedrockError(403, 'InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.');
  const when = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  const now = ctx.ids.seconds() * 1000;
  if (Math.abs(now - when) > 5 * 60 * 1000) {
    return bedrockError(403, 'InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than the allowed window (5 min).`);
  }
  if (credentials.sessionToken !== undefined && (ctx.req.headers['x-amz-security-token'] !== credentials.sessionToken || !signed.includes('x-amz-security-token'))) {
    return bedrockError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const canonical = canonicalRequest(ctx.req.method, ctx.req.path, ctx.req.query, ctx.req.headers, signed, ctx.req.body);
  const scope = `${date}/${scopeRegion}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), scopeRegion), service), 'aws4_request');
  if (createHmac('sha256', key).update(stringToSign).digest('hex') !== signature) {
    return bedrockError(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Request validation

const REQUEST_FIELDS = [
  'messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'promptVariables', 'additionalModelResponseFieldPaths',
  'requestMetadata', 'performanceConfig', 'serviceTier', 'outputConfig',
];
const BLOCK_KINDS = ['text', 'image', 'document', 'video', 'audio', 'toolUse', 'toolResult', 'guardContent', 'cachePoint', 'reasoningContent'];
const DOCUMENT_FORMATS = ['pdf', 'csv', 'doc', 'docx', 'xls', 'xlsx', 'html', 'txt', 'md'];
const AUDIO_FORMATS = ['mp3', 'opus', 'wav', 'aac', 'flac', 'mp4', 'ogg', 'mkv', 'mka', 'x-aac', 'm4a', 'mpeg', 'mpga', 'pcm', 'webm'];
/** Cache checkpoints a request may set (Claude's limit, which Bedrock applies to every caching model). */
const MAX_CACHE_POINTS = 4;
/** Claude's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;
const TOOL_USE_ID = /^[a-zA-Z0-9_.:-]{1,64}$/;
const METADATA_TEXT = /^[a-zA-Z0-9\s:_@$#=/+,\-.]*$/;

interface ToolInfo {
  name: string;
  schema: Record<string, unknown>;
}

interface ConverseRequest {
  messages: { role: string; content: Record<string, unknown>[] }[];
  maxTokens: number | undefined;
  toolChoice: Record<string, unknown> | undefined;
  tools: ToolInfo[];
  promptText: string;
  /** The words before the last cachePoint (tools, then system, then messages), or null without one. */
  cachePrefix: string | null;
  /** Claude's `thinking` was enabled, or Nova 2's `reasoningConfig`. */
  reasoning: 'claude' | 'nova' | null;
}

function constraint(value: unknown, at: string, rule: string): JsonReply {
  return validation(`1 validation error detected: Value '${JSON.stringify(value)}' at '${at}' failed to satisfy constraint: ${rule}`);
}

/** Claude's own model checks, which Bedrock passes on as a ValidationException. */
function modelError(message: string): JsonReply {
  return validation(`The model returned the following errors: ${message}`);
}

/** A cachePoint block's value: `{type: "default"}` and, optionally, a ttl of 5m or 1h. */
function checkCachePoint(point: unknown, at: string): JsonReply | null {
  if (!isObject(point) || point.type !== 'default') return constraint(isObject(point) ? point.type : point, `${at}.cachePoint.type`, 'Member must satisfy enum value set: [default]');
  for (const key of Object.keys(point)) if (key !== 'type' && key !== 'ttl') return validation(`Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
  if (point.ttl !== undefined && point.ttl !== '5m' && point.ttl !== '1h') return constraint(point.ttl, `${at}.cachePoint.ttl`, 'Member must satisfy enum value set: [5m, 1h]');
  return null;
}

/** Tracks cache points in prompt order: each must follow content, at most MAX_CACHE_POINTS in all. */
class CacheTracker {
  words: string[] = [];
  points = 0;
  prefix: string | null = null;
  add(text: string): void {
    if (text !== '') this.words.push(text);
  }
  point(list: unknown[], index: number, at: string): JsonReply | null {
    const block = list[index] as Record<string, unknown>;
    const invalid = checkCachePoint(block.cachePoint, at);
    if (invalid) return invalid;
    const previous = list[index - 1];
    if (index === 0 || (isObject(previous) && 'cachePoint' in previous)) return validation(`The cachePoint at ${at} must follow a content block. Put the cachePoint after the content to cache and try again.`);
    if (++this.points > MAX_CACHE_POINTS) return validation(`A maximum of ${MAX_CACHE_POINTS} cachePoint blocks are allowed per request. The request has more.`);
    this.prefix = this.words.join(' ');
    return null;
  }
}

function validate(json: unknown, modelId: string): JsonReply | ConverseRequest {
  if (!isObject(json)) return validation('Malformed input request, please reformat your input and try again.');
  for (const key of Object.keys(json)) {
    if (!REQUEST_FIELDS.includes(key)) return validation(`Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
  }
  const claude = modelId.includes('anthropic.');
  const cache = new CacheTracker();
  const texts: string[] = [];

  // Tools come first in the prompt (and in the cached prefix).
  const tools: ToolInfo[] = [];
  let toolChoice: Record<string, unknown> | undefined;
  if (json.toolConfig !== undefined) {
    const tc = json.toolConfig;
    if (!isObject(tc) || !Array.isArray(tc.tools) || tc.tools.length === 0) return constraint(isObject(tc) ? tc.tools : tc, 'toolConfig.tools', 'Member must have length greater than or equal to 1');
    for (const key of Object.keys(tc)) if (key !== 'tools' && key !== 'toolChoice') return validation(`Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
    for (const [k, tool] of tc.tools.entries()) {
      if (isObject(tool) && 'cachePoint' in tool && Object.keys(tool).length === 1) {
        const invalid = cache.point(tc.tools, k, `toolConfig.tools.${k}`);
        if (invalid) return invalid;
        continue;
      }
      const spec = isObject(tool) && Object.keys(tool).length === 1 ? tool.toolSpec : undefined;
      if (!isObject(spec) || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name)) return constraint(isObject(spec) ? spec.name : null, `toolConfig.tools.${k + 1}.member.toolSpec.name`, 'Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+');
      if (!isObject(spec.inputSchema) || !isObject(spec.inputSchema.json)) return constraint(null, `toolConfig.tools.${k + 1}.member.toolSpec.inputSchema`, 'Member must not be null');
      if (spec.inputSchema.json.type !== 'object') return validation(`The value at toolConfig.tools.${k}.toolSpec.inputSchema.json.type must be object.`);
      if (spec.description !== undefined && (typeof spec.description !== 'string' || spec.description === '')) return constraint(spec.description, `toolConfig.tools.${k + 1}.member.toolSpec.description`, 'Member must have length greater than or equal to 1');
      if (spec.strict !== undefined && typeof spec.strict !== 'boolean') return constraint(spec.strict, `toolConfig.tools.${k + 1}.member.toolSpec.strict`, 'Member must be a boolean');
      for (const key of Object.keys(spec)) if (!['name', 'description', 'inputSchema', 'strict'].includes(key)) return validation(`Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
      if (tools.some((t) => t.name === spec.name)) return validation(`The toolConfig field has tools with the same name: ${spec.name}. Tool names must be unique.`);
      tools.push({ name: spec.name, schema: spec.inputSchema.json });
    }
    if (tools.length === 0) return validation('The toolConfig field must have at least one toolSpec.');
    if (tc.toolChoice !== undefined) {
      const c = tc.toolChoice;
      const keys = isObject(c) ? Object.keys(c) : [];
      if (!isObject(c) || keys.length !== 1 || !['auto', 'any', 'tool'].includes(keys[0])) return validation('Malformed input request: toolChoice must set exactly one of auto, any, tool.');
      if ('tool' in c && (!isObject(c.tool) || !tools.some((t) => t.name === (c.tool as Record<string, unknown>).name))) return validation(`The tool ${String(isObject(c.tool) ? c.tool.name : c.tool)} in toolChoice is not defined in toolConfig.tools.`);
      toolChoice = c;
    }
  }

  if (json.system !== undefined) {
    if (!Array.isArray(json.system)) return constraint(json.system, 'system', 'Member must be a list');
    for (const [k, s] of json.system.entries()) {
      if (isObject(s) && 'cachePoint' in s && Object.keys(s).length === 1) {
        const invalid = cache.point(json.system, k, `system.${k}`);
        if (invalid) return invalid;
        continue;
      }
      if (!isObject(s) || Object.keys(s).length !== 1 || (typeof s.text !== 'string' && s.guardContent === undefined)) return validation(`The SystemContentBlock at system.${k} must set text, guardContent or cachePoint.`);
      if (typeof s.text === 'string') {
        if (s.text === '') return constraint('', `system.${k + 1}.member.text`, 'Member must have length greater than or equal to 1');
        texts.push(s.text);
        cache.add(s.text);
      }
    }
  }

  const messages = json.messages;
  if (!Array.isArray(messages) || messages.length === 0) return validation('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  let toolBlocks = false;
  for (const [i, message] of messages.entries()) {
    if (!isObject(message) || (message.role !== 'user' && message.role !== 'assistant')) return constraint(isObject(message) ? message.role : message, `messages.${i + 1}.member.role`, 'Member must satisfy enum value set: [user, assistant]');
    if (i === 0 && message.role !== 'user') return validation('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    if (i > 0 && (messages[i - 1] as { role: string }).role === message.role) {
      return validation('A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    }
    if (!Array.isArray(message.content) || message.content.length === 0) return validation(`The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`);
    let sawContent = false;
    for (const [j, block] of message.content.entries()) {
      const kinds = isObject(block) ? Object.keys(block).filter((k) => BLOCK_KINDS.includes(k)) : [];
      if (!isObject(block) || kinds.length !== 1 || Object.keys(block).length !== 1) return validation(`The ContentBlock object at messages.${i}.content.${j} must set one of the following keys: ${BLOCK_KINDS.join(', ')}.`);
      if ('cachePoint' in block) {
        const invalid = cache.point(message.content, j, `messages.${i}.content.${j}`);
        if (invalid) return invalid;
        continue;
      }
      if ('reasoningContent' in block) {
        if (message.role !== 'assistant') return validation(`The reasoningContent block at messages.${i}.content.${j} is only allowed in assistant messages.`);
        // Claude: thinking comes before the rest of the turn.
        if (sawContent) return modelError(`messages.${i}.content.${j}: thinking blocks must come first in an assistant message, before text and tool use.`);
        const reasoning = block.reasoningContent;
        const keys = isObject(reasoning) ? Object.keys(reasoning) : [];
        if (!isObject(reasoning) || keys.length !== 1 || !['reasoningText', 'redactedContent'].includes(keys[0])) return validation(`The reasoningContent block at messages.${i}.content.${j} must set one of reasoningText, redactedContent.`);
        if ('redactedContent' in reasoning) {
          if (typeof reasoning.redactedContent !== 'string' || reasoning.redactedContent === '') return validation(`The redactedContent at messages.${i}.content.${j} must be base64 bytes.`);
        } else {
          const text = reasoning.reasoningText;
          if (!isObject(text) || typeof text.text !== 'string') return validation(`The reasoningText at messages.${i}.content.${j} needs text.`);
          if (text.signature !== undefined && typeof text.signature !== 'string') return constraint(text.signature, `messages.${i}.content.${j}.reasoningContent.reasoningText.signature`, 'Member must be a string');
          // Claude verifies the signature of every thinking block it is given back.
          if (claude && (typeof text.signature !== 'string' || text.signature === '')) return modelError(`messages.${i}.content.${j}.thinking.signature: Field required`);
          if (claude && text.signature !== signatureOf(text.text)) return modelError(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`);
        }
        continue;
      }
      sawContent = true;
      if ('text' in block) {
        if (typeof block.text !== 'string' || block.text.trim() === '') return validation(`The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`);
        texts.push(block.text);
        cache.add(block.text);
      }
      if ('toolUse' in block) {
        toolBlocks = true;
        const use = block.toolUse;
        if (message.role !== 'assistant') return validation(`The toolUse content block at messages.${i}.content.${j} is only allowed in assistant messages.`);
        if (!isObject(use) || typeof use.toolUseId !== 'string' || typeof use.name !== 'string' || !isObject(use.input)) {
          return validation(`The toolUse block at messages.${i}.content.${j} needs toolUseId, name and an input object.`);
        }
        if (!TOOL_USE_ID.test(use.toolUseId)) return constraint(use.toolUseId, `messages.${i + 1}.member.content.${j + 1}.member.toolUse.toolUseId`, 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+');
      }
      if ('toolResult' in block) {
        toolBlocks = true;
        const result = block.toolResult;
        if (message.role !== 'user') return validation(`The toolResult content block at messages.${i}.content.${j} is only allowed in user messages.`);
        if (!isObject(result) || typeof result.toolUseId !== 'string' || !Array.isArray(result.content) || result.content.length === 0) {
          return validation(`The toolResult block at messages.${i}.content.${j} needs toolUseId and content.`);
        }
        if (result.status !== undefined && result.status !== 'success' && result.status !== 'error') return constraint(result.status, `messages.${i + 1}.member.content.${j + 1}.member.toolResult.status`, 'Member must satisfy enum value set: [success, error]');
        for (const c of result.content) {
          if (!isObject(c) || Object.keys(c).length !== 1 || !['text', 'json', 'image', 'document'].includes(Object.keys(c)[0])) {
            return validation(`The toolResult content at messages.${i}.content.${j} must set one of text, json, image, document.`);
          }
          const text = typeof c.text === 'string' ? c.text : JSON.stringify(c.json ?? '');
          texts.push(text);
          cache.add(text);
        }
      }
      if ('image' in block) {
        const image = block.image;
        if (!isObject(image) || !['png', 'jpeg', 'gif', 'webp'].includes(String(image.format)) || !isObject(image.source) || typeof image.source.bytes !== 'string') {
          return validation(`The image block at messages.${i}.content.${j} needs a format (png, jpeg, gif, webp) and source.bytes.`);
        }
      }
      if ('document' in block) {
        const doc = block.document;
        if (!isObject(doc) || typeof doc.name !== 'string' || !/^[A-Za-z0-9()[\]-]+(?: [A-Za-z0-9()[\]-]+)*$/.test(doc.name) || doc.name.length > 200) {
          return validation(`The document name at messages.${i}.content.${j} can only contain alphanumeric characters, whitespace characters (no more than one in a row), hyphens, parentheses and square brackets.`);
        }
        if ((doc.format !== undefined && !DOCUMENT_FORMATS.includes(String(doc.format))) || !isObject(doc.source) || typeof doc.source.bytes !== 'string') {
          return validation(`The document block at messages.${i}.content.${j} needs a format (${DOCUMENT_FORMATS.join(', ')}) and source.bytes.`);
        }
      }
      if ('audio' in block) {
        const audio = block.audio;
        if (!isObject(audio) || !AUDIO_FORMATS.includes(String(audio.format)) || !isObject(audio.source) || typeof audio.source.bytes !== 'string') {
          return validation(`The audio block at messages.${i}.content.${j} needs a format and source.bytes.`);
        }
      }
    }
    // Every tool use of an assistant turn is answered in the next user turn.
    if (message.role === 'assistant') {
      const ids = message.content.flatMap((b) => (isObject(b) && isObject(b.toolUse) ? [b.toolUse.toolUseId as string] : []));
      const next = messages[i + 1];
      if (ids.length > 0 && isObject(next)) {
        const answered = new Set((Array.isArray(next.content) ? next.content : []).flatMap((b: unknown) => (isObject(b) && isObject(b.toolResult) ? [b.toolResult.toolUseId] : [])));
        const missing = ids.filter((id) => !answered.has(id));
        if (missing.length > 0) return validation(`Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${missing.join(', ')}`);
      }
    }
  }
  if (toolBlocks && json.toolConfig === undefined) return validation('The toolConfig field must be defined when using toolUse and toolResult content blocks.');

  let maxTokens: number | undefined;
  let temperature: number | undefined;
  let topP: number | undefined;
  const config = json.inferenceConfig;
  if (config !== undefined) {
    if (!isObject(config)) return validation('Malformed input request: inferenceConfig must be an object.');
    for (const key of Object.keys(config)) if (!['maxTokens', 'temperature', 'topP', 'stopSequences'].includes(key)) return validation(`Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
    if (config.maxTokens !== undefined && (!Number.isInteger(config.maxTokens) || (config.maxTokens as number) < 1)) return constraint(config.maxTokens, 'inferenceConfig.maxTokens', 'Member must have value greater than or equal to 1');
    for (const name of ['temperature', 'topP']) {
      const v = config[name];
      if (v === undefined) continue;
      if (typeof v !== 'number' || v < 0) return constraint(v, `inferenceConfig.${name}`, 'Member must have value greater than or equal to 0');
      if (v > 1) return constraint(v, `inferenceConfig.${name}`, 'Member must have value less than or equal to 1');
    }
    if (config.stopSequences !== undefined && (!Array.isArray(config.stopSequences) || !config.stopSequences.every((s) => typeof s === 'string' && s !== ''))) {
      return constraint(config.stopSequences, 'inferenceConfig.stopSequences', 'Member must satisfy constraint: [Member must have length greater than or equal to 1]');
    }
    maxTokens = config.maxTokens as number | undefined;
    temperature = config.temperature as number | undefined;
    topP = config.topP as number | undefined;
  }
  // Claude Sonnet 4.5 / Haiku 4.5 and later take temperature or top_p, not both (Bedrock's Claude parameters page).
  const version = claude ? /claude-(?:(?:sonnet|opus|haiku)-)?(\d+)(?:-(\d{1,2})(?!\d))?/.exec(modelId) : null;
  if (version && Number(version[1]) + (version[2] ? Number(version[2]) / 10 : 0) >= 4.5 && temperature !== undefined && topP !== undefined) {
    return modelError('`temperature` and `top_p` cannot both be specified for this model. Please use only one.');
  }

  // additionalModelRequestFields: the model's own parameters (Claude: thinking, top_k; Nova 2: reasoningConfig).
  let reasoning: ConverseRequest['reasoning'] = null;
  const extra = json.additionalModelRequestFields;
  if (extra !== undefined) {
    if (!isObject(extra)) return validation('Malformed input request: additionalModelRequestFields must be an object.');
    const nova2 = modelId.includes('amazon.nova-2');
    for (const key of Object.keys(extra)) {
      const known = claude ? ['thinking', 'top_k', 'anthropic_beta'] : nova2 ? ['reasoningConfig'] : [];
      if (!known.includes(key)) return modelError(`Malformed input request: #: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
    }
    if (extra.thinking !== undefined) {
      const t = extra.thinking;
      if (!isObject(t) || (t.type !== 'enabled' && t.type !== 'disabled')) return modelError('thinking.type: Input should be \'enabled\' or \'disabled\'');
      if (t.type === 'enabled') {
        if (!Number.isInteger(t.budget_tokens) || (t.budget_tokens as number) < MIN_THINKING_BUDGET) return modelError(`thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET}`);
        if (maxTokens !== undefined && maxTokens <= (t.budget_tokens as number)) return modelError('`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size');
        if (temperature !== undefined && temperature !== 1) return modelError('`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility');
        if (extra.top_k !== undefined) return modelError('`top_k` must be unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility');
        if (topP !== undefined && topP < 0.95) return modelError('`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility');
        // the assistant turn whose tool uses the conversation answers last must start with its thinking
        const last = messages[messages.length - 1] as { role: string; content: unknown[] };
        const turn = messages[messages.length - 2] as { role: string; content: unknown[] } | undefined;
        const answersTools = last.role === 'user' && last.content.some((b) => isObject(b) && 'toolResult' in b);
        if (answersTools && turn?.role === 'assistant' && !(isObject(turn.content[0]) && 'reasoningContent' in turn.content[0])) {
          return modelError(`messages.${messages.length - 2}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${isObject(turn.content[0]) ? Object.keys(turn.content[0])[0] : 'nothing'}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). To avoid this requirement, disable \`thinking\`.`);
        }
        if (toolChoice && !('auto' in toolChoice)) return modelError('Thinking may not be enabled when tool_choice forces tool use.');
        reasoning = 'claude';
      }
    }
    if (extra.top_k !== undefined && (!Number.isInteger(extra.top_k) || (extra.top_k as number) < 0)) return modelError('top_k: Input should be a valid integer');
    if (extra.reasoningConfig !== undefined) {
      const r = extra.reasoningConfig;
      if (!isObject(r) || (r.type !== 'enabled' && r.type !== 'disabled')) return modelError('reasoningConfig.type must be enabled or disabled');
      if (r.maxReasoningEffort !== undefined && !['low', 'medium', 'high'].includes(String(r.maxReasoningEffort))) return modelError('reasoningConfig.maxReasoningEffort must be low, medium or high');
      if (r.type === 'enabled') reasoning = 'nova';
    }
  }

  if (json.requestMetadata !== undefined) {
    const m = json.requestMetadata;
    if (!isObject(m) || Object.keys(m).length === 0 || Object.keys(m).length > 16) return constraint(m, 'requestMetadata', 'Member must have length less than or equal to 16');
    for (const [k, v] of Object.entries(m)) {
      if (k === '' || k.length > 256 || !METADATA_TEXT.test(k)) return constraint(k, 'requestMetadata', 'Map keys must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}');
      if (typeof v !== 'string' || v.length > 256 || !METADATA_TEXT.test(v)) return constraint(v, `requestMetadata.${k}`, 'Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}');
    }
  }
  if (json.serviceTier !== undefined) {
    const t = json.serviceTier;
    if (!isObject(t) || !['priority', 'default', 'flex', 'reserved'].includes(String(t.type))) return constraint(isObject(t) ? t.type : t, 'serviceTier.type', 'Member must satisfy enum value set: [priority, default, flex, reserved]');
  }
  return { messages: messages as ConverseRequest['messages'], maxTokens, toolChoice, tools, promptText: texts.join(' '), cachePrefix: cache.prefix, reasoning };
}

// ---------------------------------------------------------------------------------------------
// Provider

/** The `p` padding Bedrock puts in its stream payloads (hides payload sizes). */
function pad(n: number): string {
  return 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.slice(0, 1 + (n % 50));
}

export function eventFrame(type: string, payload: Record<string, unknown>): Uint8Array {
  return encodeEventStreamMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(payload));
}

export function exceptionFrame(type: string, message: string): Uint8Array {
  return encodeEventStreamMessage({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, JSON.stringify({ message }));
}

/** The reasoning the mock "thinks" when thinking is on (Claude) and its signature (a hash of it, so a tampered text is refused). */
export const MOCK_REASONING = 'The user asks a question; I answer it briefly.';
export function signatureOf(text: string): string {
  return createHash('sha256').update(`mock-thinking:${text}`).digest('base64');
}

/** Nova 2 redacts its reasoning text in answers. */
const NOVA_REASONING = '[REDACTED]';

export function bedrockProvider(opts: BedrockOptions & Record<string, unknown>): ProviderImpl {
  const credentials = opts.credentials === undefined ? DEFAULT_BEDROCK_CREDENTIALS : opts.credentials;
  /** Cached prompt prefixes of this mock instance: the first request with a prefix writes it, the next ones read it. */
  const cached = new Set<string>();
  return {
    handle(ctx): Reply {
      const route = ROUTE.exec(ctx.path);
      if (!route || ctx.req.method !== 'POST') return bedrockError(404, 'UnknownOperationException', 'Unknown operation');
      const bearer = typeof ctx.req.headers.authorization === 'string' && /^bearer\s+/i.test(ctx.req.headers.authorization);
      if (bearer) {
        if (ctx.req.headers.authorization!.replace(/^bearer\s+/i, '') !== opts.apiKey) return bedrockError(403, 'AccessDeniedException', 'Invalid API Key format: Must start with pre-defined prefix');
      } else if (credentials) {
        const denied = verifySigV4(ctx, credentials, opts.region ?? 'us-east-1');
        if (denied) return denied;
      }
      let modelId: string;
      try {
        modelId = decodeURIComponent(route[1]);
      } catch {
        return validation('The provided model identifier is invalid.');
      }
      const models = opts.models ?? BEDROCK_MODELS;
      if (models !== '*' && !models.includes(modelId)) return validation('The provided model identifier is invalid.');
      const request = validate(ctx.req.json, modelId);
      if ('kind' in request) return request;
      let cache: CacheUsage | null = null;
      if (request.cachePrefix !== null) {
        const key = `${modelId}\n${request.cachePrefix}`;
        const tokens = countTokens(request.cachePrefix);
        cache = cached.has(key) ? { read: tokens, write: 0 } : { read: 0, write: tokens };
        cached.add(key);
      }
      return answer(ctx, request, route[2] === 'converse-stream' || ctx.forceStream, cache);
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') return bedrockError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
      if (status === 503) return bedrockError(503, 'ServiceUnavailableException', 'Bedrock is unable to process your request.');
      return bedrockError(status, 'InternalServerException', 'The server encountered an error processing your request.');
    },
  };
}

interface CacheUsage {
  read: number;
  write: number;
}

/**
 * A value that satisfies a JSON schema (what a model forced to call a tool answers): properties
 * all present, the first of enums and unions, `$ref`s to `#/$defs` or `#/definitions` followed.
 */
export function schemaValue(schema: unknown, text: string, root: unknown = schema, depth = 0): unknown {
  if (!isObject(schema) || depth > 16) return text;
  if (typeof schema.$ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const target = m && isObject(root) && isObject(root[m[1]]) ? (root[m[1]] as Record<string, unknown>)[m[2]] : undefined;
    return schemaValue(target, text, root, depth + 1);
  }
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const union of ['anyOf', 'oneOf', 'allOf']) {
    const list = schema[union];
    if (Array.isArray(list) && list.length > 0) return schemaValue(list.find((s) => !(isObject(s) && s.type === 'null')) ?? list[0], text, root, depth + 1);
  }
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== 'null') ?? 'null') : schema.type;
  switch (type) {
    case 'object': {
      const properties = isObject(schema.properties) ? schema.properties : {};
      const out: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(properties)) out[name] = schemaValue(sub, text, root, depth + 1);
      // an open object with no properties (JSON mode) carries the answer
      if (Object.keys(properties).length === 0 && schema.additionalProperties !== false && schema.additionalProperties !== undefined) out.answer = text;
      return out;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? Math.max(1, schema.minItems) : 1;
      return Array.from({ length: min }, () => schemaValue(schema.items, text, root, depth + 1));
    }
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string':
      return typeof schema.minLength === 'number' && schema.minLength > text.length ? text.padEnd(schema.minLength, '.') : text;
    default:
      return isObject(schema.properties) ? schemaValue({ ...schema, type: 'object' }, text, root, depth + 1) : text;
  }
}

/** JSON text cut in about three pieces, as tool input deltas stream. */
function jsonPieces(json: string): string[] {
  if (json === '{}') return ['']; // a tool without input: one empty delta, never the braces
  const third = Math.max(1, Math.floor(json.length / 3));
  return [json.slice(0, third), json.slice(third, 2 * third), json.slice(2 * third)].filter((p) => p !== '');
}

/**
 * Under `auto` (or no toolChoice) the model calls a tool when the last user turn names it and holds
 * no tool result yet: a deterministic stand-in for the model's own choice, so that thinking (which
 * refuses forced tool use) can be tested with tools.
 */
function askedTool(request: ConverseRequest): ConverseRequest['tools'][number] | undefined {
  const last = request.messages.at(-1) as { role?: string; content?: Record<string, unknown>[] } | undefined;
  if (last?.role !== 'user' || !Array.isArray(last.content) || last.content.some((b) => 'toolResult' in b)) return undefined;
  const text = last.content.map((b) => (typeof b.text === 'string' ? b.text : '')).join(' ');
  return request.tools.find((t) => text.includes(t.name));
}

function answer(ctx: HandlerCtx, request: ConverseRequest, stream: boolean, cache: CacheUsage | null): Reply {
  const inputTokens = countTokens(request.promptText);
  const forced = request.tools.length > 0 && request.toolChoice !== undefined && !('auto' in request.toolChoice);
  const tool = forced ? (isObject(request.toolChoice!.tool) ? request.tools.find((t) => t.name === (request.toolChoice!.tool as Record<string, unknown>).name)! : request.tools[0]) : askedTool(request);
  const toolUseId = `tooluse_mock${String(ctx.req.seq).padStart(6, '0')}`;
  const toolInput = tool ? (schemaValue(tool.schema, 'Paris') as Record<string, unknown>) : {};
  const reasoning = request.reasoning === 'claude' ? MOCK_REASONING : request.reasoning === 'nova' ? NOVA_REASONING : '';
  const cut = tool ? { text: '', truncated: false } : truncateTokens(ctx.text, request.maxTokens);
  const outputTokens = (tool ? 4 : countTokens(cut.text)) + countTokens(reasoning);
  const stopReason = tool ? 'tool_use' : cut.truncated ? 'max_tokens' : 'end_turn';
  // With caching, inputTokens counts only what was neither read from nor written to the cache.
  const uncached = cache ? Math.max(0, inputTokens - cache.read - cache.write) : inputTokens;
  const usage: Record<string, number> = { inputTokens: uncached, outputTokens, totalTokens: inputTokens + outputTokens };
  if (cache) {
    usage.cacheReadInputTokens = cache.read;
    usage.cacheWriteInputTokens = cache.write;
  }
  const headers = { 'x-amzn-requestid': ctx.ids.uuid() };
  const reasoningBlock = request.reasoning === 'claude' ? { reasoningText: { text: reasoning, signature: signatureOf(reasoning) } } : { reasoningText: { text: reasoning } };
  if (!stream) {
    const content: Record<string, unknown>[] = [];
    if (reasoning) content.push({ reasoningContent: reasoningBlock });
    content.push(tool ? { toolUse: { toolUseId, name: tool.name, input: toolInput } } : { text: cut.text });
    return { kind: 'json', status: 200, headers, body: { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 42 } } };
  }
  const frames: Uint8Array[] = [eventFrame('messageStart', { p: pad(12), role: 'assistant' })];
  let index = 0;
  if (reasoning) {
    splitChunks(reasoning, null).forEach((piece, i) => frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { reasoningContent: { text: piece } }, p: pad(i + 5) })));
    if (request.reasoning === 'claude') frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { reasoningContent: { signature: signatureOf(reasoning) } }, p: pad(9) }));
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index, p: pad(11) }));
    index++;
  }
  if (tool) {
    frames.push(eventFrame('contentBlockStart', { contentBlockIndex: index, p: pad(30), start: { toolUse: { name: tool.name, toolUseId } } }));
    for (const piece of jsonPieces(JSON.stringify(toolInput))) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: piece } }, p: pad(piece.length + 7) }));
  } else {
    splitChunks(cut.text, ctx.chunks).forEach((piece, i) => frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { text: piece }, p: pad(i + 3) })));
  }
  frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index, p: pad(40) }));
  frames.push(eventFrame('messageStop', { p: pad(2), stopReason }));
  frames.push(eventFrame('metadata', { metrics: { latencyMs: 42 }, p: pad(23), usage }));
  const filler = index;
  return {
    kind: 'stream',
    contentType: 'application/vnd.amazon.eventstream',
    headers,
    frames,
    terminal: 2,
    filler: (i) => eventFrame('contentBlockDelta', { contentBlockIndex: filler, delta: { text: '.' }, p: pad(i) }),
  };
}

/** The text of a Converse body, for assertions. */
export function conversePromptText(json: unknown): string {
  if (!isObject(json) || !Array.isArray(json.messages)) return '';
  return json.messages.map((m) => (isObject(m) ? textOf(m.content) : '')).join(' ');
}
