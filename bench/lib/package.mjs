/**
 * The package under test, built privately for the benches.
 *
 * `npm test` packs the package (which cleans and rebuilds dist/), and other work in the same
 * tree may do so at any moment; a bench that imports dist/ could see it vanish between two
 * server start-ups. So the benches build their own copy as the package is published (the core
 * CommonJS with an ESM face, scripts/esm-entries.mjs; the other entry points ESM, which is what the
 * benches import; no declarations) into bench/.build/node_modules/chat-identity/, with a
 * package.json that maps the public entry points. The adapters import the core as `chat-identity`; from
 * there that resolves to this copy (self-reference), and express, koa, lru-cache, ... resolve
 * up the tree to the project's node_modules, as in an installed app.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sourceEntries } from '../../scripts/entries.mjs';
import { writeEsmEntries } from '../../scripts/esm-entries.mjs';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const rootDir = join(benchDir, '..');
export const packageDir = join(benchDir, '.build', 'node_modules', 'chat-identity');

/**
 * A second copy for A/B runs (`--compare <tree>`): another checkout or a patched copy of src/
 * and adapters/, built the same way. Its node_modules lookups still end in this project's.
 */
export const comparePackageDir = join(benchDir, '.build', 'compare', 'node_modules', 'chat-identity');

/**
 * Builds `sourceRoot`'s src/ and adapters/ into `outDir` (the private copy by default), as
 * published (tsup.config.ts: the core CommonJS with an ESM face), or with `coreAsCommonJs: false`
 * all ESM (the published build before 90ad91a, for A/B). Throws (with tsup's message) when the code
 * does not build.
 */
export async function buildPackage({ quiet = true, sourceRoot = rootDir, outDir = packageDir, coreAsCommonJs = true } = {}) {
  const { build } = await import('tsup');
  const rootPackage = JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8'));
  // Every entry point tsup.config.ts builds, but the CLI (a program, not a module to import).
  const { cli: _cli, ...entries } = await sourceEntries();
  const { index: core, ...others } = entries;
  const sources = (list) =>
    Object.fromEntries(Object.entries(list).map(([name, file]) => [name, join(sourceRoot, relative(rootDir, file))]));
  rmSync(join(outDir, 'dist'), { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const log = console.log;
  if (quiet) console.log = () => {};
  const bundle = (entry, format) =>
    build({
      config: false,
      entry: sources(entry),
      outDir: join(outDir, 'dist'),
      format: [format],
      dts: false,
      target: 'node20',
      platform: 'node',
      sourcemap: true, // so --cpu-prof names src/ lines
      splitting: false,
      silent: quiet,
      tsconfig: join(existsSync(join(sourceRoot, 'tsconfig.json')) ? sourceRoot : rootDir, 'tsconfig.json'),
      // The package's own entry points stay imports (one core), as in the published build; peers too.
      external: [/^chat-identity(\/|$)/, ...Object.keys({ ...rootPackage.peerDependencies, ...rootPackage.dependencies })],
    });
  try {
    if (coreAsCommonJs) {
      await bundle({ index: core }, 'cjs');
      await bundle(others, 'esm');
    } else await bundle(entries, 'esm');
  } finally {
    console.log = log;
  }
  if (coreAsCommonJs) writeEsmEntries(join(outDir, 'dist'));
  const entry = (name) =>
    name === 'index' && coreAsCommonJs
      ? { import: `./dist/${name}.js`, require: `./dist/${name}.cjs` }
      : { import: `./dist/${name}.js`, default: `./dist/${name}.js` };
  writeFileSync(
    join(outDir, 'package.json'),
    JSON.stringify(
      {
        name: 'chat-identity',
        version: rootPackage.version,
        private: true,
        type: 'module',
        exports: Object.fromEntries(Object.keys(entries).map((name) => [name === 'index' ? '.' : `./${name}`, entry(name)])),
      },
      null,
      2,
    ) + '\n',
  );
}

/**
 * Imports one entry point of a built copy: '' for the core, 'express', 'koa' or 'passport'.
 * The copy is CHAT_IDENTITY_BENCH_PACKAGE when set (how the HTTP servers of `--compare` runs
 * load the other tree), else the private copy.
 */
export function importPackage(entry = '', dir) {
  const file = join(dir ?? (process.env.CHAT_IDENTITY_BENCH_PACKAGE || packageDir), 'dist', `${entry || 'index'}.js`);
  return import(pathToFileURL(file).href);
}
