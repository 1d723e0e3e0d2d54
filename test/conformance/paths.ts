/**
 * The paths a request can take: the core on its own, and real app instances for every adapter.
 * Each returns the HTTP status and JSON body; a route that is reached answers `{ identity }`.
 */
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import express5 from 'express';
import express4 from 'express4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import passport from 'passport';
import request from 'supertest';
import type { Server } from 'node:http';
import * as expressAdapter from '../../adapters/express.js';
import * as koaAdapter from '../../adapters/koa.js';
import { IdentityStrategy } from '../../adapters/passport.js';
import { createGuard, createRequestCheck, type MiddlewareOptions, type VerifyRequest } from '../../src/index.js';
import type { ConformanceCase } from './cases.js';

export interface Outcome {
  status: number;
  body: unknown;
}

export type Path = (options: MiddlewareOptions, guard: boolean, req: ConformanceCase['request']) => Promise<Outcome>;

/** The core, called the way every adapter calls it, with the request an HTTP server would give it. */
const core: Path = async (options, guard, req) => {
  const headers: Record<string, string> = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const plain: VerifyRequest = { headers, body: req.rawBody ? (req.rawBody.type.includes('json') ? JSON.parse(req.rawBody.text) : undefined) : req.body, query: {}, params: {}, ip: '127.0.0.1' };
  const { result, rejection } = await createRequestCheck(options).check(plain, '');
  const refused = rejection ?? (guard ? createGuard().check(result, '') : undefined);
  if (refused) return { status: refused.status, body: refused.body };
  return { status: 200, body: JSON.parse(JSON.stringify({ identity: result })) };
};

function send(server: Parameters<typeof request>[0], req: ConformanceCase['request']): Promise<Outcome> {
  let call = request(server).post('/chat');
  for (const [name, value] of Object.entries(req.headers ?? {})) call = call.set(name, value);
  if (req.rawBody) call = call.set('Content-Type', req.rawBody.type).send(req.rawBody.text);
  else if (req.body !== undefined) call = call.send(req.body as object);
  return call.then((res) => ({ status: res.status, body: res.body }));
}

function expressPath(createApp: typeof express5): Path {
  return (options, guard, req) => {
    const app = createApp();
    app.use(createApp.json());
    app.use(expressAdapter.identityVerification(options));
    const handlers = guard ? [expressAdapter.requireVerified()] : [];
    app.post('/chat', ...handlers, (rq: express5.Request, res: express5.Response) => {
      res.json({ identity: rq.identity });
    });
    return send(app, req);
  };
}

function koaPath(Koa: typeof Koa3): Path {
  return (options, guard, req) => {
    const app = new Koa();
    const router = new Router();
    const handlers = guard ? [koaAdapter.requireVerified()] : [];
    router.post('/chat', ...handlers, (ctx) => {
      ctx.body = { identity: ctx.state.identity };
    });
    app.use(bodyParser());
    app.use(koaAdapter.identityVerification(options));
    app.use(router.routes());
    return send(app.callback() as unknown as Server, req);
  };
}

/** Passport: authenticating is requiring, so a guarded case is `required: true`. */
const passportPath: Path = (options, guard, req) => {
  const app = express5();
  const authenticator = new passport.Passport();
  authenticator.use(new IdentityStrategy({ ...options, required: options.required === true || guard }));
  app.use(express5.json());
  app.use(authenticator.initialize());
  app.post('/chat', authenticator.authenticate('chat-identity', { session: false }), (rq, res) => {
    res.json({ identity: rq.authInfo });
  });
  return send(app, req);
};

export const PATHS: Record<string, Path> = {
  core,
  'express 4': expressPath(express4 as unknown as typeof express5),
  'express 5': expressPath(express5),
  'koa 2': koaPath(Koa2 as unknown as typeof Koa3),
  'koa 3': koaPath(Koa3),
  passport: passportPath,
};
