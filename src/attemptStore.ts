/**
 * Attempt counters behind one small interface: in this process's memory (the embedded default,
 * capped) or rate-limiter-flexible's Redis limiter (shared by every instance). A shared store is
 * used through `insuredStore`: every operation has a deadline, past which the capped memory counter
 * decides.
 */
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from './types.js';

/**
 * One failure limit: attempts allowed per key in a fixed window.
 *
 * @example
 * ```ts
 * const limit: AttemptLimit = { points: 10, duration: 60 }; // 10 failures a minute
 * ```
 */
export interface AttemptLimit {
  /** Attempts allowed in one window: recorded failures plus attempts in flight. */
  points: number;
  /** The window, in whole seconds. */
  duration: number;
}

/**
 * What a counter holds for one key, just after a reservation.
 *
 * @example
 * ```ts
 * const count: AttemptCount = { held: 3, msLeft: 41_000 }; // 3 attempts in the window, 41 s left of it
 * ```
 */
export interface AttemptCount {
  /** Attempts in the key's current window, the new one included: recorded failures and attempts in flight. */
  held: number;
  /** Milliseconds until that window ends and everything in it is forgotten. */
  msLeft: number;
}

/**
 * One limit's counters, by key. Keys arrive hashed (22 characters, whatever the client sent), so a
 * store never holds client data and every key costs the same. A key's window is fixed: it begins
 * with its first attempt and lasts `limit.duration` seconds, after which the store forgets the key
 * (a TTL), so that it stays bounded.
 *
 * An attempt is reserved before it is verified, so attempts in flight count and a burst cannot
 * outrun the limit; when it ends, it is refunded, or recorded as a failure.
 *
 * @example
 * ```ts
 * const counter: AttemptCounter = { reserve: (key) => ({ held: 1, msLeft: 60_000 }), refund() {} };
 * ```
 */
export interface AttemptCounter {
  /**
   * Adds one attempt to `key` and answers what the window then holds. Must be atomic (a shared
   * store: one INCRBY or the like): the limit is only as exact as this is.
   */
  reserve(key: string): AttemptCount | PromiseLike<AttemptCount>;
  /**
   * Takes back one attempt that `reserve` added (it was no failure); `reserved` is what that reserve
   * answered. A store whose reservations live in its windows takes back none after the window ended:
   * that would credit the next one.
   */
  refund(key: string, reserved: AttemptCount): void | PromiseLike<void>;
  /**
   * Optional: the reserved attempt failed. A store that counts a reservation as an attempt already
   * (Redis) needs nothing here; the memory store moves it from in flight to its window of failures.
   */
  record?(key: string, reserved: AttemptCount): void | PromiseLike<void>;
}

/**
 * Where counters live. Implement it to keep them elsewhere: `createFailureLimits` gives every
 * operation of a store passed as `store` the same deadline and in-memory insurance as Redis.
 *
 * @example
 * ```ts
 * const store: AttemptStore = { counter: (name, limit) => myCounter(`my-app:${name}`, limit) };
 * createVerifier({ ..., rateLimit: { store } });
 * ```
 */
export interface AttemptStore {
  /** A counter for `limit`, its keys kept apart from other counters' by `name`. */
  counter(name: string, limit: AttemptLimit): AttemptCounter;
}

/**
 * Keys kept per counter in memory by default (about 0.2 KB each, measured by bench/memory).
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { maxKeys: DEFAULT_MAX_KEYS * 2 } });
 * ```
 */
export const DEFAULT_MAX_KEYS = 50_000;

/**
 * Buckets of keys a `LocalCounter` tracks windows of failures by: 4 bytes each, 256 KiB a counter once
 * a failure is recorded. A valid request whose buckets are quiet is admitted without its keys hashed.
 * With 1,024 buckets, 4,096 failures in the last minute left nearly all busy: a valid jwt verify read
 * 2.09–2.22× its floor, 1.63× with these (1.40–1.48× with no failure on record; bench/PROFILE.md,
 * "The limiter after failures").
 */
export const FAILURE_BUCKETS = 65_536;

/** A counter that answers at once: the memory store's. */
interface ImmediateCounter extends AttemptCounter {
  reserve(key: string): AttemptCount;
  refund(key: string, reserved: AttemptCount): void;
  record(key: string, reserved: AttemptCount): void;
}

/**
 * The memory store's counter as `createFailureLimits` uses it when it is the store (no shared
 * one): an attempt there is reserved without writing anything while no other attempt can run, and
 * its key is hashed only when a failure is recorded or one may be on record.
 */
export interface LocalCounter extends ImmediateCounter {
  /** Takes back one attempt in flight (what `reserve` answered is not needed here). */
  refund(key: string, reserved?: AttemptCount): void;
  /** Moves one attempt in flight to the window of failures. */
  record(key: string, reserved?: AttemptCount): void;
  /**
   * Nothing in flight, and every window of failures ended by `at` (Date.now(), read by the caller:
   * an earlier time only ever answers false more often): any key holds nothing. Then the memory
   * store also lets go of every key it kept.
   */
  quiet(at: number): boolean;
  /**
   * Nothing in flight, and no window of failures open at `at` for a key of `bucket` (see `fail`): such
   * a key holds nothing. A bucket is any number from 0 to `FAILURE_BUCKETS - 1` that is the same for equal keys.
   */
  quietFor(bucket: number, at: number): boolean;
  /** Attempts `key` holds now (failures in its window, attempts in flight), without adding one. */
  heldBy(key: string): number;
  /** Milliseconds left of `key`'s window of failures (0 when none is open). */
  msLeft(key: string): number;
  /** Adds one attempt in flight to `key` (a reservation made without writing, written once another attempt could see it). */
  hold(key: string): void;
  /** Records a failure for `key`, of an attempt that was never written as in flight; `bucket` as for `quietFor`. */
  fail(key: string, bucket?: number): void;
}

interface MemoryStore extends AttemptStore {
  counter(name: string, limit: AttemptLimit): LocalCounter;
}

/** One key's window of failures: it opens at a failure and lasts the limit's duration. */
interface FailureWindow {
  failures: number;
  /** When the window ends (Date.now() ms): from then on the key holds no failures. */
  end: number;
}

/**
 * Failures by key in two Maps, attempts in flight beside them in a third (they last a request, and
 * most end verified: kept apart, they cost the windows nothing). A Map keeps its keys in the order
 * they were set, so re-setting a key on each failure keeps them least recently failed first: beyond
 * `maxKeys` the first is forgotten. Keys at their limit (`points` failures: refusing) are kept in the
 * second Map and forgotten only when the first is empty, so a flood of keys failed once cannot push
 * out a victim's locked identity: the flood's keys must each reach the limit too. Memory stays
 * bounded, and an attacker must churn `maxKeys` other keys to make it forget one (each churned key
 * is itself counted).
 *
 * Not rate-limiter-flexible's memory limiter, which this counter used to wrap: it sets a timer per
 * key to delete it when its window ends, and under a flood of distinct failures the timers, its
 * records and the LRU kept beside it to bound it cost more than the failure's HMAC (bench/PROFILE.md,
 * "The distinct attacker"). Here a window that ended is simply read as empty, and dropped when met.
 */
class MemoryCounter implements LocalCounter {
  /** Open (or lately ended) windows of fewer than `points` failures by key, least recently failed first. */
  private readonly windows = new Map<string, FailureWindow>();
  /** The same of keys at their limit: forgotten only when `windows` has no other key. */
  private readonly full = new Map<string, FailureWindow>();
  /** Where `forget` is in each Map: made at the first key forgotten from it (see there). */
  private oldest = new WeakMap<Map<string, FailureWindow>, Iterator<string>>();
  private readonly inFlight = new Map<string, number>();
  /** No window of failures ends later than this (Date.now() ms). */
  private failuresEnd = 0;
  /** The same per bucket of keys, in whole seconds rounded up (allocated at the first failure recorded with a bucket). */
  private bucketEnds: Uint32Array | undefined;
  /** A failure was recorded without a bucket: buckets say nothing. */
  private unbucketed = false;
  private readonly windowMs: number;
  private readonly points: number;

  constructor(
    limit: AttemptLimit,
    private readonly maxKeys: number,
  ) {
    this.windowMs = limit.duration * 1000;
    this.points = limit.points;
  }

  reserve(key: string): AttemptCount {
    const inFlight = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, inFlight);
    const now = Date.now();
    const open = this.openWindow(key, now);
    return open ? { held: open.failures + inFlight, msLeft: open.end - now } : { held: inFlight, msLeft: 0 };
  }

  refund(key: string): void {
    const inFlight = this.inFlight.get(key)! - 1;
    if (inFlight > 0) this.inFlight.set(key, inFlight);
    else this.inFlight.delete(key);
  }

  record(key: string): void {
    this.refund(key);
    this.fail(key);
  }

  quiet(at: number): boolean {
    if (this.inFlight.size !== 0 || at < this.failuresEnd) return false;
    if (this.windows.size + this.full.size !== 0) {
      // Every window has ended: none is worth its memory, and no failure is left without a bucket.
      this.windows.clear();
      this.full.clear();
      this.oldest = new WeakMap();
      this.unbucketed = false;
    }
    return true;
  }

  quietFor(bucket: number, at: number): boolean {
    return this.inFlight.size === 0 && !this.unbucketed && at >= (this.bucketEnds?.[bucket] ?? 0) * 1000;
  }

  heldBy(key: string): number {
    return (this.openWindow(key, Date.now())?.failures ?? 0) + (this.inFlight.get(key) ?? 0);
  }

  msLeft(key: string): number {
    const now = Date.now();
    const open = this.openWindow(key, now);
    return open ? open.end - now : 0;
  }

  hold(key: string): void {
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
  }

  fail(key: string, bucket?: number): void {
    const now = Date.now();
    const { windows, full } = this;
    let window = windows.get(key) ?? full.get(key);
    if (window !== undefined) {
      if (!windows.delete(key)) full.delete(key); // set again below: now the most recently failed
      if (window.end > now) window.failures++;
      else window = undefined;
    }
    window ??= { failures: 1, end: now + this.windowMs };
    (window.failures >= this.points ? full : windows).set(key, window);
    if (windows.size + full.size > this.maxKeys) this.forget(windows.size > (windows.has(key) ? 1 : 0) ? windows : full, key);
    const { end } = window;
    this.failuresEnd = Math.max(this.failuresEnd, end);
    if (bucket === undefined) {
      this.unbucketed = true;
    } else {
      // Rounded up: a bucket may read busy a moment after its last window ended, never quiet before.
      const ends = (this.bucketEnds ??= new Uint32Array(FAILURE_BUCKETS));
      ends[bucket] = Math.max(ends[bucket]!, Math.ceil(end / 1000));
    }
  }

  /**
   * Deletes the first key of `from` but `failed` (the failure just counted). `keys().next()` would
   * walk every key deleted before it that the Map has not yet compacted away, tens of thousands under
   * a flood; an iterator kept between calls walks each once (a Map iterator skips deleted keys and
   * visits keys set after it was made).
   */
  private forget(from: Map<string, FailureWindow>, failed: string): void {
    for (let walks = 0; walks < 2;) {
      let walk = this.oldest.get(from);
      if (walk === undefined) this.oldest.set(from, (walk = from.keys()));
      const next = walk.next();
      // Every key it passed is gone, so it cannot be at the end while keys remain; were it, a new walk starts.
      if (next.done) {
        this.oldest.delete(from);
        walks++;
      } else if (next.value !== failed) {
        from.delete(next.value);
        return;
      }
    }
  }

  /** `key`'s window of failures if it is open at `at`; one that ended is dropped. */
  private openWindow(key: string, at: number): FailureWindow | undefined {
    const window = this.windows.get(key) ?? this.full.get(key);
    if (window === undefined || window.end > at) return window;
    if (!this.windows.delete(key)) this.full.delete(key);
    return undefined;
  }
}

/**
 * The embedded store: counters in this process's memory, at most `maxKeys` keys of failures per counter.
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { store: memoryStore({ maxKeys: 10_000 }) } });
 * ```
 */
export function memoryStore(options: { maxKeys?: number } = {}): MemoryStore {
  const { maxKeys = DEFAULT_MAX_KEYS } = options;
  return { counter: (_name, limit) => new MemoryCounter(limit, maxKeys) };
}

/**
 * A Redis client: ioredis, or node-redis v4 and later (rate-limiter-flexible speaks to either).
 *
 * @example
 * ```ts
 * const redis: RedisClientLike = new Redis({ enableOfflineQueue: false }); // ioredis; or node-redis's createClient()
 * ```
 */
export interface RedisClientLike {
  multi(): unknown;
}

/**
 * Counters in Redis, shared by every instance. Reserving is rate-limiter-flexible's consume: one
 * Lua script that increments the key and sets its expiry to the window, so instances never
 * miscount and Redis forgets a key when its window ends; a failure is simply not refunded. Use it
 * through `createFailureLimits` (option `redis`, or `store: redisStore(client)`), which adds the
 * deadline and the insurance.
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { store: redisStore(redis, { keyPrefix: 'chat' }) } });
 * ```
 */
export function redisStore(client: RedisClientLike, options: { keyPrefix?: string } = {}): AttemptStore {
  const { keyPrefix = 'chat-identity' } = options;
  // ioredis has `status`; node-redis (v4+) has `isReady` and needs its own command style.
  const useRedisPackage = !('status' in client);
  return {
    counter(name, limit) {
      const limiter = new RateLimiterRedis({
        ...limit,
        keyPrefix: `${keyPrefix}:${name}`,
        storeClient: client,
        useRedisPackage,
        rejectIfRedisNotReady: true,
      });
      return {
        reserve(key) {
          const sentAt = Date.now(); // no later than Redis counted: the window ends no sooner than sentAt + its TTL
          const countOf = ({ consumedPoints, msBeforeNext }: RateLimiterRes): WindowedCount => ({
            held: consumedPoints,
            msLeft: msBeforeNext,
            windowEnd: sentAt + msBeforeNext,
          });
          // Over the limit, consume rejects with the count: an answer here, not an error.
          const overLimit = (over: unknown) => (over instanceof RateLimiterRes ? countOf(over) : Promise.reject(over));
          return limiter.consume(key).then(countOf, overLimit);
        },
        refund(key, reserved: WindowedCount) {
          if (Date.now() < reserved.windowEnd) return limiter.reward(key).then(() => undefined);
        },
      };
    },
  };
}

/** A count from a store whose reservations live in its windows, with the end of the window (by this clock). */
interface WindowedCount extends AttemptCount {
  windowEnd: number;
}

/** How long after a failed or slow operation the shared store is tried again, by one operation at a time. */
const RETRY_INTERVAL_MS = 1000;

/**
 * `shared` (Redis, or a custom store) with a deadline on every operation. Past `timeout`, or on an
 * error, `insurance` decides instead (limits counted per instance), the outage is logged once,
 * and the shared store is left alone for a second, then tried by one operation at a time, so
 * a hung connection is not handed a command per request. The first answer in time ends the
 * outage, logged once as well.
 */
export function insuredStore(
  shared: AttemptStore,
  insurance: MemoryStore,
  options: { timeout: number; logger: Logger; name: string },
): AttemptStore {
  const { timeout, logger, name } = options;
  let down = false;
  let retryAt = 0;
  let probing = false;

  const failed = (reason: string) => {
    retryAt = Date.now() + RETRY_INTERVAL_MS;
    if (down) return;
    down = true;
    logger.error(`chat-identity: ${name} ${reason}; failed-attempt limits are counted per instance until it answers again.`);
  };
  const answered = () => {
    if (!down) return;
    down = false;
    logger.warn(`chat-identity: ${name} answers again; failed-attempt limits are shared again.`);
  };

  /**
   * `operation` on the shared store, or `fallback` when the store is down or misses the deadline;
   * `late` is given what the operation answers after the fallback decided.
   */
  function guarded<T>(operation: () => T | PromiseLike<T>, fallback: () => T, late: (value: T) => void): T | Promise<T> {
    if (down && (probing || Date.now() < retryAt)) return fallback();
    const probe = down;
    if (probe) probing = true;
    return new Promise<T>((resolve) => {
      let decided = false;
      const decide = (value: T) => {
        decided = true;
        if (probe) probing = false;
        resolve(value);
      };
      const giveUp = (reason: string) => {
        if (decided) return;
        failed(reason);
        decide(fallback());
      };
      // Timers run before the event loop reads sockets: a busy process would miss answers that are
      // already waiting. So the deadline first lets pending I/O through (setImmediate), then decides.
      const deadline = setTimeout(() => setImmediate(giveUp, `did not answer within ${timeout} ms`), timeout);
      deadline.unref();
      new Promise<T>((run) => run(operation())).then(
        (value) => {
          if (decided) return late(value);
          clearTimeout(deadline);
          answered();
          decide(value);
        },
        (error: unknown) => {
          clearTimeout(deadline);
          giveUp(`failed (${String(error)})`);
        },
      );
    });
  }

  return {
    counter(counterName, limit) {
      const remote = shared.counter(counterName, limit);
      const local = insurance.counter(counterName, limit);
      const heldLocally = new WeakSet<AttemptCount>();
      const reserveLocally = (key: string) => {
        const count = local.reserve(key);
        heldLocally.add(count);
        return count;
      };
      // A reservation that lands after its deadline was decided locally: give it back.
      const undoLate = (key: string) => (count: AttemptCount) => void new Promise((run) => run(remote.refund(key, count))).catch(() => {});
      // What the store misses leaves the attempt counted until its window ends: stricter, never looser.
      const refundRemotely = (key: string, reserved: AttemptCount) =>
        guarded(
          () => remote.refund(key, reserved),
          () => undefined,
          () => {},
        );
      const recordRemotely = (key: string, reserved: AttemptCount) =>
        remote.record &&
        guarded(
          () => remote.record!(key, reserved),
          () => undefined,
          () => {},
        );
      return {
        reserve: (key) =>
          guarded(
            () => remote.reserve(key),
            () => reserveLocally(key),
            undoLate(key),
          ),
        refund: (key, reserved) => (heldLocally.has(reserved) ? local.refund(key, reserved) : refundRemotely(key, reserved)),
        record: (key, reserved) => (heldLocally.has(reserved) ? local.record(key, reserved) : recordRemotely(key, reserved)),
      };
    },
  };
}
