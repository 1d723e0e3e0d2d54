/**
 * The session credential: `v1.<claims>.<mac>`, both parts base64url (unpadded). The claims are a
 * small JSON object; the MAC is HMAC-SHA256 under a session key over a fixed prefix and `v1.<claims>`.
 *
 * Why this and not a JWT: one algorithm, fixed by the version, so there is no `alg` to confuse and
 * no header to parse; it cannot be mistaken for a site's HS256 token (three parts, but `v1` is no
 * base64url JSON header), and the prefix in the MAC input separates it from everything a site's key
 * signs even if a secret were shared (it is refused at construction anyway). About 280 to 450
 * characters for a typical contact: small enough for a header or a cookie.
 *
 * @example
 * ```ts
 * const { credential } = sealCredential(claims, sessionKey); // 'v1.eyJxIjoi….Xk2…'
 * const opened = openCredential(credential); // claims read, not yet verified
 * const valid = macMatches(opened, sessionKey);
 * ```
 */
import { isPlainObject } from '../contact.js';
import { reject } from '../rejection.js';
import { SCHEME_NAMES } from '../schemes/index.js';
import { decodeBase64url, hmac, signaturesEqual } from '../signature.js';
import type { Contact, SchemeName } from '../types.js';
import type { SessionKey } from './keys.js';

export const VERSION = 'v1';
/** Longer credentials are refused unread (a cookie holds 4096 bytes with its name and attributes). */
export const MAX_CREDENTIAL_LENGTH = 3072;
/** In the MAC input before the credential: no site scheme signs a string that starts with it. */
const DOMAIN = 'chat-identity session credential\0';
const IDENTITY_KEYS: readonly Contact['identityKey'][] = ['externalId', 'email', 'phone', 'anonymousId'];
const MAX_FIELDS = 60;
const CONTACT_FIELDS: ReadonlySet<string> = new Set(['externalId', 'email', 'name', 'phone', 'anonymousId']);

/** What a credential says; short names keep it small. Times are seconds since the epoch. */
export interface SessionClaims {
  /** The session key that signed it (its id). */
  q: string;
  /** The scheme of the proof. */
  s: SchemeName;
  /** The tenant the proof was verified for; absent when none applied. */
  t?: string;
  /** The contact's identity key. */
  k: Contact['identityKey'];
  /** The verified fields, in `verifiedFields` order: `externalId`, `email`, ..., `attributes.<name>`. */
  c: Record<string, unknown>;
  /** The site key that verified the proof: its tag (src/session/keys.ts). */
  f: string;
  /**
   * The proof policy of the verifier that issued it: a digest of the options that decide whether a
   * proof verifies (src/session/policy.ts). Absent only in credentials made before it was bound: refused.
   */
  p?: string;
  /** When the proof was signed, for the schemes that carry a time. */
  i?: number;
  /** When the session started (the proof's time, or when it was verified): the hard maximum counts from here. */
  a: number;
  /** The tenant's generation when the session started (absent: 0). */
  g?: number;
  /** The JWK thumbprint (RFC 7638) of the key the session is bound to (DPoP). */
  b?: string;
  /** When this credential was issued: the idle timeout counts from here. */
  n: number;
  /** The session's id: the same through renewals; what a logout ends. Last: a verifier recognises a credential by it. */
  j: string;
}

/** A credential split in its parts: `v1.<claims>` (what the MAC covers) and the MAC's bytes. */
export interface SplitCredential {
  readonly signed: string;
  /** The claims as sent (base64url): what a verifier may recognise a credential it has seen by. */
  readonly claimsPart: string;
  readonly mac: Buffer;
}

/** A credential taken apart: its claims are read, and nothing in them is verified yet. */
export interface OpenedCredential extends SplitCredential {
  readonly claims: SessionClaims;
  /** The identity it claims, for the failure limits. */
  readonly identity: string;
}

/** A credential made, with its parts (which the verifier that made it remembers it by). */
export interface SealedCredential {
  readonly credential: string;
  readonly claimsPart: string;
  readonly mac: Buffer;
}

export function sealCredential(claims: SessionClaims, key: SessionKey): SealedCredential {
  const claimsPart = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const signed = `${VERSION}.${claimsPart}`;
  const mac = hmac('sha256', key.material, DOMAIN + signed);
  return { credential: `${signed}.${mac.toString('base64url')}`, claimsPart, mac };
}

/** Whether `key` made the credential's MAC: one HMAC, compared in constant time. */
export function macMatches(opened: OpenedCredential, key: SessionKey): boolean {
  return signaturesEqual(hmac('sha256', key.material, DOMAIN + opened.signed), opened.mac);
}

/**
 * Reads a credential's shape and claims, strictly. Refuses with `MALFORMED_IDENTITY` what is not a
 * version-1 credential of well-typed claims; nothing here needs a key.
 */
export function openCredential(text: string): OpenedCredential {
  return withClaims(splitCredential(text));
}

/**
 * `split` with its claims read. (Named properties, not spreads: a spread of an object holding a
 * Buffer took V8's slow path, 3 µs a request.)
 */
export function withClaims(split: SplitCredential): OpenedCredential {
  const { claims, identity } = readClaims(split.claimsPart);
  return { signed: split.signed, claimsPart: split.claimsPart, mac: split.mac, claims, identity };
}

/** The parts of a credential; its MAC decoded strictly (one spelling of one size). */
export function splitCredential(text: string): SplitCredential {
  if (text.length > MAX_CREDENTIAL_LENGTH)
    reject('MALFORMED_IDENTITY', `The session credential is longer than ${MAX_CREDENTIAL_LENGTH} characters.`);
  const end = text.lastIndexOf('.');
  if (!text.startsWith(PREFIX) || end <= PREFIX.length) reject('MALFORMED_IDENTITY', `A session credential is ${VERSION}.<claims>.<mac>.`);
  const mac = decodeBase64url(text.slice(end + 1));
  // The size is public (a SHA-256 digest): a MAC of another size can never match.
  if (mac === undefined || mac.length !== 32) reject('MALFORMED_IDENTITY', 'The session credential MAC is not 32 bytes of base64url.');
  return { signed: text.slice(0, end), claimsPart: text.slice(PREFIX.length, end), mac };
}

const PREFIX = `${VERSION}.`;

/**
 * The claims of a credential's claims part, every one's type checked; and the identity they claim.
 * Not decoded strictly: the MAC covers the text as sent, so another spelling can never verify.
 */
export function readClaims(claimsPart: string): { claims: SessionClaims; identity: string } {
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(claimsPart, 'base64url').toString('utf8'));
  } catch {
    claims = undefined;
  }
  if (!isPlainObject(claims)) reject('MALFORMED_IDENTITY', 'The session credential claims are not base64url JSON of an object.');
  if (
    !isText(claims.q, 64) ||
    !SCHEME_NAMES.includes(claims.s as SchemeName) ||
    (claims.t !== undefined && !isText(claims.t, 256)) ||
    !IDENTITY_KEYS.includes(claims.k as Contact['identityKey']) ||
    !isText(claims.f, 32) ||
    (claims.p !== undefined && !isText(claims.p, 32)) ||
    (claims.i !== undefined && !isSeconds(claims.i)) ||
    !isSeconds(claims.a) ||
    !isSeconds(claims.n) ||
    !isText(claims.j, 32) ||
    (claims.g !== undefined && !isSeconds(claims.g)) ||
    (claims.b !== undefined && !isText(claims.b, 64))
  ) {
    reject('MALFORMED_IDENTITY', 'The session credential claims are not what this version holds.');
  }
  const fields = claims.c;
  if (!isPlainObject(fields) || Object.keys(fields).length > MAX_FIELDS)
    reject('MALFORMED_IDENTITY', 'The session credential carries no contact.');
  const identity = fields[claims.k as string];
  if (!isText(identity, Infinity)) reject('MALFORMED_IDENTITY', 'The session credential carries no identity.');
  return { claims: claims as unknown as SessionClaims, identity };
}

const isText = (value: unknown, max: number): value is string => typeof value === 'string' && value.length > 0 && value.length <= max;
const isSeconds = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** The verified part of a contact, as a credential carries it (undefined values are absent). */
export function contactClaims(contact: Contact): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of contact.verifiedFields) {
    const value = field.startsWith('attributes.') ? contact.attributes[field.slice(11)] : contact[field as keyof Contact];
    // A copy of a list: the result, and so its lists, are the app's to change; the session's are not.
    fields[field] = Array.isArray(value) ? value.slice() : value;
  }
  return fields;
}

/** The contact a credential carries: only what the proof verified, in the proof's order. */
export function contactOf(claims: SessionClaims): Contact {
  const { c } = claims;
  const contact = {} as Contact;
  // The same property order as a proof's contact (src/contact.ts), so results look alike.
  if (typeof c.externalId === 'string') contact.externalId = c.externalId;
  if (typeof c.email === 'string') contact.email = c.email;
  if (typeof c.name === 'string') contact.name = c.name;
  if (typeof c.phone === 'string') contact.phone = c.phone;
  if (typeof c.anonymousId === 'string') contact.anonymousId = c.anonymousId;
  const attributes: Record<string, unknown> = {};
  const verifiedFields: string[] = [];
  for (const field of Object.keys(c)) {
    if (field.startsWith('attributes.')) {
      const name = field.slice(11);
      // Never onto a prototype, whoever signed the credential.
      if (name === '__proto__' || name === 'constructor' || name === 'prototype') continue;
      // A copy of a list, frozen: the claims may be recognised again (src/session/index.ts), and an issued result is frozen whole.
      const value = c[field];
      attributes[name] = Array.isArray(value) ? Object.freeze(value.slice()) : value;
    } else if (!CONTACT_FIELDS.has(field) || contact[field as keyof Contact] === undefined) {
      continue;
    }
    verifiedFields.push(field);
  }
  contact.attributes = attributes;
  contact.verifiedFields = verifiedFields;
  contact.identityKey = claims.k;
  return contact;
}
