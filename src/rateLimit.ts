/**
 * Failed-attempt limits: failures are counted per tenant and client address, and per tenant and
 * claimed identity. Over either limit, every attempt for that key is `RATE_LIMITED` until its
 * window ends, even one with a correct signature: that is what stops signature guessing.
 */
import { memoryStore, redisStore, type AttemptCounter, type AttemptLimit, type AttemptStore, type RedisClientLike } from './attemptStore.js';
import type { IdentityErrorCode } from './errors.js';
import { reject } from './rejection.js';
import type { Logger } from './types.js';

export interface RateLimitOptions {
  /** Failures allowed per tenant and claimed identity. Default 10 per 60 seconds; `false` for none. */
  identity?: AttemptLimit | false;
  /** Failures allowed per tenant and client address (`request.ip`). Default 30 per 60 seconds; `false` for none. */
  address?: AttemptLimit | false;
  /** A Redis client (ioredis, or node-redis v4+) to share the limits across instances. */
  redis?: RedisClientLike;
  /** Another place to keep the counters. */
  store?: AttemptStore;
  /** Keys kept in memory per limit (the embedded store, and Redis' insurance). Default 50,000. */
  maxKeys?: number;
  /** Prefix of every counter key. Default `chat-identity`. */
  keyPrefix?: string;
}

export const DEFAULT_IDENTITY_LIMIT: AttemptLimit = { points: 10, duration: 60 };
export const DEFAULT_ADDRESS_LIMIT: AttemptLimit = { points: 30, duration: 60 };

/** Failures that a guess at a signature produces. Expired proofs, absent proofs and outages are not guesses. */
const COUNTED = new Set<IdentityErrorCode>(['INVALID_SIGNATURE', 'MALFORMED_IDENTITY', 'MISSING_REQUIRED_FIELD']);

/** Who is attempting: the claimed identity is unknown until the proof has been read. */
export interface Attempt {
  tenant: string | undefined;
  address: string | undefined;
  identity?: string;
}

export interface FailureLimits {
  /**
   * Rejects with `RATE_LIMITED` (and the seconds to wait) when the attempt's address or identity
   * is over its limit; undefined, without a promise, when no counter holds a failure for either.
   */
  check(attempt: Attempt): Promise<void> | undefined;
  /** Counts a failure against the attempt's address and identity, if the code is one that counts. */
  record(attempt: Attempt, code: IdentityErrorCode): Promise<void>;
}

export function createFailureLimits(options: RateLimitOptions | false | undefined, logger: Logger = console): FailureLimits | undefined {
  if (options === false) return undefined;
  const { identity = DEFAULT_IDENTITY_LIMIT, address = DEFAULT_ADDRESS_LIMIT, ...where } = options ?? {};
  for (const [name, limit] of [['identity', identity], ['address', address]] as const) {
    if (limit !== false && !(Number.isInteger(limit.points) && limit.points > 0 && limit.duration > 0)) {
      throw new TypeError(`chat-identity: rateLimit.${name} must be { points: a positive integer, duration: seconds } or false.`);
    }
  }
  const store = where.store ?? (where.redis ? redisStore(where.redis, { ...where, logger }) : memoryStore(where));
  const byIdentity = identity === false ? undefined : store.counter('identity', identity);
  const byAddress = address === false ? undefined : store.counter('address', address);
  if (!byIdentity && !byAddress) return undefined;

  // The tenant keeps one customer's attackers from locking out another's users.
  const keysOf = (attempt: Attempt): [AttemptCounter, string][] => {
    const keys: [AttemptCounter, string][] = [];
    const tenant = attempt.tenant ?? '';
    if (byAddress && attempt.address) keys.push([byAddress, `${tenant}|${attempt.address}`]);
    if (byIdentity && attempt.identity !== undefined) keys.push([byIdentity, `${tenant}|${attempt.identity}`]);
    return keys;
  };

  // A store that fails (even its insurance) must not stop verification: log once, count nothing.
  let storeFailed = false;
  const storeFailure = () => {
    if (!storeFailed) logger.error('chat-identity: the failed-attempt store failed; attempts are not being limited.');
    storeFailed = true;
  };

  return {
    check(attempt) {
      const keys = keysOf(attempt);
      // The common case, a client with no failure on record, answered without a promise.
      if (keys.every(([counter, key]) => counter.knownClear?.(key) === true)) return undefined;
      return (async () => {
        const waits = await Promise.all(keys.map(([counter, key]) => counter.retryAfterMs(key))).catch(() => (storeFailure(), [0]));
        const wait = Math.max(0, ...waits);
        if (wait > 0) reject('RATE_LIMITED', `Too many failed attempts; retry in ${Math.ceil(wait / 1000)} seconds.`, false, Math.ceil(wait / 1000));
      })();
    },
    async record(attempt, code) {
      if (!COUNTED.has(code)) return;
      await Promise.all(keysOf(attempt).map(([counter, key]) => counter.countFailure(key))).catch(storeFailure);
    },
  };
}
