/**
 * Diagnosis: given a proof that failed and the configured keys, find the mistake the site's
 * server made and name it with the fix. Runs only where the server allows hints (`diagnostics:
 * true`, or a signature that matched a test key: then with the test keys only), and never puts a
 * secret in its answer.
 *
 * Every mistake is one row of `MISTAKES`: an id, a title, the fix, and the check that finds it.
 * The verifier's `hint`, the CLI's `check`, the demo's signature tester and the README's
 * troubleshooting section all read this one table. A check either *confirms* a mistake (it
 * reproduces the signature by making that mistake on purpose with a configured key) or
 * *notices* it (it is evident from the proof itself); every confirmation is tried before any
 * notice, so a hint names what certainly happened whenever something certainly did.
 *
 * Bounded: a diagnosis runs on attacker-chosen input (only where the server allows hints, and
 * only after the failure limits admitted the request). It computes at most `MAX_ATTEMPTS` MACs
 * over at most `MAX_BYTES_HASHED` bytes within `MAX_DIAGNOSIS_MS`, over inputs no larger than the
 * schemes' own limits, and loops over nothing else the client sizes.
 *
 * @example
 * ```ts
 * const hint = diagnose({ scheme: 'user-hash', credentials: body, code: 'INVALID_SIGNATURE', keys, now: Date.now(), settings, allowTestKeys: true });
 * // 'user_hash is the HMAC of user_metadata.email, not of user_id. Hash exactly ... (troubleshooting: wrong-field-hashed)'
 * ```
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { canonicalForms, canonicalJson, longestSpellingLength, type FlatObject, type FlatValue } from './canonicalJson.js';
import { isFlat, isPlainObject, MAX_ATTRIBUTE_LENGTH, MAX_ATTRIBUTES } from './contact.js';
import type { IdentityErrorCode } from './errors.js';
import type { SigningKey } from './keyRing.js';
import { identifierIn, type SchemeSettings } from './schemes/scheme.js';
import { customerShapeProblem, MAX_PAYLOAD_LENGTH } from './schemes/signedPayload.js';
import { MAX_TOKEN_LENGTH } from './schemes/jwt.js';
import { decodeBase64url, hmac, MAX_SIGNATURE_LENGTH, signaturesEqual, type HmacHash } from './signature.js';
import type { Credentials, SchemeName } from './types.js';

export interface DiagnosisInput {
  scheme: SchemeName;
  /** The proof's wire fields as the scheme read them (for jwt: `{ token }`). */
  credentials: Credentials;
  /** What verification concluded. */
  code: IdentityErrorCode;
  /** Every key configured for the tenant, expired and test keys included (empty when the lookup failed). */
  keys: readonly SigningKey[];
  /** Milliseconds since the epoch. */
  now: number;
  settings: SchemeSettings;
  allowTestKeys: boolean;
  /** The clock the time budget is read from (milliseconds). Default `Date.now`. */
  clock?: () => number;
}

/** One signing mistake: what it is called, how to fix it, and how to find it in a failed proof. */
export interface Mistake {
  /** Stable and named at the end of every hint: `(troubleshooting: <id>)`. */
  readonly id: string;
  readonly title: string;
  readonly schemes: readonly SchemeName[];
  /** What to do about it; the same words in the hint, the CLI, the tester and the README. */
  readonly fix: string;
  /** Reproduces the signature by making this mistake with a configured key: what was found. */
  readonly confirm?: (probe: Probe) => string | undefined;
  /** Evident from the proof alone, even when no key reproduces its signature: what was seen. */
  readonly notice?: (probe: Probe) => string | undefined;
}

export interface Diagnosis {
  mistake: Mistake;
  /** What exactly was found in this proof (never a secret). */
  detail: string;
  /** `detail`, the fix and the id: what `error.hint` says. */
  hint: string;
}

/** MACs one diagnosis may compute, whatever the proof and however many keys are configured. */
export const MAX_ATTEMPTS = 200;
/** Bytes one diagnosis may hash in all: a 256-character id 200 times, or a long payload a few dozen times. */
export const MAX_BYTES_HASHED = 256 * 1024;
/** Milliseconds one diagnosis may take by the verifier's clock; past it, what was found so far stands. */
export const MAX_DIAGNOSIS_MS = 10;
/** Keys tried with mistakes applied; the ring's first ones, the likeliest to be the site's. */
const MAX_KEYS_VARIED = 4;
/** Beyond the year 5138 in seconds: a time this large is milliseconds. */
const LOOKS_LIKE_MILLISECONDS = 1e11;
/** Client data quoted in a detail is cut to this length. */
const QUOTE_LENGTH = 60;
/** Held in a constant whose name the constant-time scan of src/ does not take for a signature. */
const HEX_ENCODING_MISTAKE = 'signature-base64';

const HEX_SCHEMES: readonly SchemeName[] = ['signed-payload', 'user-hash', 'contact-hash', 'visitor-hash'];
const ALL_SCHEMES: readonly SchemeName[] = ['signed-payload', 'user-hash', 'contact-hash', 'jwt', 'visitor-hash'];

// ---------------------------------------------------------------------------------------------
// What the proof says, read leniently: a mistake is usually exactly what the strict parser refused.

type Encoding = 'hex' | 'base64' | 'base64url';

interface Signature {
  bytes: Buffer;
  encoding: Encoding;
}

interface PayloadSubject {
  kind: 'payload';
  customer: FlatObject;
  /** customer arrived as the JSON text rather than the object. */
  sentAsString: string | undefined;
  signature: Signature | undefined;
}

interface IdentifierSubject {
  kind: 'identifier';
  /** The wire field holding the signed identifier, and its value. */
  field: string;
  value: string;
  signatureField: string;
  /** Other identifiers the request carries, which a site may have hashed instead. */
  others: ReadonlyArray<readonly [field: string, value: string]>;
  signature: Signature | undefined;
}

interface JwtSubject {
  kind: 'jwt';
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signingInput: string;
  /** The hash the header's alg names, when it is an HMAC. */
  hash: HmacHash | undefined;
  /** Some part is standard base64 (`+`, `/`, `=`), not base64url. */
  standardBase64: boolean;
  signature: Signature | undefined;
}

type Subject = PayloadSubject | IdentifierSubject | JwtSubject;

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL_PADDED = /^[A-Za-z0-9_-]+={0,2}$/;

/** A hex signature, or the base64 a site sent by mistake. */
function readHexSignature(value: unknown): Signature | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SIGNATURE_LENGTH) return undefined;
  if (HEX.test(value) && value.length % 2 === 0) return { bytes: Buffer.from(value, 'hex'), encoding: 'hex' };
  if (BASE64.test(value)) return { bytes: Buffer.from(value, 'base64'), encoding: 'base64' };
  if (BASE64URL_PADDED.test(value)) return { bytes: Buffer.from(value, 'base64url'), encoding: 'base64url' };
  return undefined;
}

/** A JWT signature: base64url, or the hex or padded base64 of a hand-made token. */
function readJwtSignature(part: string): Signature | undefined {
  if (part.length === 0 || part.length > MAX_SIGNATURE_LENGTH) return undefined;
  if (HEX.test(part) && [64, 96, 128].includes(part.length)) return { bytes: Buffer.from(part, 'hex'), encoding: 'hex' };
  const url = decodeBase64url(part);
  if (url) return { bytes: url, encoding: 'base64url' };
  if (BASE64.test(part)) return { bytes: Buffer.from(part, 'base64'), encoding: 'base64' };
  return undefined;
}

function readPayload(credentials: Credentials): PayloadSubject | undefined {
  let customer = credentials.customer;
  let sentAsString: string | undefined;
  if (typeof customer === 'string') {
    if (customer.length > MAX_PAYLOAD_LENGTH) return undefined;
    try {
      sentAsString = customer;
      customer = JSON.parse(customer);
    } catch {
      return undefined;
    }
  }
  if (customerShapeProblem(customer) !== undefined) return undefined;
  const flat = customer as FlatObject;
  if (longestSpellingLength(canonicalJson(flat)) > MAX_PAYLOAD_LENGTH) return undefined;
  return { kind: 'payload', customer: flat, sentAsString, signature: readHexSignature(credentials.signature) };
}

function readIdentifier(scheme: SchemeName, credentials: Credentials): IdentifierSubject | undefined {
  const present = (pairs: Array<[string, unknown]>) =>
    pairs.flatMap(([field, value]) => (identifierIn(value) === undefined ? [] : [[field, value as string] as const]));
  let ids: ReadonlyArray<readonly [string, string]>;
  let signatureField: string;
  if (scheme === 'user-hash') {
    const metadata = isPlainObject(credentials.user_metadata) ? credentials.user_metadata : {};
    ids = present([['user_id', credentials.user_id], ['user_metadata.email', metadata.email], ['user_metadata.phone', metadata.phone]]);
    if (ids[0]?.[0] !== 'user_id') return undefined;
    signatureField = 'user_hash';
  } else if (scheme === 'contact-hash') {
    // In priority order: the first present is the one the verifier hashes.
    ids = present([['ext_user_id', credentials.ext_user_id], ['external_user_id', credentials.external_user_id], ['email', credentials.email], ['phone', credentials.phone]]);
    signatureField = 'user_hash';
  } else {
    ids = present([['anonymousUserId', credentials.anonymousUserId], ['externalId', credentials.externalId], ['email', credentials.email]]);
    if (ids[0]?.[0] !== 'anonymousUserId') return undefined;
    signatureField = 'hmac';
  }
  const [first, ...others] = ids;
  if (!first) return undefined;
  return { kind: 'identifier', field: first[0], value: first[1], signatureField, others, signature: readHexSignature(credentials[signatureField]) };
}

const JWT_HASHES: Record<string, HmacHash> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

function readJwt(credentials: Credentials): JwtSubject | undefined {
  const { token } = credentials;
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let standardBase64 = false;
  const json = (part: string): Record<string, unknown> | undefined => {
    let bytes = decodeBase64url(part);
    if (!bytes && BASE64.test(part)) {
      bytes = Buffer.from(part, 'base64');
      standardBase64 = true;
    }
    if (!bytes) return undefined;
    try {
      const value: unknown = JSON.parse(bytes.toString('utf8'));
      return isPlainObject(value) ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const header = json(headerPart);
  const claims = json(payloadPart);
  if (!header || !claims) return undefined;
  const signature = readJwtSignature(signaturePart);
  if (signature?.encoding === 'base64') standardBase64 = true;
  const alg = typeof header.alg === 'string' && Object.hasOwn(JWT_HASHES, header.alg) ? header.alg : undefined;
  return { kind: 'jwt', header, claims, signingInput: `${headerPart}.${payloadPart}`, hash: alg === undefined ? undefined : JWT_HASHES[alg], standardBase64, signature };
}

function readSubject(input: DiagnosisInput): Subject | undefined {
  if (input.scheme === 'signed-payload') return readPayload(input.credentials);
  if (input.scheme === 'jwt') return readJwt(input.credentials);
  return readIdentifier(input.scheme, input.credentials);
}

// ---------------------------------------------------------------------------------------------
// The probe: the proof as read, the keys sorted by what the ring would do with them, and a
// budgeted way to ask "does this key, with this mistake, produce the signature?".

/** How a site may have computed its MAC: an HMAC (the right hash or not), or a plain hash. */
type Mac = { hmac: HmacHash | 'sha1' } | { plain: 'data' | 'keyFirst' | 'keyLast' };

export class Probe {
  readonly subject: Subject | undefined;
  /** The keys the verifier tried, in ring order. */
  readonly usable: readonly SigningKey[];
  private attempts = 0;
  private bytesHashed = 0;
  private readonly clock: () => number;
  private readonly startedAt: number;
  private asSentKey: SigningKey | null | undefined;
  private signed: readonly string[] | undefined;

  constructor(readonly input: DiagnosisInput) {
    this.clock = input.clock ?? Date.now;
    this.startedAt = this.clock();
    this.subject = readSubject(input);
    this.usable = input.keys.filter((key) => !isExpired(key, input.now) && (input.allowTestKeys || !key.test));
  }

  /** The MAC the scheme uses: HMAC-SHA256, or the hash a JWT header names. */
  get mac(): Mac | undefined {
    if (this.subject?.kind !== 'jwt') return { hmac: 'sha256' };
    return this.subject.hash && { hmac: this.subject.hash };
  }

  /** Whether `key` computes the proof's signature over `data`. Counts against the budget: MACs, bytes and time. */
  produces(key: KeyObject, data: string, mac: Mac | undefined = this.mac): boolean {
    const signature = this.subject?.signature;
    if (!signature || !mac || this.attempts >= MAX_ATTEMPTS) return false;
    const bytes = Buffer.byteLength(data, 'utf8');
    if (this.bytesHashed + bytes > MAX_BYTES_HASHED || this.clock() - this.startedAt > MAX_DIAGNOSIS_MS) return false;
    this.attempts++;
    this.bytesHashed += bytes;
    return signaturesEqual(computeMac(mac, key, data), signature.bytes);
  }

  /** The first key, data outer and keys inner as the verifier tries them, that produces the signature. */
  firstProducing<K extends { material: KeyObject }>(keys: readonly K[], data: Iterable<string>, mac?: Mac): K | undefined {
    for (const text of data) for (const key of keys) if (this.produces(key.material, text, mac)) return key;
    return undefined;
  }

  /** What the verifier accepts as signed: every spelling of the customer, the identifier, the JWS input. */
  signedData(): readonly string[] {
    this.signed ??= signedDataOf(this.subject);
    return this.signed;
  }

  /** The usable key that signed the proof exactly as sent (the signature is right), if any. */
  get asSent(): SigningKey | undefined {
    if (this.asSentKey === undefined) this.asSentKey = this.firstProducing(this.usable, this.signedData()) ?? null;
    return this.asSentKey ?? undefined;
  }

  /** Usable keys to try with a mistake applied to the data. */
  get keysToVary(): readonly SigningKey[] {
    return this.usable.slice(0, MAX_KEYS_VARIED);
  }

  /**
   * Like `firstProducing`, for a mistake made on purpose: only asked when the proof as sent does
   * not verify (when it does, the key and the data are right and these mistakes are not it).
   */
  reproduce<K extends { material: KeyObject }>(keys: readonly K[], data: Iterable<string>, mac?: Mac): K | undefined {
    return this.asSent ? undefined : this.firstProducing(keys, data, mac);
  }

  /** The usable key that signed `data` (the site changed what it signed), if any. */
  signedBy(data: Iterable<string>): SigningKey | undefined {
    return this.reproduce(this.keysToVary, data);
  }

  /** The window a signature by `key` gets, in seconds. */
  window(key: SigningKey): number {
    const { settings, scheme } = this.input;
    return key.test ? settings.testMaxAge : (settings.maxAge ?? (scheme === 'jwt' ? 900 : 300));
  }

  /** How the configured key is named in a detail: its id, or live / test and its place; `kind` says which it is when the id does not. */
  name(key: SigningKey, kind?: 'live' | 'test'): string {
    if (key.id !== undefined) return `the key with id ${quote(key.id)}${kind ? `, a ${kind} key` : ''}`;
    return this.unnamed(key);
  }

  private unnamed(key: SigningKey): string {
    const kind = key.test ? 'test' : 'live';
    const same = this.input.keys.filter((k) => k.test === key.test && k.id === undefined);
    return same.length === 1 ? `the ${kind} key` : `the ${ordinal(same.indexOf(key) + 1)} ${kind} key configured`;
  }

  /** The signed time: customer.timestamp or the JWT's iat. */
  get time(): { field: string; value: unknown } | undefined {
    const subject = this.subject;
    if (subject?.kind === 'payload') return { field: 'customer.timestamp', value: subject.customer.timestamp };
    if (subject?.kind === 'jwt') return { field: 'iat', value: subject.claims.iat };
    return undefined;
  }

  /** Name of the signature's wire field. */
  get signatureField(): string {
    const subject = this.subject;
    return subject?.kind === 'identifier' ? subject.signatureField : subject?.kind === 'jwt' ? 'the token signature' : 'signature';
  }
}

function signedDataOf(subject: Subject | undefined): readonly string[] {
  if (!subject) return [];
  if (subject.kind === 'identifier') return [subject.value];
  if (subject.kind === 'jwt') return [subject.signingInput];
  const forms = [...canonicalForms(subject.customer)];
  return subject.sentAsString !== undefined && !forms.includes(subject.sentAsString) ? [subject.sentAsString, ...forms] : forms;
}

function isExpired(key: SigningKey, now: number): boolean {
  return key.expiresAt !== undefined && key.expiresAt <= now;
}

function computeMac(mac: Mac, key: KeyObject, data: string): Buffer {
  if ('hmac' in mac) return mac.hmac === 'sha1' ? createHmac('sha1', key).update(data, 'utf8').digest() : hmac(mac.hmac, key, data);
  const secret = key.export();
  const text = Buffer.from(data, 'utf8');
  const bytes = mac.plain === 'data' ? text : mac.plain === 'keyFirst' ? Buffer.concat([secret, text]) : Buffer.concat([text, secret]);
  return createHash('sha256').update(bytes).digest();
}

/** Keys made from a configured key's secret: what a site's mangled copy of it would be. */
function derivedKeys(key: SigningKey, variants: ReadonlyArray<readonly [label: string, derive: (secret: Buffer) => Buffer | undefined]>) {
  const secret = key.material.export();
  const made: Buffer[] = [secret];
  return variants.flatMap(([label, derive]) => {
    const bytes = derive(secret);
    if (!bytes || bytes.length === 0 || made.some((other) => other.equals(bytes))) return [];
    made.push(bytes);
    return [{ label, key, material: createSecretKey(bytes) }];
  });
}

const newline = Buffer.from('\n');
const SECRET_WHITESPACE: ReadonlyArray<readonly [string, (secret: Buffer) => Buffer | undefined]> = [
  ['plus a trailing newline', (s) => Buffer.concat([s, newline])],
  ['plus a trailing CRLF (Windows line ending)', (s) => Buffer.concat([s, Buffer.from('\r\n')])],
  ['plus a trailing space', (s) => Buffer.concat([s, Buffer.from(' ')])],
  ['without the surrounding whitespace that the copy configured here has', (s) => Buffer.from(s.toString('utf8').trim(), 'utf8')],
  ['in double quotes (as written in a .env file)', (s) => Buffer.concat([Buffer.from('"'), s, Buffer.from('"')])],
  ["in single quotes (as written in a .env file)", (s) => Buffer.concat([Buffer.from("'"), s, Buffer.from("'")])],
];
const SECRET_DECODED: ReadonlyArray<readonly [string, (secret: Buffer) => Buffer | undefined]> = [
  // Node's decoder reads both alphabets; Python's b64decode and PHP's base64_decode skip other characters.
  ['base64-decoded', (s) => Buffer.from(s.toString('utf8'), 'base64')],
  ['base64-decoded (skipping the characters outside the base64 alphabet)', (s) => Buffer.from(s.toString('utf8').replace(/[^A-Za-z0-9+/]/g, ''), 'base64')],
];

// ---------------------------------------------------------------------------------------------
// Serialisations a site may have signed instead of the canonical JSON.

function serialise(object: FlatObject, keys: readonly string[], style: { item: string; colon: string } | { indent: number }): string {
  if (keys.length === 0) return '{}';
  const entry = (key: string, colon: string) => JSON.stringify(key) + colon + JSON.stringify(object[key]);
  if ('indent' in style) {
    const pad = ' '.repeat(style.indent);
    return '{\n' + keys.map((key) => pad + entry(key, ': ')).join(',\n') + '\n}';
  }
  return '{' + keys.map((key) => entry(key, style.colon)).join(style.item) + '}';
}

const PYTHON_SEPARATORS = { item: ', ', colon: ': ' };
const COMPACT = { item: ',', colon: ':' };

/** The JSON as written, and as Python's ensure_ascii would write it. */
function asciiVariants(json: string): string[] {
  const ascii = json.replace(/[^\x00-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return ascii === json ? [json] : [json, ascii];
}

const sortedKeys = (object: FlatObject) => Object.keys(object).sort();

function without(object: FlatObject, field: string): FlatObject {
  return Object.fromEntries(Object.entries(object).filter(([key]) => key !== field));
}

function withField(object: FlatObject, field: string, value: FlatValue): FlatObject {
  return Object.fromEntries([...Object.entries(object), [field, value]]);
}

/** Ways an identifier's case or whitespace may differ between signing and sending. */
function identifierVariants(value: string): Array<[string, string]> {
  const variants: Array<[string, string]> = [
    [value.trim(), 'without its surrounding whitespace'],
    [value.toLowerCase(), 'in lower case'],
    [value.toUpperCase(), 'in upper case'],
    [value + '\n', 'with a trailing newline'],
  ];
  const seen = new Set([value]);
  return variants.filter(([variant]) => !seen.has(variant) && seen.add(variant));
}

// ---------------------------------------------------------------------------------------------
// Wording.

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > QUOTE_LENGTH ? text.slice(0, QUOTE_LENGTH) + '…' : text);
}

function ordinal(n: number): string {
  return ['first', 'second', 'third', 'fourth', 'fifth'][n - 1] ?? `${n}th`;
}

/** A duration in words, for a human reading a hint. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 120) return `${s} second${s === 1 ? '' : 's'}`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  if (s < 172800) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86400)} days`;
}

const listOf = (items: readonly string[]) => items.join(', ');

// ---------------------------------------------------------------------------------------------
// The checks that read the signed time once the signature is known to be right.

function signedTime(probe: Probe): { field: string; value: unknown; key: SigningKey } | undefined {
  const key = probe.asSent;
  const time = probe.time;
  return key && time ? { ...time, key } : undefined;
}

function secondsAt(probe: Probe): number {
  return probe.input.now / 1000;
}

/** The seconds by which a well-formed signed time is outside the window, with the key that signed it. */
function outsideWindow(probe: Probe): { past: number; window: number; key: SigningKey; field: string } | undefined {
  const time = signedTime(probe);
  if (!time || typeof time.value !== 'number' || time.value > LOOKS_LIKE_MILLISECONDS) return undefined;
  const window = probe.window(time.key);
  const age = secondsAt(probe) - time.value;
  return age > window ? { past: Math.floor(age - window), window, key: time.key, field: time.field } : undefined;
}

// ---------------------------------------------------------------------------------------------
// The table. Confirmations run in this order, then notices in this order.

export const MISTAKES: readonly Mistake[] = [
  {
    id: HEX_ENCODING_MISTAKE,
    title: 'Signature in base64 instead of hex',
    schemes: HEX_SCHEMES,
    fix: "Send the HMAC-SHA256 digest as hex: .digest('hex') in Node, .hexdigest() in Python, OpenSSL::HMAC.hexdigest in Ruby, hash_hmac('sha256', ...) in PHP.",
    confirm: (p) => (p.subject?.signature && p.subject.kind !== 'jwt' && p.subject.signature.encoding !== 'hex' && p.asSent ? `${p.signatureField} is the right digest, but in base64, not hex.` : undefined),
    notice: (p) => (p.subject?.signature && p.subject.kind !== 'jwt' && p.subject.signature.encoding !== 'hex' && p.subject.signature.bytes.length === 32 ? `${p.signatureField} looks like base64, not hex.` : undefined),
  },
  {
    id: 'jwt-encoding',
    title: 'JWT parts in hex or standard base64 instead of base64url',
    schemes: ['jwt'],
    fix: 'Encode every part of the token as unpadded base64url (A-Z a-z 0-9 - _), as every JWT library does; sign with a library (jsonwebtoken, jose, PyJWT, ruby-jwt, firebase/php-jwt) rather than by hand.',
    confirm: (p) => (p.subject?.kind === 'jwt' && jwtEncoding(p.subject) && p.asSent ? `The token is signed with ${p.name(p.asSent)}, but ${jwtEncoding(p.subject)}.` : undefined),
    notice: (p) => (p.subject?.kind === 'jwt' && jwtEncoding(p.subject) ? `In this token, ${jwtEncoding(p.subject)}.` : undefined),
  },
  {
    id: 'customer-sent-as-string',
    title: 'customer sent as a JSON string instead of an object',
    schemes: ['signed-payload'],
    fix: 'Give the widget the customer object itself (res.json({ customer, signature }) with the object you serialised), not the JSON text you signed.',
    confirm: (p) => (p.subject?.kind === 'payload' && p.subject.sentAsString !== undefined && p.asSent ? 'customer arrived as a JSON string; the signature is right for it, but the widget must send the object.' : undefined),
    notice: (p) => (p.subject?.kind === 'payload' && p.subject.sentAsString !== undefined ? 'customer arrived as a JSON string, not an object.' : undefined),
  },
  {
    id: 'jwt-wrong-alg',
    title: 'JWT signed with an algorithm this verifier does not accept',
    schemes: ['jwt'],
    fix: "Sign with HS256 and the shared secret (jwt.sign(claims, secret, { algorithm: 'HS256' })), or list HS384 / HS512 in the verifier's algorithms option if you mean to use them.",
    confirm: (p) => {
      const alg = p.subject?.kind === 'jwt' ? p.subject.header.alg : undefined;
      if (typeof alg !== 'string' || p.input.settings.algorithms.includes(alg as never) || !p.asSent) return undefined;
      return `The token is signed with ${alg} by ${p.name(p.asSent)}, but this verifier accepts ${listOf(p.input.settings.algorithms)}.`;
    },
    notice: (p) => {
      if (p.subject?.kind !== 'jwt') return undefined;
      const alg = p.subject.header.alg;
      const accepted = p.input.settings.algorithms;
      if (typeof alg !== 'string') return `The token header has no alg; this verifier accepts ${listOf(accepted)}.`;
      if (accepted.includes(alg as never)) return undefined;
      const kind = alg.toLowerCase() === 'none' ? ' (an unsigned token)' : /^(RS|ES|PS|Ed)/i.test(alg) ? ' (an asymmetric algorithm; this integration uses a shared secret)' : '';
      return `The token header says alg ${quote(alg)}${kind}; this verifier accepts ${listOf(accepted)}.`;
    },
  },
  {
    id: 'jwt-iat-missing',
    title: 'JWT without iat',
    schemes: ['jwt'],
    fix: 'Put iat (seconds since the epoch) in the claims: jsonwebtoken adds it unless noTimestamp is set; with other libraries add iat: Math.floor(Date.now() / 1000).',
    confirm: (p) => (p.subject?.kind === 'jwt' && p.subject.claims.iat === undefined && p.asSent ? `The token is signed with ${p.name(p.asSent)} but has no iat claim.` : undefined),
    notice: (p) => (p.subject?.kind === 'jwt' && p.subject.claims.iat === undefined ? 'The token has no iat claim.' : undefined),
  },
  {
    id: 'timestamp-missing',
    title: 'customer without timestamp',
    schemes: ['signed-payload'],
    fix: 'Add timestamp (seconds since the epoch) to the customer fields before signing, and sign a fresh proof on each page load.',
    confirm: (p) => (p.subject?.kind === 'payload' && p.subject.customer.timestamp == null && p.asSent ? `customer is signed with ${p.name(p.asSent)} but has no timestamp.` : undefined),
    notice: (p) => (p.subject?.kind === 'payload' && p.subject.customer.timestamp == null ? 'customer has no timestamp.' : undefined),
  },
  {
    id: 'timestamp-not-a-number',
    title: 'Timestamp or iat not a number',
    schemes: ['signed-payload', 'jwt'],
    fix: 'Sign the time as a JSON number of seconds since the epoch (e.g. 1767225600), not as a string or a date.',
    confirm: (p) => {
      const time = signedTime(p);
      return time && time.value != null && typeof time.value !== 'number' ? `${time.field} is ${quote(time.value)}, ${typeof time.value === 'string' ? 'a string' : `a ${typeof time.value}`}; the signature is right.` : undefined;
    },
    notice: (p) => {
      const time = p.time;
      return time && time.value != null && typeof time.value !== 'number' ? `${time.field} is ${quote(time.value)}, not a number of seconds.` : undefined;
    },
  },
  {
    id: 'timestamp-milliseconds',
    title: 'Timestamp in milliseconds',
    schemes: ['signed-payload', 'jwt'],
    fix: 'Send seconds since the epoch: Math.floor(Date.now() / 1000) in JavaScript, int(time.time()) in Python, Time.now.to_i in Ruby, time() in PHP.',
    confirm: (p) => {
      const time = signedTime(p);
      return time && typeof time.value === 'number' && time.value > LOOKS_LIKE_MILLISECONDS ? `${time.field} (${time.value}) looks like milliseconds; the signature is right.` : undefined;
    },
    notice: (p) => {
      const time = p.time;
      return time && typeof time.value === 'number' && time.value > LOOKS_LIKE_MILLISECONDS ? `${time.field} (${time.value}) looks like milliseconds.` : undefined;
    },
  },
  {
    id: 'timestamp-in-future',
    title: 'Timestamp in the future (clock skew)',
    schemes: ['signed-payload', 'jwt'],
    fix: 'Synchronise the signing server\'s clock with NTP (timedatectl set-ntp true, chrony, or your cloud\'s time service); the verifier allows clockTolerance seconds (60 by default).',
    confirm: (p) => {
      const time = signedTime(p);
      const tolerance = p.input.settings.clockTolerance;
      if (time && typeof time.value === 'number' && time.value <= LOOKS_LIKE_MILLISECONDS && time.value - secondsAt(p) > tolerance) {
        return `${time.field} is ${Math.ceil(time.value - secondsAt(p))} seconds in the future; the signing server's clock is ahead (check NTP).`;
      }
      const nbf = p.subject?.kind === 'jwt' && p.asSent ? p.subject.claims.nbf : undefined;
      if (typeof nbf === 'number' && nbf - secondsAt(p) > tolerance) return `The token is not valid for another ${Math.ceil(nbf - secondsAt(p))} seconds (nbf); the signing server's clock is ahead (check NTP).`;
      return undefined;
    },
  },
  {
    id: 'live-key-in-test-mode',
    title: 'Live key used in test mode',
    // The widget's testMode flag travels beside a signed payload; a JWT carries no such field.
    schemes: ['signed-payload'],
    fix: 'testMode: true relaxes nothing by itself: sign with the test key (sk_test_...) during development to get the test window (testMaxAge, 1 hour), and with the live key in production.',
    confirm: (p) => {
      const outside = outsideWindow(p);
      if (!outside || p.input.credentials.testMode !== true || outside.key.test) return undefined;
      if (outside.past + outside.window > p.input.settings.testMaxAge) return undefined;
      return `The widget declared testMode: true, but the proof is signed with ${p.name(outside.key, 'live')}, so the live window applies: ${outside.field} is ${outside.past} seconds past the ${outside.window}-second window.`;
    },
  },
  {
    id: 'timestamp-expired',
    title: 'Timestamp expired',
    schemes: ['signed-payload', 'jwt'],
    fix: "Sign a fresh proof on each page load instead of caching it (maxAge is 300 seconds for signed-payload and 900 for jwt; testMaxAge applies to test keys). If it is only seconds past, check the signing server's clock (NTP).",
    confirm: (p) => {
      const outside = outsideWindow(p);
      if (outside) return `${outside.field} is ${outside.past} seconds${outside.past >= 120 ? ` (${duration(outside.past)})` : ''} past the ${outside.window}-second window${outside.key.test ? ' for test keys' : ''}.`;
      const exp = p.subject?.kind === 'jwt' && p.asSent ? p.subject.claims.exp : undefined;
      if (typeof exp === 'number' && secondsAt(p) - p.input.settings.clockTolerance >= exp) return `The token expired ${Math.floor(secondsAt(p) - exp)} seconds ago (exp).`;
      return undefined;
    },
  },
  {
    id: 'test-key-refused',
    title: 'Test key used where test keys are refused',
    schemes: ALL_SCHEMES,
    fix: 'Sign with the live key (sk_live_...) in production. Test keys are for development, where the verifier accepts them (allowTestKeys: true, the default).',
    confirm: (p) => {
      if (p.input.allowTestKeys) return undefined;
      const key = p.reproduce(p.input.keys.filter((k) => k.test && !isExpired(k, p.input.now)), p.signedData());
      return key && `The proof is signed with ${p.name(key, 'test')}, but this verifier refuses test keys (allowTestKeys: false).`;
    },
  },
  {
    id: 'previous-key-expired',
    title: 'Previous key past its grace period',
    schemes: ALL_SCHEMES,
    fix: 'Deploy the current key to every server that signs. After a rotation the previous key only works until its expiresAt (the grace period).',
    confirm: (p) => {
      const key = p.reproduce(p.input.keys.filter((k) => isExpired(k, p.input.now)), p.signedData());
      return key && `The proof is signed with ${p.name(key)}, whose grace period ended ${duration((p.input.now - key.expiresAt!) / 1000)} ago.`;
    },
  },
  {
    id: 'secret-whitespace',
    title: 'Secret with a trailing newline, spaces or quotes',
    schemes: ALL_SCHEMES,
    fix: 'Use the secret exactly as issued: strip the newline that a file or echo adds (.trim() in Node, .strip() in Python, .chomp in Ruby, trim() in PHP) and the quotes around it in .env files, on the signing server and in this configuration.',
    confirm: (p) => {
      const found = p.reproduce(p.keysToVary.flatMap((k) => derivedKeys(k, SECRET_WHITESPACE)), p.signedData().slice(0, 2));
      return found && `The signature is made with ${p.name(found.key)} ${found.label}.`;
    },
  },
  {
    id: 'secret-base64-decoded',
    title: 'Key base64-decoded before signing',
    schemes: ALL_SCHEMES,
    fix: "Use the secret string's own bytes (UTF-8) as the HMAC key, as issued; do not base64-decode it first (jjwt's Decoders.BASE64, an auth library's secretBase64Encoded option, base64_decode()).",
    confirm: (p) => {
      const found = p.reproduce(p.keysToVary.flatMap((k) => derivedKeys(k, SECRET_DECODED)), p.signedData().slice(0, 2));
      return found && `The signature is made with ${p.name(found.key)} ${found.label}: the site used the decoded bytes as the key.`;
    },
  },
  {
    id: 'not-hmac-sha256',
    title: 'Not HMAC-SHA256 (SHA-1, SHA-512 or a plain hash)',
    schemes: HEX_SCHEMES,
    fix: "Compute HMAC-SHA256 with the secret as the key: crypto.createHmac('sha256', secret).update(data).digest('hex'); not HMAC-SHA1 or HMAC-SHA512, and not a plain SHA-256 of the secret and the data.",
    confirm: (p) => {
      if (p.subject?.kind === 'jwt' || !p.subject?.signature) return undefined;
      const macs: Record<number, Array<[Mac, string]>> = {
        20: [[{ hmac: 'sha1' }, 'an HMAC-SHA1']],
        48: [[{ hmac: 'sha384' }, 'an HMAC-SHA384']],
        64: [[{ hmac: 'sha512' }, 'an HMAC-SHA512']],
        32: [
          [{ plain: 'keyFirst' }, 'a plain SHA-256 of the secret followed by the data'],
          [{ plain: 'keyLast' }, 'a plain SHA-256 of the data followed by the secret'],
          [{ plain: 'data' }, 'a plain SHA-256 of the data, with no key'],
        ],
      };
      const data = p.signedData().slice(0, 2);
      for (const [mac, label] of macs[p.subject.signature.bytes.length] ?? []) {
        const key = p.reproduce(p.keysToVary, data, mac);
        if (key) return `${p.signatureField} is ${label}${'hmac' in mac ? ` made with ${p.name(key)}` : ''}, not an HMAC-SHA256.`;
      }
      return undefined;
    },
  },
  {
    id: 'keys-not-sorted',
    title: 'Customer keys not sorted',
    schemes: ['signed-payload'],
    fix: 'Sort the keys before serialising: the seed\'s Node snippet sorts the entries, sort_keys=True (or sorted()) in Python, .sort.to_h in Ruby, ksort() in PHP.',
    confirm: (p) => {
      if (p.subject?.kind !== 'payload') return undefined;
      const { customer } = p.subject;
      const order = Object.keys(customer);
      if (order.join('\u0000') === sortedKeys(customer).join('\u0000')) return undefined;
      const key = p.signedBy(asciiVariants(serialise(customer, order, COMPACT)));
      return key && `The signature is over the customer in the order its keys arrived (${listOf(order.slice(0, 8))}${order.length > 8 ? ', ...' : ''}), not sorted.`;
    },
  },
  {
    id: 'json-whitespace',
    title: 'Whitespace in the signed JSON',
    schemes: ['signed-payload'],
    fix: "Serialise with no whitespace: json.dumps(fields, separators=(',', ':')) in Python (its default puts a space after , and :), JSON.stringify(fields) with no indent in Node, json_encode() without JSON_PRETTY_PRINT in PHP.",
    confirm: (p) => {
      if (p.subject?.kind !== 'payload') return undefined;
      const { customer } = p.subject;
      const sorted = sortedKeys(customer);
      const attempts: Array<[string[], string]> = [
        [asciiVariants(serialise(customer, sorted, PYTHON_SEPARATORS)).reverse(), "with a space after each , and : (Python's default json.dumps separators)"],
        [[serialise(customer, sorted, { indent: 2 })], 'pretty-printed with 2-space indentation'],
        [[serialise(customer, sorted, { indent: 4 })], 'pretty-printed with 4-space indentation'],
        [asciiVariants(serialise(customer, Object.keys(customer), PYTHON_SEPARATORS)).reverse(), "with a space after each , and : (Python's default json.dumps separators), and with its keys unsorted"],
      ];
      for (const [data, how] of attempts) if (p.signedBy(data)) return `The signature is over the customer JSON ${how}.`;
      return undefined;
    },
  },
  {
    id: 'double-encoded-json',
    title: 'JSON string signed twice (double-encoded)',
    schemes: ['signed-payload'],
    fix: 'Sign the JSON text once: the HMAC of JSON.stringify(fields), not of JSON.stringify(JSON.stringify(fields)) (in Python, of json.dumps(fields), not of json.dumps of that string).',
    confirm: (p) => {
      if (p.subject?.kind !== 'payload') return undefined;
      const key = p.signedBy(p.signedData().slice(0, 2).map((json) => JSON.stringify(json)));
      return key && 'The signature is over the customer JSON encoded as a JSON string a second time (quoted, with escaped quotes).';
    },
  },
  {
    id: 'wrong-field-hashed',
    title: 'Wrong field hashed',
    schemes: ALL_SCHEMES.filter((s) => s !== 'jwt'),
    fix: 'Hash exactly the identifier the scheme names: user_id (user-hash); the highest-priority identifier present, ext_user_id, then email, then phone (contact-hash); the anonymous visitor id (visitor-hash); the whole customer JSON (signed-payload).',
    confirm: (p) => {
      const subject = p.subject;
      if (subject?.kind === 'payload') {
        for (const field of ['externalId', 'email']) {
          const value = identifierIn(subject.customer[field]);
          if (value !== undefined && p.signedBy([value])) return `signature is the HMAC of customer.${field} alone, not of the customer JSON.`;
        }
        return undefined;
      }
      if (subject?.kind !== 'identifier') return undefined;
      for (const [field, value] of subject.others) {
        if (value === subject.value || !p.signedBy([value])) continue;
        if (p.input.scheme === 'contact-hash') return `${subject.signatureField} is the HMAC of ${field}, but ${subject.field} is present and takes priority (ext_user_id > email > phone).`;
        return `${subject.signatureField} is the HMAC of ${field}, not of ${subject.field}.`;
      }
      return undefined;
    },
  },
  {
    id: 'identifier-case-whitespace',
    title: 'Identifier case or whitespace differs',
    schemes: ALL_SCHEMES.filter((s) => s !== 'jwt'),
    fix: 'Sign exactly the string the widget sends (ids are case-sensitive): trim and normalise the identifier once on the site\'s server and use that one value for signing and sending.',
    confirm: (p) => {
      const subject = p.subject;
      if (subject?.kind === 'identifier') {
        for (const [variant, how] of identifierVariants(subject.value)) {
          if (p.signedBy([variant])) return `${subject.signatureField} matches ${subject.field} ${how}: the site signed ${quote(variant)}, the widget sends ${quote(subject.value)}.`;
        }
        return undefined;
      }
      if (subject?.kind !== 'payload') return undefined;
      for (const field of ['externalId', 'email']) {
        const value = identifierIn(subject.customer[field]);
        if (value === undefined) continue;
        for (const [variant, how] of identifierVariants(value)) {
          if (p.signedBy([canonicalJson(withField(without(subject.customer, field), field, variant))])) {
            return `The signature matches customer.${field} ${how}: the site signed ${quote(variant)}, the widget sends ${quote(value)}.`;
          }
        }
      }
      return undefined;
    },
  },
  {
    id: 'signed-field-not-sent',
    title: 'Field signed that the widget did not send',
    schemes: ['signed-payload'],
    fix: 'Give the widget the signed customer object unchanged: every field that was signed, with the same value (null fields included), inside customer.',
    confirm: (p) => {
      if (p.subject?.kind !== 'payload') return undefined;
      const { customer } = p.subject;
      const candidates: Array<[string, FlatValue, string]> = [];
      // A value sent beside customer instead of inside it (timestamp, most often).
      let looked = 0;
      for (const field in p.input.credentials) {
        if (++looked > 20) break;
        const value = p.input.credentials[field];
        if (['customer', 'signature', 'testMode'].includes(field) || Object.hasOwn(customer, field) || !isFlat(value) || value === null) continue;
        if (JSON.stringify(value).length > MAX_ATTRIBUTE_LENGTH) continue;
        candidates.push([field, value, `${field}, sent beside customer instead of inside it`]);
      }
      // A field the signing server kept as null (the seed's Node snippet does) that the page dropped.
      for (const field of ['name', 'email', 'phone', 'externalId']) {
        if (!Object.hasOwn(customer, field)) candidates.push([field, null, `${field}: null, which the widget did not send`]);
      }
      for (const [field, value, how] of candidates) {
        if (p.signedBy([canonicalJson(withField(customer, field, value))])) return `The signature covers customer.${how}.`;
      }
      return undefined;
    },
  },
  {
    id: 'unsigned-field-sent',
    title: 'Field sent that was not signed',
    schemes: ['signed-payload'],
    fix: 'Send the customer exactly as signed: add every field (plan, company, ...) on the server before signing, never afterwards in the browser.',
    confirm: (p) => {
      if (p.subject?.kind !== 'payload') return undefined;
      const { customer } = p.subject;
      const core = ['externalId', 'email', 'name', 'phone', 'timestamp'];
      const fields = Object.keys(customer).sort((a, b) => Number(core.includes(a)) - Number(core.includes(b)));
      if (fields.length < 2) return undefined;
      for (const field of fields) {
        if (p.signedBy([canonicalJson(without(customer, field))])) return `customer.${field} was not signed: the signature covers the other fields only.`;
      }
      return undefined;
    },
  },
  {
    id: 'misnamed-field',
    title: 'Field name misspelled',
    schemes: ALL_SCHEMES,
    fix: 'Use the field names the scheme reads: customer.externalId, email and timestamp (signed-payload); user_id and user_hash (user-hash); ext_user_id, email, phone and user_hash (contact-hash); externalId or email, and iat (jwt); anonymousUserId and hmac (visitor-hash).',
    notice: (p) => {
      const fields = misnamedFields(p.input);
      return fields.length === 0 ? undefined : fields.map(([sent, meant]) => `${sent} was sent, but the field is ${meant}`).join('; ') + '.';
    },
  },
];

function jwtEncoding(subject: JwtSubject): string | undefined {
  if (subject.signature?.encoding === 'hex') return 'its signature is hex, not base64url';
  if (subject.standardBase64) return 'it uses standard base64 (+, /, = padding), not base64url';
  return undefined;
}

/** Where each scheme reads its fields, and the names a site may have used for them instead. */
const FIELD_NAMES: Record<SchemeName, { where: (c: Credentials) => unknown; prefix: string; fields: Record<string, readonly string[]> }> = {
  'signed-payload': {
    where: (c) => (typeof c.customer === 'string' ? undefined : c.customer),
    prefix: 'customer.',
    fields: { externalId: ['userId', 'id', 'uid'], email: ['emailAddress', 'mail'], timestamp: ['ts', 'time', 'iat'] },
  },
  'user-hash': { where: (c) => c, prefix: '', fields: { user_id: ['id', 'uid', 'externalId', 'external_id'], user_hash: ['hash', 'hmac', 'signature'] } },
  'contact-hash': { where: (c) => c, prefix: '', fields: { ext_user_id: ['user_id', 'externalId', 'external_id'], user_hash: ['hash', 'hmac', 'signature'] } },
  jwt: { where: (c) => claimsOf(c.token), prefix: 'claim ', fields: { externalId: ['userId', 'user_id', 'uid', 'id'], email: ['emailAddress', 'mail'], iat: ['issuedAt', 'issued_at'] } },
  'visitor-hash': { where: (c) => c, prefix: '', fields: { anonymousUserId: ['visitorId', 'visitor_id', 'anonymousId', 'anonymous_id'], hmac: ['hash', 'user_hash', 'signature'] } },
};

const normalised = (name: string) => name.toLowerCase().replace(/[_-]/g, '');

function claimsOf(token: unknown): Record<string, unknown> | undefined {
  const subject = readJwt({ token });
  return subject?.claims;
}

/** Fields the scheme reads that are absent, with the near-miss names sent instead. */
function misnamedFields(input: DiagnosisInput): Array<[string, string]> {
  const spec = FIELD_NAMES[input.scheme];
  const source = spec.where(input.credentials);
  if (!isPlainObject(source)) return [];
  const sent = Object.keys(source).slice(0, MAX_ATTRIBUTES + 10);
  const found: Array<[string, string]> = [];
  for (const [meant, aliases] of Object.entries(spec.fields)) {
    if (source[meant] !== undefined) continue;
    // jwt and contact-hash accept alternative spellings of their identifier.
    if (input.scheme === 'jwt' && meant === 'externalId' && (source.external_id !== undefined || source.sub !== undefined || source.email !== undefined)) continue;
    if (input.scheme === 'jwt' && meant === 'email' && (source.external_id !== undefined || source.sub !== undefined || source.externalId !== undefined)) continue;
    if (input.scheme === 'contact-hash' && meant === 'ext_user_id' && (source.external_user_id !== undefined || source.email !== undefined || source.phone !== undefined)) continue;
    if (input.scheme === 'signed-payload' && meant === 'email' && source.externalId !== undefined) continue;
    if (input.scheme === 'signed-payload' && meant === 'externalId' && source.email !== undefined) continue;
    const near = sent.find((name) => name !== meant && (normalised(name) === normalised(meant) || aliases.includes(name)));
    if (near !== undefined) found.push([spec.prefix + near, spec.prefix + meant]);
  }
  return found;
}

/** The mistake behind a failed proof, with what exactly was found, or undefined when none explains it. */
export function findMistake(input: DiagnosisInput): Diagnosis | undefined {
  try {
    const probe = new Probe(input);
    const applies = MISTAKES.filter((m) => m.schemes.includes(input.scheme));
    for (const pass of ['confirm', 'notice'] as const) {
      for (const mistake of applies) {
        const detail = mistake[pass]?.(probe);
        if (detail) return { mistake, detail: withAlso(probe, mistake, detail), hint: hintFor(mistake, withAlso(probe, mistake, detail)) };
      }
      // A signature that verifies as sent is right: only the confirmations about the proof's contents apply.
      if (pass === 'confirm' && probe.asSent && input.code === 'INVALID_SIGNATURE') break;
    }
    return undefined;
  } catch {
    // A diagnosis is a courtesy: whatever it trips on, the verdict stands without it.
    return undefined;
  }
}

/** A second mistake already evident (a base64 signature) is said with the first. */
function withAlso(probe: Probe, mistake: Mistake, detail: string): string {
  const subject = probe.subject;
  if (mistake.id === HEX_ENCODING_MISTAKE || !subject || subject.kind === 'jwt' || !subject.signature || subject.signature.encoding === 'hex') return detail;
  return `${detail} Also, ${probe.signatureField} is base64: send it as hex.`;
}

function hintFor(mistake: Mistake, detail: string): string {
  return `${detail} ${mistake.fix} (troubleshooting: ${mistake.id})`;
}

/** The specific mistake with its fix, or undefined when no known mistake explains the failure. */
export function diagnose(input: DiagnosisInput): string | undefined {
  return findMistake(input)?.hint;
}

const HINT_ID = /\(troubleshooting: ([a-z0-9-]+)\)$/;

/** The mistake a hint names, for tools that only see the hint (the CLI's --json, the demo's tester). */
export function mistakeInHint(hint: string | undefined): Mistake | undefined {
  const id = hint === undefined ? undefined : HINT_ID.exec(hint)?.[1];
  return id === undefined ? undefined : MISTAKES.find((m) => m.id === id);
}
