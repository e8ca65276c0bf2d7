/**
 * `npm run bench` as a function: runs the chosen sections in order, prints
 * progress and each section's text as it finishes, and returns the typed
 * report with the targets checked.
 */
import { fleetScales, type FleetScale } from "./fleet/model";
import { evaluateTargets, formatFleetShape, formatFleetReport, formatTargets, machine, type BenchReport, type BenchSection } from "./report";

/**
 * Named fleet sizes. The default is 1,024 GPUs (the scale the speed-up
 * target is defined for) over one hour: the same series as six hours, so
 * the same index and per-series costs, at a sixth of the samples, which keeps
 * the whole bench within five minutes on two cores.
 */
export const benchScales = {
  default: { ...fleetScales.full, name: "default", hours: 1 },
  small: fleetScales.small,
  full: fleetScales.full,
} as const satisfies Record<string, FleetScale>;
export type BenchScaleName = keyof typeof benchScales;

export interface BenchOptions {
  sections: readonly BenchSection[];
  runs: number;
  scale: FleetScale;
  reps: number;
  step: number;
  maxSamples?: number;
  partBytes: number;
  /** Progress and section text, one line or block at a time. */
  log: (text: string) => void;
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const started = performance.now();
  const report: BenchReport = { schemaVersion: 1, startedAt: new Date().toISOString(), machine: machine(), sections: [...opts.sections], targets: [], ok: true, ms: 0 };
  for (const [i, name] of opts.sections.entries()) {
    if (i > 0) opts.log("");
    opts.log(`== ${name} ==`);
    const sectionStarted = performance.now();
    if (name === "mock") {
      const { formatMockReport, runMockSection } = await import("./mock");
      opts.log(`evaluating the program under the mock runtime: dev and a large config, ${opts.runs} runs each after a warm-up, one process per run`);
      report.mock = await runMockSection(opts.runs, (line) => opts.log(`  ${line}`));
      opts.log(formatMockReport(report.mock));
    } else if (name === "dcgm") {
      const { dcgmReport, formatDcgmReport } = await import("./dcgm");
      report.dcgm = dcgmReport();
      opts.log(formatDcgmReport(report.dcgm));
    } else {
      const { measureFleet } = await import("./fleet/measure");
      const { fleetReport } = await import("./report");
      const measured = await measureFleet({
        scale: opts.scale,
        reps: opts.reps,
        step: opts.step,
        partBytes: opts.partBytes,
        ...(opts.maxSamples === undefined ? {} : { maxSamples: opts.maxSamples }),
        progress: (line) => opts.log(`  ${line}`),
        onFleet: (shape) => opts.log(formatFleetShape(shape)),
      });
      report.fleet = fleetReport(measured, { reps: opts.reps, step: opts.step, maxSamples: opts.maxSamples ?? null, partBytes: opts.partBytes });
      opts.log("");
      opts.log(formatFleetReport(report.fleet));
    }
    opts.log(`(${name} took ${((performance.now() - sectionStarted) / 1000).toFixed(1)} s)`);
  }
  report.targets = evaluateTargets(report);
  report.ok = report.targets.every((t) => t.status !== "missed");
  report.ms = performance.now() - started;
  opts.log("");
  opts.log("== targets ==");
  opts.log(formatTargets(report.targets));
  return report;
}
