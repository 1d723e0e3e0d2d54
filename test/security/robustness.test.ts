/**
 * Property-based robustness (fast-check, FC_RUNS runs per property, default 10,000, seed printed
 * on failure): random bodies and headers never make the core throw, and never make an adapter
 * answer 5xx; where an adapter's body parser accepts the body, every adapter answers exactly
 * what the core answers.
 *
 * The adapters are driven in-process (apps.ts), every run through all five of them, so 10,000
 * runs are 50,000 requests: about 0.1 ms each, against 0.3–0.5 ms over a socket. It is the
 * slowest property (10–20 s); FC_ADAPTER_RUNS sets its runs apart from FC_RUNS.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createRequestCheck, type MiddlewareOptions } from '../../adapters/adapter.js';
import { coreOutcome } from '../conformance/paths.js';
import { createVerifier } from '../../src/index.js';
import { ADAPTERS, asNodeParses, buildApps, inject, type BuiltApp } from '../support/apps.js';
import { COMBINED, attackerBody, attackerRequest, propertyOptions, type RawRequest } from './arbitraries.js';
import { ADAPTER_RUNS, RUNS, checkProperty, expectWellFormed, timeoutFor } from './fc.js';

describe('property: random input never throws, never 5xx, and every adapter agrees with the core', () => {
  it(
    'the core: any JS value as body, any headers, required or not',
    async () => {
      const verifiers = [true, false].flatMap((required) =>
        [COMBINED, ['visitor-hash' as const]].map((schemes) =>
          createVerifier(propertyOptions(schemes, { required, diagnostics: !required })),
        ),
      );
      const headers = fc.dictionary(
        fc.constantFrom('authorization', 'x-team', 'content-type', 'content-length', 'transfer-encoding'),
        fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.integer()),
        { maxKeys: 3 },
      );
      const body = fc.oneof(
        attackerBody,
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withNullPrototype: true,
          withObjectString: true,
          withSet: true,
          withSparseArray: true,
          withTypedArray: true,
        }),
      );
      await checkProperty(
        'the core never throws',
        fc.asyncProperty(body, headers, fc.nat({ max: verifiers.length - 1 }), async (b, h, which) => {
          const result = await verifiers[which]!.verify({ body: b, headers: h as never, ip: '192.0.2.1' });
          expectWellFormed(result);
          expect(() => JSON.stringify(result)).not.toThrow();
        }),
      );
    },
    timeoutFor(RUNS, 0.3),
  );

  it(
    'every adapter, in-process, against the core',
    async () => {
      // Three configurations, each built once per adapter: verification required; optional with a
      // guarded route; optional with diagnostics (hints) on.
      const configs: { options: MiddlewareOptions; guard: boolean }[] = [
        { options: propertyOptions(COMBINED, { required: true }), guard: false },
        { options: propertyOptions(COMBINED), guard: true },
        { options: propertyOptions(COMBINED, { diagnostics: true }), guard: false },
        { options: propertyOptions(['visitor-hash'], { required: true }), guard: false },
      ];
      const built = configs.map(({ options, guard }) => ({
        apps: buildApps(options, { guard }),
        core: createRequestCheck(options),
        guard,
      }));
      // What a body parser answers before any middleware runs: malformed (400), too large (413),
      // an unsupported charset or encoding (415).
      const PARSER_STATUSES = new Set([400, 413, 415]);

      await checkProperty(
        'adapters never answer 5xx and agree with the core',
        fc.asyncProperty(attackerRequest, fc.nat({ max: configs.length - 1 }), async (request: RawRequest, which) => {
          const { apps, core, guard } = built[which]!;
          const expected = await parsedOutcome(core, guard, request);
          for (const name of ADAPTERS) {
            const app: BuiltApp = apps[name];
            const answer = await inject(app.handler, { headers: request.headers, body: request.text });
            if (answer.status >= 500) throw new Error(`${name} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
            const serverErrors = app.errors.filter(
              (e) => ((e as { status?: number; statusCode?: number }).status ?? (e as { statusCode?: number }).statusCode ?? 500) >= 500,
            );
            if (serverErrors.length > 0) throw new Error(`${name} reported ${String(serverErrors[0])}`);
            app.errors.length = 0;
            if (PARSER_STATUSES.has(answer.status)) continue;
            // Parsers differ on other content types (Koa also reads +json and forms, Express does not).
            if (request.headers['content-type'] !== 'application/json' || expected === undefined) continue;
            const got = { status: answer.status, body: answer.body };
            if (!isDeepStrictEqual(got, expected))
              throw new Error(`${name} answered ${JSON.stringify(got)} where the core answered ${JSON.stringify(expected)}`);
          }
        }),
        ADAPTER_RUNS,
      );
    },
    timeoutFor(ADAPTER_RUNS, 3),
  );
});

/** What the core answers for a request whose JSON body parsed, as the adapters would render it. */
async function parsedOutcome(
  core: ReturnType<typeof createRequestCheck>,
  guard: boolean,
  request: RawRequest,
): Promise<{ status: number; body: unknown } | undefined> {
  let body: unknown;
  try {
    body = request.text === '' ? undefined : JSON.parse(request.text);
  } catch {
    return undefined;
  }
  const headers = { ...asNodeParses(request.headers), 'content-length': String(Buffer.byteLength(request.text)) };
  const { status, body: answered } = await coreOutcome(core, guard, { headers, body, query: {}, params: {} });
  return { status, body: answered };
}
