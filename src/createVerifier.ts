/**
 * `createVerifier(options)`: picks the scheme a request uses, checks its shape, fetches the keys,
 * verifies the signature and the clock, and returns a result. Bad input is a result, never an
 * exception.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ scheme: 'user-hash', keys: [process.env.CHAT_SECRET!] });
 * const result = await verifier.verify({ headers: req.headers, body: req.body, ip: req.ip });
 * if (result.verified) upsertContact(result.contact);
 * ```
 */
import { diagnose } from './diagnosis.js';
import { failure, type IdentityErrorCode } from './errors.js';
import { createKeyRing, type SigningKey } from './keyRing.js';
import { createFailureLimits, type Attempt } from './rateLimit.js';
import { Rejection } from './rejection.js';
import { SCHEME_NAMES, SCHEMES } from './schemes/index.js';
import type { ParsedProof, Scheme, SchemeSettings } from './schemes/scheme.js';
import type { Credentials, IdentityResult, JwtAlgorithm, SchemeName, Verifier, VerifierOptions, VerifyRequest } from './types.js';

const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];

/** Failures a signing mistake can explain; the others (no keys, rate limits) have nothing to diagnose. */
const DIAGNOSABLE = new Set<IdentityErrorCode>(['MISSING_REQUIRED_FIELD', 'MALFORMED_IDENTITY', 'INVALID_SIGNATURE', 'SIGNATURE_EXPIRED']);

/** Every result a verifier returned. A guard trusts only these, never an object shaped like one. */
const issued = new WeakSet<object>();

/** Whether `value` is a result a verifier of this package returned (not a look-alike). */
export function isIssuedResult(value: unknown): value is IdentityResult {
  return typeof value === 'object' && value !== null && issued.has(value);
}

export function createVerifier(options: VerifierOptions): Verifier {
  const schemes = readSchemes(options);
  const settings = readSettings(options);
  const keyRing = createKeyRing(options);
  const now = options.now ?? Date.now;
  const required = options.required ?? false;
  const { getCredentials, onVerified, diagnostics = false, allowTestKeys = true } = options;
  const limits = createFailureLimits(options.rateLimit, options.logger);
  const tenantOf = options.tenant ?? (() => undefined);
  // The tenant matters to a keys lookup and to the limits; with neither it is never asked for.
  const needsTenant = typeof options.keys === 'function' || limits !== undefined;

  /** The first scheme, in the configured order, that finds the most of its proof in the request. */
  function pick(request: VerifyRequest): { scheme: Scheme; credentials: Credentials } | undefined {
    let best: { scheme: Scheme; credentials: Credentials } | undefined;
    let bestScore = 0;
    for (const scheme of schemes) {
      const credentials = getCredentials ? getCredentials(request) : scheme.credentials(request);
      if (credentials === undefined || credentials === null || typeof credentials !== 'object') continue;
      const score = scheme.presence(credentials);
      if (score > bestScore) [best, bestScore] = [{ scheme, credentials }, score];
      if (score === 2) break;
    }
    return best;
  }

  async function check(request: VerifyRequest): Promise<IdentityResult> {
    let picked: { scheme: Scheme; credentials: Credentials } | undefined;
    let keys: readonly SigningKey[] | undefined;
    let attempt: Attempt | undefined;
    let tenant: string | undefined;
    try {
      picked = pick(request);
      if (!picked) {
        if (!required) return { verified: false };
        return { verified: false, error: failure('MISSING_IDENTITY', diagnostics ? `No ${schemes.map((s) => s.name).join(' or ')} proof was found in the request.` : undefined) };
      }
      const { scheme, credentials } = picked;
      if (needsTenant) tenant = tenantOf(request);
      if (limits) attempt = { tenant, address: typeof request.ip === 'string' ? request.ip : undefined };
      const proof: ParsedProof = scheme.parse(credentials, settings);
      if (limits && attempt) {
        attempt.identity = `${scheme.name}:${proof.claimedIdentity}`;
        const limited = limits.check(attempt); // undefined when no counter holds a failure for it
        if (limited) await limited;
      }
      const at = now();
      // Static keys come back as they are: awaiting them would only cost a turn of the queue.
      const configured = keyRing.configured(request, tenant);
      keys = configured instanceof Promise ? await configured : configured;
      return scheme.verify(proof, { keys: keyRing.usable(keys, at), now: at, settings });
    } catch (error) {
      const rejection = error instanceof Rejection ? error : new Rejection('MALFORMED_IDENTITY', 'The proof could not be read.');
      if (limits && attempt) await limits.record(attempt, rejection.code);
      // Specific hints only where the contract allows them: test mode, a test key, or diagnostics on.
      const hintsAllowed = diagnostics || picked?.credentials.testMode === true || rejection.testKey;
      const hint = hintsAllowed ? await explain(rejection, picked, keys, request, tenant) : undefined;
      const result: IdentityResult = { verified: false, error: failure(rejection.code, hint, rejection.retryAfter) };
      if (picked) result.scheme = picked.scheme.name;
      return result;
    }
  }

  /** The diagnosed mistake, or else the rejection's own hint. */
  async function explain(rejection: Rejection, picked: { scheme: Scheme; credentials: Credentials } | undefined, keys: readonly SigningKey[] | undefined, request: VerifyRequest, tenant: string | undefined): Promise<string | undefined> {
    if (!picked || !DIAGNOSABLE.has(rejection.code)) return rejection.hint;
    try {
      keys ??= await keyRing.configured(request, tenant);
    } catch {
      keys = [];
    }
    const diagnosis = diagnose({ scheme: picked.scheme.name, credentials: picked.credentials, code: rejection.code, keys, now: now(), settings, allowTestKeys });
    return diagnosis ?? rejection.hint;
  }

  return {
    required,
    schemes: schemes.map((s) => s.name),
    async verify(request) {
      const result = await check(request ?? {});
      issued.add(result);
      // Outside the try on purpose: a failing contact store is the app's error, not bad input.
      if (result.verified && onVerified) await onVerified(result, request);
      return result;
    },
  };
}

function readSchemes(options: VerifierOptions): Scheme[] {
  if (options === null || typeof options !== 'object') throw new TypeError('chat-identity: createVerifier needs an options object.');
  const names: readonly unknown[] = Array.isArray(options.scheme) ? options.scheme : [options.scheme];
  if (names.length === 0 || names.some((name) => !SCHEME_NAMES.includes(name as SchemeName))) {
    throw new TypeError(`chat-identity: options.scheme must be one of ${SCHEME_NAMES.join(', ')} (or an array of them); got ${JSON.stringify(options.scheme)}.`);
  }
  if (options.keys === undefined || options.keys === null) {
    throw new TypeError('chat-identity: options.keys is required: the signing secrets, or a (tenant, request) => keys lookup.');
  }
  // The seed's visitor-hash endpoint signs whatever visitor id the browser asks for: its key is an
  // HMAC oracle, so no other scheme may trust it. One verifier shares one set of keys.
  if (names.includes('visitor-hash') && new Set(names).size > 1) {
    throw new TypeError(
      'chat-identity: visitor-hash cannot share a verifier (and so its keys) with other schemes: the site signs any visitor id it is asked for, which would let anyone mint user hashes, payloads or tokens. Use a second verifier with a key of its own.',
    );
  }
  return [...new Set(names as SchemeName[])].map((name) => SCHEMES[name]);
}

function readSettings(options: VerifierOptions): SchemeSettings {
  const seconds = (name: 'maxAge' | 'testMaxAge' | 'clockTolerance', fallback?: number) => {
    const value = options[name] ?? fallback;
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`chat-identity: options.${name} must be a number of seconds, 0 or more.`);
    }
    return value;
  };
  const algorithms = options.algorithms ?? ['HS256'];
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !JWT_ALGORITHMS.includes(a))) {
    throw new TypeError(`chat-identity: options.algorithms must list some of ${JWT_ALGORITHMS.join(', ')}; "none" and asymmetric algorithms are not accepted.`);
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
