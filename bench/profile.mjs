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
 *       # the GC share (the profile's garbage collector, and a second run under --trace-gc)
 *   node bench/profile.mjs --file some.cpuprofile      # summarise an existing profile
 *     [--seconds 6] [--top 25] [--stream good|bad|bad-one] [--no-build]
 *
 * Functions of this package are named by their source (src/, adapters/) through the build's source maps.
 * The .cpuprofile files stay in bench/.profiles/ (open them in Chrome DevTools or VS Code).
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/** Self and inclusive time per function (recursion counted once), in microseconds. */
export function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, { ...n, self: 0 }]));
  for (let i = 0; i < profile.samples.length; i++) byId.get(profile.samples[i]).self += profile.timeDeltas[i + 1] ?? 0;
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
  return { total, self, inclusive };
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

function runInjectLoop(target, seconds, interval) {
  const [framework, config] = target.split(':');
  const dir = join(benchDir, '.profiles', `inject-${framework}-${config}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const loop = join(benchDir, 'lib', 'inject-loop.mjs');
  const profile = join(dir, 'steady.cpuprofile');
  const out = join(dir, 'run.json');
  execFileSync(
    process.execPath,
    [loop, framework, config, '--seconds', String(seconds), '--profile', profile, '--interval', String(interval), '--out', out],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const run = JSON.parse(readFileSync(out, 'utf8'));
  // The same loop again, unprofiled, under --trace-gc: how often V8 collects, and how long it pauses.
  const outGc = join(dir, 'run-gc.json');
  const text = execFileSync(process.execPath, ['--trace-gc', loop, framework, config, '--seconds', String(seconds), '--out', outGc], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const gcRun = JSON.parse(readFileSync(outGc, 'utf8'));
  const kinds = traceGc(text);
  const gcMs = Object.values(kinds).reduce((t, k) => t + k.pauseMs, 0);
  return {
    target,
    profile,
    run,
    summary: summarise(profile),
    gc: {
      requests: gcRun.requests,
      usPerRequest: gcRun.usPerRequest,
      kinds,
      gcUsPerRequest: (gcMs * 1000) / gcRun.requests,
      gcShareOfCpu: (gcMs * 1000) / gcRun.cpuUs,
      perThousandRequests: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, (1000 * v.count) / gcRun.requests])),
    },
  };
}

/** Per-request self time by function (µs), busy time only. */
function perRequest({ summary, run }) {
  const map = new Map();
  for (const [key, us] of summary.self) if (!key.startsWith('(idle)')) map.set(key, us / run.requests);
  return map;
}

function printInject(a, b, top) {
  const fmt = (v) => `${v >= 0 ? ' ' : ''}${v.toFixed(2)}`.padStart(7);
  for (const x of [a, b].filter(Boolean)) {
    const busy = [...perRequest(x).values()].reduce((t, v) => t + v, 0);
    console.log(
      `\n${x.target}: ${x.run.requests.toLocaleString('en-US')} requests in ${(x.run.wallMs / 1000).toFixed(1)} s, ${x.run.usPerRequest.toFixed(1)} µs CPU a request under the profiler (${busy.toFixed(1)} µs sampled busy); unprofiled ${x.gc.usPerRequest.toFixed(1)} µs`,
    );
    const gcKinds = Object.entries(x.gc.kinds)
      .map(([k, v]) => `${k} ${v.count} (${(v.pauseMs / v.count).toFixed(2)} ms each)`)
      .join(', ');
    console.log(
      `  --trace-gc: ${gcKinds || 'no collections'}; ${x.gc.gcUsPerRequest.toFixed(2)} µs of pauses a request, ${(100 * x.gc.gcShareOfCpu).toFixed(1)}% of CPU; profile's (garbage collector): ${(perRequest(x).get('(garbage collector)  [(native)]') ?? 0).toFixed(2)} µs a request`,
    );
    console.log('  self time per request, top functions:');
    for (const [key, us] of [...perRequest(x)].sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`   ${fmt(us)} µs  ${key}`);
  }
  if (!b) return;
  const pa = perRequest(a);
  const pb = perRequest(b);
  const keys = new Set([...pa.keys(), ...pb.keys()]);
  const diff = [...keys].map((k) => [k, (pa.get(k) ?? 0) - (pb.get(k) ?? 0)]);
  const total = diff.reduce((t, [, v]) => t + v, 0);
  console.log(`\n${a.target} minus ${b.target}: ${total.toFixed(1)} µs more sampled time a request; by function (self):`);
  for (const [key, us] of diff.sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`   ${fmt(us)} µs  ${key}`);
  console.log('  ... and the most negative:');
  for (const [key, us] of diff.sort((p, q) => p[1] - q[1]).slice(0, 5)) console.log(`   ${fmt(us)} µs  ${key}`);
  const buckets = new Map();
  for (const [key, us] of diff) buckets.set(bucketOf(key), (buckets.get(bucketOf(key)) ?? 0) + us);
  console.log('  by where the time is spent:');
  for (const [bucket, us] of [...buckets].sort((p, q) => q[1] - p[1]).filter(([, us]) => Math.abs(us) >= 0.05))
    console.log(`   ${fmt(us)} µs  ${bucket}`);
  console.log(`\n  inclusive time per request of this package's functions in ${a.target}:`);
  const inc = [...a.summary.inclusive].filter(([k]) => /chat-identity|rate-limiter-flexible|lru-cache/.test(k)).sort((p, q) => q[1] - p[1]);
  for (const [key, us] of inc.slice(0, top)) console.log(`   ${fmt(us / a.run.requests)} µs  ${key}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (values.inject) {
    if (!values['no-build']) await buildPackage();
    const seconds = Number(values.seconds);
    const interval = Number(values.interval);
    const a = runInjectLoop(values.inject, seconds, interval);
    const b = values.vs ? runInjectLoop(values.vs, seconds, interval) : undefined;
    printInject(a, b, Number(values.top));
    console.log(
      `\nprofiles: ${[a, b]
        .filter(Boolean)
        .map((x) => relative(process.cwd(), x.profile))
        .join(', ')}`,
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
