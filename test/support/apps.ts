/**
 * The five adapter apps, built the documented way, and a driver that hands them a request
 * in-process: a real `IncomingMessage` fed from a buffer and a real `ServerResponse` whose output
 * is captured, with no network connection. That costs about 0.1 ms a request against 0.3–0.5 ms
 * over a keep-alive socket, which is what lets the property tests send 10,000 inputs through every
 * adapter in CI. The socket path (Node's own HTTP parser) is what the conformance table and the
 * header-size test in attacks.test.ts use.
 */
import bodyParser from '@koa/bodyparser';
import express5 from 'express';
import express4 from 'express4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import passport from 'passport';
import { IncomingMessage, ServerResponse, type IncomingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import * as expressAdapter from '../../adapters/express.js';
import * as koaAdapter from '../../adapters/koa.js';
import { IdentityStrategy, endSession as endPassportSession } from '../../adapters/passport.js';
import type { MiddlewareOptions } from '../../adapters/adapter.js';

export const ADAPTERS = ['express 4', 'express 5', 'koa 2', 'koa 3', 'passport'] as const;
export type AdapterName = (typeof ADAPTERS)[number];
export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface AppSettings {
  /** The JSON body parser's size limit (Express default 100kb, @koa/bodyparser default 1mb). */
  limit?: string;
  /** Guard the route with requireVerified() (Passport: required). */
  guard?: boolean;
}

export interface BuiltApp {
  handler: Handler;
  /** Errors the framework itself reported (Express error middleware, Koa's 'error' event). */
  errors: unknown[];
}

function expressApp(createApp: typeof express5, options: MiddlewareOptions, settings: AppSettings): BuiltApp {
  const errors: unknown[] = [];
  const app = createApp();
  app.use(createApp.json(settings.limit ? { limit: settings.limit } : undefined));
  app.use(expressAdapter.identityVerification(options));
  const guard = settings.guard ? [expressAdapter.requireVerified({ logger: options.logger })] : [];
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
  if (settings.guard) app.use(koaAdapter.requireVerified({ logger: options.logger }));
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
  authenticator.use(new IdentityStrategy({ ...options, required: options.required === true || settings.guard === true }));
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

/** Sends one POST /chat through a handler without a network connection, and resolves with what it answered. */
export function inject(handler: Handler, request: { headers?: Record<string, string>; body?: string | Buffer }): Promise<Injected> {
  return new Promise((resolve, reject) => {
    const req = new IncomingMessage(socket);
    const payload = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
    req.method = 'POST';
    req.url = '/chat';
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    const headers: IncomingHttpHeaders = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    if (payload) headers['content-length'] = String(payload.length);
    req.headers = headers;
    req.rawHeaders = Object.entries(headers).flatMap(([k, v]) => [k, String(v)]);
    if (payload) req.push(payload);
    req.push(null);
    // As Node's parser says once the whole message has arrived (finished-ness checks read it).
    req.complete = true;

    const res = new ServerResponse(req);
    const chunks: Buffer[] = [];
    const collect = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
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
