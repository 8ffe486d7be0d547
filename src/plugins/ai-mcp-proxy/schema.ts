/**
 * Kong's `ai-mcp-proxy` plugin schema (Kong Gateway 3.12+, Enterprise), field by field from Kong's
 * published reference (developer.konghq.com/plugins/ai-mcp-proxy/reference), plus a few fields of
 * modelgate's own under `server`, named in docs/plugins.md ("ai-mcp-proxy").
 *
 * Every mode is accepted by the schema; a mode modelgate has not built yet is refused when the
 * config is written, with a message naming it (`modes.ts` lists the built ones).
 */
import type { PluginSchema } from '../types.ts';
import type { Field } from '../../schema/types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { MCP_MODES, builtModeCheck, type McpMode } from './modes.ts';
import { checkConversionTools } from './conversion-tools.ts';
import type { ToolRateLimit } from './tool-rate-limit.ts';

export interface AclConfig {
  allow: string[] | null;
  deny: string[] | null;
}

export interface ToolConfig {
  name: string | null;
  description: string;
  acl: AclConfig | null;
  annotations: Record<string, unknown> | null;
  headers: Record<string, string[]> | null;
  host: string | null;
  method: string | null;
  parameters: unknown[] | null;
  path: string | null;
  query: Record<string, string[]> | null;
  request_body: Record<string, unknown> | null;
  responses: Record<string, unknown> | null;
  scheme: 'http' | 'https' | null;
}

export interface McpServerConfig {
  forward_client_headers: boolean;
  session: {
    client: { secrets: string[] | null } | null;
    managed: boolean;
    redis: unknown;
    session_ttl: number;
    strategy: 'client' | 'redis' | null;
    /** modelgate: a gateway session unused this many seconds is closed. */
    idle_timeout: number;
    /** modelgate: at most this many gateway sessions per worker for this plugin. */
    max_sessions: number;
  };
  tag: string | null;
  /** Milliseconds the upstream may stay silent while a request waits on it. */
  timeout: number;
  /** modelgate: the upstream MCP server's URL (else the route's service). */
  url: string | null;
  /** modelgate: headers the gateway adds toward the upstream (its credentials; vault references). */
  headers: Record<string, string> | null;
  /** modelgate: the client's own credentials (Authorization, apikey, the auth plugin's key) go upstream too. */
  forward_client_credentials: boolean;
  /** modelgate: the upstream's transport: Streamable HTTP (2025-03-26+) or the older HTTP+SSE (2024-11-05). */
  transport: 'streamable-http' | 'sse';
  /** modelgate, listener mode: each member's tool-name prefix; `{server}` is the member's route name. */
  tool_prefix: string;
  /** modelgate, listener mode: tools per tools/list page of the merged list. */
  tools_page_size: number;
}

export interface AiMcpProxyConfig {
  mode: McpMode;
  tools: ToolConfig[] | null;
  server: McpServerConfig;
  logging: { log_audits: boolean; log_payloads: boolean; log_statistics: boolean };
  max_request_body_size: number;
  access_token_claim_field: string | null;
  acl_attribute_type: 'consumer' | 'oauth_access_token';
  consumer_identifier: 'consumer_id' | 'custom_id' | 'username';
  default_acl: { allow: string[] | null; deny: string[] | null; scope: string }[] | null;
  include_consumer_groups: boolean;
  /** modelgate: per-consumer, per-tool call limits (tool-rate-limit.ts). */
  tool_rate_limits: ToolRateLimit[] | null;
}

const stringList = (): Field => ({ type: 'array', elements: { type: 'string' } });
const aclRecord = (): Field => ({ type: 'record', fields: { allow: stringList(), deny: stringList() } });
const stringListMap = (): Field => ({ type: 'map', keys: { type: 'string' }, values: stringList() });

const toolRecord: Field = {
  type: 'record',
  fields: {
    name: { type: 'string' },
    description: { type: 'string', required: true },
    acl: aclRecord(),
    annotations: {
      type: 'record',
      fields: {
        destructive_hint: { type: 'boolean' },
        idempotent_hint: { type: 'boolean' },
        open_world_hint: { type: 'boolean' },
        read_only_hint: { type: 'boolean' },
        title: { type: 'string' },
      },
    },
    headers: stringListMap(),
    host: { type: 'string' },
    method: { type: 'string', one_of: ['DELETE', 'GET', 'PATCH', 'POST', 'PUT'] },
    parameters: { type: 'array', elements: { type: 'json' } },
    path: { type: 'string' },
    query: stringListMap(),
    request_body: { type: 'json' },
    responses: { type: 'json' },
    scheme: { type: 'string', one_of: ['http', 'https'] },
  },
};

function checkUrl(v: string): string | undefined {
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http or https URL';
    if (u.username || u.password) return 'must not carry credentials: put them in server.headers';
  } catch {
    return 'must be a valid URL';
  }
  return undefined;
}

export const schema: PluginSchema = {
  name: 'ai-mcp-proxy',
  // Kong's published schema does not give its PRIORITY: ours runs after auth (key-auth 1250) and
  // rate limits (910), like ai-proxy (770), since the plugin owns the request (docs/plugins.md)
  priority: 766,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      mode: { type: 'string', required: true, one_of: MCP_MODES },
      tools: { type: 'array', elements: toolRecord },
      server: {
        type: 'record',
        required: true,
        fields: {
          forward_client_headers: { type: 'boolean', required: true, default: true },
          session: {
            type: 'record',
            required: true,
            fields: {
              client: { type: 'record', fields: { secrets: { type: 'array', elements: { type: 'string', len_min: 8, referenceable: true, encrypted: true } } } },
              managed: { type: 'boolean', required: true, default: true },
              redis: { type: 'json' },
              session_ttl: { type: 'number', required: true, default: 86400, gt: 0 },
              strategy: { type: 'string', one_of: ['client', 'redis'] },
              idle_timeout: { type: 'number', required: true, default: 3600, gt: 0 },
              max_sessions: { type: 'integer', required: true, default: 10000, between: [1, 1_000_000] },
            },
          },
          tag: { type: 'string' },
          timeout: { type: 'number', required: true, default: 10000, gt: 0 },
          url: { type: 'string', custom_validator: checkUrl },
          headers: { type: 'map', keys: { type: 'string' }, values: { type: 'string', referenceable: true, encrypted: true } },
          forward_client_credentials: { type: 'boolean', required: true, default: false },
          transport: { type: 'string', required: true, default: 'streamable-http', one_of: ['streamable-http', 'sse'] },
          tool_prefix: { type: 'string', required: true, default: '{server}_', len_max: 64 },
          tools_page_size: { type: 'integer', required: true, default: 100, between: [1, 10000] },
        },
      },
      logging: {
        type: 'record',
        required: true,
        fields: {
          log_audits: { type: 'boolean', required: true, default: false },
          log_payloads: { type: 'boolean', required: true, default: false },
          log_statistics: { type: 'boolean', required: true, default: false },
        },
      },
      max_request_body_size: { type: 'integer', required: true, default: 1048576, between: [0, 2 ** 31 - 1] },
      access_token_claim_field: { type: 'string', len_min: 1 },
      acl_attribute_type: { type: 'string', required: true, default: 'consumer', one_of: ['consumer', 'oauth_access_token'] },
      consumer_identifier: { type: 'string', required: true, default: 'username', one_of: ['consumer_id', 'custom_id', 'username'] },
      default_acl: {
        type: 'array',
        elements: { type: 'record', fields: { allow: stringList(), deny: stringList(), scope: { type: 'string', required: true, default: 'tools' } } },
      },
      include_consumer_groups: { type: 'boolean', required: true, default: false },
      tool_rate_limits: {
        type: 'array',
        elements: {
          type: 'record',
          fields: {
            tools: { type: 'array', required: true, len_min: 1, elements: { type: 'string', len_min: 1 } },
            limit: { type: 'integer', required: true, gt: 0 },
            window_size: { type: 'number', required: true, gt: 0 },
            policy: { type: 'string', required: true, default: 'local', one_of: ['local', 'redis'] },
          },
        },
      },
    },
    entity_checks: [
      { custom_entity_check: { field_sources: ['mode'], fn: builtModeCheck } },
      // a conversion tool that could never be called (no path, a {param} nobody fills, a name used twice) is refused when written
      { custom_entity_check: { field_sources: ['mode', 'tools'], fn: checkConversionTools } },
      // ACL subjects modelgate cannot know are refused, never ignored: a deny list naming a group or a token claim would deny nobody (acl.ts)
      { custom_entity_check: { field_sources: ['include_consumer_groups'], fn: (c: { include_consumer_groups?: boolean }) => (c.include_consumer_groups === true ? 'include_consumer_groups: modelgate has no consumer groups; name consumers (consumer_identifier) in the ACLs' : undefined) } },
      { custom_entity_check: { field_sources: ['acl_attribute_type'], fn: (c: { acl_attribute_type?: string }) => (c.acl_attribute_type === 'oauth_access_token' ? "acl_attribute_type 'oauth_access_token' is not available in modelgate (no OAuth access tokens): use 'consumer'" : undefined) } },
      { custom_entity_check: { field_sources: ['mode', 'server'], fn: (c: { mode?: string; server?: { tag?: string | null } }) => (c.mode === 'listener' && !c.server?.tag ? 'listener mode needs server.tag: the tag of the ai-mcp-proxy plugins it aggregates' : undefined) } },
    ],
  },
};
