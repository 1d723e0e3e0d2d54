/**
 * What every signing helper (`sign…`, for site servers) shares: it refuses, with a TypeError,
 * exactly what the verifier would refuse, in the verifier's own words. The secret is checked as the
 * key ring checks a configured key; the fields the widget will send are parsed by the scheme's own
 * parser, with a placeholder where the signature goes; then what that parser says is signed gets
 * the MAC.
 *
 * Only the signing helpers import this module: it reaches the key ring, whose module reaches the
 * registry of schemes, so a scheme's own module importing it would make a cycle.
 */
import type { KeyObject } from 'node:crypto';
import { toSigningKey } from '../keyRing.js';
import { Rejection } from '../rejection.js';
import { placeholderSignature, signatureFor } from '../signature.js';
import type { IdentifierProof } from './identifierHash.js';

/** Stands in for a hex HMAC-SHA256 while the fields about to be signed are parsed. */
export const PLACEHOLDER_HEX = placeholderSignature('sha256', 'hex');

/** The secret as a key, checked as a configured key is: an empty one, or one with surrounding whitespace, is a TypeError. */
export function signingKey(helper: string, secret: string): KeyObject {
  return toSigningKey(secret, `the secret given to ${helper}`).material;
}

/** What the scheme's `parse` makes of the fields about to be signed; a proof the verifier would refuse is a TypeError. */
export function parsedForSigning<P>(helper: string, parse: () => P): P {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof Rejection)) throw error;
    const why = error.hint === undefined ? '.' : `: ${error.hint}`;
    throw new TypeError(`chat-identity: ${helper} would sign a proof the verifier refuses (${error.code})${why}`);
  }
}

/** The hex HMAC-SHA256 of the identifier the verifier will hash: the one the scheme's parser picks. */
export function signIdentifier(helper: string, secret: string, parse: () => IdentifierProof): string {
  const key = signingKey(helper, secret);
  return signatureFor('sha256', key, parsedForSigning(helper, parse).signedValue, 'hex');
}
