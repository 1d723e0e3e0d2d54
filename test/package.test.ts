/**
 * The published package, as users get it: `npm pack` (which builds), unpacked into a scratch
 * folder with none of the optional peers installed, then every entry point imported and required.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
let scratch: string;

function link(name: string): void {
  const target = join(scratch, 'node_modules', name);
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
  // The runtime dependencies of the library entry points; no express, koa, passport or passport-custom.
  link('lru-cache');
  link('rate-limiter-flexible');
}, 120_000);

afterAll(() => scratch && rmSync(scratch, { recursive: true, force: true }));

const ENTRY_EXPORTS: Record<string, string[]> = {
  'chat-identity': ['IdentityError', 'IdentityErrorCode', 'createVerifier', 'signContactHash', 'signJwt', 'signPayload', 'signUserHash', 'signVisitorHash'],
  'chat-identity/adapter': ['createGuard', 'createRequestCheck', 'onceLogger', 'rejectionFor', 'toVerifyRequest', 'verifiedIdentityOf', 'writeRejection'],
  'chat-identity/express': ['identityOf', 'identityVerification', 'requireVerified'],
  'chat-identity/koa': ['identityOf', 'identityVerification', 'requireVerified'],
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
    for (const name of ['createRequestCheck', 'createGuard', 'writeRejection', 'onceLogger', 'rejectionFor', 'httpStatus', 'rejectionBody']) expect(root).not.toContain(name);
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
    expect(esm(script("import { identityVerification } from 'chat-identity/express'; import { IdentityError } from 'chat-identity';"))).toBe('MISSING_IDENTITY');
    expect(cjs(script("const { identityVerification } = require('chat-identity/express'); const { IdentityError } = require('chat-identity');"))).toBe('MISSING_IDENTITY');
  });

  it('the passport entry needs passport-custom, and says so when it is missing', () => {
    expect(() => cjs("require('chat-identity/passport')")).toThrow(/passport-custom/);
    link('passport-custom');
    link('passport-strategy');
    expect(cjs("console.log(new (require('chat-identity/passport').IdentityStrategy)({ scheme: 'jwt', keys: ['k'] }).name)")).toBe('chat-identity');
    expect(esm("import { IdentityStrategy } from 'chat-identity/passport'; console.log(new IdentityStrategy({ scheme: 'jwt', keys: ['k'] }).name)")).toBe('chat-identity');
  });

  it('ships only dist, the licence, README and package.json', () => {
    const files = readdirSync(join(scratch, 'node_modules', 'chat-identity'));
    expect(files.sort()).toEqual(['LICENSE', 'README.md', 'dist', 'package.json']);
  });
});
