/**
 * Fastify 4 and 5 beyond the conformance table (which runs Fastify's own handler behind a socket):
 * the documented app through `fastify.inject()` and through `app.listen()` on a real port,
 * `rejectWith: 'error'` through Fastify's error handling, the plugin's scope, misconfiguration,
 * and what Fastify does before any hook.
 */
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import { afterEach, describe, expect, it } from 'vitest';
import * as forFastify from '../adapters/fastify.js';
import type { MiddlewareOptions } from '../adapters/adapter.js';
import { IdentityError, signJwt } from '../src/index.js';
import { LIVE_KEY, frozenClock } from './helpers.js';
import { INVALID, MISSING, forged, options, quiet, valid } from './support/middleware.js';

const FASTIFY = [
  ['fastify 4', Fastify4 as unknown as typeof Fastify5],
  ['fastify 5', Fastify5],
] as const;

const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => void (await Promise.all(apps.splice(0).map((app) => app.close()))));

/** The README's app: the plugin on every request, one guarded route, one open one. */
function documentedApp(Fastify: typeof Fastify5, extra: Partial<MiddlewareOptions> = {}) {
  const app = Fastify();
  apps.push(app);
  app.register(forFastify.identityVerification, options(extra));
  app.post('/chat', { preHandler: forFastify.requireVerified() }, async (request) => ({
    hello: forFastify.identityOf(request).contact.externalId,
  }));
  app.post('/open', async (request) => ({ verified: request.identity?.verified ?? null }));
  return app;
}

describe.each(FASTIFY)('%s', (_name, Fastify) => {
  it('through fastify.inject(): verified, refused, anonymous', async () => {
    const app = documentedApp(Fastify);
    const good = await app.inject({ method: 'POST', url: '/chat', payload: valid });
    expect([good.statusCode, good.json()]).toEqual([200, { hello: 'u1' }]);
    const bad = await app.inject({ method: 'POST', url: '/chat', payload: forged });
    expect([bad.statusCode, bad.json(), bad.headers['content-type']]).toEqual([401, INVALID, 'application/json; charset=utf-8']);
    const none = await app.inject({ method: 'POST', url: '/chat', payload: {} });
    expect([none.statusCode, none.json()]).toEqual([401, MISSING]);
    expect((await app.inject({ method: 'POST', url: '/open', payload: forged })).json()).toEqual({ verified: false });
  });

  it('over a real socket (app.listen), the same answers', async () => {
    const app = documentedApp(Fastify, { scheme: 'jwt' });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const post = (headers: Record<string, string>) => fetch(`${url}/chat`, { method: 'POST', headers });
    const good = await post({ authorization: `Bearer ${signJwt({ externalId: 'u1' }, LIVE_KEY, { now: frozenClock })}` });
    expect([good.status, await good.json()]).toEqual([200, { hello: 'u1' }]);
    const none = await post({});
    expect([none.status, await none.json()]).toEqual([401, MISSING]);
    const bad = await post({ authorization: 'Bearer not.a.token' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm="chat-identity", error="invalid_token"/);
  });

  it("rejectWith: 'error' hands the IdentityError to setErrorHandler, from the plugin and from the guard", async () => {
    const app = Fastify();
    apps.push(app);
    app.setErrorHandler((error, _request, reply) => {
      if (!(error instanceof IdentityError)) return reply.send(error);
      return reply
        .code(error.status)
        .headers(error.headers)
        .send({ ...error.body, handledBy: 'app' });
    });
    app.register(async (chat) => {
      chat.register(forFastify.identityVerification, options({ rejectWith: 'error' }));
      chat.post('/chat', { preHandler: forFastify.requireVerified({ rejectWith: 'error' }) }, async () => ({ reached: true }));
    });
    app.register(async (strict) => {
      strict.register(forFastify.identityVerification, options({ required: true, rejectWith: 'error' }));
      strict.post('/strict', async () => ({ reached: true }));
    });
    const guarded = await app.inject({ method: 'POST', url: '/chat', payload: forged });
    expect([guarded.statusCode, guarded.json()]).toEqual([401, { ...INVALID, handledBy: 'app' }]);
    const required = await app.inject({ method: 'POST', url: '/strict', payload: {} });
    expect([required.statusCode, required.json()]).toEqual([401, { ...MISSING, handledBy: 'app' }]);
  });

  it("rejectWith: 'error' with Fastify's default error handler: its status, headers and code, Fastify's body shape", async () => {
    const app = Fastify();
    apps.push(app);
    app.register(forFastify.identityVerification, options({ scheme: 'jwt', required: true, rejectWith: 'error' }));
    app.post('/chat', async () => ({ reached: true }));
    const res = await app.inject({ method: 'POST', url: '/chat', headers: { authorization: 'Bearer not.a.token' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="chat-identity", error="invalid_token"/);
    expect(res.json()).toEqual({
      statusCode: 401,
      code: 'MALFORMED_IDENTITY',
      error: 'Unauthorized',
      message: 'The identity proof is malformed.',
    });
  });

  it('verifies before a body schema strips the proof (preValidation), and the route still gets the validated body', async () => {
    const app = Fastify({ ajv: { customOptions: { removeAdditional: 'all' } } });
    apps.push(app);
    app.register(forFastify.identityVerification, options());
    const schema = { body: { type: 'object', properties: { text: { type: 'string' } }, additionalProperties: false } };
    app.post('/chat', { schema, preHandler: forFastify.requireVerified() }, async (request) => ({
      body: request.body,
      id: forFastify.identityOf(request).contact.externalId,
    }));
    const res = await app.inject({ method: 'POST', url: '/chat', payload: { ...valid, text: 'hi' } });
    expect(res.json()).toEqual({ body: { text: 'hi' }, id: 'u1' });
  });

  it('the plugin covers the scope it is registered in, not a sibling: there the guard refuses, and says why once', async () => {
    const logger = quiet();
    const app = Fastify();
    apps.push(app);
    app.register(async (chat) => {
      chat.register(forFastify.identityVerification, options());
      chat.post('/chat', { preHandler: forFastify.requireVerified() }, async () => ({ reached: true }));
    });
    app.register(async (other) => {
      other.post('/other', { preHandler: forFastify.requireVerified({ logger }) }, async (request) => ({
        reached: true,
        identity: request.identity,
      }));
      other.post('/peek', async (request) => ({ absent: request.identity === undefined }));
      other.post('/unguarded', async (request) => forFastify.identityOf(request));
    });
    expect((await app.inject({ method: 'POST', url: '/chat', payload: valid })).json()).toEqual({ reached: true });
    for (let i = 0; i < 2; i++) {
      const res = await app.inject({ method: 'POST', url: '/other', payload: valid });
      expect([res.statusCode, res.json()]).toEqual([401, MISSING]);
    }
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/Register the identityVerification plugin/);
    // Outside its scope request.identity is absent (undefined, not null), and identityOf() throws the 401.
    expect((await app.inject({ method: 'POST', url: '/peek', payload: valid })).json()).toEqual({ absent: true });
    expect((await app.inject({ method: 'POST', url: '/unguarded', payload: valid })).statusCode).toBe(401);
  });

  it('identityOf() outside the guard throws the rejection (fail closed); registered twice in a scope, or again inside it, is refused at start-up', async () => {
    const app = documentedApp(Fastify);
    app.post('/unguarded', async (request) => ({ id: forFastify.identityOf(request).contact.externalId }));
    const res = await app.inject({ method: 'POST', url: '/unguarded', payload: forged });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'INVALID_SIGNATURE' });
    expect(res.body).not.toContain('admin');

    const twice = Fastify();
    apps.push(twice);
    twice.register(forFastify.identityVerification, options());
    twice.register(forFastify.identityVerification, options());
    await expect(twice.ready()).rejects.toThrow(/request\.identity is taken/);
    const nested = Fastify();
    apps.push(nested);
    nested.register(forFastify.identityVerification, options());
    nested.register(async (child) => void child.register(forFastify.identityVerification, options({ required: true })));
    await expect(nested.ready()).rejects.toThrow(/request\.identity is taken/);
  });

  it("refuses a JSON body with __proto__ (and, by default, constructor.prototype) with 400 before any hook: Fastify's own parser", async () => {
    const app = documentedApp(Fastify);
    for (const text of ['{"__proto__":{"verified":true}}', '{"constructor":{"prototype":{"verified":true}}}']) {
      const res = await app.inject({ method: 'POST', url: '/chat', headers: { 'content-type': 'application/json' }, payload: text });
      expect(res.statusCode).toBe(400);
      expect(res.json()).not.toHaveProperty('hello');
    }
  });
});
