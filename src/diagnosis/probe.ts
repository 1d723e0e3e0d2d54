/**
 * The probe: the failed proof as read, the keys the ring would try, and a budgeted way to ask
 * "does this key, with this mistake, produce the signature?". Bounded: a diagnosis runs on
 * attacker-chosen input, so it computes at most MAX_ATTEMPTS MACs over at most MAX_BYTES_HASHED
 * bytes within MAX_DIAGNOSIS_MS, over inputs no larger than the schemes' own limits; and at most
 * MAX_PUBLIC_VERIFIES public-key checks (each tens of microseconds) for a token signed with one.
 * The budget is asked before a candidate is built, not only before it is hashed (`canTry`): once
 * it is spent, the checks stop making what a site may have signed instead.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { canonicalForms } from '../canonicalJson.js';
import type { IdentityErrorCode } from '../errors.js';
import { isUsable, type SigningKey } from '../keyRing.js';
import { SCHEMES } from '../schemes/index.js';
import type { SchemeFacts, SchemeSettings } from '../schemes/scheme.js';
import { looksLikeMilliseconds, windowFor } from '../schemes/signingTime.js';
import type { KeySetInfo } from '../jwks/keySet.js';
import { derSignatureVerifies, hmac, plainSha256, publicKeyVerifies, signaturesEqual, type MacRecipe } from '../signature.js';
import type { Credentials, PublicKeyAlgorithm, SchemeName } from '../types.js';
import { readProof, type SignedTime, type Subject } from './lenientProof.js';
import { derivedKeys, type SecretVariant } from './variants.js';
import { ordinal, quote } from './wording.js';

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

/** MACs one diagnosis may compute, whatever the proof and however many keys are configured. */
export const MAX_ATTEMPTS = 200;
/** Bytes one diagnosis may hash in all: a 256-character id 200 times, or a long payload a few dozen times. */
export const MAX_BYTES_HASHED = 256 * 1024;
/** Milliseconds one diagnosis may take by the verifier's clock; past it, what was found so far stands. */
export const MAX_DIAGNOSIS_MS = 10;
/** Keys tried with mistakes applied; the ring's first ones, the likeliest to be the site's. */
const MAX_KEYS_VARIED = 4;
/** Public-key checks one diagnosis may make. */
export const MAX_PUBLIC_VERIFIES = 8;

/** A key the probe can try: a secret (MACs), or a public key with its algorithm. */
type Tryable = { material: KeyObject; alg?: PublicKeyAlgorithm | undefined };

export class Probe {
  readonly facts: SchemeFacts;
  readonly subject: Subject | undefined;
  /** The keys the verifier tried, in ring order. */
  readonly usable: readonly SigningKey[];
  private attempts = 0;
  private publicVerifies = 0;
  private bytesHashed = 0;
  /** A MAC of this check was refused for its bytes: the check's other candidates, of about its size, would be too. */
  private outOfBytes = false;
  private readonly clock: () => number;
  private readonly startedAt: number;
  private asSentKey: SigningKey | null | undefined;
  /** The first key a detail named (`name`): the key behind the mistake found, for the counters. Reset before each check. */
  named: SigningKey | undefined;
  private signed: readonly string[] | undefined;

  constructor(readonly input: DiagnosisInput) {
    this.clock = input.clock ?? Date.now;
    this.startedAt = this.clock();
    this.facts = SCHEMES[input.scheme].facts;
    this.subject = readProof(this.facts.proof, input.credentials);
    this.usable = input.keys.filter((key) => isUsable(key, input.now, input.allowTestKeys));
  }

  /** The MAC the scheme uses: HMAC-SHA256, or the hash a token's header names. */
  get mac(): MacRecipe | undefined {
    if (this.subject?.kind !== 'token') return { hmac: 'sha256' };
    return this.subject.hash && { hmac: this.subject.hash };
  }

  /** Called before each check: a byte budget too short for one check's data may still do for the next one's. */
  beginCheck(): void {
    this.named = undefined;
    this.outOfBytes = false;
  }

  /**
   * Whether the budget still allows a MAC: MACs and time are left, and this check's data has not
   * outgrown the bytes left. The one place that says so: asked before each candidate is built
   * (`signedBy`, the secrets and key texts tried), so a spent budget stops the building too.
   */
  get canTry(): boolean {
    return this.attempts < MAX_ATTEMPTS && !this.outOfBytes && !this.outOfTime;
  }

  private get outOfTime(): boolean {
    return this.clock() - this.startedAt > MAX_DIAGNOSIS_MS;
  }

  /** Whether the secret `key` computes the proof's signature over `data`. Counts against the budget: MACs, bytes and time. */
  produces(key: KeyObject, data: string, mac: MacRecipe | undefined = this.mac): boolean {
    const signature = this.subject?.signature;
    if (!signature || !mac || key.type !== 'secret' || !this.canTry) return false;
    const bytes = Buffer.byteLength(data, 'utf8');
    if (this.bytesHashed + bytes > MAX_BYTES_HASHED) {
      this.outOfBytes = true;
      return false;
    }
    this.attempts++;
    this.bytesHashed += bytes;
    const computed = 'hmac' in mac ? hmac(mac.hmac, key, data) : plainSha256(mac.plain, key, data);
    return signaturesEqual(computed, signature.bytes);
  }

  /**
   * Whether the public `key` verifies the token's signature over `data` with `alg` (its own unless
   * said). Counts against the budget: MAX_PUBLIC_VERIFIES checks, and time.
   */
  verifies(key: Tryable, data: string, alg: PublicKeyAlgorithm | undefined = key.alg): boolean {
    const signature = this.subject?.signature;
    if (!signature || !alg || key.material.type !== 'public' || this.publicVerifies >= MAX_PUBLIC_VERIFIES) return false;
    if (this.outOfTime) return false;
    this.publicVerifies++;
    return publicKeyVerifies(alg, key.material, data, signature.bytes);
  }

  /** Whether the ES256 `key` made the token's signature, DER-encoded (a site's mistake). Budgeted like `verifies`. */
  verifiesDer(key: Tryable, data: string): boolean {
    const signature = this.subject?.signature;
    if (!signature || key.alg !== 'ES256' || this.publicVerifies >= MAX_PUBLIC_VERIFIES) return false;
    if (this.outOfTime) return false;
    this.publicVerifies++;
    return derSignatureVerifies(key.material, data, signature.bytes);
  }

  /**
   * Whether `key` made the signature over `data`: a secret's MAC, or a public key's own algorithm
   * when the token's header names it (exactly as sent, header included).
   */
  private made(key: Tryable, data: string, recipe: MacRecipe | undefined): boolean {
    if (key.alg === undefined) return this.produces(key.material, data, recipe ?? this.mac);
    // A public key makes no mistaken MAC: only the token as sent, under the alg its header names.
    const subject = this.subject;
    return recipe === undefined && subject?.kind === 'token' && subject.header.alg === key.alg && this.verifies(key, data);
  }

  /** The first key, data outer and keys inner as the verifier tries them, that produces the signature. */
  firstProducing<K extends Tryable>(keys: readonly K[], data: Iterable<string>, recipe?: MacRecipe): K | undefined {
    for (const text of data) for (const key of keys) if (this.made(key, text, recipe)) return key;
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

  /** Usable secrets to try with a mistake applied to the data. */
  get keysToVary(): readonly SigningKey[] {
    return this.usable.filter((key) => key.alg === undefined).slice(0, MAX_KEYS_VARIED);
  }

  // Public keys (jwt).

  /** The jwt keys here are public keys (a ring never mixes them with secrets). */
  get publicRing(): boolean {
    return this.input.keys.some((key) => key.alg !== undefined);
  }

  /** The algorithms a token may name against these keys. */
  get accepted(): readonly string[] {
    const shape = this.facts.proof;
    return shape.kind === 'token' ? shape.accepted(this.usable, this.input.settings) : [];
  }

  /** The token's kid, when it names one. */
  get kid(): string | undefined {
    const kid = this.subject?.kind === 'token' ? this.subject.header.kid : undefined;
    return typeof kid === 'string' ? kid : undefined;
  }

  /** The usable keys the verifier tries for this token: those its kid names, else those without an id. */
  get selected(): readonly SigningKey[] {
    const kid = this.kid;
    if (kid === undefined) return this.usable;
    const named = this.usable.filter((key) => key.kid === kid);
    return named.length > 0 ? named : this.usable.filter((key) => key.kid === undefined);
  }

  /** Whether any key here, usable or not, or any JWKS here, even among its keys set aside, holds `kid`. */
  knows(kid: string): boolean {
    return this.input.keys.some((key) => key.kid === kid) || this.sets.some((set) => set.kids.includes(kid));
  }

  /** The JWKS the keys here come from. */
  get sets(): readonly KeySetInfo[] {
    return [...new Set(this.input.keys.flatMap((key) => (key.set ? [key.set] : [])))];
  }

  /**
   * The public key whose text (PEM, or its JWK as JSON), taken as an HMAC secret, made the token's
   * signature: the algorithm-confusion forgery, or a site that signs with the wrong file.
   */
  signedWithPublicKeyText(): { key: SigningKey; form: string } | undefined {
    const data = this.signedData();
    if (this.asSent || data.length === 0) return undefined;
    const publicKeys = this.usable.filter((key) => key.alg !== undefined).slice(0, MAX_KEYS_VARIED);
    for (const key of publicKeys) {
      if (!this.canTry) return undefined;
      const pem = key.material.export({ type: 'spki', format: 'pem' }).toString();
      const jwk = JSON.stringify(key.material.export({ format: 'jwk' }));
      const forms: Array<[string, string]> = [
        [pem, 'PEM text'],
        [pem.trimEnd(), 'PEM text without its final newline'],
        [jwk, 'JWK as JSON'],
      ];
      for (const [text, form] of forms) if (this.produces(createSecretKey(Buffer.from(text, 'utf8')), data[0]!)) return { key, form };
    }
    return undefined;
  }

  /**
   * Like `firstProducing`, for a mistake made on purpose: only asked when the proof as sent does
   * not verify (when it does, the key and the data are right and these mistakes are not it).
   */
  reproduce<K extends Tryable>(keys: readonly K[], data: Iterable<string>, mac?: MacRecipe): K | undefined {
    return this.asSent ? undefined : this.firstProducing(keys, data, mac);
  }

  /** A mangled copy of a configured secret that produced the signature, if any (see variants.ts). */
  signedWithMangledSecret(variants: readonly SecretVariant[]): { label: string; key: SigningKey } | undefined {
    if (this.asSent || !this.canTry) return undefined;
    const mangled = this.keysToVary.flatMap((key) => derivedKeys(key, variants));
    return this.firstProducing(mangled, this.signedData().slice(0, 2));
  }

  /**
   * The usable key that signed what `build` makes (the site changed what it signed), if any.
   * Built only while the budget allows a MAC: a spent budget builds no more candidates.
   */
  signedBy(build: () => Iterable<string>): SigningKey | undefined {
    return this.asSent || !this.canTry ? undefined : this.firstProducing(this.keysToVary, build());
  }

  /** How a detail names the signature: its wire field, or a token's third part. */
  get signatureName(): string {
    const shape = this.facts.proof;
    return shape.kind === 'token' ? 'the token signature' : shape.signatureField;
  }

  /** How the configured key is named in a detail: its id, or live / test and its place; `kind` says which it is when the id does not. */
  name(key: SigningKey, kind?: 'live' | 'test'): string {
    this.named ??= key;
    if (key.alg !== undefined) return `the ${key.alg} key${key.kid === undefined ? '' : ` with kid ${quote(key.kid)}`}`;
    if (key.id !== undefined) return `the key with id ${quote(key.id)}${kind ? `, a ${kind} key` : ''}`;
    const same = this.input.keys.filter((k) => k.test === key.test && k.id === undefined);
    const which = key.test ? 'test' : 'live';
    return same.length === 1 ? `the ${which} key` : `the ${ordinal(same.indexOf(key) + 1)} ${which} key configured`;
  }

  // The signed time (customer.timestamp, a token's iat).

  /** The signed time as it arrived, if the proof carries one. */
  get time(): SignedTime | undefined {
    const subject = this.subject;
    return subject?.kind === 'identifier' ? undefined : subject?.time;
  }

  /** The signed time of a proof whose signature is right, with the key that signed it. */
  get verifiedTime(): (SignedTime & { key: SigningKey }) | undefined {
    const key = this.asSent;
    const time = this.time;
    return key && time ? { ...time, key } : undefined;
  }

  /** The verifier's clock, in seconds. */
  get nowSeconds(): number {
    return this.input.now / 1000;
  }

  /** How far a well-formed signed time is outside the window, with the key that signed it. */
  outsideWindow(): { past: number; window: number; key: SigningKey; field: string } | undefined {
    const time = this.verifiedTime;
    if (!time || typeof time.value !== 'number' || looksLikeMilliseconds(time.value)) return undefined;
    const { defaultMaxAge } = this.facts;
    if (defaultMaxAge === undefined) return undefined;
    const window = windowFor(time.key, this.input.settings, defaultMaxAge);
    const age = this.nowSeconds - time.value;
    return age > window ? { past: Math.floor(age - window), window, key: time.key, field: time.field } : undefined;
  }
}

function signedDataOf(subject: Subject | undefined): readonly string[] {
  if (!subject) return [];
  if (subject.kind === 'identifier') return [subject.value];
  if (subject.kind === 'token') return [subject.signingInput];
  const forms = [...canonicalForms(subject.customer)];
  return subject.sentAsString !== undefined && !forms.includes(subject.sentAsString) ? [subject.sentAsString, ...forms] : forms;
}
