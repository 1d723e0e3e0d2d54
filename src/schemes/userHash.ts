/**
 * `user-hash` (seed 001): `user_hash = HMAC-SHA256(user_id)` in hex; the widget sends `user_id`,
 * `user_hash` and `user_metadata`. Only the user id is signed: name, email, phone and the other
 * metadata keys are carried but not in `verifiedFields`.
 *
 * @example
 * ```ts
 * const user_hash = signUserHash(String(user.id), process.env.CHAT_SECRET);
 * ```
 */
import { buildContact, optionalString, readAttributes } from '../contact.js';
import { reject } from '../rejection.js';
import { readIdentifierSignature, signIdentifier, verifyIdentifierHash, type IdentifierProof } from './identifierHash.js';
import { bodyFields, identifierIn, presenceOf, verifiedIdentity, type Scheme } from './scheme.js';

interface UserHashProof extends IdentifierProof {
  name?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  attributes: Record<string, unknown>;
}

export const userHash: Scheme<UserHashProof> = {
  name: 'user-hash',
  credentials: bodyFields,

  presence: (fields) => presenceOf(fields.user_hash !== undefined, fields.user_id !== undefined),

  claimedIdentity: (fields) => identifierIn(fields.user_id),

  parse(fields) {
    if (fields.user_hash === undefined) reject('MISSING_IDENTITY', 'user_id arrived without user_hash; compute it on your server and pass it to identify().');
    if (typeof fields.user_id === 'number') reject('MALFORMED_IDENTITY', 'user_id must be a string: sign and send String(user.id).');
    const userId = optionalString(fields.user_id, 'user_id');
    if (userId === undefined) reject('MISSING_REQUIRED_FIELD', 'user_hash arrived without a user_id.');
    // One pass over the metadata: the profile fields out, every other key an attribute.
    const { name, email, phone, ...attributes } = readAttributes(fields.user_metadata, 'user_metadata');
    return {
      claimedIdentity: userId,
      signedValue: userId,
      signature: readIdentifierSignature(fields.user_hash, 'user_hash'),
      name: optionalString(name, 'user_metadata.name'),
      email: optionalString(email, 'user_metadata.email'),
      phone: optionalString(phone, 'user_metadata.phone'),
      attributes,
    };
  },

  verify(proof, context) {
    const key = verifyIdentifierHash(proof, context, 'user_hash');
    const contact = buildContact({
      externalId: proof.signedValue,
      name: proof.name,
      email: proof.email,
      phone: proof.phone,
      attributes: proof.attributes,
      identityKey: 'externalId',
      signedFields: ['externalId'],
      signedAttributes: false,
    });
    return verifiedIdentity('user-hash', contact, key, context);
  },
};

/** The site's side: `user_hash` for a user id. */
export function signUserHash(userId: string, secret: string): string {
  return signIdentifier(userId, secret);
}
