/**
 * The package's entry points and their source files, read from tsup.config.ts (the one place
 * that maps each built file to its source), so scripts and the docs test can run the source
 * without a build: `chat-identity` -> src/index.ts, `chat-identity/express` -> adapters/express.ts,
 * ..., and the CLI's source (the `cli` entry).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `{ index: 'src/index.ts', express: 'adapters/express.ts', ..., cli: 'cli/bin.ts' }`, absolute paths. */
export async function sourceEntries() {
  const bundled = await build({
    entryPoints: [join(ROOT, 'tsup.config.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    logLevel: 'silent',
    // defineConfig only returns its argument; no need to load tsup itself.
    plugins: [
      {
        name: 'tsup-stub',
        setup(b) {
          b.onResolve({ filter: /^tsup$/ }, () => ({ path: 'tsup', namespace: 'tsup-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'tsup-stub' }, () => ({
            contents: 'export const defineConfig = (config) => config;',
            loader: 'js',
          }));
        },
      },
    ],
  });
  const code = bundled.outputFiles[0].text;
  const { default: config } = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  const entries = {};
  for (const part of [config].flat()) {
    for (const [name, path] of Object.entries(part.entry ?? {})) entries[name] = join(ROOT, path);
  }
  return entries;
}

/** Import specifier -> source file: `chat-identity` and `chat-identity/<entry>` for every library entry. */
export async function packageSources() {
  const entries = await sourceEntries();
  const map = {};
  for (const [name, path] of Object.entries(entries)) {
    if (name === 'cli') continue;
    map[name === 'index' ? 'chat-identity' : `chat-identity/${name}`] = path;
  }
  return map;
}

/**
 * An esbuild plugin that resolves `chat-identity` and its subpaths to their source and leaves
 * every other package external (loaded from node_modules at run time, as an app would).
 */
export function sourcePlugin(sources) {
  return {
    name: 'chat-identity-source',
    setup(b) {
      b.onResolve({ filter: /^chat-identity(\/.*)?$/ }, (args) => {
        const path = sources[args.path];
        return path ? { path } : { errors: [{ text: `${args.path} is not an entry point of this package (tsup.config.ts).` }] };
      });
      b.onResolve({ filter: /^[^./]/ }, (args) => (args.kind === 'entry-point' ? undefined : { path: args.path, external: true }));
    },
  };
}

/**
 * Bundles a TypeScript or JavaScript file of this repository into `outfile` (an .mjs file under the
 * repository, so that its packages resolve from node_modules), with the package itself from source.
 */
export async function bundleFromSource(entry, outfile) {
  const sources = await packageSources();
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    sourcemap: 'inline',
    plugins: [sourcePlugin(sources)],
  });
  return outfile;
}
