/** One framework's in-process run (bench/inprocess.mjs): its settings and, per configuration, its figures. */
export interface InProcessRun {
  settings: Record<string, unknown> & { seconds: number };
  rows: Record<string, Record<string, number | number[]>>;
  estimators: { pairedCiWidthUs: number; diffOfMediansCiWidthUs: number };
  loadAverage: unknown;
}
export function median(values: readonly number[]): number;
/** Several processes' runs of one framework as one: medians, and the ratios' values by process and range. */
export function combineProcesses(runs: readonly InProcessRun[]): InProcessRun;
