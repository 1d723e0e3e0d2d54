/**
 * A JSON Web Key Set (RFC 7517 §5), read into keys: each member the verifier can use, with its
 * algorithm (src/jwks/publicKey.ts), and the others set aside with the reason. A set is the site's
 * document: one member that cannot be used (an RSA key without `alg`, one under 2048 bits, a
 * private key published by mistake) does not stop the others from verifying (a member that is not
 * a JSON object at all makes the document no set: jose refuses it so when fetched); it is said once in
 * the log, and named by the diagnosis when a token's kid points at it.
 *
 * @example
 * ```ts
 * const read = readKeySet({ keys: [jwk] }, { test: false, url: undefined });
 * if ('problem' in read) throw new TypeError(read.problem);
 * read.keys; // SigningKey[], each with its alg and kid
 * read.info.setAside; // [{ kid: 'old', problem: 'an RSA key of 1024 bits: ...' }]
 * ```
 */
import { fingerprint } from '../keyFingerprint.js';
import type { SigningKey } from '../keyRing.js';
import type { PublicKeyAlgorithm } from '../types.js';
import { readPublicKey, type KeyProblem, type PublicKey } from './publicKey.js';

/** Sets with more members are refused whole: no site publishes that many signing keys. */
export const MAX_SET_KEYS = 100;

/** A member of a set that is never used, and why. */
export type SetAside = KeyProblem;

/** What a fetched set knows of its fetching, for the diagnosis (src/jwks/remote.ts keeps it). */
export interface FetchState {
  /** When the set in use was fetched (milliseconds since the epoch). */
  readonly fetchedAt: number | undefined;
  /** The last token kid the set lacked although fetched for that request, and when. */
  readonly lastFreshMiss: { readonly kid: string; readonly at: number } | undefined;
  /** The last token kid the cooldown refused a fetch for, and when. */
  readonly lastCooledDown: { readonly kid: string; readonly at: number } | undefined;
  /** Milliseconds between fetches for unknown kids. */
  readonly cooldown: number;
}

/** What each key of a set knows of the set: the diagnosis reads it. */
export interface KeySetInfo {
  /** The URL (origin and path) it was fetched from; undefined for a set given in the configuration. */
  readonly url: string | undefined;
  /** Every kid the set holds, whether its key is used or set aside. */
  readonly kids: readonly string[];
  readonly setAside: readonly SetAside[];
  /** For a fetched set, its fetching. */
  readonly fetched: FetchState | undefined;
}

export interface SetOptions {
  /** The algorithm of the members that state none, where it fits them. */
  alg: PublicKeyAlgorithm | undefined;
  test: boolean;
  url: string | undefined;
  fetched?: FetchState;
}

/** A set's usable keys, in the set's order, and what it holds; or why the document is not a set at all. */
export function readKeySet(document: unknown, options: SetOptions): { keys: SigningKey[]; info: KeySetInfo } | { problem: string } {
  if (!isJsonObject(document)) return { problem: 'it is not a JSON object' };
  const members = (document as { keys?: unknown }).keys;
  if (!Array.isArray(members)) return { problem: 'it has no "keys" array' };
  if (members.length > MAX_SET_KEYS) return { problem: `it holds ${members.length} keys; at most ${MAX_SET_KEYS} are read` };
  // Each member is a JWK (RFC 7517 §5): jose refuses a fetched set with one that is not an object, and a set given as it is agrees.
  const notJwk = members.findIndex((member) => !isJsonObject(member));
  if (notJwk !== -1) return { problem: `its member ${notJwk} is not a JSON object (a JWK)` };
  const keys: SigningKey[] = [];
  const setAside: SetAside[] = [];
  const kids: string[] = [];
  const info: KeySetInfo = { url: options.url, kids, setAside, fetched: options.fetched };
  for (const member of members) {
    const read = readPublicKey(member, { alg: options.alg, configured: 'default' });
    if (read.kid !== undefined) kids.push(read.kid);
    if ('problem' in read) setAside.push(read);
    else keys.push(publicSigningKey(read, { id: read.kid, test: options.test, set: info }));
  }
  return { keys, info };
}

/** The members set aside, in words for the log and the hint: `kid "old": an RSA key of 1024 bits: ...; a key: ...`. */
export function describeSetAside(setAside: readonly SetAside[]): string {
  return setAside.map((aside) => `${aside.kid === undefined ? 'a key' : `kid ${JSON.stringify(aside.kid)}`}: ${aside.problem}`).join('; ');
}

function isJsonObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A public key as the key ring holds it. */
export function publicSigningKey(
  key: PublicKey,
  extra: { id: string | undefined; test: boolean; expiresAt?: number | undefined; set?: KeySetInfo },
): SigningKey {
  const signingKey: { -readonly [K in keyof SigningKey]: SigningKey[K] } = {
    test: extra.test,
    material: key.material,
    fingerprint: fingerprint(key.material.export({ type: 'spki', format: 'der' })),
    alg: key.alg,
  };
  if (extra.id !== undefined) signingKey.id = signingKey.kid = extra.id;
  if (extra.expiresAt !== undefined) signingKey.expiresAt = extra.expiresAt;
  if (extra.set !== undefined) signingKey.set = extra.set;
  return signingKey;
}
