/**
 * The documentation, checked like code. Every ```ts block of README.md and docs/*.md type-checks
 * with `tsc --strict`; the blocks marked `<!-- snippet: run -->` run and print what their
 * `// → ...` comments say; each framework quick start (`<!-- snippet: server -->`) starts, and
 * the test request of its ```sh block (its `npx chat-identity` part run through the CLI, from
 * source) gets the answer its `# → ...` line gives. Then what a new user reads first: the README's
 * size, the commands it gives, one name for the secret's variable, links that lead somewhere, and
 * the demo's start-up. The convention is in docs/contributing.md ("Code in the docs").
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromSource, packageSources, sourceEntries } from '../scripts/entries.mjs';
import {
  ROOT,
  blocksOf,
  curlRequest,
  describeBlock,
  docFiles,
  expectedOutput,
  fileNameOf,
  formatTypeError,
  runNode,
  runShellLine,
  shellLines,
  startServer,
  strayMarks,
  typeCheck,
  writeSnippets,
  type Block,
} from './docs/snippets.js';

const DOCS = docFiles();
const BLOCKS = DOCS.flatMap(blocksOf);
const TS_BLOCKS = BLOCKS.filter((b) => b.lang === 'ts');
const RUNNABLE = TS_BLOCKS.filter((b) => b.mark === 'run');
const SERVERS = TS_BLOCKS.filter((b) => b.mark === 'server');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

let dir: string;
let byFile: Map<string, Block>;
let cli: string | undefined;
/** The CLI from source, bundled once, for the quick starts' `npx chat-identity`. */
const cliBundle = async () => (cli ??= await bundleFromSource((await sourceEntries()).cli!, join(dir, 'cli.mjs')));
/** A test key, as `chat-identity keygen --test` makes them. */
const TEST_SECRET = `sk_test_${randomBytes(32).toString('hex')}`;

beforeAll(async () => {
  // A dot folder: inside the repository (packages resolve from its node_modules), outside the
  // project's own tsc run and git status, removed afterwards.
  dir = mkdtempSync(join(ROOT, 'test/docs/.snippets-'));
  byFile = writeSnippets(TS_BLOCKS, dir, await packageSources());
}, 60_000);

afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

async function bundle(block: Block): Promise<string> {
  return bundleFromSource(join(dir, fileNameOf(block)), join(dir, fileNameOf(block).replace(/\.mts$/, '.bundle.mjs')));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('code in the docs', () => {
  it('has snippets to check: TypeScript blocks, runnable ones, and a server quick start per framework', () => {
    expect(TS_BLOCKS.length).toBeGreaterThan(10);
    expect(RUNNABLE.length).toBeGreaterThan(5);
    // Express, Koa, Passport, Fastify, and Hono (for chat-identity/fetch).
    expect(SERVERS.map((b) => b.doc)).toEqual(['README.md', 'README.md', 'README.md', 'README.md', 'README.md']);
  });

  it.each(DOCS)('%s: every snippet marker sits right before a ```ts block', (doc) => {
    expect(strayMarks(doc), `${doc}: markers on these lines are misspelt or not before a \`\`\`ts block`).toEqual([]);
  });

  it('every ```ts block type-checks with tsc --strict, against the package as published', async () => {
    const errors = await typeCheck(dir, byFile);
    expect(errors.map(formatTypeError), `tsc --strict errors in the docs' TypeScript:\n${errors.map(formatTypeError).join('\n')}`).toEqual(
      [],
    );
  }, 120_000);

  it.each(RUNNABLE.map((b) => [describeBlock(b), b] as const))(
    '%s runs and prints what it says',
    async (_name, block) => {
      const run = await runNode(await bundle(block), { CHAT_IDENTITY_SECRET: TEST_SECRET });
      expect(run.code, `${describeBlock(block)} failed:\n${run.stderr}`).toBe(0);
      const printed = run.stdout
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l !== '');
      const expected = expectedOutput(block.code);
      if (expected.length > 0) expect(printed).toEqual(expected);
    },
    30_000,
  );
});

describe('the framework quick starts', () => {
  it.each(SERVERS.map((b) => [describeBlock(b), b] as const))(
    '%s starts and answers its test request',
    async (_name, block) => {
      const file = /^\/\/ (\S+\.ts)\b/.exec(block.code)?.[1];
      expect(file, 'a quick start opens with a comment naming its file, e.g. // server.ts').toBeDefined();
      const shell = BLOCKS.find((b) => b.doc === block.doc && b.lang === 'sh' && b.line > block.line);
      expect(shell, 'a ```sh block after the quick start runs it').toBeDefined();
      const lines = shellLines(shell!.code);

      // Every line is one the test knows how to play: make the key, start the server, send, stop.
      const env: Record<string, string> = {};
      let request: ReturnType<typeof curlRequest> | undefined;
      let expected: string | undefined;
      for (const line of lines) {
        const exported = /^export ([A-Z_]+)=/.exec(line.text)?.[1];
        if (exported) {
          expect(exported).toBe('CHAT_IDENTITY_SECRET');
          const { stdout } = await runShellLine(line.text, await cliBundle(), {}, `printf '%s' "$${exported}"`);
          expect(stdout).toMatch(/^sk_test_[0-9a-f]{64}$/);
          env[exported] = stdout;
        } else if (/^npx tsx /.test(line.text)) {
          expect(line.text).toMatch(new RegExp(`^npx tsx ${file!.replace('.', '\\.')} &`));
        } else if (/^curl /.test(line.text)) {
          const { curl } = await runShellLine(line.text, await cliBundle(), env);
          request = curlRequest(curl!);
          expected = line.expected;
        } else {
          expect(line.text, 'a quick start line the docs test does not know').toMatch(/^kill %1$/);
        }
      }
      expect(env.CHAT_IDENTITY_SECRET, 'the quick start makes a key in CHAT_IDENTITY_SECRET').toBeDefined();
      expect(request, 'the quick start ends with a curl test request').toBeDefined();
      expect(expected, 'a # → line after the curl line gives the answer').toBeDefined();

      const port = await freePort();
      const server = await startServer(await bundle(block), { ...env, PORT: String(port) });
      try {
        const url = new URL(request!.url);
        expect(url.host).toBe('localhost:3000');
        url.host = `127.0.0.1:${port}`;
        const init: RequestInit = { method: request!.method, headers: request!.headers };
        if (request!.body !== undefined) init.body = request!.body;
        const response = await fetch(url, init);
        expect(`${await response.text()}`, server.output()).toBe(expected);
        expect(response.status).toBe(200);
      } finally {
        server.child.kill();
      }
    },
    60_000,
  );
});

describe('what a new user reads first', () => {
  const readme = read('README.md');

  // 12 KB until the Fastify and fetch / Hono quick starts: five complete quick starts (install
  // line, server, a signed test request and its answer, about 1.3 KB each) and a Next.js route
  // handler did not fit in it after the rest was cut to links into docs/. 15 KB is the new ceiling.
  it('the README stays under 15 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(15 * 1024);
  });

  it("makes the app it installs into an ES module, as the quick starts' top-level await needs (tsx runs a .ts of a CommonJS package as CommonJS)", () => {
    const awaitsAtTop = SERVERS.filter((block) => /^await /m.test(block.code));
    expect(awaitsAtTop.length).toBeGreaterThan(0);
    expect(readme).toMatch(/npm init -y && npm pkg set type=module/);
  });

  it('gives the two commands, and package.json makes them work: npm start runs the demo, npm test the tests', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(scripts.start).toBe('node demo/main.js');
    expect(scripts.prestart, 'npm start builds the package the demo imports').toMatch(/build/);
    expect(scripts.test).toMatch(/^vitest run/);
  });

  it('names the secret CHAT_IDENTITY_SECRET everywhere', () => {
    const files = [...DOCS, 'SECURITY.md', ...['adapters', 'src', 'cli', 'demo'].flatMap((folder) => listFiles(folder))];
    const offenders = files.filter((file) => /\bCHAT_SECRET\b|\bCHAT_IDENTITY_KEY\b/.test(read(file)));
    expect(offenders).toEqual([]);
  });

  it('speaks to users, not to the team: no seed numbers or issue numbers', () => {
    const jargon = /\bseeds?\b|\bissue \d+\b/i;
    const found = DOCS.flatMap((doc) =>
      read(doc)
        .split('\n')
        .flatMap((line, i) => (jargon.test(line) ? [`${doc}:${i + 1}: ${line.trim().slice(0, 120)}`] : [])),
    );
    expect(found).toEqual([]);
  });

  it.each(DOCS)('%s: every relative link leads to a file and heading that exist', (doc) => {
    const broken: string[] = [];
    const text = read(doc).replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? doc : join(dirname(doc), path);
      if (!existsSync(join(ROOT, file))) broken.push(`${target} (no ${file})`);
      else if (anchor && file.endsWith('.md') && !headingSlugs(read(file)).has(anchor))
        broken.push(`${target} (no heading #${anchor} in ${file})`);
    }
    expect(broken).toEqual([]);
  });
});

describe('the demo (npm start)', () => {
  it('says how to pick another port when its port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const main = await bundleFromSource(join(ROOT, 'demo/main.js'), join(dir, 'demo-main.mjs'));
      const run = await runNode(main, { PORT: String(port), HOST: '127.0.0.1' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`port ${port} is in use`);
      expect(run.stderr).toMatch(/PORT=\d+ npm start/);
    } finally {
      blocker.close();
    }
  }, 30_000);

  it('names every page of the demo when it starts', async () => {
    const main = await bundleFromSource(join(ROOT, 'demo/main.js'), join(dir, 'demo-main.mjs'));
    const child = spawn(process.execPath, [main], { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1' } });
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => ((out += chunk.toString()), /keys: /.test(out) && resolve(out)));
        child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('exit', (code) => reject(new Error(`the demo exited (${code}) before its banner:\n${out}`)));
      });
      const url = /chat-identity demo: (http:\/\/\S+:\d+)/.exec(banner)?.[1];
      expect(url, banner).toBeDefined();
      const pages = readdirSync(join(ROOT, 'demo/public')).filter((f) => f.endsWith('.html'));
      for (const page of pages) expect(banner).toContain(page === 'index.html' ? `${url}/\n` : `${url}/${page}`);
    } finally {
      child.kill();
    }
  }, 30_000);

  it('every page has an icon that asks nothing of the network', () => {
    for (const page of readdirSync(join(ROOT, 'demo/public')).filter((f) => f.endsWith('.html'))) {
      const html = read(`demo/public/${page}`);
      const icon = /<link\s+rel="icon"[^>]*?\shref="([^"]+)"/.exec(html)?.[1];
      expect(icon, `${page} has <link rel="icon">`).toBeDefined();
      expect(icon!.startsWith('data:image/svg+xml,') || existsSync(join(ROOT, 'demo/public', icon!)), page).toBe(true);
    }
  });
});

function listFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs|html|md)$/.test(entry.name))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(ROOT.length));
}

/** The anchors GitHub gives a page's headings. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const line of markdown.replace(/```[\s\S]*?```/g, '').split('\n')) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line)?.[1];
    if (!heading) continue;
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/<[^>]+>/g, '')
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let unique = slug;
    for (let n = 1; slugs.has(unique); n++) unique = `${slug}-${n}`;
    slugs.add(unique);
  }
  return slugs;
}
