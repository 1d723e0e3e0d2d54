/**
 * What every signing helper shares: it refuses, with a TypeError saying why, what the verifier
 * would refuse. A secret is checked as a configured key is; an identifier as the verifier reads it.
 * (Each scheme's own refusals are in its file.)
 */
import { describe, expect, it } from 'vitest';
import { signContactHash, signJwt, signPayload, signUserHash, signVisitorHash, type SchemeName } from '../../src/index.js';
import { LIVE_KEY, frozenClock, verifyBody } from '../helpers.js';

const SIGNERS: ReadonlyArray<readonly [helper: string, sign: (secret: string) => unknown]> = [
  ['signPayload', (secret) => signPayload({ externalId: '42' }, secret, { now: frozenClock })],
  ['signUserHash', (secret) => signUserHash('42', secret)],
  ['signContactHash', (secret) => signContactHash({ ext_user_id: '42' }, secret)],
  ['signJwt', (secret) => signJwt({ externalId: '42' }, secret, { now: frozenClock })],
  ['signVisitorHash', (secret) => signVisitorHash('v1', secret)],
];

const SECRETS: ReadonlyArray<readonly [what: string, secret: string, message: RegExp]> = [
  ['an empty secret', '', /non-empty secret/],
  ['a secret with a trailing newline', `${LIVE_KEY}\n`, /starts or ends with whitespace/],
  ['a secret with a leading space', ` ${LIVE_KEY}`, /starts or ends with whitespace/],
];

describe('every signing helper refuses a secret the verifier would refuse as a key', () => {
  it.each(SIGNERS.flatMap(([helper, sign]) => SECRETS.map(([what, secret, message]) => [helper, what, sign, secret, message] as const)))(
    '%s, %s: a TypeError naming the helper',
    (helper, _, sign, secret, message) => {
      expect(() => sign(secret)).toThrow(TypeError);
      expect(() => sign(secret)).toThrow(message);
      expect(() => sign(secret)).toThrow(`the secret given to ${helper}`);
    },
  );

  it.each(SIGNERS)('%s signs with a secret as issued', (_, sign) => {
    expect(() => sign(LIVE_KEY)).not.toThrow();
  });
});

/** The helpers that sign one identifier, and the fields the widget sends with it. */
const IDENTIFIER_SIGNERS: ReadonlyArray<
  readonly [helper: string, scheme: SchemeName, sign: (id: string) => string, body: (id: string, hash: string) => Record<string, string>]
> = [
  ['signUserHash', 'user-hash', (id) => signUserHash(id, LIVE_KEY), (id, hash) => ({ user_id: id, user_hash: hash })],
  [
    'signContactHash',
    'contact-hash',
    (id) => signContactHash({ ext_user_id: id }, LIVE_KEY),
    (id, hash) => ({ ext_user_id: id, user_hash: hash }),
  ],
  ['signVisitorHash', 'visitor-hash', (id) => signVisitorHash(id, LIVE_KEY), (id, hash) => ({ anonymousUserId: id, hmac: hash })],
];

const IDENTIFIERS: ReadonlyArray<readonly [what: string, id: unknown, message: RegExp]> = [
  ['an empty identifier', '', /arrived without/],
  ['a 256-character identifier', 'x'.repeat(256), /is longer than 255 characters/],
  ['an identifier with a lone surrogate', 'user\ud80042', /is not well-formed Unicode \(it holds a lone surrogate\)/],
  ['a numeric identifier', 42, /must be a string/],
];

describe('every identifier helper refuses an identifier the verifier would refuse', () => {
  it.each(
    IDENTIFIER_SIGNERS.flatMap(([helper, , sign]) => IDENTIFIERS.map(([what, id, message]) => [helper, what, sign, id, message] as const)),
  )('%s, %s: a TypeError saying why', (_, __, sign, id, message) => {
    expect(() => sign(id as string)).toThrow(TypeError);
    expect(() => sign(id as string)).toThrow(message);
  });

  it.each(IDENTIFIER_SIGNERS)('%s signs the longest identifier the verifier accepts, which verifies', async (_, scheme, sign, body) => {
    const id = 'x'.repeat(255);
    expect(await verifyBody({ scheme }, body(id, sign(id)))).toMatchObject({ verified: true });
  });
});
