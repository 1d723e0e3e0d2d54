import { describe, expect, it, vi } from 'vitest';
import {
  IdentityError,
  IdentityErrorCode,
  createVerifier,
  isIssuedResult,
  verifierOf,
  verifyNow,
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
  type SchemeName,
  type VerifierOptions,
} from '../src/index.js';
import { Rejection } from '../src/rejection.js';
import { SCHEMES } from '../src/schemes/index.js';
import { LIVE_KEY, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY, clockAt, frozenClock, schemeKey, verifierFor } from './helpers.js';

const ALL: SchemeName[] = ['signed-payload', 'user-hash', 'contact-hash', 'jwt', 'visitor-hash'];
/** visitor-hash needs a verifier of its own (its key signs any id asked for). */
const COMBINED = ALL.filter((s) => s !== 'visitor-hash');

describe('createVerifier: choosing the scheme', () => {
  const combined = verifierFor({ scheme: COMBINED });
  const visitors = verifierFor({ scheme: 'visitor-hash', keys: [schemeKey('visitor-hash')] });
  const proofs: Record<SchemeName, { body?: unknown; headers?: Record<string, string> }> = {
    'signed-payload': { body: signPayload({ externalId: '1' }, schemeKey('signed-payload'), { now: frozenClock }) },
    'user-hash': { body: { user_id: '1', user_hash: signUserHash('1', schemeKey('user-hash')) } },
    'contact-hash': { body: { ext_user_id: '1', user_hash: signContactHash({ ext_user_id: '1' }, schemeKey('contact-hash')) } },
    jwt: { headers: { authorization: `Bearer ${signJwt({ externalId: '1' }, schemeKey('jwt'), { now: frozenClock })}` } },
    'visitor-hash': { body: { anonymousUserId: '1', hmac: signVisitorHash('1', schemeKey('visitor-hash')) } },
  };

  it.each(ALL)('uses %s when its fields are present', async (scheme) => {
    const verifier = scheme === 'visitor-hash' ? visitors : combined;
    expect(await verifier.verify(proofs[scheme])).toMatchObject({ verified: true, scheme });
  });

  it.each(ALL)('answers a %s signature no key made with its Rejection, returned by the scheme, not thrown', async (scheme) => {
    // A throw walks the stack: a flood of forgeries should not buy one each (src/schemes/scheme.ts, verify).
    const verify = vi.spyOn(SCHEMES[scheme], 'verify');
    try {
      const other = createVerifier({ scheme, keys: [PREVIOUS_KEY], now: frozenClock, rateLimit: false });
      expect(await other.verify(proofs[scheme])).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
      expect(verify.mock.results).toHaveLength(1);
      expect(verify.mock.results[0]!.type).toBe('return');
      expect(verify.mock.results[0]!.value).toBeInstanceOf(Rejection);
    } finally {
      verify.mockRestore();
    }
  });

  it('refuses one list of keys for several schemes, visitor-hash included', () => {
    expect(() => createVerifier({ scheme: ['visitor-hash', 'jwt'], keys: [LIVE_KEY] })).toThrow(/its own keys/);
    expect(() => createVerifier({ scheme: ['visitor-hash', 'visitor-hash'], keys: [LIVE_KEY] })).not.toThrow();
  });

  it('prefers the scheme that finds a signature and an identifier over one that finds only part', async () => {
    // user_hash alone is shared by user-hash and contact-hash; the identifier decides.
    const result = await verifierFor({ scheme: ['user-hash', 'contact-hash'] }).verify(proofs['contact-hash']);
    expect(result).toMatchObject({ verified: true, scheme: 'contact-hash' });
  });

  it('reads the proof from getCredentials when given', async () => {
    const v = verifierFor({ scheme: 'user-hash', getCredentials: (request) => request.query as Record<string, unknown> });
    expect(await v.verify({ query: { user_id: '1', user_hash: signUserHash('1', LIVE_KEY) } })).toMatchObject({ verified: true });
  });

  it('refuses an unknown scheme at start-up', () => {
    expect(() => createVerifier({ scheme: 'hmac' as SchemeName, keys: [LIVE_KEY] })).toThrow(/options.scheme/);
    expect(() => createVerifier({ scheme: [], keys: [LIVE_KEY] })).toThrow(TypeError);
  });
});

describe('createVerifier: required and anonymous', () => {
  it('returns an anonymous result with no error when nothing is presented and nothing required', async () => {
    expect(await verifierFor({ scheme: COMBINED }).verify({ body: { message: 'hi' } })).toEqual({ verified: false });
    expect(await verifierFor({ scheme: COMBINED }).verify({})).toEqual({ verified: false });
  });

  it('records MISSING_IDENTITY when verification is required', async () => {
    const result = await verifierFor({ scheme: COMBINED, required: true }).verify({ body: { message: 'hi' } });
    expect(result).toEqual({ verified: false, error: { code: 'MISSING_IDENTITY', message: 'No identity proof was presented.' } });
  });

  it('records the failure of an invalid proof without attaching the claimed identity', async () => {
    const result = await verifierFor({ scheme: 'user-hash' }).verify({
      body: { user_id: 'admin', user_hash: '0'.repeat(64), user_metadata: { email: 'ceo@example.com' } },
    });
    expect(result).toEqual({
      verified: false,
      scheme: 'user-hash',
      error: { code: 'INVALID_SIGNATURE', message: 'The identity signature is not valid.' },
    });
  });

  it('exposes required and the schemes', () => {
    const v = verifierFor({ scheme: ['jwt', 'user-hash'], required: true });
    expect(v.required).toBe(true);
    expect(v.schemes).toEqual(['jwt', 'user-hash']);
  });
});

describe('createVerifier: only the results it returned are trusted', () => {
  it('knows its own results, and no copy of one: a spread, structuredClone, JSON, a prototype, a look-alike', async () => {
    const verifier = verifierFor({ scheme: 'user-hash', required: true });
    const result = await verifier.verify({ body: { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY) } });
    expect(result.verified).toBe(true);
    expect(isIssuedResult(result)).toBe(true);
    expect(verifierOf(result)).toBe(verifier);
    const copies = [
      { ...result },
      structuredClone(result),
      JSON.parse(JSON.stringify(result)),
      Object.create(result),
      Object.assign({}, result),
    ];
    for (const copy of copies) {
      expect(isIssuedResult(copy)).toBe(false);
      expect(verifierOf(copy)).toBeUndefined();
      expect(verifier.mustReject({ ...copy, verified: false })).toBe(true);
    }
    for (const value of [undefined, null, 'verified', 42, { verified: true }, [result]]) expect(isIssuedResult(value)).toBe(false);
  });

  it('issues its results frozen, so that nothing after the check changes what a marked result says', async () => {
    const verifier = verifierFor({
      scheme: ['jwt', 'user-hash'],
      keys: { jwt: [schemeKey('jwt')], 'user-hash': [schemeKey('user-hash')] },
    });
    const claims = { externalId: 'u1', email: 'u1@example.com', plan: 'pro', tags: ['a', 'b'] };
    const token = signJwt(claims, schemeKey('jwt'), { now: frozenClock });
    const verified = await verifier.verify({ headers: { authorization: `Bearer ${token}` } });
    const refused = await verifier.verify({ body: { user_id: 'admin', user_hash: signUserHash('u1', schemeKey('user-hash')) } });
    if (!verified.verified || refused.verified) throw new Error('expected one verified result and one refused');
    expect(refused.error?.code).toBe('INVALID_SIGNATURE');
    const { contact } = verified;
    expect(contact.verifiedFields).toContain('attributes.tags');
    for (const part of [verified, contact, contact.attributes, contact.attributes.tags, contact.verifiedFields, refused, refused.error]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    // Test files are ES modules, so strict: writing a frozen property throws, and changes nothing.
    expect(() => Object.assign(refused, { verified: true })).toThrow(TypeError);
    expect(() => Object.assign(contact, { externalId: 'admin' })).toThrow(TypeError);
    expect(() => (contact.verifiedFields as string[]).push('phone')).toThrow(TypeError);
    expect([refused.verified, contact.externalId, contact.verifiedFields.includes('phone')]).toEqual([false, 'u1', false]);
  });
});

describe("createVerifier: answering without a promise (the adapters' path)", () => {
  const valid = { body: { user_id: '1', user_hash: signUserHash('1', LIVE_KEY) } };
  const forged = { body: { user_id: '1', user_hash: '0'.repeat(64) } };
  const garbled = { body: { user_id: '1', user_hash: 'not hex' } };

  it('answers a verified and a refused proof at once, with static keys and the memory store', () => {
    const verifier = verifierFor({ scheme: 'user-hash', keys: [LIVE_KEY] });
    expect(verifyNow(verifier, valid)).toMatchObject({ verified: true });
    expect(verifyNow(verifier, forged)).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(verifyNow(verifier, garbled)).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    expect(verifyNow(verifier, {})).toMatchObject({ verified: false });
  });

  it("waits when a refusal needs a tenant's mode or a diagnosis, and answers the same", async () => {
    const lookup = verifierFor({
      scheme: 'user-hash',
      keys: async () => ({ tenant: 'acme', keys: [LIVE_KEY], required: true }),
      tenant: () => 'acme',
    });
    const refused = verifyNow(lookup, garbled); // refused before its keys were asked for: the lookup names its mode
    expect(refused).toBeInstanceOf(Promise);
    expect(await refused).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    expect(lookup.mustReject(await refused)).toBe(true);
    const diagnosed = verifierFor({ scheme: 'user-hash', keys: [LIVE_KEY], diagnostics: true });
    const explained = verifyNow(diagnosed, garbled);
    expect(explained).toBeInstanceOf(Promise);
    expect(await explained).toMatchObject({ error: { code: 'MALFORMED_IDENTITY', hint: expect.any(String) as string } });
  });
});

describe('createVerifier: hints only where allowed', () => {
  const expired = signPayload({ externalId: '1' }, LIVE_KEY, { now: frozenClock });
  const testExpired = signPayload({ externalId: '1' }, TEST_KEY, { now: frozenClock });
  const later = clockAt(2 * 3600);

  it('gives live traffic the generic message only', async () => {
    const result = await verifierFor({ scheme: 'signed-payload', now: later }).verify({ body: expired });
    expect(result).toEqual({
      verified: false,
      scheme: 'signed-payload',
      error: { code: 'SIGNATURE_EXPIRED', message: 'The identity signature has expired.' },
    });
  });

  it('gives a hint when the signature matched a test key', async () => {
    const result = await verifierFor({ scheme: 'signed-payload', keys: [LIVE_KEY, TEST_KEY], now: later }).verify({ body: testExpired });
    expect(result).toMatchObject({ error: { code: 'SIGNATURE_EXPIRED', hint: expect.stringMatching(/3600 seconds.* past .*test keys/) } });
  });

  it('gives a hint with diagnostics on, never for a client that declares test mode', async () => {
    const declared = await verifierFor({ scheme: 'signed-payload', now: later }).verify({ body: { ...expired, testMode: true } });
    expect(declared).toEqual({
      verified: false,
      scheme: 'signed-payload',
      error: { code: 'SIGNATURE_EXPIRED', message: 'The identity signature has expired.' },
    });
    const diagnostics = await verifierFor({ scheme: 'signed-payload', now: later, diagnostics: true }).verify({ body: expired });
    expect(diagnostics).toMatchObject({ error: { hint: expect.stringContaining('seconds past') } });
  });

  it('gives no hint for an invalid signature from a live client', async () => {
    const result = await verifierFor({ scheme: 'user-hash' }).verify({ body: { user_id: '1', user_hash: 'AAAA' } });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(result.verified === false && result.error).not.toHaveProperty('hint');
  });
});

describe('createVerifier: onVerified', () => {
  it('is called with the result and the request after a successful verification only', async () => {
    const onVerified = vi.fn();
    const v = verifierFor({ scheme: 'user-hash', onVerified });
    const request = { body: { user_id: '1', user_hash: signUserHash('1', LIVE_KEY) } };
    const result = await v.verify(request);
    await v.verify({ body: { user_id: '1', user_hash: signUserHash('2', LIVE_KEY) } });
    expect(onVerified).toHaveBeenCalledTimes(1);
    expect(onVerified).toHaveBeenCalledWith(result, request);
  });

  it('rejects verify() with its own error: a failing contact store is not bad input', async () => {
    const v = verifierFor({ scheme: 'user-hash', onVerified: () => Promise.reject(new Error('store down')) });
    await expect(v.verify({ body: { user_id: '1', user_hash: signUserHash('1', LIVE_KEY) } })).rejects.toThrow('store down');
  });
});

describe('createVerifier: never throws for bad input', () => {
  const weird: unknown[] = [
    undefined,
    null,
    0,
    '',
    'text',
    [],
    [1, 2],
    true,
    { customer: null, signature: null },
    { customer: 'x', signature: [] },
    { customer: { timestamp: NaN, externalId: '1' }, signature: '00' },
    { customer: { externalId: '1', timestamp: Infinity }, signature: '0'.repeat(64) },
    { user_id: null, user_hash: null },
    { user_id: ['1'], user_hash: '0'.repeat(64) },
    { user_id: '1', user_hash: { length: 64 } },
    { user_id: '1', user_hash: '0'.repeat(64), user_metadata: [1] },
    { token: 42 },
    { token: '...' },
    { token: 'a.b.c' },
    { token: '\u0000.\u0000.\u0000' },
    { anonymousUserId: {}, hmac: '' },
    { ext_user_id: 1, email: 2, phone: 3, user_hash: 4 },
    JSON.parse('{"__proto__":{"polluted":true},"user_id":"1","user_hash":"00"}'),
    Object.create(null),
    { toString: 'x', valueOf: 'y', hasOwnProperty: 'z' },
  ];
  const headerCases: unknown[] = [
    { authorization: ['a', 'b'] },
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: 7 },
    'not headers',
    null,
  ];

  // verify() fails closed on a bug too (as MALFORMED_IDENTITY), so "gives a result" alone would
  // pass by construction: each case must also be refused for a reason of the package's own, with
  // no internal error said (a fault planted in a parser makes these fail: review.test.ts › "10.").
  const internalErrors: string[] = [];
  const watched = { warn() {}, error: (message: string) => void (message.includes('internal error') && internalErrors.push(message)) };

  it.each(weird.map((body, i) => [i, body]))('body case %i gives a result', async (_, body) => {
    const v = verifierFor({ scheme: COMBINED, required: true, logger: watched });
    const result = await v.verify({ body });
    expect(result.verified).toBe(false);
    expect(result.verified === false && result.error?.code).toMatch(/^[A-Z_]+$/);
    expect(internalErrors).toEqual([]);
  });

  it.each(headerCases.map((headers, i) => [i, headers]))('header case %i gives a result', async (_, headers) => {
    const result = await verifierFor({ scheme: COMBINED, required: true, logger: watched }).verify({ headers } as never);
    expect(result.verified).toBe(false);
    expect(internalErrors).toEqual([]);
  });

  it('survives a getCredentials or tenant function that throws, failing closed', async () => {
    const body = { user_id: '1', user_hash: signUserHash('1', LIVE_KEY) };
    const broken = verifierFor({
      scheme: 'user-hash',
      getCredentials: () => {
        throw new Error('bug');
      },
    });
    expect(await broken.verify({ body })).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    const badTenant = verifierFor({
      scheme: 'user-hash',
      tenant: () => {
        throw new Error('bug');
      },
      keys: () => [LIVE_KEY],
    });
    expect(await badTenant.verify({ body })).toMatchObject({ verified: false });
  });

  it('does not let __proto__, constructor or prototype reach any object', async () => {
    const metadata = JSON.parse('{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}},"prototype":"p","plan":"pro"}');
    const result = await verifierFor({ scheme: 'user-hash' }).verify({
      body: { user_id: '1', user_hash: signUserHash('1', LIVE_KEY), user_metadata: metadata },
    });
    expect(result).toMatchObject({ verified: true, contact: { attributes: { plan: 'pro' } } });
    expect(result.verified && Object.keys(result.contact.attributes)).toEqual(['plan']);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(result.verified && result.contact.attributes)).toBe(Object.prototype);
  });

  it('drops prototype keys from a signed payload after verifying it as signed', async () => {
    const customer = JSON.parse(`{"__proto__":"x","constructor":"y","externalId":"1","timestamp":${NOW_SECONDS}}`);
    const { signature } = signPayload(customer, LIVE_KEY);
    const result = await verifierFor({ scheme: 'signed-payload' }).verify({ body: { customer, signature } });
    expect(result).toMatchObject({ verified: true, contact: { externalId: '1', attributes: {} } });
  });
});

describe('createVerifier: option checks at start-up', () => {
  it.each([
    ['a negative maxAge', { maxAge: -1 }],
    ['a string clockTolerance', { clockTolerance: '60' }],
    ['alg none', { algorithms: ['none'] }],
    ['an asymmetric algorithm', { algorithms: ['RS256'] }],
    ['an empty algorithms list', { algorithms: [] }],
    ['a numeric issuer', { issuer: 5 }],
  ])('%s throws', (_, options) => {
    expect(() => createVerifier({ scheme: 'jwt', keys: [LIVE_KEY], ...(options as Partial<VerifierOptions>) })).toThrow(TypeError);
  });
});

describe('createVerifier: misspelt options are refused, naming the closest valid one', () => {
  it.each([
    [{ requried: true }, /options has no option "requried"; did you mean "required"\?/],
    [{ diagnostic: true }, /did you mean "diagnostics"/],
    [{ rateLimit: { identiy: { points: 1, duration: 60 } } }, /options.rateLimit has no option "identiy"; did you mean "identity"/],
    [{ rateLimit: { identity: { point: 1, duration: 60 } } }, /options.rateLimit.identity has no option "point"; did you mean "points"/],
    [{ keyCache: { tll: 1000 } }, /options.keyCache has no option "tll"; did you mean "ttl"/],
    [{ keys: [{ secret: LIVE_KEY, expiresAT: 1 }] }, /options.keys\[0\] has no option "expiresAT"; did you mean "expiresAt"/],
    [{ zzzzzz: 1 }, /options has no option "zzzzzz"\. Valid: scheme, keys/],
    [{ required: 'yes' }, /options.required must be true or false/],
    [{ logger: {} }, /options.logger must have warn\(\) and error\(\) functions/],
    [{ logger: { warn() {} } }, /options.logger must have warn\(\) and error\(\) functions/],
  ])('%j', (extra, message) => {
    expect(() => createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], ...(extra as object) })).toThrow(message);
  });
});

describe('errors: codes, HTTP and bodies', () => {
  it('maps every code to its status', () => {
    const statuses = Object.fromEntries(
      Object.values(IdentityErrorCode).map((c) => [c, new IdentityError({ code: c, message: 'm' }).status]),
    );
    expect(statuses).toEqual({
      MISSING_IDENTITY: 401,
      MISSING_REQUIRED_FIELD: 401,
      MALFORMED_IDENTITY: 401,
      INVALID_SIGNATURE: 401,
      SIGNATURE_EXPIRED: 401,
      RATE_LIMITED: 429,
      KEY_UNAVAILABLE: 503,
      SESSION_EXPIRED: 401,
    });
  });

  it('renders the rejection body of DESIGN.md', () => {
    expect(new IdentityError({ code: 'INVALID_SIGNATURE', message: 'm' }).body).toEqual({
      error: 'identity_unverified',
      code: 'INVALID_SIGNATURE',
      message: 'm',
    });
    expect(new IdentityError({ code: 'RATE_LIMITED', message: 'm' }).body).toEqual({
      error: 'rate_limited',
      code: 'RATE_LIMITED',
      message: 'm',
    });
  });

  it('IdentityError carries status, code, expose and the body', () => {
    const error = new IdentityError({ code: 'KEY_UNAVAILABLE', message: 'Identity keys are unavailable; try again later.' });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ status: 503, statusCode: 503, code: 'KEY_UNAVAILABLE', expose: true });
    expect(error.body).toEqual({
      error: 'identity_unverified',
      code: 'KEY_UNAVAILABLE',
      message: 'Identity keys are unavailable; try again later.',
    });
  });
});

// Every code a verifier returns, reached at least once above or in the scheme suites:
// MISSING_IDENTITY, MISSING_REQUIRED_FIELD, MALFORMED_IDENTITY, INVALID_SIGNATURE,
// SIGNATURE_EXPIRED, KEY_UNAVAILABLE here and in keyRing.test.ts; RATE_LIMITED with the limiter.
export type { VerifierOptions };
