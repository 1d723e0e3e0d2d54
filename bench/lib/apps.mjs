/**
 * The benches' apps: the same small chat app on Express 5, Koa 3 or Fastify 5, bare, behind this
 * package's middleware (plugin), behind the minimal node:crypto check (the floor), or behind
 * express-jwt / passport-jwt / @fastify/jwt. `buildHandler` returns Node's `(req, res)` handler,
 * which bench/http/server.mjs serves over a socket; `buildApp` adds the app's own injection
 * (light-my-request; `fastify.inject` for Fastify), which bench/inprocess.mjs drives.
 *
 *   framework: express | koa | fastify
 *   config:    bare | user-hash | signed-payload | jwt        (this package, default options: limits on)
 *              floor-user-hash | floor-signed-payload | floor-jwt (the minimal node:crypto check
 *                 of bench/lib/floors.mjs as a middleware: what any verification must cost)
 *              floorasync-<scheme> | floorguard-<scheme> | direct-<scheme> | required-<scheme> (to
 *                 take the adapter path apart: the floor through a promise; the floor and a route-level
 *                 guard letting everything through; the core's verify() in the app's own middleware;
 *                 this package's middleware with required: true and no requireVerified())
 *              jwt-passport (this package's IdentityStrategy) | express-jwt | passport-jwt   (Express)
 *              fastify-jwt (@fastify/jwt, as its README shows: an onRequest hook, jwtVerify())  (Fastify)
 *
 * Every app trusts X-Forwarded-For (the bench's stand-in for a proxy in front), parses JSON,
 * and answers POST /chat with a small JSON reply naming the user, or a 401 JSON body.
 */
import { SECRET } from './fixtures.mjs';
import { floors } from './floors.mjs';
import { importPackage as importBuilt } from './package.mjs';

const OURS = ['user-hash', 'signed-payload', 'jwt'];
const UNVERIFIED = { error: 'identity_unverified', code: 'INVALID_SIGNATURE', message: 'The identity signature is not valid.' };

async function expressApp(config, options, floor, importPackage) {
  const { default: express } = await import('express');
  const app = express();
  app.set('trust proxy', true);
  app.set('etag', false);
  app.disable('x-powered-by');
  app.use(express.json());
  const reply = (res, user) => res.json({ reply: 'Thanks, an agent will answer shortly.', user });

  if (config === 'bare') {
    app.post('/chat', (req, res) => reply(res, null));
  } else if (OURS.includes(config)) {
    const { identityVerification, requireVerified } = await importPackage('express');
    app.use(identityVerification(options(config)));
    app.post('/chat', requireVerified(), (req, res) => reply(res, req.identity.contact.externalId));
  } else if (config.startsWith('required-')) {
    const { identityVerification } = await importPackage('express');
    app.use(identityVerification({ ...options(config.slice(9)), required: true }));
    app.post('/chat', (req, res) => reply(res, req.identity.contact.externalId));
  } else if (floor?.sync) {
    app.use((req, res, next) => {
      const user = floor(req);
      if (user === undefined) return res.status(401).json(UNVERIFIED);
      req.user = user;
      next();
    });
    if (floor.guard)
      app.post(
        '/chat',
        (req, res, next) => next(),
        (req, res) => reply(res, req.user),
      );
    else app.post('/chat', (req, res) => reply(res, req.user));
  } else if (floor) {
    app.use((req, res, next) => {
      floor({ headers: req.headers, body: req.body, ip: req.ip }).then((user) => {
        if (user === undefined) return res.status(401).json(UNVERIFIED);
        req.user = user;
        next();
      }, next);
    });
    app.post('/chat', (req, res) => reply(res, req.user));
  } else if (config === 'jwt-passport') {
    const { default: passport } = await import('passport');
    const { IdentityStrategy } = await importPackage('passport');
    passport.use(new IdentityStrategy(options('jwt')));
    app.use(passport.initialize());
    app.post('/chat', passport.authenticate('chat-identity', { session: false }), (req, res) => reply(res, req.user.externalId));
  } else if (config === 'express-jwt') {
    const { expressjwt } = await import('express-jwt');
    // As its README shows: a string secret and the algorithm list; maxAge is passed to jsonwebtoken.
    app.use(expressjwt({ secret: SECRET, algorithms: ['HS256'], maxAge: '15m' }));
    app.post('/chat', (req, res) => reply(res, req.auth.externalId));
  } else if (config === 'passport-jwt') {
    const { default: passport } = await import('passport');
    const { Strategy, ExtractJwt } = await import('passport-jwt');
    passport.use(
      new Strategy(
        {
          jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
          secretOrKey: SECRET,
          algorithms: ['HS256'],
          jsonWebTokenOptions: { maxAge: '15m' },
        },
        (payload, done) => done(null, payload),
      ),
    );
    app.use(passport.initialize());
    app.post('/chat', passport.authenticate('jwt', { session: false }), (req, res) => reply(res, req.user.externalId));
  } else {
    throw new Error(`unknown express config ${config}`);
  }
  // What an app renders for express-jwt's UnauthorizedError (Express' default handler would print the stack).
  app.use((err, req, res, _next) => res.status(err.status ?? 500).json({ error: err.code ?? 'error' }));
  return app;
}

async function koaApp(config, options, floor, importPackage) {
  const { default: Koa } = await import('koa');
  const { default: Router } = await import('@koa/router');
  const { bodyParser } = await import('@koa/bodyparser');
  const app = new Koa();
  app.proxy = true;
  const router = new Router();
  const reply = (ctx, user) => {
    ctx.body = { reply: 'Thanks, an agent will answer shortly.', user };
  };
  app.use(bodyParser());
  if (config === 'bare') {
    router.post('/chat', (ctx) => reply(ctx, null));
  } else if (OURS.includes(config)) {
    const { identityVerification, requireVerified } = await importPackage('koa');
    app.use(identityVerification(options(config)));
    router.post('/chat', requireVerified(), (ctx) => reply(ctx, ctx.state.identity.contact.externalId));
  } else if (config.startsWith('required-')) {
    const { identityVerification } = await importPackage('koa');
    app.use(identityVerification({ ...options(config.slice(9)), required: true }));
    router.post('/chat', (ctx) => reply(ctx, ctx.state.identity.contact.externalId));
  } else if (floor) {
    app.use(async (ctx, next) => {
      const user = floor.sync
        ? floor({ headers: ctx.headers, body: ctx.request.body })
        : await floor({ headers: ctx.headers, body: ctx.request.body, ip: ctx.ip });
      if (user === undefined) {
        ctx.status = 401;
        ctx.body = UNVERIFIED;
        return;
      }
      ctx.state.user = user;
      await next();
    });
    if (floor.guard)
      router.post(
        '/chat',
        (ctx, next) => next(),
        (ctx) => reply(ctx, ctx.state.user),
      );
    else router.post('/chat', (ctx) => reply(ctx, ctx.state.user));
  } else {
    throw new Error(`unknown koa config ${config}`);
  }
  app.use(router.routes());
  return app.callback();
}

/**
 * Fastify 5: JSON parsed by Fastify itself; this package as the documented plugin (a preValidation
 * hook) with `requireVerified()` as the route's preHandler; the floor as the cheapest hook Fastify
 * has (a callback-style preValidation hook, the same stage as the plugin's); @fastify/jwt as its
 * README shows (an async onRequest hook calling `request.jwtVerify()`), `HS256` only, 15-minute
 * `maxAge`, no cache (its default).
 */
async function fastifyApp(config, options, floor, importPackage) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ trustProxy: true, logger: false });
  const reply = (user) => ({ reply: 'Thanks, an agent will answer shortly.', user });
  if (config === 'bare') {
    app.post('/chat', async () => reply(null));
  } else if (OURS.includes(config)) {
    const { identityVerification, requireVerified } = await importPackage('fastify');
    await app.register(identityVerification, options(config));
    app.post('/chat', { preHandler: requireVerified() }, async (request) => reply(request.identity.contact.externalId));
  } else if (config.startsWith('required-')) {
    const { identityVerification } = await importPackage('fastify');
    await app.register(identityVerification, { ...options(config.slice(9)), required: true });
    app.post('/chat', async (request) => reply(request.identity.contact.externalId));
  } else if (floor?.sync) {
    app.decorateRequest('user', null);
    app.addHook('preValidation', (request, res, done) => {
      const user = floor(request);
      if (user === undefined) return void res.code(401).send(UNVERIFIED);
      request.user = user;
      done();
    });
    if (floor.guard) app.post('/chat', { preHandler: (request, res, done) => done() }, async (request) => reply(request.user));
    else app.post('/chat', async (request) => reply(request.user));
  } else if (floor) {
    app.decorateRequest('user', null);
    app.addHook('preValidation', async (request, res) => {
      const user = await floor({ headers: request.headers, body: request.body, ip: request.ip });
      if (user === undefined) return res.code(401).send(UNVERIFIED);
      request.user = user;
    });
    app.post('/chat', async (request) => reply(request.user));
  } else if (config === 'fastify-jwt') {
    const { default: fastifyJwt } = await import('@fastify/jwt');
    await app.register(fastifyJwt, { secret: SECRET, verify: { algorithms: ['HS256'], maxAge: 900 } });
    app.addHook('onRequest', async (request, res) => {
      try {
        await request.jwtVerify();
      } catch (err) {
        res.send(err);
      }
    });
    app.post('/chat', async (request) => reply(request.user.externalId));
  } else {
    throw new Error(`unknown fastify config ${config}`);
  }
  await app.ready();
  return app;
}

/**
 * The check a floor-like configuration mounts, as `check(plainRequest)` returning the user id or
 * undefined; `check.sync` when it answers at once (then the cheapest middleware each framework has
 * mounts it). The decomposition configurations (bench/PROFILE.md, "Adapter path") use the same
 * mounting with an async check:
 *   floorasync-<scheme>  the floor, answered through a promise (an async function awaited)
 *   floorguard-<scheme>  the floor, and a route-level guard that lets every request through (what a
 *                        separate per-route guard such as requireVerified() costs the framework)
 *   direct-<scheme>      the core's verifier.verify() called from the app's own middleware (no adapter)
 */
async function checkOf(config, options, importPackage) {
  const [kind, ...rest] = config.split('-');
  const scheme = rest.join('-');
  if (kind === 'floor') return Object.assign(floors()[scheme], { sync: true });
  if (kind === 'floorguard') return Object.assign(floors()[scheme], { sync: true, guard: true });
  if (kind === 'floorasync') {
    const floor = floors()[scheme];
    return async (request) => floor(request);
  }
  if (kind === 'direct') {
    const { createVerifier } = await importPackage('');
    const verifier = createVerifier(options(scheme));
    return async (request) => {
      const result = await verifier.verify(request);
      return result.verified ? result.contact.externalId : undefined;
    };
  }
  return undefined;
}

/** Every configuration of each framework that the in-process and socket benches know. */
export const CONFIGS = {
  express: [
    'bare',
    'floor-user-hash',
    'user-hash',
    'floor-signed-payload',
    'signed-payload',
    'floor-jwt',
    'jwt',
    'jwt-passport',
    'express-jwt',
    'passport-jwt',
  ],
  koa: ['bare', 'floor-user-hash', 'user-hash', 'floor-signed-payload', 'signed-payload', 'floor-jwt', 'jwt'],
  fastify: ['bare', 'floor-user-hash', 'user-hash', 'floor-signed-payload', 'signed-payload', 'floor-jwt', 'jwt', 'fastify-jwt'],
};

/**
 * One configuration, built: `handler` is Node's `(req, res)` handler (Fastify's `routing`), `inject`
 * sends one light-my-request injection (`{ method, url, headers, payload }`) and resolves with the
 * response (through `fastify.inject` for Fastify). `extraOptions` are merged into this package's
 * options; `packageDir` is the built copy of this package to use (the other tree's, for --compare).
 */
export async function buildApp(framework, config, extraOptions = {}, { packageDir } = {}) {
  const options = (scheme) => ({ scheme, keys: [SECRET], ...extraOptions });
  const importPackage = (entry) => importBuilt(entry, packageDir);
  const floor = await checkOf(config, options, importPackage);
  if (framework === 'fastify') {
    const app = await fastifyApp(config, options, floor, importPackage);
    return { framework, config, handler: app.routing, inject: (request) => app.inject(request) };
  }
  let handler;
  if (framework === 'express') handler = await expressApp(config, options, floor, importPackage);
  else if (framework === 'koa') handler = await koaApp(config, options, floor, importPackage);
  else throw new Error(`unknown framework ${framework}`);
  const { inject } = await import('light-my-request');
  return { framework, config, handler, inject: (request) => inject(handler, request) };
}

/** The `(req, res)` handler of one configuration; `extraOptions` are merged into this package's options. */
export async function buildHandler(framework, config, extraOptions = {}) {
  return (await buildApp(framework, config, extraOptions)).handler;
}
