/**
 * A file of an installed CommonJS package, loaded by its path inside the package instead of
 * through the package's index: how the gateway takes only the parts of undici (util/undici.ts) and
 * prom-client (observability/metrics.ts) it uses, when their indexes load much more
 * (docs/performance.md, "Idle memory"). Neither package has an `exports` map, so these paths are
 * part of what the locked version (package-lock.json) ships; test/unit/library-parts.test.ts holds
 * each part equal to the index's export, so an upgrade that moves one fails there, not at run time.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export function packageFile(pkg: string, file: string): unknown {
  return load(`${pkg}/${file}`);
}
