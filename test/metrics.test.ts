/**
 * The counters (`verifier.stats()`, `identityStats()`): their labels and bounds, their windows on a
 * frozen clock, their JSON; the Prometheus exposition scraped from a real prom-client Registry, and
 * the OpenTelemetry counter read by a real SDK MetricReader; `onResult`'s summary, swept for secrets,
 * signatures and client data like test/security/secrets.test.ts; the readiness report's verdicts.
 */
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type DataPoint,
} from '@opentelemetry/sdk-metrics';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  createVerifier,
  identityStats,
  rolloutReport,
  signJwt,
  signUserHash,
  type ResultSummary,
  type StatsSnapshot,
  type VerifierOptions,
  type VerifyRequest,
} from '../src/index.js';
import { identityVerification as fastifyIdentity } from '../adapters/fastify.js';
import { countersFor } from '../src/stats/counters.js';
import { addressClass } from '../src/stats/summary.js';
import { openTelemetryMetrics } from '../src/stats/opentelemetry.js';
import { PROMETHEUS_LABELS, prometheusMetrics } from '../src/stats/prometheus.js';
import { ATTACK_CASES } from './conformance/attacks.js';
import { CASES } from './conformance/cases.js';
import { plainRequest } from './conformance/paths.js';
import { LIVE_KEY, NOW, OTHER_TENANT_KEY, PREVIOUS_KEY, TEST_KEY, frozenClock } from './helpers.js';
import { hmacEncodings } from './security/arbitraries.js';

const silent = { warn() {}, error() {} };
const good = (id: string, key = LIVE_KEY) => ({ body: { user_id: id, user_hash: signUserHash(id, key) } });
const bad = (id: string) => ({ body: { user_id: id, user_hash: signUserHash(`not-${id}`, LIVE_KEY) } });

/** A clock the test moves. */
function movingClock(start = NOW) {
  let at = start;
  return { now: () => at, set: (ms: number) => void (at = ms), advance: (ms: number) => void (at += ms) };
}

describe('counters', () => {
  it('count every result by tenant, scheme, outcome, key, via and mode; JSON as it is', async () => {
    const verifier = createVerifier({
      scheme: ['user-hash', 'jwt'],
      keys: {
        'user-hash': [
          { secret: LIVE_KEY, id: 'k1' },
          { secret: TEST_KEY, id: 't1' },
        ],
        jwt: [{ secret: OTHER_TENANT_KEY, id: 'j1' }],
      },
      now: frozenClock,
      required: 'report',
      rateLimit: false,
    });
    await verifier.verify(good('a'));
    await verifier.verify(good('b'));
    await verifier.verify(good('c', TEST_KEY));
    await verifier.verify(bad('d'));
    await verifier.verify({ headers: { authorization: `Bearer ${signJwt({ externalId: 'e' }, OTHER_TENANT_KEY, { now: frozenClock })}` } });
    await verifier.verify({ body: {} });
    const snapshot = verifier.stats();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    const rows = snapshot.series.map(({ minutes, hours, ...labels }) => ({ ...labels, lastMinute: minutes[59], lastHour: hours[23] }));
    const row = (
      outcome: string,
      keyId: string | null,
      scheme: string | null,
      total: number,
      key: 'live' | 'test' | null,
      via: string | null,
    ) => ({
      tenant: null,
      scheme,
      outcome,
      keyId,
      key,
      via,
      mode: 'report',
      mistake: null,
      total,
      lastMinute: total,
      lastHour: total,
    });
    expect(rows).toEqual(
      expect.arrayContaining([
        row('VERIFIED', 'k1', 'user-hash', 2, 'live', 'proof'),
        row('VERIFIED', 't1', 'user-hash', 1, 'test', 'proof'),
        row('INVALID_SIGNATURE', null, 'user-hash', 1, null, 'proof'),
        row('VERIFIED', 'j1', 'jwt', 1, 'live', 'proof'),
        row('MISSING_IDENTITY', null, null, 1, null, null),
      ]),
    );
    expect(rows).toHaveLength(5);
    expect(snapshot).toMatchObject({
      format: 'chat-identity-stats',
      version: 1,
      since: '2026-01-01T00:00:00.000Z',
      at: '2026-01-01T00:00:00.000Z',
      windows: { minutes: { start: '2025-12-31T23:01:00.000Z', step: 60 }, hours: { start: '2025-12-31T01:00:00.000Z', step: 3600 } },
      limits: { maxTenants: 100, maxKeyIds: 20, maxSeries: 5000, folded: 0 },
    });
  });

  it('keep per minute for the last hour and per hour for the last day, as the clock moves (and when it goes back)', async () => {
    const clock = movingClock();
    const stats = identityStats({ now: clock.now });
    const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: clock.now, stats });
    const counted = () => stats.stats().series[0]!;
    await verifier.verify(good('a')); // minute 0
    clock.advance(61_000);
    await verifier.verify(good('a'));
    await verifier.verify(good('a')); // minute 1: 2
    clock.advance(59 * 60_000); // minute 60: minute 0 has left the hour
    await verifier.verify(good('a'));
    let row = counted();
    expect(row.total).toBe(4);
    expect(row.minutes.reduce((a, b) => a + b)).toBe(3);
    expect(row.minutes.slice(-1)).toEqual([1]);
    expect(row.minutes[0]).toBe(2); // minute 1, the oldest of the window
    expect(row.hours.slice(-2)).toEqual([3, 1]);
    clock.advance(-120_000); // a clock that goes back counts in the newest bucket
    await verifier.verify(good('a'));
    clock.advance(120_000);
    row = counted();
    expect(row.minutes.slice(-1)).toEqual([2]);
    clock.advance(25 * 3_600_000); // a day later: nothing recent, the total stays
    row = counted();
    expect(row.minutes.every((n) => n === 0) && row.hours.every((n) => n === 0)).toBe(true);
    expect(row.total).toBe(5);
  });

  it('window every count in its minute and hour, whatever the steps of a clock that moves on (fast-check)', () => {
    const step = fc.oneof(fc.integer({ min: 0, max: 90_000 }), fc.integer({ min: 0, max: 4 * 3_600_000 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.boolean()), { maxLength: 200 }), step, (steps, last) => {
        const clock = movingClock();
        const stats = identityStats({ now: clock.now });
        const counters = countersFor(stats)!;
        const times: number[][] = [[], []];
        for (const [advance, failing] of steps) {
          clock.advance(advance);
          counters.count({
            tenant: undefined,
            scheme: 'user-hash',
            outcome: failing ? 'INVALID_SIGNATURE' : 'VERIFIED',
            keyId: undefined,
            test: false,
            via: 'proof',
            mode: 'report',
            mistake: undefined,
          });
          times[failing ? 1 : 0]!.push(clock.now());
        }
        clock.advance(last);
        const at = clock.now();
        const [minute, hour] = [Math.floor(at / 60_000), Math.floor(at / 3_600_000)];
        for (const row of stats.stats().series) {
          const counted = times[row.outcome === 'VERIFIED' ? 0 : 1]!;
          const perBucket = (size: number, unit: number, end: number) =>
            Array.from({ length: size }, (_, i) => counted.filter((t) => Math.floor(t / unit) === end - size + 1 + i).length);
          expect(row.minutes).toEqual(perBucket(60, 60_000, minute));
          expect(row.hours).toEqual(perBucket(24, 3_600_000, hour));
          expect(row.total).toBe(counted.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('fold tenants past maxTenants and key ids past maxKeyIds into (other), and rows past maxSeries', async () => {
    const stats = identityStats({ maxTenants: 2, maxKeyIds: 1, maxSeries: 6, now: frozenClock });
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({
        tenant,
        keys: [
          { secret: LIVE_KEY, id: `${tenant}-new` },
          { secret: PREVIOUS_KEY, id: `${tenant}-old` },
        ],
      }),
      tenant: (r) => r.headers?.['x-team'] as string,
      now: frozenClock,
      stats,
      rateLimit: false,
    });
    for (const team of ['a', 'b', 'c', 'd']) {
      await verifier.verify({ headers: { 'x-team': team }, ...good('u') });
      await verifier.verify({ headers: { 'x-team': team }, ...good('u', PREVIOUS_KEY) });
    }
    const snapshot = stats.stats();
    const labels = snapshot.series.map((s) => [s.tenant, s.keyId, s.total]);
    expect(labels).toEqual(
      expect.arrayContaining([
        ['a', 'a-new', 1],
        ['a', '(other)', 1],
        ['b', 'b-new', 1],
        ['b', '(other)', 1],
        ['(other)', 'c-new', 1],
        ['(other)', '(other)', 3],
      ]),
    );
    expect(snapshot.series).toHaveLength(6);
    // Every request a bound sent to (other): a's and b's second key ids, all of c and d.
    expect(snapshot.limits.folded).toBe(6);
    // A seventh row would be one more: it is counted, in the overflow row of its outcome.
    await verifier.verify({ headers: { 'x-team': 'a' }, ...bad('u') });
    await verifier.verify({ headers: { 'x-team': 'a' }, ...bad('u') });
    const after = stats.stats();
    expect(after.limits.folded).toBe(8);
    expect(after.series).toHaveLength(7);
    expect(after.series.find((s) => s.outcome === 'INVALID_SIGNATURE')).toMatchObject({ tenant: '(other)', keyId: null, total: 2 });
  });

  it('an attacker cannot grow the labels: 10,000 made-up tenants a lookup echoes fold into one (other) row', async () => {
    // The worst lookup: it answers any tenant name the request gives (a shared key for all).
    const stats = identityStats({ maxTenants: 3, now: frozenClock });
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({ tenant, keys: [{ secret: LIVE_KEY, id: 'shared' }] }),
      tenant: (r) => r.headers?.['x-team'] as string,
      keyCache: false,
      rateLimit: false,
      now: frozenClock,
      stats,
    });
    for (let i = 0; i < 10_000; i++)
      await verifier.verify({ headers: { 'x-team': `attacker-${i}` }, ...(i % 2 ? good(`u${i}`) : bad(`u${i}`)) });
    const snapshot = stats.stats();
    expect(snapshot.series.map((s) => [s.tenant, s.outcome, s.total])).toEqual([
      ['attacker-0', 'INVALID_SIGNATURE', 1],
      ['attacker-1', 'VERIFIED', 1],
      ['attacker-2', 'INVALID_SIGNATURE', 1],
      ['(other)', 'VERIFIED', 4999],
      ['(other)', 'INVALID_SIGNATURE', 4998],
    ]);
    expect(snapshot.limits.folded).toBe(9997);
    expect(JSON.stringify(snapshot).length).toBeLessThan(3000);
  });

  it("maxTenants counts tenants only: the rows of no tenant and of (unknown) take no tenant's place", async () => {
    const stats = identityStats({ maxTenants: 2, now: frozenClock });
    const common = { scheme: 'user-hash' as const, now: frozenClock, stats, rateLimit: false as const };
    // A verifier with static keys (no tenant) and one with a lookup share the count.
    const plain = createVerifier({ ...common, keys: [{ secret: LIVE_KEY, id: 'k1' }] });
    const perTenant = createVerifier({
      ...common,
      keys: (tenant) => (tenant === 'nobody' ? undefined : { tenant, keys: [{ secret: LIVE_KEY, id: 'k1' }] }),
      tenant: (r) => r.headers?.['x-team'] as string,
    });
    await plain.verify(good('u'));
    await perTenant.verify({ headers: { 'x-team': 'nobody' }, ...good('u') });
    for (const team of ['a', 'b', 'c']) await perTenant.verify({ headers: { 'x-team': team }, ...good('u') });
    expect(stats.stats().series.map((s) => s.tenant)).toEqual([null, '(unknown)', 'a', 'b', '(other)']);
  });

  it("add up, whatever the order: every count in exactly one row, each row its labels' tally, within the bounds (fast-check)", () => {
    const label = <T>(values: readonly T[]) => fc.constantFrom(...values);
    const arbitraryCount = fc.record({
      tenant: label([undefined, null, 'a', 'b', 'c', 'd']),
      scheme: label([undefined, 'user-hash', 'jwt'] as const),
      outcome: label(['VERIFIED', 'INVALID_SIGNATURE', 'MISSING_IDENTITY'] as const),
      keyId: label([undefined, 'k1', 'k2', 'k3']),
      test: label([undefined, true, false]),
      via: label([undefined, 'proof', 'session'] as const),
      mode: label(['enforce', 'report', 'off'] as const),
      mistake: label([undefined, 'previous-key-expired']),
    });
    // Often the previous count with one label changed: what the row of the previous count must not be mistaken for.
    const FIELDS = ['tenant', 'scheme', 'outcome', 'keyId', 'test', 'via', 'mode', 'mistake'] as const;
    const arbitraryCounts = fc.array(fc.tuple(arbitraryCount, fc.nat(FIELDS.length)), { maxLength: 300 }).map((steps) => {
      const counts: (typeof steps)[number][0][] = [];
      for (const [fresh, field] of steps) {
        const previous = counts.at(-1);
        counts.push(previous && field < FIELDS.length ? { ...previous, [FIELDS[field]!]: fresh[FIELDS[field]!] } : fresh);
      }
      return counts;
    });
    fc.assert(
      fc.property(arbitraryCounts, fc.boolean(), (counts, tight) => {
        const bounds = tight ? { maxTenants: 2, maxKeyIds: 2, maxSeries: 40 } : {};
        const stats = identityStats({ ...bounds, now: frozenClock });
        const counters = countersFor(stats)!;
        for (const count of counts) counters.count({ ...count });
        const { series, limits } = stats.stats();
        expect(series.reduce((sum, s) => sum + s.total, 0)).toBe(counts.length);
        expect(new Set(series.map((s) => JSON.stringify({ ...s, total: 0, minutes: [], hours: [] }))).size).toBe(series.length);
        if (tight) {
          expect(new Set(series.map((s) => s.tenant)).size).toBeLessThanOrEqual(2 + 3); // + no tenant, (unknown), (other)
          expect(series.length).toBeLessThanOrEqual(40 + 3 * 3); // + one overflow row per outcome and mode
          return;
        }
        // Within the bounds, a row is the tally of its labels.
        expect(limits.folded).toBe(0);
        const tally = new Map<string, number>();
        const asLabels = (c: (typeof counts)[number]) =>
          JSON.stringify([
            c.tenant === undefined ? null : (c.tenant ?? '(unknown)'),
            c.scheme ?? null,
            c.outcome,
            c.keyId ?? null,
            c.test === undefined ? null : c.test ? 'test' : 'live',
            c.via ?? null,
            c.mode,
            c.mistake ?? null,
          ]);
        for (const count of counts) tally.set(asLabels(count), (tally.get(asLabels(count)) ?? 0) + 1);
        expect(
          new Map(series.map((s) => [JSON.stringify([s.tenant, s.scheme, s.outcome, s.keyId, s.key, s.via, s.mode, s.mistake]), s.total])),
        ).toEqual(tally);
      }),
      { numRuns: 200 },
    );
  });

  it('hold 5,000 rows (the default maxSeries) in under 10 MiB: about 1 kB a row, rings included', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const used = () => (gc(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
    const before = used();
    const stats = identityStats({ now: frozenClock });
    const counters = countersFor(stats)!;
    const outcomes = ['VERIFIED', 'INVALID_SIGNATURE', 'MISSING_IDENTITY', 'SIGNATURE_EXPIRED', 'MALFORMED_IDENTITY'] as const;
    for (let tenant = 0; tenant < 100; tenant++) {
      for (let key = 0; key < 10; key++) {
        for (const outcome of outcomes) {
          counters.count({
            tenant: `tenant-${tenant}`,
            scheme: 'user-hash',
            outcome,
            keyId: `key-${key}`,
            test: false,
            via: 'proof',
            mode: 'report',
            mistake: undefined,
          });
        }
      }
    }
    const bytes = used() - before;
    expect(stats.stats().series).toHaveLength(5000);
    expect(bytes / 5000).toBeLessThan(2048);
    expect(bytes).toBeLessThan(10 * 2 ** 20);
  });

  it('never take a label from the request: a tenant the lookup did not answer is (unknown); a kid, a junk name never appear', async () => {
    const stats = identityStats({ now: frozenClock });
    const verifier = createVerifier({
      scheme: 'jwt',
      keys: (tenant) => (tenant === 'acme' ? [{ secret: OTHER_TENANT_KEY, id: 'acme-key' }] : undefined),
      tenant: (r) => r.headers?.['x-team'] as string,
      now: frozenClock,
      stats,
      diagnostics: true,
    });
    const token = signJwt({ externalId: 'x' }, PREVIOUS_KEY, { now: frozenClock, keyId: 'kid-from-the-client' });
    for (const team of ['acme', 'junk-tenant-name-1', 'junk-tenant-name-2']) {
      await verifier.verify({ headers: { 'x-team': team, authorization: `Bearer ${token}` } });
    }
    const text = JSON.stringify(stats.stats());
    expect(text).not.toContain('kid-from-the-client');
    expect(text).not.toContain('junk-tenant');
    expect(stats.stats().series.map((s) => [s.tenant, s.outcome])).toEqual(
      expect.arrayContaining([
        ['acme', 'INVALID_SIGNATURE'],
        ['(unknown)', 'KEY_UNAVAILABLE'],
      ]),
    );
  });

  it('record the key a diagnosis found behind failures, with its expiry, and the mistake', async () => {
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: [
        { secret: LIVE_KEY, id: 'new' },
        { secret: PREVIOUS_KEY, id: 'old', expiresAt: NOW - 3_600_000 },
      ],
      now: frozenClock,
      diagnostics: true,
    });
    await verifier.verify(good('u', PREVIOUS_KEY));
    const snapshot = verifier.stats();
    expect(snapshot.series).toEqual([
      expect.objectContaining({ outcome: 'INVALID_SIGNATURE', keyId: 'old', key: 'live', mistake: 'previous-key-expired' }),
    ]);
    expect(snapshot.keys).toEqual([{ tenant: null, keyId: 'old', test: false, expiresAt: '2025-12-31T23:00:00.000Z' }]);
  });

  it('a shared count gathers several verifiers; stats: false counts nothing; a look-alike count is refused', async () => {
    const stats = identityStats({ now: frozenClock });
    const one = createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: frozenClock, stats });
    const two = createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: frozenClock, stats });
    await one.verify(good('a'));
    await two.verify(good('b'));
    expect(one.stats().series[0]!.total).toBe(2);
    const off = createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], stats: false });
    expect(() => off.stats()).toThrow(/stats option is false/);
    expect(() => createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], stats: { stats: () => stats.stats() } })).toThrow(/identityStats/);
    expect(() => identityStats({ maxTenants: 0 })).toThrow(/maxTenants/);
    expect(() => identityStats({ maxTenant: 5 } as never)).toThrow(/no option "maxTenant"/);
  });
});

describe('Prometheus, through a real prom-client Registry', () => {
  it('exposes chat_identity_requests_total with the labels, set (not added) at each scrape', async () => {
    const registry = new Registry();
    const stats = identityStats({ now: frozenClock });
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({ tenant, keys: [{ secret: LIVE_KEY, id: 'k1' }], required: 'report' }),
      tenant: () => 'acme',
      now: frozenClock,
      stats,
    });
    prometheusMetrics(stats, { registry });
    await verifier.verify(good('a'));
    await verifier.verify(good('b'));
    await verifier.verify(bad('c'));
    const scrape = () => registry.metrics();
    const first = await scrape();
    expect(first).toContain('# TYPE chat_identity_requests_total counter');
    expect(first).toContain(
      'chat_identity_requests_total{tenant="acme",scheme="user-hash",outcome="VERIFIED",key_id="k1",key="live",via="proof",mode="report",mistake=""} 2',
    );
    expect(first).toContain(
      'chat_identity_requests_total{tenant="acme",scheme="user-hash",outcome="INVALID_SIGNATURE",key_id="",key="",via="proof",mode="report",mistake=""} 1',
    );
    expect(await scrape()).toBe(first);
    await verifier.verify(good('d'));
    expect(await scrape()).toContain('outcome="VERIFIED",key_id="k1",key="live",via="proof",mode="report",mistake=""} 3');
    expect(PROMETHEUS_LABELS).toHaveLength(8);
    // A verifier is a source too; the same name twice in one registry is prom-client's error.
    expect(() => prometheusMetrics(verifier, { registry })).toThrow(/already been registered/);
    prometheusMetrics(verifier, { registry, name: 'support_identity_requests_total' });
    expect(await scrape()).toContain('support_identity_requests_total{tenant="acme"');
    expect(() => prometheusMetrics({} as never)).toThrow(/verifier or a count/);
  });
});

describe('OpenTelemetry, through a real SDK MeterProvider and MetricReader', () => {
  class TestReader extends MetricReader {
    protected onShutdown = async () => {};
    protected onForceFlush = async () => {};
  }

  it('observes chat_identity.requests, cumulative, with the attributes that apply', async () => {
    const reader = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
    const provider = new MeterProvider({ readers: [reader] });
    const verifier = createVerifier({ scheme: 'user-hash', keys: [{ secret: LIVE_KEY, id: 'k1' }], now: frozenClock });
    const binding = openTelemetryMetrics(verifier, { meter: provider.getMeter('test') });
    await verifier.verify(good('a'));
    await verifier.verify(bad('b'));
    const read = async () => {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'chat_identity.requests');
      return metric;
    };
    const metric = (await read())!;
    expect(metric.descriptor).toMatchObject({ unit: '{request}' });
    const points = (metric.dataPoints as DataPoint<number>[]).map((p) => ({ value: p.value, attributes: p.attributes }));
    expect(points).toEqual(
      expect.arrayContaining([
        {
          value: 1,
          attributes: {
            'chat_identity.outcome': 'VERIFIED',
            'chat_identity.mode': 'off',
            'chat_identity.scheme': 'user-hash',
            'chat_identity.key_id': 'k1',
            'chat_identity.key': 'live',
            'chat_identity.via': 'proof',
          },
        },
        {
          value: 1,
          attributes: {
            'chat_identity.outcome': 'INVALID_SIGNATURE',
            'chat_identity.mode': 'off',
            'chat_identity.scheme': 'user-hash',
            'chat_identity.via': 'proof',
          },
        },
      ]),
    );
    await verifier.verify(good('c'));
    const again = (await read())!;
    expect((again.dataPoints as DataPoint<number>[]).find((p) => p.attributes['chat_identity.outcome'] === 'VERIFIED')!.value).toBe(2);
    binding.stop();
    await verifier.verify(good('d'));
    // No longer observed: the SDK keeps the last cumulative value, and it no longer moves.
    const stopped = (await read())?.dataPoints as DataPoint<number>[] | undefined;
    expect(stopped?.find((p) => p.attributes['chat_identity.outcome'] === 'VERIFIED')?.value ?? 2).toBe(2);
    await provider.shutdown();
  });
});

describe('OpenTelemetry, wired as an app wires it: the global MeterProvider, a PeriodicExportingMetricReader, an InMemoryMetricExporter', () => {
  const exported = (exporter: InMemoryMetricExporter) =>
    exporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
      .filter((m) => m.descriptor.name === 'chat_identity.requests')
      .map((m) => Object.fromEntries((m.dataPoints as DataPoint<number>[]).map((p) => [p.attributes['chat_identity.outcome'], p.value])));

  it.each([
    [
      'cumulative',
      AggregationTemporality.CUMULATIVE,
      [
        { VERIFIED: 2, INVALID_SIGNATURE: 1 },
        { VERIFIED: 3, INVALID_SIGNATURE: 1 },
      ],
    ],
    [
      'delta',
      AggregationTemporality.DELTA,
      [
        { VERIFIED: 2, INVALID_SIGNATURE: 1 },
        { VERIFIED: 1, INVALID_SIGNATURE: 0 },
      ],
    ],
  ] as const)('%s: each flush exports what was counted', async (_, temporality, expected) => {
    const exporter = new InMemoryMetricExporter(temporality);
    const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })] });
    metrics.setGlobalMeterProvider(provider);
    try {
      const stats = identityStats({ now: frozenClock });
      const verifier = createVerifier({ scheme: 'user-hash', keys: [{ secret: LIVE_KEY, id: 'k1' }], now: frozenClock, stats });
      openTelemetryMetrics(stats); // the default meter: metrics.getMeter('chat-identity'), from the global provider
      await verifier.verify(good('a'));
      await verifier.verify(good('b'));
      await verifier.verify(bad('c'));
      await provider.forceFlush();
      await verifier.verify(good('d'));
      await provider.forceFlush();
      expect(exported(exporter)).toEqual(expected);
    } finally {
      await provider.shutdown();
      metrics.disable();
    }
  });
});

describe('onResult', () => {
  it('hands every result a summary to log as it is, after counting; a failing hook fails no request and is said once', async () => {
    const summaries: ResultSummary[] = [];
    const said: string[] = [];
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({ tenant, keys: [{ secret: LIVE_KEY, id: 'k1' }], required: tenant === 'acme' ? 'report' : true }),
      tenant: (r) => r.headers?.['x-team'] as string,
      now: frozenClock,
      diagnostics: true,
      onResult: (summary) => void summaries.push(summary),
      logger: { warn() {}, error: (m) => said.push(m) },
    });
    await verifier.verify({ headers: { 'x-team': 'acme' }, ip: '10.0.0.7', ...good('a') });
    await verifier.verify({ headers: { 'x-team': 'acme' }, ip: '2001:db8::1', ...bad('b') });
    await verifier.verify({ headers: { 'x-team': 'globex' }, ip: '127.0.0.1', body: {} });
    expect(summaries).toEqual([
      {
        outcome: 'verified',
        code: 'VERIFIED',
        mode: 'report',
        scheme: 'user-hash',
        tenant: 'acme',
        keyId: 'k1',
        test: false,
        via: 'proof',
        address: 'private',
      },
      {
        outcome: 'reported',
        code: 'INVALID_SIGNATURE',
        mode: 'report',
        scheme: 'user-hash',
        tenant: 'acme',
        via: 'proof',
        wouldReject: 'INVALID_SIGNATURE',
        address: 'public',
      },
      { outcome: 'rejected', code: 'MISSING_IDENTITY', mode: 'enforce', tenant: 'globex', address: 'loopback' },
    ]);
    const throwing = createVerifier({
      scheme: 'user-hash',
      keys: [LIVE_KEY],
      now: frozenClock,
      onResult: () => {
        throw new Error('log pipe broken');
      },
      logger: { warn() {}, error: (m) => said.push(m) },
    });
    const rejecting = createVerifier({
      scheme: 'user-hash',
      keys: [LIVE_KEY],
      now: frozenClock,
      onResult: () => Promise.reject(new Error('async')),
      logger: { warn() {}, error: (m) => said.push(m) },
    });
    expect(await throwing.verify(good('a'))).toMatchObject({ verified: true });
    expect(await throwing.verify(good('a'))).toMatchObject({ verified: true });
    expect(await rejecting.verify(good('a'))).toMatchObject({ verified: true });
    await new Promise((resolve) => setImmediate(resolve));
    expect(said.filter((m) => m.includes('onResult'))).toEqual([
      'chat-identity: the onResult option threw (Error: log pipe broken); the requests go on, unlogged by it.',
      'chat-identity: the onResult option threw (Error: async); the requests go on, unlogged by it.',
    ]);
    expect(() => createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], onResult: 'log' as never })).toThrow(
      /onResult must be a function/,
    );
  });

  it("is logged as it is by pino (Fastify's logger): each line carries the summary, value for value", async () => {
    const lines: string[] = [];
    const summaries: ResultSummary[] = [];
    const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => void lines.push(line) } } });
    await app.register(fastifyIdentity, {
      scheme: 'user-hash',
      keys: (tenant) => ({ tenant, keys: [{ secret: LIVE_KEY, id: 'k1' }], required: 'report' }),
      tenant: () => 'acme',
      now: frozenClock,
      diagnostics: true,
      onResult: (summary) => {
        summaries.push(summary);
        app.log.info({ identity: summary }, 'identity check');
      },
    });
    app.post('/chat', async (request) => ({ verified: request.identity?.verified }));
    for (const body of [good('a').body, bad('b').body, { message: 'hi' }])
      await app.inject({ method: 'POST', url: '/chat', payload: body });
    await app.close();
    const logged = lines
      .map((line) => JSON.parse(line) as { msg: string; identity?: unknown })
      .filter((line) => line.msg === 'identity check');
    expect(summaries.map((s) => s.outcome)).toEqual(['verified', 'reported', 'reported']);
    expect(logged.map((line) => line.identity)).toEqual(summaries);
    // Plain data: strings, numbers and booleans, nothing a serializer must be told about.
    for (const summary of summaries)
      expect(Object.values(summary).every((v) => ['string', 'number', 'boolean'].includes(typeof v))).toBe(true);
  });

  it('classes addresses without keeping them', () => {
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1'].map(addressClass)).toEqual(['loopback', 'loopback', 'loopback']);
    expect(['10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.0.1', '100.64.0.1', 'fd00::1', 'fe80::1%eth0'].map(addressClass)).toEqual(
      Array(7).fill('private'),
    );
    expect(['203.0.113.1', '172.32.0.1', '2001:db8::1'].map(addressClass)).toEqual(['public', 'public', 'public']);
    expect([undefined, '', 'not an address', '1.2.3.4, 5.6.7.8', 'x'.repeat(100)].map(addressClass)).toEqual(Array(5).fill('none'));
  });

  it('says nothing secret and quotes no client data: the conformance and attack tables swept, diagnostics on', async () => {
    const secrets = [LIVE_KEY, PREVIOUS_KEY, TEST_KEY, OTHER_TENANT_KEY];
    /** What this package may say that also appears in requests: configured names, scheme names, codes. */
    const configured = new Set([
      'acme',
      'globex',
      'initech',
      '2024-old',
      '2025',
      'user-hash',
      'signed-payload',
      'contact-hash',
      'visitor-hash',
    ]);
    const leaks: string[] = [];
    for (const testCase of [...CASES, ...ATTACK_CASES]) {
      const said: string[] = [];
      const stats = identityStats({ now: frozenClock });
      const options: VerifierOptions = {
        keys: [LIVE_KEY],
        now: frozenClock,
        logger: silent,
        ...testCase.options,
        diagnostics: true,
        stats,
        onResult: (summary) => void said.push(JSON.stringify(summary)),
      };
      const verifier = createVerifier(options);
      const requests = [...(testCase.before ?? []), testCase.request].filter((r) => !r.session).map((r) => plainRequest(r));
      for (const request of requests) await verifier.verify(request);
      said.push(JSON.stringify(stats.stats()));
      const output = said.join('\n');
      const forbidden = new Set<string>();
      for (const secret of secrets) for (let i = 0; i + 12 <= secret.length; i++) forbidden.add(secret.slice(i, i + 12));
      for (const request of requests) {
        for (const text of stringsIn(request)) {
          if (configured.has(text) || text.length < 8) continue;
          forbidden.add(text.slice(0, 40));
          for (const secret of secrets) for (const mac of hmacEncodings(secret, text)) forbidden.add(mac.slice(0, 16));
        }
      }
      for (const piece of forbidden) if (output.includes(piece)) leaks.push(`${testCase.name}: ${piece}`);
    }
    expect(leaks).toEqual([]);
  }, 60_000);
});

/** Every string a request carries, at any depth (header values, body fields, a token's parts). */
function stringsIn(request: VerifyRequest): string[] {
  const out: string[] = [];
  const walk = (value: unknown, depth: number): void => {
    if (depth > 6) return;
    if (typeof value === 'string') {
      out.push(value, ...value.split(/[\s.]+/).filter((part) => part !== value));
    } else if (Array.isArray(value)) value.forEach((v) => walk(v, depth + 1));
    else if (value !== null && typeof value === 'object') Object.values(value).forEach((v) => walk(v, depth + 1));
  };
  walk({ headers: { ...request.headers, host: undefined }, body: request.body }, 0);
  return out;
}

describe('the readiness report', () => {
  const snapshotWith = async (traffic: { good: number; bad: number; required: boolean | 'report' | 'mixed' }): Promise<StatsSnapshot> => {
    const clock = movingClock();
    let required: boolean | 'report' = traffic.required === 'mixed' ? 'report' : traffic.required;
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({ tenant, keys: [LIVE_KEY], required }),
      tenant: () => 't',
      now: clock.now,
      rateLimit: false,
    });
    for (let i = 0; i < traffic.bad; i++) await verifier.verify(bad(`b${i}`));
    if (traffic.required === 'mixed') {
      required = true;
      verifier.refreshKeys();
    }
    for (let i = 0; i < traffic.good; i++) await verifier.verify(good(`g${i}`));
    return verifier.stats();
  };

  it('judges ready, not ready, too few, enforcing and no traffic; windows hour, day and all', async () => {
    expect(rolloutReport(await snapshotWith({ good: 995, bad: 5, required: 'report' })).tenants[0]).toMatchObject({
      verdict: 'ready',
      validPercent: 99.5,
      failingPercent: 0.5,
    });
    expect(rolloutReport(await snapshotWith({ good: 994, bad: 6, required: 'report' })).tenants[0]).toMatchObject({
      verdict: 'not-ready',
      validPercent: 99.4,
    });
    expect(rolloutReport(await snapshotWith({ good: 994, bad: 6, required: 'report' }), { maxFailingPercent: 1 }).tenants[0]!.verdict).toBe(
      'ready',
    );
    expect(rolloutReport(await snapshotWith({ good: 99, bad: 0, required: 'report' })).tenants[0]!.verdict).toBe('too-few');
    expect(rolloutReport(await snapshotWith({ good: 99, bad: 1, required: true })).tenants[0]!.verdict).toBe('enforcing');
    // Both modes in the window: judged as a rollout, not as enforcing.
    const mixed = rolloutReport(await snapshotWith({ good: 200, bad: 1, required: 'mixed' })).tenants[0]!;
    expect(mixed).toMatchObject({ modes: ['enforce', 'report'], verdict: 'ready' });
    const empty = identityStats({ now: frozenClock }).stats();
    expect(rolloutReport(empty)).toMatchObject({ tenants: [], ready: true });
    // A whole day later nothing is left in the hour, everything since the start.
    const snapshot = await snapshotWith({ good: 100, bad: 0, required: 'report' });
    const later = {
      ...snapshot,
      at: '2026-01-02T00:00:00.000Z',
      series: snapshot.series.map((s) => ({ ...s, minutes: Array(60).fill(0), hours: Array(24).fill(0) })),
    };
    expect(rolloutReport(later).tenants[0]!.verdict).toBe('no-traffic');
    expect(rolloutReport(later, { window: 'all' }).tenants[0]!.requests).toBe(100);
    expect(rolloutReport(snapshot, { window: 'day' }).tenants[0]!.timeline.requests).toHaveLength(24);
    expect(() => rolloutReport({ series: [] } as never)).toThrow(/not a stats snapshot/);
  });
});
