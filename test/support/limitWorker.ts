/**
 * A second instance, in its own process: bundled with esbuild by test/redis.test.ts and run with
 * node. It verifies the attempts given on argv with a Redis-backed verifier and prints the codes.
 */
import { Redis } from 'ioredis';
import { createVerifier, type VerifyRequest } from '../../src/index.js';

async function main(): Promise<void> {
  const { port, key, now, limit, attempts } = JSON.parse(process.argv[2]!) as {
    port: number;
    key: string;
    now: number;
    limit: number;
    attempts: VerifyRequest[];
  };
  const redis = new Redis({ port, host: '127.0.0.1', enableOfflineQueue: false, lazyConnect: true });
  await redis.connect();
  const verifier = createVerifier({ scheme: 'user-hash', keys: [key], now: () => now, rateLimit: { redis, identity: { points: limit, duration: 60 } } });
  const codes: string[] = [];
  for (const attempt of attempts) {
    const result = await verifier.verify(attempt);
    codes.push(result.verified ? 'VERIFIED' : (result.error?.code ?? 'ANONYMOUS'));
  }
  process.stdout.write(JSON.stringify(codes));
  redis.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(String(error));
  process.exit(1);
});
