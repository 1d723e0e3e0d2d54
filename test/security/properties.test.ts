/**
 * Property-based tests (fast-check): FC_RUNS runs per property (default 10,000), seed printed on
 * failure (see fc.ts for replaying one). Robustness (random input through the core and every
 * adapter) is in robustness.test.ts, so the two files run in parallel.
 *
 * 1. Tampering: a random valid proof of every scheme verifies, and the same proof with any one
 *    signed thing changed (a field, a character, the signature, a byte of the token) does not.
 * 2. Tenant isolation: a proof signed with one tenant's key never verifies for another tenant.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  createVerifier,
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
  type SchemeName,
  type VerifyRequest,
} from '../../src/index.js';
import { LIVE_KEY, NOW_SECONDS, frozenClock } from '../helpers.js';
import { SCHEMES, TAMPERED, VALID, identifier, propertyOptions, schemeSecret } from './arbitraries.js';
import { RUNS, checkProperty, expectWellFormed, timeoutFor } from './fc.js';

describe('property: any change to a signed byte is rejected', () => {
  // One verifier per scheme, holding the live key, the previous key (in its grace period) and a
  // test key; each proof is signed with one of them at random.
  it.each(SCHEMES)(
    '%s',
    async (scheme) => {
      const verifier = createVerifier(propertyOptions(scheme));
      await checkProperty(
        `tampered ${scheme} proofs are rejected`,
        fc.asyncProperty(TAMPERED[scheme], async ({ original, tampered, how }) => {
          const genuine = await verifier.verify(original as VerifyRequest);
          if (!genuine.verified) throw new Error(`the untampered proof did not verify: ${JSON.stringify(genuine)}`);
          const result = await verifier.verify(tampered as VerifyRequest);
          if (result.verified) throw new Error(`verified after "${how}": ${JSON.stringify(result.contact)}`);
          expectWellFormed(result);
        }),
      );
    },
    timeoutFor(RUNS, 0.3),
  );
});

describe("property: a key from one tenant never verifies another tenant's proof", () => {
  it(
    'every scheme, random tenants with random keys',
    async () => {
      // The lookup reads the tenants of the current run; no cache, so nothing carries over between runs.
      let tenants = new Map<string, string[]>();
      const verifierFor = (scheme: SchemeName) =>
        createVerifier({
          scheme,
          keys: (tenant) => tenants.get(tenant ?? ''),
          tenant: (request) => request.headers?.['x-tenant'] as string | undefined,
          keyCache: false,
          now: frozenClock,
          rateLimit: false,
          logger: { warn() {}, error() {} },
        });
      const verifiers = new Map(SCHEMES.map((scheme) => [scheme, verifierFor(scheme)]));
      // Random 16–48 character secrets: distinct, and none an HMAC-equivalent of another (no NUL
      // padding, no key longer than the 64-byte block; see attacks.test.ts for why that matters).
      const secret = fc
        .string({ unit: 'grapheme', minLength: 16, maxLength: 48 })
        .filter((s) => !s.includes('\u0000') && Buffer.byteLength(s) <= 64 && !/^\s|\s$/.test(s));
      const tenantName = fc.oneof(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.constantFrom('__proto__', 'constructor', 'toString', 'acme', 'Acme', 'acme '),
      );
      const world = fc
        .uniqueArray(tenantName, { minLength: 2, maxLength: 4 })
        .chain((names) =>
          fc.tuple(fc.constant(names), fc.uniqueArray(secret, { minLength: names.length * 2, maxLength: names.length * 2 })),
        );

      await checkProperty(
        'tenant isolation',
        fc.asyncProperty(
          world,
          fc.constantFrom(...SCHEMES),
          identifier,
          fc.nat(),
          fc.nat(),
          fc.boolean(),
          async ([names, secrets], scheme, id, from, to, rotated) => {
            // Each tenant has one key, or a new key and the previous one.
            tenants = new Map(names.map((name, i) => [name, rotated ? [secrets[2 * i]!, secrets[2 * i + 1]!] : [secrets[2 * i]!]]));
            const signer = names[from % names.length]!;
            const victim = names.filter((n) => n !== signer)[to % (names.length - 1)]!;
            const signingKey = tenants.get(signer)![rotated ? 1 : 0]!;
            const proof = proofFor(scheme, id, signingKey);
            const verifier = verifiers.get(scheme)!;
            const own = await verifier.verify({ ...proof, headers: { ...proof.headers, 'x-tenant': signer } });
            if (!own.verified)
              throw new Error(`tenant ${JSON.stringify(signer)} did not verify its own ${scheme} proof: ${JSON.stringify(own)}`);
            const other = await verifier.verify({ ...proof, headers: { ...proof.headers, 'x-tenant': victim } });
            expect(other).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
          },
        ),
      );
    },
    timeoutFor(RUNS, 1), // about 1 ms a run here (two verifications, a lookup each): 0.3 ms timed out at FC_RUNS=50000
  );
});

function proofFor(scheme: SchemeName, id: string, secret: string): { headers: Record<string, string>; body?: unknown } {
  switch (scheme) {
    case 'signed-payload':
      return { headers: {}, body: signPayload({ externalId: id, timestamp: NOW_SECONDS }, secret) };
    case 'user-hash':
      return { headers: {}, body: { user_id: id, user_hash: signUserHash(id, secret) } };
    case 'contact-hash':
      return { headers: {}, body: { email: id, user_hash: signContactHash({ email: id }, secret) } };
    case 'jwt':
      return { headers: { authorization: `Bearer ${signJwt({ externalId: id }, secret, { now: frozenClock })}` } };
    case 'visitor-hash':
      return { headers: {}, body: { anonymousUserId: id, hmac: signVisitorHash(id, secret) } };
  }
}

describe('the harness', () => {
  it('fails a property that a broken verifier would fail, with the seed and how to replay it', async () => {
    // A "verifier" that ignores the signature: the tamper property must catch it at once.
    const broken = { verify: async (request: VerifyRequest) => ({ verified: true as const, request }) };
    const said = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const failure = checkProperty(
        'a broken verifier',
        fc.asyncProperty(TAMPERED['user-hash'], async ({ tampered }) => {
          if ((await broken.verify(tampered as VerifyRequest)).verified) throw new Error('verified a tampered proof');
        }),
        100,
      );
      await expect(failure).rejects.toThrow(/failed \(seed -?\d+\); replay with: FC_SEED=-?\d+ FC_PATH=[\d:]+/);
      expect(said).toHaveBeenCalledWith(expect.stringMatching(/FC_SEED=/));
    } finally {
      said.mockRestore();
    }
  });
});

describe('the generators', () => {
  it('make valid proofs of every scheme that verify', async () => {
    for (const scheme of SCHEMES) {
      const verifier = createVerifier(propertyOptions(scheme));
      for (const valid of fc.sample(VALID[scheme], 200)) {
        expect(await verifier.verify(valid.request as VerifyRequest)).toMatchObject({ verified: true, scheme });
      }
    }
  });

  it('use secrets the secrets sweep knows, each scheme its own', () => {
    expect(propertyOptions('jwt').keys).toContain(schemeSecret('jwt', LIVE_KEY));
    expect(propertyOptions('user-hash').keys).not.toContain(schemeSecret('jwt', LIVE_KEY));
  });
});
