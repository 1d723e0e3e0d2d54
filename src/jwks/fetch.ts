/**
 * The fetch jose fetches a JWKS with (its `customFetch`): the only network code in src/, kept to
 * one function (test/security/attacks.test.ts checks that nothing else in src/ reaches the network).
 *
 * - Redirects are never followed (jose asks `redirect: 'manual'`, and a 3xx is not the 200 jose
 *   requires): a set cannot be moved to another host, or to plain http.
 * - The body is read up to `maxBytes`, then the fetch is abandoned: a declared Content-Length over
 *   it is refused unread, and a body (decompressed, as undici hands it over) that grows past it is
 *   cut off. jose's timeout signal covers the body as well as the headers.
 * - `Cache-Control` and `Age` are handed to the caller, which decides how long the set is kept.
 */

/** What the cache schedule reads of a response. */
export interface FetchedResponse {
  readonly status: number;
  readonly cacheControl: string | null;
  readonly age: string | null;
}

/** A refusal of this fetch, worded for the log. */
export class JwksFetchError extends Error {
  override readonly name = 'JwksFetchError';
}

/**
 * Fetches `url` as jose asks, reading at most `maxBytes` of the body. `seen` gets the status and
 * cache headers. Resolves with a Response jose can read, or rejects.
 */
export async function limitedFetch(
  url: string,
  init: RequestInit,
  maxBytes: number,
  seen: (response: FetchedResponse) => void,
): Promise<Response> {
  const response = await fetch(url, { ...init, redirect: 'manual' });
  seen({ status: response.status, cacheControl: response.headers.get('cache-control'), age: response.headers.get('age') });
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw new JwksFetchError(
      `HTTP ${response.status}${response.status >= 300 && response.status < 400 ? ' (a redirect, never followed)' : ''}`,
    );
  }
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new JwksFetchError(`the response is ${declared} bytes, over maxBytes (${maxBytes})`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new JwksFetchError(`the response is over maxBytes (${maxBytes} bytes)`);
    }
    chunks.push(value);
  }
  return new Response(Buffer.concat(chunks), { status: 200, headers: { 'content-type': 'application/json' } });
}

/** A failed fetch in a few words, for the log and the hint: never the body, never a stack. */
export function describeFailure(error: unknown, settings: { timeout: number }): string {
  if (error instanceof JwksFetchError) return error.message;
  const name = error instanceof Error ? error.name : typeof error;
  if (name === 'JWKSTimeout' || name === 'TimeoutError' || name === 'AbortError')
    return `no answer within timeout (${settings.timeout} ms)`;
  if (name === 'JWKSInvalid') return 'the response is not a JSON Web Key Set';
  if (name === 'JOSEError' && error instanceof Error && /JSON/.test(error.message)) return 'the response is not JSON';
  if (error instanceof Error && /the set is malformed/.test(error.message)) return error.message;
  const cause =
    error instanceof Error && error.cause instanceof Error ? `: ${(error.cause as NodeJS.ErrnoException).code ?? error.cause.name}` : '';
  return `${name}${cause}`;
}
