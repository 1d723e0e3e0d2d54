/**
 * `chat-identity`, the command line: make a key (a secret, or a key pair and its JWKS), sign a
 * proof the way a site's server does, check a proof the way the chat backend does, saying exactly
 * which signing mistake was made, and report on a site's JWKS.
 *
 * @example
 * ```sh
 * chat-identity keygen --test
 * chat-identity sign user-hash 42                          # the key from $CHAT_IDENTITY_SECRET (or --key-file)
 * chat-identity sign user-hash 42 | chat-identity check user-hash
 * chat-identity check signed-payload @proof.json --json
 * chat-identity keygen --alg ES256 --kid site-2026-01        # site-2026-01.private.pem, site-2026-01.jwks.json
 * chat-identity check jwt "$TOKEN" --jwks https://site.example/.well-known/jwks.json
 * chat-identity jwks check https://site.example/.well-known/jwks.json
 * chat-identity report https://chat.example/internal/identity-stats   # ready to enforce?
 * ```
 *
 * Exit codes: 0 done (for `check`: verified; for `jwks check`: no problem; for `report`: ready to
 * enforce), 1 `check` found the proof not verified (`jwks check`: a problem; `report`: not ready),
 * 2 usage error.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError } from 'commander';
import { MISTAKES } from '../src/diagnosis/index.js';
import {
  createVerifier,
  formatRolloutReport,
  rolloutReport,
  signContactHash,
  signJwt,
  signPayload,
  signUserHash,
  signVisitorHash,
} from '../src/index.js';
import type {
  ContactHashFields,
  FlatValue,
  RolloutReportOptions,
  StatsSnapshot,
  IdentityResult,
  JwtAlgorithm,
  KeyInput,
  SchemeName,
  SigningKeyInput,
  VerifierOptions,
} from '../src/index.js';
import { SCHEME_NAMES, SCHEMES } from '../src/schemes/index.js';
import { JWT_ALGORITHMS } from '../src/schemes/jwt/index.js';
import { algorithmNamed, PUBLIC_KEY_ALGORITHMS } from '../src/jwks/publicKey.js';
import type { JwtPrivateKey, PublicKeyAlgorithm } from '../src/index.js';
import packageJson from '../package.json' with { type: 'json' };
import { checkJwks, generateKeyPair, type JwksSource } from './keys.js';
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
  /**
   * Writes a file, making its folder when there is none. With a `mode` (0o600, a private key) the file must be new: a mode applies only to
   * a file being created, and an existing key is never replaced (its mode and its key would change unseen).
   */
  writeFile(path: string, text: string, mode?: number): Promise<void>;
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
    // Its folder made first: `--jwks public/.well-known/jwks.json` in a fresh project must not fail after the private key is written.
    writeFile: async (path, text, mode) => {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text, mode === undefined ? 'utf8' : { encoding: 'utf8', mode, flag: 'wx' });
    },
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

// "Ed25519" (RFC 9864) is read as EdDSA here too, as the verifier reads it (src/jwks/publicKey.ts).
function algorithm(value: string, previous: JwtAlgorithm[] = []): JwtAlgorithm[] {
  const named = algorithmNamed(value) as JwtAlgorithm;
  if (!JWT_ALGORITHMS.includes(named)) {
    throw new InvalidArgumentError(`expected ${JWT_ALGORITHMS.slice(0, -1).join(', ')} or ${JWT_ALGORITHMS.at(-1)}.`);
  }
  return [...previous, named];
}

function publicKeyAlgorithm(value: string): PublicKeyAlgorithm {
  const named = algorithmNamed(value) as PublicKeyAlgorithm;
  if (!PUBLIC_KEY_ALGORITHMS.includes(named)) {
    throw new InvalidArgumentError(`expected ${PUBLIC_KEY_ALGORITHMS.slice(0, -1).join(', ')} or ${PUBLIC_KEY_ALGORITHMS.at(-1)}.`);
  }
  return named;
}

/** Raised inside an action: said on stderr, exit code 2. */
class UsageError extends Error {}

interface KeyOptions {
  key?: string[];
  keyFile?: string;
  publicKey?: string[];
  jwks?: string;
}

/**
 * `--key` values: a secret, or JSON: `{ secret, id?, test?, expiresAt? }` (expiresAt: ms or an ISO
 * date), `{ publicKey, alg?, id? }` or `{ jwks }`, as the verifier takes them.
 */
function parseKey(text: string, where: string): KeyInput {
  if (!text.trimStart().startsWith('{')) return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${where} starts with { but is not JSON.`);
  }
  const spec = value as SigningKeyInput & { expiresAt?: unknown; publicKey?: unknown; jwks?: unknown };
  const kinds = ['secret', 'publicKey', 'jwks'].filter((kind) => typeof spec === 'object' && spec !== null && kind in spec);
  if (kinds.length !== 1 || (kinds[0] === 'secret' && typeof spec.secret !== 'string'))
    throw new UsageError(
      `${where} must be a secret, {"secret": "...", "id"?, "test"?, "expiresAt"?}, {"publicKey": ...} or {"jwks": ...}.`,
    );
  if (typeof spec.expiresAt === 'string') {
    const at = Date.parse(spec.expiresAt);
    if (Number.isNaN(at)) throw new UsageError(`${where}: expiresAt is not a date.`);
    return { ...spec, expiresAt: at } as KeyInput;
  }
  return spec as KeyInput;
}

/** PEM text, or a JWK as JSON: what a key file holds. */
function keyFileContents(text: string, where: string): string | Record<string, unknown> {
  return text.trimStart().startsWith('{') ? parseJsonObject(text, where) : text;
}

/** `--jwks`: a URL (fetched as the verifier fetches it), or a file holding the set. */
async function jwksKey(value: string, io: CliIO): Promise<KeyInput> {
  if (/^https?:\/\//i.test(value)) return { jwks: { url: value } };
  const text = await readText(() => io.readFile(value), `--jwks ${value}`);
  return { jwks: parseJsonObject(text, `JWKS in ${value}`) as { keys: [] } };
}

/**
 * One line on stderr when a `--key` is a shared secret (not {"publicKey"} or {"jwks"}): the command
 * line is visible to every user of the machine (ps, /proc/<pid>/cmdline) and kept in shell history.
 * Never the secret, nor any part of it; stdout is untouched.
 */
function warnOfSecretOnCommandLine(keys: readonly string[] | undefined, io: CliIO): void {
  const isSecret = (text: string) => {
    try {
      const key = parseKey(text, '--key');
      return typeof key === 'string' ? key !== '' : 'secret' in key;
    } catch {
      return true; // unreadable: it may well be a secret
    }
  };
  if (!keys?.some(isSecret)) return;
  io.stderr(
    'warning: --key puts a secret on the command line, where other users of this machine can read it (ps) and your shell ' +
      `history keeps it; set ${SECRET_ENV} in the environment or use --key-file <path> instead.\n`,
  );
}

/** The keys, newest first: --key values, the --key-file lines, --public-key files and --jwks; else the environment. */
async function readKeys(options: KeyOptions, io: CliIO): Promise<KeyInput[]> {
  const keys = (options.key ?? []).map((text, i) => parseKey(text, `--key #${i + 1}`));
  if (options.keyFile !== undefined) {
    const text = await readText(() => io.readFile(options.keyFile!), `--key-file ${options.keyFile}`);
    // One key per line; the line ending is not part of the key (a trailing newline in a key file is the classic mistake).
    text.split(/\r?\n/).forEach((line, i) => line !== '' && keys.push(parseKey(line, `${options.keyFile} line ${i + 1}`)));
  }
  for (const path of options.publicKey ?? []) {
    const text = await readText(() => io.readFile(path), `--public-key ${path}`);
    keys.push({ publicKey: keyFileContents(text, `key in ${path}`) as string });
  }
  if (options.jwks !== undefined) keys.push(await jwksKey(options.jwks, io));
  if (keys.length === 0) {
    for (const name of [SECRET_ENV, TEST_SECRET_ENV]) if (io.env[name]) keys.push(io.env[name]!);
  }
  if (keys.length === 0) throw new UsageError(`no key: set ${SECRET_ENV} (and ${TEST_SECRET_ENV}), or pass --key-file or --key.`);
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

/** Signs `text` for `scheme`: the fields the widget sends. `secret` is a private key for a public-key `jwt`. */
function signFor(
  scheme: SchemeName,
  text: string,
  secret: string | JwtPrivateKey,
  now: () => number,
  alg: JwtAlgorithm | undefined,
  kid?: string,
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
      return { ...signPayload(object as Record<string, FlatValue>, secret as string, { now }) };
    }
    case 'user-hash': {
      const userId = bare('user_id');
      return { ...object, user_id: userId, user_hash: signUserHash(userId, secret as string) };
    }
    case 'contact-hash': {
      const fields = object ?? { ext_user_id: text };
      return { ...fields, user_hash: signContactHash(fields as ContactHashFields, secret as string) };
    }
    case 'visitor-hash': {
      const visitorId = bare('anonymousUserId');
      return { ...object, anonymousUserId: visitorId, hmac: signVisitorHash(visitorId, secret as string) };
    }
    case 'jwt': {
      const claims = object ?? { externalId: text };
      return { token: signJwt(claims, secret, { now, ...(alg && { algorithm: alg }), ...(kid !== undefined && { keyId: kid }) }) };
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
  $ chat-identity check user-hash '{"user_id":"42","user_hash":"…"}'   (keys from $${SECRET_ENV} / $${TEST_SECRET_ENV})
  $ chat-identity check signed-payload @proof.json --json
  $ chat-identity check jwt eyJhbGciOi… --key-file keys.txt            (one key per line, newest first)
  $ chat-identity check jwt eyJhbGciOi… --jwks https://site.example/.well-known/jwks.json
  $ chat-identity sign user-hash 42 | chat-identity check user-hash

The proof is what the widget sends: {"customer":{…},"signature":"…"}; {"user_id","user_hash"};
{"ext_user_id"|"email"|"phone","user_hash"}; the JWT (or {"token"}); {"anonymousUserId","hmac"}.
A line of the key file may be JSON to describe its key: {"secret":"sk_live_…","expiresAt":"2026-01-01T00:00:00Z"}.
A secret given with --key is visible to other users of the machine (ps) and kept in shell history:
use the environment or --key-file for secrets, --key for public keys.
Exit status: 0 verified, 1 not verified, 2 usage error.`;

const SIGN_EXAMPLES = `
Examples:
  $ chat-identity sign signed-payload '{"externalId":"42","email":"ada@example.com"}'
  $ chat-identity sign user-hash 42
  $ chat-identity sign contact-hash '{"email":"ada@example.com"}'
  $ chat-identity sign jwt '{"externalId":"42","email":"ada@example.com"}'
  $ chat-identity sign visitor-hash v_123
  $ chat-identity sign jwt '{"externalId":"42"}' --private-key site-2026-01.private.pem --kid site-2026-01

Prints the fields the widget sends (for jwt, the token). The key: $${SECRET_ENV}, else
$${TEST_SECRET_ENV}, from the environment; or --key-file (first line); for a public-key jwt,
--private-key. --key works too, but a secret on the command line is visible to other users of the
machine (ps) and kept in shell history.`;

const KEYGEN_EXAMPLES = `
Examples:
  $ chat-identity keygen                                   (a live secret for the HMAC schemes)
  $ chat-identity keygen --test
  $ chat-identity keygen --alg ES256 --kid site-2026-01    (site-2026-01.private.pem and site-2026-01.jwks.json)
  $ chat-identity keygen --alg EdDSA --jwks public/.well-known/jwks.json   (rotation: the new key joins the set)`;

const JWKS_EXAMPLES = `
Examples:
  $ chat-identity jwks check https://site.example/.well-known/jwks.json
  $ chat-identity jwks check site-2026-01.jwks.json --json

Exit status: 0 no problem (warnings aside), 1 a problem (a key set aside, a duplicate kid, no usable key,
a fetch that failed), 2 usage error.`;

const REPORT_EXAMPLES = `
Examples:
  $ chat-identity report stats.json                       (a snapshot saved from verifier.stats())
  $ chat-identity report http://localhost:3000/api/stats --window day
  $ curl -s https://chat.example/internal/identity-stats | chat-identity report - --tenant acme --json

The snapshot is verifier.stats() (or identityStats().stats()) as JSON. Per tenant: the share of chat
requests that verified, the failures by code with the key and the signing mistake diagnosed, and a
verdict. Exit status: 0 every tenant ready to enforce (or enforcing), 1 not yet, 2 usage error.`;

/** The largest snapshot `report` reads, from a file, stdin or a URL. */
const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** A snapshot from a URL: http(s), 10 seconds, 64 MiB at most. */
async function fetchSnapshot(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
  } catch (error) {
    throw new UsageError(`cannot fetch ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new UsageError(`cannot fetch ${url}: HTTP ${response.status}.`);
  const tooLarge = () => new UsageError(`${url} is larger than 64 MiB.`);
  if (Number(response.headers.get('content-length')) > MAX_SNAPSHOT_BYTES) throw tooLarge();
  // Read as it comes, and stop at the limit: a body without Content-Length is never held whole first.
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > MAX_SNAPSHOT_BYTES) throw tooLarge(); // leaving the loop cancels the body
      chunks.push(chunk);
    }
  } catch (error) {
    // The 10 seconds ran out, or the connection was cut, while the body came: said, not a crash.
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot fetch ${url}: ${(error as Error).message} (after ${size} bytes of the body).`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function percent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new InvalidArgumentError('expected a percentage from 0 to 100.');
  return n;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more.');
  return n;
}

function reportWindow(value: string): 'hour' | 'day' | 'all' {
  if (value !== 'hour' && value !== 'day' && value !== 'all') throw new InvalidArgumentError('expected hour, day or all.');
  return value;
}

/** `es256-2026-01-01`: the algorithm and the day, as a rotation schedule names keys. */
function defaultKid(alg: PublicKeyAlgorithm, now: number): string {
  return `${alg.toLowerCase()}-${new Date(now).toISOString().slice(0, 10)}`;
}

async function writeOut(io: CliIO, path: string, text: string, mode?: number): Promise<void> {
  try {
    await io.writeFile(path, text, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(
        `${path} already exists; keygen never replaces a key (choose another --kid or --out, or move the old key away).`,
      );
    }
    throw new UsageError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

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
    .description(
      'Print a new secret: sk_live_ (or sk_test_) and 32 random bytes as hex. With --alg, write a key pair instead: the private ' +
        "key (PEM, for the site's server) and the public key in a JWKS (for the site to publish).",
    )
    .option('--test', 'make a test key (sk_test_...)')
    .option('--alg <alg>', 'make a key pair for ES256, EdDSA, RS256 or PS256', publicKeyAlgorithm)
    .option('--kid <kid>', 'with --alg: the key id (default: the algorithm and the date)')
    .option('--out <dir>', 'with --alg: where to write <kid>.private.pem and, unless --jwks, <kid>.jwks.json', '.')
    .option('--jwks <file>', 'with --alg: add the public key to this JWKS file (created if missing), keeping its keys: a rotation')
    .option('--json', 'print {"secret","test"} (with --alg: {"kid","alg","privateKeyFile","jwksFile"}) as JSON')
    .addHelpText('after', KEYGEN_EXAMPLES)
    .action(async (options: { test?: boolean; json?: boolean; alg?: PublicKeyAlgorithm; kid?: string; out: string; jwks?: string }) => {
      if (options.alg === undefined) {
        if (options.kid !== undefined || options.jwks !== undefined) throw new UsageError('--kid and --jwks go with --alg.');
        const secret = `${options.test ? 'sk_test_' : 'sk_live_'}${randomBytes(32).toString('hex')}`;
        print(options.json ? JSON.stringify({ secret, test: options.test === true }) : secret);
        return;
      }
      if (options.test)
        throw new UsageError('--test makes a secret; a public key is a test key where it is configured so ({ publicKey, test: true }).');
      const made = await generateKeyPair(options.alg, options.kid ?? defaultKid(options.alg, io.now()));
      const dir = options.out.replace(/\/$/, '');
      const privateKeyFile = `${dir}/${made.kid}.private.pem`;
      const jwksFile = options.jwks ?? `${dir}/${made.kid}.jwks.json`;
      let set: { keys: unknown[] } = { keys: [] };
      if (options.jwks !== undefined) {
        const existing = await io.readFile(options.jwks).catch(() => undefined);
        if (existing !== undefined) {
          const read = parseJsonObject(existing, `JWKS in ${options.jwks}`);
          if (!Array.isArray(read.keys)) throw new UsageError(`${options.jwks} is not a JWKS: it has no "keys" array.`);
          if (read.keys.some((key: { kid?: unknown }) => key?.kid === made.kid))
            throw new UsageError(`${options.jwks} already has a key with kid "${made.kid}".`);
          set = read as { keys: unknown[] };
        }
      }
      set.keys = [made.jwk, ...set.keys]; // the new key first: verifiers try keys in order
      await writeOut(io, privateKeyFile, made.privatePem, 0o600);
      await writeOut(io, jwksFile, `${JSON.stringify(set, null, 2)}\n`);
      if (options.json) {
        print(JSON.stringify({ kid: made.kid, alg: options.alg, privateKeyFile, jwksFile }));
        return;
      }
      print(
        [
          `kid: ${made.kid} (${options.alg})`,
          `private key: ${privateKeyFile} (the site's server signs with it; it never goes to the chat backend)`,
          `JWKS: ${jwksFile} (${set.keys.length} key${set.keys.length === 1 ? '' : 's'}; ` +
            'publish it, e.g. at https://<site>/.well-known/jwks.json)',
          `sign: chat-identity sign jwt '{"externalId":"42"}' --private-key ${privateKeyFile} --kid ${made.kid}` +
            (options.alg.startsWith('RS') || options.alg.startsWith('PS') ? ` --algorithm ${options.alg}` : ''),
        ].join('\n'),
      );
    });

  program
    .command('sign')
    .description("Sign an identity as the site's server does, and print what the widget sends.")
    .addArgument(schemeArgument())
    .argument('[identity]', 'the fields to sign as JSON, or a bare id; @file reads a file, - (or a pipe) stdin')
    .option('-k, --key <secret>', 'the signing secret (first one given is used); visible in ps: prefer the environment', collect)
    .option('--key-file <path>', 'read the secret from the first line of this file')
    .option('--now <time>', 'sign at this time: seconds since the epoch or an ISO date', instant)
    .option(
      '--algorithm <alg>',
      'jwt: HS256 (default), HS384 or HS512; with --private-key ES256, EdDSA, RS256 or PS256',
      (v: string) => algorithm(v)[0],
    )
    .option('--private-key <file>', "jwt: sign with the site's private key (PEM, or a JWK with d) instead of a secret")
    .option('--kid <kid>', "jwt: the kid to put in the header (the id of the public key in the site's JWKS)")
    .option('--json', 'print compact JSON on one line')
    .addHelpText('after', SIGN_EXAMPLES)
    .action(
      async (
        scheme: SchemeName,
        identity: string | undefined,
        options: KeyOptions & { now?: number; algorithm?: JwtAlgorithm; json?: boolean; privateKey?: string; kid?: string },
      ) => {
        warnOfSecretOnCommandLine(options.key, io);
        let signingKey: string | JwtPrivateKey;
        if (options.privateKey !== undefined && scheme !== 'jwt')
          throw new UsageError(`only jwt signs with a private key; ${scheme} signs with a secret.`);
        if (options.privateKey !== undefined) {
          const text = await readText(() => io.readFile(options.privateKey!), `--private-key ${options.privateKey}`);
          signingKey = keyFileContents(text, `key in ${options.privateKey}`) as JwtPrivateKey;
        } else {
          const [key] = await readKeys(options, io);
          if (typeof key !== 'string' && !('secret' in key!))
            throw new UsageError('sign takes a secret (--key) or a private key (--private-key), not a public key.');
          signingKey = typeof key === 'string' ? key : key.secret;
        }
        const text = await readInput(identity, io, 'identity');
        const now = options.now === undefined ? () => io.now() : () => options.now!;
        const fields = refusedAsUsage(() => signFor(scheme, text, signingKey, now, options.algorithm, options.kid));
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
    .option(
      '-k, --key <secret>',
      'a signing secret, or JSON {"secret","id","test","expiresAt"} ({"publicKey"}, {"jwks"}); repeat, newest first; ' +
        'a secret here is visible in ps: prefer the environment or --key-file',
      collect,
    )
    .option('--key-file <path>', 'read the secrets from a file, one per line, newest first')
    .option('--public-key <file>', 'jwt: a public key (PEM, or a JWK as JSON); repeat', collect)
    .option('--jwks <file|url>', "jwt: the site's JWKS, from a file or fetched from its URL as the verifier fetches it")
    .option('--test-mode', 'as if the widget declared testMode: true')
    .option('--no-test-keys', 'refuse test keys (allowTestKeys: false), as in production')
    .option('--now <time>', 'check at this time: seconds since the epoch or an ISO date', instant)
    .option('--max-age <seconds>', 'seconds a timestamp / iat stays valid with a live key', seconds)
    .option('--test-max-age <seconds>', 'the same for a test key (default 3600)', seconds)
    .option('--clock-tolerance <seconds>', 'seconds a timestamp may lie in the future (default 60)', seconds)
    .option('--algorithm <alg>', 'jwt: an accepted algorithm; repeat (default: HS256 for secrets, each public key its own)', algorithm)
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
        warnOfSecretOnCommandLine(options.key, io);
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

  const jwks = program.command('jwks').description("Report on a site's JSON Web Key Set.");
  jwks
    .command('check')
    .description(
      "Fetch (or read) a site's JWKS and say what the verifier would make of it: each key's kid, algorithm and size, the keys it " +
        'sets aside and why, duplicate kids, missing alg or use, and how long the set would be cached.',
    )
    .argument('<source>', 'the JWKS URL (https, or http to a loopback address), or a file')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', JWKS_EXAMPLES)
    .action(async (source: string, options: { json?: boolean }) => {
      let from: JwksSource;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
        from = { url: source };
      } else {
        const text = await readText(() => io.readFile(source), source);
        let document: unknown;
        try {
          document = JSON.parse(text);
        } catch {
          document = undefined;
        }
        from = { file: source, document };
      }
      const report = await checkJwks(from);
      print(options.json ? JSON.stringify(report) : report.text);
      exitCode = report.problems.length === 0 ? EXIT_OK : EXIT_UNVERIFIED;
    });

  program
    .command('report')
    .description(
      'Ready to enforce? Read a stats snapshot (verifier.stats() as JSON) and print, per tenant, the share of chat requests ' +
        'with a valid proof, the failures by code with their diagnosis, and a verdict.',
    )
    .argument('[snapshot]', 'a file, an http(s) URL, or - (or a pipe) for stdin')
    .option(
      '--window <window>',
      'hour (the last 60 minutes, default), day (the last 24 hours) or all (since counting started)',
      reportWindow,
    )
    .option('--tenant <tenant>', 'only this tenant')
    .option('--min-requests <n>', 'fewer chat requests in the window are too few to judge (default 100)', count)
    .option('--max-failing <percent>', 'the largest failing share still ready to enforce (default 0.5)', percent)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', REPORT_EXAMPLES)
    .action(
      async (
        source: string | undefined,
        options: { window?: 'hour' | 'day' | 'all'; tenant?: string; minRequests?: number; maxFailing?: number; json?: boolean },
      ) => {
        const text =
          source !== undefined && /^https?:\/\//i.test(source)
            ? await fetchSnapshot(source)
            : await readInput(source === undefined || source === '-' || source.startsWith('@') ? source : `@${source}`, io, 'snapshot');
        let snapshot: unknown;
        try {
          snapshot = JSON.parse(text);
        } catch {
          throw new UsageError('the snapshot is not JSON: save verifier.stats() with JSON.stringify.');
        }
        const settings: RolloutReportOptions = {};
        if (options.window !== undefined) settings.window = options.window;
        if (options.tenant !== undefined) settings.tenant = options.tenant;
        if (options.minRequests !== undefined) settings.minRequests = options.minRequests;
        if (options.maxFailing !== undefined) settings.maxFailingPercent = options.maxFailing;
        let report;
        try {
          report = rolloutReport(snapshot as StatsSnapshot, settings);
        } catch (error) {
          throw new UsageError((error as Error).message.replace(/^chat-identity: /, ''));
        }
        print(options.json ? JSON.stringify(report) : formatRolloutReport(report));
        exitCode = report.ready && report.tenants.length > 0 ? EXIT_OK : EXIT_UNVERIFIED;
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
