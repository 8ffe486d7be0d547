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

const REQUEST_FIELDS = ['messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'promptVariables', 'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig'];
const BLOCK_KINDS = ['text', 'image', 'document', 'video', 'toolUse', 'toolResult', 'guardContent', 'cachePoint', 'reasoningContent'];

interface ConverseRequest {
  messages: { role: string; content: Record<string, unknown>[] }[];
  maxTokens: number | undefined;
  toolChoice: Record<string, unknown> | undefined;
  tools: string[];
  promptText: string;
}

function constraint(value: unknown, at: string, rule: string): JsonReply {
  return validation(`1 validation error detected: Value '${JSON.stringify(value)}' at '${at}' failed to satisfy constraint: ${rule}`);
}

function validate(json: unknown): JsonReply | ConverseRequest {
  if (!isObject(json)) return validation('Malformed input request, please reformat your input and try again.');
  for (const key of Object.keys(json)) {
    if (!REQUEST_FIELDS.includes(key)) return validation(`Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
  }
  const messages = json.messages;
  if (!Array.isArray(messages) || messages.length === 0) return validation('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  const texts: string[] = [];
  let toolBlocks = false;
  for (const [i, message] of messages.entries()) {
    if (!isObject(message) || (message.role !== 'user' && message.role !== 'assistant')) return constraint(isObject(message) ? message.role : message, `messages.${i + 1}.member.role`, 'Member must satisfy enum value set: [user, assistant]');
    if (i === 0 && message.role !== 'user') return validation('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    if (i > 0 && (messages[i - 1] as { role: string }).role === message.role) {
      return validation('A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    }
    if (!Array.isArray(message.content) || message.content.length === 0) return validation(`The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`);
    for (const [j, block] of message.content.entries()) {
      const kinds = isObject(block) ? Object.keys(block).filter((k) => BLOCK_KINDS.includes(k)) : [];
      if (!isObject(block) || kinds.length !== 1 || Object.keys(block).length !== 1) return validation(`The ContentBlock object at messages.${i}.content.${j} must set one of the following keys: ${BLOCK_KINDS.join(', ')}.`);
      if ('text' in block) {
        if (typeof block.text !== 'string' || block.text.trim() === '') return validation(`The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`);
        texts.push(block.text);
      }
      if ('toolUse' in block) {
        toolBlocks = true;
        const use = block.toolUse;
        if (message.role !== 'assistant') return validation(`The toolUse content block at messages.${i}.content.${j} is only allowed in assistant messages.`);
        if (!isObject(use) || typeof use.toolUseId !== 'string' || typeof use.name !== 'string' || !isObject(use.input)) {
          return validation(`The toolUse block at messages.${i}.content.${j} needs toolUseId, name and an input object.`);
        }
      }
      if ('toolResult' in block) {
        toolBlocks = true;
        const result = block.toolResult;
        if (message.role !== 'user') return validation(`The toolResult content block at messages.${i}.content.${j} is only allowed in user messages.`);
        if (!isObject(result) || typeof result.toolUseId !== 'string' || !Array.isArray(result.content) || result.content.length === 0) {
          return validation(`The toolResult block at messages.${i}.content.${j} needs toolUseId and content.`);
        }
        for (const c of result.content) {
          if (!isObject(c) || Object.keys(c).length !== 1 || !['text', 'json', 'image', 'document'].includes(Object.keys(c)[0])) {
            return validation(`The toolResult content at messages.${i}.content.${j} must set one of text, json, image, document.`);
          }
          texts.push(typeof c.text === 'string' ? c.text : JSON.stringify(c.json ?? ''));
        }
      }
      if ('image' in block) {
        const image = block.image;
        if (!isObject(image) || !['png', 'jpeg', 'gif', 'webp'].includes(String(image.format)) || !isObject(image.source) || typeof image.source.bytes !== 'string') {
          return validation(`The image block at messages.${i}.content.${j} needs a format (png, jpeg, gif, webp) and source.bytes.`);
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
  if (json.system !== undefined) {
    if (!Array.isArray(json.system)) return constraint(json.system, 'system', 'Member must be a list');
    for (const [k, s] of json.system.entries()) {
      if (!isObject(s) || (typeof s.text !== 'string' && s.guardContent === undefined && s.cachePoint === undefined)) return validation(`The SystemContentBlock at system.${k} must set text, guardContent or cachePoint.`);
      if (typeof s.text === 'string') texts.push(s.text);
    }
  }
  let maxTokens: number | undefined;
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
  }
  const tools: string[] = [];
  let toolChoice: Record<string, unknown> | undefined;
  if (json.toolConfig !== undefined) {
    const tc = json.toolConfig;
    if (!isObject(tc) || !Array.isArray(tc.tools) || tc.tools.length === 0) return constraint(isObject(tc) ? tc.tools : tc, 'toolConfig.tools', 'Member must have length greater than or equal to 1');
    for (const [k, tool] of tc.tools.entries()) {
      const spec = isObject(tool) ? tool.toolSpec : undefined;
      if (!isObject(spec) || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name)) return constraint(isObject(spec) ? spec.name : null, `toolConfig.tools.${k + 1}.member.toolSpec.name`, 'Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+');
      if (!isObject(spec.inputSchema) || !isObject(spec.inputSchema.json)) return constraint(null, `toolConfig.tools.${k + 1}.member.toolSpec.inputSchema`, 'Member must not be null');
      if (spec.description !== undefined && (typeof spec.description !== 'string' || spec.description === '')) return constraint(spec.description, `toolConfig.tools.${k + 1}.member.toolSpec.description`, 'Member must have length greater than or equal to 1');
      tools.push(spec.name);
    }
    if (tc.toolChoice !== undefined) {
      const c = tc.toolChoice;
      const keys = isObject(c) ? Object.keys(c) : [];
      if (!isObject(c) || keys.length !== 1 || !['auto', 'any', 'tool'].includes(keys[0])) return validation('Malformed input request: toolChoice must set exactly one of auto, any, tool.');
      if (isObject(c.tool) && !tools.includes(String(c.tool.name))) return validation(`The tool ${String(c.tool.name)} in toolChoice is not defined in toolConfig.tools.`);
      toolChoice = c;
    }
  } else if (toolBlocks) {
    return validation('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  }
  return { messages: messages as ConverseRequest['messages'], maxTokens, toolChoice, tools, promptText: texts.join(' ') };
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

export function bedrockProvider(opts: BedrockOptions & Record<string, unknown>): ProviderImpl {
  const credentials = opts.credentials === undefined ? DEFAULT_BEDROCK_CREDENTIALS : opts.credentials;
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
      const request = validate(ctx.req.json);
      if ('kind' in request) return request;
      return answer(ctx, request, route[2] === 'converse-stream' || ctx.forceStream);
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') return bedrockError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
      if (status === 503) return bedrockError(503, 'ServiceUnavailableException', 'Bedrock is unable to process your request.');
      return bedrockError(status, 'InternalServerException', 'The server encountered an error processing your request.');
    },
  };
}

function answer(ctx: HandlerCtx, request: ConverseRequest, stream: boolean): Reply {
  const inputTokens = countTokens(request.promptText);
  const useTool = request.tools.length > 0 && request.toolChoice !== undefined && !('auto' in request.toolChoice);
  const toolName = useTool ? (isObject(request.toolChoice!.tool) ? String(request.toolChoice!.tool.name) : request.tools[0]) : '';
  const toolUseId = `tooluse_mock${String(ctx.req.seq).padStart(6, '0')}`;
  const cut = useTool ? { text: '', truncated: false } : truncateTokens(ctx.text, request.maxTokens);
  const outputTokens = useTool ? 4 : countTokens(cut.text);
  const stopReason = useTool ? 'tool_use' : cut.truncated ? 'max_tokens' : 'end_turn';
  const usage = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  const headers = { 'x-amzn-requestid': ctx.ids.uuid() };
  if (!stream) {
    const content = useTool ? [{ toolUse: { toolUseId, name: toolName, input: {} } }] : [{ text: cut.text }];
    return { kind: 'json', status: 200, headers, body: { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 42 } } };
  }
  const frames: Uint8Array[] = [eventFrame('messageStart', { p: pad(12), role: 'assistant' })];
  if (useTool) {
    frames.push(eventFrame('contentBlockStart', { contentBlockIndex: 0, p: pad(30), start: { toolUse: { name: toolName, toolUseId } } }));
    for (const piece of ['', '{', '}']) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: piece } }, p: pad(piece.length + 7) }));
  } else {
    splitChunks(cut.text, ctx.chunks).forEach((piece, i) => frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: piece }, p: pad(i + 3) })));
  }
  frames.push(eventFrame('contentBlockStop', { contentBlockIndex: 0, p: pad(40) }));
  frames.push(eventFrame('messageStop', { p: pad(2), stopReason }));
  frames.push(eventFrame('metadata', { metrics: { latencyMs: 42 }, p: pad(23), usage }));
  return {
    kind: 'stream',
    contentType: 'application/vnd.amazon.eventstream',
    headers,
    frames,
    terminal: 2,
    filler: (i) => eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: '.' }, p: pad(i) }),
  };
}

/** The text of a Converse body, for assertions. */
export function conversePromptText(json: unknown): string {
  if (!isObject(json) || !Array.isArray(json.messages)) return '';
  return json.messages.map((m) => (isObject(m) ? textOf(m.content) : '')).join(' ');
}
