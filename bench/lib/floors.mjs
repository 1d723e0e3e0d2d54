/**
 * The floors: the least a correct check of each proof can do with node:crypto. Each takes the
 * plain request (`{ headers, body }`) and returns the verified user id, or undefined.
 *
 *   user-hash       HMAC over the id, compared with the hex-decoded hash
 *   signed-payload  keys sorted, JSON.stringify, HMAC, compare, then the timestamp window
 *   jwt             split, HMAC over header.payload, compare the base64url signature,
 *                   JSON.parse the payload, check iat
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { SECRET } from './fixtures.mjs';

export const secretKey = createSecretKey(Buffer.from(SECRET, 'utf8'));

/** The three floors, with the secret as a KeyObject or as the string (the faster one is the floor). */
export function floors(keyOrSecret = secretKey) {
  const mac = (data) => createHmac('sha256', keyOrSecret).update(data, 'utf8').digest();
  const fresh = (seconds, maxAge) => {
    const age = Date.now() / 1000 - seconds;
    return age <= maxAge && age >= -60;
  };
  return {
    'user-hash': (request) => {
      const { user_id: id, user_hash: hash } = request.body;
      const given = Buffer.from(hash, 'hex');
      const expected = mac(id);
      return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
    },
    'signed-payload': (request) => {
      const { customer, signature } = request.body;
      const json = JSON.stringify(customer, Object.keys(customer).sort());
      const given = Buffer.from(signature, 'hex');
      const expected = mac(json);
      return given.length === expected.length && timingSafeEqual(given, expected) && fresh(customer.timestamp, 300)
        ? customer.externalId
        : undefined;
    },
    jwt: (request) => {
      const token = request.headers.authorization.slice(7);
      const first = token.indexOf('.');
      const last = token.lastIndexOf('.');
      const given = Buffer.from(token.slice(last + 1), 'base64url');
      const expected = mac(token.slice(0, last));
      if (!(given.length === expected.length && timingSafeEqual(given, expected))) return undefined;
      const claims = JSON.parse(Buffer.from(token.slice(first + 1, last), 'base64url').toString('utf8'));
      return typeof claims.iat === 'number' && fresh(claims.iat, 900) ? claims.externalId : undefined;
    },
  };
}
