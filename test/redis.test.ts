/**
 * Limits shared through a real Redis: the suite starts Debian's redis-server on a free loopback
 * port (and stops it after); without the binary it skips, saying why. `.ci/run` installs it.
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
import { createVerifier, signUserHash, type VerifyRequest } from '../src/index.js';
import { LIVE_KEY, NOW } from './helpers.js';
import { findRedisServer, startRedis, type RedisServer } from './support/redisServer.js';

const binary = findRedisServer();
if (!binary) console.log('SKIPPED test/redis.test.ts: redis-server is not installed (apt-get install redis-server; .ci/run does).');

const good = (user: string): VerifyRequest => ({ body: { user_id: user, user_hash: signUserHash(user, LIVE_KEY) }, ip: '10.0.0.1' });
const bad = (user: string, n: number): VerifyRequest => ({ body: { user_id: user, user_hash: signUserHash(`guess-${n}`, LIVE_KEY) }, ip: `10.0.${n}.1` });
/** Resolves on the event, unlike events.once ignoring 'error' (a dropped connection emits several). */
const nextEvent = (emitter: { once(event: string, listener: () => void): unknown }, event: string) => new Promise<void>((resolve) => emitter.once(event, resolve));
const codeOf = async (v: ReturnType<typeof createVerifier>, request: VerifyRequest) => {
  const result = await v.verify(request);
  return result.verified ? 'VERIFIED' : result.error?.code;
};

describe.skipIf(!binary)('failed-attempt limits in Redis', () => {
  let server: RedisServer;
  let workDir: string;
  let worker: string;
  const clients: { disconnect(): void }[] = [];

  const ioredis = async () => {
    const client = new Redis({ port: server.port, host: '127.0.0.1', enableOfflineQueue: false, retryStrategy: () => 50 });
    client.on('error', () => {}); // the verifier's store reports outages itself
    clients.push(client);
    await nextEvent(client, 'ready');
    return client;
  };
  const verifierOn = (redis: unknown, logger = { warn: vi.fn(), error: vi.fn() }, limit = 5) =>
    createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: () => NOW, logger, rateLimit: { redis: redis as Redis, identity: { points: limit, duration: 60 } } });

  /** Runs attempts in another Node process with its own verifier on the same Redis. */
  async function otherProcess(attempts: VerifyRequest[], limit = 5): Promise<string[]> {
    const payload = JSON.stringify({ port: server.port, key: LIVE_KEY, now: NOW, limit, attempts });
    const { stdout } = await promisify(execFile)(process.execPath, [worker, payload]);
    return JSON.parse(stdout);
  }

  beforeAll(async () => {
    server = await startRedis(binary!);
    workDir = mkdtempSync(join(tmpdir(), 'chat-identity-redis-'));
    worker = join(workDir, 'limitWorker.cjs');
    await build({ entryPoints: [new URL('./support/limitWorker.ts', import.meta.url).pathname], bundle: true, platform: 'node', format: 'cjs', outfile: worker, logLevel: 'error' });
  }, 30_000);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('two verifiers in two processes share one limit', async () => {
    const here = verifierOn(await ioredis());
    // Three failures in the other process, two here: five in all, the limit.
    expect(await otherProcess([bad('shared', 1), bad('shared', 2), bad('shared', 3)])).toEqual(['INVALID_SIGNATURE', 'INVALID_SIGNATURE', 'INVALID_SIGNATURE']);
    expect(await codeOf(here, bad('shared', 4))).toBe('INVALID_SIGNATURE');
    expect(await codeOf(here, good('shared'))).toBe('VERIFIED'); // four failures: still under
    expect(await codeOf(here, bad('shared', 5))).toBe('INVALID_SIGNATURE');
    expect(await codeOf(here, good('shared'))).toBe('RATE_LIMITED');
    expect(await otherProcess([good('shared'), good('someone-else')])).toEqual(['RATE_LIMITED', 'VERIFIED']);
  });

  it('works with node-redis as well as ioredis', async () => {
    const nodeRedis = createClient({ socket: { port: server.port, host: '127.0.0.1' } });
    nodeRedis.on('error', () => {});
    await nodeRedis.connect();
    try {
      const a = verifierOn(nodeRedis, undefined, 2);
      const b = verifierOn(await ioredis(), undefined, 2);
      expect(await codeOf(a, bad('nr', 1))).toBe('INVALID_SIGNATURE');
      expect(await codeOf(b, bad('nr', 2))).toBe('INVALID_SIGNATURE');
      expect(await codeOf(a, good('nr'))).toBe('RATE_LIMITED');
    } finally {
      await nodeRedis.quit();
    }
  });

  it('survives an outage: keeps verifying, limits in memory meanwhile, logs once, and shares again after', async () => {
    const logger = { warn: vi.fn(), error: vi.fn() };
    const client = await ioredis();
    const here = verifierOn(client, logger, 3);

    await server.kill();
    await nextEvent(client, 'close');
    const during: string[] = [];
    for (let i = 0; i < 20; i++) during.push((await codeOf(here, i % 2 ? good(`user-${i}`) : bad('outage', i)))!);
    // Nothing threw; good proofs verified; the insurance limiter tripped at the same count.
    expect(during.filter((c, i) => i % 2 === 1).every((c) => c === 'VERIFIED')).toBe(true);
    expect(during.slice(0, 6).filter((c, i) => i % 2 === 0)).toEqual(['INVALID_SIGNATURE', 'INVALID_SIGNATURE', 'INVALID_SIGNATURE']);
    expect(await codeOf(here, good('outage'))).toBe('RATE_LIMITED');
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/Redis is unreachable/);

    await server.restart();
    await nextEvent(client, 'ready');
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/Redis is back/));
    // Shared again: failures here are seen by another process.
    for (let i = 1; i <= 3; i++) expect(await codeOf(here, bad('after', i))).toBe('INVALID_SIGNATURE');
    expect(await otherProcess([good('after')], 3)).toEqual(['RATE_LIMITED']);
    expect(logger.error).toHaveBeenCalledTimes(1);
  }, 30_000);
});
