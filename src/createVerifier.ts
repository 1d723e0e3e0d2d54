/**
 * `createVerifier(options)`: picks the scheme a request uses, checks its shape, fetches the keys,
 * verifies the signature and the clock, and returns a result. Bad input is a result, never an
 * exception.
 *
 * The order of the steps is the defence: a client over its failure limit is refused before its
 * proof is read, a claimed identity over its limit before any HMAC, and every attempt counts
 * while it is in flight, so neither a flood nor a burst buys work.
 *
 * With the `session` option, a verified proof also starts a session (src/session/), and a request
 * that carries no proof but a session credential is verified by that, through the same limits. A
 * proof always wins: present, it alone decides, and a session beside it is never consulted.
 *
 * Every result is then judged by the mode of its tenant (`required`, or the keys lookup's answer for
 * the tenant: docs/rollout.md): in `'report'` an unverified one carries `wouldReject`; and counted
 * (src/stats/), and summarised for `onResult`.
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
import type { ParsedProof, Scheme } from './schemes/scheme.js';
import { createSessions, type SessionFacts, type Sessions, type Stage } from './session/index.js';
import { proofPolicyDigest } from './session/policy.js';
import { countersFor, identityStats, type Count, type Counters } from './stats/counters.js';
import { summarise } from './stats/summary.js';
import type {
  AppliedMode,
  Credentials,
  IdentityResult,
  Logger,
  RequiredMode,
  SchemeName,
  VerifiedIdentity,
  Verifier,
  VerifierOptions,
  VerifyRequest,
} from './types.js';

/** Failures a signing mistake can explain; the others (no keys, rate limits) have nothing to diagnose. */
const DIAGNOSABLE = new Set<IdentityErrorCode>([
  'MISSING_IDENTITY',
  'MISSING_REQUIRED_FIELD',
  'MALFORMED_IDENTITY',
  'INVALID_SIGNATURE',
  'SIGNATURE_EXPIRED',
]);

const NO_HINT: { hint?: string; mistake?: string; key?: SigningKey } = {};

/** Longer tenant names are refused before they reach a lookup, a cache or a limiter. */
export const MAX_TENANT_LENGTH = 256;

/** What a verifier noted of a result: the headers its response must carry, and its session. */
interface Note {
  /** A session issued, renewed or ended. */
  headers?: Record<string, string>;
  /** The session the result was verified by or issued, for `endSession(result)`. */
  session?: SessionFacts;
  /** Not verified, and `required` was `true` for it: to be refused (`mustReject`). */
  enforced?: boolean;
}

/** `readTenant` has not run for the request yet. */
const UNREAD = Symbol('unread');

/** The stage of a check without sessions: only a session's DPoP proof ever changes it. */
const NO_STAGE: Readonly<Stage> = Object.freeze({ failure: 'credential' });

/**
 * One request's check: where it has got to, for its failure path, and what it learnt besides its
 * result, for the mode, the counters and the summary (the keys lookup's answer, the tenant as it
 * names it and its `required`; a failure's diagnosis). One object a request, handed from step to
 * step as `c`.
 */
class Check {
  /** The scheme and the fields of the proof it found. */
  picked: Picked | undefined = undefined;
  attempt: LimitedAttempt | undefined = undefined;
  /** The tenant the request names, once read. */
  tenant: string | undefined | typeof UNREAD = UNREAD;
  /** The keys the proof was checked with. */
  tenantKeys: TenantKeys | undefined = undefined;
  /** The identity the proof names was claimed (counted against its limit). */
  claimed = false;
  stage: Stage = NO_STAGE;
  /** A keys lookup serves the request's scheme (else no tenant applies: static keys). */
  lookedUp = false;
  /** The lookup was asked for this request's keys (so it is not asked again for the tenant's mode). */
  asked = false;
  /** Its answer, when it gave one. */
  answer: TenantKeys | undefined = undefined;
  /** The lookup could not be asked for the tenant's mode (the client over its limit, its tenant name refused): enforced. */
  modeUnknown = false;
  /** The key a failure's diagnosis named. */
  key: SigningKey | undefined = undefined;
  /** The diagnosed mistake's id. */
  mistake: string | undefined = undefined;
  /** A failure's signature matched a test key. */
  testKey = false;
  /** When a proof was verified (`now()`): the verifier's own counters count it at that time, without reading the clock again. */
  at: number | undefined = undefined;
  constructor(
    readonly request: VerifyRequest,
    readonly note: IssuedNote,
  ) {}
}

/** Where a verifier of this package keeps its `verifyNow` (Symbol.for: every copy of the core finds it). */
const VERIFY_NOW = Symbol.for('chat-identity.verifyNow');

/**
 * `verifier.verify(request)`, answering with the result itself when nothing had to be awaited: what
 * the adapters call (chat-identity/adapter), so that a request with nothing to wait for takes no turn
 * of the microtask queue. The same steps, limits and result as `verify()`; any other verifier's
 * `verify()` as it is.
 *
 * @example
 * ```ts
 * const answer = verifyNow(verifier, request);
 * const result = answer instanceof Promise ? await answer : answer;
 * ```
 */
export function verifyNow(verifier: Verifier, request: VerifyRequest): IdentityResult | Promise<IdentityResult> {
  const own = (verifier as { [VERIFY_NOW]?: (request: VerifyRequest) => IdentityResult | Promise<IdentityResult> })[VERIFY_NOW];
  return own ? own(request) : verifier.verify(request);
}

/** Where a verifier of this package keeps the logger it was made with. */
const LOGGER = Symbol.for('chat-identity.logger');

/**
 * The logger a verifier of this package was made with (`console` unless its options gave one): the
 * adapters say their own misconfigurations there, where the app reads the verifier's. Undefined for
 * any other verifier.
 *
 * @example
 * ```ts
 * const logger = loggerOf(verifier) ?? console;
 * ```
 */
export function loggerOf(verifier: Verifier): Logger | undefined {
  return (verifier as { [LOGGER]?: Logger })[LOGGER];
}

/** Hands its caller's object to a subclass's constructor as `this`, so that the subclass can add its private field to it. */
class Lend {
  constructor(target: object) {
    return target;
  }
}

/**
 * Every result a verifier returned carries its note in this private field: a guard trusts only
 * these, never an object shaped like one. No code outside this class can read, write or copy the
 * field (a spread, `structuredClone` or JSON leaves it behind), like the entry of a WeakMap, which
 * it replaced: a WeakMap entry per request cost a verify 0.5 µs, most of it at collection time
 * (bench/PROFILE.md, "Core, after").
 */
class Issued extends Lend {
  #note: IssuedNote;
  private constructor(result: object, note: IssuedNote) {
    super(result);
    this.#note = note;
  }

  static mark(result: object, note: IssuedNote): void {
    if (#note in result) (result as Issued).#note = note;
    else new Issued(result, note);
  }

  static noteOf(value: unknown): IssuedNote | undefined {
    return typeof value === 'object' && value !== null && #note in value ? (value as Issued).#note : undefined;
  }
}
type IssuedNote = Note & { verifier: Verifier };

/**
 * Freezes a result as it is issued, its contact, attributes and `verifiedFields` with it: the guard
 * trusts the mark, so nothing after the check may change what the marked object says. A body
 * deep-merged onto the request (`_.merge(req, req.body)`) would otherwise turn an unverified result
 * verified, or a verified one into someone else's, under the same mark.
 */
function freezeIssued(result: IdentityResult): void {
  if (result.verified) {
    const { contact } = result;
    // Most attribute sets and field lists are shared and frozen already (src/contact.ts): asking is cheaper than freezing again.
    if (!Object.isFrozen(contact.attributes)) Object.freeze(contact.attributes);
    if (!Object.isFrozen(contact.verifiedFields)) Object.freeze(contact.verifiedFields);
    Object.freeze(contact);
  } else if (result.error) Object.freeze(result.error);
  Object.freeze(result);
}
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Whether `value` is a result a verifier of this package returned (not a look-alike): what a guard
 * trusts before letting a request through.
 *
 * @example
 * ```ts
 * if (!isIssuedResult(req.identity) || !req.identity.verified) return res.status(401).end();
 * ```
 */
export function isIssuedResult(value: unknown): value is IdentityResult {
  return Issued.noteOf(value) !== undefined;
}

/**
 * The verifier that returned `result`, for an adapter's `endSession()`; undefined for anything else.
 *
 * @example
 * ```ts
 * await verifierOf(req.identity)?.endSession(req.identity!);
 * ```
 */
export function verifierOf(result: unknown): Verifier | undefined {
  return Issued.noteOf(result)?.verifier;
}

/**
 * The headers the response to the request that produced `result` must carry: the session credential
 * issued or renewed (`Chat-Identity-Session`, or `Set-Cookie`), or the end of one and the challenge
 * (`WWW-Authenticate: ChatIdentity …`). Empty when there are none, always without sessions.
 *
 * @example
 * ```ts
 * const result = await verifier.verify(request);
 * for (const [name, value] of Object.entries(responseHeadersOf(result))) res.setHeader(name, value);
 * ```
 */
export function responseHeadersOf(result: unknown): Readonly<Record<string, string>> {
  return Issued.noteOf(result)?.headers ?? NO_HEADERS;
}

/**
 * Marks each key handed to a scheme with an id that names its place in the list, so that the result
 * tells which key matched (a session binds it); `unlabel` puts the key's own id back. Only with sessions.
 */
const LABEL = '\0key ';
const labelledLists = new WeakMap<readonly SigningKey[], readonly SigningKey[]>();

function labelled(keys: readonly SigningKey[]): readonly SigningKey[] {
  let list = labelledLists.get(keys);
  if (list === undefined) {
    list = keys.map((key, i) => ({ ...key, id: `${LABEL}${i}` }));
    labelledLists.set(keys, list);
  }
  return list;
}

/** The key a result of `labelled` keys names, and the result with that key's own id (none: rebuilt without, not `delete`d). */
function unlabel(labelledResult: VerifiedIdentity, keys: readonly SigningKey[]): { result: VerifiedIdentity; key: SigningKey } {
  const key = keys[Number(labelledResult.keyId!.slice(LABEL.length))]!;
  if (key.id !== undefined) {
    labelledResult.keyId = key.id;
    return { result: labelledResult, key };
  }
  const { verified, scheme, contact, test, via, tenant, issuedAt } = labelledResult;
  const result: VerifiedIdentity = { verified, scheme, contact, test, via };
  if (tenant !== undefined) result.tenant = tenant;
  if (issuedAt !== undefined) result.issuedAt = issuedAt;
  return { result, key };
}

interface Picked {
  scheme: Scheme;
  credentials: Credentials;
}

/**
 * Makes a verifier for one configuration: which schemes, which keys (or a per-tenant lookup), and
 * whether unverified requests are refused. Make it once at start-up; the adapters take the same options.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!] });
 * const result = await verifier.verify({ headers: req.headers, body: req.body, ip: req.ip });
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const config = resolveOptions(options);
  const { schemes, settings, logger, now, required, diagnostics, allowTestKeys, getCredentials, onVerified, onResult } = config;
  const keyRing = createKeyRing(config.keyRing);
  const limits = createFailureLimits(config.rateLimit, logger);
  // A tenant matters only where keys are looked up per tenant: with static keys a proof is valid
  // for every tenant alike, so counting failures per tenant would only multiply an attacker's guesses.
  const tenantOf = config.tenant;
  const say = sayOnce(logger);
  const sessions =
    config.session &&
    createSessions(config.session, {
      clockTolerance: settings.clockTolerance,
      allowTestKeys,
      policy: proofPolicyDigest(schemes, settings, allowTestKeys, config.session),
      say,
    });
  sessions?.refuseSiteKeys((fingerprint: string) => keyRing.schemeOf(fingerprint));
  // Counted into the app's shared count, or one of the verifier's own on its clock; or nowhere.
  const counters: Counters | undefined = config.stats === false ? undefined : countersFor(config.stats ?? identityStats({ now }));
  /** The counters run on this verifier's clock (its own, not an app's shared count): a time it read serves them too. */
  const countsOnOwnClock = config.stats === undefined;
  /** The scheme whose keys lookup names the tenant of a request with no proof: the first, in order, with one. */
  const tenantScheme = schemes.find((scheme) => keyRing.looksUp(scheme.name))?.name;

  /** The mode a request was judged by: its tenant's answer, or the option; enforced when the lookup could not be asked (`learnTenant`). */
  const modeOf = (c: Check): RequiredMode => c.answer?.required ?? (c.modeUnknown ? true : required);

  /**
   * Asks the keys lookup for the tenant a request names when only its mode is needed: a request with
   * no proof, or refused before its keys were fetched. Never throws: a lookup that cannot answer
   * leaves the mode as configured (and the tenant unknown). `how`: `'cached'` asks no lookup (a
   * client over its limit buys none); `'limited'` admits one not cached through the client's address
   * limit first, and a failed one counts against it (junk tenant names cannot buy lookups).
   * A request stopped before the lookup could be asked (over its limit, its tenant name refused) is
   * judged as enforced (`modeUnknown`): else a tenant with `required: true` under a lenient option
   * would let through every client that first got itself limited.
   */
  async function learnTenant(
    scheme: SchemeName | undefined,
    c: Check,
    read: string | undefined | typeof UNREAD,
    how: 'cached' | 'limited' | 'admitted',
  ): Promise<void> {
    const name = tenantLookup(scheme);
    if (name === undefined) return;
    const { request } = c;
    c.lookedUp = true;
    let attempt: LimitedAttempt | undefined;
    let lookupAsked = false;
    try {
      const tenant = read === UNREAD ? readTenant(request) : read;
      if (!keyRing.answersAtOnce(name, tenant)) {
        if (how === 'cached') {
          c.modeUnknown = true;
          return;
        }
        if (how === 'limited') {
          attempt = limits?.begin(request);
          attempt?.readAddress(); // before the awaits below
          const admitted = attempt?.admit();
          if (admitted) await admitted;
        }
      }
      lookupAsked = true;
      const answer = keyRing.answer(name, tenant, request);
      c.answer = answer instanceof Promise ? await answer : answer;
      void attempt?.end(undefined);
    } catch (error) {
      if (!lookupAsked) c.modeUnknown = true;
      void attempt?.end(error instanceof Rejection ? error.code : 'KEY_UNAVAILABLE');
    }
  }

  /** The scheme whose keys lookup names a request's tenant (its own, else the first with one), if any. */
  function tenantLookup(scheme: SchemeName | undefined): SchemeName | undefined {
    const name = scheme ?? tenantScheme;
    return name !== undefined && keyRing.looksUp(name) ? name : undefined;
  }

  /** The first scheme, in the configured order, that finds the most of its proof in the request. */
  function pick(request: VerifyRequest): Picked | undefined {
    let best: Picked | undefined;
    let bestScore = 0;
    for (const scheme of schemes) {
      const credentials = getCredentials
        ? appCall(() => getCredentials(request), 'getCredentials', 'MALFORMED_IDENTITY')
        : scheme.credentials(request);
      if (credentials === undefined || credentials === null || typeof credentials !== 'object') continue;
      const score = scheme.presence(credentials);
      if (score > bestScore) {
        best = { scheme, credentials };
        bestScore = score;
      }
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
      say(
        'tenant-type',
        'the tenant option returned something other than a string or undefined; such requests fail closed (KEY_UNAVAILABLE).',
      );
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
    say(
      `internal-${describeError(error)}`,
      `internal error, the request failed closed (MALFORMED_IDENTITY); please report it: ${error instanceof Error ? error.stack : describeError(error)}`,
    );
    return new Rejection('MALFORMED_IDENTITY', 'The proof could not be read.');
  }

  /**
   * Checks a request: the result itself when nothing had to be awaited (static keys, the memory
   * store, no sessions: the usual case), else a promise of it. The steps, and their order, are
   * those of `checkAsync`; each step that meets a promise hands the rest to `after`.
   */
  function check(c: Check): IdentityResult | Promise<IdentityResult> {
    if (sessions) return checkAsync(c);
    try {
      const picked = (c.picked = pick(c.request));
      if (!picked) {
        // Nothing presented: the tenant's own setting decides whether that is MISSING_IDENTITY.
        if (tenantScheme !== undefined) return nothingPresented(c);
        return notPresented(c);
      }
      // A client over its limit is refused before its proof is even read.
      c.attempt = limits?.begin(c.request);
      const admitted = c.attempt?.admit();
      if (admitted) return after(admitted, () => readProof(c), c);
      return readProof(c);
    } catch (error) {
      return failed(error, c);
    }
  }

  function readProof(c: Check): IdentityResult | Promise<IdentityResult> {
    try {
      const { scheme, credentials } = c.picked!;
      c.lookedUp = keyRing.looksUp(scheme.name);
      c.tenant = c.lookedUp ? readTenant(c.request) : undefined;
      const proof = scheme.parse(credentials, settings);
      c.asked = true;
      const configured = keyRing.configured(scheme.name, c.tenant, c.request, proof.keyId);
      if (configured instanceof Promise) return after(configured, (keys) => claimProof(keys, proof, c), c);
      return claimProof(configured, proof, c);
    } catch (error) {
      return failed(error, c);
    }
  }

  function claimProof(tenantKeys: TenantKeys, proof: ParsedProof, c: Check): IdentityResult | Promise<IdentityResult> {
    try {
      c.tenantKeys = c.answer = tenantKeys;
      // Counted by the tenant the lookup named, so spellings of one tenant share one limit.
      const claim = c.attempt?.claim(tenantKeys.tenant, c.picked!.scheme.name, proof.claimedIdentity);
      if (claim) return after(claim, () => verifyProof(tenantKeys, proof, c), c);
      return verifyProof(tenantKeys, proof, c);
    } catch (error) {
      return failed(error, c);
    }
  }

  function verifyProof(tenantKeys: TenantKeys, proof: ParsedProof, c: Check): IdentityResult | Promise<IdentityResult> {
    try {
      c.claimed = true;
      const at = (c.at = now());
      const usable = keyRing.usable(tenantKeys.keys, at);
      const result = c.picked!.scheme.verify(proof, { keys: usable, tenant: tenantKeys.tenant, now: at, settings });
      if (result instanceof Rejection) return failed(result, c); // a signature no key made: answered, not thrown
      // Not awaited: a refund never fails, and a shared store's refund must not delay the answer.
      void c.attempt?.end(undefined);
      return result;
    } catch (error) {
      return failed(error, c);
    }
  }

  /**
   * Waits for `pending`, then goes on with `next`; a rejection of `pending` is the check's failure.
   * The attempt's client address is read first, in this request's own turn (`readAddress`).
   */
  function after<T>(
    pending: Promise<T>,
    next: (value: T) => IdentityResult | Promise<IdentityResult>,
    c: Check,
  ): IdentityResult | Promise<IdentityResult> {
    try {
      c.attempt?.readAddress();
    } catch (error) {
      void pending.catch(() => {}); // its outcome no longer matters
      return failed(error, c);
    }
    return waitThen(pending, next, c);
  }

  async function waitThen<T>(
    pending: Promise<T>,
    next: (value: T) => IdentityResult | Promise<IdentityResult>,
    c: Check,
  ): Promise<IdentityResult> {
    let value: T;
    try {
      value = await pending;
    } catch (error) {
      return failed(error, c);
    }
    return next(value);
  }

  /** No proof and no session, with a keys lookup that may name the tenant (and so its mode). */
  async function nothingPresented(c: Check): Promise<IdentityResult> {
    await learnTenant(undefined, c, UNREAD, 'limited');
    return notPresented(c);
  }

  function notPresented(c: Check): IdentityResult {
    if (modeOf(c) === false) return { verified: false };
    return {
      verified: false,
      error: failure(
        'MISSING_IDENTITY',
        diagnostics ? `No ${schemes.map((s) => s.name).join(' or ')} proof was found in the request.` : undefined,
      ),
    };
  }

  /** The same steps as `check`, awaited one after another: with sessions (a proof starts one; a credential is checked). */
  async function checkAsync(c: Check): Promise<IdentityResult> {
    const { request } = c;
    c.stage = { failure: 'credential' };
    try {
      const picked = (c.picked = pick(request));
      if (!picked) {
        const credential = sessions?.credentialOf(request);
        if (credential !== undefined) return await checkSession(sessions!, credential, c);
        await learnTenant(undefined, c, UNREAD, 'limited');
        return notPresented(c);
      }
      const { scheme, credentials } = picked;
      c.attempt = limits?.begin(request);
      c.attempt?.readAddress(); // with sessions every step may await
      const admitted = c.attempt?.admit();
      if (admitted) await admitted;
      c.lookedUp = keyRing.looksUp(scheme.name);
      c.tenant = c.lookedUp ? readTenant(request) : undefined;
      const proof = scheme.parse(credentials, settings);
      // Static keys come back as they are: awaiting them would only cost a turn of the queue. A key
      // set fetched from a URL that lacks the key the proof names (a JWT's kid) is fetched again first.
      c.asked = true;
      const configured = keyRing.configured(scheme.name, c.tenant, request, proof.keyId);
      const tenantKeys = (c.tenantKeys = c.answer = configured instanceof Promise ? await configured : configured);
      const claim = c.attempt?.claim(tenantKeys.tenant, scheme.name, proof.claimedIdentity);
      if (claim) await claim;
      c.claimed = true;
      const at = now();
      const usable = keyRing.usable(tenantKeys.keys, at);
      if (sessions) {
        const verified = scheme.verify(proof, { keys: labelled(usable), tenant: tenantKeys.tenant, now: at, settings });
        if (verified instanceof Rejection) throw verified;
        const { result, key } = unlabel(verified, usable);
        await startSession(sessions, result, key, at, c);
        void c.attempt?.end(undefined);
        return result;
      }
      const result = scheme.verify(proof, { keys: usable, tenant: tenantKeys.tenant, now: at, settings });
      if (result instanceof Rejection) throw result;
      void c.attempt?.end(undefined);
      return result;
    } catch (error) {
      return failed(error, c);
    }
  }

  /**
   * A check that threw: the result for its rejection, diagnosed, its tenant's mode learnt, its
   * failure counted. Answered at once when none of that has to wait (no diagnosis to prepare, no
   * tenant to learn, the memory store): a refusal costs no promise of its own.
   */
  function failed(error: unknown, c: Check): IdentityResult | Promise<IdentityResult> {
    const { picked, attempt, tenant, claimed } = c;
    const rejection = asRejection(error);
    // Before any await below: a failure is counted against the address, and meanwhile another attempt may need it.
    try {
      attempt?.readAddress();
    } catch (readError) {
      asRejection(readError); // a bug or the app's getter: said; the address limit does not count this one
    }
    if (c.stage.failure === 'dpop') return refusedBinding(sessions!, rejection, c);
    // Hints are the server's decision: diagnostics on, or a signature that matched a test key
    // (then only test keys are examined). A client's own flag buys neither a hint nor work.
    const diagnose = diagnostics && picked !== undefined && DIAGNOSABLE.has(rejection.code) && !claimed && tenant !== UNREAD;
    const examined = rejection.testKey && !diagnostics ? c.tenantKeys?.keys.filter((key) => key.test) : c.tenantKeys?.keys;
    // Refused before its keys were asked for: the tenant's mode still decides what becomes of it.
    if (diagnose || (!c.asked && tenantLookup(picked?.scheme.name) !== undefined)) {
      return failedAfterAwaits(rejection, examined, diagnose, c);
    }
    const ended = attempt?.end(rejection.code);
    if (ended) return ended.then(() => refusal(rejection, examined, c));
    return refusal(rejection, examined, c);
  }

  /** `failed`, when the diagnosis must fetch keys (`diagnose`: the tenant was read) or the tenant's mode must be learnt first. */
  async function failedAfterAwaits(
    rejection: Rejection,
    examined: readonly SigningKey[] | undefined,
    diagnose: boolean,
    c: Check,
  ): Promise<IdentityResult> {
    const { picked, attempt, tenant } = c;
    if (diagnose) ({ rejection, examined } = await prepareDiagnosis(rejection, c));
    if (!c.asked) {
      const how = rejection.code === 'RATE_LIMITED' ? 'cached' : picked ? 'admitted' : 'limited';
      await learnTenant(picked?.scheme.name, c, tenant, how);
    }
    const ended = attempt?.end(rejection.code);
    if (ended) await ended;
    return refusal(rejection, examined, c);
  }

  /** The result of a refusal, with the hint and mistake it may carry; what the counters need goes on the check. */
  function refusal(rejection: Rejection, examined: readonly SigningKey[] | undefined, c: Check): IdentityResult {
    const { picked } = c;
    const { hint, mistake, key } = diagnostics || rejection.testKey ? explain(rejection, picked, examined) : NO_HINT;
    const result: IdentityResult = { verified: false, error: failure(rejection.code, hint, rejection.retryAfter, mistake) };
    if (picked) result.scheme = picked.scheme.name;
    if (mistake !== undefined) c.mistake = mistake;
    if (key !== undefined) c.key = key;
    if (rejection.testKey) c.testKey = true;
    return result;
  }

  /** The diagnosed mistake, looked for with `keys`, or else the rejection's own hint. */
  function explain(
    rejection: Rejection,
    picked: Picked | undefined,
    keys: readonly SigningKey[] | undefined,
  ): { hint?: string; mistake?: string; key?: SigningKey } {
    if (!picked || !DIAGNOSABLE.has(rejection.code)) return { hint: rejection.hint };
    try {
      const found = findMistake({
        scheme: picked.scheme.name,
        credentials: picked.credentials,
        code: rejection.code,
        keys: keys ?? [],
        now: now(),
        clock: now,
        settings,
        allowTestKeys,
      });
      if (!found) return { hint: rejection.hint };
      return found.key ? { hint: found.hint, mistake: found.mistake.id, key: found.key } : { hint: found.hint, mistake: found.mistake.id };
    } catch (error) {
      // A bug in the diagnosis: the verdict stands, without a hint, and the bug is said once.
      say(
        `internal-diagnosis-${describeError(error)}`,
        `internal error in the diagnosis; the verdict stands without a hint; please report it: ${error instanceof Error ? error.stack : describeError(error)}`,
      );
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
    c: Check,
  ): Promise<{ rejection: Rejection; examined: readonly SigningKey[] | undefined }> {
    const picked = c.picked!;
    const { attempt } = c;
    const tenant = c.tenant as string | undefined; // read: `failed` diagnoses only then
    try {
      c.asked = true;
      const tenantKeys = (c.answer ??= await keyRing.configured(picked.scheme.name, tenant, c.request));
      const identity = picked.scheme.claimedIdentity(picked.credentials);
      const claim = identity === undefined ? undefined : attempt?.claim(tenantKeys.tenant, picked.scheme.name, identity);
      if (claim) await claim;
      return { rejection, examined: tenantKeys.keys };
    } catch (error) {
      const refused = asRejection(error);
      // Over its limit: that is the answer. Keys unavailable: the proof's own failure stands, undiagnosed.
      return refused.code === 'RATE_LIMITED' ? { rejection: refused, examined: undefined } : { rejection, examined: [] };
    }
  }

  /**
   * A verified proof starts a session (unless `issuesTo` says another page sent it): its credential
   * goes in the response. A bound verifier needs the request's DPoP proof (a present but invalid one
   * refuses the request); a session the request also carries, for someone else, is ended (the user
   * switched accounts).
   */
  async function startSession(sessions: Sessions, result: VerifiedIdentity, siteKey: SigningKey, at: number, c: Check): Promise<void> {
    const { request, note } = c;
    if (!sessions.issuesTo(request)) return;
    const binding = sessions.config.bind ? await sessions.bindingOf(request, at, c.stage) : undefined;
    const started = await sessions.issue(result, siteKey, at, binding);
    if (started) {
      note.session = started.facts;
      note.headers = sessions.issuedHeaders(started.credential, started.facts, at);
    }
    const carried = sessions.credentialOf(request);
    if (carried !== undefined) await sessions.replaced(carried, result, at);
  }

  /** A proof that verified, refused for its DPoP proof: the proof's failure, with the DPoP challenge. */
  async function refusedBinding(sessions: Sessions, rejection: Rejection, c: Check): Promise<IdentityResult> {
    const ended = c.attempt?.end(rejection.code);
    if (ended) await ended;
    const error = failure(rejection.code, diagnostics ? rejection.hint : undefined);
    const result: IdentityResult = { verified: false, error, scheme: c.picked!.scheme.name };
    c.note.headers = sessions.refusedHeaders(rejection, 'dpop');
    return result;
  }

  /**
   * A request with no proof, and a session credential: read, limited like a proof (the address
   * before it is read, the identity it claims before its MAC), then checked (src/session/index.ts).
   */
  async function checkSession(sessions: Sessions, credential: string, c: Check): Promise<IdentityResult> {
    const { request, note } = c;
    let attempt: LimitedAttempt | undefined;
    let scheme: Scheme | undefined;
    let tenant: string | undefined | typeof UNREAD = UNREAD;
    const stage: Stage = { failure: 'credential' };
    try {
      attempt = limits?.begin(request);
      attempt?.readAddress(); // before the awaits below
      const admitted = attempt?.admit();
      if (admitted) await admitted;
      const opened = sessions.open(credential);
      scheme = schemes.find((s) => s.name === opened.claims.s);
      if (!scheme) reject('INVALID_SIGNATURE', `The session was issued for ${opened.claims.s}, which this verifier does not take.`);
      c.lookedUp = keyRing.looksUp(scheme.name);
      tenant = c.lookedUp ? readTenant(request) : undefined;
      c.asked = true;
      const configured = keyRing.configured(scheme.name, tenant, request);
      const tenantKeys = (c.answer = configured instanceof Promise ? await configured : configured);
      const claim = attempt?.claim(tenantKeys.tenant, scheme.name, opened.identity);
      if (claim) await claim;
      const at = now();
      const context = { tenant: tenantKeys.tenant, keys: tenantKeys.keys, now: at, request };
      const { result, renewed, facts } = await sessions.resume(opened, credential, context, stage);
      note.session = facts;
      if (renewed !== undefined) note.headers = sessions.issuedHeaders(renewed, facts, at);
      void attempt?.end(undefined);
      return result;
    } catch (error) {
      const rejection = asRejection(error);
      if (!c.asked) await learnTenant(scheme?.name, c, tenant, rejection.code === 'RATE_LIMITED' ? 'cached' : 'admitted');
      const ended = attempt?.end(rejection.code);
      if (ended) await ended;
      // A session has no signing mistake to diagnose: its hint, with diagnostics on, is the answer.
      const refused = failure(rejection.code, diagnostics ? rejection.hint : undefined, rejection.retryAfter);
      const result: IdentityResult = { verified: false, error: refused, via: 'session' };
      note.headers = sessions.refusedHeaders(rejection, stage.failure);
      return result;
    }
  }

  /** The sessions, or a TypeError for a verifier without the `session` option. */
  function sessionsFor(method: string): Sessions {
    if (!sessions) throw new TypeError(`chat-identity: ${method}() needs the session option.`);
    return sessions;
  }

  /**
   * The labels of the result being recorded: one object a verifier, refilled for each result (the
   * counters copy what they keep), so counting allocates nothing.
   */
  const labels: Count = {
    tenant: undefined,
    scheme: undefined,
    outcome: 'MISSING_IDENTITY',
    keyId: undefined,
    test: undefined,
    via: undefined,
    mode: 'off',
    mistake: undefined,
  };

  /** Counts a result and hands its summary to `onResult`: what the counters and the logs see of it. */
  function record(result: IdentityResult, c: Check, mode: AppliedMode): void {
    // The tenant as the lookup named it: `null` (unknown) when it did not answer, never the request's own name.
    labels.tenant = !c.lookedUp ? undefined : c.answer ? c.answer.tenant : null;
    labels.scheme = result.scheme;
    labels.outcome = result.verified ? 'VERIFIED' : (result.error?.code ?? 'MISSING_IDENTITY');
    labels.keyId = result.verified ? result.keyId : c.key?.id;
    labels.test = result.verified ? result.test : c.key ? c.key.test : c.testKey || undefined;
    labels.via = result.via ?? (result.scheme === undefined ? undefined : 'proof');
    labels.mode = mode;
    labels.mistake = c.mistake;
    counters?.count(labels, c.key && { test: c.key.test, expiresAt: c.key.expiresAt }, countsOnOwnClock ? c.at : undefined);
    if (!onResult) return;
    try {
      const returned = onResult(summarise(result, labels, c.request.ip), c.request);
      if (returned instanceof Promise) returned.catch((error: unknown) => sayOnResult(error));
    } catch (error) {
      sayOnResult(error);
    }
  }

  /** A log pipeline that fails must not fail the chat: said once, and the request goes on. */
  function sayOnResult(error: unknown): void {
    say('callback-onResult', `the onResult option threw (${describeError(error)}); the requests go on, unlogged by it.`);
  }

  /** `verify()`, answering with the result itself when nothing had to be awaited (the adapters' path). */
  function verifyNow(request: VerifyRequest | undefined): IdentityResult | Promise<IdentityResult> {
    const c = new Check(request ?? {}, { verifier });
    const checked = check(c);
    if (checked instanceof Promise) return checked.then((result) => settle(result, c));
    return settle(checked, c);
  }

  /** A checked result judged by its tenant's mode, recorded as issued, counted, and handed to `onVerified`. */
  function settle(result: IdentityResult, c: Check): IdentityResult | Promise<IdentityResult> {
    const { note } = c;
    const mode = modeOf(c);
    if (!result.verified) {
      if (mode === true) note.enforced = true;
      else if (mode === 'report' && result.error) result.wouldReject = result.error.code;
    }
    Issued.mark(result, note);
    freezeIssued(result);
    if (counters || onResult) record(result, c, mode === true ? 'enforce' : mode === false ? 'off' : 'report');
    // Outside the check's try on purpose: a failing contact store is the app's error, not bad input.
    if (result.verified && onVerified) return handOver(onVerified, result, c.request);
    return result;
  }

  const verifier: Verifier = {
    required,
    schemes: schemes.map((s) => s.name),
    refreshKeys: (tenant) => keyRing.forget(tenant),
    verify(request) {
      try {
        const done = verifyNow(request);
        return done instanceof Promise ? done : Promise.resolve(done);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    mustReject(result) {
      const noted = Issued.noteOf(result);
      if (noted?.verifier !== verifier) return true;
      return !result.verified && noted.enforced === true;
    },
    stats() {
      if (!counters) throw new TypeError('chat-identity: stats() needs counting on (the stats option is false).');
      return counters.snapshot();
    },
    async endSession(target) {
      const sessions = sessionsFor('endSession');
      const at = now();
      let ended = false;
      if (typeof target === 'string') ended = await sessions.endCredential(target, at);
      else {
        const noted = Issued.noteOf(target);
        if (noted?.verifier === verifier && noted.session) ended = await sessions.endById(noted.session, at);
      }
      return { ended, headers: sessions.endedHeaders() };
    },
    async endSessions(tenant) {
      if (tenant !== undefined && typeof tenant !== 'string') {
        throw new TypeError('chat-identity: endSessions(tenant) takes a tenant name, or nothing.');
      }
      const sessions = sessionsFor('endSessions');
      // Without a `tenant` option no session has a tenant: ending a named one would end nothing, silently.
      if (tenant !== undefined && !tenantOf) {
        throw new TypeError(
          `chat-identity: endSessions(${JSON.stringify(tenant)}): this verifier has no tenant option, so its sessions belong to no tenant; endSessions() ends them all.`,
        );
      }
      await sessions.endAll(tenant);
    },
  };
  // For the adapters (chat-identity/adapter): the result without a promise when none was needed.
  Object.defineProperty(verifier, VERIFY_NOW, { value: verifyNow });
  Object.defineProperty(verifier, LOGGER, { value: logger });
  return verifier;
}

/** Awaits the app's `onVerified`, then answers with the result. */
async function handOver(
  onVerified: NonNullable<VerifierOptions['onVerified']>,
  result: VerifiedIdentity,
  request: VerifyRequest,
): Promise<IdentityResult> {
  await onVerified(result, request);
  return result;
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
