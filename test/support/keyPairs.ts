/**
 * Key pairs for the asymmetric `jwt` suites: a site's private key, its public key as PEM and as a
 * JWK, and a signer that builds any token by hand (any header, any claims, the algorithm's own
 * signature format), independent of `signJwt`, so that tests never lean on the code they test.
 * Made once per process (RSA key generation takes tens of milliseconds).
 */
import { constants, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { PublicJwk, PublicKeyAlgorithm } from '../../src/index.js';
import { NOW_SECONDS } from '../helpers.js';
import { jwtPart } from './jwt.js';

export interface TestKeyPair {
  readonly alg: PublicKeyAlgorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK as a site publishes it: kid, alg and use included. */
  readonly jwk: PublicJwk;
  /** The public key as SPKI PEM. */
  readonly pem: string;
  /** The private key as PKCS#8 PEM (what `chat-identity keygen` writes). */
  readonly privatePem: string;
}

const made = new Map<string, TestKeyPair>();

/** A key pair for `alg` whose public JWK carries `kid` (made once per alg, kid and size). */
export function keyPair(alg: PublicKeyAlgorithm, kid: string, bits = 2048): TestKeyPair {
  const id = `${alg} ${kid} ${bits}`;
  let pair = made.get(id);
  if (!pair) {
    const { privateKey, publicKey } =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: bits });
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as PublicJwk), kid, alg, use: 'sig' };
    pair = {
      alg,
      kid,
      privateKey,
      publicKey,
      jwk,
      pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    made.set(id, pair);
  }
  return pair;
}

/** A JWK without the members named: `withoutMembers(pair.jwk, 'alg')` is the key as sites publish it without alg. */
export function withoutMembers(jwk: PublicJwk, ...members: string[]): PublicJwk {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !members.includes(name))) as PublicJwk;
}

/** A JWKS document of these keys' public JWKs. */
export const jwksOf = (...pairs: (TestKeyPair | PublicJwk)[]) => ({ keys: pairs.map((p) => ('jwk' in p ? (p as TestKeyPair).jwk : p)) });

/** The signature of `data` by `privateKey` under `alg`, in the JWS format of that alg (ECDSA as r‖s). */
export function signatureOf(
  alg: PublicKeyAlgorithm,
  privateKey: KeyObject,
  data: string,
  encoding: 'ieee-p1363' | 'der' = 'ieee-p1363',
): Buffer {
  const bytes = Buffer.from(data, 'utf8');
  switch (alg) {
    case 'ES256':
      return sign('sha256', bytes, { key: privateKey, dsaEncoding: encoding });
    case 'EdDSA':
      return sign(null, bytes, privateKey);
    case 'RS256':
      return sign('sha256', bytes, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
    case 'PS256':
      return sign('sha256', bytes, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  }
}

export interface TokenOptions {
  /** The header; default `{ alg: pair.alg, typ: 'JWT', kid: pair.kid }`. */
  header?: Record<string, unknown>;
  /** Sign as this algorithm, whatever the header says. Default: the pair's. */
  signAs?: PublicKeyAlgorithm;
  /** ECDSA signature encoding. Default r‖s, as JWS wants. */
  encoding?: 'ieee-p1363' | 'der';
}

/** A token made by hand with the pair's private key: iat is NOW unless the claims carry one. */
export function tokenBy(pair: TestKeyPair, claims: Record<string, unknown> | string, options: TokenOptions = {}): string {
  const header = options.header ?? { alg: pair.alg, typ: 'JWT', kid: pair.kid };
  const body = typeof claims === 'string' ? claims : { iat: NOW_SECONDS, ...claims };
  const input = `${jwtPart(header)}.${jwtPart(body)}`;
  return `${input}.${signatureOf(options.signAs ?? pair.alg, pair.privateKey, input, options.encoding).toString('base64url')}`;
}

/** A private key read back from its PEM (what a site loads from a file). */
export const privateKeyFrom = (pem: string) => createPrivateKey(pem);
