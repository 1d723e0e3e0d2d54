/**
 * The options, read once: checked, defaults applied, and frozen into the configuration each part
 * of the verifier is handed its piece of. A misspelt option is refused here, naming the closest
 * valid one: in plain JavaScript `requried: true` would otherwise leave every route unguarded.
 */
import type { KeyRingOptions } from './keyRing.js';
import type { RateLimitOptions } from './rateLimit.js';
import { SCHEME_NAMES, SCHEMES } from './schemes/index.js';
import { algorithmNamed } from './jwks/publicKey.js';
import { JWT_ALGORITHMS } from './schemes/jwt/index.js';
import type { Scheme, SchemeSettings } from './schemes/scheme.js';
import { readSessionOptions, type SessionConfig } from './session/options.js';
import { countersFor } from './stats/counters.js';
import type { IdentityStats, JwtAlgorithm, Logger, RequiredMode, VerifierOptions } from './types.js';

/** Every option of `createVerifier`, as `VerifierOptions` declares them. */
const VERIFIER_OPTIONS: readonly (keyof VerifierOptions)[] = [
  'scheme',
  'keys',
  'tenant',
  'required',
  'maxAge',
  'testMaxAge',
  'clockTolerance',
  'now',
  'getCredentials',
  'onVerified',
  'onResult',
  'stats',
  'algorithms',
  'issuer',
  'audience',
  'allowTestKeys',
  'diagnostics',
  'keyCache',
  'keyLookupTimeout',
  'logger',
  'rateLimit',
  'session',
];
const RATE_LIMIT_OPTIONS: readonly (keyof RateLimitOptions)[] = [
  'identity',
  'address',
  'redis',
  'store',
  'maxKeys',
  'keyPrefix',
  'ipv6Subnet',
  'storeTimeout',
];

/** The verifier's configuration: what each part reads, resolved once. */
export interface VerifierConfig {
  readonly schemes: readonly Scheme[];
  readonly settings: SchemeSettings;
  readonly keyRing: KeyRingOptions;
  readonly rateLimit: RateLimitOptions | false | undefined;
  /** `true`, `false` or `'report'`: the default for every tenant whose keys lookup answers none of its own. */
  readonly required: RequiredMode;
  readonly diagnostics: boolean;
  readonly allowTestKeys: boolean;
  readonly now: () => number;
  readonly logger: Logger;
  readonly tenant: VerifierOptions['tenant'];
  readonly getCredentials: VerifierOptions['getCredentials'];
  readonly onVerified: VerifierOptions['onVerified'];
  readonly onResult: VerifierOptions['onResult'];
  /** The shared count to count into, `false` for none, undefined for one of the verifier's own. */
  readonly stats: IdentityStats | false | undefined;
  /** Sessions, when the `session` option turns them on. */
  readonly session: SessionConfig | undefined;
}

export function resolveOptions(options: VerifierOptions): VerifierConfig {
  if (options === null || typeof options !== 'object') throw new TypeError('chat-identity: createVerifier needs an options object.');
  refuseUnknown(options, VERIFIER_OPTIONS, 'options');
  const schemes = readSchemes(options);
  const now = readFunction(options.now, 'now') ?? Date.now;
  const logger = readLogger(options.logger);
  const allowTestKeys = readBoolean(options.allowTestKeys, 'allowTestKeys') ?? true;
  if (options.rateLimit !== undefined && options.rateLimit !== false)
    refuseUnknown(options.rateLimit, RATE_LIMIT_OPTIONS, 'options.rateLimit');
  if (options.keyCache !== undefined && options.keyCache !== false) refuseUnknown(options.keyCache, ['max', 'ttl'], 'options.keyCache');
  const settings = readSettings(options);
  return Object.freeze({
    schemes,
    settings: Object.freeze(settings),
    keyRing: Object.freeze({
      keys: options.keys,
      schemes: schemes.map((s) => s.name),
      allowTestKeys,
      keyCache: options.keyCache,
      keyLookupTimeout: options.keyLookupTimeout,
      algorithms: settings.algorithms,
      now,
      logger,
    }),
    rateLimit: options.rateLimit,
    required: readRequired(options.required),
    diagnostics: readBoolean(options.diagnostics, 'diagnostics') ?? false,
    allowTestKeys,
    now,
    logger,
    tenant: readFunction(options.tenant, 'tenant'),
    getCredentials: readFunction(options.getCredentials, 'getCredentials'),
    onVerified: readFunction(options.onVerified, 'onVerified'),
    onResult: readFunction(options.onResult, 'onResult'),
    stats: readStats(options.stats),
    session: readSessionOptions(options.session, { rateLimit: options.rateLimit, now, logger }),
  });
}

/**
 * Refuses any key of `value` that `known` does not list, naming the closest known one: a misspelt
 * option is silently ignored otherwise, and the setting it meant silently not applied.
 */
export function refuseUnknown(value: object, known: readonly string[], where: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TypeError(`chat-identity: ${where} must be an object.`);
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const closest = closestOf(key, known);
    throw new TypeError(
      `chat-identity: ${where} has no option ${JSON.stringify(key)}${closest ? `; did you mean ${JSON.stringify(closest)}?` : '.'} Valid: ${known.join(', ')}.`,
    );
  }
}

/** The known name nearest to `name` by edit distance, when near enough to be a likely misspelling. */
function closestOf(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance, with a transposition counted as one edit ("requried" is one from "required"). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

function readSchemes(options: VerifierOptions): Scheme[] {
  const names: readonly unknown[] = Array.isArray(options.scheme) ? options.scheme : [options.scheme];
  if (names.length === 0 || names.some((name) => !SCHEME_NAMES.includes(name as never))) {
    throw new TypeError(
      `chat-identity: options.scheme must be one of ${SCHEME_NAMES.join(', ')} (or an array of them); got ${JSON.stringify(options.scheme)}.`,
    );
  }
  if (options.keys === undefined || options.keys === null) {
    throw new TypeError('chat-identity: options.keys is required: the signing secrets, or a (tenant, request, { scheme }) => keys lookup.');
  }
  return [...new Set(names as (keyof typeof SCHEMES)[])].map((name) => SCHEMES[name]);
}

function readSettings(options: VerifierOptions): SchemeSettings {
  const seconds = (name: 'maxAge' | 'testMaxAge' | 'clockTolerance', fallback?: number) => {
    const value = options[name] ?? fallback;
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`chat-identity: options.${name} must be a number of seconds, 0 or more.`);
    }
    return value;
  };
  // Unset: HS256 for shared secrets, each public key's own algorithm (the key decides; src/schemes/jwt/keySelection.ts).
  const listed: unknown = options.algorithms;
  const algorithms = (Array.isArray(listed) ? listed.map(algorithmNamed) : listed) as readonly JwtAlgorithm[] | undefined;
  const unknown = (a: unknown) => !JWT_ALGORITHMS.includes(a as never);
  if (algorithms !== undefined && (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some(unknown))) {
    throw new TypeError(`chat-identity: options.algorithms must list some of ${JWT_ALGORITHMS.join(', ')}; "none" is never accepted.`);
  }
  return {
    maxAge: seconds('maxAge'),
    testMaxAge: seconds('testMaxAge', 3600)!,
    clockTolerance: seconds('clockTolerance', 60)!,
    algorithms,
    issuer: stringList(options.issuer, 'issuer'),
    audience: stringList(options.audience, 'audience'),
  };
}

function stringList(value: string | readonly string[] | undefined, name: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((v) => typeof v !== 'string')) {
    throw new TypeError(`chat-identity: options.${name} must be a string or an array of strings.`);
  }
  return list;
}

/** `required`: `true`, `false` or `'report'`; anything else (`'yes'`, `'enforce'`) would guard nothing as meant. */
function readRequired(value: unknown): RequiredMode {
  if (value === undefined) return false;
  if (value === true || value === false || value === 'report') return value;
  throw new TypeError(
    `chat-identity: options.required must be true or false, or 'report' (let everything through, counting what would be refused).`,
  );
}

/** The logger, checked here: one that cannot log would fail the first request that needs it. */
function readLogger(value: Logger | undefined): Logger {
  if (value === undefined) return console;
  if (typeof value?.error !== 'function' || typeof value.warn !== 'function')
    throw new TypeError('chat-identity: options.logger must have warn() and error() functions (console, pino and winston do).');
  return value;
}

/** `stats`: `false`, or a count `identityStats()` made (a look-alike cannot be counted into). */
function readStats(value: unknown): IdentityStats | false | undefined {
  if (value === undefined || value === false) return value;
  if (countersFor(value) === undefined)
    throw new TypeError('chat-identity: options.stats must be false, or a count made by identityStats().');
  return value as IdentityStats;
}

function readBoolean(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`chat-identity: options.${name} must be true or false.`);
  return value;
}

function readFunction<F>(value: F | undefined, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`chat-identity: options.${name} must be a function.`);
  return value;
}
