import { afterEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, signUserHash, type KeyLookup, type VerifierOptions } from '../src/index.js';
import { LIVE_KEY, NOW, OTHER_TENANT_KEY, PREVIOUS_KEY, TEST_KEY, frozenClock } from './helpers.js';

const bodyFor = (key: string, userId = 'u1') => ({ user_id: userId, user_hash: signUserHash(userId, key) });
const verifier = (options: Partial<VerifierOptions>) => createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: frozenClock, ...options });

describe('key ring: rotation', () => {
  it('tries keys in order and reports the id of the one that matched', async () => {
    const keys = [{ secret: LIVE_KEY, id: 'new' }, { secret: PREVIOUS_KEY, id: 'old' }];
    expect(await verifier({ keys }).verify({ body: bodyFor(LIVE_KEY) })).toMatchObject({ verified: true, keyId: 'new' });
    expect(await verifier({ keys }).verify({ body: bodyFor(PREVIOUS_KEY) })).toMatchObject({ verified: true, keyId: 'old' });
  });

  it('never uses a key past its expiresAt: the end of the grace period', async () => {
    const keys = [LIVE_KEY, { secret: PREVIOUS_KEY, id: 'old', expiresAt: new Date(NOW + 24 * 3600 * 1000) }];
    const during = verifier({ keys, now: () => NOW + 24 * 3600 * 1000 - 1 });
    const after = verifier({ keys, now: () => NOW + 24 * 3600 * 1000 });
    expect(await during.verify({ body: bodyFor(PREVIOUS_KEY) })).toMatchObject({ verified: true, keyId: 'old' });
    expect(await after.verify({ body: bodyFor(PREVIOUS_KEY) })).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(await after.verify({ body: bodyFor(LIVE_KEY) })).toMatchObject({ verified: true });
  });

  it('fails closed with KEY_UNAVAILABLE when every key has expired', async () => {
    const result = await verifier({ keys: [{ secret: LIVE_KEY, expiresAt: NOW - 1 }] }).verify({ body: bodyFor(LIVE_KEY) });
    expect(result).toMatchObject({ verified: false, error: { code: 'KEY_UNAVAILABLE' } });
  });
});

describe('key ring: test and live keys', () => {
  it('treats sk_test_ secrets as test keys and sk_live_ as live, unless test says otherwise', async () => {
    expect(await verifier({ keys: [TEST_KEY] }).verify({ body: bodyFor(TEST_KEY) })).toMatchObject({ verified: true, test: true });
    expect(await verifier({ keys: [LIVE_KEY] }).verify({ body: bodyFor(LIVE_KEY) })).toMatchObject({ verified: true, test: false });
    expect(await verifier({ keys: [{ secret: TEST_KEY, test: false }] }).verify({ body: bodyFor(TEST_KEY) })).toMatchObject({ test: false });
    expect(await verifier({ keys: [{ secret: 'plain-secret', test: true }] }).verify({ body: bodyFor('plain-secret') })).toMatchObject({ test: true });
  });

  it('refuses test-key signatures when allowTestKeys is false', async () => {
    const result = await verifier({ keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false }).verify({ body: bodyFor(TEST_KEY) });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });
});

describe('key ring: per-tenant lookup', () => {
  afterEach(() => vi.useRealTimers());
  const tenantKeys: Record<string, string[]> = { acme: [LIVE_KEY], globex: [OTHER_TENANT_KEY] };
  const tenant = (request: { query?: Record<string, unknown> }) => request.query?.team as string | undefined;

  it('looks keys up per tenant; a signature for one tenant never verifies for another', async () => {
    const v = verifier({ tenant, keys: (t) => tenantKeys[t!] });
    expect(await v.verify({ query: { team: 'acme' }, body: bodyFor(LIVE_KEY) })).toMatchObject({ verified: true });
    expect(await v.verify({ query: { team: 'globex' }, body: bodyFor(OTHER_TENANT_KEY) })).toMatchObject({ verified: true });
    expect(await v.verify({ query: { team: 'globex' }, body: bodyFor(LIVE_KEY) })).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(await v.verify({ query: { team: 'acme' }, body: bodyFor(OTHER_TENANT_KEY) })).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it('fails closed with KEY_UNAVAILABLE when the lookup throws, rejects, or returns no keys', async () => {
    const lookups: KeyLookup[] = [
      () => {
        throw new Error(`database down (${LIVE_KEY})`);
      },
      () => Promise.reject(new Error('timeout')),
      () => [],
      () => undefined,
      () => [{ secret: '' }],
    ];
    for (const keys of lookups) {
      const result = await verifier({ keys }).verify({ body: bodyFor(LIVE_KEY) });
      expect(result).toEqual({ verified: false, scheme: 'user-hash', error: { code: 'KEY_UNAVAILABLE', message: expect.any(String) } });
      expect(JSON.stringify(result)).not.toContain(LIVE_KEY);
    }
  });

  it('caches the lookup per tenant for the ttl, and shares one call among concurrent requests', async () => {
    let clock = NOW;
    const lookup = vi.fn(async (t: string | undefined) => tenantKeys[t!]);
    const v = verifier({ tenant, keys: lookup, keyCache: { ttl: 60_000 }, now: () => clock });
    const acme = { query: { team: 'acme' }, body: bodyFor(LIVE_KEY) };
    const results = await Promise.all(Array.from({ length: 20 }, () => v.verify(acme)));
    expect(results.every((r) => r.verified)).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(1);
    await v.verify({ query: { team: 'globex' }, body: bodyFor(OTHER_TENANT_KEY) });
    expect(lookup).toHaveBeenCalledTimes(2);
    clock += 59_000;
    await v.verify(acme);
    expect(lookup).toHaveBeenCalledTimes(2);
    clock += 2_000;
    await v.verify(acme);
    expect(lookup).toHaveBeenCalledTimes(3);
  });

  it('bounds the cache to max tenants', async () => {
    const lookup = vi.fn((t: string | undefined) => [t === 'acme' ? LIVE_KEY : OTHER_TENANT_KEY]);
    const v = verifier({ tenant, keys: lookup, keyCache: { max: 2 } });
    for (const team of ['acme', 'b', 'c', 'acme']) await v.verify({ query: { team }, body: bodyFor(LIVE_KEY) });
    expect(lookup).toHaveBeenCalledTimes(4); // acme was evicted by b and c
  });

  it('looks up every time with keyCache: false', async () => {
    const lookup = vi.fn(() => [LIVE_KEY]);
    const v = verifier({ keys: lookup, keyCache: false });
    await v.verify({ body: bodyFor(LIVE_KEY) });
    await v.verify({ body: bodyFor(LIVE_KEY) });
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('does not cache a failed lookup, and remembers "no keys" only briefly', async () => {
    let clock = NOW;
    let answer: () => string[] = () => {
      throw new Error('down');
    };
    const lookup = vi.fn(() => answer());
    const v = verifier({ keys: lookup, now: () => clock });
    expect(await v.verify({ body: bodyFor(LIVE_KEY) })).toMatchObject({ error: { code: 'KEY_UNAVAILABLE' } });
    answer = () => [];
    expect(await v.verify({ body: bodyFor(LIVE_KEY) })).toMatchObject({ error: { code: 'KEY_UNAVAILABLE' } });
    expect(lookup).toHaveBeenCalledTimes(2);
    answer = () => [LIVE_KEY];
    clock += 5_001;
    expect(await v.verify({ body: bodyFor(LIVE_KEY) })).toMatchObject({ verified: true });
    expect(lookup).toHaveBeenCalledTimes(3);
  });

  it('times a slow lookup out with KEY_UNAVAILABLE (keyLookupTimeout)', async () => {
    vi.useFakeTimers();
    const v = verifier({ keys: () => new Promise(() => {}), keyLookupTimeout: 250 });
    const pending = v.verify({ body: bodyFor(LIVE_KEY) });
    await vi.advanceTimersByTimeAsync(250);
    expect(await pending).toMatchObject({ verified: false, error: { code: 'KEY_UNAVAILABLE' } });
  });

  it('passes the tenant and the request to the lookup', async () => {
    const lookup = vi.fn(() => [LIVE_KEY]);
    const request = { query: { team: 'acme' }, body: bodyFor(LIVE_KEY) };
    await verifier({ tenant, keys: lookup }).verify(request);
    expect(lookup).toHaveBeenCalledWith('acme', request);
  });
});

describe('key ring: configuration errors are said at start-up', () => {
  it.each([
    ['no keys', { keys: undefined }],
    ['an empty list', { keys: [] }],
    ['an empty secret', { keys: [''] }],
    ['a key object without secret', { keys: [{ id: 'x' }] }],
    ['a bad expiresAt', { keys: [{ secret: LIVE_KEY, expiresAt: 'tomorrow' }] }],
  ])('%s throws a TypeError', (_, options) => {
    expect(() => createVerifier({ scheme: 'user-hash', ...(options as object) } as VerifierOptions)).toThrow(TypeError);
  });
});
