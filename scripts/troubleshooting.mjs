/**
 * Rewrites the list of signing mistakes in docs/troubleshooting.md (between its troubleshooting
 * markers) with what `chat-identity troubleshooting --markdown` prints: the list generated from
 * the table of mistakes in src/diagnosis/mistakes.ts. Runs the CLI from source (bundled with esbuild into
 * node_modules/.cache), so no build is needed and dist/ is left alone.
 *
 *   node scripts/troubleshooting.mjs           # update the page
 *   node scripts/troubleshooting.mjs --check   # exit 1 if the page is out of date
 *
 * test/diagnosis.test.ts fails while the page and the table disagree.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, bundleFromSource, sourceEntries } from './entries.mjs';

const START = '<!-- troubleshooting:start -->';
const END = '<!-- troubleshooting:end -->';
const page = join(ROOT, 'docs', 'troubleshooting.md');

const { cli } = await sourceEntries();
const bundle = await bundleFromSource(cli, join(ROOT, 'node_modules', '.cache', 'chat-identity', 'cli.mjs'));
const section = execFileSync(process.execPath, [bundle, 'troubleshooting', '--markdown'], { cwd: ROOT, encoding: 'utf8' }).trimEnd();

const text = readFileSync(page, 'utf8');
const start = text.indexOf(START);
const end = text.indexOf(END);
if (start < 0 || end < start) throw new Error(`docs/troubleshooting.md has no ${START} ... ${END} section.`);
// A blank line before the end marker, as Prettier writes Markdown (so `npm run format` changes nothing).
const updated = `${text.slice(0, start + START.length)}\n${section}\n\n${text.slice(end)}`;
if (updated === text) console.log('docs/troubleshooting.md is up to date.');
else if (process.argv.includes('--check')) {
  console.error('docs/troubleshooting.md is out of date: run npm run docs:troubleshooting.');
  process.exitCode = 1;
} else {
  writeFileSync(page, updated);
  console.log('docs/troubleshooting.md updated.');
}
