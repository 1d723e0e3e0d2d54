/**
 * Every signature comparison in src/ is constant-time: a source scan fails on any ===/== between
 * values that look like signatures, digests or secrets, on a Buffer#equals / Buffer.compare /
 * string-search method over them (all return at the first differing byte), and on
 * timingSafeEqual outside signature.ts, where every MAC over a proof is computed too.
 * test/security/timing.test.ts checks the same at run time.
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

const METHOD_COMPARISON = /([\w.$?[\]'"`]+)\.(equals|compare|localeCompare|includes|indexOf|lastIndexOf|startsWith|endsWith)\(([^()]*)\)/g;
/** A constant by naming convention (TEST_KEY_PREFIX): public, so comparing against it leaks nothing. */
const CONSTANT = /^[A-Z][A-Z0-9_]*$/;

/** Early-exit comparisons by method: always on sensitive values for equals/compare, else unless against a literal or constant. */
export function unsafeMethodComparisons(source: string): string[] {
  const found: string[] = [];
  for (const line of source.split('\n')) {
    if (/^\s*(\*|\/\/)/.test(line)) continue;
    for (const [, receiver, method, argument] of line.matchAll(METHOD_COMPARISON)) {
      // Buffer.compare(a, b) compares its two arguments; the others compare receiver and argument.
      const operands = method === 'compare' && receiver === 'Buffer' ? argument!.split(',') : [receiver!, argument!.split(',')[0]!];
      const sides = operands.map((s) =>
        s
          .trim()
          .replace(/^[(!]+|[)]+$/g, '')
          .replace(/ as .*$/, ''),
      );
      const sensitive = sides.some((s) => SENSITIVE.test(s));
      const publicOther = sides.some((s) => HARMLESS.test(s) || CONSTANT.test(s));
      if (sensitive && (method === 'equals' || method === 'compare' || !publicOther)) found.push(line.trim());
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
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

  it('the scan catches Buffer#equals, Buffer.compare and string searches over signatures', () => {
    expect(unsafeMethodComparisons('  if (expectedSignature.equals(given)) return key;')).toHaveLength(1);
    expect(unsafeMethodComparisons('  return Buffer.compare(digest, provided) === 0;')).toHaveLength(1);
    expect(unsafeMethodComparisons('  if (computed.startsWith(fields.user_hash)) ok();')).toHaveLength(1);
    expect(unsafeMethodComparisons('  if (expectedHex.indexOf(given) === 0) ok();')).toHaveLength(1);
    expect(unsafeMethodComparisons('  test: spec.secret.startsWith(TEST_KEY_PREFIX),')).toHaveLength(0);
    expect(unsafeMethodComparisons("  if (header.token.startsWith('Bearer ')) x();")).toHaveLength(0);
    expect(unsafeMethodComparisons('  if (made.some((other) => other.equals(bytes))) skip();')).toHaveLength(0);
  });

  it.each(files.map((f) => [f.slice(f.indexOf('/src/') + 1), f]))('%s uses no early-exit method on a signature', (_, file) => {
    expect(unsafeMethodComparisons(readFileSync(file, 'utf8'))).toEqual([]);
  });

  it('calls timingSafeEqual only from src/signature.ts, which every scheme goes through', () => {
    const users = files.filter((f) => readFileSync(f, 'utf8').includes('timingSafeEqual'));
    expect(users.map((f) => f.slice(f.indexOf('/src/') + 1))).toEqual(['src/signature.ts']);
    const matchers = files.filter((f) => /findSigningKey\(/.test(readFileSync(f, 'utf8')));
    expect(matchers.length).toBeGreaterThanOrEqual(3); // schemes/scheme.ts defines it; identifierHash, signedPayload and jwt call it
  });

  it('computes every MAC over a proof in src/signature.ts: the schemes, their signing helpers and the diagnosis compute none', () => {
    const importsMac = (f: string) => /import\s*{[^}]*\bcreate(Hmac|Hash)\b[^}]*}\s*from\s*'node:crypto'/.test(readFileSync(f, 'utf8'));
    const proofCode = files.filter((f) => /\/src\/(schemes|diagnosis)\//.test(f));
    expect(proofCode.length).toBeGreaterThan(10);
    expect(proofCode.filter(importsMac)).toEqual([]);
    expect(files.filter((f) => f.endsWith('/src/signature.ts')).every(importsMac)).toBe(true);
  });
});
