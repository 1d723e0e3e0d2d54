/**
 * What the session suites share: session keys, a DPoP key of a browser made with node:crypto (the
 * same ES256 proofs WebCrypto makes), credentials minted by a real verifier, and credentials taken
 * apart and changed, or forged with any key, as an attacker would.
 */
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createVerifier, responseHeadersOf, type VerifierOptions, type VerifyRequest } from '../../src/index.js';
import { NOW_SECONDS } from '../helpers.js';

/** The server's own session keys: never a site's. */
export const SESSION_KEY = 'session-key-0123456789abcdef0123456789abcdef';
export const NEXT_SESSION_KEY = 'session-key-fedcba9876543210fedcba9876543210';
export const OTHER_VERIFIER_SESSION_KEY = 'session-key-of-another-verifier-000000000000';
/** The prefix of the MAC input (src/session/credential.ts), to forge credentials with other keys. */
export const MAC_PREFIX = 'chat-identity session credential\0';
export const CHALLENGE_EXPIRED = 'ChatIdentity realm="chat-identity", error="session_expired"';
export const CHALLENGE_INVALID = 'ChatIdentity realm="chat-identity", error="invalid_session"';
export const CHALLENGE_DPOP = 'ChatIdentity realm="chat-identity", error="invalid_dpop_proof"';

/** A browser's DPoP key: ECDSA P-256. */
export interface DpopKey {
  privateKey: KeyObject;
  jwk: { kty: string; crv: string; x: string; y: string };
}

export function dpopKey(): DpopKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
  return { privateKey, jwk: { kty, crv, x, y } };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A DPoP proof as the widget makes it; `claims` override or add to the defaults. */
export function dpopProof(
  key: DpopKey,
  options: {
    url?: string;
    method?: string;
    iat?: number;
    credential?: string;
    claims?: Record<string, unknown>;
    header?: Record<string, unknown>;
  } = {},
): string {
  const { url = 'http://chat.example/chat', method = 'POST', iat = NOW_SECONDS, credential } = options;
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk, ...options.header };
  const claims: Record<string, unknown> = { jti: randomUUID(), htm: method, htu: url, iat, ...options.claims };
  if (credential !== undefined && claims.ath === undefined) claims.ath = createHash('sha256').update(credential).digest('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The credential a verifier issues for `request` (undefined when it issues none). */
export async function mintSession(options: VerifierOptions, request: VerifyRequest): Promise<string | undefined> {
  const verifier = createVerifier({ rateLimit: false, logger: { warn() {}, error() {} }, ...options });
  const result = await verifier.verify(request);
  return responseHeadersOf(result)['Chat-Identity-Session'];
}

/** A credential's claims, read without any check. */
export function claimsOf(credential: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(credential.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The credential with its claims changed and its MAC kept: what an attacker can do without a key. */
export function tamper(credential: string, change: (claims: Record<string, unknown>) => void): string {
  const [version, , mac] = credential.split('.');
  const claims = claimsOf(credential);
  change(claims);
  return `${version}.${b64(claims)}.${mac}`;
}

/** A credential of these claims MACed with `key`, with `prefix` before it: what a holder of `key` can make. */
export function forge(claims: Record<string, unknown>, key: string, prefix = MAC_PREFIX, version = 'v1'): string {
  const signed = `${version}.${b64(claims)}`;
  return `${signed}.${createHmac('sha256', key)
    .update(prefix + signed)
    .digest('base64url')}`;
}
