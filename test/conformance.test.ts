import { describe, expect, it } from 'vitest';
import { failure, type IdentityErrorCode } from '../src/errors.js';
import { LIVE_KEY, frozenClock } from './helpers.js';
import { ATTACK_CASES } from './conformance/attacks.js';
import { CASES } from './conformance/cases.js';
import { PATHS, type Outcome } from './conformance/paths.js';

describe('conformance: one table through the core and every adapter', () => {
  it('has at least 40 cases, reaching every error code', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    const codes = new Set(CASES.map((c) => c.expect.code).filter(Boolean));
    for (const code of [
      'MISSING_IDENTITY',
      'MISSING_REQUIRED_FIELD',
      'MALFORMED_IDENTITY',
      'INVALID_SIGNATURE',
      'SIGNATURE_EXPIRED',
      'RATE_LIMITED',
      'KEY_UNAVAILABLE',
    ])
      expect(codes).toContain(code);
  });

  describe.each([...CASES, ...ATTACK_CASES].map((c) => [c.name, c] as const))('%s', (_, testCase) => {
    // A bug the verifier fails closed on is still a bug: every row fails if one is logged.
    const internalErrors: string[] = [];
    const logger = { warn() {}, error: (message: string) => void (message.includes('internal error') && internalErrors.push(message)) };
    const options = { keys: [LIVE_KEY], now: frozenClock, logger, ...testCase.options };
    const requests = [...(testCase.before ?? []), testCase.request];
    const guard = testCase.guard ?? false;
    /** The core's answer, computed once, and also when a filter runs an adapter without the core. */
    let coreAnswer: Promise<Outcome> | undefined;
    const core = () => (coreAnswer ??= PATHS.core(options, guard, requests));

    it.each(Object.keys(PATHS) as (keyof typeof PATHS)[])('%s', async (path) => {
      const outcome = path === 'core' ? await core() : await PATHS[path](options, guard, requests);
      const { status, code, identity, hint, retryAfter, session, challenge, body } = testCase.expect;
      expect(outcome.status).toBe(status);
      expect(outcome.retryAfter).toBe(retryAfter);
      if (session) expect(outcome.session ?? 'none').toBe(session);
      if (challenge) expect(outcome.challenge).toBe(challenge);
      if (code) {
        expect(outcome.body).toMatchObject({
          error: status === 429 ? 'rate_limited' : 'identity_unverified',
          code,
          // One fixed message per code, whatever the case: the specifics are only ever in `hint`.
          message: failure(code as IdentityErrorCode).message,
        });
        expect('hint' in (outcome.body as object)).toBe(hint ?? false);
      } else {
        expect(outcome.body).toMatchObject(body ?? { identity });
      }
      expect(internalErrors).toEqual([]);
      // Same status, body and attached result as the core, byte for byte.
      if (path !== 'core') expect(outcome).toEqual(await core());
    });
  });
});
