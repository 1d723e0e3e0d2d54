/**
 * A JWKS fetched from the site's URL and kept fresh, by the verifier's clock (`now`).
 *
 * jose fetches it: `createRemoteJWKSet` with its timeout, its checks of the JSON and of the set's
 * shape, and one fetch at a time, through the fetch below (src/jwks/fetch.ts), which keeps to
 * https (or http to a loopback address), refuses redirects and bodies over `maxBytes`, and reads
 * `Cache-Control`. When to fetch is decided here:
 *
 * - A set is kept for its response's `max-age` (less `Age`), held between `minCacheAge` and
 *   `maxCacheAge`, or for `cacheMaxAge` when the response says nothing. Past that, the next
 *   request fetches it again and waits for it (concurrent requests share the one fetch).
 * - A token whose kid no key of the set has makes it fetch again, unless the last fetch was
 *   within `cooldown`: a flood of made-up kids costs the site one fetch per cooldown.
 * - A set whose members are all set aside (an RSA key without `alg`) is a failed fetch: the site
 *   broke its set, and the last good one is better than none. A set with no members at all is the
 *   site's word that no key verifies: it is kept, and requests fail closed.
 * - When a fetch fails, the last good set keeps verifying for `staleFor` past its expiry, while
 *   the URL is retried in the background every FAILED_FETCH_RETRY; with no good set, requests fail
 *   closed (KEY_UNAVAILABLE) and wait FAILED_FETCH_RETRY for the next try.
 *
 * jose's own schedule is not used: its clock is `Date.now`, its cache time one fixed number, it
 * reads no Cache-Control, caps no response size, and when the reload of an expired set fails it
 * throws instead of serving the last good keys.
 *
 * @example
 * ```ts
 * const source = readJwksUrl({ url: 'https://site.example/.well-known/jwks.json' }, 'keys');
 * const set = new RemoteKeySet(source, { alg: undefined, test: false, now, say });
 * const keys = await set.current(now()); // fetched on first use, then cached
 * if (!keys.some((key) => key.kid === kid)) await set.refreshFor(kid, now());
 * ```
 */
import type { SigningKey } from '../keyRing.js';
import type { JwksUrl, PublicKeyAlgorithm } from '../types.js';
import { describeFailure, JwksFetchError, limitedFetch, type FetchedResponse } from './fetch.js';
import { describeSetAside, readKeySet, type FetchState, type KeySetInfo } from './keySet.js';

/** Milliseconds before a failed fetch is tried again. */
export const FAILED_FETCH_RETRY = 5_000;

export type JwksSettings = Required<Omit<JwksUrl, 'url'>>;

export const JWKS_DEFAULTS: Readonly<JwksSettings> = {
  timeout: 5_000,
  maxBytes: 128 * 1024,
  cacheMaxAge: 600_000,
  minCacheAge: 60_000,
  maxCacheAge: 3_600_000,
  cooldown: 30_000,
  staleFor: 3_600_000,
};

const SETTINGS = Object.keys(JWKS_DEFAULTS) as (keyof JwksSettings)[];

/** Where a set is fetched from, checked: its URL, and its settings with the defaults filled in. */
export interface JwksSource {
  readonly url: URL;
  readonly settings: JwksSettings;
}

/**
 * Reads `{ url, ...settings }`: a TypeError (naming `where`) for a URL that is not https or holds
 * credentials, or a setting that is not a duration.
 */
export function readJwksUrl(spec: JwksUrl, where: string): JwksSource {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new TypeError(`chat-identity: ${where}.url is not a URL.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new TypeError(`chat-identity: ${where}.url must be https: (http: only to a loopback address, for tests), not ${url.protocol}.`);
  }
  // fetch refuses a URL with credentials: every fetch would fail. Named, never quoted (the password).
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(
      `chat-identity: ${where}.url holds a user name or password (user:password@), which fetch refuses: a JWKS is public.`,
    );
  }
  const settings = { ...JWKS_DEFAULTS };
  for (const name of SETTINGS) {
    const value = spec[name];
    if (value === undefined) continue;
    // jose (timeoutDuration) and AbortSignal.timeout take whole milliseconds only: a fraction would fail every fetch.
    const whole = name === 'timeout';
    const positive = name === 'timeout' || name === 'maxBytes';
    if (typeof value !== 'number' || !Number.isFinite(value) || (whole && !Number.isInteger(value)) || value < (positive ? 1 : 0)) {
      throw new TypeError(
        `chat-identity: ${where}.${name} must be a ${whole ? 'whole ' : ''}number${name === 'maxBytes' ? ' of bytes' : ' of milliseconds'}, ` +
          `${positive ? 'more than 0' : '0 or more'}.`,
      );
    }
    settings[name] = value;
  }
  if (settings.timeout > 2 ** 31 - 1) throw new TypeError(`chat-identity: ${where}.timeout is too long.`);
  return { url, settings };
}

/** 127.0.0.0/8, ::1 and localhost: a fetch that never leaves the machine. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

export interface RemoteSetOptions {
  /** The algorithm of the set's keys that state none (`{ jwks, alg }`). */
  alg: PublicKeyAlgorithm | undefined;
  test: boolean;
  now: () => number;
  /** Says a problem once (by kind), to the verifier's logger. */
  say: (kind: string, message: string) => void;
}

/** The jose functions used, loaded on the first fetch (jose is ESM; a CommonJS app loads it then too). */
type Jose = typeof import('jose');
let jose: Promise<Jose> | undefined;

export class RemoteKeySet implements FetchState {
  readonly url: URL;
  /** The URL as logs and hints name it: origin and path (a query may carry a token). */
  readonly label: string;
  readonly cooldown: number;
  /** The usable keys of the last good set ([] before the first). */
  keys: readonly SigningKey[] = [];
  info: KeySetInfo | undefined;
  fetchedAt: number | undefined;
  lastFreshMiss: { kid: string; at: number } | undefined;
  lastCooledDown: { kid: string; at: number } | undefined;
  /** Why the last fetch failed, while it is failing. */
  failure: string | undefined;

  readonly #settings: JwksSettings;
  readonly #options: RemoteSetOptions;
  #freshUntil = -Infinity;
  #attemptAt = -Infinity;
  #retryAt = -Infinity;
  #pending: Promise<void> | undefined;
  #remote: ReturnType<Jose['createRemoteJWKSet']> | undefined;
  #response: FetchedResponse | undefined;
  /** Bumped by `forget`: a fetch that started before it does not set what it fetched. */
  #generation = 0;

  constructor(source: JwksSource, options: RemoteSetOptions) {
    this.url = source.url;
    this.label = `${source.url.origin}${source.url.pathname}`;
    this.#settings = source.settings;
    this.cooldown = source.settings.cooldown;
    this.#options = options;
  }

  /** Whether the set is fresh at `at` (then `keys` is the answer, with no fetch). */
  fresh(at: number): boolean {
    return at < this.#freshUntil;
  }

  /**
   * The keys to verify with at `at`: fetched first when the set has expired (the request waits);
   * while the URL is failing, the last good set for `staleFor` past its expiry; else none.
   */
  current(at: number): readonly SigningKey[] | Promise<readonly SigningKey[]> {
    if (at < this.#freshUntil) return this.keys;
    const servable = this.fetchedAt !== undefined && at < this.#freshUntil + this.#settings.staleFor;
    if (this.failure !== undefined) {
      if (servable) {
        // The URL failed since the set expired: the last good set verifies, retried in the background.
        if (at >= this.#retryAt) void this.#beginFetch(at);
        this.#options.say(
          `jwks-stale ${this.label}`,
          `the JWKS at ${this.label} cannot be fetched (${this.failure}); the last good set, fetched at ` +
            `${new Date(this.fetchedAt!).toISOString()}, verifies for staleFor (${this.#settings.staleFor} ms) past its expiry.`,
        );
        return this.keys;
      }
      if (at < this.#retryAt && this.#pending === undefined) return [];
    }
    return this.#beginFetch(at).then(() => (this.fresh(this.#options.now()) || this.#servable() ? this.keys : []));
  }

  /**
   * A token names `kid`, which no key of the set has: fetch the set again, unless the last fetch was
   * within the cooldown (a fetch under way is joined). Resolves when there is nothing more to wait for.
   */
  refreshFor(kid: string, at: number): Promise<void> {
    if (this.#pending) return this.#pending.then(() => this.noteMissing(kid));
    if (at < this.#attemptAt + this.#settings.cooldown) {
      this.lastCooledDown = { kid, at };
      return Promise.resolve();
    }
    return this.#beginFetch(at).then(() => this.noteMissing(kid));
  }

  /** Records that a token named `kid`, which the set lacked although just fetched (the diagnosis reads it). */
  noteMissing(kid: string): void {
    if (this.failure === undefined && !this.info?.kids.includes(kid)) this.lastFreshMiss = { kid, at: this.#options.now() };
  }

  /** Drops the set (`refreshKeys`): the next request fetches it, and nothing fetched before verifies meanwhile. */
  forget(): void {
    this.#generation += 1;
    this.keys = [];
    this.info = this.fetchedAt = this.failure = this.lastFreshMiss = this.lastCooledDown = undefined;
    this.#freshUntil = this.#attemptAt = this.#retryAt = -Infinity;
    this.#pending = undefined;
    this.#remote = undefined; // a fetch under way is not joined: the next one starts afresh
  }

  #servable(): boolean {
    return this.fetchedAt !== undefined && this.#options.now() < this.#freshUntil + this.#settings.staleFor;
  }

  #beginFetch(at: number): Promise<void> {
    if (this.#pending) return this.#pending;
    this.#attemptAt = at;
    const generation = this.#generation;
    const pending = this.#load(generation).finally(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
    this.#pending = pending;
    return pending;
  }

  async #load(generation: number): Promise<void> {
    const { say, now, alg, test } = this.#options;
    try {
      const document = await this.#download();
      const read = readKeySet(document, { alg, test, url: this.label, fetched: this });
      if ('problem' in read) throw new Error(`the set is malformed: ${read.problem}`);
      if (read.keys.length === 0 && read.info.setAside.length > 0)
        throw new JwksFetchError(`no key of the set is usable (${describeSetAside(read.info.setAside)})`);
      if (generation !== this.#generation) return;
      const at = now();
      this.keys = read.keys;
      this.info = read.info;
      this.fetchedAt = at;
      this.#freshUntil = at + this.#cacheTime();
      this.failure = undefined;
      this.#retryAt = -Infinity;
      for (const aside of read.info.setAside) {
        const name = aside.kid === undefined ? 'a key without kid' : `the key with kid ${JSON.stringify(aside.kid)}`;
        say(
          `jwks-aside ${this.label} ${aside.kid} ${aside.problem}`,
          `the JWKS at ${this.label} has ${name} that is never used: ${aside.problem}.`,
        );
      }
      if (read.keys.length === 0)
        say(`jwks-empty ${this.label}`, `the JWKS at ${this.label} holds no key; requests needing it fail with KEY_UNAVAILABLE.`);
    } catch (error) {
      if (generation !== this.#generation) return;
      this.failure = describeFailure(error, this.#settings);
      this.#retryAt = now() + FAILED_FETCH_RETRY;
      say(
        `jwks-failed ${this.label} ${this.failure}`,
        `the JWKS at ${this.label} could not be fetched (${this.failure}); it is tried again after ${FAILED_FETCH_RETRY} ms.`,
      );
    }
  }

  /** The set, fetched by jose through the size-limited fetch. */
  async #download(): Promise<unknown> {
    const { createRemoteJWKSet, customFetch } = await (jose ??= import('jose'));
    this.#remote ??= createRemoteJWKSet(this.url, {
      timeoutDuration: this.#settings.timeout,
      headers: { 'user-agent': 'chat-identity' },
      [customFetch]: (url: string, init: RequestInit) =>
        limitedFetch(url, init, this.#settings.maxBytes, (response) => {
          this.#response = response;
        }),
    });
    this.#response = undefined;
    await this.#remote.reload();
    return this.#remote.jwks();
  }

  /** How long the set just fetched is kept: its max-age (less its Age), within the floor and the ceiling. */
  #cacheTime(): number {
    const { cacheMaxAge, minCacheAge, maxCacheAge } = this.#settings;
    const maxAge = maxAgeOf(this.#response?.cacheControl, this.#response?.age);
    return Math.min(Math.max(maxAge ?? cacheMaxAge, minCacheAge), maxCacheAge);
  }
}

/** Milliseconds `Cache-Control` lets a response be kept (`no-cache` and `no-store`: 0), or undefined when it says nothing. */
export function maxAgeOf(cacheControl: string | null | undefined, age: string | null | undefined): number | undefined {
  if (!cacheControl) return undefined;
  const directives = cacheControl
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const seconds = directives.map((d) => /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(d)?.[1]).find((s) => s !== undefined);
  if (seconds === undefined) return undefined;
  const already = age && /^\d{1,10}$/.test(age.trim()) ? Number(age.trim()) : 0;
  return Math.max(0, Number(seconds) - already) * 1000;
}
