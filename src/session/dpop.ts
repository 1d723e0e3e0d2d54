/**
 * Binding a session to a key the browser holds, after RFC 9449 (DPoP). The widget keeps an ECDSA
 * P-256 key pair made non-exportable with WebCrypto; the session is bound to its public key's JWK
 * thumbprint (RFC 7638); every request carries a `DPoP` header, a short JWT signed with that key
 * over the request's method (`htm`), URL without query (`htu`), time (`iat`), a unique `jti` and,
 * when a session credential is presented, its SHA-256 (`ath`). So a credential lifted from a log,
 * storage or a proxy is useless without the key, and a lifted DPoP proof is good for one request
 * to one URL, once (its `jti` is remembered), until 60 seconds after its `iat`. That `iat` may lie
 * up to `clockTolerance` ahead (a browser clock running fast; RFC 9449 §11.1 allows it), so a proof
 * is acceptable for at most 60 seconds plus `clockTolerance` (2 minutes by default) after it is made.
 *
 * What it does not stop: script running in the page (XSS) can ask the browser to sign with the
 * key, as the widget does; it cannot take the key away.
 *
 * One algorithm, ES256, verified with node:crypto (signatures as r || s, IEEE P1363, as WebCrypto
 * makes them); no nonce (RFC 9449 §8): freshness is the `iat` window and the `jti` cache.
 *
 * @example
 * ```ts
 * const { thumbprint, replay } = checkDpop(request.headers?.dpop, request, { now: Date.now(), clockTolerance: 60, credential });
 * ```
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { isPlainObject } from '../contact.js';
import { reject } from '../rejection.js';
import { decodeBase64url, signaturesEqual } from '../signature.js';
import type { VerifyRequest } from '../types.js';

/** Seconds a DPoP proof stays acceptable after its `iat` (and its `jti` is remembered). */
export const DPOP_MAX_AGE = 60;
/** Longer DPoP proofs are refused unread (a P-256 one is about 500 characters). */
const MAX_PROOF_LENGTH = 2048;
const MAX_JTI_LENGTH = 128;
/** Public keys are kept by thumbprint while this many are in use (a key is made once per widget, not per request). */
const KEY_CACHE_SIZE = 1000;
const publicKeys = new Map<string, KeyObject>();

export interface CheckedDpop {
  /** The JWK thumbprint of the key that signed it (RFC 7638, base64url SHA-256). */
  readonly thumbprint: string;
  /** What the replay cache records: the key and the `jti`. */
  readonly replay: string;
  /** Milliseconds to remember it from now: until it is too old to be accepted, that moment included. */
  readonly ttl: number;
}

interface DpopOptions {
  /** Milliseconds since the epoch. */
  now: number;
  /** Seconds `iat` may lie ahead. */
  clockTolerance: number;
  /** The session credential presented with it, which `ath` must hash; absent when a proof of identity is presented instead. */
  credential?: string | undefined;
  /** The thumbprint of the key the session is bound to: a proof of another key is refused before any crypto. */
  boundTo?: string | undefined;
}

/**
 * Checks the `DPoP` header of `request`: shape, time, method, URL, `ath`, then the signature.
 * Throws a Rejection: `INVALID_SIGNATURE` (absent, or not made by its key for this request),
 * `SIGNATURE_EXPIRED` (`iat` out of its window), `MALFORMED_IDENTITY` (not a DPoP proof).
 */
export function checkDpop(value: unknown, request: VerifyRequest, options: DpopOptions): CheckedDpop {
  if (value === undefined) reject('INVALID_SIGNATURE', 'This session is bound to a key: send a DPoP proof made with it (the DPoP header).');
  if (typeof value !== 'string') reject('MALFORMED_IDENTITY', 'Send one DPoP header.');
  if (value.length > MAX_PROOF_LENGTH) reject('MALFORMED_IDENTITY', `The DPoP proof is longer than ${MAX_PROOF_LENGTH} characters.`);
  const parts = value.split('.');
  if (parts.length !== 3) reject('MALFORMED_IDENTITY', 'A DPoP proof is a JWT: header.claims.signature.');
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = jsonPart(headerPart, 'header');
  const claims = jsonPart(claimsPart, 'claims');
  if (header.typ !== 'dpop+jwt') reject('MALFORMED_IDENTITY', 'The DPoP proof header must say typ "dpop+jwt".');
  if (header.alg !== 'ES256') reject('INVALID_SIGNATURE', 'DPoP proofs are accepted signed with ES256 only.');
  const { thumbprint, jwk } = readJwk(header.jwk);
  if (options.boundTo !== undefined && !sameKey(thumbprint, options.boundTo))
    reject('INVALID_SIGNATURE', "The DPoP proof is made with another key than the session's.");

  const { method, url } = request;
  if (typeof method !== 'string' || typeof url !== 'string') {
    reject('INVALID_SIGNATURE', 'The request carries no method and url to check the DPoP proof against (the adapters supply them).');
  }
  if (claims.htm !== method) reject('INVALID_SIGNATURE', `The DPoP proof was made for another method (htm), not ${method}.`);
  const target = typeof claims.htu === 'string' ? targetOf(claims.htu) : undefined;
  if (target === undefined || target !== targetOf(url)) reject('INVALID_SIGNATURE', 'The DPoP proof was made for another URL (htu).');
  const { iat, jti } = claims;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) reject('MALFORMED_IDENTITY', 'The DPoP proof needs iat, in seconds.');
  const age = options.now / 1000 - iat;
  /** The last moment (ms) the proof is acceptable: what it is judged by, and what its jti is kept until. */
  const last = (iat + DPOP_MAX_AGE) * 1000;
  if (options.now > last || -age > options.clockTolerance) {
    reject('SIGNATURE_EXPIRED', `The DPoP proof's iat is ${Math.round(age)} seconds old; make one per request, with the server's time.`);
  }
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    reject('MALFORMED_IDENTITY', 'The DPoP proof needs a jti.');
  if (options.credential !== undefined) {
    const given = typeof claims.ath === 'string' ? decodeBase64url(claims.ath) : undefined;
    const made = createHash('sha256').update(options.credential, 'utf8').digest();
    if (given === undefined || !signaturesEqual(made, given))
      reject('INVALID_SIGNATURE', 'The DPoP proof does not hash the session credential it came with (ath).');
  }

  const signature = decodeBase64url(signaturePart);
  // r || s, 32 bytes each: a size that is public.
  if (signature === undefined || signature.length !== 64) reject('INVALID_SIGNATURE', 'An ES256 signature is 64 bytes (r || s).');
  const key = publicKeyOf(thumbprint, jwk);
  const signed = verify('sha256', Buffer.from(`${headerPart}.${claimsPart}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!signed) reject('INVALID_SIGNATURE', 'The DPoP proof is not signed by the key it names.');
  // Kept past `last` (a store keeps it ttl milliseconds from its first use, the end excluded): it
  // is never acceptable again once forgotten. Every use of one proof so asks to keep it until the
  // same moment, which the memory store relies on when it forgets a record early (a floor on the
  // ttl would let a replay in its last moments outlive the record it replays).
  return { thumbprint, replay: `${thumbprint}.${jti}`, ttl: Math.floor(last - options.now) + 1 };
}

/** Whether two thumbprints are the same key's, compared in constant time. */
function sameKey(thumbprint: string, bound: string): boolean {
  return signaturesEqual(Buffer.from(thumbprint, 'utf8'), Buffer.from(bound, 'utf8'));
}

function jsonPart(part: string, name: string): Record<string, unknown> {
  const bytes = decodeBase64url(part);
  let value: unknown;
  try {
    value = bytes && JSON.parse(bytes.toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isPlainObject(value)) reject('MALFORMED_IDENTITY', `The DPoP proof ${name} is not base64url JSON of an object.`);
  return value;
}

interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** The header's public key, strictly: an EC P-256 point, no private part; and its RFC 7638 thumbprint. */
function readJwk(value: unknown): { thumbprint: string; jwk: PublicJwk } {
  if (!isPlainObject(value)) reject('MALFORMED_IDENTITY', 'The DPoP proof header must carry the public key (jwk).');
  if ('d' in value) reject('MALFORMED_IDENTITY', 'The DPoP proof header carries a private key.');
  const { kty, crv, x, y } = value;
  const coordinate = (c: unknown) => typeof c === 'string' && c.length === 43 && decodeBase64url(c)?.length === 32;
  if (kty !== 'EC' || crv !== 'P-256' || !coordinate(x) || !coordinate(y)) {
    reject('INVALID_SIGNATURE', 'The DPoP key must be an EC P-256 public key (kty "EC", crv "P-256", x, y).');
  }
  const jwk: PublicJwk = { kty, crv, x: x as string, y: y as string };
  // RFC 7638: the required members, in lexicographic order, no whitespace.
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return { thumbprint: createHash('sha256').update(canonical).digest('base64url'), jwk };
}

function publicKeyOf(thumbprint: string, jwk: PublicJwk): KeyObject {
  let key = publicKeys.get(thumbprint);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    } catch {
      reject('INVALID_SIGNATURE', 'The DPoP key is not a point on P-256.');
    }
    if (publicKeys.size >= KEY_CACHE_SIZE) publicKeys.clear();
    publicKeys.set(thumbprint, key);
  }
  return key;
}

/** A URL as RFC 9449 compares it: scheme, host and path, normalised; no query, no fragment. */
function targetOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}
