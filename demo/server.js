/**
 * The chat-identity demo, in one process:
 *
 * - an example site (`/site/...`): sign in as a sample user; its own endpoint signs the user's
 *   identity on the server, the seed's flow (`GET /site/identity` -> `{ customer, signature }`);
 * - an example chat backend (`POST /chat`): the Express adapter with `required: true`, so only a
 *   verified contact gets a reply and everything else gets `401 identity_unverified`. A verified
 *   proof starts a session bound to the browser's key (DPoP): the widget goes on with it past the
 *   proof's 5 minutes, and fetches a fresh proof only when the backend says the session ended
 *   (`POST /chat/logout` ends it; `POST /site/rotate-key` rotates the site's key with a grace period);
 * - a signature tester (`POST /api/tester`, page `/tester.html`): paste a proof and a key, get the
 *   verdict and the diagnosis of the signing mistake;
 * - a rollout page (`/rollout.html`): the chat backend's own counters (`GET /api/stats`, a stats
 *   snapshot; `GET /api/rollout`, the readiness report `chat-identity report` prints) drawn over the
 *   last hour, the switch between enforce, report and off (`POST /api/rollout/mode`: the keys
 *   lookup's `required` for the demo's tenant), and an hour of sample traffic to watch
 *   (`POST /api/rollout/simulate`).
 *
 * Plain JavaScript and static pages: nothing to build but the package itself (`npm start` does).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createVerifier, identityStats, rolloutReport, signPayload } from 'chat-identity';
import { endSession, identityVerification } from 'chat-identity/express';

export const SCHEMES = ['signed-payload', 'user-hash', 'contact-hash', 'jwt', 'visitor-hash'];

/** The people who can sign in to the example site. */
export const SAMPLE_USERS = [
  { id: '1', name: 'Ada Lovelace', email: 'ada@example.com', plan: 'pro' },
  { id: '2', name: 'Grace Hopper', email: 'grace@example.com', plan: 'team' },
  { id: '3', name: 'Alan Turing', email: 'alan@example.com', plan: 'free' },
];

const SESSION_COOKIE = 'demo_session';
/** The demo's one tenant, as its keys lookup names it: the rows of the counters. */
const TENANT = 'demo';
const MODES = [true, false, 'report'];
const MAX_SESSIONS = 1000;
const MAX_TESTER_KEYS = 10;
/** The longest grace a rotation gives the old key: 30 days. */
const MAX_GRACE_SECONDS = 30 * 86_400;
const silent = { warn() {}, error() {} };

/**
 * The keys: `CHAT_IDENTITY_SECRET` (live) and `CHAT_IDENTITY_TEST_SECRET` (test) from the
 * environment, or a test key generated now when neither is set. The site signs with the live
 * key when there is one, else with the test key (and then the widget declares test mode).
 */
export function demoKeys(env = process.env) {
  const live = env.CHAT_IDENTITY_SECRET || undefined;
  let test = env.CHAT_IDENTITY_TEST_SECRET || undefined;
  const generated = !live && !test;
  if (generated) test = `sk_test_${randomBytes(32).toString('hex')}`;
  const keys = [];
  if (live) keys.push({ secret: live, id: 'live', test: false });
  if (test) keys.push({ secret: test, id: 'test', test: true });
  return { keys, signingKey: keys[0], generated };
}

/**
 * The body parser of the actions that change state (sign-in, key rotation, rollout mode, sample
 * traffic): JSON only, else 415. A cross-site form posts text/plain or a form encoding without
 * asking; `application/json` needs a CORS preflight, which the demo never grants.
 */
function jsonOnly() {
  const parse = express.json({ limit: '1kb' });
  return (req, res, next) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') return res.status(415).json({ error: 'send this request as application/json.' });
    parse(req, res, next);
  };
}

function readCookie(req, name) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

const KEY_FIELDS = {
  secret: ['secret', 'id', 'test', 'expiresAt'],
  publicKey: ['publicKey', 'alg', 'id', 'test', 'expiresAt'],
  jwks: ['jwks', 'alg', 'test'],
};
const NO_FETCH = 'the tester fetches nothing: paste the JWKS document itself ({ "jwks": { "keys": [...] } }), not a URL to fetch it from.';

/**
 * Keys pasted into the tester: secrets, `{ secret, id?, test?, expiresAt? }` (expiresAt as ms or a
 * date), public keys `{ publicKey, alg?, id? }` (PEM or JWK) and inline JWKS `{ jwks: { keys } }`.
 * Only what needs no network: a key set given by URL, in any spelling the library takes (a string,
 * `{ url }`), would have this open endpoint fetch any host for anyone, and its diagnosis echo the reply.
 * Each key is copied field by field, so nothing the library might fetch gets through.
 */
function testerKeys(pasted) {
  if (!Array.isArray(pasted) || pasted.length > MAX_TESTER_KEYS)
    throw new TypeError(`keys must be a list of at most ${MAX_TESTER_KEYS} keys.`);
  return pasted.map(testerKey);
}

function testerKey(key) {
  if (typeof key === 'string') return key;
  if (key === null || typeof key !== 'object' || Array.isArray(key))
    throw new TypeError('a key is a secret, { secret }, { publicKey } or { jwks: { keys: [...] } }.');
  const kind = Object.keys(KEY_FIELDS).find((field) => field in key);
  if (kind === undefined)
    throw new TypeError('url' in key ? NO_FETCH : 'a key is a secret, { secret }, { publicKey } or { jwks: { keys: [...] } }.');
  const unknown = Object.keys(key).find((field) => !KEY_FIELDS[kind].includes(field));
  if (unknown !== undefined) throw new TypeError(`a { ${kind} } key takes ${KEY_FIELDS[kind].join(', ')}, not ${JSON.stringify(unknown)}.`);
  const copy = { ...key };
  if (kind === 'jwks') {
    const { jwks } = key;
    if (jwks === null || typeof jwks !== 'object' || Array.isArray(jwks) || 'url' in jwks || !Array.isArray(jwks.keys))
      throw new TypeError(NO_FETCH);
    copy.jwks = { keys: jwks.keys };
  }
  if (kind === 'publicKey' && typeof key.publicKey !== 'string' && (key.publicKey === null || typeof key.publicKey !== 'object'))
    throw new TypeError('a publicKey is PEM text or a public JWK.');
  if (typeof key.expiresAt === 'string') {
    copy.expiresAt = Date.parse(key.expiresAt);
    if (Number.isNaN(copy.expiresAt)) throw new TypeError("a key's expiresAt is not a date.");
  }
  return copy;
}

/**
 * The chat backend's session key: `CHAT_IDENTITY_SESSION_SECRET`, or one generated at start (every
 * session then ends with the process, as a rotated session key would end them).
 */
export function demoSessionKey(env = process.env) {
  return env.CHAT_IDENTITY_SESSION_SECRET || `session_${randomBytes(32).toString('hex')}`;
}

/**
 * The demo's Express app.
 * @param {{ env?: Record<string, string | undefined>, keys?: ReturnType<typeof demoKeys>, sessionKey?: string,
 *   now?: () => number }} [options]
 */
export function createDemoApp(options = {}) {
  const initial = options.keys ?? demoKeys(options.env);
  // The site's keys change when it rotates them (POST /site/rotate-key): the chat backend looks them up.
  let { keys, signingKey } = initial;
  const now = options.now ?? Date.now;
  const sessionKey = options.sessionKey ?? demoSessionKey(options.env);
  let rotations = 0;
  const sessions = new Map();
  // Rollout: the tenant's `required` (enforce by default, as the demo always did), and the counters.
  // The counters' clock runs `shift` behind while the sample traffic of the last hour is replayed.
  let mode = true;
  let shift = 0;
  const stats = identityStats({ now: () => now() + shift });
  const app = express();
  app.disable('x-powered-by');
  // Every answer says the server's time: the widget dates its DPoP proofs by it, not by the browser's clock.
  app.use((_req, res, next) => {
    res.setHeader('Date', new Date(now()).toUTCString());
    next();
  });

  // ---- The example site: its own sign-in, and the endpoint that signs the identity (seed 000).
  const currentUser = (req) => SAMPLE_USERS.find((u) => u.id === sessions.get(readCookie(req, SESSION_COOKIE)));

  app.get('/site/users', (_req, res) => res.json(SAMPLE_USERS.map(({ id, name }) => ({ id, name }))));

  app.get('/site/me', (req, res) => {
    const user = currentUser(req);
    res.json({ user: user ?? null, testMode: signingKey.test });
  });

  app.post('/site/login', jsonOnly(), (req, res) => {
    const user = SAMPLE_USERS.find((u) => u.id === req.body?.userId);
    if (!user) return res.status(400).json({ error: 'No such user.' });
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value);
    const session = randomBytes(16).toString('hex');
    sessions.set(session, user.id);
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`);
    res.json({ user });
  });

  app.post('/site/logout', jsonOnly(), (req, res) => {
    sessions.delete(readCookie(req, SESSION_COOKIE));
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    res.json({ user: null });
  });

  app.get('/site/identity', (req, res) => {
    const user = currentUser(req);
    if (!user) return res.status(401).json({ error: 'Not logged in' });
    // Only these fields are signed (flat, no nested objects), with the time in seconds; a fresh
    // signature for each page load, never cached.
    const { customer, signature } = signPayload(
      { email: user.email, externalId: user.id, name: user.name, plan: user.plan },
      signingKey.secret,
      { now },
    );
    res.json({ customer, signature, testMode: signingKey.test });
  });

  // The site rotates its key: the new one signs from now on; the old one verifies for `graceSeconds`
  // more (the seed's 24 hours by default, 30 days at most), and the sessions its proofs started end with it.
  // (A demo's admin action, as JSON only: a real site also guards it, and its chat backend reads the keys from
  // where the site keeps them.)
  app.post('/site/rotate-key', jsonOnly(), (req, res) => {
    const grace = req.body?.graceSeconds ?? 86_400;
    // Capped: past it a date overflows (1e308 is a whole number too).
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS)
      return res.status(400).json({ error: `graceSeconds must be a whole number of seconds, at most ${MAX_GRACE_SECONDS} (30 days).` });
    const prefix = signingKey.test ? 'sk_test_' : 'sk_live_';
    const next = {
      secret: `${prefix}${randomBytes(32).toString('hex')}`,
      id: `${signingKey.test ? 'test' : 'live'}-${(rotations += 1) + 1}`,
      test: signingKey.test,
    };
    const retired = keys.map((key) => (key === signingKey ? { ...key, expiresAt: now() + grace * 1000 } : key));
    keys = [next, ...retired.filter((key) => key.expiresAt === undefined || key.expiresAt > now())];
    signingKey = next;
    res.json({
      keys: keys.map(({ id, expiresAt }) => ({ id, expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString() })),
    });
  });

  // ---- The example chat backend: only verified contacts get a reply.
  const chat = express.Router();
  chat.use(express.json({ limit: '16kb' }));
  // Hints are the server's decision: on while the demo runs on a test key (development), off with a live key.
  // Sessions: a verified proof starts one, bound to the browser's key; the widget goes on with it.
  chat.use(
    identityVerification({
      scheme: 'signed-payload',
      // A lookup of this process's own list, which names the tenant and its mode: rotations and the
      // rollout page's switch apply at once.
      keys: () => ({ tenant: TENANT, keys, required: mode }),
      keyCache: false,
      stats,
      required: true,
      diagnostics: initial.signingKey.test,
      now,
      logger: silent,
      session: { keys: [sessionKey], bind: 'dpop' },
    }),
  );
  chat.post('/', (req, res) => {
    const identity = req.identity;
    const message = typeof req.body.message === 'string' ? req.body.message.slice(0, 500) : '';
    // In report (or off) mode an unverified request comes this far, as an anonymous visitor.
    if (!identity.verified) {
      const { wouldReject = null } = identity;
      return res.json({
        reply: `Hello, anonymous visitor, you said: ${message}`,
        anonymous: true,
        code: identity.error?.code ?? null,
        wouldReject,
      });
    }
    const { contact, test, via } = identity;
    res.json({ reply: `Hello ${contact.name ?? contact.externalId}, you said: ${message}`, contact, test, via });
  });
  // The widget's sign-out: the session ends on the server too, and the response says so.
  chat.post('/logout', (req, res, next) => {
    endSession(req, res).then((ended) => res.json({ ended }), next);
  });
  app.use('/chat', chat);

  // ---- The signature tester: a proof and keys in, the verdict and the diagnosis out.
  app.post('/api/tester', express.json({ limit: '64kb' }), async (req, res) => {
    const { scheme, proof, keys: pasted, testMode, allowTestKeys } = req.body ?? {};
    if (!SCHEMES.includes(scheme)) return res.status(400).json({ error: `scheme must be one of ${SCHEMES.join(', ')}.` });
    if (proof === null || typeof proof !== 'object' || Array.isArray(proof))
      return res.status(400).json({ error: 'proof must be an object: the fields the widget sends (for jwt, { token }).' });
    const usingDemoKeys = pasted === undefined || (Array.isArray(pasted) && pasted.length === 0);
    // A diagnosis says how close a proof came to a key's signature: an open endpoint gives that for
    // the demo's test key, never for a live one (CHAT_IDENTITY_SECRET). A live key is pasted, or not examined.
    const testKeys = keys.filter((key) => key.test);
    if (usingDemoKeys && testKeys.length === 0)
      return res.status(400).json({ error: "paste a key: the tester examines proofs with the demo's test key only, and none is set." });
    let verifier;
    try {
      verifier = createVerifier({
        scheme,
        keys: usingDemoKeys ? testKeys : testerKeys(pasted),
        diagnostics: true,
        allowTestKeys: allowTestKeys !== false,
        now,
        keyCache: false,
        logger: silent,
      });
    } catch (error) {
      return res.status(400).json({ error: error.message.replace(/^chat-identity: /, '').replace('options.keys', 'keys') });
    }
    const body = testMode === true ? { ...proof, testMode: true } : { ...proof };
    const result = await verifier.verify({ headers: {}, body });
    const mistake = result.verified ? null : (result.error?.mistake ?? null);
    res.json({ ...result, mistake, keys: usingDemoKeys ? 'demo' : 'pasted' });
  });

  // ---- Rollout: the chat backend's counters, the readiness report, the mode switch, sample traffic.
  app.get('/api/stats', (_req, res) => res.json(stats.stats()));
  app.get('/api/rollout', (req, res) => {
    const window = req.query.window === 'day' ? 'day' : 'hour';
    res.json({ mode, report: rolloutReport(stats.stats(), { window, tenant: TENANT }) });
  });
  app.post('/api/rollout/mode', jsonOnly(), (req, res) => {
    if (!MODES.includes(req.body?.mode)) return res.status(400).json({ error: "mode must be true, false or 'report'." });
    mode = req.body.mode;
    res.json({ mode });
  });
  app.post('/api/rollout/simulate', jsonOnly(), async (_req, res, next) => {
    try {
      res.json({ sent: await simulateHour() });
    } catch (error) {
      next(error);
    }
  });

  /**
   * An hour of sample traffic through a verifier counting into the same counters, minute by minute
   * on a clock set back: a site rolling out identify(). At first a fifth of its pages send no proof
   * and some still sign with a key retired yesterday; it fixes both during the hour.
   */
  async function simulateHour() {
    const retired = { secret: `${signingKey.test ? 'sk_test_' : 'sk_live_'}${randomBytes(32).toString('hex')}`, id: 'retired' };
    const clock = () => now() + shift;
    const simulated = createVerifier({
      scheme: 'signed-payload',
      keys: () => ({ tenant: TENANT, keys: [...keys, { ...retired, expiresAt: now() - 86_400_000 }], required: mode }),
      keyCache: false,
      stats,
      required: true,
      diagnostics: true,
      rateLimit: false,
      now: clock,
      logger: silent,
    });
    let sent = 0;
    try {
      for (let minute = 59; minute >= 0; minute--) {
        shift = -minute * 60_000;
        const elapsed = 59 - minute;
        const missing = Math.max(0, Math.round(6 - elapsed / 7));
        const oldKey = elapsed < 45 ? 2 : 0;
        for (let i = 0; i < 30; i++) {
          const user = SAMPLE_USERS[i % SAMPLE_USERS.length];
          const secret = i < oldKey ? retired.secret : signingKey.secret;
          const body =
            i >= 30 - missing ? { message: 'hi' } : signPayload({ externalId: `${user.id}-${i}`, name: user.name }, secret, { now: clock });
          await simulated.verify({ headers: {}, body, ip: `198.51.100.${i}` });
          sent += 1;
        }
      }
    } finally {
      shift = 0;
    }
    return sent;
  }

  app.use(express.static(fileURLToPath(new URL('./public', import.meta.url))));
  // An error (a body that is not JSON, too large, a bug) answers JSON, never Express's HTML page with its stack trace.
  // (Four parameters: how Express tells an error handler.)
  app.use((error, _req, res, _next) => {
    const status = Number.isInteger(error.status) && error.status >= 400 && error.status < 600 ? error.status : 500;
    res.status(status).json({ error: status < 500 && error.expose ? error.message : 'Internal error.' });
  });
  return app;
}

/**
 * Starts the demo. `port: 0` picks a free port (the tests do); `now` is the server's clock (the
 * browser test moves it through a 20-minute conversation without waiting).
 * @param {{ port?: number, host?: string, env?: Record<string, string | undefined>, now?: () => number }} [options]
 */
export function startDemo(options = {}) {
  const keys = demoKeys(options.env);
  const app = createDemoApp({ keys, now: options.now, env: options.env });
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port ?? 3000, host, (error) => {
      if (error) return reject(error);
      const { port } = server.address();
      const shown = host === '127.0.0.1' || host === '::1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      resolve({
        url: `http://${shown}:${port}`,
        port,
        keys,
        server,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
    server.on('error', reject);
  });
}
