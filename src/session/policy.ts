/**
 * The proof policy a session is bound to: a digest of every option that decides whether a proof
 * verifies here. Two verifiers that share a session key accept each other's sessions only when
 * their digests agree, so a laxer one (no `audience`, a longer `maxAge`, test keys allowed, another
 * scheme) cannot start sessions a stricter one then accepts. Computed once, at construction.
 *
 * What it covers: the schemes taken (as a set: their order only says which proof is read when a
 * request carries several, not whether one verifies), `allowTestKeys`, and each scheme's own
 * settings with their defaults applied (`Scheme.policy`): `maxAge`, `testMaxAge` and
 * `clockTolerance` for the schemes that carry a signed time; `algorithms`, `issuer` and `audience`
 * for `jwt`. Lists are sets (sorted, without repeats), and a setting no scheme here reads is left
 * out, so options that verify the same proofs make the same digest. And the session's windows
 * (`idle`, `maxAge`): a verifier keeps the record of a logout only as long as its own windows let the
 * credential live, so one with longer windows sharing the store would accept it again after that.
 *
 * What it leaves out: the keys (claim `f` binds the site key, and every request finds it again in
 * the tenant's keys: rotation, `expiresAt`, `test`); the tenant (claim `t`); functions it cannot
 * read (`getCredentials`, `tenant`, the keys lookup, `now`); what decides the fate of a request,
 * not of a proof (`required`, `rateLimit`, `diagnostics`); caches, timeouts, logging, `stats`; and
 * the other session options (`bind` is checked on its own).
 *
 * @example
 * ```ts
 * const policy = proofPolicyDigest(config.schemes, config.settings, config.allowTestKeys, { idle: 1800, maxAge: 86400 }); // 'Xk2p…', 16 characters
 * ```
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type FlatObject } from '../canonicalJson.js';
import type { Scheme, SchemeSettings } from '../schemes/scheme.js';

/** 96 bits of SHA-256, base64url: no one chooses a verifier's options to collide with another's. */
const DIGEST_LENGTH = 16;

export function proofPolicyDigest(
  schemes: readonly Scheme[],
  settings: SchemeSettings,
  allowTestKeys: boolean,
  windows: { readonly idle: number; readonly maxAge: number },
): string {
  const policy: FlatObject = {
    schemes: setOf(schemes.map((scheme) => scheme.name)),
    allowTestKeys,
    'session.idle': windows.idle,
    'session.maxAge': windows.maxAge,
  };
  for (const scheme of schemes) {
    for (const [name, value] of Object.entries(scheme.policy(settings))) {
      policy[`${scheme.name}.${name}`] = isList(value) ? setOf(value) : (value ?? null);
    }
  }
  return createHash('sha256').update(canonicalJson(policy)).digest('base64url').slice(0, DIGEST_LENGTH);
}

const isList = (value: unknown): value is readonly string[] => Array.isArray(value);

/** A list as a set, in one spelling: sorted, without repeats, as JSON (an issuer may hold any character). */
const setOf = (list: readonly string[]): string => JSON.stringify([...new Set(list)].sort());
