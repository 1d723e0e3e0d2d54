/**
 * Sessions (docs/sessions.md): what the conformance table does not show row by row. The options and
 * what they refuse; the credential's format and what it binds (and never carries); renewal; ending
 * one session, a tenant's, or by the store's failure; what verifying costs; cookies and headers
 * through every adapter; the DPoP binding against an independent implementation (jose); and two
 * verifier instances agreeing through a real redis-server. The clock is frozen and moved, never slept on.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { promiseHooks } from 'node:v8';
import bodyParser from '@koa/bodyparser';
import express from 'express';
import { Redis } from 'ioredis';
import * as jose from 'jose';
import Koa from 'koa';
import { createClient } from 'redis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as forExpress from '../adapters/express.js';
import * as forKoa from '../adapters/koa.js';
import {
  IdentityErrorCode,
  createVerifier,
  memorySessionStore,
  redisSessionStore,
  responseHeadersOf,
  signJwt,
  signPayload,
  signUserHash,
  verifierOf,
  type IdentityResult,
  type SignJwtOptions,
  type SessionStore,
  type VerifierOptions,
  type VerifyRequest,
} from '../src/index.js';
import * as signature from '../src/signature.js';
import { withDeadline } from '../src/session/store.js';
import { LIVE_KEY, NOW, NOW_SECONDS, OTHER_TENANT_KEY, PREVIOUS_KEY, SECOND_SCHEME_KEY, TEST_KEY } from './helpers.js';
import { ADAPTERS, buildApp, type AdapterName } from './support/apps.js';
import { findRedisServer, startRedis, type RedisServer } from './support/redisServer.js';
import {
  CHALLENGE_DPOP,
  CHALLENGE_EXPIRED,
  MAC_PREFIX,
  NEXT_SESSION_KEY,
  OTHER_VERIFIER_SESSION_KEY,
  SESSION_KEY,
  claimsOf,
  dpopKey,
  dpopProof,
  forge,
  mintSession,
  tamper,
  type DpopKey,
} from './support/sessions.js';

const HEADER = 'Chat-Identity-Session';
const quiet = () => ({ warn: vi.fn(), error: vi.fn() });
const userHashBody = (id: string, key = LIVE_KEY) => ({ user_id: id, user_hash: signUserHash(id, key) });
const issuedBy = (result: IdentityResult) => responseHeadersOf(result)[HEADER];
const codeOf = (result: IdentityResult) => (result.verified ? 'VERIFIED' : (result.error?.code ?? 'ANONYMOUS'));

/** A verifier on a clock the test moves, with helpers for the widget's two kinds of request. */
function setup(options: Partial<VerifierOptions> = {}) {
  const clock = { at: NOW };
  const logger = quiet();
  const verifier = createVerifier({
    scheme: 'user-hash',
    keys: [LIVE_KEY],
    now: () => clock.at,
    logger,
    session: { keys: [SESSION_KEY] },
    ...options,
  });
  return {
    verifier,
    logger,
    /** Moves the clock to `seconds` after NOW. */
    at: (seconds: number) => void (clock.at = NOW + seconds * 1000),
    proof: (id = 'u1', extra: VerifyRequest = {}) => verifier.verify({ ...extra, body: extra.body ?? userHashBody(id) }),
    session: (credential: string, extra: VerifyRequest = {}) =>
      verifier.verify({ ...extra, headers: { 'chat-identity-session': credential, ...extra.headers } }),
  };
}

describe('sessions: options, checked at construction', () => {
  const base = { scheme: 'user-hash' as const, keys: [LIVE_KEY] };

  it.each([
    ['a static site key', { keys: [LIVE_KEY] }, /session\.keys\[0\] is also a user-hash site key/],
    ['a site key of another scheme', { keys: ['x'.repeat(40), SECOND_SCHEME_KEY] }, /session\.keys\[1\] is also a jwt site key/],
  ])('refuses a session key that is %s (compared by fingerprint)', (_, session, message) => {
    const keys = { 'user-hash': [LIVE_KEY], jwt: [SECOND_SCHEME_KEY] };
    expect(() => createVerifier({ scheme: ['user-hash', 'jwt'], keys, session })).toThrow(message);
  });

  it('refuses a session key that another verifier of this process uses as a site key, whichever is made first', async () => {
    const fresh = () => `k_${randomUUID()}_${randomUUID()}`;
    // A site key first (a visitor-hash endpoint signs any id it is asked: it would mint sessions), then the session key.
    const siteFirst = fresh();
    createVerifier({ scheme: 'visitor-hash', keys: [siteFirst], logger: quiet() });
    expect(() => createVerifier({ ...base, logger: quiet(), session: { keys: [siteFirst] } })).toThrow(
      /session\.keys\[0\] is also a visitor-hash site key \(here or in another verifier of this process\)/,
    );
    // The session key first, then a verifier that would take it as a site key: statically, or from a lookup.
    const sessionFirst = fresh();
    createVerifier({ ...base, logger: quiet(), session: { keys: [sessionFirst] } });
    expect(() => createVerifier({ scheme: 'visitor-hash', keys: [sessionFirst], logger: quiet() })).toThrow(
      /keys\[0\] is a session key of a verifier of this process/,
    );
  });

  it.each([
    ['no keys', {}, /session\.keys is required/],
    ['a short key', { keys: ['short'] }, /shorter than 32 characters/],
    ['a key with a pasted newline', { keys: [`${SESSION_KEY}\n`] }, /whitespace/],
    ['a misspelt key field', { keys: [{ secret: SESSION_KEY, expiresAT: 1 }] }, /no option "expiresAT"; did you mean "expiresAt"/],
    ['a test flag (session keys are never test keys)', { keys: [{ secret: SESSION_KEY, test: true }] }, /no option "test"/],
    [
      'two keys with one id',
      {
        keys: [
          { secret: SESSION_KEY, id: 'a' },
          { secret: NEXT_SESSION_KEY, id: 'a' },
        ],
      },
      /has the id "a" of another session key/,
    ],
    ['an id like a derived one', { keys: [{ secret: SESSION_KEY, id: '~x' }] }, /not starting with "~"/],
    ['a misspelt option', { keys: [SESSION_KEY], idel: 60 }, /no option "idel"; did you mean "idle"/],
    ['idle of 0', { keys: [SESSION_KEY], idle: 0 }, /session\.idle must be a whole number of seconds/],
    ['maxAge as a string', { keys: [SESSION_KEY], maxAge: '1d' }, /session\.maxAge must be a whole number/],
    ['a header that is no header name', { keys: [SESSION_KEY], header: 'Chat Session' }, /header must be a header name/],
    ['another binding', { keys: [SESSION_KEY], bind: 'mtls' }, /bind must be 'dpop'/],
    [
      'DPoP binding with the cookie (a proof hashes the credential)',
      { keys: [SESSION_KEY], bind: 'dpop', cookie: true },
      /needs the credential in the header/,
    ],
    ['a store that is no store', { keys: [SESSION_KEY], store: {} }, /must be a SessionStore/],
    ['SameSite=None without Secure', { keys: [SESSION_KEY], cookie: { sameSite: 'None', secure: false } }, /needs secure: true/],
    [
      'a __Host- cookie with a domain',
      { keys: [SESSION_KEY], cookie: { name: '__Host-chat', domain: 'example.com' } },
      /__Host- cookie needs/,
    ],
    ['a misspelt cookie option', { keys: [SESSION_KEY], cookie: { samesite: 'Lax' } }, /did you mean "sameSite"/],
  ])('refuses %s', (_, session, message) => {
    expect(() => createVerifier({ ...base, session } as unknown as VerifierOptions)).toThrow(message);
  });

  it('without the option: no credential, endSession and endSessions say the option is needed', async () => {
    const verifier = createVerifier({ ...base, now: () => NOW });
    const result = await verifier.verify({ body: userHashBody('u1') });
    expect(result).toMatchObject({ verified: true, via: 'proof' });
    expect(responseHeadersOf(result)).toEqual({});
    // A credential sent to a verifier without sessions is no proof at all.
    expect(await verifier.verify({ headers: { 'chat-identity-session': 'v1.x.y' } })).toEqual({ verified: false });
    await expect(verifier.endSession(result)).rejects.toThrow('endSession() needs the session option');
    await expect(verifier.endSessions('acme')).rejects.toThrow('endSessions() needs the session option');
  });
});

describe('sessions: the credential', () => {
  it('is v1.<claims>.<mac>: HMAC-SHA256 under the session key over a fixed prefix, a few hundred characters', async () => {
    const { proof } = setup();
    const credential = issuedBy(await proof('u1'))!;
    const [version, claims, mac] = credential.split('.');
    expect(version).toBe('v1');
    expect(claims).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(mac).toBe(createHmac('sha256', SESSION_KEY).update(`${MAC_PREFIX}v1.${claims}`).digest('base64url'));
    expect(credential.length).toBeLessThan(300);
  });

  it('a contact with an email, a name and two signed attributes makes a credential of about 500 characters (docs/sessions.md)', async () => {
    const { verifier } = setup({ scheme: 'signed-payload' });
    const contact = {
      externalId: 'user-12345',
      email: 'ada.lovelace@example.com',
      name: 'Ada Lovelace',
      plan: 'pro',
      company: 'Analytical Engines Ltd',
    };
    const result = await verifier.verify({ body: signPayload(contact, LIVE_KEY, { now: () => NOW }) });
    expect(result.verified).toBe(true);
    expect(issuedBy(result)!.length).toBeGreaterThan(400);
    expect(issuedBy(result)!.length).toBeLessThan(600);
  });

  it('binds tenant, scheme, identity, exactly the verified fields, the site key, the proof policy and the proof time; never a secret', async () => {
    const tenant = {
      tenant: (r: VerifyRequest) => r.headers?.['x-team'] as string,
      keys: () => ({ tenant: 'acme', keys: [{ secret: LIVE_KEY, id: 'live-2026' }] }),
    };
    const { proof } = setup({ scheme: 'signed-payload', ...tenant });
    const body = signPayload({ externalId: '42', email: 'ada@example.com', plan: 'pro', timestamp: NOW_SECONDS - 120 }, LIVE_KEY);
    const credential = issuedBy(await proof('', { headers: { 'x-team': 'ACME' }, body }))!;
    const claims = claimsOf(credential);
    expect(claims).toEqual({
      q: expect.stringMatching(/^~[\w-]{11}$/),
      s: 'signed-payload',
      t: 'acme',
      k: 'externalId',
      c: { externalId: '42', email: 'ada@example.com', 'attributes.plan': 'pro' },
      f: expect.stringMatching(/^[\w-]{16}$/),
      p: expect.stringMatching(/^[\w-]{16}$/),
      i: NOW_SECONDS - 120,
      a: NOW_SECONDS - 120, // the hard maximum counts from the proof's own time
      n: NOW_SECONDS,
      j: expect.stringMatching(/^[\w-]{16}$/),
    });
    for (const secret of [LIVE_KEY, SESSION_KEY]) expect(JSON.stringify(claims)).not.toContain(secret);
  });

  it("carries no unverified field: a user hash's metadata stays behind", async () => {
    const { proof, session } = setup();
    const first = await proof('u1', {
      body: { ...userHashBody('u1'), user_metadata: { email: 'claimed@example.com', name: 'Claimed', plan: 'pro' } },
    });
    expect(first).toMatchObject({ verified: true, contact: { email: 'claimed@example.com', verifiedFields: ['externalId'] } });
    const credential = issuedBy(first)!;
    expect(claimsOf(credential).c).toEqual({ externalId: 'u1' });
    const later = await session(credential);
    expect(later).toEqual({
      verified: true,
      scheme: 'user-hash',
      contact: { externalId: 'u1', attributes: {}, verifiedFields: ['externalId'], identityKey: 'externalId' },
      test: false,
      via: 'session',
    });
  });

  it('a session result is the proof result, via session: same contact, scheme, key id, tenant, test and time', async () => {
    const { proof, session, at } = setup({ scheme: 'signed-payload', keys: [{ secret: TEST_KEY, id: 'test' }] });
    const first = await proof('', {
      body: signPayload(
        { externalId: '7', name: 'Ana 🚀', email: 'ana@example.com', tier: 3, beta: true, timestamp: NOW_SECONDS },
        TEST_KEY,
      ),
    });
    at(1200);
    const later = await session(issuedBy(first)!);
    expect(first).toMatchObject({ via: 'proof', test: true, keyId: 'test' });
    expect(JSON.stringify(later)).toBe(JSON.stringify({ ...first, via: 'session' }));
  });

  it('is refused unread over 3072 characters, even with a MAC of the session key', async () => {
    const { proof, session } = setup();
    const claims = claimsOf(issuedBy(await proof())!);
    const long = forge({ ...claims, c: { externalId: 'u1', 'attributes.note': 'x'.repeat(3000) } }, SESSION_KEY);
    expect(await session(long)).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });

  it('never lets a claim reach a prototype, whoever made the credential (a session key holder)', async () => {
    const { proof, session } = setup();
    const claims = claimsOf(issuedBy(await proof())!);
    const text = JSON.stringify({ ...claims, c: { externalId: 'u1' } }).replace(
      '"c":{',
      '"c":{"attributes.__proto__":{"admin":true},"toString":"x",',
    );
    const signed = `v1.${Buffer.from(text).toString('base64url')}`;
    const credential = `${signed}.${createHmac('sha256', SESSION_KEY)
      .update(MAC_PREFIX + signed)
      .digest('base64url')}`;
    const result = await session(credential);
    expect(result).toMatchObject({ verified: true, contact: { externalId: 'u1', verifiedFields: ['externalId'] } });
    const { attributes } = (result as { contact: { attributes: Record<string, unknown> } }).contact;
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(attributes.admin).toBeUndefined();
  });

  it('a site key with no id is bound by a tag of its secret: replacing the secret ends the session, whatever the id', async () => {
    let keys: (string | { secret: string; id: string })[] = [{ secret: LIVE_KEY, id: 'live' }];
    const { proof, session } = setup({ keys: () => keys, keyCache: false });
    const credential = issuedBy(await proof('u1'))!;
    keys = [{ secret: PREVIOUS_KEY, id: 'live' }]; // the same id, another secret
    expect(codeOf(await session(credential))).toBe('SESSION_EXPIRED');
    keys = [LIVE_KEY]; // the same secret again, now without an id
    expect(await session(credential)).toMatchObject({ verified: true, via: 'session' });
  });

  it('is not issued on a site key that a lookup returns equal to a session key (said once)', async () => {
    const { proof, logger } = setup({ keys: () => [SESSION_KEY] });
    const result = await proof('u1', { body: userHashBody('u1', SESSION_KEY) });
    expect(result).toMatchObject({ verified: true });
    expect(issuedBy(result)).toBeUndefined();
    await proof('u1', { body: userHashBody('u1', SESSION_KEY) });
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/returned a session key as a site key/);
  });

  it('is not issued when the signed fields make it too long (said once), nor for a proof older than a session lasts', async () => {
    const { proof, logger } = setup({
      scheme: 'signed-payload',
      testMaxAge: 7200,
      keys: [TEST_KEY],
      session: { keys: [SESSION_KEY], maxAge: 3600 },
    });
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`note${i}`, 'x'.repeat(900)]));
    const large = await proof('', { body: signPayload({ externalId: '1', ...big, timestamp: NOW_SECONDS }, TEST_KEY) });
    expect(large).toMatchObject({ verified: true });
    expect(issuedBy(large)).toBeUndefined();
    expect(logger.error.mock.calls.map(([m]) => m)).toEqual([expect.stringMatching(/session credential over 3072 characters/)]);
    const old = await proof('', { body: signPayload({ externalId: '1', timestamp: NOW_SECONDS - 3600 }, TEST_KEY) });
    expect(old).toMatchObject({ verified: true });
    expect(issuedBy(old)).toBeUndefined();
  });
});

describe('sessions: renewal, sliding up to the hard maximum', () => {
  it('is issued once the end would move by a sixth of the idle window (5 minutes), keeping the session', async () => {
    const { proof, session, at } = setup();
    const first = issuedBy(await proof())!;
    at(299);
    expect(issuedBy(await session(first))).toBeUndefined();
    at(300);
    const renewed = issuedBy(await session(first))!;
    const [before, after] = [claimsOf(first), claimsOf(renewed)];
    expect(after).toEqual({ ...before, n: NOW_SECONDS + 300 });
    // The renewed credential lasts from its own time: past the first's idle end, within its own.
    at(1800 + 299);
    expect(codeOf(await session(first))).toBe('SESSION_EXPIRED');
    expect(await session(renewed)).toMatchObject({ verified: true, via: 'session' });
  });

  it('keeps a 20-minute conversation verified across four 5-minute proof windows, with one proof', async () => {
    const { verifier, at } = setup({ scheme: 'signed-payload' });
    const proofs = [signPayload({ externalId: '42', timestamp: NOW_SECONDS }, LIVE_KEY)];
    let credential = issuedBy(await verifier.verify({ body: proofs[0] }))!;
    for (const minute of [5, 10, 15, 20]) {
      at(minute * 60 + 1);
      // The proof alone would be refused by now.
      expect(codeOf(await verifier.verify({ body: proofs[0] }))).toBe('SIGNATURE_EXPIRED');
      const result = await verifier.verify({ headers: { 'chat-identity-session': credential } });
      expect(result).toMatchObject({ verified: true, via: 'session', contact: { externalId: '42' } });
      credential = issuedBy(result) ?? credential;
    }
  });

  it('stops renewing when the hard maximum is what ends the session', async () => {
    const { proof, session, at } = setup({ session: { keys: [SESSION_KEY], idle: 1800, maxAge: 2000 } });
    let credential = issuedBy(await proof())!;
    at(1500);
    credential = issuedBy(await session(credential))!; // moves the end from 1800 to 2000: a sixth of 1800 is 300, 200 is less
    expect(credential).toBeUndefined();
  });

  it('lasts 24 hours by default from its proof, however active: kept alive to the last second, then SESSION_EXPIRED', async () => {
    const { proof, session, at } = setup();
    let credential = issuedBy(await proof())!;
    // A request every 25 minutes: within the 30-minute idle window each time, renewed each time.
    for (let t = 1500; t < 86_400; t += 1500) {
      at(t);
      const result = await session(credential);
      expect(result).toMatchObject({ verified: true, via: 'session' });
      credential = issuedBy(result) ?? credential;
    }
    at(86_399);
    expect(await session(credential)).toMatchObject({ verified: true, via: 'session' });
    at(86_400);
    expect(codeOf(await session(credential))).toBe('SESSION_EXPIRED');
  });

  it('moves sessions to the newest session key, and the old key verifies until its expiresAt', async () => {
    const ring = [{ secret: SESSION_KEY, id: 'old' }];
    const first = setup({ session: { keys: ring } });
    const credential = issuedBy(await first.proof())!;
    const rotated = setup({
      session: {
        keys: [
          { secret: NEXT_SESSION_KEY, id: 'new' },
          { ...ring[0]!, expiresAt: NOW + 1200_000 },
        ],
      },
    });
    rotated.at(600);
    const renewed = issuedBy(await rotated.session(credential))!;
    expect(claimsOf(renewed)).toMatchObject({ q: 'new', j: claimsOf(credential).j });
    // Within its idle window, but its session key is past its expiresAt: the renewed one goes on.
    rotated.at(1200);
    expect(codeOf(await rotated.session(credential))).toBe('SESSION_EXPIRED');
    expect(await rotated.session(renewed)).toMatchObject({ verified: true });
  });
});

describe('sessions: bound to the proof policy of the verifier that started them', () => {
  const jwtRequest = (claims: Record<string, unknown> = {}, options: SignJwtOptions = {}) => ({
    headers: { authorization: `Bearer ${signJwt({ externalId: 'u1', ...claims }, LIVE_KEY, { now: () => NOW, ...options })}` },
  });
  const userHashRequest = (key = LIVE_KEY) => ({ body: userHashBody('u1', key) });
  const payloadRequest = (age: number, key = LIVE_KEY) => ({ body: signPayload({ externalId: 'u1', timestamp: NOW_SECONDS - age }, key) });
  const bothSchemes = { 'user-hash': [LIVE_KEY], jwt: [SECOND_SCHEME_KEY] };

  // Two verifiers sharing one session key; the last column is what the strict one says of the proof itself.
  it.each<[string, Partial<VerifierOptions>, Partial<VerifierOptions>, VerifyRequest, string]>([
    ['audience: none, or chat', { scheme: 'jwt' }, { scheme: 'jwt', audience: 'chat' }, jwtRequest(), 'INVALID_SIGNATURE'],
    ['issuer: none, or the site', { scheme: 'jwt' }, { scheme: 'jwt', issuer: 'https://site.example' }, jwtRequest(), 'INVALID_SIGNATURE'],
    [
      'jwt algorithms: HS256 and HS384, or the default',
      { scheme: 'jwt', algorithms: ['HS256', 'HS384'] },
      { scheme: 'jwt' },
      jwtRequest({}, { algorithm: 'HS384' }),
      'INVALID_SIGNATURE',
    ],
    [
      'signed-payload maxAge: 900, or the default 300',
      { scheme: 'signed-payload', maxAge: 900 },
      { scheme: 'signed-payload' },
      payloadRequest(600),
      'SIGNATURE_EXPIRED',
    ],
    [
      'signed-payload testMaxAge: 7200, or the default 3600',
      { scheme: 'signed-payload', keys: [TEST_KEY], testMaxAge: 7200 },
      { scheme: 'signed-payload', keys: [TEST_KEY] },
      payloadRequest(5400, TEST_KEY),
      'SIGNATURE_EXPIRED',
    ],
    [
      'allowTestKeys: true, or false (a proof of the live key, which both verify)',
      { keys: [LIVE_KEY, TEST_KEY] },
      { keys: [LIVE_KEY, TEST_KEY], allowTestKeys: false },
      userHashRequest(),
      'VERIFIED',
    ],
    [
      'schemes: user-hash and jwt, or user-hash (a user hash, which both verify)',
      { scheme: ['user-hash', 'jwt'], keys: bothSchemes },
      {},
      userHashRequest(),
      'VERIFIED',
    ],
  ])('%s: a session the lax one started is refused by the strict one as expired', async (_, laxOptions, strictOptions, proof, verdict) => {
    const lax = setup(laxOptions);
    const strict = setup({ diagnostics: true, ...strictOptions });
    const started = await lax.verifier.verify(proof);
    expect(started).toMatchObject({ verified: true, via: 'proof' });
    const credential = issuedBy(started)!;
    expect(codeOf(await strict.verifier.verify(proof))).toBe(verdict);
    const refused = await strict.session(credential);
    expect(refused).toMatchObject({ verified: false, via: 'session', error: { code: 'SESSION_EXPIRED' } });
    expect((refused as { error: { hint: string } }).error.hint).toMatch(/^The session was started by a verifier with another proof policy/);
    expect(responseHeadersOf(refused)).toEqual({ [HEADER]: 'ended', 'WWW-Authenticate': CHALLENGE_EXPIRED });
    expect(await lax.session(credential)).toMatchObject({ verified: true, via: 'session' });
  });

  it('what was refused before the policy still is, as before: a scheme this verifier does not take, a test key where they are off', async () => {
    const strict = setup({ diagnostics: true, allowTestKeys: false, keys: [LIVE_KEY, TEST_KEY] });
    const jwtSession = issuedBy(
      await setup({ scheme: ['user-hash', 'jwt'], keys: bothSchemes }).verifier.verify({
        headers: { authorization: `Bearer ${signJwt({ externalId: 'u1' }, SECOND_SCHEME_KEY, { now: () => NOW })}` },
      }),
    )!;
    expect(await strict.session(jwtSession)).toMatchObject({
      error: { code: 'INVALID_SIGNATURE', hint: expect.stringMatching(/issued for jwt, which this verifier does not take/) },
    });
    const testKeySession = issuedBy(await setup({ keys: [LIVE_KEY, TEST_KEY] }).proof('u1', userHashRequest(TEST_KEY)))!;
    expect(await strict.session(testKeySession)).toMatchObject({
      error: { code: 'INVALID_SIGNATURE', hint: expect.stringMatching(/test keys are turned off/) },
    });
  });

  it.each<[string, Partial<VerifierOptions>, Partial<VerifierOptions>, VerifyRequest]>([
    [
      'audience and issuer listed in another order, with a repeat',
      { scheme: 'jwt', audience: ['chat', 'support'], issuer: ['https://a.example', 'https://b.example'] },
      { scheme: 'jwt', issuer: ['https://b.example', 'https://a.example', 'https://b.example'], audience: ['support', 'chat'] },
      jwtRequest({ aud: 'chat', iss: 'https://a.example' }),
    ],
    [
      'schemes in another order',
      { scheme: ['user-hash', 'jwt'], keys: bothSchemes },
      { scheme: ['jwt', 'user-hash'], keys: bothSchemes },
      userHashRequest(),
    ],
    [
      'the defaults, or the same spelt out',
      { scheme: 'jwt' },
      {
        scheme: 'jwt',
        algorithms: ['PS256', 'RS256', 'EdDSA', 'ES256', 'HS256'],
        allowTestKeys: true,
        clockTolerance: 60,
        testMaxAge: 3600,
        maxAge: 900,
      },
      jwtRequest(),
    ],
    [
      'settings user-hash does not read, and options that decide what becomes of a request, not of a proof',
      {},
      {
        audience: 'chat',
        maxAge: 10,
        required: true,
        diagnostics: true,
        rateLimit: false,
        keys: [PREVIOUS_KEY, LIVE_KEY],
      },
      userHashRequest(),
    ],
  ])('the same policy shares sessions: %s', async (_, one, other, proof) => {
    const [a, b] = [setup(one), setup(other)];
    const fromA = issuedBy(await a.verifier.verify(proof))!;
    const fromB = issuedBy(await b.verifier.verify(proof))!;
    expect(claimsOf(fromA).p).toBe(claimsOf(fromB).p);
    expect(await b.session(fromA)).toMatchObject({ verified: true, via: 'session' });
    expect(await a.session(fromB)).toMatchObject({ verified: true, via: 'session' });
  });

  it('the digest covers each setting that decides whether a proof verifies, as resolved, and only the settings its schemes read', async () => {
    const keys = { 'signed-payload': [LIVE_KEY], jwt: [SECOND_SCHEME_KEY] };
    const policyOf = async (options: Partial<VerifierOptions>) => {
      const minted = await mintSession(
        { scheme: ['signed-payload', 'jwt'], keys, now: () => NOW, session: { keys: [SESSION_KEY] }, ...options },
        payloadRequest(0),
      );
      return claimsOf(minted!).p;
    };
    const base = await policyOf({});
    expect(base).toMatch(/^[\w-]{16}$/);
    const differ: Partial<VerifierOptions>[] = [
      { maxAge: 300 }, // signed-payload's default, not jwt's
      { testMaxAge: 3601 },
      { clockTolerance: 59 },
      { algorithms: ['HS256'] },
      { issuer: 'https://site.example' },
      { audience: 'chat' },
      { allowTestKeys: false },
      { scheme: 'signed-payload', keys: [LIVE_KEY] },
      { scheme: ['signed-payload', 'jwt', 'user-hash'], keys: { ...keys, 'user-hash': [PREVIOUS_KEY] } },
      { session: { keys: [SESSION_KEY], idle: 60 } },
      { session: { keys: [SESSION_KEY], maxAge: 600 } },
    ];
    for (const options of differ) expect(await policyOf(options), JSON.stringify(options)).not.toBe(base);
    const same: Partial<VerifierOptions>[] = [
      { scheme: ['jwt', 'signed-payload'] },
      { algorithms: ['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'] },
      { required: 'report', diagnostics: true, rateLimit: false, keyCache: false, keyLookupTimeout: 100 },
    ];
    for (const options of same) expect(await policyOf(options), JSON.stringify(options)).toBe(base);
  });

  it("verifiers of other session windows sharing a store refuse each other's sessions: a logout kept for the shorter window cannot lapse at the longer", async () => {
    const store = memorySessionStore();
    const clock = { at: NOW };
    const verifierOf = (idle: number) =>
      createVerifier({
        scheme: 'user-hash',
        keys: [LIVE_KEY],
        now: () => clock.at,
        logger: quiet(),
        session: { keys: [SESSION_KEY], idle, store },
      });
    const short = verifierOf(300);
    const long = verifierOf(1800);
    const started = await short.verify({ body: userHashBody('u1') });
    const credential = issuedBy(started)!;
    const carrying = { headers: { 'chat-identity-session': credential } };
    expect(await short.verify(carrying)).toMatchObject({ verified: true, via: 'session' });
    expect(codeOf(await long.verify(carrying))).toBe('SESSION_EXPIRED');
    expect(await short.endSession(started)).toMatchObject({ ended: true });
    clock.at += 410_000; // past the short window, within the long one: the end record is gone
    expect(codeOf(await long.verify(carrying))).toBe('SESSION_EXPIRED');
  });

  it('a renewed credential keeps its policy: shared with the same policy, refused by another', async () => {
    const { proof, session, at } = setup();
    const first = issuedBy(await proof())!;
    at(300);
    const renewed = issuedBy(await session(first))!;
    expect(claimsOf(renewed).p).toBe(claimsOf(first).p);
    const same = setup({ allowTestKeys: true });
    const other = setup({ allowTestKeys: false });
    same.at(300);
    other.at(300);
    expect(await same.session(renewed)).toMatchObject({ verified: true, via: 'session' });
    expect(codeOf(await other.session(renewed))).toBe('SESSION_EXPIRED');
  });

  it('a credential without p (made before sessions were bound to a policy) is refused as expired once its MAC verifies; a changed p is a changed claim', async () => {
    const { proof, session } = setup({ diagnostics: true });
    const credential = issuedBy(await proof())!;
    const { p, ...withoutPolicy } = claimsOf(credential);
    expect(p).toMatch(/^[\w-]{16}$/);
    expect(await session(forge(withoutPolicy, SESSION_KEY))).toMatchObject({
      error: { code: 'SESSION_EXPIRED', hint: expect.stringMatching(/another proof policy/) },
    });
    // The MAC first: without the session key, removing or changing p is tampering, not another policy.
    expect(codeOf(await session(tamper(credential, (claims) => void delete claims.p)))).toBe('INVALID_SIGNATURE');
    expect(codeOf(await session(tamper(credential, (claims) => void (claims.p = 'AAAAAAAAAAAAAAAA'))))).toBe('INVALID_SIGNATURE');
    // Not text, or too long: not a claim of this version.
    expect(codeOf(await session(forge({ ...withoutPolicy, p: 42 }, SESSION_KEY)))).toBe('MALFORMED_IDENTITY');
    expect(codeOf(await session(forge({ ...withoutPolicy, p: 'x'.repeat(33) }, SESSION_KEY)))).toBe('MALFORMED_IDENTITY');
    expect(await session(forge(claimsOf(credential), SESSION_KEY))).toMatchObject({ verified: true, via: 'session' });
  });
});

describe('sessions: ending them', () => {
  it('endSession(result) and endSession(credential) end one session, on the verifier and its store', async () => {
    const { verifier, proof, session } = setup();
    const [a, b] = [issuedBy(await proof('a'))!, issuedBy(await proof('b'))!];
    const verified = await session(a);
    expect(await verifier.endSession(verified)).toEqual({ ended: true, headers: { [HEADER]: 'ended' } });
    expect(codeOf(await session(a))).toBe('SESSION_EXPIRED');
    expect(await verifier.endSession(b)).toMatchObject({ ended: true });
    expect(codeOf(await session(b))).toBe('SESSION_EXPIRED');
    // A forged credential ends nothing; neither does a result of another verifier.
    expect(await verifier.endSession(forge(claimsOf(b), LIVE_KEY))).toMatchObject({ ended: false });
    expect(await verifier.endSession(await setup().proof('c'))).toMatchObject({ ended: false });
  });

  it('endSession(result) of the request that issued the session ends that one', async () => {
    const { verifier, proof, session } = setup();
    const result = await proof('u1');
    await verifier.endSession(result);
    expect(codeOf(await session(issuedBy(result)!))).toBe('SESSION_EXPIRED');
  });

  it('endSession(result) of a result kept from earlier ends the session for as long as any renewal of it could live', async () => {
    const { verifier, proof, session, at } = setup();
    const kept = await proof('u1'); // an app keeps the result, in its own session store
    at(25 * 60);
    const renewed = issuedBy(await session(issuedBy(kept)!))!; // the widget goes on: renewed, to live another idle window
    expect(renewed).not.toBe(issuedBy(kept));
    at(29 * 60);
    expect(await verifier.endSession(kept)).toMatchObject({ ended: true });
    at(31 * 60); // past the kept result's own end, within the renewed credential's
    expect(codeOf(await session(renewed))).toBe('SESSION_EXPIRED');
  });

  it("endSessions(tenant) ends that tenant's sessions started so far, not others', not later ones", async () => {
    const tenant = {
      tenant: (r: VerifyRequest) => r.headers?.['x-team'] as string,
      keys: (t: string | undefined) => ({ acme: [LIVE_KEY], globex: [OTHER_TENANT_KEY] })[t as 'acme'],
    };
    const { verifier, session, at } = setup(tenant);
    const team = (name: string) => ({ 'x-team': name });
    const acme = issuedBy(await verifier.verify({ headers: team('acme'), body: userHashBody('u1') }))!;
    const globex = issuedBy(await verifier.verify({ headers: team('globex'), body: userHashBody('u1', OTHER_TENANT_KEY) }))!;
    await verifier.endSessions('acme');
    expect(codeOf(await session(acme, { headers: team('acme') }))).toBe('SESSION_EXPIRED');
    expect(codeOf(await session(globex, { headers: team('globex') }))).toBe('VERIFIED');
    at(1);
    const fresh = issuedBy(await verifier.verify({ headers: team('acme'), body: userHashBody('u1') }))!;
    expect(codeOf(await session(fresh, { headers: team('acme') }))).toBe('VERIFIED');
  });

  it('endSessions() with static keys ends every session (they belong to no tenant)', async () => {
    const { verifier, proof, session } = setup();
    const credential = issuedBy(await proof())!;
    await verifier.endSessions();
    expect(codeOf(await session(credential))).toBe('SESSION_EXPIRED');
    await expect(verifier.endSessions(42 as unknown as string)).rejects.toThrow(TypeError);
    // A tenant named where none is ever resolved would end nothing: refused, saying what does.
    const next = issuedBy(await proof())!;
    await expect(verifier.endSessions('acme')).rejects.toThrow(/has no tenant option.*endSessions\(\) ends them all/);
    expect(codeOf(await session(next))).toBe('VERIFIED');
  });

  it('keeps an ended session only as long as it could have lasted: an idle window from the logout, within its maxAge', async () => {
    const end = vi.fn();
    const store: SessionStore = { ...memorySessionStore(), end };
    const { verifier, proof, at } = setup({ session: { keys: [SESSION_KEY], store, maxAge: 3000 } });
    const result = await proof();
    at(100);
    // A renewal just before the logout could live an idle window (30 minutes) from it.
    await verifier.endSession(result);
    expect(end).toHaveBeenLastCalledWith(claimsOf(issuedBy(result)!).j, 1800_000);
    at(2500);
    await verifier.endSession(result);
    expect(end).toHaveBeenLastCalledWith(claimsOf(issuedBy(result)!).j, 500_000); // the session's maxAge ends at 3000 s
  });

  it('in memory, an end is never shortened by a later, shorter one (a stale result ended after a fresh one)', async () => {
    const clock = { at: NOW };
    const store = memorySessionStore({ now: () => clock.at });
    await store.end('s1', 3_000_000);
    await store.end('s1', 10_000);
    clock.at += 60_000;
    expect(await store.state(undefined, 's1')).toEqual({ generation: 0, ended: true });
  });

  it('in memory, keeps at most 10,000 ended sessions: the 10,001st end ends every session started so far (fail closed), and a fresh proof starts one that holds', async () => {
    const { verifier, proof, session } = setup();
    const credentials: string[] = [];
    const endOne = async (i: number) => {
      const result = await proof(`u${i}`);
      credentials.push(issuedBy(result)!);
      expect(await verifier.endSession(result)).toMatchObject({ ended: true });
    };
    const live = issuedBy(await proof('still-here'))!;
    for (let i = 0; i < 10_000; i++) await endOne(i);
    expect(codeOf(await session(credentials[0]!))).toBe('SESSION_EXPIRED');
    expect(codeOf(await session(live))).toBe('VERIFIED');
    await endOne(10_000);
    // The oldest end, dropped while it mattered: no session started before it is trusted any more.
    for (const ended of [credentials[0]!, credentials[1]!, credentials[10_000]!])
      expect(codeOf(await session(ended))).toBe('SESSION_EXPIRED');
    expect(codeOf(await session(live))).toBe('SESSION_EXPIRED');
    expect(codeOf(await session(issuedBy(await proof('still-here'))!))).toBe('VERIFIED');
  }, 20_000);

  it('a store that fails or hangs refuses sessions as expired (fail closed), issues none, and is said once', async () => {
    const failing: SessionStore = {
      generation: () => Promise.reject(new Error('connection lost')),
      state: () => new Promise(() => {}), // never answers: the deadline decides
      endAll: () => Promise.reject(new Error('connection lost')),
      end: () => Promise.reject(new Error('connection lost')),
      firstUse: () => Promise.reject(new Error('connection lost')),
    };
    const healthy = setup();
    const credential = issuedBy(await healthy.proof())!;
    const { verifier, proof, session, logger } = setup({
      session: { keys: [SESSION_KEY], store: failing },
      rateLimit: { storeTimeout: 20 },
    });
    const result = await proof();
    expect(result).toMatchObject({ verified: true, via: 'proof' });
    expect(issuedBy(result)).toBeUndefined();
    expect(await session(credential)).toMatchObject({ verified: false, via: 'session', error: { code: 'SESSION_EXPIRED' } });
    await session(credential);
    // Failed a moment ago: not asked again for a second (withDeadline), so these fail at once.
    await expect(verifier.endSessions()).rejects.toThrow('the session store failed lately');
    expect(await verifier.endSession(credential)).toMatchObject({ ended: false });
    expect(logger.error.mock.calls.map(([m]) => m)).toEqual([
      expect.stringMatching(/session store failed \(connection lost\); proofs verify, but no session is issued/),
      expect.stringMatching(/session store failed \(the session store failed lately and is tried again soon\); sessions are refused/),
      expect.stringMatching(
        /session store failed \(the session store failed lately and is tried again soon\); a session could not be ended/,
      ),
    ]);
  });

  it('a store that failed is not asked for a second, then by one operation at a time until it answers; a hung one fails at its deadline', async () => {
    const clock = { at: 0 };
    let calls = 0;
    let answer: () => Promise<number> = () => new Promise(() => {}); // hung
    const inner: SessionStore = { ...memorySessionStore(), generation: () => (calls++, answer()) };
    const store = withDeadline(inner, 20, () => clock.at);
    await expect(store.generation(undefined)).rejects.toThrow('did not answer within 20 ms');
    expect(calls).toBe(1);
    clock.at += 999;
    await expect(store.generation(undefined)).rejects.toThrow('failed lately');
    expect(calls).toBe(1); // not asked: no command queued on a hung connection
    clock.at += 1;
    let wake!: (value: number) => void;
    answer = () => new Promise((resolve) => (wake = resolve));
    const trying = store.generation(undefined);
    await expect(store.generation(undefined)).rejects.toThrow('failed lately'); // one at a time
    expect(calls).toBe(2);
    wake(7);
    expect(await trying).toBe(7);
    answer = () => Promise.resolve(8);
    expect(await store.generation(undefined)).toBe(8); // answering again: every operation asks it
    expect(await store.generation(undefined)).toBe(8);
    expect(calls).toBe(4);
  });

  it('bound (DPoP): a store that fails still lets a proof verify, with its DPoP proof, and issues no session; a session request is refused', async () => {
    const failing: SessionStore = { ...memorySessionStore(), firstUse: () => Promise.reject(new Error('connection lost')) };
    const url = 'https://chat.example/api/chat';
    const key = dpopKey();
    const healthy = setup({ session: { keys: [SESSION_KEY], bind: 'dpop' } });
    const on = (credential?: string): VerifyRequest => ({ method: 'POST', url, headers: { dpop: dpopProof(key, { url, credential }) } });
    const credential = issuedBy(await healthy.proof('u1', on()))!;
    const { proof, session } = setup({ session: { keys: [SESSION_KEY], bind: 'dpop', store: failing } });
    const result = await proof('u1', on());
    expect(result).toMatchObject({ verified: true, via: 'proof' });
    expect(issuedBy(result)).toBeUndefined();
    expect(codeOf(await session(credential, on(credential)))).toBe('SESSION_EXPIRED');
    // A DPoP proof that is itself wrong still refuses the proof request, store or not.
    const elsewhere = { method: 'POST', url, headers: { dpop: dpopProof(key, { url: 'https://elsewhere.example/chat' }) } };
    expect(codeOf(await proof('u1', elsewhere))).toBe('INVALID_SIGNATURE');
  });
});

describe('sessions: what verifying one costs, and the failure limits', () => {
  afterEach(() => void vi.restoreAllMocks());

  it('costs one HMAC where it was not made or seen before, none after; issuing or renewing one adds one; an unknown key none', async () => {
    const { proof, session, at } = setup();
    const elsewhere = setup(); // another instance, with the same session key
    const hmac = vi.spyOn(signature, 'hmac');
    const credential = issuedBy(await proof())!;
    expect(hmac).toHaveBeenCalledTimes(2); // the user hash, and the credential
    hmac.mockClear();
    // The instance that made it knows it: its MAC is compared with the one it made.
    expect(await session(credential)).toMatchObject({ verified: true });
    expect(hmac).not.toHaveBeenCalled();
    expect(await elsewhere.session(credential)).toMatchObject({ verified: true });
    expect(hmac).toHaveBeenCalledTimes(1);
    hmac.mockClear();
    expect(await elsewhere.session(credential)).toMatchObject({ verified: true });
    expect(hmac).not.toHaveBeenCalled();
    at(300);
    const renewed = issuedBy(await session(credential))!;
    expect(hmac).toHaveBeenCalledTimes(1); // the renewed credential, made
    hmac.mockClear();
    expect(await session(renewed)).toMatchObject({ verified: true });
    expect(hmac).not.toHaveBeenCalled();
    await session(forge({ ...claimsOf(credential), q: 'unknown' }, SESSION_KEY));
    expect(hmac).not.toHaveBeenCalled();
  });

  it('refuses a forged or changed credential without rejecting a promise: Node tracks each rejection as possibly unhandled, a cost every forgery would add', async () => {
    const { proof, session } = setup();
    const credential = issuedBy(await proof())!;
    const forgeries = [
      tamper(credential, (claims) => void (claims.c = { externalId: 'admin' })),
      forge(claimsOf(credential), OTHER_VERIFIER_SESSION_KEY),
      forge({ ...claimsOf(credential), t: 'another-tenant' }, SESSION_KEY),
    ];
    for (const forgery of forgeries) {
      const made: Promise<unknown>[] = [];
      const stop = promiseHooks.onInit((promise) => void made.push(promise));
      const result = await session(forgery);
      stop();
      expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
      // A promise's state shows once it has settled (inspect reads it; no public API does).
      expect(made.filter((promise) => inspect(promise).includes('<rejected>'))).toEqual([]);
    }
  });

  it('remembers up to 10,000 credentials (two generations of 5,000): one made before 9,998 others costs no HMAC, one made before 10,000 others costs one', async () => {
    const firstOf = async (others: number) => {
      const { proof, session } = setup();
      const first = issuedBy(await proof('u0'))!;
      for (let i = 1; i <= others; i++) await proof(`u${i}`);
      return { first, session };
    };
    const recent = await firstOf(9_998);
    const old = await firstOf(10_000);
    const hmac = vi.spyOn(signature, 'hmac');
    expect(await recent.session(recent.first)).toMatchObject({ verified: true, contact: { externalId: 'u0' } });
    expect(hmac).not.toHaveBeenCalled();
    // Forgotten, not refused: read and MACed again, as a credential another instance made.
    expect(await old.session(old.first)).toMatchObject({ verified: true, contact: { externalId: 'u0' } });
    expect(hmac).toHaveBeenCalledTimes(1);
  }, 20_000);

  it('a recognised credential with another MAC, or other claims, is refused: recognition is no shortcut past the MAC', async () => {
    const { proof, session } = setup();
    const credential = issuedBy(await proof())!;
    await session(credential);
    const [signed, mac] = [credential.slice(0, credential.lastIndexOf('.')), credential.slice(credential.lastIndexOf('.') + 1)];
    const otherMac = `${signed}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
    expect(codeOf(await session(otherMac))).toBe('INVALID_SIGNATURE');
    // Other claims ending like the credential's (its session id last): read, and MACed.
    const hmac = vi.spyOn(signature, 'hmac');
    expect(codeOf(await session(tamper(credential, (claims) => void (claims.c = { externalId: 'admin' }))))).toBe('INVALID_SIGNATURE');
    expect(hmac).toHaveBeenCalledTimes(1);
    expect(await session(credential)).toMatchObject({ verified: true, contact: { externalId: 'u1' } });
  });

  it('a claimed identity over its failure limit is refused before any HMAC, a session like a proof', async () => {
    const { proof, session } = setup({ rateLimit: { identity: { points: 2, duration: 60 } } });
    const credential = issuedBy(await proof('victim'))!;
    const tampered = forge({ ...claimsOf(credential), n: NOW_SECONDS + 1 }, 'a-guessed-session-key-0000000000000000');
    expect(codeOf(await session(tampered))).toBe('INVALID_SIGNATURE');
    expect(codeOf(await proof('victim', { body: { user_id: 'victim', user_hash: '0'.repeat(64) } }))).toBe('INVALID_SIGNATURE');
    const hmac = vi.spyOn(signature, 'hmac');
    expect(await session(credential)).toMatchObject({ verified: false, via: 'session', error: { code: 'RATE_LIMITED', retryAfter: 60 } });
    expect(hmac).not.toHaveBeenCalled();
    // Not the credential's fault: the widget is not told its session ended.
    expect(responseHeadersOf(await session(credential))).toEqual({});
  });

  it('expired sessions are not failures: they never use up a limit', async () => {
    const { proof, session, at } = setup({ rateLimit: { identity: { points: 1, duration: 60 }, address: { points: 1, duration: 60 } } });
    const credential = issuedBy(await proof('u1', { ip: '203.0.113.5' }))!;
    at(1800);
    for (let i = 0; i < 3; i++) expect(codeOf(await session(credential, { ip: '203.0.113.5' }))).toBe('SESSION_EXPIRED');
    expect(codeOf(await proof('u1', { ip: '203.0.113.5' }))).toBe('VERIFIED');
  });

  it('onVerified hears session requests too, which say so', async () => {
    const onVerified = vi.fn();
    const { proof, session } = setup({ onVerified });
    await session(issuedBy(await proof())!);
    expect(onVerified.mock.calls.map(([result]) => result.via)).toEqual(['proof', 'session']);
  });
});

describe('sessions: a proof always wins', () => {
  it('a partial proof beside a session is the proof that decides (MISSING_IDENTITY), not the session', async () => {
    const { proof, session } = setup({ required: true });
    const credential = issuedBy(await proof())!;
    expect(codeOf(await session(credential, { body: { user_id: 'u1' } }))).toBe('MISSING_IDENTITY');
  });

  it('a proof for the same person beside a session starts a fresh one, and leaves the old be', async () => {
    const { proof, session } = setup();
    const old = issuedBy(await proof('u1'))!;
    const fresh = issuedBy(await proof('u1', { headers: { 'chat-identity-session': old } }))!;
    expect(claimsOf(fresh).j).not.toBe(claimsOf(old).j);
    expect(codeOf(await session(old))).toBe('VERIFIED');
  });

  it('a forged credential beside a proof for someone else ends nothing (its MAC is checked first)', async () => {
    const { proof, session } = setup();
    const victim = issuedBy(await proof('victim'))!;
    await proof('attacker', { headers: { 'chat-identity-session': forge(claimsOf(victim), 'not-the-session-key-000000000000000') } });
    expect(codeOf(await session(victim))).toBe('VERIFIED');
  });
});

describe('sessions through every adapter: headers, cookies, challenges', () => {
  const options = (extra: Partial<VerifierOptions> = {}) => ({
    scheme: 'user-hash' as const,
    keys: [LIVE_KEY],
    now: () => NOW,
    logger: quiet(),
    required: true,
    ...extra,
  });

  it.each(ADAPTERS)(
    '%s: the cookie is HttpOnly, Secure, SameSite=Strict, lasts the idle window, and is cleared by a logout',
    async (name) => {
      const { handler } = buildApp(name, options({ session: { keys: [SESSION_KEY], cookie: true } }));
      const issued = await request(handler).post('/chat').send(userHashBody('u1'));
      const [cookie] = issued.headers['set-cookie'] as unknown as string[];
      expect(cookie).toMatch(
        /^__Host-chat_identity_session=v1\.[\w-]+\.[\w-]{43}; Max-Age=1800; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
      );
      expect(issued.headers['chat-identity-session']).toBeUndefined(); // HttpOnly would mean nothing if a readable header carried it too
      const pair = cookie!.split(';')[0]!;
      const out = await request(handler).post('/logout').set('Cookie', pair);
      expect(out.body).toEqual({ ended: true });
      expect(out.headers['set-cookie']).toEqual(['__Host-chat_identity_session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict']);
      const replayed = await request(handler).post('/chat').set('Cookie', pair);
      expect(replayed.status).toBe(401);
      expect(replayed.headers['www-authenticate']).toBe(CHALLENGE_EXPIRED);
      expect(replayed.headers['set-cookie']).toEqual([
        '__Host-chat_identity_session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict',
      ]);
    },
  );

  it("a continuation's cookie has Max-Age the idle window left, in whole seconds, never past the session's maximum", async () => {
    const { proof, verifier, at } = setup({ session: { keys: [SESSION_KEY], cookie: true, maxAge: 3000 } });
    const cookieOf = (result: IdentityResult) => responseHeadersOf(result)['Set-Cookie'];
    const maxAgeOf = (cookie: string | undefined) => /; Max-Age=(\d+);/.exec(cookie ?? '')?.[1];
    const byCookie = (cookie: string) => verifier.verify({ headers: { cookie: cookie.split(';')[0]! } });
    const issued = cookieOf(await proof())!;
    expect(maxAgeOf(issued)).toBe('1800');
    // Not renewed: no cookie, the first one's Max-Age still ends with the idle window.
    at(299);
    const kept = await byCookie(issued);
    expect(kept).toMatchObject({ verified: true, via: 'session' });
    expect(cookieOf(kept)).toBeUndefined();
    // Renewed at 600.5 s: 1800 s idle from the credential's second (600), 1799.5 s left, rounded down.
    at(600.5);
    const renewed = cookieOf(await byCookie(issued))!;
    expect(maxAgeOf(renewed)).toBe('1799');
    // Renewed at 1500 s: the idle window would end at 3300 s, but the session ends at its maxAge (3000 s): 1500 s left.
    at(1500);
    expect(maxAgeOf(cookieOf(await byCookie(renewed)))).toBe('1500');
  });

  it('the cookie is not issued to a request another site sent (login CSRF): not cross-site under Strict or Lax, never to a navigation or a no-cors request', async () => {
    // Another page submits a form carrying its author's own valid proof: without this, the response's
    // cookie would put the author's session in the visitor's browser, and the visitor would chat as the author.
    const cookieFor = async (cookie: object, headers: Record<string, string>) => {
      const { verifier } = setup({ session: { keys: [SESSION_KEY], cookie } });
      const result = await verifier.verify({ headers, body: userHashBody('author') });
      expect(result).toMatchObject({ verified: true, contact: { externalId: 'author' } }); // the proof itself still verifies
      return responseHeadersOf(result)['Set-Cookie'];
    };
    const crossSiteFetch = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' };
    const crossSiteForm = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' };
    // A sibling subdomain's page: same-site to the browser, but a no-cors fetch or a form is no widget's request.
    expect(await cookieFor({}, { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' })).toBeUndefined();
    expect(await cookieFor({}, { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' })).toBeUndefined();
    expect(await cookieFor({ sameSite: 'None' }, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' })).toBeUndefined();
    for (const sameSite of ['Strict', 'Lax']) {
      expect(await cookieFor({ sameSite }, crossSiteForm)).toBeUndefined();
      expect(await cookieFor({ sameSite }, crossSiteFetch)).toBeUndefined();
      expect(await cookieFor({ sameSite }, { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' })).toMatch(/^__Host-/);
      expect(await cookieFor({ sameSite }, { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors' })).toMatch(/^__Host-/);
      expect(await cookieFor({ sameSite }, {})).toMatch(/^__Host-/); // no browser, or one too old to say
    }
    // SameSite=None: a cross-site widget by design, so its fetches get the cookie; a form never does.
    expect(await cookieFor({ sameSite: 'None' }, crossSiteFetch)).toMatch(/^__Host-/);
    expect(await cookieFor({ sameSite: 'None' }, crossSiteForm)).toBeUndefined();
    // In the header (no cookie), the page's own script must take the credential: another site's form cannot.
    const { verifier } = setup();
    expect(issuedBy(await verifier.verify({ headers: crossSiteForm, body: userHashBody('author') }))).toBeDefined();
  });

  it('a credential in the header wins over another valid one in the cookie', async () => {
    const { verifier, proof } = setup({ session: { keys: [SESSION_KEY], cookie: true } });
    const pairOf = async (id: string) => responseHeadersOf(await proof(id))['Set-Cookie']!.split(';')[0]!;
    const [inHeader, inCookie] = [await pairOf('header-user'), await pairOf('cookie-user')];
    const credential = inHeader.slice(inHeader.indexOf('=') + 1);
    expect(await verifier.verify({ headers: { cookie: inCookie } })).toMatchObject({
      verified: true,
      contact: { externalId: 'cookie-user' },
    });
    const both = await verifier.verify({ headers: { 'chat-identity-session': credential, cookie: inCookie } });
    expect(both).toMatchObject({ verified: true, via: 'session', contact: { externalId: 'header-user' } });
  });

  it.each(ADAPTERS)('%s: a credential in the header wins over another valid one in the cookie', async (name) => {
    const { handler } = buildApp(name, options({ session: { keys: [SESSION_KEY], cookie: true } }));
    const pairOf = async (id: string) =>
      ((await request(handler).post('/chat').send(userHashBody(id))).headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const [inHeader, inCookie] = [await pairOf('header-user'), await pairOf('cookie-user')];
    const both = await request(handler)
      .post('/chat')
      .set(HEADER, inHeader.slice(inHeader.indexOf('=') + 1))
      .set('Cookie', inCookie);
    expect(both.status).toBe(200);
    expect(both.body.identity).toMatchObject({ verified: true, via: 'session', contact: { externalId: 'header-user' } });
  });

  it('Express and Koa keep the cookies the app set, and a rejection as an error carries the session headers', async () => {
    const opts = options({ session: { keys: [SESSION_KEY], cookie: { sameSite: 'Lax' } } });
    const app = express()
      .use((_req, res, next) => void (res.cookie('theme', 'dark'), next()))
      .use(express.json())
      .use(forExpress.identityVerification(opts));
    app.post('/chat', (_req, res) => void res.json({ ok: true }));
    expect((await request(app).post('/chat').send(userHashBody('u1'))).headers['set-cookie']).toEqual([
      'theme=dark; Path=/',
      expect.stringMatching(/^__Host-chat_identity_session=v1\..*SameSite=Lax$/),
    ]);

    const koa = new Koa()
      .use(async (ctx, next) => (ctx.cookies.set('theme', 'dark'), next()))
      .use(bodyParser())
      .use(forKoa.identityVerification({ ...opts, rejectWith: 'error' }));
    koa.use((ctx) => void (ctx.body = { ok: true }));
    koa.on('error', () => {});
    const issued = await request(koa.callback()).post('/chat').send(userHashBody('u1'));
    expect(issued.headers['set-cookie']).toEqual([
      'theme=dark; path=/; httponly',
      expect.stringMatching(/^__Host-chat_identity_session=v1\./),
    ]);
    const pair = (issued.headers['set-cookie'] as unknown as string[])[1]!.split(';')[0]!;
    expect((await request(koa.callback()).post('/chat').set('Cookie', `theme=dark; ${pair}`)).status).toBe(200);
    const tampered = await request(koa.callback())
      .post('/chat')
      .set('Cookie', `${pair.slice(0, -2)}AA`);
    expect(tampered.status).toBe(401);
    expect(tampered.headers['www-authenticate']).toBe('ChatIdentity realm="chat-identity", error="invalid_session"');
    expect(tampered.headers['set-cookie']).toEqual([expect.stringMatching(/^__Host-chat_identity_session=; Max-Age=0/)]);
  });

  it('the challenge is RFC 9110 syntax: an auth-scheme token, then auth-params with quoted values', async () => {
    const challenge = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [!#$%&'*+\-.^_`|~0-9A-Za-z]+="[^"\\]*"(, [!#$%&'*+\-.^_`|~0-9A-Za-z]+="[^"\\]*")*$/;
    for (const value of [CHALLENGE_EXPIRED, CHALLENGE_DPOP, 'ChatIdentity realm="chat-identity", error="invalid_session"'])
      expect(value).toMatch(challenge);
    expect(IdentityErrorCode.SESSION_EXPIRED).toBe('SESSION_EXPIRED');
  });

  it('a verifier with jwt answers a refused session with its own challenge, not the Bearer one', async () => {
    const jwtOptions = options({ scheme: 'jwt', keys: [SECOND_SCHEME_KEY], session: { keys: [SESSION_KEY] } });
    const { handler } = buildApp('express 5', jwtOptions);
    const issued = await request(handler)
      .post('/chat')
      .set('Authorization', `Bearer ${signJwt({ externalId: 'j1' }, SECOND_SCHEME_KEY, { now: () => NOW })}`);
    const credential = issued.headers['chat-identity-session'] as string;
    const refused = await request(handler)
      .post('/chat')
      .set(HEADER, forge({ ...claimsOf(credential), c: { externalId: 'x' } }, LIVE_KEY));
    expect(refused.headers['www-authenticate']).toBe('ChatIdentity realm="chat-identity", error="invalid_session"');
    expect((await request(handler).post('/chat')).headers['www-authenticate']).toBe('Bearer realm="chat-identity"');
  });

  it('endSession() without identityVerification() before it says so', async () => {
    const app = express().post('/logout', (req, res, next) => void forExpress.endSession(req, res).then(() => res.end(), next));
    app.use(((err, _req, res, _next) => void res.status(500).json({ message: err.message })) as express.ErrorRequestHandler);
    expect((await request(app).post('/logout')).body.message).toMatch(/endSession\(\) found no identity result on the request/);
  });

  it.each(ADAPTERS)('%s: a request carrying the cookie under its __Host- name verifies as its session', async (name) => {
    const { handler } = buildApp(name, options({ session: { keys: [SESSION_KEY], cookie: true } }));
    const [cookie] = (await request(handler).post('/chat').send(userHashBody('u1'))).headers['set-cookie'] as unknown as string[];
    const pair = cookie!.split(';')[0]!;
    expect(pair).toMatch(/^__Host-chat_identity_session=v1\./);
    const later = await request(handler).post('/chat').set('Cookie', `theme=dark; ${pair}`);
    expect(later.status).toBe(200);
    expect(later.body.identity).toMatchObject({ verified: true, via: 'session', contact: { externalId: 'u1' } });
  });

  it('verifierOf names the verifier of a result, and nothing else', async () => {
    const { verifier, proof } = setup();
    const result = await proof();
    expect(verifierOf(result)).toBe(verifier);
    expect(verifierOf({ ...result })).toBeUndefined();
  });
});

describe('sessions: the cookie is named so that no other origin can set it (cookie tossing)', () => {
  // A sibling subdomain (or a plain-HTTP page of the same host) can set a cookie of a plain name for
  // the parent domain, and fixate a victim's chat onto the attacker's session. Browsers accept a
  // __Host- cookie only from the host itself, over HTTPS, with Path=/ and no Domain.
  const cookieOf = (result: IdentityResult) => responseHeadersOf(result)['Set-Cookie'];
  const pairOf = async (proof: (id: string) => Promise<IdentityResult>, id: string) => cookieOf(await proof(id))!.split(';')[0]!;

  it.each([
    ['the defaults', true],
    ['secure: true, path "/" and no domain given', { secure: true, path: '/', sameSite: 'Lax' as const }],
  ])('with %s, is __Host-chat_identity_session, Secure, Path=/, no Domain', async (_, cookie) => {
    const { proof } = setup({ session: { keys: [SESSION_KEY], cookie } });
    expect(cookieOf(await proof())).toMatch(
      /^__Host-chat_identity_session=v1\.[\w-]+\.[\w-]{43}; Max-Age=1800; Path=\/; HttpOnly; Secure; /,
    );
  });

  it.each([
    ['secure: false', { secure: false }, '; Path=/; HttpOnly; SameSite=Strict'],
    ['a domain', { domain: 'example.com' }, '; Path=/; Domain=example.com; HttpOnly; Secure; SameSite=Strict'],
    ['a path', { path: '/chat' }, '; Path=/chat; HttpOnly; Secure; SameSite=Strict'],
  ])('with %s, is the plain chat_identity_session (no __Host- cookie can have it)', async (_, cookie, attributes) => {
    const { proof, verifier } = setup({ session: { keys: [SESSION_KEY], cookie } });
    const issued = cookieOf(await proof())!;
    expect(issued).toMatch(/^chat_identity_session=v1\.[\w-]+\.[\w-]{43}; Max-Age=1800;/);
    expect(issued.slice(issued.indexOf('; Max-Age=1800') + '; Max-Age=1800'.length)).toBe(attributes);
    expect(await verifier.verify({ headers: { cookie: issued.split(';')[0]! } })).toMatchObject({ verified: true, via: 'session' });
  });

  it('a name given is the name, prefixed or not', async () => {
    for (const name of ['chat_identity_session', 'chat', '__Host-chat']) {
      const { proof } = setup({ session: { keys: [SESSION_KEY], cookie: { name } } });
      expect(cookieOf(await proof())).toMatch(new RegExp(`^${name}=v1\\.`));
    }
  });

  it("by default, an attacker's own session tossed in under the plain name is not read, alone or before the victim's", async () => {
    const { proof, verifier } = setup({ session: { keys: [SESSION_KEY], cookie: true } });
    const attacker = (await pairOf(proof, 'attacker')).replace(/^[^=]*=/, '');
    const victim = await pairOf(proof, 'victim');
    // Set for the parent domain from a sibling subdomain: alone, it starts no session.
    expect(await verifier.verify({ headers: { cookie: `chat_identity_session=${attacker}` } })).toEqual({ verified: false });
    // With a longer Path it is sent first, beside the victim's own: the victim's is the one read.
    const both = await verifier.verify({ headers: { cookie: `chat_identity_session=${attacker}; ${victim}` } });
    expect(both).toMatchObject({ verified: true, via: 'session', contact: { externalId: 'victim' } });
  });
});

describe('sessions bound to a browser key (DPoP, RFC 9449)', () => {
  const URL = 'https://chat.example/api/chat';
  const bound = (extra: Partial<VerifierOptions> = {}) => setup({ session: { keys: [SESSION_KEY], bind: 'dpop' }, ...extra });
  const at = (dpop: string, extra: VerifyRequest = {}): VerifyRequest => ({
    method: 'POST',
    url: URL,
    ...extra,
    headers: { dpop, ...extra.headers },
  });
  let key: DpopKey;
  beforeAll(() => void (key = dpopKey()));

  it('binds the JWK thumbprint of RFC 7638, as jose computes it', async () => {
    const { proof } = bound();
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!;
    expect(claimsOf(credential).b).toBe(await jose.calculateJwkThumbprint(key.jwk as jose.JWK, 'sha256'));
  });

  it('accepts a DPoP proof made by another implementation (jose, ES256)', async () => {
    const { proof, session } = bound();
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!;
    const made = await new jose.SignJWT({
      htm: 'POST',
      htu: URL,
      iat: NOW_SECONDS,
      jti: randomUUID(),
      ath: createHash('sha256').update(credential).digest('base64url'),
    })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk as jose.JWK })
      .sign(key.privateKey);
    expect(await session(credential, at(made))).toMatchObject({ verified: true, via: 'session' });
  });

  it('compares the URL without query and fragment, and its scheme and host as URLs compare them', async () => {
    const { proof, session } = bound();
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!;
    const proofFor = (url: string) => dpopProof(key, { url, credential });
    expect(codeOf(await session(credential, at(proofFor('HTTPS://Chat.Example:443/api/chat?x=1#y'))))).toBe('VERIFIED');
    expect(codeOf(await session(credential, at(proofFor('https://chat.example/api/chat'), { url: `${URL}?page=2` })))).toBe('VERIFIED');
    expect(codeOf(await session(credential, at(proofFor('https://chat.example/api/chat/'))))).toBe('INVALID_SIGNATURE');
    expect(codeOf(await session(credential, at(proofFor('http://chat.example/api/chat'))))).toBe('INVALID_SIGNATURE');
  });

  it('refuses an iat too far ahead, a jti that is missing or too long, and a request without method or url', async () => {
    const { proof, session } = bound();
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!;
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential, iat: NOW_SECONDS + 61 }))))).toBe(
      'SIGNATURE_EXPIRED',
    );
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential, iat: NOW_SECONDS + 60 }))))).toBe('VERIFIED');
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential, claims: { jti: 'j'.repeat(129) } }))))).toBe(
      'MALFORMED_IDENTITY',
    );
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential, claims: { jti: undefined } }))))).toBe(
      'MALFORMED_IDENTITY',
    );
    const noUrl = await session(credential, { headers: { dpop: dpopProof(key, { url: URL, credential }) } });
    expect(noUrl).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it('refuses a DPoP proof that hashes another credential (ath), or none, or names another algorithm', async () => {
    const { proof, session } = bound();
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!;
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential: `${credential}x` }))))).toBe('INVALID_SIGNATURE');
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL }))))).toBe('INVALID_SIGNATURE');
    // An ES256 signature under another alg's name: one algorithm, read from nowhere but this verifier.
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential, header: { alg: 'ES384' } }))))).toBe(
      'INVALID_SIGNATURE',
    );
    expect(codeOf(await session(credential, at(dpopProof(key, { url: URL, credential }))))).toBe('VERIFIED');
  });

  it('a session issued unbound is refused as expired where sessions are bound (the widget gets a bound one)', async () => {
    const unbound = issuedBy(await setup().proof('u1'))!;
    const { session } = bound();
    expect(await session(unbound, at(dpopProof(key, { url: URL, credential: unbound })))).toMatchObject({
      error: { code: 'SESSION_EXPIRED' },
    });
  });

  it('a DPoP proof replayed to another instance on the same store is refused there', async () => {
    const store = memorySessionStore({ now: () => NOW });
    const [one, two] = [
      bound({ session: { keys: [SESSION_KEY], bind: 'dpop', store } }),
      bound({ session: { keys: [SESSION_KEY], bind: 'dpop', store } }),
    ];
    const credential = issuedBy(await one.proof('u1', at(dpopProof(key, { url: URL }))))!;
    const dpop = dpopProof(key, { url: URL, credential });
    expect(codeOf(await one.session(credential, at(dpop)))).toBe('VERIFIED');
    expect(codeOf(await two.session(credential, at(dpop)))).toBe('INVALID_SIGNATURE');
  });

  it('a DPoP proof is acceptable up to 60 s after its iat, which may lie clockTolerance ahead: one dated 60 s on lives 120 s', async () => {
    const { proof, session, at: clockAt } = bound();
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!;
    const dated = (iat: number) => at(dpopProof(key, { url: URL, credential, iat }), { headers: { 'chat-identity-session': credential } });
    clockAt(120);
    expect(codeOf(await session(credential, dated(NOW_SECONDS + 60)))).toBe('VERIFIED');
    clockAt(120.001);
    expect(codeOf(await session(credential, dated(NOW_SECONDS + 60)))).toBe('SIGNATURE_EXPIRED');
  });

  /** A store that keeps each used proof exactly its ttl, as SessionStore says: from its first use to just before first use + ttl. */
  const exactStore = (now: () => number): SessionStore => {
    const used = new Map<string, number>();
    return {
      generation: () => 0,
      state: () => ({ generation: 0, ended: false }),
      endAll: () => {},
      end: () => {},
      firstUse(value, ttl) {
        if ((used.get(value) ?? -Infinity) > now()) return false;
        used.set(value, now() + ttl);
        return true;
      },
    };
  };

  it.each([
    ['made now', 0],
    ['dated clockTolerance (60 s) ahead', 60],
    ['59 s old', -59],
    ['dated a fraction of a millisecond on', 0.0004],
  ])('a used DPoP proof %s is never accepted again: its jti is kept as long as it is acceptable, to the millisecond', async (_, offset) => {
    for (const kind of ['a store keeping it exactly its ttl', 'the default store (memory)']) {
      let clock = NOW;
      const now = () => clock;
      const store = kind === 'the default store (memory)' ? {} : { store: exactStore(now) };
      const verifier = createVerifier({
        scheme: 'user-hash',
        keys: [LIVE_KEY],
        now,
        logger: quiet(),
        rateLimit: false,
        session: { keys: [SESSION_KEY], bind: 'dpop', ...store },
      });
      const credential = issuedBy(await verifier.verify(at(dpopProof(key, { url: URL }), { body: userHashBody('u1') })))!;
      const iat = NOW_SECONDS + offset;
      const used = at(dpopProof(key, { url: URL, credential, iat }), { headers: { 'chat-identity-session': credential } });
      expect(codeOf(await verifier.verify(used))).toBe('VERIFIED');
      const last = (iat + 60) * 1000; // the last moment it is acceptable
      for (const t of [Math.floor(last) - 1, Math.floor(last), Math.ceil(last), Math.ceil(last) + 1, last + 60_000]) {
        clock = t;
        expect(codeOf(await verifier.verify(used)), `${kind}, replayed ${t - NOW} ms after NOW`).not.toBe('VERIFIED');
      }
    }
  });

  it('in memory, keeps at most 10,000 used DPoP proofs: past them, a forgotten one still in its lifetime stays refused, as does any proof expiring no later', async () => {
    // The default in-memory store, given so that most of the 10,000 can be filled without an ES256 signature each.
    const store = memorySessionStore({ now: () => NOW });
    const { proof, session } = bound({ session: { keys: [SESSION_KEY], bind: 'dpop', store } });
    const credential = issuedBy(await proof('u1', at(dpopProof(key, { url: URL }))))!; // the first proof used
    const second = dpopProof(key, { url: URL, credential });
    expect(codeOf(await session(credential, at(second)))).toBe('VERIFIED');
    const use = (n: number) => {
      // Fillers that outlive the real proofs (their lifetime is 60 s and the clock tolerance): never the ones dropped.
      for (let i = 0; i < n; i++) expect(store.firstUse(`${randomUUID()}.${randomUUID()}`, 300_000)).toBe(true);
    };
    use(9_998); // 10,000 used in all
    expect(codeOf(await session(credential, at(second)))).toBe('INVALID_SIGNATURE');
    use(1); // the 10,001st: the first is forgotten, the second kept
    expect(codeOf(await session(credential, at(second)))).toBe('INVALID_SIGNATURE');
    use(1); // the 10,002nd: the second is forgotten while it matters, and stays refused
    expect(codeOf(await session(credential, at(second)))).toBe('INVALID_SIGNATURE');
    // So does any proof that expires no later than the forgotten ones (it may be one of them, replayed).
    expect(store.firstUse(`${randomUUID()}.${randomUUID()}`, 60_000)).toBe(false);
    expect(store.firstUse(`${randomUUID()}.${randomUUID()}`, 300_000)).toBe(true);
  });

  /** A bound app of the adapter, and a session it issued to `key` at `path` (a DPoP proof for http://widget.example:8080/chat). */
  const boundSession = async (name: AdapterName, path: string) => {
    const { handler } = buildApp(name, {
      scheme: 'user-hash',
      keys: [LIVE_KEY],
      now: () => NOW,
      logger: quiet(),
      required: true,
      session: { keys: [SESSION_KEY], bind: 'dpop' },
    });
    const issued = await request(handler)
      .post(path)
      .set('Host', 'widget.example:8080')
      .set('DPoP', dpopProof(key, { url: 'http://widget.example:8080/chat' }))
      .send(userHashBody('u1'));
    const credential = issued.headers['chat-identity-session'] as string;
    expect(credential).toMatch(/^v1\./);
    return { handler, credential };
  };

  it.each(['express 4', 'express 5', 'koa 2', 'koa 3', 'passport'] as const)(
    '%s supplies the method and the absolute URL the client used',
    async (name) => {
      const { handler, credential } = await boundSession(name, '/chat?x=1');
      const url = 'http://widget.example:8080/chat';
      const used = await request(handler)
        .post('/chat')
        .set('Host', 'widget.example:8080')
        .set(HEADER, credential)
        .set('DPoP', dpopProof(key, { url, credential }));
      expect(used.body.identity).toMatchObject({ verified: true, via: 'session' });
    },
  );

  it.each(['express 5', 'koa 3', 'passport', 'fastify 5'] as const)(
    '%s: a Host that is no host (a path in it) gives no URL, so a DPoP proof made for another route cannot pass',
    async (name) => {
      const { handler, credential } = await boundSession(name, '/chat');
      // A proof lifted for /chat/messages; the Host carries that path, and the request goes to /chat.
      const url = 'http://widget.example:8080/chat/messages';
      const moved = await request(handler)
        .post('/chat')
        .set('Host', 'widget.example:8080/chat/messages?')
        .set(HEADER, credential)
        .set('DPoP', dpopProof(key, { url, credential }));
      expect([moved.status, moved.body.code]).toEqual([401, 'INVALID_SIGNATURE']);
    },
  );

  it('Express mounted on a router: the URL is the one the client used (originalUrl)', async () => {
    const opts = {
      scheme: 'user-hash' as const,
      keys: [LIVE_KEY],
      now: () => NOW,
      logger: quiet(),
      required: true,
      session: { keys: [SESSION_KEY], bind: 'dpop' as const },
    };
    const router = express.Router().use(express.json()).use(forExpress.identityVerification(opts));
    router.post('/chat', (req, res) => void res.json({ identity: req.identity }));
    const app = express().use('/api', router);
    const issued = await request(app)
      .post('/api/chat')
      .set('Host', 'chat.example')
      .set('DPoP', dpopProof(key, { url: 'http://chat.example/api/chat' }))
      .send(userHashBody('u1'));
    expect(issued.headers['chat-identity-session']).toMatch(/^v1\./);
  });
});

const binary = findRedisServer();
if (!binary)
  console.log(
    'SKIPPED the Redis part of test/session.test.ts: redis-server is not installed (apt-get install redis-server; .ci/run does).',
  );

describe.skipIf(!binary)('sessions in Redis: two verifier instances agree', () => {
  let server: RedisServer;
  const closers: (() => unknown)[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    server = await startRedis(binary!);
  }, 30_000);
  afterAll(async () => {
    for (const close of closers) await close();
    await server?.stop();
  });

  const clients = {
    ioredis: async () => {
      const client = new Redis({ port: server.port, host: '127.0.0.1', enableOfflineQueue: false, retryStrategy: () => 50 });
      client.on('error', () => {});
      closers.push(() => client.disconnect());
      await new Promise((resolve) => client.once('ready', resolve));
      return client;
    },
    'node-redis': async () => {
      const client = createClient({ socket: { port: server.port, host: '127.0.0.1', reconnectStrategy: () => 50 } });
      client.on('error', () => {});
      await client.connect();
      closers.push(() => client.destroy());
      return client;
    },
  };

  it.each(Object.keys(clients) as (keyof typeof clients)[])(
    '%s: logout, endSessions and a DPoP replay said to one instance hold on the other',
    async (kind) => {
      const keyPrefix = `session-test-${process.pid}-${++prefixes}`;
      // The failure limits' Redis client is the session store's too.
      const instance = async () =>
        setup({ rateLimit: { redis: await clients[kind](), keyPrefix }, session: { keys: [SESSION_KEY], bind: 'dpop' } });
      const [one, two] = [await instance(), await instance()];
      const key = dpopKey();
      const url = 'http://chat.example/chat';
      const on = (credential?: string): VerifyRequest => ({ method: 'POST', url, headers: { dpop: dpopProof(key, { url, credential }) } });

      const first = issuedBy(await one.proof('u1', on()))!;
      const second = issuedBy(await one.proof('u2', on()))!;
      expect(await two.session(first, on(first))).toMatchObject({ verified: true, via: 'session' });
      const replayed = on(first);
      expect(codeOf(await two.session(first, replayed))).toBe('VERIFIED');
      expect(codeOf(await one.session(first, replayed))).toBe('INVALID_SIGNATURE');

      await one.verifier.endSession(first);
      expect(codeOf(await two.session(first, on(first)))).toBe('SESSION_EXPIRED');
      expect(codeOf(await two.session(second, on(second)))).toBe('VERIFIED');
      await two.verifier.endSessions();
      expect(codeOf(await one.session(second, on(second)))).toBe('SESSION_EXPIRED');
      const fresh = issuedBy(await two.proof('u3', on()))!;
      expect(claimsOf(fresh).g).toBe(1);
      expect(codeOf(await one.session(fresh, on(fresh)))).toBe('VERIFIED');
    },
  );

  it.each(Object.keys(clients) as (keyof typeof clients)[])(
    '%s: an end is never shortened by a later, shorter one; no command names two keys (a Redis Cluster answers CROSSSLOT)',
    async (kind) => {
      const client = await clients[kind]();
      const commands: string[] = [];
      const method = kind === 'ioredis' ? 'call' : 'sendCommand';
      const original = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method]!.bind(client);
      (client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        commands.push(String((Array.isArray(args[0]) ? args[0] : args)[0]));
        return original(...args);
      };
      const prefix = `session-end-${process.pid}-${kind}`;
      const store = redisSessionStore(client as never, { keyPrefix: prefix });
      await store.end('s1', 60_000);
      await store.end('s1', 1_000); // from a stale result: must not cut the first short
      const ioredis = await clients.ioredis();
      expect(await ioredis.pttl(`${prefix}:session:end:s1`)).toBeGreaterThan(30_000);
      await store.end('s2', 1_000);
      await store.end('s2', 60_000); // a longer one does extend
      expect(await ioredis.pttl(`${prefix}:session:end:s2`)).toBeGreaterThan(30_000);
      expect(await store.state('acme', 's1')).toEqual({ generation: 0, ended: true });
      expect(commands.length).toBeGreaterThan(0);
      expect(commands.filter((command) => /^(MGET|MSET|DEL)$/i.test(command))).toEqual([]);
    },
  );

  it('redisSessionStore(client) can be given on its own, and refuses a client it cannot speak to', async () => {
    const store = redisSessionStore(await clients.ioredis(), { keyPrefix: `session-own-${process.pid}` });
    expect(await store.generation('acme')).toBe(0);
    await store.endAll('acme');
    expect(await store.state('acme', 'x')).toEqual({ generation: 1, ended: false });
    expect(await store.firstUse('a', 1000)).toBe(true);
    expect(await store.firstUse('a', 1000)).toBe(false);
    expect(() => redisSessionStore({ multi: () => ({}) })).toThrow(/ioredis or node-redis/);
  });
});
