/**
 * A valid attempt while the failure limits hold other clients' failures: its keys are hashed (a
 * SHA-256 each) only when its bucket holds an open window of failures, and there are buckets enough
 * that a few hundred failures leave nearly every one quiet (bench/PROFILE.md, "The limiter after failures").
 */
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createFailureLimits } from '../src/rateLimit.js';
import { Rejection } from '../src/rejection.js';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, hash: vi.fn(original.hash) };
});

describe('the failure limits after failures', () => {
  it("hash a valid attempt's keys only when its bucket holds failures: 300 failures leave nearly every bucket quiet", () => {
    const limits = createFailureLimits({}, { warn: vi.fn(), error: vi.fn() })!;
    for (let i = 0; i < 300; i++) {
      const attempt = limits.begin({ ip: `172.16.${i >> 8}.${i & 255}` });
      attempt.admit();
      attempt.claim(undefined, 'user-hash', `attacker-${i}`);
      attempt.end('INVALID_SIGNATURE');
    }
    const hash = vi.mocked(nodeCrypto.hash);
    expect(hash).toHaveBeenCalled(); // the failures' keys were hashed: the count below is of the right function
    hash.mockClear();
    for (let i = 0; i < 200; i++) {
      const attempt = limits.begin({ ip: `10.0.${i >> 8}.${i & 255}` });
      attempt.admit();
      attempt.claim(undefined, 'user-hash', `user-${i}`);
      attempt.end(undefined);
    }
    // 400 bucket checks: with 65,536 buckets about 2 find theirs busy; with the 1,024 there were, about 100.
    expect(hash.mock.calls.length).toBeLessThan(20);
    // The failures still count: an attacker's address, at its limit, is refused.
    const again = () => {
      const attempt = limits.begin({ ip: '172.16.0.7' });
      attempt.admit();
      attempt.claim(undefined, 'user-hash', 'attacker-7');
      attempt.end('INVALID_SIGNATURE');
    };
    let refused: unknown;
    try {
      for (let i = 0; i < 30; i++) again();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(Rejection);
    expect((refused as Rejection).code).toBe('RATE_LIMITED');
  });
});
