/**
 * Contact normalisation: typed, bounded fields, extra metadata as `attributes`, and
 * `verifiedFields` naming exactly what the signature covers.
 */
import { reject } from './rejection.js';
import type { Contact } from './types.js';

/** Identifiers and names longer than this are refused (`MALFORMED_IDENTITY`). */
export const MAX_IDENTIFIER_LENGTH = 255;
/** A longer attribute string is refused. */
export const MAX_ATTRIBUTE_LENGTH = 1024;
/** More attributes than this are refused. */
export const MAX_ATTRIBUTES = 50;

/** Keys that would reach an object's prototype if copied naively; dropped from attributes. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type ContactField = 'externalId' | 'email' | 'name' | 'phone' | 'anonymousId';

/** A plain object (what JSON.parse makes for `{...}`), not an array, not a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `String.prototype.isWellFormed` (ES2024, in Node 20+), typed here: the sources compile with the ES2023 library. */
type WellFormedCheck = string & { isWellFormed(): boolean };

/**
 * Reads an optional string field; `null`, `undefined` and `''` are absent. Strings that are not
 * well-formed Unicode are refused: hashed as UTF-8, "a\uD800" and "a\uFFFD" would be one id.
 */
export function optionalString(value: unknown, field: string, maxLength = MAX_IDENTIFIER_LENGTH): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    const fix = typeof value === 'number' ? ': sign and send it as one (String(user.id), say)' : '';
    reject('MALFORMED_IDENTITY', `${field} must be a string, not ${describe(value)}${fix}.`);
  }
  if (value.length > maxLength) reject('MALFORMED_IDENTITY', `${field} is longer than ${maxLength} characters.`);
  // A lone surrogate is no character, and UTF-8 turns every one into U+FFFD. isWellFormed (Node 20+)
  // replaced a regular expression here: 7–9 ns against 11–15 ns on a short identifier.
  if (!(value as WellFormedCheck).isWellFormed())
    reject('MALFORMED_IDENTITY', `${field} is not well-formed Unicode (it holds a lone surrogate).`);
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A value a flat object may hold: string, finite number, boolean or null. */
export function isFlat(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

const NO_KEYS: ReadonlySet<string> = new Set();

/** The attributes of a contact that has none: one frozen object for all (an issued result is frozen whole). */
export const NO_ATTRIBUTES: Record<string, unknown> = Object.freeze({});

/**
 * Copies the extra metadata keys into a fresh object. Values are flat (string, number, boolean,
 * null) or arrays of flat values; prototype keys are dropped so no store merging them is polluted.
 */
export function readAttributes(source: unknown, field: string, skip: ReadonlySet<string> = NO_KEYS): Record<string, unknown> {
  if (source === undefined || source === null) return NO_ATTRIBUTES;
  const attributes: Record<string, unknown> = {};
  if (!isPlainObject(source)) reject('MALFORMED_IDENTITY', `${field} must be an object, not ${describe(source)}.`);
  let count = 0;
  for (const key of Object.keys(source)) {
    if (skip.has(key) || UNSAFE_KEYS.has(key)) continue;
    const value = source[key];
    if (value === undefined) continue;
    if (++count > MAX_ATTRIBUTES) reject('MALFORMED_IDENTITY', `${field} has more than ${MAX_ATTRIBUTES} keys.`);
    // Refused by its length before anything walks or serialises it: a string's JSON is at least its
    // length and two quotes, a list's at least two characters an element (a 10 MB value costs nothing).
    const leastJson = typeof value === 'string' ? value.length + 2 : Array.isArray(value) ? 2 * value.length + 1 : 0;
    if (leastJson > MAX_ATTRIBUTE_LENGTH)
      reject('MALFORMED_IDENTITY', `${field}.${key} is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
    if (Array.isArray(value) ? !value.every(isFlat) : !isFlat(value)) {
      reject(
        'MALFORMED_IDENTITY',
        `${field}.${key} must be a string, number, boolean or null (or a list of them), not ${describe(value)}.`,
      );
    }
    // JSON of a string is at most 6 characters per character plus quotes: only a value that
    // could be over the limit (or a list) is serialised to measure it.
    const couldBeLong = typeof value === 'string' ? value.length * 6 + 2 > MAX_ATTRIBUTE_LENGTH : Array.isArray(value);
    if (couldBeLong && JSON.stringify(value).length > MAX_ATTRIBUTE_LENGTH) {
      reject('MALFORMED_IDENTITY', `${field}.${key} is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
    }
    // A copy, frozen: an issued result is frozen whole (src/createVerifier.ts, freezeIssued).
    attributes[key] = Array.isArray(value) ? Object.freeze(value.slice()) : value;
  }
  return count === 0 ? NO_ATTRIBUTES : attributes;
}

/** The contact's fields as a proof carries them, before it is said which of them the signature covers. */
export interface ContactFields {
  externalId?: string | undefined;
  email?: string | undefined;
  name?: string | undefined;
  phone?: string | undefined;
  anonymousId?: string | undefined;
  attributes: Record<string, unknown>;
  identityKey: Contact['identityKey'];
}

/**
 * Builds the Contact, listing in `verifiedFields` only the fields that are both present and among
 * `signedFields` (given in the contact's own field order), and the attributes when they are signed.
 */
export function buildContact(parts: ContactFields, signedFields: readonly ContactField[], signedAttributes: boolean): Contact {
  // Named stores in a fixed order, not `contact[field] = value` and a spread: every contact gets
  // the same hidden class and no dictionary-mode copy (this function was the costliest line of
  // a verify, and costs more still in a server, where its megamorphic stores miss every cache).
  const contact = {} as Contact;
  if (parts.externalId !== undefined) contact.externalId = parts.externalId;
  if (parts.email !== undefined) contact.email = parts.email;
  if (parts.name !== undefined) contact.name = parts.name;
  if (parts.phone !== undefined) contact.phone = parts.phone;
  if (parts.anonymousId !== undefined) contact.anonymousId = parts.anonymousId;
  contact.attributes = parts.attributes;
  contact.verifiedFields =
    signedFields === FULLY_SIGNED && parts.attributes === NO_ATTRIBUTES
      ? fullySignedList(contact)
      : signedAttributes || signedFields.length !== 1
        ? verifiedList(contact, signedFields, signedAttributes)
        : onlyField(contact, signedFields[0]!);
  contact.identityKey = parts.identityKey;
  return contact;
}

/** The fields of `signedFields` the contact has, then its attributes when they are signed (frozen with the result it goes in). */
function verifiedList(contact: Contact, signedFields: readonly ContactField[], signedAttributes: boolean): string[] {
  const verifiedFields: string[] = [];
  for (const field of signedFields) if (contact[field] !== undefined) verifiedFields.push(field);
  if (signedAttributes) {
    for (const key of Object.keys(contact.attributes)) verifiedFields.push(`attributes.${key}`);
  }
  return verifiedFields;
}

/** One frozen list per field, shared: what an identifier contact's `verifiedFields` is (made per request, and frozen, it cost ~50 ns). */
const ONLY: Readonly<Record<ContactField, string[]>> = {
  externalId: Object.freeze(['externalId']) as string[],
  email: Object.freeze(['email']) as string[],
  name: Object.freeze(['name']) as string[],
  phone: Object.freeze(['phone']) as string[],
  anonymousId: Object.freeze(['anonymousId']) as string[],
};
const NO_FIELDS = Object.freeze([]) as unknown as string[];

function onlyField(contact: Contact, field: ContactField): string[] {
  return contact[field] === undefined ? NO_FIELDS : ONLY[field];
}

/** In the contact's field order, so that `verifiedFields` lists them in it. */
const FULLY_SIGNED: readonly ContactField[] = ['externalId', 'email', 'name', 'phone'];

/**
 * The `verifiedFields` of a fully signed contact without attributes, one frozen list for each set
 * of fields present (16), shared like `ONLY`: no list to make and freeze per request.
 */
const FULLY_SIGNED_LISTS: readonly string[][] = Array.from(
  { length: 1 << FULLY_SIGNED.length },
  (_, present) => Object.freeze(FULLY_SIGNED.filter((_, i) => (present & (1 << i)) !== 0)) as string[],
);

function fullySignedList(contact: Contact): string[] {
  const present =
    (contact.externalId !== undefined ? 1 : 0) |
    (contact.email !== undefined ? 2 : 0) |
    (contact.name !== undefined ? 4 : 0) |
    (contact.phone !== undefined ? 8 : 0);
  return FULLY_SIGNED_LISTS[present]!;
}

/** The contact of a proof that signs every field it carries (`signed-payload`, `jwt`), identified by `identityKey`. */
export function fullySignedContact(proof: Omit<ContactFields, 'identityKey'>, identityKey: Contact['identityKey']): Contact {
  // Named properties, not `{ ...proof, identityKey }`: that clone cost a third of a jwt verify.
  const { externalId, email, name, phone, attributes } = proof;
  return buildContact({ externalId, email, name, phone, attributes, identityKey }, FULLY_SIGNED, true);
}

/** The contact of a proof that signs one identifier (`user-hash`, `contact-hash`, `visitor-hash`): the rest is carried beside it. */
export function identifierSignedContact(parts: ContactFields): Contact {
  return buildContact(parts, [parts.identityKey], false);
}
