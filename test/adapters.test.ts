/**
 * What the conformance table does not cover: delivering rejections as errors, misconfiguration
 * said once, Passport specifics, and every way tried to reach a guarded route unverified.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import express, { type ErrorRequestHandler } from 'express';
import Fastify, { type preValidationHookHandler } from 'fastify';
import Koa from 'koa';
import passport from 'passport';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as forExpress from '../adapters/express.js';
import * as forFastify from '../adapters/fastify.js';
import * as forKoa from '../adapters/koa.js';
import { IdentityStrategy } from '../adapters/passport.js';
import { createRequestCheck, toVerifyRequest, type MiddlewareOptions } from '../adapters/adapter.js';
import { createVerifier, IdentityError, signJwt, signUserHash, signVisitorHash } from '../src/index.js';
import { LIVE_KEY, SECOND_SCHEME_KEY, frozenClock } from './helpers.js';
import { ADAPTERS, buildApp, inject } from './support/apps.js';
import { forged, options, quiet, valid } from './support/middleware.js';

/** Renders any error as JSON so tests can see what reached the handler. */
const renderErrors: ErrorRequestHandler = (err, _req, res, _next) => {
  res.status(err.status ?? 500).json({ handledBy: 'app', name: err.name, code: err.code, isIdentityError: err instanceof IdentityError });
};

describe("rejectWith: 'error' hands the rejection to the framework", () => {
  it('Express: next(IdentityError) reaches the app error handler', async () => {
    const app = express()
      .use(express.json())
      .use(forExpress.identityVerification(options({ required: true, rejectWith: 'error' })));
    app.post('/chat', (_req, res) => res.json({ reached: true }));
    app.use(renderErrors);
    const res = await request(app).post('/chat').send(forged);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ handledBy: 'app', name: 'IdentityError', code: 'INVALID_SIGNATURE', isIdentityError: true });
  });

  it('Express: requireVerified({ rejectWith: "error" }) too', async () => {
    const app = express().use(express.json()).use(forExpress.identityVerification(options()));
    app.post('/chat', forExpress.requireVerified({ rejectWith: 'error' }), (_req, res) => res.json({ reached: true }));
    app.use(renderErrors);
    expect((await request(app).post('/chat').send({})).body).toMatchObject({ handledBy: 'app', code: 'MISSING_IDENTITY' });
  });

  it("Koa: the IdentityError is thrown, and Koa's own handler uses its status and exposed message", async () => {
    const app = new Koa().use(bodyParser()).use(forKoa.identityVerification(options({ required: true, rejectWith: 'error' })));
    app.on('error', () => {});
    const res = await request(app.callback()).post('/chat').send(forged);
    expect(res.status).toBe(401);
    expect(res.text).toBe('The identity signature is not valid.');
  });

  it('Koa: an app error middleware sees the IdentityError', async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (err) {
        ctx.status = (err as IdentityError).status;
        ctx.body = { handledBy: 'app', code: (err as IdentityError).code, isIdentityError: err instanceof IdentityError };
      }
    });
    app.use(bodyParser()).use(forKoa.identityVerification(options()));
    const router = new Router().post('/chat', forKoa.requireVerified({ rejectWith: 'error' }), (ctx) => {
      ctx.body = 'reached';
    });
    app.use(router.routes());
    expect((await request(app.callback()).post('/chat').send(forged)).body).toEqual({
      handledBy: 'app',
      code: 'INVALID_SIGNATURE',
      isIdentityError: true,
    });
  });
});

describe('misconfiguration is said once, and fails closed', () => {
  it('Express without a JSON body parser', async () => {
    const logger = quiet();
    const app = express().use(forExpress.identityVerification(options({ required: true, logger })));
    app.post('/chat', (_req, res) => res.json({ reached: true }));
    for (let i = 0; i < 3; i++) {
      const res = await request(app).post('/chat').send(valid);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('MISSING_IDENTITY');
    }
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/express\.json\(\)/);
  });

  it('Koa without a body parser', async () => {
    const logger = quiet();
    const app = new Koa().use(forKoa.identityVerification(options({ required: true, logger })));
    for (let i = 0; i < 3; i++) expect((await request(app.callback()).post('/chat').send(valid)).status).toBe(401);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/bodyParser\(\)/);
  });

  it('no warning when the body is not JSON or a parser ran', async () => {
    const logger = quiet();
    const app = express()
      .use(express.json())
      .use(forExpress.identityVerification(options({ logger })));
    app.post('/chat', (_req, res) => res.json({ reached: true }));
    await request(app).post('/chat').send(valid);
    await request(app).post('/chat').set('Content-Type', 'text/plain').send('hello');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('requireVerified() with no identityVerification() before it (Express and Koa)', async () => {
    const logger = quiet();
    const app = express().use(express.json());
    app.post('/chat', forExpress.requireVerified({ logger }), (_req, res) => res.json({ reached: true }));
    for (let i = 0; i < 3; i++) expect((await request(app).post('/chat').send(valid)).body).toMatchObject({ code: 'MISSING_IDENTITY' });
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/identityVerification/);

    const koaLogger = quiet();
    const koa = new Koa().use(bodyParser()).use(forKoa.requireVerified({ logger: koaLogger }));
    for (let i = 0; i < 2; i++) expect((await request(koa.callback()).post('/chat').send(valid)).status).toBe(401);
    expect(koaLogger.error).toHaveBeenCalledTimes(1);
  });

  it('Koa: no warning when the proof came in the Authorization header and verified, though a JSON body went unparsed', async () => {
    const logger = quiet();
    const token = signJwt({ externalId: 'u1' }, LIVE_KEY, { now: frozenClock });
    const app = new Koa()
      .use(forKoa.identityVerification(options({ scheme: 'jwt', required: true, logger })))
      .use((ctx) => void (ctx.body = { ok: true }));
    const res = await request(app.callback()).post('/chat').set('Authorization', `Bearer ${token}`).send({ message: 'hi' });
    expect(res.status).toBe(200);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('a misspelt option is refused when the middleware or guard is built, naming the closest one', () => {
    const misspelt = { ...options(), requried: true } as MiddlewareOptions;
    expect(() => forExpress.identityVerification(misspelt)).toThrow(/"requried"; did you mean "required"\?/);
    expect(() => forKoa.identityVerification(misspelt)).toThrow(/did you mean "required"/);
    expect(() => new IdentityStrategy(misspelt)).toThrow(/did you mean "required"/);
    expect(() =>
      forExpress.identityVerification({ ...options(), rateLimit: { identiy: { points: 3, duration: 60 } } } as MiddlewareOptions),
    ).toThrow(/rateLimit has no option "identiy"; did you mean "identity"/);
    expect(() => forExpress.identityVerification({ ...options(), rejectWith: 'throw' } as unknown as MiddlewareOptions)).toThrow(
      /rejectWith/,
    );
    expect(() => forExpress.requireVerified({ schems: ['jwt'] } as object)).toThrow(/no option "schems"; valid: .*schemes/);
  });

  it('a logger that cannot log is refused when the middleware or guard is built, not by the first request that logs', () => {
    for (const logger of [{}, 'console', { error() {} }, null]) {
      const withLogger = options({ logger: logger as never });
      expect(() => forExpress.identityVerification(withLogger)).toThrow(/logger must have warn\(\) and error\(\)/);
      expect(() => forKoa.identityVerification(withLogger)).toThrow(/logger must have warn\(\) and error\(\)/);
      expect(() => new IdentityStrategy(withLogger)).toThrow(/logger must have warn\(\) and error\(\)/);
      expect(() => forExpress.requireVerified({ logger: logger as never })).toThrow(/logger must have warn\(\) and error\(\)/);
    }
  });

  it('options beside a built verifier are refused, not dropped (required: true would be ignored)', () => {
    const verifier = createVerifier(options());
    expect(() => createRequestCheck({ verifier, required: true } as never)).toThrow(
      /no option "required"; valid: verifier, logger, rejectWith/,
    );
    expect(() => createRequestCheck({ verifier: {} } as never)).toThrow(/options.verifier must be a verifier made with createVerifier\(\)/);
    expect(createRequestCheck({ verifier, rejectWith: 'error', logger: quiet() }).rejectWith).toBe('error');
  });

  it('a Passport strategy without options, or with a name that is not a string, is refused with a clear message', () => {
    expect(() => new IdentityStrategy(undefined as never)).toThrow(/new IdentityStrategy\(options\) needs the verifier options/);
    expect(() => new IdentityStrategy({ ...options(), name: 5 } as never)).toThrow(/strategy name must be a non-empty string/);
  });

  it('no keys configured: refused when the middleware is built, in every adapter', () => {
    const noKeys = { scheme: 'user-hash', keys: [] } as MiddlewareOptions;
    expect(() => forExpress.identityVerification(noKeys)).toThrow(/keys/);
    expect(() => forKoa.identityVerification(noKeys)).toThrow(/keys/);
    expect(() => new IdentityStrategy(noKeys)).toThrow(/keys/);
  });
});

describe('identityOf(): the verified identity of a guarded request, typed', () => {
  it('Express and Koa: the verified result behind the guard; anything else throws the rejection (fail closed)', async () => {
    const app = express().use(express.json()).use(forExpress.identityVerification(options()));
    app.post('/guarded', forExpress.requireVerified(), (req, res) => res.json({ id: forExpress.identityOf(req).contact.externalId }));
    app.post('/unguarded', (req, res) => res.json({ id: forExpress.identityOf(req).contact.externalId }));
    app.use(renderErrors);
    expect((await request(app).post('/guarded').send(valid)).body).toEqual({ id: 'u1' });
    expect((await request(app).post('/unguarded').send(forged)).body).toMatchObject({ name: 'IdentityError', code: 'INVALID_SIGNATURE' });
    const router = new Router();
    router.post('/unguarded', (ctx) => void (ctx.body = { id: forKoa.identityOf(ctx).contact.externalId }));
    const koa = new Koa().use(bodyParser()).use(forKoa.identityVerification(options())).use(router.routes()).callback();
    expect((await request(koa).post('/unguarded').send(valid)).body).toEqual({ id: 'u1' });
    expect((await request(koa).post('/unguarded').send(forged)).status).toBe(401);
  });
});

describe('bearer tokens are refused as RFC 6750 describes: WWW-Authenticate', () => {
  const jwtApp = () => {
    const app = express()
      .use(express.json())
      .use(
        forExpress.identityVerification(options({ scheme: 'jwt', required: true, rateLimit: { identity: { points: 1, duration: 60 } } })),
      );
    app.post('/chat', (_req, res) => res.json({ reached: true }));
    return app;
  };
  it('a refused token: error="invalid_token"; no token: the bare challenge; 429: none', async () => {
    const app = jwtApp();
    const forgedToken = signJwt({ externalId: 'a' }, 'not-the-key', { now: frozenClock });
    const refused = await request(app).post('/chat').set('Authorization', `Bearer ${forgedToken}`);
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer realm="chat-identity", error="invalid_token", error_description="The identity signature is not valid."',
    );
    const none = await request(app).post('/chat').send({});
    expect(none.headers['www-authenticate']).toBe('Bearer realm="chat-identity"');
    const limited = await request(app).post('/chat').set('Authorization', `Bearer ${forgedToken}`);
    expect(limited.status).toBe(429);
    expect(limited.headers['www-authenticate']).toBeUndefined();
  });
  it.each(ADAPTERS)('%s: a requireVerified() route answers no token with the bare challenge, as required: true does', async (name) => {
    // Passport's strategy is required by default; the others guard the route with requireVerified().
    const { handler } = buildApp(name, options({ scheme: 'jwt' }), { guard: true });
    const none = await inject(handler, { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="chat-identity"');
  });
  it.each(ADAPTERS.filter((name) => name !== 'passport'))(
    '%s: a verified proof a requireVerified({ schemes }) or ({ fields }) route refuses gets the challenge too (RFC 9110: a 401 carries one)',
    async (name) => {
      const both = options({ scheme: ['jwt', 'user-hash'], keys: { jwt: [LIVE_KEY], 'user-hash': [SECOND_SCHEME_KEY] } });
      const json = { 'content-type': 'application/json' };
      const jwtOnly = buildApp(name, both, { guard: { schemes: ['jwt'] } }).handler;
      const userHash = JSON.stringify({ user_id: 'u1', user_hash: signUserHash('u1', SECOND_SCHEME_KEY) });
      const refused = await inject(jwtOnly, { headers: json, body: userHash });
      expect([refused.status, (refused.body as { code: string }).code]).toEqual([401, 'MISSING_IDENTITY']);
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="chat-identity"');

      const withEmail = buildApp(name, both, { guard: { fields: ['email'] } }).handler;
      const bearer = (claims: Record<string, string>) => ({
        ...json,
        authorization: `Bearer ${signJwt(claims, LIVE_KEY, { now: frozenClock })}`,
      });
      const noEmail = await inject(withEmail, { headers: bearer({ externalId: 'u1' }), body: '{}' });
      expect([noEmail.status, (noEmail.body as { code: string }).code]).toEqual([401, 'MISSING_REQUIRED_FIELD']);
      expect(noEmail.headers['www-authenticate']).toBe('Bearer realm="chat-identity"');
      expect((await inject(withEmail, { headers: bearer({ externalId: 'u1', email: 'a@example.com' }), body: '{}' })).status).toBe(200);
    },
  );
  it('a verifier that takes no tokens adds no challenge', async () => {
    const app = express()
      .use(express.json())
      .use(forExpress.identityVerification(options({ required: true })));
    app.post('/chat', (_req, res) => res.json({ reached: true }));
    expect((await request(app).post('/chat').send(forged)).headers['www-authenticate']).toBeUndefined();
  });
});

describe('Passport strategy', () => {
  function passportApp(
    strategy: IdentityStrategy,
    authenticateOptions: passport.AuthenticateOptions = { session: false },
    name = 'chat-identity',
  ) {
    const authenticator = new passport.Passport();
    authenticator.use(strategy);
    const app = express().use(express.json()).use(authenticator.initialize());
    app.post('/chat', authenticator.authenticate(name, authenticateOptions), (req, res) => {
      res.json({ user: req.user ?? null, authInfo: req.authInfo ?? null });
    });
    app.use(renderErrors);
    return app;
  }

  it('is named chat-identity, requires by default, and puts the contact at req.user and the result at req.authInfo', async () => {
    const strategy = new IdentityStrategy(options());
    expect(strategy.name).toBe('chat-identity');
    const app = passportApp(strategy);
    const ok = await request(app).post('/chat').send(valid);
    expect(ok.body).toMatchObject({
      user: { externalId: 'u1' },
      authInfo: { verified: true, scheme: 'user-hash', contact: { externalId: 'u1' } },
    });
    const none = await request(app).post('/chat').send({});
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: 'identity_unverified', code: 'MISSING_IDENTITY', message: 'No identity proof was presented.' });
  });

  it('with required: false, passes an invalid request on with no req.user', async () => {
    const res = await request(passportApp(new IdentityStrategy(options({ required: false }))))
      .post('/chat')
      .send(forged);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: null,
      authInfo: {
        verified: false,
        scheme: 'user-hash',
        error: { code: 'INVALID_SIGNATURE', message: 'The identity signature is not valid.' },
      },
    });
  });

  it('works without { session: false } when the app has no session support (it answered 500 before)', async () => {
    const res = await request(passportApp(new IdentityStrategy(options()), {}))
      .post('/chat')
      .send(valid);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { externalId: 'u1' }, authInfo: { verified: true, contact: { externalId: 'u1' } } });
  });

  it('takes another name', async () => {
    const res = await request(passportApp(new IdentityStrategy({ ...options(), name: 'widget' }), { session: false }, 'widget'))
      .post('/chat')
      .send(valid);
    expect(res.body.user).toMatchObject({ externalId: 'u1' });
  });

  it("rejectWith: 'error' passes the IdentityError to next(err)", async () => {
    const res = await request(passportApp(new IdentityStrategy({ ...options(), rejectWith: 'error' })))
      .post('/chat')
      .send(forged);
    expect(res.body).toEqual({ handledBy: 'app', name: 'IdentityError', code: 'INVALID_SIGNATURE', isIdentityError: true });
  });

  it("rejectWith: 'fail' hands Passport a failure with the status (failWithError, chains)", async () => {
    const res = await request(
      passportApp(new IdentityStrategy({ ...options(), rejectWith: 'fail' }), { session: false, failWithError: true }),
    )
      .post('/chat')
      .send(forged);
    expect(res.body).toMatchObject({ handledBy: 'app', name: 'AuthenticationError' });
    expect(res.status).toBe(401);
  });

  describe('an asynchronous failure reaches Passport as an error, never an unhandled rejection', () => {
    const unhandled = vi.fn();
    afterEach(() => process.off('unhandledRejection', unhandled));

    it('onVerified rejecting', async () => {
      process.on('unhandledRejection', unhandled);
      const strategy = new IdentityStrategy(options({ onVerified: () => Promise.reject(new Error('contact store down')) }));
      const res = await request(passportApp(strategy)).post('/chat').send(valid);
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ handledBy: 'app', name: 'Error' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
    });
  });
});

describe('requireVerified({ schemes, fields }): a route can demand a scheme or verified fields', () => {
  const visitorOptions = options({
    scheme: ['user-hash', 'visitor-hash'],
    keys: { 'user-hash': [LIVE_KEY], 'visitor-hash': [`${LIVE_KEY}-visitors`] },
  });
  const visitor = { anonymousUserId: 'v1', hmac: signVisitorHash('v1', `${LIVE_KEY}-visitors`), email: 'ceo@victim.example' };
  const routes = {
    '/any': {},
    '/users': { schemes: ['user-hash'] },
    '/email': { fields: ['email'] },
    '/id': { fields: ['externalId'] },
  } as const;
  const apps = {
    express() {
      const app = express().use(express.json()).use(forExpress.identityVerification(visitorOptions));
      for (const [path, demand] of Object.entries(routes))
        app.post(path, forExpress.requireVerified(demand), (_req, res) => res.json({ reached: true }));
      return app;
    },
    koa() {
      const router = new Router();
      for (const [path, demand] of Object.entries(routes))
        router.post(path, forKoa.requireVerified(demand), (ctx) => void (ctx.body = { reached: true }));
      return new Koa().use(bodyParser()).use(forKoa.identityVerification(visitorOptions)).use(router.routes()).callback();
    },
  };

  it.each(Object.keys(apps) as (keyof typeof apps)[])('%s', async (name) => {
    const app = apps[name]();
    const status = async (path: string, body: object) => {
      const res = await request(app).post(path).send(body);
      return res.status === 200 ? 200 : `${res.status} ${res.body.code}`;
    };
    // A verified visitor is only an anonymous visitor: its email travels beside the proof, unsigned.
    expect(await status('/any', visitor)).toBe(200);
    expect(await status('/users', visitor)).toBe('401 MISSING_IDENTITY');
    expect(await status('/email', visitor)).toBe('401 MISSING_REQUIRED_FIELD');
    expect(await status('/users', valid)).toBe(200);
    expect(await status('/id', valid)).toBe(200);
    expect(await status('/email', { ...valid, user_metadata: { email: 'ceo@victim.example' } })).toBe('401 MISSING_REQUIRED_FIELD');
  });

  it('a misspelt demand is refused when the route is built', () => {
    expect(() => forExpress.requireVerified({ schemes: ['user_hash' as never] })).toThrow(/schemes/);
    expect(() => forKoa.requireVerified({ fields: ['mail'] })).toThrow(/fields/);
  });
});

describe('a guarded route is never reached unverified', () => {
  type Attempt = {
    name: string;
    body?: unknown;
    headers?: Record<string, string>;
    query?: string;
    options?: Partial<MiddlewareOptions>;
    setup?: 'mass-assign' | 'deep-merge' | 'forge' | 'no-middleware' | 'guard-first';
  };
  /** A deep merge as lodash's `_.merge` makes it: its assignments are sloppy-mode ones, so a frozen property stays as it was. */
  const deepMerge = (target: object, source: unknown): void => {
    if (source === null || typeof source !== 'object') return;
    for (const [key, value] of Object.entries(source)) {
      const current: unknown = Reflect.get(target, key);
      if (value !== null && typeof value === 'object' && current !== null && typeof current === 'object') deepMerge(current, value);
      else Reflect.set(target, key, value);
    }
  };
  const fakeResult = {
    verified: true,
    scheme: 'user-hash',
    test: false,
    contact: { externalId: 'admin', attributes: {}, verifiedFields: ['externalId'], identityKey: 'externalId' },
  };
  const attempts: Attempt[] = [
    { name: 'nothing at all' },
    { name: 'a claimed user id with no hash', body: { user_id: 'admin' } },
    { name: "another user's hash", body: forged },
    { name: 'a hash in another case', body: { user_id: 'U1', user_hash: valid.user_hash } },
    { name: 'the right hash, base64', body: { user_id: 'u1', user_hash: Buffer.from(valid.user_hash, 'hex').toString('base64') } },
    { name: 'a result object in the body', body: { identity: fakeResult, verified: true } },
    { name: 'a mass-assigning app copying the body onto req / ctx.state', body: { identity: fakeResult }, setup: 'mass-assign' },
    {
      name: "an app deep-merging the body into req / ctx.state (lodash's _.merge) over the result it refused",
      body: { ...forged, identity: fakeResult },
      setup: 'deep-merge',
    },
    { name: 'app code attaching a look-alike result', setup: 'forge' },
    {
      name: 'headers claiming verification',
      headers: { 'x-identity-verified': 'true', 'x-user-id': 'admin', authorization: 'Bearer admin' },
    },
    { name: 'query parameters', query: '?user_id=u1&user_hash=' + valid.user_hash + '&verified=true' },
    { name: 'verification switched off in the middleware (required: false)', body: forged, options: { required: false } },
    { name: 'a keys lookup that fails', body: valid, options: { keys: () => Promise.reject(new Error('down')) } },
    { name: 'every key expired', body: valid, options: { keys: [{ secret: LIVE_KEY, expiresAt: 0 }] } },
    {
      name: 'a test key while test keys are off',
      body: { user_id: 'u1', user_hash: signUserHash('u1', 'sk_test_x') },
      options: { keys: [LIVE_KEY, 'sk_test_x'], allowTestKeys: false },
    },
    { name: 'no identityVerification() at all', body: valid, setup: 'no-middleware' },
    { name: 'requireVerified() placed before identityVerification()', body: valid, setup: 'guard-first' },
  ];

  function expressApp(attempt: Attempt) {
    const app = express().use(express.json());
    if (attempt.setup === 'mass-assign') app.use((req, _res, next) => (Object.assign(req, req.body), next()));
    const guard = forExpress.requireVerified({ logger: quiet() });
    if (attempt.setup === 'guard-first') app.use(guard);
    if (attempt.setup !== 'no-middleware') app.use(forExpress.identityVerification(options(attempt.options)));
    if (attempt.setup === 'forge') app.use((req, _res, next) => ((req.identity = fakeResult as never), next()));
    if (attempt.setup === 'mass-assign') app.use((req, _res, next) => (Object.assign(req, req.body), next()));
    if (attempt.setup === 'deep-merge') app.use((req, _res, next) => (deepMerge(req, req.body), next()));
    app.post('/chat', guard, (req, res) => res.json({ reached: true, as: req.identity?.verified && req.identity.contact.externalId }));
    return app;
  }

  function koaApp(attempt: Attempt) {
    const app = new Koa().use(bodyParser());
    const guard = forKoa.requireVerified({ logger: quiet() });
    if (attempt.setup === 'guard-first') app.use(guard);
    if (attempt.setup !== 'no-middleware') app.use(forKoa.identityVerification(options(attempt.options)));
    if (attempt.setup === 'forge') app.use((ctx, next) => ((ctx.state.identity = fakeResult as never), next()));
    if (attempt.setup === 'mass-assign') app.use((ctx, next) => (Object.assign(ctx.state, ctx.request.body), next()));
    if (attempt.setup === 'deep-merge') app.use((ctx, next) => (deepMerge(ctx.state, ctx.request.body), next()));
    const router = new Router().post('/chat', guard, (ctx) => {
      ctx.body = { reached: true, as: ctx.state.identity?.verified && ctx.state.identity.contact.externalId };
    });
    return app.use(router.routes()).callback();
  }

  /** Fastify, the plugin and the guard as documented; each attempt's app code as a preValidation hook after the plugin's. */
  async function fastifyApp(attempt: Attempt) {
    const app = Fastify();
    const guard = forFastify.requireVerified({ logger: quiet() });
    const hook = (change: (request: Parameters<preValidationHookHandler>[0]) => void): preValidationHookHandler => {
      return (request, _reply, done) => (change(request), done());
    };
    if (attempt.setup === 'guard-first') app.addHook('preValidation', guard as unknown as preValidationHookHandler);
    // Awaited, so that the plugin's hook is added now, before the app's hooks below.
    if (attempt.setup !== 'no-middleware') await app.register(forFastify.identityVerification, options(attempt.options));
    if (attempt.setup === 'forge')
      app.addHook(
        'preValidation',
        hook((request) => (request.identity = fakeResult as never)),
      );
    if (attempt.setup === 'mass-assign')
      app.addHook(
        'preValidation',
        hook((request) => Object.assign(request, request.body)),
      );
    if (attempt.setup === 'deep-merge')
      app.addHook(
        'preValidation',
        hook((request) => deepMerge(request, request.body)),
      );
    app.post('/chat', { preHandler: guard }, async (request) => ({
      reached: true,
      as: request.identity?.verified && request.identity.contact.externalId,
    }));
    await app.ready();
    return { server: app.server, close: () => app.close() };
  }

  /** Each attempt through Express, Koa and Fastify. */
  async function eachApp(attempt: Attempt, check: (server: Parameters<typeof request>[0]) => Promise<void>): Promise<void> {
    for (const server of [expressApp(attempt), koaApp(attempt)]) await check(server);
    const fastify = await fastifyApp(attempt);
    try {
      await check(fastify.server);
    } finally {
      await fastify.close();
    }
  }

  const send = (server: Parameters<typeof request>[0], attempt: Attempt) => {
    let call = request(server).post(`/chat${attempt.query ?? ''}`);
    for (const [k, v] of Object.entries(attempt.headers ?? {})) call = call.set(k, v);
    return attempt.body === undefined ? call : call.send(attempt.body as object);
  };

  it.each(attempts.map((a) => [a.name, a] as const))('%s', async (_, attempt) => {
    await eachApp(attempt, async (server) => {
      const res = await send(server, attempt);
      expect(res.body).not.toHaveProperty('reached');
      expect([401, 503]).toContain(res.status);
      expect(res.body).toMatchObject({ error: 'identity_unverified' });
    });
  });

  it('and the same apps do let a verified request through (the attempts above fail for their own reason)', async () => {
    await eachApp({ name: 'valid' }, async (server) => {
      expect((await send(server, { name: 'valid', body: valid })).body).toEqual({ reached: true, as: 'u1' });
    });
  });

  it('a verified user whose body is deep-merged into the request reaches the route as themselves, never as the name the body gives', async () => {
    const attempt: Attempt = {
      name: 'deep merge over a verified result',
      body: { ...valid, identity: { scheme: 'jwt', contact: { externalId: 'admin', verifiedFields: ['externalId', 'email'] } } },
      setup: 'deep-merge',
    };
    await eachApp(attempt, async (server) => {
      expect((await send(server, attempt)).body).toEqual({ reached: true, as: 'u1' });
    });
  });
});

describe('behind one proxy, set as docs/adapters.md says: a client cannot pick its own address', () => {
  // The proxy (at 127.0.0.1, where the test connects from) appends the address it saw; what is left
  // of it is whatever the client wrote. Seven failures: six from one client, each naming a new
  // address and user, then one from another client.
  const forwarded = (i: number) => `10.0.${i}.1, ${i < 6 ? '203.0.113.9' : '203.0.113.10'}`;
  const forgedFor = (i: number) => ({ user_id: `user-${i}`, user_hash: signUserHash(`user-${i}`, 'not-the-key') });
  const limits = { rateLimit: { address: { points: 5, duration: 60 } }, required: true } as const;
  // The first client is limited after five; the second is not: the address counted is the one the proxy saw.
  const BY_CLIENT = [401, 401, 401, 401, 401, 429, 401];
  const UNLIMITED = Array(7).fill(401);

  const expressBehind = (trust: string | boolean) => {
    const app = express()
      .set('trust proxy', trust)
      .use(express.json())
      .use(forExpress.identityVerification(options(limits)));
    app.post('/chat', (_req, res) => res.json({ reached: true }));
    return (i: number) => request(app).post('/chat').set('X-Forwarded-For', forwarded(i)).send(forgedFor(i));
  };
  const koaBehind = (maxIpsCount: number) => {
    const app = new Koa({ proxy: true, maxIpsCount });
    app.use(bodyParser()).use(forKoa.identityVerification(options(limits)));
    app.use((ctx) => (ctx.body = { reached: true }));
    const server = app.callback();
    return (i: number) => request(server).post('/chat').set('X-Forwarded-For', forwarded(i)).send(forgedFor(i));
  };
  const fastifyBehind = async (trustProxy: string | boolean) => {
    const app = Fastify({ trustProxy });
    await app.register(forFastify.identityVerification, options(limits));
    app.post('/chat', async () => ({ reached: true }));
    return (i: number) => app.inject({ method: 'POST', url: '/chat', headers: { 'x-forwarded-for': forwarded(i) }, payload: forgedFor(i) });
  };
  const statuses = async (send: (i: number) => PromiseLike<{ status?: number; statusCode?: number }>) => {
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await send(i);
      seen.push(res.status ?? res.statusCode!);
    }
    return seen;
  };

  it("Express: trust proxy set to the proxy's address counts the address it saw; true trusts the client", async () => {
    expect(await statuses(expressBehind('loopback'))).toEqual(BY_CLIENT);
    expect(await statuses(expressBehind(true))).toEqual(UNLIMITED);
  });
  it('Koa: app.proxy with maxIpsCount 1 counts the address the proxy saw; maxIpsCount 0 (its default) trusts the client', async () => {
    expect(await statuses(koaBehind(1))).toEqual(BY_CLIENT);
    expect(await statuses(koaBehind(0))).toEqual(UNLIMITED);
  });
  it("Fastify: trustProxy set to the proxy's address counts the address it saw; true trusts the client", async () => {
    expect(await statuses(await fastifyBehind('127.0.0.1'))).toEqual(BY_CLIENT);
    expect(await statuses(await fastifyBehind(true))).toEqual(UNLIMITED);
    // A hop count trusts no proxy in Fastify 5: every client shares the proxy's address, and its limit.
    expect(await statuses(await fastifyBehind(1 as unknown as string))).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });
});

describe('a client that resets its connection after sending is still counted against the address limit', () => {
  // By the time the check runs the kernel has dropped the connection: no peer address, req.ip
  // undefined (the socket not always marked destroyed yet). Such requests count as one client,
  // "(connection reset)", not as no address. A raw socket sends the request and resets at once.
  const sendAndReset = (port: number, i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ user_id: `user-${i}`, user_hash: '00'.repeat(32) });
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        socket.resetAndDestroy();
        resolve();
      });
      socket.on('error', reject);
    });

  it.each(['express', 'fastify'] as const)('%s: past the limit, they are refused before their proof is read', async (framework) => {
    const codes: string[] = [];
    const limited = options({
      rateLimit: { address: { points: 3, duration: 60 }, identity: false },
      onResult: (summary) => void codes.push(summary.code),
    });
    let server: Server;
    if (framework === 'express') {
      const app = express().use(express.json());
      app.use(forExpress.identityVerification(limited)).post('/chat', (_req, res) => res.json({}));
      server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
    } else {
      const app = Fastify();
      await app.register(forFastify.identityVerification, limited);
      app.post('/chat', async () => ({}));
      await app.listen({ port: 0, host: '127.0.0.1' });
      server = app.server;
    }
    const { port } = server.address() as AddressInfo;
    // One at a time, each checked before the next is sent.
    for (let i = 0; i < 6; i++) {
      await sendAndReset(port, i);
      await vi.waitFor(() => expect(codes).toHaveLength(i + 1));
    }
    server.close();
    expect(codes).toEqual(['INVALID_SIGNATURE', 'INVALID_SIGNATURE', 'INVALID_SIGNATURE', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it("behind a proxy on a Unix socket (no request has an address), one client's failures do not refuse the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-identity-'));
    const socketPath = join(dir, 'chat.sock');
    const app = express().use(express.json());
    app.use(forExpress.identityVerification(options({ rateLimit: { address: { points: 3, duration: 60 }, identity: false } })));
    app.post('/chat', (req, res) => res.json({ verified: req.identity?.verified ?? false }));
    const server = app.listen(socketPath);
    await once(server, 'listening');
    const post = (body: object) =>
      new Promise<{ verified: boolean }>((resolve, reject) => {
        const text = JSON.stringify(body);
        const sent = httpRequest(
          { socketPath, path: '/chat', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': text.length } },
          (res) => {
            let answer = '';
            res.on('data', (chunk) => (answer += chunk)).on('end', () => resolve(JSON.parse(answer)));
          },
        );
        sent.on('error', reject).end(text);
      });
    try {
      for (let i = 0; i < 4; i++) await post({ user_id: `mallory-${i}`, user_hash: '00'.repeat(32) });
      expect(await post(valid)).toEqual({ verified: true });
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a request with a live connection and no ip, or on a Unix socket (a proxy in front), is not counted under that key', () => {
    expect(toVerifyRequest({ headers: {}, socket: { remoteAddress: '192.0.2.1' } }).ip).toBeUndefined();
    expect(toVerifyRequest({ headers: {} }).ip).toBeUndefined();
    expect(toVerifyRequest({ headers: {}, socket: { localPort: 443 } }).ip).toBe('(connection reset)');
    expect(toVerifyRequest({ headers: {}, socket: {} }).ip).toBeUndefined(); // a Unix socket: never an address
  });
});
