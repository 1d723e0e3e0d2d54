/**
 * The conformance table: one list of cases, each run through the core and every adapter
 * (Express 4 and 5, Koa 2 and 3, Passport). Add a case here and it runs everywhere.
 */
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { canonicalJson, signContactHash, signJwt, signPayload, signUserHash, signVisitorHash, type VerifierOptions } from '../../src/index.js';
import { jwtPart } from '../support/jwt.js';
import { LIVE_KEY, NOW_SECONDS, OTHER_TENANT_KEY, PREVIOUS_KEY, SECOND_SCHEME_KEY, TEST_KEY, clockAt, frozenClock } from '../helpers.js';

export interface ConformanceCase {
  name: string;
  /** Merged over `{ keys: [LIVE_KEY], now: frozenClock }`. */
  options: Partial<VerifierOptions> & Pick<VerifierOptions, 'scheme'>;
  /** The route is guarded by requireVerified() (for Passport: authenticate with required: true). */
  guard?: boolean;
  request: CaseRequest;
  /** Requests sent first, through the same app (to build up failed attempts). */
  before?: CaseRequest[];
  expect: {
    status: number;
    /** The rejection's code, when rejected. */
    code?: string;
    /** A part of the result the route saw, when it was reached. */
    identity?: Record<string, unknown>;
    /** A hint is present in the rejection body. */
    hint?: boolean;
    /** The Retry-After header. */
    retryAfter?: string;
  };
}

export interface CaseRequest {
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: { type: string; text: string };
}

const userHashBody = (id: string, key = LIVE_KEY) => ({ user_id: id, user_hash: signUserHash(id, key) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const jwtFor = (claims: Record<string, unknown>, key = LIVE_KEY) => signJwt(claims, key, { now: frozenClock });
const payloadFor = (customer: Record<string, string | number>, key = LIVE_KEY, at = NOW_SECONDS) => signPayload({ ...customer, timestamp: at }, key);
const team = (name: string) => ({ 'x-team': name });
const tenantOptions = {
  tenant: (request: { headers?: Record<string, unknown> }) => request.headers?.['x-team'] as string | undefined,
  keys: (tenant: string | undefined) => ({ acme: [LIVE_KEY], globex: [OTHER_TENANT_KEY] })[tenant as 'acme'],
};
const pythonFixture = (JSON.parse(readFileSync(new URL('../fixtures/signed-payload/python.json', import.meta.url), 'utf8')) as { case: string; secret: string; customer: object; signature: string }[]).find((f) => f.case === 'emoji')!;

const verified = (scheme: string, contact: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ status: 200, identity: { verified: true, scheme, contact, ...extra } });
const rejected = (status: number, code: string, hint = false) => ({ status, code, hint });
const anonymous = (code?: string) => ({ status: 200, identity: code ? { verified: false, error: { code } } : { verified: false } });

export const CASES: ConformanceCase[] = [
  // Every scheme, valid.
  { name: 'signed-payload valid', options: { scheme: 'signed-payload', required: true }, request: { body: payloadFor({ externalId: '42', email: 'jane@example.com', plan: 'pro' }) }, expect: verified('signed-payload', { externalId: '42', email: 'jane@example.com', attributes: { plan: 'pro' }, verifiedFields: ['externalId', 'email', 'attributes.plan'] }) },
  { name: 'signed-payload by the Python snippet, emoji name', options: { scheme: 'signed-payload', required: true, keys: [pythonFixture.secret] }, request: { body: { customer: pythonFixture.customer, signature: pythonFixture.signature } }, expect: verified('signed-payload', { name: 'Ana 🚀 Lima' }, { test: true }) },
  { name: 'user-hash valid, metadata carried not verified', options: { scheme: 'user-hash', required: true }, request: { body: { ...userHashBody('u1'), user_metadata: { email: 'a@example.com', plan: 'pro' } } }, expect: verified('user-hash', { externalId: 'u1', email: 'a@example.com', verifiedFields: ['externalId'] }) },
  { name: 'contact-hash valid by ext_user_id', options: { scheme: 'contact-hash', required: true }, request: { body: { ext_user_id: 'c1', email: 'c@example.com', user_hash: signContactHash({ ext_user_id: 'c1' }, LIVE_KEY) } }, expect: verified('contact-hash', { externalId: 'c1', identityKey: 'externalId', verifiedFields: ['externalId'] }) },
  { name: 'contact-hash valid by email', options: { scheme: 'contact-hash', required: true }, request: { body: { email: 'c@example.com', user_hash: signContactHash({ email: 'c@example.com' }, LIVE_KEY) } }, expect: verified('contact-hash', { identityKey: 'email' }) },
  { name: 'jwt valid in the Authorization header', options: { scheme: 'jwt', required: true }, request: { headers: bearer(jwtFor({ externalId: 'j1', email: 'j@example.com' })) }, expect: verified('jwt', { externalId: 'j1', identityKey: 'email' }) },
  { name: 'jwt valid in the body', options: { scheme: 'jwt', required: true }, request: { body: { token: jwtFor({ externalId: 'j1' }) } }, expect: verified('jwt', { externalId: 'j1' }) },
  { name: 'visitor-hash valid, only the visitor id verified', options: { scheme: 'visitor-hash', required: true }, request: { body: { anonymousUserId: 'v1', hmac: signVisitorHash('v1', LIVE_KEY), email: 'x@example.com' } }, expect: verified('visitor-hash', { anonymousId: 'v1', email: 'x@example.com', verifiedFields: ['anonymousId'] }) },
  { name: 'several schemes: the one present is used', options: { scheme: ['jwt', 'user-hash', 'signed-payload'], required: true, keys: { jwt: [SECOND_SCHEME_KEY], 'user-hash': [LIVE_KEY], 'signed-payload': [PREVIOUS_KEY] } }, request: { body: userHashBody('u2') }, expect: verified('user-hash', { externalId: 'u2' }) },

  // Required vs optional vs guarded.
  { name: 'required, nothing presented', options: { scheme: 'user-hash', required: true }, request: { body: { message: 'hi' } }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'optional, nothing presented: anonymous', options: { scheme: 'user-hash' }, request: { body: { message: 'hi' } }, expect: anonymous() },
  { name: 'optional, nothing presented, guarded', options: { scheme: 'user-hash' }, guard: true, request: { body: { message: 'hi' } }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'optional, invalid proof: anonymous with the error recorded', options: { scheme: 'user-hash' }, request: { body: { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) } }, expect: anonymous('INVALID_SIGNATURE') },
  { name: 'optional, invalid proof, guarded: the recorded code', options: { scheme: 'user-hash' }, guard: true, request: { body: { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) } }, expect: rejected(401, 'INVALID_SIGNATURE') },
  { name: 'optional, valid proof, guarded', options: { scheme: 'user-hash' }, guard: true, request: { body: userHashBody('u3') }, expect: verified('user-hash', { externalId: 'u3' }) },
  { name: 'optional, expired proof, guarded', options: { scheme: 'signed-payload', now: clockAt(301) }, guard: true, request: { body: payloadFor({ externalId: '1' }) }, expect: rejected(401, 'SIGNATURE_EXPIRED') },

  // Every error code.
  { name: 'user_id without user_hash', options: { scheme: 'user-hash', required: true }, request: { body: { user_id: 'u1' } }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'user_hash without user_id', options: { scheme: 'user-hash', required: true }, request: { body: { user_hash: signUserHash('u1', LIVE_KEY) } }, expect: rejected(401, 'MISSING_REQUIRED_FIELD') },
  { name: 'signed payload without externalId or email', options: { scheme: 'signed-payload', required: true }, request: { body: { customer: { name: 'Nobody', timestamp: NOW_SECONDS }, signature: createHmac('sha256', LIVE_KEY).update(canonicalJson({ name: 'Nobody', timestamp: NOW_SECONDS })).digest('hex') } }, expect: rejected(401, 'MISSING_REQUIRED_FIELD') },
  { name: 'jwt without iat', options: { scheme: 'jwt', required: true }, request: { headers: bearer(`${jwtPart({ alg: 'HS256', typ: 'JWT' })}.${jwtPart({ externalId: 'x' })}.${'A'.repeat(43)}`) }, expect: rejected(401, 'MISSING_REQUIRED_FIELD') },
  { name: 'numeric user_id', options: { scheme: 'user-hash', required: true }, request: { body: { user_id: 42, user_hash: signUserHash('42', LIVE_KEY) } }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  { name: 'nested customer object', options: { scheme: 'signed-payload', required: true }, request: { body: { customer: { externalId: '1', timestamp: NOW_SECONDS, address: { city: 'x' } }, signature: '0'.repeat(64) } }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  { name: 'base64 signature', options: { scheme: 'user-hash', required: true }, request: { body: { user_id: 'u1', user_hash: Buffer.from(signUserHash('u1', LIVE_KEY), 'hex').toString('base64') } }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  { name: 'unparsable jwt', options: { scheme: 'jwt', required: true }, request: { headers: bearer('not-a-jwt') }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  { name: 'jwt in header and body', options: { scheme: 'jwt', required: true }, request: { headers: bearer(jwtFor({ externalId: 'a' })), body: { token: jwtFor({ externalId: 'a' }) } }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  { name: 'wrong user hash', options: { scheme: 'user-hash', required: true }, request: { body: { user_id: 'u1', user_hash: signUserHash('u2', LIVE_KEY) } }, expect: rejected(401, 'INVALID_SIGNATURE') },
  { name: 'jwt alg none', options: { scheme: 'jwt', required: true }, request: { headers: bearer(`${jwtPart({ alg: 'none', typ: 'JWT' })}.${jwtPart({ externalId: 'admin', iat: NOW_SECONDS })}.`) }, expect: rejected(401, 'INVALID_SIGNATURE') },
  { name: 'jwt HS512 not allowed', options: { scheme: 'jwt', required: true }, request: { headers: bearer(signJwt({ externalId: 'a' }, LIVE_KEY, { algorithm: 'HS512', now: frozenClock })) }, expect: rejected(401, 'INVALID_SIGNATURE') },
  { name: 'signed payload 301 seconds old', options: { scheme: 'signed-payload', required: true, now: clockAt(301) }, request: { body: payloadFor({ externalId: '1' }) }, expect: rejected(401, 'SIGNATURE_EXPIRED') },
  { name: 'jwt 901 seconds old', options: { scheme: 'jwt', required: true, now: clockAt(901) }, request: { headers: bearer(jwtFor({ externalId: 'a' })) }, expect: rejected(401, 'SIGNATURE_EXPIRED') },
  { name: 'keys lookup fails: 503', options: { scheme: 'user-hash', required: true, keys: () => Promise.reject(new Error('db down')) }, request: { body: userHashBody('u1') }, expect: rejected(503, 'KEY_UNAVAILABLE') },

  // Rotation.
  { name: 'previous key during its grace period', options: { scheme: 'user-hash', required: true, keys: [LIVE_KEY, { secret: PREVIOUS_KEY, id: 'old', expiresAt: frozenClock() + 1000 }] }, request: { body: userHashBody('u1', PREVIOUS_KEY) }, expect: verified('user-hash', {}, { keyId: 'old' }) },
  { name: 'previous key after its grace period', options: { scheme: 'user-hash', required: true, keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: frozenClock() }] }, request: { body: userHashBody('u1', PREVIOUS_KEY) }, expect: rejected(401, 'INVALID_SIGNATURE') },

  // Test keys and test mode.
  { name: 'test key, 30 minutes old: relaxed window', options: { scheme: 'signed-payload', required: true, keys: [LIVE_KEY, TEST_KEY], now: clockAt(1800) }, request: { body: { ...payloadFor({ externalId: '1' }, TEST_KEY), testMode: true } }, expect: verified('signed-payload', {}, { test: true }) },
  { name: 'live key, testMode: true, 30 minutes old: expired, and the client flag buys no hint', options: { scheme: 'signed-payload', required: true, keys: [LIVE_KEY, TEST_KEY], now: clockAt(1800) }, request: { body: { ...payloadFor({ externalId: '1' }), testMode: true } }, expect: rejected(401, 'SIGNATURE_EXPIRED') },
  { name: 'test key while test keys are off', options: { scheme: 'user-hash', required: true, keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false }, request: { body: userHashBody('u1', TEST_KEY) }, expect: rejected(401, 'INVALID_SIGNATURE') },
  { name: 'diagnostics on: a hint for live traffic', options: { scheme: 'user-hash', required: true, diagnostics: true }, request: { body: { user_id: 'u1', user_hash: Buffer.from(signUserHash('u1', LIVE_KEY), 'hex').toString('base64') } }, expect: rejected(401, 'MALFORMED_IDENTITY', true) },

  // Tenants.
  { name: "tenant's own signature", options: { scheme: 'user-hash', required: true, ...tenantOptions }, request: { headers: team('globex'), body: userHashBody('u1', OTHER_TENANT_KEY) }, expect: verified('user-hash', { externalId: 'u1' }, { tenant: 'globex' }) },
  { name: "tenant A's signature presented for tenant B", options: { scheme: 'user-hash', required: true, ...tenantOptions }, request: { headers: team('globex'), body: userHashBody('u1', LIVE_KEY) }, expect: rejected(401, 'INVALID_SIGNATURE') },
  { name: 'unknown tenant: no keys, 503', options: { scheme: 'user-hash', required: true, ...tenantOptions }, request: { headers: team('initech'), body: userHashBody('u1') }, expect: rejected(503, 'KEY_UNAVAILABLE') },

  // Bodies and headers that are not what they should be.
  { name: 'a text body, required', options: { scheme: 'user-hash', required: true }, request: { rawBody: { type: 'text/plain', text: 'user_id=u1' } }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'a text body, optional', options: { scheme: 'user-hash' }, request: { rawBody: { type: 'text/plain', text: 'hello' } }, expect: anonymous() },
  { name: 'a JSON array body', options: { scheme: 'user-hash', required: true }, request: { body: [userHashBody('u1')] }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'Authorization: Bearer with no token', options: { scheme: 'jwt', required: true }, request: { headers: { authorization: 'Bearer' } }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'Authorization of another scheme', options: { scheme: 'jwt', required: true }, request: { headers: { authorization: 'Basic dXNlcjpwYXNz' } }, expect: rejected(401, 'MISSING_IDENTITY') },
  { name: 'Authorization: Bearer with spaces in the token', options: { scheme: 'jwt', required: true }, request: { headers: { authorization: 'Bearer a b c' } }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  { name: 'a body field of the wrong type', options: { scheme: 'jwt', required: true }, request: { body: { token: { alg: 'none' } } }, expect: rejected(401, 'MALFORMED_IDENTITY') },
  // (A "__proto__" key is refused by Koa's body parser itself with a 400, before any middleware: see verifier.test.ts.)
  { name: 'prototype keys in metadata are dropped', options: { scheme: 'user-hash', required: true }, request: { rawBody: { type: 'application/json', text: `{"user_id":"u1","user_hash":"${signUserHash('u1', LIVE_KEY)}","user_metadata":{"constructor":"c","prototype":"p","plan":"pro"}}` } }, expect: verified('user-hash', { attributes: { plan: 'pro' } }) },
  // Failed-attempt limits.
  { name: 'identity over its failure limit: 429 with Retry-After, even with the right signature', options: { scheme: 'user-hash', required: true, rateLimit: { identity: { points: 3, duration: 60 } } }, before: [1, 2, 3].map((i) => ({ headers: { 'x-n': String(i) }, body: { user_id: 'victim', user_hash: signUserHash(`guess-${i}`, LIVE_KEY) } })), request: { body: userHashBody('victim') }, expect: { ...rejected(429, 'RATE_LIMITED'), retryAfter: '60' } },
  { name: 'address over its failure limit: 429 for a new identity', options: { scheme: 'user-hash', required: true, rateLimit: { address: { points: 3, duration: 30 } } }, before: [1, 2, 3].map((i) => ({ body: { user_id: `user-${i}`, user_hash: signUserHash('x', LIVE_KEY) } })), request: { body: userHashBody('someone') }, expect: { ...rejected(429, 'RATE_LIMITED'), retryAfter: '30' } },
  { name: 'rate limited while optional: anonymous with the code recorded', options: { scheme: 'user-hash', rateLimit: { identity: { points: 1, duration: 60 } } }, before: [{ body: { user_id: 'victim', user_hash: signUserHash('x', LIVE_KEY) } }], request: { body: userHashBody('victim') }, expect: anonymous('RATE_LIMITED') },
  { name: 'rate limited while optional, guarded: 429', options: { scheme: 'user-hash', rateLimit: { identity: { points: 1, duration: 60 } } }, guard: true, before: [{ body: { user_id: 'victim', user_hash: signUserHash('x', LIVE_KEY) } }], request: { body: userHashBody('victim') }, expect: { ...rejected(429, 'RATE_LIMITED'), retryAfter: '60' } },
  { name: 'successes are never counted', options: { scheme: 'user-hash', required: true, rateLimit: { identity: { points: 1, duration: 60 } } }, before: [1, 2, 3].map(() => ({ body: userHashBody('alice') })), request: { body: userHashBody('alice') }, expect: verified('user-hash', { externalId: 'alice' }) },
  { name: 'a signature made over unsorted keys', options: { scheme: 'signed-payload', required: true }, request: { body: { customer: { timestamp: NOW_SECONDS, externalId: '1' }, signature: createHmac('sha256', LIVE_KEY).update(`{"timestamp":${NOW_SECONDS},"externalId":"1"}`).digest('hex') } }, expect: rejected(401, 'INVALID_SIGNATURE') },
];
