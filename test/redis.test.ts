/**
 * Limits shared through a real Redis: the suite starts Debian's redis-server on a free loopback
 * port (and stops it after); without the binary it skips, saying why. `.ci/run` installs it.
 * Each test counts under a key prefix of its own. The clock is real here: outages are about time.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RedisClientLike } from '../src/attemptStore.js';
import { createFailureLimits, type FailureLimits, type RateLimitOptions } from '../src/rateLimit.js';
import { attempt, burst, codeOf, type Try } from './support/limitWorker.js';
import { findRedisServer, startRedis, type RedisServer } from './support/redisServer.js';

const binary = findRedisServer();
if (!binary) console.log('SKIPPED test/redis.test.ts: redis-server is not installed (apt-get install redis-server; .ci/run does).');

/** Resolves on the event, unlike events.once ignoring 'error' (a dropped connection emits several). */
const nextEvent = (emitter: { once(event: string, listener: () => void): unknown }, event: string) =>
  new Promise<void>((resolve) => emitter.once(event, resolve));
const quiet = () => ({ warn: vi.fn(), error: vi.fn() });
const failing = (identity: string, n: number): Try => ({ identity, address: `10.0.${n}.1`, code: 'INVALID_SIGNATURE' });

describe.skipIf(!binary)('failure limits in Redis', () => {
  let server: RedisServer;
  let workDir: string;
  let worker: string;
  let prefixes = 0;
  const clients: { disconnect(): void }[] = [];

  const ioredis = async () => {
    const client = new Redis({ port: server.port, host: '127.0.0.1', enableOfflineQueue: false, retryStrategy: () => 50 });
    client.on('error', () => {}); // the limits report outages themselves
    clients.push(client);
    await nextEvent(client, 'ready');
    return client;
  };
  /** Options for one test: its own key prefix, so that no test sees another's counters. */
  const optionsFor = (extra: RateLimitOptions = {}): RateLimitOptions => ({ keyPrefix: `test-${process.pid}-${++prefixes}`, ...extra });
  const limitsOn = (redis: RedisClientLike, options: RateLimitOptions, logger = quiet()): FailureLimits =>
    createFailureLimits({ ...options, redis }, logger)!;

  /** Makes attempts in another Node process, with limits of its own on the same Redis. */
  async function otherProcess(options: RateLimitOptions, attempts: Try[]): Promise<string[]> {
    const payload = JSON.stringify({ port: server.port, options, attempts });
    const { stdout } = await promisify(execFile)(process.execPath, [worker, payload]);
    return JSON.parse(stdout);
  }

  beforeAll(async () => {
    server = await startRedis(binary!);
    workDir = mkdtempSync(join(tmpdir(), 'chat-identity-redis-'));
    worker = join(workDir, 'limitWorker.cjs');
    const entry = new URL('./support/limitWorker.ts', import.meta.url).pathname;
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: worker, logLevel: 'error' });
  }, 30_000);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('two instances in two processes share one limit', async () => {
    const options = optionsFor({ identity: { points: 5, duration: 60 } });
    const here = limitsOn(await ioredis(), options);
    // Three failures in the other process, two here: five in all, the limit.
    expect(
      await otherProcess(
        options,
        [1, 2, 3].map((n) => failing('shared', n)),
      ),
    ).toEqual(['ADMITTED', 'ADMITTED', 'ADMITTED']);
    expect(await codeOf(attempt(here, failing('shared', 4)))).toBe('ADMITTED');
    expect(await codeOf(attempt(here, { identity: 'shared' }))).toBe('ADMITTED'); // four failures: under, and refunded
    expect(await codeOf(attempt(here, failing('shared', 5)))).toBe('ADMITTED');
    expect(await codeOf(attempt(here, { identity: 'shared' }))).toBe('RATE_LIMITED');
    expect(await otherProcess(options, [{ identity: 'shared' }, { identity: 'someone-else' }])).toEqual(['RATE_LIMITED', 'ADMITTED']);
  });

  it('works with node-redis as well as ioredis', async () => {
    const nodeRedis = createClient({ socket: { port: server.port, host: '127.0.0.1' } });
    nodeRedis.on('error', () => {});
    await nodeRedis.connect();
    try {
      const options = optionsFor({ identity: { points: 2, duration: 60 } });
      const a = limitsOn(nodeRedis, options);
      const b = limitsOn(await ioredis(), options);
      expect(await codeOf(attempt(a, failing('nr', 1)))).toBe('ADMITTED');
      expect(await codeOf(attempt(b, failing('nr', 2)))).toBe('ADMITTED');
      expect(await codeOf(attempt(a, { identity: 'nr' }))).toBe('RATE_LIMITED');
    } finally {
      await nodeRedis.quit();
    }
  });

  it('lets no more than `points` attempts through, in flight at once on two instances', async () => {
    const options = optionsFor();
    const logger = quiet();
    const instances = [limitsOn(await ioredis(), options, logger), limitsOn(await ioredis(), options, logger)];
    const { together, codes } = await burst(1000, (i) => [instances[i % 2]!, failing('burst', i & 255)]);
    expect(together).toBe(10);
    // Each instance alone would have let 10 through: Redis decided them all, even with 1,000 at once to answer.
    expect(logger.error).not.toHaveBeenCalled();
    expect(codes.filter((code) => code === 'ADMITTED')).toHaveLength(10);
  });

  it('keeps fixed-size keys that expire with their window', async () => {
    const options = optionsFor({ identity: { points: 10, duration: 30 } });
    const client = await ioredis();
    const here = limitsOn(client, options);
    const long = 'x'.repeat(16_384);
    await attempt(here, { address: `${long}, 203.0.113.7`, tenant: long, identity: long, code: 'INVALID_SIGNATURE' });
    await attempt(here, { address: '2001:db8::1', identity: 'alice' });
    const keys = await client.keys(`${options.keyPrefix}:*`);
    expect(keys).toHaveLength(4);
    for (const key of keys) {
      expect(key).toMatch(new RegExp(`^${options.keyPrefix}:(address|identity):[\\w-]{22}$`));
      const ttl = await client.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(key.includes(':identity:') ? 30 : 60);
    }
  });

  it('never refunds into a window that began after the attempt was reserved', async () => {
    const here = limitsOn(await ioredis(), optionsFor({ identity: { points: 2, duration: 1 } }));
    const slow = here.begin({ ip: '10.0.0.1' });
    await slow.admit();
    await slow.claim(undefined, 'user-hash', 'slow'); // reserved in a window of one second
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // Redis expires keys by its own clock: real time is the point
    for (let n = 1; n <= 2; n++) expect(await codeOf(attempt(here, failing('slow', n)))).toBe('ADMITTED');
    await slow.end(undefined); // verified after its window ended: nothing of the new window to take back
    expect(await codeOf(attempt(here, { identity: 'slow' }))).toBe('RATE_LIMITED');
  });

  it('survives a crash: keeps answering, limits in memory meanwhile, logs once, and shares again after', async () => {
    const logger = quiet();
    const options = optionsFor({ identity: { points: 3, duration: 60 } });
    const client = await ioredis();
    const here = limitsOn(client, options, logger);

    const closed = nextEvent(client, 'close'); // listening before the event can fire
    await server.kill();
    await closed;
    const during: string[] = [];
    for (let i = 0; i < 20; i++) {
      during.push(await codeOf(attempt(here, i % 2 ? { identity: `user-${i}`, address: `10.1.${i}.1` } : failing('outage', i))));
    }
    // Nothing threw; verified attempts went through; the insurance tripped at the same count.
    expect(during.filter((_, i) => i % 2 === 1).every((code) => code === 'ADMITTED')).toBe(true);
    expect(during.filter((_, i) => i % 2 === 0).slice(0, 4)).toEqual(['ADMITTED', 'ADMITTED', 'ADMITTED', 'RATE_LIMITED']);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/Redis failed/);

    const ready = nextEvent(client, 'ready');
    await server.restart();
    await ready;
    await recovered(here, logger);
    await sharedWithAnotherProcess(here, options);
    expect(logger.error).toHaveBeenCalledTimes(1);
  }, 30_000);

  it('answers promptly while Redis hangs, without a command per request, and shares again when it wakes', async () => {
    const logger = quiet();
    const options = optionsFor({ identity: { points: 3, duration: 60 }, storeTimeout: 100 });
    const client = await ioredis();
    const sent = vi.spyOn(client, 'sendCommand');
    const here = limitsOn(client, options, logger);

    server.pause();
    try {
      // A burst at the moment it hangs: every attempt answers, decided by the insurance.
      const began = performance.now();
      const atOnce = Array.from({ length: 50 }, (_, i) => codeOf(attempt(here, { identity: `user-${i}`, address: `10.2.${i}.1` })));
      expect(await Promise.all(atOnce)).toEqual(Array(50).fill('ADMITTED'));
      expect(performance.now() - began).toBeLessThan(2_000); // a deadline or two of 100 ms, with room for a slow machine
      expect(logger.error).toHaveBeenCalledTimes(1);
      expect(logger.error.mock.calls[0]![0]).toMatch(/Redis did not answer within 100 ms/);

      const sentBefore = sent.mock.calls.length;
      expect(sentBefore).toBeGreaterThanOrEqual(50); // the burst's reservations went out before the first deadline
      const during: string[] = [];
      for (let i = 0; i < 100; i++) during.push(await codeOf(attempt(here, failing('hung', i))));
      expect(during.slice(0, 4)).toEqual(['ADMITTED', 'ADMITTED', 'ADMITTED', 'RATE_LIMITED']);
      expect(sent.mock.calls.length - sentBefore).toBeLessThanOrEqual(2); // at most a retry a second, not 100
    } finally {
      server.resume();
    }

    await recovered(here, logger);
    // Reservations that reached Redis after their deadline were given back: nothing stays counted.
    await vi.waitFor(async () => {
      const keys = await client.keys(`${options.keyPrefix}:*`);
      expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map(() => '0'));
    });
    await sharedWithAnotherProcess(here, options);
    expect(logger.error).toHaveBeenCalledTimes(1);
  }, 30_000);

  /** Waits until `limits` find Redis answering again, which they log once. */
  async function recovered(limits: FailureLimits, logger: ReturnType<typeof quiet>): Promise<void> {
    let probes = 0;
    await vi.waitFor(
      async () => {
        await attempt(limits, { identity: `probe-${++probes}`, address: '10.9.9.9' });
        expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/Redis answers again; failed-attempt limits are shared again/));
      },
      { timeout: 5_000, interval: 100 },
    );
    expect(logger.warn).toHaveBeenCalledTimes(1);
  }

  /** Proves another process sees the failures counted by `limits` (3 points for the identity). */
  async function sharedWithAnotherProcess(limits: FailureLimits, options: RateLimitOptions): Promise<void> {
    for (let n = 1; n <= 3; n++) expect(await codeOf(attempt(limits, failing('after', n)))).toBe('ADMITTED');
    expect(await otherProcess(options, [{ identity: 'after' }])).toEqual(['RATE_LIMITED']);
  }
});
