/** Kong's integration fixtures that are pure translation (cases-integration.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { RequestError, TranslationError } from '../../src/llm/types.ts';
import { EMBEDDINGS_CASES, REQUEST_CASES, RESPONSE_CASES } from './cases-integration.ts';
import { kongFixturesMissing, NO_OPTIONS, context, fixtureJson, fixtureText } from './support.ts';
import { validateEmbeddingsRequest } from '../../src/llm/embeddings.ts';

describe('Kong integration fixtures', { skip: kongFixturesMissing ?? false }, () => {
  describe('client request -> upstream body', () => {
    for (const c of REQUEST_CASES) {
      it(`${c.provider} ${c.route}: ${c.file}`, () => {
        const ctx = context({ provider: c.provider, routeType: c.route, model: c.model, options: c.options, stream: c.stream });
        const raw = fixtureJson(c.file) as Record<string, unknown>;
        const build = () => providerBody(getDriver(c.provider), parseOpenAIRequest(raw, c.route), ctx);
        if (c.error !== undefined) {
          assert.throws(build, (e: unknown) => e instanceof RequestError && e.message === c.error);
          return;
        }
        c.check?.(build(), raw);
      });
    }
  });

  describe('upstream answer -> client answer', () => {
    for (const c of RESPONSE_CASES) {
      it(`${c.provider} ${c.route}: ${c.file}`, () => {
        const ctx = context({ provider: c.provider, routeType: c.route, model: c.model, options: c.options });
        const raw = fixtureText(c.file);
        const parse = () => getDriver(c.provider).parseResponse(raw, ctx);
        if (c.error !== undefined) {
          assert.throws(parse, (e: unknown) => e instanceof TranslationError && e.message === c.error);
          return;
        }
        const translated = parse();
        c.check?.(JSON.parse(translated.body), translated, raw);
      });
    }
  });

  describe('upstream embeddings answer -> client answer', () => {
    for (const c of EMBEDDINGS_CASES) {
      it(`${c.provider} llm/v1/embeddings: ${c.file}`, () => {
        const raw = fixtureText(c.file);
        const translated = getDriver(c.provider).embeddings!.parseResponse(raw, validateEmbeddingsRequest(c.request), {
          provider: c.provider,
          routeType: 'llm/v1/embeddings',
          model: c.model,
          options: NO_OPTIONS,
          now: 1_700_000_000,
        });
        c.check(JSON.parse(translated.body), translated, raw);
      });
    }
  });
});
