/**
 * The mock section of `npm run bench`: how long the program takes to
 * evaluate under Pulumi's mock runtime (config load + program + waiting for
 * every registration to settle) for the `dev` stack and for a large
 * generated config (dev with 50 GPU pools and 200 models), so the cost of
 * growing a stack can be seen. Every measurement runs in its own `node`
 * process (scripts/bench-worker.ts) because the mock runtime's state
 * (config, mocks, the resource monitor) is process-global: a second run in
 * the same process would register into the first run's state and be timed
 * against a warm, already-populated runtime.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, ratio } from "../lib/stats";
import { textTable } from "../lib/textTable";
import type { MockRunOptions } from "../synth/runtime";

/** What a worker receives: the mock run's options without `calls`, which the worker supplies itself. */
export type WorkerInput = Omit<MockRunOptions, "calls">;
/** What a worker prints, as one JSON line. */
export interface WorkerResult {
  resources: number;
  ms: number;
}

export interface MockCase {
  name: "dev" | "large";
  resources: number;
  medianMs: number;
  msPerResource: number;
  /** Every timed run, ms. */
  runsMs: number[];
}

export interface MockReport {
  runs: number;
  cases: MockCase[];
  /** large / dev median. */
  largeOverDev: number;
}

const root = resolve(__dirname, "..");
const worker = join(root, "scripts", "bench-worker.ts");

export function largeConfig(dev: Record<string, string>): Record<string, string> {
  const shapes = [
    { instanceTypes: ["g6.xlarge"] },
    { instanceTypes: ["g5.12xlarge"] },
    { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb" },
    { instanceTypes: ["g6e.xlarge"] },
  ];
  const pools = Object.fromEntries(
    Array.from({ length: 50 }, (_, i) => [`pool-${String(i).padStart(2, "0")}`, { ...shapes[i % shapes.length], scaling: { min: 0, desired: i % 2, max: 4 } }]),
  );
  const models = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`model-${String(i).padStart(3, "0")}`, { queueDepthMax: 10 + (i % 10) * 10 }]));
  // 200 pool nodes at max size (MIG slices among them) need more disk for Prometheus than dev's volume holds.
  const telemetry = { ...JSON.parse(dev["infermesh:telemetry"] ?? "{}"), volumeSizeGiB: 500 };
  return { ...dev, "infermesh:gpuPools": JSON.stringify(pools), "infermesh:models": JSON.stringify(models), "infermesh:telemetry": JSON.stringify(telemetry) };
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

/** Per case: resources of the first run, the median, and ms per resource. */
export function mockCases(results: ReadonlyArray<{ name: MockCase["name"]; runs: readonly WorkerResult[] }>): MockCase[] {
  return results.map(({ name, runs }) => {
    const medianMs = median(runs.map((r) => r.ms));
    const resources = runs[0]?.resources ?? 0;
    return { name, resources, medianMs, msPerResource: ratio(medianMs, resources), runsMs: runs.map((r) => r.ms) };
  });
}

export async function runMockSection(runs: number, progress: (line: string) => void): Promise<MockReport> {
  // Loaded here: the stack-file reader brings the Pulumi SDK, which a usage error must not wait for.
  const { readStackFile } = await import("../synth/stackFile");
  const dev = readStackFile(join(root, "Pulumi.dev.yaml"));
  const cases: { name: MockCase["name"]; input: WorkerInput }[] = [
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
      progress(round === 0 ? "warm-up round done" : `round ${round}/${runs} done`);
    }
    const measured = mockCases(cases.map((c, i) => ({ name: c.name, runs: results[i] ?? [] })));
    const [devCase, largeCase] = measured;
    return { runs, cases: measured, largeOverDev: ratio(largeCase?.medianMs ?? Number.NaN, devCase?.medianMs ?? Number.NaN) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatMockReport(r: MockReport): string {
  return [
    `mock-runtime evaluation, median of ${r.runs} runs (1 warm-up), one process per run`,
    textTable(
      ["case", "resources", "median ms", "ms/resource"],
      r.cases.map((c) => [c.name, String(c.resources), c.medianMs.toFixed(1), c.msPerResource.toFixed(2)]),
    ),
    `large/dev median ratio: ${r.largeOverDev.toFixed(2)}x`,
  ].join("\n");
}
