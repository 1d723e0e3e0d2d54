import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signVisitorHash } from '../../src/index.js';
import { LIVE_KEY, flipHex, verifyBody } from '../helpers.js';

// Seed 004, its own Node snippet.
const generateIdentityHmac = (visitorId: string, secret: string) => createHmac('sha256', secret).update(visitorId).digest('hex');

describe('visitor-hash', () => {
  const hmac = generateIdentityHmac('v_8d1c2f', LIVE_KEY);
  const body = {
    anonymousUserId: 'v_8d1c2f',
    hmac,
    name: 'Jane Doe',
    email: 'jane@example.com',
    externalId: 'user_123',
    metadata: { plan: 'premium', tags: ['a', 'b'] },
  };

  it('signVisitorHash agrees with the seed snippet', () => {
    expect(signVisitorHash('v_8d1c2f', LIVE_KEY)).toBe(hmac);
  });

  it('verifies only the visitor id: name, email and externalId are carried, not verified', async () => {
    expect(await verifyBody({ scheme: 'visitor-hash' }, body)).toEqual({
      verified: true,
      via: 'proof',
      scheme: 'visitor-hash',
      test: false,
      contact: {
        anonymousId: 'v_8d1c2f',
        externalId: 'user_123',
        email: 'jane@example.com',
        name: 'Jane Doe',
        attributes: { plan: 'premium', tags: ['a', 'b'] },
        verifiedFields: ['anonymousId'],
        identityKey: 'anonymousId',
      },
    });
  });

  it('rejects another visitor id and a changed hmac', async () => {
    expect(await verifyBody({ scheme: 'visitor-hash' }, { ...body, anonymousUserId: 'v_8d1c2g' })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
    expect(await verifyBody({ scheme: 'visitor-hash' }, { ...body, hmac: flipHex(hmac, 5) })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
  });

  it.each([
    ['no hmac', { anonymousUserId: 'v1', name: 'Jane' }, 'MISSING_IDENTITY'],
    ['no visitor id', { hmac }, 'MISSING_REQUIRED_FIELD'],
    ['metadata as an array', { ...body, metadata: ['x'] }, 'MALFORMED_IDENTITY'],
  ])('%s is %s', async (_, input, code) => {
    expect(await verifyBody({ scheme: 'visitor-hash' }, input)).toMatchObject({ verified: false, error: { code } });
  });
});
