/**
 * The key ring on its own (createVerifier's end-to-end rows live in the verifier and security suites).
 * The clock is the `now` option, frozen and moved by hand; the lookup timeout runs on fake timers.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, signUserHash } from '../src/index.js';
import { REMEMBERED_SECRETS } from '../src/keyFingerprint.js';
import { createKeyRing, toSigningKeys, type KeyRing, type KeyRingOptions, type TenantKeys } from '../src/keyRing.js';
import { Rejection } from '../src/rejection.js';
import type { KeyLookup, KeyLookupContext, SchemeName, TenantKeySet, VerifierOptions, VerifyRequest } from '../src/types.js';
import { LIVE_KEY, NOW, OTHER_TENANT_KEY, PREVIOUS_KEY, TEST_KEY } from './helpers.js';
import { startJwksServer } from './support/jwksServer.js';
import { jwksOf, keyPair, withoutMembers } from './support/keyPairs.js';

let clock = NOW;
beforeEach(() => {
  clock = NOW;
});

/** Every secret a test used, and every line logged or message thrown: the sweep below checks none holds a secret. */
const secrets = new Set([LIVE_KEY, PREVIOUS_KEY, TEST_KEY, OTHER_TENANT_KEY]);
const said: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  const lines = said.splice(0);
  for (const secret of secrets) expect(lines.filter((line) => line.includes(secret))).toEqual([]);
});

/** A secret no other test uses: the process-wide registry remembers secrets across tests. */
function freshSecret(): string {
  const secret = `sk_live_${randomBytes(16).toString('hex')}`;
  secrets.add(secret);
  return secret;
}

/** A key ring on the frozen clock, with a logger that records what it is told. */
function ring(options: Partial<KeyRingOptions> = {}) {
  const log = { warn: vi.fn((line: string) => void said.push(line)), error: vi.fn((line: string) => void said.push(line)) };
  const keyRing = createKeyRing({
    keys: [LIVE_KEY],
    schemes: ['user-hash'],
    allowTestKeys: true,
    keyCache: undefined,
    keyLookupTimeout: undefined,
    now: () => clock,
    logger: log,
    ...options,
  });
  return { keyRing, log };
}

const request: VerifyRequest = { body: {} };

/** `configured` as a promise, whether it answered at once, threw or rejected. */
async function keysFor(keyRing: KeyRing, tenant?: string, scheme: SchemeName = 'user-hash'): Promise<TenantKeys> {
  return keyRing.configured(scheme, tenant, request);
}

/** The KEY_UNAVAILABLE refusal `pending` ends in. */
async function refusal(pending: Promise<unknown>): Promise<Rejection> {
  const error = await pending.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Rejection);
  expect((error as Rejection).code).toBe('KEY_UNAVAILABLE');
  said.push((error as Rejection).hint ?? '');
  return error as Rejection;
}

/** The message of the TypeError `build` throws. */
function typeError(build: () => unknown): string {
  let message = '';
  expect(() => {
    try {
      build();
    } catch (error) {
      message = (error as Error).message;
      throw error;
    }
  }).toThrow(TypeError);
  said.push(message);
  return message;
}

/** A lookup that answers from a table by scheme, counting its calls. */
function lookupOf(answer: (tenant: string | undefined, scheme: SchemeName) => TenantKeySet) {
  return vi.fn<KeyLookup>(async (tenant, _request, { scheme }) => answer(tenant, scheme));
}

/** A whole user-hash verifier over `lookup`, on the test's clock, its log in `said`: for what only a verifier as configured shows. */
function verifierOver(lookup: KeyLookup, options: Partial<VerifierOptions>) {
  const logger = { warn: (line: string) => void said.push(line), error: (line: string) => void said.push(line) };
  return createVerifier({ scheme: 'user-hash', keys: lookup, now: () => clock, rateLimit: false, logger, ...options });
}

describe('static keys', () => {
  it('are answered synchronously, the same precomputed object every time', () => {
    const { keyRing } = ring({ keys: [{ secret: LIVE_KEY, id: 'new' }, PREVIOUS_KEY] });
    const first = keyRing.configured('user-hash', undefined, request);
    expect(first).not.toBeInstanceOf(Promise);
    expect(keyRing.configured('user-hash', undefined, request)).toBe(first);
    expect((first as TenantKeys).keys.map((key) => key.id)).toEqual(['new', undefined]);
    const forAcme = keyRing.configured('user-hash', 'acme', request) as TenantKeys;
    expect(forAcme).toEqual({ tenant: 'acme', keys: (first as TenantKeys).keys });
  });

  it('take a string, a key object or a list for a single scheme', () => {
    for (const keys of [LIVE_KEY, { secret: LIVE_KEY }, [LIVE_KEY]]) {
      expect((ring({ keys }).keyRing.configured('user-hash', undefined, request) as TenantKeys).keys).toHaveLength(1);
    }
  });

  it('hold the secret as a KeyObject and a fingerprint: printing a key never shows the secret', () => {
    const keyOf = (secret: string) => (ring({ keys: [secret] }).keyRing.configured('user-hash', undefined, request) as TenantKeys).keys[0]!;
    const key = keyOf(LIVE_KEY);
    expect(inspect(key, { depth: 5 })).not.toContain(LIVE_KEY);
    expect(JSON.stringify(key)).not.toContain(LIVE_KEY);
    expect(key.fingerprint).toMatch(/^[\w-]{43}$/);
    expect(keyOf(LIVE_KEY).fingerprint).toBe(key.fingerprint);
    expect(keyOf(PREVIOUS_KEY).fingerprint).not.toBe(key.fingerprint);
  });

  it.each([
    ['no keys', undefined, /options\.keys is empty/],
    ['an empty list', [], /options\.keys is empty/],
    ['an empty secret', [''], /options\.keys\[0\] must be a non-empty secret/],
    ['a key object without secret', { id: 'x' }, /options\.keys\[0\] must be a non-empty secret/],
    ['a bad expiresAt', [{ secret: LIVE_KEY, expiresAt: 'tomorrow' }], /options\.keys\[0\]\.expiresAt/],
    ['a trailing newline', [LIVE_KEY, `${PREVIOUS_KEY}\n`], /options\.keys\[1\] starts or ends with whitespace/],
    ['a leading space', [` ${PREVIOUS_KEY}`], /options\.keys\[0\] starts or ends with whitespace/],
    ['a trailing tab in a key object', [{ secret: `${PREVIOUS_KEY}\t`, id: 'old' }], /options\.keys\[0\] starts or ends with whitespace/],
    // A string from an environment variable: "false" is truthy, and would make a live key a test key.
    ['a test flag that is the string "false"', [{ secret: LIVE_KEY, test: 'false' }], /options\.keys\[0\]\.test must be true or false/],
    ['a test flag of 0 on a test key', [{ secret: TEST_KEY, test: 0 }], /options\.keys\[0\]\.test must be true or false/],
  ])('refuse %s with a TypeError that says where, never the secret', (_, keys, message) => {
    expect(typeError(() => ring({ keys: keys as never }))).toMatch(message);
  });

  it.each([
    ['keyCache.ttl 0 (which LRUCache would take as "forever")', { keyCache: { ttl: 0 } }, /keyCache\.ttl/],
    ['keyCache.max 1.5', { keyCache: { max: 1.5 } }, /keyCache\.max/],
    ['keyLookupTimeout 0', { keyLookupTimeout: 0 }, /keyLookupTimeout/],
    ['keyLookupTimeout NaN', { keyLookupTimeout: Number.NaN }, /keyLookupTimeout/],
  ])('refuse %s', (_, options, message) => {
    expect(typeError(() => ring({ keys: () => [LIVE_KEY], ...options }))).toMatch(message);
  });
});

describe('one scheme per secret, at construction', () => {
  const schemes: SchemeName[] = ['user-hash', 'jwt'];

  it.each([
    ['a string', LIVE_KEY],
    ['a key object', { secret: LIVE_KEY, id: 'k' }],
    ['a list', [LIVE_KEY, PREVIOUS_KEY]],
  ])('refuses %s shared by several schemes, saying why', (_, keys) => {
    const message = typeError(() => ring({ schemes, keys }));
    expect(message).toMatch(/options\.keys is one list of secrets for user-hash and jwt/);
    expect(message).toMatch(/HMAC-SHA256/);
    expect(message).toMatch(/its own keys \(keys per scheme: \{ "user-hash": \[\.\.\.\], "jwt": \[\.\.\.\] \}\)/);
  });

  it('takes keys per scheme, each a secret, a list or a lookup', async () => {
    const [userHash, jwt, contact] = [freshSecret(), freshSecret(), freshSecret()];
    const { keyRing } = ring({
      schemes: ['user-hash', 'jwt', 'contact-hash'],
      keys: { 'user-hash': userHash, jwt: [{ secret: jwt, id: 'j' }], 'contact-hash': () => [contact] },
    });
    expect((keyRing.configured('user-hash', undefined, request) as TenantKeys).keys).toHaveLength(1);
    expect((keyRing.configured('jwt', undefined, request) as TenantKeys).keys[0]!.id).toBe('j');
    expect((await keysFor(keyRing, undefined, 'contact-hash')).keys).toHaveLength(1);
  });

  it('refuses keys per scheme that miss a scheme of the verifier, or name one it does not use', () => {
    expect(typeError(() => ring({ schemes, keys: { 'user-hash': [freshSecret()] } }))).toMatch(/no keys for jwt/);
    expect(typeError(() => ring({ schemes, keys: { 'user-hash': [freshSecret()], jwt: undefined } }))).toMatch(/no keys for jwt/);
    const stray = { 'user-hash': [freshSecret()], jwt: [freshSecret()], 'contact-hash': [freshSecret()] };
    expect(typeError(() => ring({ schemes, keys: stray }))).toMatch(/keys for "contact-hash", which this verifier does not use/);
    const misnamed = { jwt: [freshSecret()] };
    expect(typeError(() => ring({ schemes: ['user-hash'], keys: misnamed }))).toMatch(/"jwt", which this verifier does not use/);
  });

  it('refuses one secret under two schemes, naming where (the same secret twice in one scheme is harmless)', () => {
    const [shared, other] = [freshSecret(), freshSecret()];
    const message = typeError(() => ring({ schemes, keys: { 'user-hash': [shared, shared], jwt: [other, { secret: shared }] } }));
    expect(message).toMatch(/options\.keys\["jwt"\]\[1\] is also a user-hash key/);
    expect(message).toMatch(/HMAC-SHA256/);
  });
});

describe('one scheme per secret, at run time', () => {
  const schemes: SchemeName[] = ['user-hash', 'jwt'];

  it.each([
    ['user-hash', 'jwt'],
    ['jwt', 'user-hash'],
  ] as const)('refuses one secret answered for %s and %s to both, whichever is asked first, and logs it once', async (first, second) => {
    const shared = freshSecret();
    const lookup = lookupOf(() => [shared]); // an old lookup that ignores the scheme
    const { keyRing, log } = ring({ schemes, keys: lookup });
    // The first request's lookup compares its new secret with the other scheme's answer for the tenant.
    const refused = await refusal(keysFor(keyRing, 'acme', first));
    expect(refused.hint).toMatch(`a secret that another scheme (${second}) uses`);
    expect(lookup.mock.calls.map(([tenant, , { scheme }]) => `${scheme} ${tenant}`)).toEqual([`${first} acme`, `${second} acme`]);
    await refusal(keysFor(keyRing, 'acme', second));
    await refusal(keysFor(keyRing, 'globex', first));
    await refusal(keysFor(keyRing, 'globex', second));
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]![0]).toMatch(`the same secret for ${second} and ${first} (tenant "acme"); both are refused`);
  });

  it('refuses a lookup answering with a secret the static keys of another scheme use (those verify on)', async () => {
    const shared = freshSecret();
    const { keyRing, log } = ring({ schemes, keys: { 'user-hash': [shared], jwt: () => [freshSecret(), shared] } });
    await refusal(keysFor(keyRing, 'acme', 'jwt'));
    expect(log.error.mock.calls[0]![0]).toMatch('(tenant "acme"); jwt is refused');
    expect((await keysFor(keyRing, undefined, 'user-hash')).keys).toHaveLength(1);
  });

  it('refuses the first scheme too once the other answers its secret later, dropping its cached answer', async () => {
    const shared = freshSecret();
    let jwtShares = false; // the jwt answer turns into user-hash's secret after user-hash was admitted
    const lookup = lookupOf((_, scheme) => (scheme === 'jwt' && !jwtShares ? [`sk_live_jwt_own_0123456789abcdef`] : [shared]));
    const { keyRing } = ring({ schemes, keys: lookup });
    expect((await keysFor(keyRing, 'acme', 'user-hash')).keys).toHaveLength(1);
    jwtShares = true;
    await refusal(keysFor(keyRing, 'globex', 'jwt'));
    // user-hash's cached answer for acme is gone, and its next lookup is refused as well.
    await refusal(keysFor(keyRing, 'acme', 'user-hash'));
    await refusal(keysFor(keyRing, 'initech', 'user-hash'));
  });

  it('keeps refusing both, asking again only once each cached failure has passed', async () => {
    const shared = freshSecret();
    const lookup = lookupOf(() => [shared]);
    const { keyRing } = ring({ schemes, keys: lookup });
    for (let step = 0; step < 11; step += 1) {
      await refusal(keysFor(keyRing, 'acme', 'user-hash'));
      await refusal(keysFor(keyRing, 'acme', 'jwt'));
      clock += 5_001; // past the cached failure: the lookup is asked again, and refused again
    }
    // The first lookup of user-hash also asked jwt, to compare; after that each scheme is asked once per step.
    expect(lookup.mock.calls.filter(([, , { scheme }]) => scheme === 'user-hash')).toHaveLength(11);
    expect(lookup.mock.calls.filter(([, , { scheme }]) => scheme === 'jwt')).toHaveLength(12);
  });

  it('holds a cached secret beyond the bounded memory of secrets seen, until the cache lets it go', async () => {
    const shared = freshSecret();
    let jwtShares = false;
    let fixed = false;
    const secretOf = (tenant: string | undefined) => `sk_live_${tenant}_0123456789abcdef`;
    const lookup = lookupOf((tenant, scheme) =>
      scheme === 'jwt' ? (jwtShares ? [shared] : [secretOf(`jwt-${tenant}`)]) : tenant === 'acme' && !fixed ? [shared] : [secretOf(tenant)],
    );
    const { keyRing } = ring({ schemes, keys: lookup, keyCache: { max: REMEMBERED_SECRETS + 10 } });
    await keysFor(keyRing, 'acme', 'user-hash');
    // Enough other secrets to push `shared` out of the memory of secrets seen: only the cache entry holds it now.
    for (let i = 0; i < REMEMBERED_SECRETS; i += 1) await keysFor(keyRing, `t${i}`, 'user-hash');
    jwtShares = true;
    await refusal(keysFor(keyRing, 'acme', 'jwt'));
    fixed = true; // user-hash gets its own secret: after refreshKeys('acme'), jwt's is its alone
    keyRing.forget('acme');
    expect((await keysFor(keyRing, 'acme', 'jwt')).keys).toHaveLength(1);
  });

  it('remembers which scheme a secret served with the cache off too', async () => {
    const shared = freshSecret();
    let userHashShares = false;
    const lookup = lookupOf((_, scheme) => (scheme === 'user-hash' && !userHashShares ? [freshSecret()] : [shared]));
    const { keyRing } = ring({ schemes, keys: lookup, keyCache: false });
    await keysFor(keyRing, 'acme', 'jwt');
    clock += 3_600_000;
    userHashShares = true;
    await refusal(keysFor(keyRing, 'acme', 'user-hash'));
    await refusal(keysFor(keyRing, 'acme', 'jwt'));
  });

  it('remembers the secrets it meets again before those it met once', async () => {
    const shared = freshSecret();
    let jwtShares = false;
    const answers = lookupOf((tenant) => (tenant === 'acme' ? [shared] : [`sk_live_${tenant}_0123456789abcdef`]));
    const jwt = () => (jwtShares ? [shared] : [`sk_live_jwt_own_0123456789abcdef`]);
    const { keyRing } = ring({ schemes, keys: { 'user-hash': answers, jwt }, keyCache: false });
    await keysFor(keyRing, 'acme', 'user-hash');
    for (let i = 0; i < REMEMBERED_SECRETS - 1; i += 1) await keysFor(keyRing, `t${i}`, 'user-hash');
    await keysFor(keyRing, 'acme', 'user-hash'); // met again: now the newest
    for (let i = 0; i < 10; i += 1) await keysFor(keyRing, `u${i}`, 'user-hash');
    jwtShares = true;
    await refusal(keysFor(keyRing, 'acme', 'jwt'));
  });

  it('verifies both again once the lookup is fixed and its keys refreshed, for one tenant or all', async () => {
    const shared = freshSecret();
    let lookupFixed = false;
    const lookup = lookupOf((_, scheme) => (lookupFixed && scheme === 'jwt' ? [`sk_live_jwt_fixed_0123456789abcdef`] : [shared]));
    const { keyRing } = ring({ schemes, keys: lookup });
    await refusal(keysFor(keyRing, 'acme', 'jwt'));
    await refusal(keysFor(keyRing, 'acme', 'user-hash'));
    lookupFixed = true;
    keyRing.forget('acme');
    expect((await keysFor(keyRing, 'acme', 'user-hash')).keys).toHaveLength(1);
    expect((await keysFor(keyRing, 'acme', 'jwt')).keys).toHaveLength(1);
    lookupFixed = false; // broken again: refused again, whatever was admitted before
    keyRing.forget();
    await refusal(keysFor(keyRing, 'acme', 'jwt'));
    await refusal(keysFor(keyRing, 'acme', 'user-hash'));
  });

  it('warns once, without throwing, when two verifiers of the process use one secret for different schemes', () => {
    const shared = freshSecret();
    const first = ring({ keys: [shared] });
    const second = ring({ schemes: ['jwt'], keys: [{ secret: shared, id: 'site-key' }] });
    const third = ring({ schemes: ['contact-hash'], keys: [shared] });
    expect(first.log.warn).not.toHaveBeenCalled();
    expect(second.log.warn).toHaveBeenCalledTimes(1);
    expect(second.log.warn.mock.calls[0]![0]).toMatch(/a secret \(key id "site-key"\) serves user-hash and jwt in two verifiers/);
    expect(third.log.warn).not.toHaveBeenCalled();
  });
});

describe('failed lookups', () => {
  it.each([
    ['nothing', undefined],
    ['null', null],
    ['an empty list', []],
    ['a named tenant without keys', { tenant: 'acme', keys: [] }],
  ])('refuse an answer of %s with KEY_UNAVAILABLE, unlogged (junk tenants are ordinary)', async (_, answer) => {
    const { keyRing, log } = ring({ keys: () => answer as TenantKeySet });
    expect((await refusal(keysFor(keyRing, 'nobody'))).hint).toMatch(/no user-hash keys for tenant "(nobody|acme)"/);
    expect(log.error).not.toHaveBeenCalled();
  });

  it.each([
    ['an empty secret', [{ secret: '' }], /\[0\] must be a non-empty secret/],
    ['a number', [42], /\[0\] must be a non-empty secret/],
    ['a bad expiresAt', [{ secret: LIVE_KEY, expiresAt: 'tomorrow' }], /\[0\]\.expiresAt/],
    ['a test flag that is the string "false"', [{ secret: LIVE_KEY, test: 'false' }], /\[0\]\.test must be true or false/],
    ['a secret with a pasted newline', [`${PREVIOUS_KEY}\r\n`], /\[0\] starts or ends with whitespace/],
    ['a named answer with a padded secret', { tenant: 'acme', keys: [LIVE_KEY, ` ${PREVIOUS_KEY}`] }, /\.keys\[1\] starts or ends/],
    ['a named answer whose tenant is no string', { tenant: 7, keys: [LIVE_KEY] }, /non-string tenant/],
  ])('refuse %s with KEY_UNAVAILABLE', async (_, answer, hint) => {
    const { keyRing } = ring({ keys: () => answer as TenantKeySet });
    expect((await refusal(keysFor(keyRing, 'acme'))).hint).toMatch(hint);
  });

  it('names the call that returned an unusable key, and logs it once', async () => {
    const { keyRing, log } = ring({ schemes: ['jwt'], keys: { jwt: () => [`${freshSecret()}\n`] } });
    const { hint } = await refusal(keysFor(keyRing, 'acme', 'jwt'));
    expect(hint).toBe(
      'options.keys["jwt"]("acme", request, { scheme: "jwt" })[0] starts or ends with whitespace (a pasted newline?); ' +
        'remove it where the secret is stored.',
    );
    await refusal(keysFor(keyRing, 'globex', 'jwt'));
    expect(log.error).toHaveBeenCalledTimes(1);
  });

  it('refuse a lookup that throws or rejects, logging once without its message (it may quote a secret)', async () => {
    for (const lookup of [
      () => {
        throw new Error(`database down (${LIVE_KEY})`);
      },
      () => Promise.reject(new Error(`timeout reading ${LIVE_KEY}`)),
    ]) {
      const { keyRing, log } = ring({ keys: lookup });
      expect((await refusal(keysFor(keyRing, 'acme'))).hint).toBe('The keys lookup failed.');
      await refusal(keysFor(keyRing, 'globex'));
      expect(log.error).toHaveBeenCalledTimes(1);
      expect(log.error.mock.calls[0]![0]).toBe(
        'chat-identity: the keys lookup threw (Error); requests needing its keys fail with KEY_UNAVAILABLE.',
      );
    }
  });

  it('caches a failed lookup briefly: one lookup per tenant per 5 s', async () => {
    let down = true;
    const lookup = vi.fn(() => {
      if (down) throw new Error('down');
      return [LIVE_KEY];
    });
    const { keyRing } = ring({ keys: lookup });
    await refusal(keysFor(keyRing, 'acme'));
    down = false;
    clock += 5_000;
    await refusal(keysFor(keyRing, 'acme'));
    expect(lookup).toHaveBeenCalledTimes(1);
    clock += 1;
    expect((await keysFor(keyRing, 'acme')).keys).toHaveLength(1);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('caches failures no longer than keyCache.ttl', async () => {
    const lookup = vi.fn(() => undefined);
    const { keyRing } = ring({ keys: lookup, keyCache: { ttl: 1_000 } });
    await refusal(keysFor(keyRing, 'acme'));
    clock += 1_001;
    await refusal(keysFor(keyRing, 'acme'));
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('keeps 1,000 junk tenants from evicting a real one, with at most one lookup each per 5 s', async () => {
    const lookup = lookupOf((tenant) => (tenant === 'acme' ? [LIVE_KEY] : undefined));
    const { keyRing } = ring({ keys: lookup }); // the default cache: 1000 tenants
    const acme = await keysFor(keyRing, 'acme');
    const junk = Array.from({ length: 1_000 }, (_, i) => `junk-${i}`);
    for (const tenant of junk) await refusal(keysFor(keyRing, tenant));
    for (const tenant of junk) await refusal(keysFor(keyRing, tenant));
    expect(lookup).toHaveBeenCalledTimes(1_001);
    expect(keyRing.configured('user-hash', 'acme', request)).toBe(acme); // still cached, synchronously
    clock += 5_001;
    for (const tenant of junk) await refusal(keysFor(keyRing, tenant));
    expect(lookup).toHaveBeenCalledTimes(2_001);
    expect(keyRing.configured('user-hash', 'acme', request)).toBe(acme);
  });
});

describe('lookups: cache, sharing, timeout', () => {
  it('calls the lookup with the tenant, the request and { scheme, signal }; a two-argument lookup still works', async () => {
    const lookup = vi.fn((tenant: string | undefined, _request: VerifyRequest) => (tenant === 'acme' ? [LIVE_KEY] : undefined));
    const { keyRing } = ring({ keys: lookup });
    expect(await keysFor(keyRing, 'acme')).toMatchObject({ tenant: 'acme', keys: [{ test: false }] });
    expect(lookup).toHaveBeenCalledWith('acme', request, { scheme: 'user-hash', signal: expect.any(AbortSignal) });
  });

  it('caches answers per (scheme, tenant) for the ttl, answered synchronously', async () => {
    const lookup = lookupOf(() => [freshSecret()]);
    const { keyRing } = ring({ schemes: ['user-hash', 'jwt'], keys: lookup, keyCache: { ttl: 60_000 } });
    const acme = await keysFor(keyRing, 'acme');
    clock += 60_000;
    expect(keyRing.configured('user-hash', 'acme', request)).toBe(acme);
    await keysFor(keyRing, 'acme', 'jwt');
    // Three: user-hash's first answer, a new secret, was compared with jwt's (src/keyRing.ts, refuseIfAnotherSchemeShares).
    expect(lookup).toHaveBeenCalledTimes(3);
    clock += 1;
    expect(keyRing.configured('user-hash', 'acme', request)).toBeInstanceOf(Promise);
    expect(lookup).toHaveBeenCalledTimes(4);
  });

  it('caches answers 60 s when no keyCache is given (the documented default), in a verifier as configured', async () => {
    const lookup = lookupOf(() => [LIVE_KEY]);
    const verifier = verifierOver(lookup, { tenant: () => 'acme' });
    const proof = { body: { user_id: '42', user_hash: signUserHash('42', LIVE_KEY) } };
    expect(await verifier.verify(proof)).toMatchObject({ verified: true, tenant: 'acme' });
    clock += 60_000;
    expect(await verifier.verify(proof)).toMatchObject({ verified: true });
    expect(lookup).toHaveBeenCalledTimes(1);
    clock += 1;
    expect(await verifier.verify(proof)).toMatchObject({ verified: true });
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('caches 1000 tenants when no keyCache is given: the 1001st evicts the least recently used, in a verifier as configured', async () => {
    const lookup = lookupOf(() => [LIVE_KEY]);
    const verifier = verifierOver(lookup, { tenant: (request) => request.headers?.['x-team'] as string });
    const proof = { user_id: '42', user_hash: signUserHash('42', LIVE_KEY) };
    const verifyFor = async (team: string) =>
      expect(await verifier.verify({ headers: { 'x-team': team }, body: proof })).toMatchObject({ verified: true, tenant: team });
    for (let i = 0; i < 1000; i++) await verifyFor(`team-${i}`);
    expect(lookup).toHaveBeenCalledTimes(1000);
    await verifyFor('team-0'); // 1000 tenants: all cached, and team-0 is now the most recently used
    expect(lookup).toHaveBeenCalledTimes(1000);
    await verifyFor('team-1000');
    expect(lookup).toHaveBeenCalledTimes(1001);
    await verifyFor('team-0');
    expect(lookup).toHaveBeenCalledTimes(1001);
    await verifyFor('team-1'); // the least recently used of 1001: evicted, looked up again
    expect(lookup).toHaveBeenCalledTimes(1002);
  });

  it('keeps "no tenant" apart from every tenant string', async () => {
    const lookup = lookupOf((tenant) => ({ tenant: String(tenant), keys: [LIVE_KEY] }));
    const { keyRing } = ring({ keys: lookup });
    for (const tenant of [undefined, '', 'undefined', 'user-hash', ' ']) await keysFor(keyRing, tenant);
    for (const tenant of [undefined, '', 'undefined', 'user-hash', ' ']) await keysFor(keyRing, tenant);
    expect(lookup).toHaveBeenCalledTimes(5);
  });

  it('bounds the cache to max tenants', async () => {
    const lookup = lookupOf(() => [LIVE_KEY]);
    const { keyRing } = ring({ keys: lookup, keyCache: { max: 2 } });
    for (const tenant of ['acme', 'b', 'c', 'acme']) await keysFor(keyRing, tenant);
    expect(lookup).toHaveBeenCalledTimes(4); // acme was evicted by b and c
  });

  it('looks up every time with keyCache: false (failures included)', async () => {
    const lookup = vi.fn(() => undefined);
    const { keyRing } = ring({ keys: lookup, keyCache: false });
    await refusal(keysFor(keyRing, 'acme'));
    await refusal(keysFor(keyRing, 'acme'));
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it.each([
    ['answers', () => [LIVE_KEY], undefined],
    ['fails', () => Promise.reject(new Error('down')), undefined],
    ['answers, with the cache off', () => [LIVE_KEY], false as const],
  ])('shares one lookup among 50 concurrent requests for one tenant when it %s', async (_, answer, keyCache) => {
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const lookup = vi.fn(async () => {
      await gate;
      return answer();
    });
    const { keyRing } = ring({ keys: lookup, keyCache });
    const pending = Array.from({ length: 50 }, () => keysFor(keyRing, 'acme'));
    finish();
    const outcomes = await Promise.allSettled(pending);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(new Set(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : o.reason))).size).toBe(1);
  });

  it('aborts the lookup at keyLookupTimeout and stops waiting: KEY_UNAVAILABLE, cached briefly, logged once', async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const lookup = vi.fn((_: string | undefined, __: VerifyRequest, context: KeyLookupContext) => {
      signal = context.signal;
      return new Promise<never>(() => {});
    });
    const { keyRing, log } = ring({ keys: lookup, keyLookupTimeout: 250 });
    const pending = refusal(keysFor(keyRing, 'acme'));
    await vi.advanceTimersByTimeAsync(249);
    expect(signal!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).hint).toBe('The keys lookup took longer than 250 ms.');
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toMatchObject({ name: 'TimeoutError' });
    await refusal(keysFor(keyRing, 'acme'));
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(log.error).toHaveBeenCalledTimes(1);
  });

  it('waits 5000 ms by default, and leaves no timer behind a lookup that answered', async () => {
    vi.useFakeTimers();
    const { keyRing } = ring({ keys: (tenant) => (tenant === 'fast' ? [LIVE_KEY] : new Promise<never>(() => {})) });
    await keysFor(keyRing, 'fast');
    expect(vi.getTimerCount()).toBe(0);
    let settled = false;
    const pending = refusal(keysFor(keyRing, 'slow')).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await pending;
  });
});

describe('tenant names, bounded before the lookup', () => {
  it('takes a tenant name of 256 characters to the lookup; refuses one of 257 unread (MALFORMED_IDENTITY, no lookup)', async () => {
    const lookup = lookupOf(() => [LIVE_KEY]);
    const verifier = verifierOver(lookup, { tenant: (request) => request.headers?.['x-team'] as string, diagnostics: true });
    const proof = { user_id: '42', user_hash: signUserHash('42', LIVE_KEY) };
    const asTeam = (team: string) => verifier.verify({ headers: { 'x-team': team }, body: proof });
    const longest = 't'.repeat(256);
    expect(await asTeam(longest)).toMatchObject({ verified: true, tenant: longest });
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup.mock.calls[0]![0]).toBe(longest);
    const over = await asTeam('t'.repeat(257));
    expect(over).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    expect(over.verified ? '' : over.error!.hint).toMatch(/tenant is longer than 256 characters/);
    expect(lookup).toHaveBeenCalledTimes(1);
  });
});

describe('canonical tenants and forget', () => {
  /** A case-insensitive lookup that names the canonical tenant. */
  const caseInsensitive = () => lookupOf((tenant) => (tenant?.toLowerCase() === 'acme' ? { tenant: 'acme', keys: [LIVE_KEY] } : undefined));

  it('reports the tenant a lookup named, else the one asked for', async () => {
    const { keyRing } = ring({ keys: caseInsensitive() });
    expect((await keysFor(keyRing, 'ACME')).tenant).toBe('acme');
    expect((await ring({ keys: () => [LIVE_KEY] }).keyRing.configured('user-hash', 'Acme', request)).tenant).toBe('Acme');
  });

  it('forgets one tenant by the name asked for, leaving the others cached (those of other keys: the same keys go too)', async () => {
    const lookup = lookupOf((tenant) => [`sk_live_${tenant}_0123456789abcdef`]);
    const { keyRing } = ring({ keys: lookup });
    await keysFor(keyRing, 'acme');
    const globex = await keysFor(keyRing, 'globex');
    keyRing.forget('acme');
    await keysFor(keyRing, 'acme');
    expect(lookup).toHaveBeenCalledTimes(3);
    expect(keyRing.configured('user-hash', 'globex', request)).toBe(globex);
  });

  it('forgets every spelling of a tenant by its canonical name, cached failures included', async () => {
    const lookup = caseInsensitive();
    const { keyRing } = ring({ schemes: ['jwt'], keys: lookup });
    for (const tenant of ['ACME', 'Acme', 'acme']) await keysFor(keyRing, tenant, 'jwt');
    expect(lookup).toHaveBeenCalledTimes(3);
    keyRing.forget('acme');
    for (const tenant of ['ACME', 'Acme', 'acme']) await keysFor(keyRing, tenant, 'jwt');
    expect(lookup).toHaveBeenCalledTimes(6);

    const failing = vi.fn((tenant: string | undefined) => ({ tenant: tenant!.toLowerCase(), keys: [] }));
    const other = ring({ keys: failing }).keyRing;
    await refusal(keysFor(other, 'ACME'));
    other.forget('acme');
    await refusal(keysFor(other, 'ACME'));
    expect(failing).toHaveBeenCalledTimes(2);
  });

  it('forgets a spelling by the name asked for, though its answer named another', async () => {
    const lookup = caseInsensitive();
    const { keyRing } = ring({ keys: lookup });
    await keysFor(keyRing, 'ACME');
    keyRing.forget('ACME');
    await keysFor(keyRing, 'ACME');
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('forgets a cached failure by the name asked for', async () => {
    const lookup = vi.fn(() => undefined);
    const { keyRing } = ring({ keys: lookup });
    await refusal(keysFor(keyRing, 'acme'));
    keyRing.forget('acme');
    await refusal(keysFor(keyRing, 'acme'));
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('ends a revoked key at once on forget, not a cache ttl later', async () => {
    let expiresAt: number | undefined;
    const { keyRing } = ring({ keys: () => [{ secret: LIVE_KEY, expiresAt }] });
    expect(keyRing.usable((await keysFor(keyRing, 'acme')).keys, clock)).toHaveLength(1);
    expiresAt = clock; // revoked in the tenant's settings
    expect(keyRing.usable((await keysFor(keyRing, 'acme')).keys, clock)).toHaveLength(1); // still the cached answer
    keyRing.forget('acme');
    const { keys } = await keysFor(keyRing, 'acme');
    await refusal((async () => keyRing.usable(keys, clock))());
  });

  it('forgets every tenant with no argument', async () => {
    const lookup = lookupOf(() => [LIVE_KEY]);
    const { keyRing } = ring({ keys: lookup });
    for (const tenant of [undefined, 'acme', 'globex']) await keysFor(keyRing, tenant);
    keyRing.forget();
    for (const tenant of [undefined, 'acme', 'globex']) await keysFor(keyRing, tenant);
    expect(lookup).toHaveBeenCalledTimes(6);
  });

  it('does not cache an answer that was under way when the tenant was forgotten', async () => {
    const answers: Array<(keys: string[]) => void> = [];
    const lookup = vi.fn(() => new Promise<string[]>((resolve) => answers.push(resolve)));
    const { keyRing } = ring({ keys: lookup });
    const before = keysFor(keyRing, 'acme');
    keyRing.forget('acme');
    const after = keysFor(keyRing, 'acme'); // does not join the lookup that predates the change
    expect(lookup).toHaveBeenCalledTimes(2);
    answers[1]!([LIVE_KEY]);
    await after;
    answers[0]!([PREVIOUS_KEY]); // the older answer lands last: returned to its request, not cached
    await before;
    const cached = keyRing.configured('user-hash', 'acme', request) as TenantKeys;
    expect(cached.keys[0]!.fingerprint).toBe((await after).keys[0]!.fingerprint);
    expect(lookup).toHaveBeenCalledTimes(2);
  });
});

describe('usable keys', () => {
  const keysOf = (keys: KeyRingOptions['keys'], allowTestKeys = true) => {
    const { keyRing } = ring({ keys, allowTestKeys });
    return { keyRing, keys: (keyRing.configured('user-hash', undefined, request) as TenantKeys).keys };
  };

  it('are the configured list itself, in order, when all can be used', () => {
    const { keyRing, keys } = keysOf([
      { secret: LIVE_KEY, id: 'new' },
      { secret: PREVIOUS_KEY, id: 'old' },
    ]);
    expect(keyRing.usable(keys, clock)).toBe(keys);
  });

  it('never include a key past its expiresAt: the end of the grace period', () => {
    const end = NOW + 24 * 3600 * 1000;
    const { keyRing, keys } = keysOf([LIVE_KEY, { secret: PREVIOUS_KEY, id: 'old', expiresAt: new Date(end) }]);
    expect(keyRing.usable(keys, end - 1).map((key) => key.id)).toEqual([undefined, 'old']);
    expect(keyRing.usable(keys, end).map((key) => key.id)).toEqual([undefined]);
  });

  it('tell sk_test_ keys from live ones unless test says otherwise, and leave test keys out when not allowed', () => {
    const { keys } = keysOf([TEST_KEY, LIVE_KEY, { secret: TEST_KEY, test: false, id: 'x' }, { secret: 'plain-secret', test: true }]);
    expect(keys.map((key) => key.test)).toEqual([true, false, false, true]);
    const strict = keysOf([TEST_KEY, LIVE_KEY], false);
    expect(strict.keyRing.usable(strict.keys, clock).map((key) => key.test)).toEqual([false]);
  });

  it('throw KEY_UNAVAILABLE when none is left', async () => {
    const expired = keysOf([{ secret: LIVE_KEY, expiresAt: NOW - 1 }]);
    expect((await refusal((async () => expired.keyRing.usable(expired.keys, clock))())).hint).toMatch(/expired/);
    const testOnly = keysOf([TEST_KEY], false);
    await refusal((async () => testOnly.keyRing.usable(testOnly.keys, clock))());
  });
});

describe('public keys and key sets (jwt)', () => {
  const es = keyPair('ES256', 'es-1');
  const ed = keyPair('EdDSA', 'ed-1');
  const jwtRing = (keys: KeyRingOptions['keys'], options: Partial<KeyRingOptions> = {}) => ring({ keys, schemes: ['jwt'], ...options });

  it('hold each public key with its algorithm and kid, printed as a key object, never as key material', () => {
    const { keyRing } = jwtRing([{ publicKey: es.jwk }, { publicKey: ed.pem, alg: 'EdDSA', id: 'mine', test: true }]);
    const { keys } = keyRing.configured('jwt', undefined, request) as TenantKeys;
    expect(keys.map((key) => [key.alg, key.kid, key.id, key.test])).toEqual([
      ['ES256', 'es-1', 'es-1', false],
      ['EdDSA', 'mine', 'mine', true],
    ]);
    expect(inspect(keys[0], { depth: 5 })).toMatch(/PublicKeyObject/);
    expect(inspect(keys[0], { depth: 5 })).not.toContain(String(es.jwk.x));
  });

  it('expand a JWKS given as it is into its keys, saying once each member set aside', () => {
    const small = keyPair('RS256', 'small', 1024);
    const { keyRing, log } = jwtRing([{ jwks: jwksOf(es, small, ed) }]);
    const { keys } = keyRing.configured('jwt', undefined, request) as TenantKeys;
    expect(keys.map((key) => key.kid)).toEqual(['es-1', 'ed-1']);
    expect(keys[0]!.set).toBe(keys[1]!.set);
    expect(keys[0]!.set).toMatchObject({ url: undefined, kids: ['es-1', 'small', 'ed-1'], setAside: [{ kid: 'small', bits: 1024 }] });
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]![0]).toMatch(/options\.keys has the key with kid "small" that is never used: an RSA key of 1024 bits/);
  });

  it('refuse at construction a JWKS with no usable key, and a JWKS URL in toSigningKeys (only a ring fetches)', () => {
    expect(typeError(() => jwtRing([{ jwks: { keys: [withoutMembers(keyPair('RS256', 'r').jwk, 'alg')] } }]))).toMatch(
      /options\.keys\[0\]\.jwks has no key that can verify tokens \(kid "r": an RSA key of 2048 bits without alg/,
    );
    expect(typeError(() => jwtRing([{ jwks: { keys: 'none' } as never }]))).toMatch(/is not a JSON Web Key Set: it has no "keys" array/);
    // A member that is not an object refuses the whole set, as jose refuses it fetched (test/jwks.test.ts).
    for (const member of [null, 'x', [es.jwk]]) {
      expect(typeError(() => jwtRing([{ jwks: { keys: [es.jwk, member] } as never }]))).toMatch(
        /is not a JSON Web Key Set: its member 1 is not a JSON object \(a JWK\)/,
      );
    }
    expect(typeError(() => toSigningKeys([{ jwks: { url: 'https://site.example/jwks.json' } }], 'keys'))).toMatch(
      /only a verifier fetches/,
    );
    expect(toSigningKeys([{ jwks: jwksOf(es) }], 'keys').map((key) => key.alg)).toEqual(['ES256']);
  });

  it.each([
    ['secrets beside public keys', () => [freshSecret(), { publicKey: es.jwk }], /mixes shared secrets and public keys/],
    [
      'a secret beside a JWKS URL',
      () => [{ jwks: { url: 'https://site.example/jwks.json' } }, freshSecret()],
      /mixes shared secrets and public keys/,
    ],
    ['a private key', () => [{ publicKey: es.privatePem }], /it is a private key/],
    ["the site's public key as a secret", () => [es.pem], /not a shared secret/],
  ])('refuse a lookup answer of %s at run time: KEY_UNAVAILABLE, said once, never the key', async (_, answer, message) => {
    const { keyRing, log } = jwtRing(lookupOf(() => answer() as TenantKeySet));
    const refused = await refusal(keysFor(keyRing, 'acme', 'jwt'));
    expect(refused.hint).toMatch(message);
    await refusal(keysFor(keyRing, 'globex', 'jwt'));
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]![0]).not.toContain('PRIVATE KEY');
  });

  it('refuse public keys for any scheme but jwt, static or looked up', async () => {
    expect(typeError(() => ring({ keys: [{ publicKey: es.jwk }] }))).toMatch(
      /options\.keys holds a public key or a JWKS: those verify jwt tokens only; user-hash needs/,
    );
    const { keyRing } = ring({ keys: lookupOf(() => [{ publicKey: es.jwk }]) });
    expect((await refusal(keysFor(keyRing, 'acme'))).hint).toMatch(/verify jwt tokens only/);
  });

  it('answer a fetched set synchronously once it is fresh and holds the kid; fetch it again for a kid it lacks', async () => {
    const site = await startJwksServer();
    try {
      site.serve(jwksOf(es));
      const { keyRing } = jwtRing([{ jwks: { url: site.url } }]);
      const first = keyRing.configured('jwt', undefined, request, 'es-1');
      expect(first).toBeInstanceOf(Promise);
      expect((await first).keys.map((key) => key.kid)).toEqual(['es-1']);
      const again = keyRing.configured('jwt', undefined, request, 'es-1');
      expect(again).not.toBeInstanceOf(Promise);
      expect(keyRing.configured('jwt', undefined, request, 'es-1')).toBe(again); // the same joined list, not a copy per request
      site.serve(jwksOf(es, ed));
      clock += 31_000;
      expect((await keyRing.configured('jwt', undefined, request, 'ed-1')).keys.map((key) => key.kid)).toEqual(['es-1', 'ed-1']);
      expect(site.fetches).toBe(2);
      // forget() drops the set: the next request fetches it.
      keyRing.forget();
      const refetched = keyRing.configured('jwt', undefined, request);
      expect(refetched).toBeInstanceOf(Promise);
      await refetched;
      expect(site.fetches).toBe(3);
    } finally {
      await site.close();
    }
  });

  it("forget(tenant) fetches that tenant's set again, and no other's", async () => {
    const [a, b] = [await startJwksServer(), await startJwksServer()];
    try {
      a.serve(jwksOf(es));
      b.serve(jwksOf(ed));
      const urls: Record<string, string> = { acme: a.url, globex: b.url };
      const { keyRing } = jwtRing(lookupOf((tenant) => ({ jwks: { url: urls[tenant!]! } })));
      await keysFor(keyRing, 'acme', 'jwt');
      await keysFor(keyRing, 'globex', 'jwt');
      keyRing.forget('acme');
      await keysFor(keyRing, 'acme', 'jwt');
      await keysFor(keyRing, 'globex', 'jwt');
      expect([a.fetches, b.fetches]).toEqual([2, 1]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
