/**
 * `signed-payload` (seed 000): `signature = HMAC-SHA256` hex over the canonical JSON of the flat
 * `customer` object (keys sorted, no whitespace), which carries `timestamp` in seconds. The widget
 * sends `customer`, `signature` and, during development, `testMode: true`. Every field of
 * `customer` is signed, so every one is verified; extra keys (plan, company, ...) become attributes.
 *
 * @example
 * ```ts
 * const { customer, signature } = signPayload({ externalId: String(user.id), email: user.email }, secret);
 * ```
 */
import { jsonInKeyOrder, longestSpellingLength, otherCanonicalForms, type FlatObject } from '../../canonicalJson.js';
import { describe, fullySignedContact, isFlat, isPlainObject, MAX_ATTRIBUTES, optionalString, readAttributes } from '../../contact.js';
import { noKeySigned, reject } from '../../rejection.js';
import type { Credentials } from '../../types.js';
import { readIdentifierSignature } from '../identifierHash.js';
import { bodyFields, findSigningKey, firstIdentifier, presenceOf, verifiedIdentity } from '../scheme.js';
import type { ParsedProof, Scheme, SchemeFacts } from '../scheme.js';
import { checkSigningTime, signingTimePolicy } from '../signingTime.js';

/** No spelling of a customer's canonical JSON may exceed this many characters: what bounds the bytes hashed. */
export const MAX_PAYLOAD_LENGTH = 8192;
/** Seconds a live key's signature stays valid when `maxAge` is not set. */
const DEFAULT_MAX_AGE = 300;

export interface SignedPayloadProof extends ParsedProof {
  customer: FlatObject;
  /** `canonicalJson(customer)`: the spelling nearly every site signs, serialised once. */
  canonical: string;
  /** The customer's keys in code-unit order, as `canonical` has them: what the other spellings start from. */
  sortedKeys: string[];
  signature: Buffer;
  timestamp: number;
  externalId?: string | undefined;
  email?: string | undefined;
  name?: string | undefined;
  phone?: string | undefined;
  attributes: Record<string, unknown>;
}

/** Customer keys that fill contact fields (or the clock); every other key becomes an attribute. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set(['externalId', 'email', 'name', 'phone', 'timestamp']);
/** The known fields and the attributes allowed beside them. */
const MAX_CUSTOMER_FIELDS = KNOWN_FIELDS.size + MAX_ATTRIBUTES;
const TOO_LONG = `customer is longer than ${MAX_PAYLOAD_LENGTH} characters as JSON (in the longest spelling a server snippet writes it).`;

/**
 * Why `customer` cannot be a signed payload, checked before anything is serialised or sorted:
 * an object, at most MAX_CUSTOMER_FIELDS flat fields, and no longer than the limit even before
 * escaping. Undefined when its shape is fine. The diagnosis reads a customer with the same rule.
 */
export function customerShapeProblem(customer: unknown): string | undefined {
  if (!isPlainObject(customer)) return `customer must be an object, not ${describe(customer)}.`;
  const keys = Object.keys(customer);
  if (keys.length > MAX_CUSTOMER_FIELDS) return `customer has more than ${MAX_CUSTOMER_FIELDS} fields.`;
  let length = 2;
  for (const key of keys) {
    const value = customer[key];
    if (!isFlat(value)) return `customer.${key} is ${describe(value)}; only flat values (string, number, boolean, null) are signed.`;
    length += key.length + 4 + (typeof value === 'string' ? value.length : 1);
  }
  return length > MAX_PAYLOAD_LENGTH ? TOO_LONG : undefined;
}

const facts: SchemeFacts = {
  defaultMaxAge: DEFAULT_MAX_AGE,
  proof: {
    kind: 'payload',
    object: 'customer',
    signatureField: 'signature',
    time: 'timestamp',
    identifiers: [['externalId'], ['email']],
    known: KNOWN_FIELDS,
    maxLength: MAX_PAYLOAD_LENGTH,
    shapeProblem: customerShapeProblem,
  },
  nearMisses: { externalId: ['userId', 'id', 'uid'], email: ['emailAddress', 'mail'], timestamp: ['ts', 'time', 'iat'] },
  fieldNames: 'customer.externalId, email and timestamp',
  signedData: 'the whole customer JSON',
};

/** Checks the widget's fields: the verifier's `parse`, and signPayload's check before it signs. */
export function parseSignedPayload(fields: Credentials): SignedPayloadProof {
  const { customer } = fields;
  if (fields.signature === undefined)
    reject('MISSING_IDENTITY', 'customer arrived without signature; sign it on your server and pass both to the widget.');
  if (customer === undefined) reject('MISSING_REQUIRED_FIELD', 'signature arrived without customer.');
  const problem = customerShapeProblem(customer);
  if (problem !== undefined) reject('MALFORMED_IDENTITY', problem);
  const flat = customer as FlatObject;
  // Serialised only now that its size is bounded; every spelling tried is bounded with it.
  const sortedKeys = Object.keys(flat).sort();
  const canonical = jsonInKeyOrder(flat, sortedKeys);
  if (longestSpellingLength(canonical) > MAX_PAYLOAD_LENGTH) reject('MALFORMED_IDENTITY', TOO_LONG);
  const externalId = optionalString(flat.externalId, 'customer.externalId');
  const email = optionalString(flat.email, 'customer.email');
  if (externalId === undefined && email === undefined) reject('MISSING_REQUIRED_FIELD', 'customer needs an externalId or an email.');
  const timestamp = flat.timestamp;
  if (timestamp === undefined || timestamp === null)
    reject('MISSING_REQUIRED_FIELD', 'customer needs a timestamp (seconds since the epoch).');
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    reject('MALFORMED_IDENTITY', `customer.timestamp must be a number of seconds, not ${describe(timestamp)}.`);
  }
  return {
    claimedIdentity: externalId ?? email!,
    customer: flat,
    canonical,
    sortedKeys,
    signature: readIdentifierSignature(fields.signature, 'signature'),
    timestamp,
    externalId,
    email,
    name: optionalString(flat.name, 'customer.name'),
    phone: optionalString(flat.phone, 'customer.phone'),
    attributes: readAttributes(flat, 'customer', KNOWN_FIELDS),
  };
}

/** Holds nothing of the request: one serves every customer no key signed, as jwt's does. */
const NO_KEY_SIGNED = noKeySigned('this signature over the customer sorted by key, as JSON with no whitespace');

export const signedPayload: Scheme<SignedPayloadProof> = {
  name: 'signed-payload',
  facts,
  credentials: bodyFields,

  presence: (fields) => presenceOf(fields.signature !== undefined, fields.customer !== undefined),

  claimedIdentity(fields) {
    const customer = fields.customer;
    return isPlainObject(customer) ? firstIdentifier(customer, facts.proof.identifiers) : undefined;
  },

  parse: parseSignedPayload,

  verify(proof, context) {
    const key =
      findSigningKey(context.keys, proof.canonical, proof.signature) ??
      findSigningKey(context.keys, otherCanonicalForms(proof.customer, proof.canonical, proof.sortedKeys), proof.signature);
    if (!key) return NO_KEY_SIGNED;
    checkSigningTime(proof.timestamp, 'customer.timestamp', key, context, DEFAULT_MAX_AGE);
    const contact = fullySignedContact(proof, proof.externalId !== undefined ? 'externalId' : 'email');
    return verifiedIdentity('signed-payload', contact, key, context, new Date(proof.timestamp * 1000));
  },

  policy: (settings) => signingTimePolicy(settings, DEFAULT_MAX_AGE),
};
