/**
 * The public types of chat-identity: what `createVerifier` takes and what `verify()` returns.
 * DESIGN.md is the contract these follow.
 */
import type { IdentityErrorCode } from './errors.js';
import type { RateLimitOptions } from './rateLimit.js';

/** The wire formats this package verifies, one per vendor document in the seeds. */
export type SchemeName = 'signed-payload' | 'user-hash' | 'contact-hash' | 'jwt' | 'visitor-hash';

/** HMAC algorithms a JWT may be signed with. Only the ones listed in `algorithms` are accepted. */
export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512';

/**
 * The plain request the core reads. Adapters build it from their framework's request;
 * header names are lower-case, as Node gives them.
 */
export interface VerifyRequest {
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
  query?: Record<string, unknown>;
  params?: Record<string, unknown>;
  ip?: string;
}

/** One signing secret with what the key ring needs to know about it. */
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

export type KeyInput = string | SigningKeyInput;

/**
 * What a keys lookup returns for one tenant: its keys, or `{ tenant, keys }` to name the tenant
 * they belong to (a canonical id, so that `Acme` and `acme` share one failure limit), or nothing
 * for an unknown tenant (`KEY_UNAVAILABLE`).
 */
export type TenantKeySet = KeyInput | readonly KeyInput[] | { tenant: string; keys: KeyInput | readonly KeyInput[] } | undefined;

/** What a keys lookup is told besides the tenant and the request. */
export interface KeyLookupContext {
  /** The scheme the keys will verify. A secret may serve one scheme only. */
  scheme: SchemeName;
  /** Aborted when the lookup has taken longer than `keyLookupTimeout`: its answer is no longer awaited. */
  signal: AbortSignal;
}

/** Keys for one tenant, or a lookup that returns them. */
export type KeyLookup = (tenant: string | undefined, request: VerifyRequest, context: KeyLookupContext) => TenantKeySet | Promise<TenantKeySet>;

/** The keys of one scheme: a secret, a list of them (newest first), or a lookup. */
export type SchemeKeys = KeyInput | readonly KeyInput[] | KeyLookup;

/**
 * Keys per scheme, for a verifier with several: `{ 'user-hash': [...], jwt: [...] }`. No secret may
 * appear under two schemes (a user hash over a crafted id would be a valid HS256 token).
 */
export type KeysByScheme = { readonly [S in SchemeName]?: SchemeKeys };

/** The proof's wire fields, as the widget sends them (for `jwt`, the compact token is `token`). */
export type Credentials = Record<string, unknown>;

export interface VerifierOptions {
  /** One scheme, or several: the first whose fields the request carries is used. */
  scheme: SchemeName | readonly SchemeName[];
  /**
   * The signing secrets, in the order to try them (newest first), or a per-tenant lookup. With
   * several schemes, keys per scheme (`{ 'user-hash': [...], jwt: [...] }`) or a lookup, which is
   * told the scheme: one list of secrets for several schemes is refused.
   */
  keys: SchemeKeys | KeysByScheme;
  /** Which tenant (team, agent, workspace) a request belongs to; passed to a `keys` lookup. */
  tenant?: (request: VerifyRequest) => string | undefined;
  /** Record `MISSING_IDENTITY` when no proof was presented, and let adapters reject unverified requests. Default `false`. */
  required?: boolean;
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
  /** JWT algorithms accepted. Default `['HS256']`. */
  algorithms?: readonly JwtAlgorithm[];
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
}

export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

/** The person behind a verified proof. */
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
}

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

export interface UnverifiedIdentity {
  verified: false;
  scheme?: SchemeName;
  /** Absent when nothing was presented and nothing was required: an anonymous visitor. */
  error?: IdentityFailure;
}

export type IdentityResult = VerifiedIdentity | UnverifiedIdentity;

export interface Verifier {
  /** Checks the proof a request carries. Never throws for bad input: bad input is a result. */
  verify(request: VerifyRequest): Promise<IdentityResult>;
  /** Whether unverified requests are to be rejected (the `required` option). */
  readonly required: boolean;
  /** The schemes tried, in order. */
  readonly schemes: readonly SchemeName[];
  /**
   * Forgets the cached keys (and cached lookup failures) of one tenant, or of every tenant: the
   * next request looks them up again. Call it when a tenant rotates or revokes a key.
   */
  refreshKeys(tenant?: string): void;
}
