/**
 * "Ready to enforce?": a stats snapshot read per tenant, over a window (the last hour, the last day,
 * or since counting started): the share of chat requests that verified, the failures by code with
 * the key they named and the signing mistake diagnosed (the table of src/diagnosis/mistakes.ts), and
 * a verdict. `chat-identity report` prints it; the demo's rollout page draws its timeline.
 */
import { MISTAKES } from '../diagnosis/index.js';
import { duration, inWords } from '../diagnosis/wording.js';
import type { IdentityErrorCode } from '../errors.js';
import type { AppliedMode, StatsSeries, StatsSnapshot } from '../types.js';

/**
 * How `rolloutReport` reads a snapshot.
 *
 * @example
 * ```ts
 * const options: RolloutReportOptions = { window: 'day', minRequests: 500, maxFailingPercent: 0.1 };
 * ```
 */
export interface RolloutReportOptions {
  /** `'hour'` (default): the snapshot's last 60 minutes; `'day'`: its last 24 hours; `'all'`: since counting started. */
  window?: 'hour' | 'day' | 'all';
  /** Only this tenant (`null`: the requests of no tenant). */
  tenant?: string | null;
  /** Fewer chat requests than this in the window are too few to judge. Default 100. */
  minRequests?: number;
  /** The largest share of failing requests, in percent, that is still ready to enforce. Default 0.5. */
  maxFailingPercent?: number;
}

/** The failures of one code in a tenant's window. */
export interface FailureLine {
  code: IdentityErrorCode;
  count: number;
  /** Of the tenant's chat requests in the window. */
  percent: number;
  /** The configured keys the failures were found signed with (diagnosis), busiest first, with their expiry when known. */
  keys: { keyId: string; count: number; expiresAt: string | null }[];
  /** The signing mistakes diagnosed, busiest first, with their title and fix from the table. */
  mistakes: { id: string; title: string; fix: string; count: number }[];
  /** What the code usually means during a rollout, and what to do. */
  advice: string;
}

/**
 * One tenant's readiness: its counts in the window, its failures, its verdict, and its timeline
 * (per minute for `'hour'`, per hour otherwise), for a chart.
 *
 * @example
 * ```ts
 * const line = (t: TenantReadiness) => `${t.tenant ?? '(no tenant)'}: ${t.verdict}, ${t.validPercent} % valid`;
 * ```
 */
export interface TenantReadiness {
  /** As the keys lookup named it; `null` for requests of no tenant (static keys), `(unknown)`, `(other)`. */
  tenant: string | null;
  /** The modes its requests were judged in, within the window. */
  modes: AppliedMode[];
  requests: number;
  verified: number;
  byProof: number;
  bySession: number;
  /** `verified / requests`, in percent, rounded down to one decimal (so a failing tenant never shows 100). */
  validPercent: number;
  /** `100 - validPercent` as counted, rounded up to one decimal. */
  failingPercent: number;
  failures: FailureLine[];
  verdict: 'ready' | 'not-ready' | 'too-few' | 'enforcing' | 'no-traffic';
  /** The verdict in one sentence. */
  summary: string;
  timeline: { start: string; step: number; requests: number[]; verified: number[]; failures: Partial<Record<IdentityErrorCode, number[]>> };
}

/**
 * What `rolloutReport` returns: per tenant, busiest first.
 *
 * @example
 * ```ts
 * const report: RolloutReport = rolloutReport(verifier.stats());
 * if (report.ready) console.log('every tenant is ready to enforce');
 * ```
 */
export interface RolloutReport {
  at: string;
  since: string;
  window: { name: 'hour' | 'day' | 'all'; from: string; to: string };
  tenants: TenantReadiness[];
  /** Every tenant reported is ready (or enforcing already). */
  ready: boolean;
  /** Requests counted under `(other)` because a bound was reached (`identityStats` options). */
  folded: number;
}

const WINDOW_WORDS = { hour: 'over the last hour', day: 'over the last day', all: 'since counting started' } as const;

/** What each code usually means while a rollout is watched, and what to do about it. */
const ADVICE: Record<IdentityErrorCode, string> = {
  MISSING_IDENTITY:
    'No proof was sent: a page that does not call identify() yet (or only after the first message), or a visitor who is not ' +
    'signed in. Enforcing refuses every one of them.',
  MISSING_REQUIRED_FIELD:
    'A signature came without what it signs (the user id, externalId or email, iat, timestamp): the site sends part of the identity.',
  MALFORMED_IDENTITY:
    'The proof cannot be read (wrong types, base64 instead of hex, nested objects): `chat-identity check` names the mistake.',
  INVALID_SIGNATURE:
    'No configured key makes the signature: another key signed it (a retired one, a test one), or other data was signed. Turn on ' +
    'diagnostics, or paste one proof into `chat-identity check`, to name the mistake.',
  SIGNATURE_EXPIRED: 'Proofs older than maxAge: a page that keeps its proof too long, or a clock that is off.',
  RATE_LIMITED: 'Over the failed-attempt limits: guessing, or a widget retrying a bad proof. Enforcing answers 429, as now.',
  KEY_UNAVAILABLE:
    'No usable key for the tenant (none configured, all expired, or the lookup failing): configure its keys before enforcing.',
  SESSION_EXPIRED:
    'Sessions that ended (idle, at their maximum, their key rotated): the widget must answer the challenge with a fresh proof, ' +
    'or these chats fail once enforced.',
};

/**
 * Reads a stats snapshot (`verifier.stats()`, or the JSON of one) into a readiness report per tenant.
 * Throws a TypeError for anything that is not a snapshot.
 *
 * @example
 * ```ts
 * import { formatRolloutReport, rolloutReport } from 'chat-identity';
 * console.log(formatRolloutReport(rolloutReport(verifier.stats(), { window: 'hour' })));
 * ```
 */
export function rolloutReport(snapshot: StatsSnapshot, options: RolloutReportOptions = {}): RolloutReport {
  readSnapshot(snapshot);
  const name = options.window ?? 'hour';
  if (!(name in WINDOW_WORDS)) throw new TypeError("chat-identity: rolloutReport window must be 'hour', 'day' or 'all'.");
  const minRequests = options.minRequests ?? 100;
  const maxFailing = options.maxFailingPercent ?? 0.5;
  const at = Date.parse(snapshot.at);
  const from =
    name === 'hour'
      ? Date.parse(snapshot.windows.minutes.start)
      : name === 'day'
        ? Date.parse(snapshot.windows.hours.start)
        : Date.parse(snapshot.since);
  const inWindow = (s: StatsSeries) => (name === 'hour' ? sum(s.minutes) : name === 'day' ? sum(s.hours) : s.total);
  const buckets = (s: StatsSeries) => (name === 'hour' ? s.minutes : s.hours);
  const expiry = new Map(snapshot.keys.map((k) => [`${k.tenant}\0${k.keyId}`, k.expiresAt]));

  const byTenant = new Map<string | null, StatsSeries[]>();
  for (const series of snapshot.series) {
    if (options.tenant !== undefined && series.tenant !== options.tenant) continue;
    const list = byTenant.get(series.tenant) ?? [];
    list.push(series);
    byTenant.set(series.tenant, list);
  }

  const tenants = [...byTenant].map(([tenant, list]): TenantReadiness => {
    const step = name === 'hour' ? 60 : 3600;
    const size = name === 'hour' ? 60 : 24;
    const timeline: TenantReadiness['timeline'] = {
      start: name === 'hour' ? snapshot.windows.minutes.start : snapshot.windows.hours.start,
      step,
      requests: new Array<number>(size).fill(0),
      verified: new Array<number>(size).fill(0),
      failures: {},
    };
    let requests = 0;
    let byProof = 0;
    let bySession = 0;
    const modes = new Set<AppliedMode>();
    const failures = new Map<IdentityErrorCode, { count: number; keys: Map<string, number>; mistakes: Map<string, number> }>();
    for (const s of list) {
      const n = inWindow(s);
      if (n === 0) continue;
      requests += n;
      modes.add(s.mode);
      buckets(s).forEach((count, i) => (timeline.requests[i]! += count));
      if (s.outcome === 'VERIFIED') {
        if (s.via === 'session') bySession += n;
        else byProof += n;
        buckets(s).forEach((count, i) => (timeline.verified[i]! += count));
        continue;
      }
      const line = failures.get(s.outcome) ?? { count: 0, keys: new Map(), mistakes: new Map() };
      line.count += n;
      if (s.keyId !== null) line.keys.set(s.keyId, (line.keys.get(s.keyId) ?? 0) + n);
      if (s.mistake !== null) line.mistakes.set(s.mistake, (line.mistakes.get(s.mistake) ?? 0) + n);
      failures.set(s.outcome, line);
      const series = (timeline.failures[s.outcome] ??= new Array<number>(size).fill(0));
      buckets(s).forEach((count, i) => (series[i]! += count));
    }
    const verified = byProof + bySession;
    const failingCount = requests - verified;
    const validPercent = requests === 0 ? 0 : Math.floor((verified / requests) * 1000) / 10;
    const failingPercent = requests === 0 ? 0 : Math.ceil((failingCount / requests) * 1000) / 10;
    const lines: FailureLine[] = [...failures]
      .sort((a, b) => b[1].count - a[1].count)
      .map(([code, line]) => ({
        code,
        count: line.count,
        percent: Math.round((line.count / requests) * 1000) / 10,
        keys: busiest(line.keys).map(([keyId, count]) => ({ keyId, count, expiresAt: expiry.get(`${tenant}\0${keyId}`) ?? null })),
        mistakes: busiest(line.mistakes).map(([id, count]) => {
          const mistake = MISTAKES.find((m) => m.id === id);
          return { id, title: mistake?.title ?? id, fix: mistake?.fix ?? '', count };
        }),
        advice: ADVICE[code],
      }));
    const judged = {
      tenant,
      modes: [...modes].sort(),
      requests,
      verified,
      byProof,
      bySession,
      validPercent,
      failingPercent,
      failures: lines,
      timeline,
    };
    return { ...judged, ...verdictOf(judged, { words: WINDOW_WORDS[name], minRequests, maxFailing, at }) };
  });
  tenants.sort((a, b) => b.requests - a.requests || String(a.tenant).localeCompare(String(b.tenant)));
  return {
    at: snapshot.at,
    since: snapshot.since,
    window: { name, from: new Date(Math.max(from, Date.parse(snapshot.since))).toISOString(), to: snapshot.at },
    tenants,
    ready: tenants.every((t) => t.verdict === 'ready' || t.verdict === 'enforcing'),
    folded: snapshot.limits.folded,
  };
}

type Judged = Omit<TenantReadiness, 'verdict' | 'summary'>;

function verdictOf(
  t: Judged,
  { words, minRequests, maxFailing, at }: { words: string; minRequests: number; maxFailing: number; at: number },
) {
  const failing = t.requests - t.verified;
  if (t.requests === 0) return { verdict: 'no-traffic' as const, summary: `No chat requests ${words}.` };
  const why = failureWords(t.failures, at);
  if (t.modes.length === 1 && t.modes[0] === 'enforce') {
    const refused = failing === 0 ? 'none refused' : `${t.failingPercent} % refused (${count(failing)} of ${count(t.requests)}): ${why}`;
    return { verdict: 'enforcing' as const, summary: `Enforcing: ${t.validPercent} % valid ${words}; ${refused}.` };
  }
  if (t.requests < minRequests) {
    return {
      verdict: 'too-few' as const,
      summary: `Too few to judge: ${count(t.requests)} chat requests ${words} (${count(minRequests)} or more are needed).`,
    };
  }
  if ((failing / t.requests) * 100 <= maxFailing) {
    const would =
      failing === 0
        ? 'enforcing would have refused none'
        : `enforcing would have refused ${count(failing)} (${t.failingPercent} %): ${why}`;
    return {
      verdict: 'ready' as const,
      summary: `Ready to enforce: ${t.validPercent} % valid ${words} (${count(t.requests)} chat requests); ${would}.`,
    };
  }
  return {
    verdict: 'not-ready' as const,
    summary: `Not ready: ${t.validPercent} % valid ${words}; the ${t.failingPercent} % failing are ${why}.`,
  };
}

/** "INVALID_SIGNATURE under key "2024-old", which expired 1 day ago (previous-key-expired), and MISSING_IDENTITY". */
function failureWords(lines: readonly FailureLine[], at: number): string {
  return inWords(
    lines.slice(0, 3).map((line) => {
      let words: string = line.code;
      const key = line.keys[0];
      if (key) words += ` under ${keyWords(key, at)}`;
      if (line.mistakes[0]) words += ` (${line.mistakes[0].id})`;
      return words;
    }),
  );
}

/** `key "2024-old", which expired 26 hours ago`, as of `at`. */
function keyWords(key: { keyId: string; expiresAt: string | null }, at: number): string {
  const name = `key ${JSON.stringify(key.keyId)}`;
  if (key.expiresAt === null) return name;
  const seconds = (Date.parse(key.expiresAt) - at) / 1000;
  return seconds <= 0 ? `${name}, which expired ${duration(-seconds)} ago` : `${name}, which expires in ${duration(seconds)}`;
}

/**
 * The report as text, for a terminal: per tenant its counts, its failures with their diagnosis, and its verdict.
 *
 * @example
 * ```ts
 * process.stdout.write(formatRolloutReport(rolloutReport(verifier.stats())));
 * ```
 */
export function formatRolloutReport(report: RolloutReport): string {
  const windowName = { hour: 'the last hour', day: 'the last day', all: 'since counting started' }[report.window.name];
  const out = [`Rollout report: ${windowName} (${report.window.from} to ${report.window.to}); counting since ${report.since}.`];
  if (report.tenants.length === 0) out.push('', 'No requests were counted.');
  for (const t of report.tenants) {
    const name = t.tenant === null ? '(no tenant)' : t.tenant;
    const modes = t.modes.length === 0 ? '' : ` (${t.modes.join(', ')})`;
    out.push(
      '',
      `${name}${modes}: ${count(t.requests)} chat requests, ${t.validPercent} % valid (${count(t.byProof)} by proof, ${count(t.bySession)} by session)`,
    );
    if (t.failures.length > 0) out.push(`  failing ${t.failingPercent} %:`);
    for (const line of t.failures) {
      const keys = line.keys.map((k) => keyWords(k, Date.parse(report.at))).join('; ');
      out.push(
        `    ${line.code.padEnd(22)} ${String(line.count).padStart(7)}  ${`${line.percent} %`.padStart(7)}${keys ? `  ${keys}` : ''}`,
      );
      if (line.mistakes.length === 0) out.push(`      ${line.advice}`);
      for (const m of line.mistakes) out.push(`      ${m.id} (${count(m.count)}): ${m.title}. ${m.fix}`);
    }
    out.push(`  verdict: ${t.summary}`);
  }
  if (report.folded > 0)
    out.push('', `${count(report.folded)} requests were counted under (other): a bound of identityStats() was reached.`);
  return out.join('\n') + '\n';
}

function readSnapshot(snapshot: unknown): asserts snapshot is StatsSnapshot {
  const s = snapshot as Partial<StatsSnapshot> | null;
  const ok =
    s !== null &&
    typeof s === 'object' &&
    s.format === 'chat-identity-stats' &&
    s.version === 1 &&
    Array.isArray(s.series) &&
    Array.isArray(s.keys) &&
    typeof s.at === 'string' &&
    typeof s.since === 'string' &&
    s.series.every(
      (x) =>
        x !== null &&
        typeof x === 'object' &&
        Array.isArray(x.minutes) &&
        x.minutes.length === 60 &&
        Array.isArray(x.hours) &&
        x.hours.length === 24,
    );
  if (!ok) throw new TypeError('chat-identity: this is not a stats snapshot (verifier.stats(), format "chat-identity-stats", version 1).');
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const count = (n: number) => n.toLocaleString('en-US');
const busiest = (counts: Map<string, number>) => [...counts].sort((a, b) => b[1] - a[1]);
