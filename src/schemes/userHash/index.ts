/**
 * `user-hash` (seed 001): `user_hash = HMAC-SHA256(user_id)` in hex; the widget sends `user_id`,
 * `user_hash` and `user_metadata`. Only the user id is signed: name, email, phone and the other
 * metadata keys are carried but not in `verifiedFields`.
 *
 * @example
 * ```ts
 * const user_hash = signUserHash(String(user.id), process.env.CHAT_IDENTITY_SECRET!);
 * ```
 */
import { optionalString, readAttributes } from '../../contact.js';
import { reject } from '../../rejection.js';
import type { Credentials } from '../../types.js';
import { identifierScheme, readIdentifierSignature, type IdentifierProof } from '../identifierHash.js';
import { presenceOf } from '../scheme.js';

/** The metadata keys that are the contact's own fields, not attributes. */
const PROFILE_FIELDS: ReadonlySet<string> = new Set(['name', 'email', 'phone']);

/** `metadata[key]` when it is the object's own (as readAttributes reads keys): nothing inherited reaches a contact. */
function ownField(metadata: Record<string, unknown> | null | undefined, key: string): unknown {
  return metadata != null && Object.hasOwn(metadata, key) ? metadata[key] : undefined;
}

/** Checks the widget's fields: the verifier's `parse`, and signUserHash's check before it signs. */
export function parseUserHash(fields: Credentials): IdentifierProof {
  if (fields.user_hash === undefined)
    reject('MISSING_IDENTITY', 'user_id arrived without user_hash; compute it on your server and pass it to identify().');
  if (typeof fields.user_id === 'number') reject('MALFORMED_IDENTITY', 'user_id must be a string: sign and send String(user.id).');
  const userId = optionalString(fields.user_id, 'user_id');
  if (userId === undefined) reject('MISSING_REQUIRED_FIELD', 'user_hash arrived without a user_id.');
  // One pass over the metadata: every key but the profile fields an attribute (it refuses metadata
  // that is not a plain object, so the profile fields are then read from one).
  const metadata = fields.user_metadata as Record<string, unknown> | null | undefined;
  const attributes = readAttributes(metadata, 'user_metadata', PROFILE_FIELDS);
  return {
    claimedIdentity: userId,
    signedValue: userId,
    signature: readIdentifierSignature(fields.user_hash, 'user_hash'),
    identityKey: 'externalId',
    externalId: userId,
    name: optionalString(ownField(metadata, 'name'), 'user_metadata.name'),
    email: optionalString(ownField(metadata, 'email'), 'user_metadata.email'),
    phone: optionalString(ownField(metadata, 'phone'), 'user_metadata.phone'),
    attributes,
  };
}

export const userHash = identifierScheme({
  name: 'user-hash',
  facts: {
    defaultMaxAge: undefined,
    proof: {
      kind: 'identifier',
      signatureField: 'user_hash',
      identifiers: [['user_id']],
      carried: ['user_metadata.email', 'user_metadata.phone'],
    },
    nearMisses: { user_id: ['id', 'uid', 'externalId', 'external_id'], user_hash: ['hash', 'hmac', 'signature'] },
    fieldNames: 'user_id and user_hash',
    signedData: 'user_id',
  },
  presence: (fields) => presenceOf(fields.user_hash !== undefined, fields.user_id !== undefined),
  parse: parseUserHash,
});
