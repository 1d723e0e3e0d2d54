/**
 * The conformance table: one list of cases, each run through the core and every adapter
 * (the registry in test/support/apps.ts: Express 4 and 5, Koa 2 and 3, Passport, Fastify 4 and 5,
 * the fetch adapter, Hono). Add a case here and it runs everywhere.
 */
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import {
  canonicalJson,
  memorySessionStore,
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
  type SessionOptions,
  type VerifierOptions,
  type VerifyRequest,
} from '../../src/index.js';
import { CHALLENGE_DPOP, CHALLENGE_EXPIRED, CHALLENGE_INVALID, SESSION_KEY, dpopKey, dpopProof, tamper } from '../support/sessions.js';
import { jwtPart } from '../support/jwt.js';
import {
  LIVE_KEY,
  NOW,
  NOW_SECONDS,
  OTHER_TENANT_KEY,
  PREVIOUS_KEY,
  SECOND_SCHEME_KEY,
  TEST_KEY,
  clockAt,
  frozenClock,
} from '../helpers.js';
import { sharedJwksServer } from '../support/jwksServer.js';
import { jwksOf, keyPair, tokenBy } from '../support/keyPairs.js';

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
    /** What the response says of a session: a credential issued (or renewed), its end, or nothing. */
    session?: 'issued' | 'ended' | 'none';
    /** The WWW-Authenticate header, exactly. */
    challenge?: string;
    /** A part of the body a route answered that is not `{ identity }` (the logout's). */
    body?: Record<string, unknown>;
  };
}

export interface CaseRequest {
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: { type: string; text: string };
  /**
   * Send a session credential an earlier response of the case issued, as it came (header or
   * cookie): `true` the latest, or what this function makes of all of them, in order.
   */
  session?: true | ((issued: readonly string[]) => string);
  /** Headers made from the credential sent (a DPoP proof over it). */
  sessionHeaders?: (credential: string) => Record<string, string>;
  /** Seconds after the case's clock at which this request is sent. */
  at?: number;
  /** `/logout`: a route that ends the request's session (`endSession`). Default `/chat`. */
  path?: '/chat' | '/logout';
  /** First end every session of this tenant (`true`: of no tenant), through another verifier on the case's session store. */
  endSessions?: string | true;
}

const userHashBody = (id: string, key = LIVE_KEY) => ({ user_id: id, user_hash: signUserHash(id, key) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const jwtFor = (claims: Record<string, unknown>, key = LIVE_KEY) => signJwt(claims, key, { now: frozenClock });
const payloadFor = (customer: Record<string, string | number>, key = LIVE_KEY, at = NOW_SECONDS) =>
  signPayload({ ...customer, timestamp: at }, key);
const team = (name: string) => ({ 'x-team': name });
const tenantOptions = {
  tenant: (request: { headers?: Record<string, unknown> }) => request.headers?.['x-team'] as string | undefined,
  keys: (tenant: string | undefined) => ({ acme: [LIVE_KEY], globex: [OTHER_TENANT_KEY] })[tenant as 'acme'],
};
const pythonFixture = (
  JSON.parse(readFileSync(new URL('../fixtures/signed-payload/python.json', import.meta.url), 'utf8')) as {
    case: string;
    secret: string;
    customer: object;
    signature: string;
  }[]
).find((f) => f.case === 'emoji')!;

const verified = (scheme: string, contact: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  status: 200,
  identity: { verified: true, scheme, contact, ...extra },
});
const rejected = (status: number, code: string, hint = false) => ({ status, code, hint });
const anonymous = (code?: string) => ({ status: 200, identity: code ? { verified: false, error: { code } } : { verified: false } });

export const CASES: ConformanceCase[] = [
  // Every scheme, valid.
  {
    name: 'signed-payload valid',
    options: { scheme: 'signed-payload', required: true },
    request: { body: payloadFor({ externalId: '42', email: 'jane@example.com', plan: 'pro' }) },
    expect: verified('signed-payload', {
      externalId: '42',
      email: 'jane@example.com',
      attributes: { plan: 'pro' },
      verifiedFields: ['externalId', 'email', 'attributes.plan'],
    }),
  },
  {
    name: 'signed-payload by the Python snippet, emoji name',
    options: { scheme: 'signed-payload', required: true, keys: [pythonFixture.secret] },
    request: { body: { customer: pythonFixture.customer, signature: pythonFixture.signature } },
    expect: verified('signed-payload', { name: 'Ana 🚀 Lima' }, { test: true }),
  },
  {
    name: 'user-hash valid, metadata carried not verified',
    options: { scheme: 'user-hash', required: true },
    request: { body: { ...userHashBody('u1'), user_metadata: { email: 'a@example.com', plan: 'pro' } } },
    expect: verified('user-hash', { externalId: 'u1', email: 'a@example.com', verifiedFields: ['externalId'] }),
  },
  {
    name: 'contact-hash valid by ext_user_id',
    options: { scheme: 'contact-hash', required: true },
    request: { body: { ext_user_id: 'c1', email: 'c@example.com', user_hash: signContactHash({ ext_user_id: 'c1' }, LIVE_KEY) } },
    expect: verified('contact-hash', { externalId: 'c1', identityKey: 'externalId', verifiedFields: ['externalId'] }),
  },
  {
    name: 'contact-hash valid by email',
    options: { scheme: 'contact-hash', required: true },
    request: { body: { email: 'c@example.com', user_hash: signContactHash({ email: 'c@example.com' }, LIVE_KEY) } },
    expect: verified('contact-hash', { identityKey: 'email' }),
  },
  {
    name: 'jwt valid in the Authorization header',
    options: { scheme: 'jwt', required: true },
    request: { headers: bearer(jwtFor({ externalId: 'j1', email: 'j@example.com' })) },
    expect: verified('jwt', { externalId: 'j1', identityKey: 'email' }),
  },
  {
    name: 'jwt valid in the body',
    options: { scheme: 'jwt', required: true },
    request: { body: { token: jwtFor({ externalId: 'j1' }) } },
    expect: verified('jwt', { externalId: 'j1' }),
  },
  {
    name: 'visitor-hash valid, only the visitor id verified',
    options: { scheme: 'visitor-hash', required: true },
    request: { body: { anonymousUserId: 'v1', hmac: signVisitorHash('v1', LIVE_KEY), email: 'x@example.com' } },
    expect: verified('visitor-hash', { anonymousId: 'v1', email: 'x@example.com', verifiedFields: ['anonymousId'] }),
  },
  {
    name: 'several schemes: the one present is used',
    options: {
      scheme: ['jwt', 'user-hash', 'signed-payload'],
      required: true,
      keys: { jwt: [SECOND_SCHEME_KEY], 'user-hash': [LIVE_KEY], 'signed-payload': [PREVIOUS_KEY] },
    },
    request: { body: userHashBody('u2') },
    expect: verified('user-hash', { externalId: 'u2' }),
  },

  // Required vs optional vs guarded.
  {
    name: 'required, nothing presented',
    options: { scheme: 'user-hash', required: true },
    request: { body: { message: 'hi' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'optional, nothing presented: anonymous',
    options: { scheme: 'user-hash' },
    request: { body: { message: 'hi' } },
    expect: anonymous(),
  },
  {
    name: 'optional, nothing presented, guarded',
    options: { scheme: 'user-hash' },
    guard: true,
    request: { body: { message: 'hi' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'optional, invalid proof: anonymous with the error recorded',
    options: { scheme: 'user-hash' },
    request: { body: { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) } },
    expect: anonymous('INVALID_SIGNATURE'),
  },
  {
    name: 'optional, invalid proof, guarded: the recorded code',
    options: { scheme: 'user-hash' },
    guard: true,
    request: { body: { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) } },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'optional, valid proof, guarded',
    options: { scheme: 'user-hash' },
    guard: true,
    request: { body: userHashBody('u3') },
    expect: verified('user-hash', { externalId: 'u3' }),
  },
  {
    name: 'optional, expired proof, guarded',
    options: { scheme: 'signed-payload', now: clockAt(301) },
    guard: true,
    request: { body: payloadFor({ externalId: '1' }) },
    expect: rejected(401, 'SIGNATURE_EXPIRED'),
  },

  // Every error code.
  {
    name: 'user_id without user_hash',
    options: { scheme: 'user-hash', required: true },
    request: { body: { user_id: 'u1' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'user_hash without user_id',
    options: { scheme: 'user-hash', required: true },
    request: { body: { user_hash: signUserHash('u1', LIVE_KEY) } },
    expect: rejected(401, 'MISSING_REQUIRED_FIELD'),
  },
  {
    name: 'signed payload without externalId or email',
    options: { scheme: 'signed-payload', required: true },
    request: {
      body: {
        customer: { name: 'Nobody', timestamp: NOW_SECONDS },
        signature: createHmac('sha256', LIVE_KEY)
          .update(canonicalJson({ name: 'Nobody', timestamp: NOW_SECONDS }))
          .digest('hex'),
      },
    },
    expect: rejected(401, 'MISSING_REQUIRED_FIELD'),
  },
  {
    name: 'jwt without iat',
    options: { scheme: 'jwt', required: true },
    request: { headers: bearer(`${jwtPart({ alg: 'HS256', typ: 'JWT' })}.${jwtPart({ externalId: 'x' })}.${'A'.repeat(43)}`) },
    expect: rejected(401, 'MISSING_REQUIRED_FIELD'),
  },
  {
    name: 'numeric user_id',
    options: { scheme: 'user-hash', required: true },
    request: { body: { user_id: 42, user_hash: signUserHash('42', LIVE_KEY) } },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  {
    name: 'nested customer object',
    options: { scheme: 'signed-payload', required: true },
    request: { body: { customer: { externalId: '1', timestamp: NOW_SECONDS, address: { city: 'x' } }, signature: '0'.repeat(64) } },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  {
    name: 'base64 signature',
    options: { scheme: 'user-hash', required: true },
    request: { body: { user_id: 'u1', user_hash: Buffer.from(signUserHash('u1', LIVE_KEY), 'hex').toString('base64') } },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  {
    name: 'unparsable jwt',
    options: { scheme: 'jwt', required: true },
    request: { headers: bearer('not-a-jwt') },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  {
    name: 'jwt in header and body',
    options: { scheme: 'jwt', required: true },
    request: { headers: bearer(jwtFor({ externalId: 'a' })), body: { token: jwtFor({ externalId: 'a' }) } },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  {
    name: 'wrong user hash',
    options: { scheme: 'user-hash', required: true },
    request: { body: { user_id: 'u1', user_hash: signUserHash('u2', LIVE_KEY) } },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'jwt alg none',
    options: { scheme: 'jwt', required: true },
    request: { headers: bearer(`${jwtPart({ alg: 'none', typ: 'JWT' })}.${jwtPart({ externalId: 'admin', iat: NOW_SECONDS })}.`) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'jwt HS512 not allowed',
    options: { scheme: 'jwt', required: true },
    request: { headers: bearer(signJwt({ externalId: 'a' }, LIVE_KEY, { algorithm: 'HS512', now: frozenClock })) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'signed payload 301 seconds old',
    options: { scheme: 'signed-payload', required: true, now: clockAt(301) },
    request: { body: payloadFor({ externalId: '1' }) },
    expect: rejected(401, 'SIGNATURE_EXPIRED'),
  },
  {
    name: 'jwt 901 seconds old',
    options: { scheme: 'jwt', required: true, now: clockAt(901) },
    request: { headers: bearer(jwtFor({ externalId: 'a' })) },
    expect: rejected(401, 'SIGNATURE_EXPIRED'),
  },
  {
    name: 'keys lookup fails: 503',
    options: { scheme: 'user-hash', required: true, keys: () => Promise.reject(new Error('db down')) },
    request: { body: userHashBody('u1') },
    expect: rejected(503, 'KEY_UNAVAILABLE'),
  },

  // Rotation.
  {
    name: 'previous key during its grace period',
    options: {
      scheme: 'user-hash',
      required: true,
      keys: [LIVE_KEY, { secret: PREVIOUS_KEY, id: 'old', expiresAt: frozenClock() + 1000 }],
    },
    request: { body: userHashBody('u1', PREVIOUS_KEY) },
    expect: verified('user-hash', {}, { keyId: 'old' }),
  },
  {
    name: 'previous key after its grace period',
    options: { scheme: 'user-hash', required: true, keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: frozenClock() }] },
    request: { body: userHashBody('u1', PREVIOUS_KEY) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },

  // Test keys and test mode.
  {
    name: 'test key, 30 minutes old: relaxed window',
    options: { scheme: 'signed-payload', required: true, keys: [LIVE_KEY, TEST_KEY], now: clockAt(1800) },
    request: { body: { ...payloadFor({ externalId: '1' }, TEST_KEY), testMode: true } },
    expect: verified('signed-payload', {}, { test: true }),
  },
  {
    name: 'live key, testMode: true, 30 minutes old: expired, and the client flag buys no hint',
    options: { scheme: 'signed-payload', required: true, keys: [LIVE_KEY, TEST_KEY], now: clockAt(1800) },
    request: { body: { ...payloadFor({ externalId: '1' }), testMode: true } },
    expect: rejected(401, 'SIGNATURE_EXPIRED'),
  },
  {
    name: 'test key while test keys are off',
    options: { scheme: 'user-hash', required: true, keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false },
    request: { body: userHashBody('u1', TEST_KEY) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'diagnostics on: a hint for live traffic',
    options: { scheme: 'user-hash', required: true, diagnostics: true },
    request: { body: { user_id: 'u1', user_hash: Buffer.from(signUserHash('u1', LIVE_KEY), 'hex').toString('base64') } },
    expect: rejected(401, 'MALFORMED_IDENTITY', true),
  },

  // Tenants.
  {
    name: "tenant's own signature",
    options: { scheme: 'user-hash', required: true, ...tenantOptions },
    request: { headers: team('globex'), body: userHashBody('u1', OTHER_TENANT_KEY) },
    expect: verified('user-hash', { externalId: 'u1' }, { tenant: 'globex' }),
  },
  {
    name: "tenant A's signature presented for tenant B",
    options: { scheme: 'user-hash', required: true, ...tenantOptions },
    request: { headers: team('globex'), body: userHashBody('u1', LIVE_KEY) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'unknown tenant: no keys, 503',
    options: { scheme: 'user-hash', required: true, ...tenantOptions },
    request: { headers: team('initech'), body: userHashBody('u1') },
    expect: rejected(503, 'KEY_UNAVAILABLE'),
  },

  // Bodies and headers that are not what they should be.
  {
    name: 'a text body, required',
    options: { scheme: 'user-hash', required: true },
    request: { rawBody: { type: 'text/plain', text: 'user_id=u1' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'a text body, optional',
    options: { scheme: 'user-hash' },
    request: { rawBody: { type: 'text/plain', text: 'hello' } },
    expect: anonymous(),
  },
  {
    name: 'a JSON array body',
    options: { scheme: 'user-hash', required: true },
    request: { body: [userHashBody('u1')] },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'Authorization: Bearer with no token',
    options: { scheme: 'jwt', required: true },
    request: { headers: { authorization: 'Bearer' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'Authorization of another scheme',
    options: { scheme: 'jwt', required: true },
    request: { headers: { authorization: 'Basic dXNlcjpwYXNz' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'Authorization: Bearer with spaces in the token',
    options: { scheme: 'jwt', required: true },
    request: { headers: { authorization: 'Bearer a b c' } },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  {
    name: 'a body field of the wrong type',
    options: { scheme: 'jwt', required: true },
    request: { body: { token: { alg: 'none' } } },
    expect: rejected(401, 'MALFORMED_IDENTITY'),
  },
  // (A "__proto__" key is refused by Koa's body parser itself with a 400, before any middleware: see verifier.test.ts.)
  {
    name: 'prototype keys in metadata are dropped',
    options: { scheme: 'user-hash', required: true },
    request: {
      rawBody: {
        type: 'application/json',
        text: `{"user_id":"u1","user_hash":"${signUserHash('u1', LIVE_KEY)}","user_metadata":{"constructor":"c","prototype":"p","plan":"pro"}}`,
      },
    },
    expect: verified('user-hash', { attributes: { plan: 'pro' } }),
  },
  // Failed-attempt limits.
  {
    name: 'identity over its failure limit: 429 with Retry-After, even with the right signature',
    options: { scheme: 'user-hash', required: true, rateLimit: { identity: { points: 3, duration: 60 } } },
    before: [1, 2, 3].map((i) => ({
      headers: { 'x-n': String(i) },
      body: { user_id: 'victim', user_hash: signUserHash(`guess-${i}`, LIVE_KEY) },
    })),
    request: { body: userHashBody('victim') },
    expect: { ...rejected(429, 'RATE_LIMITED'), retryAfter: '60' },
  },
  {
    name: 'address over its failure limit: 429 for a new identity',
    options: { scheme: 'user-hash', required: true, rateLimit: { address: { points: 3, duration: 30 } } },
    before: [1, 2, 3].map((i) => ({ body: { user_id: `user-${i}`, user_hash: signUserHash('x', LIVE_KEY) } })),
    request: { body: userHashBody('someone') },
    expect: { ...rejected(429, 'RATE_LIMITED'), retryAfter: '30' },
  },
  {
    name: 'rate limited while optional: anonymous with the code recorded',
    options: { scheme: 'user-hash', rateLimit: { identity: { points: 1, duration: 60 } } },
    before: [{ body: { user_id: 'victim', user_hash: signUserHash('x', LIVE_KEY) } }],
    request: { body: userHashBody('victim') },
    expect: anonymous('RATE_LIMITED'),
  },
  {
    name: 'rate limited while optional, guarded: 429',
    options: { scheme: 'user-hash', rateLimit: { identity: { points: 1, duration: 60 } } },
    guard: true,
    before: [{ body: { user_id: 'victim', user_hash: signUserHash('x', LIVE_KEY) } }],
    request: { body: userHashBody('victim') },
    expect: { ...rejected(429, 'RATE_LIMITED'), retryAfter: '60' },
  },
  {
    name: 'successes are never counted',
    options: { scheme: 'user-hash', required: true, rateLimit: { identity: { points: 1, duration: 60 } } },
    before: [1, 2, 3].map(() => ({ body: userHashBody('alice') })),
    request: { body: userHashBody('alice') },
    expect: verified('user-hash', { externalId: 'alice' }),
  },
  {
    name: 'a signature made over unsorted keys',
    options: { scheme: 'signed-payload', required: true },
    request: {
      body: {
        customer: { timestamp: NOW_SECONDS, externalId: '1' },
        signature: createHmac('sha256', LIVE_KEY).update(`{"timestamp":${NOW_SECONDS},"externalId":"1"}`).digest('hex'),
      },
    },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
];

// --- Sessions (docs/sessions.md): a verified proof issues a session credential; later requests carry
// it instead of a proof. Each row sends the proof first (`before`), then the credential the path's
// own response issued, on the case's clock moved by `at` seconds. Session keys are the server's own.
const sessionOn = (extra: Partial<SessionOptions> = {}): SessionOptions => ({ keys: [SESSION_KEY], ...extra });
const withSession = (at = 60, extra: CaseRequest = {}): CaseRequest => ({ session: true, at, ...extra });
const viaSession = (scheme: string, contact: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  ...verified(scheme, contact, { via: 'session', ...extra }),
  session: 'none' as const,
});
const sessionRefused = (code: string, challenge: string, session: 'ended' | 'none' = 'ended') => ({
  ...rejected(401, code),
  session,
  challenge,
});
const ROTATED = 'x-keys';
/** The site's keys as a lookup: the previous key is removed once a request says the rotation is done. */
const rotatingKeys = (_tenant: string | undefined, request: VerifyRequest) =>
  request.headers?.[ROTATED] === 'rotated' ? [LIVE_KEY] : [LIVE_KEY, PREVIOUS_KEY];
const browserKey = dpopKey();
const boundOptions: ConformanceCase['options'] = { scheme: 'user-hash', required: true, session: sessionOn({ bind: 'dpop' }) };

const SESSION_CASES: ConformanceCase[] = [
  {
    name: 'session: a verified proof issues a session credential',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    request: { body: userHashBody('u1') },
    expect: { ...verified('user-hash', { externalId: 'u1' }, { via: 'proof' }), session: 'issued' },
  },
  {
    name: 'session: without the session option, no credential is issued',
    options: { scheme: 'user-hash', required: true },
    request: { body: userHashBody('u1') },
    expect: { ...verified('user-hash', { externalId: 'u1' }, { via: 'proof' }), session: 'none' },
  },
  {
    name: 'session: a valid session and no proof verifies as the same contact',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(),
    expect: viaSession('user-hash', { externalId: 'u1', verifiedFields: ['externalId'], identityKey: 'externalId' }),
  },
  {
    name: 'session: a signed payload goes on past its 5-minute window, with exactly its signed fields',
    options: { scheme: 'signed-payload', required: true, session: sessionOn() },
    before: [{ body: payloadFor({ externalId: '42', email: 'jane@example.com', plan: 'pro' }) }],
    request: withSession(1200),
    expect: {
      ...verified(
        'signed-payload',
        {
          externalId: '42',
          email: 'jane@example.com',
          attributes: { plan: 'pro' },
          verifiedFields: ['externalId', 'email', 'attributes.plan'],
        },
        { via: 'session', issuedAt: new Date(NOW).toISOString() },
      ),
      session: 'issued',
    },
  },
  {
    name: 'session: a jwt session goes on past its 15-minute window',
    options: { scheme: 'jwt', required: true, session: sessionOn() },
    before: [{ headers: bearer(jwtFor({ email: 'j@example.com' })) }],
    request: withSession(1000),
    expect: { ...verified('jwt', { email: 'j@example.com', identityKey: 'email' }, { via: 'session' }), session: 'issued' },
  },
  {
    name: 'session: renewed once a sixth of the idle window has passed (sliding)',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(300),
    expect: { ...verified('user-hash', { externalId: 'u1' }, { via: 'session' }), session: 'issued' },
  },
  {
    name: 'session: idle past its window (30 minutes): SESSION_EXPIRED with the challenge',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(1800),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'session: renewed while active, yet ended at its hard maximum',
    options: { scheme: 'user-hash', required: true, session: sessionOn({ idle: 1800, maxAge: 3600 }) },
    before: [{ body: userHashBody('u1') }, withSession(1500), withSession(3000)],
    request: withSession(3600),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'session: expired while optional: anonymous with the code, the widget told',
    options: { scheme: 'user-hash', session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(1800),
    expect: {
      status: 200,
      identity: { verified: false, via: 'session', error: { code: 'SESSION_EXPIRED' } },
      session: 'ended',
      challenge: CHALLENGE_EXPIRED,
    },
  },
  {
    name: 'session: expired while optional, guarded: 401 with the challenge',
    options: { scheme: 'user-hash', session: sessionOn() },
    guard: true,
    before: [{ body: userHashBody('u1') }],
    request: withSession(1800),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: "session: the tenant's sessions ended (endSessions): SESSION_EXPIRED",
    options: { scheme: 'user-hash', required: true, ...tenantOptions, session: sessionOn({ store: memorySessionStore() }) },
    before: [{ headers: team('acme'), body: userHashBody('u1') }],
    request: withSession(60, { headers: team('acme'), endSessions: 'acme' }),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: "session: another tenant's sessions ended: this one goes on",
    options: { scheme: 'user-hash', required: true, ...tenantOptions, session: sessionOn({ store: memorySessionStore() }) },
    before: [{ headers: team('acme'), body: userHashBody('u1') }],
    request: withSession(60, { headers: team('acme'), endSessions: 'globex' }),
    expect: viaSession('user-hash', { externalId: 'u1' }, { tenant: 'acme' }),
  },
  {
    name: 'session: the site key of its proof within its grace: goes on',
    options: {
      scheme: 'user-hash',
      required: true,
      keys: [LIVE_KEY, { secret: PREVIOUS_KEY, id: 'old', expiresAt: NOW + 600_000 }],
      session: sessionOn(),
    },
    before: [{ body: userHashBody('u1', PREVIOUS_KEY) }],
    request: withSession(599),
    expect: { ...viaSession('user-hash', { externalId: 'u1' }, { keyId: 'old' }), session: 'issued' },
  },
  {
    name: 'session: the site key of its proof past its grace (expiresAt): SESSION_EXPIRED',
    options: {
      scheme: 'user-hash',
      required: true,
      keys: [LIVE_KEY, { secret: PREVIOUS_KEY, expiresAt: NOW + 600_000 }],
      session: sessionOn(),
    },
    before: [{ body: userHashBody('u1', PREVIOUS_KEY) }],
    request: withSession(600),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'session: the site key of its proof removed from the lookup: SESSION_EXPIRED',
    options: { scheme: 'user-hash', required: true, keys: rotatingKeys, keyCache: false, session: sessionOn() },
    before: [{ body: userHashBody('u1', PREVIOUS_KEY) }],
    request: withSession(60, { headers: { [ROTATED]: 'rotated' } }),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'session: the new key of a rotation keeps its sessions',
    options: { scheme: 'user-hash', required: true, keys: rotatingKeys, keyCache: false, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(60, { headers: { [ROTATED]: 'rotated' } }),
    expect: viaSession('user-hash', { externalId: 'u1' }),
  },
  {
    name: "session: tenant A's session presented for tenant B: INVALID_SIGNATURE",
    options: { scheme: 'user-hash', required: true, ...tenantOptions, session: sessionOn() },
    before: [{ headers: team('acme'), body: userHashBody('u1') }],
    request: withSession(60, { headers: team('globex') }),
    expect: sessionRefused('INVALID_SIGNATURE', CHALLENGE_INVALID),
  },
  {
    name: 'session: tampered claims: INVALID_SIGNATURE, the widget told',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: { session: ([issued]) => tamper(issued!, (claims) => void (claims.c = { externalId: 'admin' })) },
    expect: sessionRefused('INVALID_SIGNATURE', CHALLENGE_INVALID),
  },
  {
    name: 'session: a proof and a session that disagree: the invalid proof is refused, not rescued',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(60, { body: { user_id: 'u1', user_hash: signUserHash('u2', LIVE_KEY) } }),
    expect: { ...rejected(401, 'INVALID_SIGNATURE'), session: 'none' },
  },
  {
    name: 'session: a proof and a session that disagree: the expired proof is refused, not rescued',
    options: { scheme: 'signed-payload', required: true, session: sessionOn() },
    before: [{ body: payloadFor({ externalId: '1' }) }],
    request: withSession(400, { body: payloadFor({ externalId: '1' }) }),
    expect: { ...rejected(401, 'SIGNATURE_EXPIRED'), session: 'none' },
  },
  {
    name: "session: another identity's proof replaces the session (account switch)",
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(60, { body: userHashBody('u2') }),
    expect: { ...verified('user-hash', { externalId: 'u2' }, { via: 'proof' }), session: 'issued' },
  },
  {
    name: 'session: the session an account switch replaced is ended',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }, withSession(60, { body: userHashBody('u2') })],
    request: { session: ([first]) => first!, at: 120 },
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'session: logout ends it and tells the widget',
    options: { scheme: 'user-hash', required: true, session: sessionOn() },
    before: [{ body: userHashBody('u1') }],
    request: withSession(60, { path: '/logout' }),
    expect: { status: 200, body: { ended: true }, session: 'ended' },
  },
  {
    name: 'session: by cookie (same-site widget): HttpOnly cookie issued',
    options: { scheme: 'user-hash', required: true, session: sessionOn({ cookie: true }) },
    request: { body: userHashBody('u1') },
    expect: { ...verified('user-hash', { externalId: 'u1' }, { via: 'proof' }), session: 'issued' },
  },
  {
    name: 'session: by cookie: the cookie verifies',
    options: { scheme: 'user-hash', required: true, session: sessionOn({ cookie: true }) },
    before: [{ body: userHashBody('u1') }],
    request: withSession(),
    expect: viaSession('user-hash', { externalId: 'u1' }),
  },
  {
    name: 'session: by cookie: expired, the cookie cleared',
    options: { scheme: 'user-hash', required: true, session: sessionOn({ cookie: true }) },
    before: [{ body: userHashBody('u1') }],
    request: withSession(1800),
    expect: sessionRefused('SESSION_EXPIRED', CHALLENGE_EXPIRED),
  },
  {
    name: 'session: bound to the browser key (DPoP): issued with a DPoP proof',
    options: boundOptions,
    request: { headers: { dpop: dpopProof(browserKey) }, body: userHashBody('u1') },
    expect: { ...verified('user-hash', { externalId: 'u1' }, { via: 'proof' }), session: 'issued' },
  },
  {
    name: 'session: bound: no DPoP proof with the proof, no session',
    options: boundOptions,
    request: { body: userHashBody('u1') },
    expect: { ...verified('user-hash', { externalId: 'u1' }, { via: 'proof' }), session: 'none' },
  },
  {
    name: 'session: bound: used with a DPoP proof of its key',
    options: boundOptions,
    before: [{ headers: { dpop: dpopProof(browserKey) }, body: userHashBody('u1') }],
    request: { session: true, sessionHeaders: (credential) => ({ dpop: dpopProof(browserKey, { credential }) }) },
    expect: viaSession('user-hash', { externalId: 'u1' }),
  },
  {
    name: 'session: bound, presented without a DPoP proof: INVALID_SIGNATURE, the session kept',
    options: boundOptions,
    before: [{ headers: { dpop: dpopProof(browserKey) }, body: userHashBody('u1') }],
    request: { session: true },
    expect: sessionRefused('INVALID_SIGNATURE', CHALLENGE_DPOP, 'none'),
  },
  {
    name: 'session: bound, a DPoP proof a minute old: SIGNATURE_EXPIRED, the session kept',
    options: boundOptions,
    before: [{ headers: { dpop: dpopProof(browserKey) }, body: userHashBody('u1') }],
    request: { session: true, at: 61, sessionHeaders: (credential) => ({ dpop: dpopProof(browserKey, { credential }) }) },
    expect: sessionRefused('SIGNATURE_EXPIRED', CHALLENGE_DPOP, 'none'),
  },
];
CASES.push(...SESSION_CASES);

// --- Asymmetric JWT (docs/jwks.md): the site signs with its private key (ES256, EdDSA, RS256,
// PS256); the chat backend holds its public keys, given as PEM, a JWK, a JWKS, or a JWKS URL. The
// key decides the algorithm; the header's kid selects the key. Attacks: test/conformance/attacks.ts.
const SITE_KEYS = {
  ES256: keyPair('ES256', 'case-es'),
  EdDSA: keyPair('EdDSA', 'case-ed'),
  RS256: keyPair('RS256', 'case-rs'),
  PS256: keyPair('PS256', 'case-ps'),
};
const siteToken = (alg: keyof typeof SITE_KEYS, claims: Record<string, unknown> = {}) =>
  tokenBy(SITE_KEYS[alg], { externalId: 'site-user', ...claims });
const ASYMMETRIC_CASES: ConformanceCase[] = [
  {
    name: 'jwt ES256 with the site JWKS, in the Authorization header',
    options: { scheme: 'jwt', required: true, keys: [{ jwks: jwksOf(...Object.values(SITE_KEYS)) }] },
    request: { headers: bearer(siteToken('ES256', { email: 'ada@example.com' })) },
    expect: verified('jwt', { externalId: 'site-user', email: 'ada@example.com', identityKey: 'email' }, { keyId: 'case-es' }),
  },
  {
    name: 'jwt EdDSA with a public JWK, in the body',
    options: { scheme: 'jwt', required: true, keys: [{ publicKey: SITE_KEYS.EdDSA.jwk }] },
    request: { body: { token: siteToken('EdDSA') } },
    expect: verified('jwt', { externalId: 'site-user' }, { keyId: 'case-ed' }),
  },
  {
    name: 'jwt RS256 with a PEM public key and its alg',
    options: { scheme: 'jwt', required: true, keys: [{ publicKey: SITE_KEYS.RS256.pem, alg: 'RS256', id: 'case-rs' }] },
    request: { headers: bearer(siteToken('RS256')) },
    expect: verified('jwt', { externalId: 'site-user' }, { keyId: 'case-rs' }),
  },
  {
    name: 'jwt PS256 from a tenant lookup returning its JWKS',
    options: {
      scheme: 'jwt',
      required: true,
      tenant: tenantOptions.tenant,
      keys: (tenant: string | undefined) => (tenant === 'acme' ? { jwks: jwksOf(SITE_KEYS.PS256) } : undefined),
    },
    request: { headers: { ...team('acme'), ...bearer(siteToken('PS256')) } },
    expect: verified('jwt', { externalId: 'site-user' }, { keyId: 'case-ps', tenant: 'acme' }),
  },
  {
    name: 'jwt ES256 whose kid names another key of the set',
    options: { scheme: 'jwt', required: true, keys: [{ jwks: jwksOf(...Object.values(SITE_KEYS)) }] },
    request: { headers: bearer(tokenBy(SITE_KEYS.ES256, { externalId: 'x' }, { header: { alg: 'ES256', kid: 'case-ed' } })) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'jwt HS256 against public keys',
    options: { scheme: 'jwt', required: true, keys: [{ publicKey: SITE_KEYS.ES256.jwk }] },
    request: { headers: bearer(jwtFor({ externalId: 'x' })) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: 'jwt ES256 at 901 seconds',
    options: { scheme: 'jwt', required: true, now: clockAt(901), keys: [{ publicKey: SITE_KEYS.ES256.jwk }] },
    request: { headers: bearer(siteToken('ES256')) },
    expect: rejected(401, 'SIGNATURE_EXPIRED'),
  },
  {
    name: 'jwt from a JWKS URL the site cannot serve: 503',
    options: { scheme: 'jwt', required: true, keys: async () => ({ jwks: { url: `${(await sharedJwksServer()).origin}/missing.json` } }) },
    request: { headers: bearer(siteToken('ES256')) },
    expect: rejected(503, 'KEY_UNAVAILABLE'),
  },
];
CASES.push(...ASYMMETRIC_CASES);

// --- Rollout (docs/rollout.md): `required: 'report'` lets through, as anonymous and marked
// `wouldReject`, exactly what `required: true` refuses. One tenant's traffic, each request a pair of
// rows: enforced, then reported (test/rollout.test.ts sends the same traffic and counts it). Then the
// tenant's own setting, from the keys lookup's answer, over the option's.
export interface RolloutRequest {
  name: string;
  /** Everything but `required`. */
  options: ConformanceCase['options'];
  before?: CaseRequest[];
  request: CaseRequest;
  /** What enforcing answers; none: verified. */
  refused?: { status: number; code: string; retryAfter?: string; session?: 'ended'; challenge?: string };
  /** Verified: a part of the result. */
  identity?: Record<string, unknown>;
}
const RETIRED = { secret: PREVIOUS_KEY, id: '2024-old', expiresAt: NOW - 86_400_000 };
/** The tenant acme's keys: the current one, and the one it retired yesterday. */
const acmeKeys = (tenant: string | undefined) =>
  tenant === 'acme' ? { tenant, keys: [{ secret: LIVE_KEY, id: '2025' }, RETIRED] } : undefined;
const acme = { scheme: 'user-hash' as const, tenant: tenantOptions.tenant, keys: acmeKeys };
const acmeHeaders = team('acme');
export const ROLLOUT_TRAFFIC: RolloutRequest[] = [
  {
    name: 'a valid proof',
    options: acme,
    request: { headers: acmeHeaders, body: userHashBody('u1') },
    identity: { verified: true, tenant: 'acme', keyId: '2025', via: 'proof' },
  },
  {
    name: 'no proof',
    options: acme,
    request: { headers: acmeHeaders, body: { message: 'hi' } },
    refused: { status: 401, code: 'MISSING_IDENTITY' },
  },
  {
    name: 'a proof signed with the key retired yesterday',
    options: acme,
    request: { headers: acmeHeaders, body: userHashBody('u2', PREVIOUS_KEY) },
    refused: { status: 401, code: 'INVALID_SIGNATURE' },
  },
  {
    name: 'a user_hash in base64',
    options: acme,
    request: {
      headers: acmeHeaders,
      body: { user_id: 'u3', user_hash: Buffer.from(signUserHash('u3', LIVE_KEY), 'hex').toString('base64') },
    },
    refused: { status: 401, code: 'MALFORMED_IDENTITY' },
  },
  {
    name: 'a user_hash without its user_id',
    options: acme,
    request: { headers: acmeHeaders, body: { user_hash: signUserHash('u4', LIVE_KEY) } },
    refused: { status: 401, code: 'MISSING_REQUIRED_FIELD' },
  },
  {
    name: 'a signed payload 301 seconds old',
    options: { ...acme, scheme: 'signed-payload', now: clockAt(301) },
    request: { headers: acmeHeaders, body: payloadFor({ externalId: '5' }) },
    refused: { status: 401, code: 'SIGNATURE_EXPIRED' },
  },
  {
    name: 'a tenant with no keys',
    options: acme,
    request: { headers: team('initech'), body: userHashBody('u6') },
    refused: { status: 503, code: 'KEY_UNAVAILABLE' },
  },
  {
    name: 'a keys lookup that fails',
    options: { ...acme, keys: () => Promise.reject(new Error('db down')) },
    request: { headers: acmeHeaders, body: userHashBody('u7') },
    refused: { status: 503, code: 'KEY_UNAVAILABLE' },
  },
  {
    name: 'an identity over its failure limit',
    options: { ...acme, rateLimit: { identity: { points: 1, duration: 60 } } },
    before: [{ headers: acmeHeaders, body: { user_id: 'victim', user_hash: signUserHash('x', LIVE_KEY) } }],
    request: { headers: acmeHeaders, body: userHashBody('victim') },
    refused: { status: 429, code: 'RATE_LIMITED', retryAfter: '60' },
  },
  {
    name: 'a jwt without a token',
    options: { ...acme, scheme: 'jwt' },
    request: { headers: { ...acmeHeaders, authorization: 'Basic dXNlcjpwYXNz' } },
    refused: { status: 401, code: 'MISSING_IDENTITY', challenge: 'Bearer realm="chat-identity"' },
  },
  {
    name: 'a valid session',
    options: { ...acme, session: sessionOn() },
    before: [{ headers: acmeHeaders, body: userHashBody('u8') }],
    request: withSession(60, { headers: acmeHeaders }),
    identity: { verified: true, tenant: 'acme', via: 'session' },
  },
  {
    name: 'a session idle past its window',
    options: { ...acme, session: sessionOn() },
    before: [{ headers: acmeHeaders, body: userHashBody('u9') }],
    request: withSession(1800, { headers: acmeHeaders }),
    refused: { status: 401, code: 'SESSION_EXPIRED', session: 'ended', challenge: CHALLENGE_EXPIRED },
  },
];
const reportedAs = (code: string, extra: Record<string, unknown> = {}) => ({
  status: 200,
  identity: { verified: false, error: { code }, wouldReject: code, ...extra },
});
for (const { name, options, before, request, refused, identity } of ROLLOUT_TRAFFIC) {
  const enforced: ConformanceCase['expect'] = refused
    ? { ...rejected(refused.status, refused.code), retryAfter: refused.retryAfter, session: refused.session, challenge: refused.challenge }
    : { status: 200, identity };
  // Reported: through, with the code enforcing gave; a session's end is still told to the widget.
  const reported: ConformanceCase['expect'] = refused
    ? {
        ...reportedAs(refused.code, refused.session ? { via: 'session' } : {}),
        session: refused.session,
        challenge: refused.session && refused.challenge,
      }
    : { status: 200, identity };
  CASES.push({ name: `rollout: enforced, ${name}`, options: { ...options, required: true }, before, request, expect: enforced });
  CASES.push({ name: `rollout: reported, ${name}`, options: { ...options, required: 'report' }, before, request, expect: reported });
}
/** A lookup that answers every tenant with the live key and the setting its `x-required` header names (the test's stand-in for a tenants table). */
const settingPerTenant = (tenant: string | undefined, request: VerifyRequest) => {
  const said = request.headers?.['x-required'];
  return {
    tenant,
    keys: said === 'no-keys' ? [] : [LIVE_KEY],
    required: said === 'report' || said === 'no-keys' ? ('report' as const) : said === 'true',
  };
};
const perTenant = (required: boolean | 'report') => ({
  scheme: 'user-hash' as const,
  tenant: tenantOptions.tenant,
  keys: settingPerTenant,
  keyCache: false as const,
  required,
});
const badProof = { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) };
CASES.push(
  {
    name: "rollout: the option true, the tenant's answer report: through, marked",
    options: perTenant(true),
    request: { headers: { ...acmeHeaders, 'x-required': 'report' }, body: badProof },
    expect: reportedAs('INVALID_SIGNATURE', { scheme: 'user-hash' }),
  },
  {
    name: "rollout: the option report, the tenant's answer true: refused",
    options: perTenant('report'),
    request: { headers: { ...acmeHeaders, 'x-required': 'true' }, body: badProof },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
  {
    name: "rollout: the option true, the tenant's answer false, nothing presented: anonymous",
    options: perTenant(true),
    request: { headers: { ...acmeHeaders, 'x-required': 'false' }, body: { message: 'hi' } },
    expect: anonymous(),
  },
  {
    name: "rollout: the option false, the tenant's answer true, nothing presented: refused",
    options: perTenant(false),
    request: { headers: { ...acmeHeaders, 'x-required': 'true' }, body: { message: 'hi' } },
    expect: rejected(401, 'MISSING_IDENTITY'),
  },
  {
    name: 'rollout: a tenant not signing yet ({ required: report }, no keys): through as KEY_UNAVAILABLE',
    options: perTenant(true),
    request: { headers: { ...acmeHeaders, 'x-required': 'no-keys' }, body: userHashBody('u1') },
    expect: reportedAs('KEY_UNAVAILABLE'),
  },
  {
    name: 'rollout: report, guarded: requireVerified() still refuses',
    options: { ...acme, required: 'report' },
    guard: true,
    request: { headers: acmeHeaders, body: userHashBody('u2', PREVIOUS_KEY) },
    expect: rejected(401, 'INVALID_SIGNATURE'),
  },
);
