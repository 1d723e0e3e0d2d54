/**
 * The paths a request can take: the core on its own, and every adapter's app (test/support/apps.ts,
 * the one registry of test apps) over a real socket (supertest). Each returns the HTTP status and
 * JSON body; a route that is reached answers `{ identity }`.
 */
import request from 'supertest';
import { createGuard, createRequestCheck, type MiddlewareOptions } from '../../adapters/adapter.js';
import type { VerifyRequest } from '../../src/index.js';
import { ADAPTERS, buildApp, type AdapterName } from '../support/apps.js';
import type { CaseRequest } from './cases.js';

export interface Outcome {
  status: number;
  body: unknown;
  retryAfter?: string;
}

/** Sends the case's requests (the `before` ones first) through one app built with these options. */
export type Path = (options: MiddlewareOptions, guard: boolean, requests: CaseRequest[]) => Promise<Outcome>;

/**
 * What the core answers for a plain request, rendered as every adapter renders it: the rejection's
 * status, body and Retry-After, or 200 with the attached result as JSON.
 */
export async function coreOutcome(check: ReturnType<typeof createRequestCheck>, guard: boolean, plain: VerifyRequest): Promise<Outcome> {
  const { result, rejection } = await check.check(plain, '');
  const refused = rejection ?? (guard ? createGuard().check(result, '') : undefined);
  if (!refused) return { status: 200, body: JSON.parse(JSON.stringify({ identity: result })) };
  const outcome: Outcome = { status: refused.status, body: refused.body };
  if (refused.headers['Retry-After']) outcome.retryAfter = refused.headers['Retry-After'];
  return outcome;
}

/** A case request as the core gets it from an HTTP server: headers lower-cased, the JSON body parsed. */
export function plainRequest(req: CaseRequest, ip = '127.0.0.1'): VerifyRequest {
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const body = req.rawBody ? (req.rawBody.type.includes('json') ? JSON.parse(req.rawBody.text) : undefined) : req.body;
  return { headers, body, query: {}, params: {}, ip };
}

/** The core, called the way every adapter calls it. */
const core: Path = async (options, guard, requests) => {
  const check = createRequestCheck(options);
  let outcome: Outcome | undefined;
  for (const req of requests) outcome = await coreOutcome(check, guard, plainRequest(req));
  return outcome!;
};

function adapterPath(name: AdapterName): Path {
  return async (options, guard, requests) => {
    const { handler } = buildApp(name, options, { guard });
    let outcome: Outcome | undefined;
    for (const req of requests) {
      let call = request(handler).post('/chat');
      for (const [header, value] of Object.entries(req.headers ?? {})) call = call.set(header, value);
      if (req.rawBody) call = call.set('Content-Type', req.rawBody.type).send(req.rawBody.text);
      else if (req.body !== undefined) call = call.send(req.body as object);
      const res = await call;
      outcome = { status: res.status, body: res.body, ...(res.headers['retry-after'] && { retryAfter: res.headers['retry-after'] }) };
    }
    return outcome!;
  };
}

export const PATHS: Record<'core' | AdapterName, Path> = {
  core,
  ...(Object.fromEntries(ADAPTERS.map((name) => [name, adapterPath(name)])) as Record<AdapterName, Path>),
};
