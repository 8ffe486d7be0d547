/** Kong's unit fixture pairs: request and response transforms per provider (cases-unit.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { UNIT_CASES, unitDir, unitFiles } from './cases-unit.ts';
import { kongFixturesMissing, context, fixtureJson, fixtureText } from './support.ts';

describe('Kong unit fixtures', { skip: kongFixturesMissing ?? false }, () => {
  for (const c of UNIT_CASES) {
    const files = unitFiles(c);
    const ctx = context({ provider: c.provider, routeType: c.route, model: c.model, options: { upstream_url: 'http://upstream.local/', ...c.options } });
    const driver = getDriver(c.provider);

    describe(`${unitDir(c)} ${c.route}`, () => {
      it(`request: ${files.request} -> ${files.expectedRequest}${c.request ? ' (deliberate difference)' : ''}`, () => {
        const request = parseOpenAIRequest(fixtureJson(files.request), c.route);
        const kong = fixtureJson(files.expectedRequest) as Record<string, unknown>;
        const expected = c.request ? c.request.ours(kong) : kong;
        assert.deepEqual(providerBody(driver, request, ctx), expected);
      });

      it(`response: ${files.realResponse} -> ${files.expectedResponse} (choices[0].message, model)${c.response ? ' (deliberate difference)' : ''}`, () => {
        const translated = driver.parseResponse(fixtureText(files.realResponse), ctx);
        const answer = JSON.parse(translated.body);
        const kong = fixtureJson(files.expectedResponse) as { choices: { message?: unknown }[]; model?: unknown };
        const expected = c.response ? c.response.ours({ message: kong.choices[0].message, model: kong.model }) : { message: kong.choices[0].message, model: kong.model };
        assert.deepEqual({ message: answer.choices[0].message, model: answer.model }, expected);
      });
    });
  }
});
