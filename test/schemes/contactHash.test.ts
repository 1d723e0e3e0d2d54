import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signContactHash } from '../../src/index.js';
import { LIVE_KEY, verifyBody } from '../helpers.js';

// Seed 002, its own snippet (hmac.write / end / read), for the highest-priority identifier.
function generateHMAC(data: string, secret: string): string {
  const generatedHash = createHmac('sha256', secret);
  generatedHash.write(data);
  generatedHash.end();
  return (generatedHash.read() as Buffer).toString('hex');
}

describe('contact-hash', () => {
  const all = { ext_user_id: 'u-9', email: 'jane@example.com', phone: '+15550100', name: 'Jane' };

  it('signContactHash agrees with the seed snippet, for the highest-priority identifier', () => {
    expect(signContactHash(all, LIVE_KEY)).toBe(generateHMAC('u-9', LIVE_KEY));
    expect(signContactHash({ email: all.email, phone: all.phone }, LIVE_KEY)).toBe(generateHMAC(all.email, LIVE_KEY));
    expect(signContactHash({ phone: all.phone }, LIVE_KEY)).toBe(generateHMAC(all.phone, LIVE_KEY));
  });

  it('verifies the external user id when present; email, phone and name are carried', async () => {
    const result = await verifyBody({ scheme: 'contact-hash' }, { ...all, user_hash: generateHMAC('u-9', LIVE_KEY) });
    expect(result).toEqual({
      verified: true,
      via: 'proof',
      scheme: 'contact-hash',
      test: false,
      contact: {
        externalId: 'u-9',
        email: all.email,
        name: 'Jane',
        phone: all.phone,
        attributes: {},
        verifiedFields: ['externalId'],
        identityKey: 'externalId',
      },
    });
  });

  it('accepts external_user_id as the same field', async () => {
    const result = await verifyBody({ scheme: 'contact-hash' }, { external_user_id: 'u-9', user_hash: generateHMAC('u-9', LIVE_KEY) });
    expect(result).toMatchObject({ verified: true, contact: { externalId: 'u-9', identityKey: 'externalId' } });
  });

  it('falls to email, then phone', async () => {
    const byEmail = await verifyBody(
      { scheme: 'contact-hash' },
      { email: all.email, phone: all.phone, user_hash: generateHMAC(all.email, LIVE_KEY) },
    );
    expect(byEmail).toMatchObject({ verified: true, contact: { identityKey: 'email', verifiedFields: ['email'] } });
    const byPhone = await verifyBody({ scheme: 'contact-hash' }, { phone: all.phone, user_hash: generateHMAC(all.phone, LIVE_KEY) });
    expect(byPhone).toMatchObject({ verified: true, contact: { identityKey: 'phone', verifiedFields: ['phone'] } });
  });

  it('rejects a hash of a lower-priority field when a higher one is present', async () => {
    const result = await verifyBody({ scheme: 'contact-hash' }, { ...all, user_hash: generateHMAC(all.email, LIVE_KEY) });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it('rejects a hash for another contact', async () => {
    const result = await verifyBody({ scheme: 'contact-hash' }, { ext_user_id: 'u-10', user_hash: generateHMAC('u-9', LIVE_KEY) });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it.each([
    ['no identifier', { name: 'Jane', user_hash: '0'.repeat(64) }, 'MISSING_REQUIRED_FIELD'],
    ['no user_hash', { ext_user_id: 'u-9' }, 'MISSING_IDENTITY'],
    ['both id spellings, different', { ext_user_id: 'a', external_user_id: 'b', user_hash: '0'.repeat(64) }, 'MALFORMED_IDENTITY'],
    ['a numeric phone', { phone: 15550100, user_hash: '0'.repeat(64) }, 'MALFORMED_IDENTITY'],
  ])('%s is %s', async (_, body, code) => {
    expect(await verifyBody({ scheme: 'contact-hash' }, body)).toMatchObject({ verified: false, error: { code } });
  });
});

describe('signContactHash refuses what the verifier would refuse', () => {
  it.each([
    ['both id spellings, different', { ext_user_id: 'a', external_user_id: 'b' }, /ext_user_id and external_user_id differ/],
    ['a 256-character email', { email: `${'e'.repeat(244)}@example.com` }, /email is longer than 255 characters/],
    ['a phone with a lone surrogate', { phone: '+1555\ud800' }, /phone is not well-formed Unicode/],
    [
      'a numeric phone beside an email',
      { email: 'jane@example.com', phone: 15550100 as unknown as string },
      /phone must be a string, not a number: sign and send it as one \(String\(user\.id\), say\)/,
    ],
  ])('%s: a TypeError saying why', (_, fields, message) => {
    expect(() => signContactHash(fields, LIVE_KEY)).toThrow(TypeError);
    expect(() => signContactHash(fields, LIVE_KEY)).toThrow(message);
  });
});
