/**
 * Turns bench results into the console tables, the target verdicts and bench/RESULTS.md.
 *
 *   node bench/report.mjs [bench/results.json] [--md bench/RESULTS.md]   # re-render a saved run
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { int, median, ratio } from './lib/stats.mjs';

const NAMES = { express: 'Express', koa: 'Koa', fastify: 'Fastify' };
/** Microseconds as `12.3 µs`. */
const us = (value) => (Number.isFinite(value) ? `${value.toFixed(Math.abs(value) < 10 ? 1 : 0)} µs` : '—');
const range = (pair, format) => (pair ? `${format(pair[0])}–${format(pair[1])}` : '');
const signed = (value) => (value >= 0 ? `+${num(value)}` : num(value));
const num = (value) => (Number.isFinite(value) ? value.toFixed(Math.abs(value) < 10 ? 1 : 0) : '—');

const SCHEMES = ['user-hash', 'signed-payload', 'jwt'];
/** The public-key JWT benches (bench/lib/asymmetric.mjs). */
const ASYMMETRIC_SCHEMES = ['jwt-es256', 'jwt-eddsa'];

/**
 * Every target of issues 6 and 16 (the HTTP throughput targets of issue 6 are now reported, not
 * targeted: issue 16 puts the adapter targets on the in-process figures), evaluated on one run;
 * with an A/B run (`--compare`), the
 * same targets again for the other build, marked [compare].
 */
/**
 * The core target's verdict: on the target processes where they ran (bench/core.mjs, targetProcess;
 * the median process's ratio, "within noise" when the processes fall on both sides of the limit),
 * else on the rounds' process's paired ratio (pairedRatio), else on the rounds'.
 */
export function coreVerdict(target, c, settings, scheme, limit) {
  const rounds = `in the rounds' process ${ratio(c.vsFloorPaired ?? c.vsFloor)}${c.vsFloorPaired === undefined ? '' : ' paired'}`;
  if (target) {
    const [low, high] = target.vsFloorRange;
    const noisy = low <= limit && high > limit;
    const spread = `median of ${target.processes} processes of its own; ${ratio(low)}–${ratio(high)} across them${noisy ? ', on both sides of the target' : ''}`;
    const after = target.afterFailures;
    const failing = `with its limits holding ${after.failures} failures ${ratio(after.vsFloor)} (${ratio(after.vsFloorRange[0])}–${ratio(after.vsFloorRange[1])})`;
    return {
      value: target.vsFloor,
      met: target.vsFloor <= limit,
      noisy,
      figure: `${ratio(target.vsFloor)} the floor (${spread}; ${int(target.oursNs)} ns vs ${int(target.floorNs)} ns); ${failing}; ${rounds}`,
    };
  }
  const value = c.vsFloorPaired ?? c.vsFloor;
  const paired =
    c.vsFloorPaired === undefined
      ? ''
      : ` in ${settings.statsBlocks} paired blocks (quartiles ${ratio(c.vsFloorPairedIqr[0])}–${ratio(c.vsFloorPairedIqr[1])}); in the rounds ${ratio(c.vsFloor)}`;
  return {
    value,
    met: value <= limit,
    figure: `${ratio(value)} the floor${paired} (${int(c.nsPerOp)} ns vs ${int(1e9 / scheme.floorOpsPerSec)} ns)`,
  };
}

/** The method line of the core target processes (bench/core.mjs, targetProcess), when they ran. */
function coreTargetMethod(target) {
  const first = target && Object.values(target)[0];
  if (!first) return '';
  return `- **Core targets:** each HMAC scheme in ${first.processes} processes of its own, the schemes alternated, each holding the two floors and one verifier of the default options (its failure paths compiled first through a twin verifier); ${first.blocks} palindromic blocks of 256 calls each; the ratio to the process's faster floor is the median block ratio, the figure the median of the processes' with their range; then the verifier refuses ${first.afterFailures.failures} distinct clients and is measured again (reported).`;
}

export function evaluateTargets(results) {
  const targets = [];
  const core = results.core?.schemes;
  const inprocess = results.inprocess;
  const builds = results.meta?.compare || results.core?.settings?.compare || results.http?.settings?.compare ? ['', '@compare'] : [''];
  for (const build of builds) {
    const tag = build ? ' [compare]' : '';
    if (core) {
      for (const scheme of SCHEMES) {
        const c = core[scheme]?.candidates?.[`ours${build}`];
        if (!c) continue;
        const limit = 1.5; // issue 16: every scheme at most 1.5× its floor (issue 6 allowed signed-payload 2×)
        targets.push({
          id: `core-${scheme}${build}`,
          what: `core verify, ${scheme}: time ≤ ${limit}× the node:crypto floor${tag}`,
          limit,
          ...coreVerdict(build ? undefined : results.core.target?.[scheme], c, results.core.settings, core[scheme], limit),
        });
      }
      for (const scheme of build ? [] : ASYMMETRIC_SCHEMES) {
        const c = core[scheme]?.candidates;
        if (!c?.ours) continue;
        const alg = scheme === 'jwt-es256' ? 'ES256' : 'EdDSA';
        const time = c.ours.vsVerifyAlone;
        const jwks = `with a JWKS of 3 keys ${ratio(c['ours-jwks'].vsVerifyAlone)}`;
        const figure = `${ratio(time)} (${int(c.ours.nsPerOp)} ns vs ${int(c['floor-string'].nsPerOp)} ns; ${jwks})`;
        const what = `core verify, ${alg} JWT: time ≤ 1.3× node:crypto verify alone`;
        targets.push({ id: `core-${scheme}`, what, value: time, limit: 1.3, met: time <= 1.3, figure });
        const speedup = c.ours.speedupVs_jose;
        const local = `with JWKS, vs jose's local JWKS: ${ratio(c['ours-jwks']['speedupVs_jose-jwks'], 1)}`;
        const versus = `${ratio(speedup, 1)} (${int(c.ours.opsPerSec)} vs ${int(c.jose.opsPerSec)} verifications/s; ${local})`;
        const faster = `${alg} JWT verify throughput > jose.jwtVerify`;
        targets.push({ id: `${scheme}-vs-jose`, what: faster, value: speedup, limit: 1, met: speedup > 1, figure: versus });
      }
      const jwt = core.jwt?.candidates?.[`ours${build}`];
      if (jwt) {
        for (const [lib, name] of [
          ['jose', 'jose.jwtVerify'],
          ['jsonwebtoken', 'jsonwebtoken.verify (string secret)'],
        ]) {
          const value = jwt[`speedupVs_${lib}`];
          targets.push({
            id: `jwt-vs-${lib}${build}`,
            what: `jwt verify throughput ≥ 5× ${name}${tag}`,
            value,
            limit: 5,
            met: value >= 5,
            figure: `${ratio(value, 1)} (${int(jwt.opsPerSec)} vs ${int(core.jwt.candidates[lib].opsPerSec)} verifications/s)`,
          });
        }
      }
    }
    if (inprocess) {
      for (const [framework, fw] of Object.entries(inprocess.frameworks)) {
        for (const scheme of SCHEMES) {
          const row = fw.rows[`${scheme}${build}`];
          const floor = fw.rows[`floor-${scheme}`];
          if (!row || !floor || row.vsFloorAdded === undefined) continue;
          // Several processes: the median of their ratios, and their range the spread (lib/stats.mjs, combineProcesses).
          const processes = processCount(fw);
          const [low, high] = row.vsFloorAddedRange ?? row.vsFloorAddedCi95;
          const met = row.vsFloorAdded <= 1.5;
          const noisy = low <= 1.5 && high > 1.5;
          const spread =
            processes > 1
              ? `median of ${processes} processes; ${ratio(low)}–${ratio(high)} across them`
              : `95% interval ${ratio(low)}–${ratio(high)}`;
          const figure = [
            `${ratio(row.vsFloorAdded)} (${spread}${noisy ? ', on both sides of the target' : ''})`,
            `this package adds ${us(row.addedUs)} per request over the bare app's ${us(fw.rows.bare.usPerRequest)}, the floor middleware ${us(floor.addedUs)}`,
            `${int(row.addedBytes)} B allocated per request over bare vs the floor's ${int(floor.addedBytes)} B`,
          ];
          targets.push({
            id: `adapter-${framework}-${scheme}${build}`,
            what: `through ${NAMES[framework]}, ${scheme}: added CPU per request ≤ 1.5× the floor middleware's${tag}`,
            value: row.vsFloorAdded,
            limit: 1.5,
            met,
            noisy,
            figure: figure.join('; '),
          });
        }
      }
    }
    if (results.attacks && !build) {
      const a = results.attacks.candidates;
      const limited = a['repeat-attacker'];
      targets.push({
        id: 'attack-rate-limited',
        what: 'a rate-limited request costs no more than a valid one (user-hash)',
        value: limited.vsValidUserHash,
        limit: 1,
        met: limited.vsValidUserHash <= 1,
        figure: `${ratio(limited.vsValidUserHash)} (${limited.usPerRequest} µs vs ${a['valid-user-hash'].usPerRequest} µs)`,
      });
      for (const [id, which] of [
        ['valid-session', "a widget's next request"],
        ['valid-session-first-use', 'one made by another instance, first seen'],
      ]) {
        const s = a[id];
        if (s)
          targets.push({
            id: `session-cost${id === 'valid-session' ? '' : '-first-use'}`,
            what: `a request verified by session (${which}) costs ≤ 1.2× a valid user-hash`,
            value: s.vsValidUserHash,
            limit: 1.2,
            met: s.vsValidUserHash <= 1.2,
            figure: `${ratio(s.vsValidUserHash)} (${s.usPerRequest} µs vs ${a['valid-user-hash'].usPerRequest} µs)`,
          });
      }
      const distinct = a['user-hash-bad'];
      if (distinct)
        targets.push({
          id: 'attack-distinct',
          what: "a distinct attacker's request (wrong user-hash signature, new identity and address, limits on) costs ≤ 3× a valid one",
          value: distinct.vsValidUserHash,
          limit: 3,
          met: distinct.vsValidUserHash <= 3,
          figure: `${ratio(distinct.vsValidUserHash)} (${distinct.usPerRequest} µs vs ${a['valid-user-hash'].usPerRequest} µs)`,
        });
      const worst = a['payload-worst-bad'];
      targets.push({
        id: 'attack-worst-payload',
        what: 'a wrongly signed payload of the worst shape costs ≤ 3× a valid one of that shape',
        value: worst.vsValidSameShape,
        limit: 3,
        met: worst.vsValidSameShape <= 3,
        figure: `${ratio(worst.vsValidSameShape)} (${worst.usPerRequest} µs vs ${a['valid-payload-worst'].usPerRequest} µs)`,
      });
    }
    if (core) {
      // "A flood of bad signatures must not be slower than good ones by more than the rate
      // limiter's own cost": with the limiter off, a refused proof may cost at most 10% more
      // than a valid one; the limiter's cost is reported beside it.
      for (const scheme of SCHEMES) {
        const c = core[scheme]?.candidates;
        const bad = c?.[`ours-bad-no-limits${build}`];
        const okay = c?.[`ours-no-limits${build}`];
        if (!bad || !okay) continue;
        const value = bad.nsPerOp / okay.nsPerOp;
        const limiterNs = c[`ours-bad${build}`].nsPerOp - bad.nsPerOp;
        targets.push({
          id: `failures-${scheme}${build}`,
          what: `core, ${scheme}: a bad signature costs ≤ 1.1× a valid proof, the limiter aside${tag}`,
          value,
          limit: 1.1,
          met: value <= 1.1,
          figure: `${ratio(value)} (${int(bad.nsPerOp)} vs ${int(okay.nsPerOp)} ns; the failure limiter adds ${int(limiterNs)} ns to a failure)`,
        });
      }
    }
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------
// Tables, as rows of cells; rendered for the console or as Markdown.

function coreTables(core) {
  const tables = [];
  for (const scheme of [...SCHEMES, ...ASYMMETRIC_SCHEMES]) {
    const s = core.schemes[scheme];
    if (!s) continue;
    const asymmetric = ASYMMETRIC_SCHEMES.includes(scheme);
    const rows = Object.values(s.candidates).map((c) => {
      const cells = [c.label, int(c.opsPerSec), int(c.nsPerOp), ratio(c.vsFloor)];
      if (scheme === 'jwt')
        cells.push(c.speedupVs_jose !== undefined ? `${ratio(c.speedupVs_jose, 1)} / ${ratio(c.speedupVs_jsonwebtoken, 1)}` : '');
      const versus = c.speedupVs_jose === undefined ? '' : `${ratio(c.speedupVs_jose, 1)} / ${ratio(c['speedupVs_jose-jwks'], 1)}`;
      if (asymmetric) cells.push(versus);
      return cells;
    });
    const head = ['candidate', 'verifications/s', 'ns each', asymmetric ? 'time vs crypto.verify alone' : 'time vs floor'];
    if (scheme === 'jwt') head.push('ours vs jose / jsonwebtoken');
    if (asymmetric) head.push('ours vs jose (key / local JWKS)');
    tables.push({ title: `Core: ${scheme}`, head, rows });
  }
  return tables;
}

function httpTables(http) {
  const tables = [];
  for (const group of Object.values(http.groups)) {
    tables.push({
      title: `HTTP: ${group.title}`,
      head: [
        'app',
        'server CPU µs/req',
        'CPU added over bare µs',
        'req/s',
        'vs bare',
        'rounds range',
        'p99 ms',
        'p99 vs bare',
        'statuses',
        'peak RSS MB',
      ],
      rows: group.rows.map((r) => [
        r.label,
        int(r.serverCpuUsPerRequest),
        r.config === 'bare' ? '' : num(r.cpuAddedUs),
        int(r.rps),
        ratio(r.vsBare),
        r.vsBareRange ? `${r.vsBareRange[0].toFixed(2)}–${r.vsBareRange[1].toFixed(2)}` : '',
        String(r.p99Ms),
        ratio(r.p99VsBare),
        Object.entries(r.statusCodes)
          .map(([code, n]) => `${code}×${n}`)
          .join(' ') + (r.unexpected ? ` (${r.unexpected} unexpected)` : ''),
        int(r.memory.peakRss / 2 ** 20),
      ]),
    });
  }
  return tables;
}

function attacksTable(attacks) {
  return {
    title: `What an attacker can make one request cost (verify(), default limits; medians of ${attacks.settings?.rounds ?? '?'} alternated rounds of ${attacks.settings?.sampleMs ?? '?'} ms per request kind, each ratio the median of the rounds' ratios)`,
    head: ['request', 'outcome', 'µs each', 'vs a valid user-hash', 'vs a valid payload of the same shape'],
    rows: Object.values(attacks.candidates).map((c) => [
      c.label,
      c.outcome,
      String(c.usPerRequest),
      ratio(c.vsValidUserHash),
      c.vsValidSameShape === undefined ? '' : ratio(c.vsValidSameShape),
    ]),
  };
}

const CONFIG_LABELS = {
  bare: 'bare app',
  'floor-user-hash': 'floor middleware: user-hash',
  'floor-signed-payload': 'floor middleware: signed-payload',
  'floor-jwt': 'floor middleware: jwt',
  'user-hash': 'chat-identity user-hash',
  'signed-payload': 'chat-identity signed-payload',
  jwt: 'chat-identity jwt',
  'fastify-jwt': '@fastify/jwt (HS256)',
};
const configLabel = (config) => {
  const [base, build] = config.split('@');
  const [name, variant] = base.split('~');
  return (CONFIG_LABELS[name] ?? name) + (variant ? `, ${variant}` : '') + (build ? ' [compare]' : '');
};

/** How many processes a framework's in-process figures are the medians of (lib/stats.mjs, combineProcesses). */
const processCount = (fw) => fw?.settings.processes ?? 1;
/** "medians of 5 processes × ", for a table's title. */
const processesOf = (fw) => (processCount(fw) > 1 ? `medians of ${processCount(fw)} processes × ` : '');

function inprocessTables(inprocess) {
  return Object.entries(inprocess.frameworks).map(([framework, fw]) => ({
    title: `Through ${NAMES[framework]}, in process: CPU time per request (${processesOf(fw)}${fw.settings.rounds} rounds of ${fw.settings.batch} requests per configuration)`,
    head: [
      'configuration',
      'µs/request (IQR)',
      'added over bare µs (95% interval)',
      `added ÷ floor added (${processCount(fw) > 1 ? 'range across processes' : '95% interval'})`,
      'B allocated/request, added',
    ],
    rows: Object.entries(fw.rows).map(([config, r]) => [
      configLabel(config),
      `${num(r.usPerRequest)} (${range(r.usPerRequestIqr, num)})`,
      config === 'bare' ? '' : `${num(r.addedUs)} (${range(r.addedCi95, num)})`,
      r.savedUs !== undefined
        ? `saves ${num(r.savedUs)} µs (${range(r.savedCi95, num)})`
        : r.vsFloorAdded === undefined
          ? ''
          : `${ratio(r.vsFloorAdded)} (${range(r.vsFloorAddedRange ?? r.vsFloorAddedCi95, (v) => ratio(v))})` +
            (r.vsThisBuildAdded === undefined
              ? ''
              : `; vs this build ${ratio(r.vsThisBuildAdded)} (${range(r.vsThisBuildAddedRange ?? r.vsThisBuildAddedCi95, (v) => ratio(v))})`),
      config === 'bare' ? int(r.bytesPerRequest) : (r.addedBytes >= 0 ? '+' : '') + int(r.addedBytes),
    ]),
  }));
}

function memoryTable(memory) {
  const rows = memory.runs.map((m) => [
    m.scheme,
    m.limits,
    int(m.count),
    int(m.verificationsPerSec),
    m.rssStartMb.toFixed(0),
    m.rssPeakMb.toFixed(0),
    m.rssGrowthMb.toFixed(0),
    m.retainedMb.toFixed(1),
    int(m.limiterEntries),
    m.bytesPerLimiterEntry ? int(m.bytesPerLimiterEntry) : '',
  ]);
  const e = memory.entries;
  if (e)
    rows.push([
      e.scheme,
      `${e.limits}, below the cap`,
      int(e.count),
      int(e.verificationsPerSec),
      e.rssStartMb.toFixed(0),
      e.rssPeakMb.toFixed(0),
      e.rssGrowthMb.toFixed(0),
      e.retainedMb.toFixed(1),
      int(e.limiterEntries),
      `${int(e.bytesPerLimiterEntry)} (slope ${int(e.bytesPerLimiterEntrySlope)})`,
    ]);
  return {
    title: `Memory: a flood of failing verifications, distinct identities and addresses, ${memory.runs[0]?.inFlight ?? 100} in flight`,
    head: [
      'scheme',
      'failure limits',
      'verifications',
      'per second',
      'RSS at start MB',
      'peak RSS MB',
      'growth MB',
      'heap kept after GC MB',
      'limiter entries kept',
      'B per entry',
    ],
    rows,
  };
}

export function tablesOf(results) {
  return [
    ...(results.inprocess ? inprocessTables(results.inprocess) : []),
    ...(results.core ? coreTables(results.core) : []),
    ...(results.attacks ? [attacksTable(results.attacks)] : []),
    ...(results.http ? httpTables(results.http) : []),
    ...(results.memory ? [memoryTable(results.memory)] : []),
  ];
}

export function renderConsole(results) {
  const out = [];
  for (const t of tablesOf(results)) {
    const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => String(r[i] ?? '').length)));
    const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
    out.push('', t.title, line(t.head), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line));
  }
  const targets = results.targets ?? [];
  if (targets.length) {
    out.push('', 'targets');
    for (const t of targets)
      out.push(`  ${t.met ? (t.noisy ? 'met?   ' : 'met    ') : t.noisy ? 'MISSED?' : 'MISSED '}  ${t.what}: ${t.figure}`);
  }
  return out.join('\n');
}

function mdTable(t) {
  const esc = (c) => String(c).replaceAll('|', '\\|');
  return [
    `| ${t.head.map(esc).join(' | ')} |`,
    `|${t.head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** The socket run's answer to the same question, and Fastify's comparison (issue 14): one paragraph. */
function crossCheckNote(results) {
  const rows = results.http?.groups?.good?.rows ?? [];
  const parts = [];
  for (const framework of ['express', 'koa', 'fastify']) {
    const cells = [];
    for (const scheme of SCHEMES) {
      const ours = rows.find((r) => r.framework === framework && r.config === scheme && !r.compare);
      const floor = rows.find((r) => r.framework === framework && r.config === `floor-${scheme}`);
      if (ours && floor) cells.push(`${scheme} ${signed(ours.cpuAddedUs)} vs ${signed(floor.cpuAddedUs)} µs`);
    }
    if (cells.length) parts.push(`${NAMES[framework]}: ${cells.join(', ')}`);
  }
  const lines = [];
  if (parts.length) {
    lines.push(
      `Over sockets (the cross-check; server CPU per request added over the bare app, this package vs the floor middleware, medians of ${results.http.settings.rounds} rounds): ${parts.join('; ')}. ` +
        'On 2 cores shared with the load generator these move by tens of µs between runs, and this package\'s run larger than in process (bench/PROFILE.md, "Over sockets"); the targets are on the in-process figures.',
      '',
    );
  }
  const fastifyRows = results.inprocess?.frameworks?.fastify?.rows;
  const socket = (config) => rows.find((r) => r.framework === 'fastify' && r.config === config && !r.compare);
  if (fastifyRows?.['fastify-jwt'] && fastifyRows.jwt) {
    const http = socket('bare') && socket('jwt') && socket('fastify-jwt');
    lines.push(
      `Fastify, bare, with this plugin and with @fastify/jwt (issue 14): in process, the bare app ${us(fastifyRows.bare.usPerRequest)} a request; ` +
        `this plugin (jwt) adds ${us(fastifyRows.jwt.addedUs)}, @fastify/jwt adds ${us(fastifyRows['fastify-jwt'].addedUs)}, the floor ${us(fastifyRows['floor-jwt']?.addedUs)}` +
        (http
          ? `; over sockets, server CPU per request ${us(socket('bare').serverCpuUsPerRequest)} bare, ${us(socket('jwt').serverCpuUsPerRequest)} with this plugin (jwt), ${us(socket('fastify-jwt').serverCpuUsPerRequest)} with @fastify/jwt.`
          : '.'),
      '',
    );
  }
  return lines;
}

/** What the method line says of the processes: how many per framework, and how they are combined. */
function inprocessPasses(results) {
  const processes = processCount(Object.values(results.inprocess?.frameworks ?? {})[0]);
  return processes > 1
    ? {
        runs: `, run ${processes} times, the frameworks alternated`,
        combined: "; each figure is the median of the processes' figures, and a ratio's spread is its range across the processes",
      }
    : { runs: '', combined: '' };
}

/** Why several processes, with this run's evidence: how far apart the processes' ratios to the floor were. */
function processSpread(fws) {
  const processes = processCount(fws[0]);
  if (processes < 2) return [];
  const spreads = fws.flatMap((f) =>
    SCHEMES.filter((s) => f.rows[s]?.vsFloorAddedRange).map((s) => {
      const [low, high] = f.rows[s].vsFloorAddedRange;
      const [ciLow, ciHigh] = f.rows[s].vsFloorAddedCi95;
      return { what: `${NAMES[f.settings.framework]} ${s}`, range: high - low, ci: ciHigh - ciLow, low, high };
    }),
  );
  if (spreads.length === 0) return [];
  const widest = spreads.reduce((a, b) => (b.range > a.range ? b : a));
  return [
    `- Why ${processes} processes per framework: a process's JIT decisions and memory layout hold for its whole life, so its rounds share them and its bootstrap interval cannot see them; separate processes can. In this run the processes' ratios to the floor spread over ${median(spreads.map((x) => x.range)).toFixed(2)} (median over the nine targets; widest ${widest.what}, ${ratio(widest.low)}–${ratio(widest.high)}), against a median 95% interval width of ${median(spreads.map((x) => x.ci)).toFixed(2)} within one process. The verdict is the median process's ratio; "on both sides of the target" means the processes disagreed.`,
  ];
}

/** How the in-process figures are made, and why this estimator (with this run's evidence). */
function inprocessMethod(results) {
  const fws = Object.values(results.inprocess?.frameworks ?? {});
  if (fws.length === 0) return [];
  const widths = fws
    .map((f) => `${NAMES[f.settings.framework]} ${num(f.estimators.pairedCiWidthUs)} vs ${num(f.estimators.diffOfMediansCiWidthUs)} µs`)
    .join(', ');
  return [
    '- In process: every configuration is the same app as over sockets (bench/lib/apps.mjs), with this package at its default options (failure limits on); every request a new user and address from a pool of 4,096 valid proofs, every answer checked to be 200. The floor middleware is bench/lib/floors.mjs mounted as the cheapest middleware each framework has (Express: a sync middleware; Koa: an async one; Fastify: a callback-style `preValidation` hook, the stage this plugin uses); @fastify/jwt is registered as its README shows (an async `onRequest` hook calling `request.jwtVerify()`, `HS256`, 15-minute `maxAge`, no cache).',
    "- Why the median of per-round differences, not the difference of medians: the machine's slow stretches last longer than a round, so they lift both sides of a pair and cancel in its difference, and the median then drops the rounds a GC or a preemption hit. In this run the median width of the 95% bootstrap intervals of the added cost was " +
      `${widths} (paired vs difference of medians). ` +
      'The ratio to the floor is the ratio of the two medians of differences with an interval from the same bootstrap (the same rounds resampled for both); per-round ratios are not used, since a floor that adds a few µs is within noise of zero in one round.',
    ...processSpread(fws),
    "- A minor GC before each batch (not timed) and batches of 50 requests: each batch starts from an empty young generation and rarely meets a collection, so its time is the requests' own work, allocation included. The GC work the garbage causes is reported apart, as bytes allocated per request (heap growth over the batches no collection ran in); bench/PROFILE.md has the GC share under `--trace-gc`. On this machine under load, the settling GC narrowed the intervals three- to fourfold, and 50-request batches over many rounds narrowed them two- to threefold against 200-request batches over fewer.",
  ];
}

/** "4 rounds (failing proofs: 2)": the rounds each group ran. */
function httpRounds(http) {
  if (!http) return '?';
  const byGroup =
    http.settings.roundsByGroup ??
    Object.fromEntries(Object.entries(http.groups).map(([name, g]) => [name, g.rows[0]?.rounds ?? http.settings.rounds]));
  const good = byGroup.good ?? http.settings.rounds;
  const others = Object.entries(byGroup).filter(([name, n]) => name !== 'good' && n !== good && http.groups[name]);
  return `${good} rounds` + (others.length ? ` (${others.map(([name, n]) => `${http.groups[name].title}: ${n}`).join(', ')})` : '');
}

/** Which run these figures come from, and how busy the machine was. */
function runNote(m) {
  const busy = Math.max(...m.loadBefore, ...m.loadAfter) > m.cores * 0.5;
  return busy
    ? `These figures come from a ${m.quick ? 'quick' : 'full'} run on a machine shared with other work (load average up to ${Math.max(...m.loadBefore, ...m.loadAfter)} on ${m.cores} cores): the in-process intervals say how far to trust each figure; rerun on a quiet machine for published numbers.`
    : `These figures come from a ${m.quick ? 'quick' : 'full'} run on a quiet machine (load average at most ${Math.max(...m.loadBefore, ...m.loadAfter)} on ${m.cores} cores).`;
}

export function renderMarkdown(results) {
  const m = results.meta;
  const targets = results.targets ?? [];
  const missed = targets.filter((t) => !t.met);
  const lines = [
    '## Benchmarks',
    '',
    `What verification costs a request: through each adapter (Express 5, Koa 3, Fastify 5) against the`,
    `same app bare and behind the least a correct check can do with \`node:crypto\` (the floor middleware),`,
    `in process and over sockets; the core \`verify()\` against the floor, jose and jsonwebtoken; what an`,
    `attacker can make a request cost; and memory under a flood of failures. Fastify is also measured with`,
    `@fastify/jwt, Express with express-jwt and passport-jwt.`,
    '',
    `- **Command:** \`${m.command}\` (${m.quick ? 'quick run' : 'full run'}, ${Math.round(m.seconds)} s)`,
    `- **Machine:** ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}; Node ${m.node}. Shared with other work; load average ${m.loadBefore.join(' / ')} before, ${m.loadAfter.join(' / ')} after.`,
    `- **Code:** commit ${m.commit}${m.dirty ? ' with uncommitted changes in src/ or adapters/' : ''}, ${m.date}.`,
    `- ${runNote(m)}`,
    results.inprocess
      ? `- **In process (the adapter targets):** each framework in its own process${inprocessPasses(results).runs}; the apps driven by injection (light-my-request, \`fastify.inject\`), no sockets; ${Object.values(results.inprocess.frameworks)[0]?.settings.rounds ?? '?'} rounds in which every configuration serves ${Object.values(results.inprocess.frameworks)[0]?.settings.batch ?? '?'} requests, order rotated, each batch after a minor GC and timed by the process's CPU time; the added cost is the median over rounds of (configuration − bare app in the same round), with a 95% bootstrap interval${inprocessPasses(results).combined}.`
      : '',
    `- **HTTP (cross-check, not targeted):** client (autocannon, ${results.http?.settings.connections ?? '?'} connections) and server on the same 2 cores, each in its own process; ${httpRounds(results.http)} of ${results.http?.settings.duration ?? '?'} s per configuration after a ${results.http?.settings.warmup ?? '?'} s warm-up, configurations alternated within each round; medians; ratios and added CPU per round against the bare app of the same framework, then the median.`,
    `- **Core:** in process, warmed up, ${results.core?.settings.rounds ?? '?'} rounds of ${results.core?.settings.sampleMs ?? '?'} ms per candidate, alternated, each sample after a minor collection; medians; ratios per round, then the median.`,
    coreTargetMethod(results.core?.target),
    '',
    '### Targets',
    '',
    missed.length === 0
      ? 'Every target holds in this run.'
      : `${targets.length - missed.length} of ${targets.length} targets hold in this run; **${missed.length} missed**:`,
    '',
    '| target | result | figure |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.what} | ${t.met ? 'met' : '**missed**'}${t.noisy ? ', within noise' : ''} | ${t.figure} |`),
    '',
    ...crossCheckNote(results),
    'Where the time goes: [bench/PROFILE.md](bench/PROFILE.md) (the core loop; the adapter path in "Adapter path, before").',
    '',
  ];
  for (const t of tablesOf(results)) lines.push(`### ${t.title}`, '', mdTable(t), '');
  lines.push(
    '### How these are measured',
    '',
    '- The floor for `user-hash` is `createHmac` over the id and `timingSafeEqual` against the hex-decoded hash; for `signed-payload`, sorted keys, `JSON.stringify`, HMAC, compare, timestamp window; for `jwt`, split, HMAC over `header.payload`, compare the base64url signature, `JSON.parse` the payload, check `iat`. Each is timed with a KeyObject and with the string secret; the faster is the floor.',
    '- Core inputs: 65,536 distinct valid proofs and 65,536 distinct failing ones per scheme, cycled, each a plain request as the adapters build it (`user-hash` with `user_metadata` name and email; `signed-payload` with email, externalId, name and timestamp; a JWT with the same claims and `iat`).',
    '- `jwt-es256` and `jwt-eddsa` are tokens signed with a private key (bench/lib/asymmetric.mjs): 16,384 valid ones and 16,384 ' +
      'with a signature no key made, the same claims as the HS256 token. Their floor is `crypto.verify` of the token alone (split, ' +
      'decode the signature, verify: no claim read), beside the same plus reading the claims; `verify()` runs with the public key, ' +
      'and with a JWKS of three keys (the kid picks); jose verifies with `importJWK` and with `createLocalJWKSet`. Targets: ≤ 1.3× ' +
      'the floor, and faster than jose.',
    '- jose and jsonwebtoken verify the same tokens with the same rules (`HS256` only, 15-minute `iat` window): jose with the `Uint8Array` secret its README shows and with a KeyObject, jsonwebtoken with the string secret its README shows and with a KeyObject.',
    '- Every HTTP request is `POST /chat` with one JSON body carrying the `user-hash` and `signed-payload` fields and a `Bearer` JWT, so the bare app and every middleware get the same bytes; each middleware reads only its own scheme. Valid proofs come from a pool of 4,096 distinct users; failing ones are made per request with a new user id, a new `X-Forwarded-For` address (the apps trust the proxy) and a well-formed signature no key made, so failure limits see a new key each time. "One attacker" repeats one identity and address (it is rate limited after its first failures).',
    '- "Server CPU µs/req" is the server process\'s user+system CPU time over the run divided by the requests it answered: less sensitive to a busy machine than requests per second. "Rounds range" is the lowest and highest per-round ratio to the bare app. autocannon reports latency in whole milliseconds.',
    '- Memory: one process per flood, warm, collected, then `count` failing verifications 100 at a time; RSS sampled every 10,000; "heap kept" is the heap after a full GC minus the heap before the flood. Each distinct failure leaves one entry in each of the two failure counters (address and claimed identity), at most `DEFAULT_MAX_KEYS` per counter, so "B per entry" is the heap kept divided by the entries kept; below the cap it is also the slope of the heap kept between 10,000 and 40,000 failures (a full GC at each), which leaves fixed costs out.',
    ...inprocessMethod(results),
    '',
  );
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { md: { type: 'string' } } });
  let results = JSON.parse(readFileSync(positionals[0] ?? new URL('./results.json', import.meta.url), 'utf8'));
  // The output of one section run on its own (bench/core.mjs, bench/http.mjs, bench/memory.mjs).
  if (results.schemes) results = { core: results };
  else if (results.groups) results = { http: results };
  else if (results.verificationsPerSec) results = { memory: { runs: [results] } };
  results.targets = evaluateTargets(results);
  console.log(renderConsole(results));
  if (values.md) {
    if (!results.meta) throw new Error('--md needs the results of a whole run (bench/run.mjs)');
    writeFileSync(values.md, renderMarkdown(results));
  }
}
