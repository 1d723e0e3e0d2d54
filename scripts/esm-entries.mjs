/**
 * After tsup (npm run build): every CommonJS entry point in dist/ gets its ESM face, `<entry>.js`
 * re-exporting `<entry>.cjs`, with the same declarations as `<entry>.d.ts`. An app that imports
 * one entry point and requires another (or a dependency that does) then loads one copy of the
 * package, not an ESM and a CommonJS copy side by side: a verifier made by `require('chat-identity')`
 * issues results the ESM adapter's guard recognises, and `IdentityError` is one class. This is the
 * "ES module wrapper" of Node's documentation on dual packages.
 */
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist', import.meta.url));
for (const file of readdirSync(dist)) {
  if (!file.endsWith('.cjs')) continue;
  const entry = file.slice(0, -'.cjs'.length);
  writeFileSync(join(dist, `${entry}.js`), `export * from './${entry}.cjs';\n`);
  copyFileSync(join(dist, `${entry}.d.cts`), join(dist, `${entry}.d.ts`));
}
