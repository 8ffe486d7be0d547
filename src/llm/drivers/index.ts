/** The provider registry: one driver per provider of Kong's ai-proxy guide. */
import type { ProviderDriver, ProviderName } from '../types.ts';
import { anthropicDriver } from './anthropic.ts';
import { azureDriver } from './azure.ts';
import { cohereDriver } from './cohere.ts';
import { llama2Driver } from './llama2.ts';
import { mistralDriver } from './mistral.ts';
import { openaiDriver } from './openai.ts';

const DRIVERS: Readonly<Record<ProviderName, ProviderDriver>> = {
  openai: openaiDriver,
  azure: azureDriver,
  anthropic: anthropicDriver,
  cohere: cohereDriver,
  mistral: mistralDriver,
  llama2: llama2Driver,
};

export function getDriver(name: ProviderName): ProviderDriver {
  if (!Object.hasOwn(DRIVERS, name)) throw new Error(`no driver for provider '${String(name)}'`);
  return DRIVERS[name];
}
