/**
 * The CLI's key pairs and JWKS reports: `keygen --alg` makes a key pair with jose (the private key
 * as PKCS#8 PEM, the public key as a JWK with its kid, alg and use), and `jwks check` reads a
 * site's set the way the verifier does (src/jwks/: the same https rule, size limit and reading of
 * each key), then says what it makes of it.
 *
 * @example
 * ```ts
 * const { jwk, privatePem } = await generateKeyPair('ES256', 'site-2026-01');
 * const report = await checkJwks({ url: 'https://site.example/.well-known/jwks.json' });
 * console.log(report.text); // kid "site-2026-01": ES256, an EC P-256 key ...
 * ```
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { exportJWK, exportPKCS8, generateKeyPair as generate } from 'jose';
import { describeFailure, limitedFetch, type FetchedResponse } from '../src/jwks/fetch.js';
import { MAX_SET_KEYS } from '../src/jwks/keySet.js';
import { describeKey, readPublicKey } from '../src/jwks/publicKey.js';
import { JWKS_DEFAULTS, maxAgeOf, readJwksUrl } from '../src/jwks/remote.js';
import { MAX_PUBLIC_KEY_TRIES } from '../src/schemes/jwt/keySelection.js';
import type { PublicJwk, PublicKeyAlgorithm } from '../src/index.js';

export interface GeneratedKeyPair {
  kid: string;
  /** The public JWK, as the site publishes it: kid, alg and use included. */
  jwk: PublicJwk;
  /** PKCS#8 PEM: what the site's server signs with. */
  privatePem: string;
}

/** A new key pair for `alg` (RSA: 2048 bits). */
export async function generateKeyPair(alg: PublicKeyAlgorithm, kid: string): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = await generate(alg, {
    extractable: true,
    ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}),
  });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as PublicJwk;
  return { kid, jwk, privatePem: await exportPKCS8(privateKey) };
}

export type JwksSource = { url: string } | { file: string; document: unknown };

export interface KeyReport {
  kid: string | undefined;
  kty: unknown;
  /** The algorithm the verifier gives it: stated, or inferred from its type; undefined when set aside. */
  alg: string | undefined;
  /** "an EC P-256 key", "an RSA key of 2048 bits". */
  key: string | undefined;
  use: unknown;
  usable: boolean;
  /** Why the verifier sets it aside. */
  problem?: string;
  warnings: string[];
}

export interface JwksReport {
  source: string;
  /** For a URL: what the response said, and how long the verifier would keep the set. */
  fetched?: { status: number; bytes: number; cacheControl: string | null; cachedSeconds: number };
  keys: KeyReport[];
  /** What makes tokens fail: a key set aside, a duplicate kid, no usable key, a failed fetch. */
  problems: string[];
  /** What deserves fixing, though tokens verify. */
  warnings: string[];
  /** The report in words. */
  text: string;
}

/** Reads a JWKS from a URL or a file and says what the verifier would make of each key. */
export async function checkJwks(source: JwksSource): Promise<JwksReport> {
  const report: JwksReport = { source: 'url' in source ? source.url : source.file, keys: [], problems: [], warnings: [], text: '' };
  let document: unknown;
  if ('url' in source) {
    try {
      document = await download(source.url, report);
    } catch (error) {
      report.problems.push(
        error instanceof TypeError
          ? error.message.replace(/^chat-identity: /, '')
          : `the set could not be fetched (${describeFailure(error, JWKS_DEFAULTS)})`,
      );
    }
  } else {
    document = source.document;
    if (document === undefined) report.problems.push('the file is not JSON');
  }
  if (document !== undefined) readMembers(document, report);
  report.text = render(report);
  return report;
}

async function download(url: string, report: JwksReport): Promise<unknown> {
  const { url: checked, settings } = readJwksUrl({ url }, 'the URL');
  let seen: FetchedResponse | undefined;
  const response = await limitedFetch(
    checked.href,
    {
      method: 'GET',
      signal: AbortSignal.timeout(settings.timeout),
      headers: { accept: 'application/json, application/jwk-set+json', 'user-agent': 'chat-identity' },
    },
    settings.maxBytes,
    (response) => void (seen = response),
  );
  const body = await response.text();
  const maxAge = maxAgeOf(seen?.cacheControl, seen?.age);
  const kept = Math.min(Math.max(maxAge ?? settings.cacheMaxAge, settings.minCacheAge), settings.maxCacheAge);
  report.fetched = { status: seen!.status, bytes: Buffer.byteLength(body), cacheControl: seen!.cacheControl, cachedSeconds: kept / 1000 };
  if (maxAge === undefined) report.warnings.push(`the response sets no Cache-Control max-age: the verifier keeps the set ${kept / 1000} s`);
  else if (maxAge !== kept)
    report.warnings.push(`Cache-Control max-age is ${maxAge / 1000} s; the verifier keeps the set ${kept / 1000} s`);
  try {
    return JSON.parse(body);
  } catch {
    throw new Error('the set is malformed: the response is not JSON');
  }
}

function readMembers(document: unknown, report: JwksReport): void {
  const members = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(members)) {
    report.problems.push('it is not a JSON Web Key Set: it has no "keys" array');
    return;
  }
  if (members.length > MAX_SET_KEYS) report.problems.push(`it holds ${members.length} keys; the verifier reads at most ${MAX_SET_KEYS}`);
  const kids = new Map<string, number>();
  for (const member of members.slice(0, MAX_SET_KEYS)) {
    const jwk = (member ?? {}) as Record<string, unknown>;
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    const read = readPublicKey(member, { configured: 'default' });
    const entry: KeyReport = {
      kid,
      kty: jwk.kty,
      alg: 'problem' in read ? undefined : read.alg,
      key: describe(jwk),
      use: jwk.use,
      usable: !('problem' in read),
      warnings: [],
    };
    const name = kid === undefined ? 'a key without kid' : `kid ${JSON.stringify(kid)}`;
    if ('problem' in read) {
      entry.problem = read.problem;
      report.problems.push(`${name} is set aside: ${read.problem}`);
    } else {
      if (jwk.alg === undefined) entry.warnings.push(`no "alg": its type makes it ${read.alg}; state it`);
      if (jwk.use === undefined) entry.warnings.push('no "use": state "sig"');
      if (kid === undefined) entry.warnings.push('no "kid": tokens cannot name it');
    }
    if (kid !== undefined) kids.set(kid, (kids.get(kid) ?? 0) + 1);
    report.warnings.push(...entry.warnings.map((warning) => `${name}: ${warning}`));
    report.keys.push(entry);
  }
  for (const [kid, count] of kids)
    if (count > 1) report.problems.push(`kid ${JSON.stringify(kid)} names ${count} keys: a kid must name one key`);
  const usable = report.keys.filter((key) => key.usable);
  if (usable.length === 0) report.problems.push('no key in it can verify tokens');
  const unnamed = usable.filter((key) => key.kid === undefined).length;
  if (unnamed > MAX_PUBLIC_KEY_TRIES) {
    report.warnings.push(
      `${unnamed} usable keys have no kid: a token without kid, or whose kid no key has, is tried against the first ${MAX_PUBLIC_KEY_TRIES} only`,
    );
  }
}

/** The key's type and size, when node:crypto can read it (never its private members). */
function describe(jwk: Record<string, unknown>): string | undefined {
  if (typeof jwk.kty !== 'string' || jwk.kty === 'oct' || 'd' in jwk) return typeof jwk.kty === 'string' ? `a ${jwk.kty} key` : undefined;
  try {
    return describeKey(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
  } catch {
    return `a ${jwk.kty} key that cannot be read`;
  }
}

function render(report: JwksReport): string {
  const lines = [`JWKS ${report.source}`];
  const fetched = report.fetched;
  if (fetched) {
    const cache = fetched.cacheControl === null ? 'no Cache-Control' : `Cache-Control "${fetched.cacheControl}"`;
    lines.push(`  HTTP ${fetched.status}, ${fetched.bytes} bytes, ${cache}: the verifier keeps it ${fetched.cachedSeconds} s`);
  }
  if (report.keys.length > 0) {
    lines.push(
      `  ${report.keys.length} key${report.keys.length === 1 ? '' : 's'}, ${report.keys.filter((key) => key.usable).length} usable:`,
    );
    for (const key of report.keys) {
      const name = key.kid === undefined ? '(no kid)' : `kid ${JSON.stringify(key.kid)}`;
      const what = key.usable
        ? `${key.alg}, ${key.key}${key.use === undefined ? '' : `, use ${String(key.use)}`}`
        : `set aside: ${key.problem}`;
      lines.push(`    ${name}: ${what}`);
    }
  }
  for (const [title, list] of [
    ['problems', report.problems],
    ['warnings', report.warnings],
  ] as const) {
    if (list.length > 0) lines.push(`${title}:`, ...list.map((item) => `  - ${item}`));
  }
  if (report.problems.length === 0) lines.push('ok: every key verifies tokens');
  return lines.join('\n');
}
