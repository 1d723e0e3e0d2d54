/**
 * `chat-identity/adapter`: what every adapter is made of, framework-free. Verify a plain request,
 * decide whether to reject it, guard a route, deliver a rejection, and say a misconfiguration
 * once. An adapter only translates its framework's request and response to and from these; the
 * Express, Koa and Passport adapters are each about sixty lines of such glue.
 *
 * It imports the core by the package's name, so every entry point an app loads shares one core:
 * one `IdentityError` class, and one record of the results verifiers issued (which the guard trusts).
 *
 * @example
 * ```ts
 * import { createGuard, createRequestCheck } from 'chat-identity/adapter';
 * const identity = createRequestCheck({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] });
 * const { result, rejection } = await identity.check({ headers, body, ip }, 'Parse JSON bodies before the identity check.');
 * ```
 */
import type { ServerResponse } from 'node:http';
import {
  createVerifier,
  IdentityError,
  isIssuedResult,
  loggerOf,
  responseHeadersOf,
  SCHEME_NAMES,
  verifierOf,
  verifyNow,
  type EndedSession,
  type IdentityFailure,
  type IdentityResult,
  type Logger,
  type SchemeName,
  type VerifiedIdentity,
  type Verifier,
  type VerifierOptions,
  type VerifyRequest,
} from 'chat-identity';

/**
 * How an adapter delivers a rejection.
 *
 * @example
 * ```ts
 * identityVerification({ scheme: 'jwt', keys, rejectWith: 'error' }); // next(err) / throw, for apps that render errors themselves
 * ```
 */
export interface AdapterOptions {
  /**
   * How a rejection is delivered: `'response'` (default) answers with the status and JSON body;
   * `'error'` hands an `IdentityError` to the framework (`next(err)` / `throw`) for apps that
   * render every error themselves.
   */
  rejectWith?: 'response' | 'error';
}

/**
 * The options of `identityVerification()`: the verifier's, and how to deliver a rejection.
 *
 * @example
 * ```ts
 * const options: MiddlewareOptions = { scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!], required: true, rejectWith: 'response' };
 * ```
 */
export type MiddlewareOptions = VerifierOptions & AdapterOptions;

/**
 * The options of `requireVerified()`: what a route demands beyond a verified result, and how it refuses.
 *
 * @example
 * ```ts
 * app.post('/chat', requireVerified({ schemes: ['jwt'], fields: ['email'], rejectWith: 'error' }), handler);
 * ```
 */
export interface GuardOptions extends AdapterOptions {
  /** Where a misconfiguration is said, once. Default `console`. */
  logger?: Logger;
  /** Only results of these schemes pass (e.g. `['jwt']`: a visitor-hash result is only an anonymous visitor). Others get `MISSING_IDENTITY`. */
  schemes?: readonly SchemeName[];
  /**
   * Only results whose signature covers all of these fields pass (`contact.verifiedFields`, e.g.
   * `['email']` or `['attributes.plan']`). Others get `MISSING_REQUIRED_FIELD`.
   */
  fields?: readonly string[];
}

const GUARD_OPTIONS = ['rejectWith', 'logger', 'schemes', 'fields'];
const BUILT_VERIFIER_OPTIONS = ['verifier', 'logger', 'rejectWith'];
const CONTACT_FIELDS = ['externalId', 'email', 'name', 'phone', 'anonymousId'];

/**
 * Says each misconfiguration once per middleware, not once per request.
 *
 * @example
 * ```ts
 * const say = onceLogger(options.logger);
 * say('body', 'a JSON body arrived unparsed.'); // logged once, however many requests show it
 * ```
 */
export function onceLogger(logger: Logger = console): (key: string, message: string) => void {
  // Checked where it is given: a logger that cannot log would fail the first request that needs it.
  if (typeof logger?.error !== 'function' || typeof logger.warn !== 'function')
    throw new TypeError(`chat-identity: logger must have warn() and error() functions (console, pino and winston do).`);
  const said = new Set<string>();
  return (key, message) => {
    if (said.has(key)) return;
    said.add(key);
    logger.error(`chat-identity: ${message}`);
  };
}

/**
 * RFC 6750's challenge for a refused bearer token: the widget's HTTP client (and any OAuth-aware
 * proxy) reads why from the header. A refusal of no token at all carries the bare challenge.
 */
function bearerChallenge(failure: IdentityFailure, tokenPresented: boolean): string {
  if (!tokenPresented) return 'Bearer realm="chat-identity"';
  return `Bearer realm="chat-identity", error="invalid_token", error_description="${failure.message}"`;
}

/**
 * The rejection for an unverified result, or undefined when the result is verified. `bearer`: the
 * verifier takes bearer tokens, so a 401 carries `WWW-Authenticate` (a token refused, or none sent).
 * A refused session carries its own challenge instead (`ChatIdentity …`) and, when its credential is
 * dead, its end (the header says `ended`, or the cookie is cleared).
 *
 * @example
 * ```ts
 * const rejection = rejectionFor(result, true); // undefined when verified; with WWW-Authenticate for a bearer verifier
 * ```
 */
export function rejectionFor(result: IdentityResult | undefined, bearer = false): IdentityError | undefined {
  if (result?.verified === true) return undefined;
  const error = new IdentityError(result?.error ?? { code: 'MISSING_IDENTITY', message: 'No identity proof was presented.' });
  const tokenPresented = result?.scheme === 'jwt';
  if (error.status === 401 && (bearer || tokenPresented)) error.headers['WWW-Authenticate'] = bearerChallenge(error, tokenPresented);
  Object.assign(error.headers, responseHeadersOf(result));
  return error;
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\b/i;

/** A JSON body arrived but nothing parsed it: no body parser ran before the middleware. */
function hasUnparsedJsonBody(request: VerifyRequest): boolean {
  const headers = request.headers ?? {};
  const type = headers['content-type'];
  const hasBody = Number(headers['content-length']) > 0 || headers['transfer-encoding'] !== undefined;
  return request.body === undefined && hasBody && typeof type === 'string' && JSON_TYPE.test(type);
}

/**
 * What `toVerifyRequest` reads of a framework's request (Express's, and so Passport's).
 *
 * @example
 * ```ts
 * const plain = toVerifyRequest(req satisfies NodeStyleRequest);
 * ```
 */
export interface NodeStyleRequest {
  headers: VerifyRequest['headers'];
  body?: unknown;
  query?: unknown;
  params?: unknown;
  ip?: string | undefined;
  method?: string | undefined;
  /** Express: `https`, behind a proxy too when `trust proxy` is set. */
  protocol?: string | undefined;
  /** Express: the path and query as the client sent them, whatever router the middleware is mounted on. */
  originalUrl?: string | undefined;
  url?: string | undefined;
  /** The connection: one the client reset has no address left to read. */
  socket?: { remoteAddress?: string | undefined; localPort?: number | undefined } | undefined;
}

/**
 * The address of a client that reset its TCP connection before the check read it: the kernel has
 * dropped the connection, so its peer address (and `req.ip`) is undefined, though Node may not have
 * marked the socket destroyed yet. Counted as one client, else a host could send each guess and
 * reset the connection to escape the address limit. A Unix socket (a proxy in front) never has a
 * peer address, nor a local port: its requests keep no address, or they would all share one limit.
 */
const CONNECTION_RESET = '(connection reset)';

/**
 * A framework request with Node's fields (Express, Passport) as the plain request the core reads.
 * `url` is absolute (`<protocol>://<Host header><original path>`), and only built when read (a DPoP
 * proof of a bound session is checked against it).
 *
 * @example
 * ```ts
 * const { result } = await identity.check(toVerifyRequest(req), 'Add app.use(express.json()) first.');
 * ```
 */
export function toVerifyRequest(req: NodeStyleRequest): VerifyRequest {
  return new NodeRequestView(req);
}

/**
 * The view `toVerifyRequest` makes: its fields read from the request when read. A class, not an
 * object literal with getters: a literal makes a closure per getter per request, the class one
 * object. Read when read: Express 5 parses the query string on every read of `req.query`, and
 * `req.ip` (behind `trust proxy`) the X-Forwarded-For header; no scheme reads the query, and the
 * failure limits read the address only when a counter holds failures.
 */
class NodeRequestView implements VerifyRequest {
  readonly headers: VerifyRequest['headers'];
  readonly body: unknown;
  readonly method: string | undefined;
  readonly #req: NodeStyleRequest;
  constructor(req: NodeStyleRequest) {
    this.#req = req;
    this.headers = req.headers;
    this.body = req.body;
    this.method = req.method;
  }
  get ip(): string | undefined {
    const req = this.#req;
    const socket = req.socket;
    return req.ip ?? (socket && socket.remoteAddress === undefined && socket.localPort !== undefined ? CONNECTION_RESET : undefined);
  }
  get query(): VerifyRequest['query'] {
    return this.#req.query as VerifyRequest['query'];
  }
  get params(): VerifyRequest['params'] {
    return this.#req.params as VerifyRequest['params'];
  }
  get url(): string | undefined {
    const req = this.#req;
    return requestUrl(req.protocol ?? 'http', req.headers?.host, req.originalUrl ?? req.url ?? '/');
  }
}

/** A Host as RFC 9110 allows it: a name or an address, and a port. */
const HOST = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The URL a request was sent to, as a DPoP proof names it (`htu`); undefined when the Host is not
 * one. The router reads only the path, so a Host holding a `/`, `?` or `#` (`h/chat?`) would move
 * the path this URL shows away from the route the request reaches: a proof made for one route
 * would pass on another.
 *
 * @example
 * ```ts
 * requestUrl('https', 'chat.example', '/chat?x=1'); // 'https://chat.example/chat?x=1'
 * requestUrl('https', 'chat.example/admin?', '/chat'); // undefined
 * ```
 */
export function requestUrl(protocol: string, host: unknown, path: string): string | undefined {
  return typeof host === 'string' && HOST.test(host) ? `${protocol}://${host}${path}` : undefined;
}

/**
 * Instead of the verifier's options: a verifier built elsewhere, once (`chat-identity/fetch`'s
 * `verifyRequest(request, { verifier })` takes one), and how to deliver its rejections.
 *
 * @example
 * ```ts
 * const identity = createRequestCheck({ verifier: createVerifier({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] }) });
 * ```
 */
export interface BuiltVerifierOptions extends AdapterOptions {
  verifier: Verifier;
  /** Where a misconfiguration is said, once. Default `console`. */
  logger?: Logger;
}

/**
 * The verification step of `identityVerification()`, for any framework: the result to attach,
 * and the rejection to deliver when verification is required for it (`required: true`, or its
 * tenant's; in `'report'` nothing is rejected and the result carries `wouldReject`). Built from the
 * verifier's options, or around a verifier built elsewhere (`{ verifier }`).
 *
 * @example
 * ```ts
 * const identity = createRequestCheck({ scheme: 'jwt', keys: [process.env.CHAT_IDENTITY_SECRET!] });
 * const { result, rejection } = await identity.check(toVerifyRequest(req), 'Parse JSON bodies first.');
 * ```
 */
export function createRequestCheck(options: MiddlewareOptions | BuiltVerifierOptions) {
  // The verifier checks its own options (a misspelt one is refused); this one is the adapter's.
  const { rejectWith = 'response', ...verifierOptions } = options ?? ({} as MiddlewareOptions);
  readAdapterOptions({ rejectWith }, ['rejectWith'], 'options');
  // A verifier built elsewhere carries its own options: one given beside it would be silently dropped.
  if ('verifier' in verifierOptions)
    readAdapterOptions(options, BUILT_VERIFIER_OPTIONS, 'options with { verifier } (give the verifier its own in createVerifier())');
  const verifier = 'verifier' in verifierOptions ? verifierOptions.verifier : createVerifier(verifierOptions);
  if (typeof verifier?.verify !== 'function' || !Array.isArray(verifier.schemes))
    throw new TypeError('chat-identity: options.verifier must be a verifier made with createVerifier().');
  // A verifier built elsewhere says things to its own logger, and so do we (unless given one here).
  const say = onceLogger(verifierOptions.logger ?? loggerOf(verifier));
  const readsBody = !('getCredentials' in verifierOptions && verifierOptions.getCredentials);
  const bearer = verifier.schemes.includes('jwt');
  const answer = (result: IdentityResult, request: VerifyRequest, bodyParserHint: string | undefined): CheckedRequest => {
    // Said only when no proof was found and the body it might have been in was never parsed.
    if (
      bodyParserHint !== undefined &&
      readsBody &&
      !result.verified &&
      result.scheme === undefined &&
      result.via === undefined &&
      hasUnparsedJsonBody(request)
    ) {
      say(
        'body',
        `a JSON request body arrived unparsed, so the identity in it cannot be read (the request is treated as carrying none). ${bodyParserHint}`,
      );
    }
    // Refused only where `required` was true for this result: in 'report' it goes on, marked `wouldReject`.
    const rejection = verifier.mustReject(result) ? rejectionFor(result, bearer) : undefined;
    const headers = responseHeadersOf(result);
    return rejection ? { result, rejection, headers } : { result, headers };
  };
  /** `check`, answering without a promise when the verifier needed none (the adapters' own path). */
  const checkNow = (request: VerifyRequest, bodyParserHint: string | undefined): CheckedRequest | Promise<CheckedRequest> => {
    const result = verifyNow(verifier, request);
    if (result instanceof Promise) return result.then((settled) => answer(settled, request, bodyParserHint));
    return answer(result, request, bodyParserHint);
  };
  return {
    rejectWith,
    /** The verifier, for `endSessions(tenant)` and the like. */
    verifier,
    /**
     * Verifies `request`; `bodyParserHint` says how to add the body parser this framework needs
     * (undefined: the body was read and is the client's broken JSON, nothing for the app to fix).
     * `headers` go on the response when it is not rejected (a session issued, renewed or ended);
     * a rejection carries them already.
     */
    async check(request: VerifyRequest, bodyParserHint: string | undefined): Promise<CheckedRequest> {
      return checkNow(request, bodyParserHint);
    },
    checkNow,
  };
}

/**
 * What `createRequestCheck().check()` answers: the result to attach, its rejection if refused, and the headers for the response.
 *
 * @example
 * ```ts
 * const { result, rejection, headers }: CheckedRequest = await identity.check(toVerifyRequest(req), 'Parse JSON bodies first.');
 * ```
 */
export interface CheckedRequest {
  result: IdentityResult;
  rejection?: IdentityError;
  headers: Readonly<Record<string, string>>;
}

/**
 * Ends the session of the result an adapter attached to a request (a logout): the session it was
 * verified by, or that its response issued. Resolves with the headers that tell the widget (or clear
 * the cookie). Throws when no verifier's result is attached: no identityVerification() ran before.
 *
 * @example
 * ```ts
 * const { ended, headers } = await endSessionFor(req.identity, 'Add identityVerification() first.');
 * ```
 */
export async function endSessionFor(attached: unknown, middlewareHint: string): Promise<EndedSession> {
  const verifier = verifierOf(attached);
  if (!verifier) throw new TypeError(`chat-identity: endSession() found no identity result on the request. ${middlewareHint}`);
  return verifier.endSession(attached as IdentityResult);
}

/**
 * The check of `requireVerified()`: only a result this package issued, and verified, passes (and,
 * with `schemes` or `fields`, only one of those schemes, or whose signature covers those fields).
 * A result some other code (or a mass-assigned body) put on the request is refused.
 *
 * @example
 * ```ts
 * const guard = createGuard({ schemes: ['jwt'] });
 * const rejection = guard.check(req.identity, 'Add identityVerification() before the routes it guards.');
 * ```
 */
export function createGuard(options: GuardOptions = {}) {
  readAdapterOptions(options, GUARD_OPTIONS, 'requireVerified() options');
  const say = onceLogger(options.logger);
  const { schemes, fields } = readDemands(options);
  return {
    rejectWith: options.rejectWith ?? 'response',
    check(attached: unknown, middlewareHint: string): IdentityError | undefined {
      if (attached === undefined) {
        say('guard', `requireVerified() ran with no identity on the request, so every request is refused. ${middlewareHint}`);
      }
      if (!isIssuedResult(attached)) return rejectionFor(undefined);
      // A guarded route of a verifier that takes tokens challenges as `required: true` does (RFC 9110: a 401 carries one).
      if (!attached.verified) return rejectionFor(attached, takesTokens(attached));
      if (schemes && !schemes.includes(attached.scheme))
        return unmet({ code: 'MISSING_IDENTITY', message: 'No identity proof was presented.' }, attached);
      if (fields && !fields.every((field) => attached.contact.verifiedFields.includes(field))) {
        return unmet({ code: 'MISSING_REQUIRED_FIELD', message: 'The identity proof lacks a required field.' }, attached);
      }
      return undefined;
    },
  };
}

/** A verified result the route's demands refuse: its 401, challenged as any other of a bearer verifier. */
function unmet(failure: IdentityFailure, attached: IdentityResult): IdentityError {
  const error = new IdentityError(failure);
  if (takesTokens(attached)) error.headers['WWW-Authenticate'] = bearerChallenge(error, false);
  return error;
}

/** The result's verifier takes bearer tokens: its 401s carry a challenge. Asked only of a refusal. */
const takesTokens = (attached: IdentityResult): boolean => verifierOf(attached)?.schemes.includes('jwt') === true;

/**
 * The verified identity a guard let through, typed: what a guarded handler reads. Fails closed:
 * anything else (no guard ran, or it was skipped) throws the rejection for what is attached.
 *
 * @example
 * ```ts
 * const { contact } = verifiedIdentityOf(req.identity); // throws the rejection unless verified
 * ```
 */
export function verifiedIdentityOf(attached: unknown): VerifiedIdentity {
  if (isIssuedResult(attached) && attached.verified) return attached;
  throw rejectionFor(isIssuedResult(attached) ? attached : undefined)!;
}

/**
 * Answers a rejection with its status, headers and JSON body (Node's response, so Express and Passport share it).
 *
 * @example
 * ```ts
 * if (rejection) return writeRejection(res, rejection);
 * ```
 */
export function writeRejection(res: ServerResponse, error: IdentityError): void {
  res.statusCode = error.status;
  setResponseHeaders(res, error.headers);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(error.body));
}

/**
 * Sets headers on Node's response. A `Set-Cookie` joins the cookies already set, replacing one of
 * the same name (a session issued, then ended in the same response, ends it).
 *
 * @example
 * ```ts
 * setResponseHeaders(res, responseHeadersOf(result));
 * ```
 *
 * @example
 * ```ts
 * setResponseHeaders(res, responseHeadersOf(result));
 * ```
 */
export function setResponseHeaders(res: ServerResponse, headers: Readonly<Record<string, string>>): void {
  // No entries array per request: nearly always there are no headers at all.
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    if (name.toLowerCase() !== 'set-cookie') res.setHeader(name, value);
    else res.setHeader('Set-Cookie', withCookie(res.getHeader('set-cookie'), value));
  }
}

/**
 * `cookies` (as a response holds them) with `cookie` in place of any of its name.
 *
 * @example
 * ```ts
 * withCookie(['theme=dark', 's=old'], 's=new'); // ['theme=dark', 's=new']
 * ```
 *
 * @example
 * ```ts
 * res.setHeader('Set-Cookie', withCookie(res.getHeader('Set-Cookie'), '__Host-chat_identity_session=; Max-Age=0; Path=/; Secure'));
 * ```
 */
export function withCookie(cookies: string | number | readonly string[] | undefined, cookie: string): string[] {
  const list = cookies === undefined ? [] : Array.isArray(cookies) ? cookies : [String(cookies)];
  const name = cookie.slice(0, cookie.indexOf('=') + 1);
  return [...list.filter((existing: string) => !existing.startsWith(name)), cookie];
}

/**
 * Options of an adapter's own, checked like the verifier's (which `createVerifier` checks): a
 * misspelt one is refused, not ignored.
 */
function readAdapterOptions(options: AdapterOptions | undefined, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') throw new TypeError(`chat-identity: ${where} must be an object.`);
  const rejectWith = options.rejectWith;
  if (rejectWith !== undefined && rejectWith !== 'response' && rejectWith !== 'error')
    throw new TypeError(`chat-identity: ${where}.rejectWith must be 'response' or 'error'.`);
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new TypeError(`chat-identity: ${where} has no option ${JSON.stringify(unknown[0])}; valid: ${known.join(', ')}.`);
}

/** The guard's demands, checked when the route is built: a misspelt one would refuse every request. */
function readDemands(options: GuardOptions): { schemes?: readonly SchemeName[]; fields?: readonly string[] } {
  const { schemes, fields } = options;
  if (schemes !== undefined && (!Array.isArray(schemes) || schemes.length === 0 || schemes.some((s) => !SCHEME_NAMES.includes(s)))) {
    throw new TypeError(`chat-identity: requireVerified({ schemes }) must list some of ${SCHEME_NAMES.join(', ')}.`);
  }
  const isField = (f: unknown) => typeof f === 'string' && (CONTACT_FIELDS.includes(f) || /^attributes\.[^.]+$/.test(f));
  if (fields !== undefined && (!Array.isArray(fields) || fields.length === 0 || !fields.every(isField))) {
    throw new TypeError(`chat-identity: requireVerified({ fields }) must list some of ${CONTACT_FIELDS.join(', ')} or attributes.<name>.`);
  }
  return { schemes, fields };
}
