/**
 * No secret, key or signature the verifier computed ever leaves the package: not in a result,
 * an error, a hint, a rejection body, a thrown message, a log line or anything printed to the
 * console. A broad sweep (the conformance table, the attack table, property samples, each with
 * diagnostics on, with the client's testMode, and with rejections delivered as errors) collects
 * everything the package returns and prints, then searches it for every configured secret and
 * for every HMAC those secrets give over what each request carried (hex, base64, base64url),
 * in pieces: 12 characters of a secret, 16 of a signature, unless the request itself held them.
 */
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { inspect, format } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdentityStrategy } from '../../adapters/passport.js';
import * as expressAdapter from '../../adapters/express.js';
import { canonicalForms, type FlatObject } from '../../src/canonicalJson.js';
import { createRequestCheck, type MiddlewareOptions } from '../../adapters/adapter.js';
import {
  createVerifier,
  type IdentityResult,
  type KeyInput,
  type Logger,
  type VerifierOptions,
  type SchemeName,
  type VerifyRequest,
} from '../../src/index.js';
import { ATTACK_CASES } from '../conformance/attacks.js';
import { CASES, type ConformanceCase } from '../conformance/cases.js';
import { LIVE_KEY, OTHER_TENANT_KEY, PREVIOUS_KEY, TEST_KEY, frozenClock } from '../helpers.js';
import { ADAPTERS, buildApps, inject } from '../support/apps.js';
import {
  ALL_PROPERTY_SECRETS,
  COMBINED,
  PROPERTY_SECRETS,
  SCHEMES,
  TAMPERED,
  attackerRequest,
  hmacEncodings,
  propertyOptions,
} from './arbitraries.js';

type CaseRequest = ConformanceCase['request'];

/** Every secret the suites configure. */
const fixtureSecrets = readdirSync(new URL('../fixtures/signed-payload/', import.meta.url))
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) =>
    (JSON.parse(readFileSync(new URL(`../fixtures/signed-payload/${f}`, import.meta.url), 'utf8')) as { secret: string }[]).map(
      (x) => x.secret,
    ),
  );
const caseSecrets = [...CASES, ...ATTACK_CASES].flatMap((c) => secretsIn(c.options.keys));
const SECRETS = [
  ...new Set([
    LIVE_KEY,
    PREVIOUS_KEY,
    TEST_KEY,
    OTHER_TENANT_KEY,
    ...PROPERTY_SECRETS,
    ...ALL_PROPERTY_SECRETS,
    ...fixtureSecrets,
    ...caseSecrets,
  ]),
].filter((s) => s.length >= 8);

function secretsIn(keys: VerifierOptions['keys'] | undefined): string[] {
  if (keys === undefined || typeof keys === 'function') return [];
  if (typeof keys === 'object' && !Array.isArray(keys) && !('secret' in keys) && !('publicKey' in keys) && !('jwks' in keys))
    return Object.values(keys).flatMap((k) => secretsIn(k as VerifierOptions['keys']));
  const list = (Array.isArray(keys) ? keys : [keys]) as KeyInput[];
  return list.flatMap((k) => (typeof k === 'string' ? [k] : 'secret' in k ? [k.secret] : []));
}

const SECRET_PIECE = 12;
const SIGNATURE_PIECE = 16;
const pieces = (text: string, size: number) =>
  text.length <= size ? [text] : Array.from({ length: text.length - size + 1 }, (_, i) => text.slice(i, i + size));

/** The HMACs a verifier computes for this request, under every secret: what must never come back out. */
function expectedSignatures(request: { headers?: Record<string, unknown>; body?: unknown }): string[] {
  const out: string[] = [];
  const body =
    request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body)
      ? (request.body as Record<string, unknown>)
      : {};
  const identifiers = ['user_id', 'ext_user_id', 'external_user_id', 'email', 'phone', 'anonymousUserId']
    .map((f) => body[f])
    .filter((v): v is string => typeof v === 'string' && v.length <= 1024);
  const customer = body.customer;
  const forms: string[] = [];
  if (
    customer !== null &&
    typeof customer === 'object' &&
    !Array.isArray(customer) &&
    Object.values(customer).every((v) => v === null || typeof v !== 'object')
  ) {
    try {
      let n = 0;
      for (const form of canonicalForms(customer as FlatObject)) if (n++ < 20 && form.length <= 8192) forms.push(form);
    } catch {
      // not serialisable (a BigInt): nothing a verifier could have signed
    }
  }
  const authorization = request.headers?.authorization;
  const token =
    typeof authorization === 'string' && /^bearer /i.test(authorization)
      ? authorization.slice(7).trim()
      : typeof body.token === 'string'
        ? body.token
        : undefined;
  const parts = typeof token === 'string' && token.length <= 8192 ? token.split('.') : [];
  for (const secret of SECRETS) {
    for (const data of [...identifiers, ...forms]) out.push(...hmacEncodings(secret, data));
    if (parts.length === 3)
      for (const hash of ['sha256', 'sha384', 'sha512'] as const) out.push(...hmacEncodings(secret, `${parts[0]}.${parts[1]}`, hash));
  }
  return out;
}

interface Leak {
  source: string;
  what: string;
  output: string;
}

/** Every 12-character piece of every secret, and the secret it belongs to. */
const SECRET_PIECES = new Map(SECRETS.flatMap((secret) => pieces(secret, SECRET_PIECE).map((piece) => [piece, secret] as const)));

/** Collects everything the package said for one request, and checks it against what it must not say. */
class Sweep {
  readonly leaks: Leak[] = [];
  outputs = 0;
  hints = 0;
  readonly logs: string[] = [];
  /** The forbidden signature pieces of the last request: each request is checked once per path in a row. */
  private last: { sent: string; forbidden: Set<string> } | undefined;

  check(source: string, request: { headers?: Record<string, unknown>; body?: unknown; text?: string }, said: string[]): void {
    const sent = JSON.stringify(request) + (request.text ?? '');
    const text = said.join('\n');
    this.outputs += said.length;
    if (/"hint":/.test(text) || /hint: '/.test(text)) this.hints++;
    for (let i = 0; i + SECRET_PIECE <= text.length; i++) {
      const piece = text.slice(i, i + SECRET_PIECE);
      if (SECRET_PIECES.has(piece) && !sent.includes(piece)) {
        this.leaks.push({ source, what: `a piece of a secret: ${piece}`, output: text.slice(0, 400) });
        break;
      }
    }
    const forbidden = this.forbiddenFor(request, sent);
    for (let i = 0; i + SIGNATURE_PIECE <= text.length; i++) {
      const piece = text.slice(i, i + SIGNATURE_PIECE);
      if (forbidden.has(piece)) {
        this.leaks.push({ source, what: `a piece of an expected signature: ${piece}`, output: text.slice(0, 400) });
        break;
      }
    }
  }

  private forbiddenFor(request: { headers?: Record<string, unknown>; body?: unknown }, sent: string): Set<string> {
    if (this.last?.sent === sent) return this.last.forbidden;
    const forbidden = new Set<string>();
    for (const signature of expectedSignatures(request)) for (const piece of pieces(signature, SIGNATURE_PIECE)) forbidden.add(piece);
    for (const piece of pieces(sent, SIGNATURE_PIECE)) forbidden.delete(piece);
    this.last = { sent, forbidden };
    return forbidden;
  }

  /** A logger that keeps what it is told, for the same check. */
  logger(): Logger {
    return { warn: (m) => this.logs.push(String(m)), error: (m) => this.logs.push(String(m)) };
  }
}

const resultText = (result: IdentityResult) => [JSON.stringify(result), inspect(result, { depth: 10 })];
const errorText = (error: unknown) =>
  error instanceof Error
    ? [error.message, String(error.stack), inspect(error, { depth: 10 }), JSON.stringify(error)]
    : [inspect(error, { depth: 10 })];

/** The plain request the core gets for a case request, parsed as a JSON body parser would. */
function plain(req: CaseRequest): VerifyRequest {
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const body = req.rawBody ? (req.rawBody.type.includes('json') ? JSON.parse(req.rawBody.text) : undefined) : req.body;
  return { headers, body, query: {}, params: {}, ip: '203.0.113.9' };
}

/** The same request as bytes on the wire, for the apps. */
function wire(req: CaseRequest): { headers: Record<string, string>; body?: string } {
  if (req.rawBody) return { headers: { ...req.headers, 'content-type': req.rawBody.type }, body: req.rawBody.text };
  if (req.body === undefined) return { headers: { ...req.headers } };
  return { headers: { ...req.headers, 'content-type': 'application/json' }, body: JSON.stringify(req.body) };
}

const withTestMode = (req: CaseRequest): CaseRequest =>
  req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)
    ? { ...req, body: { ...(req.body as object), testMode: true } }
    : req;

// rateLimit: false unless a case sets its own limits: the limiter's memory store costs ~10 ms to
// build, and one is built per case, variant and adapter here; it says nothing secret either way.
const VARIANTS = {
  'as configured': (c: ConformanceCase) => ({ options: {}, request: c.request }),
  'diagnostics on': (c: ConformanceCase) => ({ options: { diagnostics: true }, request: c.request }),
  'client testMode': (c: ConformanceCase) => ({ options: {}, request: withTestMode(c.request) }),
  'rejections as errors, diagnostics on': (c: ConformanceCase) => ({
    options: { diagnostics: true, rejectWith: 'error' as const },
    request: c.request,
  }),
};

describe('no secret or expected signature in anything the package returns, throws, logs or prints', () => {
  // Each test sweeps on its own (no test relies on what another collected) and ends with
  // expectClean: its results, its logger's lines and what reached the console meanwhile.
  let sweep = new Sweep();
  let consoleFrom = 0;
  const consoleSaid: string[] = [];
  const spies: ReturnType<typeof vi.spyOn>[] = [];
  beforeEach(() => {
    sweep = new Sweep();
    consoleFrom = consoleSaid.length;
  });
  function expectClean(): void {
    sweep.check('logger', {}, sweep.logs);
    sweep.check('console', {}, consoleSaid.slice(consoleFrom));
    expect(sweep.leaks).toEqual([]);
  }

  beforeAll(() => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      spies.push(vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleSaid.push(format(...args))));
    }
  });
  afterAll(() => {
    for (const spy of spies) spy.mockRestore();
  });

  const everyCase = [...CASES, ...ATTACK_CASES];

  it.each(Object.keys(VARIANTS))(
    'the conformance and attack tables, %s, through the core and every adapter',
    async (variant) => {
      for (const testCase of everyCase) {
        const { options: extra, request } = VARIANTS[variant as keyof typeof VARIANTS](testCase);
        const options: MiddlewareOptions = {
          keys: [LIVE_KEY],
          now: frozenClock,
          logger: sweep.logger(),
          rateLimit: false,
          ...testCase.options,
          ...extra,
        };
        const requests = [...(testCase.before ?? []), request];
        const source = `${testCase.name} (${variant})`;

        // The core: the result itself, and the rejection as the adapters would deliver it.
        const check = createRequestCheck(options);
        for (const req of requests) {
          const { result, rejection } = await check.check(plain(req), '');
          sweep.check(`${source} core`, plain(req), [
            ...resultText(result),
            ...(rejection ? [...errorText(rejection), JSON.stringify(rejection.body)] : []),
          ]);
        }
        // Every adapter, in-process, with the framework's own rendering of errors when asked for.
        const apps = buildApps(options, { guard: testCase.guard ?? false });
        for (const name of ADAPTERS) {
          for (const req of requests) {
            const answer = await inject(apps[name].handler, wire(req));
            sweep.check(`${source} ${name}`, plain(req), [
              answer.text,
              JSON.stringify(answer.headers),
              ...apps[name].errors.flatMap(errorText),
            ]);
            apps[name].errors.length = 0;
          }
        }
      }
      expectClean();
      // Broad: every case through six paths, and where hints are on, hundreds of them.
      expect(sweep.outputs).toBeGreaterThan(1000);
      if (variant.includes('diagnostics')) expect(sweep.hints).toBeGreaterThan(100);
    },
    60_000,
  );

  it('random attacker requests and tampered proofs, with diagnostics and testMode', async () => {
    const seed = Number(process.env.FC_SEED ?? 20_260_101);
    // visitor-hash needs a verifier of its own; the other schemes share one.
    const optionsFor = (diagnostics: boolean, schemes: SchemeName[] = COMBINED): MiddlewareOptions => ({
      ...propertyOptions(schemes, { required: true, diagnostics }),
      logger: sweep.logger(),
    });
    for (const scheme of SCHEMES) {
      const group: SchemeName[] = scheme === 'visitor-hash' ? ['visitor-hash'] : COMBINED;
      const verifiers = [createVerifier(optionsFor(true, group)), createVerifier(optionsFor(false, group))];
      for (const { tampered } of fc.sample(TAMPERED[scheme], { numRuns: 150, seed })) {
        for (const request of [tampered, withTestMode(tampered)]) {
          for (const verifier of verifiers)
            sweep.check(`tampered ${scheme}`, request, resultText(await verifier.verify(request as VerifyRequest)));
        }
      }
    }
    const apps = buildApps({ ...optionsFor(true), rejectWith: 'error' });
    for (const raw of fc.sample(attackerRequest, { numRuns: 200, seed })) {
      let body: unknown;
      try {
        body = JSON.parse(raw.text);
      } catch {
        body = undefined;
      }
      for (const name of ADAPTERS) {
        const answer = await inject(apps[name].handler, { headers: raw.headers, body: raw.text });
        sweep.check(`attacker request via ${name}`, { headers: raw.headers, body, text: raw.text }, [
          answer.text,
          ...apps[name].errors.flatMap(errorText),
        ]);
        apps[name].errors.length = 0;
      }
    }
    expectClean();
    // Broad: thousands of attacker requests and tampered proofs, hints among the answers.
    expect(sweep.outputs).toBeGreaterThan(1000);
    expect(sweep.hints).toBeGreaterThan(10);
  }, 60_000);

  it('misconfiguration errors thrown at start-up name the option, never the secret', () => {
    const misconfigured: unknown[] = [
      { scheme: 'nope', keys: [LIVE_KEY] },
      { scheme: 'jwt', keys: [LIVE_KEY, ''] },
      { scheme: 'jwt', keys: [] },
      { scheme: 'jwt', keys: [{ secret: LIVE_KEY, expiresAt: 'tomorrow' }] },
      { scheme: 'jwt', keys: [{ secret: LIVE_KEY, id: 'k' }], algorithms: ['none'] },
      { scheme: 'jwt', keys: [{ secret: TEST_KEY }], algorithms: ['RS256'] },
      { scheme: 'jwt', keys: LIVE_KEY, maxAge: -1 },
      { scheme: 'jwt', keys: [PREVIOUS_KEY], issuer: 5 },
      { scheme: 'jwt', keys: [LIVE_KEY], rateLimit: { identity: { points: 0, duration: 60 } } },
      { scheme: ['user-hash', 'bogus'], keys: [OTHER_TENANT_KEY] },
      { scheme: ['user-hash', 'jwt'], keys: [OTHER_TENANT_KEY] },
      { scheme: ['user-hash', 'jwt'], keys: { 'user-hash': [LIVE_KEY], jwt: [LIVE_KEY] } },
      { scheme: 'user-hash', keys: [`${LIVE_KEY}\n`] },
    ];
    let thrown = 0;
    for (const options of misconfigured) {
      for (const build of [
        () => createVerifier(options as VerifierOptions),
        () => expressAdapter.identityVerification(options as MiddlewareOptions),
        () => new IdentityStrategy(options as MiddlewareOptions),
      ]) {
        try {
          build();
        } catch (error) {
          thrown++;
          sweep.check(
            `misconfiguration ${JSON.stringify(options, (_, v) => (typeof v === 'string' && SECRETS.includes(v) ? '<secret>' : v))}`,
            {},
            errorText(error),
          );
        }
      }
    }
    expect(thrown).toBe(misconfigured.length * 3);
    expectClean();
  });

  it('key lookups that fail or return bad keys fail closed without echoing them', async () => {
    const lookups: NonNullable<VerifierOptions['keys']>[] = [
      () => {
        throw new Error(`could not decrypt ${LIVE_KEY} with ${PREVIOUS_KEY}`);
      },
      () => Promise.reject(new Error(`vault said: ${TEST_KEY}`)),
      () => [{ secret: LIVE_KEY, expiresAt: 'never' as unknown as number }],
      () => [LIVE_KEY, ''],
    ];
    for (const keys of lookups) {
      const options: VerifierOptions = {
        scheme: 'user-hash',
        keys,
        now: frozenClock,
        logger: sweep.logger(),
        diagnostics: true,
        rateLimit: false,
      };
      const body = { user_id: 'u1', user_hash: 'a'.repeat(64), testMode: true };
      const result = await createVerifier(options).verify({ body });
      expect(result).toMatchObject({ verified: false, error: { code: 'KEY_UNAVAILABLE' } });
      sweep.check('failing key lookup', { body }, resultText(result));
    }
    expectClean();
  });

  it('knows every secret the suites configure', () => {
    for (const secret of [LIVE_KEY, PREVIOUS_KEY, TEST_KEY, OTHER_TENANT_KEY, ...ALL_PROPERTY_SECRETS]) expect(SECRETS).toContain(secret);
  });
});

describe('the leak detector', () => {
  it('finds a secret, a piece of one, and a piece of an expected signature, but not what the client sent', () => {
    const sweep = new Sweep();
    const request = { body: { user_id: 'u1', user_hash: 'f'.repeat(64) } };
    const expected = hmacEncodings(LIVE_KEY, 'u1')[0]!;
    sweep.check('whole secret', request, [`bad key ${LIVE_KEY}`]);
    sweep.check('secret piece', request, [`key starts ${LIVE_KEY.slice(0, 14)}`]);
    sweep.check('expected signature', request, [`expected ${expected}`]);
    sweep.check('expected prefix', request, [`expected ${expected.slice(0, 20)}...`]);
    sweep.check('base64 of it', request, [hmacEncodings(LIVE_KEY, 'u1')[1]!]);
    sweep.check('jwt signature', { headers: { authorization: 'Bearer a.b.c' } }, [hmacEncodings(LIVE_KEY, 'a.b', 'sha384')[2]!]);
    expect(
      sweep.leaks.map((l) => l.source),
      JSON.stringify(sweep.leaks, null, 1),
    ).toEqual(['whole secret', 'secret piece', 'expected signature', 'expected prefix', 'base64 of it', 'jwt signature']);
    const clean = new Sweep();
    clean.check('echo of the client', request, [`got ${'f'.repeat(64)}`]);
    expect(clean.leaks).toEqual([]);
  });
});
