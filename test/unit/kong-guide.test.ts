/**
 * The project's copy of Kong's AI Proxy guide (test/helpers/kong-guide.ts), which the integration
 * tests replay: still the guide's text when that is available beside the repository, consistent
 * with itself, and the source of the README's quick start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GUIDE_PROVIDERS, GUIDE_SERVICE_CURL, adminCall, guideBlocks, guideTestCurl, guideYamlRoutes } from '../helpers/kong-guide.ts';
import { GUIDE_TEXT, guideTextMissing } from '../helpers/shared.ts';

/** Code blocks of a Markdown text, trailing spaces dropped (the guide ends two commands with `\ `). */
function codeBlocks(markdown: string): { lang: string; code: string }[] {
  return [...markdown.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2].replace(/[ \t]+$/gm, '') }));
}

test("the table is the guide's code blocks, word for word and in order", { skip: guideTextMissing ?? false }, () => {
  const guide = codeBlocks(readFileSync(GUIDE_TEXT, 'utf8')).filter((b) => b.lang !== 'json'); // the Llama2 tab's prompt illustration
  const ours = guideBlocks().map((b) => ({ lang: b.lang, code: b.code.replace(/[ \t]+$/gm, '') }));
  assert.deepEqual(ours, guide);
});

test('each tab: the YAML, the route call and the plugin call name the same route and provider', () => {
  assert.deepEqual(adminCall(GUIDE_SERVICE_CURL), { path: '/services', data: [['name', 'ai-proxy'], ['url', 'http://localhost:32000']] });
  const yaml = guideYamlRoutes();
  for (const [i, tab] of GUIDE_PROVIDERS.entries()) {
    const regex = `~/${tab.route}$`;
    assert.equal(yaml[i].name, tab.route);
    assert.deepEqual(yaml[i].paths, [regex]);
    assert.equal(yaml[i].plugins[0].config.model.provider, tab.provider);
    assert.deepEqual(adminCall(tab.routeCurl), { path: '/services/ai-proxy/routes', data: [['name', tab.route], ['paths[]', regex]] });
    const plugin = adminCall(tab.pluginCurl);
    assert.equal(plugin.path, `/routes/${tab.route}/plugins`);
    assert.deepEqual(plugin.data.slice(0, 2), [['name', 'ai-proxy'], ['config.route_type', 'llm/v1/chat']]);
    assert.ok(plugin.data.some(([k, v]) => k === 'config.model.provider' && v === tab.provider), tab.route);
  }
});

test("the README's quick start is the guide's OpenAI tab", () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const start = readme.indexOf('## Quick start');
  assert.ok(start >= 0, 'README has a quick start');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const openai = GUIDE_PROVIDERS.find((p) => p.provider === 'openai')!;
  assert.deepEqual(
    codeBlocks(section).map((b) => b.code),
    [GUIDE_SERVICE_CURL, openai.routeCurl, openai.pluginCurl, guideTestCurl(openai.route)],
  );
});
