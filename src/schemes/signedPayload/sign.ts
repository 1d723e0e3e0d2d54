/** The site's side of `signed-payload`: the customer object and its signature, as the seed's snippets make them. */
import type { FlatObject, FlatValue } from '../../canonicalJson.js';
import { signatureFor } from '../../signature.js';
import { parsedForSigning, PLACEHOLDER_HEX, signingKey } from '../signing.js';
import { parseSignedPayload } from './index.js';

/**
 * What the site hands its widget for `signed-payload`: the customer as signed, and its signature.
 *
 * @example
 * ```ts
 * const { customer, signature }: SignedPayload = signPayload({ externalId: '42' }, process.env.CHAT_IDENTITY_SECRET!);
 * ```
 */
export interface SignedPayload {
  customer: FlatObject;
  signature: string;
}

/**
 * Drops `undefined` and `null` fields, adds `timestamp` (seconds) unless given, sorts the keys, and
 * signs the JSON with no whitespace. A TypeError for a customer or secret the verifier would refuse.
 *
 * @example
 * ```ts
 * res.json(signPayload({ externalId: String(user.id), email: user.email, name: user.name }, process.env.CHAT_IDENTITY_SECRET!));
 * ```
 */
export function signPayload(
  customer: Record<string, FlatValue | undefined>,
  secret: string,
  options: { now?: () => number } = {},
): SignedPayload {
  const key = signingKey('signPayload', secret);
  // Entries, not assignment: a "__proto__" field must stay a field, as JSON.parse makes it.
  const entries = Object.entries(customer).filter((entry): entry is [string, FlatValue] => entry[1] !== undefined && entry[1] !== null);
  if (!entries.some(([field]) => field === 'timestamp')) entries.push(['timestamp', Math.floor((options.now ?? Date.now)() / 1000)]);
  const sorted: FlatObject = Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const proof = parsedForSigning('signPayload', () => parseSignedPayload({ customer: sorted, signature: PLACEHOLDER_HEX }));
  return { customer: sorted, signature: signatureFor('sha256', key, proof.canonical, 'hex') };
}
