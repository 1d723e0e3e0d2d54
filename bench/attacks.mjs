/**
 * What an attacker can make one request cost: the worst failing input of each kind, through
 * `verify()` with the default failure limits, beside valid requests in the same rounds. Warm-up,
 * then rounds in which every candidate is sampled once (order rotated each round); medians, and
 * each ratio is the median of the per-round ratios, so a slow moment hits both sides.
 *
 *   node bench/attacks.mjs [--quick] [--rounds 15] [--sample-ms 150] [--out file.json]
 *
 * "Distinct attackers" send each request from a new address and for a new identity, so no limit
 * refuses them early: the full cost of a failure. The repeated attacker is over its limits.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { addressOf } from './lib/fixtures.mjs';
import { importPackage } from './lib/package.mjs';
import { median, round } from './lib/stats.mjs';

const { createVerifier, responseHeadersOf, signPayload, signUserHash } = await importPackage();

const SECRET = 'sk_live_bench_attacks_5e0c1d2b3a4f';
const POOL = 4096;
const NOW = Date.now();
const nowSeconds = Math.floor(NOW / 1000);
const quiet = { warn() {}, error() {} };
const verifierFor = (options) => createVerifier({ keys: [SECRET], now: () => NOW, logger: quiet, ...options });
const pool = (make) => Array.from({ length: POOL }, (_, n) => make(n));

/**
 * The costliest failing payload known: keys every sort order disagrees on (an integer-like key, one
 * past the BMP, one full-width), and 8 attributes of slashes and an é that fill the size limit in
 * the spelling that escapes "/" (PHP's), so that every other spelling is long too. (An outside review
 * found it twice as costly as the mix of every escaped character measured before, 2026-12-02.)
 */
function worstCustomer(n) {
  const customer = { externalId: `attacker-${n}`, 1: 'x', '\u{1F600}k': 'y', '\uFF01k': 'z', timestamp: nowSeconds };
  for (let i = 0; i < 8; i++) customer[`b${i}`] = `${'/'.repeat(450)}é`;
  return customer;
}
const WORST_LENGTH = JSON.stringify(worstCustomer(0)).length;
const millionFields = Object.fromEntries(Array.from({ length: 19_000 }, (_, i) => [`field${i}`, 'x'.repeat(40)]));
const nonAscii8k = { externalId: 'x', timestamp: 'soon', bio: 'é'.repeat(8000) };
const badHex = '0'.repeat(64);
/**
 * 50 attributes of slashes, in reverse order: a payload whose diagnosis (4 keys) spends its whole
 * budget, and whose every candidate (the customer without one field, ...) is a JSON text of them all.
 * An outside review found the checks still built such texts after the budget was spent, 2026-12-02.
 */
const FIFTY_ATTRIBUTES = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${49 - i}`, '/'.repeat(20)]));
const FOUR_KEYS = [SECRET, 'sk_live_bench_previous_0001', 'sk_live_bench_previous_0002', 'sk_live_bench_previous_0003'];
/**
 * A token of just under its 8,192-character limit, a new externalId per attacker. The id's 9 digits
 * sit at a byte offset divisible by 3, so their base64url is spliced in without encoding the rest again.
 */
const JWT_PADDING = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`pad${i}`, 'x'.repeat(980)]));
const JWT_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
const JWT_BEFORE = Buffer.from('{"externalId":"attacker-').toString('base64url'); // 24 bytes
const JWT_AFTER = Buffer.from(`",${JSON.stringify({ ...JWT_PADDING, iat: nowSeconds }).slice(1)}`).toString('base64url');
const jwt8k = (n) =>
  `${JWT_HEADER}.${JWT_BEFORE}${Buffer.from(String(n).padStart(9, '0')).toString('base64url')}${JWT_AFTER}.${'A'.repeat(43)}`;

/** Valid requests: a pool of distinct signed users, cycled (successes are never counted). */
const cycle = (make) => {
  const requests = pool(make);
  return (n) => requests[n % POOL];
};
/** Failing requests: a new attacker for every one (address and identity), so no limit refuses it early. */
const attacker = (make) => (n) => ({ ...make(n), ip: addressOf(n) });

/**
 * Sessions (docs/sessions.md): credentials of distinct users, minted once by a verifier of the same
 * session key; `age` seconds before NOW, so that the benched verifier renews them (300 s and more) or not.
 */
const SESSION = { keys: ['bench-session-key-7d1e0c9b8a6f5e4d3c2b1a09'] };
async function sessionPool(age, size = POOL) {
  const clock = () => NOW - age * 1000;
  const minter = createVerifier({ scheme: 'user-hash', keys: [SECRET], now: clock, logger: quiet, rateLimit: false, session: SESSION });
  const requests = [];
  for (let n = 0; n < size; n++) {
    const result = await minter.verify({ body: { user_id: `user-${n}`, user_hash: signUserHash(`user-${n}`, SECRET) } });
    requests.push({ headers: { 'chat-identity-session': responseHeadersOf(result)['Chat-Identity-Session'] }, ip: addressOf(n) });
  }
  return requests;
}
// A verifier remembers the last 10,000 credentials it made or verified (src/session/index.ts): a widget's
// next request is recognised; 24,000 made by another instance, cycled, are each seen for the first time.
const FIRST_USES = 24_000;
const [sessions, sessionsToRenew, firstUses] = [await sessionPool(60), await sessionPool(600), await sessionPool(60, FIRST_USES)];
const SESSIONS = { scheme: 'user-hash', session: SESSION };
const userHashOf = (n) => ({ body: { user_id: `user-${n}`, user_hash: signUserHash(`user-${n}`, SECRET) }, ip: addressOf(n) });
/** A credential with one claim changed and its MAC kept: what an attacker can send. */
const tampered = (request, n) => {
  const [version, claims, mac] = request.headers['chat-identity-session'].split('.');
  const changed = { ...JSON.parse(Buffer.from(claims, 'base64url').toString()), c: { externalId: `attacker-${n}` } };
  return { headers: { 'chat-identity-session': `${version}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${mac}` } };
};

/** [id, label, options, the request for attempt n, the outcome expected]. */
const CANDIDATES = [
  [
    'valid-user-hash',
    'valid user-hash',
    { scheme: 'user-hash' },
    cycle((n) => ({ body: { user_id: `user-${n}`, user_hash: signUserHash(`user-${n}`, SECRET) }, ip: addressOf(n) })),
    'VERIFIED',
  ],
  [
    'valid-payload',
    'valid signed-payload, 4 fields',
    { scheme: 'signed-payload' },
    cycle((n) => ({
      body: signPayload({ externalId: `user-${n}`, email: `u${n}@example.com`, name: `User ${n}`, timestamp: nowSeconds }, SECRET),
      ip: addressOf(n),
    })),
    'VERIFIED',
  ],
  [
    'valid-payload-worst',
    `valid signed-payload of the worst shape (${WORST_LENGTH} characters)`,
    { scheme: 'signed-payload' },
    cycle((n) => ({ body: signPayload(worstCustomer(n), SECRET), ip: addressOf(n) })),
    'VERIFIED',
  ],
  [
    'repeat-attacker',
    'a repeated attacker, over its limits (user-hash)',
    { scheme: 'user-hash' },
    () => ({ body: { user_id: 'victim', user_hash: badHex }, ip: '203.0.113.66' }),
    'RATE_LIMITED',
  ],
  [
    'user-hash-bad',
    'user-hash, wrong signature, distinct attackers',
    { scheme: 'user-hash' },
    attacker((n) => ({ body: { user_id: `attacker-${n}`, user_hash: badHex } })),
    'INVALID_SIGNATURE',
  ],
  [
    'payload-worst-bad',
    'signed-payload of the worst shape, wrong signature, distinct attackers',
    { scheme: 'signed-payload' },
    attacker((n) => ({ body: { customer: worstCustomer(n), signature: badHex } })),
    'INVALID_SIGNATURE',
  ],
  [
    'payload-worst-bad-3-keys',
    'the same, with 3 keys configured',
    { scheme: 'signed-payload', keys: [SECRET, 'sk_live_bench_previous_0001', 'sk_test_bench_0002'] },
    attacker((n) => ({ body: { customer: worstCustomer(n), signature: badHex } })),
    'INVALID_SIGNATURE',
  ],
  [
    'payload-million',
    'signed-payload customer of 19,000 fields (1 MB)',
    { scheme: 'signed-payload' },
    attacker(() => ({ body: { customer: millionFields, signature: badHex } })),
    'MALFORMED_IDENTITY',
  ],
  [
    'payload-8k-test-mode',
    'signed-payload, 8,000 non-ASCII characters, string timestamp, testMode: true',
    { scheme: 'signed-payload' },
    attacker((n) => ({ body: { customer: { ...nonAscii8k, externalId: `attacker-${n}` }, signature: badHex, testMode: true } })),
    'MALFORMED_IDENTITY',
  ],
  [
    'jwt-8k',
    'jwt of 8,192 characters, wrong signature',
    { scheme: 'jwt' },
    attacker((n) => ({ headers: { authorization: `Bearer ${jwt8k(n)}` } })),
    'INVALID_SIGNATURE',
  ],
  [
    'unknown-tenant',
    'an unknown tenant (keys lookup returns none)',
    { scheme: 'user-hash', keys: () => undefined, tenant: (r) => r.headers['x-team'] },
    attacker((n) => ({ headers: { 'x-team': `junk-${n}` }, body: { user_id: `attacker-${n}`, user_hash: badHex } })),
    'KEY_UNAVAILABLE',
  ],
  ['valid-session', "valid session, no proof: a widget's next request (user-hash)", SESSIONS, (n) => sessions[n % POOL], 'VERIFIED'],
  [
    'valid-session-first-use',
    'valid session made by another instance, first seen (parsed, MACed)',
    SESSIONS,
    (n) => firstUses[n % FIRST_USES],
    'VERIFIED',
  ],
  [
    'valid-session-renewed',
    'valid session first seen here, 10 minutes old: renewed',
    SESSIONS,
    (n) => sessionsToRenew[n % POOL],
    'VERIFIED',
  ],
  ['valid-user-hash-issuing', 'valid user-hash with sessions on (a session issued)', SESSIONS, cycle(userHashOf), 'VERIFIED'],
  [
    'session-tampered',
    'session, claims changed, distinct attackers',
    SESSIONS,
    attacker((n) => tampered(sessions[n % POOL], n)),
    'INVALID_SIGNATURE',
  ],
  [
    'diagnosed',
    'user-hash, base64 signature, diagnostics: true (a budgeted diagnosis)',
    { scheme: 'user-hash', diagnostics: true },
    attacker((n) => ({ body: { user_id: `attacker-${n}`, user_hash: Buffer.from(badHex, 'hex').toString('base64') } })),
    'MALFORMED_IDENTITY',
  ],
  [
    'diagnosed-payload-50',
    'signed-payload of 50 attributes, base64 signature, 4 keys, diagnostics: true (a diagnosis to its budget)',
    { scheme: 'signed-payload', keys: FOUR_KEYS, diagnostics: true },
    attacker((n) => ({
      body: {
        customer: { ...FIFTY_ATTRIBUTES, externalId: `attacker-${n}`, email: `a${n}@example.com`, timestamp: nowSeconds },
        signature: Buffer.from(badHex, 'hex').toString('base64'),
      },
    })),
    'MALFORMED_IDENTITY',
  ],
];

const codeOf = (result) => (result.verified ? 'VERIFIED' : result.error?.code);

async function sample(c, targetNs) {
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed;
  do {
    for (let j = 0; j < 8; j++) {
      const code = codeOf(await c.verifier.verify(c.request(c.cursor + n + j)));
      if (code !== c.expected) throw new Error(`${c.label}: ${code}, expected ${c.expected}`);
    }
    n += 8;
    elapsed = Number(process.hrtime.bigint() - t0);
  } while (elapsed < targetNs);
  c.cursor += n;
  return elapsed / n / 1000; // µs per request
}

export async function runAttacks({ quick = false, rounds, sampleMs, log = () => {} } = {}) {
  // 15 rounds: with 7, the worst-shape payload's per-round ratio ran from 4.1 to 8.5× in one run.
  const settings = { rounds: rounds ?? (quick ? 3 : 15), sampleMs: sampleMs ?? (quick ? 60 : 150), warmupMs: quick ? 100 : 300 };
  const list = CANDIDATES.map(([id, label, options, request, expected]) => ({
    id,
    label,
    verifier: verifierFor(options),
    request,
    expected,
    cursor: 0,
  }));
  // The repeated attacker is put over its limits first (it is a failure only until then).
  const repeat = list.find((c) => c.id === 'repeat-attacker');
  for (let i = 0; i < 30; i++) await repeat.verifier.verify(repeat.request(0));
  log('attacks: warm-up');
  for (const c of list) await sample(c, settings.warmupMs * 1e6);
  const samples = Object.fromEntries(list.map((c) => [c.id, []]));
  for (let r = 0; r < settings.rounds; r++) {
    for (let k = 0; k < list.length; k++) {
      const c = list[(k + r) % list.length];
      samples[c.id].push(await sample(c, settings.sampleMs * 1e6));
    }
  }
  const vs = (id, base) => round(median(samples[id].map((us, r) => us / samples[base][r])), 3);
  const candidates = {};
  for (const c of list) {
    candidates[c.id] = {
      label: c.label,
      outcome: c.expected,
      usPerRequest: round(median(samples[c.id]), 3),
      vsValidUserHash: vs(c.id, 'valid-user-hash'),
      samples: samples[c.id].map((s) => round(s, 3)),
    };
  }
  for (const id of ['payload-worst-bad', 'payload-worst-bad-3-keys']) candidates[id].vsValidSameShape = vs(id, 'valid-payload-worst');
  // What issuing a session adds to a verified proof.
  candidates['valid-user-hash-issuing'].vsValidSameShape = vs('valid-user-hash-issuing', 'valid-user-hash');
  return { settings, candidates };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'sample-ms': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const results = await runAttacks({
    quick: values.quick,
    rounds: values.rounds && Number(values.rounds),
    sampleMs: values['sample-ms'] && Number(values['sample-ms']),
    log: (m) => console.error(m),
  });
  if (values.out) writeFileSync(values.out, JSON.stringify(results, null, 2));
  else console.log(JSON.stringify(results, null, 2));
}
