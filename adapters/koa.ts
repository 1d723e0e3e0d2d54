/**
 * chat-identity for Koa 2 and 3: `identityVerification(options)` puts the result on
 * `ctx.state.identity` (and a session issued, renewed or ended on the response); `requireVerified()`
 * guards one route; `identityOf(ctx)` is its verified identity, typed; `endSession(ctx)` logs a
 * session out. Glue only: the core decides.
 *
 * @example
 * ```ts
 * app.use(bodyParser());
 * app.use(identityVerification({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * router.post('/chat', requireVerified(), (ctx) => { ctx.body = identityOf(ctx).contact; });
 * ```
 */
import type { Context, Middleware, Next } from 'koa';
import type { IdentityError, IdentityResult, VerifiedIdentity, VerifyRequest } from 'chat-identity';
import {
  createGuard,
  createRequestCheck,
  endSessionFor,
  requestUrl,
  verifiedIdentityOf,
  withCookie,
  type CheckedRequest,
  type GuardOptions,
  type MiddlewareOptions,
} from 'chat-identity/adapter';

/**
 * What `identityVerification()` adds to `ctx.state`.
 *
 * @example
 * ```ts
 * const app = new Koa<IdentityState>();
 * ```
 */
export interface IdentityState {
  identity: IdentityResult;
}

declare module 'koa' {
  interface DefaultState {
    /** Set by `identityVerification()` on every request: verified, or anonymous with the reason. */
    identity?: IdentityResult;
  }
}

export type { GuardOptions, MiddlewareOptions };

const BODY_PARSER_HINT = 'Add app.use(bodyParser()) (@koa/bodyparser) before identityVerification().';
const MIDDLEWARE_HINT = 'Add app.use(identityVerification(options)) before the routes it guards.';

/**
 * The plain request the core reads, its fields read from `ctx` when read (a class: one object per
 * request, no closure per getter). Koa parses the query string on every read of `ctx.query`, and
 * no scheme reads it; the failure limits read the address only when a counter holds failures; the
 * URL is only checked against a bound session's DPoP proof.
 */
class KoaRequestView implements VerifyRequest {
  readonly headers: VerifyRequest['headers'];
  readonly body: unknown;
  readonly method: string;
  readonly #ctx: Context;
  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.headers = ctx.headers;
    this.body = (ctx.request as { body?: unknown }).body;
    this.method = ctx.method;
  }
  get ip(): string {
    return this.#ctx.ip;
  }
  get query(): VerifyRequest['query'] {
    return this.#ctx.query;
  }
  get params(): VerifyRequest['params'] {
    return (this.#ctx as { params?: Record<string, unknown> }).params;
  }
  get url(): string | undefined {
    return requestUrl(this.#ctx.protocol, this.#ctx.host, this.#ctx.originalUrl);
  }
}

/** Sets headers on the response; a `Set-Cookie` joins the cookies already set, replacing one of the same name. */
function setHeaders(ctx: Context, headers: Readonly<Record<string, string>>): void {
  // No entries array per request: nearly always there are no headers at all.
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    if (name.toLowerCase() === 'set-cookie') ctx.set('Set-Cookie', withCookie(ctx.response.get('Set-Cookie') || undefined, value));
    else ctx.set(name, value);
  }
}

/** Answers the rejection, or hands it to Koa's error handling: a promise either way, as an async middleware's. */
function deliver(error: IdentityError, rejectWith: 'response' | 'error', ctx: Context): Promise<void> {
  if (rejectWith === 'error') return Promise.reject(error);
  ctx.status = error.status;
  setHeaders(ctx, error.headers);
  ctx.body = error.body;
  return Promise.resolve();
}

/**
 * Verifies the proof on every request and sets `ctx.state.identity`; with `required: true` rejects what is not verified.
 *
 * @example
 * ```ts
 * app.use(bodyParser());
 * app.use(identityVerification({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * ```
 */
export function identityVerification(options: MiddlewareOptions): Middleware<IdentityState> {
  const identity = createRequestCheck(options);
  const proceed = ({ result, rejection, headers }: CheckedRequest, ctx: Context, next: Next): Promise<void> => {
    ctx.state.identity = result;
    if (rejection) return deliver(rejection, identity.rejectWith, ctx);
    setHeaders(ctx, headers);
    return next();
  };
  // Not an async function: with nothing to await (static keys, the memory store) the request goes
  // on in the same turn, and Koa gets next()'s own promise, with no promise or await of ours.
  return (ctx, next) => {
    let checked: CheckedRequest | Promise<CheckedRequest>;
    try {
      checked = identity.checkNow(new KoaRequestView(ctx), BODY_PARSER_HINT);
      if (!(checked instanceof Promise)) return proceed(checked, ctx, next);
    } catch (error) {
      return Promise.reject(error);
    }
    return checked.then((answer) => proceed(answer, ctx, next));
  };
}

/**
 * Lets only verified requests reach the route (of `schemes`, covering `fields`, when given); the others get the code recorded for them.
 *
 * @example
 * ```ts
 * router.post('/chat', requireVerified(), handler);
 * ```
 */
export function requireVerified(options?: GuardOptions): Middleware {
  const guard = createGuard(options);
  return (ctx, next) => {
    const rejection = guard.check(ctx.state.identity, MIDDLEWARE_HINT);
    if (rejection) return deliver(rejection, guard.rejectWith, ctx);
    return next();
  };
}

/**
 * The verified identity of a request `requireVerified()` let through; throws the rejection (fail closed) for any other.
 *
 * @example
 * ```ts
 * router.post('/chat', requireVerified(), (ctx) => { ctx.body = { hello: identityOf(ctx).contact.name }; });
 * ```
 */
export function identityOf(ctx: Context): VerifiedIdentity {
  return verifiedIdentityOf(ctx.state.identity);
}

/**
 * Ends the session of this request (a logout): the one it was verified by, or that its response
 * issued. Tells the widget on the response (`Chat-Identity-Session: ended`, or the cookie cleared);
 * resolves with whether a session was ended on the server.
 *
 * @example
 * ```ts
 * router.post('/chat/logout', async (ctx) => { ctx.body = { ended: await endSession(ctx) }; });
 * ```
 */
export async function endSession(ctx: Context): Promise<boolean> {
  const { ended, headers } = await endSessionFor(ctx.state.identity, MIDDLEWARE_HINT);
  setHeaders(ctx, headers);
  return ended;
}
