/**
 * HMAC and constant-time comparison: the only place a signature is ever compared.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { reject } from './rejection.js';

export type HmacHash = 'sha256' | 'sha384' | 'sha512';

/** Longer than any signature a scheme accepts; beyond it the value is refused unread. */
export const MAX_SIGNATURE_LENGTH = 1024;

export function hmac(hash: HmacHash, key: KeyObject, data: string): Buffer {
  return createHmac(hash, key).update(data, 'utf8').digest();
}

/**
 * Compares in time that depends only on the lengths, which are public (the digest size).
 * Every signature check in `src/` goes through here.
 */
export function signaturesEqual(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
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

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes unpadded base64url strictly: only the alphabet, and no stray bits in the last
 * character, so one signature has exactly one spelling (Node's decoder would ignore them).
 * Returns undefined when the text is not canonical base64url.
 */
export function decodeBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const spareBits = (text.length * 6) % 8;
  if (spareBits !== 0) {
    const last = BASE64URL_ALPHABET.indexOf(text[text.length - 1]!);
    if ((last & ((1 << spareBits) - 1)) !== 0) return undefined;
  }
  return Buffer.from(text, 'base64url');
}
