/** One target's verdict on a run. */
export interface Target {
  id: string;
  what: string;
  value: number;
  limit: number;
  met: boolean;
  noisy?: boolean;
  figure: string;
}
/** Every target of issues 6 and 16, evaluated on one run's results (bench/results.json's shape). */
export function evaluateTargets(results: Record<string, unknown>): Target[];
