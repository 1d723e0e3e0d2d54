/**
 * The counters behind `verifier.stats()`: one row per distinct set of labels (tenant, scheme,
 * outcome, key id, live or test, proof or session, mode, mistake), each with its total and its
 * counts per minute for the last hour and per hour for the last day, in rings that a count moves on.
 *
 * Bounded whatever clients send: a tenant gets a row of its own only as the keys lookup named it
 * (a name a request made up is `(unknown)`), and only the first `maxTenants` of them (later ones are
 * `(other)`); key ids are configured ones, `maxKeyIds` per tenant; `maxSeries` rows in all, then
 * every further combination counts in one row per outcome and mode, its other labels `(other)`.
 * `limits.folded` counts every request a bound sent to `(other)`. About 1 kB a row, its rings
 * included (5,000 rows: 4.6 MiB of heap and buffers; docs/rollout.md says how it was measured).
 *
 * Cheap on the request path: a count finds its tenant, then compares its labels with that tenant's
 * previous count's, and only when they differ looks further through nested maps (key id, then the
 * other labels packed in one number); it builds no string and allocates nothing once the row exists
 * (bench/core.mjs, `statsCost`; docs/rollout.md, "What counting costs").
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
/**
 * The minute and hour of a row not counted yet: some 2,000 years before 1970, and a small integer
 * (not -Infinity), so that the fields stay integers and a ring's index is an integer remainder on
 * the request path.
 */
const NEVER = -(2 ** 30);

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
  /** The minute (since the epoch) counted in `thisMinute`; the ring holds the minutes before it. */
  minute: number;
  hour: number;
  /**
   * The counts of the current minute and hour, on the row itself: a count touches this one object,
   * and the rings only when a minute ends.
   */
  thisMinute: number;
  thisHour: number;
  readonly minutes: Uint32Array;
  readonly hours: Uint32Array;
  /** The facts of its key as last counted (a diagnosis named it), and when: for the snapshot's `keys`. */
  keyFacts: KeyFacts | undefined;
  keyStamp: number;
}

/** What a verifier counts into; never handed to the app (it could forge counts). */
export interface Counters {
  /**
   * Counts one result; `count` is read now and not kept (the caller may refill it). `at`: the time
   * by these counters' own clock, when the caller has just read it.
   */
  count(count: Count, key?: KeyFacts, at?: number): void;
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
      throw new TypeError(
        `chat-identity: identityStats has no option ${JSON.stringify(key)}. Valid: maxTenants, maxKeyIds, maxSeries, now.`,
      );
    }
  }
  const bound = (name: 'maxTenants' | 'maxKeyIds' | 'maxSeries', fallback: number) => {
    const value = options[name] ?? fallback;
    if (!Number.isSafeInteger(value) || value < 1)
      throw new TypeError(`chat-identity: identityStats ${name} must be a whole number, 1 or more.`);
    return value;
  };
  if (options.now !== undefined && typeof options.now !== 'function')
    throw new TypeError('chat-identity: identityStats now must be a function.');
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
  // Rows are found through nested maps (tenant, then key id, then the other labels packed in one
  // number), each tenant remembering its previous count's row: no string is built and nothing is
  // allocated for a count that finds its row.
  const noTenant = newSlot(null);
  const unknownTenant = newSlot(UNKNOWN_TENANT);
  const otherTenant = newSlot(OTHER);
  /** The tenants with a label of their own: at most `maxTenants`, the first the lookup named. */
  const tenants = new Map<string, TenantSlot>();
  /** Small numbers for the labels of fixed tables (scheme, outcome, mistake id), 0 for none. */
  const schemes = new Map<string, number>();
  const outcomes = new Map<string, number>();
  const mistakes = new Map<string, number>();
  /** Every row but the overflow ones, in the order they were made: `maxSeries` at most. */
  const rows: Row[] = [];
  const overflowRows = new Map<string, Row>();
  let folded = 0;
  /** Set by `tenantSlot` and `rowFor` when a bound decided the row. */
  let folding = false;
  let stamp = 0;

  function tenantSlot(tenant: string | null | undefined): TenantSlot {
    if (tenant === undefined) return noTenant;
    if (tenant === null) return unknownTenant;
    const slot = tenants.get(tenant);
    if (slot !== undefined) return slot;
    if (tenants.size >= maxTenants) {
      folding = true;
      return otherTenant;
    }
    const made = newSlot(tenant);
    tenants.set(tenant, made);
    return made;
  }

  function keySlot(slot: TenantSlot, keyId: string | undefined): KeySlot {
    if (keyId === undefined) return slot.noKey;
    const found = slot.keys.get(keyId);
    if (found !== undefined) return found;
    if (slot.keys.size >= maxKeyIds) {
      folding = true;
      return (slot.otherKey ??= { tenant: slot.noKey.tenant, keyId: OTHER, rows: new Map() });
    }
    const made: KeySlot = { tenant: slot.noKey.tenant, keyId, rows: new Map() };
    slot.keys.set(keyId, made);
    return made;
  }

  function rowFor(tenant: TenantSlot, count: Count): Row {
    const slot = keySlot(tenant, count.keyId);
    const scheme = intern(schemes, count.scheme);
    const outcome = intern(outcomes, count.outcome);
    const mistake = intern(mistakes, count.mistake);
    if (scheme < 0 || outcome < 0 || mistake < 0) return overflow(count.outcome, count.mode);
    const id =
      ((mistake * FIELD + scheme) * FIELD + outcome) * 27 +
      (count.test === undefined ? 0 : count.test ? 1 : 2) * 9 +
      (count.via === undefined ? 0 : count.via === 'proof' ? 1 : 2) * 3 +
      (count.mode === 'enforce' ? 0 : count.mode === 'report' ? 1 : 2);
    let row = slot.rows.get(id);
    if (row !== undefined) return row;
    if (rows.length >= maxSeries) return overflow(count.outcome, count.mode);
    row = newRow({
      tenant: slot.tenant,
      scheme: count.scheme ?? null,
      outcome: count.outcome,
      keyId: slot.keyId,
      key: count.test === undefined ? null : count.test ? 'test' : 'live',
      via: count.via ?? null,
      mode: count.mode,
      mistake: count.mistake ?? null,
    });
    slot.rows.set(id, row);
    rows.push(row);
    return row;
  }

  /** Past `maxSeries`: one row per outcome and mode, every other label `(other)`. */
  function overflow(outcome: StatsOutcome, mode: AppliedMode): Row {
    folding = true;
    const id = `${outcome}\0${mode}`;
    let row = overflowRows.get(id);
    if (!row) {
      row = newRow({ tenant: OTHER, scheme: null, outcome, keyId: null, key: null, via: null, mode, mistake: null });
      overflowRows.set(id, row);
    }
    return row;
  }

  function count(count: Count, key?: KeyFacts, at = now()): void {
    folding = false;
    const tenant = tenantSlot(count.tenant);
    const tenantFolded = folding;
    let row: Row;
    let rowFolded: boolean;
    // Each tenant's steady stream of one kind finds its row by comparing labels alone.
    const last = tenant.lastCount;
    if (last !== undefined && sameLabels(last, count)) {
      row = tenant.lastRow!;
      rowFolded = tenant.lastFolded;
    } else {
      folding = false;
      row = rowFor(tenant, count);
      rowFolded = folding;
      // A copy: the verifier refills its `count` for the next result.
      tenant.lastCount = { ...count };
      tenant.lastRow = row;
      tenant.lastFolded = rowFolded;
    }
    if (tenantFolded || rowFolded) folded++;
    const minute = Math.floor(at / MINUTE);
    if (minute > row.minute) roll(row, minute);
    row.total++;
    row.thisMinute++;
    row.thisHour++;
    if (key !== undefined && row.labels.keyId !== null && row.labels.keyId !== OTHER) {
      row.keyFacts = key;
      row.keyStamp = ++stamp;
    }
  }

  function snapshot(): StatsSnapshot {
    const at = now();
    const minute = Math.floor(at / MINUTE);
    const hour = Math.floor(at / HOUR);
    const all = [...rows, ...overflowRows.values()];
    const series = all.map((row) => ({
      ...row.labels,
      total: row.total,
      minutes: window(row.minutes, row.minute, row.thisMinute, minute, MINUTES),
      hours: window(row.hours, row.hour, row.thisHour, hour, HOURS),
    }));
    // The keys a diagnosis found, each with the facts it was last counted with.
    const keys = new Map<string, { row: Row; facts: KeyFacts }>();
    for (const row of rows) {
      if (row.keyFacts === undefined) continue;
      const id = `${row.labels.tenant}\0${row.labels.keyId}`;
      const seen = keys.get(id);
      if (seen === undefined || seen.row.keyStamp < row.keyStamp) keys.set(id, { row, facts: row.keyFacts });
    }
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
      keys: [...keys.values()].map(({ row, facts }) => ({
        tenant: row.labels.tenant,
        keyId: row.labels.keyId!,
        test: facts.test,
        expiresAt: facts.expiresAt === undefined ? null : new Date(facts.expiresAt).toISOString(),
      })),
    };
  }

  return { count, snapshot };
}

/** The radix of each packed label (scheme, outcome, mistake id): more distinct values than this fold. */
const FIELD = 1024;

/** A label's small number: 0 for none, then 1, 2, ... in the order first seen; -1 past `FIELD` values. */
function intern(table: Map<string, number>, value: string | undefined): number {
  if (value === undefined) return 0;
  const known = table.get(value);
  if (known !== undefined) return known;
  if (table.size >= FIELD - 1) return -1;
  table.set(value, table.size + 1);
  return table.size;
}

/** The rows under one tenant label and one key id label, by the other labels packed in a number. */
interface KeySlot {
  readonly tenant: string | null;
  readonly keyId: string | null;
  readonly rows: Map<number, Row>;
}

/** One tenant label: its key ids (at most `maxKeyIds` of their own, then `(other)`). */
interface TenantSlot {
  readonly noKey: KeySlot;
  readonly keys: Map<string, KeySlot>;
  otherKey: KeySlot | undefined;
  /** The tenant's previous count, its row, and whether a key id or row bound decided that row. */
  lastCount: Count | undefined;
  lastRow: Row | undefined;
  lastFolded: boolean;
}

function newSlot(tenant: string | null): TenantSlot {
  return {
    noKey: { tenant, keyId: null, rows: new Map() },
    keys: new Map(),
    otherKey: undefined,
    lastCount: undefined,
    lastRow: undefined,
    lastFolded: false,
  };
}

function newRow(labels: Row['labels']): Row {
  // Both rings in one buffer: one backing store a row, not two.
  const rings = new ArrayBuffer((MINUTES + HOURS) * 4);
  const minutes = new Uint32Array(rings, 0, MINUTES);
  const hours = new Uint32Array(rings, MINUTES * 4, HOURS);
  return { labels, total: 0, minute: NEVER, hour: NEVER, thisMinute: 0, thisHour: 0, minutes, hours, keyFacts: undefined, keyStamp: 0 };
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
 * Moves a row on to `minute`: the minute that ended goes into its ring, the buckets of the minutes
 * in between are emptied (and the same for hours). A clock that went back counts in the current
 * minute: the rings never move backwards.
 */
function roll(row: Row, minute: number): void {
  if (row.minute !== NEVER) row.minutes[row.minute % MINUTES] = row.thisMinute;
  clear(row.minutes, row.minute, minute, MINUTES);
  row.minute = minute;
  row.thisMinute = 0;
  const hour = Math.floor(minute / 60);
  if (hour > row.hour) {
    if (row.hour !== NEVER) row.hours[row.hour % HOURS] = row.thisHour;
    clear(row.hours, row.hour, hour, HOURS);
    row.hour = hour;
    row.thisHour = 0;
  }
}

/** Empties the buckets after `from` up to and including `to`, all of them when that is a whole ring or more. */
function clear(ring: Uint32Array, from: number, to: number, size: number): void {
  if (to - from >= size) ring.fill(0);
  else for (let i = from + 1; i <= to; i++) ring[i % size] = 0;
}

/**
 * The last `size` buckets up to `end`, oldest first: `current` for the row's current one (`newest`),
 * the ring for those before it; buckets the row has not reached (or left behind) are 0.
 */
function window(ring: Uint32Array, newest: number, current: number, end: number, size: number): number[] {
  const out = new Array<number>(size).fill(0);
  for (let i = 0; i < size; i++) {
    const bucket = end - size + 1 + i;
    if (bucket === newest) out[i] = current;
    else if (bucket < newest && bucket > newest - size) out[i] = ring[bucket % size]!;
  }
  return out;
}
