/**
 * The attack table (test/conformance/attacks.ts) through the core, and the attacks that cannot
 * go through every adapter identically: a `__proto__` member in a JSON body (Koa's and Fastify's
 * parsers refuse it), a 1 MB id and a 10 MB body (over the body parsers' default limits), a 20 kB
 * header (over Node's), non-object JSON bodies (refused by Express's and Koa's strict mode), and the known
 * limitations SECURITY.md describes, each pinned by a test.
 */
import { createHash, createHmac } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  canonicalJson,
  createVerifier,
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
  type VerifierOptions,
} from '../../src/index.js';
import { ATTACK_CASES, ATTACKER_KEY } from '../conformance/attacks.js';
import { forgeJwt } from '../support/jwt.js';
import { PATHS } from '../conformance/paths.js';
import { LIVE_KEY, NOW_SECONDS, SECOND_SCHEME_KEY, frozenClock } from '../helpers.js';
import { ADAPTERS, buildApp, buildApps, inject, type AdapterName } from '../support/apps.js';

const quiet = { warn() {}, error() {} };
// No failed-attempt limits here: each test builds fresh verifiers, and the limiter has its own suite.
const baseOptions = (options: Partial<VerifierOptions> & Pick<VerifierOptions, 'scheme'>): VerifierOptions => ({
  keys: [LIVE_KEY],
  now: frozenClock,
  logger: quiet,
  rateLimit: false,
  ...options,
});
const json = (value: unknown) => JSON.stringify(value);
/** Body parsers that refuse a JSON body with a `__proto__` member (400): @hapi/bourne (Koa), secure-json-parse (Fastify). */
const refusesProto = (name: AdapterName) => name.startsWith('koa') || name.startsWith('fastify');

describe('the attack table', () => {
  it('has a unique name per row, all marked as attacks', () => {
    const names = ATTACK_CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^attack: /);
  });

  // Every kind of attack issue 7 lists has at least one row (rate limits are the limiter's suite).
  it.each([
    ['alg none in any casing', /alg "none"|alg "None"|alg "NONE"|alg "nOnE"/],
    ['an algorithm not allowed', /not in algorithms|RS256|ES256/],
    ['empty, truncated and over-long signatures', /empty|truncated|over-long/],
    ['crit header', /crit/],
    ['kid with path traversal or SQL', /kid path traversal|kid SQL/],
    ['jku, x5u, jwk ignored', /jku|x5u|jwk/],
    ['nested objects and arrays where strings are expected', /as an object|as an array|nested/],
    ['numbers for ids', /as a number/],
    ['__proto__, constructor, prototype', /__proto__|constructor/],
    ['oversized values', /50 kB|256-character|9 kB|8193/],
    ['NFC vs NFD', /NFD/],
    ['case-differing ids', /another case|re-cased/],
    ['leading and trailing whitespace', /leading|trailing/],
    ['client testMode with an old live signature', /testMode true, live signature 30 minutes old/],
    ['test keys turned off', /test keys are off/],
    ['previous key after its grace period', /after its grace period/],
    ['replay 6 minutes later', /replayed 6 minutes later/],
    ['future timestamp', /in the future/],
    ['millisecond timestamp', /milliseconds/],
    ["tenant A's signature for tenant B", /tenant A presented for tenant B|tenant B presented for tenant A/],
    ["a hash for user A with user B's id", /of user A with user B/],
    ['duplicate JSON keys', /duplicate/],
    // Asymmetric JWT (RFC 8725, Hono CVE-2026-22817 / CVE-2026-22818).
    ['alg none against public keys', /public keys: alg "none"/],
    ['HS256 with the public key as HMAC secret', /algorithm confusion: HS256 with the (RSA )?public key (PEM|JWK) as HMAC secret/],
    ["an alg that is not the JWK's", /alg mismatch with the JWK/],
    ['a JWK without alg', /a JWK without alg/],
    ['kid pointing elsewhere', /kid pointing elsewhere/],
    ['embedded jwk, jku, x5u and x5c ignored with public keys', /public keys: .*(embedded as jwk|jku|x5u|x5c)/],
    ['a fetched JWKS: unknown kid and garbage', /a fetched JWKS/],
  ])('covers %s', (_, pattern) => {
    expect(ATTACK_CASES.some((c) => pattern.test(c.name))).toBe(true);
  });

  describe.each(ATTACK_CASES.map((c) => [c.name, c] as const))('%s', (_, testCase) => {
    it('through the core', async () => {
      const outcome = await PATHS.core!(baseOptions(testCase.options), testCase.guard ?? false, [
        ...(testCase.before ?? []),
        testCase.request,
      ]);
      const { status, code, identity, hint } = testCase.expect;
      expect(outcome.status).toBe(status);
      if (code) {
        expect(outcome.body).toMatchObject({ error: status === 429 ? 'rate_limited' : 'identity_unverified', code });
        expect('hint' in (outcome.body as object)).toBe(hint ?? false);
      } else {
        expect(outcome.body).toMatchObject({ identity });
      }
    });
  });
});

describe('__proto__ in a JSON body: the core, Express, fetch and Hono drop it, Koa and Fastify refuse the body', () => {
  // @koa/bodyparser parses with @hapi/bourne, which throws on a "__proto__" member: Koa answers
  // 400 before identityVerification() runs, as Fastify's secure-json-parse does (onProtoPoisoning:
  // 'error', its default). Express's JSON.parse (and the fetch adapter's, and Hono's) keeps
  // "__proto__" as an ordinary own property (never the prototype), and the verifier drops it from attributes.
  const userHash = signUserHash('u1', LIVE_KEY);
  const signedCustomer = JSON.parse(`{"__proto__":"admin","externalId":"1","plan":"pro","timestamp":${NOW_SECONDS}}`);
  const bodies = {
    'in user_metadata': {
      scheme: 'user-hash',
      text: `{"user_id":"u1","user_hash":"${userHash}","user_metadata":{"__proto__":{"admin":true},"plan":"pro"}}`,
      core: { status: 200, identity: { verified: true, contact: { externalId: 'u1', attributes: { plan: 'pro' } } } },
    },
    'signed in a customer': {
      scheme: 'signed-payload',
      text: `{"customer":{"__proto__":"admin","externalId":"1","plan":"pro","timestamp":${NOW_SECONDS}},"signature":"${signPayload(signedCustomer, LIVE_KEY).signature}"}`,
      core: {
        status: 200,
        identity: {
          verified: true,
          contact: { externalId: '1', attributes: { plan: 'pro' }, verifiedFields: ['externalId', 'attributes.plan'] },
        },
      },
    },
    'at the top level, carrying the proof': {
      scheme: 'user-hash',
      text: `{"__proto__":{"user_id":"u1","user_hash":"${userHash}"}}`,
      core: { status: 401, code: 'MISSING_IDENTITY' },
    },
  } as const;

  describe.each(Object.entries(bodies))('%s', (_, { scheme, text, core }) => {
    const options = baseOptions({ scheme, required: true });
    it('the core: the prototype member is never read and never copied', async () => {
      const result = await createVerifier(options).verify({ body: JSON.parse(text) });
      if (core.status === 200) {
        expect(result).toMatchObject(core.identity);
        expect(result.verified && Object.keys(result.contact.attributes)).toEqual(['plan']);
        expect(result.verified && Object.getPrototypeOf(result.contact.attributes)).toBe(Object.prototype);
      } else {
        expect(result).toMatchObject({ verified: false, error: { code: core.code } });
      }
    });

    it.each(ADAPTERS)('%s', async (name) => {
      const answer = await inject(buildApp(name, options).handler, { headers: { 'content-type': 'application/json' }, body: text });
      if (refusesProto(name)) {
        expect(answer.status).toBe(400);
      } else if (core.status === 200) {
        expect(answer).toMatchObject({ status: 200, body: { identity: core.identity } });
      } else {
        expect(answer).toMatchObject({ status: core.status, body: { code: core.code } });
      }
    });
  });

  afterAll(() => {
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});

describe('a 1 MB id and a 10 MB body', () => {
  const MB = 1024 * 1024;
  const oneMbId = 'a'.repeat(MB);
  const tenMb = 'x'.repeat(10 * MB);
  const fast = 2000; // generous: each of these takes a few ms; only a blow-up would come near

  async function timed<T>(run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await run();
    expect(performance.now() - started).toBeLessThan(fast);
    return result;
  }

  it.each([
    ['user-hash', { user_id: oneMbId, user_hash: signUserHash('a', LIVE_KEY) }],
    ['contact-hash', { ext_user_id: oneMbId, user_hash: signContactHash({ ext_user_id: 'a' }, LIVE_KEY) }],
    ['visitor-hash', { anonymousUserId: oneMbId, hmac: signVisitorHash('a', LIVE_KEY) }],
    ['signed-payload', { customer: { externalId: oneMbId, timestamp: NOW_SECONDS }, signature: '0'.repeat(64) }],
  ] as const)('the core refuses a 1 MB %s id as MALFORMED_IDENTITY, without hashing it', async (scheme, body) => {
    const result = await timed(() => createVerifier(baseOptions({ scheme })).verify({ body }));
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });

  it('the core refuses a 1 MB jwt as MALFORMED_IDENTITY, unread', async () => {
    const result = await timed(() => createVerifier(baseOptions({ scheme: 'jwt' })).verify({ body: { token: `${'a'.repeat(MB)}.b.c` } }));
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });

  it.each([
    [
      'a 10 MB attribute in user_metadata',
      'user-hash',
      { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY), user_metadata: { bio: tenMb } },
    ],
    [
      'a 10 MB signed customer field',
      'signed-payload',
      { customer: { externalId: '1', bio: tenMb, timestamp: NOW_SECONDS }, signature: '0'.repeat(64) },
    ],
    [
      'a customer with 200,000 keys',
      'signed-payload',
      { customer: Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, i])), signature: '0'.repeat(64) },
    ],
    ['a 10 MB user_hash', 'user-hash', { user_id: 'u1', user_hash: tenMb }],
    ['a 10 MB token in the body', 'jwt', { token: tenMb }],
  ] as const)('the core refuses %s as MALFORMED_IDENTITY', async (_, scheme, body) => {
    const result = await timed(() => createVerifier(baseOptions({ scheme })).verify({ body }));
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });

  it('the core verifies a proof beside 10 MB of unrelated body: only the proof is read', async () => {
    const result = await timed(() =>
      createVerifier(baseOptions({ scheme: 'user-hash' })).verify({
        body: { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY), message: tenMb },
      }),
    );
    expect(result).toMatchObject({ verified: true, contact: { externalId: 'u1', attributes: {} } });
  });

  // Express' JSON parser stops at 100 kB and Koa's at 1 MB by default: 413 before any middleware.
  const oneMbBody = json({ user_id: oneMbId, user_hash: signUserHash('a', LIVE_KEY) });
  const tenMbBody = json({ user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY), user_metadata: { bio: tenMb } });
  const tenMbBeside = json({ user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY), message: tenMb });
  const send = (name: AdapterName, body: string, limit?: string) =>
    inject(buildApp(name, baseOptions({ scheme: 'user-hash', required: true }), limit ? { limit } : {}).handler, {
      headers: { 'content-type': 'application/json' },
      body,
    });

  it.each(ADAPTERS.filter((name) => name !== 'fetch'))(
    '%s with its default body limit: 413 for the 1 MB id and the 10 MB body',
    async (name) => {
      expect((await send(name, oneMbBody)).status).toBe(413);
      expect((await send(name, tenMbBody)).status).toBe(413);
    },
  );

  // verifyRequest() reads at most its bodyLimit (1 MiB) of a clone and leaves the body to the app:
  // a longer one carries no proof for it (the route handler decides how to answer the body itself).
  it('fetch with its default bodyLimit: the 1 MB id and the 10 MB body are not read, so no proof (401)', async () => {
    expect(await send('fetch', oneMbBody)).toMatchObject({ status: 401, body: { code: 'MISSING_IDENTITY' } });
    expect(await send('fetch', tenMbBody)).toMatchObject({ status: 401, body: { code: 'MISSING_IDENTITY' } });
  });

  it.each(ADAPTERS)('%s with the body limit raised to 20 MB: the core decides (401 MALFORMED_IDENTITY)', async (name) => {
    expect(await send(name, oneMbBody, '2mb')).toMatchObject({ status: 401, body: { code: 'MALFORMED_IDENTITY' } });
    expect(await send(name, tenMbBody, '20mb')).toMatchObject({ status: 401, body: { code: 'MALFORMED_IDENTITY' } });
    expect(await send(name, tenMbBeside, '20mb')).toMatchObject({ status: 200, body: { identity: { verified: true } } });
  });

  // Node's HTTP parser refuses headers over 16 kB (--max-http-header-size) with 431 before any
  // framework sees the request; through the core, a long token is refused unread.
  it.each(ADAPTERS)('%s behind Node: a 20 kB Authorization header is 431', async (name) => {
    const { handler } = buildApp(name, baseOptions({ scheme: 'jwt', required: true }));
    const res = await request(handler)
      .post('/chat')
      .set('Authorization', `Bearer ${'a'.repeat(20_000)}.b.c`)
      .send({});
    expect(res.status).toBe(431);
  });

  it('the core refuses a 20 kB bearer token as MALFORMED_IDENTITY', async () => {
    const result = await createVerifier(baseOptions({ scheme: 'jwt' })).verify({
      headers: { authorization: `Bearer ${'a'.repeat(20_000)}.b.c` },
    });
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });
});

describe('JSON bodies that are not objects', () => {
  // Express's and Koa's parsers run in strict mode (objects and arrays only) and answer 400;
  // Fastify's, the fetch adapter's and Hono's parse any JSON; given such a body, the core finds no proof in it.
  const strict = (name: AdapterName) => name.startsWith('express') || name.startsWith('koa') || name === 'passport';
  it.each(['null', '42', '"user_id"', 'true'])('%s: 400 from a strict body parser, MISSING_IDENTITY from the core', async (text) => {
    const options = baseOptions({
      scheme: ['user-hash', 'jwt'],
      required: true,
      keys: { 'user-hash': [LIVE_KEY], jwt: [SECOND_SCHEME_KEY] },
    });
    expect(await createVerifier(options).verify({ body: JSON.parse(text) })).toMatchObject({
      verified: false,
      error: { code: 'MISSING_IDENTITY' },
    });
    const apps = buildApps(options);
    for (const name of ADAPTERS) {
      const answer = await inject(apps[name].handler, { headers: { 'content-type': 'application/json' }, body: text });
      if (strict(name)) expect(answer.status, name).toBe(400);
      else expect(answer, name).toMatchObject({ status: 401, body: { code: 'MISSING_IDENTITY' } });
    }
  });
});

describe('jku, x5u and jwk are never fetched', () => {
  const rows = ATTACK_CASES.filter((c) => /jku|x5u|jwk/.test(c.name));

  it('no network call is made while verifying them', async () => {
    const calls = [
      vi.spyOn(globalThis, 'fetch'),
      vi.spyOn(http, 'request'),
      vi.spyOn(http, 'get'),
      vi.spyOn(https, 'request'),
      vi.spyOn(https, 'get'),
      vi.spyOn(net, 'connect'),
      vi.spyOn(net, 'createConnection'),
      vi.spyOn(dns, 'lookup'),
    ];
    try {
      expect(rows.length).toBeGreaterThanOrEqual(4);
      for (const row of rows) await createVerifier(baseOptions(row.options)).verify({ headers: row.request.headers ?? {} });
      for (const call of calls) expect(call).not.toHaveBeenCalled();
    } finally {
      for (const call of calls) call.mockRestore();
    }
  });

  it('src/ has no network code but the JWKS fetch: no http, https, net, tls or dns import anywhere, fetch() in src/jwks/fetch.ts only', () => {
    const root = new URL('../../src', import.meta.url).pathname;
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    })(root);
    const network = /^import (?!type )[^;]*from '(node:)?(http|https|net|tls|dns|http2|undici)'/m;
    const fetchCall = /(?<![.\w])fetch\(/;
    const fetching = files.filter((file) => fetchCall.test(readFileSync(file, 'utf8')));
    expect(fetching.map((file) => file.slice(root.length))).toEqual(['/jwks/fetch.ts']);
    for (const file of files) expect(readFileSync(file, 'utf8'), file).not.toMatch(network);
    // The one fetch is reached only by the fetched key set, which takes its URL from the configuration (never from a token).
    const callers = files.filter((file) => /from '\.\/fetch\.js'|from '.*jwks\/fetch\.js'/.test(readFileSync(file, 'utf8')));
    expect(callers.map((file) => file.slice(root.length))).toEqual(['/jwks/remote.ts']);
    // And it fetches nothing but the URL it is given: no redirect is followed.
    const fetchSource = readFileSync(join(root, 'jwks/fetch.ts'), 'utf8');
    expect(fetchSource.match(/(?<![.\w])fetch\([^)]*\)/g)).toEqual(["fetch(url, { ...init, redirect: 'manual' })"]);
  });
});

describe('known limitations, pinned (SECURITY.md explains each)', () => {
  it('visitor-hash beside another scheme only with a key of its own: its key is an oracle', async () => {
    // The seed's visitor-hash server signs any visitor id the browser asks for. With one key for
    // both schemes, an attacker would ask it to sign "admin" and present that as admin's user_hash.
    for (const other of ['user-hash', 'contact-hash', 'signed-payload', 'jwt'] as const) {
      expect(() => createVerifier(baseOptions({ scheme: [other, 'visitor-hash'] }))).toThrow(/its own keys/);
    }
    const oracle = signVisitorHash('admin', LIVE_KEY);
    const both = createVerifier(
      baseOptions({
        scheme: ['user-hash', 'visitor-hash'],
        keys: { 'user-hash': ['sk_live_users_only_0123456789abcdef'], 'visitor-hash': [LIVE_KEY] },
      }),
    );
    expect(await both.verify({ body: { user_id: 'admin', user_hash: oracle } })).toMatchObject({
      verified: false,
      error: { code: 'INVALID_SIGNATURE' },
    });
    expect(await both.verify({ body: { anonymousUserId: 'admin', hmac: oracle } })).toMatchObject({
      verified: true,
      scheme: 'visitor-hash',
    });
  });

  it('contact-hash binds a value, not the field it is in: a hash of an external id V verifies email V', async () => {
    const hashOfId = signContactHash({ ext_user_id: 'ceo@victim.example' }, LIVE_KEY);
    const result = await createVerifier(baseOptions({ scheme: 'contact-hash' })).verify({
      body: { email: 'ceo@victim.example', user_hash: hashOfId },
    });
    expect(result).toMatchObject({
      verified: true,
      contact: { email: 'ceo@victim.example', identityKey: 'email', verifiedFields: ['email'] },
    });
  });

  it('HMAC keys are equivalent when they differ by trailing NUL bytes, or when one is the SHA-256 of a key over 64 bytes', async () => {
    // HMAC pads a key with zeros to the 64-byte block, and hashes a longer key first (RFC 2104).
    const token = signJwt({ externalId: 'a' }, LIVE_KEY, { now: frozenClock });
    const padded = createVerifier(baseOptions({ scheme: 'jwt', keys: [`${LIVE_KEY}\u0000\u0000`] }));
    expect(await padded.verify({ headers: { authorization: `Bearer ${token}` } })).toMatchObject({ verified: true });
    const long = Buffer.from(`sk_live_${'k'.repeat(80)}`);
    const mac = (key: Buffer) => createHmac('sha256', key).update('u1').digest('hex');
    expect(mac(long)).toBe(mac(createHash('sha256').update(long).digest()));
  });

  it('a user hash never expires: a year later it still verifies, until its key is rotated out', async () => {
    const body = { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY) };
    const later = () => frozenClock() + 365 * 86_400_000;
    expect(await createVerifier(baseOptions({ scheme: 'user-hash', now: later })).verify({ body })).toMatchObject({ verified: true });
    const rotated = createVerifier(
      baseOptions({
        scheme: 'user-hash',
        now: later,
        keys: ['sk_live_new_0000000000000000000000', { secret: LIVE_KEY, expiresAt: later() }],
      }),
    );
    expect(await rotated.verify({ body })).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it('a signed payload can be replayed within its window: there is no nonce', async () => {
    const verifier = createVerifier(baseOptions({ scheme: 'signed-payload', now: () => frozenClock() + 299_000 }));
    const body = signPayload({ externalId: '1', timestamp: NOW_SECONDS }, LIVE_KEY);
    for (let i = 0; i < 3; i++) expect(await verifier.verify({ body })).toMatchObject({ verified: true });
  });

  it('without audience or issuer, any HS256 token of the same secret is accepted, whatever it was issued for', async () => {
    const sessionToken = signJwt({ sub: 'u1', aud: 'billing-api', scope: 'admin' }, LIVE_KEY, { now: frozenClock });
    const bearer = { authorization: `Bearer ${sessionToken}` };
    expect(await createVerifier(baseOptions({ scheme: 'jwt' })).verify({ headers: bearer })).toMatchObject({ verified: true });
    expect(await createVerifier(baseOptions({ scheme: 'jwt', audience: 'chat-widget' })).verify({ headers: bearer })).toMatchObject({
      verified: false,
      error: { code: 'INVALID_SIGNATURE' },
    });
    const noAudience = signJwt({ sub: 'u1' }, LIVE_KEY, { now: frozenClock });
    expect(
      await createVerifier(baseOptions({ scheme: 'jwt', audience: 'chat-widget' })).verify({
        headers: { authorization: `Bearer ${noAudience}` },
      }),
    ).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
  });

  it('kid, jku, x5u and jwk never choose a key: an attacker key named or embedded in the token fails', async () => {
    const token = forgeJwt(
      { alg: 'HS256', kid: 'live', jwk: { kty: 'oct', k: Buffer.from(ATTACKER_KEY).toString('base64url') } },
      { externalId: 'admin', iat: NOW_SECONDS },
      ATTACKER_KEY,
    );
    const verifier = createVerifier(baseOptions({ scheme: 'jwt', keys: [{ secret: LIVE_KEY, id: 'live' }] }));
    expect(await verifier.verify({ headers: { authorization: `Bearer ${token}` } })).toMatchObject({
      verified: false,
      error: { code: 'INVALID_SIGNATURE' },
    });
  });
});

describe('ill-formed UTF-16 ids are refused: they would collide with U+FFFD', () => {
  // HMAC input is UTF-8; Node encodes a lone surrogate (\ud800–\udfff unpaired) as EF BF BD,
  // the bytes of U+FFFD. JSON can carry a lone surrogate ("\ud800"), so a hash the site made for
  // an id holding U+FFFD would also verify the *different* string with a lone surrogate in its
  // place, presented as the verified externalId / email / visitor id. (Found by the tamper
  // property; signed-payload and jwt were not affected, since JSON.stringify escapes a lone
  // surrogate and a JWT signature covers the token text, but they refuse such ids all the same.)
  const site = 'user\ufffd42';
  const forged = 'user\ud80042';

  it.each([
    ['user-hash', { body: { user_id: forged, user_hash: signUserHash(site, LIVE_KEY) } }],
    ['contact-hash', { body: { ext_user_id: forged, user_hash: signContactHash({ ext_user_id: site }, LIVE_KEY) } }],
    ['contact-hash', { body: { email: `${forged}@example.com`, user_hash: signContactHash({ email: `${site}@example.com` }, LIVE_KEY) } }],
    ['visitor-hash', { body: { anonymousUserId: forged, hmac: signVisitorHash(site, LIVE_KEY) } }],
    // Signed by hand: the signing helpers refuse such ids, as the verifier does.
    [
      'signed-payload',
      {
        body: {
          customer: { externalId: forged, timestamp: NOW_SECONDS },
          signature: createHmac('sha256', LIVE_KEY)
            .update(canonicalJson({ externalId: forged, timestamp: NOW_SECONDS }))
            .digest('hex'),
        },
      },
    ],
    [
      'jwt',
      {
        headers: { authorization: `Bearer ${forgeJwt({ alg: 'HS256', typ: 'JWT' }, { externalId: forged, iat: NOW_SECONDS }, LIVE_KEY)}` },
      },
    ],
  ] as const)('%s: MALFORMED_IDENTITY', async (scheme, request) => {
    const result = await createVerifier(baseOptions({ scheme })).verify(request);
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
  });

  it('and the same through Express, from a JSON body with a \\ud800 escape', async () => {
    const text = `{"user_id":"user\\ud80042","user_hash":"${signUserHash(site, LIVE_KEY)}"}`;
    const answer = await inject(buildApp('express 5', baseOptions({ scheme: 'user-hash', required: true })).handler, {
      headers: { 'content-type': 'application/json' },
      body: text,
    });
    expect(answer).toMatchObject({ status: 401, body: { code: 'MALFORMED_IDENTITY' } });
  });
});
