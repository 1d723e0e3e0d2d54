/**
 * `chat-identity/prometheus`: the counters as a Prometheus counter, through prom-client (an optional
 * peer). Nothing is counted twice: at each scrape the counter is set from the count's totals
 * (prom-client's `collect`), so a verifier costs the same with or without it.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * import { prometheusMetrics } from 'chat-identity/prometheus';
 * prometheusMetrics(stats); // chat_identity_requests_total{tenant,scheme,outcome,key_id,key,via,mode,mistake}
 * app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()));
 * ```
 */
import { Counter, register as globalRegistry, type Registry } from 'prom-client';
import type { StatsSeries, StatsSnapshot } from 'chat-identity';

/**
 * The label names of the counter, in order: each series' labels, `null` as the empty string. For
 * dashboards and recording rules that group by them.
 *
 * @example
 * ```ts
 * const groupBy = PROMETHEUS_LABELS.filter((label) => label !== 'key_id' && label !== 'mistake').join(', ');
 * const query = `sum by (${groupBy}) (rate(chat_identity_requests_total[5m]))`;
 * ```
 */
export const PROMETHEUS_LABELS = ['tenant', 'scheme', 'outcome', 'key_id', 'key', 'via', 'mode', 'mistake'] as const;

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
 * Where and under which name the counter is registered.
 *
 * @example
 * ```ts
 * const options: PrometheusOptions = { registry: new Registry(), name: 'support_chat_identity_requests_total' };
 * ```
 */
export interface PrometheusOptions {
  /** Default: prom-client's global registry (`register`). */
  registry?: Registry;
  /** Default `chat_identity_requests_total`. */
  name?: string;
}

/**
 * Registers `chat_identity_requests_total`, a counter of every result by tenant, scheme, outcome
 * (`VERIFIED` or the code), key id, key (`live` / `test`), via (`proof` / `session`), mode (`enforce`,
 * `report`, `off`) and diagnosed mistake, read from `source` at each scrape. Returns the counter
 * (`registry.removeSingleMetric(name)` unregisters it). Label values are the count's, so bounded the
 * same way (`identityStats` options). Registering the same name twice in one registry throws, as
 * prom-client does.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * prometheusMetrics(verifier, { registry });
 * const text = await registry.metrics();
 * // chat_identity_requests_total{tenant="acme",scheme="user-hash",outcome="VERIFIED",...} 1234
 * ```
 */
export function prometheusMetrics(source: StatsSource, options: PrometheusOptions = {}): Counter<(typeof PROMETHEUS_LABELS)[number]> {
  if (source === null || typeof source !== 'object' || typeof source.stats !== 'function') {
    throw new TypeError('chat-identity: prometheusMetrics(source) takes a verifier or a count made by identityStats().');
  }
  const { registry = globalRegistry, name = 'chat_identity_requests_total' } = options;
  return new Counter({
    name,
    help: 'Identity checks by tenant, scheme, outcome (VERIFIED or the code enforcing answers), key, via, mode and diagnosed mistake.',
    labelNames: PROMETHEUS_LABELS,
    registers: [registry],
    collect() {
      // Set, not added: the count is the source of truth, and a scrape never counts twice.
      this.reset();
      for (const series of source.stats().series) this.inc(labelsOf(series), series.total);
    },
  });
}

function labelsOf(s: StatsSeries): Record<(typeof PROMETHEUS_LABELS)[number], string> {
  return {
    tenant: s.tenant ?? '',
    scheme: s.scheme ?? '',
    outcome: s.outcome,
    key_id: s.keyId ?? '',
    key: s.key ?? '',
    via: s.via ?? '',
    mode: s.mode,
    mistake: s.mistake ?? '',
  };
}
