/**
 * The key ring: which secrets verify which scheme for which tenant.
 *
 * - A secret serves one scheme only: user-hash, contact-hash and HS256 jwt all MAC a string with
 *   HMAC-SHA256, so a secret shared by two of them lets a proof of one pass as the other's. A verifier
 *   with several schemes takes keys per scheme or a lookup told the scheme; one key list for several
 *   schemes, or one secret under two, is refused at construction, and a lookup that answers two
 *   schemes with one secret is refused at run time (src/keyFingerprint.ts keeps count).
 * - Keys are tried in the order given (new key first). A key whose `expiresAt` has passed is never
 *   used: that is how a rotation grace period ends. `sk_test_` secrets are test keys.
 * - A lookup is cached per (scheme, tenant): its keys for `keyCache.ttl`; failures (an unknown tenant, a
 *   throw, a timeout) for NEGATIVE_TTL at most, in a cache of their own so that junk tenants never evict
 *   a real one. Concurrent misses share one call, whose signal is aborted at `keyLookupTimeout`. An
 *   answer may name the canonical tenant (`{ tenant, keys }`), which the ring reports. `forget` drops a
 *   tenant's entries (by the name asked or the canonical one) when it rotates or revokes a key.
 * - For `jwt`, public keys instead of secrets (`{ publicKey }`, a JWKS given as it is, or
 *   `{ jwks: { url } }`, fetched and kept fresh by src/jwks/remote.ts). Secrets and public keys never
 *   share a ring: a token's `alg` can then never turn a public key into an HMAC secret (RFC 8725
 *   §2.1). A list mixing them is refused at construction, a lookup answer mixing them at run time.
 * - A token's kid selects the key (src/schemes/jwt/keySelection.ts). `configured` is told it: a kid that
 *   no key of a fetched set has makes the set fetch again, at most once per its cooldown.
 *
 * @example
 * ```ts
 * const keyRing = createKeyRing({ ...settings, schemes: ['user-hash', 'jwt'], keys: { 'user-hash': [USER_HASH_SECRET], jwt: jwtKeysOf } });
 * const { tenant, keys } = await keyRing.configured('jwt', 'acme', request); // jwtKeysOf('acme', request, { scheme: 'jwt', signal })
 * const toTry = keyRing.usable(keys, Date.now());
 * ```
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { fingerprint, isSessionKeyInProcess, noteAcrossVerifiers, noteStaticSiteKeys, SecretSchemes } from './keyFingerprint.js';
import { refuseUnknown } from './config.js';
import { describeSetAside, publicSigningKey, readKeySet, type KeySetInfo } from './jwks/keySet.js';
import { algorithmNamed, MAX_KID_LENGTH, PUBLIC_KEY_ALGORITHMS, readPublicKey } from './jwks/publicKey.js';
import { readJwksUrl, RemoteKeySet, type JwksSource } from './jwks/remote.js';
import { reject, Rejection } from './rejection.js';
import type {
  JwksInput,
  JwtAlgorithm,
  KeyInput,
  KeyLookup,
  KeysByScheme,
  Logger,
  PublicKeyAlgorithm,
  PublicKeyInput,
  RequiredMode,
  SchemeKeys,
  SchemeName,
  SigningKeyInput,
  TenantKeySet,
  VerifierOptions,
  VerifyRequest,
} from './types.js';

export interface SigningKey {
  /** The label a result reports as `keyId`. */
  readonly id?: string;
  /**
   * The kid a token names this key by: the key's own id. Kept apart from `id`, a label, so that a
   * copy of a key relabelled for reporting is still selected by the same kid.
   */
  readonly kid?: string;
  readonly test: boolean;
  /** Milliseconds since the epoch; absent for a key that does not expire. */
  readonly expiresAt?: number;
  /**
   * A shared secret (`type: 'secret'`: it prints as `SecretKeyObject`, never as the secret), or for
   * `jwt` a public key (`type: 'public'`).
   */
  readonly material: KeyObject;
  /** A keyed hash of the key's bytes (src/keyFingerprint.ts), to compare secrets without holding them. */
  readonly fingerprint: string;
  /** A public key's algorithm, the only one it verifies (the key decides). Absent for a secret: `algorithms` decides. */
  readonly alg?: PublicKeyAlgorithm;
  /** The JWKS a public key came from, when it came from one (the diagnosis reads it). */
  readonly set?: KeySetInfo;
}

export interface TenantKeys {
  /** The tenant these keys belong to: the canonical id a lookup named (`{ tenant, keys }`), else the one asked for. */
  readonly tenant: string | undefined;
  /** Every key configured for it, expired and test keys included, in the order to try. */
  readonly keys: readonly SigningKey[];
  /** The tenant's own `required`, when a lookup's answer gave one (docs/rollout.md). */
  readonly required?: RequiredMode;
}

export interface KeyRingOptions {
  keys: VerifierOptions['keys'];
  /** The verifier's schemes, validated already. */
  schemes: readonly SchemeName[];
  allowTestKeys: boolean;
  /** Default `{ max: 1000, ttl: 60_000 }`; `false` caches nothing (concurrent lookups are still shared). */
  keyCache: VerifierOptions['keyCache'];
  /** Milliseconds; default 5000. */
  keyLookupTimeout: number | undefined;
  /** `options.algorithms`, to refuse at construction a list that none of the static keys could verify. */
  algorithms?: readonly JwtAlgorithm[] | undefined;
  now: () => number;
  logger: Logger;
}

export interface KeyRing {
  /**
   * Keys of `scheme` for `tenant`: synchronously when static or cached (and any fetched key set is
   * fresh). Throws (or rejects) a KEY_UNAVAILABLE `Rejection` when the lookup failed, timed out,
   * returned nothing, returned a malformed key, or returned a secret another scheme uses, or when no
   * key set could be fetched. Hints never contain a secret. `kid`, the key a token names: a fetched
   * set that has no key of that kid is fetched again first, unless it was within its cooldown.
   */
  configured(scheme: SchemeName, tenant: string | undefined, request: VerifyRequest, kid?: string): TenantKeys | Promise<TenantKeys>;
  /** Those usable now, in the order to try (unexpired; test keys only when allowed). Throws KEY_UNAVAILABLE when none. */
  usable(keys: readonly SigningKey[], now: number): readonly SigningKey[];
  /** Forgets cached keys and cached failures of one tenant (by any name it was asked or answered by), or of all. */
  forget(tenant?: string): void;
  /** Whether `scheme`'s keys come from a lookup, which a tenant selects (static keys are the same for every tenant). */
  looksUp(scheme: SchemeName): boolean;
  /**
   * The lookup's answer for `tenant` (its canonical name and its `required`) as `configured` gives
   * it, without fetching any key set: what a request without a proof needs to know. Static keys:
   * the tenant as asked, with no `required`.
   */
  answer(scheme: SchemeName, tenant: string | undefined, request: VerifyRequest): TenantKeys | Promise<TenantKeys>;
  /** Whether `answer` would call no lookup: static keys, an answer or a failure cached, or a lookup under way. */
  answersAtOnce(scheme: SchemeName, tenant: string | undefined): boolean;
  /** The scheme a secret serves here, by fingerprint: static keys, and lookup answers held or remembered. */
  schemeOf(fingerprint: string): SchemeName | undefined;
}

export const TEST_KEY_PREFIX = 'sk_test_';

const DEFAULT_CACHE = { max: 1000, ttl: 60_000 };
/** Failures are remembered this long at most: a tenant that just got keys, or a lookup that recovered, waits no longer. */
const NEGATIVE_TTL = 5_000;
/** Fetched key sets a verifier keeps (by URL and settings); beyond it the least recently used is dropped, fetched again when needed. */
const MAX_REMOTE_SETS = 1000;
/** Distinct problems a key ring says at most (each once). */
const MAX_SAID = 1000;
const DEFAULT_LOOKUP_TIMEOUT = 5_000;
/** The fields of each kind of key object. An object with none of them is keys per scheme. */
const SECRET_FIELDS = ['secret', 'id', 'test', 'expiresAt'];
const PUBLIC_KEY_FIELDS = ['publicKey', 'alg', 'id', 'test', 'expiresAt'];
const JWKS_FIELDS = ['jwks', 'alg', 'test'];
const KEY_FIELDS = [...new Set([...SECRET_FIELDS, ...PUBLIC_KEY_FIELDS, ...JWKS_FIELDS])];
const PREFIX = 'chat-identity: ';
const ONE_SCHEME_PER_SECRET =
  'A secret may serve one scheme only: the schemes all sign with HMAC-SHA256, so what a site signs for one ' +
  '(a hash of a crafted user id, any visitor id) could pass as a proof of another.';
/** Why a site key may not be a session key (of any verifier of this process). */
const IS_A_SESSION_KEY =
  'is a session key of a verifier of this process: a site endpoint that signs what it is asked (visitor-hash signs any id) ' +
  'could then mint sessions for anyone. Give sessions a key of their own (npx chat-identity keygen).';

/** One configured key, a secret or a public key, as a SigningKey; `where` names it in errors for the operator (never the secret). */
export function toSigningKey(input: KeyInput, where: string): SigningKey {
  if (input !== null && typeof input === 'object' && 'publicKey' in input) return toPublicKey(input, where);
  if (input !== null && typeof input === 'object' && 'jwks' in input) {
    throw new TypeError(`${PREFIX}${where} is a key set (jwks) where one key is expected.`);
  }
  const spec = typeof input === 'string' ? { secret: input } : input;
  if (spec === null || typeof spec !== 'object' || typeof spec.secret !== 'string' || spec.secret.length === 0) {
    throw new TypeError(
      `${PREFIX}${where} must be a non-empty secret string or { secret, id?, test?, expiresAt? } ` +
        '(for jwt also { publicKey, alg?, id? } or { jwks }).',
    );
  }
  // A misspelt expiresAt would leave a retired key verifying for ever.
  refuseUnknown(spec, SECRET_FIELDS, where);
  // A public key is public: as an HMAC secret it lets anyone sign (RFC 8725 §2.1). Said before the
  // whitespace check, which PEM text (ending in a newline) would fail first with the wrong advice.
  if (/-----BEGIN [A-Z0-9 ]*(KEY|CERTIFICATE)-----/.test(spec.secret) || /^\s*\{[\s\S]*"kty"/.test(spec.secret)) {
    throw new TypeError(
      `${PREFIX}${where} is a key in PEM or JWK form, not a shared secret: a public key is public, so an HMAC ` +
        'made with it proves nothing (algorithm confusion, RFC 8725 §2.1). For jwt give the public key as { publicKey }.',
    );
  }
  // Refused, not trimmed: whether the site signs with the pasted newline or without it, a guess would fail quietly.
  if (/^\s|\s$/.test(spec.secret)) {
    throw new TypeError(`${PREFIX}${where} starts or ends with whitespace (a pasted newline?); remove it where the secret is stored.`);
  }
  const expiresAt = readExpiresAt(spec, where);
  const bytes = Buffer.from(spec.secret, 'utf8');
  const key: { -readonly [K in keyof SigningKey]: SigningKey[K] } = {
    test: readTest(spec, where) ?? spec.secret.startsWith(TEST_KEY_PREFIX),
    material: createSecretKey(bytes),
    fingerprint: fingerprint(bytes),
  };
  if (spec.id !== undefined) key.id = key.kid = readId(spec.id, where);
  if (expiresAt !== undefined) key.expiresAt = expiresAt;
  return key;
}

/** `{ publicKey, alg?, id?, test?, expiresAt? }` as a SigningKey; a TypeError saying why it cannot verify (never printing the key). */
function toPublicKey(spec: PublicKeyInput, where: string): SigningKey {
  refuseUnknown(spec, PUBLIC_KEY_FIELDS, where);
  const read = readPublicKey(spec.publicKey, { alg: spec.alg, configured: 'required' });
  if ('problem' in read) throw new TypeError(`${PREFIX}${where}.publicKey cannot verify tokens: ${read.problem}.`);
  const id = spec.id === undefined ? read.kid : readId(spec.id, where);
  return publicSigningKey(read, { id, test: readTest(spec, where) ?? false, expiresAt: readExpiresAt(spec, where) });
}

/** `test`, when given, is a boolean: "false" from an environment variable would otherwise make a live key a test key. */
function readTest(spec: { test?: unknown }, where: string): boolean | undefined {
  if (spec.test !== undefined && typeof spec.test !== 'boolean') throw new TypeError(`${PREFIX}${where}.test must be true or false.`);
  return spec.test;
}

function readExpiresAt(spec: SigningKeyInput | PublicKeyInput, where: string): number | undefined {
  const expiresAt = spec.expiresAt instanceof Date ? spec.expiresAt.getTime() : spec.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt)) {
    throw new TypeError(`${PREFIX}${where}.expiresAt must be a Date or milliseconds since the epoch.`);
  }
  return expiresAt;
}

function readId(id: unknown, where: string): string {
  const text = String(id);
  if (text.length > MAX_KID_LENGTH) throw new TypeError(`${PREFIX}${where}.id is longer than ${MAX_KID_LENGTH} characters.`);
  return text;
}

/** A key set to fetch, as configured. */
interface RemoteSpec {
  readonly source: JwksSource;
  readonly alg: PublicKeyAlgorithm | undefined;
  readonly test: boolean;
}

/** One scheme's keys as configured, read: the keys, and the key sets to fetch. */
interface ReadKeys {
  readonly keys: SigningKey[];
  readonly remote: RemoteSpec[];
}

/**
 * Reads a key list: secrets, public keys, JWKS given as they are (their keys, in order) and JWKS
 * to fetch. A TypeError for a key that cannot be read, for secrets beside public keys, and for
 * public keys anywhere but `jwt`.
 */
function readKeys(input: KeyInput | readonly KeyInput[] | undefined, where: string, scheme: SchemeName | undefined): ReadKeys {
  const list = input === undefined ? [] : Array.isArray(input) ? input : [input as KeyInput];
  const keys: SigningKey[] = [];
  const remote: RemoteSpec[] = [];
  list.forEach((entry, i) => {
    const at = `${where}[${i}]`;
    if (entry === null || typeof entry !== 'object' || !('jwks' in entry)) {
      keys.push(toSigningKey(entry, at));
      return;
    }
    const spec = readJwksInput(entry, at);
    if ('url' in spec.jwks) remote.push({ source: readJwksUrl(spec.jwks, `${at}.jwks`), alg: spec.alg, test: spec.test ?? false });
    else keys.push(...localSet(spec, at));
  });
  const publicKeys = remote.length > 0 || keys.some((key) => key.alg !== undefined);
  if (publicKeys && scheme !== undefined && scheme !== 'jwt') {
    throw new TypeError(`${PREFIX}${where} holds a public key or a JWKS: those verify jwt tokens only; ${scheme} needs shared secrets.`);
  }
  if (publicKeys && keys.some((key) => key.alg === undefined)) {
    throw new TypeError(
      `${PREFIX}${where} mixes shared secrets and public keys. They never share a ring: a token whose header names ` +
        'an HMAC algorithm could otherwise have a public key, which anyone may hold, taken as its secret (RFC 8725 §2.1). ' +
        'Use public keys only (the site signs with its private key), or secrets only.',
    );
  }
  return { keys, remote };
}

/** A key set's entry as configured, its alg by the name this package uses. */
type JwksEntry = Omit<JwksInput, 'alg'> & { alg?: PublicKeyAlgorithm | undefined };

function readJwksInput(entry: JwksInput, where: string): JwksEntry {
  refuseUnknown(entry, JWKS_FIELDS, where);
  const { jwks } = entry;
  const alg = algorithmNamed(entry.alg) as PublicKeyAlgorithm | undefined;
  if (alg !== undefined && !PUBLIC_KEY_ALGORITHMS.includes(alg)) {
    throw new TypeError(`${PREFIX}${where}.alg must be one of ${PUBLIC_KEY_ALGORITHMS.join(', ')}.`);
  }
  readTest(entry, where);
  if (jwks === null || typeof jwks !== 'object' || Array.isArray(jwks)) {
    throw new TypeError(`${PREFIX}${where}.jwks must be { url } or a JSON Web Key Set ({ keys: [...] }).`);
  }
  if ('url' in jwks)
    refuseUnknown(
      jwks,
      ['url', 'timeout', 'maxBytes', 'cacheMaxAge', 'minCacheAge', 'maxCacheAge', 'cooldown', 'staleFor'],
      `${where}.jwks`,
    );
  return { ...entry, alg };
}

/** A JWKS given as it is: its usable keys, said once each for the members set aside. None usable: a TypeError. */
function localSet(spec: JwksEntry, where: string): SigningKey[] {
  const read = readKeySet(spec.jwks, { alg: spec.alg, test: spec.test ?? false, url: undefined });
  if ('problem' in read) throw new TypeError(`${PREFIX}${where}.jwks is not a JSON Web Key Set: ${read.problem}.`);
  if (read.keys.length === 0) {
    const why = describeSetAside(read.info.setAside);
    throw new TypeError(`${PREFIX}${where}.jwks has no key that can verify tokens${why ? ` (${why})` : ''}.`);
  }
  return read.keys;
}

/**
 * The keys of a list: secrets, public keys and JWKS given as they are. A JWKS to fetch is for a
 * key ring (`createKeyRing`), which fetches it: a TypeError here.
 */
export function toSigningKeys(input: KeyInput | readonly KeyInput[] | undefined, where: string): SigningKey[] {
  const { keys, remote } = readKeys(input, where, undefined);
  if (remote.length > 0) throw new TypeError(`${PREFIX}${where} holds a JWKS URL, which only a verifier fetches.`);
  return keys;
}

/** A keys lookup, and how the operator would name it (in errors). */
interface LookupSource {
  readonly lookup: KeyLookup;
  readonly where: string;
}

/** A lookup's answer taken apart: the tenant it belongs to, its keys as returned, whether it named that tenant, its `required`. */
interface Answer {
  readonly tenant: string | undefined;
  readonly keys: unknown;
  readonly named: boolean;
  readonly required: RequiredMode | undefined;
}

/** A lookup failure as cached: the refusal, and the tenant it concerns (canonical when the answer named one). */
interface Refusal {
  readonly tenant: string | undefined;
  readonly rejection: Rejection;
}

export function createKeyRing(options: KeyRingOptions): KeyRing {
  const { schemes, allowTestKeys, now, logger } = options;
  const keyCache = readCacheSize(options.keyCache);
  const timeout = readTimeout(options.keyLookupTimeout);
  const secretSchemes = new SecretSchemes();

  const said = new Set<string>();
  /** Misconfigurations and outages are logged once per kind, not once per request (or per junk tenant). */
  const sayOnce = (kind: string, message: string) => {
    if (said.has(kind) || said.size >= MAX_SAID) return;
    said.add(kind);
    logger.error(`${PREFIX}${message}`);
  };

  /** Key sets fetched from a URL, by URL and settings: tenants that share a URL share its fetches and its cooldown. */
  const remoteSets = new LRUCache<string, RemoteKeySet>({ max: MAX_REMOTE_SETS });
  const remoteSet = ({ source, alg, test }: RemoteSpec): RemoteKeySet => {
    const id = `${source.url.href} ${alg} ${test} ${JSON.stringify(source.settings)}`;
    let set = remoteSets.get(id);
    if (!set) remoteSets.set(id, (set = new RemoteKeySet(source, { alg, test, now, say: sayOnce })));
    return set;
  };
  /** Members of a JWKS given in the configuration that can never verify: said once each. */
  const sayAside = (keys: readonly SigningKey[], where: string) => {
    for (const info of new Set(keys.flatMap((key) => (key.set ? [key.set] : [])))) {
      for (const aside of info.setAside) {
        const name = aside.kid === undefined ? 'a key without kid' : `the key with kid ${JSON.stringify(aside.kid)}`;
        sayOnce(`aside ${where} ${aside.kid} ${aside.problem}`, `${where} has ${name} that is never used: ${aside.problem}.`);
      }
    }
  };

  // Static keys become one precomputed KeySource per scheme.
  const sources = new Map<SchemeName, KeySource | LookupSource>();
  for (const { scheme, keys, where } of keysPerScheme(options.keys, schemes)) {
    if (typeof keys === 'function') {
      sources.set(scheme, { lookup: keys, where });
      continue;
    }
    const read = readKeys(keys, where, scheme);
    const list = read.keys;
    if (list.length === 0 && read.remote.length === 0)
      throw new TypeError(`${PREFIX}${where} is empty; configure at least one signing secret.`);
    const secrets = list.filter((key) => key.alg === undefined);
    secrets.forEach((key) => {
      const other = secretSchemes.schemeOf(key.fingerprint);
      if (other !== undefined && other !== scheme) {
        throw new TypeError(`${PREFIX}${where}[${list.indexOf(key)}] is also a ${other} key. ${ONE_SCHEME_PER_SECRET}`);
      }
      if (isSessionKeyInProcess(key.fingerprint)) throw new TypeError(`${PREFIX}${where}[${list.indexOf(key)}] ${IS_A_SESSION_KEY}`);
    });
    refuseAlgorithms(options.algorithms, list, where);
    secretSchemes.hold(secrets, scheme); // for good: static keys verify as long as the verifier lives
    noteAcrossVerifiers(secrets, scheme, logger);
    noteStaticSiteKeys(secrets, scheme);
    sayAside(list, where);
    const source: { -readonly [K in keyof KeySource]: KeySource[K] } = { tenant: undefined, keys: list };
    if (read.remote.length > 0) source.remote = read.remote.map(remoteSet);
    sources.set(scheme, source);
  }

  // The caches preallocate: only a verifier with a lookup gets them.
  const cacheSize = [...sources.values()].some((source) => 'lookup' in source) ? keyCache : undefined;

  const cacheClock = { now };
  /** Lookup answers by (scheme, tenant as asked); each holds its secrets in `secretSchemes` while cached. */
  const found =
    cacheSize &&
    new LRUCache<string, KeySource>({
      ...cacheSize,
      ttlResolution: 0,
      perf: cacheClock,
      dispose: (entry) => secretSchemes.release(entry.keys),
    });
  /** Failures by (scheme, tenant as asked), kept apart from `found`: junk tenants evict only each other. */
  const refused =
    cacheSize &&
    new LRUCache<string, Refusal>({ max: cacheSize.max, ttl: Math.min(cacheSize.ttl, NEGATIVE_TTL), ttlResolution: 0, perf: cacheClock });
  /** Lookups under way, by (scheme, tenant as asked): concurrent requests share one. */
  const lookups = new Map<string, Promise<KeySource>>();
  /** Bumped by `forget`: a lookup that started before it may have read what was changed, so its outcome is not cached. */
  let generation = 0;

  function usable(keys: readonly SigningKey[], at: number): readonly SigningKey[] {
    // Nearly always every key is usable: then the list itself is the answer, no copy.
    let open = keys;
    for (const key of keys) {
      if (!isUsable(key, at, allowTestKeys)) {
        open = keys.filter((k) => isUsable(k, at, allowTestKeys));
        break;
      }
    }
    if (open.length === 0) {
      reject(
        'KEY_UNAVAILABLE',
        keys.length === 0
          ? 'No signing keys are configured for this tenant.'
          : 'Every configured key has expired or is a test key while test keys are turned off.',
      );
    }
    return open;
  }

  function configured(
    scheme: SchemeName,
    tenant: string | undefined,
    request: VerifyRequest,
    kid?: string,
  ): TenantKeys | Promise<TenantKeys> {
    const source = sources.get(scheme);
    if (source === undefined) reject('KEY_UNAVAILABLE', `No keys are configured for ${scheme}.`);
    if (!('lookup' in source)) {
      if (!source.remote) return tenant === undefined ? source : { tenant, keys: source.keys };
      const keys = withFetched(source, kid);
      if (tenant === undefined) return keys;
      return keys instanceof Promise ? keys.then((made) => ({ tenant, keys: made.keys })) : { tenant, keys: keys.keys };
    }
    const key = cacheKey(scheme, tenant);
    const cached = found?.get(key);
    if (cached) return cached.remote ? withFetched(cached, kid) : cached;
    const refusal = refused?.get(key);
    if (refusal) throw refusal.rejection;
    const answer = lookups.get(key) ?? lookUp(source, scheme, tenant, request);
    return answer.then((entry) => (entry.remote ? withFetched(entry, kid) : entry));
  }

  function answer(scheme: SchemeName, tenant: string | undefined, request: VerifyRequest): TenantKeys | Promise<TenantKeys> {
    const source = sources.get(scheme);
    if (source === undefined || !('lookup' in source)) return { tenant, keys: [] };
    const key = cacheKey(scheme, tenant);
    const cached = found?.get(key);
    if (cached) return cached;
    const refusal = refused?.get(key);
    if (refusal) throw refusal.rejection;
    return lookups.get(key) ?? lookUp(source, scheme, tenant, request);
  }

  function answersAtOnce(scheme: SchemeName, tenant: string | undefined): boolean {
    const source = sources.get(scheme);
    if (source === undefined || !('lookup' in source)) return true;
    const key = cacheKey(scheme, tenant);
    return found?.has(key) === true || refused?.has(key) === true || lookups.has(key);
  }

  /** The joined keys of a source and its fetched sets, made once per version of the sets. */
  const joined = new WeakMap<KeySource, { parts: readonly (readonly SigningKey[])[]; keys: TenantKeys; kids: Set<string> }>();

  function join(source: KeySource, parts: readonly (readonly SigningKey[])[]): { keys: TenantKeys; kids: Set<string> } {
    const made = joined.get(source);
    if (made && made.parts.length === parts.length && made.parts.every((part, i) => part === parts[i])) return made;
    const keys = parts.reduce<readonly SigningKey[]>((all, part) => (part.length === 0 ? all : all.concat(part)), source.keys);
    const fresh = { parts, keys: { tenant: source.tenant, keys }, kids: new Set<string>() };
    for (const key of keys) if (key.kid !== undefined) fresh.kids.add(key.kid);
    for (const set of source.remote ?? []) for (const kid of set.info?.kids ?? []) fresh.kids.add(kid);
    joined.set(source, fresh);
    return fresh;
  }

  /**
   * A source with key sets to fetch: its keys and the sets' current ones, at once when every set
   * is fresh and holds `kid` (or no kid was named); else after fetching what has expired, and once
   * more for a kid no set holds (each set's cooldown permitting).
   */
  function withFetched(source: KeySource, kid: string | undefined): TenantKeys | Promise<TenantKeys> {
    const sets = source.remote!;
    const at = now();
    if (sets.every((set) => set.fresh(at))) {
      const made = join(
        source,
        sets.map((set) => set.keys),
      );
      // An empty set (the site's word that no key verifies) goes on to say so, not "no keys configured".
      if (made.keys.keys.length > 0 && (kid === undefined || made.kids.has(kid))) return made.keys;
    }
    return fetched(source, sets, kid, at);
  }

  async function fetched(source: KeySource, sets: readonly RemoteKeySet[], kid: string | undefined, at: number): Promise<TenantKeys> {
    const current = sets.map((set) => set.current(at));
    let made = join(source, await Promise.all(current));
    if (kid !== undefined && !made.kids.has(kid)) {
      // A set fetched for this very request is as fresh as it gets: only the others are fetched again.
      await Promise.all(sets.map((set, i) => (current[i] instanceof Promise ? set.noteMissing(kid) : set.refreshFor(kid, now()))));
      made = join(source, await Promise.all(sets.map((set) => set.current(now()))));
    }
    if (made.keys.keys.length === 0) {
      const failing = sets.find((set) => set.failure !== undefined);
      reject(
        'KEY_UNAVAILABLE',
        failing
          ? `The JWKS at ${failing.label} could not be fetched (${failing.failure}).`
          : `The JWKS at ${sets[0]!.label} holds no key: the site publishes an empty set.`,
      );
    }
    return made.keys;
  }

  function lookUp(source: LookupSource, scheme: SchemeName, asked: string | undefined, request: VerifyRequest): Promise<KeySource> {
    const key = cacheKey(scheme, asked);
    const startedIn = generation;
    let tenant = asked; // the canonical tenant, once the answer names it
    const pending = ask(source.lookup, scheme, asked, request)
      .then(async (returned) => {
        const answer = readAnswer(returned, asked, sayOnce);
        tenant = answer.tenant;
        const where = lookupCall(source, scheme, asked, answer.named);
        const read = readAnswerKeys(scheme, answer, where);
        await refuseIfAnotherSchemeShares(scheme, asked, answer.tenant, read.keys, request);
        const admitted = admit(scheme, answer, read, where);
        if (startedIn === generation && found) {
          secretSchemes.hold(admitted.keys, scheme);
          found.set(key, admitted);
        }
        return admitted;
      })
      .catch((error: unknown) => {
        const rejection = error instanceof Rejection ? error : lookupThrew(error);
        if (startedIn === generation) refused?.set(key, { tenant, rejection });
        throw rejection;
      })
      .finally(() => {
        if (lookups.get(key) === pending) lookups.delete(key);
      });
    lookups.set(key, pending);
    return pending;
  }

  /** Calls the lookup with a signal that is aborted at the timeout, when its answer stops being awaited. */
  function ask(lookup: KeyLookup, scheme: SchemeName, tenant: string | undefined, request: VerifyRequest): Promise<TenantKeySet> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, fail) => {
      timer = setTimeout(() => {
        controller.abort(new DOMException(`The keys lookup took longer than ${timeout} ms.`, 'TimeoutError'));
        sayOnce('timeout', `the keys lookup took longer than ${timeout} ms (keyLookupTimeout); its requests fail with KEY_UNAVAILABLE.`);
        fail(new Rejection('KEY_UNAVAILABLE', `The keys lookup took longer than ${timeout} ms.`));
      }, timeout);
      timer.unref();
    });
    const answer = new Promise<TenantKeySet>((resolve) => resolve(lookup(tenant, request, { scheme, signal: controller.signal })));
    return Promise.race([answer, timedOut]).finally(() => clearTimeout(timer));
  }

  /** The answer's keys read; a refusal when one is malformed. */
  function readAnswerKeys(scheme: SchemeName, answer: Answer, where: string): ReadKeys {
    try {
      return readKeys(answer.keys as KeyInput | readonly KeyInput[] | undefined, where, scheme);
    } catch (error) {
      // Only our own messages are passed on: they name where the key is, never the secret.
      const ours = error instanceof TypeError && error.message.startsWith(PREFIX);
      const problem = ours ? error.message.slice(PREFIX.length) : `${where} holds a key that cannot be read.`;
      sayOnce(`unusable ${scheme}`, `${problem} Requests needing these keys fail with KEY_UNAVAILABLE.`);
      reject('KEY_UNAVAILABLE', problem);
    }
  }

  /**
   * A secret no scheme has served yet is first compared with what the verifier's other lookups answer
   * for the same tenant: found in one, it is refused for both schemes, whichever a request asked
   * first (else an attacker would pick the order: ask for the scheme whose proofs the site signs
   * for anyone, then hand those proofs in as the other's). The other lookups' own failures are theirs:
   * when one cannot answer, `claim` still catches the secret once it does (and then drops the first).
   */
  async function refuseIfAnotherSchemeShares(
    scheme: SchemeName,
    asked: string | undefined,
    tenant: string | undefined,
    keys: readonly SigningKey[],
    request: VerifyRequest,
  ): Promise<void> {
    const unseen = new Set(
      keys.filter((key) => key.alg === undefined && !secretSchemes.knows(key.fingerprint)).map((key) => key.fingerprint),
    );
    if (unseen.size === 0) return;
    // A scheme whose answer for this tenant is cached holds its secrets already: `claim` compares with those.
    const others = [...sources].filter(
      (entry): entry is [SchemeName, LookupSource] =>
        entry[0] !== scheme && 'lookup' in entry[1] && found?.has(cacheKey(entry[0], asked)) !== true,
    );
    const answers = await Promise.all(
      others.map(([other, source]) =>
        ask(source.lookup, other, asked, request).then(
          (returned) => secretsIn(returned, asked, other),
          () => [],
        ),
      ),
    );
    answers.forEach((secrets, i) => {
      const shared = secrets.filter((key) => unseen.has(key.fingerprint));
      if (shared.length > 0) refuseShared(others[i]![0], scheme, tenant, shared);
    });
  }

  /**
   * Refuses `scheme` a secret `rival` serves: marked, so that neither scheme may claim it again, and
   * dropped from the cached answers that hold it for `rival` (static keys stay: they were checked at
   * construction, and one scheme alone is no confusion).
   */
  function refuseShared(rival: SchemeName, scheme: SchemeName, tenant: string | undefined, secrets: readonly SigningKey[]): never {
    secretSchemes.markShared(secrets, [rival, scheme]);
    const fingerprints = new Set(secrets.map((key) => key.fingerprint));
    if (found)
      for (const [key, entry] of [...found.entries()]) if (entry.keys.some((k) => fingerprints.has(k.fingerprint))) found.delete(key);
    const refusedToo = 'lookup' in sources.get(rival)! ? `both are refused` : `${scheme} is refused`;
    sayOnce(
      `shared ${[rival, scheme].sort().join(' ')}`,
      `the keys lookup returned the same secret for ${rival} and ${scheme} (${describeTenant(tenant)}); ${refusedToo} with KEY_UNAVAILABLE. ` +
        `${ONE_SCHEME_PER_SECRET} Return each scheme its own keys (the lookup is told the scheme), then call refreshKeys().`,
    );
    reject('KEY_UNAVAILABLE', `The keys lookup returned a secret that another scheme (${rival}) uses; each scheme needs its own.`);
  }

  /** The secrets of another scheme's answer, for comparison only: nothing said, nothing kept, nothing thrown. */
  function secretsIn(returned: TenantKeySet | null, asked: string | undefined, scheme: SchemeName): SigningKey[] {
    try {
      const answer = readAnswer(returned, asked, () => {});
      return readKeys(answer.keys as KeyInput | readonly KeyInput[] | undefined, '', scheme).keys.filter((key) => key.alg === undefined);
    } catch {
      return [];
    }
  }

  /** The answer's keys, checked: a refusal when there are none, or one serves another scheme. */
  function admit(scheme: SchemeName, answer: Answer, { keys, remote }: ReadKeys, where: string): KeySource {
    if (keys.length === 0 && remote.length === 0) {
      // A tenant whose answer says how to treat it, but gives no keys yet, is known: its proofs fail
      // (no keys), and its setting applies to its requests, proof or not.
      if (answer.required !== undefined) return { tenant: answer.tenant, keys, required: answer.required };
      reject('KEY_UNAVAILABLE', `The keys lookup returned no ${scheme} keys for ${describeTenant(answer.tenant)}.`);
    }
    sayAside(keys, where);
    const secrets = keys.filter((key) => key.alg === undefined);
    const rival = secretSchemes.claim(secrets, scheme);
    if (rival !== undefined) refuseShared(rival, scheme, answer.tenant, secrets);
    noteAcrossVerifiers(secrets, scheme, logger);
    const source: { -readonly [K in keyof KeySource]: KeySource[K] } = { tenant: answer.tenant, keys };
    if (remote.length > 0) source.remote = remote.map(remoteSet);
    if (answer.required !== undefined) source.required = answer.required;
    return source;
  }

  function lookupThrew(error: unknown): Rejection {
    const kind = error instanceof Error ? error.name : typeof error;
    // Its message is not logged: a failing lookup may quote what it was reading, secrets included.
    sayOnce('threw', `the keys lookup threw (${kind}); requests needing its keys fail with KEY_UNAVAILABLE.`);
    return new Rejection('KEY_UNAVAILABLE', 'The keys lookup failed.');
  }

  /** The call as the operator would write it, to say which answer was wrong. */
  function lookupCall(source: LookupSource, scheme: SchemeName, tenant: string | undefined, named: boolean): string {
    const call = `${source.where}(${JSON.stringify(tenant) ?? 'undefined'}, request, { scheme: ${JSON.stringify(scheme)} })`;
    return named ? `${call}.keys` : call;
  }

  function forget(tenant?: string): void {
    generation += 1;
    lookups.clear(); // later requests start afresh rather than join a lookup that may predate the change
    secretSchemes.forgetShared(); // compared again when next answered: after a fix, a secret found shared verifies again
    if (tenant === undefined) {
      found?.clear();
      refused?.clear();
      secretSchemes.forgetRemembered();
      for (const set of remoteSets.values()) set.forget();
      return;
    }
    if (found) {
      // The tenant's fetched key sets are fetched again too (a set shared by several tenants, for all of them).
      const asked = new Set([...sources.keys()].map((scheme) => cacheKey(scheme, tenant)));
      const secrets = new Set<string>();
      for (const [key, entry] of found.entries()) {
        if (!asked.has(key) && entry.tenant !== tenant) continue;
        for (const set of entry.remote ?? []) set.forget();
        for (const signingKey of entry.keys) secrets.add(signingKey.fingerprint);
      }
      // Another spelling of the tenant that a case-blind lookup answered with the same keys (`ACME`
      // beside `acme`, no canonical name returned) goes too: a revoked key must not live on under it.
      for (const [key, entry] of [...found.entries()]) if (entry.keys.some((k) => secrets.has(k.fingerprint))) found.delete(key);
    }
    for (const cache of [found, refused]) {
      if (!cache) continue;
      for (const scheme of sources.keys()) cache.delete(cacheKey(scheme, tenant)); // by the name asked
      for (const [key, entry] of [...cache.entries()]) if (entry.tenant === tenant) cache.delete(key); // by the canonical name
    }
  }

  const looksUp = (scheme: SchemeName) => 'lookup' in (sources.get(scheme) ?? {});
  return { configured, answer, answersAtOnce, usable, forget, looksUp, schemeOf: (fingerprint) => secretSchemes.schemeOf(fingerprint) };
}

/** Keys as a source holds them: the keys, and the key sets to fetch whose keys join them per request. */
interface KeySource extends TenantKeys {
  readonly remote?: readonly RemoteKeySet[];
}

/**
 * Refuses an `algorithms` list that none of these keys could verify with: secrets with no HMAC
 * algorithm listed, or a public key whose algorithm is not listed (every token it signs would fail).
 */
function refuseAlgorithms(algorithms: readonly JwtAlgorithm[] | undefined, keys: readonly SigningKey[], where: string): void {
  if (algorithms === undefined) return;
  if (keys.some((key) => key.alg === undefined) && !algorithms.some((alg) => alg.startsWith('HS'))) {
    throw new TypeError(
      `${PREFIX}options.algorithms lists no HMAC algorithm, but ${where} holds shared secrets, which verify HS256, HS384 and HS512 only.`,
    );
  }
  const unlisted = keys.find((key) => key.alg !== undefined && !algorithms.includes(key.alg));
  if (unlisted) {
    throw new TypeError(
      `${PREFIX}options.algorithms does not list ${unlisted.alg}, the algorithm of a key in ${where}: list it, or leave algorithms ` +
        'unset (each public key verifies its own algorithm).',
    );
  }
}

/** Scheme names hold no space, so the first space ends the scheme; no tenant is the scheme alone, apart from every string. */
function cacheKey(scheme: SchemeName, tenant: string | undefined): string {
  return tenant === undefined ? scheme : `${scheme} ${tenant}`;
}

function describeTenant(tenant: string | undefined): string {
  return tenant === undefined ? 'no tenant' : `tenant ${JSON.stringify(tenant)}`;
}

/** The members of a lookup's `{ tenant, keys, required }` answer. */
const ANSWER_FIELDS = ['tenant', 'keys', 'required'];

function readAnswer(answer: TenantKeySet | null, asked: string | undefined, say: (kind: string, message: string) => void): Answer {
  const isAnswer =
    answer !== null &&
    typeof answer === 'object' &&
    !Array.isArray(answer) &&
    !KEY_FIELDS.some((field) => field in answer) &&
    ANSWER_FIELDS.some((field) => field in answer);
  if (!isAnswer) return { tenant: asked, keys: answer ?? undefined, named: false, required: undefined };
  const { tenant, keys, required } = answer as { tenant?: unknown; keys?: unknown; required?: unknown };
  const refuse = (problem: string): never => {
    // Said: a misspelt `requried` would otherwise fail every request of its tenants quietly.
    say(`answer ${problem}`, `${problem} Requests needing its keys fail with KEY_UNAVAILABLE.`);
    reject('KEY_UNAVAILABLE', problem);
  };
  const unknown = Object.keys(answer).find((field) => !ANSWER_FIELDS.includes(field));
  if (unknown !== undefined) refuse(`The keys lookup answered with ${JSON.stringify(unknown)}; an answer takes tenant, keys and required.`);
  if (tenant !== undefined && typeof tenant !== 'string') refuse('The keys lookup returned { tenant, keys } with a non-string tenant.');
  if (required !== undefined && required !== true && required !== false && required !== 'report') {
    refuse("The keys lookup answered a required that is not true, false or 'report'.");
  }
  return {
    tenant: (tenant as string | undefined) ?? asked,
    keys,
    named: tenant !== undefined,
    required: required as RequiredMode | undefined,
  };
}

/** Whether `key` may verify at `at`: not past its `expiresAt`, and not a test key where test keys are refused. */
export function isUsable(key: SigningKey, at: number, allowTestKeys: boolean): boolean {
  return (key.expiresAt === undefined || key.expiresAt > at) && (allowTestKeys || !key.test);
}

interface ConfiguredKeys {
  readonly scheme: SchemeName;
  readonly keys: SchemeKeys;
  /** Where the operator configured them, to name in errors. */
  readonly where: string;
}

/** Each scheme's keys as configured, with where they were configured (for errors). */
function keysPerScheme(keys: SchemeKeys | KeysByScheme, schemes: readonly SchemeName[]): ConfiguredKeys[] {
  if (typeof keys === 'function') return schemes.map((scheme) => ({ scheme, keys, where: 'options.keys' }));
  if (isKeysByScheme(keys)) {
    const stray = Object.keys(keys).filter((name) => !schemes.includes(name as SchemeName));
    if (stray.length > 0) {
      throw new TypeError(
        `${PREFIX}options.keys has keys for ${stray.map((name) => JSON.stringify(name)).join(', ')}, which this verifier does not use ` +
          `(its schemes: ${schemes.join(', ')}).`,
      );
    }
    const missing = schemes.filter((scheme) => keys[scheme] === undefined || keys[scheme] === null);
    if (missing.length > 0) {
      throw new TypeError(`${PREFIX}options.keys has no keys for ${missing.join(', ')}; give every scheme of the verifier its own.`);
    }
    return schemes.map((scheme) => ({ scheme, keys: keys[scheme]!, where: `options.keys[${JSON.stringify(scheme)}]` }));
  }
  if (schemes.length > 1) {
    const example = schemes.map((scheme) => `${JSON.stringify(scheme)}: [...]`).join(', ');
    throw new TypeError(
      `${PREFIX}options.keys is one list of secrets for ${schemes.join(' and ')}. ${ONE_SCHEME_PER_SECRET} ` +
        `Give each scheme its own keys (keys per scheme: { ${example} }), or a lookup, which is told the scheme.`,
    );
  }
  return [{ scheme: schemes[0]!, keys, where: 'options.keys' }];
}

function isKeysByScheme(keys: SchemeKeys | KeysByScheme): keys is KeysByScheme {
  return typeof keys === 'object' && keys !== null && !Array.isArray(keys) && !KEY_FIELDS.some((field) => field in keys);
}

function readCacheSize(keyCache: VerifierOptions['keyCache']): { max: number; ttl: number } | undefined {
  if (keyCache === false) return undefined;
  const size = { max: keyCache?.max ?? DEFAULT_CACHE.max, ttl: keyCache?.ttl ?? DEFAULT_CACHE.ttl };
  for (const [name, value] of Object.entries(size)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`${PREFIX}options.keyCache.${name} must be a whole number, 1 or more.`);
    }
  }
  return size;
}

function readTimeout(timeout: number | undefined): number {
  if (timeout === undefined) return DEFAULT_LOOKUP_TIMEOUT;
  // setTimeout fires at once beyond 2^31 - 1 ms.
  if (typeof timeout !== 'number' || !(timeout > 0 && timeout <= 2 ** 31 - 1)) {
    throw new TypeError(`${PREFIX}options.keyLookupTimeout must be a number of milliseconds, more than 0.`);
  }
  return timeout;
}
