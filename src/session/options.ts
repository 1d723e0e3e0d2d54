/**
 * The `session` option, read once: keys, windows, where the credential travels (a response header
 * the widget stores, or a cookie), where session ends are kept, and the optional binding to a key
 * the browser holds. Defaults: 30 minutes idle, 24 hours in all, the `Chat-Identity-Session` header,
 * no cookie, ends kept in memory (in Redis when the failure limits have a Redis client).
 */
import { refuseUnknown } from '../config.js';
import type { RateLimitOptions } from '../rateLimit.js';
import type { Logger, SessionCookieOptions, SessionOptions } from '../types.js';
import { readSessionKeys, type SessionKey } from './keys.js';
import { memorySessionStore, redisSessionStore, withDeadline, type SessionStore } from './store.js';

export const DEFAULT_IDLE = 30 * 60;
export const DEFAULT_MAX_AGE = 24 * 60 * 60;
export const DEFAULT_HEADER = 'Chat-Identity-Session';
/**
 * The cookie's name when none is given: `__Host-` prefixed where its attributes allow (secure, path
 * `/`, no domain: the defaults), so that browsers refuse it from anywhere but this host over HTTPS
 * and no sibling subdomain or plain-HTTP page can set it (cookie tossing, session fixation); the
 * plain name otherwise, as no `__Host-` cookie can have other attributes (next-auth names its CSRF
 * cookie so: `__Host-` over HTTPS, plain otherwise).
 */
export const DEFAULT_COOKIE = 'chat_identity_session';
export const DEFAULT_HOST_COOKIE = `__Host-${DEFAULT_COOKIE}`;
/** Milliseconds a session store may take; then the session is refused as expired (the widget falls back to a proof). */
const DEFAULT_STORE_TIMEOUT = 200;

const SESSION_OPTIONS: readonly (keyof SessionOptions)[] = ['keys', 'idle', 'maxAge', 'header', 'cookie', 'store', 'bind'];
const COOKIE_OPTIONS: readonly (keyof SessionCookieOptions)[] = ['name', 'sameSite', 'secure', 'path', 'domain'];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface SessionConfig {
  readonly keys: readonly SessionKey[];
  /** Seconds. */
  readonly idle: number;
  /** Seconds. */
  readonly maxAge: number;
  /** The response header's name as sent, and lower-cased as Node reads request headers. */
  readonly header: { readonly name: string; readonly lower: string };
  /** The cookie, when the credential travels by cookie instead of a readable header. */
  readonly cookie: { readonly name: string; readonly attributes: string; readonly sameSite: 'Strict' | 'Lax' | 'None' } | undefined;
  readonly store: SessionStore;
  readonly bind: boolean;
}

interface Context {
  rateLimit: RateLimitOptions | false | undefined;
  now: () => number;
  logger: Logger;
}

export function readSessionOptions(session: SessionOptions | false | undefined, context: Context): SessionConfig | undefined {
  if (session === undefined || session === false) return undefined;
  refuseUnknown(session, SESSION_OPTIONS, 'options.session');
  const seconds = (name: 'idle' | 'maxAge', fallback: number) => {
    const value = session[name] ?? fallback;
    if (!(typeof value === 'number' && Number.isInteger(value) && value > 0)) {
      throw new TypeError(`chat-identity: options.session.${name} must be a whole number of seconds, 1 or more.`);
    }
    return value;
  };
  const header = session.header ?? DEFAULT_HEADER;
  if (typeof header !== 'string' || !TOKEN.test(header))
    throw new TypeError('chat-identity: options.session.header must be a header name.');
  if (session.bind !== undefined && session.bind !== 'dpop')
    throw new TypeError("chat-identity: options.session.bind must be 'dpop' (or absent).");
  // A DPoP proof hashes the credential (ath), which the page cannot read from an HttpOnly cookie.
  if (session.bind === 'dpop' && session.cookie !== undefined && session.cookie !== false)
    throw new TypeError(
      "chat-identity: options.session.bind 'dpop' needs the credential in the header: its proofs hash the credential, which a page cannot read from the HttpOnly cookie. Drop session.cookie.",
    );
  const rateLimit = context.rateLimit === false ? undefined : context.rateLimit;
  let store = session.store;
  if (store !== undefined && (store === null || typeof store !== 'object' || typeof store.state !== 'function')) {
    throw new TypeError(
      'chat-identity: options.session.store must be a SessionStore (memorySessionStore(), redisSessionStore(client), or your own).',
    );
  }
  // The failure limits' Redis client, reused: sessions ended on one instance are ended on all.
  store ??= rateLimit?.redis
    ? redisSessionStore(rateLimit.redis, { keyPrefix: rateLimit.keyPrefix })
    : memorySessionStore({ now: context.now });
  return {
    keys: readSessionKeys(session.keys),
    idle: seconds('idle', DEFAULT_IDLE),
    maxAge: seconds('maxAge', DEFAULT_MAX_AGE),
    header: { name: header, lower: header.toLowerCase() },
    cookie: readCookie(session.cookie),
    store: withDeadline(store, rateLimit?.storeTimeout ?? DEFAULT_STORE_TIMEOUT),
    bind: session.bind === 'dpop',
  };
}

/** The cookie's name and its attributes (`; Path=/; HttpOnly; Secure; SameSite=Strict`), checked as browsers would. */
function readCookie(cookie: SessionOptions['cookie']): SessionConfig['cookie'] {
  if (cookie === undefined || cookie === false) return undefined;
  const spec: SessionCookieOptions = cookie === true ? {} : cookie;
  refuseUnknown(spec, COOKIE_OPTIONS, 'options.session.cookie');
  const { sameSite = 'Strict', secure = true, path = '/', domain } = spec;
  const name = spec.name ?? (secure === true && path === '/' && domain === undefined ? DEFAULT_HOST_COOKIE : DEFAULT_COOKIE);
  const fail = (message: string) => {
    throw new TypeError(`chat-identity: options.session.cookie.${message}`);
  };
  if (typeof name !== 'string' || !TOKEN.test(name)) fail('name must be a cookie name (a token).');
  if (!['Strict', 'Lax', 'None'].includes(sameSite)) fail("sameSite must be 'Strict', 'Lax' or 'None'.");
  if (typeof secure !== 'boolean') fail('secure must be true or false.');
  if (sameSite === 'None' && !secure) fail("sameSite 'None' needs secure: true (browsers refuse it otherwise).");
  if (typeof path !== 'string' || !/^\/[^;\s]*$/.test(path)) fail('path must start with / and hold no ; or space.');
  if (domain !== undefined && !(typeof domain === 'string' && /^[A-Za-z0-9.-]+$/.test(domain))) fail('domain must be a host name.');
  if (name.startsWith('__Host-') && (!secure || path !== '/' || domain !== undefined))
    fail('name: a __Host- cookie needs secure: true, path "/" and no domain.');
  if (name.startsWith('__Secure-') && !secure) fail('name: a __Secure- cookie needs secure: true.');
  const scope = `; Path=${path}${domain === undefined ? '' : `; Domain=${domain}`}`;
  const attributes = `${scope}; HttpOnly${secure ? '; Secure' : ''}; SameSite=${sameSite}`;
  return { name, attributes, sameSite };
}
