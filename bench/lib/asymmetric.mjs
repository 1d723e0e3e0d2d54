/**
 * The public-key JWT benches (bench/core.mjs `jwt-es256`, `jwt-eddsa`): a site's key pair, tokens
 * it signs (the same claims as the HS256 bench: externalId, email, name, iat), tokens no key made,
 * and the floors: the least a correct check of such a token can do with node:crypto.
 *
 *   floor         split the token, decode the signature, crypto.verify, JSON.parse the payload, check iat
 *   verify alone  split the token, decode the signature, crypto.verify: no claim read at all
 *
 * jose verifies the same tokens the way its README shows: `jwtVerify` with the key imported by
 * `importJWK`, and with `createLocalJWKSet` (the key chosen by kid).
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import * as jose from 'jose';
import { addressOf } from './fixtures.mjs';

/** The bench's name for each algorithm. */
export const ASYMMETRIC = { 'jwt-es256': 'ES256', 'jwt-eddsa': 'EdDSA' };

const b64url = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Everything the benches need for one algorithm. */
export async function asymmetricFixture(alg) {
  const pair = () => (alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519'));
  const { privateKey, publicKey } = pair();
  const kid = `bench-${alg.toLowerCase()}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  // Two more keys of the site, as a JWKS holds during a rotation: the kid picks the right one.
  const others = [1, 2].map((i) => ({ ...pair().publicKey.export({ format: 'jwk' }), kid: `${kid}-old-${i}`, alg, use: 'sig' }));
  const header = b64url({ alg, typ: 'JWT', kid });
  const hash = alg === 'ES256' ? 'sha256' : null;
  const signer = alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;
  const verifier = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey;
  const token = (claims, signature) => {
    const input = `${header}.${b64url(claims)}`;
    return `${input}.${(signature ?? sign(hash, Buffer.from(input), signer)).toString('base64url')}`;
  };
  const request = (authorization, ip) => ({
    headers: { authorization, 'content-type': 'application/json' },
    body: { message: 'Hello, I have a question about my order.' },
    ip,
  });
  const fresh = (seconds) => {
    const age = Date.now() / 1000 - seconds;
    return age <= 900 && age >= -60;
  };
  const parts = (r) => {
    const t = r.headers.authorization.slice(7);
    const last = t.lastIndexOf('.');
    return [t, last];
  };
  return {
    alg,
    kid,
    keys: [{ publicKey: jwk }],
    jwks: [{ jwks: { keys: [...others, jwk] } }],
    /** A valid token of user `i`, signed at `now`. */
    good: (i, now) =>
      request(
        `Bearer ${token({ externalId: `user-${100000 + i}`, email: `customer${i}@example.com`, name: `Customer ${i}`, iat: now })}`,
        addressOf(i),
      ),
    /** A token of attacker `n` with a signature of the right size that no key made. */
    bad: (n, now) =>
      request(
        `Bearer ${token({ externalId: `attacker-${n}`, email: `attacker${n}@example.com`, iat: now }, Buffer.alloc(64, n & 255))}`,
        addressOf(n),
      ),
    floor: (r) => {
      const [t, last] = parts(r);
      if (!verify(hash, Buffer.from(t.slice(0, last)), verifier, Buffer.from(t.slice(last + 1), 'base64url'))) return undefined;
      const claims = JSON.parse(Buffer.from(t.slice(t.indexOf('.') + 1, last), 'base64url').toString('utf8'));
      return typeof claims.iat === 'number' && fresh(claims.iat) ? claims.externalId : undefined;
    },
    verifyAlone: (r) => {
      const [t, last] = parts(r);
      return verify(hash, Buffer.from(t.slice(0, last)), verifier, Buffer.from(t.slice(last + 1), 'base64url')) ? true : undefined;
    },
    joseKey: await jose.importJWK(jwk, alg),
    joseJwks: jose.createLocalJWKSet({ keys: [...others, jwk] }),
  };
}
