import { readFileSync, readdirSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, signPayload } from '../../src/index.js';
import { LIVE_KEY, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY, clockAt, flipHex, frozenClock, verifyBody } from '../helpers.js';

interface Fixture {
  source: string;
  case: string;
  secret: string;
  customer: Record<string, unknown>;
  payload: string;
  signature: string;
}

const fixtureDir = new URL('../fixtures/signed-payload/', import.meta.url);
const fixtures: Fixture[] = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) => JSON.parse(readFileSync(new URL(f, fixtureDir), 'utf8')) as Fixture[]);

describe('signed-payload: signatures made by the seed snippets themselves', () => {
  it('has fixtures from every snippet (regenerate with test/fixtures/signed-payload/generate/run.sh)', () => {
    expect(new Set(fixtures.map((f) => f.source))).toEqual(new Set(['node', 'python', 'ruby', 'rails', 'php', 'php-default']));
    expect(fixtures.length).toBeGreaterThanOrEqual(6 * 12);
  });

  it.each(fixtures.map((f) => [`${f.source} / ${f.case}`, f] as const))('%s verifies', async (_, fixture) => {
    // The fixture timestamp is NOW_SECONDS and its secret is a test key.
    const result = await verifyBody(
      { scheme: 'signed-payload', keys: [fixture.secret] },
      { customer: fixture.customer, signature: fixture.signature },
    );
    expect(result).toMatchObject({ verified: true, scheme: 'signed-payload', test: true });
    if (!result.verified) return;
    const { customer } = fixture;
    expect(result.contact.externalId).toBe(customer.externalId);
    expect(result.contact.email).toBe(customer.email);
    expect(result.contact.name).toBe(customer.name ?? undefined);
    expect(result.issuedAt).toEqual(new Date(NOW_SECONDS * 1000));
  });

  it.each(fixtures.filter((f) => f.source !== 'node' || f.case !== 'no-name').map((f) => [`${f.source} / ${f.case}`, f] as const))(
    'signPayload signs %s to a signature that verifies beside it',
    async (_, fixture) => {
      const signed = signPayload(fixture.customer as Record<string, string | number>, fixture.secret);
      expect(signed.customer).toEqual(fixture.customer);
      // Byte for byte with the snippets whose JSON matches JSON.stringify (Node, Ruby, and the ASCII cases).
      if (fixture.payload === canonicalJson(signed.customer)) expect(signed.signature).toBe(fixture.signature);
      const result = await verifyBody({ scheme: 'signed-payload', keys: [fixture.secret] }, signed);
      expect(result.verified).toBe(true);
    },
  );

  it('signPayload matches the Node snippet byte for byte on every Node fixture without nulls', () => {
    const node = fixtures.filter((f) => f.source === 'node' && f.case !== 'no-name');
    expect(node.length).toBe(12);
    for (const f of node) expect(signPayload(f.customer as Record<string, string | number>, f.secret).signature).toBe(f.signature);
  });

  it.each(fixtures.map((f) => [`${f.source} / ${f.case}`, f] as const))('%s fails once its name is changed', async (_, fixture) => {
    const customer = { ...fixture.customer, name: `${String(fixture.customer.name ?? '')}x` };
    const result = await verifyBody({ scheme: 'signed-payload', keys: [fixture.secret] }, { customer, signature: fixture.signature });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });
});

describe('signed-payload: the signature covers every field', () => {
  const { customer, signature } = signPayload({ email: 'jane@example.com', externalId: '42', name: 'Jane Doe', plan: 'growth' }, LIVE_KEY, {
    now: frozenClock,
  });

  it('verifies, with every field and attribute listed as verified', async () => {
    const result = await verifyBody({ scheme: 'signed-payload' }, { customer, signature });
    expect(result).toEqual({
      verified: true,
      via: 'proof',
      scheme: 'signed-payload',
      test: false,
      issuedAt: new Date(NOW_SECONDS * 1000),
      contact: {
        externalId: '42',
        email: 'jane@example.com',
        name: 'Jane Doe',
        attributes: { plan: 'growth' },
        verifiedFields: ['externalId', 'email', 'name', 'attributes.plan'],
        identityKey: 'externalId',
      },
    });
  });

  it.each(Object.keys(customer))('rejects a change to %s', async (field) => {
    const value = customer[field];
    const changed = { ...customer, [field]: typeof value === 'number' ? value - 1 : `${String(value)}!` };
    const result = await verifyBody({ scheme: 'signed-payload' }, { customer: changed, signature });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it('rejects an added field and a removed field', async () => {
    const added = await verifyBody({ scheme: 'signed-payload' }, { customer: { ...customer, admin: true }, signature });
    const { name: _, ...withoutName } = customer;
    const removed = await verifyBody({ scheme: 'signed-payload' }, { customer: withoutName, signature });
    expect(added).toMatchObject({ error: { code: 'INVALID_SIGNATURE' } });
    expect(removed).toMatchObject({ error: { code: 'INVALID_SIGNATURE' } });
  });

  it('rejects a changed signature and a different key', async () => {
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature: flipHex(signature, 10) })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
    expect(await verifyBody({ scheme: 'signed-payload', keys: [PREVIOUS_KEY] }, { customer, signature })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
  });

  it('accepts the hex digest in upper case', async () => {
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature: signature.toUpperCase() })).toMatchObject({
      verified: true,
    });
  });

  it('refuses a base64 digest, saying it looks like base64 where hints are allowed', async () => {
    const base64 = Buffer.from(signature, 'hex').toString('base64');
    const result = await verifyBody({ scheme: 'signed-payload', diagnostics: true }, { customer, signature: base64 });
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    expect(!result.verified && result.error?.hint).toMatch(/base64/);
  });

  it('does not accept the keys in the order they arrived when that is not sorted', async () => {
    const unsorted = { timestamp: customer.timestamp, name: customer.name, externalId: customer.externalId, email: customer.email };
    const signedUnsorted = createHmac('sha256', LIVE_KEY).update(JSON.stringify(unsorted)).digest('hex');
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer: unsorted, signature: signedUnsorted })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
  });

  it('does not accept JSON with whitespace (Python default separators)', async () => {
    const spaced = JSON.stringify(customer).replaceAll(',', ', ').replaceAll(':', ': ');
    const signed = createHmac('sha256', LIVE_KEY).update(spaced).digest('hex');
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature: signed })).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
  });
});

describe('signed-payload: key order as each snippet sorts', () => {
  const sign = (json: string) => createHmac('sha256', LIVE_KEY).update(json).digest('hex');

  it('accepts the Node snippet order (localeCompare, integer-like keys first) where it differs from code-unit order', async () => {
    const customer = { Zone: 'eu', alpha: 'a', '10': 'ten', '9': 'nine', externalId: '1', timestamp: NOW_SECONDS };
    // Exactly the seed's Node snippet.
    const nodeSnippet = JSON.stringify(Object.fromEntries(Object.entries(customer).sort(([a], [b]) => a.localeCompare(b))));
    expect(nodeSnippet).not.toBe(canonicalJson(customer));
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature: sign(nodeSnippet) })).toMatchObject({ verified: true });
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature: sign(canonicalJson(customer)) })).toMatchObject({
      verified: true,
    });
  });

  it("accepts code-point order (Python's sorted, Ruby, PHP) for keys beyond U+FFFF", async () => {
    const customer = { '\u{1F600}k': 1, '\uFF01k': 2, externalId: '1', timestamp: NOW_SECONDS };
    const codePointOrder = ['externalId', 'timestamp', '\uFF01k', '\u{1F600}k'];
    const json = `{${codePointOrder.map((k) => `${JSON.stringify(k)}:${JSON.stringify(customer[k as keyof typeof customer])}`).join(',')}}`;
    expect(json).not.toBe(canonicalJson(customer));
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature: sign(json) })).toMatchObject({ verified: true });
  });
});

describe('signed-payload: shape', () => {
  const signature = '0'.repeat(64);
  const base = { externalId: '42', timestamp: NOW_SECONDS };

  it.each([
    ['a nested object', { ...base, address: { city: 'Paris' } }, 'MALFORMED_IDENTITY'],
    ['an array value', { ...base, tags: ['a'] }, 'MALFORMED_IDENTITY'],
    ['a numeric externalId', { ...base, externalId: 42 }, 'MALFORMED_IDENTITY'],
    ['a string timestamp', { ...base, timestamp: String(NOW_SECONDS) }, 'MALFORMED_IDENTITY'],
    ['no timestamp', { externalId: '42' }, 'MISSING_REQUIRED_FIELD'],
    ['neither externalId nor email', { name: 'Jane', timestamp: NOW_SECONDS }, 'MISSING_REQUIRED_FIELD'],
    ['an externalId over 255 characters', { ...base, externalId: 'x'.repeat(256) }, 'MALFORMED_IDENTITY'],
    [
      'a payload over 8 KiB',
      { ...base, ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'.repeat(250)])) },
      'MALFORMED_IDENTITY',
    ],
  ])('%s is %s', async (_, customer, code) => {
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature })).toMatchObject({ verified: false, error: { code } });
  });

  it.each([
    ['customer as a string', { customer: '{"externalId":"42"}', signature }, 'MALFORMED_IDENTITY'],
    ['customer as an array', { customer: [base], signature }, 'MALFORMED_IDENTITY'],
    ['signature as a number', { customer: base, signature: 12 }, 'MALFORMED_IDENTITY'],
    ['a truncated signature', { customer: base, signature: signature.slice(0, 40) }, 'INVALID_SIGNATURE'],
    ['an over-long signature', { customer: base, signature: 'a'.repeat(5000) }, 'MALFORMED_IDENTITY'],
    ['an empty signature', { customer: base, signature: '' }, 'INVALID_SIGNATURE'],
    ['customer with no signature', { customer: base }, 'MISSING_IDENTITY'],
    ['signature with no customer', { signature }, 'MISSING_REQUIRED_FIELD'],
  ])('%s is %s', async (_, body, code) => {
    expect(await verifyBody({ scheme: 'signed-payload' }, body)).toMatchObject({ verified: false, error: { code } });
  });

  it('signs and verifies null values the way the Node snippet keeps them', async () => {
    const customer = { externalId: '42', name: null, timestamp: NOW_SECONDS };
    const signature = createHmac('sha256', LIVE_KEY).update(canonicalJson(customer)).digest('hex');
    const result = await verifyBody({ scheme: 'signed-payload' }, { customer, signature });
    expect(result).toMatchObject({ verified: true, contact: { externalId: '42', verifiedFields: ['externalId'] } });
    expect(result.verified && 'name' in result.contact).toBe(false);
  });

  it('uses the email as the identity key when there is no externalId', async () => {
    const { customer, signature } = signPayload({ email: 'a@example.com' }, LIVE_KEY, { now: frozenClock });
    expect(await verifyBody({ scheme: 'signed-payload' }, { customer, signature })).toMatchObject({
      verified: true,
      contact: { identityKey: 'email' },
    });
  });
});

describe('signed-payload: timestamps', () => {
  const signed = (key: string, at = NOW_SECONDS) => signPayload({ externalId: '42', timestamp: at }, key);
  const at = (seconds: number) => clockAt(seconds);

  it('is valid for 300 seconds with a live key, then SIGNATURE_EXPIRED', async () => {
    expect(await verifyBody({ scheme: 'signed-payload', now: at(300) }, signed(LIVE_KEY))).toMatchObject({ verified: true });
    expect(await verifyBody({ scheme: 'signed-payload', now: at(301) }, signed(LIVE_KEY))).toMatchObject({
      error: { code: 'SIGNATURE_EXPIRED' },
    });
  });

  it('honours maxAge', async () => {
    expect(await verifyBody({ scheme: 'signed-payload', maxAge: 30, now: at(31) }, signed(LIVE_KEY))).toMatchObject({
      error: { code: 'SIGNATURE_EXPIRED' },
    });
    expect(await verifyBody({ scheme: 'signed-payload', maxAge: 600, now: at(599) }, signed(LIVE_KEY))).toMatchObject({ verified: true });
  });

  it('gives a test key 3600 seconds (testMaxAge) and marks the result test', async () => {
    const keys = [LIVE_KEY, TEST_KEY];
    expect(await verifyBody({ scheme: 'signed-payload', keys, now: at(3600) }, signed(TEST_KEY))).toMatchObject({
      verified: true,
      test: true,
    });
    expect(await verifyBody({ scheme: 'signed-payload', keys, now: at(3601) }, signed(TEST_KEY))).toMatchObject({
      error: { code: 'SIGNATURE_EXPIRED' },
    });
    expect(await verifyBody({ scheme: 'signed-payload', keys, testMaxAge: 60, now: at(61) }, signed(TEST_KEY))).toMatchObject({
      error: { code: 'SIGNATURE_EXPIRED' },
    });
  });

  it("relaxes nothing for a client's testMode: true with a live key", async () => {
    const body = { ...signed(LIVE_KEY), testMode: true };
    const result = await verifyBody({ scheme: 'signed-payload', keys: [LIVE_KEY, TEST_KEY], now: at(30 * 60) }, body);
    expect(result).toMatchObject({ verified: false, error: { code: 'SIGNATURE_EXPIRED' } });
  });

  it('allows 60 seconds into the future (clockTolerance), not 61', async () => {
    expect(await verifyBody({ scheme: 'signed-payload' }, signed(LIVE_KEY, NOW_SECONDS + 60))).toMatchObject({ verified: true });
    expect(await verifyBody({ scheme: 'signed-payload' }, signed(LIVE_KEY, NOW_SECONDS + 61))).toMatchObject({
      error: { code: 'SIGNATURE_EXPIRED' },
    });
    expect(await verifyBody({ scheme: 'signed-payload', clockTolerance: 120 }, signed(LIVE_KEY, NOW_SECONDS + 90))).toMatchObject({
      verified: true,
    });
  });

  it('names a millisecond timestamp and the seconds of expiry in the hint', async () => {
    const ms = await verifyBody({ scheme: 'signed-payload', diagnostics: true }, signed(LIVE_KEY, NOW_SECONDS * 1000));
    expect(ms).toMatchObject({ error: { code: 'SIGNATURE_EXPIRED', hint: expect.stringMatching(/milliseconds/) } });
    const late = await verifyBody({ scheme: 'signed-payload', diagnostics: true, now: at(400) }, signed(LIVE_KEY));
    expect(late).toMatchObject({ error: { code: 'SIGNATURE_EXPIRED', hint: expect.stringMatching(/100 seconds past/) } });
  });
});

describe('signPayload refuses what the verifier would refuse', () => {
  const manyFields = Object.fromEntries(Array.from({ length: 55 }, (_, i) => [`a${i}`, i]));
  it.each([
    ['a numeric externalId', { externalId: 42 }, /customer.externalId must be a string/],
    ['neither externalId nor email', { name: 'Jane' }, /customer needs an externalId or an email/],
    ['a nested object', { externalId: '42', address: { city: 'Paris' } as never }, /only flat values/],
    ['more fields than allowed', { externalId: '42', ...manyFields }, /customer has more than 55 fields/],
    ['a customer over 8 KiB', { externalId: '42', bio: 'x'.repeat(9000) }, /longer than 8192 characters/],
    ['a timestamp that is a string', { externalId: '42', timestamp: String(NOW_SECONDS) }, /customer.timestamp must be a number/],
    ['an externalId over 255 characters', { externalId: 'x'.repeat(256) }, /customer.externalId is longer than 255 characters/],
    ['an email with a lone surrogate', { email: 'a\ud800@example.com' }, /customer.email is not well-formed Unicode/],
  ])('%s: a TypeError saying why', (_, customer, message) => {
    expect(() => signPayload(customer, LIVE_KEY, { now: frozenClock })).toThrow(TypeError);
    expect(() => signPayload(customer, LIVE_KEY, { now: frozenClock })).toThrow(message);
  });
});
