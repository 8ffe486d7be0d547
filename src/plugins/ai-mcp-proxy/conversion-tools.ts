/**
 * Kong's conversion tools (`config.tools[]`, docs/plugins.md "ai-mcp-proxy") as MCP tools: each
 * entry's OpenAPI-shaped `parameters` (name, in: path|query|header|cookie, required, schema,
 * description) and `request_body` (`content["application/json"].schema`, `required`) become the
 * tool's input schema — one property per parameter, and `body` for the request body — and its
 * `responses` (the 2xx answer's `application/json` schema, when it is an object schema) its
 * output schema. Derived once per config (a WeakMap on the config object, so once per snapshot),
 * and checked when the config is written (`checkConversionTools`).
 */
import type { AiMcpProxyConfig, ToolConfig } from './schema.ts';
import type { Schema } from './json-schema.ts';

export type ParamIn = 'path' | 'query' | 'header' | 'cookie';
const PARAM_IN = new Set<string>(['path', 'query', 'header', 'cookie']);

export interface ToolParam {
  name: string;
  in: ParamIn;
  required: boolean;
}

export interface ConversionTool {
  name: string;
  /** What tools/list shows. */
  listing: Record<string, unknown>;
  inputSchema: Schema;
  outputSchema: Schema | null;
  method: string;
  /** The gateway path, `{param}` placeholders filled from path parameters. */
  path: string;
  params: ToolParam[];
  /** Fixed query arguments and headers from the config (Kong's `query`, `headers`). */
  query: [string, string][];
  headers: [string, string][];
  /** The request body's media type when the tool has one. */
  bodyType: string | null;
  host: string | null;
}

/** The input property that carries the request body. */
export const BODY_ARGUMENT = 'body';

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const PLACEHOLDER = /\{([^{}]+)\}/g;

/** A name for a tool the config leaves unnamed: method and path, as `get_marketplace_users`. */
export function derivedName(t: Pick<ToolConfig, 'method' | 'path'>): string {
  const slug = (t.path ?? '').replace(/[{}]/g, '').split(/[^A-Za-z0-9]+/).filter(Boolean).join('_');
  return `${(t.method ?? 'GET').toLowerCase()}${slug ? `_${slug}` : ''}`.slice(0, 128);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The JSON body schema of Kong's `request_body` (OpenAPI's Request Body object), or null. */
function bodyOf(rb: Record<string, unknown> | null): { schema: Schema; type: string; required: boolean } | null {
  if (!isObject(rb) || !isObject(rb.content)) return null;
  for (const [type, media] of Object.entries(rb.content)) {
    if (!/^application\/(.+\+)?json$/i.test(type.split(';')[0].trim())) continue;
    const schema = isObject(media) && isObject(media.schema) ? media.schema : {};
    return { schema, type, required: rb.required === true };
  }
  return null;
}

/** The structured output schema from Kong's `responses`: the first 2xx (else `default`) JSON answer's schema, when it describes an object (MCP's outputSchema is one). */
function outputOf(responses: Record<string, unknown> | null): Schema | null {
  if (!isObject(responses)) return null;
  const codes = Object.keys(responses).filter((c) => /^2(\d\d|XX)$/i.test(c)).sort();
  for (const code of [...codes, 'default']) {
    const r = responses[code];
    if (!isObject(r) || !isObject(r.content)) continue;
    for (const [type, media] of Object.entries(r.content)) {
      if (!/^application\/(.+\+)?json$/i.test(type.split(';')[0].trim())) continue;
      if (isObject(media) && isObject(media.schema) && media.schema.type === 'object') return media.schema;
    }
  }
  return null;
}

function pairs(m: Record<string, string[]> | null): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, vs] of Object.entries(m ?? {})) for (const v of vs ?? []) out.push([k, v]);
  return out;
}

/** Why a tool entry cannot be served, or undefined. Run when the config is written. */
function toolProblem(t: ToolConfig, i: number): string | undefined {
  const where = `tools[${i + 1}]`;
  if (!t.path || !t.path.startsWith('/')) return `${where}.path: a conversion tool needs the gateway path it calls, starting with /`;
  const name = t.name ?? derivedName(t);
  if (!TOOL_NAME.test(name)) return `${where}.name: '${name}' is not a valid MCP tool name (letters, digits, _ - . ; at most 128)`;
  const declared = new Map<string, string>();
  for (const [j, p] of (t.parameters ?? []).entries()) {
    if (!isObject(p) || typeof p.name !== 'string' || p.name === '' || typeof p.in !== 'string' || !PARAM_IN.has(p.in)) {
      return `${where}.parameters[${j + 1}]: needs a name and 'in' (path, query, header or cookie)`;
    }
    if (p.name === BODY_ARGUMENT && t.request_body) return `${where}.parameters[${j + 1}]: '${BODY_ARGUMENT}' is the request body's argument`;
    if (declared.has(p.name)) return `${where}.parameters[${j + 1}]: '${p.name}' is declared twice`;
    declared.set(p.name, p.in);
  }
  for (const m of t.path.matchAll(PLACEHOLDER)) {
    if (declared.get(m[1]) !== 'path') return `${where}.path: {${m[1]}} has no parameter with in: path`;
  }
  if (t.request_body && !bodyOf(t.request_body)) return `${where}.request_body: only application/json bodies (content["application/json"]) are served`;
  return undefined;
}

/** Config-time check of a conversion mode's tools (schema.ts runs it). */
export function checkConversionTools(c: Pick<AiMcpProxyConfig, 'mode' | 'tools'>): string | undefined {
  if (c.mode !== 'conversion-listener' && c.mode !== 'conversion-only') return undefined;
  const tools = c.tools ?? [];
  if (tools.length === 0) return `mode '${c.mode}' needs at least one entry in tools`;
  const names = new Set<string>();
  for (const [i, t] of tools.entries()) {
    const problem = toolProblem(t, i);
    if (problem) return problem;
    const name = t.name ?? derivedName(t);
    if (names.has(name)) return `tools[${i + 1}]: the tool name '${name}' is used twice`;
    names.add(name);
  }
  return undefined;
}

function compileTool(t: ToolConfig): ConversionTool {
  const name = t.name ?? derivedName(t);
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  const params: ToolParam[] = [];
  for (const raw of t.parameters ?? []) {
    const p = raw as Record<string, unknown>;
    const prop: Schema = isObject(p.schema) ? { ...p.schema } : { type: 'string' };
    if (typeof p.description === 'string' && prop.description === undefined) prop.description = p.description;
    properties[p.name as string] = prop;
    // OpenAPI: a path parameter is always required
    const req = p.required === true || p.in === 'path';
    if (req) required.push(p.name as string);
    params.push({ name: p.name as string, in: p.in as ParamIn, required: req });
  }
  const body = bodyOf(t.request_body);
  if (body) {
    properties[BODY_ARGUMENT] = body.schema;
    if (body.required) required.push(BODY_ARGUMENT);
  }
  const inputSchema: Schema = { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
  const outputSchema = outputOf(t.responses);
  const listing: Record<string, unknown> = { name, description: t.description, inputSchema };
  if (outputSchema) listing.outputSchema = outputSchema;
  const a = t.annotations as Record<string, unknown> | null;
  if (a) {
    // Kong's snake_case annotation fields, in MCP's camelCase ToolAnnotations
    const ann: Record<string, unknown> = {};
    if (typeof a.title === 'string') {
      ann.title = a.title;
      listing.title = a.title;
    }
    if (typeof a.read_only_hint === 'boolean') ann.readOnlyHint = a.read_only_hint;
    if (typeof a.destructive_hint === 'boolean') ann.destructiveHint = a.destructive_hint;
    if (typeof a.idempotent_hint === 'boolean') ann.idempotentHint = a.idempotent_hint;
    if (typeof a.open_world_hint === 'boolean') ann.openWorldHint = a.open_world_hint;
    if (Object.keys(ann).length > 0) listing.annotations = ann;
  }
  return {
    name,
    listing,
    inputSchema,
    outputSchema,
    method: t.method ?? 'GET',
    path: t.path as string,
    params,
    query: pairs(t.query),
    headers: pairs(t.headers),
    bodyType: body?.type ?? null,
    host: t.host ?? null,
  };
}

export interface ToolTable {
  list: ConversionTool[];
  byName: Map<string, ConversionTool>;
}

const compiled = new WeakMap<object, ToolTable>();

/** The config's tools, derived once per config object (configs are per snapshot). */
export function conversionTools(config: AiMcpProxyConfig): ToolTable {
  let t = compiled.get(config);
  if (!t) {
    const list = (config.tools ?? []).map(compileTool);
    t = { list, byName: new Map(list.map((x) => [x.name, x])) };
    compiled.set(config, t);
  }
  return t;
}
