/**
 * The signed time that `signed-payload` (customer.timestamp) and `jwt` (iat) carry, checked
 * against the clock once the signature has matched.
 */
import type { SigningKey } from '../keyRing.js';
import { reject } from '../rejection.js';
import type { ProofPolicy, SchemeSettings, VerifyContext } from './scheme.js';

/** Milliseconds read as seconds are 1000 times too large: anything past the year 5138. */
export function looksLikeMilliseconds(seconds: number): boolean {
  return seconds > 1e11;
}

/** The seconds a signature by `key` stays valid: the test window for a test key, else `maxAge` or the scheme's default. */
export function windowFor(key: SigningKey, settings: SchemeSettings, defaultMaxAge: number): number {
  return key.test ? settings.testMaxAge : (settings.maxAge ?? defaultMaxAge);
}

/** The settings `checkSigningTime` applies, resolved as it resolves them: a timed scheme's proof policy. */
export function signingTimePolicy(settings: SchemeSettings, defaultMaxAge: number): ProofPolicy {
  return { maxAge: settings.maxAge ?? defaultMaxAge, testMaxAge: settings.testMaxAge, clockTolerance: settings.clockTolerance };
}

/**
 * Checks a signing time (seconds since the epoch) against the window: `maxAge` back (the test
 * window when a test key signed), `clockTolerance` forward. The time is only trusted after the
 * signature matched, so this runs second.
 */
export function checkSigningTime(seconds: number, field: string, key: SigningKey, context: VerifyContext, defaultMaxAge: number): void {
  const { settings } = context;
  const maxAge = windowFor(key, settings, defaultMaxAge);
  const age = context.now / 1000 - seconds;
  if (age > maxAge) {
    reject(
      'SIGNATURE_EXPIRED',
      `${field} is ${Math.floor(age - maxAge)} seconds past the ${maxAge}-second window${key.test ? ' for test keys' : ''}; ` +
        'sign a fresh proof on each page load instead of caching it.',
      key.test,
    );
  }
  if (-age > settings.clockTolerance) {
    reject(
      'SIGNATURE_EXPIRED',
      looksLikeMilliseconds(seconds)
        ? `${field} looks like milliseconds; send seconds since the epoch (Math.floor(Date.now() / 1000)).`
        : `${field} is ${Math.ceil(-age)} seconds in the future; the signing server's clock is ahead (check NTP).`,
      key.test,
    );
  }
}
