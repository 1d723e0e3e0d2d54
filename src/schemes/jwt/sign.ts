/** The site's side of `jwt`. */
import { placeholderSignature, signatureFor } from '../../signature.js';
import type { JwtAlgorithm } from '../../types.js';
import { parsedForSigning, signingKey } from '../signing.js';
import { HASHES, JWT_ALGORITHMS, parseJwt } from './index.js';

/**
 * A compact JWS with header `{"alg":"HS256","typ":"JWT"}`, adding `iat` (seconds) unless the claims
 * carry one, like jsonwebtoken's `sign`. A TypeError for claims, an algorithm or a secret the
 * verifier would refuse (a numeric externalId, an iat that is not a number, ...).
 */
export function signJwt(
  claims: Record<string, unknown>,
  secret: string,
  options: { algorithm?: JwtAlgorithm; now?: () => number } = {},
): string {
  const alg = options.algorithm ?? 'HS256';
  if (!JWT_ALGORITHMS.includes(alg))
    throw new TypeError(`chat-identity: signJwt signs with ${JWT_ALGORITHMS.join(', ')}, not ${JSON.stringify(alg)}.`);
  const key = signingKey('signJwt', secret);
  const payload = { ...claims, iat: claims.iat ?? Math.floor((options.now ?? Date.now)() / 1000) };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const unsigned = `${encode({ alg, typ: 'JWT' })}.${encode(payload)}`;
  const placeholder = placeholderSignature(HASHES[alg], 'base64url');
  const proof = parsedForSigning('signJwt', () => parseJwt({ token: `${unsigned}.${placeholder}` }, { algorithms: [alg] }));
  return `${proof.signingInput}.${signatureFor(proof.hash, key, proof.signingInput, 'base64url')}`;
}
