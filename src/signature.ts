/**
 * Signatures: every MAC over a proof is computed here and every signature compared here, in
 * constant time; the schemes decode what they receive with the readers below.
 *
 * `hmac` is the verifier's MAC, and only the verifier's and the diagnosis's: the security suites
 * count its calls to prove that a refused request bought no work. A site's signature, made by the
 * signing helpers, is `signatureFor`.
 */
import { constants, createHash, createHmac, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { reject } from './rejection.js';
import type { PublicKeyAlgorithm } from './types.js';

export type HmacHash = 'sha256' | 'sha384' | 'sha512';

/**
 * How a MAC was computed: an HMAC with some hash, or (a site's mistake) a plain SHA-256 of the
 * data alone, or of the secret and the data run together.
 */
export type MacRecipe = { hmac: HmacHash | 'sha1' } | { plain: 'data' | 'keyFirst' | 'keyLast' };

/** The size of each HMAC digest, in bytes. */
export const DIGEST_BYTES: Readonly<Record<HmacHash, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** Longer than any signature a scheme accepts; beyond it the value is refused unread. */
export const MAX_SIGNATURE_LENGTH = 1024;

/** The HMAC of `data`: a string's UTF-8, or the bytes as given. */
export function hmac(hash: HmacHash | 'sha1', key: KeyObject, data: string | Buffer): Buffer {
  return createHmac(hash, key).update(data).digest();
}

/** A plain SHA-256 of the data alone, or of the secret and the data run together: what some sites compute instead of an HMAC. */
export function plainSha256(order: 'data' | 'keyFirst' | 'keyLast', key: KeyObject, data: string): Buffer {
  const secret = key.export();
  const text = Buffer.from(data, 'utf8');
  const bytes = order === 'data' ? text : order === 'keyFirst' ? Buffer.concat([secret, text]) : Buffer.concat([text, secret]);
  return createHash('sha256').update(bytes).digest();
}

/** The signature a site's server sends: the HMAC of `data`, encoded as the scheme's wire format carries it. */
export function signatureFor(hash: HmacHash, key: KeyObject, data: string, encoding: 'hex' | 'base64url'): string {
  return createHmac(hash, key).update(data, 'utf8').digest(encoding);
}

/**
 * Compares in time that depends only on the lengths, which are public (the digest size).
 * Every signature check in `src/` goes through here.
 */
export function signaturesEqual(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Whether `signature` is the `alg` signature of `data` by the holder of the private key that goes
 * with the public `key` (RFC 7518 §3.3–3.5): ECDSA as the raw r‖s JWS sends (not DER), RSA with
 * PKCS#1 v1.5 (RS256) or PSS with a salt the size of the hash (PS256), Ed25519 as it is. Nothing
 * here is secret, so nothing needs comparing in constant time: the public-key check is the whole
 * answer. Like `hmac`, the verifier's and the diagnosis's only way to check one.
 */
export function publicKeyVerifies(alg: PublicKeyAlgorithm, key: KeyObject, data: string, signature: Buffer): boolean {
  const made = verifyOptions[alg];
  let options = made.get(key);
  if (options === undefined) {
    options = VERIFY_OPTIONS[alg](key);
    made.set(key, options);
  }
  return verify(options.hash, Buffer.from(data, 'utf8'), options.key, signature);
}

type VerifyOptions = {
  hash: 'sha256' | null;
  key: KeyObject | { key: KeyObject; dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number };
};

const VERIFY_OPTIONS: Readonly<Record<PublicKeyAlgorithm, (key: KeyObject) => VerifyOptions>> = {
  ES256: (key) => ({ hash: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' } }),
  EdDSA: (key) => ({ hash: null, key }),
  RS256: (key) => ({ hash: 'sha256', key: { key, padding: constants.RSA_PKCS1_PADDING } }),
  PS256: (key) => ({
    hash: 'sha256',
    key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
  }),
};

/**
 * Whether `signature` is an ES256 signature of `data` in DER, not the r‖s JWS carries: a site's
 * mistake (node:crypto's `sign` makes DER unless told `dsaEncoding: 'ieee-p1363'`), which only the
 * diagnosis asks about. The verifier never accepts one.
 */
export function derSignatureVerifies(key: KeyObject, data: string, signature: Buffer): boolean {
  return verify('sha256', Buffer.from(data, 'utf8'), { key, dsaEncoding: 'der' }, signature);
}

/** A site's signature with its private key: what `signJwt` sends for a public-key algorithm. */
export function publicKeySignature(alg: PublicKeyAlgorithm, privateKey: KeyObject, data: string): Buffer {
  const options = VERIFY_OPTIONS[alg](privateKey);
  return sign(options.hash, Buffer.from(data, 'utf8'), options.key);
}

/** The options of each public key, made once per algorithm (a configured key verifies one, its own). */
const verifyOptions: Readonly<Record<PublicKeyAlgorithm, WeakMap<KeyObject, VerifyOptions>>> = {
  ES256: new WeakMap(),
  EdDSA: new WeakMap(),
  RS256: new WeakMap(),
  PS256: new WeakMap(),
};

/** A signature of the wrong size can never match: say so plainly. */
export function requireDigestSize(signature: Buffer, hash: HmacHash, field: string, encoding: 'hex' | 'base64url'): void {
  const bytes = DIGEST_BYTES[hash];
  if (signature.length !== bytes) {
    const given = encoding === 'hex' ? `${signature.length * 2} hex characters` : `${signature.length} bytes`;
    const expected = encoding === 'hex' ? `${bytes * 2} hex characters` : `${bytes} bytes`;
    reject('INVALID_SIGNATURE', `${field} has ${given}; an HMAC-${hash.toUpperCase()} signature has ${expected}.`);
  }
}

/**
 * Zero bytes the size of a `hash` digest, encoded: what stands in for the signature while a proof
 * that is about to be signed is parsed (the parsers check a signature's size, never its bytes).
 */
export function placeholderSignature(hash: HmacHash, encoding: 'hex' | 'base64url'): string {
  return Buffer.alloc(DIGEST_BYTES[hash]).toString(encoding);
}

const BASE64_DIGEST = /^[A-Za-z0-9+/_-]{43}=?$/;

/**
 * Reads a hex signature (either case). A value that is not hex is `MALFORMED_IDENTITY`, with a
 * hint when it looks like the base64 encoding of a digest (`.digest('base64')` by mistake).
 */
export function parseHexSignature(value: unknown, field: string): Buffer {
  if (typeof value !== 'string') reject('MALFORMED_IDENTITY', `${field} must be a string of hex characters.`);
  if (value.length > MAX_SIGNATURE_LENGTH) reject('MALFORMED_IDENTITY', `${field} is far too long for a signature.`);
  // Node's hex decoder stops at the first pair that is not hex: a full-length result is all hex.
  const bytes = Buffer.from(value, 'hex');
  if (bytes.length * 2 !== value.length) {
    reject(
      'MALFORMED_IDENTITY',
      BASE64_DIGEST.test(value)
        ? `${field} looks like base64; sign with HMAC-SHA256 and send the digest as hex (.digest('hex') / hexdigest()).`
        : `${field} must be the HMAC-SHA256 digest as hex characters.`,
    );
  }
  return bytes;
}

/** A character outside the base64url alphabet (searching for one is faster than matching the whole text: 126 against 200 ns on a JWT's claims). */
const NOT_BASE64URL = /[^A-Za-z0-9_-]/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes unpadded base64url strictly: only the alphabet, and no stray bits in the last
 * character, so one signature has exactly one spelling (Node's decoder would ignore them).
 * Returns undefined when the text is not canonical base64url.
 */
export function decodeBase64url(text: string): Buffer | undefined {
  if (NOT_BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const spareBits = (text.length * 6) % 8;
  if (spareBits !== 0) {
    const last = BASE64URL_ALPHABET.indexOf(text[text.length - 1]!);
    if ((last & ((1 << spareBits) - 1)) !== 0) return undefined;
  }
  return Buffer.from(text, 'base64url');
}
