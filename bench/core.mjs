/**
 * Core benches, in process: verifications per second for each scheme through `verifier.verify`,
 * next to the minimal node:crypto check of the same proof (the floor), and for `jwt` next to
 * jose and jsonwebtoken. `jwt-es256` and `jwt-eddsa` are public-key JWTs (bench/lib/asymmetric.mjs):
 * their floor is crypto.verify of the token alone, beside jose.jwtVerify. Warm-up, then several rounds in which every candidate of a
 * scheme is
 * sampled once (order rotated each round, each sample after a minor collection); medians are reported, and each ratio is the median of
 * the per-round ratios, so a slow moment on a shared machine hits both sides of a ratio.
 *
 *   node bench/core.mjs [--quick] [--rounds 7] [--sample-ms 150] [--scheme jwt] [--compare] [--out file.json]
 *   node bench/core.mjs --profile user-hash [--seconds 5] [--candidate ours|floor|ours-bad]
 *   node bench/core.mjs --target jwt [--quick]   # one process of the core target (targetProcess)
 *
 * `ours` against the faster floor is measured again in pairs after the rounds (`vsFloorPaired`,
 * `pairedRatio()`: A B B A turns, the median of 200 blocks), as counting's cost is: the rounds'
 * `vsFloor` moves with the machine. The target's ratio itself comes from processes of their own
 * (`--target`, `targetProcess()`: the floors and one verifier, nothing else; bench/run.mjs runs 5
 * per scheme): this process, with a dozen candidates, read 0.1–0.15 higher (bench/PROFILE.md).
 *
 * Counting (`verifier.stats()`, on by default) is measured by a `-no-stats` twin beside `ours`,
 * `ours-no-limits`, `ours-tenants` (20 tenants in turn: no count finds the previous count's row),
 * `ours-bad` and `ours-bad-no-limits`: each one's `statsCostNs` is the median difference of time
 * per call over 200 paired turns (`statsCost()`; 50 with --quick), `statsCostIqrNs` its quartiles.
 * Those differences of two 5-20 µs calls are noisy on a shared machine; `statsCost` of each HMAC
 * scheme measures counting alone, on requests with no proof (`countingPairs()`): the headline
 * figure (docs/rollout.md, "What counting costs").
 *
 * Expects the package built by bench/lib/package.mjs (bench/run.mjs builds it first); with
 * --compare, also the other tree's build (`npm run bench -- --compare <tree>` makes it), whose
 * verify() runs beside ours in the same rounds.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as jose from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { ASYMMETRIC, asymmetricFixture } from './lib/asymmetric.mjs';
import { addressOf, badProof, goodProof, SECRET, toVerifyRequest } from './lib/fixtures.mjs';
import { floors, secretKey } from './lib/floors.mjs';
import { comparePackageDir, importPackage } from './lib/package.mjs';
import { median, quantile, round } from './lib/stats.mjs';

const { createVerifier } = await importPackage();

const SCHEMES = ['user-hash', 'signed-payload', 'jwt', ...Object.keys(ASYMMETRIC)];
/** The site's key pair, tokens and floors of each public-key scheme. */
const FIXTURES = Object.fromEntries(
  await Promise.all(Object.entries(ASYMMETRIC).map(async ([scheme, alg]) => [scheme, await asymmetricFixture(alg)])),
);
/** Public-key tokens cost a signature each to make: a smaller pool, still far beyond any cache. */
const ASYMMETRIC_POOL = 16384;
// Pools of the same size, so valid and failing proofs meet the same memory traffic: 65,536
// distinct signed users, cycled; 65,536 distinct attackers, each tried a few times at most
// (under any failure limit).
const GOOD_POOL = 65536;
const BAD_POOL = 65536;

// ---------------------------------------------------------------------------------------------
// Requests: only the scheme's own fields, as the widget sends them.

function schemeRequest(scheme, proof) {
  const request = toVerifyRequest(proof);
  const { body } = proof;
  if (scheme === 'user-hash')
    request.body = { message: body.message, user_id: body.user_id, user_hash: body.user_hash, user_metadata: body.user_metadata };
  else if (scheme === 'signed-payload') request.body = { message: body.message, customer: body.customer, signature: body.signature };
  else request.body = { message: body.message };
  if (scheme !== 'jwt') delete request.headers.authorization;
  return request;
}

/** Valid proofs of distinct users, or failing proofs of distinct attackers (generated once, on first use). */
function pools(scheme) {
  const now = Math.floor(Date.now() / 1000);
  const fixture = FIXTURES[scheme];
  let good, bad;
  return {
    get good() {
      if (fixture) return (good ??= Array.from({ length: ASYMMETRIC_POOL }, (_, i) => fixture.good(i, now)));
      return (good ??= Array.from({ length: GOOD_POOL }, (_, i) => schemeRequest(scheme, goodProof(i, now))));
    },
    get bad() {
      if (fixture) return (bad ??= Array.from({ length: ASYMMETRIC_POOL }, (_, n) => fixture.bad(n, now)));
      return (bad ??= Array.from({ length: BAD_POOL }, (_, n) => schemeRequest(scheme, badProof(n, now))));
    },
  };
}

/**
 * A public-key scheme's candidates: the floors (crypto.verify alone, and with the claims read),
 * verify() with the public key and with a JWKS of three keys (the kid picks), and jose.jwtVerify
 * with an imported key and with a local JWKS.
 */
function asymmetricCandidates(scheme, pool, phase) {
  const f = FIXTURES[scheme];
  const ours = (id, label, extra, outcome, list) => {
    const verifier = createVerifier({ scheme: 'jwt', keys: f.keys, ...extra });
    return { id, label, pool: list, call: (r) => verifier.verify(r), outcome };
  };
  if (phase === 'bad') {
    const refused = (result) => result.error?.code === 'INVALID_SIGNATURE';
    return [
      { id: 'floor-bad', label: 'node:crypto verify, bad signature', sync: true, pool: pool.bad, fn: (r) => !f.verifyAlone(r) },
      ours('ours-bad', 'chat-identity verify(), bad signature, distinct attackers', {}, refused, pool.bad),
      ours('ours-bad-no-limits', 'chat-identity verify(), bad signature, rateLimit: false', { rateLimit: false }, refused, pool.bad),
    ];
  }
  const verified = (result) => result.verified;
  const token = (r) => r.headers.authorization.slice(7);
  const joseOptions = { algorithms: [f.alg], maxTokenAge: 900 };
  const viaJose = (key) => ({
    call: (r) => jose.jwtVerify(token(r), key, joseOptions),
    outcome: (verified) => verified.payload !== undefined,
  });
  return [
    { id: 'floor', label: 'node:crypto floor (verify, then read the claims)', sync: true, pool: pool.good, fn: (r) => !!f.floor(r) },
    { id: 'floor-string', label: 'node:crypto verify alone', sync: true, pool: pool.good, fn: (r) => f.verifyAlone(r) !== undefined },
    ours('ours', 'chat-identity verify(), the public key', {}, verified, pool.good),
    ours('ours-no-limits', 'chat-identity verify(), rateLimit: false', { rateLimit: false }, verified, pool.good),
    ours('ours-jwks', 'chat-identity verify(), a JWKS of 3 keys', { keys: f.jwks }, verified, pool.good),
    { id: 'jose', label: 'jose.jwtVerify (importJWK key, as documented)', pool: pool.good, ...viaJose(f.joseKey) },
    { id: 'jose-jwks', label: 'jose.jwtVerify (createLocalJWKSet of 3 keys)', pool: pool.good, ...viaJose(f.joseJwks) },
  ];
}

// The floors (bench/lib/floors.mjs): the least a correct check of the same proof can do.

const secretBytes = new TextEncoder().encode(SECRET);
const floorKey = floors(secretKey);
const floorString = floors(SECRET);

// ---------------------------------------------------------------------------------------------
// Candidates: each gives true for the outcome it is meant to produce (verified, or refused). A
// synchronous one (`sync: true`) is a function `fn` that says so; an asynchronous one is the library's
// own `call`, awaited once as an app's handler awaits it, and the `outcome` of what it resolved to.

/** The two floors of an HMAC scheme, over its valid proofs: the secret as a KeyObject, and as the string. */
function floorCandidates(scheme, pool) {
  const [byKey, byString] = [floorKey[scheme], floorString[scheme]];
  return [
    { id: 'floor', label: 'node:crypto floor (KeyObject)', sync: true, pool: pool.good, fn: (r) => byKey(r) !== undefined },
    { id: 'floor-string', label: 'node:crypto floor (string secret)', sync: true, pool: pool.good, fn: (r) => byString(r) !== undefined },
  ];
}

/**
 * Options for a verifier that serves 20 tenants in turn through a keys lookup (each its own row of
 * counters, so a count never finds the previous count's row): the counters' slower path.
 */
function tenantsInTurn() {
  const tenants = Array.from({ length: 20 }, (_, i) => `tenant-${i}`);
  let turn = 0;
  return { tenant: () => tenants[turn++ % tenants.length], keys: (tenant) => ({ tenant, keys: [SECRET] }) };
}

/**
 * Two phases: valid proofs, then failing ones. Each phase has verifiers of its own, so the
 * failure counters the bad phase fills never weigh on the valid phase (nor the reverse).
 * With `compare` (the core of another build, `--compare`), its verifiers run beside ours.
 */
function candidates(scheme, pool, phase, compare) {
  if (FIXTURES[scheme]) return asymmetricCandidates(scheme, pool, phase);
  const builds = [['', createVerifier]];
  if (compare) builds.push(['@compare', compare.createVerifier]);
  const ours = (make, suffix, rows) =>
    rows.map(([id, label, extra, outcome]) => {
      const verifier = make({ scheme, keys: [SECRET], ...extra });
      return {
        id: id + suffix,
        label: label + (suffix ? ' [compare]' : ''),
        pool: pool[phase],
        call: (r) => verifier.verify(r),
        outcome,
      };
    });
  if (phase === 'bad') {
    const floor = floorKey[scheme];
    const refused = (result) => result.error?.code === 'INVALID_SIGNATURE';
    return [
      { id: 'floor-bad', label: 'node:crypto floor, bad signature', sync: true, pool: pool.bad, fn: (r) => floor(r) === undefined },
      ...builds.flatMap(([suffix, make]) =>
        ours(make, suffix, [
          ['ours-bad', 'chat-identity verify(), bad signature, distinct attackers', {}, refused],
          ['ours-bad-no-limits', 'chat-identity verify(), bad signature, rateLimit: false', { rateLimit: false }, refused],
          ['ours-bad-no-stats', 'chat-identity verify(), bad signature, stats: false', { stats: false }, refused],
          [
            'ours-bad-no-limits-no-stats',
            'chat-identity verify(), bad signature, rateLimit: false, stats: false',
            { rateLimit: false, stats: false },
            refused,
          ],
        ]),
      ),
    ];
  }
  const verified = (result) => result.verified;
  const list = [
    ...floorCandidates(scheme, pool),
    ...builds.flatMap(([suffix, make]) =>
      ours(make, suffix, [
        ['ours', 'chat-identity verify()', {}, verified],
        ['ours-no-limits', 'chat-identity verify(), rateLimit: false', { rateLimit: false }, verified],
        ['ours-no-stats', 'chat-identity verify(), stats: false (counting off)', { stats: false }, verified],
        ['ours-no-limits-no-stats', 'chat-identity verify(), rateLimit: false, stats: false', { rateLimit: false, stats: false }, verified],
        ['ours-tenants', 'chat-identity verify(), 20 tenants in turn (a lookup)', tenantsInTurn(), verified],
        [
          'ours-tenants-no-stats',
          'chat-identity verify(), 20 tenants in turn, stats: false',
          { ...tenantsInTurn(), stats: false },
          verified,
        ],
      ]),
    ),
  ];
  if (scheme === 'jwt') {
    const token = (r) => r.headers.authorization.slice(7);
    const joseOptions = { algorithms: ['HS256'], maxTokenAge: 900 };
    const jwtOptions = { algorithms: ['HS256'], maxAge: 900 };
    const verifies = (f) => (r) => {
      try {
        return f(r) !== undefined;
      } catch {
        return false;
      }
    };
    list.push(
      {
        id: 'jose',
        label: 'jose.jwtVerify (Uint8Array secret, as documented)',
        pool: pool.good,
        call: (r) => jose.jwtVerify(token(r), secretBytes, joseOptions),
        outcome: (verified) => verified.payload !== undefined,
      },
      {
        id: 'jose-key',
        label: 'jose.jwtVerify (KeyObject)',
        pool: pool.good,
        call: (r) => jose.jwtVerify(token(r), secretKey, joseOptions),
        outcome: (verified) => verified.payload !== undefined,
      },
      {
        id: 'jsonwebtoken',
        label: 'jsonwebtoken.verify (string secret, as documented)',
        sync: true,
        pool: pool.good,
        fn: verifies((r) => jsonwebtoken.verify(token(r), SECRET, jwtOptions)),
      },
      {
        id: 'jsonwebtoken-key',
        label: 'jsonwebtoken.verify (KeyObject)',
        sync: true,
        pool: pool.good,
        fn: verifies((r) => jsonwebtoken.verify(token(r), secretKey, jwtOptions)),
      },
    );
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// Sampling. Each candidate gets its own copy of the loop (its own type feedback), so one
// candidate's call site never slows another's.

const LOOP_BODY = (verdict) => `
  const mask = pool.length - 1;
  let n = 0, ok = 0, elapsed;
  const t0 = hrtime();
  do {
    for (let j = 0; j < 16; j++) if (${verdict('pool[(start + n + j) & mask]')}) ok++;
    n += 16;
    elapsed = Number(hrtime() - t0);
  } while (elapsed < targetNs);
  return { n, ok, elapsed };`;

/**
 * A minor collection before each sample, outside its time. Without it, the same code read ~8% slower
 * in the slot that always follows the floors in the rotation than elsewhere in the list (a sample
 * inherits its neighbour's young garbage, presumably); with it the two slots agree within noise. Not a
 * full collection: with one, every candidate that allocates more than the floor read slower (bench/PROFILE.md,
 * "The core bench's neighbour").
 */
function collect() {
  setFlagsFromString('--expose-gc');
  runInNewContext('gc')({ type: 'minor' });
}

/**
 * A candidate's own loop. An asynchronous call is awaited once per request, as an app awaits
 * `verifier.verify(request)`: no wrapper of the bench's own adds a second await (it cost ours 1–4%
 * of a verify that the synchronous floors never paid; bench/PROFILE.md).
 */
function makeLoop(sync) {
  const source = sync
    ? `return function loop({ fn }, pool, start, targetNs) {${LOOP_BODY((request) => `fn(${request})`)}}`
    : `return async function loop({ call, outcome }, pool, start, targetNs) {${LOOP_BODY((request) => `outcome(await call(${request}))`)}}`;
  return new Function('hrtime', source)(process.hrtime.bigint);
}

/** One request through a candidate, outside the timed loops: whether it gave the expected outcome. */
async function verdictOf(candidate, request) {
  return candidate.sync ? candidate.fn(request) : candidate.outcome(await candidate.call(request));
}

async function sample(candidate, targetMs) {
  collect();
  const { n, ok, elapsed } = await candidate.loop(candidate, candidate.pool, candidate.cursor, targetMs * 1e6);
  candidate.cursor += n;
  if (ok !== n) throw new Error(`${candidate.label}: ${n - ok} of ${n} calls did not give the expected outcome`);
  return (n / elapsed) * 1e9;
}

async function check(candidate) {
  for (let i = 0; i < 64; i++) {
    if (!(await verdictOf(candidate, candidate.pool[i])))
      throw new Error(`${candidate.label} does not give the expected outcome on request ${i}`);
  }
  candidate.cursor = 64;
}

/** Samples every candidate of a list, round-robin with the order rotated each round. */
async function measure(list, { rounds, sampleMs, warmupMs }) {
  for (const c of list) {
    c.loop = makeLoop(c.sync === true);
    await check(c);
  }
  for (const c of list) await sample(c, warmupMs);
  const samples = Object.fromEntries(list.map((c) => [c.id, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < list.length; k++) {
      const c = list[(k + r) % list.length];
      samples[c.id].push(await sample(c, sampleMs));
    }
  }
  return samples;
}

export async function benchScheme(scheme, settings, compare) {
  const pool = pools(scheme);
  const good = candidates(scheme, pool, 'good', compare);
  const samples = await measure(good, settings);
  const bad = candidates(scheme, pool, 'bad', compare);
  Object.assign(samples, await measure(bad, settings));
  // The floor is the faster of the two minimal checks, round by round; a bad proof's floor is
  // the same check failing (the same HMAC, then a mismatch).
  const floorOf = (r) => Math.max(samples.floor[r], samples['floor-string'][r]);
  const result = { scheme, floorOpsPerSec: round(median(samples.floor.map((_, r) => floorOf(r)))), candidates: {} };
  for (const [phase, list] of [
    ['good', good],
    ['bad', bad],
  ]) {
    const floor = phase === 'bad' ? (r) => samples['floor-bad'][r] : floorOf;
    for (const c of list) {
      const ops = samples[c.id];
      const entry = {
        label: c.label,
        phase,
        opsPerSec: round(median(ops)),
        nsPerOp: round(1e9 / median(ops)),
        // Time per verify relative to the floor's, median of the per-round ratios.
        vsFloor: round(median(ops.map((o, r) => floor(r) / o)), 3),
        samples: ops.map((o) => round(o, 3)),
      };
      if (scheme === 'jwt' && phase === 'good' && c.id.startsWith('ours')) {
        // Throughput relative to the libraries (> 1: ours is faster), same round.
        for (const lib of ['jose', 'jose-key', 'jsonwebtoken', 'jsonwebtoken-key']) {
          entry[`speedupVs_${lib}`] = round(median(ops.map((o, r) => o / samples[lib][r])), 3);
        }
      }
      if (FIXTURES[scheme] && phase === 'good' && c.id.startsWith('ours')) {
        for (const lib of ['jose', 'jose-jwks']) entry[`speedupVs_${lib}`] = round(median(ops.map((o, r) => o / samples[lib][r])), 3);
        // Time relative to crypto.verify alone (the `floor-string` candidate), same round.
        entry.vsVerifyAlone = round(median(ops.map((o, r) => samples['floor-string'][r] / o)), 3);
      }
      result.candidates[c.id] = entry;
    }
  }
  // The target's ratio, `ours` and the faster floor in pairs (pairedRatio): steadier than the rounds'.
  const byId = new Map([...good, ...bad].map((c) => [c.id, c]));
  if (!FIXTURES[scheme]) {
    const faster = result.candidates.floor.opsPerSec >= result.candidates['floor-string'].opsPerSec ? 'floor' : 'floor-string';
    for (const id of ['ours', 'ours@compare']) {
      if (!byId.has(id)) continue;
      const paired = await pairedRatio(byId.get(id), byId.get(faster), settings.statsBlocks);
      Object.assign(result.candidates[id], {
        vsFloorPaired: round(paired.median, 3),
        vsFloorPairedIqr: [round(paired.q1, 3), round(paired.q3, 3)],
        pairedFloor: faster,
      });
    }
    // A/B (--compare): the other build against this one in pairs, the way to measure a patch.
    if (byId.has('ours@compare')) {
      const ab = await pairedRatio(byId.get('ours@compare'), byId.get('ours'), settings.statsBlocks);
      Object.assign(result.candidates['ours@compare'], {
        vsThisBuildPaired: round(ab.median, 3),
        vsThisBuildPairedIqr: [round(ab.q1, 3), round(ab.q3, 3)],
      });
    }
  }
  // What counting adds to one verify(), each verifier beside its twin that does not count: with the
  // limits on and off, and with a tenant per request in turn (no count finds the previous count's row).
  for (const [withStats, without] of [
    ['ours', 'ours-no-stats'],
    ['ours-no-limits', 'ours-no-limits-no-stats'],
    ['ours-tenants', 'ours-tenants-no-stats'],
    ['ours-bad', 'ours-bad-no-stats'],
    ['ours-bad-no-limits', 'ours-bad-no-limits-no-stats'],
  ]) {
    if (!byId.has(without)) continue;
    const { median: cost, q1, q3 } = await statsCost(byId.get(withStats), byId.get(without), settings.statsBlocks);
    Object.assign(result.candidates[withStats], { statsCostNs: round(cost, 3), statsCostIqrNs: [round(q1, 3), round(q3, 3)] });
    // The rounds' own difference, for comparison: on a shared machine it swings by microseconds.
    result.candidates[withStats].statsCostRoundsNs = round(
      median(samples[withStats].map((o, r) => 1e9 / o - 1e9 / samples[without][r])),
      3,
    );
  }
  // Counting alone, on the cheapest request (no proof: about 1 µs), where its cost stands out.
  if (!FIXTURES[scheme]) {
    result.statsCost = {};
    for (const { id, label, withStats, without } of countingPairs(scheme)) {
      const { median: cost, q1, q3, baseNs } = await statsCost(withStats, without, settings.statsBlocks, 1024);
      result.statsCost[id] = { label, ns: round(cost, 3), iqrNs: [round(q1, 3), round(q3, 3)], requestNs: round(baseNs, 3) };
    }
  }
  return result;
}

/**
 * What counting costs by itself: verifiers given requests that carry no proof (an anonymous visitor,
 * about 1 µs a call), counting and not, with static keys (every count finds the previous count's
 * row) and with 20 tenants in turn (none does). Counting does the same work for any result, so
 * the difference is its cost, measured where a verify's own noise is a tenth of a valid proof's.
 */
function countingPairs(scheme) {
  const pool = Array.from({ length: 4096 }, (_, i) => ({ headers: {}, body: { message: 'Hello' }, ip: addressOf(i) }));
  const anonymous = (result) => !result.verified && result.error === undefined;
  const twin = (options) => {
    const verifier = createVerifier({ scheme, keys: [SECRET], ...options });
    return { label: 'chat-identity verify(), no proof', pool, call: (r) => verifier.verify(r), outcome: anonymous };
  };
  return [
    { id: 'no-proof', label: 'a request with no proof, static keys', withStats: twin({}), without: twin({ stats: false }) },
    {
      id: 'no-proof-tenants',
      label: 'a request with no proof, 20 tenants in turn (a lookup)',
      withStats: twin(tenantsInTurn()),
      without: twin({ ...tenantsInTurn(), stats: false }),
    },
  ];
}

/**
 * What counting adds to one verify(), measured in pairs: the verifier that counts and its twin that
 * does not take turns (A B B A) over the same 256 requests, each turn after a minor collection so a
 * collection falls in both alike; `blocks` such turns, the median of their differences and its
 * quartiles. The rounds above sample each candidate for 150 ms about a second apart: on a shared
 * machine their difference swings by microseconds, and cannot tell 0.3 µs from nothing.
 */
async function statsCost(withStats, without, blocks, N = 256) {
  const base = [];
  const costs = [];
  for (const { a, b } of await pairedTurns(withStats, without, blocks, N)) {
    base.push(b);
    costs.push(a - b);
  }
  // `baseNs`: a call of the twin that does not count, what the cost is added to.
  return { median: median(costs), q1: quantile(costs, 0.25), q3: quantile(costs, 0.75), baseNs: median(base) };
}

/**
 * `ours` against the floor in pairs, as `statsCost` pairs counting: turns A B B A over the same
 * requests, so a slow moment of the machine lands in both sides of a block. The rounds above sample
 * each candidate for 150 ms, and with 10–17 candidates a scheme's floor and `ours` run seconds apart:
 * on this shared VM a candidate's samples spread twofold within one run, so their ratio moves by
 * 0.3 between runs. The median of `blocks` block ratios, with its quartiles.
 */
async function pairedRatio(ours, floor, blocks) {
  const ratios = (await pairedTurns(ours, floor, blocks, 256)).map(({ a, b }) => a / b);
  return { median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) };
}

/**
 * `blocks` blocks of turns A B B A, each turn `N` calls over the same requests after a minor
 * collection (so a collection falls in both alike), after 10 blocks of warm-up: ns per call of A
 * and of B in each block. A synchronous candidate is called without `await`, as in its own loop.
 */
async function pairedTurns(a, b, blocks, N) {
  return (await palindromicTurns([a, b], blocks, N)).map(([ta, tb]) => ({ a: ta, b: tb }));
}

/**
 * `pairedTurns` for any number of candidates: each block turns them in order, then in reverse
 * (A B C C B A), so every candidate's two turns are centred on the same moment; ns per call of each,
 * by block, in the order given.
 */
async function palindromicTurns(list, blocks, N) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const pool = list[0].pool;
  let cursor = Math.max(...list.map((c) => c.cursor ?? 0));
  const turn = async (candidate) => {
    gc({ type: 'minor' });
    let ok = 0;
    const t0 = process.hrtime.bigint();
    if (candidate.sync) {
      const { fn } = candidate;
      for (let i = 0; i < N; i++) if (fn(pool[(cursor + i) & (pool.length - 1)])) ok++;
    } else {
      const { call, outcome } = candidate;
      for (let i = 0; i < N; i++) if (outcome(await call(pool[(cursor + i) & (pool.length - 1)]))) ok++;
    }
    const ns = Number(process.hrtime.bigint() - t0) / N;
    if (ok !== N) throw new Error(`${candidate.label}: ${N - ok} of ${N} calls did not give the expected outcome`);
    return ns;
  };
  const block = async () => {
    const times = [];
    for (const c of list) times.push(await turn(c));
    for (let k = list.length - 1; k >= 0; k--) times[k] = (times[k] + (await turn(list[k]))) / 2;
    cursor += N;
    return times;
  };
  for (let i = 0; i < 10; i++) await block();
  const turns = [];
  for (let i = 0; i < blocks; i++) turns.push(await block());
  return turns;
}

/** Failing proofs from distinct clients a target process sends (`targetProcess`): a few a second over the limits' minute. */
const TARGET_FAILURES = 256;

/**
 * The core target as an app's process holds a verifier: a process of its own with the two floors and
 * one verifier of the default options (the rounds' process also runs a dozen other verifiers and
 * libraries through the same code). Failing proofs go first through a twin verifier, so the failure
 * paths a server also takes are compiled; then the verifier and the floors turn in palindromic blocks
 * (`palindromicTurns`), its ratio to the process's faster floor the median of the block ratios. Then
 * the verifier itself refuses `TARGET_FAILURES` distinct clients and is measured again: the cost of a
 * valid proof while its limits hold failures (reported, not the target). `npm run bench` runs 5 such
 * processes per scheme, the schemes alternated (bench/run.mjs): one process is one draw of its JIT
 * state and memory layout, as for the adapters.
 */
async function targetProcess(scheme, blocks) {
  if (!floorKey[scheme]) throw new Error(`--target takes user-hash, signed-payload or jwt (a scheme with an HMAC floor), not ${scheme}`);
  const pool = pools(scheme);
  const refuse = async (verifier) => {
    for (let i = 0; i < TARGET_FAILURES; i++) {
      const result = await verifier.verify(pool.bad[i]);
      if (result.error?.code !== 'INVALID_SIGNATURE') throw new Error(`a failing ${scheme} proof gave ${result.error?.code ?? 'VERIFIED'}`);
    }
  };
  await refuse(createVerifier({ scheme, keys: [SECRET] }));
  const verifier = createVerifier({ scheme, keys: [SECRET] });
  const list = [
    ...floorCandidates(scheme, pool),
    { id: 'ours', label: 'chat-identity verify()', pool: pool.good, call: (r) => verifier.verify(r), outcome: (result) => result.verified },
  ];
  for (const c of list) await check(c);
  const measured = async () => {
    const turns = await palindromicTurns(list, blocks, 256);
    const nsOf = (k) => median(turns.map((times) => times[k]));
    const faster = nsOf(0) <= nsOf(1) ? 0 : 1;
    const ratios = turns.map((times) => times[2] / times[faster]);
    return {
      floor: list[faster].id,
      floorNs: round(nsOf(faster), 3),
      oursNs: round(nsOf(2), 3),
      vsFloor: round(median(ratios), 3),
      vsFloorIqr: [round(quantile(ratios, 0.25), 3), round(quantile(ratios, 0.75), 3)],
    };
  };
  const quiet = await measured();
  await refuse(verifier);
  return { scheme, blocks, ...quiet, afterFailures: { failures: TARGET_FAILURES, ...(await measured()) } };
}

export async function runCore({ quick = false, rounds, sampleMs, schemes = SCHEMES, compare = false, log = () => {} } = {}) {
  const settings = {
    rounds: rounds ?? (quick ? 3 : 7),
    sampleMs: sampleMs ?? (quick ? 60 : 150),
    warmupMs: quick ? 150 : 400,
    statsBlocks: quick ? 50 : 200,
    compare,
  };
  const compareModule = compare ? await importPackage('', comparePackageDir) : undefined;
  const results = { settings, schemes: {} };
  for (const scheme of schemes) {
    log(`core: ${scheme}`);
    results.schemes[scheme] = await benchScheme(scheme, settings, compareModule);
  }
  return results;
}

/** Runs one candidate flat out for `seconds`, for `node --cpu-prof`. */
async function profile(scheme, candidateId, seconds) {
  const pool = pools(scheme);
  const c = candidates(scheme, pool, candidateId.includes('bad') ? 'bad' : 'good').find((x) => x.id === candidateId);
  if (!c) throw new Error(`no candidate ${candidateId} for ${scheme}`);
  c.loop = makeLoop(c.sync === true);
  await check(c);
  const opsPerSec = await sample(c, seconds * 1000);
  return { scheme, candidate: c.label, opsPerSec: round(opsPerSec), nsPerOp: round(1e9 / opsPerSec) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'sample-ms': { type: 'string' },
      scheme: { type: 'string', multiple: true },
      out: { type: 'string' },
      profile: { type: 'string' },
      candidate: { type: 'string', default: 'ours' },
      seconds: { type: 'string', default: '5' },
      compare: { type: 'boolean', default: false },
      target: { type: 'string' },
    },
  });
  if (values.target) {
    const json = JSON.stringify(await targetProcess(values.target, values.quick ? 50 : 200));
    if (values.out) writeFileSync(values.out, json + '\n');
    else console.log(json);
  } else if (values.profile) {
    console.log(JSON.stringify(await profile(values.profile, values.candidate, Number(values.seconds))));
  } else {
    const results = await runCore({
      quick: values.quick,
      rounds: values.rounds && Number(values.rounds),
      sampleMs: values['sample-ms'] && Number(values['sample-ms']),
      schemes: values.scheme ?? SCHEMES,
      compare: values.compare,
      log: (m) => console.error(m),
    });
    const json = JSON.stringify(results, null, 2);
    if (values.out) writeFileSync(values.out, json + '\n');
    else console.log(json);
  }
}
