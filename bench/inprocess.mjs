/**
 * What a request through an adapter costs, in process: each configuration of bench/lib/apps.mjs
 * (the bare app, the node:crypto floor as a middleware, this package with its default options,
 * failure limits on; and for Fastify @fastify/jwt) driven by injection (light-my-request;
 * `fastify.inject` for Fastify): no socket and no load generator competing for the cores.
 *
 * Method (issue 16):
 * - One framework per process (bench/run.mjs forks one each), so one framework's JIT state never
 *   weighs on another's; and several processes per framework (5 in a full `npm run bench`, the
 *   frameworks alternated), combined by their medians (lib/stats.mjs, combineProcesses): the same
 *   build gave ratios up to 0.5 apart in separate runs, and one process is one draw of its JIT state.
 * - Warm-up: every configuration serves `warmup` requests, in interleaved chunks, before any sample.
 * - Then many short rounds. In each round every configuration serves one batch of `batch` requests,
 *   in an order rotated round by round, timed by the process's own CPU time (user + system), which
 *   other processes on the machine inflate far less than wall time. Before each batch a minor GC
 *   (with --expose-gc, not timed) empties the young generation, so every batch starts from the same
 *   state and no batch pays for another's garbage. A batch of 50 requests (~1.5 MB) fits in the
 *   young generation, so a collection rarely lands inside one: the figure is the request's own
 *   work, allocation included, and the collections' share is reported apart: the bytes each
 *   request allocates (heap growth over the batches no collection ran in) and V8's GC time inside
 *   timed batches (mean per request; rare and large, so only indicative). Measured on this machine
 *   under load: the settling GC narrows the 95% intervals three- to fourfold, and 50-request
 *   batches × many rounds narrow them another two- to threefold over 200 × fewer.
 * - The added cost of a configuration is the median over rounds of (its µs per request − the bare
 *   app's in the same round): the median of paired differences. A slow stretch of the machine lasts
 *   longer than a round, so it lifts both sides of a pair and cancels in the difference, where the
 *   difference of two medians keeps it; the median then drops the rounds a GC or a preemption hit.
 *   Both estimators are computed, with bootstrap intervals, and `estimators` says which was tighter
 *   in this run.
 * - ours ÷ floor is the ratio of the two medians of paired differences, with a 95% bootstrap
 *   interval over rounds (the same rounds for both, so the pairs stay paired). A per-round ratio is
 *   not used: a floor that adds 3 µs is within noise of 0 in a single round.
 *
 *   node --expose-gc bench/inprocess.mjs [--quick] [--framework express] [--rounds 240] [--batch 50]
 *                                        [--warmup 2000] [--configs bare,user-hash] [--no-settle] [--compare] [--variant name=JSON] [--no-build] [--out file.json]
 *
 * With --variant name=JSON (repeatable), each of this package's configurations also runs with those
 * options merged in, `<scheme>~<name>`, in the same rounds, and `savedUs` says what the option takes
 * off the added cost: e.g. --variant 'nolimits={"rateLimit":false}' --variant 'nostats={"stats":false}'.
 *
 * With --compare (made by `npm run bench -- --compare <tree>`, which builds the other tree), each of
 * this package's configurations also runs on the other build, `<scheme>@compare`, in the same rounds;
 * `vsThisBuildAdded` is its added cost over this build's, with its interval: how to measure a patch.
 *
 * Every request carries a new user and address (a pool of 4,096 distinct valid proofs, cycled), as
 * live traffic does, so the failure limits see new keys; every answer must be 200.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildApp, CONFIGS } from './lib/apps.mjs';
import { goodProof } from './lib/fixtures.mjs';
import { buildPackage, comparePackageDir } from './lib/package.mjs';
import { bootstrap, iqr, median, medianAt, round } from './lib/stats.mjs';

export const SCHEMES = ['user-hash', 'signed-payload', 'jwt'];
export const FRAMEWORKS = ['express', 'koa', 'fastify'];
/** What the in-process bench runs for each framework (a subset of CONFIGS: the comparisons issue 16 and 14 ask for). */
export const INPROCESS_CONFIGS = {
  express: ['bare', ...SCHEMES.flatMap((s) => [`floor-${s}`, s])],
  koa: ['bare', ...SCHEMES.flatMap((s) => [`floor-${s}`, s])],
  fastify: ['bare', ...SCHEMES.flatMap((s) => [`floor-${s}`, s]), 'fastify-jwt'],
};
const POOL = 4096;

/** The same requests for every configuration: JSON text prepared once, a new user and address each. */
function requestPool() {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: POOL }, (_, i) => {
    const proof = goodProof(i, now);
    return {
      method: 'POST',
      url: '/chat',
      headers: { 'content-type': 'application/json', authorization: proof.authorization, 'x-forwarded-for': proof.ip },
      payload: JSON.stringify(proof.body),
    };
  });
}

const settleGc = globalThis.gc ? () => globalThis.gc({ type: 'minor' }) : () => {};

/** The garbage collections V8 reports (start and duration in ms on performance.now()'s clock). */
const collections = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push({ start: entry.startTime, duration: entry.duration });
});

/**
 * One batch of injections: CPU time per request (user + system, µs), and the window it ran in and
 * the heap it grew by (bytes allocated, when no collection ran inside it), for the GC accounting.
 */
async function batch(app, requests, from, size, settle) {
  if (settle) settleGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const before = process.cpuUsage();
  for (let i = 0; i < size; i++) {
    const res = await app.inject(requests[(from + i) % POOL]);
    if (res.statusCode !== 200) throw new Error(`${app.framework} ${app.config}: status ${res.statusCode}: ${res.payload}`);
  }
  const { user, system } = process.cpuUsage(before);
  const t1 = performance.now();
  return { us: (user + system) / size, t0, t1, grown: process.memoryUsage().heapUsed - heapBefore, size };
}

/**
 * What the collections cost each configuration: V8's GC time inside its timed batches (included in
 * their CPU time) per request, a mean over every batch; and the bytes one request allocates, from
 * the batches no collection ran in.
 */
function gcAccounting(batches) {
  let gcMs = 0;
  let requests = 0;
  const bytes = [];
  let hit = 0;
  for (const b of batches) {
    const inside = collections.filter((c) => c.start >= b.t0 && c.start < b.t1);
    gcMs += inside.reduce((t, c) => t + c.duration, 0);
    requests += b.size;
    if (inside.length === 0) bytes.push(b.grown / b.size);
    else hit++;
  }
  return { gcUsPerRequest: round((gcMs * 1000) / requests, 3), batchesWithGc: hit, bytesPerRequest: round(median(bytes), 4) };
}

/** Added cost of `samples` over `bare` (µs per request, same rounds): both estimators, intervals, spread. */
function addedCost(samples, bare) {
  const diffs = samples.map((us, r) => us - bare[r]);
  const paired = median(diffs);
  const unpaired = median(samples) - median(bare);
  const pairedCi = bootstrap(diffs.length, (ix) => medianAt(diffs, ix));
  const unpairedCi = bootstrap(diffs.length, (ix) => medianAt(samples, ix) - medianAt(bare, ix));
  return {
    usPerRequest: round(median(samples), 4),
    usPerRequestIqr: iqr(samples).map((v) => round(v, 4)),
    addedUs: round(paired, 3),
    addedIqr: iqr(diffs).map((v) => round(v, 3)),
    addedCi95: pairedCi.map((v) => round(v, 3)),
    addedDiffOfMediansUs: round(unpaired, 3),
    addedDiffOfMediansCi95: unpairedCi.map((v) => round(v, 3)),
    diffs,
  };
}

/** ours-added ÷ floor-added, with its bootstrap interval over the same rounds. */
function ratioOf(ours, floor) {
  const value = median(ours.diffs) / median(floor.diffs);
  const ci = bootstrap(ours.diffs.length, (ix) => medianAt(ours.diffs, ix) / medianAt(floor.diffs, ix));
  return { value: round(value, 3), ci95: ci.map((v) => round(v, 3)) };
}

export async function runInProcess({
  framework,
  quick = false,
  rounds,
  batchSize,
  warmup,
  configs,
  settle = true,
  compare = false,
  variants = {},
  log = () => {},
}) {
  const settings = {
    framework,
    rounds: rounds ?? (quick ? 60 : 240),
    batch: batchSize ?? 50,
    warmup: warmup ?? (quick ? 800 : 2000),
    settle: settle && globalThis.gc !== undefined,
    configs: configs ?? INPROCESS_CONFIGS[framework],
    compare,
  };
  // With --compare, each of this package's configurations also runs on the other tree's build (`<scheme>@compare`), in the same rounds.
  if (compare) settings.configs = settings.configs.flatMap((c) => (SCHEMES.includes(c) ? [c, `${c}@compare`] : [c]));
  // Variants (--variant name=JSON): each of this package's configurations again with those options
  // merged in (`<scheme>~<name>`), in the same rounds; `savedUs` is what the option takes off.
  if (Object.keys(variants).length) {
    settings.variants = variants;
    const takesOptions = (c) => SCHEMES.includes(c) || /^(direct|required)-/.test(c);
    settings.configs = settings.configs.flatMap((c) => (takesOptions(c) ? [c, ...Object.keys(variants).map((v) => `${c}~${v}`)] : [c]));
  }
  if (!CONFIGS[framework]) throw new Error(`unknown framework ${framework}`);
  const names = settings.configs;
  if (names[0] !== 'bare') throw new Error('the first configuration must be bare');
  const requests = requestPool();
  const apps = {};
  for (const config of names) {
    const [name, build] = config.split('@');
    const [base, variant] = name.split('~');
    apps[config] = await buildApp(
      framework,
      base,
      variant ? variants[variant] : {},
      build === 'compare' ? { packageDir: comparePackageDir } : {},
    );
  }
  const samples = Object.fromEntries(names.map((config) => [config, []]));
  const batches = Object.fromEntries(names.map((config) => [config, []]));
  let cursor = 0;
  log(`inprocess ${framework}: warm-up, ${settings.warmup} requests per configuration`);
  const chunk = 250;
  for (let done = 0; done < settings.warmup; done += chunk) {
    for (const config of names) {
      await batch(apps[config], requests, cursor, Math.min(chunk, settings.warmup - done), false);
      cursor += chunk;
    }
  }
  log(`inprocess ${framework}: ${settings.rounds} rounds of ${names.length} × ${settings.batch} requests`);
  const t0 = Date.now();
  collections.length = 0;
  gcObserver.observe({ entryTypes: ['gc'] });
  for (let r = 0; r < settings.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const config = names[(k + r) % names.length];
      const b = await batch(apps[config], requests, cursor, settings.batch, settings.settle);
      samples[config].push(b.us);
      batches[config].push(b);
      cursor += settings.batch;
    }
  }
  await new Promise((resolve) => setImmediate(resolve)); // the observer's last entries
  gcObserver.disconnect();
  settings.seconds = (Date.now() - t0) / 1000;

  const rows = { bare: { usPerRequest: round(median(samples.bare), 4), usPerRequestIqr: iqr(samples.bare).map((v) => round(v, 4)) } };
  for (const config of names.slice(1)) rows[config] = addedCost(samples[config], samples.bare);
  for (const config of names) Object.assign(rows[config], gcAccounting(batches[config]));
  for (const config of names.slice(1)) {
    rows[config].addedGcUs = round(rows[config].gcUsPerRequest - rows.bare.gcUsPerRequest, 3);
    rows[config].addedBytes = round(rows[config].bytesPerRequest - rows.bare.bytesPerRequest, 4);
  }
  for (const scheme of SCHEMES) {
    const floor = rows[`floor-${scheme}`];
    for (const config of [scheme, `${scheme}@compare`]) {
      const ours = rows[config];
      if (!ours || !floor) continue;
      const ratio = ratioOf(ours, floor);
      ours.vsFloorAdded = ratio.value;
      ours.vsFloorAddedCi95 = ratio.ci95;
    }
    // A/B: the other build's added cost over this build's, same rounds (below 1: the other build adds less).
    if (rows[`${scheme}@compare`] && rows[scheme]) {
      const ab = ratioOf(rows[`${scheme}@compare`], rows[scheme]);
      rows[`${scheme}@compare`].vsThisBuildAdded = ab.value;
      rows[`${scheme}@compare`].vsThisBuildAddedCi95 = ab.ci95;
    }
  }
  for (const config of names.filter((c) => c.includes('~'))) {
    const base = rows[config.slice(0, config.indexOf('~'))];
    if (!base) continue;
    const [ours, other] = [base.diffs, rows[config].diffs];
    rows[config].savedUs = round(median(ours) - median(other), 3);
    rows[config].savedCi95 = bootstrap(ours.length, (ix) => medianAt(ours, ix) - medianAt(other, ix)).map((v) => round(v, 3));
  }
  if (rows['fastify-jwt'] && rows['floor-jwt']) {
    const ratio = ratioOf(rows['fastify-jwt'], rows['floor-jwt']);
    rows['fastify-jwt'].vsFloorAdded = ratio.value;
    rows['fastify-jwt'].vsFloorAddedCi95 = ratio.ci95;
  }
  // Which estimator of the added cost was tighter here: the median width of the 95% intervals.
  const widths = (key) => names.slice(1).map((c) => rows[c][key][1] - rows[c][key][0]);
  const estimators = {
    pairedCiWidthUs: round(median(widths('addedCi95')), 3),
    diffOfMediansCiWidthUs: round(median(widths('addedDiffOfMediansCi95')), 3),
  };
  for (const config of names.slice(1)) delete rows[config].diffs;
  return {
    settings,
    rows,
    estimators,
    samples: Object.fromEntries(names.map((c) => [c, samples[c].map((v) => round(v, 4))])),
    loadAverage: os.loadavg().map((l) => round(l, 3)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      framework: { type: 'string', multiple: true },
      rounds: { type: 'string' },
      batch: { type: 'string' },
      warmup: { type: 'string' },
      configs: { type: 'string' },
      'no-settle': { type: 'boolean', default: false },
      compare: { type: 'boolean', default: false },
      variant: { type: 'string', multiple: true },
      'no-build': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  // Run alone (npm run bench:inprocess), it builds the package first; bench/run.mjs has built it already.
  if (!values['no-build']) await buildPackage();
  const frameworks = {};
  for (const framework of values.framework ?? FRAMEWORKS) {
    frameworks[framework] = await runInProcess({
      framework,
      quick: values.quick,
      rounds: values.rounds && Number(values.rounds),
      batchSize: values.batch && Number(values.batch),
      warmup: values.warmup && Number(values.warmup),
      configs: values.configs?.split(','),
      settle: !values['no-settle'],
      compare: values.compare,
      variants: Object.fromEntries(
        (values.variant ?? []).map((v) => [v.slice(0, v.indexOf('=')), JSON.parse(v.slice(v.indexOf('=') + 1))]),
      ),
      log: (m) => console.error(m),
    });
  }
  const json = JSON.stringify({ frameworks }, null, 2);
  if (values.out) writeFileSync(values.out, json + '\n');
  else console.log(json);
}
