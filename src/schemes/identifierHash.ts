/**
 * The step `user-hash`, `contact-hash` and `visitor-hash` share: an HMAC-SHA256 hex digest over
 * one identifier string, exactly as the site's server computed it (no trimming, no case folding).
 */
import { createHmac } from 'node:crypto';
import type { SigningKey } from '../keyRing.js';
import { reject } from '../rejection.js';
import { parseHexSignature } from '../signature.js';
import { findSigningKey, requireDigestSize, type ParsedProof, type VerifyContext } from './scheme.js';

export interface IdentifierProof extends ParsedProof {
  /** The exact string the site signed. */
  signedValue: string;
  signature: Buffer;
}

/** Reads the hex digest field of an identifier proof. */
export function readIdentifierSignature(value: unknown, field: string): Buffer {
  const signature = parseHexSignature(value, field);
  requireDigestSize(signature, 'sha256', field, 'hex');
  return signature;
}

/** The key that signed `proof.signedValue`, or `INVALID_SIGNATURE`. */
export function verifyIdentifierHash(proof: IdentifierProof, context: VerifyContext, field: string): SigningKey {
  const match = findSigningKey(context.keys, [proof.signedValue], proof.signature);
  if (!match) reject('INVALID_SIGNATURE', `No configured key produces ${field} for this identifier.`);
  return match.key;
}

/** The site's side: HMAC-SHA256 hex of the identifier, as every seed's snippet computes it. */
export function signIdentifier(identifier: string, secret: string): string {
  return createHmac('sha256', secret).update(identifier, 'utf8').digest('hex');
}
