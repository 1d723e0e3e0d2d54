/**
 * chat-identity as a Passport strategy, built on passport-custom. Authenticating a route means
 * requiring identity, so `required` defaults to `true`. The contact is `req.user`, the whole
 * result `req.authInfo`. Glue only: the core decides.
 *
 * @example
 * ```ts
 * passport.use(new IdentityStrategy({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * app.post('/chat', passport.authenticate('chat-identity', { session: false }), handler);
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import { Strategy as CustomStrategy } from 'passport-custom';
import type { Contact, IdentityFailure, IdentityResult, SchemeName } from 'chat-identity';
import {
  createRequestCheck,
  endSessionFor,
  setResponseHeaders,
  toVerifyRequest,
  writeRejection,
  type MiddlewareOptions,
} from 'chat-identity/adapter';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    /** `req.authInfo`: the whole result, verified (with `contact`) or not (with the `error`, if any). */
    interface AuthInfo {
      verified?: boolean;
      scheme?: SchemeName;
      contact?: Contact;
      keyId?: string;
      tenant?: string;
      test?: boolean;
      issuedAt?: Date;
      via?: 'proof' | 'session';
      error?: IdentityFailure;
    }
  }
}

/**
 * The strategy's options: the verifier's, a strategy name, and how a rejection is delivered.
 *
 * @example
 * ```ts
 * passport.use(new IdentityStrategy({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!], name: 'widget', rejectWith: 'fail' }));
 * ```
 */
export interface IdentityStrategyOptions extends Omit<MiddlewareOptions, 'rejectWith'> {
  /** Strategy name for `passport.authenticate(name)`. Default `chat-identity`. */
  name?: string;
  /**
   * How a rejection is delivered: `'response'` (default) answers with the same status and JSON
   * body as the other adapters; `'error'` passes an `IdentityError` to `next(err)`; `'fail'`
   * hands it to Passport as a failure, for strategy chains, `failureRedirect` or `failWithError`.
   */
  rejectWith?: 'response' | 'error' | 'fail';
}

/** The actions Passport gives a strategy for one request (passport-custom calls verify with them as `this`). */
interface StrategyActions {
  success(user: Contact, info: IdentityResult): void;
  fail(challenge: unknown, status: number): void;
  error(err: unknown): void;
  pass(): void;
}

/**
 * The chat-identity Passport strategy (on passport-custom): `required` by default; the contact at `req.user`, the whole result at `req.authInfo`.
 *
 * @example
 * ```ts
 * passport.use(new IdentityStrategy({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * app.post('/chat', passport.authenticate('chat-identity', { session: false }), (req, res) => res.json(req.user));
 * ```
 */
export class IdentityStrategy extends CustomStrategy {
  constructor(options: IdentityStrategyOptions) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('chat-identity: new IdentityStrategy(options) needs the verifier options (scheme, keys).');
    const { name = 'chat-identity', rejectWith = 'response', ...verifierOptions } = options;
    if (typeof name !== 'string' || name === '') throw new TypeError('chat-identity: the strategy name must be a non-empty string.');
    if (!['response', 'error', 'fail'].includes(rejectWith))
      throw new TypeError("chat-identity: rejectWith must be 'response', 'error' or 'fail'.");
    const identity = createRequestCheck({ ...verifierOptions, required: verifierOptions.required ?? true });
    // passport-custom catches only synchronous throws: every outcome of the promise, including
    // a rejection, is routed to an action here, so nothing is left as an unhandled rejection.
    super(function verify(this: StrategyActions, req: Request) {
      identity
        .check(toVerifyRequest(req), 'Add app.use(express.json()) before passport.authenticate().')
        .then(({ result, rejection, headers }) => {
          const res = (req as IncomingMessage & { res?: ServerResponse }).res;
          // A session issued, renewed or ended goes on the response (none to set without Express's req.res).
          if (!rejection && res) setResponseHeaders(res, headers);
          if (result.verified) {
            // Without session support Passport's success() needs { session: false } or answers 500;
            // a proof is checked on every request anyway, so attach the user as that option would.
            if ((req as { session?: unknown }).session !== undefined) return this.success(result.contact, result);
            (req as { authInfo?: unknown }).authInfo = result;
            (req as unknown as Record<string, unknown>)[(req as { _userProperty?: string })._userProperty ?? 'user'] = result.contact;
            return this.pass();
          }
          (req as { authInfo?: unknown }).authInfo = result;
          if (!rejection) return this.pass();
          if (rejectWith === 'error') return this.error(rejection);
          // Without Express there is no req.res to answer on: hand the failure to Passport instead.
          if (rejectWith === 'fail' || !res) {
            if (res) setResponseHeaders(res, rejection.headers);
            return this.fail(rejection.body, rejection.status);
          }
          writeRejection(res, rejection);
        })
        .catch((error: unknown) => this.error(error));
    });
    // passport-custom types its name as the literal 'custom'; Passport itself reads any string.
    (this as { name: string }).name = name;
  }
}

/**
 * Ends the session of a request the strategy authenticated (a logout): the one it was verified by,
 * or that its response issued. Tells the widget on the response (`Chat-Identity-Session: ended`, or
 * the cookie cleared); resolves with whether a session was ended on the server.
 *
 * @example
 * ```ts
 * app.post('/chat/logout', passport.authenticate('chat-identity', { session: false }), async (req, res) => {
 *   res.json({ ended: await endSession(req, res) });
 * });
 * ```
 */
export async function endSession(req: Request, res: ServerResponse): Promise<boolean> {
  const { ended, headers } = await endSessionFor(
    (req as { authInfo?: unknown }).authInfo,
    'Authenticate the route with passport.authenticate() first.',
  );
  setResponseHeaders(res, headers);
  return ended;
}
