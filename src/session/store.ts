/**
 * What sessions keep on the server: not the sessions (a credential carries everything it proves),
 * only what ends them early. Per tenant, a generation that `endSessions(tenant)` bumps (a session
 * started under an older one is over); per session, an end recorded by `endSession()` (a logout)
 * until the session could not have lasted anyway; and the DPoP proofs already used (`jti`), until
 * they are too old to be accepted. In memory by default (this process only); in Redis for many
 * instances, so that an end said to one instance holds on all of them.
 *
 * @example
 * ```ts
 * const store = redisSessionStore(redis, { keyPrefix: 'chat-identity' });
 * createVerifier({ ..., session: { keys: [process.env.CHAT_IDENTITY_SESSION_SECRET!], store } });
 * ```
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RedisClientLike } from '../attemptStore.js';

/**
 * What the store says of one session.
 *
 * @example
 * ```ts
 * const { generation, ended } = await store.state('acme', sessionId);
 * ```
 */
export interface SessionState {
  /** The tenant's generation now: a session started under another one was ended by `endSessions`. */
  generation: number;
  /** The session was ended on its own (`endSession`, a logout). */
  ended: boolean;
}

/**
 * Where session ends are kept. Implement it to keep them elsewhere; every method may answer at
 * once or with a promise. `tenant` is undefined for a verifier whose keys are the same for every
 * tenant (static keys): its sessions belong to no tenant.
 *
 * @example
 * ```ts
 * const store: SessionStore = redisSessionStore(redis); // or memorySessionStore(), or your own
 * createVerifier({ scheme: 'jwt', keys, session: { keys: sessionKeys, store } });
 * ```
 */
export interface SessionStore {
  /** The tenant's generation: what a session started now is issued under. */
  generation(tenant: string | undefined): number | PromiseLike<number>;
  /** The tenant's generation and whether session `id` was ended: one read where the store can. */
  state(tenant: string | undefined, id: string): SessionState | PromiseLike<SessionState>;
  /** Ends every session of `tenant` started so far: bumps its generation. */
  endAll(tenant: string | undefined): void | PromiseLike<void>;
  /** Ends session `id`; kept `ttl` milliseconds, after which the session would have expired anyway. */
  end(id: string, ttl: number): void | PromiseLike<void>;
  /**
   * Records a one-time value (a DPoP proof's key and `jti`) for `ttl` milliseconds. True the first
   * time; false when it was recorded already (a replay). Must be atomic across instances.
   */
  firstUse(value: string, ttl: number): boolean | PromiseLike<boolean>;
}

/** Session ends and used DPoP proofs kept in memory, each at most (about 150 bytes an entry). */
export const DEFAULT_MAX_ENTRIES = 10_000;
/** How far apart (ms) a verifier's clock read and this store's, for one check, are assumed at most. */
const CLOCK_READS_APART = 1000;

/**
 * The embedded store: this process only, at most `maxEntries` logouts and as many used DPoP proofs
 * within their lifetimes. Past that it fails closed, never open: an end dropped while it still
 * mattered ends every session started so far (as `endAll` of every tenant: widgets fall back to
 * their proofs), and a used proof dropped early makes every proof that expires no later than it
 * refused as a replay (with a second's slack). Flooding it costs everyone a fresh proof, never a replay.
 *
 * @example
 * ```ts
 * const store = memorySessionStore(); // shared by two verifiers of one process
 * ```
 */
export function memorySessionStore(options: { now?: () => number; maxEntries?: number } = {}): SessionStore {
  const { now = Date.now, maxEntries = DEFAULT_MAX_ENTRIES } = options;
  if (!(Number.isSafeInteger(maxEntries) && maxEntries > 0))
    throw new TypeError('chat-identity: memorySessionStore maxEntries must be a positive integer.');
  const generations = new Map<string, number>();
  /** Bumped when a live end was dropped: added to every tenant's generation. */
  let droppedEnds = 0;
  /** The latest expiry (ms) of a used proof dropped while live: proofs expiring no later may be its replay. */
  let droppedProofsUntil = -Infinity;
  // Each entry's value is when it expires, so that an eviction can tell a live entry from a stale one.
  // maxSize, not max: lru-cache preallocates `max` slots, and most verifiers never see a logout.
  const cache = (dropped: (expiresAt: number) => void) =>
    new LRUCache<string, number>({
      maxSize: maxEntries,
      sizeCalculation: () => 1,
      ttlResolution: 0,
      perf: { now },
      dispose: (expiresAt, _key, reason) => {
        if (reason === 'evict' && expiresAt > now()) dropped(expiresAt);
      },
    });
  const ended = cache(() => droppedEnds++);
  // Every use of one proof asks to keep it until about the same moment (src/session/dpop.ts), but
  // from a clock read a little before this store's: a second of slack covers the difference, so a
  // replay of a dropped proof can never count as expiring after it.
  const used = cache((expiresAt) => (droppedProofsUntil = Math.max(droppedProofsUntil, expiresAt + CLOCK_READS_APART)));
  const tenantKey = (tenant: string | undefined) => (tenant === undefined ? '' : `=${tenant}`);
  const generation = (tenant: string | undefined) => (generations.get(tenantKey(tenant)) ?? 0) + droppedEnds;
  const lifetime = (ttl: number) => Math.max(1, Math.ceil(ttl));
  return {
    generation,
    state: (tenant, id) => ({ generation: generation(tenant), ended: ended.has(id) }),
    endAll(tenant) {
      const key = tenantKey(tenant);
      generations.set(key, (generations.get(key) ?? 0) + 1);
    },
    end(id, ttl) {
      const kept = lifetime(ttl);
      // Never shortened: an end recorded from a stale result must not cut short a later, longer one.
      if ((ended.get(id) ?? 0) < now() + kept) ended.set(id, now() + kept, { ttl: kept });
    },
    firstUse(value, ttl) {
      const kept = lifetime(ttl);
      const expiresAt = now() + kept;
      if (used.has(value) || expiresAt <= droppedProofsUntil) return false;
      used.set(value, expiresAt, { ttl: kept });
      return true;
    },
  };
}

/** Sets the end with its lifetime unless it is already set to last longer (PTTL: -2 when there is none). */
const EXTEND_END = "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end";

/** A command sender for ioredis (`call`) or node-redis v4 and later (`sendCommand`). */
type Send = (args: string[]) => Promise<unknown>;

function sender(client: RedisClientLike): Send {
  const c = client as { call?: (...args: string[]) => Promise<unknown>; sendCommand?: (args: string[]) => Promise<unknown> };
  if (typeof c.call === 'function') return (args) => c.call!(...args);
  if (typeof c.sendCommand === 'function') return (args) => c.sendCommand!(args);
  throw new TypeError('chat-identity: the Redis client must be ioredis or node-redis (v4 or later).');
}

/**
 * Session ends in Redis, shared by every instance: a generation per tenant (INCR), an end per
 * session (with PX, so Redis forgets it when the session could no longer be valid; never
 * shortened), and used
 * DPoP proofs (SET NX PX: atomic, so a proof replayed to two instances at once passes on one).
 * Keys: `<keyPrefix>:session:gen:<tenant>`, `:session:end:<id>`, `:session:jti:<hash>`.
 *
 * @example
 * ```ts
 * const store = redisSessionStore(new Redis(process.env.REDIS_URL!), { keyPrefix: 'chat' });
 * ```
 */
export function redisSessionStore(client: RedisClientLike, options: { keyPrefix?: string } = {}): SessionStore {
  const send = sender(client);
  const prefix = `${options.keyPrefix ?? 'chat-identity'}:session`;
  const genKey = (tenant: string | undefined) => `${prefix}:gen:${tenant === undefined ? '' : `=${tenant}`}`;
  const count = (value: unknown) => (value === null || value === undefined ? 0 : Number(value));
  const ms = (ttl: number) => String(Math.max(1, Math.ceil(ttl)));
  return {
    generation: async (tenant) => count(await send(['GET', genKey(tenant)])),
    async state(tenant, id) {
      // Two GETs, not an MGET: in a Redis Cluster the two keys live in different slots (CROSSSLOT).
      const [generation, ended] = await Promise.all([send(['GET', genKey(tenant)]), send(['GET', `${prefix}:end:${id}`])]);
      return { generation: count(generation), ended: ended !== null && ended !== undefined };
    },
    async endAll(tenant) {
      await send(['INCR', genKey(tenant)]);
    },
    async end(id, ttl) {
      // Never shortened (an end from a stale result after a longer one), atomically, on any Redis version.
      await send(['EVAL', EXTEND_END, '1', `${prefix}:end:${id}`, ms(ttl)]);
    },
    async firstUse(value, ttl) {
      // Hashed: the key is the same size whatever the client put in its jti.
      const key = `${prefix}:jti:${createHash('sha256').update(value).digest('base64url')}`;
      return (await send(['SET', key, '1', 'PX', ms(ttl), 'NX'])) !== null;
    },
  };
}

/** After a store fails, how long it is not asked at all (then one operation tries it again). */
const STORE_RETRY_MS = 1000;

/**
 * `store` with a deadline on every operation: a store that does not answer within `timeout`
 * milliseconds has failed, and the caller fails closed (a session it cannot check is refused as
 * expired, so the widget falls back to a fresh proof, which needs no store). After a failure the
 * store is not asked for STORE_RETRY_MS, then by one operation at a time until one answers, as the
 * failure limits treat theirs: while Redis hangs, a request fails at once instead of waiting the
 * deadline and queueing one more command on the hung connection.
 */
export function withDeadline(store: SessionStore, timeout: number, now: () => number = Date.now): SessionStore {
  let failedAt: number | undefined; // undefined while the store answers
  let trying = false; // an operation is trying a store that failed
  const failed = () => {
    failedAt = now();
    trying = false;
  };
  const guard = <T>(operation: () => T | PromiseLike<T>): T | Promise<T> => {
    if (failedAt !== undefined) {
      if (trying || now() - failedAt < STORE_RETRY_MS)
        return Promise.reject(new Error('the session store failed lately and is tried again soon'));
      trying = true;
    }
    let answer: T | PromiseLike<T>;
    try {
      answer = operation();
    } catch (error) {
      failed();
      throw error;
    }
    if (!isPromiseLike(answer)) {
      failedAt = undefined;
      trying = false;
      return answer;
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        failed();
        reject(new Error(`the session store did not answer within ${timeout} ms`));
      }, timeout);
      timer.unref();
      Promise.resolve(answer).then(
        (value) => {
          clearTimeout(timer);
          failedAt = undefined;
          trying = false;
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          failed();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  };
  return {
    generation: (tenant) => guard(() => store.generation(tenant)),
    state: (tenant, id) => guard(() => store.state(tenant, id)),
    endAll: (tenant) => guard(() => store.endAll(tenant)),
    end: (id, ttl) => guard(() => store.end(id, ttl)),
    firstUse: (value, ttl) => guard(() => store.firstUse(value, ttl)),
  };
}

export const isPromiseLike = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof (value as PromiseLike<T> | undefined)?.then === 'function';
