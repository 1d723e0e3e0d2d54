/**
 * A site's JWKS, fetched from a real HTTP server on 127.0.0.1 (test/support/jwksServer.ts) whose
 * answer each test sets: keys rotated, Cache-Control, slow answers, failures, garbage, huge
 * bodies, redirects. The verifier's clock is the `now` option, moved by hand; only the timeout
 * tests wait, in real time, because the timeout is the point.
 */
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, type IdentityResult, type KeyLookup, type VerifierOptions } from '../src/index.js';
import { JWKS_DEFAULTS, maxAgeOf } from '../src/jwks/remote.js';
import { NOW, NOW_SECONDS } from './helpers.js';
import { startJwksServer, type JwksServer } from './support/jwksServer.js';
import { jwksOf, keyPair, tokenBy, withoutMembers, type TestKeyPair } from './support/keyPairs.js';

const SITE = keyPair('ES256', 'site-2026-01');
const NEXT = keyPair('ES256', 'site-2026-02');
const OTHER_SITE = keyPair('EdDSA', 'other-1');
const ATTACKER = keyPair('ES256', 'attacker');

let site: JwksServer;
let now = NOW;
const clock = () => now;
/** Moves the verifier's clock `seconds` on. */
const advance = (seconds: number) => void (now += seconds * 1000);
const said: string[] = [];
const logger = { warn: (line: string) => void said.push(line), error: (line: string) => void said.push(line) };

beforeEach(async () => {
  now = NOW;
  said.length = 0;
  site = await startJwksServer();
  site.serve(jwksOf(SITE));
});
afterEach(() => site.close());

function verifierFor(options: Partial<VerifierOptions> = {}) {
  return createVerifier({ scheme: 'jwt', keys: [{ jwks: { url: site.url } }], now: clock, logger, rateLimit: false, ...options });
}

/** A token the pair signs now (iat: the verifier's clock). */
const tokenNow = (pair: TestKeyPair, claims: Record<string, unknown> = { externalId: 'u1' }, header?: Record<string, unknown>) =>
  tokenBy(pair, { iat: Math.floor(now / 1000), ...claims }, header ? { header } : {});

async function outcome(verifier: ReturnType<typeof verifierFor>, token: string): Promise<string> {
  const result: IdentityResult = await verifier.verify({ headers: { authorization: `Bearer ${token}` } });
  return result.verified ? `verified ${result.keyId}` : result.error!.code;
}

describe('fetching and caching', () => {
  it('fetches the set on first use, once for concurrent requests, then answers from the cache', async () => {
    const verifier = verifierFor();
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(verifier, tokenNow(SITE))));
    expect(new Set(results)).toEqual(new Set(['verified site-2026-01']));
    expect(site.fetches).toBe(1);
    for (let i = 0; i < 5; i++) expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    expect(site.fetches).toBe(1);
    expect(site.lastHeaders?.accept).toMatch(/application\/jwk-set\+json/);
  });

  it('keeps the set for its max-age: no fetch before it ends, one after', async () => {
    site.serve(jwksOf(SITE), { headers: { 'cache-control': 'public, max-age=300' } });
    const verifier = verifierFor();
    await outcome(verifier, tokenNow(SITE));
    advance(299);
    await outcome(verifier, tokenNow(SITE));
    expect(site.fetches).toBe(1);
    advance(2);
    await outcome(verifier, tokenNow(SITE));
    expect(site.fetches).toBe(2);
  });

  it.each([
    ['max-age=300 with Age: 200', { 'cache-control': 'max-age=300', age: '200' }, 100],
    ['no Cache-Control: cacheMaxAge (10 minutes)', {}, 600],
    ['no-cache: the floor (60 s), not every request', { 'cache-control': 'no-cache' }, 60],
    ['max-age=0: the floor', { 'cache-control': 'max-age=0' }, 60],
    ['max-age=86400: the ceiling (1 hour), so a removed key stops verifying within it', { 'cache-control': 'max-age=86400' }, 3600],
  ])('%s: kept %s seconds', async (_, headers, seconds) => {
    site.serve(jwksOf(SITE), { headers });
    const verifier = verifierFor();
    await outcome(verifier, tokenNow(SITE));
    advance(seconds - 1);
    await outcome(verifier, tokenNow(SITE));
    expect(site.fetches).toBe(1);
    advance(1);
    await outcome(verifier, tokenNow(SITE));
    expect(site.fetches).toBe(2);
  });

  it('takes its floor, ceiling and default from the options', async () => {
    site.serve(jwksOf(SITE), { headers: { 'cache-control': 'max-age=5' } });
    const verifier = verifierFor({ keys: [{ jwks: { url: site.url, minCacheAge: 10_000, maxCacheAge: 20_000 } }] });
    await outcome(verifier, tokenNow(SITE));
    advance(9);
    await outcome(verifier, tokenNow(SITE));
    expect(site.fetches).toBe(1);
    advance(1);
    await outcome(verifier, tokenNow(SITE));
    expect(site.fetches).toBe(2);
  });

  it('keeps at most 1000 sets, dropping the least recently used: a first URL is fetched again after 1000 others', async () => {
    // 1001 tenants, each with its own https URL, answered by a stubbed fetch (quicker than 1001 round trips to the server).
    const urlOf = (team: number) => `https://t${team}.site.example/.well-known/jwks.json`;
    const body = JSON.stringify(jwksOf(SITE));
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string | URL) => {
      fetched.push(String(url));
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    });
    try {
      const verifier = verifierFor({
        keys: (tenant) => ({ jwks: { url: urlOf(Number(tenant)) } }),
        tenant: (request) => request.headers?.['x-team'] as string,
        keyCache: false, // every request asks for its set by URL: only the cap on sets keeps them
      });
      const token = tokenNow(SITE);
      const asTeam = async (team: number) => {
        const result = await verifier.verify({ headers: { authorization: `Bearer ${token}`, 'x-team': String(team) } });
        return result.verified ? 'verified' : result.error!.code;
      };
      for (let team = 0; team <= 1000; team++) expect(await asTeam(team)).toBe('verified');
      expect(fetched).toHaveLength(1001);
      expect(await asTeam(1)).toBe('verified'); // 999 sets used since: still kept
      expect(fetched).toHaveLength(1001);
      expect(await asTeam(0)).toBe('verified'); // 1000 since: dropped, fetched again
      expect(fetched.slice(1001)).toEqual([urlOf(0)]);
      expect(site.fetches).toBe(0);
    } finally {
      vi.unstubAllGlobals();
    }
  }, 20_000);

  it('reads Cache-Control as RFC 9111 says', () => {
    expect(maxAgeOf('public, max-age=120, stale-if-error=60', null)).toBe(120_000);
    expect(maxAgeOf('max-age="120"', '20')).toBe(100_000);
    expect(maxAgeOf('MAX-AGE=7', 'junk')).toBe(7000);
    expect(maxAgeOf('max-age=10', '99')).toBe(0);
    expect(maxAgeOf('no-store, max-age=600', null)).toBe(0);
    expect(maxAgeOf('private', null)).toBeUndefined();
    expect(maxAgeOf(null, '5')).toBeUndefined();
    expect(JWKS_DEFAULTS).toEqual({
      timeout: 5000,
      maxBytes: 131072,
      cacheMaxAge: 600000,
      minCacheAge: 60000,
      maxCacheAge: 3600000,
      cooldown: 30000,
      staleFor: 3600000,
    });
  });
});

describe('kid selects the key; an unknown kid fetches again, at most once per cooldown', () => {
  it('a token naming a kid the set lacks makes it fetch again, once; a flood of made-up kids costs one fetch per cooldown', async () => {
    const verifier = verifierFor();
    await outcome(verifier, tokenNow(SITE));
    advance(31);
    const flood = Array.from({ length: 100 }, (_, i) => tokenNow(ATTACKER, { externalId: 'admin' }, { alg: 'ES256', kid: `made-up-${i}` }));
    const results = await Promise.all(flood.map((token) => outcome(verifier, token)));
    expect(new Set(results)).toEqual(new Set(['INVALID_SIGNATURE']));
    expect(site.fetches).toBe(2); // the first fetch, and one for the flood
    advance(10);
    for (const token of flood.slice(0, 10)) await outcome(verifier, token);
    expect(site.fetches).toBe(2);
    advance(21);
    await outcome(verifier, flood[0]!);
    expect(site.fetches).toBe(3);
  });

  it('an unknown kid on the first request costs the one fetch that request makes, not a second', async () => {
    const verifier = verifierFor();
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('INVALID_SIGNATURE');
    expect(site.fetches).toBe(1);
  });

  it('a token with an unknown kid arriving while a fetch for another is under way waits for that fetch', async () => {
    const verifier = verifierFor();
    await outcome(verifier, tokenNow(SITE));
    advance(31);
    site.serve(jwksOf(SITE, NEXT));
    const [made, rotated] = await Promise.all([
      outcome(verifier, tokenNow(ATTACKER, { externalId: 'admin' }, { alg: 'ES256', kid: 'made-up' })),
      outcome(verifier, tokenNow(NEXT)),
    ]);
    expect([made, rotated]).toEqual(['INVALID_SIGNATURE', 'verified site-2026-02']);
    expect(site.fetches).toBe(2);
  });

  it('a kid the set holds fetches nothing, nor does a kid of a key it sets aside', async () => {
    site.serve({ keys: [SITE.jwk, withoutMembers(keyPair('RS256', 'rsa-no-alg').jwk, 'alg')] });
    const verifier = verifierFor();
    await outcome(verifier, tokenNow(SITE));
    advance(40);
    expect(await outcome(verifier, tokenNow(keyPair('RS256', 'rsa-no-alg')))).toBe('INVALID_SIGNATURE');
    expect(site.fetches).toBe(1);
    expect(said.filter((line) => line.includes('rsa-no-alg'))).toEqual([expect.stringMatching(/RS256 or PS256 is ambiguous/)]);
  });

  it("limits each set's refreshes on its own: one tenant's flood does not hold back another tenant's rotation", async () => {
    const other = await startJwksServer();
    try {
      other.serve(jwksOf(OTHER_SITE));
      const urls: Record<string, string> = { acme: site.url, globex: other.url };
      const verifier = verifierFor({
        keys: (tenant) => (tenant && urls[tenant] ? { jwks: { url: urls[tenant] } } : undefined),
        tenant: (request) => request.headers?.['x-team'] as string | undefined,
      });
      const asTeam = async (team: string, token: string) => {
        const result = await verifier.verify({ headers: { authorization: `Bearer ${token}`, 'x-team': team } });
        return result.verified ? 'verified' : result.error!.code;
      };
      expect(await asTeam('acme', tokenNow(SITE))).toBe('verified');
      expect(await asTeam('globex', tokenNow(OTHER_SITE))).toBe('verified');
      advance(31);
      for (let i = 0; i < 20; i++) await asTeam('acme', tokenNow(ATTACKER, { externalId: 'admin' }, { alg: 'ES256', kid: `junk-${i}` }));
      const rotated = keyPair('EdDSA', 'other-2');
      other.serve(jwksOf(OTHER_SITE, rotated));
      expect(await asTeam('globex', tokenNow(rotated))).toBe('verified');
      expect([site.fetches, other.fetches]).toEqual([2, 2]);
      // One tenant's keys never verify the other's tokens.
      expect(await asTeam('acme', tokenNow(OTHER_SITE))).toBe('INVALID_SIGNATURE');
      expect(await asTeam('globex', tokenNow(SITE))).toBe('INVALID_SIGNATURE');
    } finally {
      await other.close();
    }
  });

  it('tenants that share a URL share its fetches', async () => {
    const verifier = verifierFor({ keys: () => ({ jwks: { url: site.url } }), tenant: (request) => request.headers?.['x-team'] as string });
    for (const team of ['a', 'b', 'c']) {
      expect(await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(SITE)}`, 'x-team': team } })).toMatchObject({
        verified: true,
        tenant: team,
      });
    }
    expect(site.fetches).toBe(1);
  });
});

describe('rotation: the site changes its signing key and no chat fails', () => {
  it('publish the new key, sign with it, retire the old one: every token the site signs verifies throughout', async () => {
    site.serve(jwksOf(SITE), { headers: { 'cache-control': 'max-age=300' } });
    const verifier = verifierFor();
    const failures: string[] = [];
    const chat = async (pair: TestKeyPair, label: string) => {
      const result = await outcome(verifier, tokenNow(pair, { externalId: label }));
      if (!result.startsWith('verified')) failures.push(`${label}: ${result}`);
      return result;
    };

    expect(await chat(SITE, 'before')).toBe('verified site-2026-01');
    advance(60);
    site.serve(jwksOf(SITE, NEXT), { headers: { 'cache-control': 'max-age=300' } }); // 1. publish the new key
    advance(40);
    expect(await chat(SITE, 'old key, new set published')).toBe('verified site-2026-01');
    expect(await chat(NEXT, 'new key, before the cache expired')).toBe('verified site-2026-02'); // 2. sign with it: its kid fetches the set
    advance(100);
    site.serve(jwksOf(NEXT), { headers: { 'cache-control': 'max-age=300' } }); // 3. retire the old key
    expect(await chat(SITE, 'a token signed before the switch, still in flight')).toBe('verified site-2026-01');
    for (let minute = 0; minute < 10; minute++) {
      advance(60);
      await chat(NEXT, `minute ${minute}`);
    }
    expect(failures).toEqual([]);
    // Once the cache has expired, the retired key verifies nothing.
    expect(await outcome(verifier, tokenNow(SITE))).toBe('INVALID_SIGNATURE');
  });

  it('a site that follows the documented procedure (publish, wait the max-age, sign) needs no refetch for a kid', async () => {
    site.serve(jwksOf(SITE, NEXT), { headers: { 'cache-control': 'max-age=120' } });
    const verifier = verifierFor();
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    advance(121);
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('verified site-2026-02');
    expect(site.fetches).toBe(2); // the expiry's, not a kid's
  });

  it('a new key used within the cooldown of the last fetch is refused until the cooldown ends (why sites publish first)', async () => {
    const verifier = verifierFor({ diagnostics: true });
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    site.serve(jwksOf(SITE, NEXT));
    advance(10);
    const early = await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(NEXT)}` } });
    expect(early).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE', mistake: 'jwks-not-refreshed' } });
    expect(early.verified ? '' : early.error!.hint).toMatch(
      /fetched from http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json 10 seconds ago lacks/,
    );
    advance(21);
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('verified site-2026-02');
  });

  it('refreshKeys() drops the fetched set: the next request fetches it, at once', async () => {
    const verifier = verifierFor();
    await outcome(verifier, tokenNow(SITE));
    site.serve(jwksOf(NEXT));
    verifier.refreshKeys();
    expect(await outcome(verifier, tokenNow(SITE))).toBe('INVALID_SIGNATURE');
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('verified site-2026-02');
    expect(site.fetches).toBe(2);
  });
});

describe("an attacker holding the chat backend's configuration cannot mint an identity", () => {
  it('with the URL, the public keys and every option in hand, no forgery verifies, and no URL from a token is fetched', async () => {
    const options = { scheme: 'jwt', keys: [{ jwks: { url: site.url } }], issuer: 'https://site.example', audience: 'chat' } as const;
    // What the attacker holds: the configuration, and everything it points to (the JWKS is public).
    const stolen = JSON.stringify(options);
    const published = await (await fetch(site.url)).json();
    expect(stolen).not.toMatch(/"d"|PRIVATE/);
    expect(JSON.stringify(published)).not.toMatch(/"d"/);
    const verifier = verifierFor({ ...options, diagnostics: true });
    site.route('/attacker/jwks.json', jwksOf(ATTACKER));

    const claims = { externalId: 'admin', email: 'ceo@site.example', iss: 'https://site.example', aud: 'chat', iat: NOW_SECONDS };
    const genuine = tokenBy(SITE, { ...claims, externalId: 'ada', email: 'ada@site.example' });
    expect(await outcome(verifier, genuine)).toBe('verified site-2026-01');
    const [h, , s] = genuine.split('.');
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const forgeries: Record<string, string> = {
      'HS256 with the public key as its secret (PEM bytes)': hmacToken({ alg: 'HS256', kid: SITE.kid }, claims, SITE.pem),
      'HS256 with the JWK JSON as its secret': hmacToken({ alg: 'HS256', kid: SITE.kid }, claims, JSON.stringify(SITE.jwk)),
      'alg none': `${b64({ alg: 'none', kid: SITE.kid })}.${b64(claims)}.`,
      "the attacker's key under the site's kid": tokenBy(ATTACKER, claims, { header: { alg: 'ES256', kid: SITE.kid } }),
      "the attacker's key, no kid": tokenBy(ATTACKER, claims, { header: { alg: 'ES256' } }),
      "the attacker's key embedded as jwk": tokenBy(ATTACKER, claims, { header: { alg: 'ES256', jwk: ATTACKER.jwk } }),
      "the attacker's key with jku to the attacker's set": tokenBy(ATTACKER, claims, {
        header: { alg: 'ES256', kid: 'attacker', jku: `${site.origin}/attacker/jwks.json` },
      }),
      "the attacker's key with x5u": tokenBy(ATTACKER, claims, {
        header: { alg: 'ES256', kid: 'attacker', x5u: `${site.origin}/attacker/cert.pem` },
      }),
      "the site's kid with RS256": tokenBy(keyPair('RS256', SITE.kid), claims, { header: { alg: 'RS256', kid: SITE.kid } }),
      "the site's signature over the attacker's claims": `${h}.${b64(claims)}.${s}`,
    };
    for (const [name, token] of Object.entries(forgeries)) {
      const result = await verifier.verify({ headers: { authorization: `Bearer ${token}` } });
      expect(result.verified, name).toBe(false);
    }
    expect(site.paths.filter((path) => path.startsWith('/attacker'))).toEqual([]);
    expect(new Set(site.paths)).toEqual(new Set(['/.well-known/jwks.json']));
  });
});

function hmacToken(header: object, claims: object, secret: string): string {
  // Built by hand: signJwt refuses a PEM as a secret, as the verifier refuses one as a key.
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('the site down, slow, or serving garbage', () => {
  it('serves the last good set for staleFor past its expiry, retrying in the background, then fails closed', async () => {
    site.serve(jwksOf(SITE), { headers: { 'cache-control': 'max-age=300' } });
    const verifier = verifierFor();
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    site.serve('upstream unavailable', { status: 503 });
    advance(301);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01'); // this request's fetch failed: stale keys
    expect(site.fetches).toBe(2);
    for (let i = 0; i < 10; i++) expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    expect(site.fetches).toBe(2); // not a fetch per request
    advance(5); // a failed fetch is retried 5 s later
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    await vi.waitFor(() => expect(site.fetches).toBe(3)); // the background retry reaches the site (real I/O, no clock)
    expect(said.filter((line) => line.includes('cannot be fetched'))).toHaveLength(1);
    advance(3600 - 5);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('KEY_UNAVAILABLE'); // past staleFor
    site.serve(jwksOf(SITE));
    advance(5);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
  });

  it('with no good set yet: KEY_UNAVAILABLE, the next fetch 5 s after the failure, not a millisecond sooner', async () => {
    site.serve('', { hangUp: true });
    const verifier = verifierFor({ diagnostics: true });
    const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(SITE)}` } });
    expect(result).toMatchObject({
      verified: false,
      error: { code: 'KEY_UNAVAILABLE', hint: expect.stringMatching(/could not be fetched/) },
    });
    for (let i = 0; i < 5; i++) expect(await outcome(verifier, tokenNow(SITE))).toBe('KEY_UNAVAILABLE');
    expect(site.fetches).toBe(1);
    site.serve(jwksOf(SITE));
    advance(4.999);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('KEY_UNAVAILABLE');
    expect(site.fetches).toBe(1);
    advance(0.001);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    expect(site.fetches).toBe(2);
  });

  it.each([
    ['answers after the timeout', { delay: 3000 }],
    ['trickles its body past the timeout', { pieces: 10, trickle: 150 }],
  ])('a site that %s: the fetch is abandoned at `timeout`', async (_, answer) => {
    site.serve(jwksOf(SITE), answer);
    const verifier = verifierFor({ keys: [{ jwks: { url: site.url, timeout: 300 } }], diagnostics: true });
    const started = performance.now();
    const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(SITE)}` } });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(result).toMatchObject({
      error: { code: 'KEY_UNAVAILABLE', hint: expect.stringMatching(/no answer within timeout \(300 ms\)/) },
    });
  });

  it.each([
    ['HTML', '<html>oops</html>', /not JSON/],
    ['JSON that is not a set', { keys: 'none' }, /not a JSON Web Key Set/],
    ['a set of more than 100 keys', { keys: Array.from({ length: 101 }, () => SITE.jwk) }, /101 keys; at most 100/],
    [
      'a set with no usable key',
      { keys: [withoutMembers(keyPair('RS256', 'r').jwk, 'alg')] },
      /no key of the set is usable \(kid "r": an RSA key/,
    ],
    ['an empty set', { keys: [] }, /holds no key: the site publishes an empty set/],
    ['a redirect', '', /HTTP 302 \(a redirect, never followed\)/],
    ['a 500', 'boom', /HTTP 500/],
  ])('%s: KEY_UNAVAILABLE, with the reason in the hint', async (name, body, hint) => {
    site.route('/moved', jwksOf(SITE));
    site.serve(body, name === 'a redirect' ? { status: 302, headers: { location: '/moved' } } : name === 'a 500' ? { status: 500 } : {});
    const verifier = verifierFor({ diagnostics: true });
    const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(SITE)}` } });
    expect(result).toMatchObject({ verified: false, error: { code: 'KEY_UNAVAILABLE', hint: expect.stringMatching(hint) } });
    expect(site.paths).not.toContain('/moved');
  });

  it.each([
    ['with Content-Length: refused unread', {}, /the response is \d{7} bytes, over maxBytes \(131072\)/],
    ['without Content-Length (chunked): cut off', { chunked: true, pieces: 64 }, /the response is over maxBytes \(131072 bytes\)/],
  ])('a body over maxBytes %s', async (_, answer, hint) => {
    const huge = { keys: [SITE.jwk], padding: 'x'.repeat(1024 * 1024) };
    site.serve(huge, answer);
    const verifier = verifierFor({ diagnostics: true });
    const result = await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(SITE)}` } });
    expect(result).toMatchObject({ error: { code: 'KEY_UNAVAILABLE', hint: expect.stringMatching(hint) } });
    // The same set under the limit verifies; a smaller limit refuses even a normal set.
    site.serve(jwksOf(SITE), answer);
    advance(5);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    const strict = verifierFor({ keys: [{ jwks: { url: site.url, maxBytes: 64 } }] });
    expect(await outcome(strict, tokenNow(SITE))).toBe('KEY_UNAVAILABLE');
  });

  it('a set whose every member is set aside is a failed fetch: the last good set verifies, and the fixed set is fetched 5 s on', async () => {
    site.serve(jwksOf(SITE), { headers: { 'cache-control': 'max-age=300' } });
    const verifier = verifierFor();
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    site.serve({ keys: [withoutMembers(keyPair('RS256', 'site-2026-02').jwk, 'alg')] });
    advance(301);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01'); // stale, not the broken set
    expect(said.join('\n')).toMatch(/no key of the set is usable \(kid "site-2026-02": an RSA key of 2048 bits without alg/);
    site.serve(jwksOf(SITE, NEXT), { headers: { 'cache-control': 'max-age=300' } });
    advance(4.999);
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('INVALID_SIGNATURE'); // within the cooldown, before the retry
    expect(site.fetches).toBe(2);
    advance(0.001);
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('verified site-2026-02');
    expect(site.fetches).toBe(3);
  });

  it('an empty set after a good one is the site saying no key verifies: it is kept, and requests fail closed', async () => {
    site.serve(jwksOf(SITE), { headers: { 'cache-control': 'max-age=300' } });
    const verifier = verifierFor({ diagnostics: true });
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    site.serve({ keys: [] });
    advance(301);
    for (let i = 0; i < 2; i++) {
      expect(
        await verifier.verify({ headers: { authorization: `Bearer ${tokenNow(SITE, { externalId: 'u1' }, { alg: 'ES256' })}` } }),
      ).toMatchObject({
        error: { code: 'KEY_UNAVAILABLE', hint: expect.stringMatching(/holds no key: the site publishes an empty set/) },
      });
    }
    expect(site.fetches).toBe(2);
  });

  it('a member that is not an object refuses the whole set, as a set given as it is is refused (test/keyRing.test.ts)', async () => {
    const verifier = verifierFor();
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    site.serve({ keys: [SITE.jwk, NEXT.jwk, null] });
    advance(601);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01'); // the last good set, stale
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('INVALID_SIGNATURE');
    expect(said.join('\n')).toMatch(/not a JSON Web Key Set/);
  });

  it('garbage after a good set: the good set keeps verifying (stale), said once', async () => {
    const verifier = verifierFor();
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    site.serve('{"keys": [');
    advance(601);
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    expect(said.filter((line) => /not JSON/.test(line))).toHaveLength(1);
  });
});

describe('where a set may come from', () => {
  it.each([
    ['http to another host', 'http://jwks.example/keys.json'],
    ['ftp', 'ftp://127.0.0.1/keys.json'],
    ['not a URL', 'keys.json'],
  ])('%s is refused at construction', (_, url) => {
    expect(() => verifierFor({ keys: [{ jwks: { url } }] })).toThrow(TypeError);
  });

  it('a URL with a user name or password (which fetch refuses) is refused at construction, the password never echoed', async () => {
    for (const url of [site.url.replace('http://', 'http://user:s3cret@'), 'https://user@site.example/jwks.json']) {
      expect(() => verifierFor({ keys: [{ jwks: { url } }] })).toThrow(TypeError);
      expect(() => verifierFor({ keys: [{ jwks: { url } }] })).toThrow(/url holds a user name or password/);
    }
    const lookup: KeyLookup = () => ({ jwks: { url: site.url.replace('http://', 'http://user:s3cret@') } });
    expect(await outcome(verifierFor({ keys: lookup }), tokenNow(SITE))).toBe('KEY_UNAVAILABLE');
    expect(said.join('\n')).toMatch(/url holds a user name or password/);
    expect(said.join('\n')).not.toContain('s3cret');
    expect(site.fetches).toBe(0);
  });

  it('https and loopback http are accepted; a lookup that answers an http URL to another host fails closed', async () => {
    expect(() => verifierFor({ keys: [{ jwks: { url: 'https://site.example/.well-known/jwks.json' } }] })).not.toThrow();
    expect(() => verifierFor({ keys: [{ jwks: { url: 'http://localhost:1/jwks.json' } }] })).not.toThrow();
    const lookup: KeyLookup = () => ({ jwks: { url: 'http://jwks.example/keys.json' } });
    expect(await outcome(verifierFor({ keys: lookup }), tokenNow(SITE))).toBe('KEY_UNAVAILABLE');
    expect(said.join('\n')).toMatch(/must be https:/);
  });

  it('refuses misspelt and impossible settings', () => {
    expect(() => verifierFor({ keys: [{ jwks: { url: site.url, timeOut: 5 } as never }] })).toThrow(/did you mean "timeout"/);
    expect(() => verifierFor({ keys: [{ jwks: { url: site.url, maxBytes: 0 } }] })).toThrow(/maxBytes must be a number of bytes/);
    expect(() => verifierFor({ keys: [{ jwks: { url: site.url, cooldown: -1 } }] })).toThrow(/cooldown/);
    expect(() => verifierFor({ keys: [{ jwks: { url: site.url }, alg: 'HS256' as never }] })).toThrow(
      /alg must be one of ES256, EdDSA, RS256, PS256/,
    );
  });

  it('refuses a timeout that is not a whole number of milliseconds (jose and AbortSignal.timeout take none), at construction or from a lookup', async () => {
    expect(() => verifierFor({ keys: [{ jwks: { url: site.url, timeout: 1500.5 } }] })).toThrow(
      /jwks\.timeout must be a whole number of milliseconds, more than 0/,
    );
    const lookup: KeyLookup = () => ({ jwks: { url: site.url, timeout: 1500.5 } });
    expect(await outcome(verifierFor({ keys: lookup }), tokenNow(SITE))).toBe('KEY_UNAVAILABLE');
    expect(said.join('\n')).toMatch(/timeout must be a whole number of milliseconds/);
    expect(site.fetches).toBe(0);
  });

  it('takes fractions of the other settings, which only this package computes with', async () => {
    const settings = { maxBytes: 4096.5, cacheMaxAge: 600_000.5, minCacheAge: 0.5, maxCacheAge: 3_600_000.5, cooldown: 0.5, staleFor: 0.5 };
    const verifier = verifierFor({ keys: [{ jwks: { url: site.url, ...settings } }] });
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01');
    advance(0.001);
    expect(await outcome(verifier, tokenNow(NEXT))).toBe('INVALID_SIGNATURE');
    expect(site.fetches).toBe(2); // the unknown kid fetched again a millisecond on: a cooldown of half a millisecond is over
  });

  it('the alg beside a set applies to its keys that state none, where it fits them', async () => {
    const rsa = keyPair('RS256', 'rsa-1');
    site.serve({ keys: [withoutMembers(rsa.jwk, 'alg'), withoutMembers(SITE.jwk, 'alg')] });
    const verifier = verifierFor({ keys: [{ jwks: { url: site.url }, alg: 'RS256' }] });
    expect(await outcome(verifier, tokenNow(rsa))).toBe('verified rsa-1');
    expect(await outcome(verifier, tokenNow(SITE))).toBe('verified site-2026-01'); // EC P-256: ES256 whatever the set's alg
    expect(await outcome(verifier, tokenBy(rsa, { externalId: 'u1' }, { header: { alg: 'PS256', kid: 'rsa-1' }, signAs: 'PS256' }))).toBe(
      'INVALID_SIGNATURE',
    );
  });
});
