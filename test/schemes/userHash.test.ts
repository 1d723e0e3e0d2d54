import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { signUserHash } from '../../src/index.js';
import { LIVE_KEY, PREVIOUS_KEY, flipHex, verifyBody } from '../helpers.js';

// Seed 001, its own snippet: crypto.createHmac("sha256", secret).update(userId).digest("hex")
const seedSnippet = (userId: string, secret: string) => createHmac('sha256', secret).update(userId).digest('hex');

describe('user-hash', () => {
  const user_hash = seedSnippet('user-123', LIVE_KEY);
  const body = { user_id: 'user-123', user_hash, user_metadata: { name: 'Jane Doe', email: 'jane@example.com', plan: 'growth' } };

  it('signUserHash agrees with the seed snippet byte for byte', () => {
    expect(signUserHash('user-123', LIVE_KEY)).toBe(user_hash);
    expect(signUserHash('Ünïcødé 🚀', LIVE_KEY)).toBe(seedSnippet('Ünïcødé 🚀', LIVE_KEY));
  });

  it('verifies the user id only: metadata is carried, not verified', async () => {
    expect(await verifyBody({ scheme: 'user-hash' }, body)).toEqual({
      verified: true,
      via: 'proof',
      scheme: 'user-hash',
      test: false,
      contact: {
        externalId: 'user-123',
        email: 'jane@example.com',
        name: 'Jane Doe',
        attributes: { plan: 'growth' },
        verifiedFields: ['externalId'],
        identityKey: 'externalId',
      },
    });
  });

  it('rejects another user id, a changed hash and another key', async () => {
    expect(await verifyBody({ scheme: 'user-hash' }, { ...body, user_id: 'user-124' })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
    expect(await verifyBody({ scheme: 'user-hash' }, { ...body, user_hash: flipHex(user_hash, 63) })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
    expect(await verifyBody({ scheme: 'user-hash', keys: [PREVIOUS_KEY] }, body)).toMatchObject({ error: { code: 'INVALID_SIGNATURE' } });
  });

  it('is exact about the id: case and surrounding whitespace are different ids', async () => {
    expect(await verifyBody({ scheme: 'user-hash' }, { ...body, user_id: 'USER-123' })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
    expect(await verifyBody({ scheme: 'user-hash' }, { ...body, user_id: ' user-123' })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
  });

  it.each([
    ['user_id without user_hash', { user_id: 'user-123' }, 'MISSING_IDENTITY'],
    ['user_hash without user_id', { user_hash }, 'MISSING_REQUIRED_FIELD'],
    ['an empty user_id', { user_id: '', user_hash }, 'MISSING_REQUIRED_FIELD'],
    ['a numeric user_id', { user_id: 123, user_hash }, 'MALFORMED_IDENTITY'],
    ['an object user_id', { user_id: { $ne: null }, user_hash }, 'MALFORMED_IDENTITY'],
    ['a 256-character user_id', { user_id: 'u'.repeat(256), user_hash }, 'MALFORMED_IDENTITY'],
    ['metadata that is a string', { ...body, user_metadata: 'plan=growth' }, 'MALFORMED_IDENTITY'],
    ['a nested metadata value', { ...body, user_metadata: { company: { id: 1 } } }, 'MALFORMED_IDENTITY'],
    ['a non-string metadata name', { ...body, user_metadata: { name: ['Jane'] } }, 'MALFORMED_IDENTITY'],
  ])('%s is %s', async (_, input, code) => {
    expect(await verifyBody({ scheme: 'user-hash' }, input)).toMatchObject({ verified: false, scheme: 'user-hash', error: { code } });
  });

  it('carries an attribute whose JSON is 1024 characters, and refuses one of 1025 (MALFORMED_IDENTITY)', async () => {
    const withPlan = (plan: string) => ({ ...body, user_metadata: { plan } });
    const longest = 'p'.repeat(1022); // 1024 characters as JSON, with its quotes
    const carried = await verifyBody({ scheme: 'user-hash' }, withPlan(longest));
    expect(carried.verified && carried.contact.attributes.plan).toBe(longest);
    const over = await verifyBody({ scheme: 'user-hash', diagnostics: true }, withPlan(`${longest}p`));
    expect(over.verified ? 'VERIFIED' : [over.error?.code, over.error?.hint]).toEqual([
      'MALFORMED_IDENTITY',
      'user_metadata.plan is longer than 1024 characters.',
    ]);
  });

  it.each([
    ['a 10 MB string', 'x'.repeat(10_000_000)],
    ['a list of 5,000,000 numbers', Array<number>(5_000_000).fill(0)],
  ])('refuses %s by its length, serialising nothing', async (_, plan) => {
    const stringify = vi.spyOn(JSON, 'stringify');
    const every = vi.spyOn(Array.prototype, 'every');
    const over = await verifyBody({ scheme: 'user-hash', diagnostics: true }, { ...body, user_metadata: { plan } });
    const calledWithPlan = (spy: typeof stringify | typeof every) =>
      spy.mock.calls.some((args) => args[0] === plan) || spy.mock.contexts.some((self) => self === plan);
    expect([calledWithPlan(stringify), calledWithPlan(every)]).toEqual([false, false]);
    stringify.mockRestore();
    every.mockRestore();
    expect(over.verified ? 'VERIFIED' : [over.error?.code, over.error?.hint]).toEqual([
      'MALFORMED_IDENTITY',
      'user_metadata.plan is longer than 1024 characters.',
    ]);
  });
});
