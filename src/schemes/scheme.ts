/**
 * What every wire format provides: where its proof travels, how it is parsed and verified, and
 * the facts the diagnosis reads of it (declared once, by the scheme). Beside it, the small steps
 * the schemes share, finding the key that made a signature among them.
 */
import type { FlatValue } from '../canonicalJson.js';
import { MAX_IDENTIFIER_LENGTH } from '../contact.js';
import type { SigningKey } from '../keyRing.js';
import type { Rejection } from '../rejection.js';
import { hmac, signaturesEqual, type HmacHash } from '../signature.js';
import type { Contact, Credentials, JwtAlgorithm, SchemeName, VerifiedIdentity, VerifyRequest } from '../types.js';

/** The options a scheme reads, resolved to their defaults. */
export interface SchemeSettings {
  /** Seconds; undefined means the scheme's own default (`facts.defaultMaxAge`). */
  maxAge: number | undefined;
  testMaxAge: number;
  clockTolerance: number;
  /** undefined: HS256 for secrets, each public key's own algorithm. */
  algorithms: readonly JwtAlgorithm[] | undefined;
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
  /** The key the proof names (a JWT's kid), unverified: a fetched key set that lacks it is fetched again. */
  keyId?: string | undefined;
}

export interface Scheme<P extends ParsedProof = ParsedProof> {
  readonly name: SchemeName;
  /** What the diagnosis knows of this wire format. Required: a new scheme says it, or does not compile. */
  readonly facts: SchemeFacts;
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
  /**
   * Checks the signature, then the clock. A signature no key made is answered with its Rejection,
   * returned, not thrown: a flood of forgeries should not pay for an exception each (a throw walks
   * the stack; it was a tenth of a refused user-hash). Other refusals throw a Rejection.
   */
  verify(proof: P, context: VerifyContext): VerifiedIdentity | Rejection;
  /**
   * The settings that decide whether a proof of this scheme verifies, defaults applied: what a
   * session binds (src/session/policy.ts). Required, so a new scheme says which settings it reads.
   */
  policy(settings: SchemeSettings): ProofPolicy;
}

/** The settings a scheme's proofs are verified under, by name; a list is a set (its order and repeats change nothing). */
export type ProofPolicy = Readonly<Record<string, FlatValue | readonly string[] | undefined>>;

/** A scheme's facts: the diagnosis reads these and nothing else of a scheme, so no scheme needs a case of its own there. */
export interface SchemeFacts {
  /** Seconds a live key's signature stays valid when `maxAge` is not set; undefined for a proof that carries no signed time. */
  readonly defaultMaxAge: number | undefined;
  /** Where the proof's parts travel: what the diagnosis reads, leniently, to find the mistake in a failed proof. */
  readonly proof: ProofShape;
  /** Each field a site must name right, with the names sites have sent for it instead (`misnamed-field`). */
  readonly nearMisses: Readonly<Record<string, readonly string[]>>;
  /** The fields the scheme reads, as the fix of `misnamed-field` lists them: "user_id and user_hash". */
  readonly fieldNames: string;
  /** What the site signs, as the fix of `wrong-field-hashed` says it: "user_id", "the whole customer JSON". */
  readonly signedData: string;
}

/**
 * Identifier fields, highest priority first: the verifier takes the first level present. Each
 * level lists the spellings the verifier accepts for it (`ext_user_id` or `external_user_id`).
 */
export type IdentifierLevels = readonly (readonly string[])[];

/** How a proof is built; each kind is read its own way (src/diagnosis/lenientProof.ts). */
export type ProofShape = PayloadShape | IdentifierShape | TokenShape;

/** A flat JSON object signed as canonical JSON, with a hex signature beside it (`signed-payload`). */
export interface PayloadShape {
  readonly kind: 'payload';
  /** The wire field holding the object. */
  readonly object: string;
  /** The wire field holding the hex signature. */
  readonly signatureField: string;
  /** The object's field holding the signed time, in seconds. */
  readonly time: string;
  /** The object's identifier fields. */
  readonly identifiers: IdentifierLevels;
  /** The object's fields that fill the contact (or the clock); every other one is an attribute. */
  readonly known: ReadonlySet<string>;
  /** No spelling of the object's JSON may be longer. */
  readonly maxLength: number;
  /** Why a value cannot be the object (shape, field count, size), checked before it is serialised. */
  readonly shapeProblem: (value: unknown) => string | undefined;
}

/** One identifier string, signed exactly as sent, with a hex signature beside it (`user-hash`, `contact-hash`, `visitor-hash`). */
export interface IdentifierShape {
  readonly kind: 'identifier';
  /** The wire field holding the hex signature. */
  readonly signatureField: string;
  /** The wire fields the verifier may hash. */
  readonly identifiers: IdentifierLevels;
  /** Identifiers that travel beside it unsigned (`user_metadata.email`), which a site may have hashed instead. */
  readonly carried: readonly string[];
}

/** A compact JWS: header, claims and signature, base64url (`jwt`). */
export interface TokenShape {
  readonly kind: 'token';
  /** The credentials field holding the token. */
  readonly field: string;
  /** The claim holding the signed time, in seconds. */
  readonly time: string;
  /** The identifier claims. */
  readonly identifiers: IdentifierLevels;
  /** Longer tokens are refused unread. */
  readonly maxLength: number;
  /** The HMAC hash each HMAC `alg` the scheme knows names. */
  readonly hashes: Readonly<Record<string, HmacHash>>;
  /** The algorithms a token may name, given the keys it is checked against and the settings. */
  readonly accepted: (keys: readonly SigningKey[], settings: SchemeSettings) => readonly string[];
}

/** A string that can name an identity: present, and within the identifier limit. */
export function identifierIn(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= MAX_IDENTIFIER_LENGTH ? value : undefined;
}

/** The identity the highest-priority identifier field of `source` names, if any does. */
export function firstIdentifier(source: Record<string, unknown>, levels: IdentifierLevels): string | undefined {
  for (const field of levels.flat()) {
    const value = identifierIn(source[field]);
    if (value !== undefined) return value;
  }
  return undefined;
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

/**
 * The first key, tried in ring order, whose HMAC over `data` (or over one of several spellings a
 * site could have signed, all meaning the same data) equals `signature`. (It calls `hmac` from
 * src/signature.ts, where the security suites count the verifier's MACs.)
 */
export function findSigningKey(
  keys: readonly SigningKey[],
  data: string | Iterable<string | Buffer>,
  signature: Buffer,
  hash: HmacHash = 'sha256',
): SigningKey | undefined {
  // One string, the usual case, without a list made for it.
  if (typeof data === 'string') return keyThatSigned(keys, data, signature, hash);
  for (const spelling of data) {
    const key = keyThatSigned(keys, spelling, signature, hash);
    if (key) return key;
  }
  return undefined;
}

function keyThatSigned(keys: readonly SigningKey[], data: string | Buffer, signature: Buffer, hash: HmacHash): SigningKey | undefined {
  for (const key of keys) if (signaturesEqual(hmac(hash, key.material, data), signature)) return key;
  return undefined;
}

/** The result for a proof that passed, naming the key that signed it and the tenant it belongs to. */
export function verifiedIdentity(
  scheme: SchemeName,
  contact: Contact,
  key: SigningKey,
  context: VerifyContext,
  issuedAt?: Date,
): VerifiedIdentity {
  // `via` in the literal, not added after: every result is born with its final hidden class.
  const result: VerifiedIdentity = { verified: true, scheme, contact, test: key.test, via: 'proof' };
  if (key.id !== undefined) result.keyId = key.id;
  if (context.tenant !== undefined) result.tenant = context.tenant;
  if (issuedAt !== undefined) result.issuedAt = issuedAt;
  return result;
}
