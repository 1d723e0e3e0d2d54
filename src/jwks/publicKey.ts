/**
 * Public keys for `jwt`, read with node:crypto (synchronously, so that a bad key is refused when
 * the verifier is built), each with the one algorithm it verifies. The key decides the algorithm:
 * a JWK's `alg`, else the one configured beside the key, else the key's type where that is
 * unambiguous (EC P-256: ES256, Ed25519: EdDSA; "Ed25519" is read as EdDSA). An RSA key verifies
 * RS256 or PS256, so without an `alg` it would let the token's header choose (Hono's
 * CVE-2026-22818): it is refused instead.
 *
 * Never a private key (whoever holds the chat backend's configuration could then sign any
 * identity), never a shared secret (`kty: "oct"`), never an RSA key under 2048 bits (RFC 7518 §3.3),
 * nor a key for which anyone can write signatures: an RSA exponent of 1, an Ed25519 point of small order.
 *
 * @example
 * ```ts
 * const read = readPublicKey(jwk, { alg: undefined });
 * if ('problem' in read) throw new TypeError(read.problem); // "an RSA key without alg: ..."
 * read.alg; // 'ES256'
 * ```
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import type { PublicKeyAlgorithm } from '../types.js';

export const PUBLIC_KEY_ALGORITHMS: readonly PublicKeyAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'PS256'];

/**
 * An algorithm as named, in the name this package uses: RFC 9864 calls EdDSA over Ed25519 "Ed25519"
 * (newer jose signs so when asked), and Ed25519 is the only EdDSA verified here, so "Ed25519" reads
 * as "EdDSA" wherever an alg is named: a token's header, a JWK, beside a key or set, `algorithms`.
 */
export function algorithmNamed(alg: unknown): unknown {
  return alg === 'Ed25519' ? 'EdDSA' : alg;
}

/** RSA keys shorter than this are refused (RFC 7518 §3.3: 2048 bits or larger MUST be used). */
export const MIN_RSA_BITS = 2048;
/** Longer RSA keys are refused: OpenSSL verifies no signature of a modulus over 16,384 bits. */
export const MAX_RSA_BITS = 16_384;
/**
 * An RSA exponent at or above this is refused: a long one slows every verify (an exponent near 2^256
 * made a 3072-bit key's verify ten times as costly). Go's crypto/rsa refuses them above 2^31 − 1;
 * keys use 65537, rarely 3.
 */
const RSA_EXPONENT_CEILING = 2n ** 32n;

/** Curve25519's prime: an Ed25519 key is the y coordinate of a point, below it, with x's sign in the top bit. */
const P25519 = 2n ** 255n - 19n;
/** The y of two of the four Ed25519 points of order 8 (the other two have P25519 minus it). */
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
/**
 * The y coordinates of Ed25519's 8 points of small order (its cofactor is 8): the identity (1), order
 * 2 (p − 1), order 4 (0) and order 8. OpenSSL takes any of them as a public key, and then a signature
 * whose R is such a point and whose S is 0 verifies for one message in a few: tokens forged with no
 * private key, against a zero-filled or placeholder key for one.
 */
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([1n, P25519 - 1n, 0n, ORDER_8_Y, P25519 - ORDER_8_Y]);

/** Whether an Ed25519 public key is a point of small order, or a y not below the prime (RFC 8032 §5.1.3 decodes none). */
function ed25519Forgeable(key: KeyObject): boolean {
  const encoded = Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url');
  if (encoded.length !== 32) return true;
  encoded[31]! &= 0x7f; // x's sign
  const y = BigInt(`0x${Buffer.from(encoded).reverse().toString('hex')}`);
  return y >= P25519 || SMALL_ORDER_Y.has(y);
}
/** Longer kids are refused: a kid is a label, and one arrives with every token. */
export const MAX_KID_LENGTH = 256;

/** The salt PS256 signs with: the size of its SHA-256 hash (RFC 7518 §3.5), as src/signature.ts verifies. */
const PS256_SALT_BYTES = 32;

/** JWK members that only a private or secret key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A public key, read, with the algorithm it verifies. */
export interface PublicKey {
  readonly material: KeyObject;
  readonly alg: PublicKeyAlgorithm;
  /** The JWK's own kid, when it has one. */
  readonly kid?: string;
}

/** Why a key cannot verify, in words for the operator (never key material), and what is known of it. */
export interface KeyProblem {
  readonly problem: string;
  readonly kid?: string;
  /** An RSA key's size, when it is too short (the diagnosis' `rsa-key-too-short`). */
  readonly bits?: number;
}

export interface ReadOptions {
  /** The algorithm configured beside the key. */
  alg?: unknown;
  /**
   * `'required'` (a single key): the configured alg must agree with the JWK's own. `'default'` (a
   * key set): it applies to the keys that state none and fit it, and a key's own alg wins.
   */
  configured?: 'required' | 'default';
}

/** Reads PEM, a JWK or a KeyObject as a public key with its algorithm, or says why it cannot be one. */
export function readPublicKey(value: unknown, options: ReadOptions = {}): PublicKey | KeyProblem {
  const read = readMaterial(value);
  if ('problem' in read) return read;
  const { material, jwk } = read;
  const kid = jwk?.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH)) {
    return { problem: `its kid must be a string of at most ${MAX_KID_LENGTH} characters` };
  }
  const named = kid === undefined ? {} : { kid };
  const alg = algorithmOf(material, jwk?.alg, options);
  if (typeof alg !== 'string') return { ...named, ...alg };
  return { material, alg, ...named };
}

/** In words: "an EC P-384 key", "an RSA key of 1024 bits", "an Ed448 key". */
export function describeKey(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  if (type === 'ec') {
    const curve = details?.namedCurve ?? 'unknown-curve';
    return `an EC ${CURVE_NAMES[curve] ?? curve} key`;
  }
  if (type === 'rsa' || type === 'rsa-pss') return `an ${type === 'rsa' ? 'RSA' : 'RSA-PSS'} key of ${details?.modulusLength ?? '?'} bits`;
  if (type === 'ed25519') return 'an Ed25519 key';
  if (type === 'ed448') return 'an Ed448 key';
  return `a ${type ?? 'secret'} key`;
}

const CURVE_NAMES: Readonly<Record<string, string>> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
  secp256k1: 'secp256k1',
};

type Material = { material: KeyObject; jwk?: Record<string, unknown> } | KeyProblem;

function readMaterial(value: unknown): Material {
  if (value instanceof KeyObject) {
    if (value.type === 'private') return { problem: PRIVATE };
    if (value.type === 'secret') return { problem: SECRET };
    return { material: value };
  }
  if (typeof value === 'string') {
    if (/PRIVATE KEY-----/.test(value)) return { problem: PRIVATE };
    if (!/^\s*-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(value)) {
      return { problem: 'it is not a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate, nor a JWK' };
    }
    try {
      return { material: createPublicKey(value) };
    } catch {
      return { problem: 'its PEM cannot be read as a public key' };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problem: 'it must be PEM text, a JWK object or a KeyObject' };
  }
  const jwk = value as Record<string, unknown>;
  const kid = typeof jwk.kid === 'string' && jwk.kid.length <= MAX_KID_LENGTH ? { kid: jwk.kid } : {};
  if (jwk.kty === 'oct') return { ...kid, problem: SECRET };
  if (typeof jwk.kty !== 'string') return { ...kid, problem: 'it has no kty' };
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) return { ...kid, problem: PRIVATE_JWK };
  if (jwk.use !== undefined && jwk.use !== 'sig') return { ...kid, problem: `its use is ${JSON.stringify(jwk.use)}, not "sig"` };
  const ops = jwk.key_ops;
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify')))
    return { ...kid, problem: 'its key_ops do not include "verify"' };
  try {
    // Only the members node:crypto reads: the others (x5c, ...) are never trusted for anything.
    return { material: createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }), jwk };
  } catch {
    return { ...kid, problem: `it cannot be read as a ${jwk.kty} public key` };
  }
}

const PRIVATE =
  'it is a private key: configure only the public key (the private key stays on the site that signs; ' +
  'whoever holds it can sign any identity)';
const PRIVATE_JWK =
  'it holds private members (d, p, q, ...): a JWK set must publish public keys only, and the chat backend needs nothing more';
const SECRET =
  'it is a shared secret (kty "oct"), not a public key: give a secret as { secret }, never among public keys ' +
  '(HMAC and public keys never share a ring)';

/** The algorithms a key's type allows, most specific first. */
function algorithmsFor(key: KeyObject): readonly PublicKeyAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? ['ES256'] : [];
    case 'ed25519':
      return ['EdDSA'];
    case 'rsa':
      return ['RS256', 'PS256'];
    case 'rsa-pss':
      return ['PS256'];
    default:
      return [];
  }
}

/**
 * What an RSA-PSS key's parameters restrict it to that PS256 is not, in words; undefined when
 * they allow PS256 (or it has none). OpenSSL throws on every signature checked with such a key.
 */
function pssParametersBesidePs256(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType !== 'rsa-pss') return undefined;
  const { hashAlgorithm, mgf1HashAlgorithm, saltLength } = key.asymmetricKeyDetails ?? {};
  const restrictions = [
    hashAlgorithm !== undefined && hashAlgorithm !== 'sha256' && `the hash ${hashAlgorithm}`,
    mgf1HashAlgorithm !== undefined && mgf1HashAlgorithm !== 'sha256' && `MGF1 with ${mgf1HashAlgorithm}`,
    // The key's saltLength is the least it takes.
    saltLength !== undefined && saltLength > PS256_SALT_BYTES && `salts of ${saltLength} bytes or more`,
  ].filter((restriction) => restriction !== false);
  return restrictions.length === 0 ? undefined : restrictions.join(', ');
}

function algorithmOf(key: KeyObject, statedName: unknown, options: ReadOptions): PublicKeyAlgorithm | KeyProblem {
  const stated = algorithmNamed(statedName);
  const allowed = algorithmsFor(key);
  const kind = describeKey(key);
  if (allowed.length === 0) return { problem: `${kind} is not supported: ES256 (EC P-256), EdDSA (Ed25519), RS256 or PS256 (RSA)` };
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS)
    return { problem: `${kind}: RSA keys under ${MIN_RSA_BITS} bits are refused (RFC 7518 §3.3)`, bits };
  if (bits !== undefined && bits > MAX_RSA_BITS) return { problem: `${kind}: OpenSSL verifies no RSA signature over ${MAX_RSA_BITS} bits` };
  // e = 1 makes the signature the padded hash itself, which anyone can write: every token would verify.
  const exponent = key.asymmetricKeyDetails?.publicExponent;
  if (exponent !== undefined && (exponent < 3n || exponent % 2n === 0n || exponent >= RSA_EXPONENT_CEILING))
    return {
      problem: `${kind} has a public exponent of ${exponent < 1n << 64n ? exponent : 'over 64 bits'}: an RSA exponent is odd, from 3 to below 2^32 (65537 as a rule)`,
    };
  if (key.asymmetricKeyType === 'ed25519' && ed25519Forgeable(key))
    return {
      problem: `${kind} is a point of small order, for which anyone can write signatures, or not canonically encoded (a placeholder key?)`,
    };
  const pss = pssParametersBesidePs256(key);
  if (pss !== undefined)
    return { problem: `${kind} is restricted to ${pss}, which PS256 (SHA-256, MGF1 with SHA-256, a 32-byte salt) never uses` };
  const fit = (alg: unknown, whose: string): KeyProblem | undefined => {
    if (alg === undefined) return undefined;
    if (!PUBLIC_KEY_ALGORITHMS.includes(alg as PublicKeyAlgorithm)) {
      return { problem: `${whose} alg ${JSON.stringify(alg)} is not one this verifier takes (${PUBLIC_KEY_ALGORITHMS.join(', ')})` };
    }
    return allowed.includes(alg as PublicKeyAlgorithm) ? undefined : { problem: `${whose} alg ${alg} does not fit ${kind}` };
  };
  const statedProblem = fit(stated, 'its');
  if (statedProblem) return statedProblem;
  const { configured: how = 'required' } = options;
  const configured = algorithmNamed(options.alg);
  if (how === 'required') {
    const configuredProblem = fit(configured, 'the configured');
    if (configuredProblem) return configuredProblem;
    if (stated !== undefined && configured !== undefined && stated !== configured) {
      return { problem: `the JWK says alg ${String(stated)}, the configuration ${String(configured)}` };
    }
  }
  const fallback = how === 'default' && allowed.includes(configured as PublicKeyAlgorithm) ? (configured as PublicKeyAlgorithm) : undefined;
  const alg =
    (stated as PublicKeyAlgorithm | undefined) ?? (how === 'required' ? (configured as PublicKeyAlgorithm | undefined) : undefined);
  const chosen = alg ?? (allowed.length === 1 ? allowed[0] : fallback);
  if (chosen === undefined) {
    return {
      problem:
        `${kind} without alg: RS256 or PS256 is ambiguous, and the token's header must not choose; ` +
        'state alg in the JWK, or beside the key (alg: "RS256")',
    };
  }
  return chosen;
}
