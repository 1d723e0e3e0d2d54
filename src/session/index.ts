/**
 * Sessions: a verified chat that goes on past its proof's window. When a proof verifies, the
 * response carries a session credential (src/session/credential.ts) signed with the server's own
 * session keys; a later request that carries it and no proof verifies as the same contact, `via:
 * 'session'`. What a session is checked for on every request, cheapest first:
 *
 * 1. its session key is still in the ring, and made its MAC (one HMAC);
 * 2. it belongs to the request's tenant, and is within its idle window and its hard maximum;
 * 3. the site key that verified its proof is still configured for the tenant, unexpired, and not a
 *    test key where test keys are refused: a rotation past its grace, or a revoked key, ends it;
 *    and it was started under this verifier's proof policy (src/session/policy.ts);
 * 4. its tenant's generation is unchanged (`endSessions`) and it was not ended itself (`endSession`);
 * 5. when it is bound to a browser key, the request's DPoP proof (src/session/dpop.ts).
 *
 * Renewal is sliding, up to the hard maximum: a session request gets a fresh credential when that
 * moves its end by at least a sixth of the idle window (5 minutes by default), not on every request:
 * each renewal is an HMAC, a header the widget must store (or a Set-Cookie), and would gain nothing
 * more than a minute or two. So an active chat renews about every 5 minutes, and a session ends
 * between 25 and 30 minutes after its last request.
 *
 * @example
 * ```ts
 * const sessions = createSessions(config, { clockTolerance: 60, allowTestKeys: false, policy, say });
 * const opened = openCredential(credential);
 * const { result, renewed } = await sessions.resume(opened, credential, { tenant, keys, now: Date.now(), request }, stage);
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { SigningKey } from '../keyRing.js';
import { signaturesEqual } from '../signature.js';
import { reject, Rejection } from '../rejection.js';
import type { EndedSession, IdentityResult, VerifiedIdentity, VerifyRequest } from '../types.js';
import {
  contactClaims,
  contactOf,
  MAX_CREDENTIAL_LENGTH,
  macMatches,
  openCredential,
  sealCredential,
  splitCredential,
  withClaims,
  type OpenedCredential,
  type SessionClaims,
} from './credential.js';
import { checkDpop, type CheckedDpop } from './dpop.js';
import { isUsableSessionKey, refuseSiteKeys, siteKeyTag, type SessionKey } from './keys.js';
import type { SessionConfig } from './options.js';
import { isPromiseLike } from './store.js';

export { openCredential } from './credential.js';
export { memorySessionStore, redisSessionStore, type SessionState, type SessionStore } from './store.js';

/** A session store that failed or did not answer in time: a session it cannot check is refused as expired. */
class StoreSilent extends Rejection {}

/** A renewal must move the session's end by at least this share of the idle window. */
const RENEW_SHARE = 1 / 6;
/**
 * Credentials verified lately, remembered by their claims (public) with their MAC: a widget sends the
 * same credential with every request until it is renewed, and a repeat is then compared with the MAC
 * it verified with (in constant time) instead of parsed and MACed again. About 1 kB each.
 */
const RECENT_CREDENTIALS = 10_000;
/** How many characters of the end of a credential's claims it is remembered by. */
const RECALL_BY = 32;

/** A credential verified lately: its claims as sent and as read, and the MAC and key that verified them. */
interface Recalled {
  readonly claimsPart: string;
  readonly claims: SessionClaims;
  readonly identity: string;
  readonly mac: Buffer;
  readonly key: SessionKey;
}
/** A credential as `open` hands it on: read, and recognised when it was verified lately. */
type MaybeRecalled = OpenedCredential & { recalled?: Recalled };
/** The scheme of the challenge that tells a widget to act on its session (RFC 9110 §11.6.1 syntax). */
export const CHALLENGE_SCHEME = 'ChatIdentity';

/** What a session result or issue is, for ending it: its id and until when it could last (seconds). */
export interface SessionFacts {
  readonly id: string;
  readonly until: number;
  /** When the session started (seconds): its renewals end by then plus `maxAge`. */
  readonly started: number;
}

/** What went wrong with a session, for the headers: its credential is dead, or only its DPoP proof failed. */
export type SessionFailure = 'credential' | 'dpop';

interface Dependencies {
  clockTolerance: number;
  allowTestKeys: boolean;
  /** This verifier's proof policy digest (src/session/policy.ts): what its credentials bind, and what it accepts. */
  policy: string;
  /** Says a problem once per verifier. */
  say(key: string, message: string): void;
}

/** Where a session is resumed: the request's tenant (canonical) and its keys, the time, the request. */
export interface ResumeContext {
  tenant: string | undefined;
  keys: readonly SigningKey[];
  now: number;
  request: VerifyRequest;
}

/** Marks which check a refusal came from: the DPoP proof, or the credential itself. */
export interface Stage {
  failure: SessionFailure;
}

export type Sessions = ReturnType<typeof createSessions>;

export function createSessions(config: SessionConfig, dependencies: Dependencies) {
  const { keys, idle, maxAge, header, cookie, store, bind } = config;
  const { clockTolerance, allowTestKeys, policy, say } = dependencies;
  const byId = new Map(keys.map((key) => [key.id, key]));
  const fingerprints = new Set(keys.map((key) => key.fingerprint));
  const nextId = sessionIds();
  // Two generations of half the size each: when the newer fills, it becomes the older and the older is
  // dropped; a credential recalled from the older moves to the newer. Every operation O(1) (a Map whose
  // oldest entry is deleted again and again makes `keys().next()` walk its deleted slots).
  let recent = new Map<string, Recalled>();
  let older = new Map<string, Recalled>();
  const recall = (by: string) => {
    const found = recent.get(by);
    if (found !== undefined) return found;
    const old = older.get(by);
    if (old !== undefined) keep(by, old);
    return old;
  };
  const keep = (by: string, entry: Recalled) => {
    recent.set(by, entry);
    if (recent.size >= RECENT_CREDENTIALS / 2) [older, recent] = [recent, new Map()];
  };

  /**
   * A credential taken apart: recognised when it was verified lately, else read (nothing verified
   * yet either way). Remembered by the end of its claims, which holds its random session id (claim
   * `j` comes last): hashing 32 characters instead of 300 on every request.
   */
  function open(text: string): MaybeRecalled {
    const split = splitCredential(text);
    const recalled = recall(split.claimsPart.slice(-RECALL_BY));
    if (!recalled || recalled.claimsPart !== split.claimsPart) return withClaims(split);
    return {
      signed: split.signed,
      claimsPart: split.claimsPart,
      mac: split.mac,
      claims: recalled.claims,
      identity: recalled.identity,
      recalled,
    };
  }

  /**
   * Remembers a credential verified, or made, here: the widget sends it again with its next request,
   * which is then recognised (a credential this verifier made is known good before it is ever used).
   */
  function remember(claimsPart: string, claims: SessionClaims, identity: string, mac: Buffer, key: SessionKey): void {
    keep(claimsPart.slice(-RECALL_BY), { claimsPart, claims, identity, mac, key }); // a renewal replaces its session's entry
  }

  /** The newest session key usable at `now`: the one that signs. */
  const signingKey = (now: number) => keys.find((key) => isUsableSessionKey(key, now));

  /** The credential a request carries: the header, else (with a cookie configured) the cookie. */
  function credentialOf(request: VerifyRequest): string | undefined {
    const headers = request.headers;
    const sent = headers?.[header.lower];
    const value =
      typeof sent === 'string'
        ? sent
        : Array.isArray(sent)
          ? sent.filter((part) => typeof part === 'string').join(',') // as cookieValue: what is not text is no credential
          : cookie
            ? cookieValue(headers?.cookie, cookie.name)
            : undefined;
    // 'ended' is what the server itself says when a session ends: a widget that sends it back has none.
    return value === undefined || value === '' || value === 'ended' ? undefined : value;
  }

  /**
   * Whether a credential may be issued in the response to `request`. With the cookie, only to a
   * widget's own fetch (`Sec-Fetch-Mode` cors or same-origin: not a form another page submitted,
   * nor a no-cors request a sibling subdomain's page made), and under SameSite Strict or Lax not to
   * one the browser says came from another site: else a page could put its author's session in a
   * visitor's browser with the author's own valid proof (login CSRF), and the visitor would chat as
   * its author. The proof still verifies the request. A client that sends no Sec-Fetch headers is
   * no browser, or one too old to say.
   */
  function issuesTo(request: VerifyRequest): boolean {
    if (!cookie) return true;
    const headers = request.headers;
    const mode = headers?.['sec-fetch-mode'];
    if (mode !== undefined && mode !== 'cors' && mode !== 'same-origin') return false;
    return cookie.sameSite === 'None' || headers?.['sec-fetch-site'] !== 'cross-site';
  }

  /** Until when (seconds) a session can last: its idle window from `issued`, within its hard maximum. */
  const endOf = (claims: Pick<SessionClaims, 'a'>, issued: number) => Math.min(issued + idle, claims.a + maxAge);
  /** A session's facts for ending it, as of `seconds`. */
  const factsOf = (claims: SessionClaims, seconds: number): SessionFacts => ({
    id: claims.j,
    until: endOf(claims, seconds),
    started: claims.a,
  });

  /**
   * Checks a session credential that `open` took apart; refuses with a Rejection. Steps 1 to 3 run
   * here and throw where they are; only the store's answer and a DPoP proof's first use may be
   * awaited. (A refusal thrown inside an async function rejects a promise before anyone awaits it:
   * Node tracks each one as a possibly unhandled rejection, a cost a forged credential would pay.)
   */
  function resume(opened: MaybeRecalled, credential: string, context: ResumeContext, stage: Stage) {
    const { key, siteKey } = authenticate(opened, context);
    return resumeChecked(opened, key, siteKey, credential, context, stage);
  }

  /** Steps 1 to 3: the credential's session key and MAC, its tenant and times, its site key and policy. */
  function authenticate(opened: MaybeRecalled, context: ResumeContext) {
    const { claims, recalled } = opened;
    const { tenant, now } = context;
    const key = byId.get(claims.q);
    if (!key || !isUsableSessionKey(key, now))
      reject('SESSION_EXPIRED', 'The session was signed with a session key this verifier no longer has (rotated out).');
    // A credential verified lately is compared with the MAC it verified with: the same answer as an HMAC.
    const authentic = recalled && recalled.key === key ? signaturesEqual(recalled.mac, opened.mac) : macMatches(opened, key);
    if (!authentic) reject('INVALID_SIGNATURE', "The session credential was not made with this verifier's session keys, or was changed.");
    if (claims.t !== tenant) reject('INVALID_SIGNATURE', 'The session belongs to another tenant.');
    const seconds = now / 1000;
    if (seconds >= claims.a + maxAge)
      reject('SESSION_EXPIRED', `The session reached its maximum of ${maxAge} seconds; a fresh proof starts a new one.`);
    if (seconds >= claims.n + idle) reject('SESSION_EXPIRED', `The session was idle for more than ${idle} seconds.`);
    const siteKey = context.keys.find((candidate) => siteKeyTag(key, candidate) === claims.f);
    if (!siteKey)
      reject('SESSION_EXPIRED', "The site key that verified the session's proof is no longer configured (rotated out or revoked).");
    if (siteKey.expiresAt !== undefined && siteKey.expiresAt <= now) {
      reject('SESSION_EXPIRED', "The site key that verified the session's proof is past its expiresAt (its rotation grace ended).");
    }
    if (siteKey.test && !allowTestKeys)
      reject('INVALID_SIGNATURE', 'The session was started with a test key, and test keys are turned off.');
    // Another verifier sharing the session key may check proofs more laxly; absent: made before this was bound.
    if (claims.p !== policy) {
      reject(
        'SESSION_EXPIRED',
        'The session was started by a verifier with another proof policy (schemes, audience, issuer, algorithms, maxAge, ' +
          'allowTestKeys, the session windows…); a fresh proof starts a new one.',
      );
    }
    if (bind && claims.b === undefined)
      reject('SESSION_EXPIRED', 'The session is bound to no key, and this verifier binds sessions (bind: dpop).');
    return { key, siteKey };
  }

  /** Steps 4 and 5, then the result, and a renewal when it is due. */
  async function resumeChecked(
    opened: MaybeRecalled,
    key: SessionKey,
    siteKey: SigningKey,
    credential: string,
    context: ResumeContext,
    stage: Stage,
  ) {
    const { claims, recalled } = opened;
    const { tenant, now, request } = context;
    const seconds = now / 1000;
    const asked = ask(() => store.state(tenant, claims.j));
    const state = isPromiseLike(asked) ? await asked : asked;
    if (state.generation !== (claims.g ?? 0)) reject('SESSION_EXPIRED', "The tenant's sessions were ended (endSessions).");
    if (state.ended) reject('SESSION_EXPIRED', 'The session was ended (endSession: a logout).');
    if (claims.b !== undefined) {
      stage.failure = 'dpop';
      const dpop = checkDpop(request.headers?.dpop, request, { now, clockTolerance, credential, boundTo: claims.b });
      await firstUse(dpop);
      stage.failure = 'credential';
    }
    if (!recalled) remember(opened.claimsPart, claims, opened.identity, ownCopy(opened.mac), key);

    const result = sessionResult(claims, siteKey);
    const facts = factsOf(claims, Math.floor(seconds));
    // Renewed when that moves the end by a sixth of the idle window: one HMAC, now and then.
    let renewed: string | undefined;
    const signer = signingKey(now);
    if (signer && facts.until - endOf(claims, claims.n) >= idle * RENEW_SHARE) {
      const renewedClaims = renewal(claims, signer.id, siteKeyTag(signer, siteKey), Math.floor(seconds));
      const sealed = sealCredential(renewedClaims, signer);
      remember(sealed.claimsPart, renewedClaims, opened.identity, sealed.mac, signer);
      renewed = sealed.credential;
    }
    return { result, renewed, facts };
  }

  /** The result a session verifies as: the proof's contact, scheme, tenant and site key, `via: 'session'`. */
  function sessionResult(claims: SessionClaims, siteKey: SigningKey): VerifiedIdentity {
    // The property order of a proof's result (src/schemes/scheme.ts), so that both look alike.
    const result: VerifiedIdentity = { verified: true, scheme: claims.s, contact: contactOf(claims), test: siteKey.test, via: 'session' };
    if (siteKey.id !== undefined) result.keyId = siteKey.id;
    if (claims.t !== undefined) result.tenant = claims.t;
    if (claims.i !== undefined) result.issuedAt = new Date(claims.i * 1000);
    return result;
  }

  /**
   * The DPoP proof a request that presents a proof of identity carries, when sessions are bound:
   * undefined when there is none (the proof verifies; no session is issued); a refusal when it is
   * present but invalid (a present proof is never passed over).
   */
  async function bindingOf(request: VerifyRequest, now: number, stage: Stage): Promise<CheckedDpop | undefined> {
    if (!bind || request.headers?.dpop === undefined) return undefined;
    stage.failure = 'dpop';
    const dpop = checkDpop(request.headers.dpop, request, { now, clockTolerance });
    try {
      await firstUse(dpop);
    } catch (error) {
      // The store cannot say whether the proof was used: the proof, which needs no store, still
      // verifies; only the session it would start is not issued (a proof request is the fallback).
      if (error instanceof StoreSilent) return void (stage.failure = 'credential');
      throw error;
    }
    stage.failure = 'credential';
    return dpop;
  }

  async function firstUse(dpop: CheckedDpop): Promise<void> {
    const asked = ask(() => store.firstUse(dpop.replay, dpop.ttl));
    if (!(isPromiseLike(asked) ? await asked : asked)) {
      reject('INVALID_SIGNATURE', 'This DPoP proof was used already (its jti); make one per request.');
    }
  }

  /**
   * A credential for the session a verified proof starts, or undefined (said once) when none can be
   * issued: no usable session key, a site key that is a session key, a contact too large, a store
   * that does not answer, or (bound sessions) no DPoP proof.
   */
  async function issue(result: VerifiedIdentity, siteKey: SigningKey, now: number, dpop: CheckedDpop | undefined) {
    if (bind && !dpop) return undefined;
    const key = signingKey(now);
    if (!key)
      return void say(
        'session-keys-expired',
        'every session key is past its expiresAt, so no session is issued; add a new one first in the list.',
      );
    if (fingerprints.has(siteKey.fingerprint)) {
      return void say(
        'session-key-site-key',
        "a keys lookup returned a session key as a site key; no session is issued on it. Session keys are the server's own.",
      );
    }
    const seconds = Math.floor(now / 1000);
    const signedAt = result.issuedAt === undefined ? undefined : Math.floor(result.issuedAt.getTime() / 1000);
    const started = signedAt === undefined ? seconds : Math.min(signedAt, seconds);
    if (started + maxAge <= seconds) return undefined; // the proof is older than a session may last
    let generation: number;
    try {
      const asked = store.generation(result.tenant);
      generation = isPromiseLike(asked) ? await asked : asked;
    } catch (error) {
      return void say('store-issue', `the session store failed (${describe(error)}); proofs verify, but no session is issued meanwhile.`);
    }
    // Named stores, no spreads (V8's slow path): absent claims are left out, to keep it small.
    const claims = { q: key.id, s: result.scheme } as SessionClaims;
    if (result.tenant !== undefined) claims.t = result.tenant;
    claims.k = result.contact.identityKey;
    claims.c = contactClaims(result.contact);
    claims.f = siteKeyTag(key, siteKey);
    claims.p = policy;
    if (signedAt !== undefined) claims.i = signedAt;
    claims.a = started;
    if (generation > 0) claims.g = generation;
    if (dpop) claims.b = dpop.thumbprint;
    claims.n = seconds;
    claims.j = nextId();
    const { credential, claimsPart, mac } = sealCredential(claims, key);
    if (credential.length > MAX_CREDENTIAL_LENGTH) {
      return void say(
        'session-too-long',
        `a contact's signed fields make a session credential over ${MAX_CREDENTIAL_LENGTH} characters; such proofs get no session.`,
      );
    }
    remember(claimsPart, claims, result.contact[claims.k]!, mac, key);
    const facts = factsOf(claims, seconds);
    return { credential, facts };
  }

  /**
   * A proof verified for someone other than the session the request also carries: the user
   * switched accounts, so that session is ended. Only then is the credential's MAC checked (one HMAC).
   */
  async function replaced(credential: string, result: VerifiedIdentity, now: number): Promise<void> {
    let opened: OpenedCredential;
    try {
      opened = openCredential(credential);
    } catch {
      return;
    }
    const { claims } = opened;
    const same = claims.t === result.tenant && claims.s === result.scheme && claims.k === result.contact.identityKey;
    if (same && opened.identity === result.contact[result.contact.identityKey]) return;
    const key = byId.get(claims.q);
    if (!key || !macMatches(opened, key)) return;
    await endById(factsOf(claims, Math.floor(now / 1000)), now);
  }

  /** Ends the session of `facts`; false when the store did not answer (said once). */
  async function endById(facts: SessionFacts, now: number): Promise<boolean> {
    // Kept as long as any renewal up to now could live: a result kept from earlier in the session
    // knows only the end its own credential had.
    const until = Math.max(facts.until, endOf({ a: facts.started }, Math.floor(now / 1000)));
    const ttl = until * 1000 - now;
    if (ttl <= 0) return false;
    try {
      await store.end(facts.id, ttl);
      return true;
    } catch (error) {
      say('store-end', `the session store failed (${describe(error)}); a session could not be ended on the server.`);
      return false;
    }
  }

  /** Ends the session a credential names, once its MAC is checked. */
  async function endCredential(credential: string, now: number): Promise<boolean> {
    let opened: OpenedCredential;
    try {
      opened = openCredential(credential);
    } catch {
      return false;
    }
    const key = byId.get(opened.claims.q);
    if (!key || !macMatches(opened, key)) return false;
    return endById(factsOf(opened.claims, Math.floor(now / 1000)), now);
  }

  /** Headers that carry a credential to the widget: the header, or (configured) the cookie, which expires with it. */
  function issuedHeaders(credential: string, facts: SessionFacts, now: number): Record<string, string> {
    if (!cookie) return { [header.name]: credential };
    const maxAgeLeft = Math.max(0, Math.floor(facts.until - now / 1000));
    return { 'Set-Cookie': `${cookie.name}=${credential}; Max-Age=${maxAgeLeft}${cookie.attributes}` };
  }

  /** Headers that tell the widget its session is over: `ended` in the header, or the cookie cleared. */
  function endedHeaders(): Record<string, string> {
    return cookie ? { 'Set-Cookie': `${cookie.name}=; Max-Age=0${cookie.attributes}` } : { [header.name]: 'ended' };
  }

  /** The headers of a refused session (or DPoP proof): the challenge, and for a dead credential, its end. */
  function refusedHeaders(rejection: Rejection, failure: SessionFailure): Record<string, string> {
    if (failure === 'dpop') return { 'WWW-Authenticate': challenge('invalid_dpop_proof') };
    if (rejection.code === 'RATE_LIMITED' || rejection.code === 'KEY_UNAVAILABLE') return {};
    return {
      ...endedHeaders(),
      'WWW-Authenticate': challenge(rejection.code === 'SESSION_EXPIRED' ? 'session_expired' : 'invalid_session'),
    };
  }

  /**
   * Asks the store, at once when it answers at once (memory); a failure is said once and refuses the
   * session as expired (fail closed, and not the user's failure: the widget falls back to a fresh
   * proof, which needs no store to verify).
   */
  function ask<T>(operation: () => T | PromiseLike<T>): T | Promise<T> {
    const failed = (error: unknown): never => {
      say(
        'store-check',
        `the session store failed (${describe(error)}); sessions are refused meanwhile (widgets fall back to a fresh proof).`,
      );
      throw new StoreSilent('SESSION_EXPIRED', 'The session store did not answer.');
    };
    try {
      const answer = operation();
      return isPromiseLike(answer) ? Promise.resolve(answer).catch(failed) : answer;
    } catch (error) {
      return failed(error);
    }
  }

  return {
    config,
    credentialOf,
    open,
    resume,
    bindingOf,
    issue,
    replaced,
    endById,
    endCredential,
    issuedHeaders,
    issuesTo,
    endedHeaders,
    refusedHeaders,
    /** Refuses, at construction, session keys that are site keys. */
    refuseSiteKeys: (siteSchemeOf: (fingerprint: string) => string | undefined) => refuseSiteKeys(keys, siteSchemeOf),
    endAll: (tenant: string | undefined) => store.endAll(tenant),
  };
}

/** The claims of a renewed credential: the session's, issued `now` with `key` (its id and site key tag). */
function renewal(claims: SessionClaims, key: string, tag: string, now: number): SessionClaims {
  const renewed = { q: key, s: claims.s } as SessionClaims;
  if (claims.t !== undefined) renewed.t = claims.t;
  renewed.k = claims.k;
  renewed.c = claims.c;
  renewed.f = tag;
  renewed.p = claims.p; // resume checked it: this verifier's
  if (claims.i !== undefined) renewed.i = claims.i;
  renewed.a = claims.a;
  if (claims.g !== undefined) renewed.g = claims.g;
  if (claims.b !== undefined) renewed.b = claims.b;
  renewed.n = now;
  // The session id last: what a verifier recognises a credential by.
  renewed.j = claims.j;
  return renewed;
}

/** `ChatIdentity realm="chat-identity", error="…"`: an RFC 9110 challenge, auth-params as quoted strings. */
export function challenge(error: 'session_expired' | 'invalid_session' | 'invalid_dpop_proof'): string {
  return `${CHALLENGE_SCHEME} realm="chat-identity", error="${error}"`;
}

/** The value of cookie `name` in a Cookie header, if it is there. */
function cookieValue(header: unknown, name: string): string | undefined {
  // A plain request to the core may carry anything here: what is not text is no cookie.
  const text = Array.isArray(header) ? header.filter((part) => typeof part === 'string').join('; ') : header;
  if (typeof text !== 'string') return undefined;
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** A buffer of its own: a small one decoded from a string is a slice of an 8 kB pool, which it would keep alive. */
function ownCopy(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}

/** Session ids: 12 random bytes each (96 bits), base64url, drawn from a pool so an issue costs no system call. */
function sessionIds(): () => string {
  let pool = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 12 > pool.length) [pool, at] = [randomBytes(12 * 256), 0];
    at += 12;
    return pool.toString('base64url', at - 12, at);
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether a result belongs to a session: the type guard for `endSession(result)`. */
export const isResult = (target: IdentityResult | string): target is IdentityResult => typeof target === 'object' && target !== null;

export type { EndedSession };
