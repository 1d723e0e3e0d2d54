/**
 * The load generator: autocannon in its own process, forked once by bench/http.mjs and told
 * what to run over IPC. Every request is POST /chat with the JSON body and headers of
 * bench/lib/fixtures.mjs, made in setupRequest so that each one can differ:
 *
 *   good     a pool of distinct signed users, cycled (all three schemes' proofs in each request)
 *   bad      a distinct attacker per request: new user id, new X-Forwarded-For, bad signatures
 *   bad-one  one attacker: the same user id, address and bad signatures every time
 *
 * The bare app and every middleware get the same streams, so a ratio compares like with like.
 */
import autocannon from 'autocannon';
import { badProof, goodPool } from '../lib/fixtures.mjs';

const GOOD_POOL = 4096;
let attacker = 1; // distinct attackers across runs, so no limiter ever sees one twice

function toWire(proof) {
  return {
    body: JSON.stringify(proof.body),
    headers: { 'content-type': 'application/json', authorization: proof.authorization, 'x-forwarded-for': proof.ip },
  };
}

function streamOf(kind) {
  const now = Math.floor(Date.now() / 1000); // fresh for this run: well within the 300 s window
  if (kind === 'good') {
    const pool = goodPool(GOOD_POOL, now).map(toWire);
    let i = 0;
    return () => pool[i++ % GOOD_POOL];
  }
  if (kind === 'bad') return () => toWire(badProof(attacker++, now));
  if (kind === 'bad-one') {
    const one = toWire(badProof(0, now));
    return () => one;
  }
  throw new Error(`unknown stream ${kind}`);
}

async function run({ url, connections, duration, stream }) {
  const next = streamOf(stream);
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url,
    connections,
    duration,
    pipelining: 1,
    requests: [
      {
        method: 'POST',
        path: '/chat',
        setupRequest: (request) => {
          const { body, headers } = next();
          return { ...request, body, headers };
        },
      },
    ],
  });
  const used = process.cpuUsage(cpu);
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  return {
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    clientCpuMs: (used.user + used.system) / 1000,
  };
}

process.on('message', async (message) => {
  try {
    process.send({ id: message.id, result: await run(message) });
  } catch (error) {
    process.send({ id: message.id, error: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
