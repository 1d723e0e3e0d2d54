/**
 * What every wire format provides, and the steps they share: finding the key that made a
 * signature, and checking a signing time against the clock.
 */
import { MAX_IDENTIFIER_LENGTH } from '../contact.js';
import type { SigningKey } from '../keyRing.js';
import { reject } from '../rejection.js';
import { hmac, signaturesEqual, type HmacHash } from '../signature.js';
import type { Contact, Credentials, JwtAlgorithm, SchemeName, VerifiedIdentity, VerifyRequest } from '../types.js';

/** The options a scheme reads, resolved to their defaults. */
export interface SchemeSettings {
  /** Seconds; undefined means the scheme's own default. */
  maxAge: number | undefined;
  testMaxAge: number;
  clockTolerance: number;
  algorithms: readonly JwtAlgorithm[];
  issuer: readonly string[] | undefined;
  audience: readonly string[] | undefined;
}

export interface VerifyContext {
  keys: readonly SigningKey[];
  /** The tenant the keys belong to, reported on the result; undefined when no tenant applied. */
  tenant: string | undefined;
  /** Milliseconds since the epoch. */
  now: number;
  settings: SchemeSettings;
}

/** A proof whose shape has been checked; nothing in it is verified yet. */
export interface ParsedProof {
  /** The identity the proof claims (unverified): what failed-attempt limits count against. */
  claimedIdentity: string;
}

export interface Scheme<P extends ParsedProof = ParsedProof> {
  readonly name: SchemeName;
  /** Where the widget sends this proof by default. */
  credentials(request: VerifyRequest): Credentials | undefined;
  /**
   * How much of this scheme's proof the credentials carry: 0 none of its fields, 1 some,
   * 2 a signature and an identifier. With several schemes, the first scoring highest is used.
   */
  presence(credentials: Credentials): 0 | 1 | 2;
  /** Checks shape, types and limits; needs no key. Throws a Rejection. */
  parse(credentials: Credentials, settings: SchemeSettings): P;
  /**
   * The identity the credentials claim, read leniently (as `parse` would name it), for a proof
   * that `parse` refused: a failure it explains must still count against that identity's limit.
   */
  claimedIdentity(credentials: Credentials): string | undefined;
  /** Checks the signature, then the clock. Throws a Rejection. */
  verify(proof: P, context: VerifyContext): VerifiedIdentity;
}

/** A string that can name an identity: present, and within the identifier limit. */
export function identifierIn(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= MAX_IDENTIFIER_LENGTH ? value : undefined;
}

/** Presence from the two halves of a proof: 2 both, 1 either, 0 neither. */
export function presenceOf(signature: boolean, identifier: boolean): 0 | 1 | 2 {
  return signature && identifier ? 2 : signature || identifier ? 1 : 0;
}

/** The body as the widget's fields, when it is a JSON object. */
export function bodyFields(request: VerifyRequest): Credentials | undefined {
  const body = request.body;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Credentials) : undefined;
}

/** The result for a proof that passed, naming the key that signed it and the tenant it belongs to. */
export function verifiedIdentity(scheme: SchemeName, contact: Contact, key: SigningKey, context: VerifyContext, issuedAt?: Date): VerifiedIdentity {
  const result: VerifiedIdentity = { verified: true, scheme, contact, test: key.test };
  if (key.id !== undefined) result.keyId = key.id;
  if (context.tenant !== undefined) result.tenant = context.tenant;
  if (issuedAt !== undefined) result.issuedAt = issuedAt;
  return result;
}

export interface KeyMatch {
  key: SigningKey;
  /** Which of the signed strings matched (index into the candidates). */
  index: number;
}

/**
 * The first key, tried in ring order, whose HMAC over one of `candidates` equals `signature`.
 * The candidates are the spellings a site could have signed; all of them mean the same data.
 */
export function findSigningKey(
  keys: readonly SigningKey[],
  candidates: Iterable<string>,
  signature: Buffer,
  hash: HmacHash = 'sha256',
): KeyMatch | undefined {
  let index = 0;
  for (const data of candidates) {
    for (const key of keys) if (signaturesEqual(hmac(hash, key.material, data), signature)) return { key, index };
    index++;
  }
  return undefined;
}

const DIGEST_BYTES: Record<HmacHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** A signature of the wrong size can never match: say so plainly. */
export function requireDigestSize(signature: Buffer, hash: HmacHash, field: string, encoding: 'hex' | 'base64url'): void {
  const bytes = DIGEST_BYTES[hash];
  if (signature.length !== bytes) {
    const expected = encoding === 'hex' ? `${bytes * 2} hex characters` : `${bytes} bytes`;
    reject('INVALID_SIGNATURE', `${field} has ${encoding === 'hex' ? signature.length * 2 + ' hex characters' : signature.length + ' bytes'}; an HMAC-${hash.toUpperCase()} signature has ${expected}.`);
  }
}

/** Milliseconds look like seconds 1000 times too large: anything past the year 5138. */
const LOOKS_LIKE_MILLISECONDS = 1e11;

/**
 * Checks a signing time (seconds since the epoch) against the window: `maxAge` back (the test
 * window when a test key signed), `clockTolerance` forward. The time is only trusted after the
 * signature matched, so this runs second.
 */
export function checkSigningTime(
  seconds: number,
  field: string,
  key: SigningKey,
  context: VerifyContext,
  defaultMaxAge: number,
): void {
  const { settings } = context;
  const maxAge = key.test ? settings.testMaxAge : (settings.maxAge ?? defaultMaxAge);
  const age = context.now / 1000 - seconds;
  if (age > maxAge) {
    reject(
      'SIGNATURE_EXPIRED',
      `${field} is ${Math.floor(age - maxAge)} seconds past the ${maxAge}-second window${key.test ? ' for test keys' : ''}; sign a fresh proof on each page load instead of caching it.`,
      key.test,
    );
  }
  if (-age > settings.clockTolerance) {
    reject(
      'SIGNATURE_EXPIRED',
      seconds > LOOKS_LIKE_MILLISECONDS
        ? `${field} looks like milliseconds; send seconds since the epoch (Math.floor(Date.now() / 1000)).`
        : `${field} is ${Math.ceil(-age)} seconds in the future; the signing server's clock is ahead (check NTP).`,
      key.test,
    );
  }
}
