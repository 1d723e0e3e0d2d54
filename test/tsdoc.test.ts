/**
 * Every public export of every entry point carries TSDoc with a description and an `@example`:
 * what an editor shows a user on hover. Read from the source with the TypeScript compiler API;
 * the entry points are those of tsup.config.ts (scripts/entries.mjs), so a new one is covered.
 */
import { relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT, packageSources } from '../scripts/entries.mjs';

async function exportsWithoutDocs(): Promise<string[]> {
  const sources = await packageSources();
  const entries = Object.values(sources);
  expect(entries.length).toBeGreaterThan(1);
  const paths = Object.fromEntries(Object.entries(sources).map(([name, path]) => [name, [path]]));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    paths,
  });
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  for (const path of entries) {
    const entry = relative(ROOT, path);
    const file = program.getSourceFile(path)!;
    for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(file)!)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const description = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
      const example = symbol.getJsDocTags(checker).some((tag) => tag.name === 'example');
      if (!description || !example)
        missing.push(`${entry}: ${exported.name}${description ? '' : ' (no description)'}${example ? '' : ' (no @example)'}`);
    }
  }
  return missing;
}

describe('TSDoc', () => {
  it('documents every public export with a description and an @example', async () => {
    expect(await exportsWithoutDocs()).toEqual([]);
  }, 60_000);
});
