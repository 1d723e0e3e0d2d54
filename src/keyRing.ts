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
import { fingerprint, noteAcrossVerifiers, SecretSchemes } from './keyFingerprint.js';
import { refuseUnknown } from './config.js';
import { reject, Rejection } from './rejection.js';
import type {
  KeyInput, KeyLookup, KeysByScheme, Logger, SchemeKeys, SchemeName, TenantKeySet, VerifierOptions, VerifyRequest,
} from './types.js';

export interface SigningKey {
  readonly id?: string;
  readonly test: boolean;
  /** Milliseconds since the epoch; absent for a key that does not expire. */
  readonly expiresAt?: number;
  /** Held as a KeyObject: it prints as `SecretKeyObject`, never as the secret. */
  readonly material: KeyObject;
  /** A keyed hash of the secret's bytes (src/keyFingerprint.ts), to compare secrets without holding them. */
  readonly fingerprint: string;
}

export interface TenantKeys {
  /** The tenant these keys belong to: the canonical id a lookup named (`{ tenant, keys }`), else the one asked for. */
  readonly tenant: string | undefined;
  /** Every key configured for it, expired and test keys included, in the order to try. */
  readonly keys: readonly SigningKey[];
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
  now: () => number;
  logger: Logger;
}

export interface KeyRing {
  /**
   * Keys of `scheme` for `tenant`: synchronously when static or cached. Throws (or rejects) a
   * KEY_UNAVAILABLE `Rejection` when the lookup failed, timed out, returned nothing, returned a
   * malformed key, or returned a secret another scheme uses. Hints never contain a secret.
   */
  configured(scheme: SchemeName, tenant: string | undefined, request: VerifyRequest): TenantKeys | Promise<TenantKeys>;
  /** Those usable now, in the order to try (unexpired; test keys only when allowed). Throws KEY_UNAVAILABLE when none. */
  usable(keys: readonly SigningKey[], now: number): readonly SigningKey[];
  /** Forgets cached keys and cached failures of one tenant (by any name it was asked or answered by), or of all. */
  forget(tenant?: string): void;
  /** Whether `scheme`'s keys come from a lookup, which a tenant selects (static keys are the same for every tenant). */
  looksUp(scheme: SchemeName): boolean;
}

export const TEST_KEY_PREFIX = 'sk_test_';

const DEFAULT_CACHE = { max: 1000, ttl: 60_000 };
/** Failures are remembered this long at most: a tenant that just got keys, or a lookup that recovered, waits no longer. */
const NEGATIVE_TTL = 5_000;
const DEFAULT_LOOKUP_TIMEOUT = 5_000;
/** The fields of a key object. An object with none of them is keys per scheme. */
const KEY_FIELDS = ['secret', 'id', 'test', 'expiresAt'];
const PREFIX = 'chat-identity: ';
const ONE_SCHEME_PER_SECRET =
  'A secret may serve one scheme only: the schemes all sign with HMAC-SHA256, so what a site signs for one ' +
  '(a hash of a crafted user id, any visitor id) could pass as a proof of another.';

/** Turns one configured key into a SigningKey; `where` names it in the error for the operator (never the secret). */
export function toSigningKey(input: KeyInput, where: string): SigningKey {
  const spec = typeof input === 'string' ? { secret: input } : input;
  if (spec === null || typeof spec !== 'object' || typeof spec.secret !== 'string' || spec.secret.length === 0) {
    throw new TypeError(`${PREFIX}${where} must be a non-empty secret string or { secret, id?, test?, expiresAt? }.`);
  }
  // A misspelt expiresAt would leave a retired key verifying for ever.
  refuseUnknown(spec, KEY_FIELDS, where);
  // Refused, not trimmed: whether the site signs with the pasted newline or without it, a guess would fail quietly.
  if (/^\s|\s$/.test(spec.secret)) {
    throw new TypeError(`${PREFIX}${where} starts or ends with whitespace (a pasted newline?); remove it where the secret is stored.`);
  }
  const expiresAt = spec.expiresAt instanceof Date ? spec.expiresAt.getTime() : spec.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt)) {
    throw new TypeError(`${PREFIX}${where}.expiresAt must be a Date or milliseconds since the epoch.`);
  }
  const bytes = Buffer.from(spec.secret, 'utf8');
  const key: { -readonly [K in keyof SigningKey]: SigningKey[K] } = {
    test: spec.test ?? spec.secret.startsWith(TEST_KEY_PREFIX),
    material: createSecretKey(bytes),
    fingerprint: fingerprint(bytes),
  };
  if (spec.id !== undefined) key.id = String(spec.id);
  if (expiresAt !== undefined) key.expiresAt = expiresAt;
  return key;
}

export function toSigningKeys(input: KeyInput | readonly KeyInput[] | undefined, where: string): SigningKey[] {
  const list = input === undefined ? [] : Array.isArray(input) ? input : [input as KeyInput];
  return list.map((key, i) => toSigningKey(key, `${where}[${i}]`));
}

/** A keys lookup, and how the operator would name it (in errors). */
interface LookupSource {
  readonly lookup: KeyLookup;
  readonly where: string;
}

/** A lookup's answer taken apart: the tenant it belongs to, its keys as returned, and whether it named that tenant. */
interface Answer {
  readonly tenant: string | undefined;
  readonly keys: unknown;
  readonly named: boolean;
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

  // Static keys become one precomputed TenantKeys per scheme.
  const sources = new Map<SchemeName, TenantKeys | LookupSource>();
  for (const { scheme, keys, where } of keysPerScheme(options.keys, schemes)) {
    if (typeof keys === 'function') {
      sources.set(scheme, { lookup: keys, where });
      continue;
    }
    const list = toSigningKeys(keys, where);
    if (list.length === 0) throw new TypeError(`${PREFIX}${where} is empty; configure at least one signing secret.`);
    list.forEach((key, i) => {
      const other = secretSchemes.schemeOf(key.fingerprint);
      if (other !== undefined && other !== scheme) {
        throw new TypeError(`${PREFIX}${where}[${i}] is also a ${other} key. ${ONE_SCHEME_PER_SECRET}`);
      }
    });
    secretSchemes.hold(list, scheme); // for good: static keys verify as long as the verifier lives
    noteAcrossVerifiers(list, scheme, logger);
    sources.set(scheme, { tenant: undefined, keys: list });
  }

  // The caches preallocate: only a verifier with a lookup gets them.
  const cacheSize = [...sources.values()].some((source) => 'lookup' in source) ? keyCache : undefined;

  const said = new Set<string>();
  /** Misconfigurations and outages are logged once per kind, not once per request (or per junk tenant). */
  const sayOnce = (kind: string, message: string) => {
    if (said.has(kind)) return;
    said.add(kind);
    logger.error(`${PREFIX}${message}`);
  };

  const cacheClock = { now };
  /** Lookup answers by (scheme, tenant as asked); each holds its secrets in `secretSchemes` while cached. */
  const found =
    cacheSize &&
    new LRUCache<string, TenantKeys>({
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
  const lookups = new Map<string, Promise<TenantKeys>>();
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

  function configured(scheme: SchemeName, tenant: string | undefined, request: VerifyRequest): TenantKeys | Promise<TenantKeys> {
    const source = sources.get(scheme);
    if (source === undefined) reject('KEY_UNAVAILABLE', `No keys are configured for ${scheme}.`);
    if (!('lookup' in source)) return tenant === undefined ? source : { tenant, keys: source.keys };
    const key = cacheKey(scheme, tenant);
    const cached = found?.get(key);
    if (cached) return cached;
    const refusal = refused?.get(key);
    if (refusal) throw refusal.rejection;
    return lookups.get(key) ?? lookUp(source, scheme, tenant, request);
  }

  function lookUp(source: LookupSource, scheme: SchemeName, asked: string | undefined, request: VerifyRequest): Promise<TenantKeys> {
    const key = cacheKey(scheme, asked);
    const startedIn = generation;
    let tenant = asked; // the canonical tenant, once the answer names it
    const pending = ask(source.lookup, scheme, asked, request)
      .then((returned) => {
        const answer = readAnswer(returned, asked);
        tenant = answer.tenant;
        const admitted = admit(scheme, answer, lookupCall(source, scheme, asked, answer.named));
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

  /** The answer's keys, checked: a refusal when there are none, one is malformed, or one serves another scheme. */
  function admit(scheme: SchemeName, answer: Answer, where: string): TenantKeys {
    let keys: SigningKey[];
    try {
      keys = toSigningKeys(answer.keys as KeyInput | readonly KeyInput[] | undefined, where);
    } catch (error) {
      // Only our own messages are passed on: they name where the key is, never the secret.
      const ours = error instanceof TypeError && error.message.startsWith(PREFIX);
      const problem = ours ? error.message.slice(PREFIX.length) : `${where} holds a key that cannot be read.`;
      sayOnce(`unusable ${scheme}`, `${problem} Requests needing these keys fail with KEY_UNAVAILABLE.`);
      reject('KEY_UNAVAILABLE', problem);
    }
    if (keys.length === 0) {
      reject('KEY_UNAVAILABLE', `The keys lookup returned no ${scheme} keys for ${describeTenant(answer.tenant)}.`);
    }
    const rival = secretSchemes.claim(keys, scheme);
    if (rival !== undefined) {
      sayOnce(
        `shared ${rival} ${scheme}`,
        `the keys lookup returned the same secret for ${rival} and ${scheme} (${describeTenant(answer.tenant)}); ${scheme} is ` +
          `refused with KEY_UNAVAILABLE. ${ONE_SCHEME_PER_SECRET} Return each scheme its own keys (the lookup is told the scheme).`,
      );
      reject('KEY_UNAVAILABLE', `The keys lookup returned a secret that another scheme (${rival}) uses; each scheme needs its own.`);
    }
    noteAcrossVerifiers(keys, scheme, logger);
    return { tenant: answer.tenant, keys };
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
    if (tenant === undefined) {
      found?.clear();
      refused?.clear();
      secretSchemes.forgetRemembered();
      return;
    }
    for (const cache of [found, refused]) {
      if (!cache) continue;
      for (const scheme of sources.keys()) cache.delete(cacheKey(scheme, tenant)); // by the name asked
      for (const [key, entry] of [...cache.entries()]) if (entry.tenant === tenant) cache.delete(key); // by the canonical name
    }
  }

  const looksUp = (scheme: SchemeName) => 'lookup' in (sources.get(scheme) ?? {});
  return { configured, usable, forget, looksUp };
}

/** Scheme names hold no space, so the first space ends the scheme; no tenant is the scheme alone, apart from every string. */
function cacheKey(scheme: SchemeName, tenant: string | undefined): string {
  return tenant === undefined ? scheme : `${scheme} ${tenant}`;
}

function describeTenant(tenant: string | undefined): string {
  return tenant === undefined ? 'no tenant' : `tenant ${JSON.stringify(tenant)}`;
}

function readAnswer(answer: TenantKeySet | null, asked: string | undefined): Answer {
  if (answer !== null && typeof answer === 'object' && !Array.isArray(answer) && 'keys' in answer && !('secret' in answer)) {
    const { tenant, keys } = answer as { tenant: unknown; keys: unknown };
    if (typeof tenant !== 'string') reject('KEY_UNAVAILABLE', 'The keys lookup returned { tenant, keys } with a non-string tenant.');
    return { tenant, keys, named: true };
  }
  return { tenant: asked, keys: answer ?? undefined, named: false };
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
