/**
 * The published package, as users get it: `npm pack` (which builds), unpacked into a scratch
 * folder with none of the optional peers installed, then every entry point imported and required.
 * A test that needs a peer links it from this repository's node_modules itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
let scratch: string;

function link(name: string): void {
  const target = join(scratch, 'node_modules', name);
  if (existsSync(target)) return;
  mkdirSync(join(target, '..'), { recursive: true });
  symlinkSync(join(root, 'node_modules', name), target);
}

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
const esm = (code: string) => node(['--input-type=module', '-e', code]);
const cjs = (code: string) => node(['-e', code]);

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'chat-identity-pack-'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: root, stdio: 'ignore' });
  const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'))!;
  mkdirSync(join(scratch, 'node_modules', 'chat-identity'), { recursive: true });
  execFileSync('tar', ['xzf', join(scratch, tarball), '-C', join(scratch, 'node_modules', 'chat-identity'), '--strip-components=1']);
  // The runtime dependencies of the library entry points (fastify-plugin: chat-identity/fastify's);
  // no express, koa, passport, passport-custom, fastify, hono, prom-client or @opentelemetry/api.
  link('lru-cache');
  link('rate-limiter-flexible');
  link('fastify-plugin');
}, 120_000);

afterAll(() => scratch && rmSync(scratch, { recursive: true, force: true }));

const ENTRY_EXPORTS: Record<string, string[]> = {
  'chat-identity': [
    'IdentityError',
    'IdentityErrorCode',
    'createVerifier',
    'signContactHash',
    'signJwt',
    'signPayload',
    'signUserHash',
    'signVisitorHash',
  ],
  'chat-identity/adapter': [
    'createGuard',
    'createRequestCheck',
    'onceLogger',
    'rejectionFor',
    'toVerifyRequest',
    'verifiedIdentityOf',
    'writeRejection',
  ],
  'chat-identity/express': ['identityOf', 'identityVerification', 'requireVerified'],
  'chat-identity/koa': ['identityOf', 'identityVerification', 'requireVerified'],
  'chat-identity/fastify': ['endSession', 'identityOf', 'identityVerification', 'requireVerified'],
  'chat-identity/fetch': [
    'endSession',
    'identityOf',
    'identityVerification',
    'rejectionResponse',
    'requireVerified',
    'verifyRequest',
    'withSessionHeaders',
  ],
};

describe('the packed tarball, with no optional peer installed', () => {
  it.each(Object.keys(ENTRY_EXPORTS))('import and require %s', (entry) => {
    const imported: string[] = JSON.parse(esm(`import * as m from '${entry}'; console.log(JSON.stringify(Object.keys(m)))`));
    const required: string[] = JSON.parse(cjs(`console.log(JSON.stringify(Object.keys(require('${entry}'))))`));
    expect(imported).toEqual(expect.arrayContaining(ENTRY_EXPORTS[entry]!));
    expect(required.sort()).toEqual(imported.filter((k) => k !== 'default').sort());
  });

  it('the root entry carries no adapter kit (it is chat-identity/adapter)', () => {
    const root: string[] = JSON.parse(esm(`import * as m from 'chat-identity'; console.log(JSON.stringify(Object.keys(m)))`));
    for (const name of ['createRequestCheck', 'createGuard', 'writeRejection', 'onceLogger', 'rejectionFor', 'httpStatus', 'rejectionBody'])
      expect(root).not.toContain(name);
  });

  it('verifies a signature through the packed core, both ways', () => {
    const script = (load: string) => `${load}
      const v = createVerifier({ scheme: 'user-hash', keys: ['sk_live_k'] });
      v.verify({ body: { user_id: 'u1', user_hash: signUserHash('u1', 'sk_live_k') } }).then((r) => console.log(r.verified));`;
    expect(esm(script("import { createVerifier, signUserHash } from 'chat-identity';"))).toBe('true');
    expect(cjs(script("const { createVerifier, signUserHash } = require('chat-identity');"))).toBe('true');
  });

  it('an adapter shares the core module: its IdentityError is the one chat-identity exports', () => {
    const script = (load: string) => `${load}
      const mw = identityVerification({ scheme: 'user-hash', keys: ['sk_live_k'], required: true, rejectWith: 'error' });
      mw({ headers: {}, body: {} }, {}, (err) => console.log(err instanceof IdentityError && err.code));`;
    expect(
      esm(script("import { identityVerification } from 'chat-identity/express'; import { IdentityError } from 'chat-identity';")),
    ).toBe('MISSING_IDENTITY');
    expect(
      cjs(script("const { identityVerification } = require('chat-identity/express'); const { IdentityError } = require('chat-identity');")),
    ).toBe('MISSING_IDENTITY');
  });

  it('an app that requires one entry point and imports another loads one copy of the package', () => {
    // A verifier made by require('chat-identity') guarded by the ESM adapter kit: with an ESM and
    // a CommonJS copy of the core side by side, the guard did not know the other copy's results
    // and refused every request as MISSING_IDENTITY, and IdentityError was two classes.
    const script = `import { createRequire } from 'node:module';
      import { createGuard, createRequestCheck } from 'chat-identity/adapter';
      import * as imported from 'chat-identity';
      const required = createRequire(import.meta.url)('chat-identity');
      const verifier = required.createVerifier({ scheme: 'user-hash', keys: ['sk_live_k'] });
      const { check } = createRequestCheck({ verifier });
      const guard = createGuard({});
      const proof = (user_hash) => ({ headers: {}, body: { user_id: 'u1', user_hash } });
      const { result } = await check(proof(required.signUserHash('u1', 'sk_live_k')), '');
      const forged = await check(proof(required.signUserHash('u1', 'sk_live_other')), '');
      const refusal = guard.check(forged.result, '');
      const same = ['IdentityError', 'createVerifier', 'isIssuedResult'].every((name) => imported[name] === required[name]);
      console.log(result.verified, guard.check(result, ''), refusal instanceof required.IdentityError && refusal.code, same);`;
    expect(esm(script)).toBe('true undefined INVALID_SIGNATURE true');
  });

  it('the passport entry needs passport-custom, and says so when it is missing', () => {
    expect(() => cjs("require('chat-identity/passport')")).toThrow(/passport-custom/);
    link('passport-custom');
    link('passport-strategy');
    expect(cjs("console.log(new (require('chat-identity/passport').IdentityStrategy)({ scheme: 'jwt', keys: ['k'] }).name)")).toBe(
      'chat-identity',
    );
    expect(
      esm(
        "import { IdentityStrategy } from 'chat-identity/passport'; console.log(new IdentityStrategy({ scheme: 'jwt', keys: ['k'] }).name)",
      ),
    ).toBe('chat-identity');
  });

  it('the fetch entry verifies a Web Request, both ways, and leaves its body to the handler', () => {
    // A Next.js-style route handler: no framework, no Hono installed.
    const script = (load: string) => `${load}
      const verifier = createVerifier({ scheme: 'user-hash', keys: ['sk_live_k'], required: true });
      async function POST(request) {
        const { result, rejection, headers } = await verifyRequest(request, { verifier });
        if (rejection) return rejectionResponse(rejection);
        const body = await request.json();
        return Response.json({ hello: identityOf(result).contact.externalId, text: body.text }, { headers });
      }
      const post = (body) => POST(new Request('http://chat.example/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
      (async () => {
        const good = await post({ user_id: 'u1', user_hash: signUserHash('u1', 'sk_live_k'), text: 'hi' });
        const bad = await post({ user_id: 'u1', user_hash: signUserHash('u2', 'sk_live_k') });
        console.log(good.status, await good.text(), bad.status, bad.headers.get('content-type'), await bad.text());
      })();`;
    const expected =
      '200 {"hello":"u1","text":"hi"} 401 application/json; charset=utf-8 {"error":"identity_unverified","code":"INVALID_SIGNATURE","message":"The identity signature is not valid."}';
    expect(
      esm(
        script(
          "import { createVerifier, signUserHash } from 'chat-identity'; import { identityOf, rejectionResponse, verifyRequest } from 'chat-identity/fetch';",
        ),
      ),
    ).toBe(expected);
    expect(
      cjs(
        script(
          "const { createVerifier, signUserHash } = require('chat-identity'); const { identityOf, rejectionResponse, verifyRequest } = require('chat-identity/fetch');",
        ),
      ),
    ).toBe(expected);
  });

  it('a route handler type-checks against the packed fetch entry with no hono installed (skipLibCheck, as Next.js sets it)', () => {
    link('@types/node');
    const project = join(scratch, 'next-app');
    mkdirSync(project, { recursive: true });
    writeFileSync(
      join(project, 'route.ts'),
      `import { createVerifier, type VerifiedIdentity } from 'chat-identity';
import { identityOf, rejectionResponse, verifyRequest, type RequestIdentity } from 'chat-identity/fetch';
const verifier = createVerifier({ scheme: 'user-hash', keys: [process.env.CHAT_IDENTITY_SECRET!], required: true });
export async function POST(request: Request): Promise<Response> {
  const verified: RequestIdentity = await verifyRequest(request, { verifier, requireVerified: { fields: ['externalId'] } });
  if (verified.rejection) return rejectionResponse(verified.rejection);
  const identity: VerifiedIdentity = identityOf(verified.result);
  // @ts-expect-error the headers are strings
  const wrong: Record<string, number> = verified.headers;
  void wrong;
  return Response.json({ id: identity.contact.externalId }, { headers: verified.headers });
}
`,
    );
    const compilerOptions = {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      lib: ['DOM', 'DOM.Iterable', 'ESNext'],
      module: 'ESNext',
      moduleResolution: 'bundler',
      types: ['node'],
    };
    const tsc = (skipLibCheck: boolean) => {
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { ...compilerOptions, skipLibCheck }, files: ['route.ts'] }),
      );
      try {
        execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, encoding: 'utf8' });
        return '';
      } catch (error) {
        return String((error as { stdout?: string }).stdout);
      }
    };
    expect(tsc(true)).toBe('');
    // Checking the package's own declarations needs Hono's types (the Hono middleware's signatures
    // name them): the one thing docs/adapters.md tells TypeScript users without Hono.
    expect(tsc(false).trim().split('\n')).toEqual([expect.stringMatching(/dist\/fetch\.d\.ts.*error TS2307: Cannot find module 'hono'/)]);
  }, 60_000);

  it('the fastify entry loads without fastify, and registers in Fastify (linked here) both ways, its rejection the core IdentityError', () => {
    link('fastify');
    const script = (load: string) => `${load}
      const app = Fastify();
      app.setErrorHandler((error, _request, reply) => reply.code(error.status ?? 500).send({ caught: error instanceof IdentityError && error.code }));
      app.register(identityVerification, { scheme: 'user-hash', keys: ['sk_live_k'], rejectWith: 'error' });
      app.post('/chat', { preHandler: requireVerified({ rejectWith: 'error' }) }, async (request) => ({ hello: identityOf(request).contact.externalId }));
      (async () => {
        const good = await app.inject({ method: 'POST', url: '/chat', payload: { user_id: 'u1', user_hash: signUserHash('u1', 'sk_live_k') } });
        const bad = await app.inject({ method: 'POST', url: '/chat', payload: {} });
        console.log(good.statusCode, good.body, bad.statusCode, bad.body);
        await app.close();
      })();`;
    const expected = '200 {"hello":"u1"} 401 {"caught":"MISSING_IDENTITY"}';
    expect(
      esm(
        script(
          "import Fastify from 'fastify'; import { IdentityError, signUserHash } from 'chat-identity'; import { identityOf, identityVerification, requireVerified } from 'chat-identity/fastify';",
        ),
      ),
    ).toBe(expected);
    expect(
      cjs(
        script(
          "const Fastify = require('fastify'); const { IdentityError, signUserHash } = require('chat-identity'); const { identityOf, identityVerification, requireVerified } = require('chat-identity/fastify');",
        ),
      ),
    ).toBe(expected);
  });

  it.each([
    ['chat-identity/prometheus', 'prom-client', 'prometheusMetrics'],
    ['chat-identity/opentelemetry', '@opentelemetry/api', 'openTelemetryMetrics'],
  ])('%s needs %s, says so when it is missing, and loads both ways beside it', (entry, peer, name) => {
    expect(() => cjs(`require('${entry}')`)).toThrow(new RegExp(peer));
    expect(() => esm(`await import('${entry}')`)).toThrow(new RegExp(peer));
    // Caught, the failed import leaves the app running (an ESM entry re-exporting CommonJS would not, on Node 20: nodejs/node#51603).
    expect(esm(`try { await import('${entry}'); } catch {} setTimeout(() => console.log('running'), 50);`)).toBe('running');
    link(peer);
    expect(cjs(`console.log(typeof require('${entry}').${name})`)).toBe('function');
    expect(esm(`import { ${name} } from '${entry}'; console.log(typeof ${name})`)).toBe('function');
  });

  it('ships only dist, the licence, README and package.json', () => {
    const files = readdirSync(join(scratch, 'node_modules', 'chat-identity'));
    expect(files.sort()).toEqual(['LICENSE', 'README.md', 'dist', 'package.json']);
  });
});
