/**
 * One bench server: one configuration of bench/lib/apps.mjs, served over a socket. Forked by
 * bench/http.mjs; answers on 127.0.0.1 at an ephemeral port it sends to the parent, and reports
 * its CPU time and memory when asked ('stats').
 *
 *   node bench/http/server.mjs <framework> <config>
 *
 * CHAT_IDENTITY_BENCH_OPTIONS (JSON) is merged into this package's options, e.g. '{"rateLimit":false}'.
 */
import { createServer } from 'node:http';
import { buildHandler } from '../lib/apps.mjs';

const [framework, config] = process.argv.slice(2);
const handler = await buildHandler(framework, config, JSON.parse(process.env.CHAT_IDENTITY_BENCH_OPTIONS || '{}'));
const server = createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

process.on('message', (message) => {
  if (message === 'stats') {
    const memory = process.memoryUsage();
    process.send({ cpu: process.cpuUsage(), rss: memory.rss, heapUsed: memory.heapUsed, maxRss: process.resourceUsage().maxRSS * 1024 });
  }
});
process.on('disconnect', () => process.exit(0));
