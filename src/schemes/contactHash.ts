/**
 * `contact-hash` (seed 002): `user_hash = HMAC-SHA256` hex over the highest-priority identifier
 * present: external user id, then email, then phone. The widget sends `ext_user_id` (or
 * `external_user_id`), `email`, `phone`, `name` and `user_hash`. Only the identifier that was
 * hashed is verified; the lower-priority fields and the name are carried beside it.
 *
 * @example
 * ```ts
 * const user_hash = signContactHash({ ext_user_id: String(user.id), email: user.email }, secret);
 * ```
 */
import { buildContact, optionalString } from '../contact.js';
import { reject } from '../rejection.js';
import type { Contact } from '../types.js';
import { readIdentifierSignature, signIdentifier, verifyIdentifierHash, type IdentifierProof } from './identifierHash.js';
import { bodyFields, identifierIn, presenceOf, verifiedIdentity, type Scheme } from './scheme.js';

interface ContactHashProof extends IdentifierProof {
  identityKey: Contact['identityKey'];
  externalId?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  name?: string | undefined;
}

export interface ContactHashFields {
  ext_user_id?: string | undefined;
  external_user_id?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
}

export const contactHash: Scheme<ContactHashProof> = {
  name: 'contact-hash',
  credentials: bodyFields,

  // email and phone alone are common in chat bodies, so only the external id or the hash claim this scheme.
  presence(fields) {
    const hash = fields.user_hash !== undefined;
    const externalId = fields.ext_user_id !== undefined || fields.external_user_id !== undefined;
    return presenceOf(hash, externalId || (hash && (fields.email !== undefined || fields.phone !== undefined)));
  },

  claimedIdentity: (fields) => identifierIn(fields.ext_user_id) ?? identifierIn(fields.external_user_id) ?? identifierIn(fields.email) ?? identifierIn(fields.phone),

  parse(fields) {
    if (fields.user_hash === undefined) reject('MISSING_IDENTITY', 'The contact arrived without user_hash; compute it on your server.');
    const externalId = readExternalId(fields);
    const email = optionalString(fields.email, 'email');
    const phone = optionalString(fields.phone, 'phone');
    const name = optionalString(fields.name, 'name');
    const [identityKey, signedValue] =
      externalId !== undefined ? (['externalId', externalId] as const)
      : email !== undefined ? (['email', email] as const)
      : phone !== undefined ? (['phone', phone] as const)
      : reject('MISSING_REQUIRED_FIELD', 'user_hash arrived without ext_user_id, email or phone.');
    return {
      claimedIdentity: signedValue,
      signedValue,
      signature: readIdentifierSignature(fields.user_hash, 'user_hash'),
      identityKey,
      externalId,
      email,
      phone,
      name,
    };
  },

  verify(proof, context) {
    const key = verifyIdentifierHash(proof, context, 'user_hash');
    const contact = buildContact({
      externalId: proof.externalId,
      email: proof.email,
      phone: proof.phone,
      name: proof.name,
      attributes: {},
      identityKey: proof.identityKey,
      signedFields: [proof.identityKey],
      signedAttributes: false,
    });
    return verifiedIdentity('contact-hash', contact, key, context);
  },
};

/** Both spellings are accepted; sending both with different values is ambiguous, so refused. */
function readExternalId(fields: Record<string, unknown>): string | undefined {
  const short = optionalString(fields.ext_user_id, 'ext_user_id');
  const long = optionalString(fields.external_user_id, 'external_user_id');
  if (short !== undefined && long !== undefined && short !== long) {
    reject('MALFORMED_IDENTITY', 'ext_user_id and external_user_id differ; send one of them.');
  }
  return short ?? long;
}

/** The site's side: the hash over the highest-priority identifier present. */
export function signContactHash(fields: ContactHashFields, secret: string): string {
  const identifier = fields.ext_user_id || fields.external_user_id || fields.email || fields.phone;
  if (!identifier) throw new TypeError('signContactHash needs ext_user_id, external_user_id, email or phone.');
  return signIdentifier(identifier, secret);
}
