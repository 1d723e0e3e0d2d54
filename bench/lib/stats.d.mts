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
/** One core target process (bench/core.mjs, targetProcess). */
export interface TargetProcessRun {
  scheme: string;
  blocks: number;
  floor: string;
  floorNs: number;
  oursNs: number;
  vsFloor: number;
  vsFloorIqr: [number, number];
  afterFailures: { failures: number; floor: string; floorNs: number; oursNs: number; vsFloor: number; vsFloorIqr: [number, number] };
}
interface TargetSummary {
  vsFloor: number;
  vsFloorByProcess: number[];
  vsFloorRange: [number, number];
  floorNs: number;
  oursNs: number;
}
/** One scheme's core target processes as one: the median ratio, each process's and their range. */
export function combineTargetProcesses(
  runs: readonly TargetProcessRun[],
): TargetSummary & { processes: number; blocks: number; afterFailures: TargetSummary & { failures: number } };
