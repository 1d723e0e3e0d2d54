/**
 * The CLI, run in-process through `run(argv, io)`: keygen, sign and check for every scheme,
 * proofs from an argument, a file or stdin, every signing mistake named, exit codes 0 / 1 / 2.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processIO, run, type CliIO } from '../cli/main.js';
import { troubleshootingMarkdown } from '../cli/troubleshooting.js';
import { MISTAKES } from '../src/diagnosis/index.js';
import { signUserHash } from '../src/index.js';
import { LIVE_KEY, NOW, NOW_SECONDS, TEST_KEY } from './helpers.js';
import { MISTAKE_CASES, secretsOf } from './mistakeCases.js';
import { startJwksServer } from './support/jwksServer.js';
import { jwksOf, keyPair, tokenBy, withoutMembers } from './support/keyPairs.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** What the command wrote, by path, with the mode asked for. */
  written: Record<string, { text: string; mode: number | undefined }>;
}

async function cli(
  argv: string[],
  options: { stdin?: string; files?: Record<string, string>; env?: Record<string, string>; now?: () => number } = {},
): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const written: Outcome['written'] = {};
  const io: CliIO = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    readStdin: async () => options.stdin ?? '',
    stdinIsTTY: options.stdin === undefined,
    env: options.env ?? {},
    now: options.now ?? (() => NOW),
    readFile: async (path) => {
      const text = written[path]?.text ?? options.files?.[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    writeFile: async (path, text, mode) => void (written[path] = { text, mode }),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr, written };
}

/** The one line `sign` and `check` print on stderr when `--key` holds a secret (a secret on the command line). */
const ARGV_SECRET_WARNING = /^warning: --key puts a secret on the command line, .*\(ps\).*shell history.*CHAT_IDENTITY_SECRET.*--key-file/;
const withoutArgvWarning = (stderr: string) => stderr.replace(/^warning: --key puts a secret[^\n]*\n/, '');

// The CLI's JSON, read by the assertions whatever its shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (outcome: Outcome) => JSON.parse(outcome.stdout) as Record<string, any>;

describe('chat-identity keygen', () => {
  it('prints a live key with 32 random bytes, a test key with --test, JSON with --json', async () => {
    const live = await cli(['keygen']);
    expect(live).toMatchObject({ code: 0, stderr: '' });
    expect(live.stdout).toMatch(/^sk_live_[0-9a-f]{64}\n$/);
    expect((await cli(['keygen', '--test'])).stdout).toMatch(/^sk_test_[0-9a-f]{64}\n$/);
    expect(json(await cli(['keygen', '--test', '--json']))).toEqual({
      secret: expect.stringMatching(/^sk_test_[0-9a-f]{64}$/),
      test: true,
    });
    expect((await cli(['keygen'])).stdout).not.toBe(live.stdout);
  });
});

describe('chat-identity sign | check, every scheme', () => {
  const identities: Array<[string, string]> = [
    ['signed-payload', '{"externalId":"42","email":"ada@example.com","plan":"pro"}'],
    ['user-hash', '42'],
    ['contact-hash', '{"email":"ada@example.com","phone":"+15550100"}'],
    ['jwt', '{"externalId":"42","email":"ada@example.com"}'],
    ['visitor-hash', 'v_123'],
  ];

  it.each(identities)('%s: what sign prints, check verifies (exit 0)', async (scheme, identity) => {
    const signed = await cli(['sign', scheme, identity, '--key', LIVE_KEY, '--json']);
    expect(signed.code).toBe(0);
    expect(withoutArgvWarning(signed.stderr)).toBe('');
    const checked = await cli(['check', scheme, signed.stdout.trim(), '--key', LIVE_KEY, '--json']);
    expect(checked.code).toBe(0);
    expect(json(checked)).toMatchObject({ verified: true, scheme, test: false });
    const human = await cli(['check', scheme, signed.stdout.trim(), '--key', LIVE_KEY]);
    expect(human.stdout).toMatch(new RegExp(`^verified: ${scheme}, signed with a live key\\n`));
  });

  it('signs at --now and prints the widget fields; a jwt prints the bare token', async () => {
    const payload = json(await cli(['sign', 'signed-payload', '{"externalId":"42"}', '--key', LIVE_KEY, '--now', String(NOW_SECONDS)]));
    expect(payload).toEqual({ customer: { externalId: '42', timestamp: NOW_SECONDS }, signature: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(json(await cli(['sign', 'user-hash', '42', '--key', LIVE_KEY]))).toEqual({
      user_id: '42',
      user_hash: signUserHash('42', LIVE_KEY),
    });
    expect((await cli(['sign', 'jwt', '42', '--key', LIVE_KEY])).stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it('reads the proof from stdin (piped, or -) and from @file; the key from the environment or a key file', async () => {
    const proof = JSON.stringify({ user_id: '42', user_hash: signUserHash('42', TEST_KEY) });
    const env = { CHAT_IDENTITY_SECRET: LIVE_KEY, CHAT_IDENTITY_TEST_SECRET: TEST_KEY };
    expect(await cli(['check', 'user-hash'], { stdin: proof, env })).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('signed with a test key'),
    });
    expect(await cli(['check', 'user-hash', '-'], { stdin: proof, env })).toMatchObject({ code: 0 });
    expect(
      await cli(['check', 'user-hash', '@proof.json', '--key-file', 'keys.txt'], {
        files: { 'proof.json': proof + '\n', 'keys.txt': `${LIVE_KEY}\n${TEST_KEY}\n` },
      }),
    ).toMatchObject({ code: 0 });
  });

  it('prints the verified contact, marking what the signature covers', async () => {
    const proof = JSON.stringify({ user_id: '42', user_hash: signUserHash('42', LIVE_KEY), user_metadata: { name: 'Ada', plan: 'pro' } });
    const { stdout } = await cli(['check', 'user-hash', proof, '--key', LIVE_KEY]);
    expect(stdout).toContain('externalId: "42" (verified)');
    expect(stdout).toContain('name: "Ada" (carried, not verified)');
    expect(stdout).toContain('attributes.plan: "pro" (carried, not verified)');
  });
});

describe('chat-identity check names every signing mistake', () => {
  it.each(MISTAKE_CASES.map((c) => [c.name, c] as const))('%s', async (_, testCase) => {
    const args = ['check', testCase.scheme, JSON.stringify(testCase.body), '--now', String(NOW_SECONDS + (testCase.at ?? 0))];
    for (const key of testCase.keys) args.push('--key', typeof key === 'string' ? key : JSON.stringify(key));
    if (testCase.allowTestKeys === false) args.push('--no-test-keys');

    const machine = await cli([...args, '--json']);
    expect(machine.code).toBe(1);
    expect(json(machine)).toMatchObject({ verified: false, error: { code: testCase.code }, mistake: { id: testCase.mistake } });
    if (testCase.detail) expect(json(machine).error.hint).toMatch(testCase.detail);

    const human = await cli(args);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`not verified: ${testCase.code}`);
    expect(human.stdout).toContain(`diagnosis [${testCase.mistake}]: `);
    for (const secret of secretsOf(testCase.keys)) expect(human.stdout + machine.stdout).not.toContain(secret);
  });

  it('says when no known mistake explains it', async () => {
    const proof = JSON.stringify({ user_id: '42', user_hash: signUserHash('42', 'sk_live_another') });
    const outcome = await cli(['check', 'user-hash', proof, '--key', LIVE_KEY]);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toMatch(/^not verified: INVALID_SIGNATURE/);
    expect(json(await cli(['check', 'user-hash', proof, '--key', LIVE_KEY, '--json']))).toMatchObject({ mistake: null });
  });

  it('--test-mode checks as a widget in test mode would be checked', async () => {
    const testCase = MISTAKE_CASES.find((c) => c.mistake === 'live-key-in-test-mode')!;
    const { testMode: _, ...body } = testCase.body;
    const args = [
      'check',
      'signed-payload',
      JSON.stringify(body),
      '--key',
      LIVE_KEY,
      '--key',
      TEST_KEY,
      '--now',
      String(NOW_SECONDS + 1800),
      '--json',
    ];
    expect(json(await cli(args)).mistake.id).toBe('timestamp-expired');
    expect(json(await cli([...args, '--test-mode'])).mistake.id).toBe('live-key-in-test-mode');
  });
});

describe('chat-identity usage', () => {
  it.each([
    [['frobnicate'], /unknown command/],
    [['check', 'md5-hash', '{}', '--key', LIVE_KEY], /'md5-hash' is invalid/],
    [['check', 'user-hash', '{}', '--key', LIVE_KEY, '--bogus'], /unknown option '--bogus'/],
    [['check', 'user-hash', '{"user_id":"1"}'], /no key/],
    [['check', 'user-hash', 'not json', '--key', LIVE_KEY], /proof is not JSON/],
    [['check', 'user-hash', '@missing.json', '--key', LIVE_KEY], /cannot read missing.json/],
    [['check', 'user-hash', '--key', LIVE_KEY], /give the proof/],
    [['check', 'jwt', 'x.y.z', '--key', LIVE_KEY, '--max-age', 'soon'], /expected a number of seconds/],
    [['check', 'jwt', 'x.y.z', '--key', '', '--now', String(NOW_SECONDS)], /non-empty secret/],
    [['sign', 'signed-payload', '42', '--key', LIVE_KEY], /signs a customer object/],
    [['sign', 'user-hash', '--key', LIVE_KEY, '--algorithm', 'RS384', '42'], /expected HS256, HS384, HS512, ES256, EdDSA, RS256 or PS256/],
    [[], /Usage: chat-identity/],
  ])('%j: exit 2 with the reason on stderr', async (argv, message) => {
    const outcome = await cli(argv as string[]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(message);
    expect(outcome.stdout).toBe('');
  });

  it.each([
    [['sign', 'user-hash', '42', '--key', ''], /non-empty secret/],
    [['sign', 'user-hash', '42', '--key', `${LIVE_KEY} `], /starts or ends with whitespace/],
    [['sign', 'user-hash', 'u'.repeat(256), '--key', LIVE_KEY], /user_id is longer than 255 characters/],
    [['sign', 'visitor-hash', '{"anonymousUserId":7}', '--key', LIVE_KEY], /anonymousUserId must be a string/],
    [['sign', 'contact-hash', '{"ext_user_id":"a","external_user_id":"b"}', '--key', LIVE_KEY], /ext_user_id and external_user_id differ/],
    [['sign', 'signed-payload', '{"externalId":42}', '--key', LIVE_KEY], /customer.externalId must be a string/],
    [['sign', 'signed-payload', '{"externalId":"42","address":{"city":"Paris"}}', '--key', LIVE_KEY], /only flat values/],
    [['sign', 'jwt', '{"externalId":42}', '--key', LIVE_KEY], /externalId must be a string/],
    [['sign', 'jwt', '{"externalId":"42","iat":"now"}', '--key', LIVE_KEY], /iat claim must be a number/],
  ])('%j: what the verifier would refuse is not signed: exit 2, the reason on stderr, no stack', async (argv, message) => {
    const outcome = await cli(argv as string[]);
    expect(outcome.code).toBe(2);
    expect(withoutArgvWarning(outcome.stderr)).toMatch(/^error: /);
    expect(outcome.stderr).toMatch(message);
    expect(outcome.stderr).not.toMatch(/^\s+at /m);
    expect(outcome.stdout).toBe('');
  });

  it('a TypeError that is not a refusal is a bug: it is thrown (the bin prints it, exit 70), not made a usage error', async () => {
    const now = () => {
      throw new TypeError('a bug');
    };
    await expect(cli(['sign', 'signed-payload', '{"externalId":"42"}', '--key', LIVE_KEY], { now })).rejects.toThrow('a bug');
  });

  it.each([[[]], [['keygen']], [['sign']], [['check']], [['troubleshooting']], [['jwks', 'check']]])(
    '%j --help: usage on stdout, exit 0',
    async (argv) => {
      const outcome = await cli([...(argv as string[]), '--help']);
      expect(outcome).toMatchObject({ code: 0, stderr: '' });
      expect(outcome.stdout).toMatch(/^Usage: chat-identity/);
    },
  );

  it('check --help lists the options scripts use, and the exit statuses', async () => {
    const { stdout } = await cli(['check', '--help']);
    for (const option of ['--key', '--key-file', '--json', '--now', '--no-test-keys', '--test-mode']) expect(stdout).toContain(option);
    expect(stdout).toContain('Exit status: 0 verified, 1 not verified, 2 usage error.');
  });

  it('--version prints the package version', async () => {
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });
});

describe('a secret on the command line (--key): one warning on stderr, never the secret, stdout unchanged', () => {
  // Random, so that no fixed text in the CLI can hold a piece of it by chance.
  const secret = `sk_live_${randomBytes(32).toString('hex')}`;
  /** Every 6 characters of the secret in a row, but the `sk_live_` prefix, which names no secret. */
  const pieces = (text: string) =>
    Array.from({ length: text.length - 5 }, (_, i) => text.slice(i, i + 6)).filter((p) => !'sk_live_'.includes(p));
  const env = { CHAT_IDENTITY_SECRET: secret };
  const proof = JSON.stringify({ user_id: '42', user_hash: signUserHash('42', secret) });

  it.each([
    ['sign user-hash', ['sign', 'user-hash', '42'], {}],
    ['sign jwt', ['sign', 'jwt', '{"externalId":"42"}', '--now', String(NOW_SECONDS)], {}],
    ['sign signed-payload --json', ['sign', 'signed-payload', '{"externalId":"42"}', '--json', '--now', String(NOW_SECONDS)], {}],
    ['check user-hash', ['check', 'user-hash', proof], {}],
    ['check user-hash --json', ['check', 'user-hash', '--json'], { stdin: proof }],
  ] as const)('%s: --key <secret> warns once on stderr; stdout is what the environment gives', async (_, argv, options) => {
    const fromArgv = await cli([...argv, '--key', secret], options);
    const fromEnv = await cli([...argv], { ...options, env });
    expect(fromEnv).toMatchObject({ code: 0, stderr: '' });
    expect(fromArgv.code).toBe(0);
    expect(fromArgv.stdout).toBe(fromEnv.stdout);
    expect(fromArgv.stderr).toMatch(ARGV_SECRET_WARNING);
    expect(fromArgv.stderr.split('\n')).toEqual([expect.stringMatching(ARGV_SECRET_WARNING), '']);
    for (const piece of pieces(secret)) expect(fromArgv.stderr).not.toContain(piece);
  });

  it('warns for a secret in JSON, a key that is not JSON; once for several keys, and before a usage error', async () => {
    for (const keys of [
      [JSON.stringify({ secret, id: 'current', expiresAt: '2027-01-01T00:00:00Z' })],
      [`{${secret}`],
      [secret, JSON.stringify({ secret: `${secret}2` }), JSON.stringify({ publicKey: keyPair('ES256', 'k').jwk })],
    ]) {
      const outcome = await cli(['check', 'user-hash', proof, ...keys.flatMap((key) => ['--key', key])]);
      expect(outcome.stderr.split('\n').filter((line) => ARGV_SECRET_WARNING.test(line))).toHaveLength(1);
      expect(outcome.stderr).toMatch(ARGV_SECRET_WARNING);
      for (const piece of pieces(secret)) expect(outcome.stderr).not.toContain(piece);
    }
    const refused = await cli(['check', 'user-hash', 'not json', '--key', secret]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(ARGV_SECRET_WARNING);
    expect(refused.stderr).toMatch(/\nerror: the proof is not JSON/);
    expect(refused.stderr).not.toContain(secret);
  });

  it('says nothing when the key comes from the environment or a key file, or --key holds a public key', async () => {
    const pair = keyPair('ES256', 'site-k');
    const token = tokenBy(pair, { externalId: '42' });
    const files = { 'keys.txt': `${secret}\n`, 'k.pem': pair.pem, 'jwks.json': JSON.stringify(jwksOf(pair)) };
    const at = ['--now', String(NOW_SECONDS)];
    for (const [argv, options] of [
      [['check', 'user-hash', proof], { env }],
      [['check', 'user-hash', proof, '--key-file', 'keys.txt'], {}],
      [['sign', 'user-hash', '42', '--key-file', 'keys.txt'], {}],
      [['check', 'jwt', token, '--key', JSON.stringify({ publicKey: pair.jwk }), ...at], {}],
      [['check', 'jwt', token, '--key', JSON.stringify({ publicKey: pair.pem }), ...at], {}],
      [['check', 'jwt', token, '--key', JSON.stringify({ jwks: jwksOf(pair) }), ...at], {}],
      [['check', 'jwt', token, '--public-key', 'k.pem', ...at], {}],
      [['check', 'jwt', token, '--jwks', 'jwks.json', ...at], {}],
    ] as const) {
      const outcome = await cli([...argv], { ...options, files });
      expect(outcome, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
    }
    // A JWKS URL is no secret either (the key is refused only as unreachable here: what matters is the silence on the command line).
    const byUrl = await cli(['check', 'jwt', token, '--key', JSON.stringify({ jwks: { url: 'https://127.0.0.1:1/jwks.json' } }), ...at]);
    expect(byUrl.stderr).not.toMatch(ARGV_SECRET_WARNING);
  });
});

describe('chat-identity troubleshooting', () => {
  it('prints the README section with --markdown, the table with --json', async () => {
    expect((await cli(['troubleshooting', '--markdown'])).stdout).toBe(troubleshootingMarkdown() + '\n');
    expect(json(await cli(['troubleshooting', '--json']))).toHaveLength(MISTAKES.length);
    expect((await cli(['troubleshooting'])).stdout).toContain('json-whitespace\n  Whitespace in the signed JSON');
  });
});

describe('key pairs: keygen --alg, sign --private-key, check --jwks / --public-key', () => {
  it('writes the private key 0600 on the real file system, and never replaces one that exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-identity-keygen-'));
    try {
      let stderr = '';
      const io: CliIO = { ...processIO(), stdout: () => true, stderr: (text) => void (stderr += text) };
      const args = ['keygen', '--alg', 'ES256', '--kid', 'site', '--out', dir];
      const file = join(dir, 'site.private.pem');
      expect(await run(args, io)).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const first = readFileSync(file, 'utf8');
      chmodSync(file, 0o644); // made readable by someone else since
      expect(await run(args, io)).toBe(2);
      expect(stderr).toContain(`${file} already exists; keygen never replaces a key`);
      expect(readFileSync(file, 'utf8')).toBe(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keygen --jwks into a folder that does not exist yet (docs/cli.md: public/.well-known/jwks.json) makes it, and writes both files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-identity-keygen-'));
    try {
      const io: CliIO = { ...processIO(), stdout: () => true, stderr: () => true };
      const jwks = join(dir, 'public', '.well-known', 'jwks.json');
      expect(await run(['keygen', '--alg', 'EdDSA', '--kid', 'site-2026-02', '--out', dir, '--jwks', jwks], io)).toBe(0);
      expect(JSON.parse(readFileSync(jwks, 'utf8')).keys).toEqual([expect.objectContaining({ kid: 'site-2026-02' })]);
      expect(readFileSync(join(dir, 'site-2026-02.private.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)(
    '%s: writes the private key (0600) and its JWKS; what it signs, the JWKS verifies',
    async (alg) => {
      const made = await cli(['keygen', '--alg', alg, '--kid', `site-${alg}`, '--out', 'keys']);
      expect(made.code).toBe(0);
      expect(made.written[`keys/site-${alg}.private.pem`]).toEqual({
        text: expect.stringMatching(/^-----BEGIN PRIVATE KEY-----/),
        mode: 0o600,
      });
      const jwks = JSON.parse(made.written[`keys/site-${alg}.jwks.json`]!.text);
      expect(jwks.keys).toEqual([expect.objectContaining({ kid: `site-${alg}`, alg, use: 'sig' })]);
      expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
      expect(made.stdout).toContain(`kid: site-${alg} (${alg})`);
      const files = {
        'key.pem': made.written[`keys/site-${alg}.private.pem`]!.text,
        'jwks.json': made.written[`keys/site-${alg}.jwks.json`]!.text,
      };
      const signArgs = [
        'sign',
        'jwt',
        '{"externalId":"42"}',
        '--private-key',
        'key.pem',
        '--kid',
        `site-${alg}`,
        '--now',
        String(NOW_SECONDS),
      ];
      const signed = await cli(alg.startsWith('ES') || alg === 'EdDSA' ? signArgs : [...signArgs, '--algorithm', alg], { files });
      expect(signed.code).toBe(0);
      const token = signed.stdout.trim();
      const checked = await cli(['check', 'jwt', token, '--jwks', 'jwks.json', '--now', String(NOW_SECONDS), '--json'], { files });
      expect(json(checked)).toMatchObject({ verified: true, keyId: `site-${alg}`, contact: { externalId: '42' } });
    },
  );

  it('keygen --jwks adds the new key first to a set, keeping the old ones (a rotation), and refuses a kid already there', async () => {
    const first = await cli(['keygen', '--alg', 'ES256', '--kid', 'k1', '--jwks', 'site/jwks.json', '--out', 'site']);
    const files = { 'site/jwks.json': first.written['site/jwks.json']!.text };
    const second = await cli(['keygen', '--alg', 'EdDSA', '--kid', 'k2', '--jwks', 'site/jwks.json', '--out', 'site', '--json'], { files });
    expect(json(second)).toEqual({ kid: 'k2', alg: 'EdDSA', privateKeyFile: 'site/k2.private.pem', jwksFile: 'site/jwks.json' });
    expect(JSON.parse(second.written['site/jwks.json']!.text).keys.map((key: { kid: string }) => key.kid)).toEqual(['k2', 'k1']);
    const again = await cli(['keygen', '--alg', 'ES256', '--kid', 'k1', '--jwks', 'site/jwks.json'], { files });
    expect(again).toMatchObject({ code: 2, stderr: expect.stringMatching(/already has a key with kid "k1"/) });
  });

  it('takes "Ed25519" (RFC 9864) for EdDSA wherever an algorithm is named: keygen --alg, sign and check --algorithm', async () => {
    const made = await cli(['keygen', '--alg', 'Ed25519', '--kid', 'ed', '--out', 'keys']);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.written['keys/ed.jwks.json']!.text).keys).toEqual([expect.objectContaining({ kid: 'ed', alg: 'EdDSA' })]);
    const files = { 'key.pem': made.written['keys/ed.private.pem']!.text, 'jwks.json': made.written['keys/ed.jwks.json']!.text };
    const at = ['--now', String(NOW_SECONDS)];
    const signed = await cli(['sign', 'jwt', '{"externalId":"42"}', '--private-key', 'key.pem', '--algorithm', 'Ed25519', ...at], {
      files,
    });
    expect(signed.code).toBe(0);
    const token = signed.stdout.trim();
    const checked = await cli(['check', 'jwt', token, '--jwks', 'jwks.json', '--algorithm', 'Ed25519', ...at, '--json'], { files });
    expect(json(checked)).toMatchObject({ verified: true, keyId: 'ed' });
  });

  it('keygen names the key by its algorithm and the day when no kid is given', async () => {
    expect(json(await cli(['keygen', '--alg', 'EdDSA', '--json']))).toMatchObject({
      kid: 'eddsa-2026-01-01',
      jwksFile: './eddsa-2026-01-01.jwks.json',
    });
  });

  it.each([
    [['keygen', '--alg', 'HS256'], /expected ES256, EdDSA, RS256 or PS256/],
    [['keygen', '--alg', 'ES256', '--test'], /--test makes a secret/],
    [['keygen', '--kid', 'k'], /--kid and --jwks go with --alg/],
    [['sign', 'user-hash', '42', '--private-key', 'key.pem'], /only jwt signs with a private key/],
    [['sign', 'jwt', '42', '--private-key', 'rsa.pem'], /RS256 or PS256 is ambiguous/],
    [['sign', 'jwt', '42', '--private-key', 'public.pem'], /needs the private key/],
    [['sign', 'jwt', '42', '--key', '{"publicKey":"x"}'], /not a public key/],
  ])('%j: exit 2 with the reason', async (argv, message) => {
    const files = {
      'key.pem': keyPair('ES256', 'k').privatePem,
      'rsa.pem': keyPair('RS256', 'r').privatePem,
      'public.pem': keyPair('ES256', 'k').pem,
    };
    const outcome = await cli(argv as string[], { files });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(message);
  });

  it('check takes a public key file (PEM or JWK) and a key given as JSON', async () => {
    const pair = keyPair('EdDSA', 'ed-cli');
    const token = tokenBy(pair, { externalId: '42' });
    const files = { 'ed.pem': pair.pem, 'ed.jwk': JSON.stringify(pair.jwk) };
    for (const keyArgs of [
      ['--public-key', 'ed.jwk'],
      ['--key', JSON.stringify({ publicKey: pair.jwk })],
    ]) {
      expect(json(await cli(['check', 'jwt', token, ...keyArgs, '--now', String(NOW_SECONDS), '--json'], { files }))).toMatchObject({
        verified: true,
        keyId: 'ed-cli',
      });
    }
    // A PEM carries no kid: the token's kid then names no key with an id, and the key without one is tried.
    expect(
      json(await cli(['check', 'jwt', token, '--public-key', 'ed.pem', '--now', String(NOW_SECONDS), '--json'], { files })),
    ).toMatchObject({ verified: true });
  });

  it('check --jwks <url> fetches the set as the verifier does, and names the mistake when the kid is missing', async () => {
    const site = await startJwksServer();
    try {
      const pair = keyPair('ES256', 'on-the-site');
      site.serve(jwksOf(pair));
      const args = ['--jwks', site.url, '--now', String(NOW_SECONDS), '--json'];
      expect(json(await cli(['check', 'jwt', tokenBy(pair, { externalId: '42' }), ...args]))).toMatchObject({
        verified: true,
        keyId: 'on-the-site',
      });
      const unpublished = tokenBy(keyPair('ES256', 'not-published'), { externalId: '42' });
      expect(json(await cli(['check', 'jwt', unpublished, ...args]))).toMatchObject({
        verified: false,
        mistake: { id: 'jwt-kid-unknown' },
      });
    } finally {
      await site.close();
    }
  });
});

describe('chat-identity jwks check', () => {
  const good = [keyPair('ES256', 'a'), keyPair('EdDSA', 'b')];

  it('reports each key of a sound set and exits 0', async () => {
    const outcome = await cli(['jwks', 'check', 'jwks.json'], { files: { 'jwks.json': JSON.stringify(jwksOf(...good)) } });
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('kid "a": ES256, an EC P-256 key, use sig');
    expect(outcome.stdout).toContain('kid "b": EdDSA, an Ed25519 key, use sig');
    expect(outcome.stdout).toContain('ok: every key verifies tokens');
  });

  it('names every problem and warning, exits 1', async () => {
    const set = {
      keys: [
        withoutMembers(keyPair('RS256', 'rsa').jwk, 'alg'),
        keyPair('RS256', 'small', 1024).jwk,
        good[0]!.jwk,
        { ...keyPair('ES256', 'a2').jwk, kid: 'a' },
        withoutMembers(good[1]!.jwk, 'alg', 'use', 'kid'),
        { ...keyPair('EdDSA', 'leak').privateKey.export({ format: 'jwk' }), kid: 'leak' },
      ],
    };
    const outcome = await cli(['jwks', 'check', 'jwks.json', '--json'], { files: { 'jwks.json': JSON.stringify(set) } });
    expect(outcome.code).toBe(1);
    const report = json(outcome);
    expect(report.problems).toEqual([
      expect.stringMatching(/kid "rsa" is set aside: an RSA key of 2048 bits without alg: RS256 or PS256 is ambiguous/),
      expect.stringMatching(/kid "small" is set aside: an RSA key of 1024 bits: RSA keys under 2048 bits are refused/),
      expect.stringMatching(/kid "leak" is set aside: it holds private members/),
      'kid "a" names 2 keys: a kid must name one key',
    ]);
    expect(report.warnings).toEqual([
      'a key without kid: no "alg": its type makes it EdDSA; state it',
      'a key without kid: no "use": state "sig"',
      'a key without kid: no "kid": tokens cannot name it',
    ]);
    expect(report.keys.map((key: { usable: boolean }) => key.usable)).toEqual([false, false, true, true, true, false]);
  });

  it('fetches a URL as the verifier does: the status, the size, and how long the set would be cached', async () => {
    const site = await startJwksServer();
    try {
      site.serve(jwksOf(...good), { headers: { 'cache-control': 'max-age=86400' } });
      const outcome = await cli(['jwks', 'check', site.url]);
      expect(outcome.code).toBe(0);
      expect(outcome.stdout).toMatch(/HTTP 200, \d+ bytes, Cache-Control "max-age=86400": the verifier keeps it 3600 s/);
      expect(outcome.stdout).toContain('Cache-Control max-age is 86400 s; the verifier keeps the set 3600 s');
      site.serve('nope', { status: 404 });
      expect(await cli(['jwks', 'check', site.url])).toMatchObject({
        code: 1,
        stdout: expect.stringMatching(/could not be fetched \(HTTP 404\)/),
      });
    } finally {
      await site.close();
    }
    expect(await cli(['jwks', 'check', 'http://jwks.example/keys.json'])).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/must be https:/),
    });
    expect(await cli(['jwks', 'check', 'nope.json'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot read nope.json/) });
  });
});
