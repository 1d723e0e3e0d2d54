/**
 * `chat-identity`, the command line: make a key, sign a proof the way a site's server does, and
 * check a proof the way the chat backend does, saying exactly which signing mistake was made.
 *
 * @example
 * ```sh
 * chat-identity keygen --test
 * chat-identity sign user-hash 42 --key "$CHAT_IDENTITY_SECRET"
 * chat-identity sign user-hash 42 | chat-identity check user-hash
 * chat-identity check signed-payload @proof.json --json
 * ```
 *
 * Exit codes: 0 done (for `check`: verified), 1 `check` found the proof not verified, 2 usage error.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Argument, Command, CommanderError, InvalidArgumentError } from 'commander';
import { MISTAKES } from '../src/diagnosis/index.js';
import { createVerifier, signContactHash, signJwt, signPayload, signUserHash, signVisitorHash } from '../src/index.js';
import type {
  ContactHashFields,
  FlatValue,
  IdentityResult,
  JwtAlgorithm,
  KeyInput,
  SchemeName,
  SigningKeyInput,
  VerifierOptions,
} from '../src/index.js';
import { SCHEME_NAMES, SCHEMES } from '../src/schemes/index.js';
import { JWT_ALGORITHMS } from '../src/schemes/jwt/index.js';
import packageJson from '../package.json' with { type: 'json' };
import { troubleshootingMarkdown, troubleshootingText } from './troubleshooting.js';

/** What the CLI touches of the outside world; tests pass their own. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The whole of standard input. */
  readStdin(): Promise<string>;
  /** Whether standard input is a terminal (then it is never read unasked). */
  stdinIsTTY: boolean;
  env: Record<string, string | undefined>;
  /** The clock, milliseconds since the epoch. */
  now(): number;
  readFile(path: string): Promise<string>;
}

export function processIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    stdinIsTTY: process.stdin.isTTY === true,
    env: process.env,
    now: Date.now,
    readFile: (path) => readFile(path, 'utf8'),
  };
}

export const EXIT_OK = 0;
export const EXIT_UNVERIFIED = 1;
export const EXIT_USAGE = 2;

const SECRET_ENV = 'CHAT_IDENTITY_SECRET';
const TEST_SECRET_ENV = 'CHAT_IDENTITY_TEST_SECRET';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds, 0 or more.');
  return n;
}

/** --now: seconds since the epoch, or an ISO date. */
function instant(value: string): number {
  const n = Number(value);
  if (value.trim() !== '' && Number.isFinite(n)) return n * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) throw new InvalidArgumentError('expected seconds since the epoch or an ISO date.');
  return date;
}

function algorithm(value: string, previous: JwtAlgorithm[] = []): JwtAlgorithm[] {
  if (!JWT_ALGORITHMS.includes(value as JwtAlgorithm)) {
    throw new InvalidArgumentError(`expected ${JWT_ALGORITHMS.slice(0, -1).join(', ')} or ${JWT_ALGORITHMS.at(-1)}.`);
  }
  return [...previous, value as JwtAlgorithm];
}

/** Raised inside an action: said on stderr, exit code 2. */
class UsageError extends Error {}

interface KeyOptions {
  key?: string[];
  keyFile?: string;
}

/** `--key` values: a secret, or a JSON object `{ secret, id?, test?, expiresAt? }` (expiresAt: ms or an ISO date). */
function parseKey(text: string, where: string): KeyInput {
  if (!text.trimStart().startsWith('{')) return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${where} starts with { but is not JSON.`);
  }
  const spec = value as SigningKeyInput & { expiresAt?: unknown };
  if (typeof spec !== 'object' || spec === null || typeof spec.secret !== 'string')
    throw new UsageError(`${where} must be a secret or {"secret": "...", "id"?, "test"?, "expiresAt"?}.`);
  if (typeof spec.expiresAt === 'string') {
    const at = Date.parse(spec.expiresAt);
    if (Number.isNaN(at)) throw new UsageError(`${where}: expiresAt is not a date.`);
    return { ...spec, expiresAt: at };
  }
  return spec as SigningKeyInput;
}

/** The keys, newest first: --key values, then the --key-file lines, else the environment. */
async function readKeys(options: KeyOptions, io: CliIO): Promise<KeyInput[]> {
  const keys = (options.key ?? []).map((text, i) => parseKey(text, `--key #${i + 1}`));
  if (options.keyFile !== undefined) {
    const text = await readText(() => io.readFile(options.keyFile!), `--key-file ${options.keyFile}`);
    // One key per line; the line ending is not part of the key (a trailing newline in a key file is the classic mistake).
    text.split(/\r?\n/).forEach((line, i) => line !== '' && keys.push(parseKey(line, `${options.keyFile} line ${i + 1}`)));
  }
  if (keys.length === 0) {
    for (const name of [SECRET_ENV, TEST_SECRET_ENV]) if (io.env[name]) keys.push(io.env[name]!);
  }
  if (keys.length === 0) throw new UsageError(`no key: pass --key or --key-file, or set ${SECRET_ENV} (and ${TEST_SECRET_ENV}).`);
  return keys;
}

async function readText(read: () => Promise<string>, what: string): Promise<string> {
  try {
    return await read();
  } catch (error) {
    throw new UsageError(`cannot read ${what}: ${(error as Error).message}`);
  }
}

/** An argument that may be the value itself, `@file`, or `-` for stdin (also when omitted and stdin is piped). */
async function readInput(value: string | undefined, io: CliIO, what: string): Promise<string> {
  if (value === undefined || value === '-') {
    if (value === undefined && io.stdinIsTTY) throw new UsageError(`give the ${what} as an argument, @file, or on stdin.`);
    return (await readText(() => io.readStdin(), 'stdin')).trim();
  }
  if (value.startsWith('@')) return (await readText(() => io.readFile(value.slice(1)), value.slice(1))).trim();
  return value;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`the ${what} is not JSON.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`the ${what} must be a JSON object.`);
  return value as Record<string, unknown>;
}

const looksLikeJson = (text: string) => text.trimStart().startsWith('{');

/** What the widget would send for this scheme, from the text given to `check`. */
function proofFields(scheme: SchemeName, text: string): Record<string, unknown> {
  const shape = SCHEMES[scheme].facts.proof;
  if (shape.kind === 'token' && !looksLikeJson(text)) return { [shape.field]: text.replace(/^bearer\s+/i, '') };
  return parseJsonObject(text, 'proof');
}

/** How the package's own refusals begin: a TypeError saying so is a refusal, any other is a bug. */
const PACKAGE_PREFIX = 'chat-identity: ';

/**
 * Runs a signing helper. What the verifier would refuse the helpers refuse, with a TypeError that
 * says why: here a usage error. Anything else thrown is a bug and stays one.
 */
function refusedAsUsage<T>(sign: () => T): T {
  try {
    return sign();
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith(PACKAGE_PREFIX))
      throw new UsageError(error.message.slice(PACKAGE_PREFIX.length));
    throw error;
  }
}

/** Signs `text` for `scheme`: the fields the widget sends. */
function signFor(
  scheme: SchemeName,
  text: string,
  secret: string,
  now: () => number,
  alg: JwtAlgorithm | undefined,
): Record<string, unknown> {
  const object = looksLikeJson(text) ? parseJsonObject(text, 'identity') : undefined;
  /** The identifier to sign: the text itself, or the field of the JSON object given. */
  const bare = (field: string) => {
    const value = object ? object[field] : text;
    if (value === undefined) throw new UsageError(`${scheme} signs a ${field}: give it bare or as {"${field}": "..."}.`);
    return value as string;
  };
  switch (scheme) {
    case 'signed-payload': {
      if (!object)
        throw new UsageError(
          'signed-payload signs a customer object: give it as JSON, e.g. {"externalId":"42","email":"ada@example.com"}.',
        );
      return { ...signPayload(object as Record<string, FlatValue>, secret, { now }) };
    }
    case 'user-hash': {
      const userId = bare('user_id');
      return { ...object, user_id: userId, user_hash: signUserHash(userId, secret) };
    }
    case 'contact-hash': {
      const fields = object ?? { ext_user_id: text };
      return { ...fields, user_hash: signContactHash(fields as ContactHashFields, secret) };
    }
    case 'visitor-hash': {
      const visitorId = bare('anonymousUserId');
      return { ...object, anonymousUserId: visitorId, hmac: signVisitorHash(visitorId, secret) };
    }
    case 'jwt': {
      const claims = object ?? { externalId: text };
      return { token: signJwt(claims, secret, alg ? { algorithm: alg, now } : { now }) };
    }
  }
}

function describeResult(result: IdentityResult): string {
  if (result.verified) {
    const { contact } = result;
    const keyId = result.keyId ? ` (id ${JSON.stringify(result.keyId)})` : '';
    const lines = [`verified: ${result.scheme}, signed with a ${result.test ? 'test' : 'live'} key${keyId}`];
    const line = (field: string, value: unknown) =>
      `  ${field}: ${JSON.stringify(value)}${contact.verifiedFields.includes(field) ? ' (verified)' : ' (carried, not verified)'}`;
    for (const field of ['externalId', 'email', 'name', 'phone', 'anonymousId'] as const) {
      if (contact[field] !== undefined) lines.push(line(field, contact[field]));
    }
    for (const [key, value] of Object.entries(contact.attributes)) lines.push(line(`attributes.${key}`, value));
    lines.push(`  identity key: ${contact.identityKey}`);
    if (result.issuedAt) lines.push(`  issued at: ${result.issuedAt.toISOString()}`);
    return lines.join('\n') + '\n';
  }
  if (!result.error) return 'not verified: no proof for this scheme was found in the input\n';
  const { code, message, hint, mistake } = result.error;
  const diagnosis = hint
    ? `diagnosis${mistake === undefined ? '' : ` [${mistake}]`}: ${hint}`
    : 'diagnosis: none of the known mistakes explains it; check that both sides use the same key.';
  return `not verified: ${code} (${message})\n${diagnosis}\n`;
}

/** The result as JSON for scripts, with the mistake's id and title when one was found. */
function resultJson(result: IdentityResult): Record<string, unknown> {
  if (result.verified || !result.error) return { ...result };
  const mistake = MISTAKES.find((m) => m.id === result.error?.mistake);
  return { ...result, mistake: mistake ? { id: mistake.id, title: mistake.title } : null };
}

function schemeArgument(): Argument {
  return new Argument('<scheme>', 'the wire format').choices(SCHEME_NAMES);
}

const CHECK_EXAMPLES = `
Examples:
  $ chat-identity check user-hash '{"user_id":"42","user_hash":"…"}' --key sk_test_…
  $ chat-identity check signed-payload @proof.json --json          (keys from $${SECRET_ENV} / $${TEST_SECRET_ENV})
  $ chat-identity check jwt eyJhbGciOi… --key-file keys.txt
  $ chat-identity sign user-hash 42 | chat-identity check user-hash

The proof is what the widget sends: {"customer":{…},"signature":"…"}; {"user_id","user_hash"};
{"ext_user_id"|"email"|"phone","user_hash"}; the JWT (or {"token"}); {"anonymousUserId","hmac"}.
A key may be JSON to describe it: --key '{"secret":"sk_live_…","expiresAt":"2026-01-01T00:00:00Z"}'.
Exit status: 0 verified, 1 not verified, 2 usage error.`;

const SIGN_EXAMPLES = `
Examples:
  $ chat-identity sign signed-payload '{"externalId":"42","email":"ada@example.com"}'
  $ chat-identity sign user-hash 42
  $ chat-identity sign contact-hash '{"email":"ada@example.com"}'
  $ chat-identity sign jwt '{"externalId":"42","email":"ada@example.com"}'
  $ chat-identity sign visitor-hash v_123

Prints the fields the widget sends (for jwt, the token). The key: --key, --key-file (first line),
or $${SECRET_ENV}, else $${TEST_SECRET_ENV}.`;

/** Runs the CLI with `argv` (the arguments after the program name). Resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = EXIT_OK;
  const print = (text: string) => io.stdout(text.endsWith('\n') ? text : text + '\n');

  const program = new Command('chat-identity')
    .description('Make keys, sign proofs and check them the way chat-identity verifies them, naming any signing mistake.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showHelpAfterError('(add --help for usage)')
    .version(packageJson.version, '-V, --version');

  program
    .command('keygen')
    .description('Print a new secret: sk_live_ (or sk_test_) and 32 random bytes as hex.')
    .option('--test', 'make a test key (sk_test_...)')
    .option('--json', 'print {"secret","test"} as JSON')
    .action((options: { test?: boolean; json?: boolean }) => {
      const secret = `${options.test ? 'sk_test_' : 'sk_live_'}${randomBytes(32).toString('hex')}`;
      print(options.json ? JSON.stringify({ secret, test: options.test === true }) : secret);
    });

  program
    .command('sign')
    .description("Sign an identity as the site's server does, and print what the widget sends.")
    .addArgument(schemeArgument())
    .argument('[identity]', 'the fields to sign as JSON, or a bare id; @file reads a file, - (or a pipe) stdin')
    .option('-k, --key <secret>', 'the signing secret (first one given is used)', collect)
    .option('--key-file <path>', 'read the secret from the first line of this file')
    .option('--now <time>', 'sign at this time: seconds since the epoch or an ISO date', instant)
    .option('--algorithm <alg>', 'jwt: HS256 (default), HS384 or HS512', (v: string) => algorithm(v)[0])
    .option('--json', 'print compact JSON on one line')
    .addHelpText('after', SIGN_EXAMPLES)
    .action(
      async (
        scheme: SchemeName,
        identity: string | undefined,
        options: KeyOptions & { now?: number; algorithm?: JwtAlgorithm; json?: boolean },
      ) => {
        const [key] = await readKeys(options, io);
        const secret = typeof key === 'string' ? key : key!.secret;
        const text = await readInput(identity, io, 'identity');
        const now = options.now === undefined ? () => io.now() : () => options.now!;
        const fields = refusedAsUsage(() => signFor(scheme, text, secret, now, options.algorithm));
        const shape = SCHEMES[scheme].facts.proof;
        if (shape.kind === 'token' && !options.json) print(String(fields[shape.field]));
        else print(options.json ? JSON.stringify(fields) : JSON.stringify(fields, null, 2));
      },
    );

  program
    .command('check')
    .description('Verify a proof as the chat backend does; print the verified contact or what is wrong.')
    .addArgument(schemeArgument())
    .argument('[proof]', 'what the widget sends, as JSON (for jwt, the token); @file reads a file, - (or a pipe) stdin')
    .option('-k, --key <secret>', 'a signing secret, or JSON {"secret","id","test","expiresAt"}; repeat, newest first', collect)
    .option('--key-file <path>', 'read the secrets from a file, one per line, newest first')
    .option('--test-mode', 'as if the widget declared testMode: true')
    .option('--no-test-keys', 'refuse test keys (allowTestKeys: false), as in production')
    .option('--now <time>', 'check at this time: seconds since the epoch or an ISO date', instant)
    .option('--max-age <seconds>', 'seconds a timestamp / iat stays valid with a live key', seconds)
    .option('--test-max-age <seconds>', 'the same for a test key (default 3600)', seconds)
    .option('--clock-tolerance <seconds>', 'seconds a timestamp may lie in the future (default 60)', seconds)
    .option('--algorithm <alg>', 'jwt: an accepted algorithm; repeat (default HS256)', algorithm)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', CHECK_EXAMPLES)
    .action(
      async (
        scheme: SchemeName,
        proof: string | undefined,
        options: KeyOptions & {
          testMode?: boolean;
          testKeys: boolean;
          now?: number;
          maxAge?: number;
          testMaxAge?: number;
          clockTolerance?: number;
          algorithm?: JwtAlgorithm[];
          json?: boolean;
        },
      ) => {
        const keys = await readKeys(options, io);
        const fields = proofFields(scheme, await readInput(proof, io, 'proof'));
        if (options.testMode) fields.testMode = true;
        const at = options.now ?? io.now();
        const verifierOptions: VerifierOptions = {
          scheme,
          keys,
          diagnostics: true,
          allowTestKeys: options.testKeys,
          now: () => at,
          logger: { warn: () => {}, error: () => {} },
        };
        if (options.maxAge !== undefined) verifierOptions.maxAge = options.maxAge;
        if (options.testMaxAge !== undefined) verifierOptions.testMaxAge = options.testMaxAge;
        if (options.clockTolerance !== undefined) verifierOptions.clockTolerance = options.clockTolerance;
        if (options.algorithm) verifierOptions.algorithms = options.algorithm;
        let verifier;
        try {
          verifier = createVerifier(verifierOptions);
        } catch (error) {
          throw new UsageError((error as Error).message.replace(/^chat-identity: /, ''));
        }
        const result = await verifier.verify({ body: fields });
        print(options.json ? JSON.stringify(resultJson(result)) : describeResult(result));
        exitCode = result.verified ? EXIT_OK : EXIT_UNVERIFIED;
      },
    );

  program
    .command('troubleshooting')
    .description('List the signing mistakes the diagnosis recognises, with their fixes.')
    .option('--markdown', "print the README's troubleshooting section")
    .option('--json', 'print [{id, title, schemes, fix}] as JSON')
    .action((options: { markdown?: boolean; json?: boolean }) => {
      if (options.json) print(JSON.stringify(MISTAKES.map(({ id, title, schemes, fix }) => ({ id, title, schemes, fix }))));
      else print(options.markdown ? troubleshootingMarkdown() : troubleshootingText());
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
