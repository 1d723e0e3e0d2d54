/**
 * The paths a request can take: the core on its own, and every adapter's app (test/support/apps.ts,
 * the one registry of test apps) over a real socket (supertest). Each returns the HTTP status and
 * JSON body; a route that is reached answers `{ identity }` (the logout route `{ ended }`).
 *
 * Sessions: each path keeps the credentials its responses issued, in order, and sends one back as it
 * came (the header, or the cookie) when a request asks for it; a request may be sent later on the
 * case's clock (`at`), and may first end a tenant's sessions through another verifier on the case's
 * session store. The requests reach the app as `POST http://chat.example/<path>` (a DPoP proof is
 * checked against that URL).
 */
import request from 'supertest';
import { createGuard, createRequestCheck, endSessionFor, type MiddlewareOptions } from '../../adapters/adapter.js';
import { createVerifier, type VerifyRequest } from '../../src/index.js';
import { ADAPTERS, buildApp, type AdapterName } from '../support/apps.js';
import type { CaseRequest } from './cases.js';

export interface Outcome {
  status: number;
  body: unknown;
  retryAfter?: string;
  /** A session credential issued (or renewed) by the response, or its end. */
  session?: 'issued' | 'ended';
  /** The WWW-Authenticate header. */
  challenge?: string;
}

/** Sends the case's requests (the `before` ones first) through one app built with these options. */
export type Path = (options: MiddlewareOptions, guard: boolean, requests: CaseRequest[]) => Promise<Outcome>;

/** The host every request of the table is sent to. */
export const HOST = 'chat.example';
const SESSION_HEADER = 'chat-identity-session';

/**
 * What the core answers for a plain request, rendered as every adapter renders it: the rejection's
 * status, body, Retry-After and session headers, or 200 with the attached result as JSON (and the
 * headers the response carries); on `/logout`, the session ended and `{ ended }`.
 */
export async function coreOutcome(
  check: ReturnType<typeof createRequestCheck>,
  guard: boolean,
  plain: VerifyRequest,
  path = '/chat',
): Promise<Outcome & { headers: Record<string, string> }> {
  const { result, rejection, headers } = await check.check(plain, '');
  const refused = rejection ?? (guard ? createGuard().check(result, '') : undefined);
  if (refused) {
    const outcome: Outcome & { headers: Record<string, string> } = { status: refused.status, body: refused.body, headers: refused.headers };
    if (refused.headers['Retry-After']) outcome.retryAfter = refused.headers['Retry-After'];
    return describeHeaders(outcome, refused.headers);
  }
  if (path === '/logout') {
    const ended = await endSessionFor(result, '');
    const all = { ...headers, ...ended.headers };
    return describeHeaders({ status: 200, body: { ended: ended.ended }, headers: all }, all);
  }
  return describeHeaders({ status: 200, body: JSON.parse(JSON.stringify({ identity: result })), headers: { ...headers } }, headers);
}

/** Adds what the headers say of a session, and the challenge, to an outcome. */
function describeHeaders<O extends Outcome>(outcome: O, headers: Readonly<Record<string, unknown>>): O {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const said = sessionSaid(lower);
  if (said) outcome.session = said.kind;
  if (typeof lower['www-authenticate'] === 'string') outcome.challenge = lower['www-authenticate'];
  return outcome;
}

/** A credential a response issued, and how it travelled: the header, or a cookie of this name. */
interface Issued {
  credential: string;
  cookie?: string;
}

/** What lower-cased response headers say of a session: a credential issued (and how it came), or its end. */
function sessionSaid(headers: Readonly<Record<string, unknown>>): { kind: 'issued'; issued: Issued } | { kind: 'ended' } | undefined {
  const header = headers[SESSION_HEADER];
  if (header === 'ended') return { kind: 'ended' };
  if (typeof header === 'string' && header.startsWith('v1.')) return { kind: 'issued', issued: { credential: header } };
  const cookies = headers['set-cookie'];
  for (const cookie of (Array.isArray(cookies) ? cookies : cookies === undefined ? [] : [cookies]) as string[]) {
    const [pair] = cookie.split(';');
    const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
    if (!name.includes('session')) continue;
    return value === '' ? { kind: 'ended' } : { kind: 'issued', issued: { credential: value, cookie: name } };
  }
  return undefined;
}

/**
 * A case request as the core gets it from an HTTP server: headers lower-cased (with the credential
 * and its headers), the JSON body parsed, the method and URL.
 */
export function plainRequest(req: CaseRequest, ip = '127.0.0.1', sent?: SentSession): VerifyRequest {
  const headers = Object.fromEntries(Object.entries({ ...req.headers, ...sent?.headers }).map(([k, v]) => [k.toLowerCase(), v]));
  const body = req.rawBody ? (req.rawBody.type.includes('json') ? JSON.parse(req.rawBody.text) : undefined) : req.body;
  return {
    headers: { host: HOST, ...headers },
    body,
    query: {},
    params: {},
    ip,
    method: 'POST',
    url: `http://${HOST}${req.path ?? '/chat'}`,
  };
}

/** The session credential a request sends (picked from those issued so far), as headers. */
interface SentSession {
  headers: Record<string, string>;
}

function sessionToSend(req: CaseRequest, issued: readonly Issued[]): SentSession | undefined {
  if (req.session === undefined) return undefined;
  const credentials = issued.map((i) => i.credential);
  if (credentials.length === 0) throw new Error('the case sends a session before any was issued');
  const credential = req.session === true ? credentials.at(-1)! : req.session(credentials);
  // As it came: the cookie of the credential it was made from, else the header.
  const cookie = issued.find((i) => i.cookie !== undefined)?.cookie;
  const headers: Record<string, string> = cookie ? { cookie: `${cookie}=${credential}` } : { [SESSION_HEADER]: credential };
  return { headers: { ...headers, ...req.sessionHeaders?.(credential) } };
}

/**
 * The case's options with a clock the path moves (`at`), and what runs before each request:
 * the clock set, and the tenant's sessions ended when the request says so.
 */
function steppedOptions(options: MiddlewareOptions) {
  const base = options.now ?? Date.now;
  let offset = 0;
  const stepped: MiddlewareOptions = { ...options, now: () => base() + offset };
  return {
    options: stepped,
    async before(req: CaseRequest) {
      offset = (req.at ?? 0) * 1000;
      if (req.endSessions === undefined) return;
      // Another instance on the same session store: what an admin endpoint elsewhere would do.
      const { rejectWith: _, ...verifierOptions } = stepped;
      await createVerifier(verifierOptions).endSessions(req.endSessions === true ? undefined : req.endSessions);
    },
  };
}

/** The core, called the way every adapter calls it. */
const core: Path = async (options, guard, requests) => {
  const stepped = steppedOptions(options);
  const check = createRequestCheck(stepped.options);
  const issued: Issued[] = [];
  let outcome: Outcome | undefined;
  for (const req of requests) {
    await stepped.before(req);
    const { headers, ...answer } = await coreOutcome(check, guard, plainRequest(req, '127.0.0.1', sessionToSend(req, issued)), req.path);
    const said = sessionSaid(Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])));
    if (said?.kind === 'issued') issued.push(said.issued);
    outcome = answer;
  }
  return outcome!;
};

function adapterPath(name: AdapterName): Path {
  return async (options, guard, requests) => {
    const stepped = steppedOptions(options);
    const { handler } = buildApp(name, stepped.options, { guard });
    const issued: Issued[] = [];
    let outcome: Outcome | undefined;
    for (const req of requests) {
      await stepped.before(req);
      let call = request(handler)
        .post(req.path ?? '/chat')
        .set('Host', HOST);
      for (const [header, value] of Object.entries({ ...req.headers, ...sessionToSend(req, issued)?.headers }))
        call = call.set(header, value);
      if (req.rawBody) call = call.set('Content-Type', req.rawBody.type).send(req.rawBody.text);
      else if (req.body !== undefined) call = call.send(req.body as object);
      const res = await call;
      const said = sessionSaid(res.headers);
      if (said?.kind === 'issued') issued.push(said.issued);
      outcome = describeHeaders(
        { status: res.status, body: res.body, ...(res.headers['retry-after'] && { retryAfter: res.headers['retry-after'] }) },
        res.headers,
      );
    }
    return outcome!;
  };
}

export const PATHS: Record<'core' | AdapterName, Path> = {
  core,
  ...(Object.fromEntries(ADAPTERS.map((name) => [name, adapterPath(name)])) as Record<AdapterName, Path>),
};
