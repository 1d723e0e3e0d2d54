/**
 * The session keys: the server's own secrets, which sign session credentials and nothing else.
 * A ring with rotation like the site keys (newest first; the first usable one signs, each verifies
 * until its `expiresAt`), kept apart from every site key: a session key equal to a site key is
 * refused at construction (compared by fingerprint, src/keyFingerprint.ts), and a site key that a
 * lookup returns equal to a session key issues no session.
 *
 * A credential names its session key by id (the configured `id`, or one derived from the secret),
 * so verifying one costs one HMAC whatever the ring holds. It names the site key that verified the
 * proof by a tag derived from that key's secret under the session key: stable across instances and
 * restarts, different for every secret (so replacing a secret under the same id ends its sessions),
 * and telling the holder nothing about the secret.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { refuseUnknown } from '../config.js';
import { fingerprint, noteSessionKeys, siteSchemeInProcess } from '../keyFingerprint.js';
import type { SigningKey } from '../keyRing.js';
import type { SessionKeyInput } from '../types.js';

export interface SessionKey {
  /** The configured id, or `~` and 11 characters derived from the secret. */
  readonly id: string;
  readonly material: KeyObject;
  readonly fingerprint: string;
  readonly expiresAt?: number;
  /** Tags of the site keys this key has bound, by their fingerprint (the same for every copy a lookup answers). */
  readonly tags: Map<string, string>;
}

/** Session secrets shorter than this are refused: they are the server's own, so there is no reason for a weak one. */
export const MIN_SESSION_SECRET_LENGTH = 32;
const MAX_ID_LENGTH = 64;
const KEY_FIELDS = ['secret', 'id', 'expiresAt'];

/** Reads `session.keys`: a secret, `{ secret, id?, expiresAt? }`, or a list of them, newest first. */
export function readSessionKeys(input: unknown, where = 'options.session.keys'): SessionKey[] {
  const list = (Array.isArray(input) ? input : input === undefined || input === null ? [] : [input]) as unknown[];
  if (list.length === 0) {
    throw new TypeError(`chat-identity: ${where} is required: the server's own secrets that sign session credentials (not a site's key).`);
  }
  const keys = list.map((entry, i) => readKey(entry, `${where}[${i}]`));
  const ids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (ids.has(key.id)) throw new TypeError(`chat-identity: ${where}[${i}] has the id ${JSON.stringify(key.id)} of another session key.`);
    ids.add(key.id);
  }
  return keys;
}

function readKey(entry: unknown, where: string): SessionKey {
  const spec = (typeof entry === 'string' ? { secret: entry } : entry) as SessionKeyInput;
  if (spec === null || typeof spec !== 'object' || typeof spec.secret !== 'string') {
    throw new TypeError(`chat-identity: ${where} must be a secret string or { secret, id?, expiresAt? }.`);
  }
  refuseUnknown(spec, KEY_FIELDS, where);
  if (spec.secret.length < MIN_SESSION_SECRET_LENGTH) {
    throw new TypeError(
      `chat-identity: ${where} is shorter than ${MIN_SESSION_SECRET_LENGTH} characters; use a random one (npx chat-identity keygen).`,
    );
  }
  if (/^\s|\s$/.test(spec.secret)) throw new TypeError(`chat-identity: ${where} starts or ends with whitespace (a pasted newline?).`);
  if (
    spec.id !== undefined &&
    !(typeof spec.id === 'string' && spec.id.length > 0 && spec.id.length <= MAX_ID_LENGTH && !spec.id.startsWith('~'))
  ) {
    throw new TypeError(`chat-identity: ${where}.id must be a string of 1 to ${MAX_ID_LENGTH} characters, not starting with "~".`);
  }
  const expiresAt = spec.expiresAt instanceof Date ? spec.expiresAt.getTime() : spec.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt))
    throw new TypeError(`chat-identity: ${where}.expiresAt must be a Date or milliseconds since the epoch.`);
  const bytes = Buffer.from(spec.secret, 'utf8');
  const material = createSecretKey(bytes);
  const id = spec.id ?? `~${createHmac('sha256', material).update('chat-identity session key id').digest('base64url').slice(0, 11)}`;
  const key: { -readonly [K in keyof SessionKey]: SessionKey[K] } = { id, material, fingerprint: fingerprint(bytes), tags: new Map() };
  if (expiresAt !== undefined) key.expiresAt = expiresAt;
  return key;
}

/**
 * Refuses a session key that is also a site key, of this verifier (`siteSchemeOf` names the scheme a
 * fingerprint's secret serves) or of another in the process; then records the keys, so that no
 * verifier made later takes one as a site key.
 */
export function refuseSiteKeys(keys: readonly SessionKey[], siteSchemeOf: (fingerprint: string) => string | undefined): void {
  for (const [i, key] of keys.entries()) {
    const scheme = siteSchemeOf(key.fingerprint) ?? siteSchemeInProcess(key.fingerprint);
    if (scheme !== undefined) {
      throw new TypeError(
        `chat-identity: options.session.keys[${i}] is also a ${scheme} site key (here or in another verifier of this process). Session keys are the server's own: a site's key ` +
          'would let whoever holds it (the site) mint sessions for anyone, and ending its use would not end them. ' +
          'Generate one: npx chat-identity keygen.',
      );
    }
  }
  noteSessionKeys(keys);
}

export const isUsableSessionKey = (key: SessionKey, at: number) => key.expiresAt === undefined || key.expiresAt > at;

/** Site key tags remembered per session key: the configured keys, and those lookups answered lately. */
const MAX_TAGS = 10_000;

/** The tag that binds `siteKey` into credentials signed with `sessionKey`; derived once per secret. */
export function siteKeyTag(sessionKey: SessionKey, siteKey: SigningKey): string {
  let tag = sessionKey.tags.get(siteKey.fingerprint);
  if (tag === undefined) {
    // A derivation, not a MAC over a proof: the site key's own bytes under the session key.
    tag = createHmac('sha256', sessionKey.material)
      .update('chat-identity site key\0')
      .update(keyBytes(siteKey.material))
      .digest('base64url')
      .slice(0, 16);
    if (sessionKey.tags.size >= MAX_TAGS) sessionKey.tags.clear();
    sessionKey.tags.set(siteKey.fingerprint, tag);
  }
  return tag;
}

/** A key's bytes: a secret's own, or a public key's SPKI (for asymmetric keys). */
function keyBytes(material: KeyObject): Buffer {
  return material.type === 'secret' ? material.export() : material.export({ type: 'spki', format: 'der' });
}
