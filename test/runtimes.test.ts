/**
 * The fetch adapter on Bun and Deno (both installed from the npm registry as devDependencies): a
 * route handler served by `Bun.serve()` and by `Deno.serve()`, the package bundled from source,
 * and the conformance and attack tables' rows sent to it over a real socket. Each answer must be
 * the core's under Node: status, JSON body, Retry-After and WWW-Authenticate.
 *
 * The rows that travel are those a child process can rebuild from JSON: options of plain data (no
 * keys lookup or tenant function, no KeyObject, no JWKS server of this process), requests with no
 * session credential sent back, no clock stepped, and no DPoP proof (it signs the URL the table's
 * requests go to, http://chat.example/chat). The others run through Node only
 * (test/conformance.test.ts); docs/adapters.md says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromSource } from '../scripts/entries.mjs';
import type { MiddlewareOptions } from '../adapters/adapter.js';
import { LIVE_KEY, frozenClock } from './helpers.js';
import { ATTACK_CASES } from './conformance/attacks.js';
import { CASES, type CaseRequest, type ConformanceCase } from './conformance/cases.js';
import { PATHS, type Outcome } from './conformance/paths.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNTIMES = {
  bun: { bin: join(ROOT, 'node_modules/.bin/bun'), args: (file: string) => [file] },
  deno: {
    bin: join(ROOT, 'node_modules/.bin/deno'),
    args: (file: string) => ['run', '--allow-net=127.0.0.1', '--allow-read', '--allow-env', file],
  },
};

/** The route handler each runtime serves: one verifier per row, made on its first request. */
const SERVER = `
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { createVerifier } from 'chat-identity';
import { rejectionResponse, verifyRequest } from 'chat-identity/fetch';

const rows = JSON.parse(readFileSync(process.env.ROWS_FILE, 'utf8'));
const logger = { warn() {}, error: (message) => void (String(message).includes('internal error') && console.error(message)) };
const verifiers = new Map();

async function POST(request, ip) {
  const index = Number(new URL(request.url).pathname.split('/')[2]);
  const row = rows[index];
  if (!verifiers.has(index)) verifiers.set(index, createVerifier({ ...row.options, now: () => row.now, logger }));
  const { result, rejection, headers } = await verifyRequest(request, { verifier: verifiers.get(index), ip, requireVerified: row.guard });
  if (rejection) return rejectionResponse(rejection);
  return Response.json({ identity: result }, { headers });
}

if (globalThis.Bun) {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request, server) => POST(request, server.requestIP(request)?.address) });
  console.log('listening on ' + server.port);
} else {
  Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log('listening on ' + port) }, (request, info) => POST(request, info.remoteAddr.hostname));
}
`;

interface Row {
  name: string;
  options: Record<string, unknown>;
  now: number;
  guard: boolean;
  requests: CaseRequest[];
}

/** A row as JSON, or undefined when a child process could not rebuild it. */
function portable(testCase: ConformanceCase): Row | undefined {
  const { now = frozenClock, logger: _, ...options } = { keys: [LIVE_KEY], ...testCase.options } as Record<string, unknown>;
  const requests = [...(testCase.before ?? []), testCase.request];
  const plain = (value: unknown) => {
    try {
      return isDeepStrictEqual(JSON.parse(JSON.stringify(value)), value);
    } catch {
      return false;
    }
  };
  if (!plain(options) || JSON.stringify(options).includes('jwks')) return undefined;
  if (requests.some((r) => r.session || r.sessionHeaders || r.endSessions !== undefined || r.at || (r.path ?? '/chat') !== '/chat'))
    return undefined;
  if (!requests.every((r) => plain(r)) || /dpop/i.test(JSON.stringify([options, requests]))) return undefined;
  return { name: testCase.name, options, now: (now as () => number)(), guard: testCase.guard ?? false, requests };
}

const ALL = [...CASES, ...ATTACK_CASES];
const ROWS = ALL.map(portable).filter((row): row is Row => row !== undefined);

/** Sends a row's requests as the conformance runner does (an object body as JSON, a string one as a form) and reads the last answer. */
async function send(origin: string, index: number, requests: CaseRequest[]): Promise<Outcome> {
  let outcome: Outcome | undefined;
  for (const req of requests) {
    const headers: Record<string, string> = { ...req.headers };
    let body: string | undefined;
    if (req.rawBody) [headers['content-type'], body] = [req.rawBody.type, req.rawBody.text];
    else if (typeof req.body === 'string') [headers['content-type'], body] = ['application/x-www-form-urlencoded', req.body];
    else if (req.body !== undefined) [headers['content-type'], body] = ['application/json', JSON.stringify(req.body)];
    const res = await fetch(`${origin}/row/${index}`, { method: 'POST', headers, ...(body !== undefined && { body }) });
    const text = await res.text();
    outcome = { status: res.status, body: text === '' ? {} : JSON.parse(text) };
    if (res.headers.has('retry-after')) outcome.retryAfter = res.headers.get('retry-after')!;
    if (res.headers.has('www-authenticate')) outcome.challenge = res.headers.get('www-authenticate')!;
  }
  return outcome!;
}

function start(
  bin: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; origin: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => (child.kill(), reject(new Error(`${bin} did not start:\n${out}`))), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const port = /listening on (\d+)/.exec(out)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ child, origin: `http://127.0.0.1:${port}`, output: () => out });
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`${bin} exited (${code}) before listening:\n${out}`))));
  });
}

let dir: string;
let bundle: string;
beforeAll(async () => {
  dir = mkdtempSync(join(ROOT, 'test/.runtimes-'));
  writeFileSync(join(dir, 'server.mjs'), SERVER);
  writeFileSync(join(dir, 'rows.json'), JSON.stringify(ROWS));
  bundle = await bundleFromSource(join(dir, 'server.mjs'), join(dir, 'server.bundle.mjs'));
}, 60_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

it('carries most of the tables to the other runtimes', () => {
  expect(ROWS.length).toBeGreaterThanOrEqual(200);
  expect(ROWS.length / ALL.length).toBeGreaterThan(0.6);
});

describe.each(Object.entries(RUNTIMES))('%s', (name, runtime) => {
  const installed = existsSync(runtime.bin);
  if (!installed) console.log(`${name}: not installed (npm install installs it from the registry); its rows are skipped`);
  let server: Awaited<ReturnType<typeof start>> | undefined;
  beforeAll(async () => {
    if (installed)
      server = await start(runtime.bin, runtime.args(bundle), { ROWS_FILE: join(dir, 'rows.json'), DENO_NO_UPDATE_CHECK: '1' });
  }, 60_000);
  afterAll(() => void server?.child.kill());

  it.skipIf(!installed).each(ROWS.map((row, index) => [row.name, row, index] as const))('%s', async (_name, row, index) => {
    const options = { ...row.options, now: () => row.now, logger: { warn() {}, error() {} } } as unknown as MiddlewareOptions;
    const expected = await PATHS.core(options, row.guard, row.requests);
    const { session: _, ...answer } = expected;
    expect(await send(server!.origin, index, row.requests), server!.output()).toEqual(answer);
  });

  it.skipIf(!installed)('logged no internal error', () => {
    expect(server!.output()).not.toMatch(/internal error/);
  });
});
