/**
 * Rollout (docs/rollout.md): `required: 'report'` lets every request through, as anonymous and
 * marked `wouldReject`, and counts exactly what `required: true` then refuses; per tenant through the
 * keys lookup's answer; sessions and limits in report mode; the kit's decision (`mustReject`); and
 * the walk of one tenant from report to enforce, through the core and every adapter, read back by
 * `chat-identity report`. The clock is frozen (the `now` option), never slept on.
 */
import { describe, expect, it, vi } from 'vitest';
import { run, type CliIO } from '../cli/main.js';
import { createRequestCheck } from '../adapters/adapter.js';
import {
  createVerifier,
  identityStats,
  rolloutReport,
  signUserHash,
  type IdentityResult,
  type StatsSeries,
  type StatsSnapshot,
  type TenantKeySet,
  type VerifierOptions,
  type VerifyRequest,
} from '../src/index.js';
import { ROLLOUT_TRAFFIC, type RolloutRequest } from './conformance/cases.js';
import { PATHS, plainRequest } from './conformance/paths.js';
import { LIVE_KEY, NOW, PREVIOUS_KEY, frozenClock } from './helpers.js';

const silent = { warn() {}, error() {} };
const PATH_NAMES = Object.keys(PATHS) as (keyof typeof PATHS)[];

/** The series of a snapshot without their mode, sorted: what two runs in different modes must share. */
function countsOf(snapshot: StatsSnapshot) {
  const rows = snapshot.series.map(({ mode: _, minutes: __, hours: ___, ...rest }) => rest);
  return rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const failing = (snapshot: StatsSnapshot) => snapshot.series.filter((s) => s.outcome !== 'VERIFIED');
const totalOf = (series: readonly StatsSeries[]) => series.reduce((sum, s) => sum + s.total, 0);

describe('report mode counts exactly what enforcing refuses, through every path', () => {
  /** Sends one traffic entry (its `before` requests first) through a path, counting into `stats`. */
  const send = (path: keyof typeof PATHS, entry: RolloutRequest, required: true | 'report', stats: ReturnType<typeof identityStats>) =>
    PATHS[path]({ keys: [LIVE_KEY], now: frozenClock, logger: silent, ...entry.options, required, stats }, false, [
      ...(entry.before ?? []),
      entry.request,
    ]);

  it.each(PATH_NAMES)('%s', async (path) => {
    const reported = identityStats({ now: frozenClock });
    const enforced = identityStats({ now: frozenClock });
    for (const entry of ROLLOUT_TRAFFIC) {
      const asReported = await send(path, entry, 'report', reported);
      const asEnforced = await send(path, entry, true, enforced);
      // Report: every request through. Enforce: the refusal the report marked.
      expect(asReported.status).toBe(200);
      const identity = (asReported.body as { identity: IdentityResult }).identity;
      if (entry.refused) {
        expect(asEnforced).toMatchObject({ status: entry.refused.status, body: { code: entry.refused.code } });
        expect(identity).toMatchObject({ verified: false, wouldReject: entry.refused.code });
      } else {
        expect(asEnforced.status).toBe(200);
        expect(identity).toMatchObject({ verified: true });
        expect(identity).not.toHaveProperty('wouldReject');
      }
    }
    const [report, enforce] = [reported.stats(), enforced.stats()];
    // The same counts, row for row (tenant, scheme, outcome, key, via, mistake), but for the mode.
    expect(countsOf(report)).toEqual(countsOf(enforce));
    expect(new Set(report.series.map((s) => s.mode))).toEqual(new Set(['report']));
    expect(new Set(enforce.series.map((s) => s.mode))).toEqual(new Set(['enforce']));
    // What failed is what enforcing refused: every refused request, and the failed attempt before the rate limit.
    const refusedCodes = ROLLOUT_TRAFFIC.flatMap((e) => (e.refused ? [e.refused.code] : [])).concat('INVALID_SIGNATURE');
    expect(totalOf(failing(report))).toBe(refusedCodes.length);
    const byCode = (snapshot: StatsSnapshot) =>
      Object.fromEntries([...new Set(refusedCodes)].map((code) => [code, totalOf(failing(snapshot).filter((s) => s.outcome === code))]));
    expect(byCode(report)).toEqual(
      Object.fromEntries([...new Set(refusedCodes)].map((code) => [code, refusedCodes.filter((c) => c === code).length])),
    );
    // The tenant is the lookup's; the one it did not answer is (unknown), never the name the request gave.
    expect(new Set(report.series.map((s) => s.tenant))).toEqual(new Set(['acme', '(unknown)']));
  });
});

describe('a report result is the enforced result, marked', () => {
  it.each(ROLLOUT_TRAFFIC.map((e) => [e.name, e] as const))('%s', async (_, entry) => {
    const verify = async (required: true | 'report') => {
      const check = createRequestCheck({ keys: [LIVE_KEY], now: frozenClock, logger: silent, ...entry.options, required });
      let last: Awaited<ReturnType<typeof check.check>> | undefined;
      for (const request of [...(entry.before ?? []), entry.request]) {
        // Sessions: the core path carries them; here only the results matter, so sessions are left to the table.
        if (request.session) return undefined;
        last = await check.check(plainRequest(request), '');
      }
      return last!;
    };
    const [enforced, reported] = [await verify(true), await verify('report')];
    if (!enforced || !reported) return;
    expect(reported.rejection).toBeUndefined();
    expect(enforced.rejection?.code).toBe(entry.refused?.code);
    const { wouldReject, ...rest } = reported.result as IdentityResult & { wouldReject?: string };
    expect(wouldReject).toBe(entry.refused?.code);
    expect(JSON.parse(JSON.stringify(rest))).toEqual(JSON.parse(JSON.stringify(enforced.result)));
  });
});

describe('the mode of a request', () => {
  const bad = { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) };

  it("takes true, false and 'report', and refuses anything else at start-up", () => {
    expect(createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], required: 'report' }).required).toBe('report');
    for (const wrong of ['yes', 'enforce', 1, null]) {
      expect(() => createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], required: wrong as never })).toThrow(
        /options.required must be true or false, or 'report'/,
      );
    }
  });

  it('mustReject: an unverified result where required was true; never in report or off; always for a result it did not issue', async () => {
    for (const [required, expected] of [
      [true, true],
      ['report', false],
      [false, false],
    ] as const) {
      const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: frozenClock, required });
      const result = await verifier.verify({ body: bad });
      expect(verifier.mustReject(result)).toBe(expected);
      expect(verifier.mustReject(await verifier.verify({ body: { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY) } }))).toBe(false);
      // A look-alike, or another verifier's result: refused.
      expect(verifier.mustReject({ ...result })).toBe(true);
      expect(verifier.mustReject(await createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], required }).verify({ body: bad }))).toBe(
        true,
      );
    }
  });

  it('marks wouldReject only in report mode, and MISSING_IDENTITY for nothing presented only where it is not off', async () => {
    const nothing = async (required: boolean | 'report') =>
      createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], required }).verify({ body: {} });
    expect(await nothing(false)).toEqual({ verified: false });
    expect(await nothing(true)).toEqual({ verified: false, error: expect.objectContaining({ code: 'MISSING_IDENTITY' }) });
    expect(await nothing('report')).toEqual({
      verified: false,
      error: expect.objectContaining({ code: 'MISSING_IDENTITY' }),
      wouldReject: 'MISSING_IDENTITY',
    });
  });

  describe('per tenant, from the keys lookup', () => {
    const table = new Map<string, { keys: string[]; required?: boolean | 'report' }>([
      ['acme', { keys: [LIVE_KEY], required: 'report' }],
      ['globex', { keys: [LIVE_KEY], required: true }],
      ['initech', { keys: [], required: false }],
      ['hooli', { keys: [LIVE_KEY] }],
    ]);
    const calls: (string | undefined)[] = [];
    const lookup = (tenant: string | undefined): TenantKeySet => {
      calls.push(tenant);
      const row = tenant === undefined ? undefined : table.get(tenant);
      return row && { tenant, ...row };
    };
    const verifierWith = (required: boolean | 'report', extra: Partial<VerifierOptions> = {}) =>
      createVerifier({
        scheme: 'user-hash',
        keys: lookup,
        tenant: (r) => r.headers?.['x-team'] as string,
        now: frozenClock,
        required,
        logger: silent,
        ...extra,
      });
    const as = (team: string, body: object, ip = '192.0.2.1'): VerifyRequest => ({ headers: { 'x-team': team }, body, ip });

    it("the tenant's answer decides; a tenant that gives none, or that the lookup does not know, gets the option", async () => {
      const verifier = verifierWith(true);
      const results = {
        acme: await verifier.verify(as('acme', bad)),
        globex: await verifier.verify(as('globex', bad)),
        hooli: await verifier.verify(as('hooli', bad)),
        unknown: await verifier.verify(as('umbrella', bad)),
        initech: await verifier.verify(as('initech', {})),
      };
      expect(results.acme).toMatchObject({ wouldReject: 'INVALID_SIGNATURE' });
      expect(verifier.mustReject(results.acme)).toBe(false);
      expect(verifier.mustReject(results.globex)).toBe(true);
      expect(verifier.mustReject(results.hooli)).toBe(true);
      expect(verifier.mustReject(results.unknown)).toBe(true);
      expect(results.initech).toEqual({ verified: false });
      expect(verifier.mustReject(results.initech)).toBe(false);
      // With the option report, the unknown tenant goes through too.
      const lenient = verifierWith('report');
      expect(lenient.mustReject(await lenient.verify(as('umbrella', bad)))).toBe(false);
      expect(lenient.mustReject(await lenient.verify(as('globex', bad)))).toBe(true);
    });

    it('a request with no proof asks the lookup for its mode once (cached), and the address limit admits the uncached', async () => {
      calls.length = 0;
      const verifier = verifierWith(false, { rateLimit: { address: { points: 3, duration: 60 } } });
      for (let i = 0; i < 5; i++) expect(verifier.mustReject(await verifier.verify(as('globex', {})))).toBe(true);
      expect(calls).toEqual(['globex']);
      // Junk tenants with no proof: each failed lookup counts against the address; past 3, no lookup is bought.
      calls.length = 0;
      // Those past it are enforced: their tenants' modes were never learnt.
      for (let i = 0; i < 10; i++) {
        const result = await verifier.verify(as(`junk-${i}`, {}, '203.0.113.7'));
        if (i < 3) expect(result).toEqual({ verified: false });
        else expect(verifier.mustReject(result)).toBe(true);
      }
      expect(calls).toEqual(['junk-0', 'junk-1', 'junk-2']);
    });

    it('a client over its limit buys no lookup for its mode: a cached tenant keeps its mode, another is enforced', async () => {
      const verifier = verifierWith(true, { rateLimit: { address: { points: 1, duration: 60 } } });
      await verifier.verify(as('acme', bad, '203.0.113.9'));
      calls.length = 0;
      const limited = await verifier.verify(as('acme', bad, '203.0.113.9'));
      expect(limited).toMatchObject({ error: { code: 'RATE_LIMITED' }, wouldReject: 'RATE_LIMITED' });
      const other = await verifier.verify(as('hooli', bad, '203.0.113.9'));
      expect(verifier.mustReject(other)).toBe(true);
      expect(calls).toEqual([]);
    });

    it('a request stopped before the lookup could be asked is enforced, whatever the option: a limited client gets no lenience', async () => {
      // The option is off and globex enforces: an attacker who first gets its address limited must not
      // reach globex's routes as an anonymous visitor, with a proof or without, under any spelling.
      const verifier = verifierWith(false, { rateLimit: { address: { points: 2, duration: 60 } } });
      for (let i = 0; i < 3; i++) await verifier.verify(as(`junk-${i}`, bad, '203.0.113.66'));
      calls.length = 0;
      const forged = await verifier.verify(as('globex', bad, '203.0.113.66'));
      expect(forged).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      expect(verifier.mustReject(forged)).toBe(true);
      expect(verifier.mustReject(await verifier.verify(as('globex', {}, '203.0.113.66')))).toBe(true);
      expect(calls).toEqual([]); // and it bought no lookup
      // A tenant name refused unread (over 256 characters) is enforced too.
      const long = await verifier.verify(as('g'.repeat(300), {}, '198.51.100.1'));
      expect(verifier.mustReject(long)).toBe(true);
      // A client within its limit gets its tenant's mode, and a lookup that fails leaves the option.
      expect(verifier.mustReject(await verifier.verify(as('acme', bad, '198.51.100.2')))).toBe(false);
      const failing = verifierWith(false, { keys: () => Promise.reject(new Error('database down')) });
      expect(failing.mustReject(await failing.verify(as('globex', bad, '198.51.100.3')))).toBe(false);
    });

    it('a misspelt or wrong setting in an answer fails closed (KEY_UNAVAILABLE), said once', async () => {
      const said: string[] = [];
      const answers: Record<string, unknown> = { a: { keys: [LIVE_KEY], requried: 'report' }, b: { keys: [LIVE_KEY], required: 'yes' } };
      const verifier = createVerifier({
        scheme: 'user-hash',
        keys: (tenant) => answers[tenant!] as TenantKeySet,
        tenant: (r) => r.headers?.['x-team'] as string,
        required: 'report',
        logger: { warn() {}, error: (m) => said.push(m) },
      });
      for (const team of ['a', 'a', 'b']) {
        expect(await verifier.verify(as(team, { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY) }))).toMatchObject({
          wouldReject: 'KEY_UNAVAILABLE',
        });
      }
      expect(said.filter((m) => m.includes('"requried"'))).toHaveLength(1);
      expect(said.filter((m) => m.includes("not true, false or 'report'"))).toHaveLength(1);
    });
  });
});

describe('one tenant, from report to enforce', () => {
  // The tenants table a real app reads its lookup from: acme signs with its current key; a page of its
  // site still signs with the key it retired yesterday.
  const RETIRED = { secret: PREVIOUS_KEY, id: '2024-old', expiresAt: NOW - 86_400_000 };
  const CURRENT = { secret: LIVE_KEY, id: '2025' };

  it.each(PATH_NAMES)('%s', async (path) => {
    const tenants = new Map<string, { required: boolean | 'report' }>([['acme', { required: 'report' }]]);
    let now = NOW;
    const clock = () => now;
    const stats = identityStats({ now: clock });
    const options = {
      scheme: 'user-hash' as const,
      tenant: (r: VerifyRequest) => r.headers?.['x-team'] as string | undefined,
      keys: (tenant: string | undefined) =>
        tenant === 'acme' ? { tenant, keys: [CURRENT, RETIRED], required: tenants.get(tenant)!.required } : undefined,
      required: false,
      diagnostics: true,
      rateLimit: false as const,
      now: clock,
      stats,
      logger: silent,
    };
    const send = (body: object) => PATHS[path](options, false, [{ headers: { 'x-team': 'acme' }, body }]);
    const good = (i: number) => ({ user_id: `u${i}`, user_hash: signUserHash(`u${i}`, LIVE_KEY) });
    const stale = (i: number) => ({ user_id: `s${i}`, user_hash: signUserHash(`s${i}`, PREVIOUS_KEY) });

    // Report: ten minutes of chats, one in eight from the page that signs with the retired key. All go through.
    for (let minute = 0; minute < 10; minute++) {
      now = NOW + minute * 60_000;
      for (let i = 0; i < 8; i++) expect((await send(i === 0 ? stale(minute) : good(i))).status).toBe(200);
    }
    let report = rolloutReport(stats.stats(), { minRequests: 50 });
    expect(report.tenants).toHaveLength(1);
    expect(report.tenants[0]).toMatchObject({ tenant: 'acme', modes: ['report'], requests: 80, verified: 70, verdict: 'not-ready' });
    expect(report.tenants[0]!.summary).toBe(
      'Not ready: 87.5 % valid over the last hour; the 12.5 % failing are INVALID_SIGNATURE under key "2024-old", which expired 24 hours ago ' +
        '(previous-key-expired).',
    );

    // The site deploys the current key everywhere; an hour of clean traffic later, acme is ready.
    for (let minute = 15; minute < 75; minute += 5) {
      now = NOW + minute * 60_000;
      for (let i = 0; i < 10; i++) expect((await send(good(i))).status).toBe(200);
    }
    report = rolloutReport(stats.stats(), { minRequests: 50 });
    expect(report.tenants[0]).toMatchObject({ verdict: 'ready', requests: 120, verified: 120, validPercent: 100 });
    expect(report.ready).toBe(true);

    // Enforce: the tenant's row says so (each request builds its app: no cache to refresh here).
    tenants.set('acme', { required: true });
    const refused = await send(stale(99));
    expect(refused).toMatchObject({ status: 401, body: { code: 'INVALID_SIGNATURE' } });
    expect((await send(good(1))).status).toBe(200);
    const enforced = stats.stats().series.filter((s) => s.mode === 'enforce');
    expect(
      enforced.map(({ outcome, keyId, total }) => ({ outcome, keyId, total })).sort((a, b) => a.outcome.localeCompare(b.outcome)),
    ).toEqual([
      { outcome: 'INVALID_SIGNATURE', keyId: '2024-old', total: 1 },
      { outcome: 'VERIFIED', keyId: '2025', total: 1 },
    ]);
  });

  it('a cached answer changes with refreshKeys(tenant): the switch to enforce applies at once', async () => {
    let required: boolean | 'report' = 'report';
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({ tenant, keys: [LIVE_KEY], required }),
      tenant: () => 'acme',
      now: frozenClock,
    });
    const bad = { body: { user_id: 'x', user_hash: signUserHash('y', LIVE_KEY) } };
    expect(verifier.mustReject(await verifier.verify(bad))).toBe(false);
    required = true;
    expect(verifier.mustReject(await verifier.verify(bad))).toBe(false); // cached (keyCache ttl)
    verifier.refreshKeys('acme');
    expect(verifier.mustReject(await verifier.verify(bad))).toBe(true);
  });
});

describe('sessions and limits in report mode', () => {
  it('a rate-limited request goes on as anonymous, marked RATE_LIMITED, and its proof is not checked', async () => {
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: [LIVE_KEY],
      now: frozenClock,
      required: 'report',
      rateLimit: { identity: { points: 1, duration: 60 } },
    });
    await verifier.verify({ body: { user_id: 'victim', user_hash: signUserHash('x', LIVE_KEY) } });
    const right = await verifier.verify({ body: { user_id: 'victim', user_hash: signUserHash('victim', LIVE_KEY) } });
    expect(right).toMatchObject({ verified: false, error: { code: 'RATE_LIMITED', retryAfter: 60 }, wouldReject: 'RATE_LIMITED' });
    expect(verifier.mustReject(right)).toBe(false);
  });
});

describe('chat-identity report', () => {
  async function cli(argv: string[], files: Record<string, string> = {}, stdin?: string) {
    let out = '';
    let err = '';
    const io: CliIO = {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      readStdin: async () => stdin ?? '',
      stdinIsTTY: stdin === undefined,
      env: {},
      now: () => NOW,
      readFile: async (path) => {
        if (files[path] === undefined) throw new Error(`ENOENT: ${path}`);
        return files[path]!;
      },
      writeFile: async () => {},
    };
    return { code: await run(argv, io), out, err };
  }

  async function snapshotOf(stale: number, good: number, required: boolean | 'report' = 'report') {
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: (tenant) => ({
        tenant,
        keys: [
          { secret: LIVE_KEY, id: '2025' },
          { secret: PREVIOUS_KEY, id: '2024-old', expiresAt: NOW - 86_400_000 },
        ],
        required,
      }),
      tenant: () => 'acme',
      now: frozenClock,
      diagnostics: true,
      rateLimit: false,
    });
    for (let i = 0; i < stale; i++) await verifier.verify({ body: { user_id: `s${i}`, user_hash: signUserHash(`s${i}`, PREVIOUS_KEY) } });
    for (let i = 0; i < good; i++) await verifier.verify({ body: { user_id: `u${i}`, user_hash: signUserHash(`u${i}`, LIVE_KEY) } });
    return JSON.stringify(verifier.stats());
  }

  it('prints per tenant the valid share, the failures with their diagnosis, and the verdict; exit 1 when not ready', async () => {
    const { code, out } = await cli(['report', 'stats.json'], { 'stats.json': await snapshotOf(13, 987) });
    expect(code).toBe(1);
    expect(out).toBe(
      [
        'Rollout report: the last hour (2026-01-01T00:00:00.000Z to 2026-01-01T00:00:00.000Z); counting since 2026-01-01T00:00:00.000Z.',
        '',
        'acme (report): 1,000 chat requests, 98.7 % valid (987 by proof, 0 by session)',
        '  failing 1.3 %:',
        '    INVALID_SIGNATURE           13    1.3 %  key "2024-old", which expired 24 hours ago',
        '      previous-key-expired (13): Previous key past its grace period. Deploy the current key to every server that signs. ' +
          'After a rotation the previous key only works until its expiresAt (the grace period).',
        '  verdict: Not ready: 98.7 % valid over the last hour; the 1.3 % failing are INVALID_SIGNATURE under key "2024-old", ' +
          'which expired 24 hours ago (previous-key-expired).',
        '',
      ].join('\n'),
    );
  });

  it('exit 0 when every tenant is ready; reads stdin and a URL; --json; a usage error for what is not a snapshot', async () => {
    const ready = await snapshotOf(1, 999);
    const fromStdin = await cli(['report', '-'], {}, ready);
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.out).toContain(
      'verdict: Ready to enforce: 99.9 % valid over the last hour (1,000 chat requests); enforcing would have refused 1 (0.1 %)',
    );
    const json = JSON.parse((await cli(['report', 'r.json', '--json', '--window', 'all'], { 'r.json': ready })).out);
    expect(json).toMatchObject({ ready: true, window: { name: 'all' }, tenants: [{ tenant: 'acme', requests: 1000, verified: 999 }] });
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(ready));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      expect((await cli(['report', `http://127.0.0.1:${port}/api/stats`, '--tenant', 'acme'])).code).toBe(0);
    } finally {
      server.close();
    }
    // Nothing counted: nothing to be ready with.
    const empty = await cli(['report', 'e.json'], { 'e.json': JSON.stringify(identityStats({ now: frozenClock }).stats()) });
    expect(empty).toMatchObject({ code: 1, out: expect.stringContaining('No requests were counted.') });
    const wrong = await cli(['report', 'x.json'], { 'x.json': '{"series":[]}' });
    expect(wrong).toMatchObject({ code: 2, err: expect.stringContaining('not a stats snapshot') });
    expect((await cli(['report', 'x.json'], { 'x.json': 'nope' })).code).toBe(2);
    expect((await cli(['report', 'r.json', '--window', 'week'], { 'r.json': ready })).code).toBe(2);
  });

  it('a URL that streams without end is read up to 64 MiB, then refused (exit 2), its connection closed', async () => {
    const { createServer } = await import('node:http');
    let closed = false;
    const chunk = Buffer.alloc(1 << 20, 0x20);
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json'); // no Content-Length: chunked, without end
      res.on('close', () => (closed = true));
      const pump = () => {
        while (!closed && res.write(chunk));
        if (!closed) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const outcome = await cli(['report', `http://127.0.0.1:${port}/api/stats`]);
      expect(outcome).toMatchObject({ code: 2, err: expect.stringContaining('is larger than 64 MiB') });
      await vi.waitFor(() => expect(closed).toBe(true));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a URL whose connection is cut while the body comes: a usage error that says so (exit 2), not a crash', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.write('{"format":"chat-identity-stats","series":[');
      setImmediate(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const outcome = await cli(['report', `http://127.0.0.1:${port}/api/stats`]);
      expect(outcome).toMatchObject({
        code: 2,
        err: expect.stringMatching(/^error: cannot fetch http:\/\/127\.0\.0\.1:\d+\/api\/stats: .* \(after \d+ bytes of the body\)\.\n$/),
      });
    } finally {
      server.close();
    }
  });

  it('a URL that never answers is given 10 seconds, not a millisecond less, then refused (exit 2)', async () => {
    const { createServer } = await import('node:http');
    let asked!: () => void;
    const requested = new Promise<void>((resolve) => (asked = resolve));
    const server = createServer(() => asked()); // never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // AbortSignal.timeout runs on Node's own timers, which fake timers do not reach: the same signal on the faked setTimeout.
    const timeout = vi.spyOn(AbortSignal, 'timeout').mockImplementation((ms) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms);
      return controller.signal;
    });
    try {
      const { port } = server.address() as { port: number };
      let outcome: Awaited<ReturnType<typeof cli>> | undefined;
      void cli(['report', `http://127.0.0.1:${port}/api/stats`]).then((o) => (outcome = o));
      // Turns of the event loop (never faked): enough for an aborted fetch to reach the CLI's answer.
      const settle = async () => {
        for (let i = 0; i < 500 && outcome === undefined; i++) await new Promise((resolve) => setImmediate(resolve));
      };
      await requested;
      await vi.advanceTimersByTimeAsync(9_999);
      await settle();
      expect(outcome).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      await settle();
      expect(outcome).toMatchObject({ code: 2, err: expect.stringContaining('aborted due to timeout') });
    } finally {
      timeout.mockRestore();
      vi.useRealTimers();
      server.closeAllConnections();
      server.close();
    }
  });

  it('rounds the valid share down and the failing share up, to one decimal: 1 failure in 10,000 shows 99.9 % and 0.1 %', async () => {
    const files = { 'r.json': await snapshotOf(1, 9_999) };
    const { out } = await cli(['report', 'r.json'], files);
    expect(out).toContain('acme (report): 10,000 chat requests, 99.9 % valid (9,999 by proof, 0 by session)\n  failing 0.1 %:\n');
    const { tenants } = JSON.parse((await cli(['report', 'r.json', '--json'], files)).out);
    expect(tenants[0]).toMatchObject({ validPercent: 99.9, failingPercent: 0.1 });
  });

  it('too few requests, and a tenant that enforces already', async () => {
    expect((await cli(['report', 'r.json'], { 'r.json': await snapshotOf(0, 20) })).out).toContain(
      'verdict: Too few to judge: 20 chat requests over the last hour (100 or more are needed).',
    );
    const enforcing = await cli(['report', 'r.json'], { 'r.json': await snapshotOf(2, 200, true) });
    expect(enforcing.out).toContain(
      'verdict: Enforcing: 99 % valid over the last hour; 1 % refused (2 of 202): INVALID_SIGNATURE under key "2024-old"',
    );
    expect(enforcing.code).toBe(0);
  });
});

vi.setConfig({ testTimeout: 30_000 });
