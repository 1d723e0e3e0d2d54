/**
 * The failed proof, read leniently: a mistake is usually exactly what the strict parser refused
 * (a base64 signature, a customer sent as text, a token in standard base64). Each kind of proof
 * is read its own way, from the shape its scheme declares; the schemes themselves are never named.
 */
import { canonicalJson, longestSpellingLength, type FlatObject } from '../canonicalJson.js';
import { isPlainObject } from '../contact.js';
import { algorithmNamed } from '../jwks/publicKey.js';
import type { IdentifierShape, PayloadShape, ProofShape, TokenShape } from '../schemes/scheme.js';
import { identifierIn } from '../schemes/scheme.js';
import { decodeBase64url, MAX_SIGNATURE_LENGTH, type HmacHash } from '../signature.js';
import type { Credentials } from '../types.js';

export type Encoding = 'hex' | 'base64' | 'base64url';

/** A signature's bytes, and the encoding they arrived in. */
export interface LenientSignature {
  bytes: Buffer;
  encoding: Encoding;
}

/** A signed time as it arrived: where it is, and its value (of any type). */
export interface SignedTime {
  field: string;
  value: unknown;
}

export interface PayloadSubject {
  kind: 'payload';
  shape: PayloadShape;
  customer: FlatObject;
  /** customer arrived as the JSON text rather than the object. */
  sentAsString: string | undefined;
  signature: LenientSignature | undefined;
  time: SignedTime;
}

export interface IdentifierSubject {
  kind: 'identifier';
  shape: IdentifierShape;
  /** The wire field holding the signed identifier, and its value. */
  field: string;
  value: string;
  /** Other identifiers the request carries, which a site may have hashed instead. */
  others: ReadonlyArray<readonly [field: string, value: string]>;
  signature: LenientSignature | undefined;
}

export interface TokenSubject {
  kind: 'token';
  shape: TokenShape;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signingInput: string;
  /** The hash the header's alg names, when it is an HMAC. */
  hash: HmacHash | undefined;
  /** Some part is standard base64 (`+`, `/`, `=`), not base64url. */
  standardBase64: boolean;
  signature: LenientSignature | undefined;
  time: SignedTime;
}

export type Subject = PayloadSubject | IdentifierSubject | TokenSubject;

/** The proof as far as it can be read, or undefined when it is beyond reading (or beyond the scheme's limits). */
export function readProof(shape: ProofShape, credentials: Credentials): Subject | undefined {
  switch (shape.kind) {
    case 'payload':
      return readPayload(shape, credentials);
    case 'identifier':
      return readIdentifier(shape, credentials);
    case 'token':
      return readToken(shape, credentials);
    default:
      return unknownKind(shape);
  }
}

/** Unreachable: a new kind of proof fails to compile until it is read here. */
function unknownKind(shape: never): never {
  throw new TypeError(`chat-identity: no reader for proofs of kind ${JSON.stringify((shape as ProofShape).kind)}.`);
}

/** The object whose field names a site may have got wrong, and how a detail prefixes them. */
export function namedFields(
  shape: ProofShape,
  credentials: Credentials,
  subject: Subject | undefined,
): { source: unknown; prefix: string } {
  switch (shape.kind) {
    case 'payload': {
      const object = credentials[shape.object];
      return { source: typeof object === 'string' ? undefined : object, prefix: `${shape.object}.` };
    }
    case 'identifier':
      return { source: credentials, prefix: '' };
    case 'token':
      return { source: subject?.kind === 'token' ? subject.claims : undefined, prefix: 'claim ' };
  }
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL_PADDED = /^[A-Za-z0-9_-]+={0,2}$/;

/** A hex signature, or the base64 a site sent by mistake. */
function readHexSignature(value: unknown): LenientSignature | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SIGNATURE_LENGTH) return undefined;
  if (HEX.test(value) && value.length % 2 === 0) return { bytes: Buffer.from(value, 'hex'), encoding: 'hex' };
  if (BASE64.test(value)) return { bytes: Buffer.from(value, 'base64'), encoding: 'base64' };
  if (BASE64URL_PADDED.test(value)) return { bytes: Buffer.from(value, 'base64url'), encoding: 'base64url' };
  return undefined;
}

/** A JWT signature: base64url, or the hex or padded base64 of a hand-made token. */
function readTokenSignature(part: string): LenientSignature | undefined {
  if (part.length === 0 || part.length > MAX_SIGNATURE_LENGTH) return undefined;
  if (HEX.test(part) && [64, 96, 128].includes(part.length)) return { bytes: Buffer.from(part, 'hex'), encoding: 'hex' };
  const url = decodeBase64url(part);
  if (url) return { bytes: url, encoding: 'base64url' };
  if (BASE64.test(part)) return { bytes: Buffer.from(part, 'base64'), encoding: 'base64' };
  return undefined;
}

function readPayload(shape: PayloadShape, credentials: Credentials): PayloadSubject | undefined {
  let customer = credentials[shape.object];
  let sentAsString: string | undefined;
  if (typeof customer === 'string') {
    if (customer.length > shape.maxLength) return undefined;
    try {
      sentAsString = customer;
      customer = JSON.parse(customer);
    } catch {
      return undefined;
    }
  }
  if (shape.shapeProblem(customer) !== undefined) return undefined;
  const flat = customer as FlatObject;
  if (longestSpellingLength(canonicalJson(flat)) > shape.maxLength) return undefined;
  return {
    kind: 'payload',
    shape,
    customer: flat,
    sentAsString,
    signature: readHexSignature(credentials[shape.signatureField]),
    time: { field: `${shape.object}.${shape.time}`, value: flat[shape.time] },
  };
}

function readIdentifier(shape: IdentifierShape, credentials: Credentials): IdentifierSubject | undefined {
  // In priority order: the first present is the one the verifier hashes; the carried ones come after.
  const identifiers = shape.identifiers.flat();
  const present = [...identifiers, ...shape.carried].flatMap((field) => {
    const value = identifierIn(valueAt(credentials, field));
    return value === undefined ? [] : [[field, value] as const];
  });
  const [first, ...others] = present;
  if (!first || !identifiers.includes(first[0])) return undefined;
  return {
    kind: 'identifier',
    shape,
    field: first[0],
    value: first[1],
    others,
    signature: readHexSignature(credentials[shape.signatureField]),
  };
}

/** The value at a dotted path (`user_metadata.email`), through plain objects only. */
function valueAt(credentials: Credentials, path: string): unknown {
  const [head, ...rest] = path.split('.');
  let value = credentials[head!];
  for (const key of rest) value = isPlainObject(value) ? value[key] : undefined;
  return value;
}

function readToken(shape: TokenShape, credentials: Credentials): TokenSubject | undefined {
  const token = credentials[shape.field];
  if (typeof token !== 'string' || token.length > shape.maxLength) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let standardBase64 = false;
  const json = (part: string): Record<string, unknown> | undefined => {
    let bytes = decodeBase64url(part);
    if (!bytes && BASE64.test(part)) {
      bytes = Buffer.from(part, 'base64');
      standardBase64 = true;
    }
    if (!bytes) return undefined;
    try {
      const value: unknown = JSON.parse(bytes.toString('utf8'));
      return isPlainObject(value) ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const sent = json(headerPart);
  const claims = json(payloadPart);
  if (!sent || !claims) return undefined;
  const header = { ...sent, alg: algorithmNamed(sent.alg) }; // as the verifier reads it: "Ed25519" is EdDSA
  const signature = readTokenSignature(signaturePart);
  if (signature?.encoding === 'base64') standardBase64 = true;
  const hash = typeof header.alg === 'string' && Object.hasOwn(shape.hashes, header.alg) ? shape.hashes[header.alg] : undefined;
  return {
    kind: 'token',
    shape,
    header,
    claims,
    signingInput: `${headerPart}.${payloadPart}`,
    hash,
    standardBase64,
    signature,
    time: { field: shape.time, value: claims[shape.time] },
  };
}
