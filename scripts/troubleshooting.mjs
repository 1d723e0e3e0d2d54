/**
 * Rewrites README.md's troubleshooting section (between its troubleshooting markers) with the
 * list the built CLI prints, generated from the table of mistakes in src/diagnosis.ts.
 * Run through `npm run docs:troubleshooting`, which builds first; test/diagnosis.test.ts fails
 * while the README and the table disagree.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- troubleshooting:start -->';
const END = '<!-- troubleshooting:end -->';
const root = new URL('..', import.meta.url);
const readmePath = new URL('README.md', root);

const section = execFileSync(process.execPath, ['dist/cli.js', 'troubleshooting', '--markdown'], { cwd: root, encoding: 'utf8' }).trimEnd();
const readme = readFileSync(readmePath, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} section.`);
const updated = `${readme.slice(0, start + START.length)}\n${section}\n${readme.slice(end)}`;
if (updated === readme) console.log('README.md troubleshooting section is up to date.');
else {
  writeFileSync(readmePath, updated);
  console.log('README.md troubleshooting section updated.');
}
