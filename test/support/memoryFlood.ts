/**
 * Floods verifiers with 20,000 distinct tenants, and others with 20,000 distinct client addresses
 * (a long X-Forwarded-For under `trust proxy`), each once with short strings and once with 16 kB
 * ones, and prints the heap growth per request of each run: what a 16 kB value costs beyond a
 * short one. Bundled with esbuild by test/security/review.test.ts and run with `node --expose-gc`.
 */
import { createVerifier, signUserHash, type VerifyRequest } from '../../src/index.js';

const KEY = 'sk_live_memory_flood_0123456789abcdef';
const WARM_UP = 2_000;
const FLOOD = 20_000;
const wrongHash = signUserHash('a wrong guess', KEY);
/** A wrong guess for a new user each time, so every request adds a failure to both limits. */
const body = (i: number) => ({ user_id: `user-${i}`, user_hash: wrongHash });
const padded = (length: number) => (i: number) => `${i}:${'x'.repeat(length)}`;
const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** Bytes of heap each request left behind, after a warm-up. */
async function growthPerRequest(makeRequest: (i: number) => VerifyRequest, verifier: ReturnType<typeof createVerifier>): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  for (let i = 0; i < WARM_UP; i++) await verifier.verify(makeRequest(i));
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = WARM_UP; i < WARM_UP + FLOOD; i++) await verifier.verify(makeRequest(i));
  gc();
  return (process.memoryUsage().heapUsed - before) / FLOOD;
}

const quiet = { warn() {}, error() {} };
const byTenant = () =>
  createVerifier({ scheme: 'user-hash', keys: () => [KEY], tenant: (r) => r.headers?.['x-team'] as string, logger: quiet });
const byAddress = () => createVerifier({ scheme: 'user-hash', keys: [KEY], logger: quiet });

async function main(): Promise<void> {
  const result: Record<string, Record<string, number>> = { tenants: {}, addresses: {} };
  for (const [label, text] of [
    ['short', padded(8)],
    ['16 kB', padded(16_000)],
  ] as const) {
    result.tenants![label] = await growthPerRequest((i) => ({ headers: { 'x-team': text(i) }, body: body(i), ip: address(i) }), byTenant());
    result.addresses![label] = await growthPerRequest((i) => ({ body: body(i), ip: text(i) }), byAddress());
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((error: unknown) => {
  process.stderr.write(String(error));
  process.exit(1);
});
