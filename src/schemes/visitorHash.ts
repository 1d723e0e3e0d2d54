/**
 * `visitor-hash` (seed 004): `hmac = HMAC-SHA256` hex over the widget's anonymous visitor id.
 * It proves only that the visitor id was signed by the site: the `name`, `email`, `externalId`
 * and `metadata` sent beside it are carried but never in `verifiedFields`.
 *
 * @example
 * ```ts
 * const hmac = signVisitorHash(req.query.visitorId, process.env.IDENTITY_SECRET);
 * ```
 */
import { buildContact, optionalString, readAttributes } from '../contact.js';
import { reject } from '../rejection.js';
import { readIdentifierSignature, signIdentifier, verifyIdentifierHash, type IdentifierProof } from './identifierHash.js';
import { bodyFields, identifierIn, presenceOf, verifiedIdentity, type Scheme } from './scheme.js';

interface VisitorHashProof extends IdentifierProof {
  name?: string | undefined;
  email?: string | undefined;
  externalId?: string | undefined;
  metadata: Record<string, unknown>;
}

export const visitorHash: Scheme<VisitorHashProof> = {
  name: 'visitor-hash',
  credentials: bodyFields,

  presence: (fields) => presenceOf(fields.hmac !== undefined, fields.anonymousUserId !== undefined),

  claimedIdentity: (fields) => identifierIn(fields.anonymousUserId),

  parse(fields) {
    if (fields.hmac === undefined) reject('MISSING_IDENTITY', 'The visitor arrived without hmac; compute it on your server from the visitor id.');
    const anonymousId = optionalString(fields.anonymousUserId, 'anonymousUserId');
    if (anonymousId === undefined) reject('MISSING_REQUIRED_FIELD', 'hmac arrived without anonymousUserId.');
    return {
      claimedIdentity: anonymousId,
      signedValue: anonymousId,
      signature: readIdentifierSignature(fields.hmac, 'hmac'),
      name: optionalString(fields.name, 'name'),
      email: optionalString(fields.email, 'email'),
      externalId: optionalString(fields.externalId, 'externalId'),
      metadata: readAttributes(fields.metadata, 'metadata'),
    };
  },

  verify(proof, context) {
    const key = verifyIdentifierHash(proof, context, 'hmac');
    const contact = buildContact({
      anonymousId: proof.signedValue,
      name: proof.name,
      email: proof.email,
      externalId: proof.externalId,
      attributes: proof.metadata,
      identityKey: 'anonymousId',
      signedFields: ['anonymousId'],
      signedAttributes: false,
    });
    return verifiedIdentity('visitor-hash', contact, key, context);
  },
};

/** The site's side: `hmac` for a visitor id. */
export function signVisitorHash(visitorId: string, secret: string): string {
  return signIdentifier(visitorId, secret);
}
