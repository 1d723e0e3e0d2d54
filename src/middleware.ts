/**
 * What every adapter shares, framework-free: verify a plain request, decide whether to reject,
 * guard a route, and say a misconfiguration once. Adapters only translate their framework's
 * request and response to and from these.
 */
import type { ServerResponse } from 'node:http';
import { createVerifier, isIssuedResult } from './createVerifier.js';
import { IdentityError, failure } from './errors.js';
import { SCHEME_NAMES } from './schemes/index.js';
import type { IdentityResult, Logger, SchemeName, VerifierOptions, VerifyRequest } from './types.js';

export interface AdapterOptions {
  /**
   * How a rejection is delivered: `'response'` (default) answers with the status and JSON body;
   * `'error'` hands an `IdentityError` to the framework (`next(err)` / `throw`) for apps that
   * render every error themselves.
   */
  rejectWith?: 'response' | 'error';
}

export type MiddlewareOptions = VerifierOptions & AdapterOptions;

export interface GuardOptions extends AdapterOptions {
  logger?: Logger;
  /** Only results of these schemes pass (e.g. `['jwt']`: a visitor-hash result is only an anonymous visitor). Others get `MISSING_IDENTITY`. */
  schemes?: readonly SchemeName[];
  /**
   * Only results whose signature covers all of these fields pass (`contact.verifiedFields`, e.g.
   * `['email']` or `['attributes.plan']`). Others get `MISSING_REQUIRED_FIELD`.
   */
  fields?: readonly string[];
}

/** Says each misconfiguration once per middleware, not once per request. */
export function onceLogger(logger: Logger = console): (key: string, message: string) => void {
  const said = new Set<string>();
  return (key, message) => {
    if (said.has(key)) return;
    said.add(key);
    logger.error(`chat-identity: ${message}`);
  };
}

/** The rejection for an unverified result, or undefined when the result is verified. */
export function rejectionFor(result: IdentityResult | undefined): IdentityError | undefined {
  if (result?.verified === true) return undefined;
  return new IdentityError(result?.error ?? failure('MISSING_IDENTITY'));
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\b/i;

/** A JSON body arrived but nothing parsed it: no body parser ran before the middleware. */
function hasUnparsedJsonBody(request: VerifyRequest): boolean {
  const headers = request.headers ?? {};
  const type = headers['content-type'];
  const hasBody = Number(headers['content-length']) > 0 || headers['transfer-encoding'] !== undefined;
  return request.body === undefined && hasBody && typeof type === 'string' && JSON_TYPE.test(type);
}

/** The verification step of `identityVerification()`, for any framework. */
export function createRequestCheck(options: MiddlewareOptions) {
  const verifier = createVerifier(options);
  const say = onceLogger(options.logger);
  const readsBody = !options.getCredentials;
  return {
    rejectWith: options.rejectWith ?? 'response',
    required: verifier.required,
    /** The result to attach, and the rejection to deliver when verification is required. */
    async check(request: VerifyRequest, bodyParserHint: string): Promise<{ result: IdentityResult; rejection?: IdentityError }> {
      if (readsBody && hasUnparsedJsonBody(request)) {
        say('body', `a JSON request body arrived unparsed, so the identity in it cannot be read (the request is treated as carrying none). ${bodyParserHint}`);
      }
      const result = await verifier.verify(request);
      const rejection = verifier.required ? rejectionFor(result) : undefined;
      return rejection ? { result, rejection } : { result };
    },
  };
}

/**
 * The check of `requireVerified()`: only a result this package issued, and verified, passes.
 * A result some other code (or a mass-assigned body) put on the request is refused.
 */
export function createGuard(options: GuardOptions = {}) {
  const say = onceLogger(options.logger);
  const { schemes, fields } = readGuardOptions(options);
  return {
    rejectWith: options.rejectWith ?? 'response',
    check(attached: unknown, middlewareHint: string): IdentityError | undefined {
      if (attached === undefined) {
        say('guard', `requireVerified() ran with no identity on the request, so every request is refused. ${middlewareHint}`);
      }
      if (!isIssuedResult(attached) || !attached.verified) return rejectionFor(isIssuedResult(attached) ? attached : undefined);
      if (schemes && !schemes.includes(attached.scheme)) return new IdentityError(failure('MISSING_IDENTITY'));
      if (fields && !fields.every((field) => attached.contact.verifiedFields.includes(field))) return new IdentityError(failure('MISSING_REQUIRED_FIELD'));
      return undefined;
    },
  };
}

const CONTACT_FIELDS = ['externalId', 'email', 'name', 'phone', 'anonymousId'];

/** The guard's demands, checked when the route is built: a misspelt one would refuse every request. */
function readGuardOptions(options: GuardOptions): { schemes?: readonly SchemeName[]; fields?: readonly string[] } {
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

/** Answers a rejection with its status, headers and JSON body (Node's response, so Express and Passport share it). */
export function writeRejection(res: ServerResponse, error: IdentityError): void {
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(error.body));
}
