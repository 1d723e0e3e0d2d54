/**
 * Failed-attempt limits, driven through `createFailureLimits` as a verifier drives them: begin,
 * admit (address), claim (identity), end (the verification's code). Windows run on Date.now, which
 * is faked and moved instead of slept on; timers stay real for the deadlines of a shared store.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryStore, type AttemptCount, type AttemptStore } from '../src/attemptStore.js';
import { createFailureLimits, type FailureLimits, type RateLimitOptions } from '../src/rateLimit.js';
import { rejectionResponse, verifyRequest } from '../adapters/fetch.js';
import { createVerifier, responseHeadersOf, signPayload, signUserHash, type IdentityResult } from '../src/index.js';
import { Rejection } from '../src/rejection.js';
import { attempt, burst, codeOf } from './support/limitWorker.js';

beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-01T00:00:00Z') }));
afterEach(() => vi.useRealTimers());

const quiet = () => ({ warn: vi.fn(), error: vi.fn() });
const limitsWith = (options: RateLimitOptions = {}, logger = quiet()): FailureLimits => createFailureLimits(options, logger)!;
const later = (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000);
const deferred = () => {
  let open!: () => void;
  return { promise: new Promise<void>((resolve) => (open = resolve)), open };
};

/** The memory store, recording every key and count it is handed (as a custom store would see them). */
function recordingStore() {
  const memory = memoryStore();
  const seen = { keys: [] as string[], held: [] as number[] };
  const store: AttemptStore = {
    counter(name, limit) {
      const counter = memory.counter(name, limit);
      return {
        reserve(key) {
          const count = counter.reserve(key);
          seen.keys.push(key);
          seen.held.push(count.held);
          return count;
        },
        refund: (key, reserved) => counter.refund(key, reserved),
        record: (key, reserved) => counter.record(key, reserved),
      };
    },
  };
  return { store, seen };
}

describe('failure limits', () => {
  it('trip after 10 failures a minute for one identity, from any addresses, even for a correct proof', async () => {
    const limits = limitsWith();
    for (let i = 0; i < 10; i++) expect(await attempt(limits, { address: `10.0.0.${i}`, code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    const refusal = new Rejection('RATE_LIMITED', 'Too many failed attempts; retry in 60 seconds.', false, 60);
    expect(await attempt(limits, { address: '10.0.1.1' })).toEqual(refusal);
    later(30);
    expect(await attempt(limits, { address: '10.0.1.1' })).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 30 });
    later(30);
    expect(await attempt(limits, { address: '10.0.1.1' })).toBe('ADMITTED');
  });

  it('trip after 30 failures a minute from one address, whatever identities and tenants it names', async () => {
    const limits = limitsWith();
    // Junk tenants and unknown ones (KEY_UNAVAILABLE) cannot multiply the address's budget.
    for (let i = 0; i < 30; i++) {
      const code = i % 2 ? 'KEY_UNAVAILABLE' : 'INVALID_SIGNATURE';
      expect(await attempt(limits, { address: '203.0.113.7', tenant: `junk-${i}`, identity: `user-${i}`, code })).toBe('ADMITTED');
    }
    expect(await codeOf(attempt(limits, { address: '203.0.113.7', tenant: 'acme', identity: 'someone-new' }))).toBe('RATE_LIMITED');
  });

  it('count a failed keys lookup against the address only', async () => {
    const limits = limitsWith();
    for (let i = 0; i < 20; i++) await attempt(limits, { address: `10.0.0.${i}`, code: 'KEY_UNAVAILABLE' });
    expect(await attempt(limits, { address: '10.0.1.1' })).toBe('ADMITTED');
  });

  it('count a missing required field against both the address and the identity', async () => {
    const limits = limitsWith();
    // Against the identity: 10 from 10 addresses, then the identity is over (from any address).
    for (let i = 0; i < 10; i++) expect(await attempt(limits, { address: `10.0.0.${i}`, code: 'MISSING_REQUIRED_FIELD' })).toBe('ADMITTED');
    expect(await codeOf(attempt(limits, { address: '10.0.1.1' }))).toBe('RATE_LIMITED');
    // Against the address: 30 naming 30 identities, then the address is over (for any identity).
    for (let i = 0; i < 30; i++) {
      expect(await attempt(limits, { address: '203.0.113.7', identity: `user-${i}`, code: 'MISSING_REQUIRED_FIELD' })).toBe('ADMITTED');
    }
    expect(await codeOf(attempt(limits, { address: '203.0.113.7', identity: 'someone-new' }))).toBe('RATE_LIMITED');
  });

  it('never block another identity from another address', async () => {
    const limits = limitsWith();
    for (let i = 0; i < 30; i++) {
      await attempt(limits, { address: '203.0.113.7', identity: i < 10 ? 'victim' : `user-${i}`, code: 'INVALID_SIGNATURE' });
    }
    expect(await codeOf(attempt(limits, { address: '198.51.100.1', identity: 'victim' }))).toBe('RATE_LIMITED'); // the identity is over
    expect(await codeOf(attempt(limits, { address: '203.0.113.7', identity: 'alice' }))).toBe('RATE_LIMITED'); // the address is over
    expect(await attempt(limits, { address: '198.51.100.1', identity: 'alice' })).toBe('ADMITTED');
    expect(await attempt(limits, { address: '198.51.100.2', identity: 'user-20' })).toBe('ADMITTED'); // one failure: far from the limit
  });

  it('never count successes, expired or absent proofs, or refusals', async () => {
    const limits = limitsWith({ identity: { points: 2, duration: 60 } });
    for (const code of [undefined, 'SIGNATURE_EXPIRED', 'MISSING_IDENTITY', 'RATE_LIMITED'] as const) {
      for (let i = 0; i < 50; i++) expect(await attempt(limits, { code })).toBe('ADMITTED');
    }
    // Exactly two failures still fit: every refund put the counter back where it was.
    for (let i = 0; i < 2; i++) expect(await attempt(limits, { code: 'MALFORMED_IDENTITY' })).toBe('ADMITTED');
    expect(await codeOf(attempt(limits))).toBe('RATE_LIMITED');
  });

  it('refund a verified attempt: the counter holds what it held before', async () => {
    const { store, seen } = recordingStore();
    const limits = limitsWith({ store, address: false });
    await attempt(limits, { code: 'INVALID_SIGNATURE' });
    await attempt(limits, { code: 'INVALID_SIGNATURE' });
    await attempt(limits);
    await attempt(limits);
    await attempt(limits, { code: 'INVALID_SIGNATURE' });
    expect(seen.held).toEqual([1, 2, 3, 3, 3]);
  });

  it('keep tenants apart, and no (tenant, identity) pair spells another', async () => {
    const limits = limitsWith({ identity: { points: 1, duration: 60 } });
    await attempt(limits, { tenant: 'acme', identity: 'victim', code: 'INVALID_SIGNATURE' });
    expect(await codeOf(attempt(limits, { tenant: 'acme', identity: 'victim', address: '10.0.9.9' }))).toBe('RATE_LIMITED');
    expect(await attempt(limits, { tenant: 'globex', identity: 'victim', address: '10.0.9.9' })).toBe('ADMITTED');

    await attempt(limits, { tenant: 'a', identity: 'b|c', code: 'INVALID_SIGNATURE' });
    expect(await attempt(limits, { tenant: 'a|b', identity: 'c' })).toBe('ADMITTED');
    await attempt(limits, { tenant: 'x', identity: '\0y', code: 'INVALID_SIGNATURE' });
    expect(await attempt(limits, { tenant: 'x\0', identity: 'y' })).toBe('ADMITTED');
    expect(await attempt(limits, { tenant: undefined, identity: 'victim' })).toBe('ADMITTED');
  });

  it('honour configured limits, and are off when both are', async () => {
    const limits = limitsWith({ identity: { points: 3, duration: 10 }, address: false });
    for (let i = 0; i < 3; i++) await attempt(limits, { code: 'INVALID_SIGNATURE' });
    expect(await attempt(limits)).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 10 });
    expect(limits.begin({ ip: '10.0.0.1' }).admit()).toBeUndefined(); // no address limit: nothing to reserve

    expect(createFailureLimits(false)).toBeUndefined();
    expect(createFailureLimits({ identity: false, address: false })).toBeUndefined();
  });

  it('limit no address when the request has none', async () => {
    const limits = limitsWith({ address: { points: 1, duration: 60 } });
    for (let i = 0; i < 5; i++) {
      const started = limits.begin({});
      expect(started.admit()).toBeUndefined();
      started.claim(undefined, 'user-hash', `user-${i}`);
      started.end('INVALID_SIGNATURE');
    }
  });

  it('answer without a promise from memory, on every path', () => {
    const limits = limitsWith();
    for (const code of [undefined, 'INVALID_SIGNATURE'] as const) {
      const started = limits.begin({ ip: '10.0.0.1' });
      expect(started.admit()).toBeUndefined();
      expect(started.claim('acme', 'user-hash', 'alice')).toBeUndefined();
      expect(started.end(code)).toBeUndefined();
    }
  });

  it('keep at most maxKeys keys per limit, forgetting the least recently failed below its limit first', async () => {
    const limits = limitsWith({ identity: { points: 2, duration: 60 }, address: false, maxKeys: 3 });
    await attempt(limits, { identity: 'a', code: 'INVALID_SIGNATURE' });
    await attempt(limits, { identity: 'a', code: 'INVALID_SIGNATURE' });
    expect(await codeOf(attempt(limits, { identity: 'a' }))).toBe('RATE_LIMITED');
    for (const identity of ['b', 'c', 'd']) await attempt(limits, { identity, code: 'INVALID_SIGNATURE' });
    // 'a' is the oldest of 4 keys, but holds two failures: 'b', failed once, is forgotten instead.
    expect(await codeOf(attempt(limits, { identity: 'a' }))).toBe('RATE_LIMITED');
    expect(await attempt(limits, { identity: 'b' })).toBe('ADMITTED');
    for (const identity of ['c', 'd']) expect(await codeOf(attempt(limits, { identity }))).toBe('ADMITTED');
  });

  it("a flood of identities failed once does not push out a victim's full window; keys failed as often do", async () => {
    const limits = limitsWith({ identity: { points: 10, duration: 60 }, address: false, maxKeys: 100 });
    for (let i = 0; i < 10; i++) await attempt(limits, { identity: 'victim', code: 'INVALID_SIGNATURE' });
    for (let i = 0; i < 5_000; i++) await attempt(limits, { identity: `junk-${i}`, code: 'INVALID_SIGNATURE' });
    expect(await codeOf(attempt(limits, { identity: 'victim' }))).toBe('RATE_LIMITED');
    // Forgetting it takes keys that each failed as often: ten times the flood.
    for (let i = 0; i < 200; i++) for (let n = 0; n < 10; n++) await attempt(limits, { identity: `heavy-${i}`, code: 'INVALID_SIGNATURE' });
    expect(await attempt(limits, { identity: 'victim' })).toBe('ADMITTED');
  });

  it('forget the least recently failed key, not the first to fail: a failure makes its key the newest', async () => {
    const limits = limitsWith({ identity: { points: 2, duration: 60 }, address: false, maxKeys: 3 });
    for (const identity of ['a', 'b', 'c', 'a', 'd']) await attempt(limits, { identity, code: 'INVALID_SIGNATURE' });
    expect(await codeOf(attempt(limits, { identity: 'a' }))).toBe('RATE_LIMITED'); // 2 failures, kept
    expect(await attempt(limits, { identity: 'b' })).toBe('ADMITTED'); // forgotten for 'd'
  });

  it('keep exactly the maxKeys most recently failed keys through a long churn', async () => {
    const limits = limitsWith({ identity: { points: 1, duration: 60 }, address: false, maxKeys: 50 });
    const kept: string[] = []; // the model: least recently failed first
    const fail = async (identity: string) => {
      expect(await attempt(limits, { identity, code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
      kept.push(identity);
      if (kept.length > 50) kept.shift();
    };
    for (let i = 0; i < 2_000; i++) {
      await fail(`key-${i}`);
      if (i % 7 === 0 && i >= 80) await fail(`key-${i - 80}`); // forgotten by now: counted anew, the newest
    }
    const refused = [];
    for (let i = 0; i < 2_000; i++)
      if ((await codeOf(attempt(limits, { identity: `key-${i}` }))) === 'RATE_LIMITED') refused.push(`key-${i}`);
    expect(refused.sort()).toEqual([...kept].sort());
    expect(refused.filter((key) => Number(key.slice(4)) < 1_900).length).toBeGreaterThan(0); // some kept by failing anew
  });

  it('read a window that ended as empty, and keep no key once every window has ended', () => {
    const counter = memoryStore({ maxKeys: 10 }).counter('identity', { points: 5, duration: 60 });
    for (const key of ['a', 'b', 'a']) counter.fail(key);
    expect([counter.heldBy('a'), counter.heldBy('b'), counter.msLeft('a')]).toEqual([2, 1, 60_000]);
    later(59);
    expect(counter.quiet(Date.now())).toBe(false);
    later(1);
    expect([counter.heldBy('a'), counter.msLeft('a')]).toEqual([0, 0]);
    expect(counter.quiet(Date.now())).toBe(true);
    expect((counter as unknown as { windows: Map<string, unknown> }).windows.size).toBe(0);
    counter.fail('a');
    expect(counter.heldBy('a')).toBe(1); // a new window, counted from one
  });

  it('refuse bad options at start-up', () => {
    const bad: RateLimitOptions[] = [
      { identity: { points: 0, duration: 60 } },
      { address: { points: 1.5, duration: 60 } },
      { identity: { points: 1, duration: 0.5 } },
      { ipv6Subnet: 0 },
      { ipv6Subnet: 129 },
      { ipv6Subnet: 56.5 },
      { storeTimeout: 0 },
      { storeTimeout: Number.NaN },
      { maxKeys: 0 },
    ];
    for (const options of bad) expect(() => createFailureLimits(options), JSON.stringify(options)).toThrow(TypeError);
  });
});

describe("the client's address, read only when a limit needs it", () => {
  const LIVE = 'sk_live_read_when_needed';
  const refusal = (result: IdentityResult) => (result.verified ? undefined : result.error?.code);
  const valid = (id: string) => ({ user_id: id, user_hash: signUserHash(id, LIVE) });
  /** A request whose `ip` counts its reads (an adapter's view: behind a proxy, each read parses X-Forwarded-For). */
  const counted = (body: object, ip: () => string) => {
    const reads = { n: 0 };
    const request = {
      body,
      get ip() {
        reads.n++;
        return ip();
      },
    };
    return { request, reads };
  };

  it('a request that verifies while no failure is counted never reads it; one that fails does, and is limited by it', async () => {
    const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE], rateLimit: { address: { points: 2, duration: 60 } } });
    const good = counted(valid('u1'), () => '10.0.0.1');
    expect((await verifier.verify(good.request)).verified).toBe(true);
    expect(good.reads.n).toBe(0);
    for (let i = 0; i < 2; i++) {
      const bad = counted({ user_id: `u${i}`, user_hash: '0'.repeat(64) }, () => '10.0.0.9');
      expect(refusal(await verifier.verify(bad.request))).toBe('INVALID_SIGNATURE');
      expect(bad.reads.n).toBe(1);
    }
    const third = counted(valid('u3'), () => '10.0.0.9');
    expect(refusal(await verifier.verify(third.request))).toBe('RATE_LIMITED');
    // Failures are counted now: a request's address is read to see whether it is over the limit.
    const other = counted(valid('u4'), () => '10.0.0.1');
    expect((await verifier.verify(other.request)).verified).toBe(true);
    expect(other.reads.n).toBe(1);
  });

  it("an address that throws fails its own request only, even when read while another request's attempt waits", async () => {
    const logger = quiet();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A keys lookup that waits: each attempt stays open across an await, and the next one begins meanwhile.
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: async () => (await gate, { keys: [LIVE] }),
      tenant: () => 'acme',
      keyCache: false,
      logger,
      rateLimit: { address: { points: 5, duration: 60 } },
    } as never);
    const broken = counted(valid('u1'), () => {
      throw new Error('trust proxy callback failed');
    });
    const fine = counted(valid('u2'), () => '10.0.0.2');
    const first = verifier.verify(broken.request);
    const second = verifier.verify(fine.request);
    release();
    expect(refusal(await first)).toBe('MALFORMED_IDENTITY');
    expect((await second).verified).toBe(true);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('trust proxy callback failed'));
  });
});

describe('attempts in flight', () => {
  it('count before they fail: 1,000 concurrent guesses at one identity get exactly `points` through', async () => {
    const limits = limitsWith();
    const { together, codes } = await burst(1000, (i) => [limits, { address: `10.0.${i >> 8}.${i & 255}`, code: 'INVALID_SIGNATURE' }]);
    expect(together).toBe(10);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(990);
    expect(await codeOf(attempt(limits, { address: '10.9.9.9' }))).toBe('RATE_LIMITED');
  });

  it('count against the address the same way', async () => {
    const limits = limitsWith();
    const { together } = await burst(1000, (i) => [limits, { identity: `user-${i}`, code: 'INVALID_SIGNATURE' }]);
    expect(together).toBe(30);
  });

  it('refuse the 11th attempt in flight, and free its place when the 10 verify', async () => {
    const limits = limitsWith();
    const verifying = deferred();
    const first = Promise.all(Array.from({ length: 10 }, () => attempt(limits, {}, () => verifying.promise)));
    expect(await codeOf(attempt(limits))).toBe('RATE_LIMITED');
    verifying.open();
    expect(await first).toEqual(Array(10).fill('ADMITTED'));
    expect(await attempt(limits)).toBe('ADMITTED');
  });
});

describe('reservations with the memory store', () => {
  it('leave nothing in flight behind, however attempts interleave and end', async () => {
    const limits = limitsWith({ identity: { points: 3, duration: 60 } });
    const begun = (address: string) => {
      const started = limits.begin({ ip: address });
      started.admit();
      return started;
    };
    const a = begun('10.0.0.1');
    a.claim(undefined, 'user-hash', 'victim');
    const b = begun('10.0.0.1'); // a is in flight: b sees it
    b.claim(undefined, 'user-hash', 'victim');
    const c = begun('10.0.0.2');
    c.claim(undefined, 'user-hash', 'victim'); // the third of three
    const d = begun('10.0.0.3');
    expect(() => d.claim(undefined, 'user-hash', 'victim')).toThrow(expect.objectContaining({ code: 'RATE_LIMITED' }));
    d.end('RATE_LIMITED');
    b.end(undefined);
    a.end('INVALID_SIGNATURE');
    c.end(undefined);
    // One failure on record, nothing in flight: two more, then the limit.
    expect(await attempt(limits, { address: '10.0.0.4', code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await attempt(limits, { address: '10.0.0.5', code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await attempt(limits, { address: '10.0.0.6' })).toMatchObject({ code: 'RATE_LIMITED' });
    // The address 10.0.0.1 holds a's failure only: 29 more.
    for (let i = 0; i < 29; i++) expect(await attempt(limits, { identity: `user-${i}`, code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await attempt(limits, { identity: 'someone' })).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('admit and refuse exactly as a count of failures plus attempts in flight would, in any interleaving', () => {
    let seed = 16;
    const random = (n: number) => {
      // mulberry32: the same interleavings on every run
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n) | 0;
    };
    const CODES = [undefined, 'INVALID_SIGNATURE', 'KEY_UNAVAILABLE', 'RATE_LIMITED'] as const;
    for (let run = 0; run < 50; run++) {
      const points = { address: 1 + random(5), identity: 1 + random(4) };
      const limits = limitsWith({
        address: { points: points.address, duration: 600 },
        identity: { points: points.identity, duration: 600 },
      });
      const model = { address: new Map<string, number>(), identity: new Map<string, number>() };
      const held = (kind: 'address' | 'identity', key: string) => model[kind].get(key) ?? 0;
      const add = (kind: 'address' | 'identity', key: string, n: number) => model[kind].set(key, held(kind, key) + n);
      type Live = {
        started: ReturnType<FailureLimits['begin']>;
        address: string;
        identity: string;
        step: number;
        holds: ('address' | 'identity')[];
      };
      const live: Live[] = [];
      for (let op = 0; op < 400; op++) {
        if (live.length === 0 || random(3) === 0) {
          const address = `10.0.0.${random(3)}`;
          live.push({ started: limits.begin({ ip: address }), address, identity: `user-${random(3)}`, step: 0, holds: [] });
          continue;
        }
        const index = random(live.length);
        const one = live[index]!;
        const kind = one.step === 0 ? 'address' : one.step === 1 ? 'identity' : undefined;
        if (kind) {
          const key = kind === 'address' ? one.address : one.identity;
          const admitted = held(kind, key) + 1 <= points[kind];
          const reserve = () => (kind === 'address' ? one.started.admit() : one.started.claim(undefined, 'user-hash', one.identity));
          if (admitted) {
            expect(reserve()).toBeUndefined();
            add(kind, key, 1);
            one.holds.push(kind);
            one.step++;
            continue;
          }
          expect(reserve).toThrow(expect.objectContaining({ code: 'RATE_LIMITED' }));
        }
        const code = kind ? 'RATE_LIMITED' : CODES[random(CODES.length)];
        expect(one.started.end(code)).toBeUndefined();
        for (const h of one.holds) {
          const key = h === 'address' ? one.address : one.identity;
          const counts = code === 'INVALID_SIGNATURE' || (code === 'KEY_UNAVAILABLE' && h === 'address');
          if (!counts) add(h, key, -1); // a failure stays counted: the window outlasts the test
        }
        live.splice(index, 1);
      }
    }
  });

  it('count failures until the last window of failures ends', async () => {
    const limits = limitsWith({ identity: { points: 2, duration: 60 }, address: false });
    await attempt(limits, { identity: 'a', code: 'INVALID_SIGNATURE' });
    later(50);
    await attempt(limits, { identity: 'b', code: 'INVALID_SIGNATURE' });
    await attempt(limits, { identity: 'b', code: 'INVALID_SIGNATURE' });
    later(20); // a's window has ended, b's has 40 s left
    expect(await attempt(limits, { identity: 'b' })).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 40 });
    expect(await attempt(limits, { identity: 'a', code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    later(40);
    expect(await attempt(limits, { identity: 'b', code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await attempt(limits, { identity: 'b', code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await attempt(limits, { identity: 'b' })).toMatchObject({ code: 'RATE_LIMITED' });
  });
});

describe('limiter keys', () => {
  it('have one fixed size, whatever the client sends, and hold none of it', async () => {
    const { store, seen } = recordingStore();
    const limits = limitsWith({ store });
    const long = 'x'.repeat(16_384);
    await attempt(limits, { address: `${long}, 203.0.113.7`, tenant: long, identity: long, code: 'INVALID_SIGNATURE' });
    await attempt(limits, { address: '2001:db8::1', tenant: 'acme', identity: 'alice' });
    expect(seen.keys).toHaveLength(4);
    for (const key of seen.keys) expect(key).toMatch(/^[\w-]{22}$/);
    expect(seen.keys.join()).not.toMatch(/acme|alice|2001/);
  });

  it('keep memory bounded: 20,000 distinct 16 kB identities and addresses cost fixed-size keys, at most maxKeys', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const limits = limitsWith({ maxKeys: 5_000 });
    const huge = (i: number) => `${i}:`.padEnd(16_384, 'x');
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) await attempt(limits, { address: huge(i), identity: huge(i), code: 'INVALID_SIGNATURE' });
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 2 limits × 5,000 keys; a key kept as sent would alone be 16 kB (160 MB in all).
    expect(grown / 10_000).toBeLessThan(1_024);
  }, 60_000);

  it('count an IPv6 client by its /64, and an IPv4-mapped address as its IPv4 address', async () => {
    const limits = limitsWith({ address: { points: 4, duration: 60 } });
    const fail = (address: string, i: number) => attempt(limits, { address, identity: `user-${address}-${i}`, code: 'INVALID_SIGNATURE' });
    for (let i = 0; i < 4; i++) await fail(`2001:db8:0:1::${i + 1}`, i);
    expect(await codeOf(attempt(limits, { address: '2001:DB8:0:1:ffff::9', identity: 'new' }))).toBe('RATE_LIMITED');
    expect(await attempt(limits, { address: '2001:db8:0:2::1', identity: 'new' })).toBe('ADMITTED');

    for (const [i, address] of ['192.0.2.9', '::ffff:192.0.2.9', '::ffff:c000:209', '::FFFF:192.0.2.9'].entries()) await fail(address, i);
    expect(await codeOf(attempt(limits, { address: '192.0.2.9', identity: 'new' }))).toBe('RATE_LIMITED');
  });

  it('take ipv6Subnet: /128 counts each address, /48 a whole site', async () => {
    const perAddress = limitsWith({ address: { points: 1, duration: 60 }, ipv6Subnet: 128 });
    await attempt(perAddress, { address: '2001:db8::1', code: 'INVALID_SIGNATURE' });
    expect(await attempt(perAddress, { address: '2001:db8::2', identity: 'new' })).toBe('ADMITTED');

    const perSite = limitsWith({ address: { points: 1, duration: 60 }, ipv6Subnet: 48 });
    await attempt(perSite, { address: '2001:db8:0:1::1', code: 'INVALID_SIGNATURE' });
    expect(await codeOf(attempt(perSite, { address: '2001:db8:0:ffff::1', identity: 'new' }))).toBe('RATE_LIMITED');
  });
});

describe('a shared store that fails or hangs', () => {
  /** A custom store whose operations do what `behave` says; counts the operations it was handed. */
  function unreliableStore(behave: (operation: 'reserve' | 'refund' | 'record') => 'hang' | 'fail' | 'answer') {
    const memory = memoryStore();
    const handed = { reserve: 0, refund: 0, record: 0 };
    const settle = <T>(operation: keyof typeof handed, answer: () => T): Promise<T> => {
      handed[operation]++;
      const behaviour = behave(operation);
      if (behaviour === 'hang') return new Promise<T>(() => {});
      return behaviour === 'fail' ? Promise.reject(new Error('store down')) : Promise.resolve(answer());
    };
    const store: AttemptStore = {
      counter(name, limit) {
        const counter = memory.counter(name, limit);
        return {
          reserve: (key) => settle('reserve', () => counter.reserve(key)),
          refund: (key, reserved) => settle('refund', () => counter.refund(key, reserved)),
          record: (key, reserved) => settle('record', () => counter.record(key, reserved)),
        };
      },
    };
    return { store, handed };
  }

  it('answers within storeTimeout when the store hangs, limits in memory meanwhile, and says so once', async () => {
    let state: 'hang' | 'answer' = 'hang';
    const { store, handed } = unreliableStore(() => state);
    const logger = quiet();
    const limits = limitsWith({ store, storeTimeout: 20, identity: { points: 2, duration: 60 } }, logger);
    expect(await attempt(limits, { code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await attempt(limits, { code: 'INVALID_SIGNATURE' })).toBe('ADMITTED');
    expect(await codeOf(attempt(limits))).toBe('RATE_LIMITED'); // the insurance counted both
    for (let i = 0; i < 50; i++) await attempt(limits, { identity: `user-${i}`, address: `10.1.0.${i}` });
    expect(handed.reserve).toBe(1); // one timed-out operation, then none until the retry interval
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/the failed-attempt store did not answer within 20 ms/);

    // A second later one operation tries the store again: still hung, nothing more is logged.
    later(1.1);
    expect(await attempt(limits, { identity: 'probe', address: '10.2.0.1' })).toBe('ADMITTED');
    expect(handed.reserve).toBe(2);
    state = 'answer';
    later(1.1);
    expect(await attempt(limits, { identity: 'back', address: '10.2.0.2' })).toBe('ADMITTED');
    expect(handed.reserve).toBe(4); // the address and the identity, both shared again
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![0]).toMatch(/answers again/);
    expect(logger.error).toHaveBeenCalledTimes(1);
  });

  it('waits 200 ms by default for a store that never answers, then decides in memory, and not a moment before', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'], now: Date.now() });
    const { store, handed } = unreliableStore(() => 'hang');
    const logger = quiet();
    const LIVE = 'sk_live_store_never_answers';
    const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE], rateLimit: { store }, logger });
    const start = Date.now();
    let result: IdentityResult | undefined;
    let answeredAt = 0;
    void verifier.verify({ body: { user_id: 'ada', user_hash: signUserHash('ada', LIVE) }, ip: '10.0.0.1' }).then((r) => {
      result = r;
      answeredAt = Date.now();
    });
    await vi.advanceTimersByTimeAsync(199);
    expect(handed.reserve).toBe(1); // the address, handed to the store at once
    expect(result).toBeUndefined();
    expect(logger.error).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await new Promise((resolve) => setImmediate(resolve)); // at the deadline, pending I/O goes first: no time passes
    expect(result).toMatchObject({ verified: true }); // the insurance decided: admitted, the identity too (the store is down)
    expect(answeredAt - start).toBe(200);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/the failed-attempt store did not answer within 200 ms/);
  });

  it('keeps answering when the store fails, and end() never rejects', async () => {
    let failing = false;
    const { store } = unreliableStore(() => (failing ? 'fail' : 'answer'));
    const logger = quiet();
    const limits = limitsWith({ store }, logger);
    const started = limits.begin({ ip: '10.0.0.1' });
    await started.admit();
    await started.claim(undefined, 'user-hash', 'alice');
    failing = true;
    await expect(started.end(undefined)).resolves.toBeUndefined(); // the refund failed, quietly
    expect(await attempt(limits, { identity: 'bob' })).toBe('ADMITTED');
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/failed \(Error: store down\)/);
  });

  it('gives back a reservation that lands after its deadline', async () => {
    const landing = deferred();
    const memory = memoryStore();
    const refunded: AttemptCount[] = [];
    const store: AttemptStore = {
      counter(name, limit) {
        const counter = memory.counter(name, limit);
        return {
          reserve: async (key) => (await landing.promise, counter.reserve(key)),
          refund: (key, reserved) => void refunded.push(reserved),
        };
      },
    };
    const limits = limitsWith({ store, storeTimeout: 10, address: false }, quiet());
    expect(await attempt(limits, { code: 'INVALID_SIGNATURE' })).toBe('ADMITTED'); // decided by the insurance
    expect(refunded).toEqual([]);
    landing.open();
    await vi.waitFor(() => expect(refunded).toEqual([{ held: 1, msLeft: 0 }]));
  });
});

describe('the documented limits, through createVerifier', () => {
  const LIVE = 'sk_live_documented_limits';
  const refusal = (result: IdentityResult) => (result.verified ? undefined : result.error?.code);
  const valid = (id: string, ip?: string) => ({ body: { user_id: id, user_hash: signUserHash(id, LIVE) }, ip });
  const forged = (id: string, ip?: string) => ({ body: { user_id: id, user_hash: '0'.repeat(64) }, ip });

  it('with sessions on, count wrong proofs and forged credentials against the address too (30 a minute), before either is read', async () => {
    const withSessions = () => createVerifier({ scheme: 'user-hash', keys: [LIVE], session: { keys: ['s'.repeat(40)] }, logger: quiet() });
    // Wrong proofs for 31 different identities from one address: the identity limit never trips, the address one does.
    const proofs = withSessions();
    for (let i = 0; i < 30; i++) expect(refusal(await proofs.verify(forged(`u${i}`, '203.0.113.7')))).toBe('INVALID_SIGNATURE');
    expect(refusal(await proofs.verify(valid('ada', '203.0.113.7')))).toBe('RATE_LIMITED');
    expect((await proofs.verify(valid('ada', '203.0.113.8'))).verified).toBe(true);
    // Credentials with a wrong MAC, each for another identity (made from valid proofs elsewhere).
    const credentials = withSessions();
    const forgedCredential = async (i: number) => {
      const credential = responseHeadersOf(await credentials.verify(valid(`c${i}`, `198.51.100.${i + 1}`)))['Chat-Identity-Session']!;
      return credential.slice(0, -4) + (credential.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    };
    const fromOne = async (credential: string) =>
      credentials.verify({ headers: { 'chat-identity-session': credential }, ip: '203.0.113.9' });
    for (let i = 0; i < 30; i++) expect(refusal(await fromOne(await forgedCredential(i)))).not.toBe('RATE_LIMITED');
    expect(refusal(await fromOne(await forgedCredential(30)))).toBe('RATE_LIMITED');
  });

  it('count a proof missing a required field against its address, and, once it names its identity, against that', async () => {
    const byAddress = createVerifier({ scheme: 'user-hash', keys: [LIVE], logger: quiet() });
    for (let i = 0; i < 30; i++) {
      expect(refusal(await byAddress.verify({ body: { user_hash: '0'.repeat(64) }, ip: '203.0.113.7' }))).toBe('MISSING_REQUIRED_FIELD');
    }
    expect(refusal(await byAddress.verify(valid('ada', '203.0.113.7')))).toBe('RATE_LIMITED');
    expect((await byAddress.verify(valid('ada', '203.0.113.8'))).verified).toBe(true);

    // A diagnosed proof claims the identity it names (its keys are fetched for the diagnosis): counted there too.
    const byIdentity = createVerifier({ scheme: 'signed-payload', keys: [LIVE], diagnostics: true, logger: quiet() });
    const noTimestamp = { customer: { externalId: 'ada' }, signature: '0'.repeat(64) };
    for (let i = 0; i < 10; i++) {
      expect(refusal(await byIdentity.verify({ body: noTimestamp, ip: `10.0.0.${i}` }))).toBe('MISSING_REQUIRED_FIELD');
    }
    const signed = (externalId: string) => signPayload({ externalId, timestamp: Math.floor(Date.now() / 1000) }, LIVE);
    expect(refusal(await byIdentity.verify({ body: signed('ada'), ip: '10.0.1.1' }))).toBe('RATE_LIMITED');
    expect((await byIdentity.verify({ body: signed('bob'), ip: '10.0.1.1' })).verified).toBe(true);
  });

  it('refuse an address over its default limit until its 60-second window ends, and admit it from then', async () => {
    const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE], logger: quiet() });
    // 30 wrong proofs, each for another identity: only the address limit can trip.
    for (let i = 0; i < 30; i++) expect(refusal(await verifier.verify(forged(`u${i}`, '203.0.113.7')))).toBe('INVALID_SIGNATURE');
    expect(await verifier.verify(valid('ada', '203.0.113.7'))).toMatchObject({ error: { code: 'RATE_LIMITED', retryAfter: 60 } });
    later(59.999);
    expect(await verifier.verify(valid('ada', '203.0.113.7'))).toMatchObject({ error: { code: 'RATE_LIMITED', retryAfter: 1 } });
    later(0.001);
    expect(await verifier.verify(valid('ada', '203.0.113.7'))).toMatchObject({ verified: true });
  });

  it('keep 50,000 keys per limit by default: the 50,001st failing key forgets the least recently failed below its limit, never first a key at its limit', async () => {
    const limit = { points: 2, duration: 60 };
    const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE], rateLimit: { address: false, identity: limit }, logger: quiet() });
    for (let i = 0; i < 2; i++) await verifier.verify(forged('victim'));
    expect(refusal(await verifier.verify(valid('victim')))).toBe('RATE_LIMITED');
    for (let i = 1; i < 50_000; i++) await verifier.verify(forged(`user-${i}`));
    await verifier.verify(forged('user-50000')); // 50,001 keys: one is forgotten
    expect(refusal(await verifier.verify(valid('victim')))).toBe('RATE_LIMITED'); // the oldest, but at its limit: kept
    // user-1, the oldest below its limit, was forgotten: a second failure does not bring it to its limit.
    await verifier.verify(forged('user-1'));
    expect((await verifier.verify(valid('user-1'))).verified).toBe(true);
  }, 20_000);

  it('answer a request over its limit with the documented 429: Retry-After and the rate_limited body', async () => {
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: [LIVE],
      required: true,
      logger: quiet(),
      rateLimit: { identity: { points: 1, duration: 60 } },
    });
    const post = (body: object) =>
      new Request('https://chat.example/api/chat', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const guess = await verifyRequest(post(forged('ada').body), { verifier, ip: '198.51.100.1' });
    expect(guess.rejection?.status).toBe(401);
    later(18);
    const { rejection } = await verifyRequest(post(valid('ada').body), { verifier, ip: '203.0.113.9' });
    const response = rejectionResponse(rejection!);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('42');
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({
      error: 'rate_limited',
      code: 'RATE_LIMITED',
      message: 'Too many failed identity attempts; try again later.',
    });
  });
});
