/**
 * Every signature comparison in src/ is constant-time: a source scan fails on any ===/== between
 * values that look like signatures, digests or secrets, and on timingSafeEqual outside signature.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SENSITIVE = /signature|digest|hash|hmac|secret|token|expected|mac\b/i;
/** Operands that carry no secret: absence checks, literals, types and lengths. */
const HARMLESS = /^(undefined|null|true|false|-?\d+|'[^']*'|"[^"]*"|`[^`]*`|typeof\b.*|.*\.length)$/;
const COMPARISON = /([\w.$?[\]()'"`]+)\s*(===|!==|==|!=)\s*([\w.$?[\]()'"`]+)/g;

export function unsafeComparisons(source: string): string[] {
  const found: string[] = [];
  for (const line of source.split('\n')) {
    if (/^\s*(\*|\/\/)/.test(line)) continue;
    for (const [, left, , right] of line.matchAll(COMPARISON)) {
      const sides = [left!, right!].map((s) => s.replace(/^[(!]+|[)]+$/g, ''));
      if (sides.some((s) => SENSITIVE.test(s)) && !sides.some((s) => HARMLESS.test(s))) found.push(line.trim());
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('constant-time comparison', () => {
  const files = sourceFiles(new URL('../src', import.meta.url).pathname);

  it('the scan catches a plain comparison of signatures', () => {
    expect(unsafeComparisons('  if (given === expectedSignature) return key;')).toHaveLength(1);
    expect(unsafeComparisons("  return hmac(key, data).toString('hex') == fields.user_hash;")).toHaveLength(1);
    expect(unsafeComparisons('  if (fields.user_hash === undefined) reject();')).toHaveLength(0);
  });

  it.each(files.map((f) => [f.slice(f.indexOf('/src/') + 1), f]))('%s compares no signature with ===', (_, file) => {
    expect(unsafeComparisons(readFileSync(file, 'utf8'))).toEqual([]);
  });

  it('calls timingSafeEqual only from src/signature.ts, which every scheme goes through', () => {
    const users = files.filter((f) => readFileSync(f, 'utf8').includes('timingSafeEqual'));
    expect(users.map((f) => f.slice(f.indexOf('/src/') + 1))).toEqual(['src/signature.ts']);
    const matchers = files.filter((f) => /findSigningKey\(/.test(readFileSync(f, 'utf8')));
    expect(matchers.length).toBeGreaterThanOrEqual(3); // scheme.ts defines it; identifierHash, signedPayload and jwt call it
  });
});
