/**
 * The public types of chat-identity: what `createVerifier` takes and what `verify()` returns.
 * DESIGN.md is the contract these follow.
 */
import type { IdentityErrorCode } from './errors.js';
import type { RateLimitOptions } from './rateLimit.js';
import type { KeyObject } from 'node:crypto';
import type { SessionStore } from './session/store.js';

/**
 * The wire formats this package verifies, one per vendor document in the seeds: the `scheme` option.
 *
 * @example
 * ```ts
 * const schemes: SchemeName[] = ['jwt', 'user-hash'];
 * ```
 */
export type SchemeName = 'signed-payload' | 'user-hash' | 'contact-hash' | 'jwt' | 'visitor-hash';

/**
 * HMAC algorithms a JWT may be signed with, by a shared secret. HS256 unless `algorithms` lists others.
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys: [secret], algorithms: ['HS256', 'HS512'] });
 * ```
 */
export type HmacJwtAlgorithm = 'HS256' | 'HS384' | 'HS512';
/**
 * Asymmetric algorithms a JWT may be signed with, by the site's private key: each configured public
 * key verifies one, its own (the key decides, never the token's header).
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys: [{ publicKey: rsaPem, alg: 'PS256' }] });
 * ```
 */
export type PublicKeyAlgorithm = 'ES256' | 'EdDSA' | 'RS256' | 'PS256';
/**
 * The algorithms `jwt` knows: HMAC with a shared secret, or a public key's own.
 * @example
 * ```ts
 * const accepted: JwtAlgorithm[] = ['HS256', 'ES256'];
 * ```
 */
export type JwtAlgorithm = HmacJwtAlgorithm | PublicKeyAlgorithm;
/**
 * `Ed25519`: RFC 9864's name for EdDSA over Ed25519, the only EdDSA verified here. Accepted wherever
 * an algorithm is named (the options, a JWK, a token's header) and read as `EdDSA`.
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys: [{ publicKey: ed25519Pem }], algorithms: ['Ed25519'] });
 * ```
 */
export type FullySpecifiedEdDSA = 'Ed25519';

/**
 * The plain request the core reads. Adapters build it from their framework's request;
 * header names are lower-case, as Node gives them.
 *
 * @example
 * ```ts
 * const result = await verifier.verify({ headers: req.headers, body: req.body, ip: req.socket.remoteAddress });
 * ```
 */
export interface VerifyRequest {
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
  query?: Record<string, unknown>;
  params?: Record<string, unknown>;
  ip?: string;
  /** The HTTP method, as sent (`POST`): what a DPoP proof of a bound session is checked against. */
  method?: string;
  /** The absolute URL the client requested (`https://chat.example/chat`): the same. Adapters supply both. */
  url?: string;
}

/**
 * One signing secret with what the key ring needs to know about it: a label for logs and the end
 * of its rotation grace period.
 *
 * @example
 * ```ts
 * const previous: SigningKeyInput = { secret: process.env.CHAT_IDENTITY_OLD_SECRET!, id: '2025-q4', expiresAt: new Date('2026-02-01') };
 * ```
 */
export interface SigningKeyInput {
  /** The shared secret, exactly as the site's server uses it. */
  secret: string;
  /** A label reported as `keyId` when this key matched (never the secret). */
  id?: string;
  /** A test key: relaxed `testMaxAge`, results marked `test: true`. Defaults to `secret.startsWith('sk_test_')`. */
  test?: boolean;
  /** After this moment the key is never used: the end of a rotation grace period. */
  expiresAt?: Date | number;
}

/**
 * One configured key: a shared secret (a string, or `{ secret }`), or for `jwt` a public key or a JWKS.
 * @example
 * ```ts
 * const keys: KeyInput[] = [{ secret: process.env.CHAT_IDENTITY_SECRET!, id: 'current' }];
 * const jwtKeys: KeyInput[] = [{ jwks: { url: 'https://site.example/.well-known/jwks.json' } }];
 * ```
 */
export type KeyInput = string | SigningKeyInput | PublicKeyInput | JwksInput;

// Asymmetric JWT keys (jwt only): the site signs with a private key it keeps; the chat backend
// holds only public keys, which cannot sign. docs/jwks.md.

/**
 * A public JWK (RFC 7517) as the site publishes it: `kty`, `crv` / `n`, `x`, `y`, `e`, and `kid`, `alg`, `use`.
 * @example
 * ```ts
 * const x = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
 * const jwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x, kid: 'site-2026-01', alg: 'EdDSA', use: 'sig' };
 * ```
 */
export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [member: string]: unknown;
}

/**
 * One public key that verifies `jwt` tokens.
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys: [{ publicKey: pemText, alg: 'ES256', id: 'site-2026-01' }] });
 * ```
 */
export interface PublicKeyInput {
  /** PEM (`BEGIN PUBLIC KEY`, or an X.509 certificate), a public JWK, or a public KeyObject. Never a private key: refused. */
  publicKey: string | PublicJwk | KeyObject;
  /** The key's algorithm: needed for RSA (RS256 or PS256); else the JWK's `alg`, or the key's type (P-256: ES256, Ed25519: EdDSA). */
  alg?: PublicKeyAlgorithm | FullySpecifiedEdDSA;
  /** The kid tokens name this key by, reported as `keyId`. Default: the JWK's `kid`. */
  id?: string;
  /** A test key: relaxed `testMaxAge`, results marked `test: true`. Default `false`. */
  test?: boolean;
  /** After this moment the key is never used. */
  expiresAt?: Date | number;
}

/**
 * The site's JSON Web Key Set: fetched from its URL and kept fresh, or given as it is.
 * @example
 * ```ts
 * createVerifier({ scheme: 'jwt', keys: [{ jwks: { url: 'https://site.example/.well-known/jwks.json' } }] });
 * ```
 */
export interface JwksInput {
  jwks: JwksUrl | { keys: readonly PublicJwk[] };
  /** The algorithm of the set's keys that state none (an RSA key without `alg` is otherwise set aside: RS256 or PS256 is ambiguous). */
  alg?: PublicKeyAlgorithm | FullySpecifiedEdDSA;
  /** Every key of the set is a test key. Default `false`. */
  test?: boolean;
}

/**
 * Where a JWKS is fetched from, and how it is cached (durations in milliseconds; docs/jwks.md).
 * @example
 * ```ts
 * const jwks: JwksUrl = { url: 'https://site.example/.well-known/jwks.json', timeout: 2000, cooldown: 60_000 };
 * ```
 */
export interface JwksUrl {
  /** `https:` (or `http:` to a loopback address, for tests). */
  url: string | URL;
  /** How long a fetch may take, body included: whole milliseconds (a fraction is refused). Default 5000. */
  timeout?: number;
  /** The largest response accepted, in bytes. Default 131072 (128 KiB). */
  maxBytes?: number;
  /** How long a set is kept when its response sets no `Cache-Control: max-age`. Default 600000 (10 minutes). */
  cacheMaxAge?: number;
  /** The floor put on a response's max-age (`no-cache` and `max-age=0` included). Default 60000. */
  minCacheAge?: number;
  /** The ceiling put on a response's max-age: a removed key stops verifying within it. Default 3600000 (1 hour). */
  maxCacheAge?: number;
  /** At most one fetch this often for tokens whose kid the set lacks. Default 30000. */
  cooldown?: number;
  /** How long past its expiry the last good set keeps verifying while the URL cannot be fetched. Default 3600000 (1 hour). */
  staleFor?: number;
}

/**
 * Whether unverified requests are refused: `true` refuses them (401, 429, 503), `false` lets them
 * through as anonymous, `'report'` lets them through as anonymous too but marks each result with the
 * code enforcing would have refused it with (`wouldReject`) and counts it: the step between the two
 * (docs/rollout.md).
 *
 * @example
 * ```ts
 * const mode: RequiredMode = process.env.ENFORCE_IDENTITY === '1' ? true : 'report';
 * ```
 */
export type RequiredMode = boolean | 'report';

/**
 * A keys lookup's answer as an object: the keys, the canonical tenant they belong to (so that `Acme`
 * and `acme` share one failure limit and one row of counters), and the tenant's own `required`,
 * which overrides the option for its requests. A tenant with `required` and no keys is a known
 * tenant not signing yet (its proofs fail with `KEY_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const answer: TenantAnswer = { tenant: 'acme', keys: [process.env.ACME_SECRET!], required: 'report' };
 * ```
 */
export interface TenantAnswer {
  tenant?: string;
  keys?: KeyInput | readonly KeyInput[];
  /** This tenant's setting: `true`, `false` or `'report'`; absent, the `required` option applies. */
  required?: RequiredMode;
}

/**
 * What a keys lookup returns for one tenant: its keys, or `{ tenant?, keys, required? }` to name the
 * tenant they belong to and its own `required` setting, or nothing for an unknown tenant
 * (`KEY_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const keys = async (tenant: string | undefined): Promise<TenantKeySet> => (tenant === 'acme' ? { tenant, keys: [acmeSecret], required: 'report' } : undefined);
 * ```
 */
export type TenantKeySet = KeyInput | readonly KeyInput[] | TenantAnswer | undefined;

/**
 * What a keys lookup is told besides the tenant and the request: the scheme, and a signal to
 * pass on to the database or HTTP call so a slow lookup is abandoned.
 *
 * @example
 * ```ts
 * const keys: KeyLookup = (tenant, _request, { scheme, signal }) => db.secretsOf(tenant, scheme, { signal });
 * ```
 */
export interface KeyLookupContext {
  /** The scheme the keys will verify. A secret may serve one scheme only. */
  scheme: SchemeName;
  /** Aborted when the lookup has taken longer than `keyLookupTimeout`: its answer is no longer awaited. */
  signal: AbortSignal;
}

/**
 * Looks up the keys of one tenant (from a database, a secrets manager), for verifiers that serve
 * many sites. Its answers are cached per tenant (`keyCache`).
 *
 * @example
 * ```ts
 * const keys: KeyLookup = async (tenant) => (tenant ? { tenant, keys: await db.secretsOf(tenant) } : undefined);
 * ```
 */
export type KeyLookup = (
  tenant: string | undefined,
  request: VerifyRequest,
  context: KeyLookupContext,
) => TenantKeySet | Promise<TenantKeySet>;

/**
 * The keys of one scheme: a secret, a list of them (newest first, so a rotation keeps the old one
 * verifying), or a lookup.
 *
 * @example
 * ```ts
 * const keys: SchemeKeys = [process.env.CHAT_IDENTITY_SECRET!, process.env.CHAT_IDENTITY_OLD_SECRET!];
 * ```
 */
export type SchemeKeys = KeyInput | readonly KeyInput[] | KeyLookup;

/**
 * Keys per scheme, for a verifier with several: `{ 'user-hash': [...], jwt: [...] }`. No secret may
 * appear under two schemes (a user hash over a crafted id would be a valid HS256 token).
 *
 * @example
 * ```ts
 * const keys: KeysByScheme = { 'user-hash': [process.env.CHAT_IDENTITY_SECRET!], jwt: [{ jwks: { url: 'https://site.example/.well-known/jwks.json' } }] };
 * ```
 */
export type KeysByScheme = { readonly [S in SchemeName]?: SchemeKeys };

/**
 * The proof's wire fields, as the widget sends them (for `jwt`, the compact token is `token`):
 * what a `getCredentials` option returns when the proof is somewhere else.
 *
 * @example
 * ```ts
 * const getCredentials = (request: VerifyRequest): Credentials | undefined => (request.query?.token ? { token: request.query.token } : undefined);
 * ```
 */
export type Credentials = Record<string, unknown>;

/**
 * What `createVerifier` takes (and every adapter's middleware): the scheme, the keys and whether
 * unverified requests are refused are the ones most apps set; the rest have safe defaults.
 *
 * @example
 * ```ts
 * const options: VerifierOptions = { scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!], required: 'report' };
 * ```
 */
export interface VerifierOptions {
  /** One scheme, or several: the first whose fields the request carries is used. */
  scheme: SchemeName | readonly SchemeName[];
  /**
   * The signing secrets, in the order to try them (newest first), or a per-tenant lookup. With
   * several schemes, keys per scheme (`{ 'user-hash': [...], jwt: [...] }`) or a lookup, which is
   * told the scheme: one list of secrets for several schemes is refused. For `jwt`, public keys
   * and key sets instead (`{ publicKey }`, `{ jwks: { url } }`), never beside secrets.
   */
  keys: SchemeKeys | KeysByScheme;
  /** Which tenant (team, agent, workspace) a request belongs to; passed to a `keys` lookup. */
  tenant?: (request: VerifyRequest) => string | undefined;
  /**
   * `true`: record `MISSING_IDENTITY` when no proof was presented, and let adapters reject unverified
   * requests. `'report'`: the same results, but nothing is rejected: each would-be rejection carries
   * `wouldReject` and is counted. Per tenant: a keys lookup's answer `{ keys, required }`. Default `false`.
   */
  required?: RequiredMode;
  /** Seconds a timestamp / `iat` stays valid with a live key. Default 300 for `signed-payload`, 900 for `jwt`. */
  maxAge?: number;
  /** Seconds a timestamp / `iat` stays valid when the signature matched a test key. Default 3600. */
  testMaxAge?: number;
  /** Seconds a timestamp / `iat` / `nbf` may lie in the future, and `exp` in the past. Default 60. */
  clockTolerance?: number;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Reads the proof from somewhere other than the scheme's default place. */
  getCredentials?: (request: VerifyRequest) => Credentials | undefined;
  /** Called after every successful verification, e.g. to upsert the contact. Its errors reject `verify()`. */
  onVerified?: (result: VerifiedIdentity, request: VerifyRequest) => void | Promise<void>;
  /**
   * Called for every result with a summary made to be logged as it is (pino, winston): the outcome,
   * code, scheme, tenant, key id, never a proof, a signature, a hint or the contact. Not awaited; an
   * error it throws is said once and the request goes on.
   */
  onResult?: (summary: ResultSummary, request: VerifyRequest) => void | Promise<void>;
  /**
   * Where results are counted for `verifier.stats()`: by default a count of the verifier's own;
   * `identityStats()` to share one between verifiers (and hand it to the Prometheus and
   * OpenTelemetry bindings); `false` counts nothing.
   */
  stats?: IdentityStats | false;
  /** JWT algorithms accepted. Default: HS256 for shared secrets, and each public key's own algorithm (the key decides). */
  algorithms?: readonly (JwtAlgorithm | FullySpecifiedEdDSA)[];
  /** JWT `iss` that must match, when set. */
  issuer?: string | readonly string[];
  /** JWT `aud` that must contain one of these, when set. */
  audience?: string | readonly string[];
  /** Accept signatures made with test keys. Default `true`; set `false` in production to refuse them. */
  allowTestKeys?: boolean;
  /** Give a specific `hint` on every failure, not only in test mode. Default `false`. */
  diagnostics?: boolean;
  /** Cache for a `keys` lookup, per tenant. Default `{ max: 1000, ttl: 60_000 }`; `false` looks up every time. */
  keyCache?: { max?: number; ttl?: number } | false;
  /** Milliseconds a `keys` lookup may take before it fails closed with `KEY_UNAVAILABLE`. Default 5000. */
  keyLookupTimeout?: number;
  /** Where misconfiguration and outages are reported, each once. Default `console`. */
  logger?: Logger;
  /**
   * Failed-attempt limits: per tenant and address, and per tenant and claimed identity.
   * Default 30 and 10 failures a minute, in memory; pass `{ redis }` to share them; `false` turns them off.
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * Continue a verified chat past the proof's window: a verified proof gets a session credential
   * in the response, and later requests carrying it verify as the same contact (docs/sessions.md).
   * Off by default.
   */
  session?: SessionOptions | false;
}

/**
 * One session key: the server's own secret, never a site's.
 *
 * @example
 * ```ts
 * const keys: SessionKeyInput[] = [{ secret: process.env.CHAT_IDENTITY_SESSION_SECRET!, id: '2026-11' }];
 * ```
 */
export interface SessionKeyInput {
  /** At least 32 characters, random (`npx chat-identity keygen`). */
  secret: string;
  /** A label the credential names its key by. Default: derived from the secret. */
  id?: string;
  /** After this moment the key neither signs nor verifies: sessions it signed end (renewals move them to the newer key first). */
  expiresAt?: Date | number;
}

/**
 * The session cookie, for widgets served from the chat backend's own site (HttpOnly always).
 *
 * @example
 * ```ts
 * const cookie: SessionCookieOptions = { name: '__Host-chat-session', sameSite: 'Lax' };
 * ```
 */
export interface SessionCookieOptions {
  /**
   * Default `__Host-chat_identity_session` (which browsers let no other origin set), or
   * `chat_identity_session` where a `__Host-` cookie cannot be: with `secure: false`, a `domain`, or a `path` other than `/`.
   */
  name?: string;
  /** Default `'Strict'`. `'None'` (cross-site) needs your own CSRF defence. */
  sameSite?: 'Strict' | 'Lax' | 'None';
  /** Default `true`. */
  secure?: boolean;
  /** Default `/`. */
  path?: string;
  domain?: string;
}

/**
 * The `session` option: a verified proof starts a session, and later requests carrying its
 * credential (and no proof) verify as the same contact, `via: 'session'`. docs/sessions.md.
 *
 * @example
 * ```ts
 * const session: SessionOptions = { keys: [process.env.CHAT_IDENTITY_SESSION_SECRET!], idle: 1800, maxAge: 86_400 };
 * ```
 */
export interface SessionOptions {
  /** The session keys, newest first: the first usable one signs; each verifies until its `expiresAt`. Never a site's key (refused). */
  keys: string | SessionKeyInput | readonly (string | SessionKeyInput)[];
  /** Seconds without a request after which a session ends. Default 1800 (30 minutes). */
  idle?: number;
  /** Seconds a session lasts in all, from the proof's time, however active. Default 86400 (24 hours). */
  maxAge?: number;
  /** The header that carries the credential, both ways. Default `Chat-Identity-Session`. */
  header?: string;
  /** Send the credential as an HttpOnly cookie instead of a header the widget stores (same-site widgets). Default `false`. */
  cookie?: boolean | SessionCookieOptions;
  /** Where session ends are kept. Default: in Redis when `rateLimit.redis` is set, else in memory (this process only). */
  store?: SessionStore;
  /** `'dpop'`: bind each session to a key the browser holds (RFC 9449-style); it is then used only with a DPoP proof. */
  bind?: 'dpop';
}

/**
 * What `endSession()` did, and the headers that tell the widget (or clear the cookie).
 *
 * @example
 * ```ts
 * const { ended, headers } = await verifier.endSession(result); // headers: { 'Chat-Identity-Session': 'ended' }
 * ```
 */
export interface EndedSession {
  /** A valid session was ended on the server (false: there was none, or the store did not answer). */
  ended: boolean;
  headers: Record<string, string>;
}

/**
 * Where a verifier reports misconfiguration and outages (the `logger` option): `console`, pino,
 * winston or anything with `warn` and `error`.
 *
 * @example
 * ```ts
 * const logger: Logger = { warn: (m) => log.warn({ component: 'chat-identity' }, m), error: (m) => log.error({ component: 'chat-identity' }, m) };
 * ```
 */
export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

/**
 * The person behind a verified proof. Only the fields in `verifiedFields` are vouched for by the
 * signature; anything else arrived beside it.
 *
 * @example
 * ```ts
 * const email = identity.contact.verifiedFields.includes('email') ? identity.contact.email : undefined;
 * ```
 */
export interface Contact {
  externalId?: string;
  email?: string;
  name?: string;
  phone?: string;
  /** The widget's anonymous visitor id (`visitor-hash`). */
  anonymousId?: string;
  /** Every extra metadata key (plan, company, ...). */
  attributes: Record<string, unknown>;
  /**
   * Which fields the signature actually covers: contact field names, and `attributes.<key>` for
   * signed attributes. Anything not listed arrived beside the proof and is not verified.
   */
  verifiedFields: string[];
  /** The field that identifies the contact. */
  identityKey: 'externalId' | 'email' | 'phone' | 'anonymousId';
}

/**
 * A request whose proof (or session) verified: who the contact is, by which scheme and key.
 *
 * @example
 * ```ts
 * if (result.verified) await contacts.upsert(result.contact.externalId!, result.contact);
 * ```
 */
export interface VerifiedIdentity {
  verified: true;
  scheme: SchemeName;
  contact: Contact;
  /** The `id` of the key that matched, when it has one. */
  keyId?: string;
  /** The tenant the proof was verified for (as the keys lookup named it), when a tenant applied. */
  tenant?: string;
  /** The signature matched a test key. */
  test: boolean;
  /** When the proof was signed, for the schemes that carry a time. */
  issuedAt?: Date;
  /**
   * How this request proved it: its own proof (`'proof'`), or a session credential issued on an
   * earlier proof (`'session'`: the contact is exactly what that proof verified). Set on every result
   * `verify()` returns.
   */
  via?: 'proof' | 'session';
}

/**
 * Why a proof did not verify: a stable `code`, a generic `message` safe to show anyone, and the
 * specific `hint` only where it may be seen (diagnostics on, or a test key).
 *
 * @example
 * ```ts
 * if (!result.verified && result.error) logger.warn(`${result.error.code}: ${result.error.hint ?? result.error.message}`);
 * ```
 */
export interface IdentityFailure {
  code: IdentityErrorCode;
  message: string;
  /** What exactly is wrong and how to fix it: only with `diagnostics`, or when a test key matched. */
  hint?: string;
  /** The id of the signing mistake the hint names (`chat-identity troubleshooting` lists them), when one was diagnosed. */
  mistake?: string;
  /** Seconds until a `RATE_LIMITED` client may try again (sent as `Retry-After`). */
  retryAfter?: number;
}

/**
 * A request that is not verified: an anonymous visitor (no `error`), or a failed proof with its
 * reason. Let through or refused depending on `required`.
 *
 * @example
 * ```ts
 * if (!result.verified) return result.error ? res.status(401).json({ code: result.error.code }) : serveAnonymous();
 * ```
 */
export interface UnverifiedIdentity {
  verified: false;
  scheme?: SchemeName;
  /** Absent when nothing was presented and nothing was required: an anonymous visitor. */
  error?: IdentityFailure;
  /** `'session'` when the refused credential was a session credential (then `scheme` is absent). */
  via?: 'session';
  /** In `required: 'report'`: the code enforcing would have refused this request with (it went on as anonymous). */
  wouldReject?: IdentityErrorCode;
}

/**
 * What `verify()` returns, and what the adapters attach to the request: check `verified` first.
 *
 * @example
 * ```ts
 * const result: IdentityResult = await verifier.verify(request);
 * const who = result.verified ? result.contact.externalId : 'anonymous';
 * ```
 */
export type IdentityResult = VerifiedIdentity | UnverifiedIdentity;

/**
 * A configured verifier, made by `createVerifier`: `verify()` a request, then `mustReject()` its
 * result; also key refreshes, logouts and counts.
 *
 * @example
 * ```ts
 * const result = await verifier.verify(request);
 * if (verifier.mustReject(result)) return res.status(401).end();
 * ```
 */
export interface Verifier {
  /** Checks the proof a request carries. Never throws for bad input: bad input is a result. */
  verify(request: VerifyRequest): Promise<IdentityResult>;
  /**
   * The `required` option: `true`, `false` or `'report'` (a keys lookup may set another per tenant).
   * Whether one result is to be refused is `mustReject(result)`: `'report'` is truthy, refuse nothing on it.
   */
  readonly required: RequiredMode;
  /**
   * Whether `result` is to be refused: not verified, and `required` was `true` for it (the option,
   * or its tenant's answer). `false` for a verified result and in `'report'` or `false`; `true` for
   * anything this verifier did not return (fail closed).
   */
  mustReject(result: IdentityResult): boolean;
  /** What was counted so far (`stats` option): per tenant, scheme, outcome, key, since start and per minute and hour. */
  stats(): StatsSnapshot;
  /** The schemes tried, in order. */
  readonly schemes: readonly SchemeName[];
  /**
   * Forgets the cached keys (and cached lookup failures) of one tenant, or of every tenant: the
   * next request looks them up again. Call it when a tenant rotates or revokes a key.
   */
  refreshKeys(tenant?: string): void;
  /**
   * Ends one session (a logout): the one `result` was verified by or issued, or the one a credential
   * names. Its credentials are refused from then on, on every instance sharing the session store.
   * Resolves with the headers that tell the widget (or clear the cookie). Needs the `session` option.
   */
  endSession(target: IdentityResult | string): Promise<EndedSession>;
  /**
   * Ends every session of `tenant` (as results name it), or, with no tenant, every session that
   * belongs to none (a verifier with static keys). Rejects when the session store does not answer.
   */
  endSessions(tenant?: string): Promise<void>;
}

/**
 * What a result counts as: `VERIFIED`, or the code enforcing answers (`MISSING_IDENTITY` for nothing presented, in any mode).
 *
 * @example
 * ```ts
 * const failing = (outcome: StatsOutcome) => outcome !== 'VERIFIED';
 * ```
 */
export type StatsOutcome = 'VERIFIED' | IdentityErrorCode;

/**
 * The mode that applied to a request: `required: true` is `enforce`, `'report'` is `report`, `false` is `off`.
 *
 * @example
 * ```ts
 * const refused = (mode: AppliedMode, verified: boolean) => mode === 'enforce' && !verified;
 * ```
 */
export type AppliedMode = 'enforce' | 'report' | 'off';

/**
 * What `onResult` is given: one result, summarised to be logged as it is. Only values from the
 * configuration or from fixed tables: never the proof, a signature, a hint, the contact or the
 * client's address; a tenant only as the keys lookup named it.
 *
 * @example
 * ```ts
 * const summary: ResultSummary = { outcome: 'reported', code: 'INVALID_SIGNATURE', wouldReject: 'INVALID_SIGNATURE', mode: 'report', scheme: 'user-hash', tenant: 'acme', via: 'proof', address: 'public' };
 * ```
 */
export interface ResultSummary {
  /** `verified`; `rejected` (refused: `required: true`); `reported` (would have been refused, let through); `anonymous` (not verified, let through). */
  outcome: 'verified' | 'rejected' | 'reported' | 'anonymous';
  /** `VERIFIED`, or the code enforcing answers: `MISSING_IDENTITY` when nothing was presented, in any mode. */
  code: StatsOutcome;
  mode: AppliedMode;
  scheme?: SchemeName;
  /** The tenant as the keys lookup named it (absent with static keys, or when the lookup did not answer). */
  tenant?: string;
  /** The configured id of the key that verified the proof, or that the diagnosis found signed a failing one. */
  keyId?: string;
  /** The key was a test key. */
  test?: boolean;
  /** How the request proved itself; absent when it carried neither a proof nor a session. */
  via?: 'proof' | 'session';
  /** In report mode: the code it would have been refused with. */
  wouldReject?: IdentityErrorCode;
  /** The signing mistake the diagnosis named (an id of `chat-identity troubleshooting`), where diagnosed. */
  mistake?: string;
  /** Seconds until a `RATE_LIMITED` client may try again. */
  retryAfter?: number;
  /** What `request.ip` is: `loopback`, `private` (RFC 1918, unique-local, link-local), `public`, or `none` (absent or not an address). */
  address: 'loopback' | 'private' | 'public' | 'none';
}

/**
 * One row of counters: requests with the same labels. A label is `null` where it does not apply;
 * `'(other)'` where its bound was reached; a tenant is `'(unknown)'` when the keys lookup did not
 * answer for it (never the name the request gave).
 *
 * @example
 * ```ts
 * const failingLastHour = (s: StatsSeries) => (s.outcome === 'VERIFIED' ? 0 : s.minutes.reduce((a, b) => a + b, 0));
 * ```
 */
export interface StatsSeries {
  tenant: string | null;
  scheme: SchemeName | null;
  outcome: StatsOutcome;
  /** A configured key id: the key that verified, or the one a diagnosis found signed a failing proof. */
  keyId: string | null;
  /** Whether that key (or, failing, the signature) was a live or a test key, when known. */
  key: 'live' | 'test' | null;
  via: 'proof' | 'session' | null;
  mode: AppliedMode;
  /** The diagnosed signing mistake's id, where diagnostics ran. */
  mistake: string | null;
  /** Since counting started. */
  total: number;
  /** Per minute, the last 60, oldest first: the last is the snapshot's own (partial) minute. */
  minutes: number[];
  /** Per hour, the last 24, oldest first: the last is the snapshot's own (partial) hour. */
  hours: number[];
}

/**
 * `verifier.stats()`: what was counted, as JSON (`JSON.stringify` it as it is; `chat-identity report`
 * reads it back).
 *
 * @example
 * ```ts
 * const snapshot: StatsSnapshot = verifier.stats();
 * const lastHour = snapshot.series.reduce((sum, s) => sum + s.minutes.reduce((a, b) => a + b, 0), 0);
 * ```
 */
export interface StatsSnapshot {
  format: 'chat-identity-stats';
  version: 1;
  /** When counting started, ISO 8601. */
  since: string;
  /** When the snapshot was taken. */
  at: string;
  /** The start of `minutes[0]` and of `hours[0]` of every series. */
  windows: { minutes: { start: string; step: 60 }; hours: { start: string; step: 3600 } };
  /** The bounds, and requests counted under `(other)` because one was reached. */
  limits: { maxTenants: number; maxKeyIds: number; maxSeries: number; folded: number };
  series: StatsSeries[];
  /** Keys a diagnosis found signing failing proofs, with their expiry: "under key 2024-old, which expired yesterday". */
  keys: { tenant: string | null; keyId: string; test: boolean; expiresAt: string | null }[];
}

/**
 * A count of results that several verifiers may share (`stats` option), and that the Prometheus and
 * OpenTelemetry bindings read. Made by `identityStats()`.
 *
 * @example
 * ```ts
 * const stats: IdentityStats = identityStats({ maxTenants: 500 });
 * ```
 */
export interface IdentityStats {
  stats(): StatsSnapshot;
}

/**
 * The bounds of a count: `maxTenants` tenants get rows of their own (the first seen; later ones
 * count as `(other)`), `maxKeyIds` key ids per tenant, `maxSeries` rows in all.
 *
 * @example
 * ```ts
 * const options: IdentityStatsOptions = { maxTenants: 500, now: () => Date.now() };
 * ```
 */
export interface IdentityStatsOptions {
  /** Default 100. */
  maxTenants?: number;
  /** Default 20 per tenant. */
  maxKeyIds?: number;
  /** Default 5000. */
  maxSeries?: number;
  /** The clock that dates the counts, milliseconds since the epoch. Default `Date.now`; a verifier's own count uses its `now`. */
  now?: () => number;
}
