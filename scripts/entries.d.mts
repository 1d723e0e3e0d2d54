import type { Plugin } from 'esbuild';

/** The repository's root folder, with a trailing slash. */
export const ROOT: string;
/** Entry name -> absolute source path, from tsup.config.ts (`index`, `adapter`, `express`, ..., `cli`). */
export function sourceEntries(): Promise<Record<string, string>>;
/** Import specifier (`chat-identity`, `chat-identity/express`, ...) -> absolute source path. */
export function packageSources(): Promise<Record<string, string>>;
/** Resolves the package's own specifiers to source; every other package stays external. */
export function sourcePlugin(sources: Record<string, string>): Plugin;
/** Bundles `entry` into `outfile` (ESM, Node 20), the package itself from source. Resolves to `outfile`. */
export function bundleFromSource(entry: string, outfile: string): Promise<string>;
