/**
 * Compile-only type tests: `npm run typecheck` (tsc) must accept this file, and every
 * `@ts-expect-error` line must really be an error (tsc fails on an unused one).
 */
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import Router from '@koa/router';
import passport from 'passport';
import * as forExpress from '../../adapters/express.js';
import * as forFastify from '../../adapters/fastify.js';
import * as forFetch from '../../adapters/fetch.js';
import * as forKoa from '../../adapters/koa.js';
import { IdentityStrategy } from '../../adapters/passport.js';
import { IdentityError, createVerifier, type Contact, type IdentityResult, type VerifiedIdentity } from '../../src/index.js';

// Express: req.identity is typed by augmenting Express's Request.
const app = express();
app.use(forExpress.identityVerification({ scheme: 'user-hash', keys: ['sk_live_x'], required: true, rejectWith: 'error' }));
app.post('/chat', forExpress.requireVerified(), (req, res) => {
  const result: IdentityResult | undefined = req.identity;
  if (req.identity?.verified) {
    const contact: Contact = req.identity.contact;
    const fields: string[] = contact.verifiedFields;
    res.json({ contact, fields });
  } else if (req.identity?.error) {
    const code:
      | 'MISSING_IDENTITY'
      | 'MISSING_REQUIRED_FIELD'
      | 'MALFORMED_IDENTITY'
      | 'INVALID_SIGNATURE'
      | 'SIGNATURE_EXPIRED'
      | 'RATE_LIMITED'
      | 'KEY_UNAVAILABLE'
      | 'SESSION_EXPIRED' = req.identity.error.code;
    res.json({ code, result });
  }
  // @ts-expect-error identity is a result object, not a string
  const wrong: string = req.identity;
  // @ts-expect-error an unverified result has no contact
  if (req.identity && !req.identity.verified) void req.identity.contact;
  void wrong;
});

// @ts-expect-error an unknown scheme name
forExpress.identityVerification({ scheme: 'hmac', keys: ['k'] });
// @ts-expect-error keys are required
forExpress.identityVerification({ scheme: 'jwt' });
// @ts-expect-error "none" is no algorithm
forExpress.identityVerification({ scheme: 'jwt', keys: ['k'], algorithms: ['none'] });
// @ts-expect-error rejectWith is 'response' or 'error'
forExpress.requireVerified({ rejectWith: 'throw' });

// Koa: ctx.state.identity is typed.
const koa = new Koa();
koa.use(forKoa.identityVerification({ scheme: 'jwt', keys: ['k'] }));
koa.use(async (ctx, next) => {
  const state: IdentityResult | undefined = ctx.state.identity;
  if (ctx.state.identity?.verified) {
    const email: string | undefined = ctx.state.identity.contact.email;
    void email;
  }
  void state;
  await next();
});
const router = new Router();
router.post('/chat', forKoa.requireVerified(), (ctx) => {
  ctx.body = ctx.state.identity;
});
// A guarded handler reads the verified contact, typed, through identityOf.
router.post('/typed', forKoa.requireVerified({ fields: ['email'] }), (ctx) => {
  const email: string | undefined = forKoa.identityOf(ctx).contact.email;
  ctx.body = { email };
});
app.post('/typed', forExpress.requireVerified({ schemes: ['jwt'] }), (req, res) => {
  const { contact, scheme, tenant } = forExpress.identityOf(req);
  res.json({ name: contact.name, scheme, tenant });
});
// @ts-expect-error a scheme name that does not exist
forExpress.requireVerified({ schemes: ['hmac'] });
// Passport's req.authInfo is the whole result.
app.post('/passport', (req, res) => {
  const code = req.authInfo?.error?.code;
  const name: string | undefined = req.authInfo?.contact?.name;
  res.json({ code, name });
});
const typedState: forKoa.IdentityState = { identity: { verified: false } };
// @ts-expect-error identity in IdentityState is a result
const badState: forKoa.IdentityState = { identity: 'yes' };
void typedState;
void badState;

// Passport.
passport.use(new IdentityStrategy({ scheme: 'signed-payload', keys: ['k'] }));
passport.use(new IdentityStrategy({ scheme: 'jwt', keys: ['k'], name: 'widget', rejectWith: 'fail' }));
// @ts-expect-error rejectWith has no such value
new IdentityStrategy({ scheme: 'jwt', keys: ['k'], rejectWith: 'redirect' });

// The core.
const verifier = createVerifier({
  scheme: ['jwt', 'user-hash'],
  keys: async (tenant, _request, { scheme, signal }) => (tenant && !signal.aborted ? [`k-${scheme}`] : []),
  tenant: (r) => r.headers?.['x-team'] as string | undefined,
});
createVerifier({ scheme: ['jwt', 'user-hash'], keys: { jwt: ['k1'], 'user-hash': [{ secret: 'k2', id: 'current' }] } });
createVerifier({ scheme: 'jwt', keys: () => ({ tenant: 'acme', keys: ['k'] }) });
verifier.refreshKeys('acme');
void verifier.verify({ body: {} }).then((r) => (r.verified ? r.contact.identityKey : r.error?.message));
const error = new IdentityError({ code: 'INVALID_SIGNATURE', message: 'm' });
const status: number = error.status;
// @ts-expect-error codes are a closed set
new IdentityError({ code: 'NOPE', message: 'm' });
void status;

// Fastify: request.identity is typed by declaration merging (absent outside the plugin's scope).
const fastify = Fastify();
void fastify.register(forFastify.identityVerification, { scheme: 'user-hash', keys: ['sk_live_x'], required: 'report' });
// @ts-expect-error the plugin's options are the verifier's: no such scheme
void fastify.register(forFastify.identityVerification, { scheme: 'hmac', keys: ['k'] });
fastify.post('/chat', { preHandler: forFastify.requireVerified({ fields: ['email'] }) }, async (request, reply) => {
  const result: IdentityResult | null | undefined = request.identity;
  const identity: VerifiedIdentity = forFastify.identityOf(request);
  const email: string | undefined = identity.contact.email;
  // @ts-expect-error absent where the plugin is not registered: check it first
  void request.identity.verified;
  // @ts-expect-error an unverified result has no contact
  if (request.identity && !request.identity.verified) void request.identity.contact;
  const ended: boolean = await forFastify.endSession(request, reply);
  return { result, email, ended };
});
// @ts-expect-error rejectWith is 'response' or 'error'
forFastify.requireVerified({ rejectWith: 'throw' });

// Hono: c.get('identity') is typed by IdentityEnv.
const hono = new Hono<forFetch.IdentityEnv>();
hono.use(forFetch.identityVerification({ scheme: 'jwt', keys: ['k'], ip: (c) => c.req.header('x-real-ip') }));
hono.post('/chat', forFetch.requireVerified({ schemes: ['jwt'] }), async (c) => {
  const result: IdentityResult = c.get('identity');
  const identity: VerifiedIdentity = forFetch.identityOf(c);
  // @ts-expect-error the variable is a result, not a string
  const wrong: string = c.get('identity');
  // @ts-expect-error IdentityEnv sets only identity
  c.get('user');
  const ended: boolean = await forFetch.endSession(c);
  return c.json({ verified: result.verified, name: identity.contact.name ?? null, ended, wrong });
});
// @ts-expect-error an unknown scheme name
forFetch.identityVerification({ scheme: 'hmac', keys: ['k'] });

// A Next.js-style route handler: verifyRequest's result, rejection and headers.
const webVerifier = createVerifier({ scheme: 'user-hash', keys: ['sk_live_x'] });
const POST = async (request: Request): Promise<Response> => {
  const { result, rejection, headers } = await forFetch.verifyRequest(request, {
    verifier: webVerifier,
    requireVerified: { fields: ['email'] },
  });
  const refusal: IdentityError | undefined = rejection;
  const sessionHeaders: Readonly<Record<string, string>> = headers;
  if (refusal) return forFetch.rejectionResponse(refusal);
  if (result.verified) void (result.contact satisfies Contact);
  // @ts-expect-error a result is checked (or passed to identityOf) before its contact is read
  void result.contact;
  const { contact }: VerifiedIdentity = forFetch.identityOf(result);
  return forFetch.withSessionHeaders(Response.json({ id: contact.externalId }), sessionHeaders);
};
void POST;
// @ts-expect-error verifyRequest needs the verifier
void forFetch.verifyRequest(new Request('http://chat.example'), {});
// @ts-expect-error its requireVerified takes schemes and fields; the rejection is always returned
void forFetch.verifyRequest(new Request('http://chat.example'), { verifier: webVerifier, requireVerified: { rejectWith: 'error' } });
