/**
 * Attempts driven through failure limits as a verifier drives them, for the suites, and a second
 * instance in its own process: bundled with esbuild by test/redis.test.ts and run with node, it
 * makes the attempts given on argv with Redis-backed limits and prints their outcomes.
 */
import { Redis } from 'ioredis';
import type { IdentityErrorCode } from '../../src/errors.js';
import { createFailureLimits, type FailureLimits, type RateLimitOptions } from '../../src/rateLimit.js';
import { Rejection } from '../../src/rejection.js';

export interface Try {
  address?: string;
  tenant?: string;
  identity?: string;
  /** How the verification ends: undefined = verified. */
  code?: IdentityErrorCode;
}

export type Outcome = 'ADMITTED' | Rejection;

/**
 * One attempt, begun to ended: 'ADMITTED', or the `RATE_LIMITED` refusal. `verify` stands for the
 * verification: the attempt stays in flight until what it returns settles.
 */
export async function attempt(
  limits: FailureLimits,
  { address = '10.0.0.1', tenant, identity = 'victim', code }: Try = {},
  verify?: () => Promise<void>,
): Promise<Outcome> {
  const started = limits.begin({ ip: address });
  try {
    await started.admit();
    await started.claim(tenant, 'user-hash', identity);
  } catch (error) {
    await started.end('RATE_LIMITED');
    if (error instanceof Rejection && error.code === 'RATE_LIMITED') return error;
    throw error;
  }
  await verify?.();
  await started.end(code);
  return 'ADMITTED';
}

/** The outcome as a string: 'ADMITTED' or 'RATE_LIMITED'. */
export async function codeOf(outcome: Promise<Outcome>): Promise<string> {
  const settled = await outcome;
  return settled === 'ADMITTED' ? settled : settled.code;
}

/**
 * `count` attempts at once, each held in flight until every one was admitted or refused: how many
 * were in flight together, and every outcome once they end.
 */
export async function burst(count: number, attemptOf: (i: number) => [FailureLimits, Try]): Promise<{ together: number; codes: string[] }> {
  let inFlight = 0;
  let decided = 0; // admitted (and so in flight) or refused
  let allDecided!: () => void;
  let end!: () => void;
  const everyOneDecided = new Promise<void>((resolve) => (allDecided = resolve));
  const ended = new Promise<void>((resolve) => (end = resolve));
  const decidedOne = () => ++decided === count && allDecided();
  const codes = Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const [limits, one] = attemptOf(i);
      const inFlightUntilEnded = () => {
        inFlight++;
        decidedOne();
        return ended;
      };
      const code = await codeOf(attempt(limits, one, inFlightUntilEnded));
      if (code === 'RATE_LIMITED') decidedOne();
      return code;
    }),
  );
  await everyOneDecided;
  const together = inFlight;
  end();
  return { together, codes: await codes };
}

async function main(payload: string): Promise<void> {
  const { port, options, attempts } = JSON.parse(payload) as { port: number; options: RateLimitOptions; attempts: Try[] };
  const redis = new Redis({ port, host: '127.0.0.1', enableOfflineQueue: false, lazyConnect: true });
  await redis.connect();
  const limits = createFailureLimits({ ...options, redis })!;
  const outcomes: string[] = [];
  for (const one of attempts) outcomes.push(await codeOf(attempt(limits, one)));
  process.stdout.write(JSON.stringify(outcomes));
  redis.disconnect();
}

// Run as a script (the bundle), not when a suite imports the helpers above.
if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv[2]!).catch((error: unknown) => {
    process.stderr.write(String(error));
    process.exit(1);
  });
}
