/**
 * Which key checks a token. The key decides the algorithm; the header's kid selects the key.
 *
 * - A kid names the keys whose id is that kid: only they are tried. A kid that no key carries
 *   leaves the keys that carry no id (a kid cannot name those; a secret configured without an id
 *   keeps verifying tokens whose library adds a kid); with none of those, the token is refused.
 *   (For a fetched JWKS the key ring has already fetched the set again for such a kid, at most
 *   once per cooldown: src/keyRing.ts.)
 * - A token without kid is tried against the keys in order.
 * - Either way every secret may be tried (an HMAC costs a microsecond), but at most
 *   MAX_PUBLIC_KEY_TRIES public keys of its algorithm: each try is a public-key operation, tens of
 *   microseconds, a JWKS may hold many keys, and the kid is the client's to make up.
 * - The ring holds secrets or public keys, never both (src/keyRing.ts). An HMAC token checked
 *   against public keys, or a public-key token against secrets, is refused before any key is
 *   tried: a public key is never an HMAC secret, whatever the header says (RFC 8725 §2.1).
 * - A public key verifies its own algorithm only: a header naming another is refused.
 *
 * @example
 * ```ts
 * const key = signingKeyFor(proof, keys); // the key that made the signature, or a Rejection
 * ```
 */
import type { SigningKey } from '../../keyRing.js';
import { noKeySigned, Rejection, reject } from '../../rejection.js';
import { publicKeyVerifies } from '../../signature.js';
import { findSigningKey, type SchemeSettings } from '../scheme.js';
import type { JwtProof } from './index.js';

/** Public keys tried, at most, for one token. */
export const MAX_PUBLIC_KEY_TRIES = 4;

/**
 * The key, among the usable `keys`, that made the token's signature; when none did, the Rejection
 * (INVALID_SIGNATURE), returned, not thrown (see `Scheme.verify`). Keys that cannot verify the
 * token at all (the wrong kind, no key of its algorithm or kid) throw theirs.
 */
export function signingKeyFor(proof: JwtProof, keys: readonly SigningKey[]): SigningKey | Rejection {
  const { alg, hash, keyId: kid } = proof;
  const publicRing = keys[0]?.alg !== undefined;
  const candidates = kid === undefined ? keys : keysNamed(keys, kid);
  if (hash !== undefined) {
    if (publicRing) {
      reject(
        'INVALID_SIGNATURE',
        `The token is ${alg}, an HMAC with a shared secret, but the jwt keys here are public keys, which are never used as HMAC ` +
          "secrets (algorithm confusion, RFC 8725 §2.1): sign with the site's private key.",
      );
    }
    return findSigningKey(candidates, proof.signingInput, proof.signature, hash) ?? NO_KEY_SIGNED;
  }
  if (!publicRing) {
    reject(
      'INVALID_SIGNATURE',
      `The token is signed with ${alg}, but the jwt keys here are shared secrets, which verify HMAC tokens only.`,
    );
  }
  let ofAlg = 0;
  for (const key of candidates) {
    if (key.alg !== alg) continue;
    if (ofAlg === MAX_PUBLIC_KEY_TRIES) break;
    ofAlg += 1;
    if (publicKeyVerifies(alg, key.material, proof.signingInput, proof.signature)) return key;
  }
  if (ofAlg === 0) {
    const named = kid !== undefined && candidates[0]?.kid === kid;
    reject(
      'INVALID_SIGNATURE',
      named
        ? `The token header says alg ${alg}, but the key with kid ${JSON.stringify(kid)} is an ${candidates[0]!.alg} key: ` +
            'the key decides the algorithm.'
        : `The token header says alg ${alg}, but no key here is an ${alg} key: the key decides the algorithm.`,
    );
  }
  return NO_KEY_SIGNED;
}

/** A Rejection holds nothing of the request: one serves every token no key signed. */
const NO_KEY_SIGNED = noKeySigned('this token signature');

/** The keys a kid names, or, when none carries it, the keys that carry no id. */
function keysNamed(keys: readonly SigningKey[], kid: string): readonly SigningKey[] {
  let first: SigningKey | undefined;
  let more: SigningKey[] | undefined;
  for (const key of keys) {
    if (key.kid !== kid) continue;
    if (first === undefined) first = key;
    else (more ??= [first]).push(key);
  }
  if (more) return more;
  if (first) return [first];
  const unnamed = keys.filter((key) => key.kid === undefined);
  if (unnamed.length === 0) reject('INVALID_SIGNATURE', `No usable key has the kid ${JSON.stringify(kid.slice(0, 64))} the token names.`);
  return unnamed;
}

/**
 * The algorithms a token may name against these keys: the listed HMAC ones (HS256 by default) for
 * secrets, each public key's own (when `algorithms` lists it) for public keys.
 */
export function acceptedAlgorithms(keys: readonly SigningKey[], settings: Pick<SchemeSettings, 'algorithms'>): readonly string[] {
  const listed = settings.algorithms;
  if (keys.length === 0 || keys.some((key) => key.alg === undefined)) return (listed ?? ['HS256']).filter((alg) => alg.startsWith('HS'));
  return [...new Set(keys.map((key) => key.alg!))].filter((alg) => listed === undefined || listed.includes(alg));
}
