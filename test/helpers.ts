/** Shared fixtures for the suites: a frozen clock, keys, and a verifier built on them. */
import { createVerifier, type SchemeName, type VerifierOptions, type VerifyRequest } from '../src/index.js';

/** 2026-01-01T00:00:00Z, the moment every proof in the suites is signed at. */
export const NOW_SECONDS = 1_767_225_600;
export const NOW = NOW_SECONDS * 1000;
export const frozenClock = () => NOW;
/** A clock `seconds` after NOW. */
export const clockAt = (seconds: number) => () => NOW + seconds * 1000;

export const LIVE_KEY = 'sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
export const PREVIOUS_KEY = 'sk_live_0a1b2c3d4e5f60718293a4b5c6d7e8f9';
export const TEST_KEY = 'sk_test_5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';
export const OTHER_TENANT_KEY = 'sk_live_77777777777777777777777777777777';
/** The key of a second scheme in one verifier: no secret may serve two schemes. */
export const SECOND_SCHEME_KEY = 'sk_live_2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b';

/** A short tag per scheme: a secret suffix that is no word a hint or message may contain. */
const SCHEME_TAGS: Record<SchemeName, string> = {
  'signed-payload': 'p7',
  'user-hash': 'u3',
  'contact-hash': 'c5',
  jwt: 'j2',
  'visitor-hash': 'v9',
};
/** A scheme's own copy of a secret (`sk_test_` stays a test key), for verifiers with several schemes: one secret serves one scheme. */
export const schemeKey = (scheme: SchemeName, secret = LIVE_KEY) => `${secret}${SCHEME_TAGS[scheme]}`;

/** A verifier on the live key; with several schemes, each scheme's own key (`schemeKey`). */
export function verifierFor(options: Partial<VerifierOptions> & Pick<VerifierOptions, 'scheme'>) {
  const keys =
    Array.isArray(options.scheme) && options.scheme.length > 1
      ? Object.fromEntries(options.scheme.map((s) => [s, [schemeKey(s)]]))
      : [LIVE_KEY];
  return createVerifier({ keys, now: frozenClock, ...options });
}

export async function verifyBody(options: Partial<VerifierOptions> & Pick<VerifierOptions, 'scheme'>, body: unknown) {
  return verifierFor(options).verify({ body } as VerifyRequest);
}

/** Flips one hex digit: a different signature of the same length. */
export function flipHex(hex: string, at = 0): string {
  const c = hex[at]!;
  return hex.slice(0, at) + (c === '0' ? '1' : '0') + hex.slice(at + 1);
}
