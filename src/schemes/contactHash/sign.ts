/** The site's side of `contact-hash`. */
import { PLACEHOLDER_HEX, signIdentifier } from '../signing.js';
import { parseContactHash } from './index.js';

export interface ContactHashFields {
  ext_user_id?: string | undefined;
  external_user_id?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
}

/**
 * `user_hash` over the identifier the verifier will hash: the highest-priority one present. A
 * TypeError when there is none, or for fields or a secret the verifier would refuse.
 */
export function signContactHash(fields: ContactHashFields, secret: string): string {
  return signIdentifier('signContactHash', secret, () => parseContactHash({ ...fields, user_hash: PLACEHOLDER_HEX }));
}
