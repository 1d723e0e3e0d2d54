/**
 * The CLI, run in-process through `run(argv, io)`: keygen, sign and check for every scheme,
 * proofs from an argument, a file or stdin, every signing mistake named, exit codes 0 / 1 / 2.
 */
import { describe, expect, it } from 'vitest';
import { run, type CliIO } from '../cli/main.js';
import { troubleshootingMarkdown } from '../cli/troubleshooting.js';
import { MISTAKES } from '../src/diagnosis/index.js';
import { signUserHash } from '../src/index.js';
import { LIVE_KEY, NOW, NOW_SECONDS, TEST_KEY } from './helpers.js';
import { MISTAKE_CASES, secretsOf } from './mistakeCases.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(
  argv: string[],
  options: { stdin?: string; files?: Record<string, string>; env?: Record<string, string>; now?: () => number } = {},
): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    readStdin: async () => options.stdin ?? '',
    stdinIsTTY: options.stdin === undefined,
    env: options.env ?? {},
    now: options.now ?? (() => NOW),
    readFile: async (path) => {
      const text = options.files?.[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

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
    expect(signed).toMatchObject({ code: 0, stderr: '' });
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
    [['sign', 'user-hash', '--key', LIVE_KEY, '--algorithm', 'RS256', '42'], /expected HS256, HS384 or HS512/],
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
    expect(outcome.stderr).toMatch(/^error: /);
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

  it.each([[[]], [['keygen']], [['sign']], [['check']], [['troubleshooting']]])('%j --help: usage on stdout, exit 0', async (argv) => {
    const outcome = await cli([...(argv as string[]), '--help']);
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout).toMatch(/^Usage: chat-identity/);
  });

  it('check --help lists the options scripts use, and the exit statuses', async () => {
    const { stdout } = await cli(['check', '--help']);
    for (const option of ['--key', '--key-file', '--json', '--now', '--no-test-keys', '--test-mode']) expect(stdout).toContain(option);
    expect(stdout).toContain('Exit status: 0 verified, 1 not verified, 2 usage error.');
  });

  it('--version prints the package version', async () => {
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });
});

describe('chat-identity troubleshooting', () => {
  it('prints the README section with --markdown, the table with --json', async () => {
    expect((await cli(['troubleshooting', '--markdown'])).stdout).toBe(troubleshootingMarkdown() + '\n');
    expect(json(await cli(['troubleshooting', '--json']))).toHaveLength(MISTAKES.length);
    expect((await cli(['troubleshooting'])).stdout).toContain('json-whitespace\n  Whitespace in the signed JSON');
  });
});
