/**
 * The attack table: every row is an attempt to get an identity verified that should not be,
 * with the exact code it must be refused with (or, for an attack that must be shrugged off, the
 * result a genuine proof gets). Same format as CASES, so each row runs through the core and
 * every adapter.
 *
 * Sources: RFC 8725 (JWT BCP) §2.1 / §3.1 algorithm confusion and `none`, §2.6 / §3.10 untrusted
 * `kid` / `jku` / `x5u` / `jwk`, §3.12 cross-JWT confusion; the CVEs of jsonwebtoken
 * (CVE-2015-9235 algorithm confusion, CVE-2022-23540 `none` with a falsy key), express-jwt
 * (CVE-2020-15084 no algorithm allow-list) and passport-jwt (inherits jsonwebtoken's); the seeds'
 * own notes (replay window, test mode, 24-hour rotation, case-sensitive ids); and chat-product
 * incidents (contacts merged on an unverified email, user hashes that never expire).
 *
 * Rows that cannot go through HTTP identically (a 1 MB id, a 10 MB body, `__proto__` in a JSON
 * body, which Koa's parser refuses with 400) live in test/security/attacks.test.ts instead.
 */
import { createHmac } from 'node:crypto';
import {
  canonicalJson,
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
  type SessionOptions,
  type VerifierOptions,
} from '../../src/index.js';
import {
  CHALLENGE_DPOP,
  CHALLENGE_EXPIRED,
  CHALLENGE_INVALID,
  OTHER_VERIFIER_SESSION_KEY,
  SESSION_KEY,
  claimsOf,
  dpopKey,
  dpopProof,
  forge,
  mintSession,
  tamper,
} from '../support/sessions.js';
import { forgeJwt, jwtPart } from '../support/jwt.js';
import { LIVE_KEY, NOW_SECONDS, OTHER_TENANT_KEY, PREVIOUS_KEY, SECOND_SCHEME_KEY, TEST_KEY, clockAt, frozenClock } from '../helpers.js';
import type { CaseRequest, ConformanceCase } from './cases.js';
import { sharedJwksServer } from '../support/jwksServer.js';
import { keyPair, tokenBy, withoutMembers, type TestKeyPair, type TokenOptions } from '../support/keyPairs.js';

/** A key the attacker holds: never configured anywhere. */
export const ATTACKER_KEY = 'attacker-chosen-secret';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const claimsAt = (claims: Record<string, unknown> = {}) => ({ externalId: 'admin', iat: NOW_SECONDS, ...claims });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const jwtFor = (claims: Record<string, unknown>, key = LIVE_KEY) => signJwt(claims, key, { now: frozenClock });
// What the site's key signs when the site's own code is wrong: the signing helpers refuse these
// (they refuse what the verifier refuses), so the rows that need them sign by hand, byte for byte alike.
const signedAnyway = (claims: Record<string, unknown>, key = LIVE_KEY) =>
  forgeJwt(HS256, { ...claims, iat: claims.iat ?? NOW_SECONDS }, key);
const payloadSignature = (customer: Record<string, unknown>, key = LIVE_KEY) =>
  createHmac('sha256', key)
    .update(canonicalJson(customer as never))
    .digest('hex');
const userHashAnyway = (id: string, key = LIVE_KEY) => ({ user_id: id, user_hash: createHmac('sha256', key).update(id).digest('hex') });
const payloadAnyway = (customer: Record<string, unknown>, key = LIVE_KEY) => ({
  customer: { ...customer, timestamp: NOW_SECONDS },
  signature: payloadSignature({ ...customer, timestamp: NOW_SECONDS }, key),
});
const userHashBody = (id: string, key = LIVE_KEY) => ({ user_id: id, user_hash: signUserHash(id, key) });
const visitorBody = (id: string, key = LIVE_KEY) => ({ anonymousUserId: id, hmac: signVisitorHash(id, key) });
const payloadFor = (customer: Record<string, string | number | boolean>, key = LIVE_KEY, at = NOW_SECONDS) =>
  signPayload({ ...customer, timestamp: at }, key);
const rawJson = (text: string) => ({ rawBody: { type: 'application/json', text } });
const [validToken] = [jwtFor({ externalId: 'j1' })];
const [validHeader, validPayload, validSignature] = validToken.split('.') as [string, string, string];
const liveHash = signUserHash('u1', LIVE_KEY);

/** A user id that is also a token's signing input: 112 characters of [A-Za-z0-9._-], a plausible username. */
const CRAFTED_ID = `${jwtPart({ alg: 'HS256' })}.${jwtPart({ externalId: 'admin', email: 'ceo@victim.example', iat: NOW_SECONDS })}`;
/** The site's user hash for CRAFTED_ID, re-encoded: a valid HS256 token wherever the same secret verifies jwt. */
const userHashAsJwt = (key: string) => `${CRAFTED_ID}.${Buffer.from(signUserHash(CRAFTED_ID, key), 'hex').toString('base64url')}`;
/** A customer whose canonical JSON is a plausible user id too. */
const CRAFTED_CUSTOMER = { email: 'ceo@victim.example', externalId: 'admin', timestamp: NOW_SECONDS };

/** The same tenant setup as CASES: the team comes from a header, each team has its own key. */
const team = (name: string) => ({ 'x-team': name });
const tenantOptions = {
  tenant: (request: { headers?: Record<string, unknown> }) => request.headers?.['x-team'] as string | undefined,
  // A plain object lookup, written the naive way on purpose: `constructor` or `__proto__` as a
  // team name reaches Object.prototype, and the verifier must still fail closed.
  keys: (tenant: string | undefined) => (({ acme: [LIVE_KEY], globex: [OTHER_TENANT_KEY] }) as Record<string, string[]>)[tenant as string],
} satisfies Partial<VerifierOptions>;

const NFC = 'Jos\u00e9';
const NFD = 'Jose\u0301';

const verified = (scheme: string, contact: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  status: 200,
  identity: { verified: true, scheme, contact, ...extra },
});
const rejected = (code: string, hint = false) => ({ status: code === 'KEY_UNAVAILABLE' ? 503 : 401, code, hint });
// No failed-attempt limits in these rows (one request each; the limiter has its own rows and
// suite): building the limiter's memory store costs milliseconds per app, times six paths a row.
const required = (scheme: VerifierOptions['scheme'], extra: Partial<VerifierOptions> = {}): ConformanceCase['options'] => ({
  scheme,
  required: true,
  rateLimit: false,
  ...extra,
});

export const ATTACK_CASES: ConformanceCase[] = [
  // --- JWT: `alg: none` in any casing (CVE-2015-9235 family, RFC 8725 §3.1). Refused before any key is tried.
  ...['none', 'None', 'NONE', 'nOnE'].map((alg): ConformanceCase => ({
    name: `attack: jwt alg "${alg}" with an empty signature`,
    options: required('jwt'),
    request: { headers: bearer(`${jwtPart({ alg, typ: 'JWT' })}.${jwtPart(claimsAt())}.`) },
    expect: rejected('INVALID_SIGNATURE'),
  })),
  {
    name: 'attack: jwt alg "none" carrying a genuine HS256 signature',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ alg: 'none' }, claimsAt(), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt alg "none" while every HMAC algorithm is allowed',
    options: required('jwt', { algorithms: ['HS256', 'HS384', 'HS512'] }),
    request: { headers: bearer(`${jwtPart({ alg: 'none' })}.${jwtPart(claimsAt())}.`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt with no alg',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ typ: 'JWT' }, claimsAt(), LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt alg as an array',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ alg: ['HS256'] }, claimsAt(), LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt alg smuggled in a "__proto__" header member is not read',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt('{"__proto__":{"alg":"HS256"},"typ":"JWT"}', claimsAt(), LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt duplicate alg, "none" last (the parsed value is the one checked)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt('{"alg":"HS256","alg":"none"}', claimsAt(), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },

  // --- JWT: an algorithm not allowed (express-jwt CVE-2020-15084: no allow-list; RFC 8725 §3.2).
  {
    name: 'attack: jwt HS384, correctly signed, not in algorithms',
    options: required('jwt'),
    request: { headers: bearer(signJwt({ externalId: 'a' }, LIVE_KEY, { algorithm: 'HS384', now: frozenClock })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt RS256 header over an HMAC made with the key (algorithm confusion)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ alg: 'RS256', typ: 'JWT' }, claimsAt(), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt ES256 header',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ alg: 'ES256' }, claimsAt(), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt alg "hs256" in lower case (names are case-sensitive)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ alg: 'hs256' }, claimsAt(), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt alg "HS256 " with a trailing space',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ alg: 'HS256 ' }, claimsAt(), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt HS256 header with an HS512-sized signature (both allowed)',
    options: required('jwt', { algorithms: ['HS256', 'HS512'] }),
    request: {
      headers: bearer(
        `${validHeader}.${validPayload}.${createHmac('sha512', LIVE_KEY).update(`${validHeader}.${validPayload}`).digest('base64url')}`,
      ),
    },
    expect: rejected('INVALID_SIGNATURE'),
  },

  // --- Empty, truncated and over-long signatures.
  {
    name: 'attack: jwt with an empty signature',
    options: required('jwt'),
    request: { headers: bearer(`${validHeader}.${validPayload}.`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt with a truncated signature (30 bytes)',
    options: required('jwt'),
    request: { headers: bearer(`${validHeader}.${validPayload}.${validSignature.slice(0, 40)}`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt with an over-long signature (35 bytes)',
    options: required('jwt'),
    request: { headers: bearer(`${validHeader}.${validPayload}.${validSignature}AAAA`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt signature with base64 padding (non-canonical)',
    options: required('jwt'),
    request: { headers: bearer(`${validToken}=`) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt with two parts',
    options: required('jwt'),
    request: { headers: bearer(`${validHeader}.${validPayload}`) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt with five parts (a JWE shape)',
    options: required('jwt'),
    request: { headers: bearer(`${validToken}.${validSignature}.${validSignature}`) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_hash empty',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: '' } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_hash truncated to 31 bytes',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: liveHash.slice(0, 62) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_hash truncated to an odd number of hex digits',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: liveHash.slice(0, 63) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_hash over-long (33 bytes)',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: `${liveHash}00` } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_hash far too long (2048 hex digits), refused unread',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: liveHash.repeat(32) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_hash all zeros',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: '0'.repeat(64) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_hash with a 0x prefix',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: `0x${liveHash}` } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: signed-payload signature empty',
    options: required('signed-payload'),
    request: { body: { ...payloadFor({ externalId: '1' }), signature: '' } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: signed-payload signature truncated',
    options: required('signed-payload'),
    request: { body: { ...payloadFor({ externalId: '1' }), signature: payloadFor({ externalId: '1' }).signature.slice(0, 32) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: signed-payload signature doubled (64 bytes)',
    options: required('signed-payload'),
    request: { body: { ...payloadFor({ externalId: '1' }), signature: payloadFor({ externalId: '1' }).signature.repeat(2) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: visitor hmac empty',
    options: required('visitor-hash'),
    request: { body: { anonymousUserId: 'v1', hmac: '' } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact-hash user_hash truncated',
    options: required('contact-hash'),
    request: { body: { ext_user_id: 'c1', user_hash: signContactHash({ ext_user_id: 'c1' }, LIVE_KEY).slice(0, 60) } },
    expect: rejected('INVALID_SIGNATURE'),
  },

  // --- crit (RFC 7515 §4.1.11: an unknown critical extension must be refused).
  {
    name: 'attack: jwt crit ["exp"] with a genuine signature',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, crit: ['exp'] }, claimsAt(), LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt crit [] with a genuine signature',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, crit: [] }, claimsAt(), LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt b64:false (RFC 7797) with crit',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, b64: false, crit: ['b64'] }, claimsAt(), LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },

  // --- kid: a label matched against the configured keys' ids, never a path or a query (RFC 8725 §3.10).
  // It selects among configured keys only; a kid no key carries leaves the keys without an id.
  {
    name: 'attack: jwt kid path traversal to /dev/null, signed with an empty key',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, kid: '../../../../../../dev/null' }, claimsAt(), '')) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt kid SQL injection selecting the attacker key',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, kid: `' UNION SELECT '${ATTACKER_KEY}' --` }, claimsAt(), ATTACKER_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt kid path traversal with a genuine signature: a kid names no key without an id, verified',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, kid: '../../etc/passwd' }, claimsAt({ externalId: 'k1' }), LIVE_KEY)) },
    expect: verified('jwt', { externalId: 'k1' }),
  },
  {
    name: 'attack: jwt kid naming the previous key selects it alone: signed with the live key, refused',
    options: required('jwt', {
      keys: [
        { secret: LIVE_KEY, id: 'new' },
        { secret: PREVIOUS_KEY, id: 'old' },
      ],
    }),
    request: { headers: bearer(forgeJwt({ ...HS256, kid: 'old' }, claimsAt({ externalId: 'k2' }), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt kid naming no key when every key has an id: refused',
    options: required('jwt', {
      keys: [
        { secret: LIVE_KEY, id: 'new' },
        { secret: PREVIOUS_KEY, id: 'old' },
      ],
    }),
    request: { headers: bearer(forgeJwt({ ...HS256, kid: 'other' }, claimsAt({ externalId: 'k2' }), LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt kid naming the key that signed it: verified, keyId reported',
    options: required('jwt', {
      keys: [
        { secret: LIVE_KEY, id: 'new' },
        { secret: PREVIOUS_KEY, id: 'old' },
      ],
    }),
    request: { headers: bearer(forgeJwt({ ...HS256, kid: 'old' }, claimsAt({ externalId: 'k2' }), PREVIOUS_KEY)) },
    expect: verified('jwt', { externalId: 'k2' }, { keyId: 'old' }),
  },

  // --- jku, x5u, jwk: keys come only from the configuration.
  {
    name: 'attack: jwt embedding its own key (jwk) and signed with it',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, jwk: { kty: 'oct', k: jwtPart(ATTACKER_KEY) } }, claimsAt(), ATTACKER_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt pointing at the attacker key set (jku)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, jku: 'https://attacker.example/jwks.json' }, claimsAt(), ATTACKER_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt pointing at the attacker certificate (x5u)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt({ ...HS256, x5u: 'https://attacker.example/cert.pem' }, claimsAt(), ATTACKER_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt with jku, x5u and jwk and a genuine signature: all ignored, verified',
    options: required('jwt'),
    request: {
      headers: bearer(
        forgeJwt(
          {
            ...HS256,
            jku: 'https://attacker.example/jwks.json',
            x5u: 'https://attacker.example/c.pem',
            jwk: { kty: 'oct', k: jwtPart(ATTACKER_KEY) },
          },
          claimsAt({ externalId: 'k3' }),
          LIVE_KEY,
        ),
      ),
    },
    expect: verified('jwt', { externalId: 'k3' }),
  },

  // --- Nested objects and arrays where strings are expected.
  {
    name: 'attack: user_id as an object',
    options: required('user-hash'),
    request: { body: { user_id: { $ne: null }, user_hash: liveHash } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_id as an array',
    options: required('user-hash'),
    request: { body: { user_id: ['u1'], user_hash: liveHash } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_hash as an array',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: [liveHash] } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_metadata as a string',
    options: required('user-hash'),
    request: { body: { ...userHashBody('u1'), user_metadata: 'email=ceo@example.com' } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_metadata value nested',
    options: required('user-hash'),
    request: { body: { ...userHashBody('u1'), user_metadata: { plan: { tier: 'enterprise' } } } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: user_metadata.email as an array',
    options: required('user-hash'),
    request: { body: { ...userHashBody('u1'), user_metadata: { email: ['a@example.com', 'ceo@example.com'] } } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: customer as an array',
    options: required('signed-payload'),
    request: { body: { customer: [{ externalId: '1', timestamp: NOW_SECONDS }], signature: payloadFor({ externalId: '1' }).signature } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: customer.externalId as an object',
    options: required('signed-payload'),
    request: { body: { customer: { externalId: { toString: 'admin' }, timestamp: NOW_SECONDS }, signature: '0'.repeat(64) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: customer.email as an array',
    options: required('signed-payload'),
    request: { body: { customer: { email: ['a@example.com'], timestamp: NOW_SECONDS }, signature: '0'.repeat(64) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: signed-payload signature as an object',
    options: required('signed-payload'),
    request: { body: { customer: { externalId: '1', timestamp: NOW_SECONDS }, signature: { hex: '00' } } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt externalId claim as an object',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ externalId: { id: 'admin' } })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt email claim as an array',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ email: ['a@example.com', 'ceo@example.com'] })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt custom claim nested',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ externalId: 'a', roles: { admin: true } })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt payload an array',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt(HS256, [claimsAt()], LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt token in the body as an array',
    options: required('jwt'),
    request: { body: { token: [validToken] } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: contact-hash ext_user_id as an object',
    options: required('contact-hash'),
    request: { body: { ext_user_id: { id: 'c1' }, user_hash: signContactHash({ ext_user_id: 'c1' }, LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: contact-hash email as an array',
    options: required('contact-hash'),
    request: { body: { email: ['c@example.com'], user_hash: signContactHash({ email: 'c@example.com' }, LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: visitor anonymousUserId as an array',
    options: required('visitor-hash'),
    request: { body: { anonymousUserId: ['v1'], hmac: signVisitorHash('v1', LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: visitor metadata value nested',
    options: required('visitor-hash'),
    request: { body: { ...visitorBody('v1'), metadata: { company: { name: 'x' } } } },
    expect: rejected('MALFORMED_IDENTITY'),
  },

  // --- Numbers for ids (a number is not the string the site signed).
  {
    name: 'attack: jwt externalId as a number',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ externalId: 42 })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt sub as a number',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ sub: 42 })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: customer.externalId as a number, correctly signed',
    options: required('signed-payload'),
    request: { body: payloadAnyway({ externalId: 42 }) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: customer.timestamp as a string',
    options: required('signed-payload'),
    request: {
      body: {
        customer: { externalId: '1', timestamp: String(NOW_SECONDS) },
        signature: payloadSignature({ externalId: '1', timestamp: String(NOW_SECONDS) }),
      },
    },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt iat as a string',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ externalId: 'a', iat: String(NOW_SECONDS) })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: jwt iat 1e400 (parses to Infinity)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt(HS256, '{"externalId":"a","iat":1e400}', LIVE_KEY)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: contact-hash ext_user_id as a number',
    options: required('contact-hash'),
    request: { body: { ext_user_id: 42, user_hash: signContactHash({ ext_user_id: '42' }, LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: contact-hash phone as a number',
    options: required('contact-hash'),
    request: { body: { phone: 15551234567, user_hash: signContactHash({ phone: '15551234567' }, LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: visitor anonymousUserId as a number',
    options: required('visitor-hash'),
    request: { body: { anonymousUserId: 7, hmac: signVisitorHash('7', LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },

  // --- Prototype keys (`__proto__` in a JSON body is refused by Koa's parser: see attacks.test.ts).
  {
    name: 'attack: constructor and prototype in visitor metadata are dropped',
    options: required('visitor-hash'),
    request: rawJson(
      `{"anonymousUserId":"v1","hmac":"${signVisitorHash('v1', LIVE_KEY)}","metadata":{"constructor":"c","prototype":"p","plan":"pro"}}`,
    ),
    expect: verified('visitor-hash', { attributes: { plan: 'pro' } }),
  },
  {
    name: 'attack: constructor and prototype signed in a customer: verified, dropped from attributes',
    options: required('signed-payload'),
    request: { body: payloadFor({ externalId: '1', constructor: 'c', prototype: 'p', plan: 'pro' }) },
    expect: verified('signed-payload', { attributes: { plan: 'pro' }, verifiedFields: ['externalId', 'attributes.plan'] }),
  },
  {
    name: 'attack: customer.constructor nested',
    options: required('signed-payload'),
    request: rawJson(
      `{"customer":{"externalId":"1","timestamp":${NOW_SECONDS},"constructor":{"prototype":{"admin":true}}},"signature":"${'0'.repeat(64)}"}`,
    ),
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: __proto__, constructor and prototype claims in a jwt: verified, dropped',
    options: required('jwt'),
    request: {
      headers: bearer(
        forgeJwt(
          HS256,
          `{"externalId":"p1","iat":${NOW_SECONDS},"__proto__":{"admin":true},"constructor":"c","prototype":"p","plan":"pro"}`,
          LIVE_KEY,
        ),
      ),
    },
    expect: verified('jwt', { externalId: 'p1', attributes: { plan: 'pro' }, verifiedFields: ['externalId', 'attributes.plan'] }),
  },
  {
    name: 'attack: jwt identity only inside "__proto__" is not read',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt(HS256, `{"__proto__":{"externalId":"admin"},"iat":${NOW_SECONDS}}`, LIVE_KEY)) },
    expect: rejected('MISSING_REQUIRED_FIELD'),
  },
  {
    name: 'attack: jwt iat only inside "__proto__" is not read',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt(HS256, `{"externalId":"a","__proto__":{"iat":${NOW_SECONDS}}}`, LIVE_KEY)) },
    expect: rejected('MISSING_REQUIRED_FIELD'),
  },

  // --- Sizes that still fit a default body parser (the 1 MB id and the 10 MB body are in attacks.test.ts).
  {
    name: 'attack: a 50 kB user_id',
    options: required('user-hash'),
    request: { body: userHashAnyway('a'.repeat(50_000)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: a 256-character user_id, correctly signed',
    options: required('user-hash'),
    request: { body: userHashAnyway('a'.repeat(256)) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: a 9 kB customer, correctly signed',
    options: required('signed-payload'),
    request: { body: payloadAnyway({ externalId: '1', bio: 'x'.repeat(9000) }) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: 51 attributes, correctly signed',
    options: required('signed-payload'),
    request: { body: payloadAnyway({ externalId: '1', ...Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, i])) }) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: an 8193-character jwt in the Authorization header',
    options: required('jwt'),
    request: { headers: bearer(signedAnyway({ externalId: 'a', pad: 'x'.repeat(6100) })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },

  // --- Unicode: NFC and NFD of one name are different signed strings; nothing is normalised.
  {
    name: 'attack: user_id in NFD with the hash of its NFC form',
    options: required('user-hash'),
    request: { body: { user_id: NFD, user_hash: signUserHash(NFC, LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_id in NFD with its own hash: verified as sent, not normalised',
    options: required('user-hash'),
    request: { body: userHashBody(NFD) },
    expect: verified('user-hash', { externalId: NFD }),
  },
  {
    name: 'attack: customer name in NFD under a signature of the NFC form',
    options: required('signed-payload'),
    request: {
      body: {
        customer: { ...payloadFor({ externalId: '1', name: NFC }).customer, name: NFD },
        signature: payloadFor({ externalId: '1', name: NFC }).signature,
      },
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact-hash email in NFD under the hash of the NFC form',
    options: required('contact-hash'),
    request: { body: { email: `${NFD}@example.com`, user_hash: signContactHash({ email: `${NFC}@example.com` }, LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },

  {
    name: 'attack: user_id with a lone surrogate where the site signed U+FFFD (same UTF-8 bytes)',
    options: required('user-hash'),
    request: { body: { user_id: 'user\ud80042', user_hash: signUserHash('user\ufffd42', LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: visitor id with a lone low surrogate where the site signed U+FFFD',
    options: required('visitor-hash'),
    request: { body: { anonymousUserId: '\udfffv', hmac: signVisitorHash('\ufffdv', LIVE_KEY) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },

  // --- Case: ids are case-sensitive (seed 000: "External IDs are case-sensitive").
  {
    name: 'attack: user_id in another case',
    options: required('user-hash'),
    request: { body: { user_id: 'user-42', user_hash: signUserHash('User-42', LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact-hash email in another case',
    options: required('contact-hash'),
    request: { body: { email: 'jane@example.com', user_hash: signContactHash({ email: 'Jane@Example.com' }, LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: customer.externalId in another case',
    options: required('signed-payload'),
    request: { body: { customer: { externalId: 'abc', timestamp: NOW_SECONDS }, signature: payloadFor({ externalId: 'ABC' }).signature } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt externalId re-cased by editing the payload',
    options: required('jwt'),
    request: { headers: bearer(`${validHeader}.${jwtPart({ externalId: 'J1', iat: NOW_SECONDS })}.${validSignature}`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_hash in upper-case hex is the same signature: verified',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: liveHash.toUpperCase() } },
    expect: verified('user-hash', { externalId: 'u1' }),
  },

  // --- Leading and trailing whitespace: never trimmed from a signed value.
  {
    name: 'attack: user_id with a leading space',
    options: required('user-hash'),
    request: { body: { user_id: ' u1', user_hash: liveHash } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_id with a trailing newline',
    options: required('user-hash'),
    request: { body: { user_id: 'u1\n', user_hash: liveHash } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_id with a NUL and more after it',
    options: required('user-hash'),
    request: { body: { user_id: 'u1\u0000admin', user_hash: liveHash } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: user_hash with a trailing space',
    options: required('user-hash'),
    request: { body: { user_id: 'u1', user_hash: `${liveHash} ` } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: customer.externalId with a trailing space',
    options: required('signed-payload'),
    request: { body: { customer: { externalId: '1 ', timestamp: NOW_SECONDS }, signature: payloadFor({ externalId: '1' }).signature } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact-hash ext_user_id with a leading tab',
    options: required('contact-hash'),
    request: { body: { ext_user_id: '\tc1', user_hash: signContactHash({ ext_user_id: 'c1' }, LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt in the body with a trailing space',
    options: required('jwt'),
    request: { body: { token: `${validToken} ` } },
    expect: rejected('MALFORMED_IDENTITY'),
  },

  // --- Test mode declared by the client relaxes nothing (seed 000's testMode is a request flag).
  {
    name: 'attack: testMode true, live signature 30 minutes old, no test key configured',
    options: required('signed-payload', { now: clockAt(1800) }),
    request: { body: { ...payloadFor({ externalId: '1' }), testMode: true } },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: testMode true, live signature 6 minutes old',
    options: required('signed-payload', { keys: [LIVE_KEY, TEST_KEY], now: clockAt(360) }),
    request: { body: { ...payloadFor({ externalId: '1' }), testMode: true } },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: testMode "true" as a string, live signature 30 minutes old: no hint either',
    options: required('signed-payload', { now: clockAt(1800) }),
    request: { body: { ...payloadFor({ externalId: '1' }), testMode: 'true' } },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: testMode true does not verify a wrong user hash',
    options: required('user-hash'),
    request: { body: { user_id: 'admin', user_hash: liveHash, testMode: true } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: an sk_test_ secret marked test: false gets the live window',
    options: required('signed-payload', { keys: [{ secret: TEST_KEY, test: false }], now: clockAt(1800) }),
    request: { body: payloadFor({ externalId: '1' }, TEST_KEY) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: test key signature older than testMaxAge',
    options: required('signed-payload', { keys: [LIVE_KEY, TEST_KEY], now: clockAt(3601) }),
    request: { body: payloadFor({ externalId: '1' }, TEST_KEY) },
    expect: rejected('SIGNATURE_EXPIRED', true),
  },

  // --- Test keys turned off.
  {
    name: 'attack: signed-payload by a test key while test keys are off',
    options: required('signed-payload', { keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false }),
    request: { body: payloadFor({ externalId: '1' }, TEST_KEY) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt by a test key while test keys are off',
    options: required('jwt', { keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false }),
    request: { headers: bearer(jwtFor({ externalId: 'a' }, TEST_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: only test keys configured while test keys are off: fail closed',
    options: required('user-hash', { keys: [TEST_KEY], allowTestKeys: false }),
    request: { body: userHashBody('u1', TEST_KEY) },
    expect: rejected('KEY_UNAVAILABLE'),
  },

  // --- The previous key after its grace period (seed 000: 24 hours).
  {
    name: 'attack: signed-payload by the previous key after its grace period',
    options: required('signed-payload', { keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: NOW_SECONDS * 1000 - 86_400_000 }] }),
    request: { body: payloadFor({ externalId: '1' }, PREVIOUS_KEY) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: jwt by the previous key after its grace period',
    options: required('jwt', { keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: new Date(NOW_SECONDS * 1000) }] }),
    request: { headers: bearer(jwtFor({ externalId: 'a' }, PREVIOUS_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact-hash by the previous key after its grace period',
    options: required('contact-hash', { keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: NOW_SECONDS * 1000 }] }),
    request: { body: { ext_user_id: 'c1', user_hash: signContactHash({ ext_user_id: 'c1' }, PREVIOUS_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a year-old user hash made with a key that has since expired',
    options: required('user-hash', {
      keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: NOW_SECONDS * 1000 }],
      now: clockAt(365 * 86_400),
    }),
    request: { body: userHashBody('u1', PREVIOUS_KEY) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: only the previous key configured, expired: fail closed',
    options: required('user-hash', { keys: [{ secret: PREVIOUS_KEY, expiresAt: NOW_SECONDS * 1000 }] }),
    request: { body: userHashBody('u1', PREVIOUS_KEY) },
    expect: rejected('KEY_UNAVAILABLE'),
  },

  // --- Replay: timestamps bound it; inside the window a copy is accepted (there is no nonce).
  {
    name: 'attack: a signed payload replayed 6 minutes later',
    options: required('signed-payload', { now: clockAt(360) }),
    request: { body: payloadFor({ externalId: '1' }) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a signed payload replayed at exactly 300 seconds is still accepted',
    options: required('signed-payload', { now: clockAt(300) }),
    request: { body: payloadFor({ externalId: '1' }) },
    expect: verified('signed-payload', { externalId: '1' }),
  },
  {
    name: 'attack: a jwt replayed 16 minutes later',
    options: required('jwt', { now: clockAt(960) }),
    request: { headers: bearer(jwtFor({ externalId: 'a' })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a jwt with a far exp does not outlive its iat window',
    options: required('jwt', { now: clockAt(3600) }),
    request: { headers: bearer(jwtFor({ externalId: 'a', exp: NOW_SECONDS + 86_400 * 365 })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a jwt past its exp',
    options: required('jwt', { now: clockAt(200) }),
    request: { headers: bearer(jwtFor({ externalId: 'a', exp: NOW_SECONDS + 100 })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a user hash replayed a year later is accepted (it never expires)',
    options: required('user-hash', { now: clockAt(365 * 86_400) }),
    request: { body: userHashBody('u1') },
    expect: verified('user-hash', { externalId: 'u1' }),
  },
  {
    name: 'attack: a visitor hmac replayed a year later is accepted (it never expires)',
    options: required('visitor-hash', { now: clockAt(365 * 86_400) }),
    request: { body: visitorBody('v1') },
    expect: verified('visitor-hash', { anonymousId: 'v1' }),
  },

  // --- Future, millisecond, negative and zero timestamps.
  {
    name: 'attack: a signed payload 61 seconds in the future',
    options: required('signed-payload'),
    request: { body: payloadFor({ externalId: '1' }, LIVE_KEY, NOW_SECONDS + 61) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a signed payload 60 seconds in the future is within clockTolerance',
    options: required('signed-payload'),
    request: { body: payloadFor({ externalId: '1' }, LIVE_KEY, NOW_SECONDS + 60) },
    expect: verified('signed-payload', { externalId: '1' }),
  },
  {
    name: 'attack: a jwt issued 61 seconds in the future',
    options: required('jwt'),
    request: { headers: bearer(jwtFor({ externalId: 'a', iat: NOW_SECONDS + 61 })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a jwt not valid before 2 minutes from now (nbf)',
    options: required('jwt'),
    request: { headers: bearer(jwtFor({ externalId: 'a', nbf: NOW_SECONDS + 120 })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a signed payload timestamp in milliseconds',
    options: required('signed-payload'),
    request: { body: payloadFor({ externalId: '1' }, LIVE_KEY, NOW_SECONDS * 1000) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a signed payload timestamp in milliseconds, test mode: no hint, the client cannot ask for one',
    options: required('signed-payload'),
    request: { body: { ...payloadFor({ externalId: '1' }, LIVE_KEY, NOW_SECONDS * 1000), testMode: true } },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a jwt iat in milliseconds',
    options: required('jwt'),
    request: { headers: bearer(jwtFor({ externalId: 'a', iat: NOW_SECONDS * 1000 })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a negative timestamp',
    options: required('signed-payload'),
    request: { body: payloadFor({ externalId: '1' }, LIVE_KEY, -1) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: a zero iat',
    options: required('jwt'),
    request: { headers: bearer(jwtFor({ externalId: 'a', iat: 0 })) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },

  // --- Tenant A's signature presented for tenant B.
  {
    name: 'attack: jwt of tenant A presented for tenant B',
    options: required('jwt', tenantOptions),
    request: { headers: { ...team('globex'), ...bearer(jwtFor({ externalId: 'a' }, LIVE_KEY)) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: signed payload of tenant A presented for tenant B',
    options: required('signed-payload', tenantOptions),
    request: { headers: team('globex'), body: payloadFor({ externalId: '1' }, LIVE_KEY) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact hash of tenant B presented for tenant A',
    options: required('contact-hash', tenantOptions),
    request: { headers: team('acme'), body: { ext_user_id: 'c1', user_hash: signContactHash({ ext_user_id: 'c1' }, OTHER_TENANT_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: visitor hmac of tenant A presented for tenant B',
    options: required('visitor-hash', tenantOptions),
    request: { headers: team('globex'), body: visitorBody('v1', LIVE_KEY) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: no tenant named: no keys, fail closed',
    options: required('user-hash', tenantOptions),
    request: { body: userHashBody('u1') },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  ...['__proto__', 'constructor', 'toString'].map((name): ConformanceCase => ({
    name: `attack: tenant named "${name}" against a plain-object key lookup: fail closed`,
    options: required('user-hash', tenantOptions),
    request: { headers: team(name), body: userHashBody('u1') },
    expect: rejected('KEY_UNAVAILABLE'),
  })),

  // --- A proof for user A with user B's identity.
  {
    name: "attack: contact hash of user A with user B's ext_user_id",
    options: required('contact-hash'),
    request: { body: { ext_user_id: 'victim', user_hash: signContactHash({ ext_user_id: 'attacker' }, LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: contact hash of the attacker's email with the victim's ext_user_id (priority)",
    options: required('contact-hash'),
    request: {
      body: {
        ext_user_id: 'victim',
        email: 'attacker@example.com',
        user_hash: signContactHash({ email: 'attacker@example.com' }, LIVE_KEY),
      },
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: contact hash of the attacker's phone with the victim's email (priority)",
    options: required('contact-hash'),
    request: {
      body: { email: 'victim@example.com', phone: '+15550000001', user_hash: signContactHash({ phone: '+15550000001' }, LIVE_KEY) },
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: contact-hash ext_user_id and external_user_id disagree',
    options: required('contact-hash'),
    request: {
      body: { ext_user_id: 'attacker', external_user_id: 'victim', user_hash: signContactHash({ ext_user_id: 'attacker' }, LIVE_KEY) },
    },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: "attack: visitor hmac of visitor A with visitor B's id",
    options: required('visitor-hash'),
    request: { body: { anonymousUserId: 'victim-visitor', hmac: signVisitorHash('attacker-visitor', LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: signed payload of user A with user B's externalId",
    options: required('signed-payload'),
    request: {
      body: {
        customer: { ...payloadFor({ externalId: 'attacker' }).customer, externalId: 'victim' },
        signature: payloadFor({ externalId: 'attacker' }).signature,
      },
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: jwt splicing user B's payload under user A's signature",
    options: required('jwt'),
    request: { headers: bearer(`${validHeader}.${jwtPart({ externalId: 'victim', iat: NOW_SECONDS })}.${validSignature}`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a signed field added to a customer after signing',
    options: required('signed-payload'),
    request: {
      body: {
        customer: { ...payloadFor({ externalId: '1' }).customer, email: 'ceo@example.com' },
        signature: payloadFor({ externalId: '1' }).signature,
      },
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a verified user id with an unverified email: the email is carried, not verified',
    options: required('user-hash'),
    request: { body: { ...userHashBody('attacker'), user_metadata: { email: 'ceo@victim.example', name: 'The CEO' } } },
    expect: verified('user-hash', {
      externalId: 'attacker',
      email: 'ceo@victim.example',
      verifiedFields: ['externalId'],
      identityKey: 'externalId',
    }),
  },
  {
    name: 'attack: visitor hmac with a claimed externalId and email: only the visitor id is verified',
    options: required('visitor-hash'),
    request: { body: { ...visitorBody('v1'), externalId: 'admin', email: 'ceo@victim.example' } },
    expect: verified('visitor-hash', {
      anonymousId: 'v1',
      externalId: 'admin',
      verifiedFields: ['anonymousId'],
      identityKey: 'anonymousId',
    }),
  },

  // --- Several schemes: a failing proof is not retried with a weaker one.
  {
    name: 'attack: a forged jwt beside a valid user hash, jwt first: the jwt decides',
    options: required(['jwt', 'user-hash'], { keys: { jwt: [SECOND_SCHEME_KEY], 'user-hash': [LIVE_KEY] } }),
    request: { headers: bearer(forgeJwt(HS256, claimsAt(), ATTACKER_KEY)), body: userHashBody('u1') },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a claimed user_id beside a valid visitor hmac: verified as the visitor only',
    options: required('visitor-hash'),
    request: { body: { user_id: 'admin', ...visitorBody('v1') } },
    expect: verified('visitor-hash', { anonymousId: 'v1', verifiedFields: ['anonymousId'] }),
  },

  // --- Duplicate JSON keys in the body: the parsers keep the last value, and so does the signature check.
  {
    name: 'attack: duplicate user_id, victim first, attacker last with the attacker hash: verified as the attacker',
    options: required('user-hash'),
    request: rawJson(`{"user_id":"victim","user_id":"attacker","user_hash":"${signUserHash('attacker', LIVE_KEY)}"}`),
    expect: verified('user-hash', { externalId: 'attacker' }),
  },
  {
    name: 'attack: duplicate user_id, attacker first with the attacker hash, victim last',
    options: required('user-hash'),
    request: rawJson(`{"user_id":"attacker","user_id":"victim","user_hash":"${signUserHash('attacker', LIVE_KEY)}"}`),
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: duplicate user_hash, right one first, wrong one last',
    options: required('user-hash'),
    request: rawJson(`{"user_id":"u1","user_hash":"${liveHash}","user_hash":"${'0'.repeat(64)}"}`),
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: duplicate customer.externalId, signed one first, victim last',
    options: required('signed-payload'),
    request: rawJson(
      `{"customer":{"externalId":"attacker","externalId":"victim","timestamp":${NOW_SECONDS}},"signature":"${payloadFor({ externalId: 'attacker' }).signature}"}`,
    ),
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: duplicate customer, signed one first, forged one last',
    options: required('signed-payload'),
    request: rawJson(
      `{"customer":${JSON.stringify(payloadFor({ externalId: 'attacker' }).customer)},"customer":{"externalId":"victim","timestamp":${NOW_SECONDS}},"signature":"${payloadFor({ externalId: 'attacker' }).signature}"}`,
    ),
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: duplicate claims inside a signed jwt: the last is used (RFC 7519 §4)',
    options: required('jwt'),
    request: { headers: bearer(forgeJwt(HS256, `{"externalId":"first","externalId":"last","iat":${NOW_SECONDS}}`, LIVE_KEY)) },
    expect: verified('jwt', { externalId: 'last' }),
  },

  // --- Key material that is not a key: fail closed (jsonwebtoken CVE-2022-23540: a falsy key).
  {
    name: 'attack: a keys lookup that returns an empty secret: fail closed',
    options: required('jwt', { keys: () => [''] }),
    request: { headers: bearer(`${jwtPart({ alg: 'none' })}.${jwtPart(claimsAt())}.`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a keys lookup that returns an empty secret, HS256 token signed with it',
    options: required('jwt', { keys: () => [''] }),
    request: { headers: bearer(forgeJwt(HS256, claimsAt(), '')) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  {
    name: 'attack: a keys lookup that returns nothing',
    options: required('jwt', { keys: () => undefined }),
    request: { headers: bearer(forgeJwt(HS256, claimsAt(), '')) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  {
    name: 'attack: a keys lookup that throws a message naming the secret',
    options: required('user-hash', {
      keys: () => {
        throw new Error(`cannot decrypt ${LIVE_KEY}`);
      },
    }),
    request: { body: userHashBody('u1') },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  // --- The attack review: one scheme's signature presented as another's. The wire formats are
  // fixed, so only keys separate them: a site that signs any user id signs this token's input too.
  {
    name: "attack: a user hash over a crafted id, re-encoded as a jwt, with each scheme's own key",
    options: required(['user-hash', 'jwt'], { keys: { 'user-hash': [LIVE_KEY], jwt: [SECOND_SCHEME_KEY] } }),
    before: [{ body: userHashBody(CRAFTED_ID) }],
    request: { headers: bearer(userHashAsJwt(LIVE_KEY)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a user hash over a crafted id, re-encoded as a jwt, one lookup giving the same secret to both schemes: refused',
    options: required(['user-hash', 'jwt'], { keys: () => [LIVE_KEY] }),
    before: [{ body: userHashBody(CRAFTED_ID) }],
    request: { headers: bearer(userHashAsJwt(LIVE_KEY)) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  {
    name: "attack: a user hash over a JSON id presented as a signed payload, with each scheme's own key",
    options: required(['user-hash', 'signed-payload'], { keys: { 'user-hash': [LIVE_KEY], 'signed-payload': [SECOND_SCHEME_KEY] } }),
    request: { body: { customer: CRAFTED_CUSTOMER, signature: signUserHash(canonicalJson(CRAFTED_CUSTOMER), LIVE_KEY) } },
    expect: rejected('INVALID_SIGNATURE'),
  },

  // --- The attack review: failures are limited before any work, parse failures and unknown tenants included.
  {
    name: 'attack: malformed proofs from one address are limited before they are read',
    options: { scheme: 'signed-payload', required: true, rateLimit: { address: { points: 3, duration: 60 } } },
    before: [1, 2, 3].map(() => ({ body: { customer: 'not an object', signature: 'x' } })),
    request: { body: { customer: 'not an object', signature: 'x' } },
    expect: { ...rejected('RATE_LIMITED'), status: 429, retryAfter: '60' },
  },
  {
    name: 'attack: unknown tenants count against the address',
    options: { scheme: 'user-hash', required: true, ...tenantOptions, rateLimit: { address: { points: 3, duration: 60 } } },
    before: ['x1', 'x2', 'x3'].map((name) => ({ headers: team(name), body: userHashBody('u1') })),
    request: { headers: team('acme'), body: userHashBody('u1') },
    expect: { ...rejected('RATE_LIMITED'), status: 429, retryAfter: '60' },
  },
  {
    name: 'attack: tenant names do not multiply guesses when the keys are the same for every tenant',
    options: {
      scheme: 'user-hash',
      required: true,
      tenant: tenantOptions.tenant,
      rateLimit: { identity: { points: 3, duration: 60 }, address: false },
    },
    before: ['t1', 't2', 't3'].map((name, i) => ({
      headers: team(name),
      body: { user_id: 'victim', user_hash: signUserHash(`guess-${i}`, LIVE_KEY) },
    })),
    request: { headers: team('t4'), body: userHashBody('victim') },
    expect: { ...rejected('RATE_LIMITED'), status: 429, retryAfter: '60' },
  },
  {
    name: 'attack: spellings of one tenant share one identity limit when the lookup names the tenant',
    options: {
      scheme: 'user-hash',
      required: true,
      tenant: tenantOptions.tenant,
      keys: (tenant: string | undefined) => (tenant?.toLowerCase() === 'acme' ? { tenant: 'acme', keys: [LIVE_KEY] } : undefined),
      rateLimit: { identity: { points: 3, duration: 60 }, address: false },
    },
    before: ['ACME', 'Acme', 'aCme'].map((name, i) => ({
      headers: team(name),
      body: { user_id: 'victim', user_hash: signUserHash(`guess-${i}`, LIVE_KEY) },
    })),
    request: { headers: team('acme'), body: userHashBody('victim') },
    expect: { ...rejected('RATE_LIMITED'), status: 429, retryAfter: '60' },
  },
  {
    name: 'attack: a 10 kB tenant name is refused before any lookup',
    options: required('user-hash', tenantOptions),
    request: { headers: team('a'.repeat(10_000)), body: userHashBody('u1') },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: a keys lookup returning a secret with a trailing newline: fail closed',
    options: required('user-hash', { keys: () => [`${LIVE_KEY}\n`] }),
    request: { body: userHashBody('u1') },
    expect: rejected('KEY_UNAVAILABLE'),
  },

  // --- The attack review: a payload's size is bounded in every spelling, before it is serialised.
  {
    name: 'attack: 56 customer fields, refused before serialising',
    options: required('signed-payload'),
    request: { body: { customer: Object.fromEntries(Array.from({ length: 56 }, (_, i) => [`f${i}`, i])), signature: '0'.repeat(64) } },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: a customer whose escaped spelling is over 8192 characters, correctly signed',
    options: required('signed-payload'),
    request: { body: payloadAnyway({ externalId: '1', a: '\u00e9'.repeat(1000), b: '\u00e9'.repeat(1000) }) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
];

// --- Sessions (docs/sessions.md, SECURITY.md › Sessions): a session credential is the server's own,
// HMAC-SHA256 under its session keys with a fixed prefix, bound to tenant, scheme, contact, site key
// and (optionally) a browser key. Credentials of other verifiers are minted at load by real verifiers.
const SESSION: SessionOptions = { keys: [{ secret: SESSION_KEY, id: 's1' }] };
const sessionRequired = (extra: Partial<VerifierOptions> = {}) => required('user-hash', { session: SESSION, ...extra });
const sessionFor = (credential: string, headers: Record<string, string> = {}): CaseRequest => ({
  headers: { 'chat-identity-session': credential, ...headers },
});
const sessionOf = (credential: string) => sessionFor(credential);
/** A refused session: a dead credential is ended (the widget told); a refused DPoP proof leaves the session be. */
const refusedSession = (code: string, challenge = CHALLENGE_INVALID) => ({
  ...rejected(code),
  challenge,
  session: challenge === CHALLENGE_DPOP ? ('none' as const) : ('ended' as const),
});
const quietMint = { now: frozenClock, rateLimit: false as const };
const genuine = (await mintSession(
  { ...quietMint, scheme: 'user-hash', keys: [LIVE_KEY], session: SESSION },
  { body: userHashBody('u1') },
))!;
const genuineClaims = claimsOf(genuine);
const ofTenantA = (await mintSession(
  { ...quietMint, scheme: 'user-hash', ...tenantOptions, session: SESSION },
  { headers: team('acme'), body: userHashBody('u1') },
))!;
const ofAnotherSecret = (await mintSession(
  { ...quietMint, scheme: 'user-hash', keys: [LIVE_KEY], session: { keys: [{ secret: OTHER_VERIFIER_SESSION_KEY, id: 's1' }] } },
  { body: userHashBody('u1') },
))!;
const ofAnotherRing = (await mintSession(
  { ...quietMint, scheme: 'user-hash', keys: [LIVE_KEY], session: { keys: [OTHER_VERIFIER_SESSION_KEY] } },
  { body: userHashBody('u1') },
))!;
const ofTestKey = (await mintSession(
  { ...quietMint, scheme: 'user-hash', keys: [LIVE_KEY, TEST_KEY], session: SESSION },
  { body: userHashBody('u1', TEST_KEY) },
))!;
const ofJwt = (await mintSession(
  { ...quietMint, scheme: 'jwt', keys: [SECOND_SCHEME_KEY], session: SESSION },
  { headers: bearer(jwtFor({ externalId: 'u1' }, SECOND_SCHEME_KEY)) },
))!;
const victimKey = dpopKey();
const attackerKey = dpopKey();
const ofBound = (await mintSession(
  { ...quietMint, scheme: 'user-hash', keys: [LIVE_KEY], session: { ...SESSION, bind: 'dpop' } },
  { headers: { dpop: dpopProof(victimKey) }, body: userHashBody('u1'), method: 'POST', url: 'http://chat.example/chat' },
))!;
const bound = sessionRequired({ session: { ...SESSION, bind: 'dpop' } });
const boundProof: CaseRequest = { headers: { dpop: dpopProof(victimKey) }, body: userHashBody('u1') };
/** The victim's DPoP proof for a credential, made once: sending it twice is a replay. */
const madeOnce = new Map<string, string>();
const victimProofOnce = (credential: string) => ({
  dpop: madeOnce.get(credential) ?? madeOnce.set(credential, dpopProof(victimKey, { credential })).get(credential)!,
});

const SESSION_ATTACKS: ConformanceCase[] = [
  // Claims changed, the MAC kept: every claim is under the MAC.
  {
    name: 'attack: session claims changed to another identity, MAC kept',
    options: sessionRequired(),
    request: sessionOf(tamper(genuine, (claims) => void (claims.c = { externalId: 'admin' }))),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: session claims changed to another tenant, MAC kept',
    options: sessionRequired(tenantOptions),
    request: sessionFor(
      tamper(ofTenantA, (claims) => void (claims.t = 'globex')),
      team('globex'),
    ),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: "attack: tenant A's genuine session presented for tenant B (swapped tenant)",
    options: sessionRequired(tenantOptions),
    request: sessionFor(ofTenantA, team('globex')),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: session times moved forward to outlive its window, MAC kept',
    options: sessionRequired({ now: clockAt(7200) }),
    request: sessionOf(tamper(genuine, (claims) => void (claims.a = claims.n = NOW_SECONDS + 7000))),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a bound session with its key binding removed (claim b), MAC kept',
    options: sessionRequired(),
    request: sessionOf(tamper(ofBound, (claims) => void delete claims.b)),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  // Keys: a site's key, another verifier's, another use of the same key.
  {
    name: 'attack: a session forged with the site key (a tenant minting sessions)',
    options: sessionRequired(),
    request: sessionOf(forge({ ...genuineClaims, c: { externalId: 'admin' } }, LIVE_KEY)),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a MAC over the credential without its domain prefix (another use of the session key)',
    options: sessionRequired(),
    request: sessionOf(forge(genuineClaims, SESSION_KEY, '')),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a credential of another verifier, same session key id, another secret',
    options: sessionRequired(),
    request: sessionOf(ofAnotherSecret),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a credential of another verifier whose session keys this one lacks: refused, no MAC computed',
    options: sessionRequired(),
    request: sessionOf(ofAnotherRing),
    expect: refusedSession('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'attack: a session of another scheme (same session key) on a user-hash verifier',
    options: sessionRequired(),
    request: sessionOf(ofJwt),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a session from a test key on live traffic (allowTestKeys: false)',
    options: sessionRequired({ keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false }),
    request: sessionOf(ofTestKey),
    expect: refusedSession('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a session from a test key where live traffic configures no test key',
    options: sessionRequired(),
    request: sessionOf(ofTestKey),
    expect: refusedSession('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  // One algorithm, one shape.
  {
    name: 'attack: session version v2',
    options: sessionRequired(),
    request: sessionOf(`v2${genuine.slice(2)}`),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: session as an unsigned JWT (alg "none")',
    options: sessionRequired(),
    request: sessionOf(`${jwtPart({ alg: 'none' })}.${genuine.split('.')[1]}.`),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: "attack: a site's HS256 jwt presented as a session credential",
    options: sessionRequired(),
    request: sessionOf(jwtFor({ externalId: 'u1' })),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: session with an empty MAC',
    options: sessionRequired(),
    request: sessionOf(`${genuine.slice(0, genuine.lastIndexOf('.'))}.`),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: session with a truncated MAC (16 bytes)',
    options: sessionRequired(),
    request: sessionOf(genuine.slice(0, genuine.lastIndexOf('.') + 23)),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: session with an HMAC-SHA512-sized MAC (64 bytes)',
    options: sessionRequired(),
    request: sessionOf(`${genuine}${genuine.slice(genuine.lastIndexOf('.') + 1)}A`),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: session claims that are not JSON',
    options: sessionRequired(),
    request: sessionOf(`v1.${Buffer.from('{"q":').toString('base64url')}.${genuine.split('.')[2]}`),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: a session credential over 3072 characters, refused unread',
    options: sessionRequired(),
    request: sessionOf(`v1.${'A'.repeat(4000)}.${genuine.split('.')[2]}`),
    expect: refusedSession('MALFORMED_IDENTITY'),
  },
  // Replay.
  {
    name: 'attack: session replayed after logout, within the idle window',
    options: sessionRequired(),
    before: [{ body: userHashBody('u1') }, { session: true, at: 60, path: '/logout' }],
    request: { session: ([first]) => first!, at: 120 },
    expect: refusedSession('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'attack: tampered session credentials count as failed attempts',
    options: { scheme: 'user-hash', required: true, session: SESSION, rateLimit: { identity: { points: 2, duration: 60 } } },
    before: [
      { body: userHashBody('u1') },
      ...[1, 2].map((n): CaseRequest => ({ session: ([first]) => tamper(first!, (claims) => void (claims.a = (claims.a as number) - n)) })),
    ],
    request: { session: ([first]) => first! },
    expect: { ...rejected('RATE_LIMITED'), status: 429, retryAfter: '60' },
  },
  // Bound sessions (DPoP).
  {
    name: 'attack: a bound session lifted without its key (no DPoP proof)',
    options: bound,
    before: [boundProof],
    request: { session: true },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: "attack: a bound session lifted, with a DPoP proof of the attacker's key",
    options: bound,
    before: [boundProof],
    request: { session: true, sessionHeaders: (credential) => ({ dpop: dpopProof(attackerKey, { credential }) }) },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a bound session with its DPoP proof replayed (same jti)',
    options: bound,
    before: [boundProof, { session: true, sessionHeaders: victimProofOnce }],
    request: { session: true, sessionHeaders: victimProofOnce },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a bound session with a DPoP proof made for another URL',
    options: bound,
    before: [boundProof],
    request: {
      session: true,
      sessionHeaders: (credential) => ({ dpop: dpopProof(victimKey, { credential, url: 'http://chat.example/admin' }) }),
    },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a bound session with a DPoP proof made for another method',
    options: bound,
    before: [boundProof],
    request: { session: true, sessionHeaders: (credential) => ({ dpop: dpopProof(victimKey, { credential, method: 'GET' }) }) },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: "attack: a bound session with the DPoP proof of the identity proof's request (no ath)",
    options: bound,
    before: [boundProof],
    request: { session: true, headers: { dpop: boundProof.headers!.dpop! } },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a DPoP proof with alg "none"',
    options: bound,
    before: [boundProof],
    request: {
      session: true,
      sessionHeaders: (credential) => ({
        dpop: `${dpopProof(victimKey, { credential, header: { alg: 'none' } })
          .split('.')
          .slice(0, 2)
          .join('.')}.`,
      }),
    },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a DPoP proof naming one key and signed by another',
    options: bound,
    before: [boundProof],
    request: {
      session: true,
      sessionHeaders: (credential) => ({ dpop: dpopProof(attackerKey, { credential, header: { jwk: victimKey.jwk } }) }),
    },
    expect: refusedSession('INVALID_SIGNATURE', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a DPoP proof carrying a private key (d)',
    options: bound,
    before: [boundProof],
    request: {
      session: true,
      sessionHeaders: (credential) => ({ dpop: dpopProof(victimKey, { credential, header: { jwk: { ...victimKey.jwk, d: 'AAAA' } } }) }),
    },
    expect: refusedSession('MALFORMED_IDENTITY', CHALLENGE_DPOP),
  },
  {
    name: 'attack: a valid proof of identity with an invalid DPoP proof is refused, not left unbound',
    options: bound,
    request: { headers: { dpop: dpopProof(victimKey, { method: 'GET' }) }, body: userHashBody('u1') },
    expect: { ...rejected('INVALID_SIGNATURE'), challenge: CHALLENGE_DPOP, session: 'none' },
  },
];
ATTACK_CASES.push(...SESSION_ATTACKS);

// --- Asymmetric JWT (docs/jwks.md, SECURITY.md): the site signs with its private key; the chat
// backend holds public keys only. RFC 8725 §2.1 / §3.1 (alg none, algorithm confusion), §3.10
// (kid, jku, x5u, jwk), and Hono's CVE-2026-22817 / CVE-2026-22818 (the header's alg chose the
// algorithm when a JWK carried none). Every row is refused, or verifies a genuine token as shown.
const SITE_ES = keyPair('ES256', 'site-es');
const SITE_RS = keyPair('RS256', 'site-rs');
const SITE_ED = keyPair('EdDSA', 'site-ed');
const RSA_NO_ALG = keyPair('RS256', 'rsa-no-alg');
const ATTACKER_PAIR = keyPair('ES256', 'attacker');
/** The site's JWKS, as configured: ES256, RS256 and EdDSA keys, and an RSA key published without alg. */
const SITE_JWKS = { keys: [SITE_ES.jwk, SITE_RS.jwk, SITE_ED.jwk, withoutMembers(RSA_NO_ALG.jwk, 'alg')] };
const publicKeys = (extra: Partial<VerifierOptions> = {}) => required('jwt', { keys: [{ jwks: SITE_JWKS }], ...extra });
const signedBy = (pair: TestKeyPair, claims: Record<string, unknown> = {}, options: TokenOptions = {}) =>
  tokenBy(pair, { externalId: 'admin', ...claims }, options);
/** An HS256 token whose HMAC secret is `text`: what an attacker makes of a public key they hold. */
const hmacWith = (text: string, header: object = { alg: 'HS256', kid: SITE_ES.kid }) => forgeJwt(header, claimsAt(), text);
const esSignature = (bytes: Buffer) =>
  `${jwtPart({ alg: 'ES256', kid: SITE_ES.kid })}.${jwtPart(claimsAt())}.${bytes.toString('base64url')}`;
/** A JWKS served over HTTP for the rows that fetch one (test/support/jwksServer.ts), through a keys lookup. */
const fetched = (path: '/.well-known/jwks.json' | '/garbage.json') =>
  required('jwt', {
    keys: async () => {
      const server = await sharedJwksServer();
      server.serve(SITE_JWKS);
      server.route('/garbage.json', '<html>maintenance</html>');
      return { jwks: { url: `${server.origin}${path}` } };
    },
  });

const ASYMMETRIC_ATTACKS: ConformanceCase[] = [
  {
    name: 'attack: public keys: a genuine ES256 token of the site verifies (the control)',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_ES, { externalId: 'ada' })) },
    expect: verified('jwt', { externalId: 'ada' }, { keyId: 'site-es' }),
  },
  {
    name: 'attack: public keys: a genuine EdDSA token in the body verifies (the control)',
    options: publicKeys(),
    request: { body: { token: signedBy(SITE_ED, { externalId: 'ada' }) } },
    expect: verified('jwt', { externalId: 'ada' }, { keyId: 'site-ed' }),
  },
  {
    name: 'attack: public keys: alg "none" naming the site kid',
    options: publicKeys(),
    request: { headers: bearer(`${jwtPart({ alg: 'none', kid: SITE_ES.kid })}.${jwtPart(claimsAt())}.`) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: algorithm confusion: HS256 with the public key PEM as HMAC secret',
    options: publicKeys(),
    request: { headers: bearer(hmacWith(SITE_ES.pem)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: algorithm confusion: HS256 with the RSA public key PEM as HMAC secret, no kid',
    options: publicKeys(),
    request: { headers: bearer(hmacWith(SITE_RS.pem, HS256)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: algorithm confusion: HS256 with the public key JWK as HMAC secret',
    options: publicKeys(),
    request: { headers: bearer(hmacWith(JSON.stringify(SITE_ES.jwk))) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: algorithm confusion: the public key PEM configured as an HMAC secret by a lookup fails closed',
    options: required('jwt', { keys: () => [SITE_ES.pem] }),
    request: { headers: bearer(hmacWith(SITE_ES.pem)) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  {
    name: 'attack: alg mismatch with the JWK: RS256 header naming the ES256 key',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_RS, {}, { header: { alg: 'RS256', kid: SITE_ES.kid } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: alg mismatch with the JWK: PS256 header and signature by the RS256 key',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_RS, {}, { header: { alg: 'PS256', kid: SITE_RS.kid }, signAs: 'PS256' })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: alg mismatch with the JWK: ES384 header over the ES256 key',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_ES, {}, { header: { alg: 'ES384', kid: SITE_ES.kid } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a JWK without alg: RS256 by the RSA key published without alg (CVE-2026-22818)',
    options: publicKeys(),
    request: { headers: bearer(signedBy(RSA_NO_ALG)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a JWK without alg: PS256 by the RSA key published without alg',
    options: publicKeys(),
    request: { headers: bearer(signedBy(RSA_NO_ALG, {}, { header: { alg: 'PS256', kid: RSA_NO_ALG.kid }, signAs: 'PS256' })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a JWK without alg: HS256 with its PEM as HMAC secret',
    options: publicKeys(),
    request: { headers: bearer(hmacWith(RSA_NO_ALG.pem, { alg: 'HS256', kid: RSA_NO_ALG.kid })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: kid pointing elsewhere: the RS256 key named over an ES256 signature',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_ES, {}, { header: { alg: 'ES256', kid: SITE_RS.kid } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: kid pointing elsewhere: the attacker's key under the site's kid",
    options: publicKeys(),
    request: { headers: bearer(signedBy(ATTACKER_PAIR, {}, { header: { alg: 'ES256', kid: SITE_ES.kid } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: kid pointing elsewhere: another tenant's key",
    options: required('jwt', {
      tenant: tenantOptions.tenant,
      keys: (tenant: string | undefined) =>
        tenant === 'acme' ? { jwks: { keys: [SITE_ES.jwk] } } : tenant === 'globex' ? { jwks: { keys: [ATTACKER_PAIR.jwk] } } : undefined,
    }),
    request: { headers: { ...team('acme'), ...bearer(signedBy(ATTACKER_PAIR)) } },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: public keys: the attacker's key with no kid",
    options: publicKeys(),
    request: { headers: bearer(signedBy(ATTACKER_PAIR, {}, { header: { alg: 'ES256' } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: public keys: the attacker's key embedded as jwk",
    options: publicKeys(),
    request: { headers: bearer(signedBy(ATTACKER_PAIR, {}, { header: { alg: 'ES256', jwk: ATTACKER_PAIR.jwk } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: public keys: jku pointing at the attacker's key set",
    options: publicKeys(),
    request: {
      headers: bearer(
        signedBy(ATTACKER_PAIR, {}, { header: { alg: 'ES256', kid: 'attacker', jku: 'https://attacker.example/jwks.json' } }),
      ),
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: public keys: x5u pointing at the attacker's certificate",
    options: publicKeys(),
    request: { headers: bearer(signedBy(ATTACKER_PAIR, {}, { header: { alg: 'ES256', x5u: 'https://attacker.example/cert.pem' } })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: "attack: public keys: x5c carrying the attacker's certificate chain",
    options: publicKeys(),
    request: {
      headers: bearer(
        signedBy(ATTACKER_PAIR, {}, { header: { alg: 'ES256', x5c: [Buffer.from('attacker certificate').toString('base64')] } }),
      ),
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: public keys: jku, x5u and jwk on a genuine token are ignored, verified',
    options: publicKeys(),
    request: {
      headers: bearer(
        signedBy(
          SITE_ES,
          { externalId: 'k4' },
          {
            header: {
              alg: 'ES256',
              kid: SITE_ES.kid,
              jku: 'https://attacker.example/jwks.json',
              x5u: 'https://attacker.example/c.pem',
              jwk: ATTACKER_PAIR.jwk,
            },
          },
        ),
      ),
    },
    expect: verified('jwt', { externalId: 'k4' }, { keyId: 'site-es' }),
  },
  {
    name: "attack: public keys: the site's signature over the attacker's claims",
    options: publicKeys(),
    request: {
      headers: bearer(
        `${jwtPart({ alg: 'ES256', typ: 'JWT', kid: SITE_ES.kid })}.${jwtPart(claimsAt())}.${signedBy(SITE_ES, { externalId: 'ada' }).split('.')[2]}`,
      ),
    },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: public keys: an ES256 signature DER-encoded',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_ES, {}, { encoding: 'der' })) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: public keys: an ES256 signature of 64 zero bytes',
    options: publicKeys(),
    request: { headers: bearer(esSignature(Buffer.alloc(64))) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: public keys: an empty ES256 signature',
    options: publicKeys(),
    request: { headers: bearer(esSignature(Buffer.alloc(0))) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: public keys: a crit header on a genuine token',
    options: publicKeys(),
    request: { headers: bearer(signedBy(SITE_ES, {}, { header: { alg: 'ES256', kid: SITE_ES.kid, crit: ['exp'] } })) },
    expect: rejected('MALFORMED_IDENTITY'),
  },
  {
    name: 'attack: public keys: a genuine token replayed 16 minutes later',
    options: publicKeys({ now: clockAt(960) }),
    request: { headers: bearer(signedBy(SITE_ES)) },
    expect: rejected('SIGNATURE_EXPIRED'),
  },
  {
    name: 'attack: public keys: an expired public key',
    options: required('jwt', { keys: [{ publicKey: SITE_ED.jwk }, { publicKey: SITE_ES.jwk, expiresAt: NOW_SECONDS * 1000 }] }),
    request: { headers: bearer(signedBy(SITE_ES)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: public keys: a test public key while test keys are off',
    options: required('jwt', { allowTestKeys: false, keys: [{ publicKey: SITE_ED.jwk }, { publicKey: SITE_ES.jwk, test: true }] }),
    request: { headers: bearer(signedBy(SITE_ES)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a keys lookup mixing secrets and public keys fails closed',
    options: required('jwt', { keys: () => [LIVE_KEY, { publicKey: SITE_ES.jwk }] }),
    request: { headers: bearer(jwtFor({ externalId: 'admin' })) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  {
    name: 'attack: a keys lookup returning a private key fails closed',
    options: required('jwt', { keys: () => [{ publicKey: SITE_ES.privatePem }] }),
    request: { headers: bearer(signedBy(SITE_ES)) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
  {
    name: 'attack: a fetched JWKS: a genuine token verifies (the control)',
    options: fetched('/.well-known/jwks.json'),
    request: { headers: bearer(signedBy(SITE_RS, { externalId: 'ada' })) },
    expect: verified('jwt', { externalId: 'ada' }, { keyId: 'site-rs' }),
  },
  {
    name: 'attack: a fetched JWKS: a kid the site never published, after one refetch',
    options: fetched('/.well-known/jwks.json'),
    request: { headers: bearer(signedBy(ATTACKER_PAIR)) },
    expect: rejected('INVALID_SIGNATURE'),
  },
  {
    name: 'attack: a fetched JWKS that answers garbage fails closed',
    options: fetched('/garbage.json'),
    request: { headers: bearer(signedBy(SITE_ES)) },
    expect: rejected('KEY_UNAVAILABLE'),
  },
];
ATTACK_CASES.push(...ASYMMETRIC_ATTACKS);
