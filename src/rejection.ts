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

export function reject(code: IdentityErrorCode, hint?: string, testKey = false, retryAfter?: number): never {
  throw new Rejection(code, hint, testKey, retryAfter);
}
