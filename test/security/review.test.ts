/**
 * The outside attack review's findings, each reproduced against the core (the rows of
 * test/conformance/attacks.ts take the HTTP ones through every adapter). Each test here failed on
 * the code the review attacked.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as diagnosis from '../../src/diagnosis/index.js';
import * as signature from '../../src/signature.js';
import { SCHEMES } from '../../src/schemes/index.js';
import { createVerifier, signJwt, signPayload, signUserHash, type VerifierOptions, type VerifyRequest } from '../../src/index.js';
import { PATHS } from '../conformance/paths.js';
import { LIVE_KEY, NOW_SECONDS, SECOND_SCHEME_KEY, TEST_KEY, frozenClock } from '../helpers.js';

const quiet = { warn() {}, error() {} };
const options = (extra: Partial<VerifierOptions> & Pick<VerifierOptions, 'scheme'>): VerifierOptions => ({
  keys: [LIVE_KEY],
  now: frozenClock,
  logger: quiet,
  ...extra,
});
const wrongGuess = (user: string, n: number, ip = '192.0.2.1'): VerifyRequest => ({
  body: { user_id: user, user_hash: signUserHash(`guess-${n}`, LIVE_KEY) },
  ip,
});
const valid = (user: string, ip = '192.0.2.1'): VerifyRequest => ({ body: { user_id: user, user_hash: signUserHash(user, LIVE_KEY) }, ip });
const codeOf = (result: { verified: boolean; error?: { code: string } }) => (result.verified ? 'VERIFIED' : result.error?.code);

afterEach(() => vi.restoreAllMocks());

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('1. no secret verifies proofs of two schemes', () => {
  it('one key list for several schemes is refused at construction, saying why', () => {
    for (const scheme of [
      ['user-hash', 'jwt'],
      ['contact-hash', 'jwt'],
      ['user-hash', 'signed-payload'],
      ['visitor-hash', 'user-hash'],
    ] as const) {
      expect(() => createVerifier(options({ scheme: [...scheme] }))).toThrow(/each its own keys|per scheme/i);
    }
  });

  it('the same secret under two schemes of a per-scheme object is refused at construction', () => {
    expect(() =>
      createVerifier(
        options({ scheme: ['user-hash', 'jwt'], keys: { 'user-hash': [LIVE_KEY], jwt: [{ secret: LIVE_KEY, id: 'renamed' }] } }),
      ),
    ).toThrow(TypeError);
  });

  it('keys per scheme verify each scheme with its own key only', async () => {
    const verifier = createVerifier(options({ scheme: ['user-hash', 'jwt'], keys: { 'user-hash': [LIVE_KEY], jwt: [SECOND_SCHEME_KEY] } }));
    const token = (key: string) => ({ headers: { authorization: `Bearer ${signJwt({ externalId: 'a' }, key, { now: frozenClock })}` } });
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('VERIFIED');
    expect(codeOf(await verifier.verify(token(SECOND_SCHEME_KEY)))).toBe('VERIFIED');
    expect(codeOf(await verifier.verify(token(LIVE_KEY)))).toBe('INVALID_SIGNATURE');
  });

  it.each(['jwt first', 'user-hash first'])(
    'a lookup is told the scheme, and one that returns the same secret for two schemes is refused for both (%s), said once',
    async (order) => {
      const error = vi.fn();
      const asked: string[] = [];
      const verifier = createVerifier(
        options({
          scheme: ['user-hash', 'jwt'],
          logger: { warn() {}, error },
          keys: (_tenant, _request, { scheme }) => (asked.push(scheme), [LIVE_KEY]),
        }),
      );
      // The site signs the user id it is given; an attacker whose id is a token's signing input gets its signature.
      const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ externalId: 'admin', iat: frozenClock() / 1000 })}`;
      const hash = signUserHash(signingInput, LIVE_KEY);
      const forgedToken = `${signingInput}.${Buffer.from(hash, 'hex').toString('base64url')}`;
      const attempts = [
        () => verifier.verify({ headers: { authorization: `Bearer ${forgedToken}` } }),
        () => verifier.verify({ body: { user_id: signingInput, user_hash: hash } }),
      ];
      if (order === 'user-hash first') attempts.reverse();
      for (let i = 0; i < 3; i++) for (const attempt of attempts) expect(codeOf(await attempt())).toBe('KEY_UNAVAILABLE');
      expect(asked).toContain('jwt');
      expect(asked).toContain('user-hash');
      const said = error.mock.calls
        .map(([message]) => String(message))
        .filter((message) => /two schemes|another scheme|same secret/i.test(message));
      expect(said).toHaveLength(1);
      expect(said[0]).not.toContain(LIVE_KEY);
    },
  );

  it('two verifiers of one process given the same secret for different schemes: warned once', () => {
    const warn = vi.fn();
    const secret = 'sk_live_shared_between_two_verifiers_0001';
    createVerifier(options({ scheme: 'user-hash', keys: [secret], logger: { warn, error() {} } }));
    createVerifier(options({ scheme: 'jwt', keys: [secret], logger: { warn, error() {} } }));
    createVerifier(options({ scheme: 'jwt', keys: [secret], logger: { warn, error() {} } }));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).not.toContain(secret);
  });
});

describe("2. diagnosis is the server's decision, and limited requests buy no work", () => {
  const base64Hash = Buffer.from(signUserHash('u1', LIVE_KEY), 'hex').toString('base64');

  it("a client's testMode gives no hint and runs no diagnosis on live keys", async () => {
    const diagnose = vi.spyOn(diagnosis, 'findMistake');
    const result = await createVerifier(options({ scheme: 'user-hash', keys: [LIVE_KEY, TEST_KEY] })).verify({
      body: { user_id: 'u1', user_hash: base64Hash, testMode: true },
    });
    expect(result).toEqual({
      verified: false,
      scheme: 'user-hash',
      error: { code: 'MALFORMED_IDENTITY', message: 'The identity proof is malformed.' },
    });
    expect(diagnose).not.toHaveBeenCalled();
  });

  it('a signature that matched a test key is diagnosed with the test keys only', async () => {
    const diagnose = vi.spyOn(diagnosis, 'findMistake');
    const expired = signPayload({ externalId: '1', timestamp: NOW_SECONDS }, TEST_KEY);
    const result = await createVerifier(
      options({ scheme: 'signed-payload', keys: [LIVE_KEY, TEST_KEY], now: () => frozenClock() + 7200_000 }),
    ).verify({ body: expired });
    expect(result).toMatchObject({ error: { code: 'SIGNATURE_EXPIRED', hint: expect.any(String) } });
    expect(diagnose).toHaveBeenCalledTimes(1);
    expect(diagnose.mock.calls[0]![0].keys.every((key) => key.test)).toBe(true);
  });

  it('parse failures count: 300 malformed proofs from one address get 30 × 401, then 429', async () => {
    const verifier = createVerifier(options({ scheme: 'signed-payload', diagnostics: true }));
    const codes = [];
    for (let i = 0; i < 300; i++)
      codes.push(
        codeOf(
          await verifier.verify({
            body: { customer: { externalId: `u${i}`, timestamp: 'soon', bio: 'é'.repeat(2000) }, signature: 'x', testMode: true },
            ip: '198.51.100.7',
          }),
        ),
      );
    expect(codes.filter((c) => c === 'MALFORMED_IDENTITY')).toHaveLength(30);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(270);
  });

  it('a request over its limit does no parse, no HMAC and no diagnosis, even with diagnostics on', async () => {
    const verifier = createVerifier(
      options({ scheme: 'user-hash', diagnostics: true, rateLimit: { identity: { points: 2, duration: 60 } } }),
    );
    for (let i = 0; i < 2; i++) await verifier.verify(wrongGuess('victim', i, `203.0.113.${i}`));
    const hmac = vi.spyOn(signature, 'hmac');
    const diagnose = vi.spyOn(diagnosis, 'findMistake');
    expect(codeOf(await verifier.verify({ body: { user_id: 'victim', user_hash: base64Hash }, ip: '203.0.113.9' }))).toBe('RATE_LIMITED');
    expect(hmac).not.toHaveBeenCalled();
    expect(diagnose).not.toHaveBeenCalled();
    const parse = vi.spyOn(SCHEMES['user-hash'], 'parse');
    const byAddress = createVerifier(options({ scheme: 'user-hash', rateLimit: { address: { points: 1, duration: 60 } } }));
    await byAddress.verify(wrongGuess('a', 1));
    parse.mockClear();
    expect(codeOf(await byAddress.verify(valid('b')))).toBe('RATE_LIMITED');
    expect(parse).not.toHaveBeenCalled();
  });
});

describe('3. limiter memory is bounded whatever the length of tenants and addresses', () => {
  let dir: string;
  let script: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-identity-memory-'));
    script = join(dir, 'flood.cjs');
    await build({
      entryPoints: [new URL('../support/memoryFlood.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: script,
      logLevel: 'error',
    });
  }, 30_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('20,000 distinct 16 kB tenants and 20,000 16 kB forwarded addresses leave the heap flat', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', script], { maxBuffer: 1 << 20 });
    const growth = JSON.parse(stdout) as Record<'tenants' | 'addresses', Record<'short' | '16 kB', number>>;
    console.log(
      `heap bytes per request, short vs 16 kB values: tenants ${growth.tenants.short.toFixed(0)} vs ${growth.tenants['16 kB'].toFixed(0)}; addresses ${growth.addresses.short.toFixed(0)} vs ${growth.addresses['16 kB'].toFixed(0)}`,
    );
    // Before, each 16 kB value was kept in a limiter key (about 32 kB per request); now a request
    // leaves fixed-size entries whatever it sent.
    for (const kind of ['tenants', 'addresses'] as const) {
      expect(growth[kind]['16 kB']).toBeLessThan(2048);
      expect(growth[kind]['16 kB'] - growth[kind].short).toBeLessThan(512);
    }
  }, 120_000);
});

describe('4. a wrongly signed payload costs a bounded number of bytes hashed', () => {
  it('the worst shape hashes at most 7 spellings of at most 8192 characters per key', async () => {
    // Every trigger at once: non-ASCII, "/", "<>&", U+2028, DEL; a capital (localeCompare orders it
    // apart), and keys beyond U+FFFF and above U+E000 (code-point and code-unit orders differ).
    const customer = { externalId: 'é/<>&\u2028\u007f', Plan: 'é'.repeat(900), '\u{1F600}k': 'y', '\uFF01k': 'z', timestamp: NOW_SECONDS };
    const keys = [LIVE_KEY, SECOND_SCHEME_KEY, TEST_KEY];
    const hmac = vi.spyOn(signature, 'hmac');
    const result = await createVerifier(options({ scheme: 'signed-payload', keys, rateLimit: false })).verify({
      body: { customer, signature: '0'.repeat(64) },
    });
    expect(codeOf(result)).toBe('INVALID_SIGNATURE');
    const spellings = new Set(hmac.mock.calls.map(([, , data]) => data));
    expect(spellings.size).toBe(7);
    expect(hmac.mock.calls.length).toBe(7 * keys.length);
    for (const data of spellings) expect(data.length).toBeLessThanOrEqual(8192);
  });

  it('a 1 MB customer of 19,000 fields is refused before anything is sorted or serialised', async () => {
    const customer = Object.fromEntries(Array.from({ length: 19_000 }, (_, i) => [`field${i}`, 'x'.repeat(40)]));
    const stringify = vi.spyOn(JSON, 'stringify');
    const sort = vi.spyOn(Array.prototype, 'sort');
    const result = await createVerifier(options({ scheme: 'signed-payload', rateLimit: false })).verify({
      body: { customer, signature: '0'.repeat(64) },
    });
    expect(codeOf(result)).toBe('MALFORMED_IDENTITY');
    expect(stringify).not.toHaveBeenCalled();
    expect(sort).not.toHaveBeenCalled();
  });
});

describe('5. addresses are counted as networks', () => {
  it('one IPv6 /64 is one client, and an IPv4-mapped address is its IPv4 address', async () => {
    const verifier = createVerifier(options({ scheme: 'user-hash', rateLimit: { address: { points: 3, duration: 60 }, identity: false } }));
    for (const [i, ip] of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:DB8:1:2:0:0:0:3'].entries())
      await verifier.verify(wrongGuess(`u${i}`, i, ip));
    expect(codeOf(await verifier.verify(valid('w', '2001:db8:1:2::77')))).toBe('RATE_LIMITED');
    expect(codeOf(await verifier.verify(valid('w', '2001:db8:1:3::1')))).toBe('VERIFIED');
    for (const [i, ip] of ['192.0.2.9', '::ffff:192.0.2.9', '192.0.2.9'].entries()) await verifier.verify(wrongGuess(`v${i}`, i, ip));
    expect(codeOf(await verifier.verify(valid('w', '::ffff:192.0.2.9')))).toBe('RATE_LIMITED');
  });
});

describe('6. key lookups cannot be had on demand', () => {
  it('500 junk tenants from one address cause at most the address limit of lookups', async () => {
    const lookup = vi.fn(() => undefined);
    const verifier = createVerifier(options({ scheme: 'user-hash', keys: lookup, tenant: (r) => r.headers?.['x-team'] as string }));
    for (let i = 0; i < 500; i++) await verifier.verify({ ...valid('u1'), headers: { 'x-team': `junk-${i}` } });
    expect(lookup.mock.calls.length).toBeLessThanOrEqual(30);
  });

  it('refreshKeys(tenant) drops cached keys at once: a revoked key stops verifying on the next request', async () => {
    let keys = [LIVE_KEY];
    const verifier = createVerifier(options({ scheme: 'user-hash', keys: () => keys, tenant: () => 'acme' }));
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('VERIFIED');
    keys = [SECOND_SCHEME_KEY];
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('VERIFIED'); // cached for keyCache.ttl
    verifier.refreshKeys('acme');
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('INVALID_SIGNATURE');
  });

  it('refreshKeys(tenant) also drops another spelling a case-blind lookup answered with the same keys', async () => {
    let keys = [LIVE_KEY];
    let tenant = 'acme';
    // A lookup that matches names case-blind (a _ci collation) and names no canonical tenant.
    const verifier = createVerifier(
      options({ scheme: 'user-hash', keys: (t) => (t?.toLowerCase() === 'acme' ? keys : undefined), tenant: () => tenant }),
    );
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('VERIFIED');
    tenant = 'ACME';
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('VERIFIED');
    keys = [SECOND_SCHEME_KEY]; // the old key revoked
    verifier.refreshKeys('acme');
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('INVALID_SIGNATURE'); // as ACME
    tenant = 'acme';
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('INVALID_SIGNATURE');
  });

  it('a verified result names the tenant the lookup resolved', async () => {
    const verifier = createVerifier(
      options({
        scheme: 'user-hash',
        keys: (t) => (t?.toLowerCase() === 'acme' ? { tenant: 'acme', keys: [LIVE_KEY] } : undefined),
        tenant: () => 'ACME',
      }),
    );
    expect(await verifier.verify(valid('u1'))).toMatchObject({ verified: true, tenant: 'acme' });
  });
});

describe('8. bursts cannot beat the limit', () => {
  it('1,000 concurrent wrong guesses for one identity: at most 10 are verified at all', async () => {
    const verifier = createVerifier(options({ scheme: 'user-hash', rateLimit: { address: false } }));
    const hmac = vi.spyOn(signature, 'hmac');
    const codes = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => verifier.verify(wrongGuess('victim', i, `198.51.100.${i % 250}`)).then(codeOf)),
    );
    expect(codes.filter((c) => c === 'INVALID_SIGNATURE')).toHaveLength(10);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(990);
    expect(hmac).toHaveBeenCalledTimes(10);
  });

  it('with a slow keys lookup too', async () => {
    const verifier = createVerifier(
      options({
        scheme: 'user-hash',
        keys: () => new Promise((resolve) => setTimeout(() => resolve([LIVE_KEY]), 20)),
        tenant: () => 'acme',
        rateLimit: { address: false },
      }),
    );
    const codes = await Promise.all(
      Array.from({ length: 300 }, (_, i) => verifier.verify(wrongGuess('victim', i, `198.51.100.${i}`)).then(codeOf)),
    );
    expect(codes.filter((c) => c === 'INVALID_SIGNATURE')).toHaveLength(10);
  });
});

describe('10. a bug is not bad input', () => {
  it('a fault planted in the jwt parser fails closed and is logged once as an internal error', async () => {
    vi.spyOn(SCHEMES.jwt, 'parse').mockImplementation(() => {
      throw new TypeError('planted');
    });
    const error = vi.fn();
    const verifier = createVerifier(options({ scheme: 'jwt', logger: { warn() {}, error } }));
    const token = { headers: { authorization: `Bearer ${signJwt({ externalId: 'a' }, LIVE_KEY, { now: frozenClock })}` } };
    for (let i = 0; i < 3; i++) expect(codeOf(await verifier.verify(token))).toBe('MALFORMED_IDENTITY');
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]![0])).toMatch(/internal error.*TypeError: planted/s);
  });

  it('the conformance runner notices it: its logger sees the internal error', async () => {
    vi.spyOn(SCHEMES.jwt, 'parse').mockImplementation(() => {
      throw new TypeError('planted');
    });
    const seen: string[] = [];
    const logger = { warn() {}, error: (message: string) => void seen.push(message) };
    const token = signJwt({ externalId: 'a' }, LIVE_KEY, { now: frozenClock });
    await PATHS.core!({ scheme: 'jwt', keys: [LIVE_KEY], now: frozenClock, logger }, false, [
      { headers: { authorization: `Bearer ${token}` } },
    ]);
    expect(seen.some((message) => message.includes('internal error'))).toBe(true);
  });

  it("the app's own callbacks failing are results, said once, not internal errors", async () => {
    const error = vi.fn();
    const verifier = createVerifier(
      options({
        scheme: 'user-hash',
        logger: { warn() {}, error },
        keys: () => [LIVE_KEY],
        tenant: () => {
          throw new Error('no tenant');
        },
      }),
    );
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('MALFORMED_IDENTITY');
    expect(codeOf(await verifier.verify(valid('u1')))).toBe('MALFORMED_IDENTITY');
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]![0])).not.toContain('internal error');
  });
});

describe('smaller findings', () => {
  it('a secret with leading or trailing whitespace is refused at construction, without printing it', () => {
    for (const secret of [`${LIVE_KEY}\n`, ` ${LIVE_KEY}`, `${LIVE_KEY}\r\n`]) {
      let message = '';
      try {
        createVerifier(options({ scheme: 'user-hash', keys: [secret] }));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/whitespace/);
      expect(message).not.toContain(LIVE_KEY);
    }
  });
});
