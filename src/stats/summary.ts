/**
 * The summary `onResult` is given: one result, made to be logged as it is. Every value comes from
 * the configuration (tenant as the lookup named it, key id), from a fixed table (codes, schemes,
 * mistake ids) or is a class of the client's address: nothing the client wrote reaches a log line
 * through it, and no proof, signature, hint or contact.
 */
import { clientAddress } from '../clientAddress.js';
import type { IdentityResult, ResultSummary } from '../types.js';
import type { Count } from './counters.js';

/**
 * The summary of `result`, counted as `count`.
 *
 * @example
 * ```ts
 * onResult(summarise(result, count, request.ip), request);
 * ```
 */
export function summarise(result: IdentityResult, count: Count, ip: unknown): ResultSummary {
  const { mode, outcome } = count;
  const summary: ResultSummary = {
    outcome: result.verified ? 'verified' : mode === 'enforce' ? 'rejected' : mode === 'report' ? 'reported' : 'anonymous',
    code: outcome,
    mode,
    address: addressClass(ip),
  };
  if (count.scheme !== undefined) summary.scheme = count.scheme;
  if (typeof count.tenant === 'string') summary.tenant = count.tenant;
  if (count.keyId !== undefined) summary.keyId = count.keyId;
  if (count.test !== undefined) summary.test = count.test;
  if (count.via !== undefined) summary.via = count.via;
  if (!result.verified && result.wouldReject !== undefined) summary.wouldReject = result.wouldReject;
  if (count.mistake !== undefined) summary.mistake = count.mistake;
  if (!result.verified && result.error?.retryAfter !== undefined) summary.retryAfter = result.error.retryAfter;
  return summary;
}

/**
 * What kind of address `ip` is. `private` matters: when every request comes from one, the app sees
 * its proxy's address, not the clients' (Express `trust proxy`, Koa `app.proxy`), and the failure
 * limits count every client as one.
 *
 * @example
 * ```ts
 * addressClass('10.1.2.3'); // 'private'
 * addressClass('::ffff:127.0.0.1'); // 'loopback'
 * ```
 */
export function addressClass(ip: unknown): ResultSummary['address'] {
  if (typeof ip !== 'string' || ip.length > 64) return 'none';
  const address = clientAddress(ip, 128);
  const v4 = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(address);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    if (a === 127) return 'loopback';
    if (
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    )
      return 'private';
    return 'public';
  }
  if (!address.endsWith('/128')) return 'none'; // not an address clientAddress could read
  if (address === '0:0:0:0:0:0:0:1/128') return 'loopback';
  const first = parseInt(address.slice(0, address.indexOf(':')), 16);
  // fc00::/7 unique-local, fe80::/10 link-local.
  if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80) return 'private';
  return 'public';
}
