/**
 * The report `npm run bench` returns and writes as JSON
 * (out/bench/report.json): every section's figures, the targets it checks
 * with their outcome, and the machine it ran on. The text it prints is
 * formatted from the same object.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname } from "node:path";
import { median, ratio, sum } from "../lib/stats";
import { textTable } from "../lib/textTable";
import type { DcgmReport } from "./dcgm";
import type { FleetMeasurement, VariantRuns } from "./fleet/measure";
import type { FleetShape } from "./fleet/model";
import type { MockReport } from "./mock";

export const benchSections = ["mock", "dcgm", "fleet"] as const;
export type BenchSection = (typeof benchSections)[number];

/**
 * How many times fewer samples one full load of each seed dashboard must read
 * with the stack's queries than with the raw ones, at fleet scale. GPU Health
 * has no ratio: it must read at the floor, about one sample per point it draws.
 */
export const samplesTargets = { overview: 10_000, modelDrilldown: 300, routerBehavior: 50 } as const;
/** The four seed dashboards together: samples, and Prometheus wall and CPU time, raw ÷ stack. */
export const seedDashboards = ["overview", "modelDrilldown", "gpuHealth", "routerBehavior"] as const;
export const allFourTargets = { samples: 250, wall: 20, cpu: 20 } as const;
/**
 * GPU Health reads at most this many samples per point it returns: the floor
 * is one, and the ECC and XID tables read each device-level counter once per
 * MIG instance that repeats it.
 */
export const floorTolerance = 1.25;
/** The fleet size the targets are defined for; smaller fleets report them without checking them. */
export const targetMinGpus = 1024;

export interface VariantSummary {
  /** Median wall time of a full load (every panel at once), ms. */
  loadMs: number;
  /** Median of Prometheus' own execution time summed over the queries, ms. */
  execMs: number;
  /** Median CPU time Prometheus spent on a full load, ms. */
  cpuMs: number;
  /** Points returned, summed over the queries (from the run alone): the floor of samples to read. */
  points: number;
  /** totalQueryableSamples summed over the queries (from the run alone). */
  samples: number;
  /** The largest peakSamples of one query. */
  peakSamples: number;
  /** Samples processed were the same in every repetition. */
  stable: boolean;
}

export interface DashboardComparison {
  dashboard: string;
  raw: VariantSummary;
  stack: VariantSummary;
  /** raw / stack load time; NaN (null in JSON) when not measured. */
  speedUp: number;
  samplesRatio: number;
  cpuRatio: number;
  /** Stack samples read per point returned: 1 is the floor. */
  floorRatio: number;
}

export interface PanelCost {
  ms: number;
  execMs: number;
  samples: number;
  series: number;
  points: number;
  bytes: number;
}

export interface PanelComparison {
  dashboard: string;
  title: string;
  key?: string;
  rawSource: string;
  type: "instant" | "range";
  raw: PanelCost;
  stack: PanelCost;
  speedUp: number;
}

export interface FleetReport {
  fleet: FleetShape;
  settings: { reps: number; step: number; maxSamples: number | null; partBytes: number };
  disk: FleetMeasurement["disk"];
  phases: FleetMeasurement["phases"];
  dashboards: DashboardComparison[];
  total: { rawMs: number; stackMs: number; speedUp: number; rawSamples: number; stackSamples: number };
  /** The four seed dashboards together, raw ÷ stack. */
  seedFour: { samplesRatio: number; wallRatio: number; cpuRatio: number };
  rules: FleetMeasurement["rules"];
  /** Each dashboard with one model or one node picked: every query alone, summed. */
  picked: { variable: string; value: string; dashboard: string; rawSamples: number; stackSamples: number; samplesRatio: number; rawMs: number; stackMs: number }[];
  panels: PanelComparison[];
  /** Queries that returned no series: `<dashboard> <variant> "<panel>": <expr>`. */
  emptyResults: string[];
  failures: FleetMeasurement["failures"];
  tsdb: FleetMeasurement["tsdb"] & { rawSeriesPerGpu: number; dcgmSeriesPerGpu: number };
  unreadRecorded: FleetMeasurement["unreadRecorded"];
  ms: number;
}

export type TargetStatus = "met" | "missed" | "not checked";

export interface TargetResult {
  section: BenchSection;
  target: string;
  status: TargetStatus;
  /** What was measured against it. */
  detail: string;
}

export interface BenchReport {
  /** Bumped when a field changes meaning or goes. */
  schemaVersion: 1;
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  sections: BenchSection[];
  mock?: MockReport;
  dcgm?: DcgmReport;
  fleet?: FleetReport;
  targets: TargetResult[];
  /** True when no target was missed. */
  ok: boolean;
  ms: number;
}

export function machine(): BenchReport["machine"] {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

// ---------------------------------------------------------------------------
// Fleet: from raw runs to comparisons

export function variantSummary(runs: VariantRuns | undefined): VariantSummary {
  const alone = runs?.alone ?? [];
  const loads = runs?.loads ?? [];
  const samples = sum(alone.map((q) => q.samples));
  return {
    loadMs: median(loads.map((r) => r.ms)),
    execMs: median(loads.map((r) => sum(r.perQuery.map((q) => q.execMs)))),
    cpuMs: median(loads.map((r) => r.cpuMs)),
    points: alone.length === 0 ? Number.NaN : sum(alone.map((q) => q.points)),
    samples: alone.length === 0 ? Number.NaN : samples,
    peakSamples: alone.length === 0 ? Number.NaN : Math.max(...alone.map((q) => q.peak)),
    stable: loads.every((r) => sum(r.perQuery.map((q) => q.samples)) === samples),
  };
}

export function fleetReport(m: FleetMeasurement, settings: FleetReport["settings"]): FleetReport {
  const dashboards = [...new Set(m.plans.map((p) => p.dashboard))];
  const comparisons = dashboards.map((d): DashboardComparison => {
    const raw = variantSummary(m.runs[`${d}/raw`]);
    const stack = variantSummary(m.runs[`${d}/stack`]);
    return {
      dashboard: d,
      raw,
      stack,
      speedUp: ratio(raw.loadMs, stack.loadMs),
      samplesRatio: ratio(raw.samples, stack.samples),
      cpuRatio: ratio(raw.cpuMs, stack.cpuMs),
      floorRatio: ratio(stack.samples, stack.points),
    };
  });
  const panels: PanelComparison[] = [];
  const emptyResults: string[] = [];
  for (const d of dashboards) {
    const offsets = { raw: 0, stack: 0 };
    for (const p of m.plans.filter((x) => x.dashboard === d)) {
      const cost = (v: "raw" | "stack"): PanelCost => {
        const mine = (m.runs[`${d}/${v}`]?.alone ?? []).slice(offsets[v], offsets[v] + p[v].length);
        offsets[v] += p[v].length;
        mine.forEach((q, i) => q.series === 0 && emptyResults.push(`${d} ${v} "${p.title}": ${p[v][i]?.expr ?? "?"}`));
        return {
          ms: sum(mine.map((q) => q.ms)),
          execMs: sum(mine.map((q) => q.execMs)),
          samples: sum(mine.map((q) => q.samples)),
          series: sum(mine.map((q) => q.series)),
          points: sum(mine.map((q) => q.points)),
          bytes: sum(mine.map((q) => q.bytes)),
        };
      };
      const raw = cost("raw");
      const stack = cost("stack");
      panels.push({
        dashboard: d,
        title: p.title,
        ...(p.key === undefined ? {} : { key: p.key }),
        rawSource: p.rawSource,
        type: p.stack[0]?.instant ? "instant" : "range",
        raw,
        stack,
        speedUp: ratio(raw.ms, stack.ms),
      });
    }
  }
  const rawMs = sum(comparisons.map((c) => c.raw.loadMs));
  const stackMs = sum(comparisons.map((c) => c.stack.loadMs));
  const rawTsdb = m.tsdb.series - m.tsdb.recordedSeries;
  const four = comparisons.filter((c) => (seedDashboards as readonly string[]).includes(c.dashboard));
  const total4 = (v: "raw" | "stack", k: "samples" | "loadMs" | "cpuMs") => sum(four.map((c) => c[v][k]));
  return {
    fleet: m.fleet,
    settings,
    disk: m.disk,
    phases: m.phases,
    dashboards: comparisons,
    total: { rawMs, stackMs, speedUp: ratio(rawMs, stackMs), rawSamples: sum(comparisons.map((c) => c.raw.samples)), stackSamples: sum(comparisons.map((c) => c.stack.samples)) },
    seedFour: {
      samplesRatio: ratio(total4("raw", "samples"), total4("stack", "samples")),
      wallRatio: ratio(total4("raw", "loadMs"), total4("stack", "loadMs")),
      cpuRatio: ratio(total4("raw", "cpuMs"), total4("stack", "cpuMs")),
    },
    rules: m.rules,
    picked: m.picked.map((p) => {
      const rawSamples = sum(p.raw.map((q) => q.samples));
      const stackSamples = sum(p.stack.map((q) => q.samples));
      return {
        variable: p.variable,
        value: p.value,
        dashboard: p.dashboard,
        rawSamples,
        stackSamples,
        samplesRatio: ratio(rawSamples, stackSamples),
        rawMs: sum(p.raw.map((q) => q.ms)),
        stackMs: sum(p.stack.map((q) => q.ms)),
      };
    }),
    panels,
    emptyResults,
    failures: m.failures,
    tsdb: { ...m.tsdb, rawSeriesPerGpu: rawTsdb / m.fleet.gpus, dcgmSeriesPerGpu: m.tsdb.dcgmSeries / m.fleet.gpus },
    unreadRecorded: m.unreadRecorded,
    ms: m.ms,
  };
}

// ---------------------------------------------------------------------------
// Targets

const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x >= 100 ? 0 : 1)}x` : "n/a");

/** Every target the bench checks, against the sections that ran. */
export function evaluateTargets(r: Pick<BenchReport, "dcgm" | "fleet">): TargetResult[] {
  const out: TargetResult[] = [];
  if (r.dcgm) {
    const d = r.dcgm;
    out.push({
      section: "dcgm",
      target: "every DCGM field the stack collects is read by a panel, alert or recording rule",
      status: d.unread.length === 0 ? "met" : "missed",
      detail: `${d.stackFields.length - d.unread.length}/${d.stackFields.length} read${d.unread.length > 0 ? `; unread: ${d.unread.join(", ")}` : ""}`,
    });
    out.push({
      section: "dcgm",
      target: "every DCGM field a query reads is collected",
      status: d.readButNotCollected.length === 0 ? "met" : "missed",
      detail: d.readButNotCollected.length === 0 ? "none read but not collected" : `read but not collected: ${d.readButNotCollected.join(", ")}`,
    });
  }
  if (r.fleet) {
    const f = r.fleet;
    out.push({
      section: "fleet",
      // An empty result compares nothing: its cost says nothing about the panel.
      target: "every query of every dashboard (raw and stack) runs without error and returns series",
      status: f.failures.length === 0 && f.emptyResults.length === 0 ? "met" : "missed",
      detail:
        f.failures.length > 0
          ? `failed: ${f.failures.map((x) => x.id).join(", ")}`
          : f.emptyResults.length > 0
            ? `${f.emptyResults.length} returned no series (listed above)`
            : `${f.dashboards.length} dashboards x 2 variants`,
    });
    out.push(...fleetTargets(f));
  }
  return out;
}

/**
 * The fleet's query-cost targets (issue: a full load of every seed dashboard
 * at the sample floor), each met only when measured at the targets' fleet
 * size; an unmeasured figure (NaN) never meets one.
 */
export function fleetTargets(f: Pick<FleetReport, "fleet" | "dashboards" | "seedFour">): TargetResult[] {
  const scale = `at ${targetMinGpus.toLocaleString("en-US")} GPUs or more`;
  const check = (ok: boolean, detail: string): Pick<TargetResult, "status" | "detail"> =>
    f.fleet.gpus < targetMinGpus
      ? { status: "not checked", detail: `${f.fleet.gpus} GPUs (smaller than the targets' fleet): ${detail}` }
      : { status: ok ? "met" : "missed", detail };
  const of = (d: string) => f.dashboards.find((x) => x.dashboard === d);
  const out: TargetResult[] = Object.entries(samplesTargets).map(([d, min]) => {
    const ratioOf = of(d)?.samplesRatio ?? Number.NaN;
    return {
      section: "fleet",
      target: `${d}: a full load reads >= ${min.toLocaleString("en-US")}x fewer samples than the raw queries, ${scale}`,
      ...check(ratioOf >= min, `${times(ratioOf)}`),
    };
  });
  const gpu = of("gpuHealth");
  const floor = gpu?.floorRatio ?? Number.NaN;
  out.push({
    section: "fleet",
    target: `gpuHealth: a full load reads at the floor, at most ${floorTolerance} samples per point it returns, ${scale}`,
    ...check(
      floor <= floorTolerance,
      `${Number.isFinite(floor) ? floor.toFixed(3) : "n/a"} samples per point (${fmt(gpu?.stack.samples ?? Number.NaN)} read, ${fmt(gpu?.stack.points ?? Number.NaN)} returned)`,
    ),
  });
  const s = f.seedFour;
  for (const [key, label, value] of [
    ["samples", "fewer samples", s.samplesRatio],
    ["wall", "less Prometheus wall time", s.wallRatio],
    ["cpu", "less Prometheus CPU time", s.cpuRatio],
  ] as const) {
    out.push({
      section: "fleet",
      target: `all four seed dashboards: one full load each takes >= ${allFourTargets[key]}x ${label} than the raw queries, ${scale}`,
      ...check(value >= allFourTargets[key], times(value)),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Text

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

export function formatFleetShape(f: FleetShape): string {
  return (
    `fleet (${f.scale}, the ${f.stack} stack's pools): ${fmt(f.gpus)} GPUs on ${f.nodes} nodes (${f.pools.join(", ")}; ${f.migInstances} MIG instances; ${f.freeDevices} of ${f.devices} GPUs/instances free), ` +
    `${f.deployments} deployments (${f.models} models), ${f.routers} routers (${f.routersPerDeployment} per deployment), ` +
    `${f.hours} h at ${f.scrapeSeconds} s (${f.samplesPerSeries} samples per series), window ${new Date(f.start * 1000).toISOString()} .. ${new Date(f.end * 1000).toISOString()}\n` +
    `  ${fmt(f.rawSeries)} raw series (${fmt(f.dcgmSeries)} DCGM), ${fmt(f.samples)} samples; one serving pod per held GPU/instance`
  );
}

export function formatFleetReport(r: FleetReport): string {
  const out: string[] = [];
  const hours = r.fleet.hours;
  out.push(
    `Full dashboard loads: range queries over ${hours} h at step ${r.settings.step} s, instant queries at the range's end for stat/gauge/table/bar panels; ` +
      `variables at All (.*), $__rate_interval=1m, $__range=${hours}h; every panel of a dashboard at once; median of ${r.settings.reps}; ` +
      `--query.max-samples ${r.settings.maxSamples === null ? "left at Prometheus' default (50,000,000)" : `raised to ${fmt(r.settings.maxSamples)}`}.`,
    "raw = the seed's expression for seed panels, each recorded series expanded to the expression its rule records for the others; stack = the dashboard JSON's targets.",
    "samples = totalQueryableSamples summed over the dashboard's queries (stats=all); peak = the largest peakSamples of one query; exec = Prometheus' own execution time summed over the queries (no JSON encoding).",
  );
  const rows = r.dashboards.map((d) => [
    d.dashboard,
    fmt(d.raw.loadMs),
    fmt(d.stack.loadMs),
    times(d.speedUp),
    fmt(d.raw.samples),
    fmt(d.stack.samples),
    times(d.samplesRatio),
    fmt(d.raw.execMs),
    fmt(d.stack.execMs),
    fmt(d.raw.cpuMs),
    fmt(d.stack.cpuMs),
    times(d.cpuRatio),
    Number.isFinite(d.floorRatio) ? d.floorRatio.toFixed(2) : "n/a",
  ]);
  rows.push([
    `all ${r.dashboards.length}`,
    fmt(r.total.rawMs),
    fmt(r.total.stackMs),
    times(r.total.speedUp),
    fmt(r.total.rawSamples),
    fmt(r.total.stackSamples),
    times(ratio(r.total.rawSamples, r.total.stackSamples)),
    "",
    "",
    "",
    "",
    "",
    "",
    "",
  ]);
  out.push(
    textTable(
      [
        "dashboard",
        "raw ms",
        "stack ms",
        "speed-up",
        "raw samples",
        "stack samples",
        "samples x",
        "raw exec ms",
        "stack exec ms",
        "raw cpu ms",
        "stack cpu ms",
        "cpu x",
        "stack samples/point",
      ],
      rows,
    ),
    `the four seed dashboards together, raw ÷ stack: samples ${times(r.seedFour.samplesRatio)}, wall ${times(r.seedFour.wallRatio)}, CPU ${times(r.seedFour.cpuRatio)}`,
    `recording rules: ${r.rules.count} (${r.rules.longCount} in the long group, every ${r.rules.longInterval}); one evaluation reads ${fmt(r.rules.samplesPerEvaluation)} samples ` +
      `(${fmt(r.rules.samplesPerLongEvaluation)} more per long-group evaluation) and takes ${fmt(r.rules.execMs)} ms of Prometheus' execution; they store ${fmt(r.tsdb.recordedSeries)} series`,
  );
  for (const d of r.dashboards) if (!d.raw.stable || !d.stack.stable) out.push(`  note: samples processed differed between repetitions for ${d.dashboard}`);
  if (r.picked.length > 0)
    out.push(
      "",
      "One model or one node picked (the other variables at All; raw = the stack's queries with recorded series expanded, same pick; each query alone, summed):",
      textTable(
        ["picked", "dashboard", "raw ms", "stack ms", "raw samples", "stack samples", "samples x"],
        r.picked.map((p) => [`${p.variable}=${p.value}`, p.dashboard, fmt(p.rawMs), fmt(p.stackMs), fmt(p.rawSamples), fmt(p.stackSamples), times(p.samplesRatio)]),
        { align: ["left", "left"] },
      ),
    );
  for (const f of r.failures) out.push(`FAILED ${f.id}: ${f.message}`);
  out.push(
    "",
    "Per panel, each query run alone (ms = wall time of the panel's queries one after another; exec = Prometheus' execution time within it; series and MB = what the stack's query returns):",
    textTable(
      [
        "dashboard",
        "panel",
        "raw from",
        "type",
        "raw ms",
        "stack ms",
        "speed-up",
        "raw exec",
        "stack exec",
        "raw samples",
        "stack samples",
        "samples x",
        "raw series",
        "stack series",
        "stack MB",
      ],
      r.panels.map((p) => [
        p.dashboard,
        p.title,
        p.rawSource,
        p.type,
        fmt(p.raw.ms),
        fmt(p.stack.ms),
        times(p.speedUp),
        fmt(p.raw.execMs),
        fmt(p.stack.execMs),
        fmt(p.raw.samples),
        fmt(p.stack.samples),
        times(ratio(p.raw.samples, p.stack.samples)),
        fmt(p.raw.series),
        fmt(p.stack.series),
        (p.stack.bytes / 1e6).toFixed(1),
      ]),
      { align: ["left", "left", "left", "left"], maxWidth: 40 },
    ),
  );
  for (const q of r.emptyResults) out.push(`note: no series returned by ${q}`);
  const t = r.tsdb;
  out.push(
    "",
    `TSDB: ${fmt(t.series)} series at the end of the window (${fmt(t.series - t.recordedSeries)} raw, ${fmt(t.recordedSeries)} recorded; ${fmt(t.dcgmSeries)} DCGM) in ${t.blocks} block(s); ` +
      `${t.rawSeriesPerGpu.toFixed(1)} raw series per GPU (${t.dcgmSeriesPerGpu.toFixed(1)} DCGM).`,
    `disk: ${gb(r.disk.openMetricsWrittenBytes)} of OpenMetrics written in ${r.disk.parts} part(s), at most ${gb(r.disk.openMetricsPeakBytes)} on disk at once (bound stated before the run: ${gb(r.disk.openMetricsBoundBytes)}); TSDB ${gb(r.disk.tsdbBytes)}.`,
  );
  if (r.unreadRecorded.records.length > 0)
    out.push(`recorded but read by no panel, alert or other rule: ${r.unreadRecorded.records.join(", ")} (${fmt(r.unreadRecorded.series)} series)`);
  out.push(`fleet section took ${(r.ms / 1000).toFixed(1)} s`);
  return out.join("\n");
}

export function formatTargets(targets: readonly TargetResult[]): string {
  return textTable(
    ["section", "target", "status", "measured"],
    targets.map((t) => [t.section, t.target, t.status === "missed" ? "MISSED" : t.status, t.detail]),
    { align: ["left", "left", "left", "left"] },
  );
}

/** The report as JSON; unmeasured numbers (NaN) become null. */
export function reportJson(r: BenchReport): string {
  return `${JSON.stringify(r, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export function writeReport(file: string, r: BenchReport): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, reportJson(r));
}
