/**
 * Failed-attempt counters behind one small interface: rate-limiter-flexible's memory limiter
 * (embedded default, capped) or its Redis limiter (shared by every instance, with the capped
 * memory limiter as insurance while Redis is down).
 */
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from './types.js';

export interface AttemptLimit {
  /** Failures allowed in one window. */
  points: number;
  /** The window, in seconds. */
  duration: number;
}

export interface AttemptCounter {
  /** Milliseconds until `key` may try again; 0 while it is under the limit. */
  retryAfterMs(key: string): Promise<number>;
  /** Counts one failed attempt for `key`. Successes are never counted. */
  countFailure(key: string): Promise<void>;
  /**
   * Optional: true when the counter knows, synchronously, that `key` has no failure on record
   * (`retryAfterMs` would answer 0). Lets the common case skip the promise round trip.
   */
  knownClear?(key: string): boolean;
}

/** Where counters live. Implement it to keep them elsewhere. */
export interface AttemptStore {
  /** A counter for `limit`, its keys kept apart from other counters' by `name`. */
  counter(name: string, limit: AttemptLimit): AttemptCounter;
}

/** Keys kept per counter in memory by default (about 0.55 KB each, measured by bench/memory). */
export const DEFAULT_MAX_KEYS = 50_000;

/**
 * rate-limiter-flexible's memory limiter holds every key until its window ends, so a flood of
 * new identities would grow it without bound. This one forgets the least recently failed key
 * beyond `maxKeys`: memory stays bounded, and an attacker must churn `maxKeys` other keys to
 * make it forget one (each churned key is itself counted).
 */
class CappedMemoryLimiter extends RateLimiterMemory {
  private readonly recent: LRUCache<string, true>;

  constructor(limit: AttemptLimit & { keyPrefix: string }, maxKeys: number) {
    super(limit);
    // maxSize, not max: lru-cache preallocates `max` slots up front (~7 ms for 50,000), and a
    // verifier per tenant should cost nothing until it sees failures.
    this.recent = new LRUCache<string, true>({ maxSize: maxKeys, sizeCalculation: () => 1, dispose: (_value, key) => void this.delete(key) });
  }

  /** No failure is on record for `key` (none was counted, or it was forgotten). */
  knownClear(key: string): boolean {
    return !this.recent.has(key);
  }

  override penalty(key: string | number, points?: number, options?: { [key: string]: unknown }): Promise<RateLimiterRes> {
    this.recent.set(String(key), true);
    return super.penalty(key, points, options);
  }

  override consume(key: string | number, points?: number, options?: { [key: string]: unknown }): Promise<RateLimiterRes> {
    this.recent.set(String(key), true);
    return super.consume(key, points, options);
  }
}

function counterOver(limiter: RateLimiterAbstract, limit: AttemptLimit): AttemptCounter {
  const counter: AttemptCounter = {
    async retryAfterMs(key) {
      const state = await limiter.get(key);
      return state && state.consumedPoints >= limit.points ? Math.max(state.msBeforeNext, 1) : 0;
    },
    async countFailure(key) {
      await limiter.penalty(key, 1);
    },
  };
  if (limiter instanceof CappedMemoryLimiter) counter.knownClear = (key) => limiter.knownClear(key);
  return counter;
}

export function memoryStore(options: { maxKeys?: number; keyPrefix?: string } = {}): AttemptStore {
  const { maxKeys = DEFAULT_MAX_KEYS, keyPrefix = 'chat-identity' } = options;
  return {
    counter: (name, limit) => counterOver(new CappedMemoryLimiter({ ...limit, keyPrefix: `${keyPrefix}:${name}` }, maxKeys), limit),
  };
}

/** What the Redis store needs of a client: ioredis, or node-redis v4 and later. */
export interface RedisClientLike {
  on(event: 'error' | 'ready', listener: (...args: unknown[]) => void): unknown;
}

/**
 * Counters in Redis, shared by every instance. While Redis is unreachable the capped memory
 * limiter answers instead (per instance), and the outage is logged once, not per request; the
 * shared counters are used again as soon as Redis is ready.
 */
export function redisStore(client: RedisClientLike, options: { maxKeys?: number; keyPrefix?: string; logger?: Logger } = {}): AttemptStore {
  const { maxKeys = DEFAULT_MAX_KEYS, keyPrefix = 'chat-identity', logger = console } = options;
  // ioredis has `status`; node-redis (v4+) has `isReady` and needs its own command style.
  const useRedisPackage = !('status' in (client as object));
  const isReady = () => (useRedisPackage ? (client as { isReady?: boolean }).isReady === true : (client as { status?: string }).status === 'ready');
  let down = false;
  const markDown = () => {
    if (down) return;
    down = true;
    logger.error('chat-identity: Redis is unreachable; failed-attempt limits are counted per instance until it is back.');
  };
  client.on('error', markDown);
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.warn('chat-identity: Redis is back; failed-attempt limits are shared again.');
  });
  return {
    counter(name, limit) {
      const keys = { ...limit, keyPrefix: `${keyPrefix}:${name}` };
      const limiter = new RateLimiterRedis({
        ...keys,
        storeClient: client,
        useRedisPackage,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new CappedMemoryLimiter(keys, maxKeys),
      });
      const counter = counterOver(limiter, limit);
      // While the client is not ready the insurance limiter answers: that is the outage, said once.
      return {
        retryAfterMs(key) {
          if (!isReady()) markDown();
          return counter.retryAfterMs(key);
        },
        countFailure: (key) => counter.countFailure(key),
      };
    },
  };
}
