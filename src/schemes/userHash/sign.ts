/** The site's side of `user-hash`. */
import { PLACEHOLDER_HEX, signIdentifier } from '../signing.js';
import { parseUserHash } from './index.js';

/**
 * `user_hash` for a user id; a TypeError for an id or secret the verifier would refuse.
 *
 * @example
 * ```ts
 * const user_hash = signUserHash(String(user.id), process.env.CHAT_IDENTITY_SECRET!);
 * ```
 */
export function signUserHash(userId: string, secret: string): string {
  return signIdentifier('signUserHash', secret, () => parseUserHash({ user_id: userId, user_hash: PLACEHOLDER_HEX }));
}
