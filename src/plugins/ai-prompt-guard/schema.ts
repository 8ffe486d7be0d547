/**
 * Kong's `ai-prompt-guard` plugin schema (3.8: `match_all_roles`, `max_request_body_size`,
 * `llm_format`). Every pattern is checked when written: invalid or potentially slow patterns are
 * refused with 400 (docs/decisions.md, D10; see regex.ts).
 */
import type { PluginSchema } from '../types.ts';
import type { Field } from '../../schema/types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { DEFAULT_MAX_REQUEST_BODY_SIZE } from '../ai-proxy/schema.ts';
import { validateGuardPattern } from './regex.ts';

export interface AiPromptGuardConfig {
  allow_patterns: string[] | null;
  deny_patterns: string[] | null;
  allow_all_conversation_history: boolean;
  max_request_body_size: number;
  match_all_roles: boolean;
  llm_format: 'openai' | 'bedrock' | 'gemini';
  /** modelgate: `deny_patterns` also guard the answer (JSON and streams); Kong's open plugin guards the prompt only. */
  check_response: boolean;
  /** modelgate: on streams, the characters held back so a match split across chunks is seen whole (a match longer than this may be missed). */
  response_window: number;
}

/** The default response window: longer than any sensible deny phrase, a few tokens of added stream latency. */
export const DEFAULT_RESPONSE_WINDOW = 256;

const patterns = (): Field => ({
  type: 'array',
  len_max: 10,
  elements: { type: 'string', len_min: 1, len_max: 500, custom_validator: validateGuardPattern },
});

export const schema: PluginSchema = {
  name: 'ai-prompt-guard',
  priority: 771,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      allow_patterns: patterns(),
      deny_patterns: patterns(),
      allow_all_conversation_history: { type: 'boolean', required: true, default: false },
      max_request_body_size: { type: 'integer', default: DEFAULT_MAX_REQUEST_BODY_SIZE, gt: 0 },
      match_all_roles: { type: 'boolean', required: true, default: false },
      llm_format: { type: 'string', default: 'openai', one_of: ['openai'] },
      check_response: { type: 'boolean', required: true, default: false },
      response_window: { type: 'integer', required: true, default: DEFAULT_RESPONSE_WINDOW, between: [1, 65536] },
    },
    entity_checks: [
      { at_least_one_of: ['allow_patterns', 'deny_patterns'] },
      { conditional: { if_field: 'match_all_roles', if_match: { eq: true }, then_field: 'allow_all_conversation_history', then_match: { eq: false } } },
    ],
  },
};
