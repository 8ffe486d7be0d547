/**
 * The Admin GUI's files, served from memory: the app's TypeScript modules (src/gui/app/) with their
 * types stripped, the same way Node runs the server's own sources, and the vendored libraries from
 * node_modules (Preact, htm, uPlot). There is no build step (docs/decisions.md, "Admin GUI"): a file
 * is read, stripped and compressed (gzip and brotli) the first time it is asked for, then kept with
 * its ETag. The import map in index.html names the vendored modules, and its hash goes into the
 * page's Content-Security-Policy so that no other inline script can run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export interface Asset {
  type: string;
  etag: string;
  raw: Buffer;
  gzip: Buffer;
  br: Buffer;
}

const APP_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app');
const require = createRequire(import.meta.url);

/** Vendored libraries: the URL the import map gives them, and the file in node_modules. */
const VENDOR: Record<string, string> = {
  '/vendor/preact.mjs': 'preact/dist/preact.mjs',
  '/vendor/preact-hooks.mjs': 'preact/hooks/dist/hooks.mjs',
  '/vendor/htm.mjs': 'htm/dist/htm.mjs',
  '/vendor/uplot.mjs': 'uplot/dist/uPlot.esm.js',
  '/vendor/uplot.css': 'uplot/dist/uPlot.min.css',
};

/** Bare module names the app imports, resolved by the browser through the import map. */
export const IMPORT_MAP = {
  imports: {
    preact: '/vendor/preact.mjs',
    'preact/hooks': '/vendor/preact-hooks.mjs',
    htm: '/vendor/htm.mjs',
    uplot: '/vendor/uplot.mjs',
  },
};

/** The GUI's stylesheets: the shared one, then one per page (src/gui/app/css/). */
const STYLESHEETS = ['base', 'dashboard', 'requests', 'config', 'playground', 'cluster'];

const TYPES: Record<string, string> = {
  '.ts': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const cache = new Map<string, Asset | null>();

/** The asset at `url`, or null when there is none. */
export function assetAt(url: string): Asset | null {
  let hit = cache.get(url);
  if (hit === undefined) {
    hit = load(url);
    cache.set(url, hit);
  }
  return hit;
}

function load(url: string): Asset | null {
  if (url === '/' || url === '/index.html') return make('.html', Buffer.from(indexHtml()));
  const vendored = VENDOR[url];
  if (vendored) return make(path.extname(url), fs.readFileSync(vendorFile(vendored)));
  if (!url.startsWith('/app/')) return null;
  const rel = path.normalize(url.slice('/app/'.length));
  // no escape from the app's folder, no dotfiles
  if (rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep).some((p) => p.startsWith('.'))) return null;
  const ext = path.extname(rel);
  if (!TYPES[ext] || ext === '.html') return null;
  const file = path.join(APP_DIR, rel);
  let source: Buffer;
  try {
    source = fs.readFileSync(file);
  } catch {
    return null;
  }
  return make(ext, ext === '.ts' ? Buffer.from(stripTypes(source.toString('utf8'))) : source);
}

function make(ext: string, raw: Buffer): Asset {
  return {
    type: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
    raw,
    gzip: zlib.gzipSync(raw, { level: 9 }),
    br: zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
  };
}

/**
 * `module.stripTypeScriptTypes` is what Node's own type stripping uses; it is flagged experimental,
 * so its one-time warning is silenced here rather than printed into the gateway's log.
 */
function stripTypes(code: string): string {
  const mod = require('node:module') as typeof import('node:module') & { stripTypeScriptTypes(code: string, opts?: { mode?: 'strip' }): string };
  const emit = process.emitWarning;
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    const name = typeof w === 'string' ? (typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string })?.type) : w.name;
    if (name !== 'ExperimentalWarning') (emit as (...a: unknown[]) => void).call(process, w, ...rest);
  }) as typeof process.emitWarning;
  try {
    return mod.stripTypeScriptTypes(code, { mode: 'strip' });
  } finally {
    process.emitWarning = emit;
  }
}

const importMapJson = JSON.stringify(IMPORT_MAP);

/** The Content-Security-Policy of every GUI answer: only this origin, and only the import map inline. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(importMapJson).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

function indexHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>modelgate</title>
<link rel="icon" href="/app/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/vendor/uplot.css">
${STYLESHEETS.map((n) => `<link rel="stylesheet" href="/app/css/${n}.css">`).join('\n')}
<script type="importmap">${importMapJson}</script>
<script type="module" src="/app/main.ts"></script>
</head>
<body>
<noscript>The modelgate Admin GUI needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
}

/** A package file by path, found from the package's own folder (their `exports` hide dist files). */
function vendorFile(spec: string): string {
  const [pkg, ...rest] = spec.split('/');
  const entry = require.resolve(pkg);
  const marker = `${path.sep}node_modules${path.sep}${pkg}${path.sep}`;
  return path.join(entry.slice(0, entry.lastIndexOf(marker) + marker.length), ...rest);
}
