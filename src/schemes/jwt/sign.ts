/** The site's side of `jwt`: HS256 with the shared secret, or ES256 / EdDSA / RS256 / PS256 with the site's private key. */
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { algorithmNamed, readPublicKey } from '../../jwks/publicKey.js';
import { placeholderSignature, publicKeySignature, signatureFor } from '../../signature.js';
import type { FullySpecifiedEdDSA, HmacJwtAlgorithm, JwtAlgorithm, PublicKeyAlgorithm } from '../../types.js';
import { parsedForSigning, signingKey } from '../signing.js';
import { HASHES, HMAC_ALGORITHMS, JWT_ALGORITHMS, parseJwt } from './index.js';

/**
 * A private key as `signJwt` takes it: PEM (`BEGIN PRIVATE KEY`), a private JWK (with `d`), or a private KeyObject.
 * @example
 * ```ts
 * const key: JwtPrivateKey = readFileSync('site-2026-01.private.pem', 'utf8');
 * ```
 */
export type JwtPrivateKey = string | KeyObject | { kty: string; d: string; [member: string]: unknown };

/**
 * How `signJwt` signs: the algorithm, the kid, the clock.
 * @example
 * ```ts
 * signJwt({ externalId: '42' }, privateKeyPem, { algorithm: 'RS256', keyId: 'site-2026-01' });
 * ```
 */
export interface SignJwtOptions {
  /** HS256 (the default) with a secret; with a private key, the key's algorithm (needed for RSA: RS256 or PS256). */
  /** `Ed25519` (RFC 9864) signs as `EdDSA`, the name the header then carries. */
  algorithm?: JwtAlgorithm | FullySpecifiedEdDSA;
  /** The kid to put in the header: the id of the public key the verifier selects. Default: a private JWK's `kid`. */
  keyId?: string;
  now?: () => number;
}

/**
 * A compact JWS with header `{"alg":"HS256","typ":"JWT"}` (plus `kid` when given), adding `iat`
 * (seconds) unless the claims carry one, like jsonwebtoken's `sign`. With a private key instead of
 * a secret, signed with the key's algorithm. A TypeError for claims, an algorithm or a key the
 * verifier would refuse (a numeric externalId, an iat that is not a number, an RSA key of 1024 bits, ...).
 *
 * @example
 * ```ts
 * const token = signJwt({ externalId: '42', email: 'ada@example.com' }, process.env.CHAT_IDENTITY_SECRET!);
 * const signed = signJwt({ externalId: '42' }, privateKeyPem, { keyId: 'site-2026-01' }); // ES256 or EdDSA: the key says
 * ```
 */
export function signJwt(claims: Record<string, unknown>, key: string | JwtPrivateKey, options: SignJwtOptions = {}): string {
  const alg = algorithmNamed(options.algorithm) as JwtAlgorithm | undefined;
  if (alg !== undefined && !JWT_ALGORITHMS.includes(alg))
    throw new TypeError(`chat-identity: signJwt signs with ${JWT_ALGORITHMS.join(', ')}, not ${JSON.stringify(alg)}.`);
  const privateKey = privateKeyOf(key);
  const payload = { ...claims, iat: claims.iat ?? Math.floor((options.now ?? Date.now)() / 1000) };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const kid = options.keyId ?? privateKey?.kid;
  if (privateKey === undefined) {
    const hmacAlg = alg ?? 'HS256';
    if (!HMAC_ALGORITHMS.includes(hmacAlg as HmacJwtAlgorithm))
      throw new TypeError(`chat-identity: signJwt signs ${hmacAlg} with a private key (PEM, a JWK with d, or a KeyObject), not a secret.`);
    const secret = signingKey('signJwt', key as string);
    const hash = HASHES[hmacAlg as HmacJwtAlgorithm];
    const unsigned = `${encode(headerFor(hmacAlg, kid))}.${encode(payload)}`;
    const proof = parsedForSigning('signJwt', () =>
      parseJwt({ token: `${unsigned}.${placeholderSignature(hash, 'base64url')}` }, { algorithms: [hmacAlg] }),
    );
    return `${proof.signingInput}.${signatureFor(hash, secret, proof.signingInput, 'base64url')}`;
  }
  const publicAlg = algorithmOf(privateKey.material, alg ?? privateKey.alg);
  const unsigned = `${encode(headerFor(publicAlg, kid))}.${encode(payload)}`;
  const size = publicAlg === 'ES256' || publicAlg === 'EdDSA' ? 64 : (privateKey.material.asymmetricKeyDetails?.modulusLength ?? 2048) / 8;
  const proof = parsedForSigning('signJwt', () =>
    parseJwt({ token: `${unsigned}.${Buffer.alloc(size).toString('base64url')}` }, { algorithms: [publicAlg] }),
  );
  return `${proof.signingInput}.${publicKeySignature(publicAlg, privateKey.material, proof.signingInput).toString('base64url')}`;
}

function headerFor(alg: JwtAlgorithm, kid: string | undefined): Record<string, string> {
  return kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid };
}

/** The private key given, with a JWK's own kid and alg; undefined for a secret string. */
function privateKeyOf(key: unknown): { material: KeyObject; kid?: string; alg?: unknown } | undefined {
  if (key instanceof KeyObject) {
    if (key.type !== 'private') throw new TypeError(`chat-identity: signJwt needs the private key, not a ${key.type} KeyObject.`);
    return { material: key };
  }
  if (typeof key === 'string') {
    if (!/-----BEGIN [A-Z0-9 ]*(KEY|CERTIFICATE)-----/.test(key)) return undefined;
    if (!/PRIVATE KEY-----/.test(key)) throw new TypeError('chat-identity: signJwt needs the private key; a public key only verifies.');
    try {
      return { material: createPrivateKey(key) };
    } catch {
      throw new TypeError('chat-identity: signJwt cannot read this PEM private key.');
    }
  }
  if (key !== null && typeof key === 'object' && !Array.isArray(key)) {
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.d !== 'string') throw new TypeError('chat-identity: signJwt needs a private JWK (with d); a public JWK only verifies.');
    let material: KeyObject;
    try {
      material = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      throw new TypeError('chat-identity: signJwt cannot read this private JWK.');
    }
    return { material, ...(typeof jwk.kid === 'string' && { kid: jwk.kid }), ...(jwk.alg !== undefined && { alg: jwk.alg }) };
  }
  throw new TypeError('chat-identity: signJwt needs a secret string, or a private key (PEM, a JWK with d, or a KeyObject).');
}

/** The algorithm a private key signs with: the one its public key would verify, as the verifier reads it. */
function algorithmOf(privateKey: KeyObject, alg: unknown): PublicKeyAlgorithm {
  const read = readPublicKey(createPublicKey(privateKey), { alg, configured: 'required' });
  if ('problem' in read) {
    const fix = /without alg/.test(read.problem) ? ': pass { algorithm: "RS256" } or "PS256"' : '';
    throw new TypeError(`chat-identity: signJwt cannot sign with this key (${read.problem})${fix}.`);
  }
  return read.alg;
}
