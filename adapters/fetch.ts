/**
 * chat-identity for anything built on the Web `Request` and `Response` (Next.js route handlers,
 * Bun, Deno, Hono): `verifyRequest(request, { verifier })` resolves with the result, the rejection
 * to answer with and the session headers, leaving the body to the app; `rejectionResponse(error)`
 * renders a rejection as every adapter does. For Hono, `identityVerification()` sets
 * `c.get('identity')`, `requireVerified()` guards a route, `identityOf(c)`, `endSession(c)`.
 * Glue only: the core decides.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!], required: true });
 * export async function POST(request: Request) {
 *   const { result, rejection, headers } = await verifyRequest(request, { verifier });
 *   if (rejection) return rejectionResponse(rejection);
 *   return Response.json({ hello: identityOf(result).contact.externalId }, { headers });
 * }
 * ```
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { IdentityError, IdentityResult, VerifiedIdentity, Verifier, VerifyRequest } from 'chat-identity';
import {
  createGuard,
  createRequestCheck,
  endSessionFor,
  verifiedIdentityOf,
  withCookie,
  type GuardOptions,
  type MiddlewareOptions,
} from 'chat-identity/adapter';

export type { GuardOptions, MiddlewareOptions };

/**
 * The options of `verifyRequest()`.
 *
 * @example
 * ```ts
 * const options: VerifyRequestOptions = { verifier, ip: server.requestIP(request)?.address, requireVerified: { fields: ['email'] } };
 * ```
 */
export interface VerifyRequestOptions {
  /** The verifier, made once with `createVerifier(options)` beside the handler: never one per request (its limits and caches live in it). */
  verifier: Verifier;
  /** The JSON body, when the app parsed it already. Without it, a JSON body is read from a clone, and the request's own body is left unread. */
  body?: unknown;
  /** The client's address, as the runtime or a trusted proxy gives it: what the failed-attempt limits count. */
  ip?: string | undefined;
  /** As the other adapters' `requireVerified()`: refuse anything but a verified result (of `schemes`, covering `fields`). */
  requireVerified?: boolean | Pick<GuardOptions, 'schemes' | 'fields'>;
  /** Bytes of a JSON body read at most; a longer one is not read (it carries no proof). Default 1 MiB. */
  bodyLimit?: number;
}

/**
 * What `verifyRequest()` resolves with.
 *
 * @example
 * ```ts
 * const { result, rejection, headers }: RequestIdentity = await verifyRequest(request, { verifier });
 * ```
 */
export interface RequestIdentity {
  /** Verified, or anonymous with the reason. */
  result: IdentityResult;
  /** The refusal to answer with (`rejectionResponse`), when the verifier requires identity or `requireVerified` asked for it. */
  rejection?: IdentityError;
  /** Session headers for the response (a credential issued, renewed or ended): `Response.json(data, { headers })`, or `withSessionHeaders`. */
  headers: Readonly<Record<string, string>>;
}

/**
 * The variables `identityVerification()` sets on a Hono context: `new Hono<IdentityEnv>()` types `c.get('identity')`.
 *
 * @example
 * ```ts
 * const app = new Hono<IdentityEnv>();
 * ```
 */
export type IdentityEnv = { Variables: { identity: IdentityResult } };

/**
 * The options of the Hono middleware: the verifier's, how to deliver a rejection, and where the client's address is.
 *
 * @example
 * ```ts
 * identityVerification({ scheme: 'jwt', keys, ip: (c) => getConnInfo(c).remote.address });
 * ```
 */
export type HonoIdentityOptions = MiddlewareOptions & { ip?: (c: Context) => string | undefined };

const JSON_TYPE = /^application\/([\w.-]+\+)?json\b/i;
/**
 * A JSON body the client sent broken: no proof is in it, and nothing for the app to fix, so the
 * unparsed-body warning (meant for an app that skipped its parser) is not said for it.
 */
const MALFORMED = Symbol('malformed JSON');
const BODY_HINT = 'Pass the parsed body (verifyRequest(request, { verifier, body })), or raise bodyLimit.';
const MIDDLEWARE_HINT = 'Add app.use(identityVerification(options)) before the routes it guards.';
const checks = new WeakMap<Verifier, ReturnType<typeof createRequestCheck>>();

/** The plain request the core reads. */
function plainRequest(request: Request, body: unknown, ip: string | undefined, params?: () => Record<string, string>): VerifyRequest {
  return {
    headers: Object.fromEntries(request.headers),
    body,
    get query() {
      return Object.fromEntries(new URL(request.url).searchParams);
    },
    // Read when read, like the query: no scheme reads them, only an app's callbacks might.
    get params() {
      return params?.();
    },
    ip,
    method: request.method,
    url: request.url,
  };
}

/** The JSON body of a clone, at most `limit` bytes; undefined when there is none, or it is longer; MALFORMED when it is not JSON. */
async function readJson(request: Request, limit: number): Promise<unknown> {
  if (!request.body || request.bodyUsed || !JSON_TYPE.test(request.headers.get('content-type') ?? '')) return undefined;
  if (Number(request.headers.get('content-length')) > limit) return undefined;
  const reader = request.clone().body!.getReader();
  const chunks: Uint8Array[] = [];
  for (let size = 0, read = await reader.read(); !read.done; read = await reader.read()) {
    // Not awaited: a clone's cancel settles only once the request's own body is cancelled too (tee).
    if ((size += read.value.byteLength) > limit) return void reader.cancel().catch(() => {});
    chunks.push(read.value);
  }
  const bytes = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.byteLength, 0));
  chunks.reduce((offset, chunk) => (bytes.set(chunk, offset), offset + chunk.byteLength), 0);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return MALFORMED;
  }
}

/**
 * Verifies a Web `Request`. Resolves with the result, the rejection to answer with (when the verifier
 * requires identity, or `requireVerified` asks), and the session headers; never consumes the body.
 *
 * @example
 * ```ts
 * const { result, rejection, headers } = await verifyRequest(request, { verifier, ip: info.remoteAddr.hostname });
 * ```
 */
export async function verifyRequest(request: Request, options: VerifyRequestOptions): Promise<RequestIdentity> {
  readVerifyRequestOptions(options);
  const { verifier, ip, requireVerified, bodyLimit = 1024 * 1024 } = options;
  let check = checks.get(verifier);
  if (!check) checks.set(verifier, (check = createRequestCheck({ verifier })));
  const read = 'body' in options ? options.body : await readJson(request, bodyLimit);
  const body = read === MALFORMED ? undefined : read;
  const { result, rejection, headers } = await check.check(plainRequest(request, body, ip), read === MALFORMED ? undefined : BODY_HINT);
  const refused =
    rejection ?? (requireVerified ? createGuard(requireVerified === true ? {} : requireVerified).check(result, '') : undefined);
  if (!refused) return { result, headers };
  // As the other adapters answer a guarded route: with the session headers the verification set.
  for (const [name, value] of Object.entries(headers)) refused.headers[name] ??= value;
  return { result, rejection: refused, headers };
}

const VERIFY_REQUEST_OPTIONS = ['verifier', 'body', 'ip', 'requireVerified', 'bodyLimit'];

/**
 * Checked on every call, as there is no construction step to check them once (a few keys: tens of
 * nanoseconds): a misspelt `requireVerified` would let every request through, a `bodyLimit` of '1mb'
 * read any body whole.
 */
function readVerifyRequestOptions(options: VerifyRequestOptions): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError('chat-identity: verifyRequest(request, options) needs { verifier }, made once with createVerifier().');
  if (typeof options.verifier?.verify !== 'function')
    throw new TypeError('chat-identity: verifyRequest() needs { verifier }, made once with createVerifier().');
  for (const key in options) {
    if (!VERIFY_REQUEST_OPTIONS.includes(key))
      throw new TypeError(
        `chat-identity: verifyRequest() has no option ${JSON.stringify(key)}; valid: ${VERIFY_REQUEST_OPTIONS.join(', ')}.`,
      );
  }
  const { ip, requireVerified, bodyLimit } = options;
  if (bodyLimit !== undefined && !(typeof bodyLimit === 'number' && Number.isSafeInteger(bodyLimit) && bodyLimit > 0))
    throw new TypeError('chat-identity: verifyRequest() bodyLimit must be a whole number of bytes, more than 0.');
  if (ip !== undefined && typeof ip !== 'string') throw new TypeError('chat-identity: verifyRequest() ip must be a string or undefined.');
  if (
    requireVerified !== undefined &&
    typeof requireVerified !== 'boolean' &&
    (requireVerified === null || typeof requireVerified !== 'object')
  )
    throw new TypeError('chat-identity: verifyRequest() requireVerified must be true, false or { schemes, fields }.');
}

/**
 * The rejection as a `Response`: its status, headers and JSON body, the same as every other adapter sends.
 *
 * @example
 * ```ts
 * if (rejection) return rejectionResponse(rejection);
 * ```
 */
export function rejectionResponse(error: IdentityError): Response {
  const headers = new Headers(error.headers);
  headers.set('Content-Type', 'application/json; charset=utf-8');
  return new Response(JSON.stringify(error.body), { status: error.status, headers });
}

/** Sets headers; a `Set-Cookie` joins the cookies already there, replacing one of the same name. */
function setHeaders(target: Headers, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'set-cookie') {
      target.set(name, value);
      continue;
    }
    const cookies = withCookie(target.getSetCookie(), value);
    target.delete('set-cookie');
    for (const cookie of cookies) target.append('set-cookie', cookie);
  }
}

/**
 * The app's response with the session headers on it (a copy when its headers cannot be changed,
 * as a `fetch()` response's): for a response made elsewhere, a streamed reply for one.
 *
 * @example
 * ```ts
 * return withSessionHeaders(stream.toResponse(), headers);
 * ```
 */
export function withSessionHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  if (Object.keys(headers).length === 0) return response;
  try {
    setHeaders(response.headers, headers);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    setHeaders(copy.headers, headers);
    return copy;
  }
}

/**
 * The verified identity of a result a guard let through, typed: `identityOf(c)` in Hono, `identityOf(result)`
 * after `verifyRequest`. Throws the rejection (fail closed) for anything else.
 *
 * @example
 * ```ts
 * const { contact } = identityOf(c);
 * ```
 */
export function identityOf(from: Context | IdentityResult | undefined): VerifiedIdentity {
  if (!isContext(from)) return verifiedIdentityOf(from);
  try {
    return verifiedIdentityOf(from.get('identity'));
  } catch (error) {
    throw renderable(error as IdentityError); // Hono answers it as the guard would, not with a 500
  }
}

const isContext = (from: unknown): from is Context => typeof (from as Context | undefined)?.get === 'function' && 'req' in (from as object);

// Hono: thin glue over the same check. Its own error handling renders a thrown rejection
// (`rejectWith: 'error'`) through `getResponse()`, as it does an HTTPException; `app.onError` may render it instead.

function renderable(error: IdentityError): IdentityError {
  return Object.assign(error, { getResponse: () => rejectionResponse(error) });
}

function deliver(error: IdentityError, rejectWith: 'response' | 'error'): Response {
  if (rejectWith === 'error') throw renderable(error);
  return rejectionResponse(error);
}

/** A JSON body through Hono's own reader (`c.req.json()`, which keeps it for the app), or undefined. */
async function jsonOf(c: Context): Promise<unknown> {
  if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) return undefined;
  return c.req.json().catch(() => MALFORMED);
}

/**
 * Hono middleware: verifies the proof on every request and sets `c.get('identity')`; with
 * `required: true` rejects what is not verified. `ip` reads the client's address (Hono's `getConnInfo`).
 *
 * @example
 * ```ts
 * app.use('/chat/*', identityVerification({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!] }));
 * ```
 */
export function identityVerification(options: HonoIdentityOptions): MiddlewareHandler<IdentityEnv> {
  const { ip, ...checkOptions } = options ?? ({} as HonoIdentityOptions);
  if (ip !== undefined && typeof ip !== 'function')
    throw new TypeError("chat-identity: options.ip must be a function of Hono's context, e.g. (c) => getConnInfo(c).remote.address.");
  const identity = createRequestCheck(checkOptions);
  return async (c, next) => {
    const read = await jsonOf(c);
    const plain = plainRequest(c.req.raw, read === MALFORMED ? undefined : read, ip?.(c), () => c.req.param());
    const checked = identity.checkNow(plain, read === MALFORMED ? undefined : 'Send the body as application/json.');
    const { result, rejection, headers } = checked instanceof Promise ? await checked : checked;
    c.set('identity', result);
    if (rejection) return deliver(rejection, identity.rejectWith);
    setHeaders(c.res.headers, headers);
    await next();
  };
}

/**
 * Hono middleware that lets only verified requests reach the route (of `schemes`, covering `fields`, when given).
 *
 * @example
 * ```ts
 * app.post('/chat', requireVerified({ schemes: ['jwt'] }), (c) => c.json(identityOf(c).contact));
 * ```
 */
export function requireVerified(options?: GuardOptions): MiddlewareHandler<IdentityEnv> {
  const guard = createGuard(options);
  return async (c, next) => {
    const rejection = guard.check(c.get('identity'), MIDDLEWARE_HINT);
    if (rejection) return deliver(rejection, guard.rejectWith);
    await next();
  };
}

/**
 * Ends the session of this request (a logout) and tells the widget on the response; resolves with
 * whether a session was ended on the server. Without Hono: `await verifier.endSession(result)`.
 *
 * @example
 * ```ts
 * app.post('/chat/logout', async (c) => c.json({ ended: await endSession(c) }));
 * ```
 */
export async function endSession(c: Context): Promise<boolean> {
  const { ended, headers } = await endSessionFor(c.get('identity'), MIDDLEWARE_HINT);
  setHeaders(c.res.headers, headers);
  return ended;
}
