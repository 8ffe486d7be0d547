/**
 * Where each provider reads its key, as `ai-proxy`'s `auth` record says it (docs/providers.md,
 * each provider's "Auth"): a header for most, Gemini's `key` query parameter (Google AI Studio),
 * Bedrock's AWS key pair. The ai-proxy schema names the fields but not which one a provider
 * uses, so this table is the one place that knows.
 */
export interface KeyAuth {
  kind: 'header' | 'param' | 'aws';
  /** The `auth` fields that hold the key (their errors belong on the key input). */
  fields: string[];
  build: (key: string, secret: string) => Record<string, string>;
  header?: string;
}

const bearer: KeyAuth = {
  kind: 'header',
  header: 'Authorization',
  fields: ['header_name', 'header_value'],
  build: (key) => ({ header_name: 'Authorization', header_value: /^Bearer /i.test(key) ? key : `Bearer ${key}` }),
};

const header = (name: string): KeyAuth => ({ kind: 'header', header: name, fields: ['header_name', 'header_value'], build: (key) => ({ header_name: name, header_value: key }) });

const BY_PROVIDER: Record<string, KeyAuth> = {
  // Azure OpenAI: the `api-key` header (the guide's Azure tab)
  azure: header('api-key'),
  // Anthropic authenticates API keys by `x-api-key`
  anthropic: header('x-api-key'),
  // Google AI Studio: the `key` query parameter
  gemini: {
    kind: 'param',
    fields: ['param_name', 'param_value', 'param_location'],
    build: (key) => ({ param_name: 'key', param_value: key, param_location: 'query' }),
  },
  // Bedrock signs every request with SigV4 from an access key pair
  bedrock: {
    kind: 'aws',
    fields: ['aws_access_key_id', 'aws_secret_access_key'],
    build: (key, secret) => ({ aws_access_key_id: key, aws_secret_access_key: secret }),
  },
};

export function keyAuth(provider: string): KeyAuth {
  return BY_PROVIDER[provider] ?? bearer;
}

/** The key input's hint: where the key goes. */
export function keyLabel(a: KeyAuth): string {
  if (a.kind === 'param') return 'sent as the key query parameter';
  if (a.kind === 'aws') return 'requests are signed with SigV4';
  return a.header === 'Authorization' ? 'sent as Authorization: Bearer <key>' : `sent in the ${a.header} header`;
}
