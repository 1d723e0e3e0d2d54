/** The site's side of `contact-hash`. */
import { PLACEHOLDER_HEX, signIdentifier } from '../signing.js';
import { parseContactHash } from './index.js';

/**
 * The identifiers a `contact-hash` widget sends; the hash covers the highest-priority one present.
 *
 * @example
 * ```ts
 * const fields: ContactHashFields = { ext_user_id: '42', email: 'jane@example.com' }; // the hash covers ext_user_id
 * ```
 */
export interface ContactHashFields {
  ext_user_id?: string | undefined;
  external_user_id?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
}

/**
 * `user_hash` over the identifier the verifier will hash: the highest-priority one present. A
 * TypeError when there is none, or for fields or a secret the verifier would refuse.
 *
 * @example
 * ```ts
 * const user_hash = signContactHash({ ext_user_id: String(user.id), email: user.email }, process.env.CHAT_IDENTITY_SECRET!);
 * ```
 */
export function signContactHash(fields: ContactHashFields, secret: string): string {
  return signIdentifier('signContactHash', secret, () => parseContactHash({ ...fields, user_hash: PLACEHOLDER_HEX }));
}
