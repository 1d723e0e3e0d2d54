import type { IdentityErrorCode } from './errors.js';

/**
 * Thrown inside the core when a proof is refused; `createVerifier` turns it into a result, so
 * `verify()` itself never throws. Not an `Error` on purpose: refusals are ordinary (a flood of
 * bad signatures is one per request) and capturing a stack trace for each would cost more than
 * the HMAC.
 */
export class Rejection {
  constructor(
    readonly code: IdentityErrorCode,
    /** What exactly is wrong and how to fix it; shown only where hints are allowed. Never a secret. */
    readonly hint?: string,
    /** The signature matched a test key before the refusal (so hints are allowed). */
    readonly testKey = false,
    /** Seconds until a `RATE_LIMITED` client may try again. */
    readonly retryAfter?: number,
  ) {}
}

/**
 * The refusal of a signature no configured key made, with its usual cause: every scheme's, so that
 * the commonest failure of all reads alike and says what to check. One per scheme, made once: it
 * holds nothing of the request.
 */
export function noKeySigned(what: string): Rejection {
  return new Rejection(
    'INVALID_SIGNATURE',
    `No configured key produces ${what}. Usually the site signs with another secret than the one configured here ` +
      '(a test key on one side and a live one on the other, or a key rotated on one side only).',
  );
}

export function reject(code: IdentityErrorCode, hint?: string, testKey = false, retryAfter?: number): never {
  throw new Rejection(code, hint, testKey, retryAfter);
}
