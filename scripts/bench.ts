/**
 * `npm run bench`: three reports, run in order in one invocation. They are
 * reports, not tests: there are no thresholds that fail the run.
 *
 * mock:  how long the program takes to evaluate under Pulumi's mock runtime
 *        (config load + program + waiting for every registration to settle)
 *        for the `dev` stack and for a large generated config (dev with 50
 *        GPU pools and 200 models), so the cost of growing a stack can be seen.
 *        Every measurement runs in its own `node` process
 *        (scripts/bench-worker.ts) because the mock runtime's state (config,
 *        mocks, the resource monitor) is process-global: a second run in the
 *        same process would register into the first run's state and be timed
 *        against a warm, already-populated runtime.
 * dcgm:  DCGM series per GPU with the stack's counters vs dcgm-exporter's
 *        defaults, and the share of collected fields something reads
 *        (scripts/bench-dcgm.ts).
 * fleet: dashboard load cost at fleet scale on a real Prometheus, seed's raw
 *        queries vs the stack's (scripts/bench-fleet.ts); needs `prometheus`
 *        and `promtool` on PATH.
 *
 *   npm run bench [-- --only mock,dcgm,fleet] [--runs <n>] [--scale full|small] [--reps <n>] [--step <s>] [--max-samples <n>]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { exitCodes, positiveInteger, runCommand, UsageError, type CommandSpec } from "../cli/command";
import { requirePrerequisites } from "../cli/prerequisites";
import type { MockRunOptions } from "../synth/runtime";

/** What a worker receives: the mock run's options without `calls`, which the worker supplies itself. */
export type WorkerInput = Omit<MockRunOptions, "calls">;
/** What a worker prints, as one JSON line. */
export interface WorkerResult {
  resources: number;
  ms: number;
}

const root = resolve(__dirname, "..");
const worker = join(root, "scripts", "bench-worker.ts");

function largeConfig(dev: Record<string, string>): Record<string, string> {
  const shapes = [
    { instanceTypes: ["g6.xlarge"] },
    { instanceTypes: ["g5.12xlarge"] },
    { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb" },
    { instanceTypes: ["g6e.xlarge"] },
  ];
  const pools = Object.fromEntries(
    Array.from({ length: 50 }, (_, i) => [
      `pool-${String(i).padStart(2, "0")}`,
      { ...shapes[i % shapes.length], scaling: { min: 0, desired: i % 2, max: 4 } },
    ]),
  );
  const models = Object.fromEntries(
    Array.from({ length: 200 }, (_, i) => [`model-${String(i).padStart(3, "0")}`, { queueDepthMax: 10 + (i % 10) * 10 }]),
  );
  return { ...dev, "infermesh:gpuPools": JSON.stringify(pools), "infermesh:models": JSON.stringify(models) };
}

function measure(inputFile: string): WorkerResult {
  const child = spawnSync(process.execPath, ["--import", "tsx", worker, inputFile], { cwd: root, encoding: "utf8" });
  const line = child.stdout.trim().split("\n").at(-1);
  if (child.status !== 0 || !line) {
    process.stderr.write(child.stderr);
    throw new Error(`worker failed (${child.signal ?? `exit ${child.status}`}) for ${inputFile}`);
  }
  return JSON.parse(line) as WorkerResult;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function runMockSection(runs: number): Promise<void> {
  // Loaded here: the stack-file reader brings the Pulumi SDK, which a usage error must not wait for.
  const { readStackFile } = await import("../synth/stackFile");
  const dev = readStackFile(join(root, "Pulumi.dev.yaml"));
  const cases: { name: string; input: WorkerInput }[] = [
    { name: "dev", input: { project: "infermesh", stack: "dev", ...dev } },
    { name: "large", input: { project: "infermesh", stack: "dev", config: largeConfig(dev.config), secretKeys: dev.secretKeys } },
  ];
  const dir = mkdtempSync(join(tmpdir(), "infermesh-bench-"));
  try {
    const files = cases.map((c) => {
      const file = join(dir, `${c.name}.json`);
      writeFileSync(file, JSON.stringify(c.input));
      return file;
    });
    const results: WorkerResult[][] = cases.map(() => []);
    // The first round only warms the OS file cache and tsx's transform cache.
    // Alternating cases spreads any drift in machine load over both.
    for (let round = 0; round <= runs; round++) {
      files.forEach((file, i) => {
        const result = measure(file);
        if (round > 0) results[i]?.push(result);
      });
    }

    const rows = cases.map((c, i) => {
      const r = results[i] ?? [];
      const ms = median(r.map((x) => x.ms));
      const resources = r[0]?.resources ?? 0;
      return { name: c.name, resources, ms, perResource: ms / resources };
    });
    console.log(`mock-runtime evaluation, median of ${runs} runs (1 warm-up), one process per run`);
    console.log(`${"case".padEnd(8)}${"resources".padStart(10)}${"median ms".padStart(12)}${"ms/resource".padStart(13)}`);
    for (const row of rows) {
      console.log(
        `${row.name.padEnd(8)}${String(row.resources).padStart(10)}${row.ms.toFixed(1).padStart(12)}${row.perResource.toFixed(2).padStart(13)}`,
      );
    }
    const [devRow, largeRow] = rows;
    if (devRow && largeRow) console.log(`large/dev median ratio: ${(largeRow.ms / devRow.ms).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sections = ["mock", "dcgm", "fleet"] as const;
type Section = (typeof sections)[number];

export const benchCommand = {
  name: "bench",
  synopsis: "[--only mock,dcgm,fleet] [--runs N] [--scale full|small] [--reps N] [--step S] [--max-samples N]",
  summary: "Reports mock-runtime evaluation time, DCGM series per GPU, and fleet-scale dashboard cost on a real Prometheus (no thresholds: a report, not a test).",
  details: [
    "--only <sections>  comma-separated subset of mock, dcgm, fleet (default: all)",
    "--runs N           mock runs per case (default 5)",
    "--scale full|small fleet size for the fleet section (default full)",
    "--reps N, --step S, --max-samples N  fleet section query repetitions, step seconds, sample cap",
  ],
  options: {
    only: { type: "string", multiple: true },
    runs: { type: "string", default: "5" },
    scale: { type: "string", default: "full" },
    reps: { type: "string", default: "3" },
    step: { type: "string", default: "30" },
    "max-samples": { type: "string" },
  },
  positionals: [],
} as const satisfies CommandSpec;

void runCommand(benchCommand, async ({ values }) => {
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  for (const name of only) if (!(sections as readonly string[]).includes(name)) throw new UsageError(`--only takes ${sections.join(", ")}; got ${JSON.stringify(name)}`);
  const selected = sections.filter((s) => only.length === 0 || only.includes(s));
  const runs = positiveInteger("runs", values.runs) as number;
  const reps = positiveInteger("reps", values.reps) as number;
  const step = positiveInteger("step", values.step) as number;
  const maxSamples = positiveInteger("max-samples", values["max-samples"]);
  if (values.scale !== "full" && values.scale !== "small") throw new UsageError(`--scale takes full or small, got ${JSON.stringify(values.scale)}`);
  const scaleName = values.scale;
  if (selected.includes("fleet")) requirePrerequisites(["prometheus", "promtool"]);
  const { runDcgmSection } = await import("./bench-dcgm");
  const { fleetScales, runFleetSection } = await import("./bench-fleet");

  const run: Record<Section, () => Promise<void> | void> = {
    mock: () => runMockSection(runs),
    dcgm: () => void runDcgmSection(),
    fleet: () => runFleetSection({ scale: fleetScales[scaleName], reps, step, ...(maxSamples === undefined ? {} : { maxSamples }) }),
  };
  for (const [i, name] of selected.entries()) {
    if (i > 0) console.log("");
    console.log(`== ${name} ==`);
    await run[name]();
  }
  return exitCodes.ok;
});
