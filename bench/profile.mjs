/**
 * Where the time goes, under `node --cpu-prof`: prints the functions with the most self time
 * and the inclusive time of this package's functions (and of the libraries it calls), as
 * shares of the profile.
 *
 *   npm run bench:profile -- user-hash                 # core: verify() of valid proofs, flat out
 *   node bench/profile.mjs jwt --candidate ours-bad    # any core candidate (see bench/core.mjs)
 *   node bench/profile.mjs --http express:user-hash    # the bench server under autocannon load
 *   node bench/profile.mjs --file some.cpuprofile      # summarise an existing profile
 *     [--seconds 6] [--top 25] [--stream good|bad|bad-one] [--no-build]
 *
 * The .cpuprofile files stay in bench/.profiles/ (open them in Chrome DevTools or VS Code).
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, buildPackage, packageDir, rootDir } from './lib/package.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    candidate: { type: 'string', default: 'ours' },
    http: { type: 'string' },
    stream: { type: 'string', default: 'good' },
    file: { type: 'string' },
    seconds: { type: 'string', default: '6' },
    top: { type: 'string', default: '25' },
    interval: { type: 'string', default: '50' },
    'no-build': { type: 'boolean', default: false },
  },
});

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
  const keyOf = (cf) => `${cf.functionName || '(anonymous)'}  [${where(cf)}${cf.url ? `:${cf.lineNumber + 1}` : ''}]`;
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
  for (const [key, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${key}`);
  console.log('\ninclusive time, this package and the libraries around it');
  const interesting = (key) => /chat-identity|lru-cache|rate-limiter-flexible|jose|jsonwebtoken|express-jwt|passport|node:crypto|garbage|\(program\)/.test(key);
  for (const [key, us] of [...inclusive].filter(([k]) => interesting(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${key}`);
}

function newestProfile(dir) {
  return join(dir, readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().pop());
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
  console.log(`${framework} ${config}, ${values.stream} proofs: ${Math.round(result.rps).toLocaleString('en-US')} req/s under the profiler, statuses ${JSON.stringify(result.statusCodes)}`);
  return newestProfile(dir);
}

function profileCore(scheme, seconds) {
  const dir = join(benchDir, '.profiles', `${scheme}-${values.candidate}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = execFileSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${values.interval}`, join(benchDir, 'core.mjs'), '--profile', scheme, '--candidate', values.candidate, '--seconds', String(seconds)],
    { encoding: 'utf8' },
  );
  const run = JSON.parse(out.trim().split('\n').pop());
  console.log(`${scheme} / ${run.candidate}: ${run.opsPerSec.toLocaleString('en-US')} ops/s, ${run.nsPerOp} ns per op under the profiler`);
  return newestProfile(dir);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let file = values.file;
  if (!file) {
    if (!values['no-build']) await buildPackage();
    file = values.http ? await profileHttp(values.http, Number(values.seconds)) : profileCore(positionals[0] ?? 'user-hash', Number(values.seconds));
  }
  console.log(`profile: ${relative(process.cwd(), file)}`);
  print(summarise(file), Number(values.top));
}
