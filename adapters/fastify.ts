/**
 * chat-identity for Fastify 4 and 5: the `identityVerification` plugin puts the result on
 * `request.identity` (and a session issued, renewed or ended on the reply); `requireVerified()` is a
 * route's `preHandler`; `identityOf(request)` is its verified identity, typed; `endSession(request,
 * reply)` logs a session out. Glue only: the core decides.
 *
 * @example
 * ```ts
 * await app.register(identityVerification, { scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!] });
 * app.post('/chat', { preHandler: requireVerified() }, async (request) => ({ hello: identityOf(request).contact.externalId }));
 * ```
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { IdentityError, IdentityResult, VerifiedIdentity } from 'chat-identity';
import {
  createGuard,
  createRequestCheck,
  endSessionFor,
  toVerifyRequest,
  verifiedIdentityOf,
  withCookie,
  type CheckedRequest,
  type GuardOptions,
  type MiddlewareOptions,
} from 'chat-identity/adapter';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the `identityVerification` plugin on every request in its scope: verified, or anonymous
     * with the reason. Absent outside its scope (a sibling's routes), `null` in it before its hook runs.
     */
    identity?: IdentityResult | null;
  }
}

export type { GuardOptions, MiddlewareOptions };

const MIDDLEWARE_HINT = 'Register the identityVerification plugin in a scope that holds the routes it guards.';
/** A callback hook's `done`: on with no argument, or an error for Fastify's error handler. */
type HookDone = (error?: Error) => void;

const BODY_PARSER_HINT = "Send it as application/json, or add a content type parser for the widget's content type.";

/** Sets headers on the reply; a `Set-Cookie` joins the cookies already set, replacing one of the same name. */
function setHeaders(reply: FastifyReply, headers: Readonly<Record<string, string>>): void {
  // No entries array per request: nearly always there are no headers at all.
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    if (name.toLowerCase() !== 'set-cookie') reply.header(name, value);
    else reply.removeHeader('set-cookie').header('set-cookie', withCookie(reply.getHeader('set-cookie'), value));
  }
}

/** Answers the rejection, or hands it to Fastify's error handling (`setErrorHandler`). */
function deliver(error: IdentityError, rejectWith: 'response' | 'error', reply: FastifyReply): FastifyReply {
  if (rejectWith === 'error') throw error;
  setHeaders(reply, error.headers);
  return reply.code(error.status).type('application/json; charset=utf-8').send(error.body);
}

/**
 * Verifies the proof of every request in the scope it is registered in (fastify-plugin: the
 * registering scope, not a child of it), in a `preValidation` hook: the first that sees the parsed
 * body, before a schema coerces or strips it. Sets `request.identity`; with `required: true`
 * rejects what is not verified.
 *
 * @example
 * ```ts
 * await app.register(identityVerification, { scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!], required: true });
 * ```
 */
export const identityVerification: FastifyPluginAsync<MiddlewareOptions> = fastifyPlugin(
  async function chatIdentity(fastify: FastifyInstance, options: MiddlewareOptions) {
    const identity = createRequestCheck(options);
    if (fastify.hasRequestDecorator('identity')) {
      throw new TypeError(
        'chat-identity: request.identity is taken: the plugin is registered already, in this scope or one around it (guard routes with requireVerified() instead), or another plugin uses the name.',
      );
    }
    fastify.decorateRequest('identity', null);
    // A callback hook, not an async one: with nothing to await (static keys, the memory store) the
    // request goes on in the same turn, with no promise made for it.
    const proceed = (
      { result, rejection, headers }: CheckedRequest,
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookDone,
    ): void => {
      try {
        request.identity = result;
        // Answered here: the hook chain stops (done is not called), as Fastify documents for callback hooks.
        if (rejection) return void deliver(rejection, identity.rejectWith, reply);
        setHeaders(reply, headers);
      } catch (error) {
        return done(error as Error);
      }
      done();
    };
    fastify.addHook('preValidation', (request, reply, done) => {
      let checked: CheckedRequest | Promise<CheckedRequest>;
      try {
        checked = identity.checkNow(toVerifyRequest(request), BODY_PARSER_HINT);
      } catch (error) {
        return done(error as Error);
      }
      if (!(checked instanceof Promise)) return proceed(checked, request, reply, done);
      checked.then((answer) => proceed(answer, request, reply, done), done);
    });
  },
  { name: 'chat-identity', fastify: '4.x || 5.x' },
);

/**
 * A route's `preHandler` that lets only verified requests through (of `schemes`, covering `fields`,
 * when given); the others get the code recorded for them.
 *
 * @example
 * ```ts
 * app.post('/account', { preHandler: requireVerified({ fields: ['email'] }) }, async (request) => identityOf(request).contact);
 * ```
 */
export function requireVerified(options?: GuardOptions): preHandlerHookHandler {
  const guard = createGuard(options);
  // A callback hook, like the plugin's: a request let through goes on with no promise made for it.
  return (request, reply, done) => {
    const rejection = guard.check(request.identity ?? undefined, MIDDLEWARE_HINT);
    if (!rejection) return done();
    if (guard.rejectWith === 'error') return done(rejection);
    deliver(rejection, 'response', reply); // answered: done is not called
  };
}

/**
 * The verified identity of a request `requireVerified()` let through; throws the rejection (fail closed) for any other.
 *
 * @example
 * ```ts
 * const { contact, scheme } = identityOf(request);
 * ```
 */
export function identityOf(request: FastifyRequest): VerifiedIdentity {
  return verifiedIdentityOf(request.identity);
}

/**
 * Ends the session of this request (a logout): the one it was verified by, or that its response
 * issued. Tells the widget on the reply (`Chat-Identity-Session: ended`, or the cookie cleared);
 * resolves with whether a session was ended on the server.
 *
 * @example
 * ```ts
 * app.post('/chat/logout', async (request, reply) => ({ ended: await endSession(request, reply) }));
 * ```
 */
export async function endSession(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const { ended, headers } = await endSessionFor(request.identity ?? undefined, MIDDLEWARE_HINT);
  setHeaders(reply, headers);
  return ended;
}
