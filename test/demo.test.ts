/**
 * The demo's server, through supertest: the example site signs its signed-in user, the chat
 * backend (Express adapter, required: true) answers a verified contact and refuses a tampered
 * proof, and the signature tester's endpoint names every signing mistake.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { LIVE_KEY, NOW, TEST_KEY } from './helpers.js';
import { MISTAKE_CASES, secretsOf } from './mistakeCases.js';
import { startJwksServer } from './support/jwksServer.js';
import { jwksOf, keyPair, tokenBy } from './support/keyPairs.js';
import { signPayload, signUserHash } from '../src/index.js';

// The demo imports the built adapter by the package's name; the tests use the source.
vi.mock('chat-identity/express', async () => await import('../adapters/express.js'));
const { createDemoApp, demoKeys, SAMPLE_USERS, startDemo } = await import('../demo/server.js');

const frozen =
  (seconds = 0) =>
  () =>
    NOW + seconds * 1000;

describe('demo keys', () => {
  it('generates a test key when the environment sets none, and the site then signs in test mode', () => {
    const { keys, signingKey, generated } = demoKeys({});
    expect(generated).toBe(true);
    expect(keys).toEqual([{ secret: expect.stringMatching(/^sk_test_[0-9a-f]{64}$/), id: 'test', test: true }]);
    expect(signingKey.test).toBe(true);
    expect(demoKeys({}).signingKey.secret).not.toBe(signingKey.secret);
  });

  it('uses CHAT_IDENTITY_SECRET and CHAT_IDENTITY_TEST_SECRET when set, signing with the live key', () => {
    const { keys, signingKey, generated } = demoKeys({ CHAT_IDENTITY_SECRET: LIVE_KEY, CHAT_IDENTITY_TEST_SECRET: TEST_KEY });
    expect(generated).toBe(false);
    expect(keys.map((k) => [k.secret, k.test])).toEqual([
      [LIVE_KEY, false],
      [TEST_KEY, true],
    ]);
    expect(signingKey.secret).toBe(LIVE_KEY);
  });
});

describe('demo: npm start with a live key', () => {
  /** What `node demo/main.js` prints (stdout and stderr) up to its keys line. */
  async function banner(env: Record<string, string>) {
    const main = fileURLToPath(new URL('../demo/main.js', import.meta.url));
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHAT_IDENTITY_')));
    const child = spawn(process.execPath, [main], { env: { ...clean, PORT: '0', HOST: '127.0.0.1', ...env } });
    try {
      return await new Promise<string>((resolve, reject) => {
        let out = '';
        // The warning goes to stderr before the banner: it is in by the time the keys line is.
        child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stdout.on('data', (chunk: Buffer) => ((out += chunk.toString()), /keys: /.test(out) && resolve(out)));
        child.on('exit', (code) => reject(new Error(`the demo exited (${code}) before its banner:\n${out}`)));
      });
    } finally {
      child.kill();
    }
  }

  it('warns that it signs its sample users with the live key, without a password', async () => {
    const live = await banner({ CHAT_IDENTITY_SECRET: LIVE_KEY });
    expect(live).toMatch(/WARNING: CHAT_IDENTITY_SECRET is a live key/);
    expect(live).toMatch(/with no password/);
    expect(live).toMatch(/no production backend trusts/);
    expect(live).not.toContain(LIVE_KEY);
    expect(await banner({ CHAT_IDENTITY_TEST_SECRET: TEST_KEY })).not.toMatch(/WARNING/);
  }, 30_000);
});

describe('demo: the example site and its chat backend', () => {
  const app = () => createDemoApp({ keys: demoKeys({}), now: frozen() });

  it("signs the signed-in user on the site's server, and the chat answers the verified contact", async () => {
    const agent = request.agent(app());
    await agent.get('/site/identity').expect(401, { error: 'Not logged in' });
    await agent.post('/site/login').send({ userId: '1' }).expect(200);
    const { body: proof } = await agent.get('/site/identity').expect(200);
    expect(proof).toMatchObject({
      customer: { externalId: '1', email: 'ada@example.com', name: 'Ada Lovelace', plan: 'pro', timestamp: NOW / 1000 },
      signature: expect.stringMatching(/^[0-9a-f]{64}$/),
      testMode: true,
    });

    const { body } = await agent
      .post('/chat')
      .send({ message: 'hello', ...proof })
      .expect(200);
    expect(body).toMatchObject({
      reply: 'Hello Ada Lovelace, you said: hello',
      test: true,
      contact: { externalId: '1', email: 'ada@example.com', identityKey: 'externalId' },
    });
    expect(body.contact.verifiedFields).toEqual(['externalId', 'email', 'name', 'attributes.plan']);
  });

  it('refuses a tampered proof with 401 identity_unverified, saying why in test mode', async () => {
    const agent = request.agent(app());
    await agent.post('/site/login').send({ userId: '2' }).expect(200);
    const { body: proof } = await agent.get('/site/identity');
    const tampered = { ...proof, customer: { ...proof.customer, externalId: '1' } };
    const { body } = await agent
      .post('/chat')
      .send({ message: 'I am Ada', ...tampered })
      .expect(401);
    expect(body).toMatchObject({
      error: 'identity_unverified',
      code: 'INVALID_SIGNATURE',
      message: 'The identity signature is not valid.',
      hint: expect.any(String),
    });
  });

  it('refuses a chat with no proof (MISSING_IDENTITY), and signing out stops the signing', async () => {
    const agent = request.agent(app());
    await agent
      .post('/chat')
      .send({ message: 'hi' })
      .expect(401)
      .expect((res) => expect(res.body).toMatchObject({ error: 'identity_unverified', code: 'MISSING_IDENTITY' }));
    await agent.post('/site/login').send({ userId: '3' }).expect(200);
    await agent.post('/site/logout').send({}).expect(200);
    await agent.get('/site/identity').expect(401);
    await agent.post('/site/login').send({ userId: 'nobody' }).expect(400);
  });

  it('lists the sample users, and serves the site and tester pages with no build step', async () => {
    const server = app();
    expect((await request(server).get('/site/users').expect(200)).body).toEqual(SAMPLE_USERS.map(({ id, name }) => ({ id, name })));
    expect((await request(server).get('/').expect(200)).text).toContain('<script type="module" src="site.js">');
    expect((await request(server).get('/tester.html').expect(200)).text).toContain('<script type="module" src="tester.js">');
    await request(server)
      .get('/site.js')
      .expect(200)
      .expect('content-type', /javascript/);
  });
});

describe('demo: the signature tester endpoint', () => {
  it.each(MISTAKE_CASES.map((c) => [c.name, c] as const))('names %s', async (_, testCase) => {
    const app = createDemoApp({ keys: demoKeys({}), now: frozen(testCase.at) });
    const payload: Record<string, unknown> = { scheme: testCase.scheme, proof: testCase.body, keys: testCase.keys };
    if (testCase.allowTestKeys === false) payload.allowTestKeys = false;
    const { body, text } = await request(app).post('/api/tester').send(payload).expect(200);
    expect(body).toMatchObject({ verified: false, error: { code: testCase.code }, mistake: testCase.mistake, keys: 'pasted' });
    if (testCase.detail) expect(body.error.hint).toMatch(testCase.detail);
    for (const secret of secretsOf(testCase.keys)) expect(text).not.toContain(secret);
  });

  it("verifies the site's proof with the demo's own keys when no key is pasted", async () => {
    const app = createDemoApp({ keys: demoKeys({}), now: frozen() });
    const agent = request.agent(app);
    await agent.post('/site/login').send({ userId: '1' });
    const { body: proof } = await agent.get('/site/identity');
    const { body } = await agent
      .post('/api/tester')
      .send({ scheme: 'signed-payload', proof: { customer: proof.customer, signature: proof.signature } })
      .expect(200);
    expect(body).toMatchObject({ verified: true, test: true, keys: 'demo', contact: { externalId: '1' } });
  });

  it("never examines a proof with the demo's live key: only its test key, or the keys pasted", async () => {
    const env = { CHAT_IDENTITY_SECRET: LIVE_KEY };
    const proof = { user_id: '1', user_hash: signUserHash('1', LIVE_KEY) };
    const liveOnly = createDemoApp({ keys: demoKeys(env), now: frozen() });
    const { body } = await request(liveOnly).post('/api/tester').send({ scheme: 'user-hash', proof }).expect(400);
    expect(body.error).toMatch(/paste a key/);
    const both = createDemoApp({ keys: demoKeys({ ...env, CHAT_IDENTITY_TEST_SECRET: TEST_KEY }), now: frozen() });
    const examined = await request(both).post('/api/tester').send({ scheme: 'user-hash', proof }).expect(200);
    expect(examined.body).toMatchObject({ verified: false, keys: 'demo', error: { code: 'INVALID_SIGNATURE' } });
    const pasted = await request(both)
      .post('/api/tester')
      .send({ scheme: 'user-hash', proof, keys: [LIVE_KEY] })
      .expect(200);
    expect(pasted.body).toMatchObject({ verified: true, keys: 'pasted' });
  });

  it('applies testMode and a key given as JSON with an ISO expiresAt', async () => {
    const testCase = MISTAKE_CASES.find((c) => c.mistake === 'previous-key-expired')!;
    const keys = [LIVE_KEY, { secret: secretsOf(testCase.keys)[1], expiresAt: new Date(NOW - 7200_000).toISOString() }];
    const { body } = await request(createDemoApp({ now: frozen() }))
      .post('/api/tester')
      .send({ scheme: 'user-hash', proof: testCase.body, keys, testMode: true })
      .expect(200);
    expect(body.mistake).toBe('previous-key-expired');
  });

  it('takes public keys (PEM, JWK) and a JWKS document pasted whole: none needs the network', async () => {
    const pair = keyPair('ES256', 'demo-es');
    const proof = { token: tokenBy(pair, { externalId: '42' }) };
    for (const keys of [[{ publicKey: pair.pem, alg: 'ES256', id: pair.kid }], [{ publicKey: pair.jwk }], [{ jwks: jwksOf(pair) }]]) {
      const { body } = await request(createDemoApp({ now: frozen() }))
        .post('/api/tester')
        .send({ scheme: 'jwt', proof, keys })
        .expect(200);
      expect(body, JSON.stringify(keys)).toMatchObject({ verified: true, keys: 'pasted', contact: { externalId: '42' } });
    }
  });

  it('fetches nothing: a key set given by URL, in any spelling, is a 400 and the server is never asked', async () => {
    const pair = keyPair('ES256', 'demo-es');
    const site = await startJwksServer();
    site.serve(jwksOf(pair));
    const proof = { token: tokenBy(pair, { externalId: '42' }) };
    const answers: [unknown, request.Response][] = [];
    try {
      for (const key of [
        { jwks: site.url },
        { jwks: { url: site.url } },
        { jwks: { url: site.url }, alg: 'ES256' },
        { jwks: { url: site.url, timeout: 1000, cooldown: 0 } },
        { jwks: { url: site.url, keys: [pair.jwk] } },
        { jwks: { url: { href: site.url } } },
        { jwks: [site.url] },
        { url: site.url },
      ]) {
        answers.push([
          key,
          await request(createDemoApp({ now: frozen() }))
            .post('/api/tester')
            .send({ scheme: 'jwt', proof, keys: [key] }),
        ]);
      }
      expect(site.paths).toEqual([]);
      for (const [key, { status, body }] of answers) {
        expect([status, body.error], JSON.stringify(key)).toEqual([
          400,
          expect.stringMatching(/the tester fetches nothing: paste the JWKS document itself/),
        ]);
      }
    } finally {
      await site.close();
    }
  });

  it.each([
    [{ scheme: 'md5', proof: {} }, /scheme must be one of/],
    [{ scheme: 'jwt', proof: 'eyJ...' }, /proof must be an object/],
    [{ scheme: 'jwt', proof: {}, keys: Array(11).fill(LIVE_KEY) }, /at most 10/],
    [{ scheme: 'jwt', proof: {}, keys: [''] }, /non-empty secret/],
    [{ scheme: 'jwt', proof: {}, keys: [{ secret: LIVE_KEY, expiresAt: 'someday' }] }, /not a date/],
    [{ scheme: 'jwt', proof: {}, keys: [{ secret: LIVE_KEY, expiresat: 0 }] }, /takes secret, id, test, expiresAt, not "expiresat"/],
    [{ scheme: 'jwt', proof: {}, keys: [{ publicKey: 42 }] }, /PEM text or a public JWK/],
    [{ scheme: 'jwt', proof: {}, keys: [42] }, /a key is a secret/],
  ])('answers 400 to %j', async (payload, message) => {
    const { body } = await request(createDemoApp()).post('/api/tester').send(payload).expect(400);
    expect(body.error).toMatch(message);
  });
});

describe("demo: the site's actions take JSON only", () => {
  const ACTIONS = ['/site/login', '/site/logout', '/site/rotate-key', '/api/rollout/mode', '/api/rollout/simulate'];

  it.each(ACTIONS)('answers 415 to %s posted as a cross-site form can (text/plain, a form encoding, no body)', async (path) => {
    const keys = demoKeys({});
    const app = createDemoApp({ keys, now: frozen() });
    const agent = request.agent(app);
    await agent.post('/site/login').send({ userId: '1' }).expect(200);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const post = agent.post(path);
      if (type) post.set('content-type', type).send(type === 'text/plain' ? '{"mode":false}' : 'mode=false&userId=1');
      const { body } = await post.expect(415).expect('content-type', /json/);
      expect(body.error, String(type)).toMatch(/application\/json/);
    }
    // Nothing changed: still signed in, same key, same mode, no traffic counted.
    const { body: proof } = await agent.get('/site/identity').expect(200);
    expect(proof.signature).toBe(signPayload(proof.customer, keys.signingKey.secret, { now: frozen() }).signature);
    const { body: rollout } = await agent.get('/api/rollout').expect(200);
    expect(rollout.mode).toBe(true);
    expect(rollout.report.tenants).toEqual([]);
  });

  it('still takes them as application/json, with or without a charset', async () => {
    const agent = request.agent(createDemoApp({ now: frozen() }));
    await agent.post('/site/login').set('content-type', 'Application/JSON; charset=utf-8').send('{"userId":"1"}').expect(200);
    await agent.post('/api/rollout/mode').send({ mode: 'report' }).expect(200, { mode: 'report' });
    await agent.post('/site/logout').send({}).expect(200, { user: null });
  });

  it('gives a rotated key at most 30 days of grace: 1e308 is a 400 (not a 500) and rotates nothing', async () => {
    const app = createDemoApp({ keys: demoKeys({}), now: frozen() });
    for (const graceSeconds of [1e308, 2_592_001, -1, 1.5, '600']) {
      const { body } = await request(app).post('/site/rotate-key').send({ graceSeconds }).expect(400);
      expect(body.error, String(graceSeconds)).toMatch(/at most 2592000 \(30 days\)/);
    }
    const { body } = await request(app).post('/site/rotate-key').send({ graceSeconds: 2_592_000 }).expect(200);
    expect(body.keys).toEqual([
      { id: 'test-2', expiresAt: null },
      { id: 'test', expiresAt: new Date(NOW + 2_592_000_000).toISOString() },
    ]);
  });

  it('answers a body that is not JSON with a JSON 400, never an HTML stack trace', async () => {
    const { body, text } = await request(createDemoApp())
      .post('/site/rotate-key')
      .set('content-type', 'application/json')
      .send('{"graceSeconds":')
      .expect(400)
      .expect('content-type', /json/);
    expect(body.error).toEqual(expect.any(String));
    expect(text).not.toMatch(/<pre>|node_modules| at /);
  });
});

describe('demo: startDemo', () => {
  it('listens on the port given (0: a free one) and says where', async () => {
    const demo = await startDemo({ port: 0, env: {} });
    try {
      expect(demo.url).toBe(`http://localhost:${demo.port}`);
      const response = await fetch(`http://127.0.0.1:${demo.port}/site/users`);
      expect(response.status).toBe(200);
    } finally {
      await demo.close();
    }
  });
});
