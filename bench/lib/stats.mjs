/** Small statistics for bench samples. */

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const min = (values) => Math.min(...values);
export const max = (values) => Math.max(...values);

/** Rounds to `digits` significant digits, for JSON that stays readable. */
export function round(value, digits = 4) {
  if (!Number.isFinite(value) || value === 0) return value;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(Math.abs(value))));
  return Math.round(value * scale) / scale;
}

/** Formats an integer with thousands separators. */
export const int = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : String(value));

/** Formats a ratio as `0.97×`. */
export const ratio = (value, digits = 2) => (Number.isFinite(value) ? `${value.toFixed(digits)}×` : '—');

/** The q-quantile (0..1) of the finite values, linearly interpolated. */
export function quantile(values, q) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (at - low);
}

/** The interquartile range as [25th, 75th percentile]. */
export const iqr = (values) => [quantile(values, 0.25), quantile(values, 0.75)];

/** A small deterministic PRNG (mulberry32), so that a bootstrap gives the same interval for the same samples. */
export function prng(seed = 0x5eed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A percentile bootstrap over rounds: `statistic(indices)` is computed on `resamples` sets of round
 * indices drawn with replacement (all series resampled with the same rounds, so pairs stay pairs);
 * returns the [2.5th, 97.5th] percentiles.
 */
export function bootstrap(rounds, statistic, resamples = 2000, seed = 0x5eed) {
  const random = prng(seed);
  const values = [];
  const indices = new Array(rounds);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < rounds; i++) indices[i] = Math.floor(random() * rounds);
    values.push(statistic(indices));
  }
  return [quantile(values, 0.025), quantile(values, 0.975)];
}

/** The median of `values` at `indices` (a bootstrap resample). */
export const medianAt = (values, indices) => median(indices.map((i) => values[i]));

/**
 * One framework's runs in several processes, as one: each figure the median over the processes,
 * and for the ratios (to the floor, to the other build) and the savings, every process's own value
 * and their range. Why: the same build, measured in separate processes minutes apart, gave ratios
 * up to 0.5 apart; a process's bootstrap interval sees only the noise between its own rounds (JIT
 * decisions and memory layout are fixed for a process's life). So the verdict is the median of
 * several processes' ratios, and their range is the spread to trust it by (bench/PROFILE.md).
 */
export function combineProcesses(runs) {
  if (runs.length === 1) return runs[0];
  const medianOf = (values) => round(median(values), 4);
  const rows = {};
  for (const [config, first] of Object.entries(runs[0].rows)) {
    const row = {};
    for (const [key, value] of Object.entries(first)) {
      const each = runs.map((run) => run.rows[config][key]);
      row[key] = Array.isArray(value) ? value.map((_, i) => medianOf(each.map((pair) => pair[i]))) : medianOf(each);
      if (key === 'vsFloorAdded' || key === 'vsThisBuildAdded' || key === 'savedUs') {
        row[`${key}ByProcess`] = each;
        row[`${key}Range`] = [Math.min(...each), Math.max(...each)];
      }
    }
    rows[config] = row;
  }
  return {
    settings: {
      ...runs[0].settings,
      processes: runs.length,
      seconds: round(
        runs.reduce((t, run) => t + run.settings.seconds, 0),
        4,
      ),
    },
    rows,
    estimators: {
      pairedCiWidthUs: medianOf(runs.map((run) => run.estimators.pairedCiWidthUs)),
      diffOfMediansCiWidthUs: medianOf(runs.map((run) => run.estimators.diffOfMediansCiWidthUs)),
    },
    loadAverage: runs.map((run) => run.loadAverage),
  };
}

/**
 * One scheme's core target processes (bench/core.mjs, `targetProcess`), as one: the median of their
 * ratios to the floor, every process's own and their range, for the valid proofs measured with the
 * limits holding nothing and again with them holding failures. The same reasoning as
 * `combineProcesses`: the verdict is the median process's ratio, the range the spread to trust it by.
 */
export function combineTargetProcesses(runs) {
  const summary = (pick) => {
    const each = runs.map(pick);
    const ratios = each.map((run) => run.vsFloor);
    return {
      vsFloor: round(median(ratios), 4),
      vsFloorByProcess: ratios,
      vsFloorRange: [Math.min(...ratios), Math.max(...ratios)],
      floorNs: round(median(each.map((run) => run.floorNs)), 4),
      oursNs: round(median(each.map((run) => run.oursNs)), 4),
    };
  };
  return {
    processes: runs.length,
    blocks: runs[0].blocks,
    ...summary((run) => run),
    afterFailures: { failures: runs[0].afterFailures.failures, ...summary((run) => run.afterFailures) },
  };
}
