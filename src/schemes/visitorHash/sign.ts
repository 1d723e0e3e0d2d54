/** The site's side of `visitor-hash`. */
import { PLACEHOLDER_HEX, signIdentifier } from '../signing.js';
import { parseVisitorHash } from './index.js';

/**
 * `hmac` for a visitor id; a TypeError for an id or secret the verifier would refuse.
 *
 * @example
 * ```ts
 * const hmac = signVisitorHash(visitorId, process.env.CHAT_IDENTITY_VISITOR_SECRET!);
 * ```
 */
export function signVisitorHash(visitorId: string, secret: string): string {
  return signIdentifier('signVisitorHash', secret, () => parseVisitorHash({ anonymousUserId: visitorId, hmac: PLACEHOLDER_HEX }));
}
