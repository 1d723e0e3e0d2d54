/**
 * The demo's server, through supertest: the example site signs its signed-in user, the chat
 * backend (Express adapter, required: true) answers a verified contact and refuses a tampered
 * proof, and the signature tester's endpoint names every signing mistake.
 */
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { LIVE_KEY, NOW, TEST_KEY } from './helpers.js';
import { MISTAKE_CASES, secretsOf } from './mistakeCases.js';
import { signUserHash } from '../src/index.js';

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
    await agent.post('/site/logout').expect(200);
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

  it.each([
    [{ scheme: 'md5', proof: {} }, /scheme must be one of/],
    [{ scheme: 'jwt', proof: 'eyJ...' }, /proof must be an object/],
    [{ scheme: 'jwt', proof: {}, keys: Array(11).fill(LIVE_KEY) }, /at most 10/],
    [{ scheme: 'jwt', proof: {}, keys: [''] }, /non-empty secret/],
    [{ scheme: 'jwt', proof: {}, keys: [{ secret: LIVE_KEY, expiresAt: 'someday' }] }, /not a date/],
  ])('answers 400 to %j', async (payload, message) => {
    const { body } = await request(createDemoApp()).post('/api/tester').send(payload).expect(400);
    expect(body.error).toMatch(message);
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
