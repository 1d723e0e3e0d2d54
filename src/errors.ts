/**
 * Error codes, their HTTP mapping and the rejection body: the one table every adapter renders.
 *
 * @example
 * ```ts
 * import { IdentityErrorCode } from 'chat-identity';
 * if (result.error?.code === IdentityErrorCode.SIGNATURE_EXPIRED) refreshIdentity();
 * ```
 */
import type { IdentityFailure } from './types.js';

/**
 * Why a request is not verified: the `code` of every failure, rejection body and `IdentityError`.
 * Stable across versions, so clients and dashboards may branch on it.
 *
 * @example
 * ```ts
 * if (!result.verified && result.error?.code === IdentityErrorCode.SIGNATURE_EXPIRED) await refreshProof();
 * ```
 */
export const IdentityErrorCode = {
  MISSING_IDENTITY: 'MISSING_IDENTITY',
  MISSING_REQUIRED_FIELD: 'MISSING_REQUIRED_FIELD',
  MALFORMED_IDENTITY: 'MALFORMED_IDENTITY',
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  SIGNATURE_EXPIRED: 'SIGNATURE_EXPIRED',
  RATE_LIMITED: 'RATE_LIMITED',
  KEY_UNAVAILABLE: 'KEY_UNAVAILABLE',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
} as const;

export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];

interface CodeInfo {
  status: number;
  /** Short and generic on purpose: live traffic learns nothing from it. Specifics go in `hint`. */
  message: string;
}

const CODES: Record<IdentityErrorCode, CodeInfo> = {
  MISSING_IDENTITY: { status: 401, message: 'No identity proof was presented.' },
  MISSING_REQUIRED_FIELD: { status: 401, message: 'The identity proof lacks a required field.' },
  MALFORMED_IDENTITY: { status: 401, message: 'The identity proof is malformed.' },
  INVALID_SIGNATURE: { status: 401, message: 'The identity signature is not valid.' },
  SIGNATURE_EXPIRED: { status: 401, message: 'The identity signature has expired.' },
  RATE_LIMITED: { status: 429, message: 'Too many failed identity attempts; try again later.' },
  KEY_UNAVAILABLE: { status: 503, message: 'Identity keys are unavailable; try again later.' },
  // Sent with `WWW-Authenticate: ChatIdentity realm="chat-identity", error="session_expired"`: the
  // widget gets a fresh proof from the site and goes on (docs/sessions.md).
  SESSION_EXPIRED: { status: 401, message: 'The session has ended; send a fresh identity proof.' },
};

/** The HTTP status a rejection with this code is answered with. */
function httpStatus(code: IdentityErrorCode): number {
  return CODES[code].status;
}

/** A failure with the generic message and, kept aside until hints are allowed, the specific one. */
export function failure(code: IdentityErrorCode, hint?: string, retryAfter?: number, mistake?: string): IdentityFailure {
  const result: IdentityFailure = { code, message: CODES[code].message };
  if (hint !== undefined) result.hint = hint;
  if (mistake !== undefined) result.mistake = mistake;
  if (retryAfter !== undefined) result.retryAfter = retryAfter;
  return result;
}

/**
 * The JSON body every adapter answers a rejection with (DESIGN.md): generic `message`, and the
 * specific `hint` only with `diagnostics` or a test key.
 *
 * @example
 * ```ts
 * const body: RejectionBody = { error: 'identity_unverified', code: 'INVALID_SIGNATURE', message: 'The identity signature is not valid.' };
 * ```
 */
export interface RejectionBody {
  error: 'identity_unverified' | 'rate_limited';
  code: IdentityErrorCode;
  message: string;
  hint?: string;
}

/** The JSON body of a rejection, as DESIGN.md fixes it. */
function rejectionBody(failure: IdentityFailure): RejectionBody {
  const body: RejectionBody = {
    error: failure.code === 'RATE_LIMITED' ? 'rate_limited' : 'identity_unverified',
    code: failure.code,
    message: failure.message,
  };
  if (failure.hint !== undefined) body.hint = failure.hint;
  return body;
}

function retryAfterHeader(failure: IdentityFailure): Record<string, string> {
  return failure.retryAfter === undefined ? {} : { 'Retry-After': String(failure.retryAfter) };
}

/**
 * A rejection as an Error, for apps that render all errors their own way (`next(err)` / `throw`).
 * Carries the HTTP `status`, the `code`, `expose: true` (its message is safe to show the client,
 * as http-errors and Koa understand it) and the `headers` to send (`Retry-After` on 429).
 *
 * @example
 * ```ts
 * if (err instanceof IdentityError) return res.status(err.status).set(err.headers).json(err.body);
 * ```
 */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;
  readonly status: number;
  readonly statusCode: number;
  readonly expose = true;
  readonly hint?: string;
  readonly headers: Record<string, string>;

  constructor(failure: IdentityFailure, headers: Record<string, string> = retryAfterHeader(failure)) {
    super(failure.message);
    this.code = failure.code;
    this.status = httpStatus(failure.code);
    this.statusCode = this.status;
    if (failure.hint !== undefined) this.hint = failure.hint;
    this.headers = headers;
  }

  /** The JSON body DESIGN.md fixes for this rejection. */
  get body(): RejectionBody {
    return rejectionBody(this);
  }
}
