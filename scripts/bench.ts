/**
 * `npm run bench`: mock-runtime evaluation time, DCGM series per GPU, and
 * fleet-scale dashboard cost on a real Prometheus (bench/), in one run.
 * Prints progress on every phase, writes the typed report (bench/report.ts)
 * as JSON, and exits 1 when a target is missed.
 *
 *   npm run bench [-- --only mock,dcgm,fleet] [--scale default|small|full] [--hours H] [--runs N] [--reps N] [--step S] [--max-samples N] [--part-mb N] [--out <file>]
 */
import { resolve } from "node:path";
import { exitCodes, positiveInteger, runCommand, UsageError, type CommandSpec } from "../cli/command";
import { requirePrerequisites } from "../cli/prerequisites";

const sections = ["mock", "dcgm", "fleet"] as const;
const scales = ["default", "small", "full"] as const;

export const benchCommand = {
  name: "bench",
  synopsis: "[--only mock,dcgm,fleet] [--scale default|small|full] [--hours H] [--runs N] [--reps N] [--step S] [--max-samples N] [--part-mb N] [--out FILE]",
  summary:
    "Measures mock-runtime evaluation time, DCGM series per GPU, and fleet-scale dashboard cost on a real Prometheus; writes the report as JSON and exits 1 when a target is missed.",
  details: [
    "--only <sections>  comma-separated subset of mock, dcgm, fleet (default: all)",
    "--scale <name>     fleet: default (1,024 GPUs, 1 h), small (64 GPUs, 1 h), full (1,024 GPUs, 6 h; ~41 GB written, at most 1.5 GB at once)",
    "--hours H          fleet: window length, overriding the scale's",
    "--runs N           mock runs per case (default 3)",
    "--reps N, --step S, --max-samples N  fleet: full loads per dashboard (default 2), range step seconds (default 30), Prometheus' sample cap",
    "--part-mb N        fleet: OpenMetrics part size in MB (default 500); at most 3 parts are on disk at once",
    "--out FILE         where the JSON report goes (default out/bench/report.json)",
  ],
  options: {
    only: { type: "string", multiple: true },
    runs: { type: "string", default: "3" },
    scale: { type: "string", default: "default" },
    hours: { type: "string" },
    reps: { type: "string", default: "2" },
    step: { type: "string", default: "30" },
    "max-samples": { type: "string" },
    "part-mb": { type: "string", default: "500" },
    out: { type: "string", default: "out/bench/report.json" },
  },
  positionals: [],
} as const satisfies CommandSpec;

void runCommand(benchCommand, async ({ values }) => {
  const only = (values.only ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
  for (const name of only) if (!(sections as readonly string[]).includes(name)) throw new UsageError(`--only takes ${sections.join(", ")}; got ${JSON.stringify(name)}`);
  const scaleName = values.scale as (typeof scales)[number];
  if (!scales.includes(scaleName)) throw new UsageError(`--scale takes ${scales.join(", ")}; got ${JSON.stringify(values.scale)}`);
  const selected = sections.filter((s) => only.length === 0 || only.includes(s));
  const hours = positiveInteger("hours", values.hours);
  const numbers = {
    runs: positiveInteger("runs", values.runs) as number,
    reps: positiveInteger("reps", values.reps) as number,
    step: positiveInteger("step", values.step) as number,
    partBytes: (positiveInteger("part-mb", values["part-mb"]) as number) * 1e6,
  };
  const maxSamples = positiveInteger("max-samples", values["max-samples"]);
  if (selected.includes("fleet")) requirePrerequisites(["prometheus", "promtool"]);
  const { benchScales, runBench } = await import("../bench/run");
  const { writeReport } = await import("../bench/report");
  const { stopOnSignals } = await import("../verify/prometheus");
  stopOnSignals();
  const scale = { ...benchScales[scaleName], ...(hours === undefined ? {} : { hours }) };
  const report = await runBench({ sections: selected, scale, ...numbers, ...(maxSamples === undefined ? {} : { maxSamples }), log: (text) => console.log(text) });
  const file = resolve(values.out ?? "out/bench/report.json");
  writeReport(file, report);
  console.log(`report: ${file}`);
  return report.ok ? exitCodes.ok : exitCodes.failed;
});
