/**
 * Diagnosis: each signing mistake, made on purpose, is named by the verifier's hint; the hint
 * never carries a secret or a digest; diagnosis runs only where hints are allowed, and its work
 * is bounded whatever the proof.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { findMistake, MAX_ATTEMPTS, MAX_BYTES_HASHED, MISTAKES, type DiagnosisInput } from '../src/diagnosis/index.js';
import { createVerifier, signJwt, signPayload, signUserHash, type IdentityResult, type VerifierOptions } from '../src/index.js';
import { toSigningKeys } from '../src/keyRing.js';
import { SCHEME_NAMES } from '../src/schemes/index.js';
import { README_END, README_START, troubleshootingMarkdown } from '../cli/troubleshooting.js';
import { LIVE_KEY, NOW, TEST_KEY, frozenClock } from './helpers.js';
import { MISTAKE_CASES, secretsOf, type MistakeCase } from './mistakeCases.js';

/**
 * Counts every MAC and hash computed, and the bytes they hash, so the bounds can be checked; and,
 * while `texts` is set, which texts were hashed and which customer JSON texts were built.
 */
const macs = vi.hoisted(() => ({ count: 0, bytes: 0, texts: undefined as { built: string[]; hashed: Set<string> } | undefined }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  const counted = <H extends { update(data: string | Buffer, encoding?: BufferEncoding): H }>(hash: H): H => {
    const update = hash.update.bind(hash);
    hash.update = (data, encoding) => (
      (macs.bytes += typeof data === 'string' ? Buffer.byteLength(data, encoding) : data.length),
      typeof data === 'string' && macs.texts?.hashed.add(data),
      update(data, encoding)
    );
    return hash;
  };
  return {
    ...crypto,
    createHmac: (...args: Parameters<typeof crypto.createHmac>) => (macs.count++, counted(crypto.createHmac(...args))),
    createHash: (...args: Parameters<typeof crypto.createHash>) => (macs.count++, counted(crypto.createHash(...args))),
  };
});
vi.mock('../src/canonicalJson.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/canonicalJson.js')>();
  const canonicalJson: typeof original.canonicalJson = (object) => {
    const json = original.canonicalJson(object);
    macs.texts?.built.push(json);
    return json;
  };
  return { ...original, canonicalJson };
});

function optionsFor(testCase: MistakeCase, extra: Partial<VerifierOptions> = {}): VerifierOptions {
  const options: VerifierOptions = { scheme: testCase.scheme, keys: testCase.keys, now: () => NOW + (testCase.at ?? 0) * 1000, ...extra };
  if (testCase.allowTestKeys !== undefined) options.allowTestKeys = testCase.allowTestKeys;
  return options;
}

async function verifyCase(testCase: MistakeCase, extra: Partial<VerifierOptions> = { diagnostics: true }): Promise<IdentityResult> {
  return createVerifier(optionsFor(testCase, extra)).verify({ body: testCase.body });
}

const SETTINGS: DiagnosisInput['settings'] = {
  maxAge: undefined,
  testMaxAge: 3600,
  clockTolerance: 60,
  algorithms: ['HS256'],
  issuer: undefined,
  audience: undefined,
};

function inputFor(partial: Partial<DiagnosisInput> & Pick<DiagnosisInput, 'scheme' | 'credentials'>): DiagnosisInput {
  return {
    code: 'INVALID_SIGNATURE',
    keys: toSigningKeys([LIVE_KEY], 'keys'),
    now: NOW,
    settings: SETTINGS,
    allowTestKeys: true,
    // Frozen: by Date.now a busy machine ran out the 10 ms budget before the MAC and byte budgets were reached.
    clock: frozenClock,
    ...partial,
  };
}

describe('diagnosis: every mistake, made on purpose, is named by the hint', () => {
  it.each(MISTAKE_CASES.map((c) => [c.name, c] as const))('%s', async (_, testCase) => {
    const result = await verifyCase(testCase);
    expect(result).toMatchObject({ verified: false, error: { code: testCase.code } });
    const hint = result.verified ? undefined : result.error?.hint;
    expect(hint).toMatch(new RegExp(`\\(troubleshooting: ${testCase.mistake}\\)$`));
    expect(result.verified ? undefined : result.error?.mistake).toBe(testCase.mistake);
    // The fix in the scheme's own words where the table has them, else the fix for every scheme.
    const mistake = MISTAKES.find((m) => m.id === testCase.mistake)!;
    expect(hint).toContain(mistake.fixFor?.(testCase.scheme) ?? mistake.fix);
    if (mistake.fixFor)
      for (const other of SCHEME_NAMES.filter((name) => name !== testCase.scheme)) expect(hint).not.toContain(`(${other})`);
    if (testCase.detail) expect(hint).toMatch(testCase.detail);
  });

  it('has a case for every mistake in the table, and no case for a mistake not in it', () => {
    const ids = MISTAKES.map((m) => m.id);
    expect(new Set(MISTAKE_CASES.map((c) => c.mistake))).toEqual(new Set(ids));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every case is a proof that verifies once the mistake is undone: the cases are the mistakes, not noise', async () => {
    // The control: the same person signed correctly verifies under each case's configuration.
    const good = signPayload({ externalId: '42' }, LIVE_KEY, { now: frozenClock });
    for (const testCase of MISTAKE_CASES.filter((c) => c.scheme === 'signed-payload' && c.at === undefined)) {
      const result = await createVerifier(optionsFor(testCase)).verify({ body: good });
      expect(result.verified, testCase.name).toBe(true);
    }
  });
});

describe('diagnosis: what a hint may say', () => {
  it.each(MISTAKE_CASES.map((c) => [c.name, c] as const))('%s: no secret, no digest', async (_, testCase) => {
    const result = await verifyCase(testCase);
    const hint = result.verified ? '' : (result.error?.hint ?? '');
    for (const secret of secretsOf(testCase.keys)) {
      expect(hint).not.toContain(secret);
      expect(hint).not.toContain(secret.slice(8, 24)); // not even the random part of it
    }
    expect(hint).not.toMatch(/[0-9a-fA-F]{32,}/); // no hex digest, expected or given
    expect(hint).not.toMatch(/[A-Za-z0-9+/_-]{40,}/); // no base64 digest or key
  });

  it('is never given to live traffic: no diagnostics, no testMode, no test key', async () => {
    for (const testCase of MISTAKE_CASES.filter((c) => !c.keys.includes(TEST_KEY) && c.body.testMode === undefined)) {
      const result = await verifyCase(testCase, {});
      expect(result.verified === false && result.error, testCase.name).not.toHaveProperty('hint');
    }
  });

  it('does not even run for live traffic: no MAC beyond the verification itself', async () => {
    const testCase = MISTAKE_CASES.find((c) => c.mistake === 'json-whitespace')!;
    macs.count = 0;
    await verifyCase(testCase, {});
    const verification = macs.count;
    expect(verification).toBeLessThanOrEqual(2); // one canonical spelling, one key
    macs.count = 0;
    await verifyCase(testCase, { diagnostics: true });
    expect(macs.count).toBeGreaterThan(verification + 5);
  });

  it("is not given to a client for declaring testMode: true (hints are the server's decision)", async () => {
    const testCase = MISTAKE_CASES.find((c) => c.mistake === 'json-whitespace')!;
    const result = await createVerifier(optionsFor(testCase)).verify({ body: { ...testCase.body, testMode: true } });
    expect(result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(result.verified === false && result.error).not.toHaveProperty('hint');
  });

  it('names nothing when no known mistake explains the failure, leaving the rejection its own hint', async () => {
    const result = await createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], diagnostics: true }).verify({
      body: { user_id: '42', user_hash: signUserHash('42', 'sk_live_some_other_key') },
    });
    expect(result).toMatchObject({
      error: {
        code: 'INVALID_SIGNATURE',
        // With its usual cause: the commonest failure says what to check.
        hint: expect.stringMatching(
          /^No configured key produces user_hash for this identifier\. Usually the site signs with another secret/,
        ),
      },
    });
    expect(result.verified ? undefined : result.error).not.toHaveProperty('mistake');
  });

  it.each([
    ['signed-payload', (key: string) => signPayload({ externalId: '42', timestamp: NOW }, key)],
    ['jwt', (key: string) => ({ token: signJwt({ externalId: '42', iat: NOW }, key) })],
  ] as const)(
    '%s: does not blame a time in milliseconds for a signature no configured key made (the wrong secret); with the right key it names it',
    async (scheme, signed) => {
      const verifier = createVerifier({ scheme, keys: [LIVE_KEY], now: frozenClock, diagnostics: true });
      const wrong = await verifier.verify({ body: signed('sk_live_some_other_key_0123456789') });
      expect(wrong).toMatchObject({ error: { code: 'INVALID_SIGNATURE', hint: expect.stringMatching(/^No configured key produces/) } });
      expect(wrong.verified ? undefined : wrong.error).not.toHaveProperty('mistake');
      const right = await verifier.verify({ body: signed(LIVE_KEY) });
      expect(right).toMatchObject({ error: { code: 'SIGNATURE_EXPIRED', mistake: 'timestamp-milliseconds' } });
    },
  );

  it('keeps the rejection hint for a JWT whose signature is right but whose issuer is not accepted', async () => {
    const testCase = MISTAKE_CASES.find((c) => c.name === 'JWT 1000 seconds old')!;
    const result = await createVerifier({
      scheme: 'jwt',
      keys: [LIVE_KEY],
      now: () => NOW - 1000 * 1000,
      issuer: 'https://site.example',
      diagnostics: true,
    }).verify({ body: testCase.body });
    expect(result).toMatchObject({ error: { code: 'INVALID_SIGNATURE', hint: 'The token iss claim is not an accepted issuer.' } });
  });
});

describe('diagnosis: bounded work on any input', () => {
  const manyKeys = toSigningKeys(
    Array.from({ length: 40 }, (_, i) => `sk_live_${i}_${'k'.repeat(20)}`),
    'keys',
  );

  it(`computes at most ${MAX_ATTEMPTS} MACs with many keys and a customer of 50 short unsigned fields`, () => {
    const customer = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, 'x']));
    const input = inputFor({
      scheme: 'signed-payload',
      credentials: { customer: { externalId: 'é/<>&', ...customer, timestamp: 1 }, signature: 'a'.repeat(64), timestamp: 5 },
      keys: manyKeys,
    });
    macs.count = 0;
    expect(findMistake(input)).toBeUndefined();
    expect(macs.count).toBeLessThanOrEqual(MAX_ATTEMPTS);
    expect(macs.count).toBeGreaterThan(MAX_ATTEMPTS / 2); // the budget, not the lack of candidates, stopped it
  });

  it(`hashes at most ${MAX_BYTES_HASHED} bytes with many keys and a customer of 50 long unsigned fields`, () => {
    const customer = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`field${i}`, 'x'.repeat(100)]));
    const credentials = { customer: { externalId: 'é/<>&', ...customer, timestamp: 1 }, signature: 'a'.repeat(64), timestamp: 5 };
    const input = inputFor({ scheme: 'signed-payload', credentials, keys: manyKeys });
    [macs.count, macs.bytes] = [0, 0];
    expect(findMistake(input)).toBeUndefined();
    expect(macs.bytes).toBeLessThanOrEqual(MAX_BYTES_HASHED + 64 * macs.count); // + each HMAC's own key block
    expect(macs.bytes).toBeGreaterThan(MAX_BYTES_HASHED / 2); // the byte budget stopped it
    expect(macs.count).toBeLessThan(MAX_ATTEMPTS);
  });

  it("goes on while 10 ms have passed by the verifier's clock, and stops once more have, whatever is left to try", () => {
    /** MACs one diagnosis computes when its clock reads `elapsed` ms past its start from the 5th MAC on. */
    const macsWhen = (elapsed: number) => {
      const input = inputFor({
        scheme: 'user-hash',
        credentials: { user_id: 'U1 ', user_hash: 'a'.repeat(64) },
        keys: manyKeys,
        clock: () => NOW + (macs.count < 5 ? 0 : elapsed),
      });
      macs.count = 0;
      expect(findMistake(input)).toBeUndefined();
      return macs.count;
    };
    const unhurried = macsWhen(0);
    expect(unhurried).toBeGreaterThan(50); // every candidate tried: neither the MAC nor the byte budget stopped it
    expect(macsWhen(10)).toBe(unhurried);
    expect(macsWhen(10.001)).toBe(5);
  });

  // A text built after the budget is spent is refused unhashed: it costs for nothing.
  const fourKeys = toSigningKeys(['sk_live_a', 'sk_live_b', 'sk_live_c', 'sk_live_d'], 'keys');
  it.each([
    ['MACs', manyKeys, 'é/', 0, frozenClock],
    // One a check at most: the text that finds the bytes left too few (the check's others are about its size).
    ['bytes', fourKeys, '/'.repeat(20), 3, frozenClock],
    ['10 ms', fourKeys, '/'.repeat(20), 0, () => NOW + (macs.count < 60 ? 0 : 11)],
  ] as const)(
    'builds no more candidates once its %s are spent: a base64 signature over 50 attributes',
    (spent, keys, value, atMost, clock) => {
      const customer: Record<string, string | number> = {};
      for (let i = 49; i >= 0; i--) customer[`f${i}`] = value; // unsorted, as a page may add them
      Object.assign(customer, { externalId: 'U1', email: 'e1@x', timestamp: 1 });
      const signature = Buffer.alloc(32, 7).toString('base64');
      const input = inputFor({ scheme: 'signed-payload', credentials: { customer, signature, a: 1, b: 2, c: 3 }, keys, clock });
      [macs.count, macs.bytes] = [0, 0];
      macs.texts = { built: [], hashed: new Set() };
      try {
        expect(findMistake(input)?.mistake.id).toBe('signature-base64');
        const stoppedBy = { MACs: macs.count === MAX_ATTEMPTS, bytes: macs.bytes > MAX_BYTES_HASHED / 2, '10 ms': macs.count === 60 };
        expect(stoppedBy[spent]).toBe(true);
        if (spent !== 'MACs') expect(macs.count).toBeLessThan(MAX_ATTEMPTS);
        const { built, hashed } = macs.texts;
        // Were the budget only asked before hashing: a customer JSON for each of the 53 fields, unhashed.
        expect(built.filter((json) => !hashed.has(json)).length).toBeLessThanOrEqual(atMost);
      } finally {
        macs.texts = undefined;
      }
    },
  );

  it('the bound holds for every scheme and any credentials, and diagnosis never throws', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.constant(null))),
    );
    const credentials = fc.record(
      {
        customer: value,
        signature: fc.oneof(
          fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
          fc.base64String(),
          fc.string(),
        ),
        user_id: value,
        user_hash: fc.string(),
        email: value,
        ext_user_id: value,
        anonymousUserId: value,
        hmac: fc.string(),
        token: fc.string(),
        testMode: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const scheme = fc.constantFrom('signed-payload', 'user-hash', 'contact-hash', 'jwt', 'visitor-hash' as const);
    fc.assert(
      fc.property(scheme, credentials, (name, creds) => {
        macs.count = 0;
        const found = findMistake(
          inputFor({
            scheme: name,
            credentials: creds as Record<string, unknown>,
            keys: toSigningKeys([LIVE_KEY, TEST_KEY, { secret: 'sk_live_old', expiresAt: 1 }], 'keys'),
          }),
        );
        expect(found === undefined || typeof found.hint === 'string').toBe(true);
        expect(macs.count).toBeLessThanOrEqual(MAX_ATTEMPTS);
      }),
      { numRuns: 300 },
    );
  });

  it('hides no bug: what throws inside a diagnosis reaches the verifier, which fails closed and says it', () => {
    const credentials = {
      get customer(): unknown {
        throw new Error('a bug');
      },
    };
    expect(() => findMistake(inputFor({ scheme: 'signed-payload', credentials }))).toThrow('a bug');
  });

  it('reads nothing beyond the scheme limits: an oversized customer is not tried at all', () => {
    const customer = { externalId: '1', timestamp: 1, big: 'x'.repeat(9000) };
    const input = inputFor({ scheme: 'signed-payload', credentials: { customer, signature: 'a'.repeat(64) }, code: 'MALFORMED_IDENTITY' });
    macs.count = 0;
    findMistake(input);
    expect(macs.count).toBe(0);
  });
});

describe('README troubleshooting section', () => {
  // The list moved from the README to docs/troubleshooting.md (the README links to it); the page is
  // written by `npm run docs:troubleshooting` (scripts/troubleshooting.mjs), between its markers.
  it('docs/troubleshooting.md holds exactly the list generated from the table (npm run docs:troubleshooting)', () => {
    const page = readFileSync(new URL('../docs/troubleshooting.md', import.meta.url), 'utf8');
    const start = page.indexOf(README_START);
    const end = page.indexOf(README_END);
    expect(start, 'docs/troubleshooting.md has the troubleshooting markers').toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    expect(page.slice(start + README_START.length, end).trim()).toBe(troubleshootingMarkdown().trim());
  });

  it('the README links to it', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('](docs/troubleshooting.md)');
  });

  it('lists every mistake with its id and fix', () => {
    const markdown = troubleshootingMarkdown();
    for (const mistake of MISTAKES) expect(markdown).toContain(`**\`${mistake.id}\`: ${mistake.title}**`);
    for (const mistake of MISTAKES) expect(markdown).toContain(mistake.fix);
  });
});
