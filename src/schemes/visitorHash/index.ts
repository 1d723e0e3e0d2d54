/**
 * `visitor-hash` (seed 004): `hmac = HMAC-SHA256` hex over the widget's anonymous visitor id.
 * It proves only that the visitor id was signed by the site: the `name`, `email`, `externalId`
 * and `metadata` sent beside it are carried but never in `verifiedFields`.
 *
 * @example
 * ```ts
 * const hmac = signVisitorHash(req.query.visitorId, process.env.CHAT_IDENTITY_SECRET!);
 * ```
 */
import { optionalString, readAttributes } from '../../contact.js';
import { reject } from '../../rejection.js';
import type { Credentials } from '../../types.js';
import { identifierScheme, readIdentifierSignature, type IdentifierProof } from '../identifierHash.js';
import { presenceOf } from '../scheme.js';

/** Checks the widget's fields: the verifier's `parse`, and signVisitorHash's check before it signs. */
export function parseVisitorHash(fields: Credentials): IdentifierProof {
  if (fields.hmac === undefined)
    reject('MISSING_IDENTITY', 'The visitor arrived without hmac; compute it on your server from the visitor id.');
  const anonymousId = optionalString(fields.anonymousUserId, 'anonymousUserId');
  if (anonymousId === undefined) reject('MISSING_REQUIRED_FIELD', 'hmac arrived without anonymousUserId.');
  return {
    claimedIdentity: anonymousId,
    signedValue: anonymousId,
    signature: readIdentifierSignature(fields.hmac, 'hmac'),
    identityKey: 'anonymousId',
    anonymousId,
    name: optionalString(fields.name, 'name'),
    email: optionalString(fields.email, 'email'),
    externalId: optionalString(fields.externalId, 'externalId'),
    attributes: readAttributes(fields.metadata, 'metadata'),
  };
}

export const visitorHash = identifierScheme({
  name: 'visitor-hash',
  facts: {
    defaultMaxAge: undefined,
    proof: { kind: 'identifier', signatureField: 'hmac', identifiers: [['anonymousUserId']], carried: ['externalId', 'email'] },
    nearMisses: { anonymousUserId: ['visitorId', 'visitor_id', 'anonymousId', 'anonymous_id'], hmac: ['hash', 'user_hash', 'signature'] },
    fieldNames: 'anonymousUserId and hmac',
    signedData: 'the anonymous visitor id',
  },
  presence: (fields) => presenceOf(fields.hmac !== undefined, fields.anonymousUserId !== undefined),
  parse: parseVisitorHash,
});
