/**
 * `createVerifier(options)`: picks the scheme a request uses, checks its shape, fetches the keys,
 * verifies the signature and the clock, and returns a result. Bad input is a result, never an
 * exception.
 *
 * The order of the steps is the defence: a client over its failure limit is refused before its
 * proof is read, a claimed identity over its limit before any HMAC, and every attempt counts
 * while it is in flight, so neither a flood nor a burst buys work.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!] });
 * const result = await verifier.verify({ headers: req.headers, body: req.body, ip: req.ip });
 * if (result.verified) upsertContact(result.contact);
 * ```
 */
import { findMistake } from './diagnosis/index.js';
import { failure, type IdentityErrorCode } from './errors.js';
import { resolveOptions } from './config.js';
import { createKeyRing, type SigningKey, type TenantKeys } from './keyRing.js';
import { createFailureLimits, type LimitedAttempt } from './rateLimit.js';
import { Rejection, reject } from './rejection.js';
import type { Scheme } from './schemes/scheme.js';
import type { Credentials, IdentityResult, Logger, Verifier, VerifierOptions, VerifyRequest } from './types.js';

/** Failures a signing mistake can explain; the others (no keys, rate limits) have nothing to diagnose. */
const DIAGNOSABLE = new Set<IdentityErrorCode>(['MISSING_REQUIRED_FIELD', 'MALFORMED_IDENTITY', 'INVALID_SIGNATURE', 'SIGNATURE_EXPIRED']);

const NO_HINT: { hint?: string; mistake?: string } = {};

/** Longer tenant names are refused before they reach a lookup, a cache or a limiter. */
export const MAX_TENANT_LENGTH = 256;

/** Every result a verifier returned. A guard trusts only these, never an object shaped like one. */
const issued = new WeakSet<object>();

/** Whether `value` is a result a verifier of this package returned (not a look-alike). */
export function isIssuedResult(value: unknown): value is IdentityResult {
  return typeof value === 'object' && value !== null && issued.has(value);
}

interface Picked {
  scheme: Scheme;
  credentials: Credentials;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const config = resolveOptions(options);
  const { schemes, settings, logger, now, required, diagnostics, allowTestKeys, getCredentials, onVerified } = config;
  const keyRing = createKeyRing(config.keyRing);
  const limits = createFailureLimits(config.rateLimit, logger);
  // A tenant matters only where keys are looked up per tenant: with static keys a proof is valid
  // for every tenant alike, so counting failures per tenant would only multiply an attacker's guesses.
  const tenantOf = config.tenant;
  const say = sayOnce(logger);

  /** The first scheme, in the configured order, that finds the most of its proof in the request. */
  function pick(request: VerifyRequest): Picked | undefined {
    let best: Picked | undefined;
    let bestScore = 0;
    for (const scheme of schemes) {
      const credentials = getCredentials ? appCall(() => getCredentials(request), 'getCredentials', 'MALFORMED_IDENTITY') : scheme.credentials(request);
      if (credentials === undefined || credentials === null || typeof credentials !== 'object') continue;
      const score = scheme.presence(credentials);
      if (score > bestScore) [best, bestScore] = [{ scheme, credentials }, score];
      if (score === 2) break;
    }
    return best;
  }

  /** The tenant a request names, bounded; only asked for when a lookup will use it. */
  function readTenant(request: VerifyRequest): string | undefined {
    if (!tenantOf) return undefined;
    const tenant = appCall(() => tenantOf(request), 'tenant', 'MALFORMED_IDENTITY');
    if (tenant === undefined) return undefined;
    if (typeof tenant !== 'string') {
      say('tenant-type', 'the tenant option returned something other than a string or undefined; such requests fail closed (KEY_UNAVAILABLE).');
      reject('KEY_UNAVAILABLE', 'The tenant option must return a string.');
    }
    if (tenant.length > MAX_TENANT_LENGTH) reject('MALFORMED_IDENTITY', `The tenant is longer than ${MAX_TENANT_LENGTH} characters.`);
    return tenant;
  }

  /**
   * Runs one of the app's callbacks: what it throws is the app's failure, made a result with
   * `code` and said once; anything this package throws past here is a bug (see `asRejection`).
   */
  function appCall<T>(call: () => T, name: string, code: IdentityErrorCode): T {
    try {
      return call();
    } catch (error) {
      if (error instanceof Rejection) throw error;
      say(`callback-${name}`, `the ${name} option threw (${describeError(error)}); such requests fail closed (${code}).`);
      reject(code, `The ${name} option failed.`);
    }
  }

  /** A thrown value as a Rejection: ours as it is; anything else is a bug, failed closed and said once. */
  function asRejection(error: unknown): Rejection {
    if (error instanceof Rejection) return error;
    say(`internal-${describeError(error)}`, `internal error, the request failed closed (MALFORMED_IDENTITY); please report it: ${error instanceof Error ? error.stack : describeError(error)}`);
    return new Rejection('MALFORMED_IDENTITY', 'The proof could not be read.');
  }

  async function check(request: VerifyRequest): Promise<IdentityResult> {
    let picked: Picked | undefined;
    let attempt: LimitedAttempt | undefined;
    let tenant: string | undefined;
    let tenantKeys: TenantKeys | undefined;
    let claimed = false;
    try {
      picked = pick(request);
      if (!picked) {
        if (!required) return { verified: false };
        return { verified: false, error: failure('MISSING_IDENTITY', diagnostics ? `No ${schemes.map((s) => s.name).join(' or ')} proof was found in the request.` : undefined) };
      }
      const { scheme, credentials } = picked;
      // A client over its limit is refused before its proof is even read.
      attempt = limits?.begin(typeof request.ip === 'string' ? request.ip : undefined);
      const admitted = attempt?.admit();
      if (admitted) await admitted;
      tenant = keyRing.looksUp(scheme.name) ? readTenant(request) : undefined;
      const proof = scheme.parse(credentials, settings);
      // Static keys come back as they are: awaiting them would only cost a turn of the queue.
      const configured = keyRing.configured(scheme.name, tenant, request);
      tenantKeys = configured instanceof Promise ? await configured : configured;
      // Counted by the tenant the lookup named, so spellings of one tenant share one limit.
      const claim = attempt?.claim(tenantKeys.tenant, `${scheme.name}:${proof.claimedIdentity}`);
      if (claim) await claim;
      claimed = true;
      const at = now();
      const result = scheme.verify(proof, { keys: keyRing.usable(tenantKeys.keys, at), tenant: tenantKeys.tenant, now: at, settings });
      // Not awaited: a refund never fails, and a shared store's refund must not delay the answer.
      void attempt?.end(undefined);
      return result;
    } catch (error) {
      let rejection = asRejection(error);
      // Hints are the server's decision: diagnostics on, or a signature that matched a test key
      // (then only test keys are examined). A client's own flag buys neither a hint nor work.
      let examined = tenantKeys?.keys;
      if (diagnostics && picked && DIAGNOSABLE.has(rejection.code) && !claimed) {
        ({ rejection, examined } = await prepareDiagnosis(rejection, picked, attempt, tenant, tenantKeys, request));
      } else if (rejection.testKey && !diagnostics) {
        examined = examined?.filter((key) => key.test);
      }
      const ended = attempt?.end(rejection.code);
      if (ended) await ended;
      const { hint, mistake } = diagnostics || rejection.testKey ? explain(rejection, picked, examined) : NO_HINT;
      const result: IdentityResult = { verified: false, error: failure(rejection.code, hint, rejection.retryAfter, mistake) };
      if (picked) result.scheme = picked.scheme.name;
      return result;
    }
  }

  /** The diagnosed mistake, looked for with `keys`, or else the rejection's own hint. */
  function explain(rejection: Rejection, picked: Picked | undefined, keys: readonly SigningKey[] | undefined): { hint?: string; mistake?: string } {
    if (!picked || !DIAGNOSABLE.has(rejection.code)) return { hint: rejection.hint };
    try {
      const found = findMistake({ scheme: picked.scheme.name, credentials: picked.credentials, code: rejection.code, keys: keys ?? [], now: now(), clock: now, settings, allowTestKeys });
      return found ? { hint: found.hint, mistake: found.mistake.id } : { hint: rejection.hint };
    } catch (error) {
      // A bug in the diagnosis: the verdict stands, without a hint, and the bug is said once.
      say(`internal-diagnosis-${describeError(error)}`, `internal error in the diagnosis; the verdict stands without a hint; please report it: ${error instanceof Error ? error.stack : describeError(error)}`);
      return { hint: rejection.hint };
    }
  }

  /**
   * A proof refused before its identity was claimed (while it was read), about to be diagnosed:
   * its keys are fetched for the diagnosis, and the identity it names is claimed first, so that
   * one over its limit learns nothing (a diagnosis could tell a right guess from a wrong one).
   */
  async function prepareDiagnosis(
    rejection: Rejection,
    picked: Picked,
    attempt: LimitedAttempt | undefined,
    tenant: string | undefined,
    tenantKeys: TenantKeys | undefined,
    request: VerifyRequest,
  ): Promise<{ rejection: Rejection; examined: readonly SigningKey[] | undefined }> {
    try {
      tenantKeys ??= await keyRing.configured(picked.scheme.name, tenant, request);
      const identity = picked.scheme.claimedIdentity(picked.credentials);
      const claim = identity === undefined ? undefined : attempt?.claim(tenantKeys.tenant, `${picked.scheme.name}:${identity}`);
      if (claim) await claim;
      return { rejection, examined: tenantKeys.keys };
    } catch (error) {
      const refused = asRejection(error);
      // Over its limit: that is the answer. Keys unavailable: the proof's own failure stands, undiagnosed.
      return refused.code === 'RATE_LIMITED' ? { rejection: refused, examined: undefined } : { rejection, examined: [] };
    }
  }

  return {
    required,
    schemes: schemes.map((s) => s.name),
    refreshKeys: (tenant) => keyRing.forget(tenant),
    async verify(request) {
      const result = await check(request ?? {});
      issued.add(result);
      // Outside the try on purpose: a failing contact store is the app's error, not bad input.
      if (result.verified && onVerified) await onVerified(result, request);
      return result;
    },
  };
}

/** Says each distinct problem once per verifier, not once per request. */
function sayOnce(logger: Logger): (key: string, message: string) => void {
  const said = new Set<string>();
  return (key, message) => {
    if (said.has(key) || said.size > 100) return;
    said.add(key);
    logger.error(`chat-identity: ${message}`);
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : typeof error;
}
