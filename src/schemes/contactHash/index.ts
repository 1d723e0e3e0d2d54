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
import { NO_ATTRIBUTES, optionalString } from '../../contact.js';
import { reject } from '../../rejection.js';
import type { Credentials } from '../../types.js';
import { identifierScheme, readIdentifierSignature, type IdentifierProof } from '../identifierHash.js';
import { presenceOf } from '../scheme.js';

/** Checks the widget's fields: the verifier's `parse`, and signContactHash's choice of what to sign. */
export function parseContactHash(fields: Credentials): IdentifierProof {
  if (fields.user_hash === undefined) reject('MISSING_IDENTITY', 'The contact arrived without user_hash; compute it on your server.');
  const externalId = readExternalId(fields);
  const email = optionalString(fields.email, 'email');
  const phone = optionalString(fields.phone, 'phone');
  const name = optionalString(fields.name, 'name');
  const [identityKey, signedValue] =
    externalId !== undefined
      ? (['externalId', externalId] as const)
      : email !== undefined
        ? (['email', email] as const)
        : phone !== undefined
          ? (['phone', phone] as const)
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
    attributes: NO_ATTRIBUTES,
  };
}

export const contactHash = identifierScheme({
  name: 'contact-hash',
  facts: {
    defaultMaxAge: undefined,
    proof: {
      kind: 'identifier',
      signatureField: 'user_hash',
      identifiers: [['ext_user_id', 'external_user_id'], ['email'], ['phone']],
      carried: [],
    },
    nearMisses: { ext_user_id: ['user_id', 'externalId', 'external_id'], user_hash: ['hash', 'hmac', 'signature'] },
    fieldNames: 'ext_user_id, email, phone and user_hash',
    signedData: 'the highest-priority identifier present, ext_user_id, then email, then phone',
  },
  // email and phone alone are common in chat bodies, so only the external id or the hash claim this scheme.
  presence(fields) {
    const hash = fields.user_hash !== undefined;
    const externalId = fields.ext_user_id !== undefined || fields.external_user_id !== undefined;
    return presenceOf(hash, externalId || (hash && (fields.email !== undefined || fields.phone !== undefined)));
  },
  parse: parseContactHash,
});

/** Both spellings are accepted; sending both with different values is ambiguous, so refused. */
function readExternalId(fields: Record<string, unknown>): string | undefined {
  const short = optionalString(fields.ext_user_id, 'ext_user_id');
  const long = optionalString(fields.external_user_id, 'external_user_id');
  if (short !== undefined && long !== undefined && short !== long) {
    reject('MALFORMED_IDENTITY', 'ext_user_id and external_user_id differ; send one of them.');
  }
  return short ?? long;
}
