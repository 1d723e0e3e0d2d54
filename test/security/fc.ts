/**
 * How the property tests run: `FC_RUNS` runs per property (default 10,000; `FC_ADAPTER_RUNS`
 * for the one that goes through every adapter, default FC_RUNS), a fresh random seed
 * each time unless `FC_SEED` (and `FC_PATH`, to go straight to a shrunk counterexample) replays
 * one. On failure the seed and the replay command are the first line of the error, and are
 * printed to stderr as well, so a CI log always shows how to reproduce.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { IdentityErrorCode, type IdentityResult } from '../../src/index.js';

export const RUNS = Number(process.env.FC_RUNS ?? 10_000);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`FC_RUNS must be a positive integer, got ${process.env.FC_RUNS}`);
/** Runs of the property that sends each input through all five adapters (5 requests a run). */
export const ADAPTER_RUNS = Number(process.env.FC_ADAPTER_RUNS ?? RUNS);
if (!Number.isInteger(ADAPTER_RUNS) || ADAPTER_RUNS < 1)
  throw new Error(`FC_ADAPTER_RUNS must be a positive integer, got ${process.env.FC_ADAPTER_RUNS}`);

const FIXED_SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

/** The seed a property will use: FC_SEED when set, else a fresh one per property. */
export function seedFor(): number {
  return FIXED_SEED ?? (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
}

/** A test timeout that grows with FC_RUNS: generous, because CI machines are slow. */
export function timeoutFor(runs = RUNS, msPerRun = 2): number {
  return Math.max(30_000, runs * msPerRun * 3);
}

/** Runs a property, and on failure throws with the seed first and the counterexample after. */
export async function checkProperty<T>(name: string, property: fc.IAsyncProperty<T> | fc.IProperty<T>, runs = RUNS): Promise<void> {
  const seed = seedFor();
  const parameters: fc.Parameters<T> = { numRuns: runs, seed };
  if (FIXED_SEED !== undefined && process.env.FC_PATH) parameters.path = process.env.FC_PATH;
  const details = await fc.check(property as fc.IAsyncProperty<T>, parameters);
  if (!details.failed) return;
  const replay = `FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ''} FC_RUNS=${runs} npx vitest run test/security -t '<this test>'`;
  const headline = `Property "${name}" failed (seed ${details.seed}); replay with: ${replay}`;
  console.error(headline);
  throw new Error(
    `${headline}\n\n${fc.defaultReportMessage(details)}\n\nCause: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
  );
}

/** What every run checks of a result it did not expect to verify: a known code and a message. */
export function expectWellFormed(result: IdentityResult): void {
  if (result.verified || !result.error) return;
  expect(Object.values(IdentityErrorCode)).toContain(result.error.code);
  expect(typeof result.error.message).toBe('string');
}
