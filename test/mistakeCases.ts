/**
 * Every signing mistake the diagnosis names, made on purpose: one table the three places that
 * name them are tested against (the verifier's hint, the CLI's `check`, the demo's tester).
 */
import { createHash, createHmac } from 'node:crypto';
import {
  canonicalJson,
  signJwt,
  signPayload,
  type FlatObject,
  type IdentityErrorCode,
  type KeyInput,
  type SchemeName,
} from '../src/index.js';
import { frozenClock, LIVE_KEY, NOW, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY } from './helpers.js';
import { jwtPart } from './support/jwt.js';
import { keyPair, tokenBy, withoutMembers } from './support/keyPairs.js';

export interface MistakeCase {
  name: string;
  /** The id the diagnosis must name. */
  mistake: string;
  scheme: SchemeName;
  /** What the widget sends (for jwt: `{ token }`). */
  body: Record<string, unknown>;
  keys: KeyInput[];
  /** Seconds after NOW at which the proof is checked. */
  at?: number;
  allowTestKeys?: boolean;
  code: IdentityErrorCode;
  /** Also expected in the hint: the specifics of this proof. */
  detail?: RegExp;
}

/** A secret as some JWT services hand them out: base64 text. */
export const BASE64_KEY = Buffer.from('a 32-byte secret issued as base64!').toString('base64');

const person = { email: 'ada@example.com', externalId: '42', name: 'Ada Lovelace' };
const customerAt = (timestamp: unknown = NOW_SECONDS) => ({ ...person, timestamp }) as FlatObject;

function mac(key: string | Buffer, data: string, encoding: 'hex' | 'base64' = 'hex', hash = 'sha256'): string {
  return createHmac(hash, key).update(data).digest(encoding);
}

/** A payload proof signed over exactly `signed` (a mistake, usually), sending `customer`. */
function payload(customer: unknown, signed: string, key: string | Buffer = LIVE_KEY, encoding: 'hex' | 'base64' = 'hex') {
  return { customer, signature: mac(key, signed, encoding) };
}

/** A JWT made by hand: any header, any claims, any key bytes, any encoding of the parts. */
function token(
  claims: Record<string, unknown>,
  options: { key?: string | Buffer; header?: Record<string, unknown>; signature?: 'base64url' | 'hex'; base64?: boolean } = {},
) {
  const header = options.header ?? { alg: 'HS256', typ: 'JWT' };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString(options.base64 ? 'base64' : 'base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  const digest = createHmac('sha256', options.key ?? LIVE_KEY)
    .update(input)
    .digest();
  const signature = options.signature === 'hex' ? digest.toString('hex') : digest.toString(options.base64 ? 'base64' : 'base64url');
  return { token: `${input}.${signature}` };
}

const canonical = customerAt();
/** A proof signed correctly, as the widget's body. */
const signedBody = (...args: Parameters<typeof signPayload>): Record<string, unknown> => ({ ...signPayload(...args) });
const python = (object: Record<string, unknown>) =>
  '{' +
  Object.keys(object)
    .sort()
    .map((k) => `${JSON.stringify(k)}: ${JSON.stringify(object[k])}`)
    .join(', ') +
  '}';

// Public keys (jwt): the site's key pairs, and keys the site might sign with by mistake.
const SITE_ES = keyPair('ES256', 'd-es');
const SITE_ED = keyPair('EdDSA', 'd-ed');
const SITE_RS = keyPair('RS256', 'd-rs');
const NEXT_ES = keyPair('ES256', 'd-next');
const SMALL_RS = keyPair('RS256', 'd-small', 1024);
const RS_NO_ALG = keyPair('RS256', 'd-noalg');
const hmacOver = (secret: string, header: Record<string, unknown>) => {
  const input = `${jwtPart(header)}.${jwtPart({ externalId: '42', iat: NOW_SECONDS })}`;
  return { token: `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}` };
};

export const MISTAKE_CASES: MistakeCase[] = [
  {
    name: 'payload signature in base64',
    mistake: 'signature-base64',
    scheme: 'signed-payload',
    body: payload(canonical, canonicalJson(canonical), LIVE_KEY, 'base64'),
    keys: [LIVE_KEY],
    code: 'MALFORMED_IDENTITY',
    detail: /signature is the right digest, but in base64/,
  },
  {
    name: 'visitor hmac in base64',
    mistake: 'signature-base64',
    scheme: 'visitor-hash',
    body: { anonymousUserId: 'v_1', hmac: mac(LIVE_KEY, 'v_1', 'base64') },
    keys: [LIVE_KEY],
    code: 'MALFORMED_IDENTITY',
    detail: /hmac is the right digest/,
  },
  {
    name: 'JWT signature in hex',
    mistake: 'jwt-encoding',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: NOW_SECONDS }, { signature: 'hex' }),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /signature is hex/,
  },
  {
    name: 'JWT in standard base64 with padding',
    mistake: 'jwt-encoding',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: NOW_SECONDS }, { base64: true }),
    keys: [LIVE_KEY],
    code: 'MALFORMED_IDENTITY',
    detail: /standard base64/,
  },
  {
    name: 'JWT ES256 signature DER-encoded',
    mistake: 'jwt-encoding',
    scheme: 'jwt',
    body: { token: tokenBy(SITE_ES, { externalId: '42' }, { encoding: 'der' }) },
    keys: [{ publicKey: SITE_ES.jwk }],
    code: 'INVALID_SIGNATURE',
    detail: /signed with the ES256 key with kid "d-es", but its ES256 signature is DER-encoded/,
  },
  {
    name: 'JWT HS256 made with the public key as its secret',
    mistake: 'jwt-hmac-with-public-key',
    scheme: 'jwt',
    body: hmacOver(SITE_ES.pem, { alg: 'HS256', typ: 'JWT', kid: 'd-es' }),
    keys: [{ publicKey: SITE_ES.jwk }],
    code: 'INVALID_SIGNATURE',
    detail: /an HMAC whose secret is the ES256 key with kid "d-es" \(its PEM text\)/,
  },
  {
    name: 'JWT HS256 against public keys, made with some other secret',
    mistake: 'jwt-hmac-with-public-key',
    scheme: 'jwt',
    body: hmacOver(LIVE_KEY, { alg: 'HS256', typ: 'JWT' }),
    keys: [{ publicKey: SITE_ES.jwk }],
    code: 'INVALID_SIGNATURE',
    detail: /an HMAC with a shared secret, but the jwt keys here are public keys \(ES256\)/,
  },
  {
    name: "JWT header alg not the key's",
    mistake: 'jwt-alg-not-the-keys',
    scheme: 'jwt',
    body: { token: tokenBy(SITE_RS, { externalId: '42' }, { header: { alg: 'PS256', typ: 'JWT', kid: 'd-rs' } }) },
    keys: [{ publicKey: SITE_RS.jwk }],
    code: 'INVALID_SIGNATURE',
    detail: /a valid RS256 signature by the RS256 key with kid "d-rs", but the token header says alg "PS256"/,
  },
  {
    name: 'JWT kid names an RSA key of 1024 bits',
    mistake: 'rsa-key-too-short',
    scheme: 'jwt',
    body: { token: tokenBy(SMALL_RS, { externalId: '42' }) },
    keys: [{ jwks: { keys: [SITE_ES.jwk, SMALL_RS.jwk] } }],
    code: 'INVALID_SIGNATURE',
    detail: /kid "d-small": the JWKS configured here sets that key aside: an RSA key of 1024 bits/,
  },
  {
    name: 'JWT kid names an RSA key published without alg',
    mistake: 'jwks-key-unusable',
    scheme: 'jwt',
    body: { token: tokenBy(RS_NO_ALG, { externalId: '42' }) },
    keys: [{ jwks: { keys: [SITE_ES.jwk, withoutMembers(RS_NO_ALG.jwk, 'alg')] } }],
    code: 'INVALID_SIGNATURE',
    detail: /kid "d-noalg".*without alg: RS256 or PS256 is ambiguous/,
  },
  {
    name: 'JWT signed with a rotated key the configured copy of the JWKS lacks',
    mistake: 'jwks-not-refreshed',
    scheme: 'jwt',
    body: { token: tokenBy(NEXT_ES, { externalId: '42' }) },
    keys: [{ jwks: { keys: [SITE_ES.jwk] } }],
    code: 'INVALID_SIGNATURE',
    detail: /kid "d-next", which the JWKS configured here \(a copy, holding kid "d-es"\) lacks/,
  },
  {
    name: 'JWT kid that names no configured key',
    mistake: 'jwt-kid-unknown',
    scheme: 'jwt',
    body: { token: tokenBy(NEXT_ES, { externalId: '42' }) },
    keys: [{ publicKey: SITE_ES.jwk }, { publicKey: SITE_ED.jwk }],
    code: 'INVALID_SIGNATURE',
    detail: /kid "d-next", which no key here has \(kids: "d-es", "d-ed"\)/,
  },
  {
    name: 'JWT signed with another private key under the configured kid',
    mistake: 'jwt-wrong-key',
    scheme: 'jwt',
    body: { token: tokenBy(NEXT_ES, { externalId: '42' }, { header: { alg: 'ES256', typ: 'JWT', kid: 'd-es' } }) },
    keys: [{ publicKey: SITE_ES.jwk }],
    code: 'INVALID_SIGNATURE',
    detail: /does not verify with the ES256 key with kid "d-es": another private key made it/,
  },
  {
    name: 'customer sent as its JSON text',
    mistake: 'customer-sent-as-string',
    scheme: 'signed-payload',
    body: payload(canonicalJson(canonical), canonicalJson(canonical)),
    keys: [LIVE_KEY],
    code: 'MALFORMED_IDENTITY',
  },
  {
    name: 'JWT signed with HS512',
    mistake: 'jwt-wrong-alg',
    scheme: 'jwt',
    body: { token: signJwt({ externalId: '42' }, LIVE_KEY, { algorithm: 'HS512', now: frozenClock }) },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /signed with HS512 by the live key, but this verifier accepts HS256/,
  },
  {
    name: 'JWT without iat',
    mistake: 'jwt-iat-missing',
    scheme: 'jwt',
    body: token({ externalId: '42' }),
    keys: [LIVE_KEY],
    code: 'MISSING_REQUIRED_FIELD',
    detail: /signed with the live key but has no iat/,
  },
  {
    name: 'customer without timestamp',
    mistake: 'timestamp-missing',
    scheme: 'signed-payload',
    body: payload(person, canonicalJson(person)),
    keys: [LIVE_KEY],
    code: 'MISSING_REQUIRED_FIELD',
  },
  {
    name: 'timestamp as a string',
    mistake: 'timestamp-not-a-number',
    scheme: 'signed-payload',
    body: payload(customerAt(String(NOW_SECONDS)), canonicalJson(customerAt(String(NOW_SECONDS)))),
    keys: [LIVE_KEY],
    code: 'MALFORMED_IDENTITY',
    detail: /customer.timestamp is "1767225600", a string/,
  },
  {
    name: 'JWT iat as an ISO date',
    mistake: 'timestamp-not-a-number',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: new Date(NOW).toISOString() }),
    keys: [LIVE_KEY],
    code: 'MALFORMED_IDENTITY',
    detail: /iat is "2026-01-01T00:00:00.000Z"/,
  },
  {
    name: 'timestamp in milliseconds',
    mistake: 'timestamp-milliseconds',
    scheme: 'signed-payload',
    body: signedBody({ ...person, timestamp: NOW }, LIVE_KEY),
    keys: [LIVE_KEY],
    code: 'SIGNATURE_EXPIRED',
    detail: /customer.timestamp \(1767225600000\) looks like milliseconds/,
  },
  {
    name: 'JWT iat in milliseconds',
    mistake: 'timestamp-milliseconds',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: NOW }),
    keys: [LIVE_KEY],
    code: 'SIGNATURE_EXPIRED',
    detail: /iat \(1767225600000\) looks like milliseconds/,
  },
  {
    name: 'timestamp 5 minutes ahead',
    mistake: 'timestamp-in-future',
    scheme: 'signed-payload',
    body: signedBody({ ...person, timestamp: NOW_SECONDS + 300 }, LIVE_KEY),
    keys: [LIVE_KEY],
    code: 'SIGNATURE_EXPIRED',
    detail: /300 seconds in the future.*NTP/,
  },
  {
    name: 'JWT iat 2 minutes ahead',
    mistake: 'timestamp-in-future',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: NOW_SECONDS + 120 }),
    keys: [LIVE_KEY],
    code: 'SIGNATURE_EXPIRED',
    detail: /iat is 120 seconds in the future/,
  },
  {
    name: 'live key with testMode: true, 30 minutes old',
    mistake: 'live-key-in-test-mode',
    scheme: 'signed-payload',
    body: { ...signedBody(person, LIVE_KEY, { now: frozenClock }), testMode: true },
    keys: [LIVE_KEY, TEST_KEY],
    at: 1800,
    code: 'SIGNATURE_EXPIRED',
    detail: /testMode: true, but the proof is signed with the live key.*1500 seconds past the 300-second window/,
  },
  {
    name: 'payload 400 seconds old',
    mistake: 'timestamp-expired',
    scheme: 'signed-payload',
    body: signedBody(person, LIVE_KEY, { now: frozenClock }),
    keys: [LIVE_KEY],
    at: 400,
    code: 'SIGNATURE_EXPIRED',
    detail: /customer.timestamp is 100 seconds past the 300-second window\./,
  },
  {
    name: 'test-key payload 2 hours old',
    mistake: 'timestamp-expired',
    scheme: 'signed-payload',
    body: signedBody(person, TEST_KEY, { now: frozenClock }),
    keys: [LIVE_KEY, TEST_KEY],
    at: 7200,
    code: 'SIGNATURE_EXPIRED',
    detail: /3600 seconds \(60 minutes\) past the 3600-second window for test keys/,
  },
  {
    name: 'JWT 1000 seconds old',
    mistake: 'timestamp-expired',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: NOW_SECONDS - 1000 }),
    keys: [LIVE_KEY],
    code: 'SIGNATURE_EXPIRED',
    detail: /iat is 100 seconds past the 900-second window/,
  },
  {
    name: 'test key where test keys are refused',
    mistake: 'test-key-refused',
    scheme: 'signed-payload',
    body: signedBody(person, TEST_KEY, { now: frozenClock }),
    keys: [LIVE_KEY, TEST_KEY],
    allowTestKeys: false,
    code: 'INVALID_SIGNATURE',
    detail: /signed with the test key, but this verifier refuses test keys/,
  },
  {
    name: 'previous key 2 hours after its grace period',
    mistake: 'previous-key-expired',
    scheme: 'user-hash',
    body: { user_id: '42', user_hash: mac(PREVIOUS_KEY, '42') },
    keys: [LIVE_KEY, { secret: PREVIOUS_KEY, id: '2025-q4', expiresAt: NOW - 2 * 3600 * 1000 }],
    code: 'INVALID_SIGNATURE',
    detail: /the key with id "2025-q4", whose grace period ended 2 hours ago/,
  },
  {
    name: 'secret read from a file with its newline',
    mistake: 'secret-whitespace',
    scheme: 'user-hash',
    body: { user_id: '42', user_hash: mac(LIVE_KEY + '\n', '42') },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /made with the live key plus a trailing newline/,
  },
  {
    name: 'secret in .env quotes',
    mistake: 'secret-whitespace',
    scheme: 'signed-payload',
    body: payload(canonical, canonicalJson(canonical), `"${LIVE_KEY}"`),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /in double quotes/,
  },
  {
    name: 'JWT key base64-decoded',
    mistake: 'secret-base64-decoded',
    scheme: 'jwt',
    body: token({ externalId: '42', iat: NOW_SECONDS }, { key: Buffer.from(BASE64_KEY, 'base64') }),
    keys: [BASE64_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /base64-decoded: the site used the decoded bytes/,
  },
  {
    name: 'HMAC-SHA1',
    mistake: 'not-hmac-sha256',
    scheme: 'user-hash',
    body: { user_id: '42', user_hash: mac(LIVE_KEY, '42', 'hex', 'sha1') },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /user_hash is an HMAC-SHA1 made with the live key, not an HMAC-SHA256/,
  },
  {
    name: 'plain SHA-256 of secret and id',
    mistake: 'not-hmac-sha256',
    scheme: 'contact-hash',
    body: {
      ext_user_id: '42',
      user_hash: createHash('sha256')
        .update(LIVE_KEY + '42')
        .digest('hex'),
    },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /a plain SHA-256 of the secret followed by the data/,
  },
  {
    name: 'keys signed in arrival order',
    mistake: 'keys-not-sorted',
    scheme: 'signed-payload',
    body: payload(
      { timestamp: NOW_SECONDS, name: 'Ada Lovelace', externalId: '42' },
      JSON.stringify({ timestamp: NOW_SECONDS, name: 'Ada Lovelace', externalId: '42' }),
    ),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /\(timestamp, name, externalId\), not sorted/,
  },
  {
    name: "Python's json.dumps default separators",
    mistake: 'json-whitespace',
    scheme: 'signed-payload',
    body: payload(canonical, python(canonical)),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /space after each , and :/,
  },
  {
    name: 'pretty-printed JSON',
    mistake: 'json-whitespace',
    scheme: 'signed-payload',
    body: payload(canonical, JSON.stringify(canonical, null, 2)),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /2-space indentation/,
  },
  {
    name: 'JSON text signed as a JSON string',
    mistake: 'double-encoded-json',
    scheme: 'signed-payload',
    body: payload(canonical, JSON.stringify(canonicalJson(canonical))),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
  },
  {
    name: 'user-hash over the email',
    mistake: 'wrong-field-hashed',
    scheme: 'user-hash',
    body: { user_id: '42', user_hash: mac(LIVE_KEY, 'ada@example.com'), user_metadata: { email: 'ada@example.com' } },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /user_hash is the HMAC of user_metadata.email, not of user_id/,
  },
  {
    name: 'contact-hash over the lower-priority email',
    mistake: 'wrong-field-hashed',
    scheme: 'contact-hash',
    body: { ext_user_id: '42', email: 'ada@example.com', user_hash: mac(LIVE_KEY, 'ada@example.com') },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /HMAC of email, but ext_user_id is present and takes priority/,
  },
  {
    name: 'visitor-hash over the externalId',
    mistake: 'wrong-field-hashed',
    scheme: 'visitor-hash',
    body: { anonymousUserId: 'v_1', externalId: '42', hmac: mac(LIVE_KEY, '42') },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /hmac is the HMAC of externalId, not of anonymousUserId/,
  },
  {
    name: 'signed-payload over the externalId alone',
    mistake: 'wrong-field-hashed',
    scheme: 'signed-payload',
    body: payload(canonical, '42'),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /HMAC of customer.externalId alone/,
  },
  {
    name: 'email lower-cased when hashing',
    mistake: 'identifier-case-whitespace',
    scheme: 'contact-hash',
    body: { email: 'Ada@Example.com', user_hash: mac(LIVE_KEY, 'ada@example.com') },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /matches email in lower case/,
  },
  {
    name: 'user id sent with whitespace',
    mistake: 'identifier-case-whitespace',
    scheme: 'user-hash',
    body: { user_id: ' 42 ', user_hash: mac(LIVE_KEY, '42') },
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /without its surrounding whitespace/,
  },
  {
    name: 'externalId case differs in the payload',
    mistake: 'identifier-case-whitespace',
    scheme: 'signed-payload',
    body: payload({ ...canonical, externalId: 'ADA-42' }, canonicalJson({ ...canonical, externalId: 'ada-42' })),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /customer.externalId in lower case/,
  },
  {
    name: 'null name signed, not sent',
    mistake: 'signed-field-not-sent',
    scheme: 'signed-payload',
    body: payload({ externalId: '42', timestamp: NOW_SECONDS }, JSON.stringify({ externalId: '42', name: null, timestamp: NOW_SECONDS })),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /customer.name: null/,
  },
  {
    name: 'timestamp sent beside customer',
    mistake: 'signed-field-not-sent',
    scheme: 'signed-payload',
    body: { ...payload(person, canonicalJson(canonical)), timestamp: NOW_SECONDS },
    keys: [LIVE_KEY],
    code: 'MISSING_REQUIRED_FIELD',
    detail: /customer.timestamp, sent beside customer instead of inside it/,
  },
  {
    name: 'plan added in the browser',
    mistake: 'unsigned-field-sent',
    scheme: 'signed-payload',
    body: payload({ ...canonical, plan: 'pro' }, canonicalJson(canonical)),
    keys: [LIVE_KEY],
    code: 'INVALID_SIGNATURE',
    detail: /customer.plan was not signed/,
  },
  {
    name: 'userId instead of user_id',
    mistake: 'misnamed-field',
    scheme: 'user-hash',
    body: { userId: '42', user_hash: mac(LIVE_KEY, '42') },
    keys: [LIVE_KEY],
    code: 'MISSING_REQUIRED_FIELD',
    detail: /userId was sent, but the field is user_id/,
  },
  {
    name: 'customer.external_id',
    mistake: 'misnamed-field',
    scheme: 'signed-payload',
    body: payload({ external_id: '42', timestamp: NOW_SECONDS }, canonicalJson({ external_id: '42', timestamp: NOW_SECONDS })),
    keys: [LIVE_KEY],
    code: 'MISSING_REQUIRED_FIELD',
    detail: /customer.external_id was sent, but the field is customer.externalId/,
  },
  {
    name: 'userHash instead of user_hash (no proof at all, to the verifier)',
    mistake: 'misnamed-field',
    scheme: 'user-hash',
    body: { user_id: '42', userHash: mac(LIVE_KEY, '42') },
    keys: [LIVE_KEY],
    code: 'MISSING_IDENTITY',
    detail: /userHash was sent, but the field is user_hash/,
  },
  {
    name: 'hash instead of hmac',
    mistake: 'misnamed-field',
    scheme: 'visitor-hash',
    body: { anonymousUserId: 'visitor-7', hash: mac(LIVE_KEY, 'visitor-7') },
    keys: [LIVE_KEY],
    code: 'MISSING_IDENTITY',
    detail: /hash was sent, but the field is hmac/,
  },
];

/** The secrets of a case's keys, for checking that no text ever contains one. */
export function secretsOf(keys: readonly KeyInput[]): string[] {
  return keys.flatMap((key) => (typeof key === 'string' ? [key] : 'secret' in key ? [key.secret] : []));
}
