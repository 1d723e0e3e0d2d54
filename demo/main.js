/**
 * `npm start`: the demo on PORT (default 3000) and HOST (default 127.0.0.1, this machine only;
 * HOST=0.0.0.0 to reach it from elsewhere, e.g. a container).
 */
import { startDemo } from './server.js';

const port = process.env.PORT === undefined || process.env.PORT === '' ? 3000 : Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}.`);
  process.exit(2);
}

try {
  const demo = await startDemo({ port, host: process.env.HOST || '127.0.0.1' });
  // First, before the addresses: a live key signs here with no password, so whoever reaches the demo
  // gets proofs that every backend holding that key accepts.
  if (demo.keys.keys.some((key) => !key.test)) {
    console.warn(
      [
        'WARNING: CHAT_IDENTITY_SECRET is a live key. This demo signs its sample users (externalId 1, 2, 3) with it',
        '  for anyone who can open the page, with no password: any backend that trusts this key accepts those proofs',
        '  as live. Use only a key no production backend trusts (or CHAT_IDENTITY_TEST_SECRET alone).',
      ].join('\n'),
    );
  }
  console.log(`chat-identity demo: ${demo.url}`);
  console.log(`  example site and chat widget   ${demo.url}/`);
  console.log(`  signature tester               ${demo.url}/tester.html`);
  console.log(`  rollout: report, then enforce  ${demo.url}/rollout.html`);
  console.log(
    demo.keys.generated
      ? '  keys: a test key generated for this run (set CHAT_IDENTITY_SECRET and/or CHAT_IDENTITY_TEST_SECRET to use yours)'
      : `  keys: ${demo.keys.keys.map((k) => k.id).join(' and ')} from the environment`,
  );
  const stop = () => demo.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  console.error(`chat-identity demo could not start: ${whyNot(error)}`);
  process.exit(1);
}

/** What went wrong, and what to do about it. */
function whyNot(error) {
  const host = process.env.HOST || '127.0.0.1';
  if (error.code === 'EADDRINUSE') {
    return [
      `port ${port} is in use on ${host} (another demo still running, or another server).`,
      `  Start on another port:   PORT=${port === 3000 ? 3001 : port + 1} npm start`,
      '  or on any free one:      PORT=0 npm start   (the address is printed)',
    ].join('\n');
  }
  if (error.code === 'EACCES') return `port ${port} needs privileges on this machine. Pick a port above 1023: PORT=3000 npm start`;
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND')
    return `HOST=${host} is not an address of this machine. Leave HOST unset (127.0.0.1), or HOST=0.0.0.0 to listen on every interface.`;
  return error.message;
}
