/**
 * The identities the benches send: one request carries the proofs of all three schemes
 * (`user-hash` and `signed-payload` fields in the JSON body, the `jwt` as a Bearer header), so
 * every HTTP configuration, the bare app included, receives byte-for-byte the same requests and
 * each verifier reads only its own scheme's fields.
 *
 * Good proofs are a pool of distinct signed users; bad proofs are made per request with a
 * distinct user id, a distinct address and a signature of the right shape that no key produced.
 */
import { createHmac } from 'node:crypto';

/** The site's secret: a live key, so the live windows apply (300 s payloads, 900 s JWTs). */
export const SECRET = 'sk_live_bench_4f9c2a7e1b3d5f6081a2c3e4';

const hmacHex = (data) => createHmac('sha256', SECRET).update(data, 'utf8').digest('hex');
const b64url = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const JWT_HEADER = b64url({ alg: 'HS256', typ: 'JWT' });

/** Canonical JSON as the seeds' servers sign it: keys sorted, no whitespace. */
function canonical(customer) {
  return JSON.stringify(customer, Object.keys(customer).sort());
}

/** The dotted quad for request number `n`: distinct for 16.7 million requests. */
export const addressOf = (n) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** A valid proof for user `i`, signed at `nowSeconds`. */
export function goodProof(i, nowSeconds) {
  const userId = `user-${100000 + i}`;
  const email = `customer${i}@example.com`;
  const name = `Customer ${i}`;
  const customer = { email, externalId: userId, name, timestamp: nowSeconds };
  const signingInput = `${JWT_HEADER}.${b64url({ externalId: userId, email, name, iat: nowSeconds })}`;
  const token = `${signingInput}.${createHmac('sha256', SECRET).update(signingInput).digest('base64url')}`;
  return {
    body: {
      message: 'Hello, I have a question about my order.',
      user_id: userId,
      user_hash: hmacHex(userId),
      user_metadata: { name, email },
      customer,
      signature: hmacHex(canonical(customer)),
    },
    authorization: `Bearer ${token}`,
    ip: addressOf(i),
  };
}

/**
 * A proof that fails verification for attacker `n`: well-formed, fresh, distinct identity,
 * but a signature no key produced (`INVALID_SIGNATURE` in every scheme).
 */
export function badProof(n, nowSeconds) {
  const userId = `attacker-${n}`;
  const email = `attacker${n}@example.com`;
  const fakeHex = (n >>> 0).toString(16).padStart(8, '0').repeat(8);
  const fakeB64 = Buffer.from(fakeHex, 'hex').toString('base64url');
  return {
    body: {
      message: 'Hello, I have a question about my order.',
      user_id: userId,
      user_hash: fakeHex,
      user_metadata: { name: 'Mallory', email },
      customer: { email, externalId: userId, name: 'Mallory', timestamp: nowSeconds },
      signature: fakeHex,
    },
    authorization: `Bearer ${JWT_HEADER}.${b64url({ externalId: userId, email, name: 'Mallory', iat: nowSeconds })}.${fakeB64}`,
    ip: addressOf(n),
  };
}

/** `count` distinct good proofs. */
export function goodPool(count, nowSeconds = Math.floor(Date.now() / 1000)) {
  return Array.from({ length: count }, (_, i) => goodProof(i, nowSeconds));
}

/** The plain request an adapter builds from a proof (what `verifier.verify` receives). */
export function toVerifyRequest(proof) {
  return {
    headers: { 'content-type': 'application/json', authorization: proof.authorization, 'x-forwarded-for': proof.ip },
    body: proof.body,
    query: {},
    params: {},
    ip: proof.ip,
  };
}
