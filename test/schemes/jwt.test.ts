import { execFileSync } from 'node:child_process';
import { createHash, createHmac, createPublicKey, generateKeyPairSync, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { describe, expect, it, vi } from 'vitest';
import { createVerifier, signJwt, type VerifierOptions } from '../../src/index.js';
import { LIVE_KEY, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY, clockAt, frozenClock, verifierFor } from '../helpers.js';
import { jwksOf, keyPair, tokenBy, withoutMembers, type TestKeyPair } from '../support/keyPairs.js';

/** crypto.verify calls, counted: each is a public-key try, the cost the kid rules bound. */
const publicKeyTries = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  const verify = ((...args: Parameters<typeof actual.verify>) => {
    publicKeyTries.count += 1;
    return actual.verify(...args);
  }) as typeof actual.verify;
  return { ...actual, default: { ...actual, verify }, verify };
});

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
      via: 'proof',
    });
  });

  it('reads the token from the body field token too, but not from both places', async () => {
    const verifier = verifierFor({ scheme: 'jwt' });
    expect(await verifier.verify({ body: { token: seedToken } })).toMatchObject({ verified: true });
    expect(await verifier.verify({ headers: { authorization: `Bearer ${seedToken}` }, body: { token: seedToken } })).toMatchObject({
      error: { code: 'MALFORMED_IDENTITY' },
    });
  });

  it('reads the auth scheme name in any case (RFC 9110 §11.1): Bearer, bearer, BEARER', async () => {
    const verifier = verifierFor({ scheme: 'jwt' });
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(await verifier.verify({ headers: { authorization: `${scheme} ${seedToken}` } })).toMatchObject({ verified: true });
    }
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

  it('lists in verifiedFields exactly the signed fields present, in the contact order, for every set of them', async () => {
    const fields = { externalId: 'u1', email: 'ada@example.com', name: 'Ada', phone: '+44 20 7946 0000' } as const;
    const names = Object.keys(fields) as (keyof typeof fields)[];
    for (let present = 1; present < 1 << names.length; present++) {
      const chosen = names.filter((_, i) => (present & (1 << i)) !== 0);
      if (!chosen.includes('externalId') && !chosen.includes('email')) continue; // not an identity
      for (const extra of [{}, { plan: 'pro' }]) {
        const claimSet = { ...Object.fromEntries(chosen.map((name) => [name, fields[name]])), ...extra, iat: NOW_SECONDS };
        const result = await verifyToken(handToken(HS256, claimSet));
        expect(result.verified && result.contact.verifiedFields).toEqual([
          ...chosen,
          ...Object.keys(extra).map((key) => `attributes.${key}`),
        ]);
        expect(result.verified && Object.isFrozen(result.contact.verifiedFields)).toBe(true);
      }
    }
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

  it("refuses a signature spelt in base64's alphabet (+ and / for - and _), which Node's decoder reads as the same bytes", async () => {
    // A token whose signature holds both a '-' and a '_' (a few iat values in, about one in four).
    const signatureOf = (token: string) => token.split('.')[2]!;
    const token = Array.from({ length: 200 }, (_, i) => handToken(HS256, { ...claims, iat: NOW_SECONDS - i })).find(
      (t) => signatureOf(t).includes('-') && signatureOf(t).includes('_'),
    )!;
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(await code(token)).toBe('VERIFIED');
    for (const respelt of [s.replaceAll('-', '+'), s.replaceAll('_', '/')]) {
      expect(Buffer.from(respelt, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
      expect(await code(`${h}.${p}.${respelt}`)).toBe('MALFORMED_IDENTITY');
    }
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

  it.each([
    [
      '"Bearer " inside the body token',
      `Bearer ${good}`,
      /^The JWT header is not base64url: the token starts with "Bearer "; send the token alone here/,
    ],
    ['a token copied with its newline', `${good}\n`, /^The JWT signature is not base64url: it holds a space or a line break/],
  ])('%s: MALFORMED_IDENTITY, saying what put the stray characters there', async (_, token, hint) => {
    const result = await verifierFor({ scheme: 'jwt', diagnostics: true }).verify({ body: { token } });
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY', hint: expect.stringMatching(hint) } });
  });

  it('reads each header afresh: tokens of different headers in turn, and an empty header after a good one', async () => {
    // The decoded header is kept for the next token; a different one must never be read as it.
    const hs384 = handToken({ alg: 'HS384' }, claims, LIVE_KEY, 'sha384');
    const crit = handToken({ ...HS256, crit: ['exp'] }, claims);
    const verifier = verifierFor({ scheme: 'jwt', algorithms: ['HS256'] });
    const codeOf = async (token: string) => {
      const result = await verifier.verify({ headers: { authorization: `Bearer ${token}` } });
      return result.verified ? 'VERIFIED' : result.error?.code;
    };
    for (let i = 0; i < 3; i++) {
      expect(await codeOf(good)).toBe('VERIFIED');
      expect(await codeOf(hs384)).toBe('INVALID_SIGNATURE');
      expect(await codeOf(good)).toBe('VERIFIED');
      expect(await codeOf(crit)).toBe('MALFORMED_IDENTITY');
      expect(await codeOf(good)).toBe('VERIFIED');
      expect(await codeOf(`.${p}.${s}`)).toBe('MALFORMED_IDENTITY');
    }
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
    expect(() => signJwt({ externalId: 'u' }, LIVE_KEY, { algorithm: 'RS384' as never })).toThrow(
      /signs with HS256, HS384, HS512, ES256, EdDSA, RS256, PS256, not "RS384"/,
    );
  });

  it('a public-key algorithm with a secret: a TypeError asking for the private key', () => {
    expect(() => signJwt({ externalId: 'u' }, LIVE_KEY, { algorithm: 'RS256' })).toThrow(/signs RS256 with a private key/);
  });
});

// ---------------------------------------------------------------------------------------------
// Asymmetric JWT: the site signs with its private key; the verifier holds public keys only.

const PAIRS = {
  ES256: keyPair('ES256', 'es-1'),
  EdDSA: keyPair('EdDSA', 'ed-1'),
  RS256: keyPair('RS256', 'rs-1'),
  PS256: keyPair('PS256', 'ps-1'),
} as const;
/** A big integer's bytes, base64url (a JWK's `n` or `e`). */
const base64url = (value: bigint) =>
  Buffer.from(value.toString(16).padStart(Math.ceil(value.toString(16).length / 2) * 2, '0'), 'hex').toString('base64url');
const ALGS = Object.keys(PAIRS) as (keyof typeof PAIRS)[];
const quietly = { warn() {}, error() {} };
const publicVerifier = (keys: VerifierOptions['keys'], options: Partial<VerifierOptions> = {}) =>
  createVerifier({ scheme: 'jwt', keys, now: frozenClock, logger: quietly, rateLimit: false, ...options });
async function codeWith(keys: VerifierOptions['keys'], token: string, options: Partial<VerifierOptions> = {}) {
  const result = await publicVerifier(keys, options).verify({ headers: { authorization: `Bearer ${token}` } });
  return result.verified ? `VERIFIED ${result.keyId ?? ''}`.trim() : result.error?.code;
}

describe('jwt: public keys (ES256, EdDSA, RS256, PS256)', () => {
  describe.each(ALGS)('%s', (alg) => {
    const pair = PAIRS[alg];
    const token = tokenBy(pair, { externalId: 'u1', email: 'ada@example.com' });

    it.each([
      ['PEM', () => [{ publicKey: pair.pem, alg, id: pair.kid }]],
      ['a JWK (its alg and kid)', () => [{ publicKey: pair.jwk }]],
      ['a KeyObject', () => [{ publicKey: pair.publicKey, alg, id: pair.kid }]],
      ['a local JWKS', () => [{ jwks: jwksOf(pair) }]],
      ['an X.509 certificate', () => (alg === 'ES256' ? [{ publicKey: certificate, id: pair.kid }] : [{ publicKey: pair.jwk }])],
    ])('verifies with the public key given as %s, reporting its kid', async (_, keys) => {
      const configured = keys() as VerifierOptions['keys'];
      const pairFor = _ === 'an X.509 certificate' && alg === 'ES256' ? certificatePair : pair;
      expect(await codeWith(configured, tokenBy(pairFor, { externalId: 'u1' }))).toBe(`VERIFIED ${pair.kid}`);
    });

    it('verifies the whole contact, email first, like an HS256 token', async () => {
      expect(await publicVerifier([{ publicKey: pair.jwk }]).verify({ body: { token } })).toMatchObject({
        verified: true,
        keyId: pair.kid,
        contact: { externalId: 'u1', email: 'ada@example.com', identityKey: 'email', verifiedFields: ['externalId', 'email'] },
      });
    });

    it("verifies tokens made by jose's SignJWT, and signJwt's tokens verify with jose.jwtVerify", async () => {
      const byJose = await new jose.SignJWT({ externalId: 'u2' })
        .setProtectedHeader({ alg, kid: pair.kid })
        .setIssuedAt(NOW_SECONDS)
        .sign(pair.privateKey);
      expect(await codeWith([{ publicKey: pair.jwk }], byJose)).toBe(`VERIFIED ${pair.kid}`);
      const ours = signJwt({ externalId: 'u3' }, pair.privatePem, { algorithm: alg, keyId: pair.kid, now: frozenClock });
      const { payload, protectedHeader } = await jose.jwtVerify(ours, await jose.importJWK(pair.jwk as jose.JWK, alg), {
        currentDate: new Date(NOW_SECONDS * 1000),
      });
      expect(payload).toEqual({ externalId: 'u3', iat: NOW_SECONDS });
      expect(protectedHeader).toEqual({ alg, typ: 'JWT', kid: pair.kid });
    });

    it('refuses any changed byte of header, payload or signature', async () => {
      const [h, p, sig] = token.split('.') as [string, string, string];
      const flip = (part: string, at: number) => part.slice(0, at) + (part[at] === 'A' ? 'B' : 'A') + part.slice(at + 1);
      for (const tampered of [`${flip(h, 3)}.${p}.${sig}`, `${h}.${flip(p, 5)}.${sig}`, `${h}.${p}.${flip(sig, 10)}`]) {
        expect(await codeWith([{ publicKey: pair.jwk }], tampered)).toMatch(/INVALID_SIGNATURE|MALFORMED_IDENTITY/);
      }
    });
  });

  it('verifies RS256 and PS256 tokens made by jsonwebtoken', async () => {
    for (const alg of ['RS256', 'PS256', 'ES256'] as const) {
      const pair = PAIRS[alg];
      const token = jsonwebtoken.sign({ externalId: 'jw', iat: NOW_SECONDS }, pair.privatePem, { algorithm: alg, keyid: pair.kid });
      expect(await codeWith([{ publicKey: pair.jwk }], token)).toBe(`VERIFIED ${pair.kid}`);
    }
  });

  it('takes "Ed25519", RFC 9864\'s name for EdDSA, wherever an alg is named: the header jose writes, a JWK, the options', async () => {
    const pair = PAIRS.EdDSA;
    const byJose = await new jose.SignJWT({ externalId: 'u9' })
      .setProtectedHeader({ alg: 'Ed25519', kid: pair.kid })
      .setIssuedAt(NOW_SECONDS)
      .sign(pair.privateKey);
    const named = { ...pair.jwk, alg: 'Ed25519' };
    const setAlg = { kty: pair.jwk.kty, crv: pair.jwk.crv, x: pair.jwk.x, kid: pair.kid };
    const configurations: VerifierOptions['keys'][] = [
      [{ publicKey: pair.jwk }], // the JWK says EdDSA
      [{ publicKey: named }],
      [{ publicKey: pair.pem, alg: 'Ed25519', id: pair.kid }],
      [{ jwks: { keys: [named] } }],
      [{ jwks: { keys: [setAlg] }, alg: 'Ed25519' }],
    ];
    for (const keys of configurations) {
      expect(await codeWith(keys, byJose)).toBe(`VERIFIED ${pair.kid}`);
      expect(await codeWith(keys, tokenBy(pair, { externalId: 'u1' }))).toBe(`VERIFIED ${pair.kid}`); // alg EdDSA
    }
    expect(await codeWith([{ publicKey: named }], byJose, { algorithms: ['Ed25519'] })).toBe(`VERIFIED ${pair.kid}`);
    expect(await codeWith([{ publicKey: pair.jwk }], byJose, { algorithms: ['EdDSA'] })).toBe(`VERIFIED ${pair.kid}`);
    const ours = signJwt({ externalId: 'u' }, pair.privateKey, { algorithm: 'Ed25519', keyId: pair.kid, now: frozenClock });
    expect(JSON.parse(Buffer.from(ours.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'EdDSA' });
    expect(await codeWith([{ publicKey: named }], ours)).toBe(`VERIFIED ${pair.kid}`);
    // The name changes nothing else: another key's token, a changed signature, an ES256 key, an RSA key named Ed25519.
    const otherKey = { ...keyPair('EdDSA', 'ed-other').jwk, kid: pair.kid, alg: 'Ed25519' };
    expect(await codeWith([{ publicKey: otherKey }], byJose)).toBe('INVALID_SIGNATURE');
    // The diagnosis reads the header as the verifier does: another key, not an alg the key does not have.
    const diagnosed = await publicVerifier([{ publicKey: otherKey }], { diagnostics: true }).verify({ body: { token: byJose } });
    expect(!diagnosed.verified && diagnosed.error?.hint).toMatch(/\(troubleshooting: jwt-wrong-key\)$/);
    const at = byJose.length - 20;
    const changed = byJose.slice(0, at) + (byJose[at] === 'A' ? 'B' : 'A') + byJose.slice(at + 1);
    expect(await codeWith([{ publicKey: named }], changed)).toBe('INVALID_SIGNATURE');
    expect(await codeWith([{ publicKey: PAIRS.ES256.jwk }], byJose)).toBe('INVALID_SIGNATURE');
    expect(() => publicVerifier([{ publicKey: PAIRS.RS256.pem, alg: 'Ed25519' }])).toThrow(/alg EdDSA does not fit an RSA key/);
  });

  it('signJwt signs with a private JWK (its kid and alg) and a KeyObject', async () => {
    const pair = PAIRS.EdDSA;
    const privateJwk = { ...(pair.privateKey.export({ format: 'jwk' }) as { kty: string; d: string }), kid: pair.kid, alg: 'EdDSA' };
    expect(await codeWith([{ publicKey: pair.jwk }], signJwt({ externalId: 'u' }, privateJwk, { now: frozenClock }))).toBe(
      `VERIFIED ${pair.kid}`,
    );
    const es = PAIRS.ES256;
    expect(await codeWith([{ publicKey: es.jwk }], signJwt({ externalId: 'u' }, es.privateKey, { keyId: es.kid, now: frozenClock }))).toBe(
      `VERIFIED ${es.kid}`,
    );
  });

  it.each([
    [
      'an RSA key without algorithm',
      () => signJwt({ externalId: 'u' }, PAIRS.RS256.privatePem),
      /RS256 or PS256 is ambiguous.*pass \{ algorithm/,
    ],
    ['a public key', () => signJwt({ externalId: 'u' }, PAIRS.ES256.pem), /needs the private key/],
    ['a public JWK', () => signJwt({ externalId: 'u' }, PAIRS.ES256.jwk as never), /needs a private JWK/],
    [
      'an algorithm the key cannot make',
      () => signJwt({ externalId: 'u' }, PAIRS.ES256.privateKey, { algorithm: 'RS256' }),
      /alg RS256 does not fit an EC P-256 key/,
    ],
    [
      'an RSA key of 1024 bits',
      () => signJwt({ externalId: 'u' }, keyPair('RS256', 'small', 1024).privateKey, { algorithm: 'RS256' }),
      /under 2048 bits/,
    ],
    ['claims the verifier refuses', () => signJwt({ externalId: 42 }, PAIRS.ES256.privateKey), /externalId must be a string/],
  ])('signJwt refuses %s with a TypeError', (_, sign, message) => {
    expect(sign).toThrow(TypeError);
    expect(sign).toThrow(message);
  });
});

describe('jwt: the key decides the algorithm', () => {
  it('refuses a token whose header names another algorithm than its key, whatever the signature', async () => {
    const rsa = PAIRS.RS256; // alg RS256 in its JWK
    const asPss = tokenBy(rsa, { externalId: 'u' }, { header: { alg: 'PS256', kid: rsa.kid }, signAs: 'PS256' });
    expect(await codeWith([{ publicKey: rsa.jwk }], asPss)).toBe('INVALID_SIGNATURE');
    const headerOnly = tokenBy(rsa, { externalId: 'u' }, { header: { alg: 'PS256', kid: rsa.kid }, signAs: 'RS256' });
    expect(await codeWith([{ publicKey: rsa.jwk }], headerOnly)).toBe('INVALID_SIGNATURE');
  });

  it('gives a JWK without alg one only where its type makes it unambiguous', async () => {
    const es = withoutMembers(PAIRS.ES256.jwk, 'alg');
    const ed = withoutMembers(PAIRS.EdDSA.jwk, 'alg');
    expect(await codeWith([{ publicKey: es }], tokenBy(PAIRS.ES256, { externalId: 'u' }))).toBe('VERIFIED es-1');
    expect(await codeWith([{ publicKey: ed }], tokenBy(PAIRS.EdDSA, { externalId: 'u' }))).toBe('VERIFIED ed-1');
    const rsa = withoutMembers(PAIRS.RS256.jwk, 'alg');
    expect(() => publicVerifier([{ publicKey: rsa }])).toThrow(/RSA key of 2048 bits without alg: RS256 or PS256 is ambiguous/);
    expect(await codeWith([{ publicKey: rsa, alg: 'RS256' }], tokenBy(PAIRS.RS256, { externalId: 'u' }))).toBe('VERIFIED rs-1');
    expect(await codeWith([{ publicKey: rsa, alg: 'PS256' }], tokenBy(PAIRS.RS256, { externalId: 'u' }))).toBe('INVALID_SIGNATURE');
  });

  it.each([
    ['a private key (PEM)', () => PAIRS.ES256.privatePem, /it is a private key/],
    ['a private key (KeyObject)', () => PAIRS.ES256.privateKey, /it is a private key/],
    ['a private JWK', () => PAIRS.EdDSA.privateKey.export({ format: 'jwk' }), /holds private members/],
    ['a shared secret as a JWK', () => ({ kty: 'oct', k: 'c2VjcmV0' }), /shared secret \(kty "oct"\)/],
    ['an EC P-384 key', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, /an EC P-384 key is not supported/],
    ['an Ed448 key', () => generateKeyPairSync('ed448').publicKey, /an Ed448 key is not supported/],
    ['an RSA key of 1024 bits', () => keyPair('RS256', 'small', 1024).jwk, /RSA key of 1024 bits: RSA keys under 2048 bits are refused/],
    [
      'an RSA key with an even exponent',
      () => ({ ...PAIRS.RS256.jwk, e: 'AQAA' }),
      /has a public exponent of 65536: an RSA exponent is odd/,
    ],
    ['an RSA key with an exponent of 2^256', () => ({ ...PAIRS.RS256.jwk, e: base64url(1n << 256n) }), /public exponent of over 64 bits/],
    [
      'an RSA key with an exponent of 2^32 + 1 (each verify slower)',
      () => ({ ...PAIRS.RS256.jwk, e: base64url((1n << 32n) + 1n) }),
      /public exponent of 4294967297: an RSA exponent is odd, from 3 to below 2\^32/,
    ],
    [
      'an RSA key of 16,392 bits',
      () => ({ ...PAIRS.RS256.jwk, n: base64url((1n << 16_391n) + 1n) }),
      /OpenSSL verifies no RSA signature over 16384 bits/,
    ],
    ['a JWK for encryption', () => ({ ...PAIRS.ES256.jwk, use: 'enc' }), /use is "enc", not "sig"/],
    ['a JWK whose key_ops exclude verify', () => ({ ...PAIRS.ES256.jwk, key_ops: ['encrypt'] }), /key_ops do not include "verify"/],
    ['a JWK whose alg does not fit it', () => ({ ...PAIRS.ES256.jwk, alg: 'RS256' }), /its alg RS256 does not fit an EC P-256 key/],
    [
      'a JWK with an alg this verifier does not take',
      () => ({ ...PAIRS.ES256.jwk, alg: 'ES384' }),
      /its alg "ES384" is not one this verifier takes/,
    ],
    ['text that is no key', () => 'not a key', /not a PEM public key/],
  ])('refuses %s at construction, saying why', (_, publicKey, message) => {
    expect(() => publicVerifier([{ publicKey: publicKey() as never }])).toThrow(message);
  });

  it('refuses an RSA key with the exponent 1, for which anyone can write a signature, given or in a set', async () => {
    const forgeable = { ...PAIRS.RS256.jwk, e: 'AQ' };
    expect(() => publicVerifier([{ publicKey: forgeable }])).toThrow(/has a public exponent of 1: an RSA exponent is odd/);
    // With e = 1 a signature is its own padded hash (RFC 8017 EMSA-PKCS1-v1_5): forged with no key at all.
    const input = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'rs-1' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ externalId: 'victim', iat: NOW_SECONDS }),
    ).toString('base64url')}`;
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      createHash('sha256').update(input).digest(),
    ]);
    const padded = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - digestInfo.length - 3, 0xff), Buffer.from([0]), digestInfo]);
    const forged = `${input}.${padded.toString('base64url')}`;
    expect(await codeWith([{ jwks: { keys: [forgeable, PAIRS.ES256.jwk] } }], forged)).toBe('INVALID_SIGNATURE');
  });

  it('refuses claims that are not UTF-8: two tokens over different bytes never read as one identity', async () => {
    const verifier = createVerifier({ scheme: 'jwt', keys: [LIVE_KEY], now: frozenClock, logger: quietly, rateLimit: false });
    const tokenOver = (claims: Buffer) => {
      const input = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${claims.toString('base64url')}`;
      return `${input}.${createHmac('sha256', LIVE_KEY).update(input).digest('base64url')}`;
    };
    const claims = (email: Buffer) =>
      Buffer.concat([Buffer.from('{"email":"jos'), email, Buffer.from(`@example.com","iat":${NOW_SECONDS}}`)]);
    // é in Latin-1, è in Latin-1, and a lone surrogate as WTF-8: each would decode as U+FFFD.
    for (const bytes of [[0xe9], [0xe8], [0xed, 0xa0, 0x80]]) {
      const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenOver(claims(Buffer.from(bytes)))}` } });
      expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    }
    const utf8 = await verifier.verify({ headers: { authorization: `Bearer ${tokenOver(claims(Buffer.from('é')))}` } });
    expect(utf8).toMatchObject({ verified: true, contact: { email: 'josé@example.com' } });
  });

  it('refuses a public key whose test flag is not a boolean (the string "false" from an environment variable)', () => {
    expect(() => publicVerifier([{ publicKey: PAIRS.ES256.jwk, test: 'false' as never }])).toThrow(/keys\[0\]\.test must be true or false/);
  });

  it('verifies an ES256 token whose s is replaced by n − s, as ECDSA does: a token has two spellings (SECURITY.md)', async () => {
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n; // P-256's group order
    const token = tokenBy(PAIRS.ES256, { externalId: 'u' });
    const [input, signature] = [token.slice(0, token.lastIndexOf('.')), Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')];
    const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
    const twin = Buffer.concat([signature.subarray(0, 32), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]);
    expect(await codeWith([{ publicKey: PAIRS.ES256.jwk }], token)).toBe('VERIFIED es-1');
    expect(await codeWith([{ publicKey: PAIRS.ES256.jwk }], `${input}.${twin.toString('base64url')}`)).toBe('VERIFIED es-1');
  });

  it('refuses an Ed25519 key of small order, for which anyone can write a signature, given or in a set', async () => {
    // Ed25519's 8 points of small order, encoded as keys are (y little-endian, x's sign in the top bit);
    // the order-8 y is the root of d·y⁴ + 2y² − 1 = 0 (the y whose double has y = 0, a point of order 4).
    const p = 2n ** 255n - 19n;
    const y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
    const encode = (y: bigint, xNegative: boolean) => {
      const bytes = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse();
      if (xNegative) bytes[31]! |= 0x80;
      return bytes;
    };
    const smallOrder = [
      [1n, false],
      [p - 1n, false],
      [0n, false],
      [0n, true],
      [y8, false],
      [y8, true],
      [p - y8, false],
      [p - y8, true],
    ].map(([y, negative]) => encode(y as bigint, negative as boolean));
    const jwkOf = (x: Buffer) => ({ kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url'), kid: 'tiny' });
    for (const point of smallOrder) {
      expect(() => publicVerifier([{ publicKey: jwkOf(point) }])).toThrow(/an Ed25519 key is a point of small order/);
      // What it would let through: R one of those points and S = 0 verify in OpenSSL for one message in a few.
      let forged: string | undefined;
      for (let jti = 0; forged === undefined && jti < 64; jti++) {
        const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const input = `${part({ alg: 'EdDSA', kid: 'tiny' })}.${part({ externalId: 'victim', iat: NOW_SECONDS, jti })}`;
        const key = createPublicKey({ key: jwkOf(point), format: 'jwk' });
        const signature = smallOrder
          .map((r) => Buffer.concat([r, Buffer.alloc(32)]))
          .find((s) => cryptoVerify(null, Buffer.from(input), key, s));
        if (signature) forged = `${input}.${signature.toString('base64url')}`;
      }
      expect(forged).toBeDefined();
      expect(await codeWith([{ jwks: { keys: [jwkOf(point), PAIRS.ES256.jwk] } }], forged!)).toBe('INVALID_SIGNATURE');
    }
    // A y at or above the prime is no canonical encoding (RFC 8032 §5.1.3).
    expect(() => publicVerifier([{ publicKey: jwkOf(encode(p + 2n, false)) }])).toThrow(/point of small order.*or not canonically encoded/);
    expect(await codeWith([{ publicKey: PAIRS.EdDSA.jwk }], tokenBy(PAIRS.EdDSA, { externalId: 'u' }))).toBe('VERIFIED ed-1');
  });

  describe('an RSA-PSS key (PEM, KeyObject) verifies PS256 only if its parameters allow SHA-256 and a 32-byte salt', () => {
    const pssPair = (parameters: object) => generateKeyPairSync('rsa-pss', { modulusLength: 2048, ...parameters });
    const asPem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

    it.each([
      ['no parameters', {}],
      ['SHA-256 and a 32-byte salt', { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 }],
      ['SHA-256 and salts of 20 bytes or more', { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 20 }],
    ])('accepts one with %s, and verifies its tokens', async (_, parameters) => {
      const { publicKey, privateKey } = pssPair(parameters);
      const token = signJwt({ externalId: 'u' }, privateKey, { now: frozenClock });
      for (const key of [publicKey, asPem(publicKey)]) expect(await codeWith([{ publicKey: key }], token)).toBe('VERIFIED');
    });

    it.each([
      [
        'SHA-512',
        { hashAlgorithm: 'sha512', mgf1HashAlgorithm: 'sha512', saltLength: 64 },
        'the hash sha512, MGF1 with sha512, salts of 64 bytes or more',
      ],
      ['MGF1 with SHA-512', { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha512', saltLength: 32 }, 'MGF1 with sha512'],
      ['salts of 33 bytes or more', { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 33 }, 'salts of 33 bytes or more'],
      ['SHA-1 (what parameters naming only a salt default to)', { saltLength: 32 }, 'the hash sha1, MGF1 with sha1'],
    ])('refuses one restricted to %s, at construction and from a lookup', async (_, parameters, restrictions) => {
      const { publicKey } = pssPair(parameters);
      const message = `is restricted to ${restrictions}, which PS256`;
      for (const key of [publicKey, asPem(publicKey)]) {
        expect(() => publicVerifier([{ publicKey: key }])).toThrow(TypeError);
        expect(() => publicVerifier([{ publicKey: key }])).toThrow(message);
      }
      const logged: string[] = [];
      const verifier = publicVerifier(() => ({ publicKey: asPem(publicKey) }), {
        logger: { warn: (line) => void logged.push(line), error: (line) => void logged.push(line) },
      });
      const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenBy(PAIRS.PS256, { externalId: 'u' })}` } });
      expect(result).toMatchObject({ verified: false, error: { code: 'KEY_UNAVAILABLE' } });
      expect(logged.join('\n')).toContain(message);
    });
  });

  it('refuses a configured alg that contradicts the JWK', () => {
    expect(() => publicVerifier([{ publicKey: PAIRS.RS256.jwk, alg: 'PS256' }])).toThrow(/the JWK says alg RS256, the configuration PS256/);
  });

  it('never takes a public key as an HMAC secret, nor mixes secrets and public keys', () => {
    expect(() => publicVerifier([PAIRS.ES256.pem])).toThrow(/a key in PEM or JWK form, not a shared secret/);
    expect(() => publicVerifier([JSON.stringify(PAIRS.ES256.jwk)])).toThrow(/not a shared secret/);
    expect(() => publicVerifier([LIVE_KEY, { publicKey: PAIRS.ES256.jwk }])).toThrow(/mixes shared secrets and public keys/);
    expect(() => publicVerifier([LIVE_KEY, { jwks: { url: 'https://site.example/jwks.json' } }])).toThrow(
      /mixes shared secrets and public keys/,
    );
    expect(() => createVerifier({ scheme: 'user-hash', keys: [{ publicKey: PAIRS.ES256.jwk }] })).toThrow(
      /public keys? or a JWKS: those verify jwt tokens only/,
    );
  });

  it('refuses algorithms that no configured key could verify, and accepts the keys own', async () => {
    expect(() => publicVerifier([{ publicKey: PAIRS.EdDSA.jwk }], { algorithms: ['ES256'] })).toThrow(/does not list EdDSA/);
    expect(() => publicVerifier([LIVE_KEY], { algorithms: ['ES256'] })).toThrow(/lists no HMAC algorithm/);
    expect(await codeWith([{ publicKey: PAIRS.ES256.jwk }], tokenBy(PAIRS.ES256, { externalId: 'u' }), { algorithms: ['ES256'] })).toBe(
      'VERIFIED es-1',
    );
    // A lookup's keys are checked per token: an algorithm not listed is refused.
    const lookup = () => [{ publicKey: PAIRS.EdDSA.jwk }];
    expect(await codeWith(lookup, tokenBy(PAIRS.EdDSA, { externalId: 'u' }), { algorithms: ['ES256'] })).toBe('INVALID_SIGNATURE');
  });
});

describe('jwt: the kid selects the key', () => {
  const first = keyPair('ES256', 'k1');
  const second = keyPair('ES256', 'k2');
  const keys = [{ publicKey: first.jwk }, { publicKey: second.jwk }];

  it('tries only the key its kid names', async () => {
    expect(await codeWith(keys, tokenBy(second, { externalId: 'u' }))).toBe('VERIFIED k2');
    const misnamed = tokenBy(second, { externalId: 'u' }, { header: { alg: 'ES256', kid: 'k1' } });
    expect(await codeWith(keys, misnamed)).toBe('INVALID_SIGNATURE');
  });

  it('without a kid, tries the keys in order, at most four public keys', async () => {
    const noKid = (pair: TestKeyPair) => tokenBy(pair, { externalId: 'u' }, { header: { alg: 'ES256' } });
    expect(await codeWith(keys, noKid(second))).toBe('VERIFIED k2');
    const five = [1, 2, 3, 4, 5].map((i) => keyPair('ES256', `n${i}`));
    const all = five.map((pair) => ({ publicKey: pair.jwk }));
    expect(await codeWith(all, noKid(five[3]!))).toBe('VERIFIED n4');
    expect(await codeWith(all, noKid(five[4]!))).toBe('INVALID_SIGNATURE');
    expect(await codeWith(all, tokenBy(five[4]!, { externalId: 'u' }))).toBe('VERIFIED n5'); // named, it is found
  });

  it('a kid that no key has: refused when every key has an id, else the keys without one are tried', async () => {
    const unknown = tokenBy(second, { externalId: 'u' }, { header: { alg: 'ES256', kid: 'k9' } });
    expect(await codeWith(keys, unknown)).toBe('INVALID_SIGNATURE');
    expect(await codeWith([{ publicKey: first.jwk }, { publicKey: second.pem, alg: 'ES256' }], unknown)).toBe('VERIFIED');
  });

  it('a made-up kid tries at most four of the keys without one, as a token without kid does', async () => {
    const unnamed = Array.from({ length: 10 }, (_, i) => keyPair('ES256', `unnamed-${i}`));
    const keys = [{ jwks: { keys: unnamed.map((pair) => withoutMembers(pair.jwk, 'kid')) } }];
    const madeUp = (pair: TestKeyPair) => tokenBy(pair, { externalId: 'u' }, { header: { alg: 'ES256', kid: 'made-up' } });
    expect(await codeWith(keys, madeUp(unnamed[3]!))).toBe('VERIFIED');
    const verifier = publicVerifier(keys);
    publicKeyTries.count = 0;
    const result = await verifier.verify({ headers: { authorization: `Bearer ${madeUp(unnamed[9]!)}` } });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(publicKeyTries.count).toBe(4);
  });

  it('selects by kid with sessions on too (which relabel the keys they hand the scheme)', async () => {
    const verifier = publicVerifier(keys, { session: { keys: [`session-key-${'7'.repeat(32)}`] } });
    const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenBy(second, { externalId: 'u' })}` } });
    expect(result).toMatchObject({ verified: true, keyId: 'k2', via: 'proof' });
    const misnamed = tokenBy(second, { externalId: 'u' }, { header: { alg: 'ES256', kid: 'k1' } });
    expect(await verifier.verify({ headers: { authorization: `Bearer ${misnamed}` } })).toMatchObject({
      verified: false,
      error: { code: 'INVALID_SIGNATURE' },
    });
  });

  it('selects HMAC keys by id too', async () => {
    const hmacKeys = [
      { secret: LIVE_KEY, id: 'a' },
      { secret: PREVIOUS_KEY, id: 'b' },
    ];
    expect(await code(handToken({ ...HS256, kid: 'b' }, claims, PREVIOUS_KEY), { keys: hmacKeys })).toBe('VERIFIED');
    expect(await code(handToken({ ...HS256, kid: 'a' }, claims, PREVIOUS_KEY), { keys: hmacKeys })).toBe('INVALID_SIGNATURE');
    expect(await code(handToken(HS256, claims, PREVIOUS_KEY), { keys: hmacKeys })).toBe('VERIFIED');
  });

  it.each([
    ['a number', 7],
    ['an object', { id: 'k1' }],
    ['over 256 characters', 'k'.repeat(257)],
  ])('refuses a kid that is %s as MALFORMED_IDENTITY', async (_, kid) => {
    expect(await codeWith(keys, tokenBy(first, { externalId: 'u' }, { header: { alg: 'ES256', kid } }))).toBe('MALFORMED_IDENTITY');
  });
});

describe('jwt: public-key signatures', () => {
  it('refuses an ES256 signature that is DER-encoded (what crypto.sign makes by default), saying so', async () => {
    const der = tokenBy(PAIRS.ES256, { externalId: 'u' }, { encoding: 'der' });
    const result = await publicVerifier([{ publicKey: PAIRS.ES256.jwk }], { diagnostics: true }).verify({ body: { token: der } });
    expect(result).toMatchObject({
      error: {
        code: 'INVALID_SIGNATURE',
        mistake: 'jwt-encoding',
        hint: expect.stringMatching(/its ES256 signature is DER-encoded \(7\d bytes\), not r and s/),
      },
    });
    // Without diagnostics, the rejection's own words (for the operator's logs, never sent to live traffic).
    const { parseJwt } = await import('../../src/schemes/jwt/index.js');
    expect(() => parseJwt({ token: der }, { algorithms: undefined })).toThrow(
      expect.objectContaining({ hint: expect.stringMatching(/64 bytes \(r and s, 32 bytes each, not DER\); this one has 7\d/) }),
    );
  });

  it('refuses an empty, short or long signature, and an RSA signature of another size', async () => {
    const token = tokenBy(PAIRS.RS256, { externalId: 'u' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const bytes = Buffer.from(s, 'base64url');
    for (const signature of [Buffer.alloc(0), bytes.subarray(1), Buffer.concat([bytes, Buffer.alloc(1)])]) {
      expect(await codeWith([{ publicKey: PAIRS.RS256.jwk }], `${h}.${p}.${signature.toString('base64url')}`)).toBe('INVALID_SIGNATURE');
    }
    const ed = tokenBy(PAIRS.EdDSA, { externalId: 'u' }).split('.');
    expect(await codeWith([{ publicKey: PAIRS.EdDSA.jwk }], `${ed[0]}.${ed[1]}.${Buffer.alloc(63).toString('base64url')}`)).toBe(
      'INVALID_SIGNATURE',
    );
  });
});

/** An ES256 key pair whose public key travels as a self-signed X.509 certificate (what some sites publish). */
const certificatePair = keyPair('ES256', 'es-1');
const certificate = (() => {
  // A tiny self-signed certificate over certificatePair's key, made with openssl when the machine has it; else the PEM (same key).
  try {
    const dir = mkdtempSync(join(tmpdir(), 'cert-'));
    writeFileSync(join(dir, 'key.pem'), certificatePair.privatePem);
    execFileSync(
      'openssl',
      ['req', '-x509', '-key', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=site.example', '-days', '1'],
      { stdio: 'ignore' },
    );
    return readFileSync(join(dir, 'cert.pem'), 'utf8');
  } catch {
    return certificatePair.pem;
  }
})();
