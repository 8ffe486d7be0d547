/**
 * Every plugin modelgate ships, by name. The control plane reads schemas from here to validate
 * Admin API writes; workers read handlers to build plugin chains.
 */
import type { PluginModule, PluginSchema } from './types.ts';
import * as requestTermination from './request-termination/index.ts';
import * as aiProxy from './ai-proxy/index.ts';

const MODULES: PluginModule[] = [requestTermination, aiProxy];

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
