/**
 * The bench's verdicts (issue 16: a method that survives a noisy machine): several processes'
 * in-process runs combined by their medians, a target judged on the median process's ratio and
 * called noisy when the processes disagree; the core target judged on its own processes the same
 * way, else on the paired ratio.
 */
import { describe, expect, it } from 'vitest';
import { combineProcesses, combineTargetProcesses, type InProcessRun, type TargetProcessRun } from '../bench/lib/stats.mjs';
import { evaluateTargets } from '../bench/report.mjs';

/** One process's run of a framework where this package's user-hash adds `ours` µs and the floor `floor`. */
function run(ours: number, floor: number, seconds = 10): InProcessRun {
  return {
    settings: { framework: 'koa', rounds: 160, batch: 50, seconds },
    rows: {
      bare: { usPerRequest: 100, usPerRequestIqr: [98, 102] },
      'floor-user-hash': { usPerRequest: 100 + floor, addedUs: floor, addedCi95: [floor - 1, floor + 1], addedBytes: 900 },
      'user-hash': {
        usPerRequest: 100 + ours,
        addedUs: ours,
        addedCi95: [ours - 1, ours + 1],
        addedBytes: 2000,
        vsFloorAdded: ours / floor,
        vsFloorAddedCi95: [ours / floor - 0.05, ours / floor + 0.05],
      },
    },
    estimators: { pairedCiWidthUs: 2, diffOfMediansCiWidthUs: 3 },
    loadAverage: [1, 1, 1],
  };
}

const adapterTarget = (runs: InProcessRun[]) =>
  evaluateTargets({ inprocess: { frameworks: { koa: combineProcesses(runs) } } }).find((t) => t.id === 'adapter-koa-user-hash')!;

describe('bench verdicts', () => {
  it('combines processes by their medians, keeping each ratio by process and its range', () => {
    const combined = combineProcesses([run(30, 20), run(36, 20), run(28, 20, 12), run(40, 20), run(31, 20)]);
    const row = combined.rows['user-hash']!;
    expect(row.addedUs).toBe(31);
    expect(row.vsFloorAdded).toBe(1.55);
    expect(row.vsFloorAddedByProcess).toEqual([1.5, 1.8, 1.4, 2, 1.55]);
    expect(row.vsFloorAddedRange).toEqual([1.4, 2]);
    expect(row.addedCi95).toEqual([30, 32]);
    expect(combined.settings.processes).toBe(5);
    expect(combined.settings.seconds).toBe(52);
  });

  it('judges an adapter target on the median process, and calls it noisy when the processes disagree', () => {
    const split = adapterTarget([run(28, 20), run(29, 20), run(31, 20), run(32, 20), run(33, 20)]);
    expect(split).toMatchObject({ value: 1.55, met: false, noisy: true });
    expect(split.figure).toContain('median of 5 processes; 1.40×–1.65× across them, on both sides of the target');
    const agreed = adapterTarget([run(26, 20), run(27, 20), run(28, 20), run(28, 20), run(29, 20)]);
    expect(agreed).toMatchObject({ value: 1.4, met: true, noisy: false });
  });

  it('judges a single process on its own bootstrap interval, as before', () => {
    const single = adapterTarget([run(32, 20)]);
    expect(single).toMatchObject({ value: 1.6, met: false, noisy: false });
    expect(single.figure).toContain('95% interval 1.55×–1.65×');
    expect(adapterTarget([run(31, 20)])).toMatchObject({ value: 1.55, met: false, noisy: true });
  });

  it('judges the core target on the paired ratio where it was measured, not the rounds', () => {
    const core = (ours: Record<string, unknown>) =>
      evaluateTargets({
        core: { settings: { statsBlocks: 200 }, schemes: { 'user-hash': { floorOpsPerSec: 100_000, candidates: { ours } } } },
      }).find((t) => t.id === 'core-user-hash')!;
    const paired = core({ nsPerOp: 15_000, vsFloor: 2.39, vsFloorPaired: 1.45, vsFloorPairedIqr: [1.4, 1.5] });
    expect(paired).toMatchObject({ value: 1.45, met: true });
    expect(paired.figure).toContain('1.45× the floor in 200 paired blocks (quartiles 1.40×–1.50×); in the rounds 2.39×');
    expect(core({ nsPerOp: 15_000, vsFloor: 1.6 })).toMatchObject({ value: 1.6, met: false });
  });

  /** One core target process of user-hash: `ratio` with the limits quiet, `after` with them holding failures. */
  const targetRun = (ratio: number, after = ratio + 0.2): TargetProcessRun => ({
    scheme: 'user-hash',
    blocks: 200,
    floor: 'floor',
    floorNs: 5000,
    oursNs: 5000 * ratio,
    vsFloor: ratio,
    vsFloorIqr: [ratio - 0.05, ratio + 0.05],
    afterFailures: {
      failures: 256,
      floor: 'floor',
      floorNs: 5000,
      oursNs: 5000 * after,
      vsFloor: after,
      vsFloorIqr: [after - 0.05, after + 0.05],
    },
  });
  const coreTarget = (runs: TargetProcessRun[]) =>
    evaluateTargets({
      core: {
        settings: { statsBlocks: 200 },
        schemes: { 'user-hash': { floorOpsPerSec: 100_000, candidates: { ours: { nsPerOp: 15_000, vsFloor: 2.1, vsFloorPaired: 1.7 } } } },
        target: { 'user-hash': combineTargetProcesses(runs) },
      },
    }).find((t) => t.id === 'core-user-hash')!;

  it("judges the core target on its own processes where they ran: the median process, noisy when they disagree, the rounds' figure beside", () => {
    const combined = combineTargetProcesses([targetRun(1.46), targetRun(1.52), targetRun(1.44), targetRun(1.49), targetRun(1.47, 1.9)]);
    expect(combined).toMatchObject({
      processes: 5,
      vsFloor: 1.47,
      vsFloorRange: [1.44, 1.52],
      afterFailures: { vsFloor: 1.69, failures: 256 },
    });
    const split = coreTarget([targetRun(1.46), targetRun(1.52), targetRun(1.44), targetRun(1.49), targetRun(1.47)]);
    expect(split).toMatchObject({ value: 1.47, met: true, noisy: true });
    expect(split.figure).toContain(
      '1.47× the floor (median of 5 processes of its own; 1.44×–1.52× across them, on both sides of the target',
    );
    expect(split.figure).toContain("with its limits holding 256 failures 1.67× (1.64×–1.72×); in the rounds' process 1.70× paired");
    const agreed = coreTarget([targetRun(1.56), targetRun(1.58), targetRun(1.6)]);
    expect(agreed).toMatchObject({ value: 1.58, met: false, noisy: false });
  });
});
