/**
 * Gemini: Google AI Studio (`/v1beta/models/{model}:{method}`, key in `x-goog-api-key` or `?key=`)
 * and Vertex AI (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`, an
 * OAuth Bearer token), plus an OAuth token endpoint (`POST /token`) that mints tokens for a service
 * account whose JWT assertion it verifies (RS256 against the account's public key).
 *
 * Sources:
 * - API reference (ai.google.dev/api/generate-content, .../embeddings, Vertex AI REST reference
 *   `projects.locations.publishers.models` generateContent / streamGenerateContent / predict):
 *   request fields (proto JSON: lowerCamel and snake_case names both accepted; a singular value
 *   accepted for a repeated field), `Content.role` user/model, a Part holds exactly one of text,
 *   inlineData, fileData, functionCall, functionResponse, executableCode, codeExecutionResult;
 *   `FunctionDeclaration.parameters` (OpenAPI subset) and `parametersJsonSchema` are exclusive;
 *   `stopSequences` at most 5; `temperature` 0..2; streams are `data: {json}\r\n\r\n` with
 *   `?alt=sse`, a JSON array otherwise; the last chunk carries finishReason and usageMetadata.
 * - Error bodies `{"error":{"code","message","status"}}` as the API returns them (quoted in
 *   public reports): 400 INVALID_ARGUMENT "API key not valid. Please pass a valid API key."
 *   (google-gemini/generative-ai-python#245); 403 PERMISSION_DENIED "Method doesn't allow
 *   unregistered callers ..." (no key); 400 `Invalid JSON payload received. Unknown name "x": Cannot
 *   find field.`; 400 "Please use a valid role: user, model."; 404 NOT_FOUND "models/x is not found
 *   for API version v1beta, or is not supported for generateContent. ..."; 401 UNAUTHENTICATED
 *   "Request had invalid authentication credentials. ..." (Vertex); 429 RESOURCE_EXHAUSTED;
 *   503 UNAVAILABLE "The model is overloaded. Please try again later."
 * - Thought signatures (ai.google.dev/gemini-api/docs/thought-signatures): thinking models (2.5, 3)
 *   sign the first function call of each step; Gemini 3 also signs the last part of an answer
 *   without calls. Gemini 3 answers 400 "Function call is missing a thought_signature in
 *   functionCall parts. ..." (the message as quoted in public reports) when the first function call
 *   of a current-turn step comes back without one; the documented placeholders
 *   `skip_thought_signature_validator` / `context_engineering_is_the_way_to_go` pass. A signature
 *   is bytes: one that is not base64 is "Invalid value at '...thought_signature' (TYPE_BYTES),
 *   Base64 decoding failed".
 * - Thinking (…/docs/thinking): `thinkingConfig {thinkingBudget, thinkingLevel, includeThoughts}`;
 *   budget and level together are refused, `thinkingLevel` before Gemini 3 too, budget 0 on 2.5 Pro
 *   ("Budget 0 is invalid. This model only works in thinking mode."; the other messages here are
 *   approximations: the references document the rules, not the wording). Thinking models report
 *   `thoughtsTokenCount` (THOUGHT_TOKENS here, not in candidatesTokenCount, in the total);
 *   `includeThoughts` adds a `thought: true` part first.
 * - Structured output (…/docs/structured-output, GenerationConfig): `responseSchema` (the OpenAPI
 *   subset) and `responseJsonSchema` are exclusive and need `responseMimeType: application/json`;
 *   the answer is JSON matching the schema (a value built from it), `{"answer": text}` without one.
 *   A forced function call's arguments match its declared schema the same way.
 * - Implicit caching (…/docs/caching): a request whose leading contents (with the system
 *   instruction) repeat an earlier request's reports them as `cachedContentTokenCount` (included in
 *   promptTokenCount), deterministically, per mock instance.
 * - OAuth (developers.google.com/identity/protocols/oauth2/service-account#httprest): JWT bearer
 *   grant, `{"access_token","expires_in":3599,"token_type":"Bearer"}`; errors
 *   `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`.
 */
import { createPublicKey, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { countTokens, isObject, splitChunks, textOf, truncateTokens } from './text.ts';
import { schemaValue } from './schema-value.ts';
import { embedding } from './openai.ts';

export interface GeminiOptions {
  /** AI Studio key (default `gemini-test`); null: no key needed. */
  key?: string | null;
  /** Vertex Bearer tokens accepted besides those the token endpoint issued (default `ya29.vertex-test`). */
  tokens?: string[];
  /** Service account the token endpoint accepts assertions from: its email and PEM public key. */
  serviceAccount?: { client_email: string; public_key: string };
  /** Served models (default GEMINI_MODELS), or '*'. */
  models?: string[] | '*';
}

export const GEMINI_MODELS = [
  'gemini-1.5-pro', 'gemini-1.5-flash', 'gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-3-pro-preview',
  'gemini-pro', 'text-embedding-004', 'text-embedding-005', 'gemini-embedding-001',
];
const EMBEDDING_DIMS: Record<string, number> = { 'text-embedding-004': 768, 'text-embedding-005': 768, 'gemini-embedding-001': 3072 };

const STUDIO = /^\/(v1|v1beta)\/models\/([^/:]+):([A-Za-z]+)$/;
const VERTEX = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):([A-Za-z]+)$/;

export function geminiError(status: number, message: string, code: string, details?: unknown[]): JsonReply {
  return { kind: 'json', status, body: { error: { code: status, message, status: code, ...(details ? { details } : {}) } } };
}

const invalid = (message: string): JsonReply => geminiError(400, message, 'INVALID_ARGUMENT');

// ---------------------------------------------------------------------------------------------
// Proto JSON reading: lowerCamel or snake_case names, singular values for repeated fields

const camel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The message's fields under their lowerCamel names; the first unknown name, if any. */
function fields(message: Record<string, unknown>, known: readonly string[]): { value: Record<string, unknown>; unknown?: string } {
  const value: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(message)) {
    const name = camel(key);
    if (!known.includes(name)) return { value, unknown: key };
    value[name] = v;
  }
  return { value };
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
}

const unknownName = (name: string, at?: string): JsonReply => invalid(`Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ''}: Cannot find field.`);

const REQUEST_FIELDS = ['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings', 'cachedContent', 'labels', 'model'];
const CONTENT_FIELDS = ['role', 'parts'];
const PART_FIELDS = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult', 'thought', 'thoughtSignature', 'videoMetadata'];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];
const GENERATION_FIELDS = [
  'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK',
  'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs', 'thinkingConfig', 'responseModalities', 'mediaResolution',
];
const THINKING_FIELDS = ['thinkingBudget', 'thinkingLevel', 'includeThoughts'];
const FUNCTION_CALL_FIELDS = ['id', 'name', 'args'];
const FUNCTION_RESPONSE_FIELDS = ['id', 'name', 'response', 'parts', 'willContinue', 'scheduling'];
/** Google's documented stand-ins for a signature a call never had (thought-signatures FAQ). */
export const PLACEHOLDER_SIGNATURES = ['skip_thought_signature_validator', 'context_engineering_is_the_way_to_go'];
/** Thoughts a thinking model reports per answer. */
export const THOUGHT_TOKENS = 12;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const TOOL_FIELDS = ['functionDeclarations', 'googleSearch', 'googleSearchRetrieval', 'codeExecution', 'urlContext'];
const DECLARATION_FIELDS = ['name', 'description', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema', 'behavior'];
/** `Schema` (the OpenAPI subset `parameters` takes). */
const SCHEMA_FIELDS = [
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required', 'minProperties', 'maxProperties',
  'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering', 'default', 'items', 'minimum', 'maximum',
];

function checkSchema(schema: unknown, at: string): JsonReply | null {
  if (!isObject(schema)) return null;
  for (const key of Object.keys(schema)) if (!SCHEMA_FIELDS.includes(camel(key))) return unknownName(key, at);
  const properties = schema.properties;
  if (isObject(properties)) for (const [name, s] of Object.entries(properties)) {
    const err = checkSchema(s, `${at}.properties[${name}].value`);
    if (err) return err;
  }
  if (schema.items !== undefined) return checkSchema(schema.items, `${at}.items`);
  return null;
}

interface Parsed {
  contents: { role: string; parts: Record<string, unknown>[] }[];
  system: Record<string, unknown>[];
  generation: Record<string, unknown>;
  declarations: Record<string, unknown>[];
  mode: string | undefined;
  allowed: string[];
}

/** The first problem with a generateContent body, as Gemini reports it, or the parsed request. */
function parseGenerate(json: unknown): JsonReply | Parsed {
  if (!isObject(json)) return invalid('Invalid JSON payload received. Expected an object.');
  const top = fields(json, REQUEST_FIELDS);
  if (top.unknown) return unknownName(top.unknown);
  const r = top.value;
  const contents: Parsed['contents'] = [];
  const raw = list(r.contents);
  if (raw.length === 0) return invalid('* GenerateContentRequest.contents: contents is not specified');
  for (const [i, c] of raw.entries()) {
    if (!isObject(c)) return invalid(`Invalid value at 'contents[${i}]'`);
    const content = fields(c, CONTENT_FIELDS);
    if (content.unknown) return unknownName(content.unknown, `contents[${i}]`);
    const role = content.value.role ?? 'user';
    if (role !== 'user' && role !== 'model') return invalid('Please use a valid role: user, model.');
    const parts = list(content.value.parts);
    if (parts.length === 0) return invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`);
    const read: Record<string, unknown>[] = [];
    for (const [j, p] of parts.entries()) {
      const at = `contents[${i}].parts[${j}]`;
      if (!isObject(p)) return invalid(`Invalid value at '${at}'`);
      const part = fields(p, PART_FIELDS);
      if (part.unknown) return unknownName(part.unknown, at);
      const data = PART_DATA.filter((k) => part.value[k] !== undefined);
      if (data.length !== 1) return invalid(`* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field`);
      if (part.value.functionCall !== undefined && (!isObject(part.value.functionCall) || typeof part.value.functionCall.name !== 'string')) {
        return invalid(`* GenerateContentRequest.${at}.function_call.name: Name cannot be empty.`);
      }
      if (isObject(part.value.functionCall)) {
        const call = fields(part.value.functionCall, FUNCTION_CALL_FIELDS);
        if (call.unknown) return unknownName(call.unknown, `${at}.function_call`);
      }
      if (isObject(part.value.functionResponse)) {
        const response = fields(part.value.functionResponse, FUNCTION_RESPONSE_FIELDS);
        if (response.unknown) return unknownName(response.unknown, `${at}.function_response`);
      }
      const signature = part.value.thoughtSignature;
      if (signature !== undefined && (typeof signature !== 'string' || !BASE64.test(signature))) {
        return invalid(`Invalid value at '${at}.thought_signature' (TYPE_BYTES), Base64 decoding failed for "${String(signature)}"`);
      }
      const response = part.value.functionResponse;
      if (response !== undefined) {
        if (!isObject(response) || typeof response.name !== 'string' || response.name === '') return invalid(`* GenerateContentRequest.${at}.function_response.name: Name cannot be empty.`);
        if (response.response !== undefined && !isObject(response.response)) return invalid(`Invalid value at '${at}.function_response.response' (type.googleapis.com/google.protobuf.Struct)`);
      }
      const inline = part.value.inlineData;
      if (inline !== undefined && (!isObject(inline) || typeof (inline.mimeType ?? inline.mime_type) !== 'string' || typeof inline.data !== 'string')) {
        return invalid(`* GenerateContentRequest.${at}.inline_data: mime_type and data are required`);
      }
      read.push(part.value);
    }
    contents.push({ role, parts: read });
  }
  let system: Record<string, unknown>[] = [];
  if (r.systemInstruction !== undefined) {
    if (!isObject(r.systemInstruction)) return invalid("Invalid value at 'system_instruction'");
    const s = fields(r.systemInstruction, CONTENT_FIELDS);
    if (s.unknown) return unknownName(s.unknown, 'system_instruction');
    system = list(s.value.parts).filter(isObject);
  }
  let generation: Record<string, unknown> = {};
  if (r.generationConfig !== undefined) {
    if (!isObject(r.generationConfig)) return invalid("Invalid value at 'generation_config'");
    const g = fields(r.generationConfig, GENERATION_FIELDS);
    if (g.unknown) return unknownName(g.unknown, 'generation_config');
    generation = g.value;
    const t = generation.temperature;
    if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 2)) return invalid('* GenerateContentRequest.generation_config.temperature: must be in the range [0.0, 2.0]');
    const p = generation.topP;
    if (p !== undefined && (typeof p !== 'number' || p < 0 || p > 1)) return invalid('* GenerateContentRequest.generation_config.top_p: must be in the range [0.0, 1.0]');
    const k = generation.topK;
    if (k !== undefined && (!Number.isInteger(k) || (k as number) < 1)) return invalid('* GenerateContentRequest.generation_config.top_k: must be positive');
    if (list(generation.stopSequences).length > 5) return invalid('* GenerateContentRequest.generation_config.stop_sequences: the number of stop sequences must not exceed 5');
    const max = generation.maxOutputTokens;
    if (max !== undefined && (!Number.isInteger(max) || (max as number) < 1)) return invalid('* GenerateContentRequest.generation_config.max_output_tokens: must be positive');
    const n = generation.candidateCount;
    if (n !== undefined && (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 8)) return invalid('* GenerateContentRequest.generation_config.candidate_count: must be in the range [1, 8]');
    if (generation.responseSchema !== undefined && generation.responseJsonSchema !== undefined) {
      return invalid('* GenerateContentRequest.generation_config.response_schema: response_schema and response_json_schema are mutually exclusive');
    }
    if ((generation.responseSchema !== undefined || generation.responseJsonSchema !== undefined) && generation.responseMimeType !== 'application/json') {
      return invalid('* GenerateContentRequest.generation_config.response_mime_type: must be application/json when a response schema is set');
    }
    if (generation.responseJsonSchema !== undefined && !isObject(generation.responseJsonSchema)) return invalid("Invalid value at 'generation_config.response_json_schema'");
    const schemaErr = checkSchema(generation.responseSchema, 'generation_config.response_schema');
    if (schemaErr) return schemaErr;
    if (generation.thinkingConfig !== undefined) {
      if (!isObject(generation.thinkingConfig)) return invalid("Invalid value at 'generation_config.thinking_config'");
      const t = fields(generation.thinkingConfig, THINKING_FIELDS);
      if (t.unknown) return unknownName(t.unknown, 'generation_config.thinking_config');
      generation.thinkingConfig = t.value;
      if (t.value.thinkingBudget !== undefined && !Number.isInteger(t.value.thinkingBudget)) return invalid("Invalid value at 'generation_config.thinking_config.thinking_budget' (TYPE_INT32)");
      if (t.value.thinkingBudget !== undefined && t.value.thinkingLevel !== undefined) {
        return invalid('* GenerateContentRequest.generation_config.thinking_config: thinking_budget and thinking_level cannot both be set');
      }
      const level = t.value.thinkingLevel;
      if (level !== undefined && (typeof level !== 'string' || !['MINIMAL', 'LOW', 'MEDIUM', 'HIGH', 'THINKING_LEVEL_UNSPECIFIED'].includes(level.toUpperCase()))) {
        return invalid(`Invalid value at 'generation_config.thinking_config.thinking_level' (type.googleapis.com/google.ai.generativelanguage.v1beta.ThinkingConfig.ThinkingLevel), "${String(level)}"`);
      }
    }
  }
  const declarations: Record<string, unknown>[] = [];
  for (const [i, t] of list(r.tools).entries()) {
    if (!isObject(t)) return invalid(`Invalid value at 'tools[${i}]'`);
    const tool = fields(t, TOOL_FIELDS);
    if (tool.unknown) return unknownName(tool.unknown, `tools[${i}]`);
    for (const [j, d] of list(tool.value.functionDeclarations).entries()) {
      const at = `tools[${i}].function_declarations[${j}]`;
      if (!isObject(d)) return invalid(`Invalid value at '${at}'`);
      const decl = fields(d, DECLARATION_FIELDS);
      if (decl.unknown) return unknownName(decl.unknown, at);
      if (typeof decl.value.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(decl.value.name)) {
        return invalid(`* GenerateContentRequest.${at}.name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.`);
      }
      if (decl.value.parameters !== undefined && decl.value.parametersJsonSchema !== undefined) {
        return invalid(`* GenerateContentRequest.${at}: parameters and parameters_json_schema are mutually exclusive`);
      }
      const err = checkSchema(decl.value.parameters, `${at}.parameters`);
      if (err) return err;
      declarations.push(decl.value);
    }
  }
  let mode: string | undefined;
  let allowed: string[] = [];
  if (r.toolConfig !== undefined) {
    const config = isObject(r.toolConfig) ? (r.toolConfig.functionCallingConfig ?? r.toolConfig.function_calling_config) : undefined;
    if (config !== undefined) {
      if (!isObject(config)) return invalid("Invalid value at 'tool_config.function_calling_config'");
      mode = typeof config.mode === 'string' ? config.mode.toUpperCase() : undefined;
      if (mode !== undefined && !['AUTO', 'ANY', 'NONE', 'VALIDATED', 'MODE_UNSPECIFIED'].includes(mode)) {
        return invalid(`Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "${String(config.mode)}"`);
      }
      allowed = list(config.allowedFunctionNames ?? config.allowed_function_names).filter((n): n is string => typeof n === 'string');
      if (allowed.length > 0 && mode !== 'ANY') return invalid('* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed when mode is ANY');
    }
  }
  return { contents, system, generation, declarations, mode, allowed };
}

/** Gemini 3: every function call of the current turn must come back with its thought signature. */
function missingSignature(request: Parsed): JsonReply | null {
  let lastUserText = -1;
  request.contents.forEach((c, i) => {
    if (c.role === 'user' && c.parts.some((p) => typeof p.text === 'string')) lastUserText = i;
  });
  for (let i = lastUserText + 1; i < request.contents.length; i++) {
    const content = request.contents[i];
    if (content.role !== 'model') continue;
    const calls = content.parts.filter((p) => p.functionCall !== undefined);
    const first = calls[0];
    // Any base64 value passes here, the documented placeholders (PLACEHOLDER_SIGNATURES) included.
    if (first && typeof first.thoughtSignature !== 'string') {
      const name = (first.functionCall as { name: string }).name;
      return invalid(
        `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${name}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      );
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Auth

const ISSUED = new Set<string>();
let issuedCount = 0;

function studioAuth(ctx: HandlerCtx, key: string | null | undefined): JsonReply | null {
  if (!key) return null;
  const given = ctx.req.headers['x-goog-api-key'] ?? ctx.req.query.key;
  if (typeof given !== 'string' || given === '') {
    return geminiError(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", 'PERMISSION_DENIED');
  }
  if (given !== key) {
    return geminiError(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
    ]);
  }
  return null;
}

function vertexAuth(ctx: HandlerCtx, tokens: string[]): JsonReply | null {
  const header = ctx.req.headers.authorization;
  const token = typeof header === 'string' && /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '').trim() : '';
  if (token && (tokens.includes(token) || ISSUED.has(token))) return null;
  return geminiError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'UNAUTHENTICATED');
}

function oauthError(error: string, description: string): JsonReply {
  return { kind: 'json', status: 400, body: { error, error_description: description } };
}

/** `POST /token`: the JWT bearer grant, the assertion verified against the service account's public key. */
function token(ctx: HandlerCtx, account: GeminiOptions['serviceAccount'], publicKey: KeyObject | null): JsonReply {
  const type = String(ctx.req.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded')) return oauthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  const form = new URLSearchParams(ctx.req.body);
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return oauthError('unsupported_grant_type', 'Invalid grant_type: ' + (form.get('grant_type') ?? ''));
  const assertion = form.get('assertion') ?? '';
  const [h, c, s] = assertion.split('.');
  if (!h || !c || !s || !account || !publicKey) return oauthError('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return oauthError('invalid_grant', 'Invalid JWT.');
  }
  if (header.alg !== 'RS256') return oauthError('invalid_grant', 'Invalid JWT: unsupported algorithm.');
  if (!createVerify('RSA-SHA256').update(`${h}.${c}`).verify(publicKey, Buffer.from(s, 'base64url'))) return oauthError('invalid_grant', 'Invalid JWT Signature.');
  if (claims.iss !== account.client_email) return oauthError('invalid_grant', 'Invalid email or User ID');
  const now = ctx.ids.seconds();
  const tokenUrl = `http://${String(ctx.req.headers.host)}${ctx.path}`;
  if (claims.aud !== tokenUrl) return oauthError('invalid_grant', 'Invalid JWT: audience does not match.');
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp <= now - 60 || claims.exp - claims.iat > 3600) {
    return oauthError('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
  }
  if (typeof claims.scope !== 'string' || claims.scope === '') return oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
  const accessToken = `ya29.mock-${++issuedCount}`;
  ISSUED.add(accessToken);
  return { kind: 'json', status: 200, body: { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' } };
}

// ---------------------------------------------------------------------------------------------
// Provider

export function geminiProvider(opts: GeminiOptions & Record<string, unknown>): ProviderImpl {
  const publicKey = opts.serviceAccount ? createPublicKey(opts.serviceAccount.public_key) : null;
  /** Prompt prefixes seen, for implicit caching. */
  const seen = new Map<string, number>();
  const served = (model: string): boolean => (opts.models ?? GEMINI_MODELS) === '*' || (opts.models ?? GEMINI_MODELS).includes(model);
  return {
    handle(ctx): Reply {
      if (ctx.path === '/token' && ctx.req.method === 'POST') return token(ctx, opts.serviceAccount, publicKey);
      const studio = STUDIO.exec(ctx.path);
      const vertex = VERTEX.exec(ctx.path);
      if ((!studio && !vertex) || ctx.req.method !== 'POST') return { kind: 'json', status: 404, contentType: 'text/html; charset=UTF-8', body: '<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> That’s an error.</html>' };
      const auth = studio ? studioAuth(ctx, opts.key) : vertexAuth(ctx, opts.tokens ?? ['ya29.vertex-test']);
      if (auth) return auth;
      const model = decodeURIComponent(studio ? studio[2] : vertex![4]);
      const method = studio ? studio[3] : vertex![5];
      const version = studio ? studio[1] : vertex![1];
      if (!served(model)) {
        return geminiError(404, `models/${model} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`, 'NOT_FOUND');
      }
      switch (method) {
        case 'generateContent':
        case 'streamGenerateContent':
          return generate(ctx, model, method === 'streamGenerateContent', seen);
        case 'batchEmbedContents':
          return studio ? batchEmbed(ctx, model) : methodNotFound(method);
        case 'predict':
          return vertex ? predict(ctx, model) : methodNotFound(method);
        default:
          return methodNotFound(method);
      }
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') {
        return geminiError(429, 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.', 'RESOURCE_EXHAUSTED');
      }
      if (status === 503) return geminiError(503, 'The model is overloaded. Please try again later.', 'UNAVAILABLE');
      return geminiError(status, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting', 'INTERNAL');
    },
  };
}

function methodNotFound(method: string): JsonReply {
  return geminiError(404, `Method not found: ${method}`, 'NOT_FOUND');
}

function partsText(parts: unknown[]): string[] {
  return parts.map((p) => (isObject(p) ? (typeof p.text === 'string' ? p.text : isObject(p.functionResponse) ? JSON.stringify(p.functionResponse.response ?? {}) : '') : ''));
}

/** Thinking as the model does it: whether it thinks, and an error for a configuration it refuses. */
function thinking(model: string, generation: Record<string, unknown>): { thinks: boolean; includeThoughts: boolean } | JsonReply {
  const config = isObject(generation.thinkingConfig) ? generation.thinkingConfig : {};
  const gemini3 = /^gemini-3/.test(model);
  const thinkingModel = gemini3 || /^gemini-2\.5/.test(model);
  if (config.thinkingLevel !== undefined && !gemini3) return invalid('Thinking level is not supported for this model.');
  if (config.thinkingBudget === 0 && /^gemini-2\.5-pro/.test(model)) return invalid('Budget 0 is invalid. This model only works in thinking mode.');
  const thinks = thinkingModel && config.thinkingBudget !== 0;
  return { thinks, includeThoughts: thinks && config.includeThoughts === true };
}

/** The answer's text: the mock's text, or JSON when the request asks for JSON. */
function answerText(generation: Record<string, unknown>, text: string): string {
  if (generation.responseMimeType !== 'application/json') return text;
  const schema = generation.responseJsonSchema ?? generation.responseSchema;
  return JSON.stringify(schema !== undefined ? schemaValue(schema, text) : { answer: text });
}

/**
 * Implicit caching: the longest leading run an earlier request sent (the system instruction alone,
 * or with the first contents), in tokens. The last content is always new input.
 */
function implicitCache(seen: Map<string, number>, parsed: Parsed): number {
  let cached = 0;
  const system = JSON.stringify(parsed.system);
  let tokens = countTokens(partsText(parsed.system).join(' '));
  const keys: [string, number][] = parsed.system.length > 0 ? [[system, tokens]] : [];
  parsed.contents.slice(0, -1).forEach((content, i) => {
    tokens += countTokens(partsText(content.parts).join(' '));
    keys.push([`${system}|${JSON.stringify(parsed.contents.slice(0, i + 1))}`, tokens]);
  });
  for (const [key, count] of keys) if (seen.has(key)) cached = count;
  for (const [key, count] of keys) seen.set(key, count);
  return cached;
}

function generate(ctx: HandlerCtx, model: string, stream: boolean, seen: Map<string, number>): Reply {
  const parsed = parseGenerate(ctx.req.json);
  if ('kind' in parsed) return parsed;
  const gemini3 = model.startsWith('gemini-3');
  if (gemini3) {
    const err = missingSignature(parsed);
    if (err) return err;
  }
  const think = thinking(model, parsed.generation);
  if ('kind' in think) return think;
  const promptTokens = countTokens([...partsText(parsed.system), ...parsed.contents.flatMap((c) => partsText(c.parts))].join(' '));
  const cachedTokens = implicitCache(seen, parsed);
  const json = parsed.generation.responseMimeType === 'application/json';
  const cut = json ? { text: answerText(parsed.generation, ctx.text), truncated: false } : truncateTokens(ctx.text, parsed.generation.maxOutputTokens as number | undefined);
  const n = (parsed.generation.candidateCount as number | undefined) ?? 1;
  const callFunction = parsed.declarations.length > 0 && parsed.mode === 'ANY';
  const functionName = parsed.allowed[0] ?? (parsed.declarations[0]?.name as string | undefined);
  const declaration = parsed.declarations.find((d) => d.name === functionName);
  // Arguments that satisfy the declared schema (constrained decoding), {} without one.
  const args = schemaValue(declaration?.parametersJsonSchema ?? declaration?.parameters ?? { type: 'object' }, 'Paris');
  const signature = think.thinks ? Buffer.from(`signature-${ctx.req.seq}`).toString('base64') : undefined;
  const thoughtTokens = think.thinks ? THOUGHT_TOKENS : 0;
  const thought = think.includeThoughts ? [{ text: 'The user asks a question; I answer it plainly.', thought: true }] : [];
  const callPart = (): Record<string, unknown> => ({ functionCall: { name: functionName, args }, ...(signature ? { thoughtSignature: signature } : {}) });
  /** Gemini 3 signs the last part of an answer without calls. */
  const signText = (part: Record<string, unknown>): Record<string, unknown> => (signature && gemini3 ? { ...part, thoughtSignature: signature } : part);
  const completion = callFunction ? 3 : countTokens(cut.text);
  const usage = (candidates: number) => ({
    promptTokenCount: promptTokens,
    candidatesTokenCount: candidates * n,
    totalTokenCount: promptTokens + candidates * n + thoughtTokens,
    ...(cachedTokens > 0 ? { cachedContentTokenCount: cachedTokens } : {}),
    ...(thoughtTokens > 0 ? { thoughtsTokenCount: thoughtTokens } : {}),
  });
  const finish = cut.truncated && !callFunction ? 'MAX_TOKENS' : 'STOP';
  const responseId = ctx.ids.next('mockresp');
  const candidate = (index: number, parts: unknown[], finishReason?: string) => ({ content: { parts, role: 'model' }, ...(finishReason ? { finishReason } : {}), index });

  if (!stream && !ctx.forceStream) {
    const parts = [...thought, ...(callFunction ? [callPart()] : [signText({ text: cut.text })])];
    return { kind: 'json', status: 200, body: { candidates: Array.from({ length: n }, (_, i) => candidate(i, parts, finish)), usageMetadata: usage(completion), modelVersion: model, responseId } };
  }
  const pieces = callFunction ? [] : splitChunks(cut.text, ctx.chunks);
  const chunks: Record<string, unknown>[] = [];
  if (thought.length > 0) chunks.push({ candidates: [candidate(0, thought)], usageMetadata: usage(0), modelVersion: model, responseId });
  let sent = 0;
  pieces.forEach((piece, i) => {
    sent += countTokens(piece);
    const last = i === pieces.length - 1;
    chunks.push({ candidates: [candidate(0, [last ? signText({ text: piece }) : { text: piece }], last ? finish : undefined)], usageMetadata: usage(sent), modelVersion: model, responseId });
  });
  if (callFunction) chunks.push({ candidates: [candidate(0, [callPart()], 'STOP')], usageMetadata: usage(completion), modelVersion: model, responseId });
  const sse = ctx.req.query.alt === 'sse';
  if (sse) {
    return {
      kind: 'stream',
      contentType: 'text/event-stream',
      frames: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`),
      filler: () => `data: ${JSON.stringify({ candidates: [candidate(0, [{ text: '.' }])], modelVersion: model, responseId })}\r\n\r\n`,
    };
  }
  // Without alt=sse: one JSON array, written element by element.
  return {
    kind: 'stream',
    contentType: 'application/json; charset=UTF-8',
    frames: [...chunks.map((c, i) => `${i === 0 ? '[' : ',\r\n'}${JSON.stringify(c, null, 2)}`), ']'],
    filler: () => `,\r\n${JSON.stringify({ candidates: [candidate(0, [{ text: '.' }])] })}`,
  };
}

function embeddingDims(model: string, requested: unknown): number {
  return typeof requested === 'number' ? requested : (EMBEDDING_DIMS[model] ?? 768);
}

function batchEmbed(ctx: HandlerCtx, model: string): Reply {
  const json = ctx.req.json;
  if (!isObject(json)) return invalid('Invalid JSON payload received. Expected an object.');
  const top = fields(json, ['requests']);
  if (top.unknown) return unknownName(top.unknown);
  const requests = list(top.value.requests);
  if (requests.length === 0) return invalid('* BatchEmbedContentsRequest.requests: at least one request is required');
  if (requests.length > 100) return invalid('* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch');
  const vectors: { values: number[] }[] = [];
  for (const [i, r] of requests.entries()) {
    if (!isObject(r)) return invalid(`Invalid value at 'requests[${i}]'`);
    const req = fields(r, ['model', 'content', 'taskType', 'title', 'outputDimensionality']);
    if (req.unknown) return unknownName(req.unknown, `requests[${i}]`);
    if (req.value.model !== `models/${model}`) return invalid(`* BatchEmbedContentsRequest.requests[${i}].model: the model must be the same as the one in the URL (models/${model})`);
    const content = req.value.content;
    const parts = isObject(content) ? list(content.parts) : [];
    const text = partsText(parts).join(' ');
    if (text === '') return invalid(`* BatchEmbedContentsRequest.requests[${i}].content: content must not be empty`);
    vectors.push({ values: embedding(text, embeddingDims(model, req.value.outputDimensionality)) });
  }
  return { kind: 'json', status: 200, body: { embeddings: vectors } };
}

function predict(ctx: HandlerCtx, model: string): Reply {
  const json = ctx.req.json;
  if (!isObject(json) || !Array.isArray(json.instances)) return invalid('Invalid JSON payload received. Unknown or missing "instances".');
  const unknown = Object.keys(json).find((k) => k !== 'instances' && k !== 'parameters');
  if (unknown) return unknownName(unknown);
  const dims = isObject(json.parameters) ? json.parameters.outputDimensionality : undefined;
  const predictions: unknown[] = [];
  let characters = 0;
  for (const [i, instance] of json.instances.entries()) {
    const content = isObject(instance) ? instance.content : undefined;
    if (typeof content !== 'string' || content === '') return invalid(`Invalid instance at index ${i}: "content" must be a non-empty string`);
    characters += content.length;
    predictions.push({ embeddings: { statistics: { truncated: false, token_count: countTokens(content) }, values: embedding(content, embeddingDims(model, dims)) } });
  }
  return { kind: 'json', status: 200, body: { predictions, metadata: { billableCharacterCount: characters } } };
}

/** The text of a Gemini request body's contents, for assertions. */
export function geminiPromptText(json: unknown): string {
  if (!isObject(json)) return '';
  return list(json.contents)
    .flatMap((c) => (isObject(c) ? list(c.parts) : []))
    .map((p) => (isObject(p) ? textOf([p]) : ''))
    .join(' ');
}

/**
 * A Google service account for tests: the JSON key file a gateway is configured with (its
 * `token_uri` at a gemini mock), and the mock option that makes that mock's `/token` endpoint
 * accept the account's signed assertions.
 */
export function testServiceAccount(email = 'gateway@mock-project.iam.gserviceaccount.com') {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    mockOption: { client_email: email, public_key: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    keyFile: (tokenUri: string) =>
      JSON.stringify({
        type: 'service_account',
        project_id: 'mock-project',
        private_key_id: 'key-1',
        private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: email,
        token_uri: tokenUri,
      }),
  };
}
