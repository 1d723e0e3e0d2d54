/**
 * Fingerprints of signing secrets, and the registries that use them to keep each secret to one
 * scheme. user-hash, contact-hash and HS256 jwt all MAC a string with HMAC-SHA256, so a secret that
 * verifies two schemes lets a proof of one pass as the other's (a user hash over a crafted id is a
 * valid token). Secrets are compared by fingerprint: the registries never hold a secret.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger, SchemeName } from './types.js';

/** Per process and random: a fingerprint means nothing outside this process, so it cannot be used to guess a secret offline. */
const FINGERPRINT_KEY = randomBytes(32);

/**
 * How many secrets a registry remembers beyond the key sets in use (about 150 bytes each, so
 * 1.5 MB at most). Only configured secrets and lookup answers reach it, never request data.
 */
export const REMEMBERED_SECRETS = 10_000;

/** A keyed hash of the secret's bytes, base64url. */
export function fingerprint(secret: Uint8Array): string {
  return createHmac('sha256', FINGERPRINT_KEY).update(secret).digest('base64url');
}

interface Fingerprinted {
  readonly fingerprint: string;
  readonly id?: string;
}

/**
 * Which scheme each secret of one verifier serves. A secret is held while a key set that verifies
 * with it is in use (the static keys; a cached lookup answer, until the cache disposes of it) and
 * remembered after that within REMEMBERED_SECRETS, so that once a cache entry expires a lookup
 * answer cannot hand its secret to another scheme.
 */
export class SecretSchemes {
  readonly #held = new Map<string, { readonly scheme: SchemeName; sets: number }>();
  readonly #remembered = new Map<string, SchemeName>();
  /** Secrets found serving two schemes: refused for both, whichever claims them, until `forgetShared`. */
  readonly #shared = new Map<string, readonly SchemeName[]>();

  /** The scheme a secret serves, if it serves one. */
  schemeOf(fingerprint: string): SchemeName | undefined {
    return this.#held.get(fingerprint)?.scheme ?? this.#remembered.get(fingerprint);
  }

  /** Whether a secret was met before: it serves a scheme, or was found shared. */
  knows(fingerprint: string): boolean {
    return this.#shared.has(fingerprint) || this.schemeOf(fingerprint) !== undefined;
  }

  /**
   * Records that `keys` serve `scheme`; unless one of them serves another scheme already, or was
   * found shared: that other scheme is returned, nothing recorded.
   */
  claim(keys: readonly Fingerprinted[], scheme: SchemeName): SchemeName | undefined {
    for (const key of keys) {
      const shared = this.#shared.get(key.fingerprint);
      if (shared !== undefined) return shared.find((other) => other !== scheme) ?? shared[0];
      const owner = this.schemeOf(key.fingerprint);
      if (owner !== undefined && owner !== scheme) return owner;
    }
    for (const key of keys) remember(this.#remembered, key.fingerprint, scheme);
    return undefined;
  }

  /** Marks secrets found serving both `schemes`: neither may claim them from now on. */
  markShared(keys: readonly Fingerprinted[], schemes: readonly SchemeName[]): void {
    for (const key of keys) remember(this.#shared, key.fingerprint, schemes);
  }

  /**
   * Forgets the secrets found shared, and which scheme they served: the next lookup that answers one
   * meets it as new, so it is compared with the other schemes' answers again (after a fix, it verifies).
   */
  forgetShared(): void {
    for (const fingerprint of this.#shared.keys()) this.#remembered.delete(fingerprint);
    this.#shared.clear();
  }

  /** One more key set that verifies `scheme` holds these secrets. */
  hold(keys: readonly Fingerprinted[], scheme: SchemeName): void {
    for (const key of keys) {
      const held = this.#held.get(key.fingerprint);
      if (held) held.sets += 1;
      else this.#held.set(key.fingerprint, { scheme, sets: 1 });
    }
  }

  /** A key set that held these secrets is gone. */
  release(keys: readonly Fingerprinted[]): void {
    for (const key of keys) {
      const held = this.#held.get(key.fingerprint);
      if (held && --held.sets === 0) this.#held.delete(key.fingerprint);
    }
  }

  /** Forgets remembered secrets (held ones stay): after a lookup that gave one secret to two schemes has been fixed. */
  forgetRemembered(): void {
    this.#remembered.clear();
    this.#shared.clear();
  }
}

/** The scheme each secret serves across every verifier of this process, and whether its reuse was said. */
const processWide = new Map<string, { readonly scheme: SchemeName; warned: boolean }>();

/**
 * Warns, once per secret, when a secret that one verifier uses for one scheme serves another scheme
 * elsewhere in the process. A warning, not an error: tests and apps legitimately build many verifiers.
 */
export function noteAcrossVerifiers(keys: readonly Fingerprinted[], scheme: SchemeName, logger: Logger): void {
  for (const key of keys) {
    const seen = processWide.get(key.fingerprint);
    if (seen === undefined) {
      remember(processWide, key.fingerprint, { scheme, warned: false });
    } else if (seen.scheme !== scheme && !seen.warned) {
      seen.warned = true;
      const named = key.id === undefined ? '' : ` (key id ${JSON.stringify(key.id)})`;
      logger.warn(
        `chat-identity: a secret${named} serves ${seen.scheme} and ${scheme} in two verifiers of this process, so a proof ` +
          'of one scheme may pass as the other. Give each scheme its own secret.',
      );
    }
  }
}

/**
 * Session keys of every verifier of this process. No site key may be one, in any verifier: a site
 * endpoint that signs what it is asked (visitor-hash signs any id) would otherwise mint sessions.
 */
const sessionKeysInProcess = new Map<string, true>();

/** Records session keys, once a verifier has taken them. */
export function noteSessionKeys(keys: readonly Fingerprinted[]): void {
  for (const key of keys) remember(sessionKeysInProcess, key.fingerprint, true);
}

/** Whether a secret is a session key of some verifier of this process. */
export const isSessionKeyInProcess = (fingerprint: string): boolean => sessionKeysInProcess.has(fingerprint);

/** Static site keys of every verifier of this process, with their scheme (a lookup's answers are not known at start-up). */
const staticSiteKeysInProcess = new Map<string, SchemeName>();

/** Records a verifier's static site keys. */
export function noteStaticSiteKeys(keys: readonly Fingerprinted[], scheme: SchemeName): void {
  for (const key of keys) remember(staticSiteKeysInProcess, key.fingerprint, scheme);
}

/** The scheme a secret serves as a static site key in some verifier of this process, if it serves one. */
export const siteSchemeInProcess = (fingerprint: string): SchemeName | undefined => staticSiteKeysInProcess.get(fingerprint);

/**
 * Sets `key` as the newest entry of `map`, dropping the oldest beyond REMEMBERED_SECRETS. A Map keeps
 * insertion order, so this is least-recently-written eviction with nothing allocated up front (an
 * LRUCache of this size preallocates about 160 kB, for every verifier).
 */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > REMEMBERED_SECRETS) map.delete(map.keys().next().value!);
}
