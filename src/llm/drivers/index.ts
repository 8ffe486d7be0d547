/** The provider registry: one driver per `model.provider` name. */
import type { ProviderDriver, ProviderName } from '../types.ts';
import { anthropicDriver } from './anthropic.ts';
import { azureDriver } from './azure.ts';
import { bedrockDriver } from './bedrock.ts';
import { cohereDriver } from './cohere.ts';
import { deepseekDriver } from './deepseek.ts';
import { fireworksDriver } from './fireworks.ts';
import { geminiDriver } from './gemini.ts';
import { groqDriver } from './groq.ts';
import { huggingfaceDriver } from './huggingface.ts';
import { llama2Driver } from './llama2.ts';
import { llamacppDriver } from './llamacpp.ts';
import { lmstudioDriver } from './lmstudio.ts';
import { mistralDriver } from './mistral.ts';
import { openaiDriver } from './openai.ts';
import { openrouterDriver } from './openrouter.ts';
import { togetherDriver } from './together.ts';
import { vllmDriver } from './vllm.ts';

const DRIVERS: Readonly<Record<ProviderName, ProviderDriver>> = {
  openai: openaiDriver,
  azure: azureDriver,
  anthropic: anthropicDriver,
  cohere: cohereDriver,
  mistral: mistralDriver,
  llama2: llama2Driver,
  gemini: geminiDriver,
  bedrock: bedrockDriver,
  huggingface: huggingfaceDriver,
  groq: groqDriver,
  together: togetherDriver,
  deepseek: deepseekDriver,
  fireworks: fireworksDriver,
  openrouter: openrouterDriver,
  vllm: vllmDriver,
  lmstudio: lmstudioDriver,
  llamacpp: llamacppDriver,
};

export function getDriver(name: ProviderName): ProviderDriver {
  if (!Object.hasOwn(DRIVERS, name)) throw new Error(`no driver for provider '${String(name)}'`);
  return DRIVERS[name];
}
