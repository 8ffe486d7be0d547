/**
 * Reference material that is not part of the repository: Kong's ai-proxy test fixtures and the
 * text of Kong's AI Proxy guide. A development checkout has them beside it (`../shared/`), a clone
 * from a forge does not, so every test that reads them skips with the reason below when they are
 * absent (and test/run.ts prints that reason once, up front).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

const SHARED_DIR = path.resolve(import.meta.dirname, '../../../shared');

/**
 * Kong's `spec/fixtures/ai-proxy/` (Kong/kong at 22246ef2, see test/conformance/README.md);
 * `MODELGATE_KONG_FIXTURES` points at another copy, e.g. in a clone of Kong.
 */
export const KONG_FIXTURES = path.resolve(process.env.MODELGATE_KONG_FIXTURES || path.join(SHARED_DIR, 'conformance/kong-ai-proxy/fixtures'));

/** Kong's "Getting started with AI Proxy" guide, the page test/helpers/kong-guide.ts was written out from. */
export const GUIDE_TEXT = path.join(SHARED_DIR, 'seeds/000_8c2a4c4f21969519.txt');

export const kongFixturesMissing: string | null = existsSync(KONG_FIXTURES)
  ? null
  : `Kong fixtures not found at ${KONG_FIXTURES} (not part of the repository; set MODELGATE_KONG_FIXTURES to a copy of Kong's spec/fixtures/ai-proxy, see test/conformance/README.md): the suites comparing translations with them skip`;

export const guideTextMissing: string | null = existsSync(GUIDE_TEXT)
  ? null
  : `Kong's AI Proxy guide not found at ${GUIDE_TEXT} (not part of the repository): the check that test/helpers/kong-guide.ts is still the guide's text skips`;
