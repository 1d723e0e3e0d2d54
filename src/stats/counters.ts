/**
 * The counters behind `verifier.stats()`: one row per distinct set of labels (tenant, scheme,
 * outcome, key id, live or test, proof or session, mode, mistake), each with its total and its
 * counts per minute for the last hour and per hour for the last day, in rings that a count moves on.
 *
 * Bounded whatever clients send: a tenant gets a row of its own only as the keys lookup named it
 * (a name a request made up is `(unknown)`), and only the first `maxTenants` of them (later ones are
 * `(other)`); key ids are configured ones, `maxKeyIds` per tenant; `maxSeries` rows in all, then
 * every further combination counts in one row of `(other)`. About 0.4 kB a row.
 *
 * @example
 * ```ts
 * const stats = identityStats({ maxTenants: 500 });
 * const verifier = createVerifier({ scheme: 'user-hash', keys, stats });
 * stats.stats().series.filter((s) => s.outcome !== 'VERIFIED');
 * ```
 */
import type { AppliedMode, IdentityStats, IdentityStatsOptions, SchemeName, StatsOutcome, StatsSeries, StatsSnapshot } from '../types.js';

export const DEFAULT_MAX_TENANTS = 100;
export const DEFAULT_MAX_KEY_IDS = 20;
export const DEFAULT_MAX_SERIES = 5000;
/** The label of whatever a bound folded together. */
export const OTHER = '(other)';
/** The tenant label of a request whose tenant the keys lookup did not name (it failed, or was never asked). */
export const UNKNOWN_TENANT = '(unknown)';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const MINUTES = 60;
const HOURS = 24;

/** One count: its labels, as the verifier knows them. `tenant` undefined: no tenant applies; `null`: not known. */
export interface Count {
  tenant: string | null | undefined;
  scheme: SchemeName | undefined;
  outcome: StatsOutcome;
  keyId: string | undefined;
  test: boolean | undefined;
  via: 'proof' | 'session' | undefined;
  mode: AppliedMode;
  mistake: string | undefined;
}

/** A key a diagnosis found behind failures, remembered with its expiry for the report. */
export interface KeyFacts {
  test: boolean;
  expiresAt: number | undefined;
}

interface Row {
  readonly labels: Omit<StatsSeries, 'total' | 'minutes' | 'hours'>;
  total: number;
  /** The minute (since the epoch) the ring's newest bucket holds. */
  minute: number;
  hour: number;
  readonly minutes: Uint32Array;
  readonly hours: Uint32Array;
}

/** What a verifier counts into; never handed to the app (it could forge counts). */
export interface Counters {
  count(count: Count, key?: KeyFacts): void;
  snapshot(): StatsSnapshot;
}

/** The counters behind each `IdentityStats` this package made: a verifier counts only into one of these. */
const countersOf = new WeakMap<object, Counters>();

/**
 * Makes a count of results to share between verifiers (their `stats` option) and to hand to the
 * Prometheus and OpenTelemetry bindings. Bounded: see `IdentityStatsOptions`.
 *
 * @example
 * ```ts
 * import { createVerifier, identityStats } from 'chat-identity';
 * const stats = identityStats();
 * const verifier = createVerifier({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!], stats });
 * app.get('/internal/identity-stats', (_req, res) => res.json(stats.stats()));
 * ```
 */
export function identityStats(options: IdentityStatsOptions = {}): IdentityStats {
  if (options === null || typeof options !== 'object') throw new TypeError('chat-identity: identityStats(options) takes an object.');
  for (const key of Object.keys(options)) {
    if (!['maxTenants', 'maxKeyIds', 'maxSeries', 'now'].includes(key)) {
      throw new TypeError(`chat-identity: identityStats has no option ${JSON.stringify(key)}. Valid: maxTenants, maxKeyIds, maxSeries, now.`);
    }
  }
  const bound = (name: 'maxTenants' | 'maxKeyIds' | 'maxSeries', fallback: number) => {
    const value = options[name] ?? fallback;
    if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`chat-identity: identityStats ${name} must be a whole number, 1 or more.`);
    return value;
  };
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('chat-identity: identityStats now must be a function.');
  const counters = createCounters({
    maxTenants: bound('maxTenants', DEFAULT_MAX_TENANTS),
    maxKeyIds: bound('maxKeyIds', DEFAULT_MAX_KEY_IDS),
    maxSeries: bound('maxSeries', DEFAULT_MAX_SERIES),
    now: options.now ?? Date.now,
  });
  const stats: IdentityStats = { stats: () => counters.snapshot() };
  countersOf.set(stats, counters);
  return Object.freeze(stats);
}

/** The counters of a count `identityStats()` made; undefined for anything else. */
export function countersFor(stats: unknown): Counters | undefined {
  return typeof stats === 'object' && stats !== null ? countersOf.get(stats) : undefined;
}

function createCounters(bounds: { maxTenants: number; maxKeyIds: number; maxSeries: number; now: () => number }): Counters {
  const { maxTenants, maxKeyIds, maxSeries, now } = bounds;
  const since = now();
  const rows = new Map<string, Row>();
  /** Key ids seen per tenant label: what bounds them. */
  const keyIds = new Map<string | null, Set<string>>();
  const keys = new Map<string, { tenant: string | null; keyId: string } & KeyFacts>();
  let folded = 0;
  /** The row the previous count went to: a steady stream of one kind finds it without building a key. */
  let last: { count: Count; row: Row } | undefined;

  function tenantLabel(tenant: string | null | undefined): string | null {
    if (tenant === undefined) return null;
    if (tenant === null) return UNKNOWN_TENANT;
    if (keyIds.has(tenant)) return tenant;
    if (keyIds.size >= maxTenants) return OTHER;
    keyIds.set(tenant, new Set());
    return tenant;
  }

  function keyLabel(tenant: string | null, keyId: string | undefined): string | null {
    if (keyId === undefined) return null;
    let seen = keyIds.get(tenant);
    if (seen === undefined) keyIds.set(tenant, (seen = new Set()));
    if (seen.has(keyId)) return keyId;
    if (seen.size >= maxKeyIds) return OTHER;
    seen.add(keyId);
    return keyId;
  }

  function rowFor(count: Count): Row {
    const tenant = tenantLabel(count.tenant);
    const keyId = keyLabel(tenant, count.keyId);
    const labels: Row['labels'] = {
      tenant,
      scheme: count.scheme ?? null,
      outcome: count.outcome,
      keyId,
      key: count.test === undefined ? null : count.test ? 'test' : 'live',
      via: count.via ?? null,
      mode: count.mode,
      mistake: count.mistake ?? null,
    };
    const id = `${labels.tenant}\0${labels.scheme}\0${labels.outcome}\0${labels.keyId}\0${labels.key}\0${labels.via}\0${labels.mode}\0${labels.mistake}`;
    let row = rows.get(id);
    if (row) return row;
    if (rows.size >= maxSeries) {
      folded++;
      return overflow(labels.outcome, labels.mode);
    }
    row = newRow(labels);
    rows.set(id, row);
    return row;
  }

  /** Past `maxSeries`: one row per outcome and mode, every other label `(other)`. */
  const overflowRows = new Map<string, Row>();
  function overflow(outcome: StatsOutcome, mode: AppliedMode): Row {
    const id = `${outcome}\0${mode}`;
    let row = overflowRows.get(id);
    if (!row) {
      row = newRow({ tenant: OTHER, scheme: null, outcome, keyId: null, key: null, via: null, mode, mistake: null });
      overflowRows.set(id, row);
    }
    return row;
  }

  function count(count: Count, key?: KeyFacts): void {
    const at = now();
    const row = last !== undefined && sameLabels(last.count, count) ? last.row : rowFor(count);
    last = { count, row };
    const minute = Math.floor(at / MINUTE);
    if (minute > row.minute) roll(row, minute);
    row.total++;
    row.minutes[row.minute % MINUTES]!++;
    row.hours[row.hour % HOURS]!++;
    if (key !== undefined && row.labels.keyId !== null && row.labels.keyId !== OTHER) {
      const id = `${row.labels.tenant}\0${row.labels.keyId}`;
      if (keys.has(id) || keys.size < maxSeries) keys.set(id, { tenant: row.labels.tenant, keyId: row.labels.keyId, ...key });
    }
  }

  function snapshot(): StatsSnapshot {
    const at = now();
    const minute = Math.floor(at / MINUTE);
    const hour = Math.floor(at / HOUR);
    const series = [...rows.values(), ...overflowRows.values()].map((row) => ({
      ...row.labels,
      total: row.total,
      minutes: window(row.minutes, row.minute, minute, MINUTES),
      hours: window(row.hours, row.hour, hour, HOURS),
    }));
    return {
      format: 'chat-identity-stats',
      version: 1,
      since: new Date(since).toISOString(),
      at: new Date(at).toISOString(),
      windows: {
        minutes: { start: new Date((minute - MINUTES + 1) * MINUTE).toISOString(), step: 60 },
        hours: { start: new Date((hour - HOURS + 1) * HOUR).toISOString(), step: 3600 },
      },
      limits: { maxTenants, maxKeyIds, maxSeries, folded },
      series,
      keys: [...keys.values()].map(({ tenant, keyId, test, expiresAt }) => ({
        tenant,
        keyId,
        test,
        expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
      })),
    };
  }

  return { count, snapshot };
}

function newRow(labels: Row['labels']): Row {
  return { labels, total: 0, minute: -Infinity, hour: -Infinity, minutes: new Uint32Array(MINUTES), hours: new Uint32Array(HOURS) };
}

function sameLabels(a: Count, b: Count): boolean {
  return (
    a.tenant === b.tenant &&
    a.outcome === b.outcome &&
    a.scheme === b.scheme &&
    a.keyId === b.keyId &&
    a.test === b.test &&
    a.via === b.via &&
    a.mode === b.mode &&
    a.mistake === b.mistake
  );
}

/**
 * Moves a row's rings on to `minute`, emptying the buckets of the minutes (and hours) in between. A
 * clock that went back counts in the newest bucket: the rings never move backwards.
 */
function roll(row: Row, minute: number): void {
  clear(row.minutes, row.minute, minute, MINUTES);
  row.minute = minute;
  const hour = Math.floor(minute / 60);
  if (hour > row.hour) {
    clear(row.hours, row.hour, hour, HOURS);
    row.hour = hour;
  }
}

/** Empties the buckets after `from` up to and including `to`, all of them when that is a whole ring or more. */
function clear(ring: Uint32Array, from: number, to: number, size: number): void {
  if (to - from >= size) ring.fill(0);
  else for (let i = from + 1; i <= to; i++) ring[i % size] = 0;
}

/** The ring's last `size` buckets up to `end`, oldest first; buckets the ring has not reached (or left behind) are 0. */
function window(ring: Uint32Array, newest: number, end: number, size: number): number[] {
  const out = new Array<number>(size).fill(0);
  for (let i = 0; i < size; i++) {
    const bucket = end - size + 1 + i;
    if (bucket <= newest && bucket > newest - size) out[i] = ring[bucket % size]!;
  }
  return out;
}
