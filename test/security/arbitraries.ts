/**
 * Generators for the property tests: valid proofs of every scheme (signed with any configured
 * key), single edits of what they sign, and the garbage and near-misses an attacker sends.
 */
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import {
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
  type FlatValue,
  type SchemeName,
  type VerifierOptions,
} from '../../src/index.js';
import { LIVE_KEY, NOW, NOW_SECONDS, PREVIOUS_KEY, TEST_KEY, frozenClock, schemeKey } from '../helpers.js';

export const SCHEMES: readonly SchemeName[] = ['signed-payload', 'user-hash', 'contact-hash', 'jwt', 'visitor-hash'];
/** The schemes one verifier may hold together (visitor-hash needs a verifier and key of its own). */
export const COMBINED: SchemeName[] = ['signed-payload', 'user-hash', 'contact-hash', 'jwt'];

/** A plain request as the core and the apps take it. */
export interface Req {
  headers?: Record<string, string>;
  body?: unknown;
}

/** The secrets the property verifiers hold: the new key, the previous one in its grace period, a test key. */
export const PROPERTY_SECRETS = [LIVE_KEY, PREVIOUS_KEY, TEST_KEY] as const;
/** A scheme's own copy of a secret: one secret may serve one scheme only. */
export const schemeSecret = (scheme: SchemeName, secret: string) => schemeKey(scheme, secret);
/** Every secret any property verifier holds. */
export const ALL_PROPERTY_SECRETS = SCHEMES.flatMap((scheme) => PROPERTY_SECRETS.map((secret) => schemeSecret(scheme, secret)));
const propertyKeys = (scheme: SchemeName) => [
  schemeSecret(scheme, LIVE_KEY),
  { secret: schemeSecret(scheme, PREVIOUS_KEY), id: 'previous', expiresAt: NOW + 86_400_000 },
  schemeSecret(scheme, TEST_KEY),
];
export const propertyOptions = (scheme: VerifierOptions['scheme'], extra: Partial<VerifierOptions> = {}): VerifierOptions => ({
  scheme,
  keys: typeof scheme === 'string' ? propertyKeys(scheme) : Object.fromEntries(scheme.map((s) => [s, propertyKeys(s)])),
  now: frozenClock,
  algorithms: ['HS256', 'HS384', 'HS512'],
  // Every attempt must reach the signature check: the failed-attempt limiter has its own tests.
  rateLimit: false,
  logger: { warn() {}, error() {} },
  ...extra,
});

/** Characters that trip up naive code: look-alikes, combining marks, escapes, separators, astral. */
const TRICKY = [
  '\ufffd',
  'é',
  'e\u0301',
  ' ',
  '\t',
  '\n',
  '\u0000',
  '\u00a0',
  '\u2028',
  '\u200b',
  '/',
  '\\',
  '"',
  '<',
  '>',
  '&',
  "'",
  '😀',
  'İ',
  'ß',
  'K',
  'A',
  'a',
  '0',
  '@',
  '.',
  '+',
  '%',
  '=',
];
const unit = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...TRICKY) },
);
/** A well-formed, non-empty identifier of at most 80 UTF-16 code units (limits are 255). */
export const identifier = fc.string({ unit, minLength: 1, maxLength: 40 });

/** Any single UTF-16 code unit (lone surrogates included), or a tricky character. */
const codeUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)),
  fc.constantFrom(...TRICKY, '\ud800', '\udbff', '\udc00', '\udfff'),
);

export interface StringEdit {
  op: 'replace' | 'insert' | 'delete' | 'upper' | 'lower' | 'pad' | 'nfc' | 'nfd' | 'truncate' | 'ill-formed';
  at: number;
  unit: string;
}
export const stringEdit: fc.Arbitrary<StringEdit> = fc.record({
  op: fc.constantFrom('replace', 'insert', 'delete', 'upper', 'lower', 'pad', 'nfc', 'nfd', 'truncate', 'ill-formed'),
  at: fc.nat(),
  unit: codeUnit,
});

/**
 * One edit of a string; always returns a different string. `ill-formed` swaps U+FFFD for a lone
 * surrogate (or inserts one): UTF-8 encoders write both as EF BF BD, so it is the edit that a
 * check over the encoded bytes cannot see.
 */
export function applyStringEdit(s: string, edit: StringEdit): string {
  const i = s.length === 0 ? 0 : edit.at % s.length;
  let out: string;
  switch (edit.op) {
    case 'replace':
      out = s.slice(0, i) + edit.unit + s.slice(i + 1);
      break;
    case 'insert':
      out = s.slice(0, i) + edit.unit + s.slice(i);
      break;
    case 'delete':
      out = s.slice(0, i) + s.slice(i + 1);
      break;
    case 'upper':
      out = s.toUpperCase();
      break;
    case 'lower':
      out = s.toLowerCase();
      break;
    case 'pad':
      out = edit.at % 2 === 0 ? ` ${s}` : `${s} `;
      break;
    case 'nfc':
      out = s.normalize('NFC');
      break;
    case 'nfd':
      out = s.normalize('NFD');
      break;
    case 'truncate':
      out = s.slice(0, i);
      break;
    case 'ill-formed':
      out = s.includes('\ufffd') ? s.replaceAll('\ufffd', '\ud800') : s.slice(0, i) + '\udfff' + s.slice(i);
      break;
  }
  return out !== s ? out : s + edit.unit;
}

export const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'));

export interface HexEdit {
  op: 'flip' | 'truncate' | 'extend' | 'zero' | 'empty' | 'odd' | 'other';
  at: number;
  delta: number;
  other: string;
}
export const hexEdit: fc.Arbitrary<HexEdit> = fc.record({
  op: fc.constantFrom('flip', 'truncate', 'extend', 'zero', 'empty', 'odd', 'other'),
  at: fc.nat(),
  delta: fc.integer({ min: 1, max: 15 }),
  other: hex64,
});

/** One edit of a hex signature that changes the bytes it stands for (a change of letter case does not). */
export function applyHexEdit(hex: string, edit: HexEdit): string {
  switch (edit.op) {
    case 'flip': {
      const i = edit.at % hex.length;
      const digit = ((parseInt(hex[i]!, 16) + edit.delta) % 16).toString(16);
      return hex.slice(0, i) + (hex[i] === hex[i]!.toUpperCase() ? digit.toUpperCase() : digit) + hex.slice(i + 1);
    }
    case 'truncate':
      return hex.slice(0, hex.length - 2 * (1 + (edit.at % 4)));
    case 'extend':
      return `${hex}00`;
    case 'zero':
      return hex === '0'.repeat(64) ? '1'.repeat(64) : '0'.repeat(64);
    case 'empty':
      return '';
    case 'odd':
      return hex.slice(0, -1);
    case 'other':
      return edit.other === hex.toLowerCase() ? applyHexEdit(hex, { ...edit, op: 'flip' }) : edit.other;
  }
}

const secretIndex = fc.integer({ min: 0, max: PROPERTY_SECRETS.length - 1 });
const secretOf = (scheme: SchemeName, i: number) => schemeSecret(scheme, PROPERTY_SECRETS[i]!);

/** Flat values as a site signs them (no null: the snippets drop it; no -0: JSON writes it as 0). */
const flatValue: fc.Arbitrary<string | number | boolean> = fc.oneof(
  identifier,
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -1e12, max: 1e12 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }).filter((n) => !Object.is(n, -0)),
  fc.boolean(),
);
const RESERVED = new Set([
  'externalId',
  'email',
  'name',
  'phone',
  'timestamp',
  '__proto__',
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'external_id',
]);
const attributeKey = fc
  .oneof(
    fc.string({ unit, minLength: 1, maxLength: 12 }),
    fc.constantFrom('plan', 'company', 'constructor', 'prototype', 'toString', '1', '10', '2', 'a-b', 'é', 'Z', 'z'),
  )
  .filter((k) => !RESERVED.has(k));
const attributes = fc.dictionary(attributeKey, flatValue, { maxKeys: 6 });

/** A valid proof, the secret that signed it, and what it claims. */
export interface Valid {
  scheme: SchemeName;
  request: Req;
  secret: string;
}

/** A valid proof and the same proof with one thing it signs (or its signature) changed. */
export interface Tampered {
  original: Req;
  tampered: Req;
  how: string;
}

const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

// ---------- user-hash and visitor-hash: one signed identifier.

const userHashProof = fc.record({ id: identifier, key: secretIndex, metadata: fc.option(attributes, { nil: undefined }) });
export const validUserHash = userHashProof.map(({ id, key, metadata }): Valid => ({
  scheme: 'user-hash',
  secret: secretOf('user-hash', key),
  request: {
    body: roundTrip({ user_id: id, user_hash: signUserHash(id, secretOf('user-hash', key)), ...(metadata && { user_metadata: metadata }) }),
  },
}));
export const tamperedUserHash = fc.tuple(validUserHash, fc.boolean(), stringEdit, hexEdit).map(([valid, onId, edit, hex]): Tampered => {
  const body = valid.request.body as { user_id: string; user_hash: string };
  const tampered = onId
    ? { ...body, user_id: applyStringEdit(body.user_id, edit) }
    : { ...body, user_hash: applyHexEdit(body.user_hash, hex) };
  return { original: valid.request, tampered: { body: roundTrip(tampered) }, how: onId ? `user_id ${edit.op}` : `user_hash ${hex.op}` };
});

const visitorProof = fc.record({
  id: identifier,
  key: secretIndex,
  name: fc.option(identifier, { nil: undefined }),
  email: fc.option(identifier, { nil: undefined }),
});
export const validVisitorHash = visitorProof.map(({ id, key, name, email }): Valid => ({
  scheme: 'visitor-hash',
  secret: secretOf('visitor-hash', key),
  request: {
    body: roundTrip({
      anonymousUserId: id,
      hmac: signVisitorHash(id, secretOf('visitor-hash', key)),
      ...(name && { name }),
      ...(email && { email }),
    }),
  },
}));
export const tamperedVisitorHash = fc
  .tuple(validVisitorHash, fc.boolean(), stringEdit, hexEdit)
  .map(([valid, onId, edit, hex]): Tampered => {
    const body = valid.request.body as { anonymousUserId: string; hmac: string };
    const tampered = onId
      ? { ...body, anonymousUserId: applyStringEdit(body.anonymousUserId, edit) }
      : { ...body, hmac: applyHexEdit(body.hmac, hex) };
    return {
      original: valid.request,
      tampered: { body: roundTrip(tampered) },
      how: onId ? `anonymousUserId ${edit.op}` : `hmac ${hex.op}`,
    };
  });

// ---------- contact-hash: the highest-priority identifier present is signed.

const CONTACT_FIELDS = ['ext_user_id', 'email', 'phone'] as const;
type ContactFields = Partial<Record<(typeof CONTACT_FIELDS)[number] | 'external_user_id', string>>;
const contactProof = fc
  .record({
    ids: fc.uniqueArray(identifier, { minLength: 3, maxLength: 3 }),
    present: fc.subarray([0, 1, 2], { minLength: 1 }),
    longName: fc.boolean(),
    key: secretIndex,
  })
  .map(({ ids, present, longName, key }) => {
    // Distinct values on purpose: a hash binds a value, not the field it sits in (see attacks.test.ts).
    const fields: ContactFields = {};
    for (const i of present) fields[CONTACT_FIELDS[i]!] = ids[i]!;
    if (longName && fields.ext_user_id !== undefined) {
      fields.external_user_id = fields.ext_user_id;
      delete fields.ext_user_id;
    }
    return { fields, key };
  });
export const validContactHash = contactProof.map(({ fields, key }): Valid => ({
  scheme: 'contact-hash',
  secret: secretOf('contact-hash', key),
  request: { body: roundTrip({ ...fields, user_hash: signContactHash(fields, secretOf('contact-hash', key)) }) },
}));
export const tamperedContactHash = fc
  .tuple(validContactHash, fc.constantFrom('identifier', 'hash', 'higher', 'remove'), stringEdit, hexEdit, identifier)
  .map(([valid, target, edit, hex, extra]): Tampered => {
    const body = { ...(valid.request.body as ContactFields & { user_hash: string }) };
    const signedField = (['ext_user_id', 'external_user_id', 'email', 'phone'] as const).find((f) => body[f] !== undefined)!;
    const signedValue = body[signedField]!;
    let how: string;
    if (
      target === 'identifier' ||
      (target === 'higher' && signedField !== 'email' && signedField !== 'phone') ||
      (target === 'remove' && !hasLower(body, signedField, signedValue))
    ) {
      body[signedField] = applyStringEdit(signedValue, edit);
      how = `${signedField} ${edit.op}`;
    } else if (target === 'hash') {
      body.user_hash = applyHexEdit(body.user_hash, hex);
      how = `user_hash ${hex.op}`;
    } else if (target === 'higher') {
      // A higher-priority identifier that the hash does not cover now takes precedence.
      const higher = signedField === 'phone' && body.email === undefined && extra.length % 2 === 0 ? 'email' : 'ext_user_id';
      body[higher] = extra === signedValue ? `${extra}x` : extra;
      how = `added ${higher}`;
    } else {
      delete body[signedField];
      how = `removed ${signedField}`;
    }
    return { original: valid.request, tampered: { body: roundTrip(body) }, how };
  });

/** Whether a lower-priority identifier with another value remains once the signed one is removed. */
function hasLower(body: ContactFields, signed: string, value: string): boolean {
  const order = ['ext_user_id', 'external_user_id', 'email', 'phone'] as const;
  return order.slice(order.indexOf(signed as (typeof order)[number]) + 1).some((f) => body[f] !== undefined && body[f] !== value);
}

// ---------- signed-payload: every field of the customer is signed.

const customerProof = fc
  .record({
    externalId: fc.option(identifier, { nil: undefined }),
    email: fc.option(identifier, { nil: undefined }),
    name: fc.option(identifier, { nil: undefined }),
    phone: fc.option(identifier, { nil: undefined }),
    attributes,
    age: fc.integer({ min: 0, max: 299 }),
    key: secretIndex,
  })
  .map(({ externalId, email, name, phone, attributes: extra, age, key }) => {
    const customer: Record<string, FlatValue | undefined> = {
      ...extra,
      externalId: externalId ?? (email === undefined ? 'fallback-id' : undefined),
      email,
      name,
      phone,
      timestamp: NOW_SECONDS - age,
    };
    return { customer, key };
  });
export const validSignedPayload = customerProof.map(({ customer, key }): Valid => ({
  scheme: 'signed-payload',
  secret: secretOf('signed-payload', key),
  request: { body: roundTrip(signPayload(customer, secretOf('signed-payload', key))) },
}));

export const tamperedSignedPayload = fc
  .tuple(
    validSignedPayload,
    fc.constantFrom('value', 'remove', 'add', 'rename', 'timestamp', 'signature', 'type'),
    fc.nat(),
    stringEdit,
    hexEdit,
    attributeKey,
    flatValue,
    fc.integer({ min: 1, max: 299 }),
  )
  .map(([valid, target, pick, edit, hex, newKey, newValue, shift]): Tampered => {
    const { customer, signature } = valid.request.body as { customer: Record<string, FlatValue>; signature: string };
    const next: Record<string, FlatValue> = { ...customer };
    const keys = Object.keys(next);
    const key = keys[pick % keys.length]!;
    const value = next[key]!;
    let how: string = target;
    let sig = signature;
    switch (target) {
      case 'value':
        if (typeof value === 'string') next[key] = applyStringEdit(value, edit);
        else if (typeof value === 'number') next[key] = value === 0 ? 1 : -value;
        else next[key] = !value;
        how = `customer.${key} changed`;
        break;
      case 'type':
        next[key] = typeof value === 'string' ? (value === 'true' ? false : value === '' ? 0 : true) : String(value);
        how = `customer.${key} retyped`;
        break;
      case 'remove':
        delete next[key];
        how = `customer.${key} removed`;
        break;
      case 'add': {
        let added = newKey;
        while (Object.hasOwn(next, added)) added += '_';
        next[added] = newValue;
        how = `customer.${added} added`;
        break;
      }
      case 'rename': {
        const renamed = applyStringEdit(key, edit);
        if (Object.hasOwn(next, renamed) || renamed === '__proto__') {
          delete next[key];
          how = `customer.${key} removed`;
        } else {
          const entries = Object.entries(next).map(([k, v]) => [k === key ? renamed : k, v] as const);
          for (const k of Object.keys(next)) delete next[k];
          for (const [k, v] of entries) next[k] = v;
          how = `customer.${key} renamed`;
        }
        break;
      }
      case 'timestamp':
        next.timestamp = (next.timestamp as number) + (shift % 2 === 0 ? shift : -shift);
        how = 'customer.timestamp shifted';
        break;
      case 'signature':
        sig = applyHexEdit(signature, hex);
        how = `signature ${hex.op}`;
        break;
    }
    return { original: valid.request, tampered: { body: roundTrip({ customer: next, signature: sig }) }, how };
  });

// ---------- jwt: every byte of the token is signed.

const ALGS = ['HS256', 'HS384', 'HS512'] as const;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** A character to edit into a token: base64url, a separator or padding, or any UTF-16 code unit. */
export const tokenChar = fc.oneof(fc.constantFrom(...B64URL, '.', '=', '+', '/'), codeUnit);
/** The character edits every JWT property makes (the HMAC ones here, the public-key ones in asymmetric.test.ts). */
export const CHARACTER_EDITS = ['replace', 'insert', 'delete', 'truncate'] as const;

/** `token` with one character edit at `i`; a replacement always differs from the character it replaces. */
export function editToken(token: string, op: (typeof CHARACTER_EDITS)[number], i: number, char: string): string {
  switch (op) {
    case 'replace': {
      const replacement = char !== token[i] ? char : B64URL[(B64URL.indexOf(char) + 1) % B64URL.length]!;
      return token.slice(0, i) + replacement + token.slice(i + 1);
    }
    case 'insert':
      return token.slice(0, i) + char + token.slice(i);
    case 'delete':
      return token.slice(0, i) + token.slice(i + 1);
    case 'truncate':
      return token.slice(0, i);
  }
}

const jwtProof = fc.record({
  idClaim: fc.constantFrom('externalId', 'external_id', 'sub'),
  id: fc.option(identifier, { nil: undefined }),
  email: fc.option(identifier, { nil: undefined }),
  name: fc.option(identifier, { nil: undefined }),
  attributes,
  age: fc.integer({ min: 0, max: 899 }),
  exp: fc.option(fc.integer({ min: 120, max: 86_400 }), { nil: undefined }),
  alg: fc.constantFrom(...ALGS),
  inHeader: fc.boolean(),
  key: secretIndex,
});
export const validJwt = jwtProof.map((p): Valid & { claims: Record<string, unknown>; alg: (typeof ALGS)[number]; inHeader: boolean } => {
  const claims: Record<string, unknown> = {
    ...p.attributes,
    [p.idClaim]: p.id ?? (p.email === undefined ? 'fallback-id' : undefined),
    email: p.email,
    name: p.name,
    iat: NOW_SECONDS - p.age,
    exp: p.exp === undefined ? undefined : NOW_SECONDS + p.exp,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const token = signJwt(claims, secretOf('jwt', p.key), { algorithm: p.alg });
  return {
    scheme: 'jwt',
    secret: secretOf('jwt', p.key),
    claims,
    alg: p.alg,
    inHeader: p.inHeader,
    request: p.inHeader ? { headers: { authorization: `Bearer ${token}` } } : { body: { token } },
  };
});
export const tokenOf = (request: Req): string => request.headers?.authorization?.slice(7) ?? (request.body as { token: string }).token;

export const tamperedJwt = fc
  .tuple(validJwt, fc.constantFrom(...CHARACTER_EDITS, 'splice', 'swap', 'alg'), fc.nat(), tokenChar)
  .map(([valid, op, at, char]): Tampered => {
    const token = tokenOf(valid.request);
    const [h, p, s] = token.split('.') as [string, string, string];
    const i = at % token.length;
    let tampered: string;
    switch (op) {
      case 'replace':
      case 'insert':
      case 'delete':
      case 'truncate':
        tampered = editToken(token, op, i, char);
        break;
      case 'splice': {
        // The payload of another identity, signed by the same key, under this token's signature.
        const other = signJwt({ ...valid.claims, name: `${String(valid.claims.name ?? '')}!` }, valid.secret, { algorithm: valid.alg });
        tampered = `${h}.${other.split('.')[1]}.${s}`;
        break;
      }
      case 'swap':
        tampered = h === p ? `${h}.${p}.${s}x` : `${p}.${h}.${s}`;
        break;
      case 'alg': {
        const alg = [...ALGS, 'none', 'None', 'RS256'].filter((a) => a !== valid.alg)[at % 5]!;
        tampered = `${Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url')}.${p}.${s}`;
        break;
      }
    }
    // Leading and trailing whitespace of a header value is not the token's (HTTP strips it).
    if (valid.inHeader && tampered.trim() === token) tampered = `${token}A`;
    const request: Req = valid.inHeader ? { headers: { authorization: `Bearer ${tampered}` } } : { body: { token: tampered } };
    return { original: valid.request, tampered: request, how: `token ${op} at ${i}` };
  });

export const VALID: Record<SchemeName, fc.Arbitrary<Valid>> = {
  'signed-payload': validSignedPayload,
  'user-hash': validUserHash,
  'contact-hash': validContactHash,
  jwt: validJwt,
  'visitor-hash': validVisitorHash,
};

export const TAMPERED: Record<SchemeName, fc.Arbitrary<Tampered>> = {
  'signed-payload': tamperedSignedPayload,
  'user-hash': tamperedUserHash,
  'contact-hash': tamperedContactHash,
  jwt: tamperedJwt,
  'visitor-hash': tamperedVisitorHash,
};

// ---------- What an attacker sends: garbage, near-misses and edited proofs.

const FIELD_NAMES = [
  'customer',
  'signature',
  'testMode',
  'user_id',
  'user_hash',
  'user_metadata',
  'ext_user_id',
  'external_user_id',
  'email',
  'phone',
  'name',
  'anonymousUserId',
  'hmac',
  'externalId',
  'metadata',
  'token',
];
const jwtish = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...B64URL), maxLength: 60 }),
    fc.string({ unit: fc.constantFrom(...B64URL, '.', '='), maxLength: 80 }),
  )
  .map(([a, b]) => `${a}.${b}`);
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  identifier,
  hex64,
  jwtish,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1e21,
    1.5,
    '',
    [],
    {},
    [''],
    { length: 64 },
    '0'.repeat(64),
    'none',
    NOW_SECONDS,
    NOW_SECONDS * 1000,
  ),
  fc.dictionary(fc.constantFrom(...FIELD_NAMES, 'timestamp', 'constructor', 'prototype', 'plan'), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 5,
  }),
);
const nearMiss = fc.dictionary(fc.constantFrom(...FIELD_NAMES), weirdValue, { maxKeys: 6 });

/** A JSON body an attacker might send: anything, a near-miss of a proof, or an edited proof. */
export const attackerBody: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 4, arbitrary: nearMiss },
  { weight: 3, arbitrary: fc.oneof(...SCHEMES.map((s) => TAMPERED[s])).map((t) => t.tampered.body ?? {}) },
  { weight: 1, arbitrary: fc.oneof(...SCHEMES.map((s) => VALID[s])).map((v) => v.request.body ?? {}) },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
];
const headerText = fc.string({ unit: 'grapheme-ascii', maxLength: 120 });

export interface RawRequest {
  headers: Record<string, string>;
  text: string;
}

/**
 * A request on the wire: the body as text (JSON of an attacker body, that JSON with a
 * `__proto__` member or a duplicate key spliced in, or arbitrary text) and header values an
 * HTTP parser accepts (printable ASCII).
 */
export const attackerRequest: fc.Arbitrary<RawRequest> = fc
  .record({
    body: attackerBody,
    textKind: fc.constantFrom('json', 'json', 'json', 'json', 'proto', 'duplicate', 'text'),
    text: fc.string({ maxLength: 60 }),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    ),
    authorization: fc.oneof(
      { weight: 5, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: jwtish.map((t) => `Bearer ${t}`) },
      { weight: 1, arbitrary: headerText },
      { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer x.y.z', 'Bearer a.b.c, Bearer d.e.f') },
      { weight: 1, arbitrary: validJwt.map((v) => `Bearer ${tokenOf(v.request)}`) },
      { weight: 1, arbitrary: tamperedJwt.map((t) => `Bearer ${tokenOf(t.tampered)}`) },
    ),
    team: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: headerText }),
  })
  .map(({ body, textKind, text, contentType, authorization, team }): RawRequest => {
    let json = JSON.stringify(body) ?? 'null';
    const isObject = json.startsWith('{') && json !== '{}';
    if (textKind === 'proto' && isObject) json = `{"__proto__":{"verified":true},${json.slice(1)}`;
    if (textKind === 'duplicate' && isObject) json = `${json.slice(0, -1)},${json.slice(1)}`;
    const headers: Record<string, string> = { 'content-type': contentType };
    if (authorization !== undefined) headers.authorization = authorization;
    if (team !== undefined) headers['x-team'] = team;
    return { headers, text: textKind === 'text' ? text : json };
  });

/** An HMAC over `data` with each encoding a leak could take. */
export function hmacEncodings(secret: string, data: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string[] {
  const digest = createHmac(hash, secret).update(data, 'utf8').digest();
  return [digest.toString('hex'), digest.toString('base64'), digest.toString('base64url')];
}
