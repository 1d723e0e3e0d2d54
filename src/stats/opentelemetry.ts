/**
 * `chat-identity/opentelemetry`: the counters as an OpenTelemetry observable counter, through
 * @opentelemetry/api (an optional peer; the app installs the SDK and its exporter). Observed from the
 * count's totals when the SDK collects, so a verifier costs the same with or without it.
 *
 * @example
 * ```ts
 * import { openTelemetryMetrics } from 'chat-identity/opentelemetry';
 * const binding = openTelemetryMetrics(stats); // chat_identity.requests, on the global MeterProvider
 * process.on('SIGTERM', () => binding.stop());
 * ```
 */
import { metrics, type Attributes, type Meter, type ObservableCounter, type ObservableResult } from '@opentelemetry/api';
import type { StatsSeries, StatsSnapshot } from 'chat-identity';

/**
 * What can be read: a verifier (`verifier.stats()`), or a count `identityStats()` made.
 *
 * @example
 * ```ts
 * const source: StatsSource = verifier;
 * ```
 */
export interface StatsSource {
  stats(): StatsSnapshot;
}

/**
 * Which meter, and the instrument's name.
 *
 * @example
 * ```ts
 * const options: OpenTelemetryOptions = { meter: provider.getMeter('support-chat'), name: 'support.identity.requests' };
 * ```
 */
export interface OpenTelemetryOptions {
  /** Default: `metrics.getMeter('chat-identity')`, from the global MeterProvider. */
  meter?: Meter;
  /** Default `chat_identity.requests`. */
  name?: string;
}

/**
 * The instrument, and `stop()`, which stops observing (the callback is removed).
 *
 * @example
 * ```ts
 * const binding: OpenTelemetryBinding = openTelemetryMetrics(verifier);
 * binding.stop();
 * ```
 */
export interface OpenTelemetryBinding {
  counter: ObservableCounter;
  stop(): void;
}

/**
 * Creates `chat_identity.requests`, an observable counter (cumulative, unit `{request}`) of every
 * result, with the attributes `chat_identity.tenant`, `.scheme`, `.outcome` (`VERIFIED` or the code),
 * `.key_id`, `.key` (`live` / `test`), `.via` (`proof` / `session`), `.mode` (`enforce`, `report`,
 * `off`) and `.mistake`, each only where it applies. Values are the count's, so bounded the same way;
 * note the SDK's own limit of 2000 attribute sets per instrument unless its view says otherwise.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * openTelemetryMetrics(verifier, { meter: metrics.getMeter('support-chat') });
 * ```
 */
export function openTelemetryMetrics(source: StatsSource, options: OpenTelemetryOptions = {}): OpenTelemetryBinding {
  if (source === null || typeof source !== 'object' || typeof source.stats !== 'function') {
    throw new TypeError('chat-identity: openTelemetryMetrics(source) takes a verifier or a count made by identityStats().');
  }
  const meter = options.meter ?? metrics.getMeter('chat-identity');
  const counter = meter.createObservableCounter(options.name ?? 'chat_identity.requests', {
    description:
      'Identity checks by tenant, scheme, outcome (VERIFIED or the code enforcing answers), key, via, mode and diagnosed mistake.',
    unit: '{request}',
  });
  const observe = (result: ObservableResult) => {
    for (const series of source.stats().series) result.observe(series.total, attributesOf(series));
  };
  counter.addCallback(observe);
  return { counter, stop: () => counter.removeCallback(observe) };
}

function attributesOf(s: StatsSeries): Attributes {
  const attributes: Attributes = { 'chat_identity.outcome': s.outcome, 'chat_identity.mode': s.mode };
  if (s.tenant !== null) attributes['chat_identity.tenant'] = s.tenant;
  if (s.scheme !== null) attributes['chat_identity.scheme'] = s.scheme;
  if (s.keyId !== null) attributes['chat_identity.key_id'] = s.keyId;
  if (s.key !== null) attributes['chat_identity.key'] = s.key;
  if (s.via !== null) attributes['chat_identity.via'] = s.via;
  if (s.mistake !== null) attributes['chat_identity.mistake'] = s.mistake;
  return attributes;
}
