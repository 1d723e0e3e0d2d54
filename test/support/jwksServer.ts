/**
 * A site's JWKS endpoint for the tests: a real node:http server on 127.0.0.1, on a free port,
 * whose answer a test sets and changes at will: rotate the keys, add Cache-Control, answer late or
 * trickle the body (real time: where a timeout is the point), fail with a status or a dropped
 * connection, serve garbage, serve a huge body with or without Content-Length, redirect.
 *
 * @example
 * ```ts
 * const site = await startJwksServer();
 * site.serve(jwksOf(pair), { headers: { 'cache-control': 'max-age=300' } });
 * createVerifier({ scheme: 'jwt', keys: [{ jwks: { url: site.url } }], now });
 * site.fetches; // how many times the set was fetched
 * await site.close();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Answer {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Milliseconds before the status line is sent. */
  delay?: number;
  /** Send the body in this many pieces, `trickle` milliseconds apart. */
  pieces?: number;
  trickle?: number;
  /** Drop the connection instead of answering. */
  hangUp?: boolean;
  /** Send no Content-Length (chunked). Default: sent. */
  chunked?: boolean;
}

export interface JwksServer {
  /** The JWKS URL: http://127.0.0.1:<port>/.well-known/jwks.json. */
  readonly url: string;
  /** http://127.0.0.1:<port>: other paths on the same server answer what `route` sets. */
  readonly origin: string;
  /** Requests for the JWKS so far. */
  readonly fetches: number;
  /** Every path requested, in order. */
  readonly paths: readonly string[];
  /** The request headers of the last JWKS request. */
  readonly lastHeaders: IncomingMessage['headers'] | undefined;
  /** What the JWKS URL answers from now on: a document (sent as JSON) or raw text / bytes. */
  serve(body: unknown, answer?: Answer): void;
  /** What another path answers. */
  route(path: string, body: unknown, answer?: Answer): void;
  close(): Promise<void>;
}

const JWKS_PATH = '/.well-known/jwks.json';

export async function startJwksServer(options: { unref?: boolean } = {}): Promise<JwksServer> {
  const routes = new Map<string, { body: Buffer; answer: Answer }>();
  const paths: string[] = [];
  let fetches = 0;
  let lastHeaders: IncomingMessage['headers'] | undefined;
  const encode = (body: unknown) =>
    Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');

  async function respond(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0]!;
    paths.push(path);
    if (path === JWKS_PATH) {
      fetches += 1;
      lastHeaders = req.headers;
    }
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const { body, answer } = route;
    if (answer.delay) await sleep(answer.delay);
    if (answer.hangUp) {
      req.socket.destroy();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', ...answer.headers };
    if (!answer.chunked) headers['content-length'] = String(body.length);
    res.writeHead(answer.status ?? 200, headers);
    const pieces = Math.max(1, answer.pieces ?? 1);
    const size = Math.ceil(body.length / pieces);
    for (let i = 0; i < pieces && !res.destroyed; i++) {
      if (i > 0 && answer.trickle) await sleep(answer.trickle);
      // A client that gave up closes the socket: writing on is harmless, and stops here.
      if (!res.write(body.subarray(i * size, (i + 1) * size)))
        await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
    }
    res.end();
  }

  const server = createServer((req, res) => {
    respond(req, res).catch(() => res.destroy());
  });
  // Keep-alive sockets would hold close() open.
  server.keepAliveTimeout = 1;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  if (options.unref) server.unref();
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: `${origin}${JWKS_PATH}`,
    origin,
    get fetches() {
      return fetches;
    },
    paths,
    get lastHeaders() {
      return lastHeaders;
    },
    serve: (body, answer = {}) => void routes.set(JWKS_PATH, { body: encode(body), answer }),
    route: (path, body, answer = {}) => void routes.set(path, { body: encode(body), answer }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let shared: Promise<JwksServer> | undefined;

/**
 * One server per test process, started on first use and never holding the process open: for the
 * conformance rows, whose keys lookups point at it (the port is known only once it listens).
 */
export function sharedJwksServer(): Promise<JwksServer> {
  return (shared ??= startJwksServer({ unref: true }));
}
