/**
 * Constant-time comparison, checked while it runs (test/constantTime.test.ts scans the source):
 * every scheme compares a signature with crypto.timingSafeEqual, on bytes of equal length, once
 * for every key and signed form it tries, whether the proof is right or wrong, and never with
 * Buffer#equals or Buffer.compare (which return at the first differing byte).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const compared = vi.hoisted(() => [] as { expected: Buffer; given: Buffer }[]);

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    compared.push({
      expected: Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      given: Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    });
    return actual.timingSafeEqual(a, b);
  };
  return { ...actual, default: { ...actual, timingSafeEqual }, timingSafeEqual };
});

const { createVerifier, signContactHash, signJwt, signPayload, signUserHash, signVisitorHash } = await import('../../src/index.js');
const { canonicalForms } = await import('../../src/canonicalJson.js');
const { LIVE_KEY, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY, frozenClock, flipHex } = await import('../helpers.js');

type SchemeName = import('../../src/index.js').SchemeName;
const KEYS = [LIVE_KEY, PREVIOUS_KEY, TEST_KEY];
const verifierFor = (scheme: SchemeName) =>
  createVerifier({ scheme, keys: KEYS, now: frozenClock, rateLimit: false, logger: { warn() {}, error() {} } });

const customer = { externalId: '42', name: 'Ana', plan: 'pro', timestamp: NOW_SECONDS };
const proofs: Record<SchemeName, { good: Record<string, unknown>; wrong: Record<string, unknown>; forms: number; digest: number }> = {
  'signed-payload': {
    good: { body: signPayload(customer, PREVIOUS_KEY) },
    wrong: { body: { customer, signature: flipHex(signPayload(customer, LIVE_KEY).signature) } },
    forms: [...canonicalForms(customer)].length,
    digest: 32,
  },
  'user-hash': {
    good: { body: { user_id: 'u1', user_hash: signUserHash('u1', PREVIOUS_KEY) } },
    wrong: { body: { user_id: 'u1', user_hash: flipHex(signUserHash('u1', LIVE_KEY)) } },
    forms: 1,
    digest: 32,
  },
  'contact-hash': {
    good: { body: { email: 'c@example.com', user_hash: signContactHash({ email: 'c@example.com' }, PREVIOUS_KEY) } },
    wrong: { body: { email: 'c@example.com', user_hash: flipHex(signContactHash({ email: 'c@example.com' }, LIVE_KEY)) } },
    forms: 1,
    digest: 32,
  },
  'visitor-hash': {
    good: { body: { anonymousUserId: 'v1', hmac: signVisitorHash('v1', PREVIOUS_KEY) } },
    wrong: { body: { anonymousUserId: 'v1', hmac: flipHex(signVisitorHash('v1', LIVE_KEY)) } },
    forms: 1,
    digest: 32,
  },
  jwt: {
    good: { headers: { authorization: `Bearer ${signJwt({ externalId: 'j' }, PREVIOUS_KEY, { now: frozenClock })}` } },
    wrong: {
      headers: { authorization: `Bearer ${signJwt({ externalId: 'j' }, 'sk_live_not_configured_000000000000', { now: frozenClock })}` },
    },
    forms: 1,
    digest: 32,
  },
};
const SCHEMES = Object.keys(proofs) as SchemeName[];

let equals: ReturnType<typeof vi.spyOn>;
let compare: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  compared.length = 0;
  equals = vi.spyOn(Buffer.prototype, 'equals');
  compare = vi.spyOn(Buffer, 'compare');
});
afterEach(() => {
  equals.mockRestore();
  compare.mockRestore();
});

describe('every signature check runs through timingSafeEqual', () => {
  it.each(SCHEMES)('%s: a right signature is found by constant-time comparison, key by key', async (scheme) => {
    const result = await verifierFor(scheme).verify(proofs[scheme].good);
    expect(result).toMatchObject({ verified: true, scheme });
    // The previous key signed it: the live key was compared first (over every form), then it.
    expect(compared.length).toBeGreaterThanOrEqual(2);
    for (const { expected, given } of compared) {
      expect(expected.length).toBe(proofs[scheme].digest);
      expect(given.length).toBe(expected.length);
    }
  });

  it.each(SCHEMES)('%s: a wrong signature is compared against every key and signed form, none skipped', async (scheme) => {
    const { wrong, forms } = proofs[scheme];
    const result = await verifierFor(scheme).verify(wrong);
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(compared).toHaveLength(KEYS.length * forms);
    // Compared as bytes: the given side is the decoded signature, the same every time.
    const given = new Set(compared.map((c) => c.given.toString('hex')));
    expect(given.size).toBe(1);
  });

  it.each(SCHEMES)('%s: no Buffer#equals or Buffer.compare on the way', async (scheme) => {
    await verifierFor(scheme).verify(proofs[scheme].good);
    await verifierFor(scheme).verify(proofs[scheme].wrong);
    expect(equals).not.toHaveBeenCalled();
    expect(compare).not.toHaveBeenCalled();
  });

  it('a signature of the wrong length is refused by its length (public), before any comparison', async () => {
    const result = await verifierFor('user-hash').verify({ body: { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY).slice(0, 62) } });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(compared).toHaveLength(0);
  });

  it('upper-case hex is decoded to the same bytes before the comparison', async () => {
    const hash = signUserHash('u1', LIVE_KEY);
    expect(await verifierFor('user-hash').verify({ body: { user_id: 'u1', user_hash: hash.toUpperCase() } })).toMatchObject({
      verified: true,
    });
    expect(compared[0]!.given.toString('hex')).toBe(hash);
  });
});
