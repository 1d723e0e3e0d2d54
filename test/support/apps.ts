/**
 * The adapter apps, built the documented way, and a driver that hands them a request
 * in-process: a real `IncomingMessage` fed from a buffer and a real `ServerResponse` whose output
 * is captured, with no network connection. That costs about 0.1 ms a request against 0.3–0.5 ms
 * over a keep-alive socket, which is what lets the property tests send 10,000 inputs through every
 * adapter in CI. The socket path (Node's own HTTP parser) is what the conformance table and the
 * header-size test in attacks.test.ts use.
 *
 * Fastify 4 and 5 hand over their Node handler through `serverFactory`; the fetch adapter (a
 * Next.js-style route handler) and Hono run on Node through @hono/node-server, as a Hono app does.
 */
import bodyParser from '@koa/bodyparser';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import express5 from 'express';
import express4 from 'express4';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import passport from 'passport';
import { IncomingMessage, ServerResponse, createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import * as expressAdapter from '../../adapters/express.js';
import * as fastifyAdapter from '../../adapters/fastify.js';
import * as fetchAdapter from '../../adapters/fetch.js';
import * as koaAdapter from '../../adapters/koa.js';
import { IdentityStrategy, endSession as endPassportSession } from '../../adapters/passport.js';
import type { GuardOptions, MiddlewareOptions } from '../../adapters/adapter.js';
import { createVerifier } from '../../src/index.js';

export const ADAPTERS = ['express 4', 'express 5', 'koa 2', 'koa 3', 'passport', 'fastify 4', 'fastify 5', 'fetch', 'hono'] as const;
export type AdapterName = (typeof ADAPTERS)[number];
export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface AppSettings {
  /**
   * The JSON body parser's size limit (Express default 100kb, @koa/bodyparser 1mb, Fastify's
   * bodyLimit 1 MiB, the fetch adapter's bodyLimit 1 MiB, Hono's bodyLimit middleware 1 MiB as documented).
   */
  limit?: string;
  /** Guard the route with requireVerified() (Passport: required), with these demands when given (not Passport: it has none). */
  guard?: boolean | GuardDemands;
}

export type GuardDemands = Pick<GuardOptions, 'schemes' | 'fields'>;

/** The guard's options in an app: the suite's logger, and the demands the settings give. */
function guardOptions(options: MiddlewareOptions, settings: AppSettings): GuardOptions {
  return { logger: options.logger, ...(typeof settings.guard === 'object' && settings.guard) };
}

export interface BuiltApp {
  handler: Handler;
  /** Errors the framework itself reported (Express error middleware, Koa's 'error' event, Fastify's onError hook, Hono's onError). */
  errors: unknown[];
}

function expressApp(createApp: typeof express5, options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const errors: unknown[] = [];
  const app = createApp();
  app.use(createApp.json(settings.limit ? { limit: settings.limit } : undefined));
  app.use(expressAdapter.identityVerification(options));
  const guard = settings.guard ? [expressAdapter.requireVerified(guardOptions(options, settings))] : [];
  app.post('/chat', ...guard, (req: express5.Request, res: express5.Response) => {
    res.json({ identity: req.identity });
  });
  // A logout: ends the request's session (docs/sessions.md).
  app.post('/logout', ...guard, (req: express5.Request, res: express5.Response, next: express5.NextFunction) => {
    expressAdapter.endSession(req, res).then((ended) => res.json({ ended }), next);
  });
  // Records what reached Express' error handling, then lets Express answer as it always does.
  app.use(((err, _req, _res, next) => {
    errors.push(err);
    next(err);
  }) as express5.ErrorRequestHandler);
  return { handler: app as unknown as Handler, errors };
}

function koaApp(Koa: typeof Koa3, options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const errors: unknown[] = [];
  const app = new Koa();
  // A listener replaces Koa's default console.error logging; the errors are kept for the test.
  app.on('error', (err: unknown) => errors.push(err));
  app.use(bodyParser(settings.limit ? { jsonLimit: settings.limit } : undefined));
  app.use(koaAdapter.identityVerification(options));
  if (settings.guard) app.use(koaAdapter.requireVerified(guardOptions(options, settings)));
  app.use(async (ctx) => {
    if (ctx.method === 'POST' && ctx.path === '/chat') ctx.body = { identity: ctx.state.identity };
    if (ctx.method === 'POST' && ctx.path === '/logout') ctx.body = { ended: await koaAdapter.endSession(ctx) };
  });
  return { handler: app.callback() as Handler, errors };
}

function passportApp(options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const errors: unknown[] = [];
  const app = express5();
  const authenticator = new passport.Passport();
  // The strategy requires by default; a case's own setting ('report' included) stands, and a guard requires.
  if (typeof settings.guard === 'object') throw new Error('a Passport strategy has no route demands (schemes, fields)');
  authenticator.use(new IdentityStrategy({ ...options, required: settings.guard === true ? true : (options.required ?? false) }));
  app.use(express5.json(settings.limit ? { limit: settings.limit } : undefined));
  app.use(authenticator.initialize());
  app.post('/chat', authenticator.authenticate('chat-identity', { session: false }), (req, res) => {
    res.json({ identity: req.authInfo });
  });
  app.post('/logout', authenticator.authenticate('chat-identity', { session: false }), (req, res, next) => {
    endPassportSession(req, res).then((ended) => res.json({ ended }), next);
  });
  app.use(((err, _req, _res, next) => {
    errors.push(err);
    next(err);
  }) as express5.ErrorRequestHandler);
  return { handler: app as unknown as Handler, errors };
}

/**
 * A Node handler over a fetch handler (@hono/node-server), fed what Node's HTTP parser would have
 * let through: inject() below skips the parser, which refuses a control character in a header
 * value with 400 before any handler runs (the fetch API's Headers would throw on it). Header bytes
 * are already read as latin1 by asNodeParses().
 */
function throughNodeParser(listener: ReturnType<typeof getRequestListener>): Handler {
  return (req, res) => {
    for (const value of Object.values(req.headers)) {
      for (const one of Array.isArray(value) ? value : [value ?? '']) {
        // eslint-disable-next-line no-control-regex -- the control characters Node's parser refuses are the point
        if (/[\0-\x08\x0a-\x1f\x7f]/.test(one)) return void ((res.statusCode = 400), res.end());
      }
    }
    req.rawHeaders = Object.entries(req.headers).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value ?? '']).flatMap((v) => [name, v]),
    );
    void listener(req, res);
  };
}

/** A size as the body parsers write it ('100kb', '2mb') in bytes, 1024 to the kilobyte as they count. */
function bytesOf(limit: string): number {
  const [, amount, unit = 'b'] = /^(\d+)(b|kb|mb)?$/i.exec(limit) ?? [];
  if (amount === undefined) throw new Error(`unknown size ${limit}`);
  return Number(amount) * { b: 1, kb: 1024, mb: 1024 * 1024 }[unit.toLowerCase() as 'b' | 'kb' | 'mb'];
}

function fastifyApp(createApp: typeof Fastify5, options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const errors: unknown[] = [];
  let handle: Handler | undefined;
  const app = createApp({
    ...(settings.limit && { bodyLimit: bytesOf(settings.limit) }),
    // Fastify's default ('error') refuses a JSON body with "constructor": { "prototype": ... } with 400
    // before any hook (test/fastify.test.ts pins it); here such a body reaches the plugin, so the
    // table's row about it runs through Fastify too. `__proto__` keeps the default: 400.
    onConstructorPoisoning: 'ignore',
    serverFactory: (handler) => ((handle = handler), createServer(handler)),
  });
  // Records what reached Fastify's error handling, which then answers as it always does.
  app.addHook('onError', async (_request, _reply, error) => void errors.push(error));
  app.register(fastifyAdapter.identityVerification, options);
  const guard = settings.guard ? { preHandler: fastifyAdapter.requireVerified(guardOptions(options, settings)) } : {};
  app.post('/chat', guard, async (request) => ({ identity: request.identity }));
  // A logout: ends the request's session (docs/sessions.md).
  app.post('/logout', guard, async (request, reply) => ({ ended: await fastifyAdapter.endSession(request, reply) }));
  const ready = Promise.resolve(app.ready());
  ready.catch(() => {}); // said by the first request
  return {
    handler: (req, res) =>
      void ready.then(
        () => handle!(req, res),
        (error: unknown) => ((res.statusCode = 500), res.end(String(error))),
      ),
    errors,
  };
}

/**
 * The fetch adapter as a Next.js route handler is written: `POST(request)` for both routes, one
 * verifier made beside it. The client's address comes in X-Forwarded-For, set from the socket by the
 * Node bridge below as `next start` or a platform's proxy sets it.
 */
function fetchApp(options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const { rejectWith: _, ...verifierOptions } = options;
  const verifier = createVerifier(verifierOptions);
  const bodyLimit = settings.limit ? bytesOf(settings.limit) : undefined;
  async function POST(request: Request): Promise<Response> {
    const ip = request.headers.get('x-forwarded-for') ?? undefined;
    const { result, rejection, headers } = await fetchAdapter.verifyRequest(request, {
      verifier,
      ip,
      requireVerified: settings.guard,
      ...(bodyLimit && { bodyLimit }),
    });
    if (rejection) return fetchAdapter.rejectionResponse(rejection);
    if (new URL(request.url).pathname === '/logout') {
      const ended = await verifier.endSession(result);
      return Response.json({ ended: ended.ended }, { headers: { ...headers, ...ended.headers } });
    }
    return Response.json({ identity: result }, { headers });
  }
  const listener = getRequestListener((request, env) => {
    const headers = new Headers(request.headers);
    const address = (env as HttpBindings).incoming.socket.remoteAddress;
    if (address) headers.set('x-forwarded-for', address);
    else headers.delete('x-forwarded-for');
    return POST(new Request(request, { headers }));
  });
  return { handler: throughNodeParser(listener), errors: [] };
}

/** Hono on Node (@hono/node-server), as documented: a body limit, the middleware, the routes. */
function honoApp(options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const errors: unknown[] = [];
  const app = new Hono<fetchAdapter.IdentityEnv>();
  // Records what reached Hono's error handling, then answers as Hono's own handler does.
  app.onError((error, c) => {
    errors.push(error);
    return 'getResponse' in error ? (error.getResponse as () => Response)() : c.text('Internal Server Error', 500);
  });
  app.use(bodyLimit({ maxSize: bytesOf(settings.limit ?? '1mb') }));
  app.use(fetchAdapter.identityVerification({ ...options, ip: (c) => getConnInfo(c).remote.address }));
  const guard: MiddlewareHandler<fetchAdapter.IdentityEnv> = settings.guard
    ? fetchAdapter.requireVerified(guardOptions(options, settings))
    : (_c, next) => next();
  app.post('/chat', guard, (c) => c.json({ identity: c.get('identity') }));
  app.post('/logout', guard, async (c) => c.json({ ended: await fetchAdapter.endSession(c) }));
  return { handler: throughNodeParser(getRequestListener(app.fetch)), errors };
}

export function buildApp(name: AdapterName, options: MiddlewareOptions, settings: AppSettings = {}): BuiltApp {
  switch (name) {
    case 'express 4':
      return expressApp(express4 as unknown as typeof express5, options, settings);
    case 'express 5':
      return expressApp(express5, options, settings);
    case 'koa 2':
      return koaApp(Koa2 as unknown as typeof Koa3, options, settings);
    case 'koa 3':
      return koaApp(Koa3, options, settings);
    case 'passport':
      return passportApp(options, settings);
    case 'fastify 4':
      return fastifyApp(Fastify4 as unknown as typeof Fastify5, options, settings);
    case 'fastify 5':
      return fastifyApp(Fastify5, options, settings);
    case 'fetch':
      return fetchApp(options, settings);
    case 'hono':
      return honoApp(options, settings);
  }
}

export function buildApps(options: MiddlewareOptions, settings: AppSettings = {}): Record<AdapterName, BuiltApp> {
  return Object.fromEntries(ADAPTERS.map((name) => [name, buildApp(name, options, settings)])) as Record<AdapterName, BuiltApp>;
}

export interface Injected {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  body: unknown;
}

/**
 * One unconnected socket shared by the injected requests: it is never read or written (the
 * request is fed from a buffer, the response captured), and sharing it halves the cost. A
 * framework that gives up on a request (a body over the limit) destroys the request and, through
 * it, the socket; this one ignores that, because a request on a dead socket looks already
 * finished to the body parsers and the next request would go unparsed. Each request is still
 * destroyed on its own, and marked complete as Node's parser marks a fully received message.
 */
const socket = new Socket();
socket.destroy = () => socket;

/**
 * Headers as Node's HTTP parser hands them on: names lower-cased, values without the spaces and
 * tabs around them (RFC 9110's optional whitespace), which inject() would otherwise keep, and each
 * byte read as one latin1 character (a client's UTF-8 U+2028 arrives as three characters, none of
 * them white space), so the core and every adapter see the same string.
 */
export function asNodeParses(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), asLatin1(value.replace(/^[ \t]+|[ \t]+$/g, ''))]),
  );
}

/** A value's UTF-8 bytes, one character each, as Node decodes header bytes. */
function asLatin1(value: string): string {
  return /[^\0-\xff]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** Sends one POST /chat through a handler without a network connection, and resolves with what it answered. */
export function inject(handler: Handler, request: { headers?: Record<string, string>; body?: string | Buffer }): Promise<Injected> {
  return new Promise((resolve, reject) => {
    const req = new IncomingMessage(socket);
    const payload =
      request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
    req.method = 'POST';
    req.url = '/chat';
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    // A Host, as every HTTP/1.1 request carries one (@hono/node-server answers 400 without).
    const headers: IncomingHttpHeaders = { host: 'chat.example', ...asNodeParses(request.headers ?? {}) };
    if (payload) headers['content-length'] = String(payload.length);
    req.headers = headers;
    req.rawHeaders = Object.entries(headers).flatMap(([k, v]) => [k, String(v)]);
    if (payload) req.push(payload);
    req.push(null);
    // As Node's parser says once the whole message has arrived (finished-ness checks read it).
    req.complete = true;

    const res = new ServerResponse(req);
    // Headers handed to writeHead (Fastify, @hono/node-server) become set headers, so getHeaders() sees them.
    const writeHead = res.writeHead.bind(res);
    res.writeHead = ((status: number, reason?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders) => {
      const given = typeof reason === 'object' ? reason : headers;
      for (const [name, value] of Array.isArray(given) ? pairsOf(given) : Object.entries(given ?? {}))
        if (value !== undefined) res.setHeader(name, value);
      return typeof reason === 'string' ? writeHead(status, reason) : writeHead(status);
    }) as typeof res.writeHead;
    const chunks: Buffer[] = [];
    const collect = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(
        chunk instanceof Uint8Array
          ? Buffer.from(chunk)
          : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'),
      );
    };
    res.write = ((chunk: unknown, encoding?: unknown) => (collect(chunk, encoding), true)) as typeof res.write;
    res.end = ((chunk?: unknown, encoding?: unknown) => {
      collect(chunk, encoding);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      resolve({ status: res.statusCode, headers: res.getHeaders(), text, body });
      return res;
    }) as typeof res.end;
    try {
      handler(req, res);
    } catch (error) {
      reject(error);
    }
  });
}

/** [name, value, name, value, ...] as [name, value] pairs. */
function pairsOf(flat: readonly unknown[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([String(flat[i]), String(flat[i + 1])]);
  return pairs;
}
