/**
 * chat-identity for Express 4 and 5: `identityVerification(options)` puts the result on
 * `req.identity` (and a session issued, renewed or ended on the response); `requireVerified()` guards
 * one route; `identityOf(req)` is its verified identity, typed; `endSession(req, res)` logs a session
 * out. Glue only: the core decides.
 *
 * @example
 * ```ts
 * app.use(express.json());
 * app.use(identityVerification({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * app.post('/chat', requireVerified(), (req, res) => res.json({ hello: identityOf(req).contact.name }));
 * ```
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IdentityError, IdentityResult, VerifiedIdentity } from 'chat-identity';
import {
  createGuard,
  createRequestCheck,
  endSessionFor,
  setResponseHeaders,
  toVerifyRequest,
  verifiedIdentityOf,
  writeRejection,
  type CheckedRequest,
  type GuardOptions,
  type MiddlewareOptions,
} from 'chat-identity/adapter';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `identityVerification()` on every request: verified, or anonymous with the reason. */
      identity?: IdentityResult;
    }
  }
}

export type { GuardOptions, MiddlewareOptions };

const BODY_PARSER_HINT = 'Add app.use(express.json()) before identityVerification().';
const MIDDLEWARE_HINT = 'Add app.use(identityVerification(options)) before the routes it guards.';

function deliver(error: IdentityError, rejectWith: 'response' | 'error', res: Response, next: NextFunction): void {
  if (rejectWith === 'error') next(error);
  else writeRejection(res, error);
}

/**
 * Verifies the proof on every request and sets `req.identity`; with `required: true` rejects what is not verified.
 *
 * @example
 * ```ts
 * app.use(express.json());
 * app.use(identityVerification({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * ```
 */
export function identityVerification(options: MiddlewareOptions): RequestHandler {
  const identity = createRequestCheck(options);
  const proceed = ({ result, rejection, headers }: CheckedRequest, req: Request, res: Response, next: NextFunction): void => {
    req.identity = result;
    if (rejection) return deliver(rejection, identity.rejectWith, res, next);
    setResponseHeaders(res, headers);
    next();
  };
  return (req, res, next) => {
    let checked: CheckedRequest | Promise<CheckedRequest>;
    try {
      checked = identity.checkNow(toVerifyRequest(req), BODY_PARSER_HINT);
    } catch (error) {
      return next(error);
    }
    // Nothing was awaited (static keys, the memory store): on in the same turn, no promise.
    if (!(checked instanceof Promise)) return proceed(checked, req, res, next);
    checked.then((answer) => {
      try {
        proceed(answer, req, res, next);
      } catch (error) {
        next(error);
      }
    }, next); // Express 4 does not catch a rejected promise itself
  };
}

/**
 * Lets only verified requests reach the route (of `schemes`, covering `fields`, when given); the others get the code recorded for them.
 *
 * @example
 * ```ts
 * app.post('/chat', requireVerified(), handler);
 * app.post('/billing-chat', requireVerified({ schemes: ['jwt'], fields: ['email'] }), handler);
 * ```
 */
export function requireVerified(options?: GuardOptions): RequestHandler {
  const guard = createGuard(options);
  return (req, res, next) => {
    const rejection = guard.check(req.identity, MIDDLEWARE_HINT);
    if (rejection) deliver(rejection, guard.rejectWith, res, next);
    else next();
  };
}

/**
 * The verified identity of a request `requireVerified()` let through; throws the rejection (fail closed) for any other.
 *
 * @example
 * ```ts
 * app.post('/chat', requireVerified(), (req, res) => res.json({ hello: identityOf(req).contact.name }));
 * ```
 */
export function identityOf(req: Request): VerifiedIdentity {
  return verifiedIdentityOf(req.identity);
}

/**
 * Ends the session of this request (a logout): the one it was verified by, or that its response
 * issued. Tells the widget on the response (`Chat-Identity-Session: ended`, or the cookie cleared);
 * resolves with whether a session was ended on the server.
 *
 * @example
 * ```ts
 * app.post('/chat/logout', async (req, res) => res.json({ ended: await endSession(req, res) }));
 * ```
 */
export async function endSession(req: Request, res: Response): Promise<boolean> {
  const attached = req.identity ?? (req as { authInfo?: unknown }).authInfo;
  const { ended, headers } = await endSessionFor(attached, MIDDLEWARE_HINT);
  setResponseHeaders(res, headers);
  return ended;
}
