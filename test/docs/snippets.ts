/**
 * The code blocks of README.md and docs/*.md, as test/docs.test.ts checks them. The convention
 * (docs/contributing.md, "Code in the docs"):
 *
 * - every ```ts block is a complete module, type-checked with `tsc --strict`;
 * - `<!-- snippet: run -->` on the line before a ```ts block: it also runs (bundled with esbuild,
 *   the package from source, `CHAT_IDENTITY_SECRET` set to a test key) and must exit 0; a
 *   `console.log(...)` line ending in `// → text` must print exactly `text`;
 * - `<!-- snippet: server -->`: a quick start that starts a server on `PORT`; the next ```sh block
 *   makes the key (`export CHAT_IDENTITY_SECRET=...`), starts it (`npx tsx <file>`) and sends one
 *   request (`curl ...`) whose response the `# → text` line after it gives.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = new URL('../..', import.meta.url).pathname;

export type Mark = 'run' | 'server' | undefined;

export interface Block {
  /** README.md or docs/<name>.md, relative to the root. */
  doc: string;
  /** 1-based position among the doc's blocks of this language. */
  index: number;
  lang: string;
  /** Line of the opening fence, 1-based. */
  line: number;
  code: string;
  mark: Mark;
}

/** README.md and every page of docs/, in a stable order. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

const MARK = /^<!--\s*snippet:\s*(run|server)\s*-->$/;

/** The fenced code blocks of one document. */
export function blocksOf(doc: string): Block[] {
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  const blocks: Block[] = [];
  const counts: Record<string, number> = {};
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const lang = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const mark = (MARK.exec(lines[before]?.trim() ?? '')?.[1] as Mark) ?? undefined;
    counts[lang] = (counts[lang] ?? 0) + 1;
    blocks.push({ doc, index: counts[lang]!, lang, line: start + 1, code: body.join('\n') + '\n', mark });
  }
  return blocks;
}

/** Every marker that is not directly before a ```ts block (a typo would silently skip a check). */
export function strayMarks(doc: string): number[] {
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  const stray: number[] = [];
  lines.forEach((line, i) => {
    if (!/^<!--\s*snippet/.test(line.trim())) return; // a comment of its own line (prose may name the markers)
    let next = i + 1;
    while (next < lines.length && lines[next]!.trim() === '') next++;
    if (!MARK.test(line.trim()) || lines[next]?.trim() !== '```ts') stray.push(i + 1);
  });
  return stray;
}

export const describeBlock = (block: Block) => `${block.doc} ${block.lang} block ${block.index} (line ${block.line})`;

/** The file name a block is written to: `README-3.mts`, `docs-options-2.mts`. */
export const fileNameOf = (block: Block) => `${block.doc.replace(/\.md$/, '').replace(/\//g, '-')}-${block.index}.mts`;

export interface SnippetTypeError {
  block: Block;
  /** Line in the document. */
  line: number;
  message: string;
}

/**
 * Writes one module per block into `dir` (inside the repository, so packages resolve from
 * node_modules) and a tsconfig.json for them: `tsc --strict`, Node's module rules, `chat-identity`
 * and its subpaths mapped to their source. Returns file name -> block.
 */
export function writeSnippets(blocks: Block[], dir: string, sources: Record<string, string>): Map<string, Block> {
  const byFile = new Map<string, Block>();
  for (const block of blocks) {
    byFile.set(fileNameOf(block), block);
    writeFileSync(join(dir, fileNameOf(block)), block.code);
  }
  const tsconfig = {
    compilerOptions: {
      strict: true,
      target: 'ES2022',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      paths: Object.fromEntries(Object.entries(sources).map(([specifier, path]) => [specifier, [path]])),
    },
    files: [...byFile.keys()],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  return byFile;
}

/** Type-checks every snippet of `dir` at once with the project's TypeScript; errors mapped back to the docs. */
export async function typeCheck(dir: string, byFile: Map<string, Block>): Promise<SnippetTypeError[]> {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const output = await promisify(execFile)(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  }).then(
    ({ stdout }) => stdout,
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  const errors: SnippetTypeError[] = [];
  const unmatched: string[] = [];
  for (const text of output.split('\n').filter((l) => /error TS\d+/.test(l))) {
    const match = /^(.*?)\((\d+),(\d+)\): (error TS\d+: .*)$/.exec(text);
    const block = match ? byFile.get(basename(match[1]!)) : undefined;
    if (!match || !block) unmatched.push(text);
    else errors.push({ block, line: block.line + Number(match[2]), message: match[4]! });
  }
  if (unmatched.length > 0) throw new Error(`tsc reported errors outside the snippets:\n${unmatched.join('\n')}`);
  return errors;
}

export const formatTypeError = (e: SnippetTypeError) => `${describeBlock(e.block)}: ${e.block.doc}:${e.line}: ${e.message}`;

/**
 * The `// → text` expectations of a runnable block, in order: at the end of a `console.log(...)`
 * line, or alone on the line after one (for long output).
 */
export function expectedOutput(code: string): string[] {
  return code
    .split('\n')
    .map((line) => /console\.log\(.*\/\/ → (.*)$/.exec(line)?.[1] ?? /^\s*\/\/ → (.*)$/.exec(line)?.[1])
    .filter((text): text is string => text !== undefined)
    .map((text) => text.trimEnd());
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bundled module with node and the given environment; kills it after `timeout` ms. */
export function runNode(file: string, env: Record<string, string>, timeout = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd: ROOT, env: { ...process.env, ...env }, timeout }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** Starts a bundled server and resolves once it printed a line (its "listening" line). */
export function startServer(
  file: string,
  env: Record<string, string>,
  timeout = 15_000,
): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(
      () => (child.kill(), reject(new Error(`${relative(ROOT, file)} did not start within ${timeout} ms:\n${out}`))),
      timeout,
    );
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/listening|http:\/\/localhost:\d+/i.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on(
      'exit',
      (code) => (clearTimeout(timer), reject(new Error(`${relative(ROOT, file)} exited (${code}) before listening:\n${out}`))),
    );
  });
}

/** A shell line of a quick start, its `# → expected` line, if any, after it. */
export interface ShellLine {
  text: string;
  expected?: string;
}

/** The command lines of a ```sh block (comment lines dropped, `# → ...` attached to the line before). */
export function shellLines(code: string): ShellLine[] {
  const lines: ShellLine[] = [];
  for (const raw of code.split('\n')) {
    const arrow = /^#\s*→\s*(.*)$/.exec(raw.trim());
    if (arrow && lines.length > 0) lines[lines.length - 1]!.expected = arrow[1]!.trimEnd();
    else if (raw.trim() !== '' && !raw.trim().startsWith('#')) lines.push({ text: raw.trim() });
  }
  return lines;
}

/**
 * Runs a shell line with bash, `npx chat-identity` being the CLI from source and `curl` recording
 * its arguments instead of sending anything. Resolves to the curl arguments (if curl ran) and
 * whatever the line printed.
 */
export async function runShellLine(
  line: string,
  cli: string,
  env: Record<string, string>,
  after = '',
): Promise<{ curl?: string[]; stdout: string }> {
  const shims = [
    `npx() { if [ "$1" = chat-identity ]; then shift; "${process.execPath}" "${cli}" "$@"; else echo "unexpected: npx $*" >&2; return 127; fi; }`,
    `curl() { printf '%s\\0' "$@" >&3; }`,
  ].join('\n');
  const script = `${shims}\nexec 3>"$CURL_ARGS"\nset -e\n${line}\n${after}`;
  const scratch = mkdtempSync(join(tmpdir(), 'chat-identity-sh-'));
  const argsFile = join(scratch, 'curl-args');
  try {
    const { stdout } = await promisify(execFile)('bash', ['-c', script], {
      cwd: scratch,
      env: { ...process.env, ...env, CURL_ARGS: argsFile },
    });
    const recorded = readFileSync(argsFile, 'utf8');
    return recorded === '' ? { stdout } : { curl: recorded.split('\0').slice(0, -1), stdout };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface CurlRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** The request the curl arguments describe; only the options the quick starts use are known. */
export function curlRequest(args: string[]): CurlRequest {
  const request: CurlRequest = { method: 'GET', url: '', headers: {} };
  let method: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new Error(`curl ${arg} needs a value`);
      return next;
    };
    if (arg === '-s' || arg === '--silent' || arg === '--retry-connrefused' || arg === '--fail-with-body') continue;
    else if (arg === '--retry' || arg === '--retry-delay') value();
    else if (arg === '-X' || arg === '--request') method = value();
    else if (arg === '-H' || arg === '--header') {
      const header = value();
      const colon = header.indexOf(':');
      request.headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (arg === '-d' || arg === '--data' || arg === '--data-raw') request.body = value();
    else if (arg.startsWith('-')) throw new Error(`the docs test does not know curl's ${arg}: use -s, -X, -H, -d`);
    else request.url = /^https?:\/\//.test(arg) ? arg : `http://${arg}`;
  }
  if (request.body !== undefined) request.headers['content-type'] ??= 'application/x-www-form-urlencoded';
  request.method = method ?? (request.body !== undefined ? 'POST' : 'GET');
  return request;
}
