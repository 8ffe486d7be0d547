/**
 * Kong's `ai-sanitizer` plugin schema (AI Gateway Enterprise 3.10+, response side 3.12+), field by
 * field from Kong's published configuration reference. modelgate detects in-process (detectors/)
 * instead of calling Kong's AI PII Anonymizer service, so:
 * - `host`, `port`, `scheme`, `timeout`, `keepalive_timeout` (the service's address) are accepted
 *   with Kong's defaults, so Kong configurations load unchanged, and ignored (a warning says so
 *   when one is set to something else);
 * - `anonymize` kinds that need the service's NLP models (`general` names and places, `crypto`,
 *   `date`, `nrp`, `domain`, `medical`, `driverlicense`, `passport`) are refused when written,
 *   naming the kind: silently not detecting what the configuration asks for would leak it;
 * - `skip_logging_sanitized_items` is accepted and has no effect: modelgate never logs the values,
 *   only their kinds and counts;
 * - `custom_patterns[].score` is accepted (0-1, default 0.5) and ignored: a regex match is certain.
 * Priority 776, Kong's (before ai-prompt-decorator and ai-prompt-guard, after ai-request-transformer).
 */
import type { PluginSchema } from '../types.ts';
import type { Field } from '../../schema/types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { MAX_PATTERN_LENGTH, validateCustomPattern } from './detectors/custom.ts';

/** Kong's `anonymize` values. */
export const ANONYMIZE = [
  'all',
  'all_and_credentials',
  'bank',
  'credentials',
  'creditcard',
  'crypto',
  'custom',
  'date',
  'domain',
  'driverlicense',
  'email',
  'general',
  'ip',
  'medical',
  'nationalid',
  'nrp',
  'passport',
  'phone',
  'ssn',
  'url',
] as const;
export type Anonymize = (typeof ANONYMIZE)[number];

/** The kinds that need Kong's NLP service: refused (see the header). */
export const NOT_DETECTED: readonly Anonymize[] = ['crypto', 'date', 'domain', 'driverlicense', 'general', 'medical', 'nrp', 'passport'];

export interface CustomPatternConfig {
  name: string;
  regex: string;
  score: number;
}

export interface AiSanitizerConfig {
  allow_all_conversation_history: boolean;
  anonymize: Anonymize[];
  block_if_detected: boolean;
  custom_patterns: CustomPatternConfig[] | null;
  host: string;
  keepalive_timeout: number;
  port: number;
  recover_redacted: boolean;
  redact_type: 'placeholder' | 'synthetic';
  sanitization_mode: 'INPUT' | 'OUTPUT' | 'BOTH';
  scheme: string;
  skip_logging_sanitized_items: boolean;
  stop_on_error: boolean;
  timeout: number;
}

const customPattern: Field = {
  type: 'record',
  fields: {
    name: { type: 'string', required: true, len_min: 1, len_max: 100 },
    regex: { type: 'string', required: true, len_min: 1, len_max: MAX_PATTERN_LENGTH, custom_validator: validateCustomPattern },
    score: { type: 'number', default: 0.5, between: [0, 1] },
  },
};

function checkAnonymize(kind: string): string | undefined {
  if (!(NOT_DETECTED as readonly string[]).includes(kind)) return undefined;
  return `modelgate detects in-process and has no detector for: ${kind} (it needs Kong's NLP PII service)`;
}

function checkCustomPatterns(config: { custom_patterns?: unknown }): string | undefined {
  const patterns = config?.custom_patterns;
  if (!Array.isArray(patterns)) return undefined;
  const names = patterns.map((p) => (p as { name?: unknown })?.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  return dup === undefined ? undefined : `custom pattern names must be unique: '${String(dup)}' is repeated`;
}

const SERVICE_DEFAULTS = { host: 'localhost', port: 8080, scheme: 'http', timeout: 10000, keepalive_timeout: 60000 } as const;

export const schema: PluginSchema = {
  name: 'ai-sanitizer',
  priority: 776,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      allow_all_conversation_history: { type: 'boolean', required: true, default: true },
      anonymize: {
        type: 'array',
        required: true,
        default: ['all_and_credentials'],
        len_min: 1,
        elements: { type: 'string', one_of: [...ANONYMIZE], custom_validator: checkAnonymize },
      },
      block_if_detected: { type: 'boolean', required: true, default: false },
      custom_patterns: { type: 'array', len_min: 1, len_max: 50, elements: customPattern },
      host: { type: 'string', required: true, default: SERVICE_DEFAULTS.host },
      keepalive_timeout: { type: 'number', required: true, default: SERVICE_DEFAULTS.keepalive_timeout },
      port: { type: 'number', required: true, default: SERVICE_DEFAULTS.port },
      recover_redacted: { type: 'boolean', required: true, default: true },
      redact_type: { type: 'string', required: true, default: 'placeholder', one_of: ['placeholder', 'synthetic'] },
      sanitization_mode: { type: 'string', required: true, default: 'INPUT', one_of: ['INPUT', 'OUTPUT', 'BOTH'] },
      scheme: { type: 'string', required: true, default: SERVICE_DEFAULTS.scheme },
      skip_logging_sanitized_items: { type: 'boolean', required: true, default: false },
      stop_on_error: { type: 'boolean', required: true, default: true },
      timeout: { type: 'number', required: true, default: SERVICE_DEFAULTS.timeout },
    },
    entity_checks: [{ custom_entity_check: { field_sources: ['custom_patterns'], fn: checkCustomPatterns } }],
  },
  warnings: (config: AiSanitizerConfig) => {
    const set = (Object.keys(SERVICE_DEFAULTS) as (keyof typeof SERVICE_DEFAULTS)[]).filter((k) => config?.[k] !== undefined && config[k] !== SERVICE_DEFAULTS[k]);
    return set.length === 0 ? [] : [`ai-sanitizer: ${set.join(', ')} ignored: modelgate's detectors run in-process, there is no PII service to call`];
  },
};
