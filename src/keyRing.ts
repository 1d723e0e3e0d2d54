/**
 * The key ring: live and test keys, rotation windows, and the per-tenant lookup with its cache.
 *
 * Keys are tried in the order given (new key first, then the previous one). A key whose
 * `expiresAt` has passed is never used: that is how a rotation grace period ends.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { reject } from './rejection.js';
import type { KeyInput, KeyLookup, VerifierOptions, VerifyRequest } from './types.js';

export interface SigningKey {
  readonly id?: string;
  readonly test: boolean;
  /** Milliseconds since the epoch; absent for a key that does not expire. */
  readonly expiresAt?: number;
  /** Held as a KeyObject: it prints as `SecretKeyObject`, never as the secret. */
  readonly material: KeyObject;
}

export const TEST_KEY_PREFIX = 'sk_test_';
export const LIVE_KEY_PREFIX = 'sk_live_';

const DEFAULT_CACHE = { max: 1000, ttl: 60_000 };
/** An empty lookup result is remembered this long at most, so a fixed tenant recovers quickly. */
const EMPTY_RESULT_TTL = 5_000;
const DEFAULT_LOOKUP_TIMEOUT = 5_000;

/** Turns one configured key into a SigningKey; `where` names it in the error for the operator. */
export function toSigningKey(input: KeyInput, where: string): SigningKey {
  const spec = typeof input === 'string' ? { secret: input } : input;
  if (spec === null || typeof spec !== 'object' || typeof spec.secret !== 'string' || spec.secret.length === 0) {
    throw new TypeError(`chat-identity: ${where} must be a non-empty secret string or { secret, id?, test?, expiresAt? }.`);
  }
  const expiresAt = spec.expiresAt instanceof Date ? spec.expiresAt.getTime() : spec.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt)) {
    throw new TypeError(`chat-identity: ${where}.expiresAt must be a Date or milliseconds since the epoch.`);
  }
  const key: { -readonly [K in keyof SigningKey]: SigningKey[K] } = {
    test: spec.test ?? spec.secret.startsWith(TEST_KEY_PREFIX),
    material: createSecretKey(Buffer.from(spec.secret, 'utf8')),
  };
  if (spec.id !== undefined) key.id = String(spec.id);
  if (expiresAt !== undefined) key.expiresAt = expiresAt;
  return key;
}

export function toSigningKeys(input: KeyInput | readonly KeyInput[] | undefined, where: string): SigningKey[] {
  const list = input === undefined ? [] : Array.isArray(input) ? input : [input as KeyInput];
  return list.map((key, i) => toSigningKey(key, `${where}[${i}]`));
}

export interface KeyRing {
  /** Every key configured for the tenant, expired and test keys included. Throws `KEY_UNAVAILABLE` when the lookup fails. */
  configured(request: VerifyRequest, tenant: string | undefined): Promise<readonly SigningKey[]> | readonly SigningKey[];
  /** Those usable now, in the order to try. Throws `KEY_UNAVAILABLE` when there are none. */
  usable(keys: readonly SigningKey[], now: number): readonly SigningKey[];
}

export function createKeyRing(options: VerifierOptions): KeyRing {
  const allowTestKeys = options.allowTestKeys ?? true;
  const usable = (keys: readonly SigningKey[], now: number): readonly SigningKey[] => {
    const open = keys.filter((k) => (k.expiresAt === undefined || k.expiresAt > now) && (allowTestKeys || !k.test));
    if (open.length === 0) {
      reject(
        'KEY_UNAVAILABLE',
        keys.length === 0
          ? 'No signing keys are configured for this tenant.'
          : 'Every configured key has expired or is a test key while test keys are turned off.',
      );
    }
    return open.length === keys.length ? keys : open;
  };

  if (typeof options.keys !== 'function') {
    const keys = toSigningKeys(options.keys as KeyInput | readonly KeyInput[], 'options.keys');
    if (keys.length === 0) throw new TypeError('chat-identity: options.keys is empty; configure at least one signing secret.');
    return { configured: () => keys, usable };
  }

  const lookup = withTimeout(options.keys, options.keyLookupTimeout ?? DEFAULT_LOOKUP_TIMEOUT);
  const load = async (tenant: string | undefined, request: VerifyRequest) =>
    toSigningKeys(await lookup(tenant, request), `the keys returned for tenant ${JSON.stringify(tenant ?? null)}`);

  const cacheOptions = options.keyCache === false ? undefined : { ...DEFAULT_CACHE, ...options.keyCache };
  const cache =
    cacheOptions &&
    new LRUCache<string, SigningKey[], VerifyRequest>({
      max: cacheOptions.max,
      ttl: cacheOptions.ttl,
      ttlResolution: 0,
      perf: { now: options.now ?? Date.now },
      // Concurrent misses for one tenant share this one call (LRUCache.fetch de-duplicates);
      // a rejected call is not cached, and an empty answer only briefly.
      fetchMethod: async (cacheKey, _stale, { context, options: entry }) => {
        const keys = await load(cacheKey === '' ? undefined : cacheKey.slice(1), context);
        if (keys.length === 0) entry.ttl = Math.min(cacheOptions.ttl, EMPTY_RESULT_TTL);
        return keys;
      },
    });

  return {
    usable,
    async configured(request, tenant) {
      if (tenant !== undefined && typeof tenant !== 'string') reject('KEY_UNAVAILABLE', 'The tenant option must return a string.');
      let keys: readonly SigningKey[] | undefined;
      try {
        // '' is "no tenant"; every real tenant is prefixed so that '' stays distinct from it.
        keys = cache ? await cache.fetch(tenant === undefined ? '' : `t${tenant}`, { context: request }) : await load(tenant, request);
      } catch (error) {
        reject('KEY_UNAVAILABLE', error instanceof KeyLookupTimeout ? error.message : 'The keys lookup failed.');
      }
      return keys ?? [];
    },
  };
}

class KeyLookupTimeout extends Error {}

function withTimeout(lookup: KeyLookup, ms: number): KeyLookup {
  return (tenant, request) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rejectTimeout) => {
      timer = setTimeout(() => rejectTimeout(new KeyLookupTimeout(`The keys lookup took longer than ${ms} ms.`)), ms);
      timer.unref();
    });
    return Promise.race([Promise.resolve().then(() => lookup(tenant, request)), timeout]).finally(() => clearTimeout(timer));
  };
}
