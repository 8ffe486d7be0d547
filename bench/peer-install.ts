/**
 * Installs the benchmark's peer gateway (Portkey, `@portkey-ai/gateway`) from npm into
 * bench/.peers/, once, before any run: `npm run bench -- --peer portkey` only uses what is installed
 * and never downloads while it measures (docs/performance.md, "The benchmark").
 *
 *   npm run bench:peer                  Portkey 1.15.2 (the version the figures were taken with)
 *   npm run bench:peer -- --version V   another version (then: npm run bench -- --peer portkey --peer-version V)
 */
import { parseArgs } from 'node:util';
import { installPortkey, PORTKEY_PACKAGE } from './targets.ts';
import { DEFAULT_PEER_VERSION } from './peer-version.ts';

const { values } = parseArgs({ options: { version: { type: 'string', default: DEFAULT_PEER_VERSION } } });
try {
  const p = installPortkey(values.version!, (m) => console.log(m));
  console.log(`${PORTKEY_PACKAGE}@${p.version} installed: ${p.entry}`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
