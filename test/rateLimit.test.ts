/**
 * Failed-attempt limits with the embedded memory store. The limiter's windows run on the real
 * clock (rate-limiter-flexible reads Date.now and sets timers), so these tests fake that clock
 * and move it forward instead of sleeping.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, signUserHash, type AttemptStore, type VerifierOptions } from '../src/index.js';
import { LIVE_KEY, OTHER_TENANT_KEY, frozenClock } from './helpers.js';

beforeEach(() => vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
afterEach(() => vi.useRealTimers());

const verifier = (extra: Partial<VerifierOptions> = {}) => createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: frozenClock, ...extra });
const good = (user: string) => ({ user_id: user, user_hash: signUserHash(user, LIVE_KEY) });
const bad = (user: string) => ({ user_id: user, user_hash: signUserHash(`not-${user}`, LIVE_KEY) });
const codeOf = async (v: ReturnType<typeof verifier>, body: object, ip: string) => {
  const result = await v.verify({ body, ip });
  return result.verified ? 'VERIFIED' : result.error?.code;
};

describe('failed-attempt limits (memory store)', () => {
  it('trips after 10 failures a minute for one identity, from any addresses, even for a correct signature', async () => {
    const v = verifier();
    for (let i = 0; i < 10; i++) expect(await codeOf(v, bad('victim'), `10.0.0.${i}`)).toBe('INVALID_SIGNATURE');
    const limited = await v.verify({ body: good('victim'), ip: '10.0.1.1' });
    expect(limited).toEqual({
      verified: false,
      scheme: 'user-hash',
      error: { code: 'RATE_LIMITED', message: 'Too many failed identity attempts; try again later.', retryAfter: 60 },
    });
    vi.advanceTimersByTime(30_000);
    expect(await v.verify({ body: good('victim'), ip: '10.0.1.1' })).toMatchObject({ error: { code: 'RATE_LIMITED', retryAfter: 30 } });
    vi.advanceTimersByTime(30_000);
    expect(await codeOf(v, good('victim'), '10.0.1.1')).toBe('VERIFIED');
  });

  it('trips after 30 failures a minute from one address, whatever identities it claims', async () => {
    const v = verifier();
    for (let i = 0; i < 30; i++) expect(await codeOf(v, bad(`user-${i}`), '203.0.113.7')).toBe('INVALID_SIGNATURE');
    expect(await codeOf(v, good('someone-new'), '203.0.113.7')).toBe('RATE_LIMITED');
  });

  it('never blocks another identity from another address', async () => {
    const v = verifier();
    for (let i = 0; i < 30; i++) await v.verify({ body: bad(i < 10 ? 'victim' : `user-${i}`), ip: '203.0.113.7' });
    expect(await codeOf(v, good('victim'), '198.51.100.1')).toBe('RATE_LIMITED'); // the identity is over its limit
    expect(await codeOf(v, good('alice'), '203.0.113.7')).toBe('RATE_LIMITED'); // the address is over its limit
    expect(await codeOf(v, good('alice'), '198.51.100.1')).toBe('VERIFIED');
    expect(await codeOf(v, good('user-20'), '198.51.100.2')).toBe('VERIFIED'); // one failure each: far from the limit
  });

  it('never counts successes, nor absent or expired proofs', async () => {
    const v = verifier({ rateLimit: { identity: { points: 2, duration: 60 } } });
    for (let i = 0; i < 50; i++) expect(await codeOf(v, good('alice'), '10.0.0.1')).toBe('VERIFIED');
    for (let i = 0; i < 50; i++) await v.verify({ body: { user_id: 'alice' }, ip: '10.0.0.1' }); // MISSING_IDENTITY
    expect(await codeOf(v, good('alice'), '10.0.0.1')).toBe('VERIFIED');
  });

  it('keeps tenants apart: a blocked identity in one tenant is free in another', async () => {
    const v = verifier({
      tenant: (r) => r.headers?.['x-team'] as string,
      keys: (t) => (t === 'acme' ? [LIVE_KEY] : [OTHER_TENANT_KEY]),
      rateLimit: { identity: { points: 3, duration: 60 } },
    });
    for (let i = 0; i < 3; i++) await v.verify({ headers: { 'x-team': 'acme' }, body: bad('victim'), ip: `10.0.0.${i}` });
    expect((await v.verify({ headers: { 'x-team': 'acme' }, body: good('victim'), ip: '10.0.9.9' })).verified).toBe(false);
    const otherTenant = { user_id: 'victim', user_hash: signUserHash('victim', OTHER_TENANT_KEY) };
    expect(await v.verify({ headers: { 'x-team': 'globex' }, body: otherTenant, ip: '10.0.9.9' })).toMatchObject({ verified: true });
  });

  it('honours configured limits, and is off with rateLimit: false', async () => {
    const custom = verifier({ rateLimit: { identity: { points: 3, duration: 10 }, address: false } });
    for (let i = 0; i < 3; i++) await custom.verify({ body: bad('victim'), ip: '10.0.0.1' });
    expect(await custom.verify({ body: good('victim'), ip: '10.0.0.1' })).toMatchObject({ error: { code: 'RATE_LIMITED', retryAfter: 10 } });

    const off = verifier({ rateLimit: false });
    for (let i = 0; i < 100; i++) await off.verify({ body: bad('victim'), ip: '10.0.0.1' });
    expect(await codeOf(off, good('victim'), '10.0.0.1')).toBe('VERIFIED');
  });

  it('keeps at most maxKeys keys per limit, forgetting the least recently failed', async () => {
    const v = verifier({ rateLimit: { identity: { points: 2, duration: 60 }, address: false, maxKeys: 3 } });
    await v.verify({ body: bad('a'), ip: '1' });
    await v.verify({ body: bad('a'), ip: '1' });
    expect(await codeOf(v, good('a'), '1')).toBe('RATE_LIMITED');
    for (const user of ['b', 'c', 'd']) await v.verify({ body: bad(user), ip: '1' });
    expect(await codeOf(v, good('a'), '1')).toBe('VERIFIED'); // 'a' was the oldest of 4 keys
  });

  it('refuses bad limits at start-up', () => {
    expect(() => verifier({ rateLimit: { identity: { points: 0, duration: 60 } } })).toThrow(TypeError);
    expect(() => verifier({ rateLimit: { address: { points: 1.5, duration: 60 } } })).toThrow(TypeError);
  });

  it('keeps verifying when the store fails, saying so once', async () => {
    const logger = { warn: vi.fn(), error: vi.fn() };
    const broken: AttemptStore = {
      counter: () => ({ retryAfterMs: () => Promise.reject(new Error('store down')), countFailure: () => Promise.reject(new Error('store down')) }),
    };
    const v = verifier({ rateLimit: { store: broken }, logger });
    expect(await codeOf(v, good('alice'), '10.0.0.1')).toBe('VERIFIED');
    expect(await codeOf(v, bad('alice'), '10.0.0.1')).toBe('INVALID_SIGNATURE');
    expect(await codeOf(v, bad('bob'), '10.0.0.2')).toBe('INVALID_SIGNATURE');
    expect(logger.error).toHaveBeenCalledTimes(1);
  });
});
