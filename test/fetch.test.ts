/**
 * The fetch adapter as its users run it, beyond the conformance table (which runs both through a
 * Node bridge): a Next.js-style route handler, `POST(request)` with no framework, called with Web
 * Requests; and Hono on Node, served by @hono/node-server's `serve()` on a real port. What is
 * checked here: the body left to the handler, size limits, the guard's demands, session headers on
 * any response, and Hono's error handling.
 */
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  endSession,
  identityOf,
  identityVerification,
  rejectionResponse,
  requireVerified,
  verifyRequest,
  withSessionHeaders,
  type IdentityEnv,
} from '../adapters/fetch.js';
import { IdentityError, createVerifier, signJwt, type VerifierOptions } from '../src/index.js';
import { LIVE_KEY } from './helpers.js';
import { BASE_OPTIONS, INVALID, MISSING, forged, options, quiet, valid } from './support/middleware.js';
import { SESSION_KEY } from './support/sessions.js';

const verifierWith = (extra: Partial<VerifierOptions> = {}) => createVerifier({ ...BASE_OPTIONS, logger: quiet(), ...extra });

const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  new Request('https://chat.example/api/chat', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('a Next.js-style route handler: POST(request), no framework', () => {
  // As app/api/chat/route.ts would have it: one verifier beside the handler.
  const verifier = verifierWith({ required: true });
  async function POST(request: Request): Promise<Response> {
    const { result, rejection, headers } = await verifyRequest(request, { verifier });
    if (rejection) return rejectionResponse(rejection);
    const { text } = (await request.json()) as { text?: string };
    return Response.json({ hello: identityOf(result).contact.externalId, text }, { headers });
  }

  it('verifies, and the handler still reads the body (await request.json() after verifyRequest)', async () => {
    const good = await POST(post({ ...valid, text: 'hi' }));
    expect([good.status, await good.json()]).toEqual([200, { hello: 'u1', text: 'hi' }]);
  });

  it('answers a rejection as every adapter does: status, JSON body, content type', async () => {
    const bad = await POST(post(forged));
    expect([bad.status, bad.headers.get('content-type'), await bad.json()]).toEqual([401, 'application/json; charset=utf-8', INVALID]);
    const none = await POST(new Request('https://chat.example/api/chat', { method: 'POST' }));
    expect([none.status, await none.json()]).toEqual([401, MISSING]);
  });

  it('reads only a JSON body: a proof in a form body is not read, and the body is left as it was', async () => {
    const form = post(new URLSearchParams(valid).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    const { result } = await verifyRequest(form, { verifier: verifierWith() });
    expect(result).toEqual({ verified: false });
    expect(await form.text()).toBe(new URLSearchParams(valid).toString());
  });

  it('a body that is not JSON is left to the handler, as a framework parser would refuse it: no proof is found in it', async () => {
    const broken = '{"user_id":"u1","user_hash":';
    const request = post(broken);
    const { result, rejection } = await verifyRequest(request, { verifier: verifierWith(), requireVerified: true });
    expect(result).toEqual({ verified: false });
    expect(rejection?.code).toBe('MISSING_IDENTITY');
    expect(await request.text()).toBe(broken);
  });

  it('a body over bodyLimit is not read (no proof found), streamed or announced, and reaches the handler whole', async () => {
    const text = JSON.stringify({ ...valid, padding: 'x'.repeat(200) });
    const streamed = new Request('https://chat.example/api/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([text]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect((await verifyRequest(streamed, { verifier: verifierWith(), bodyLimit: 100 })).result).toEqual({ verified: false });
    expect(await streamed.text()).toBe(text);
    const announced = post(text);
    expect(announced.headers.get('content-length')).toBeNull(); // a Request made here says none; a server's does
    const withLength = new Request(announced, { headers: { 'content-type': 'application/json', 'content-length': String(text.length) } });
    expect((await verifyRequest(withLength, { verifier: verifierWith(), bodyLimit: 100 })).result).toEqual({ verified: false });
    expect((await verifyRequest(post(text), { verifier: verifierWith(), bodyLimit: text.length })).result).toMatchObject({
      verified: true,
    });
  });

  it('takes the body the app parsed already; a body consumed and not passed is no proof (fail closed), never a throw', async () => {
    const request = post(valid);
    const parsed: unknown = await request.json();
    expect((await verifyRequest(request, { verifier, body: parsed })).result).toMatchObject({
      verified: true,
      contact: { externalId: 'u1' },
    });
    const { result, rejection } = await verifyRequest(request, { verifier });
    expect(result).toMatchObject({ verified: false, error: { code: 'MISSING_IDENTITY' } });
    expect(rejection).toBeInstanceOf(IdentityError);
  });

  it('requireVerified: anything unverified, or not covering the fields asked, is refused; without it, an optional verifier refuses nothing', async () => {
    const optional = verifierWith();
    const forgedAnswer = await verifyRequest(post(forged), { verifier: optional });
    expect(forgedAnswer.rejection).toBeUndefined();
    expect(forgedAnswer.result).toMatchObject({ verified: false, error: { code: 'INVALID_SIGNATURE' } });
    expect((await verifyRequest(post(forged), { verifier: optional, requireVerified: true })).rejection?.code).toBe('INVALID_SIGNATURE');
    // user-hash signs the user id only: an email that came along is not verified.
    const withEmail = { ...valid, user_metadata: { email: 'ada@example.com' } };
    expect((await verifyRequest(post(withEmail), { verifier: optional, requireVerified: { fields: ['email'] } })).rejection?.code).toBe(
      'MISSING_REQUIRED_FIELD',
    );
    expect(
      (await verifyRequest(post(withEmail), { verifier: optional, requireVerified: { fields: ['externalId'] } })).rejection,
    ).toBeUndefined();
  });

  it('identityOf(result) of an unverified result throws its rejection; verifyRequest without a verifier is refused plainly', async () => {
    const { result } = await verifyRequest(post(forged), { verifier: verifierWith() });
    expect(() => identityOf(result)).toThrow(expect.objectContaining({ code: 'INVALID_SIGNATURE', status: 401 }));
    await expect(verifyRequest(post(valid), {} as never)).rejects.toThrow(/needs \{ verifier \}/);
  });

  it('verifyRequest options are checked on every call: a misspelt requireVerified or a bodyLimit of "1mb" is refused, not ignored', async () => {
    const verifier = verifierWith();
    const refused = async (options: object) => verifyRequest(post(forged), { verifier, ...options } as never);
    await expect(refused({ requireVerifed: true })).rejects.toThrow(
      /no option "requireVerifed"; valid: verifier, body, ip, requireVerified, bodyLimit/,
    );
    await expect(refused({ bodyLimit: '1mb' })).rejects.toThrow(/bodyLimit must be a whole number of bytes/);
    await expect(refused({ bodyLimit: 0 })).rejects.toThrow(/bodyLimit must be a whole number of bytes/);
    await expect(refused({ ip: 5 })).rejects.toThrow(/ip must be a string/);
    await expect(refused({ requireVerified: 'yes' })).rejects.toThrow(/requireVerified must be true, false or \{ schemes, fields \}/);
    await expect(verifyRequest(post(valid), null as never)).rejects.toThrow(/needs \{ verifier \}/);
    expect((await refused({ requireVerified: true, bodyLimit: 4096, ip: '192.0.2.1' })).rejection?.code).toBe('INVALID_SIGNATURE');
  });

  it('a broken JSON body is the client\'s, not an app without a parser: no proof, and not said as "arrived unparsed" (a consumed body still is, to the verifier\'s logger)', async () => {
    const said = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      // As a server hands a request on: its length announced (the Request constructor announces none).
      const announced = (text: string) => post(text, { 'content-type': 'application/json', 'content-length': String(text.length) });
      const broken = () => announced('{"user_id": "u1", broken');
      const logger = quiet();
      const verifier = createVerifier({ ...BASE_OPTIONS, logger });
      expect((await verifyRequest(broken(), { verifier })).result).toEqual({ verified: false });
      const app = new Hono<IdentityEnv>().use(identityVerification(options({ logger })));
      app.post('/api/chat', (c) => c.json(c.get('identity')));
      expect(await (await app.request(broken())).json()).toEqual({ verified: false });
      expect(logger.error).not.toHaveBeenCalled();
      const consumed = announced(JSON.stringify(valid));
      await consumed.text();
      await verifyRequest(consumed, { verifier });
      expect(logger.error).toHaveBeenCalledWith(expect.stringMatching(/arrived unparsed/));
      expect(said).not.toHaveBeenCalled();
    } finally {
      said.mockRestore();
    }
  });

  it("Hono: an ip option that is not a function is refused when the middleware is built, not by every request's 500", () => {
    expect(() => identityVerification({ ...options(), ip: '192.0.2.1' } as never)).toThrow(
      /options.ip must be a function of Hono's context/,
    );
  });

  it('session headers: on Response.json, and on a response whose headers cannot change (a copy)', async () => {
    const sessions = verifierWith({ session: { keys: [SESSION_KEY] } });
    const { headers } = await verifyRequest(post(valid), { verifier: sessions });
    const credential = headers['Chat-Identity-Session'];
    expect(credential).toMatch(/^v1\./);
    const redirect = Response.redirect('https://chat.example/next', 303); // immutable headers
    expect(() => redirect.headers.set('x', 'y')).toThrow();
    const copy = withSessionHeaders(redirect, headers);
    expect([copy.status, copy.headers.get('location'), copy.headers.get('chat-identity-session')]).toEqual([
      303,
      'https://chat.example/next',
      credential,
    ]);
    const own = Response.json({});
    expect(withSessionHeaders(own, headers)).toBe(own);
    expect(own.headers.get('chat-identity-session')).toBe(credential);
    // A later request carrying it verifies by the session.
    const later = await verifyRequest(post({}, { 'content-type': 'application/json', 'chat-identity-session': credential! }), {
      verifier: sessions,
    });
    expect(later.result).toMatchObject({ verified: true, via: 'session', contact: { externalId: 'u1' } });
  });
});

describe('Hono on Node: serve() from @hono/node-server, on a real port', () => {
  const servers: ServerType[] = [];
  afterEach(async () => void (await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))));

  function listen(app: Hono<IdentityEnv>): Promise<string> {
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
        resolve(`http://127.0.0.1:${info.port}`),
      );
      servers.push(server);
    });
  }
  const send = (url: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('the documented app: verified with the body still readable by the route, refused otherwise, the client address passed on', async () => {
    const ips: (string | undefined)[] = [];
    const app = new Hono<IdentityEnv>();
    app.use(bodyLimit({ maxSize: 1024 * 1024 }));
    app.use(
      identityVerification({
        ...options({ onVerified: (_result, request) => void ips.push(request.ip) }),
        ip: (c) => getConnInfo(c).remote.address,
      }),
    );
    app.post('/chat', requireVerified(), async (c) => {
      const { text } = await c.req.json<{ text: string }>();
      return c.json({ hello: identityOf(c).contact.externalId, text });
    });
    app.post('/open', (c) => c.json({ verified: c.get('identity').verified }));
    const url = await listen(app);
    const good = await send(`${url}/chat`, { ...valid, text: 'hi' });
    expect([good.status, await good.json()]).toEqual([200, { hello: 'u1', text: 'hi' }]);
    expect(ips).toEqual(['127.0.0.1']);
    const bad = await send(`${url}/chat`, forged);
    expect([bad.status, bad.headers.get('content-type'), await bad.json()]).toEqual([401, 'application/json; charset=utf-8', INVALID]);
    expect(await (await send(`${url}/open`, forged)).json()).toEqual({ verified: false });
  });

  it('a session issued, carried back, and ended (endSession) over the socket', async () => {
    const app = new Hono<IdentityEnv>();
    app.use(identityVerification(options({ session: { keys: [SESSION_KEY] } })));
    app.post('/chat', requireVerified(), (c) => c.json({ via: identityOf(c).via }));
    app.post('/logout', requireVerified(), async (c) => c.json({ ended: await endSession(c) }));
    const url = await listen(app);
    const first = await send(`${url}/chat`, valid);
    const credential = first.headers.get('chat-identity-session')!;
    expect([await first.json(), credential]).toEqual([{ via: 'proof' }, expect.stringMatching(/^v1\./)]);
    const withSession = (path: string) => fetch(`${url}${path}`, { method: 'POST', headers: { 'chat-identity-session': credential } });
    expect(await (await withSession('/chat')).json()).toEqual({ via: 'session' });
    const logout = await withSession('/logout');
    expect([await logout.json(), logout.headers.get('chat-identity-session')]).toEqual([{ ended: true }, 'ended']);
    const after = await withSession('/chat');
    expect(after.status).toBe(401);
  });
});

describe("Hono's error handling", () => {
  it("rejectWith: 'error' with no onError: Hono's own handler renders the rejection as the response path would (getResponse)", async () => {
    const asError = new Hono<IdentityEnv>();
    asError.use(identityVerification(options({ required: true, rejectWith: 'error' })));
    asError.post('/chat', (c) => c.json({ reached: true }));
    const asResponse = new Hono<IdentityEnv>();
    asResponse.use(identityVerification(options({ required: true })));
    asResponse.post('/chat', (c) => c.json({ reached: true }));
    for (const body of [forged, {}]) {
      const [a, b] = await Promise.all([asError, asResponse].map((app) => app.request(post(body))));
      expect([a!.status, [...a!.headers], await a!.text()]).toEqual([b!.status, [...b!.headers], await b!.text()]);
      expect(a!.status).toBe(401);
    }
  });

  it("rejectWith: 'error': app.onError gets the IdentityError, from the middleware and from the guard", async () => {
    const app = new Hono<IdentityEnv>();
    app.onError((error, c) => {
      if (!(error instanceof IdentityError)) return c.text('Internal Server Error', 500);
      return c.json({ ...error.body, handledBy: 'app', attached: c.get('identity')?.verified ?? null }, error.status as 401);
    });
    app.use('/strict/*', identityVerification(options({ required: true, rejectWith: 'error' })));
    app.use('/chat', identityVerification(options()));
    app.post('/strict/chat', (c) => c.json({ reached: true }));
    app.post('/chat', requireVerified({ rejectWith: 'error' }), (c) => c.json({ reached: true }));
    const strict = await app.request(post({}, {}).url.replace('/api/chat', '/strict/chat'), { method: 'POST' });
    expect([strict.status, await strict.json()]).toEqual([401, { ...MISSING, handledBy: 'app', attached: false }]);
    const guarded = await app.request(post(forged).url.replace('/api/chat', '/chat'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(forged),
    });
    expect([guarded.status, await guarded.json()]).toEqual([401, { ...INVALID, handledBy: 'app', attached: false }]);
  });

  it('identityOf(c) on a route with no guard throws the rejection, which Hono answers as a 401, not a 500 (fail closed)', async () => {
    const app = new Hono<IdentityEnv>();
    app.use(identityVerification(options()));
    app.post('/api/chat', (c) => c.json({ hello: identityOf(c).contact.externalId }));
    const res = await app.request(post(forged));
    expect([res.status, await res.json()]).toEqual([401, INVALID]);
  });

  it('requireVerified() refuses a look-alike the app sets, and the result attached cannot be changed into a pass', async () => {
    const lookAlike = {
      verified: true,
      scheme: 'user-hash',
      contact: { externalId: 'admin', attributes: {}, verifiedFields: ['externalId'] },
    };
    const app = new Hono<IdentityEnv>();
    app.use(identityVerification(options()));
    app.use('/forged/*', async (c, next) => (c.set('identity', lookAlike as never), next()));
    app.use('/changed/*', async (c, next) => {
      // Sloppy-mode writes, as a merging library makes them: refused silently by the frozen result.
      Reflect.set(c.get('identity')!, 'verified', true);
      return next();
    });
    app.post('*', requireVerified(), (c) => c.json({ reached: true }));
    for (const path of ['/forged/chat', '/changed/chat']) {
      const res = await app.request(post(forged).url.replace('/api/chat', path), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(forged),
      });
      expect([res.status, await res.json()]).toEqual([401, path === '/forged/chat' ? MISSING : INVALID]);
    }
  });

  it('requireVerified() with no identityVerification() before it: refused, and said once', async () => {
    const logger = quiet();
    const app = new Hono<IdentityEnv>();
    app.post('/api/chat', requireVerified({ logger }), (c) => c.json({ reached: true }));
    for (let i = 0; i < 2; i++) {
      const res = await app.request(post(valid));
      expect([res.status, await res.json()]).toEqual([401, MISSING]);
    }
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatch(/identityVerification\(options\)/);
  });
});

describe('two Authorization headers', () => {
  it('a Web Request joins them with a comma, which no token holds: refused as malformed, never one of them verified', async () => {
    const verifier = createVerifier({ scheme: 'jwt', keys: [LIVE_KEY], logger: quiet() });
    const token = signJwt({ externalId: 'alice' }, LIVE_KEY);
    const headers = new Headers();
    headers.append('authorization', `Bearer ${token}`);
    headers.append('authorization', `Bearer ${signJwt({ externalId: 'mallory' }, LIVE_KEY)}`);
    const { result } = await verifyRequest(new Request('https://chat.example/api/chat', { method: 'POST', headers }), { verifier });
    expect(result).toMatchObject({ verified: false, error: { code: 'MALFORMED_IDENTITY' } });
    const one = await verifyRequest(
      new Request('https://chat.example/api/chat', { method: 'POST', headers: { authorization: `Bearer ${token}` } }),
      {
        verifier,
      },
    );
    expect(one.result).toMatchObject({ verified: true, contact: { externalId: 'alice' } });
  });
});
