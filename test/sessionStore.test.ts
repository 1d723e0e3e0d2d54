/**
 * The in-memory session store when an attacker floods it (an outside review's findings, each test
 * failing before its fix): it fails closed, never open. Also: any value as a cookie header is bad
 * input, not a bug. The clock is the verifier's `now` option, never slept on.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  createVerifier,
  memorySessionStore,
  responseHeadersOf,
  signUserHash,
  type IdentityResult,
  type VerifyRequest,
} from '../src/index.js';
import { LIVE_KEY, NOW } from './helpers.js';
import { SESSION_KEY, dpopKey, dpopProof } from './support/sessions.js';

const HEADER = 'Chat-Identity-Session';
const URL = 'https://chat.example/api/chat';
const quiet = () => ({ warn: vi.fn(), error: vi.fn() });
const userHashBody = (id: string) => ({ user_id: id, user_hash: signUserHash(id, LIVE_KEY) });
const issuedBy = (result: IdentityResult) => responseHeadersOf(result)[HEADER];
const codeOf = (result: IdentityResult) => (result.verified ? 'VERIFIED' : (result.error?.code ?? 'ANONYMOUS'));
/** The attacker's own user hash: valid, and (user-hash never expires) reusable for as many requests as wanted. */
const ATTACKER_PROOF = userHashBody('attacker');
const ATTACKER_IP = '203.0.113.66';
/** The default in-memory session store keeps this many entries (src/session/store.ts DEFAULT_MAX_ENTRIES). */
const STORE_ENTRIES = 10_000;
/** A request to the chat URL carrying the DPoP proof `dpop`. */
const on = (dpop: string, extra: VerifyRequest = {}): VerifyRequest => ({
  method: 'POST',
  url: URL,
  ...extra,
  headers: { dpop, ...extra.headers },
});

describe('the in-memory session store, flooded by an attacker with one reusable proof of its own', () => {
  // One valid user hash (they never expire) and 10,000 successful requests, each with a fresh DPoP
  // proof of the attacker's own key, fill the default store (10,000 used proofs) within a proof's
  // lifetime; successes count against no limit. Dropping a live entry must not reopen its replay.
  it(
    'a lifted, already-used DPoP proof stays refused; meanwhile proofs expiring no later than the forgotten ones are refused, and later ones verify again',
    { timeout: 300_000 },
    async () => {
      let clock = NOW;
      const verifier = createVerifier({
        scheme: 'user-hash',
        keys: [LIVE_KEY],
        now: () => clock,
        logger: quiet(),
        session: { keys: [SESSION_KEY], bind: 'dpop' }, // the default store: memory; default failure limits on
      });

      // The victim starts a bound session and makes one request with it.
      const victimKey = dpopKey();
      const credential = issuedBy(await verifier.verify(on(dpopProof(victimKey, { url: URL }), { body: userHashBody('victim') })))!;
      expect(credential).toBeDefined();
      const used = dpopProof(victimKey, { url: URL, credential });
      const sessionRequest = (ip: string) => on(used, { headers: { 'chat-identity-session': credential }, ip });
      expect(codeOf(await verifier.verify(sessionRequest('198.51.100.7')))).toBe('VERIFIED');
      // The attacker lifts the credential and that DPoP proof (a log, a proxy): the replay is refused.
      expect(codeOf(await verifier.verify(sessionRequest(ATTACKER_IP)))).toBe('INVALID_SIGNATURE');

      // The flood: once the store drops a live proof, fresh proofs of the same lifetime are refused too.
      const attackerKey = dpopKey();
      const codes = new Map<string, number>();
      for (let i = 0; i < STORE_ENTRIES; i++) {
        const code = codeOf(await verifier.verify(on(dpopProof(attackerKey, { url: URL }), { body: ATTACKER_PROOF, ip: ATTACKER_IP })));
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      expect(codes.get('VERIFIED')).toBe(STORE_ENTRIES - 1); // the last of them pushed the victim's proof out
      expect(codes.get('INVALID_SIGNATURE')).toBe(1);

      // Same second, same lifted proof: still refused.
      const replay = await verifier.verify(sessionRequest(ATTACKER_IP));
      expect(replay.verified).toBe(false);
      expect(codeOf(replay)).toBe('INVALID_SIGNATURE');

      // Once the forgotten proofs are too old anyway (60 s, and the clock tolerance), fresh proofs verify again.
      clock = NOW + 125_000;
      const fresh = await verifier.verify(
        on(dpopProof(victimKey, { url: URL, credential, iat: Math.floor(clock / 1000) }), {
          headers: { 'chat-identity-session': credential },
        }),
      );
      expect(codeOf(fresh)).toBe('VERIFIED');
    },
  );

  // Each request starts a new session, which the documented logout route ends at once, 10,000 times.
  it(
    'a credential copied before a logout stays refused after the attacker logs out 10,000 sessions of its own',
    { timeout: 300_000 },
    async () => {
      const verifier = createVerifier({
        scheme: 'user-hash',
        keys: [LIVE_KEY],
        now: () => NOW, // frozen: well within the idle window
        logger: quiet(),
        session: { keys: [SESSION_KEY] }, // the default store: memory
      });
      const victim = await verifier.verify({ body: userHashBody('victim'), ip: '198.51.100.7' });
      const copied = issuedBy(victim)!; // copied before the logout (a shared computer, a log)
      expect(await verifier.endSession(victim)).toMatchObject({ ended: true });
      const replay = () => verifier.verify({ headers: { 'chat-identity-session': copied }, ip: ATTACKER_IP });
      expect(codeOf(await replay())).toBe('SESSION_EXPIRED');

      // What POST /chat/logout does for a request carrying the attacker's own proof: a session started, then ended.
      for (let i = 0; i < STORE_ENTRIES; i++) {
        const result = await verifier.verify({ body: ATTACKER_PROOF, ip: ATTACKER_IP });
        if (!(await verifier.endSession(result)).ended) throw new Error(`attacker logout ${i} ended nothing`);
      }

      const after = await replay();
      expect(after.verified).toBe(false);
      expect(codeOf(after)).toBe('SESSION_EXPIRED');
      // Failing closed ends every session started so far; a fresh proof starts one that holds.
      const again = issuedBy(await verifier.verify({ body: userHashBody('victim'), ip: '198.51.100.7' }))!;
      expect(codeOf(await verifier.verify({ headers: { 'chat-identity-session': again } }))).toBe('VERIFIED');
    },
  );
});

describe('any JS value through the core is bad input, not a bug', () => {
  it.each([5, { a: 1 }])('a cookie header of %j is no cookie, and no internal error', async (cookie) => {
    const logger = quiet();
    const verifier = createVerifier({
      scheme: 'user-hash',
      keys: [LIVE_KEY],
      now: () => NOW,
      logger,
      session: { keys: [SESSION_KEY], cookie: true },
    });
    const result = await verifier.verify({ headers: { cookie } } as unknown as VerifyRequest);
    expect(result.verified).toBe(false);
    expect(logger.error.mock.calls.filter(([line]) => /internal error/.test(String(line)))).toEqual([]);
  });

  it.each([[[Object.create(null)]], [[5, { a: 1 }]]])('a session header of %j is no credential, and no internal error', async (sent) => {
    const logger = quiet();
    const verifier = createVerifier({ scheme: 'user-hash', keys: [LIVE_KEY], now: () => NOW, logger, session: { keys: [SESSION_KEY] } });
    const result = await verifier.verify({ headers: { 'chat-identity-session': sent } } as unknown as VerifyRequest);
    expect(result.verified).toBe(false);
    expect(codeOf(result)).toBe('ANONYMOUS'); // no proof and no credential: unverified, no error
    expect(logger.error.mock.calls.filter(([line]) => /internal error/.test(String(line)))).toEqual([]);
  });
});

/**
 * A bound verifier on a 20-entry memory store: the victim uses a DPoP proof (`iat` given), then an
 * attacker floods the store with proofs of its own session dated half a second later (so they
 * outlive the victim's record), and the victim's used proof is forgotten. Returns its replay.
 */
async function victimProofForgotten(clock: { at: number; storeLag: number }, iat: number) {
  const verifier = createVerifier({
    scheme: 'user-hash',
    keys: [LIVE_KEY],
    now: () => clock.at,
    logger: quiet(),
    rateLimit: false,
    session: { keys: [SESSION_KEY], bind: 'dpop', store: memorySessionStore({ now: () => clock.at + clock.storeLag, maxEntries: 20 }) },
  });
  const victimKey = dpopKey();
  const victim = issuedBy(await verifier.verify(on(dpopProof(victimKey, { url: URL }), { body: userHashBody('victim') })))!;
  const used = dpopProof(victimKey, { url: URL, credential: victim, iat });
  const replay = () => verifier.verify(on(used, { headers: { 'chat-identity-session': victim } }));
  expect(codeOf(await replay())).toBe('VERIFIED');
  const attackerKey = dpopKey();
  const attacker = issuedBy(await verifier.verify(on(dpopProof(attackerKey, { url: URL }), { body: ATTACKER_PROOF })))!;
  // 20 entries: the two session starts, the victim's proof, then 19 more push out the first two, no more.
  for (let i = 0; i < 19; i++) {
    const proof = dpopProof(attackerKey, { url: URL, credential: attacker, iat: iat + 0.5 });
    await verifier.verify(on(proof, { headers: { 'chat-identity-session': attacker } })); // the last few refused, once the victim's is dropped
  }
  return replay;
}

describe('a used DPoP proof forgotten by a full store', () => {
  const iat = Math.floor(NOW / 1000);

  it('stays refused in the last second of its window too (its replay is kept no longer than the proof lived)', async () => {
    const clock = { at: NOW, storeLag: 0 };
    const replay = await victimProofForgotten(clock, iat);
    clock.at = (iat + 60) * 1000 - 400; // 400 ms before the proof's 60 s end
    expect(codeOf(await replay())).toBe('INVALID_SIGNATURE');
  });

  it('stays refused when the store reads its clock later at the replay than at the first use', async () => {
    const clock = { at: NOW, storeLag: 0 };
    const replay = await victimProofForgotten(clock, iat);
    clock.at = NOW + 20_000;
    for (clock.storeLag of [1, 10, 200]) expect(codeOf(await replay()), `${clock.storeLag} ms`).toBe('INVALID_SIGNATURE');
  });
});
