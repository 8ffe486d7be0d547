/**
 * Every plugin modelgate ships, by name. The control plane reads schemas from here to validate
 * Admin API writes; workers read handlers to build plugin chains.
 */
import type { PluginModule, PluginSchema } from './types.ts';
import * as requestTermination from './request-termination/index.ts';
import * as aiProxy from './ai-proxy/index.ts';
import * as aiProxyAdvanced from './ai-proxy-advanced/index.ts';
import * as keyAuth from './key-auth/index.ts';
import * as rateLimiting from './rate-limiting/index.ts';
import * as aiRateLimitingAdvanced from './ai-rate-limiting-advanced/index.ts';
import * as aiBudget from './ai-budget/index.ts';
import * as aiPromptDecorator from './ai-prompt-decorator/index.ts';
import * as aiPromptGuard from './ai-prompt-guard/index.ts';
import * as aiGuardrailWebhook from './ai-guardrail-webhook/index.ts';
import * as aiPromptTemplate from './ai-prompt-template/index.ts';
import * as aiSanitizer from './ai-sanitizer/index.ts';
import * as aiSemanticCache from './ai-semantic-cache/index.ts';
import * as prometheus from './prometheus/index.ts';
import * as httpLog from './http-log/index.ts';
import * as fileLog from './file-log/index.ts';
import * as opentelemetry from './opentelemetry/index.ts';
import * as aiMcpProxy from './ai-mcp-proxy/index.ts';

const MODULES: PluginModule[] = [
  requestTermination,
  aiProxy,
  aiProxyAdvanced,
  keyAuth,
  rateLimiting,
  aiRateLimitingAdvanced,
  aiBudget,
  aiPromptDecorator,
  aiPromptGuard,
  aiGuardrailWebhook,
  aiPromptTemplate,
  aiSanitizer,
  aiSemanticCache,
  prometheus,
  httpLog,
  fileLog,
  opentelemetry,
  aiMcpProxy,
];

const BY_NAME = new Map<string, PluginModule>(MODULES.map((m) => [m.schema.name, m]));

export function getPlugin(name: string): PluginModule | undefined {
  return BY_NAME.get(name);
}

export function getPluginSchema(name: string): PluginSchema | undefined {
  return BY_NAME.get(name)?.schema;
}

export function pluginNames(): string[] {
  return [...BY_NAME.keys()].sort();
}
