/**
 * What a verifier with sessions keeps per credential it remembers (docs/sessions.md, "Costs"): it
 * issues `count` sessions to distinct users (each issued credential is remembered with its MAC, in
 * two generations of 5,000), and the heap kept after a full GC, over the heap before, is divided by
 * the credentials remembered. `count` at most 5,000 keeps them all in the newer generation.
 *
 *   node --expose-gc bench/session-memory.mjs [--count 5000] [--scheme user-hash|signed-payload]
 *
 * Run `npm run bench` (or `npm run bench -- --only memory`) once first: it builds the package this imports.
 */
import { parseArgs } from 'node:util';
import { goodProof, SECRET } from './lib/fixtures.mjs';
import { importPackage } from './lib/package.mjs';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '5000' }, scheme: { type: 'string', default: 'user-hash' } },
});
const count = Number(values.count);
const scheme = values.scheme;
const gc = globalThis.gc;
if (!gc) throw new Error('run with node --expose-gc');
const { createVerifier, responseHeadersOf } = await importPackage();

const verifier = createVerifier({
  scheme,
  keys: [SECRET],
  session: { keys: ['bench-session-key-0123456789abcdefghijklmnop'] },
});
const now = Math.floor(Date.now() / 1000);
const bodyOf = (i) => {
  const { body } = goodProof(i, now);
  return scheme === 'user-hash'
    ? { user_id: body.user_id, user_hash: body.user_hash }
    : { customer: body.customer, signature: body.signature };
};
// The proofs are made first, so that only what the verifier keeps is measured.
const bodies = Array.from({ length: count + 1 }, (_, i) => bodyOf(i));
const issue = async (i) => {
  const result = await verifier.verify({ body: bodies[i] });
  const credential = responseHeadersOf(result)['Chat-Identity-Session'];
  if (!result.verified || !credential) throw new Error(`proof ${i} was not verified with a session issued`);
  return credential.length;
};

await issue(count); // the verifier's own first-use state, outside the measurement
gc();
const before = process.memoryUsage().heapUsed;
let characters = 0;
for (let i = 0; i < count; i++) characters += await issue(i);
gc(); // the proofs stay alive: they were made before the first reading
const kept = process.memoryUsage().heapUsed - before;
console.log(
  JSON.stringify({
    scheme,
    credentials: count,
    credentialCharacters: Math.round(characters / count),
    heapKeptBytes: kept,
    bytesPerCredential: Math.round(kept / count),
  }),
);
