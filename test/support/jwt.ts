/** The one JWT builder of the suites: any header and claims, any key, as an attacker (or a site) can build. */
import { createHmac } from 'node:crypto';

const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

/** One part of a compact JWS: base64url of an object as JSON, or of raw text (duplicate keys, garbage). */
export const jwtPart = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');

/** A compact JWS with any header and claims (objects, or raw JSON text), signed with `key` under `hash`. */
export function forgeJwt(header: object | string, claims: object | string, key: string, hash: keyof typeof HASH = 'HS256'): string {
  const signingInput = `${jwtPart(header)}.${jwtPart(claims)}`;
  return `${signingInput}.${createHmac(HASH[hash], key).update(signingInput).digest('base64url')}`;
}
