/**
 * Failed-attempt limits: failures are counted per client address (whatever tenant it names), and
 * per tenant and claimed identity. Over either limit, every attempt for that key is `RATE_LIMITED`
 * until its window ends, even one with a correct signature: that is what stops signature guessing.
 *
 * An attempt counts from the moment it begins, not when it fails: it is reserved before the proof
 * is verified and refunded when it turns out not to be a failure. So a burst of guesses in flight
 * cannot outrun the limit. Slack: none in one process (the memory store reserves synchronously).
 * Across instances sharing Redis, reserving is one atomic INCRBY, so none either, except that a
 * refund sent within one network latency of its window's end may land in the next window (one extra
 * attempt there, each); while Redis is unreachable, each instance counts alone (up to `points` each).
 *
 * @example
 * ```ts
 * const attempt = limits.begin(request.ip);
 * let code: IdentityErrorCode | undefined;
 * try {
 *   await attempt.admit();
 *   await attempt.claim(tenant, scheme, identity);
 *   ... verify; on a refusal, code = its code
 * } finally {
 *   void attempt.end(code); // a refund need not hold the response
 * }
 * ```
 */
import * as crypto from 'node:crypto';
import {
  insuredStore,
  memoryStore,
  redisStore,
  type AttemptCount,
  type AttemptCounter,
  type AttemptLimit,
  type AttemptStore,
  FAILURE_BUCKETS,
  type LocalCounter,
  type RedisClientLike,
} from './attemptStore.js';
import { clientAddress, DEFAULT_IPV6_SUBNET } from './clientAddress.js';
import type { IdentityErrorCode } from './errors.js';
import { refuseUnknown } from './config.js';
import { reject } from './rejection.js';
import type { Logger } from './types.js';

/**
 * Failed-attempt limits, the `rateLimit` option: per client address and per tenant and claimed
 * identity, in memory or shared through Redis.
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { identity: { points: 5, duration: 300 }, redis } });
 * ```
 */
export interface RateLimitOptions {
  /** Failures allowed per tenant and claimed identity. Default 10 per 60 seconds; `false` for none. */
  identity?: AttemptLimit | false;
  /** Failures allowed per client address (`request.ip`), whatever the tenant. Default 30 per 60 seconds; `false` for none. */
  address?: AttemptLimit | false;
  /** A Redis client (ioredis, or node-redis v4+) to share the limits across instances. */
  redis?: RedisClientLike;
  /** Another place to keep the counters (shared like Redis: same deadline, same insurance). */
  store?: AttemptStore;
  /** Keys kept in memory per limit (the embedded store, and the insurance of a shared one). Default 50,000. */
  maxKeys?: number;
  /** Prefix of every counter key in a shared store; also salts their hashes. Default `chat-identity`. */
  keyPrefix?: string;
  /** IPv6 client addresses are counted by their first `ipv6Subnet` bits. Default 64. */
  ipv6Subnet?: number;
  /**
   * Milliseconds one operation of a shared store may take before the in-memory insurance decides.
   * Default 200: a healthy Redis answers in about a millisecond, and a hung one should cost a
   * request no more than a human barely notices.
   */
  storeTimeout?: number;
}

/**
 * Failures allowed per tenant and claimed identity by default: 10 a minute.
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { identity: { ...DEFAULT_IDENTITY_LIMIT, points: 5 } } });
 * ```
 */
export const DEFAULT_IDENTITY_LIMIT: AttemptLimit = { points: 10, duration: 60 };
/**
 * Failures allowed per client address by default: 30 a minute.
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { address: { ...DEFAULT_ADDRESS_LIMIT, points: 100 } } });
 * ```
 */
export const DEFAULT_ADDRESS_LIMIT: AttemptLimit = { points: 30, duration: 60 };
/**
 * Milliseconds one operation of a shared store (Redis) may take by default before the in-memory insurance decides.
 *
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys, rateLimit: { redis, storeTimeout: DEFAULT_STORE_TIMEOUT / 2 } });
 * ```
 */
export const DEFAULT_STORE_TIMEOUT = 200;

/**
 * Failures that count against the client address: guesses, and keys lookups that failed or found
 * no tenant (so junk tenant names cannot buy unlimited lookups).
 */
const ADDRESS_FAILURES = new Set<IdentityErrorCode>([
  'INVALID_SIGNATURE',
  'MALFORMED_IDENTITY',
  'MISSING_REQUIRED_FIELD',
  'KEY_UNAVAILABLE',
]);
/** Failures that count against the claimed identity: guesses at its signature. Expired or absent proofs and outages are not. */
const IDENTITY_FAILURES = new Set<IdentityErrorCode>(['INVALID_SIGNATURE', 'MALFORMED_IDENTITY', 'MISSING_REQUIRED_FIELD']);

/** Where an attempt's client address comes from: the request's `ip` (a string, else no address limit). */
export interface AddressSource {
  readonly ip?: unknown;
}

export interface FailureLimits {
  /**
   * Begins one attempt from the client at `from.ip`, read only when a limit needs it: behind a
   * proxy, an adapter's `ip` parses X-Forwarded-For, and a request that succeeds while its counter
   * holds no failures never needs it.
   */
  begin(from: AddressSource): LimitedAttempt;
}

export interface LimitedAttempt {
  /**
   * Reserves this attempt against the address limit. Undefined when admitted at once (always, with
   * the memory store), a promise resolving when admitted (a shared store); throws, or rejects,
   * a `RATE_LIMITED` `Rejection` when over the limit, and then nothing stays reserved.
   */
  admit(): Promise<void> | undefined;
  /**
   * The same against the (tenant, identity) limit, once the identity a proof of `scheme` claims is
   * known (one identity per scheme: a user-hash "42" is not a jwt "42"). At most once, after `admit`.
   */
  claim(tenant: string | undefined, scheme: string, identity: string): Promise<void> | undefined;
  /**
   * Reads the client's address now, if no limit has yet. Call it before the request awaits anything
   * while the attempt is open: another attempt may then need it, and what reading it throws must
   * reach this request, not that one.
   */
  readAddress(): void;
  /**
   * Ends the attempt; call it once, whatever happened. `code` undefined = verified: every
   * reservation is refunded. A code that counts turns them into recorded failures; any other code
   * refunds. Returns undefined when nothing was left to do, else a promise of the refunds, which
   * are under way already: await it only to observe them. Never rejects.
   */
  end(code: IdentityErrorCode | undefined): Promise<void> | undefined;
}

interface Limit {
  counter: AttemptCounter;
  /** The memory store's counter when it is the store (no shared one): reserved without writing, below. */
  local: LocalCounter | undefined;
  points: number;
  /** The codes that count against this limit; the others are refunded. */
  failures: ReadonlySet<IdentityErrorCode>;
  /**
   * The attempt whose reservation on `local` is not written in its in-flight map yet: at most one.
   * Nothing can read that map but another reservation on this limit, which writes this one first;
   * so an attempt that ends before any other begins (no await in between) writes nothing, and one
   * that awaits is counted in flight by every attempt that begins meanwhile.
   */
  pending: Attempt | undefined;
}

interface Reservation {
  limit: Limit;
  key: string;
  count: AttemptCount;
}

/** Undefined when both limits are off. */
export function createFailureLimits(options: RateLimitOptions | false | undefined, logger: Logger = console): FailureLimits | undefined {
  if (options === false) return undefined;
  const {
    identity = DEFAULT_IDENTITY_LIMIT,
    address = DEFAULT_ADDRESS_LIMIT,
    maxKeys,
    keyPrefix = 'chat-identity',
    ipv6Subnet = DEFAULT_IPV6_SUBNET,
    storeTimeout = DEFAULT_STORE_TIMEOUT,
    redis,
    store: customStore,
  } = options ?? {};
  validate({ identity, address, maxKeys, ipv6Subnet, storeTimeout });
  if (identity === false && address === false) return undefined;

  const local = memoryStore({ maxKeys });
  const shared = customStore ?? (redis ? redisStore(redis, { keyPrefix }) : undefined);
  const storeName = customStore ? 'the failed-attempt store' : 'Redis';
  const store = shared ? insuredStore(shared, local, { timeout: storeTimeout, logger, name: storeName }) : undefined;
  const limitOf = (name: string, limit: AttemptLimit | false, failures: ReadonlySet<IdentityErrorCode>): Limit | undefined => {
    if (limit === false) return undefined;
    const counter = store ? store.counter(name, limit) : local.counter(name, limit);
    return { counter, local: store ? undefined : (counter as LocalCounter), points: limit.points, failures, pending: undefined };
  };
  const limits: Limits = {
    address: limitOf('address', address, ADDRESS_FAILURES),
    identity: limitOf('identity', identity, IDENTITY_FAILURES),
    // Keys of one fixed size, whatever the client sends. Instances sharing a store must agree on
    // them; a process alone salts them with a secret of its own.
    keyOf: keyHasher(shared ? keyPrefix : crypto.randomBytes(16).toString('base64url')),
    bucketSeed: crypto.randomBytes(4).readUInt32LE(),
    ipv6Subnet,
  };
  return { begin: (from) => new Attempt(limits, from) };
}

interface Limits {
  address: Limit | undefined;
  identity: Limit | undefined;
  keyOf(data: string): string;
  /** Seeds `bucketOf`, so that a client cannot choose keys that share a bucket with another's. */
  bucketSeed: number;
  ipv6Subnet: number;
}

/** Where a reservation on a `LocalCounter` stands. */
const enum Held {
  No = 0,
  /** Reserved, not written: the limit's `pending` attempt. */
  Pending = 1,
  /** Written in the counter's in-flight map. */
  InFlight = 2,
}

/**
 * One attempt. With the memory store alone, it allocates nothing more: its keys are hashed only
 * when a counter may hold something for them or a failure is recorded, and its reservations are
 * written only when another attempt could see them (see `Limit.pending`). With a shared store, each
 * reservation is a `Reservation` under its hashed key.
 */
class Attempt implements LimitedAttempt {
  private byAddress: Reservation | undefined;
  private byIdentity: Reservation | undefined;
  private addressHeld = Held.No;
  private identityHeld = Held.No;
  private addressKey: string | undefined;
  private identityKey: string | undefined;
  private tenant: string | undefined;
  private scheme = '';
  private identity = '';
  /** The address as counted (`clientAddress`), once read. */
  private counted: string | undefined;
  /** The client's address (`from.ip`), once read: undefined, no address limit. */
  private address: string | undefined;
  private addressRead = false;
  /**
   * When the attempt first asked whether a counter is quiet (Date.now()), asked once: one read of the
   * clock for both limits. An earlier time than the true one can only find a counter busy, never quiet.
   */
  private startedAt = 0;

  constructor(
    private readonly limits: Limits,
    private readonly from: AddressSource,
  ) {}

  admit(): Promise<void> | undefined {
    const limit = this.limits.address;
    if (!limit) return undefined;
    if (limit.local) return this.reserveLocally(true, limit, limit.local);
    if (this.clientIp() === undefined) return undefined;
    return this.reserve('byAddress', limit, this.keyOfAddress());
  }

  readAddress(): void {
    if (this.limits.address) this.clientIp();
  }

  /** `from.ip`, read once. Marked read first: a getter that throws leaves no address (no address limit) to later readers, its error thrown to this one. */
  private clientIp(): string | undefined {
    if (!this.addressRead) {
      this.addressRead = true;
      const ip = this.from.ip;
      this.address = typeof ip === 'string' ? ip : undefined;
    }
    return this.address;
  }

  claim(tenant: string | undefined, scheme: string, identity: string): Promise<void> | undefined {
    const limit = this.limits.identity;
    if (!limit) return undefined;
    this.tenant = tenant;
    this.scheme = scheme;
    this.identity = identity;
    if (limit.local) return this.reserveLocally(false, limit, limit.local);
    return this.reserve('byIdentity', limit, this.keyOfIdentity());
  }

  end(code: IdentityErrorCode | undefined): Promise<void> | undefined {
    if (this.addressHeld !== Held.No) this.settleLocally(true, this.limits.address!, code);
    if (this.identityHeld !== Held.No) this.settleLocally(false, this.limits.identity!, code);
    if (this.byAddress === undefined && this.byIdentity === undefined) return undefined;
    const byAddress = settle(this.byAddress, code);
    const byIdentity = settle(this.byIdentity, code);
    this.byAddress = this.byIdentity = undefined;
    if (!isPromiseLike(byAddress) && !isPromiseLike(byIdentity)) return undefined;
    return Promise.all([byAddress, byIdentity]).then(() => undefined);
  }

  /** Only once `clientIp()` answered an address. */
  private countedAddress(): string {
    return (this.counted ??= clientAddress(this.address!, this.limits.ipv6Subnet));
  }

  private keyOfAddress(): string {
    return (this.addressKey ??= this.limits.keyOf(this.countedAddress()));
  }

  /** The bucket of this attempt's key for a limit: of the data that key is the hash of, so equal keys share it. */
  private bucket(byAddress: boolean): number {
    const seed = this.limits.bucketSeed;
    return byAddress ? bucketOf(seed, this.countedAddress(), '', '') : bucketOf(seed, this.tenant ?? '', this.scheme, this.identity);
  }

  private keyOfIdentity(): string {
    // Length-prefixed, so that no (tenant, identity) pair can spell another's key.
    const owner = this.tenant ?? '';
    return (this.identityKey ??= this.limits.keyOf(`${owner.length}:${owner}\0${this.scheme}:${this.identity}`));
  }

  /** Writes this attempt's pending reservation on `limit` in its counter's in-flight map. */
  private write(byAddress: boolean, counter: LocalCounter): void {
    if (byAddress) {
      // Read by now: an attempt is only written while its request awaits, and it read its address first (`readAddress`).
      if (this.clientIp() === undefined) {
        this.addressHeld = Held.No;
        return;
      }
      counter.hold(this.keyOfAddress());
      this.addressHeld = Held.InFlight;
    } else {
      counter.hold(this.keyOfIdentity());
      this.identityHeld = Held.InFlight;
    }
  }

  /** Reserves on the memory store, synchronously: throws `RATE_LIMITED` over the limit, reserving nothing. */
  private reserveLocally(byAddress: boolean, limit: Limit, counter: LocalCounter): undefined {
    // Another attempt's reservation, unwritten: it is about to be read, so it is written first.
    if (limit.pending !== undefined) {
      limit.pending.write(byAddress, counter);
      limit.pending = undefined;
    }
    // A quiet counter holds nothing for any key, nor for this one when its bucket is quiet; and
    // every limit allows one attempt at least. So the address is read only when the counter is not.
    const at = (this.startedAt ||= Date.now());
    if (!counter.quiet(at)) {
      if (byAddress && this.clientIp() === undefined) return undefined; // no address: no address limit
      if (!counter.quietFor(this.bucket(byAddress), at)) this.refuseOverLimit(byAddress, limit, counter);
    }
    limit.pending = this;
    if (byAddress) this.addressHeld = Held.Pending;
    else this.identityHeld = Held.Pending;
    return undefined;
  }

  /** Throws `RATE_LIMITED` when this attempt's key is over `limit`. */
  private refuseOverLimit(byAddress: boolean, limit: Limit, counter: LocalCounter): void {
    const key = byAddress ? this.keyOfAddress() : this.keyOfIdentity();
    if (counter.heldBy(key) + 1 > limit.points) {
      const seconds = Math.max(1, Math.ceil(counter.msLeft(key) / 1000));
      reject('RATE_LIMITED', `Too many failed attempts; retry in ${seconds} seconds.`, false, seconds);
    }
  }

  /** Ends a reservation on the memory store: recorded as a failure if `code` counts against `limit`, else given back. */
  private settleLocally(byAddress: boolean, limit: Limit, code: IdentityErrorCode | undefined): void {
    const held = byAddress ? this.addressHeld : this.identityHeld;
    if (byAddress) this.addressHeld = Held.No;
    else this.identityHeld = Held.No;
    const counter = limit.local!;
    const failed = code !== undefined && limit.failures.has(code);
    if (held === Held.Pending) {
      limit.pending = undefined; // a pending reservation is always its limit's pending one
    } else {
      counter.refund(byAddress ? this.keyOfAddress() : this.keyOfIdentity());
    }
    if (!failed) return;
    if (!byAddress) counter.fail(this.keyOfIdentity(), this.bucket(false));
    else if (this.clientIp() !== undefined) counter.fail(this.keyOfAddress(), this.bucket(true));
  }

  private reserve(slot: 'byAddress' | 'byIdentity', limit: Limit, key: string): Promise<void> | undefined {
    const hold = (count: AttemptCount) => {
      if (count.held > limit.points) {
        void limit.counter.refund(key, count);
        const seconds = Math.max(1, Math.ceil(count.msLeft / 1000));
        reject('RATE_LIMITED', `Too many failed attempts; retry in ${seconds} seconds.`, false, seconds);
      }
      this[slot] = { limit, key, count };
    };
    const count = limit.counter.reserve(key);
    if (isPromiseLike(count)) return Promise.resolve(count).then(hold);
    hold(count);
    return undefined;
  }
}

/** Records `reservation` as a failure if `code` counts against its limit, else refunds it. */
function settle(reservation: Reservation | undefined, code: IdentityErrorCode | undefined): PromiseLike<void> | void {
  if (!reservation) return;
  const { limit, key, count } = reservation;
  if (code === undefined || !limit.failures.has(code)) return limit.counter.refund(key, count);
  return limit.counter.record?.(key, count);
}

const isPromiseLike = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof (value as PromiseLike<T> | undefined)?.then === 'function';

/**
 * `first`, then `scheme:identity` as the identity key spells it (FNV-1a, seeded), reduced to a
 * bucket of a `LocalCounter`: cheap beside the keyed hash, and only a hint (keys in one bucket are
 * told apart by their keyed hashes). Hashed in parts, so a request that passes joins no string.
 */
function bucketOf(seed: number, first: string, scheme: string, identity: string): number {
  let hash = seed;
  for (let i = 0; i < first.length; i++) hash = Math.imul(hash ^ first.charCodeAt(i), 16777619);
  hash = Math.imul(hash ^ 0x10000, 16777619); // between the two: no character is 0x10000
  for (let i = 0; i < scheme.length; i++) hash = Math.imul(hash ^ scheme.charCodeAt(i), 16777619);
  hash = Math.imul(hash ^ 0x3a, 16777619); // the ':' between them
  for (let i = 0; i < identity.length; i++) hash = Math.imul(hash ^ identity.charCodeAt(i), 16777619);
  return ((hash ^ (hash >>> 16)) >>> 0) % FAILURE_BUCKETS;
}

/** A keyed hash, 22 base64url characters (132 bits): the same size for any input, unguessable without the salt. */
function keyHasher(salt: string): (data: string) => string {
  // crypto.hash (Node 20.12+) is about three times faster than createHash; this runs on every request.
  const sha256 =
    typeof crypto.hash === 'function'
      ? (data: string) => crypto.hash('sha256', data, 'base64url')
      : (data: string) => crypto.createHash('sha256').update(data).digest('base64url');
  return (data) => sha256(`${salt}\0${data}`).slice(0, 22);
}

/** The options as resolved, defaults applied. */
type Settings = Required<Pick<RateLimitOptions, 'identity' | 'address' | 'ipv6Subnet' | 'storeTimeout'>> & { maxKeys?: number };

function validate({ identity, address, maxKeys, ipv6Subnet, storeTimeout }: Settings): void {
  const fail = (message: string) => {
    throw new TypeError(`chat-identity: rateLimit.${message}`);
  };
  for (const [name, limit] of [
    ['identity', identity],
    ['address', address],
  ] as const) {
    if (limit !== false) refuseUnknown(limit, ['points', 'duration'], `options.rateLimit.${name}`);
    // Whole seconds: Redis expires keys by the second, and a window under one would never expire there.
    if (limit !== false && !(isPositiveInteger(limit?.points) && isPositiveInteger(limit.duration))) {
      fail(`${name} must be { points: a positive integer, duration: whole seconds, 1 or more } or false.`);
    }
  }
  if (!(isPositiveInteger(ipv6Subnet) && ipv6Subnet <= 128)) fail('ipv6Subnet must be a whole number of bits from 1 to 128.');
  if (!(typeof storeTimeout === 'number' && storeTimeout > 0 && Number.isFinite(storeTimeout))) {
    fail('storeTimeout must be a positive number of milliseconds.');
  }
  if (maxKeys !== undefined && !isPositiveInteger(maxKeys)) fail('maxKeys must be a positive integer.');
}

const isPositiveInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0;
