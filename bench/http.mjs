/**
 * HTTP benches, the cross-check of bench/inprocess.mjs over real sockets: server CPU time per
 * request, requests per second and latency of the same small app, bare and behind an identity
 * middleware, on Express 5, Koa 3 and Fastify 5 (with this plugin and with @fastify/jwt). Reported,
 * not targeted: on 2 cores the load generator competes with the server, so req/s mostly measures
 * the machine; server CPU per request is the steadiest figure. Each configuration is its own server process
 * (bench/http/server.mjs); autocannon runs in another process (bench/http/client.mjs). After a
 * warm-up of every server, the configurations of a group are run one after another (A B C A B C
 * ..., the order rotated each round) for several rounds; medians are reported, and each ratio is
 * the median over rounds of (configuration / bare app of the same framework in the same round).
 *
 * Groups: good proofs, then failing proofs (fresh servers, so peak RSS is the flood's own). The
 * failing group runs two rounds fewer (at least 2): bench/attacks.mjs measures failures in process.
 *
 *   node bench/http.mjs [--quick] [--duration 2] [--rounds 4] [--connections 10] [--group good|failures]
 *                       [--compare] [--out file.json]
 *
 * With --compare, every configuration of this package runs twice: on this tree's build and on
 * the other tree's (built by `npm run bench -- --compare <tree>`), in the same rounds.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, comparePackageDir } from './lib/package.mjs';
import { median, round } from './lib/stats.mjs';

const SERVER = join(benchDir, 'http', 'server.mjs');
const CLIENT = join(benchDir, 'http', 'client.mjs');

/** Every group: [label, framework, config, stream]. The first of each framework is its bare app. */
export const GROUPS = [
  {
    name: 'good',
    title: 'valid proofs',
    runs: [
      ['express bare', 'express', 'bare', 'good'],
      ['express user-hash', 'express', 'user-hash', 'good'],
      ['express signed-payload', 'express', 'signed-payload', 'good'],
      ['express jwt', 'express', 'jwt', 'good'],
      ['express floor: user-hash', 'express', 'floor-user-hash', 'good'],
      ['express floor: signed-payload', 'express', 'floor-signed-payload', 'good'],
      ['express floor: jwt', 'express', 'floor-jwt', 'good'],
      ['express-jwt', 'express', 'express-jwt', 'good'],
      ['passport-jwt', 'express', 'passport-jwt', 'good'],
      ['koa bare', 'koa', 'bare', 'good'],
      ['koa user-hash', 'koa', 'user-hash', 'good'],
      ['koa signed-payload', 'koa', 'signed-payload', 'good'],
      ['koa jwt', 'koa', 'jwt', 'good'],
      ['koa floor: user-hash', 'koa', 'floor-user-hash', 'good'],
      ['koa floor: signed-payload', 'koa', 'floor-signed-payload', 'good'],
      ['koa floor: jwt', 'koa', 'floor-jwt', 'good'],
      ['fastify bare', 'fastify', 'bare', 'good'],
      ['fastify user-hash', 'fastify', 'user-hash', 'good'],
      ['fastify signed-payload', 'fastify', 'signed-payload', 'good'],
      ['fastify jwt', 'fastify', 'jwt', 'good'],
      ['fastify floor: user-hash', 'fastify', 'floor-user-hash', 'good'],
      ['fastify floor: signed-payload', 'fastify', 'floor-signed-payload', 'good'],
      ['fastify floor: jwt', 'fastify', 'floor-jwt', 'good'],
      ['@fastify/jwt', 'fastify', 'fastify-jwt', 'good'],
    ],
  },
  {
    name: 'failures',
    title: 'failing proofs (bad signatures)',
    runs: [
      ['express bare', 'express', 'bare', 'bad'],
      ['express user-hash', 'express', 'user-hash', 'bad'],
      ['express signed-payload', 'express', 'signed-payload', 'bad'],
      ['express jwt', 'express', 'jwt', 'bad'],
      ['express user-hash, one attacker', 'express', 'user-hash', 'bad-one'],
      ['express-jwt', 'express', 'express-jwt', 'bad'],
      ['passport-jwt', 'express', 'passport-jwt', 'bad'],
      ['koa bare', 'koa', 'bare', 'bad'],
      ['koa user-hash', 'koa', 'user-hash', 'bad'],
      ['koa signed-payload', 'koa', 'signed-payload', 'bad'],
      ['koa jwt', 'koa', 'jwt', 'bad'],
      ['fastify bare', 'fastify', 'bare', 'bad'],
      ['fastify user-hash', 'fastify', 'user-hash', 'bad'],
      ['fastify signed-payload', 'fastify', 'signed-payload', 'bad'],
      ['fastify jwt', 'fastify', 'jwt', 'bad'],
      ['@fastify/jwt', 'fastify', 'fastify-jwt', 'bad'],
    ],
    fewerRounds: 2,
  },
];

function request(child, message) {
  return new Promise((resolve, reject) => {
    const onMessage = (reply) => {
      if (message.id !== undefined && reply.id !== message.id) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (reply.error) reject(new Error(reply.error));
      else resolve(reply);
    };
    const onExit = (code) => reject(new Error(`process exited with ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

function started(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`process exited with ${code} before it was ready`)));
  });
}

async function startServer(framework, config, env) {
  const child = fork(SERVER, [framework, config], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await started(child);
  const stats = async () => {
    child.send('stats');
    return new Promise((resolve) => child.once('message', resolve));
  };
  return { child, url: `http://127.0.0.1:${port}`, stats };
}

/** Status codes a run must answer with: the bare app accepts everything; a middleware refuses bad proofs. */
function expectedStatus(config, stream) {
  if (config === 'bare' || stream === 'good') return (code) => code === '200';
  return (code) => code === '401' || code === '429';
}

const OURS = new Set(['user-hash', 'signed-payload', 'jwt']);

/** The runs of a group; with `compare`, each of this package's runs gets a twin on the other build. */
function runsOf(group, compare) {
  const runs = group.runs.map(([label, framework, config, stream]) => ({ label, framework, config, stream, env: {} }));
  if (!compare) return runs;
  return runs.flatMap((run) =>
    OURS.has(run.config)
      ? [run, { ...run, label: `${run.label} [compare]`, compare: true, env: { CHAT_IDENTITY_BENCH_PACKAGE: comparePackageDir } }]
      : [run],
  );
}

export async function runHttp({
  quick = false,
  duration,
  rounds,
  connections = 10,
  groups = GROUPS.map((g) => g.name),
  compare = false,
  env = {},
  log = () => {},
} = {}) {
  // A warm-up of 2 s per server: the JIT compiles on background threads, whose CPU time the server's figure would count.
  const settings = {
    duration: duration ?? (quick ? 1 : 2),
    rounds: rounds ?? (quick ? 2 : 4),
    warmup: quick ? 1 : 2,
    connections,
    compare,
  };
  settings.roundsByGroup = Object.fromEntries(GROUPS.map((g) => [g.name, Math.max(2, settings.rounds - (g.fewerRounds ?? 0))]));
  const client = fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await started(client);
  let id = 0;
  const load = (url, stream, seconds) =>
    request(client, { id: id++, url, stream, duration: seconds, connections: settings.connections }).then((r) => r.result);

  const results = { settings, groups: {} };
  try {
    for (const group of GROUPS.filter((g) => groups.includes(g.name))) {
      const runs = runsOf(group, compare);
      log(`http: ${group.title}: starting ${runs.length} servers`);
      for (const run of runs) {
        run.server = await startServer(run.framework, run.config, { ...env, ...run.env });
        run.samples = [];
      }
      try {
        for (const run of runs) {
          await load(run.server.url, run.stream, settings.warmup);
          run.afterWarmup = await run.server.stats();
        }
        const rounds = settings.roundsByGroup[group.name];
        for (let r = 0; r < rounds; r++) {
          log(`http: ${group.title}: round ${r + 1}/${rounds}`);
          for (let k = 0; k < runs.length; k++) {
            const run = runs[(k + r) % runs.length];
            const before = await run.server.stats();
            const result = await load(run.server.url, run.stream, settings.duration);
            const after = await run.server.stats();
            const cpuUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
            const ok = expectedStatus(run.config, run.stream);
            result.unexpected =
              Object.entries(result.statusCodes).reduce((n, [code, count]) => n + (ok(code) ? 0 : count), 0) +
              result.errors +
              result.timeouts;
            result.serverCpuUsPerRequest = cpuUs / Math.max(1, result.requests);
            run.samples.push(result);
          }
        }
        for (const run of runs) run.end = await run.server.stats();
      } finally {
        for (const run of runs) run.server.child.kill();
      }
      results.groups[group.name] = summarise(group, runs);
    }
  } finally {
    client.kill();
  }
  return results;
}

function summarise(group, runs) {
  const bareOf = (framework) => runs.find((r) => r.framework === framework && r.config === 'bare');
  const rows = runs.map((run) => {
    const bare = bareOf(run.framework);
    const rps = run.samples.map((s) => s.rps);
    const row = {
      label: run.label,
      compare: run.compare === true,
      framework: run.framework,
      config: run.config,
      stream: run.stream,
      rps: round(median(rps)),
      p99Ms: median(run.samples.map((s) => s.latency.p99)),
      p50Ms: median(run.samples.map((s) => s.latency.p50)),
      serverCpuUsPerRequest: round(median(run.samples.map((s) => s.serverCpuUsPerRequest)), 3),
      vsBare: round(median(rps.map((v, r) => v / bare.samples[r].rps)), 3),
      vsBareRange: [
        round(Math.min(...rps.map((v, r) => v / bare.samples[r].rps)), 3),
        round(Math.max(...rps.map((v, r) => v / bare.samples[r].rps)), 3),
      ],
      p99VsBare: round(median(run.samples.map((s, r) => s.latency.p99 / bare.samples[r].latency.p99)), 3),
      cpuVsBare: round(median(run.samples.map((s, r) => s.serverCpuUsPerRequest / bare.samples[r].serverCpuUsPerRequest)), 3),
      // Server CPU per request over the bare app's in the same round: the median of the paired differences.
      cpuAddedUs: round(median(run.samples.map((s, r) => s.serverCpuUsPerRequest - bare.samples[r].serverCpuUsPerRequest)), 3),
      rounds: run.samples.length,
      statusCodes: run.samples.reduce((all, s) => {
        for (const [code, n] of Object.entries(s.statusCodes)) all[code] = (all[code] ?? 0) + n;
        return all;
      }, {}),
      unexpected: run.samples.reduce((n, s) => n + s.unexpected, 0),
      requests: run.samples.reduce((n, s) => n + s.requests, 0),
      rpsSamples: rps.map((v) => Math.round(v)),
      clientCpuShare: round(median(run.samples.map((s) => s.clientCpuMs / (s.seconds * 1000))), 3),
      memory: {
        rssAfterWarmup: run.afterWarmup.rss,
        rssEnd: run.end.rss,
        peakRss: run.end.maxRss,
        heapUsedEnd: run.end.heapUsed,
      },
    };
    return row;
  });
  return { title: group.title, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string', default: '10' },
      group: { type: 'string', multiple: true },
      compare: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const results = await runHttp({
    quick: values.quick,
    duration: values.duration && Number(values.duration),
    rounds: values.rounds && Number(values.rounds),
    connections: Number(values.connections),
    groups: values.group ?? GROUPS.map((g) => g.name),
    compare: values.compare,
    log: (m) => console.error(m),
  });
  const json = JSON.stringify(results, null, 2);
  if (values.out) writeFileSync(values.out, json + '\n');
  else console.log(json);
}
