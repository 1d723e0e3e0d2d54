/**
 * Memory under a flood of failing proofs: `count` verifications through the core, each with a
 * distinct claimed identity and a distinct client address (so failure counters see a new key
 * every time), 100 in flight at once like concurrent requests. Samples RSS every 10,000
 * verifications and reports the peak, the growth over the flood, and what stays after a full GC.
 *
 *   node --expose-gc bench/memory.mjs [--count 1000000] [--scheme user-hash] [--limits on|off] [--out file.json]
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
    out: { type: 'string' },
  },
});
const count = Number(values.count);
const scheme = values.scheme;
const { createVerifier } = await importPackage();
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
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const end = process.memoryUsage();
peakRss = Math.max(peakRss, end.rss, process.resourceUsage().maxRSS * 1024);
gc();
const afterGc = process.memoryUsage();

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
  retainedMb: mb(afterGc.heapUsed - start.heapUsed),
  samples,
};
const json = JSON.stringify(result, null, 2);
if (values.out) writeFileSync(values.out, json + '\n');
else console.log(json);
