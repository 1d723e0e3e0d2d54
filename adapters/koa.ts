/**
 * chat-identity for Koa 2 and 3: `identityVerification(options)` puts the result on
 * `ctx.state.identity`; `requireVerified()` guards one route; `identityOf(ctx)` is its verified
 * identity, typed. Glue only: the core decides.
 *
 * @example
 * ```ts
 * app.use(bodyParser());
 * app.use(identityVerification({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * router.post('/chat', requireVerified(), (ctx) => { ctx.body = identityOf(ctx).contact; });
 * ```
 */
import type { Context, Middleware } from 'koa';
import type { IdentityError, IdentityResult, VerifiedIdentity, VerifyRequest } from 'chat-identity';
import { createGuard, createRequestCheck, verifiedIdentityOf, type GuardOptions, type MiddlewareOptions } from 'chat-identity/adapter';

/** What `identityVerification()` adds to `ctx.state`. */
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

const toVerifyRequest = (ctx: Context): VerifyRequest => ({
  headers: ctx.headers,
  body: (ctx.request as { body?: unknown }).body,
  query: ctx.query,
  params: (ctx as { params?: Record<string, unknown> }).params,
  ip: ctx.ip,
});

function deliver(error: IdentityError, rejectWith: 'response' | 'error', ctx: Context): void {
  if (rejectWith === 'error') throw error;
  ctx.status = error.status;
  ctx.set(error.headers);
  ctx.body = error.body;
}

/** Verifies the proof on every request and sets `ctx.state.identity`; with `required: true` rejects what is not verified. */
export function identityVerification(options: MiddlewareOptions): Middleware<IdentityState> {
  const identity = createRequestCheck(options);
  return async (ctx, next) => {
    const { result, rejection } = await identity.check(toVerifyRequest(ctx), BODY_PARSER_HINT);
    ctx.state.identity = result;
    if (rejection) return deliver(rejection, identity.rejectWith, ctx);
    await next();
  };
}

/** Lets only verified requests reach the route (of `schemes`, covering `fields`, when given); the others get the code recorded for them. */
export function requireVerified(options?: GuardOptions): Middleware {
  const guard = createGuard(options);
  return async (ctx, next) => {
    const rejection = guard.check(ctx.state.identity, MIDDLEWARE_HINT);
    if (rejection) return deliver(rejection, guard.rejectWith, ctx);
    await next();
  };
}

/** The verified identity of a request `requireVerified()` let through; throws the rejection (fail closed) for any other. */
export function identityOf(ctx: Context): VerifiedIdentity {
  return verifiedIdentityOf(ctx.state.identity);
}
