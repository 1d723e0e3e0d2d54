/**
 * Property (fast-check), per public-key algorithm: a random token the site signed with its
 * private key verifies, and the same token with any one change (a character of any part replaced,
 * inserted or deleted, the token cut short, the payload of another token spliced under this
 * signature, header and payload swapped, the header's alg or kid changed) does not. The verifier
 * holds two keys of the algorithm, as during a rotation; each token is signed by one of them.
 * FC_RUNS runs per algorithm (10,000 by default; seed printed on failure, see fc.ts).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createVerifier, type PublicKeyAlgorithm, type VerifyRequest } from '../../src/index.js';
import { NOW_SECONDS, frozenClock } from '../helpers.js';
import { jwtPart } from '../support/jwt.js';
import { jwksOf, keyPair, tokenBy } from '../support/keyPairs.js';
import { CHARACTER_EDITS, editToken, identifier, tokenChar } from './arbitraries.js';
import { RUNS, checkProperty, expectWellFormed, timeoutFor } from './fc.js';

const ALGS: readonly PublicKeyAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'PS256'];
const OPS = [...CHARACTER_EDITS, 'splice', 'swap', 'alg', 'kid'] as const;

describe('property: any change to a signed byte of a public-key token is rejected', () => {
  it.each(ALGS)(
    '%s',
    async (alg) => {
      const pairs = [keyPair(alg, `${alg}-current`), keyPair(alg, `${alg}-previous`)];
      const verifier = createVerifier({
        scheme: 'jwt',
        keys: [{ jwks: jwksOf(...pairs) }],
        now: frozenClock,
        rateLimit: false,
        logger: { warn() {}, error() {} },
      });
      const proof = fc.record({
        id: identifier,
        email: fc.option(identifier, { nil: undefined }),
        age: fc.integer({ min: 0, max: 899 }),
        signer: fc.nat(1),
        withKid: fc.boolean(),
        inHeader: fc.boolean(),
      });
      const cases = fc.tuple(proof, fc.constantFrom(...OPS), fc.nat(), tokenChar).map(([p, op, at, c]) => {
        const pair = pairs[p.signer]!;
        const claims = { externalId: p.id, ...(p.email !== undefined && { email: p.email }), iat: NOW_SECONDS - p.age };
        const header = p.withKid ? { alg, typ: 'JWT', kid: pair.kid } : { alg, typ: 'JWT' };
        const token = tokenBy(pair, claims, { header });
        const [h, payload, s] = token.split('.') as [string, string, string];
        const i = at % token.length;
        let tampered: string;
        switch (op) {
          case 'replace':
          case 'insert':
          case 'delete':
          case 'truncate':
            tampered = editToken(token, op, i, c);
            break;
          case 'splice': {
            // Another identity's payload, signed by the same key, under this token's signature.
            const other = tokenBy(pair, { ...claims, externalId: `${p.id}!` }, { header });
            tampered = `${h}.${other.split('.')[1]}.${s}`;
            break;
          }
          case 'swap':
            tampered = `${payload}.${h}.${s}`;
            break;
          case 'alg': {
            const others = ['none', 'HS256', ...ALGS.filter((a) => a !== alg)];
            tampered = `${jwtPart({ ...header, alg: others[at % others.length] })}.${payload}.${s}`;
            break;
          }
          case 'kid':
            tampered = `${jwtPart({ ...header, kid: pairs[1 - p.signer]!.kid })}.${payload}.${s}`;
            break;
        }
        // Leading and trailing whitespace of a header value is not the token's (HTTP strips it).
        if (p.inHeader && tampered.trim() === token) tampered = `${token}A`;
        const as = (t: string): VerifyRequest => (p.inHeader ? { headers: { authorization: `Bearer ${t}` } } : { body: { token: t } });
        return { original: as(token), tampered: as(tampered), how: `${op} at ${i}` };
      });
      await checkProperty(
        `tampered ${alg} tokens are rejected`,
        fc.asyncProperty(cases, async ({ original, tampered, how }) => {
          const genuine = await verifier.verify(original);
          if (!genuine.verified) throw new Error(`the untampered token did not verify: ${JSON.stringify(genuine)}`);
          const result = await verifier.verify(tampered);
          if (result.verified) throw new Error(`verified after "${how}": ${JSON.stringify(result.contact)}`);
          expectWellFormed(result);
        }),
      );
    },
    timeoutFor(RUNS, 1.5),
  );
});
