/**
 * Where the time goes, under `node --cpu-prof`: prints the functions with the most self time
 * and the inclusive time of this package's functions (and of the libraries it calls), as
 * shares of the profile.
 *
 *   npm run bench:profile -- user-hash                 # core: verify() of valid proofs, flat out
 *   node bench/profile.mjs jwt --candidate ours-bad    # any core candidate (see bench/core.mjs)
 *   node bench/profile.mjs --http express:user-hash    # the bench server under autocannon load
 *   node bench/profile.mjs --inject koa:user-hash --vs koa:floor-user-hash
 *       # the adapter path: the app driven by injection, flat out, steady state only (bench/lib/inject-loop.mjs);
 *       # self time per request by function in both, the difference (where the extra µs go), and
 *       # the GC share (the profile's garbage collector, and a second run under --trace-gc); A and B
 *       # alternate --repeat times (2) and are averaged; figures also in bench/.profiles/inject-*.json
 *   node bench/profile.mjs --file some.cpuprofile      # summarise an existing profile
 *     [--seconds 6] [--top 25] [--stream good|bad|bad-one] [--no-build]
 *
 * Functions of this package are named by their source (src/, adapters/) through the build's source maps.
 * The .cpuprofile files stay in bench/.profiles/ (open them in Chrome DevTools or VS Code).
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, buildPackage, packageDir, rootDir } from './lib/package.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    candidate: { type: 'string', default: 'ours' },
    http: { type: 'string' },
    inject: { type: 'string' },
    vs: { type: 'string' },
    repeat: { type: 'string', default: '2' },
    stream: { type: 'string', default: 'good' },
    file: { type: 'string' },
    seconds: { type: 'string', default: '6' },
    top: { type: 'string', default: '25' },
    interval: { type: 'string', default: '50' },
    'no-build': { type: 'boolean', default: false },
  },
});

/** dist/*.js position -> src/ or adapters/ file and line, through the build's source maps. */
const sourceMaps = new Map();
function original(file, line, column) {
  if (!sourceMaps.has(file)) {
    const map = `${file}.map`;
    sourceMaps.set(file, existsSync(map) ? new SourceMap(JSON.parse(readFileSync(map, 'utf8'))) : null);
  }
  const entry = sourceMaps.get(file)?.findEntry(line, column);
  if (!entry?.originalSource) return undefined;
  const source = entry.originalSource.startsWith('file://') ? entry.originalSource.slice(7) : resolve(dirname(file), entry.originalSource);
  return `${relative(rootDir, source)}:${entry.originalLine + 1}`;
}

/**
 * Self and inclusive time per function (recursion counted once), in microseconds. `clip` caps the
 * time one sample stands for: on a busy machine the thread is sometimes descheduled between two
 * samples, and the whole gap would be charged to whatever ran next (the profiler's signal waits for
 * the thread), so the gap can be capped (`'auto'`: 5 × the median gap between samples, which
 * under load is well above the requested interval), or every sample counted as one (`'count'`,
 * what the inject mode does, scaling the counts to the main thread's measured CPU time).
 */
export function summarise(file, clip = Infinity) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  if (clip === 'auto') {
    const gaps = [...profile.timeDeltas].sort((a, b) => a - b);
    clip = 5 * gaps[gaps.length >> 1];
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, { ...n, self: 0 }]));
  // 'count': every sample weighs the same (1): the thread is sampled only while it runs, so counts
  // follow its CPU time where time deltas follow the wall clock.
  const weight = clip === 'count' ? () => 1 : (i) => Math.min(profile.timeDeltas[i + 1] ?? 0, clip);
  for (let i = 0; i < profile.samples.length; i++) byId.get(profile.samples[i]).self += weight(i);
  const total = [...byId.values()].reduce((t, n) => t + n.self, 0);
  const where = (cf) => {
    const url = cf.url.replace('file://', '');
    if (url.startsWith(packageDir)) return `chat-identity ${relative(packageDir, url)}`;
    const nm = url.lastIndexOf('/node_modules/');
    if (nm >= 0) {
      const parts = url.slice(nm + 14).split('/');
      return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    }
    if (url.startsWith(rootDir)) return relative(rootDir, url);
    return url === '' ? '(native)' : url;
  };
  const keyOf = (cf) => {
    const url = cf.url.replace('file://', '');
    const mapped = url.startsWith(packageDir) ? original(url, cf.lineNumber, cf.columnNumber) : undefined;
    if (mapped) return `${cf.functionName || '(anonymous)'}  [chat-identity ${mapped}]`;
    return `${cf.functionName || '(anonymous)'}  [${where(cf)}${cf.url ? `:${cf.lineNumber + 1}` : ''}]`;
  };
  const self = new Map();
  const inclusive = new Map();
  const walk = (node, stack) => {
    const key = keyOf(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + node.self);
    let subtotal = node.self;
    const fresh = !stack.has(key);
    if (fresh) stack.add(key);
    for (const child of node.children ?? []) subtotal += walk(byId.get(child), stack);
    if (fresh) {
      stack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + subtotal);
    }
    return subtotal;
  };
  walk(byId.get(profile.nodes[0].id), new Set());
  return { total, self, inclusive, keyOf };
}

export function print({ total, self, inclusive }, top) {
  const busy = total - (self.get('(idle)  [(native)]') ?? 0);
  const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  console.log(`${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy; shares are of the busy time\n`);
  console.log('self time');
  for (const [key, us] of [...self]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    console.log(`  ${pct(us)}  ${key}`);
  console.log('\ninclusive time, this package and the libraries around it');
  const interesting = (key) =>
    /chat-identity|lru-cache|rate-limiter-flexible|jose|jsonwebtoken|express-jwt|passport|node:crypto|garbage|\(program\)/.test(key);
  for (const [key, us] of [...inclusive]
    .filter(([k]) => interesting(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    console.log(`  ${pct(us)}  ${key}`);
}

function newestProfile(dir) {
  return join(
    dir,
    readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .pop(),
  );
}

async function profileHttp(target, seconds) {
  const [framework, config] = target.split(':');
  const dir = join(benchDir, '.profiles', `http-${framework}-${config}-${values.stream}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const server = fork(join(benchDir, 'http', 'server.mjs'), [framework, config], {
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${values.interval}`],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const { port } = await new Promise((resolve) => server.once('message', resolve));
  const client = fork(join(benchDir, 'http', 'client.mjs'));
  await new Promise((resolve) => client.once('message', resolve));
  client.send({ id: 1, url: `http://127.0.0.1:${port}`, stream: values.stream, duration: seconds, connections: 10 });
  const { result } = await new Promise((resolve) => client.once('message', resolve));
  client.kill();
  server.disconnect();
  await new Promise((resolve) => server.once('exit', resolve));
  console.log(
    `${framework} ${config}, ${values.stream} proofs: ${Math.round(result.rps).toLocaleString('en-US')} req/s under the profiler, statuses ${JSON.stringify(result.statusCodes)}`,
  );
  return newestProfile(dir);
}

function profileCore(scheme, seconds) {
  const dir = join(benchDir, '.profiles', `${scheme}-${values.candidate}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = execFileSync(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-interval=${values.interval}`,
      join(benchDir, 'core.mjs'),
      '--profile',
      scheme,
      '--candidate',
      values.candidate,
      '--seconds',
      String(seconds),
    ],
    { encoding: 'utf8' },
  );
  const run = JSON.parse(out.trim().split('\n').pop());
  console.log(`${scheme} / ${run.candidate}: ${run.opsPerSec.toLocaleString('en-US')} ops/s, ${run.nsPerOp} ns per op under the profiler`);
  return newestProfile(dir);
}

/** The GC lines of a --trace-gc run, after the steady-state marker: count and main-thread pause per kind. */
export function traceGc(text) {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('[inject-loop] steady state'));
  const to = lines.findIndex((l) => l.startsWith('[inject-loop] done'));
  const kinds = {};
  for (const line of lines.slice(from + 1, to < 0 ? undefined : to)) {
    const m =
      /ms: ([A-Za-z -]+?)(?: \([^)]*\))? [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms/.exec(
        line,
      );
    if (!m) continue;
    const kind = (kinds[m[1]] ??= { count: 0, pauseMs: 0 });
    kind.count++;
    kind.pauseMs += Number(m[2]);
  }
  return kinds;
}

/** Where a function's time belongs, for the adapter-path comparison. */
function bucketOf(key) {
  const at = /\[(.*)\]$/.exec(key)?.[1] ?? '';
  if (at.startsWith('chat-identity ')) return `chat-identity ${at.slice(14).replace(/:\d+$/, '')}`;
  if (key.startsWith('(garbage collector)')) return '(garbage collector)';
  if (key.startsWith('(program)')) return '(program)';
  if (/crypto/.test(at) || /^(createHmac|Hmac|digest|update|timingSafeEqual|hash|createSecretKey|Hash)\b/.test(key)) return 'node:crypto';
  if (
    /^(processTicksAndRejections|runMicrotasks|processPromiseRejections|afterTickHandler|resolve|then)\b/.test(key) ||
    /\(native\)/.test(at)
  )
    return 'promises, ticks and natives';
  if (
    /^(express|router|body-parser|raw-body|koa|@koa\/[a-z]+|koa-compose|fastify|find-my-way|avvio|light-my-request|fast-json-stringify|secure-json-parse|@fastify\/[a-z-]+|fast-jwt)\b/.test(
      at,
    )
  )
    return `framework: ${at.replace(/:\d+$/, '').split('/')[0]}`;
  if (at.startsWith('node:')) return 'node internals';
  return at.replace(/:\d+$/, '') || '(other)';
}

/** One profiled run and one --trace-gc run of `target` (framework:config); per-request figures. */
function runInjectLoop(target, seconds, interval, rep) {
  const [framework, config] = target.split(':');
  const dir = join(benchDir, '.profiles', `inject-${framework}-${config}`);
  if (rep === 0) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const loop = join(benchDir, 'lib', 'inject-loop.mjs');
  const profile = join(dir, `steady-${rep}.cpuprofile`);
  const out = join(dir, `run-${rep}.json`);
  const args = [loop, framework, config, '--seconds', String(seconds), '--out', out];
  execFileSync(process.execPath, [...args, '--profile', profile, '--interval', String(interval)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const run = JSON.parse(readFileSync(out, 'utf8'));
  // The same loop again, unprofiled, under --trace-gc: its CPU time (the main thread's and the
  // process's), how often V8 collects and how long it pauses.
  const text = execFileSync(process.execPath, ['--trace-gc', ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const plain = JSON.parse(readFileSync(out, 'utf8'));
  // Sample counts, scaled so that the busy samples add up to the main thread's CPU time a request,
  // measured in the unprofiled run: shares from the profile, magnitude from the clock.
  const summary = summarise(profile, 'count');
  const busy = [...summary.self].reduce((t, [k, n]) => (k.startsWith('(idle)') ? t : t + n), 0);
  const scale = plain.mainThreadUsPerRequest / busy;
  const perRequest = (map) => new Map([...map].filter(([k]) => !k.startsWith('(idle)')).map(([k, n]) => [k, n * scale]));
  const owned = perRequest(ownedTime(profile, summary.keyOf));
  return {
    target,
    profile,
    run,
    plain,
    kinds: traceGc(text),
    self: perRequest(summary.self),
    inclusive: perRequest(summary.inclusive),
    owned,
  };
}

/**
 * This package's own time, in samples, by its function: the function's self time plus what it calls
 * directly in Node's own code (node:crypto, Map and Promise builtins, natives) up to the next frame
 * of any package, so crypto.hash in the limiter counts as the limiter's, and an app's handler that
 * a middleware's next() runs does not count as the middleware's.
 */
function ownedTime(file, keyOf) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const owned = new Map();
  const isOurs = (cf) => cf.url.replace('file://', '').startsWith(packageDir);
  const isNode = (cf) => cf.url === '' || cf.url.startsWith('node:');
  const walk = (node, owner) => {
    const cf = node.callFrame;
    const here = isOurs(cf) ? keyOf(cf) : isNode(cf) ? owner : undefined;
    const n = counts.get(node.id);
    if (n && here) owned.set(here, (owned.get(here) ?? 0) + n);
    for (const child of node.children ?? []) walk(byId.get(child), here);
  };
  walk(byId.get(profile.nodes[0].id), undefined);
  return owned;
}

/** The runs of one target, averaged: per-request times by function, CPU, and the collections. */
function mergeRuns(runs) {
  const average = (maps) => {
    const out = new Map();
    for (const map of maps) for (const [k, v] of map) out.set(k, (out.get(k) ?? 0) + v / maps.length);
    return out;
  };
  const mean = (f) => runs.reduce((t, r) => t + f(r), 0) / runs.length;
  const kinds = {};
  let gcMs = 0;
  for (const r of runs) {
    for (const [kind, v] of Object.entries(r.kinds)) {
      const k = (kinds[kind] ??= { count: 0, pauseMs: 0, perThousandRequests: 0 });
      k.count += v.count;
      k.pauseMs += v.pauseMs;
      k.perThousandRequests += (1000 * v.count) / r.plain.requests / runs.length;
      gcMs += v.pauseMs;
    }
  }
  const plainRequests = runs.reduce((t, r) => t + r.plain.requests, 0);
  return {
    target: runs[0].target,
    profiles: runs.map((r) => r.profile),
    requestsProfiled: runs.reduce((t, r) => t + r.run.requests, 0),
    usPerRequest: mean((r) => r.plain.usPerRequest),
    mainThreadUsPerRequest: mean((r) => r.plain.mainThreadUsPerRequest),
    profiledUsPerRequest: mean((r) => r.run.usPerRequest),
    gc: {
      kinds,
      pauseUsPerRequest: (gcMs * 1000) / plainRequests,
      shareOfCpu: (gcMs * 1000) / runs.reduce((t, r) => t + r.plain.cpuUs, 0),
    },
    self: average(runs.map((r) => r.self)),
    inclusive: average(runs.map((r) => r.inclusive)),
    owned: average(runs.map((r) => r.owned)),
  };
}

const fmt = (v) => `${v >= 0 ? ' ' : ''}${v.toFixed(2)}`.padStart(7);
const GC_KEY = '(garbage collector)  [(native)]';

function printInject(a, b, top) {
  for (const x of [a, b].filter(Boolean)) {
    const busy = [...x.self.values()].reduce((t, v) => t + v, 0);
    console.log(
      `\n${x.target}: unprofiled ${x.usPerRequest.toFixed(1)} µs CPU a request (main thread ${x.mainThreadUsPerRequest?.toFixed(1) ?? '?'} µs, other threads the rest); ` +
        `profiled: ${x.requestsProfiled.toLocaleString('en-US')} requests (sample counts scaled to the main thread's ${busy.toFixed(1)} µs)`,
    );
    const kinds = Object.entries(x.gc.kinds)
      .map(([k, v]) => `${k} ${v.perThousandRequests.toFixed(2)} per 1,000 requests (${(v.pauseMs / v.count).toFixed(2)} ms each)`)
      .join(', ');
    console.log(
      `  --trace-gc: ${kinds || 'no collections'}; ${x.gc.pauseUsPerRequest.toFixed(2)} µs of pauses a request, ${(100 * x.gc.shareOfCpu).toFixed(1)}% of CPU; ` +
        `the profile's (garbage collector) ${(x.self.get(GC_KEY) ?? 0).toFixed(2)} µs a request`,
    );
    console.log('  self time per request, top functions:');
    for (const [key, us] of [...x.self].sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`   ${fmt(us)} µs  ${key}`);
    if (x.owned.size) {
      const total = [...x.owned.values()].reduce((t, v) => t + v, 0);
      const byFile = new Map();
      for (const [key, us] of x.owned) {
        const file = /\[chat-identity (.*):\d+\]$/.exec(key)?.[1] ?? key;
        byFile.set(file, (byFile.get(file) ?? 0) + us);
      }
      console.log(`  this package's own time per request (self, and the Node code it calls directly): ${total.toFixed(1)} µs; by file:`);
      for (const [file, us] of [...byFile].sort((p, q) => q[1] - p[1])) console.log(`   ${fmt(us)} µs  ${file}`);
      console.log('  by function:');
      for (const [key, us] of [...x.owned].sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`   ${fmt(us)} µs  ${key}`);
    }
    console.log(`  inclusive time per request, the identity check's functions:`);
    const inc = [...x.inclusive].filter(([k]) =>
      /chat-identity|floors\.mjs|rate-limiter-flexible|lru-cache|fast-jwt|@fastify\/jwt/.test(k),
    );
    for (const [key, us] of inc.sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`   ${fmt(us)} µs  ${key}`);
  }
  if (!b) return undefined;
  const keys = new Set([...a.self.keys(), ...b.self.keys()]);
  const diff = [...keys].map((k) => [k, (a.self.get(k) ?? 0) - (b.self.get(k) ?? 0)]);
  const total = diff.reduce((t, [, v]) => t + v, 0);
  console.log(
    `\n${a.target} minus ${b.target}: unprofiled ${(a.usPerRequest - b.usPerRequest).toFixed(1)} µs CPU a request ` +
      `(main thread ${(a.mainThreadUsPerRequest - b.mainThreadUsPerRequest).toFixed(1)} µs, which the functions below share out: ${total.toFixed(1)} µs). By function (self):`,
  );
  for (const [key, us] of diff.sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`   ${fmt(us)} µs  ${key}`);
  console.log('  ... and the most negative:');
  for (const [key, us] of diff.sort((p, q) => p[1] - q[1]).slice(0, 5)) console.log(`   ${fmt(us)} µs  ${key}`);
  const buckets = new Map();
  for (const [key, us] of diff) buckets.set(bucketOf(key), (buckets.get(bucketOf(key)) ?? 0) + us);
  console.log('  by where the time is spent:');
  const byBucket = [...buckets].sort((p, q) => q[1] - p[1]).filter(([, us]) => Math.abs(us) >= 0.05);
  for (const [bucket, us] of byBucket) console.log(`   ${fmt(us)} µs  ${bucket}`);
  return { total, diff: diff.sort((p, q) => q[1] - p[1]), buckets: byBucket };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (values.inject) {
    if (!values['no-build']) await buildPackage();
    const seconds = Number(values.seconds);
    const interval = Number(values.interval);
    const repeat = Number(values.repeat);
    // A and B alternate, `repeat` times each, so a busy stretch of the machine falls on both.
    const runsA = [];
    const runsB = [];
    for (let rep = 0; rep < repeat; rep++) {
      runsA.push(runInjectLoop(values.inject, seconds, interval, rep));
      if (values.vs) runsB.push(runInjectLoop(values.vs, seconds, interval, rep));
    }
    const a = mergeRuns(runsA);
    const b = values.vs ? mergeRuns(runsB) : undefined;
    const comparison = printInject(a, b, Number(values.top));
    const record = join(
      benchDir,
      '.profiles',
      `inject-${values.inject.replace(':', '-')}${b ? `-vs-${values.vs.replace(':', '-')}` : ''}.json`,
    );
    const plainOf = (x) =>
      x && { ...x, self: Object.fromEntries(x.self), inclusive: Object.fromEntries(x.inclusive), owned: Object.fromEntries(x.owned) };
    writeFileSync(record, JSON.stringify({ seconds, repeat, interval, a: plainOf(a), b: plainOf(b), comparison }, null, 1));
    console.log(
      `\nprofiles: ${[...a.profiles, ...(b?.profiles ?? [])].map((f) => relative(process.cwd(), f)).join(', ')}; figures: ${relative(process.cwd(), record)}`,
    );
    process.exit(0);
  }
  let file = values.file;
  if (!file) {
    if (!values['no-build']) await buildPackage();
    file = values.http
      ? await profileHttp(values.http, Number(values.seconds))
      : profileCore(positionals[0] ?? 'user-hash', Number(values.seconds));
  }
  console.log(`profile: ${relative(process.cwd(), file)}`);
  print(summarise(file), Number(values.top));
}
