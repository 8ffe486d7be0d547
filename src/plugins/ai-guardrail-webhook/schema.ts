/**
 * `ai-guardrail-webhook` (modelgate's own): an external HTTP guardrail over prompts and answers.
 * Kong's equivalents (`ai-custom-guardrail`, `ai-aws-guardrails`) are Enterprise-only; the fields
 * they share with this one keep their names and meaning: `guarding_mode` (INPUT | OUTPUT | BOTH),
 * `response_buffer_size` (how much of a streamed answer is collected per check; here in
 * characters, Kong's counts tokens), `timeout` (milliseconds). `fail_mode` (closed | open) says
 * what a timeout or error does (Kong's `stop_on_error`: closed = true). The wire protocol is
 * modelgate's (docs/plugins.md): Kong's custom guardrail builds its bodies with Lua functions.
 */
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';

export interface AiGuardrailWebhookConfig {
  url: string;
  headers: Record<string, string> | null;
  timeout: number;
  guarding_mode: 'INPUT' | 'OUTPUT' | 'BOTH';
  response_buffer_size: number;
  fail_mode: 'closed' | 'open';
}

export const schema: PluginSchema = {
  name: 'ai-guardrail-webhook',
  // runs after the prompt plugins (decorator 772, guard 771) and ai-proxy (770): the endpoint sees the prompt as it will be sent
  priority: 769,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      url: typedefs.url({ required: true, referenceable: true }),
      headers: { type: 'map', keys: { type: 'string' }, values: { type: 'string', referenceable: true } },
      timeout: { type: 'integer', required: true, default: 2000, between: [1, 60000] },
      guarding_mode: { type: 'string', required: true, default: 'BOTH', one_of: ['INPUT', 'OUTPUT', 'BOTH'] },
      response_buffer_size: { type: 'integer', required: true, default: 512, between: [1, 65536] },
      fail_mode: { type: 'string', required: true, default: 'closed', one_of: ['closed', 'open'] },
    },
  },
};
