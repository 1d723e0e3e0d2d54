/**
 * `jwt` (seed 003): a compact JWS signed with HS256 (HS384 / HS512 only when listed in
 * `algorithms`), claims `externalId` (or `external_id`, `sub`) and/or `email`, and `iat` within
 * 15 minutes. Sent as `Authorization: Bearer <jwt>` or as the body field `token`. When both
 * email and externalId are present, email is the identity key, as the seed says.
 *
 * Or signed with the site's private key (ES256, EdDSA, RS256, PS256), verified with its public key
 * or JWKS: the key decides the algorithm, the header's kid selects the key (keySelection.ts).
 *
 * Verified with node:crypto and a strict parser instead of a JWT library: the HMAC is the whole
 * cost (a few µs), where jose's jwtVerify costs 40–75 µs and jsonwebtoken ~425 µs per token; a
 * public-key token costs its one crypto.verify, and little more (bench/core.mjs).
 *
 * @example
 * ```ts
 * const token = signJwt({ externalId: String(user.id), email: user.email }, secret);
 * ```
 */
import { isUtf8 } from 'node:buffer';
import { describe, fullySignedContact, isPlainObject, optionalString, readAttributes } from '../../contact.js';
import { algorithmNamed, MAX_KID_LENGTH, PUBLIC_KEY_ALGORITHMS } from '../../jwks/publicKey.js';
import { Rejection, reject } from '../../rejection.js';
import { decodeBase64url, requireDigestSize, type HmacHash } from '../../signature.js';
import type { Credentials, HmacJwtAlgorithm, JwtAlgorithm } from '../../types.js';
import { bodyFields, identifierIn, verifiedIdentity } from '../scheme.js';
import type { ParsedProof, Scheme, SchemeFacts, SchemeSettings } from '../scheme.js';
import { checkSigningTime, signingTimePolicy } from '../signingTime.js';
import { acceptedAlgorithms, signingKeyFor } from './keySelection.js';

/** Longer tokens are refused unread. */
export const MAX_TOKEN_LENGTH = 8192;
/** Seconds a live key's token stays valid when `maxAge` is not set: the seed's 15 minutes. */
const DEFAULT_MAX_AGE = 900;

/** The hash of each HMAC algorithm this scheme knows. */
export const HASHES: Readonly<Record<HmacJwtAlgorithm, HmacHash>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
export const HMAC_ALGORITHMS = Object.keys(HASHES) as HmacJwtAlgorithm[];
/** Every algorithm this scheme knows: HMAC with a shared secret, or a public key's own. */
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = [...HMAC_ALGORITHMS, ...PUBLIC_KEY_ALGORITHMS];
/** Accepted when `algorithms` is not set: HS256 by a secret, or a public key's own algorithm (the key decides). */
const DEFAULT_ALGORITHMS: readonly string[] = ['HS256', ...PUBLIC_KEY_ALGORITHMS];
/** The size of an ES256 (r and s, 32 bytes each) or Ed25519 signature. */
const FIXED_SIGNATURE_BYTES = 64;

/** Registered claims (RFC 7519) and the identity claims: none of them is an attribute. */
const NOT_ATTRIBUTES = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'externalId', 'external_id', 'email', 'name', 'phone']);

export interface JwtProof extends ParsedProof {
  signingInput: string;
  signature: Buffer;
  /** The header's alg, one this verifier knows. */
  alg: JwtAlgorithm;
  /** The HMAC hash of an HMAC alg; undefined for a public-key alg. */
  hash: HmacHash | undefined;
  /** The header's kid: the key it names (`keyId`, for the key ring). */
  keyId: string | undefined;
  claims: Record<string, unknown>;
  iat: number;
  externalId?: string | undefined;
  email?: string | undefined;
  name?: string | undefined;
  phone?: string | undefined;
  attributes: Record<string, unknown>;
}

const BEARER = /^bearer /i;

const facts: SchemeFacts = {
  defaultMaxAge: DEFAULT_MAX_AGE,
  proof: {
    kind: 'token',
    field: 'token',
    time: 'iat',
    identifiers: [['email'], ['externalId', 'external_id', 'sub']],
    maxLength: MAX_TOKEN_LENGTH,
    hashes: HASHES,
    accepted: acceptedAlgorithms,
  },
  nearMisses: { externalId: ['userId', 'user_id', 'uid', 'id'], email: ['emailAddress', 'mail'], iat: ['issuedAt', 'issued_at'] },
  fieldNames: 'externalId or email, and iat',
  signedData: 'the base64url header and claims, joined by a dot',
};

/** Checks the token's shape: the verifier's `parse`, and signJwt's check before it signs. */
export function parseJwt(fields: Credentials, settings: Pick<SchemeSettings, 'algorithms'>): JwtProof {
  const { token } = fields;
  if (fields.bodyToken !== undefined)
    reject('MALFORMED_IDENTITY', 'The token was sent both in the Authorization header and in the body; send it once.');
  if (typeof token !== 'string') reject('MALFORMED_IDENTITY', `The token must be a string, not ${describe(token)}.`);
  if (token.length > MAX_TOKEN_LENGTH) reject('MALFORMED_IDENTITY', `The token is longer than ${MAX_TOKEN_LENGTH} characters.`);
  // Two dots, found in place: no array of parts, and the signing input is a slice of the token.
  const firstDot = token.indexOf('.');
  const secondDot = firstDot === -1 ? -1 : token.indexOf('.', firstDot + 1);
  if (secondDot === -1 || token.indexOf('.', secondDot + 1) !== -1) {
    reject('MALFORMED_IDENTITY', 'A JWT has three base64url parts separated by dots (header.payload.signature).');
  }
  const headerPart = token.slice(0, firstDot);
  const payloadPart = token.slice(firstDot + 1, secondDot);
  const signaturePart = token.slice(secondDot + 1);

  const header = decodeHeader(headerPart);
  const alg = header.alg;
  if (typeof alg !== 'string') reject('MALFORMED_IDENTITY', 'The JWT header has no alg.');
  const accepted: readonly string[] = settings.algorithms ?? DEFAULT_ALGORITHMS;
  if (!accepted.includes(alg)) {
    // No list can hold "none" (src/config.ts), so only a refused alg is asked whether it is "none".
    if (alg.toLowerCase() === 'none') reject('INVALID_SIGNATURE', 'Unsigned tokens (alg "none") are never accepted.');
    const which = settings.algorithms ? accepted.join(', ') : 'HS256 with a shared secret, or the algorithm of a configured public key';
    reject('INVALID_SIGNATURE', `The token is signed with ${JSON.stringify(alg)}; this verifier accepts ${which}.`);
  }
  if (header.crit !== undefined) reject('MALFORMED_IDENTITY', 'The JWT header lists critical extensions (crit); none are supported.');
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH)) {
    reject('MALFORMED_IDENTITY', `The JWT header's kid must be a string of at most ${MAX_KID_LENGTH} characters.`);
  }
  const hash = Object.hasOwn(HASHES, alg) ? HASHES[alg as HmacJwtAlgorithm] : undefined;

  const signature = decodeBase64url(signaturePart);
  if (signature === undefined) notBase64url('signature', signaturePart);
  if (hash !== undefined) requireDigestSize(signature, hash, 'The JWT signature', 'base64url');
  else if ((alg === 'ES256' || alg === 'EdDSA') && signature.length !== FIXED_SIGNATURE_BYTES) {
    const form = alg === 'ES256' ? 'r and s, 32 bytes each, not DER' : 'Ed25519';
    reject('INVALID_SIGNATURE', `An ${alg} signature is ${FIXED_SIGNATURE_BYTES} bytes (${form}); this one has ${signature.length}.`);
  }

  const claims = decodeJsonPart(payloadPart, 'payload');
  if (claims.iat === undefined)
    reject('MISSING_REQUIRED_FIELD', 'The token has no iat claim; jsonwebtoken adds it unless noTimestamp is set.');
  // Each claim read by its name, not `claims[name]` over a list: a keyed read of a parsed object was
  // the costliest line of parseJwt in a profile.
  requireNumericDate(claims.iat, 'iat');
  requireNumericDate(claims.exp, 'exp');
  requireNumericDate(claims.nbf, 'nbf');
  let idClaim = 'externalId';
  let id = claims.externalId;
  if (id === undefined && claims.external_id !== undefined) [idClaim, id] = ['external_id', claims.external_id];
  else if (id === undefined && claims.sub !== undefined) [idClaim, id] = ['sub', claims.sub];
  if (typeof id === 'number') reject('MALFORMED_IDENTITY', `${idClaim} must be a string: sign String(user.id).`);
  const externalId = optionalString(id, idClaim);
  const email = optionalString(claims.email, 'email');
  if (externalId === undefined && email === undefined)
    reject('MISSING_REQUIRED_FIELD', 'The token needs an externalId (or external_id, sub) or an email claim.');
  return {
    claimedIdentity: email ?? externalId!,
    signingInput: token.slice(0, secondDot),
    signature,
    alg: alg as JwtAlgorithm,
    hash,
    keyId: kid as string | undefined,
    claims,
    iat: claims.iat as number,
    externalId,
    email,
    name: optionalString(claims.name, 'name'),
    phone: optionalString(claims.phone, 'phone'),
    attributes: readAttributes(claims, 'claims', NOT_ATTRIBUTES),
  };
}

export const jwt: Scheme<JwtProof> = {
  name: 'jwt',
  facts,

  /** The Bearer token and the body's `token`; sending both is refused in `parse` (RFC 6750 §2). */
  credentials(request) {
    const header = request.headers?.authorization;
    const bodyToken = bodyFields(request)?.token;
    // Another auth scheme (Basic, ...) is not ours; a header that is not a string is kept for parse to refuse.
    // `Bearer ` as nearly every client spells it is found without the case-blind regex (a profile's costliest line of a verify outside the HMAC).
    const bearer =
      typeof header !== 'string' ? header : header.startsWith('Bearer ') || BEARER.test(header) ? header.slice(7).trim() : undefined;
    if (bearer === undefined) return bodyToken === undefined ? undefined : { token: bodyToken };
    return bodyToken === undefined ? { token: bearer } : { token: bearer, bodyToken };
  },

  presence(fields) {
    return fields.token === undefined ? 0 : 2;
  },

  claimedIdentity(fields) {
    const payload = typeof fields.token === 'string' && fields.token.length <= MAX_TOKEN_LENGTH ? fields.token.split('.')[1] : undefined;
    const bytes = payload === undefined ? undefined : decodeBase64url(payload);
    let claims: unknown;
    try {
      claims = bytes && JSON.parse(bytes.toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isPlainObject(claims)) return undefined;
    return identifierIn(claims.email) ?? identifierIn(claims.externalId ?? claims.external_id ?? claims.sub);
  },

  parse: parseJwt,

  verify(proof, context) {
    const key = signingKeyFor(proof, context.keys);
    if (key instanceof Rejection) return key;
    const { settings } = context;
    const now = context.now / 1000;
    checkSigningTime(proof.iat, 'iat', key, context, DEFAULT_MAX_AGE);
    const { exp, nbf, iss, aud } = proof.claims;
    if (typeof exp === 'number' && now - settings.clockTolerance >= exp) {
      reject('SIGNATURE_EXPIRED', `The token expired ${Math.floor(now - exp)} seconds ago (exp).`, key.test);
    }
    if (typeof nbf === 'number' && now + settings.clockTolerance < nbf) {
      reject('SIGNATURE_EXPIRED', `The token is not valid for another ${Math.ceil(nbf - now)} seconds (nbf).`, key.test);
    }
    if (settings.issuer && !(typeof iss === 'string' && settings.issuer.includes(iss))) {
      reject('INVALID_SIGNATURE', 'The token iss claim is not an accepted issuer.', key.test);
    }
    if (settings.audience) {
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.some((a) => typeof a === 'string' && settings.audience!.includes(a))) {
        reject('INVALID_SIGNATURE', 'The token aud claim names no accepted audience.', key.test);
      }
    }
    const contact = fullySignedContact(proof, proof.email !== undefined ? 'email' : 'externalId');
    return verifiedIdentity('jwt', contact, key, context, new Date(proof.iat * 1000));
  },

  // The algorithms as parse resolves them: unset and the default list spelt out are one policy.
  policy: (settings) => ({
    ...signingTimePolicy(settings, DEFAULT_MAX_AGE),
    algorithms: settings.algorithms ?? DEFAULT_ALGORITHMS,
    issuer: settings.issuer,
    audience: settings.audience,
  }),
};

/** What parse reads of a header: `jku`, `x5u`, `jwk` and the rest are never read (keys come from the configuration). */
interface JwtHeader {
  alg: unknown;
  kid: unknown;
  crit: unknown;
}

/**
 * Decoded headers by their base64url text. Nearly every token a site signs carries the same
 * header, so decoding it once saves a base64url pass and a JSON.parse per token. Bounded: an
 * attacker sending endless distinct headers only ever fills it again.
 */
const HEADER_CACHE_SIZE = 16;
const decodedHeaders = new Map<string, JwtHeader>();

/** The header decoded last: a site's tokens nearly all carry it, and comparing it costs less than hashing it for the map. */
let lastHeaderPart: string | undefined;
let lastHeader: JwtHeader | undefined;

function decodeHeader(part: string): JwtHeader {
  if (part === lastHeaderPart) return lastHeader!;
  let header = decodedHeaders.get(part);
  if (header === undefined) {
    const decoded = decodeJsonPart(part, 'header');
    header = { alg: algorithmNamed(decoded.alg), kid: decoded.kid, crit: decoded.crit };
    if (decodedHeaders.size >= HEADER_CACHE_SIZE) decodedHeaders.clear();
    decodedHeaders.set(part, header);
  }
  lastHeaderPart = part;
  lastHeader = header;
  return header;
}

/** Refuses a part that is not base64url, naming what usually put the stray characters there. */
function notBase64url(what: 'header' | 'payload' | 'signature', part: string): never {
  const why = /^bearer\s/i.test(part)
    ? ': the token starts with "Bearer "; send the token alone here (the scheme word goes only in the Authorization header)'
    : /\s/.test(part)
      ? ': it holds a space or a line break (a token copied with its newline?)'
      : '';
  reject('MALFORMED_IDENTITY', `The JWT ${what} is not base64url${why}.`);
}

/** A time claim, when present, is a NumericDate: a finite number of seconds. */
function requireNumericDate(value: unknown, claim: 'iat' | 'exp' | 'nbf'): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
    reject('MALFORMED_IDENTITY', `The ${claim} claim must be a number of seconds (NumericDate), not ${describe(value)}.`);
  }
}

function decodeJsonPart(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  const bytes = decodeBase64url(part);
  if (bytes === undefined) notBase64url(what, part);
  // Decoding would replace what is not UTF-8 with U+FFFD: two tokens signed over different bytes
  // would then read as one identity (RFC 7515 §5.2 asks for UTF-8).
  if (!isUtf8(bytes)) reject('MALFORMED_IDENTITY', `The JWT ${what} is not UTF-8 text.`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    reject('MALFORMED_IDENTITY', `The JWT ${what} is not JSON.`);
  }
  if (!isPlainObject(value)) reject('MALFORMED_IDENTITY', `The JWT ${what} must be a JSON object, not ${describe(value)}.`);
  return value;
}
