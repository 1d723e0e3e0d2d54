/**
 * What a request through an adapter costs, in process: each configuration of bench/lib/apps.mjs
 * (bare, the node:crypto floor as a middleware, this package) driven by light-my-request injection,
 * with no socket and no load generator competing for the 2 cores. Many short rounds; in each, every
 * configuration of a framework runs one batch, in an order rotated round by round, so machine
 * noise falls on all of them alike, and is timed by the process's own CPU time. The added cost of a configuration is its time per request
 * minus the bare app's in the same round; the ratio (ours ÷ floor) is taken round by round, and
 * the median and the interquartile range of those ratios are reported.
 *
 *   node bench/inprocess.mjs [--quick] [--rounds 40] [--batch 400] [--framework express] [--out file.json]
 *
 * Failure limits are on (the default options), and every request carries a new user and address,
 * as live traffic does.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { inject } from 'light-my-request';
import { buildHandler } from './lib/apps.mjs';
import { goodProof } from './lib/fixtures.mjs';
import { median, round } from './lib/stats.mjs';

const SCHEMES = ['user-hash', 'signed-payload', 'jwt'];
const FRAMEWORKS = ['express', 'koa'];
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

/**
 * CPU time per request (user + system, µs) over one batch: the process's own time, which other
 * processes on the machine do not inflate the way they inflate wall time.
 */
async function batch(handler, requests, from, size) {
  const before = process.cpuUsage();
  for (let i = 0; i < size; i++) {
    const res = await inject(handler, requests[(from + i) % POOL]);
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.payload}`);
  }
  const { user, system } = process.cpuUsage(before);
  return (user + system) / size;
}

const quantile = (values, q) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
};

export async function runInProcess({ quick = false, rounds, batchSize, frameworks = FRAMEWORKS, log = () => {} } = {}) {
  const settings = { rounds: rounds ?? (quick ? 12 : 40), batch: batchSize ?? (quick ? 200 : 400) };
  const requests = requestPool();
  const results = { settings, frameworks: {} };
  for (const framework of frameworks) {
    const configs = ['bare', ...SCHEMES.flatMap((scheme) => [`floor-${scheme}`, scheme])];
    const handlers = Object.fromEntries(await Promise.all(configs.map(async (config) => [config, await buildHandler(framework, config)])));
    const samples = Object.fromEntries(configs.map((config) => [config, []]));
    let cursor = 0;
    log(`inprocess: ${framework} warm-up`);
    for (const config of configs) {
      await batch(handlers[config], requests, cursor, settings.batch);
      cursor += settings.batch;
    }
    for (let r = 0; r < settings.rounds; r++) {
      for (let k = 0; k < configs.length; k++) {
        const config = configs[(k + r) % configs.length];
        samples[config].push(await batch(handlers[config], requests, cursor, settings.batch));
        cursor += settings.batch;
      }
    }
    const added = (config) => samples[config].map((us, r) => us - samples.bare[r]);
    const rows = { bare: { usPerRequest: round(median(samples.bare), 3) } };
    for (const scheme of SCHEMES) {
      const ours = added(scheme);
      const floor = added(`floor-${scheme}`);
      const ratios = ours.map((a, r) => a / floor[r]);
      rows[scheme] = {
        usPerRequest: round(median(samples[scheme]), 3),
        addedUs: round(median(ours), 3),
        floorAddedUs: round(median(floor), 3),
        vsFloorAdded: round(median(ratios), 3),
        vsFloorAddedIqr: [round(quantile(ratios, 0.25), 3), round(quantile(ratios, 0.75), 3)],
      };
    }
    results.frameworks[framework] = rows;
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, batch: { type: 'string' }, framework: { type: 'string', multiple: true }, out: { type: 'string' } },
  });
  const results = await runInProcess({
    quick: values.quick,
    rounds: values.rounds && Number(values.rounds),
    batchSize: values.batch && Number(values.batch),
    frameworks: values.framework ?? FRAMEWORKS,
    log: (m) => console.error(m),
  });
  if (values.out) writeFileSync(values.out, JSON.stringify(results, null, 2));
  else console.log(JSON.stringify(results, null, 2));
}
