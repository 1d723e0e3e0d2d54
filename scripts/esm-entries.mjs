/**
 * After tsup (npm run build): each CommonJS entry point in dist/ built without an ESM bundle (the
 * core, tsup.config.ts says why) gets its ESM face, `<entry>.js` re-exporting `<entry>.cjs`, with the
 * same declarations as `<entry>.d.ts`. An app that imports one entry point and requires another (or
 * a dependency that does) then loads one copy of the core, not an ESM and a CommonJS copy side by
 * side: a verifier made by `require('chat-identity')` issues results the ESM adapter's guard
 * recognises, and `IdentityError` is one class. This is the "ES module wrapper" of Node's
 * documentation on dual packages. The benchmarks' private build (bench/lib/package.mjs) is made the
 * same way, so they measure what users load.
 */
import { copyFileSync, existsSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function writeEsmEntries(dist) {
  const faced = [];
  for (const file of readdirSync(dist)) {
    const entry = file.endsWith('.cjs') ? file.slice(0, -'.cjs'.length) : undefined;
    if (entry === undefined || existsSync(join(dist, `${entry}.js`))) continue;
    writeFileSync(join(dist, `${entry}.js`), `export * from './${entry}.cjs';\n`);
    if (existsSync(join(dist, `${entry}.d.cts`))) copyFileSync(join(dist, `${entry}.d.cts`), join(dist, `${entry}.d.ts`));
    faced.push(entry);
  }
  if (!faced.includes('index')) throw new Error(`scripts/esm-entries.mjs: ${dist} has no CommonJS core (index.cjs) without an ESM face`);
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url))
  writeEsmEntries(fileURLToPath(new URL('../dist', import.meta.url)));
