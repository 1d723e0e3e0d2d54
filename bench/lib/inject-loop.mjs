/**
 * One configuration of bench/lib/apps.mjs driven flat out by injection, for the profiler
 * (bench/profile.mjs --inject): warms up, then profiles only the steady state with the inspector's
 * CPU profiler (when --profile is given), and writes what it ran to --out.
 *
 *   node [--trace-gc] bench/lib/inject-loop.mjs <framework> <config> --seconds 6 [--profile file.cpuprofile]
 *        [--interval 50] [--out result.json]
 *
 * The requests are bench/inprocess.mjs's: a new user and address each, every answer checked to be 200.
 * CHAT_IDENTITY_BENCH_OPTIONS (JSON) is merged into this package's options, e.g. '{"rateLimit":false}'.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildApp } from './apps.mjs';
import { goodProof } from './fixtures.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '4000' },
    profile: { type: 'string' },
    interval: { type: 'string', default: '50' },
    out: { type: 'string' },
  },
});
const [framework, config] = positionals;
const POOL = 4096;
const now = Math.floor(Date.now() / 1000);
const requests = Array.from({ length: POOL }, (_, i) => {
  const proof = goodProof(i, now);
  return {
    method: 'POST',
    url: '/chat',
    headers: { 'content-type': 'application/json', authorization: proof.authorization, 'x-forwarded-for': proof.ip },
    payload: JSON.stringify(proof.body),
  };
});
const app = await buildApp(framework, config, JSON.parse(process.env.CHAT_IDENTITY_BENCH_OPTIONS || '{}'));
let n = 0;
const one = async () => {
  const res = await app.inject(requests[n++ % POOL]);
  if (res.statusCode !== 200) throw new Error(`${framework} ${config}: status ${res.statusCode}: ${res.payload}`);
};
for (let i = 0; i < Number(values.warmup); i++) await one();

let session;
if (values.profile) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(values.interval) });
  await session.post('Profiler.start');
}
console.log(`[inject-loop] steady state: ${framework} ${config}`); // marks where --trace-gc lines of the measured part begin
/** The main thread's CPU time in µs (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms), else undefined. */
function mainThreadUs() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // utime, stime
  } catch {
    return undefined;
  }
}
const start = n;
const until = performance.now() + Number(values.seconds) * 1000;
const main0 = mainThreadUs();
const cpu = process.cpuUsage();
const t0 = performance.now();
while (performance.now() < until) for (let i = 0; i < 100; i++) await one();
const used = process.cpuUsage(cpu);
const main1 = mainThreadUs();
const wallMs = performance.now() - t0;
console.log('[inject-loop] done');
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.profile, JSON.stringify(profile));
  session.disconnect();
}
const result = {
  framework,
  config,
  requests: n - start,
  wallMs,
  cpuUs: used.user + used.system,
  usPerRequest: (used.user + used.system) / (n - start),
  // The rest of the process's CPU time ran on other threads: V8's GC helpers and compilers.
  mainThreadUsPerRequest: main0 === undefined ? undefined : (main1 - main0) / (n - start),
};
if (values.out) writeFileSync(values.out, JSON.stringify(result));
else console.log(JSON.stringify(result));
