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
import { createGuard, createRequestCheck, type MiddlewareOptions } from '../../adapters/adapter.js';
import type { VerifyRequest } from '../../src/index.js';
import type { CaseRequest } from './cases.js';

export interface Outcome {
  status: number;
  body: unknown;
  retryAfter?: string;
}

/** Sends the case's requests (the `before` ones first) through one app built with these options. */
export type Path = (options: MiddlewareOptions, guard: boolean, requests: CaseRequest[]) => Promise<Outcome>;

/** The core, called the way every adapter calls it, with the request an HTTP server would give it. */
const core: Path = async (options, guard, requests) => {
  const check = createRequestCheck(options);
  let outcome: Outcome | undefined;
  for (const req of requests) {
    const headers: Record<string, string> = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const plain: VerifyRequest = { headers, body: req.rawBody ? (req.rawBody.type.includes('json') ? JSON.parse(req.rawBody.text) : undefined) : req.body, query: {}, params: {}, ip: '127.0.0.1' };
    const { result, rejection } = await check.check(plain, '');
    const refused = rejection ?? (guard ? createGuard().check(result, '') : undefined);
    outcome = refused
      ? { status: refused.status, body: refused.body, ...(refused.headers['Retry-After'] && { retryAfter: refused.headers['Retry-After'] }) }
      : { status: 200, body: JSON.parse(JSON.stringify({ identity: result })) };
  }
  return outcome!;
};

async function send(server: Parameters<typeof request>[0], requests: CaseRequest[]): Promise<Outcome> {
  let outcome: Outcome | undefined;
  for (const req of requests) {
    let call = request(server).post('/chat');
    for (const [name, value] of Object.entries(req.headers ?? {})) call = call.set(name, value);
    if (req.rawBody) call = call.set('Content-Type', req.rawBody.type).send(req.rawBody.text);
    else if (req.body !== undefined) call = call.send(req.body as object);
    const res = await call;
    outcome = { status: res.status, body: res.body, ...(res.headers['retry-after'] && { retryAfter: res.headers['retry-after'] }) };
  }
  return outcome!;
}

function expressPath(createApp: typeof express5): Path {
  return (options, guard, requests) => {
    const app = createApp();
    app.use(createApp.json());
    app.use(expressAdapter.identityVerification(options));
    const handlers = guard ? [expressAdapter.requireVerified()] : [];
    app.post('/chat', ...handlers, (rq: express5.Request, res: express5.Response) => {
      res.json({ identity: rq.identity });
    });
    return send(app, requests);
  };
}

function koaPath(Koa: typeof Koa3): Path {
  return (options, guard, requests) => {
    const app = new Koa();
    const router = new Router();
    const handlers = guard ? [koaAdapter.requireVerified()] : [];
    router.post('/chat', ...handlers, (ctx) => {
      ctx.body = { identity: ctx.state.identity };
    });
    app.use(bodyParser());
    app.use(koaAdapter.identityVerification(options));
    app.use(router.routes());
    const server = app.callback() as unknown as Server;
    return send(server, requests);
  };
}

/** Passport: authenticating is requiring, so a guarded case is `required: true`. */
const passportPath: Path = (options, guard, requests) => {
  const app = express5();
  const authenticator = new passport.Passport();
  authenticator.use(new IdentityStrategy({ ...options, required: options.required === true || guard }));
  app.use(express5.json());
  app.use(authenticator.initialize());
  app.post('/chat', authenticator.authenticate('chat-identity', { session: false }), (rq, res) => {
    res.json({ identity: rq.authInfo });
  });
  return send(app, requests);
};

export const PATHS: Record<string, Path> = {
  core,
  'express 4': expressPath(express4 as unknown as typeof express5),
  'express 5': expressPath(express5),
  'koa 2': koaPath(Koa2 as unknown as typeof Koa3),
  'koa 3': koaPath(Koa3),
  passport: passportPath,
};
