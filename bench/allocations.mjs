/**
 * Bytes a valid verification allocates, in the core: `verifyNow` of the built package (with the
 * default options, and with the limits or the counting off) beside the node:crypto floor, for
 * user-hash, signed-payload and jwt. Each round runs `batch` verifications after a full GC and
 * takes the heap they grew by; rounds a collection ran in are dropped (it would hide what they
 * allocated), and the median of the rest is reported.
 *
 *   node --expose-gc bench/allocations.mjs [--rounds 40] [--batch 400] [--no-build]
 *
 * Garbage is cheap to allocate and cheaper to collect young, so these are not a time: they say
 * where a request's objects come from (bench/PROFILE.md, "Allocations").
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { floors } from './lib/floors.mjs';
import { goodProof, SECRET, toVerifyRequest } from './lib/fixtures.mjs';
import { buildPackage, importPackage } from './lib/package.mjs';
import { median, round } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '40' },
    batch: { type: 'string', default: '400' },
    'no-build': { type: 'boolean', default: false },
  },
});
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const rounds = Number(values.rounds);
const size = Number(values.batch);
if (!values['no-build']) await buildPackage();
const { createVerifier, verifyNow } = await importPackage();

/** When each collection started (performance.now() ms): the observer hears of them late, so rounds are matched by time. */
const collections = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push(entry.startTime);
}).observe({ entryTypes: ['gc'] });

/** The median bytes one call of `fn` allocates, over the rounds no collection ran in. */
async function bytesPer(fn, requests) {
  for (let i = 0; i < 20 * size; i++) fn(requests[i % requests.length]); // warm: optimised code, lazy state made
  const windows = [];
  for (let r = 0; r < rounds; r++) {
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    for (let i = 0; i < size; i++) fn(requests[i]);
    const t1 = performance.now();
    windows.push({ t0, t1, grown: process.memoryUsage().heapUsed - before });
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // the observer's last entries
  const kept = windows.filter(({ t0, t1 }) => !collections.some((at) => at >= t0 && at < t1)).map(({ grown }) => grown / size);
  return { bytes: kept.length ? round(median(kept), 4) : null, rounds: kept.length };
}

const now = Math.floor(Date.now() / 1000);
const requests = Array.from({ length: size }, (_, i) => toVerifyRequest(goodProof(i, now)));
const quiet = { warn() {}, error() {} }; // one secret serves every scheme here: the warning is expected
const variants = { default: {}, 'rateLimit: false': { rateLimit: false }, 'stats: false': { stats: false } };

console.log('bytes allocated per valid verification (median of the rounds without a collection)');
for (const scheme of ['user-hash', 'signed-payload', 'jwt']) {
  const floor = floors()[scheme];
  const row = { floor: await bytesPer(floor, requests) };
  for (const [name, options] of Object.entries(variants)) {
    const verifier = createVerifier({ scheme, keys: [SECRET], logger: quiet, ...options });
    row[name] = await bytesPer((request) => {
      const result = verifyNow(verifier, request);
      if (!result.verified) throw new Error(`${scheme}: not verified: ${JSON.stringify(result.error)}`);
    }, requests);
  }
  const cells = Object.entries(row).map(([name, { bytes, rounds: n }]) => `${name} ${bytes ?? '-'} B (${n} rounds)`);
  console.log(`${scheme.padEnd(15)} ${cells.join('  ')}`);
}
