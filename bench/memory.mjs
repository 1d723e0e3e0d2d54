/**
 * Memory under a flood of failing proofs: `count` verifications through the core, each with a
 * distinct claimed identity and a distinct client address (so failure counters see a new key
 * every time), 100 in flight at once like concurrent requests. Samples RSS every 10,000
 * verifications and reports the peak, the growth over the flood, and what stays after a full GC.
 *
 * Each distinct failure leaves one entry in each of the two failure counters (its address, its
 * claimed identity), up to the cap of DEFAULT_MAX_KEYS entries per counter; so a flood past the cap
 * keeps 2 × DEFAULT_MAX_KEYS entries, and "bytes per limiter entry" is the heap kept after a full GC
 * divided by the entries kept. With --checkpoints (counts below the cap), the heap kept is also
 * taken at each checkpoint (a full GC there) and the bytes per entry are the slope between the
 * first and the last: no fixed cost counted in.
 *
 *   node --expose-gc bench/memory.mjs [--count 1000000] [--scheme user-hash] [--limits on|off]
 *                                     [--checkpoints 10000,40000] [--out file.json]
 *
 * One flood per process (bench/run.mjs forks one per scheme), so each starts from a clean heap.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { badProof, SECRET, toVerifyRequest } from './lib/fixtures.mjs';
import { importPackage } from './lib/package.mjs';
import { round } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    scheme: { type: 'string', default: 'user-hash' },
    limits: { type: 'string', default: 'on' },
    checkpoints: { type: 'string' },
    out: { type: 'string' },
  },
});
const count = Number(values.count);
const scheme = values.scheme;
const checkpoints = (values.checkpoints ?? '').split(',').filter(Boolean).map(Number);
const { createVerifier, DEFAULT_MAX_KEYS } = await importPackage();
const verifier = createVerifier({ scheme, keys: [SECRET], ...(values.limits === 'off' ? { rateLimit: false } : {}) });

const IN_FLIGHT = 100;
const SAMPLE_EVERY = 10_000;
const gc = globalThis.gc ?? (() => {});
const mb = (bytes) => round(bytes / 2 ** 20, 4);

function request(n, now) {
  const proof = badProof(n, now);
  const r = toVerifyRequest(proof);
  const { body } = proof;
  if (scheme === 'user-hash') r.body = { user_id: body.user_id, user_hash: body.user_hash, user_metadata: body.user_metadata };
  else if (scheme === 'signed-payload') r.body = { customer: body.customer, signature: body.signature };
  else r.body = {};
  if (scheme !== 'jwt') delete r.headers.authorization;
  return r;
}

// Warm up on attackers that are not part of the flood, then start from a collected heap.
const now = Math.floor(Date.now() / 1000);
for (let n = 0; n < 2000; n++) await verifier.verify(request(0x7f000000 + n, now));
gc();
const start = process.memoryUsage();
let peakRss = start.rss;
let peakHeap = start.heapUsed;
const samples = [];
const codes = {};
const kept = [];

const t0 = process.hrtime.bigint();
for (let n = 1; n <= count; n += IN_FLIGHT) {
  const batch = [];
  for (let k = 0; k < IN_FLIGHT && n + k <= count; k++) batch.push(verifier.verify(request(n + k, now)));
  for (const result of await Promise.all(batch)) {
    const code = result.error?.code ?? 'VERIFIED';
    codes[code] = (codes[code] ?? 0) + 1;
  }
  if ((n - 1) % SAMPLE_EVERY < IN_FLIGHT) {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    if ((n - 1) % (SAMPLE_EVERY * 10) < IN_FLIGHT) samples.push({ verifications: n - 1, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed) });
  }
  const done = Math.min(n + IN_FLIGHT - 1, count);
  if (checkpoints.includes(done)) {
    gc();
    kept.push({ verifications: done, heapKeptBytes: process.memoryUsage().heapUsed - start.heapUsed });
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const end = process.memoryUsage();
peakRss = Math.max(peakRss, end.rss, process.resourceUsage().maxRSS * 1024);
gc();
const afterGc = process.memoryUsage();

// Failures the counters recorded (a rate-limited request records none), and the entries they keep.
const recorded = (codes.INVALID_SIGNATURE ?? 0) + (codes.MALFORMED_IDENTITY ?? 0) + (codes.MISSING_REQUIRED_FIELD ?? 0);
const limiterEntries = values.limits === 'off' ? 0 : 2 * Math.min(recorded, DEFAULT_MAX_KEYS);
const retained = afterGc.heapUsed - start.heapUsed;
const perEntry = {};
if (limiterEntries > 0) perEntry.bytesPerLimiterEntry = Math.round(retained / limiterEntries);
if (kept.length >= 2) {
  const [first, last] = [kept[0], kept.at(-1)];
  perEntry.bytesPerLimiterEntrySlope = Math.round(
    (last.heapKeptBytes - first.heapKeptBytes) / (2 * (last.verifications - first.verifications)),
  );
  perEntry.checkpoints = kept;
}

const result = {
  scheme,
  limits: values.limits,
  count,
  inFlight: IN_FLIGHT,
  seconds: round(seconds, 3),
  verificationsPerSec: round(count / seconds, 3),
  codes,
  rssStartMb: mb(start.rss),
  rssPeakMb: mb(peakRss),
  rssGrowthMb: mb(peakRss - start.rss),
  rssEndMb: mb(end.rss),
  heapUsedStartMb: mb(start.heapUsed),
  heapUsedPeakMb: mb(peakHeap),
  heapUsedAfterGcMb: mb(afterGc.heapUsed),
  retainedMb: mb(retained),
  maxKeysPerCounter: DEFAULT_MAX_KEYS,
  limiterEntries,
  ...perEntry,
  samples,
};
const json = JSON.stringify(result, null, 2);
if (values.out) writeFileSync(values.out, json + '\n');
else console.log(json);
