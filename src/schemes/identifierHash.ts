/**
 * What `user-hash`, `contact-hash` and `visitor-hash` share: an HMAC-SHA256 hex digest over one
 * identifier string, exactly as the site's server computed it (no trimming, no case folding), sent
 * in the body beside it. Only that identifier is verified; whatever travels with it is carried.
 */
import { identifierSignedContact, type ContactFields } from '../contact.js';
import { noKeySigned } from '../rejection.js';
import { parseHexSignature, requireDigestSize } from '../signature.js';
import type { Credentials, SchemeName } from '../types.js';
import { bodyFields, findSigningKey, firstIdentifier, verifiedIdentity } from './scheme.js';
import type { IdentifierShape, ParsedProof, ProofPolicy, Scheme, SchemeFacts } from './scheme.js';

/** A parsed identifier proof: the contact it names, the identifier the site signed, and the signature. */
export interface IdentifierProof extends ParsedProof, ContactFields {
  /** The exact string the site signed: the value of the `identityKey` field. */
  signedValue: string;
  signature: Buffer;
}

/** What an identifier scheme says of itself; where its proof travels and how it is verified are shared. */
export interface IdentifierScheme {
  name: SchemeName;
  facts: SchemeFacts & { proof: IdentifierShape };
  presence(credentials: Credentials): 0 | 1 | 2;
  parse(credentials: Credentials): IdentifierProof;
}

const NO_SETTINGS: ProofPolicy = Object.freeze({});

/** The scheme: the identity claimed is the highest-priority identifier sent, and only it is verified. */
export function identifierScheme(scheme: IdentifierScheme): Scheme<IdentifierProof> {
  const { name, facts, presence, parse } = scheme;
  const { signatureField, identifiers } = facts.proof;
  // Holds nothing of the request: one serves every identifier no key signed, as jwt's does.
  const noKeySignedIt = noKeySigned(`${signatureField} for this identifier`);
  return {
    name,
    facts,
    credentials: bodyFields,
    presence,
    claimedIdentity: (fields) => firstIdentifier(fields, identifiers),
    parse,
    verify(proof, context) {
      const key = findSigningKey(context.keys, proof.signedValue, proof.signature);
      if (!key) return noKeySignedIt;
      return verifiedIdentity(name, identifierSignedContact(proof), key, context);
    },
    // An HMAC over an identifier carries no time and reads no setting: only the key decides.
    policy: () => NO_SETTINGS,
  };
}

/** Reads the hex digest field of an identifier proof. */
export function readIdentifierSignature(value: unknown, field: string): Buffer {
  const signature = parseHexSignature(value, field);
  requireDigestSize(signature, 'sha256', field, 'hex');
  return signature;
}
