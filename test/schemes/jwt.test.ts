import { createHmac } from 'node:crypto';
import jsonwebtoken from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { signJwt, type VerifierOptions } from '../../src/index.js';
import { LIVE_KEY, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY, clockAt, frozenClock, verifierFor } from '../helpers.js';

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
/** Builds a token by hand, so any header or payload can be signed. */
function handToken(header: unknown, payload: unknown, secret = LIVE_KEY, hash = 'sha256'): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}
const HS256 = { alg: 'HS256', typ: 'JWT' };
const claims = { externalId: 'user_id', iat: NOW_SECONDS };

async function verifyToken(token: unknown, options: Partial<VerifierOptions> = {}) {
  return verifierFor({ scheme: 'jwt', ...options }).verify({ headers: { authorization: `Bearer ${String(token)}` } });
}
const code = async (token: unknown, options: Partial<VerifierOptions> = {}) => {
  const result = await verifyToken(token, options);
  return result.verified ? 'VERIFIED' : result.error?.code;
};

describe('jwt: tokens as the seed makes them', () => {
  // Seed 003's own example: jsonwebtoken.sign with an explicit HS256/JWT header, iat added by the library.
  const seedToken = jsonwebtoken.sign({ externalId: 'user_id', iat: NOW_SECONDS }, LIVE_KEY, { header: { alg: 'HS256', typ: 'JWT' } });

  it('signJwt agrees with jsonwebtoken byte for byte', () => {
    expect(signJwt({ externalId: 'user_id' }, LIVE_KEY, { now: frozenClock })).toBe(seedToken);
  });

  it('verifies a Bearer token', async () => {
    expect(await verifyToken(seedToken)).toEqual({
      verified: true,
      scheme: 'jwt',
      test: false,
      issuedAt: new Date(NOW_SECONDS * 1000),
      contact: { externalId: 'user_id', attributes: {}, verifiedFields: ['externalId'], identityKey: 'externalId' },
    });
  });

  it('reads the token from the body field token too, but not from both places', async () => {
    const verifier = verifierFor({ scheme: 'jwt' });
    expect(await verifier.verify({ body: { token: seedToken } })).toMatchObject({ verified: true });
    expect(await verifier.verify({ headers: { authorization: `Bearer ${seedToken}` }, body: { token: seedToken } })).toMatchObject({
      error: { code: 'MALFORMED_IDENTITY' },
    });
  });

  it('ignores an Authorization header of another scheme', async () => {
    const result = await verifierFor({ scheme: 'jwt' }).verify({ headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(result).toEqual({ verified: false });
  });

  it('makes email the identity key when both are present, and other claims attributes', async () => {
    const token = signJwt({ externalId: 'u1', email: 'jane@example.com', name: 'Jane', plan: 'pro', iss: 'site' }, LIVE_KEY, {
      now: frozenClock,
    });
    expect(await verifyToken(token)).toMatchObject({
      verified: true,
      contact: {
        externalId: 'u1',
        email: 'jane@example.com',
        name: 'Jane',
        attributes: { plan: 'pro' },
        verifiedFields: ['externalId', 'email', 'name', 'attributes.plan'],
        identityKey: 'email',
      },
    });
  });

  it('reads external_id and sub as the external id', async () => {
    expect(await verifyToken(signJwt({ external_id: 'a' }, LIVE_KEY, { now: frozenClock }))).toMatchObject({
      contact: { externalId: 'a' },
    });
    expect(await verifyToken(signJwt({ sub: 'b' }, LIVE_KEY, { now: frozenClock }))).toMatchObject({ contact: { externalId: 'b' } });
  });

  it('rejects a token for another key, and any changed segment', async () => {
    expect(await code(seedToken, { keys: [PREVIOUS_KEY] })).toBe('INVALID_SIGNATURE');
    const [h, p, s] = seedToken.split('.') as [string, string, string];
    const otherPayload = b64url({ externalId: 'admin', iat: NOW_SECONDS });
    expect(await code(`${h}.${otherPayload}.${s}`)).toBe('INVALID_SIGNATURE');
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    expect(await code(`${h}.${p}.${flipped}`)).toBe('INVALID_SIGNATURE');
  });

  it('refuses a signature with stray bits in its last character (one signature, one spelling)', async () => {
    const [h, p, s] = seedToken.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const sameBytes = s.slice(0, -1) + alphabet[last | 1]; // 43 chars carry 2 spare bits
    expect(Buffer.from(sameBytes, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    expect(await code(`${h}.${p}.${sameBytes}`)).toBe('MALFORMED_IDENTITY');
  });
});

describe('jwt: algorithms', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s, signed or not', async (alg) => {
    expect(await code(`${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.`)).toBe('INVALID_SIGNATURE');
    expect(await code(handToken({ alg, typ: 'JWT' }, claims))).toBe('INVALID_SIGNATURE');
  });

  it('accepts HS384 and HS512 only when listed in algorithms', async () => {
    const hs384 = handToken({ alg: 'HS384' }, claims, LIVE_KEY, 'sha384');
    const hs512 = signJwt({ externalId: 'user_id' }, LIVE_KEY, { algorithm: 'HS512', now: frozenClock });
    expect(await code(hs384)).toBe('INVALID_SIGNATURE');
    expect(await code(hs512)).toBe('INVALID_SIGNATURE');
    expect(await code(hs384, { algorithms: ['HS384'] })).toBe('VERIFIED');
    expect(await code(hs512, { algorithms: ['HS256', 'HS512'] })).toBe('VERIFIED');
    expect(await code(signJwt({ externalId: 'u' }, LIVE_KEY, { now: frozenClock }), { algorithms: ['HS512'] })).toBe('INVALID_SIGNATURE');
  });

  it.each(['RS256', 'ES256', 'PS256', 'hs256', 'HS256 '])('refuses alg %s', async (alg) => {
    expect(await code(handToken({ alg }, claims))).toBe('INVALID_SIGNATURE');
  });

  it('refuses a crit header, and ignores kid, jku, x5u and jwk', async () => {
    expect(await code(handToken({ ...HS256, crit: ['exp'] }, claims))).toBe('MALFORMED_IDENTITY');
    const tricky = {
      ...HS256,
      kid: '../../etc/passwd',
      jku: 'https://evil.example/jwks',
      x5u: 'https://evil.example/cert',
      jwk: { kty: 'oct', k: 'AAAA' },
    };
    expect(await code(handToken(tricky, claims))).toBe('VERIFIED');
    expect(await code(handToken(tricky, claims, 'attacker-secret'))).toBe('INVALID_SIGNATURE');
  });
});

describe('jwt: structure', () => {
  const good = handToken(HS256, claims);
  const [h, p, s] = good.split('.') as [string, string, string];

  it.each([
    ['an empty string', 'MALFORMED_IDENTITY', ''],
    ['two segments', 'MALFORMED_IDENTITY', `${h}.${p}`],
    ['five segments (JWE)', 'MALFORMED_IDENTITY', `${h}.${p}.${s}.x.y`],
    ['an empty signature', 'INVALID_SIGNATURE', `${h}.${p}.`],
    ['a truncated signature', 'INVALID_SIGNATURE', `${h}.${p}.${s.slice(0, 20)}`],
    [
      'an over-long signature',
      'INVALID_SIGNATURE',
      `${h}.${p}.${Buffer.concat([Buffer.from(s, 'base64url'), Buffer.alloc(8)]).toString('base64url')}`,
    ],
    ['a signature with padding', 'MALFORMED_IDENTITY', `${h}.${p}.${s}=`],
    ['a header that is not base64url', 'MALFORMED_IDENTITY', `${h}*.${p}.${s}`],
    ['a header that is not JSON', 'MALFORMED_IDENTITY', `${b64url('hello')}.${p}.${s}`],
    ['a header that is an array', 'MALFORMED_IDENTITY', handToken(['HS256'], claims)],
    ['a header without alg', 'MALFORMED_IDENTITY', handToken({ typ: 'JWT' }, claims)],
    ['a payload that is a string', 'MALFORMED_IDENTITY', handToken(HS256, '"user"')],
    ['a payload that is null', 'MALFORMED_IDENTITY', handToken(HS256, 'null')],
    ['a token over 8 KiB', 'MALFORMED_IDENTITY', handToken(HS256, { ...claims, pad: 'x'.repeat(9000) })],
    ['a numeric externalId', 'MALFORMED_IDENTITY', handToken(HS256, { externalId: 42, iat: NOW_SECONDS })],
    ['an object email', 'MALFORMED_IDENTITY', handToken(HS256, { email: { $gt: '' }, iat: NOW_SECONDS })],
    ['no externalId or email', 'MISSING_REQUIRED_FIELD', handToken(HS256, { name: 'x', iat: NOW_SECONDS })],
    ['no iat', 'MISSING_REQUIRED_FIELD', handToken(HS256, { externalId: 'u' })],
    ['a string iat', 'MALFORMED_IDENTITY', handToken(HS256, { externalId: 'u', iat: String(NOW_SECONDS) })],
    ['a string exp', 'MALFORMED_IDENTITY', handToken(HS256, { ...claims, exp: 'never' })],
  ])('%s is %s', async (_, expected, token) => {
    expect(await code(token)).toBe(expected);
  });

  it('refuses an Authorization header that is not a string', async () => {
    const result = await verifierFor({ scheme: 'jwt' }).verify({ headers: { authorization: [`Bearer ${good}`, `Bearer ${good}`] } });
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });
});

describe('jwt: time and audience', () => {
  const token = (extra: Record<string, unknown>, key = LIVE_KEY) => handToken(HS256, { ...claims, ...extra }, key);

  it('accepts iat for 900 seconds, then SIGNATURE_EXPIRED', async () => {
    expect(await code(token({}), { now: clockAt(900) })).toBe('VERIFIED');
    expect(await code(token({}), { now: clockAt(901) })).toBe('SIGNATURE_EXPIRED');
    expect(await code(token({}), { now: clockAt(100), maxAge: 60 })).toBe('SIGNATURE_EXPIRED');
  });

  it('gives a test key testMaxAge', async () => {
    expect(await code(token({}, TEST_KEY), { keys: [TEST_KEY], now: clockAt(3600) })).toBe('VERIFIED');
    expect(await code(token({}, TEST_KEY), { keys: [TEST_KEY], now: clockAt(3601) })).toBe('SIGNATURE_EXPIRED');
  });

  it('refuses iat in the future beyond the tolerance, and iat in milliseconds', async () => {
    expect(await code(token({ iat: NOW_SECONDS + 60 }))).toBe('VERIFIED');
    expect(await code(token({ iat: NOW_SECONDS + 61 }))).toBe('SIGNATURE_EXPIRED');
    const ms = await verifyToken(token({ iat: NOW_SECONDS * 1000 }), { diagnostics: true });
    expect(ms).toMatchObject({ error: { code: 'SIGNATURE_EXPIRED', hint: expect.stringMatching(/milliseconds/) } });
  });

  it('honours exp and nbf with clockTolerance', async () => {
    expect(await code(token({ exp: NOW_SECONDS - 59 }))).toBe('VERIFIED');
    expect(await code(token({ exp: NOW_SECONDS - 60 }))).toBe('SIGNATURE_EXPIRED');
    expect(await code(token({ exp: NOW_SECONDS - 1 }), { clockTolerance: 0 })).toBe('SIGNATURE_EXPIRED');
    expect(await code(token({ nbf: NOW_SECONDS + 60 }))).toBe('VERIFIED');
    expect(await code(token({ nbf: NOW_SECONDS + 61 }))).toBe('SIGNATURE_EXPIRED');
  });

  it('checks issuer and audience when configured', async () => {
    expect(await code(token({ iss: 'https://site.example' }), { issuer: 'https://site.example' })).toBe('VERIFIED');
    expect(await code(token({ iss: 'https://evil.example' }), { issuer: 'https://site.example' })).toBe('INVALID_SIGNATURE');
    expect(await code(token({}), { issuer: 'https://site.example' })).toBe('INVALID_SIGNATURE');
    expect(await code(token({ aud: ['chat', 'api'] }), { audience: 'chat' })).toBe('VERIFIED');
    expect(await code(token({ aud: 'api' }), { audience: ['chat'] })).toBe('INVALID_SIGNATURE');
    expect(await code(token({}), { audience: 'chat' })).toBe('INVALID_SIGNATURE');
  });
});

describe('signJwt refuses what the verifier would refuse', () => {
  it.each([
    ['a numeric externalId', { externalId: 42 }, /externalId must be a string/],
    ['a numeric sub', { sub: 42 }, /sub must be a string/],
    ['an iat that is a string', { externalId: 'u', iat: String(NOW_SECONDS) }, /iat claim must be a number/],
    ['an exp that is a string', { externalId: 'u', exp: 'never' }, /exp claim must be a number/],
    ['no externalId or email', { name: 'Jane' }, /needs an externalId/],
    ['a nested claim', { externalId: 'u', roles: { admin: true } }, /claims.roles must be a string, number, boolean or null/],
    ['an email over 255 characters', { email: `${'e'.repeat(244)}@example.com` }, /email is longer than 255 characters/],
    ['a token over 8 KiB', { externalId: 'u', pad: 'x'.repeat(6100) }, /longer than 8192 characters/],
  ])('%s: a TypeError saying why', (_, claims, message) => {
    expect(() => signJwt(claims, LIVE_KEY, { now: frozenClock })).toThrow(TypeError);
    expect(() => signJwt(claims, LIVE_KEY, { now: frozenClock })).toThrow(message);
  });

  it('an algorithm it does not know: a TypeError naming the ones it does', () => {
    expect(() => signJwt({ externalId: 'u' }, LIVE_KEY, { algorithm: 'RS256' as never })).toThrow(
      /signs with HS256, HS384, HS512, not "RS256"/,
    );
  });
});
