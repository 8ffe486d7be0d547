/**
 * Where issue 24's target table goes after a run: bench/results/<time>-targets.md (ignored by git)
 * and the summary block of docs/performance.md, "Latest figures" — the text between the two
 * markers below is replaced, the rest of the page is left alone. The block names the commit (and
 * whether the work tree had changes), the machine and the exact command, so a figure can always
 * be traced to what produced it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
export const DOC = path.join(REPO, 'docs', 'performance.md');
export const START = '<!-- bench:latest-figures:start (written by npm run bench; edits between the markers are replaced) -->';
export const END = '<!-- bench:latest-figures:end -->';

/** The checked-out commit, with "+ local changes" when src/ or bench/ differ from it. */
export function commitLabel(): string {
  const git = (...a: string[]) => spawnSync('git', a, { cwd: REPO, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD').stdout.trim() || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'src', 'bench').stdout.trim() !== '';
  return dirty ? `${head} + local changes` : head;
}

export interface FiguresBlock {
  when: string;
  command: string;
  commit: string;
  machine: string;
  method: string;
  table: string;
  summary: string;
  notes: string[];
}

export function renderBlock(b: FiguresBlock): string {
  return [
    START,
    '',
    `${b.when}, \`${b.command}\`, commit ${b.commit}. ${b.machine}`,
    '',
    b.method,
    '',
    b.table,
    '',
    `${b.summary}.${b.notes.length ? ` ${b.notes.join(' ')}` : ''}`,
    '',
    END,
  ].join('\n');
}

/** Replaces the block between the markers (which must both be there, in order); returns false if not. */
export function replaceBlock(doc: string, block: string): string | null {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a === -1 || b === -1 || b < a) return null;
  return doc.slice(0, a) + block + doc.slice(b + END.length);
}

/** Writes the table file, and the docs block when asked; returns what it wrote (paths relative to the repo). */
export function writeLatestFigures(resultsFile: string, b: FiguresBlock, docs: boolean): { results: string; docs: string | null; docsError?: string } {
  const block = renderBlock(b);
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, `${block.split('\n').slice(1, -1).join('\n').trim()}\n`);
  const results = path.relative(REPO, resultsFile);
  if (!docs) return { results, docs: null };
  const next = replaceBlock(fs.readFileSync(DOC, 'utf8'), block);
  if (next === null) return { results, docs: null, docsError: `the markers are missing from ${path.relative(REPO, DOC)}` };
  fs.writeFileSync(DOC, next);
  return { results, docs: path.relative(REPO, DOC) };
}
