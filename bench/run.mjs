/**
 * `npm run bench`: builds the package privately, then runs the core, attack-cost, in-process
 * adapter, HTTP and memory benches, each in processes of its own, prints the tables and the
 * targets, and writes bench/results.json and bench/RESULTS.md. About 18 minutes on 2 cores (the
 * core section 5, with 5 target processes per scheme; the in-process one 5: 5 processes per
 * framework); `--quick` takes about 4½. A quick, partial (--only) or A/B (--compare) run writes bench/results-check.json and
 * leaves the published results alone.
 *
 *   npm run bench [-- --quick] [--only core,attacks,inprocess,http,memory] [--duration 2] [--rounds 4]
 *                 [--connections 10] [--inprocess-rounds 160] [--inprocess-processes 5] [--core-processes 5] [--memory-count 1000000]
 *                 [--out file.json] [--md file.md] [--no-build]
 *   (--duration, --rounds and --connections set the HTTP runs; each section's own options are in
 *   the header of bench/core.mjs, bench/inprocess.mjs, bench/http.mjs and bench/memory.mjs)
 *   npm run bench -- --compare /path/to/other/tree [--only core,inprocess,http]
 *       builds the other tree's src/ and adapters/ too and runs its verify() and middleware
 *       beside this tree's, in the same rounds: the way to measure a patch on a noisy machine.
 *
 * The adapter targets (issue 16) are on the in-process section: per-request CPU time through each
 * adapter by injection, added over the bare app, against the node:crypto floor as a middleware. The
 * core targets are on the core's target processes (bench/core.mjs, targetProcess: 5 per scheme).
 * The HTTP section is their cross-check over sockets (server CPU per request, req/s, latency),
 * reported, not targeted.
 *
 * Not part of `npm test`. CHAT_IDENTITY_BENCH_OPTIONS (JSON) is merged into the package's
 * options in the HTTP servers, e.g. '{"rateLimit":false}'.
 */
import { execFileSync, fork } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, buildPackage, comparePackageDir, rootDir } from './lib/package.mjs';
import { combineProcesses, combineTargetProcesses } from './lib/stats.mjs';
import { evaluateTargets, renderConsole, renderMarkdown } from './report.mjs';

const SECTIONS = ['core', 'attacks', 'inprocess', 'http', 'memory'];
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: SECTIONS.join(',') },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '10' },
    'memory-count': { type: 'string' },
    'inprocess-rounds': { type: 'string' },
    'inprocess-processes': { type: 'string' },
    'core-processes': { type: 'string' },
    out: { type: 'string' },
    md: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    compare: { type: 'string' },
  },
});
const quick = values.quick;
const only = new Set(values.only.split(',').map((s) => s.trim()));
const compare = values.compare !== undefined;
// A quick, partial or A/B run is for checking: it never replaces the published results.
const partial = quick || SECTIONS.some((section) => !only.has(section)) || compare;
const outFile = values.out ?? join(benchDir, partial ? 'results-check.json' : 'results.json');
const mdFile = values.md ?? (partial ? undefined : join(benchDir, 'RESULTS.md'));
const log = (message) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));

/** Runs a bench script in a child process and reads the JSON it writes. */
function child(script, args, execArgv = []) {
  const tmp = join(os.tmpdir(), `chat-identity-bench-${process.pid}-${Date.now()}.json`);
  return new Promise((resolve, reject) => {
    const proc = fork(join(benchDir, script), [...args, '--out', tmp], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      try {
        resolve(JSON.parse(readFileSync(tmp, 'utf8')));
      } finally {
        rmSync(tmp, { force: true });
      }
    });
  });
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: rootDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

const started = Date.now();
const meta = {
  date: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  quick,
  node: process.versions.node,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
  cores: os.cpus().length,
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
  dirty: git(['status', '--porcelain', '--', 'src', 'adapters']) !== '',
  loadBefore: load(),
};

if (!values['no-build']) {
  log('building src/ and adapters/ into bench/.build (ESM, as published)');
  await buildPackage();
}
if (compare) {
  log(`building ${values.compare} (src/ and adapters/) into bench/.build/compare for the A/B rows`);
  await buildPackage({ sourceRoot: resolve(values.compare), outDir: comparePackageDir });
  meta.compare = resolve(values.compare);
}

const results = { meta };
if (only.has('core')) {
  log('core: verify() against the node:crypto floor, jose and jsonwebtoken');
  const args = quick ? ['--quick'] : [];
  if (compare) args.push('--compare');
  results.core = await child('core.mjs', args);
  if (!compare) {
    // The core target in processes of its own, several per scheme, the schemes alternated
    // (bench/core.mjs, targetProcess; combined by lib/stats.mjs, combineTargetProcesses).
    const processes = Number(values['core-processes'] ?? (quick ? 1 : 5));
    const runs = { 'user-hash': [], 'signed-payload': [], jwt: [] };
    for (let pass = 1; pass <= processes; pass++) {
      for (const scheme of Object.keys(runs)) {
        log(`core: the ${scheme} target, verify() and the floors in a process of their own (process ${pass} of ${processes})`);
        runs[scheme].push(await child('core.mjs', ['--target', scheme, ...(quick ? ['--quick'] : [])]));
      }
    }
    results.core.target = Object.fromEntries(Object.entries(runs).map(([scheme, each]) => [scheme, combineTargetProcesses(each)]));
  }
}
if (only.has('attacks')) {
  log('attacks: the worst failing input of each kind, beside valid requests');
  results.attacks = await child('attacks.mjs', quick ? ['--quick'] : []);
}
if (only.has('inprocess')) {
  results.inprocess = { frameworks: {} };
  // Several processes per framework, the frameworks alternated, combined by their medians
  // (lib/stats.mjs, combineProcesses): one process's JIT luck cannot make the verdict.
  const processes = Number(values['inprocess-processes'] ?? (quick ? 1 : 5));
  const rounds = values['inprocess-rounds'] ?? (quick ? undefined : '160');
  const runs = { express: [], koa: [], fastify: [] };
  for (let pass = 1; pass <= processes; pass++) {
    for (const framework of Object.keys(runs)) {
      log(
        `inprocess: ${framework} by injection, bare / floor middleware / this package${framework === 'fastify' ? ' / @fastify/jwt' : ''}, alternated rounds (process ${pass} of ${processes})`,
      );
      const args = ['--framework', framework, '--no-build'];
      if (quick) args.push('--quick');
      if (rounds) args.push('--rounds', rounds);
      if (compare) args.push('--compare');
      runs[framework].push((await child('inprocess.mjs', args, ['--expose-gc'])).frameworks[framework]);
    }
  }
  for (const [framework, each] of Object.entries(runs)) results.inprocess.frameworks[framework] = combineProcesses(each);
}
if (only.has('http')) {
  log('http: Express 5, Koa 3 and Fastify 5, bare and with each middleware (autocannon in its own process)');
  const args = ['--connections', values.connections];
  if (quick) args.push('--quick');
  if (values.duration) args.push('--duration', values.duration);
  if (values.rounds) args.push('--rounds', values.rounds);
  if (compare) args.push('--compare');
  results.http = await child('http.mjs', args);
}
if (only.has('memory')) {
  // The failure counters are the same whatever the scheme, so the full count runs on user-hash
  // (with and without them) and a quarter of it on the others, which is past the counters' cap.
  const count = Number(values['memory-count'] ?? (quick ? 100_000 : 1_000_000));
  const floods = [
    ['user-hash', 'on', count],
    ['user-hash', 'off', count],
    ['signed-payload', 'on', Math.ceil(count / 4)],
    ['jwt', 'on', Math.ceil(count / 4)],
  ];
  results.memory = { runs: [] };
  for (const [scheme, limits, n] of floods) {
    log(`memory: ${n.toLocaleString('en-US')} failing ${scheme} verifications, failure limits ${limits}`);
    results.memory.runs.push(await child('memory.mjs', ['--count', String(n), '--scheme', scheme, '--limits', limits], ['--expose-gc']));
  }
  // Bytes per limiter entry below the cap: the heap kept at 10,000 and 40,000 distinct failures (a full GC at each), the slope between.
  log('memory: bytes per failure-limiter entry, 40,000 distinct failures (below the cap)');
  results.memory.entries = await child(
    'memory.mjs',
    ['--count', '40000', '--scheme', 'user-hash', '--limits', 'on', '--checkpoints', '10000,40000'],
    ['--expose-gc'],
  );
}

meta.loadAfter = load();
meta.seconds = (Date.now() - started) / 1000;
results.targets = evaluateTargets(results);
writeFileSync(outFile, JSON.stringify(results, null, 2) + '\n');
console.log(renderConsole(results));
console.log(`\nwrote ${relative(process.cwd(), outFile)}`);
if (mdFile) {
  writeFileSync(mdFile, renderMarkdown(results));
  console.log(`wrote ${relative(process.cwd(), mdFile)}`);
}
