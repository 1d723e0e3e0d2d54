/**
 * chat-identity: verify the signed identity a chat widget forwards, framework-agnostic.
 * Adapters live at `chat-identity/express`, `/koa`, `/passport`, `/fastify` and `/fetch` (Web Request, Hono).
 */
export { createVerifier, isIssuedResult, loggerOf, responseHeadersOf, verifierOf, verifyNow } from './createVerifier.js';
export { memorySessionStore, redisSessionStore, type SessionState, type SessionStore } from './session/index.js';
export { identityStats } from './stats/counters.js';
export { rolloutReport, formatRolloutReport, type RolloutReport, type RolloutReportOptions, type TenantReadiness } from './stats/report.js';
export { IdentityError, IdentityErrorCode, type RejectionBody } from './errors.js';
export { SCHEME_NAMES } from './schemes/index.js';
export { signPayload, type SignedPayload } from './schemes/signedPayload/sign.js';
export { signUserHash } from './schemes/userHash/sign.js';
export { signContactHash, type ContactHashFields } from './schemes/contactHash/sign.js';
export { signJwt, type JwtPrivateKey, type SignJwtOptions } from './schemes/jwt/sign.js';
export { signVisitorHash } from './schemes/visitorHash/sign.js';
export {
  memoryStore,
  redisStore,
  DEFAULT_MAX_KEYS,
  type AttemptCount,
  type AttemptCounter,
  type AttemptLimit,
  type AttemptStore,
  type RedisClientLike,
} from './attemptStore.js';
export { DEFAULT_ADDRESS_LIMIT, DEFAULT_IDENTITY_LIMIT, DEFAULT_STORE_TIMEOUT, type RateLimitOptions } from './rateLimit.js';
export { canonicalJson, type FlatObject, type FlatValue } from './canonicalJson.js';
export type {
  Contact,
  Credentials,
  FullySpecifiedEdDSA,
  IdentityFailure,
  IdentityResult,
  HmacJwtAlgorithm,
  JwksInput,
  JwksUrl,
  JwtAlgorithm,
  KeyInput,
  KeyLookup,
  KeyLookupContext,
  KeysByScheme,
  Logger,
  PublicJwk,
  PublicKeyAlgorithm,
  PublicKeyInput,
  SchemeKeys,
  SchemeName,
  SigningKeyInput,
  TenantAnswer,
  TenantKeySet,
  RequiredMode,
  ResultSummary,
  StatsOutcome,
  AppliedMode,
  StatsSeries,
  StatsSnapshot,
  IdentityStats,
  IdentityStatsOptions,
  EndedSession,
  SessionCookieOptions,
  SessionKeyInput,
  SessionOptions,
  UnverifiedIdentity,
  VerifiedIdentity,
  Verifier,
  VerifierOptions,
  VerifyRequest,
} from './types.js';
