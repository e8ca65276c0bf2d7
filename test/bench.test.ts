// The bench's pure parts, without Prometheus: the helpers the fleet section
// plans with, the summaries and targets of its report, the JSON shape of the
// report, and what the fleet measurement once found about the stack's queries
// (now assertions on the queries themselves).
import { describe, expect, it } from "vitest";
import { benchContext, stackQueries } from "../bench/context";
import { fleetScales, missingSeries, promtoolBlockSeconds, syntheticFleet } from "../bench/fleet/model";
import { backfillWindow } from "../sim/openmetrics";
import { diskPlan, type FleetMeasurement } from "../bench/fleet/measure";
import { expandRecorded, panelPlans } from "../bench/fleet/plans";
import { ruleBackfillStart, ruleStages } from "../verify/backfill";
import type { QueryResult } from "../bench/fleet/prometheusApi";
import { evaluateTargets, fleetReport, fleetTargets, reportJson, variantSummary, type BenchReport, type TargetResult } from "../bench/report";
import { catalog } from "../dashboards/common";
import { recordingRules, type RecordingRule } from "../monitoring/recording";
import { escapeRegex, escapeRegexInPromqlString } from "../lib/escapeRegex";
import { median, ratio, sum } from "../lib/stats";
import { textTable } from "../lib/textTable";
import { descendants, labelNameText, madeLabels, metricNamesIn, parsePromql, withMatchers } from "../lib/promql";

const rule = (record: string, expr: string): RecordingRule => ({ record, expr }) as RecordingRule;

describe("small helpers", () => {
  it.each([
    [[], Number.NaN],
    [[3], 3],
    [[5, 1, 3], 3],
    [[4, 1, 3, 2], 2.5],
  ])("median(%j) = %d", (values, expected) => expect(median(values)).toEqual(expected));

  it.each([
    [10, 2, 5],
    [1, 0, Number.NaN],
    [Number.NaN, 2, Number.NaN],
    [3, Number.POSITIVE_INFINITY, Number.NaN],
  ])("ratio(%d, %d) = %d", (a, b, expected) => expect(ratio(a, b)).toEqual(expected));

  it("sums", () => expect(sum([1, 2, 3.5])).toBe(6.5));

  it.each([
    ["llama-3.1-70b", "llama-3\\.1-70b", "llama-3\\\\.1-70b"],
    ["a+b(c)", "a\\+b\\(c\\)", "a\\\\+b\\\\(c\\\\)"],
    ["plain", "plain", "plain"],
  ])("escapes %s for a regex and for a regex inside a PromQL string", (value, regex, inString) => {
    expect(escapeRegex(value)).toBe(regex);
    expect(escapeRegexInPromqlString(value)).toBe(inString);
    expect(new RegExp(`^${escapeRegex(value)}$`).test(value)).toBe(true);
  });

  it("lays out a text table: first column left, numbers right, cells clipped", () => {
    expect(
      textTable(
        ["name", "ms"],
        [
          ["dev", "12"],
          ["large-config", "1234"],
        ],
      ),
    ).toBe("name            ms\n------------  ----\ndev             12\nlarge-config  1234");
    expect(textTable(["a", "b"], [["abcdef", "x"]], { maxWidth: 4, align: ["left", "left"], rule: false })).toBe("a     b\nabc…  x");
  });
});

describe("PromQL rewriting for the raw side of the comparison", () => {
  it.each([
    ["up", ['job="x"'], 'up{job="x"}'],
    ['up{job="x"}', ['zone="a"'], 'up{job="x", zone="a"}'],
    ["up{}", ['zone="a"'], 'up{zone="a"}'],
    ["sum(rate(a[5m])) / sum(rate(b[5m]))", ['m=~".*"'], 'sum(rate(a{m=~".*"}[5m])) / sum(rate(b{m=~".*"}[5m]))'],
    ["up", [], "up"],
  ])("withMatchers(%s, %j) = %s", (expr, matchers, expected) => expect(withMatchers(expr, matchers)).toBe(expected));

  it.each([
    ["no label_replace", "sum by (job) (up)", []],
    ["one destination", 'label_replace(sum(x), "slo", "availability", "", "")', ["slo"]],
    ["nested calls, source labels not counted", 'label_replace(label_replace(k, "pool", "$1", "label_pool", "(.+)"), "capacity", "$1", "label_cap", "(.+)")', ["capacity", "pool"]],
  ])("madeLabels: %s", (_what, expr, expected) => expect([...madeLabels(expr)].sort()).toEqual(expected));

  const rules = new Map([
    ["job:up:sum", "sum by (job) (up)"],
    ["job:up:ratio", "job:up:sum / count by (job) (up)"],
    ["slo:x:ratio", 'label_replace(sum by (model) (rate(x[5m])), "slo", "availability", "", "")'],
  ]);
  it.each([
    ["no recorded series", "rate(x[5m])", "rate(x[5m])"],
    ["an instant selector, matchers moved onto the rule's selectors", 'job:up:sum{job="a"}', '(sum by (job) (up{job="a"}))'],
    ["a range over a recorded series becomes a subquery at the rule interval", "max_over_time(job:up:sum[1h])", "max_over_time((sum by (job) (up))[1h:15s])"],
    ["a rule reading another rule, expanded in turn", "job:up:ratio", "((sum by (job) (up)) / count by (job) (up))"],
    [
      "a matcher on a label the rule makes filters the expression instead of its selectors",
      'slo:x:ratio{slo="availability", model="m"}',
      '((label_replace(sum by (model) (rate(x{model="m"}[5m])), "slo", "availability", "", "")) and on (slo) label_replace(vector(1), "slo", "availability", "", ""))',
    ],
    ["a range longer than the data is capped at it", "sum_over_time(job:up:sum[30d])", "sum_over_time((sum by (job) (up))[3600s:15s])"],
    ["a range within the data is kept", "sum_over_time(job:up:sum[30m])", "sum_over_time((sum by (job) (up))[30m:15s])"],
  ])("expandRecorded: %s", (_what, expr, expected) => {
    const out = expandRecorded(expr, rules, "15s", 3600);
    expect(out).toBe(expected);
    expect(() => parsePromql(out)).not.toThrow();
  });

  it("refuses a matcher other than equality on a label the rule makes, naming it", () => {
    expect(() => expandRecorded('slo:x:ratio{slo=~"a.*"}', rules, "15s")).toThrow(
      'cannot expand slo:x:ratio: its rule makes "slo", and only an equality matcher on it can be kept (got =~)',
    );
  });

  it("refuses recorded series that nest without end", () => {
    expect(() => expandRecorded("a:b", new Map([["a:b", "a:b + 1"]]), "15s")).toThrow(/nested too deep/);
  });

  it.each([
    ["independent rules form one stage", [rule("a:x", "sum(x)"), rule("a:y", "sum(y)")], [["a:x", "a:y"]]],
    ["a rule reading another comes after it", [rule("b:z", "a:x / 2"), rule("a:x", "sum(x)")], [["a:x"], ["b:z"]]],
    ["chains", [rule("c", "b:z"), rule("b:z", "a:x"), rule("a:x", "x")], [["a:x"], ["b:z"], ["c"]]],
  ])("ruleStages: %s", (_what, input, expected) => {
    expect(ruleStages(input).map((s) => s.map((r) => r.record))).toEqual(expected);
  });

  it.each([
    ["60 s before a 2 h boundary: the boundary before it (promtool would write nothing for a 2 m group)", 1796234340, 1796227200],
    ["on a boundary: itself", 1796234400, 1796234400],
    ["just after a boundary: that boundary", 1796234460, 1796234400],
  ])("ruleBackfillStart: %s", (_what, start, expected) => expect(ruleBackfillStart(start)).toBe(expected));

  it("ruleStages refuses a cycle, naming the rules", () => {
    expect(() => ruleStages([rule("a:x", "b:y"), rule("b:y", "a:x")])).toThrow("recording rules depend on each other in a cycle: a:x, b:y");
  });

  it("puts the stack's own recording rules in more than one stage, every rule once", () => {
    const rules = recordingRules(benchContext.scrapeIntervalSeconds);
    const stages = ruleStages(rules);
    expect(stages.length).toBeGreaterThan(1);
    expect(
      stages
        .flat()
        .map((r) => r.record)
        .sort(),
    ).toEqual(rules.map((r) => r.record).sort());
  });

  it("plans every panel with a raw side that reads no recorded series", () => {
    const plans = panelPlans({ rateInterval: "1m", range: "1h", interval: "30s" });
    const records = new Set(recordingRules(benchContext.scrapeIntervalSeconds).map((r) => r.record));
    expect(plans.length).toBeGreaterThan(0);
    for (const p of plans)
      for (const q of p.raw)
        expect(
          [...metricNamesIn(q.expr)].filter((n) => records.has(n)),
          `${p.dashboard} ${p.title}`,
        ).toEqual([]);
    expect(plans.filter((p) => p.rawSource.startsWith("seed #")).length).toBe(10);
  });
});

describe("the fleet window and series", () => {
  const h = 3600;
  it.each([
    ["a window inside one aligned 18 h block keeps its end", 1, 40 * 18 * h + 5 * h + 59, 40 * 18 * h + 5 * h],
    ["a window that would cross a block boundary ends just before it", 6, 40 * 18 * h + 2 * h, 40 * 18 * h - 60],
    ["the end is rounded down to the minute", 1, 40 * 18 * h + 3 * h + 30, 40 * 18 * h + 3 * h],
  ])("%s", (_what, hours, now, end) => {
    const w = backfillWindow(hours, now, 15);
    expect(w).toEqual({ start: end - hours * h, end, step: 15, steps: (hours * h) / 15 + 1 });
    expect(Math.floor(w.start / promtoolBlockSeconds)).toBe(Math.floor(w.end / promtoolBlockSeconds));
  });

  const small = syntheticFleet(fleetScales.small, 40 * 18 * h + 5 * h);
  it("has every series the dashboards and rules read, as the stack's relabeling stores them", async () => {
    const plans = panelPlans({ rateInterval: "1m", range: "1h", interval: "30s" });
    const fleet = await small;
    expect(fleet.shape.gpus).toBe(64);
    expect(
      fleet.missing(
        plans.flatMap((p) => [...p.raw, ...p.stack].map((q) => q.expr)),
        recordingRules(15),
      ),
    ).toEqual([]);
  });
  const families = ["up", "infermesh_inference_latency_bucket", "infermesh_inferences_total"].map((name) => ({ name }));
  it.each([
    ["a series the fleet lacks", ["rate(no_such_metric_total[5m])"], [], ["no_such_metric_total"]],
    ["a recorded series is not missing", ["a:b:c"], [rule("a:b:c", "sum(up)")], []],
    ["what a rule reads counts", [], [rule("a:b:c", "sum(absent_thing)")], ["absent_thing"]],
    ["histogram and counter sample names", ["infermesh_inference_latency_bucket", "infermesh_inferences_total"], [], []],
  ])("missingSeries: %s", (_what, queries, rules, expected) => expect(missingSeries(families, queries, rules)).toEqual(expected));
});

describe("disk bound", () => {
  it.each([
    ["many parts: three on disk at once", 5.14e9, 11, 5e8, 3, 1.5e9],
    ["one part", 3e8, 1, 5e8, 1, 3e8],
    ["two parts", 8e8, 2, 5e8, 2, 8e8],
  ])("%s", (_what, bytes, parts, partBytes, atOnce, bound) => {
    expect(diskPlan(bytes, parts, partBytes)).toEqual({ openMetricsBytes: bytes, partBytes, parts, partsOnDiskAtOnce: atOnce, openMetricsBoundBytes: bound });
  });
});

// ---------------------------------------------------------------------------
// Report

const q = (over: Partial<QueryResult>): QueryResult => ({ ms: 10, samples: 100, peak: 50, execMs: 5, series: 1, points: 100, bytes: 1000, ...over });
const load = (ms: number, samples: number[], cpuMs = 0) => ({ ms, cpuMs, perQuery: samples.map((s) => q({ samples: s })) });

/** One variant of a dashboard: each query alone (samples read, points returned), and full loads (wall, CPU). */
const variant = (alone: { samples: number; points: number }[], loads: { ms: number; cpuMs: number }[]) => ({
  alone: alone.map((a) => q(a)),
  loads: loads.map((l) =>
    load(
      l.ms,
      alone.map((a) => a.samples),
      l.cpuMs,
    ),
  ),
});
const loads = (ms: number[], cpuMs: number) => ms.map((m) => ({ ms: m, cpuMs }));
const panel = (dashboard: "overview" | "modelDrilldown" | "gpuHealth" | "routerBehavior", title: string) => ({
  dashboard,
  title,
  rawSource: "derived",
  stack: [{ expr: `${title}:stack`, instant: false }],
  raw: [{ expr: `${title}_raw`, instant: false }],
});

/**
 * The four seed dashboards with fixed costs. Samples, raw ÷ stack: overview
 * 1,000,010 ÷ 60, drilldown 90,000 ÷ 300, GPU Health 1,000 ÷ 1,200 (1,000
 * points returned), router 5,000 ÷ 100; each raw load 200 ms (median of 300,
 * 100, 200) and 400 ms of CPU, each stack load 10 ms and 20 ms of CPU.
 */
function measurement(gpus: number, over: Partial<FleetMeasurement["runs"]> = {}): FleetMeasurement {
  const plans = [
    { ...panel("overview", "A"), key: "totalThroughput" as const },
    { dashboard: "overview" as const, title: "B", rawSource: "raw already", stack: [{ expr: "up", instant: true }], raw: [{ expr: "up", instant: true }] },
    panel("modelDrilldown", "C"),
    panel("gpuHealth", "D"),
    panel("routerBehavior", "E"),
  ];
  const raw = (samples: number[]) =>
    variant(
      samples.map((s) => ({ samples: s, points: 10 })),
      loads([300, 100, 200], 400),
    );
  const stack = (samples: number[], points = samples) =>
    variant(
      samples.map((s, i) => ({ samples: s, points: points[i] as number })),
      loads([5, 15, 10], 20),
    );
  const overviewRaw = raw([1_000_000, 10]);
  (overviewRaw.alone[1] as QueryResult).series = 0;
  return {
    fleet: {
      scale: "t",
      stack: "prod",
      gpus,
      nodes: gpus / 8,
      pools: ["p: 1 x H100"],
      migInstances: 0,
      devices: gpus,
      freeDevices: 0,
      deployments: 1,
      models: 1,
      routers: 1,
      routersPerDeployment: 1,
      hours: 1,
      scrapeSeconds: 15,
      samplesPerSeries: 241,
      rawSeries: 10,
      dcgmSeries: 5,
      samples: 2410,
      start: 0,
      end: 3600,
    },
    disk: { ...diskPlan(1e9, 2, 5e8), openMetricsWrittenBytes: 9e8, openMetricsPeakBytes: 8e8, tsdbBytes: 1e8 },
    macros: { rateInterval: "1m", range: "1h", interval: "30s" },
    window: { start: 0, end: 3600, step: 30 },
    plans,
    runs: {
      "overview/raw": overviewRaw,
      "overview/stack": stack([50, 10]),
      "modelDrilldown/raw": raw([90_000]),
      "modelDrilldown/stack": stack([300]),
      "gpuHealth/raw": raw([1_000]),
      "gpuHealth/stack": stack([1_200], [1_000]),
      "routerBehavior/raw": raw([5_000]),
      "routerBehavior/stack": stack([100]),
      ...over,
    } as FleetMeasurement["runs"],
    failures: [],
    tsdb: { series: 30, recordedSeries: 6, dcgmSeries: 8, blocks: 1, samples: 5000 },
    rules: { count: 2, longCount: 1, longInterval: "2m", samplesPerEvaluation: 10, samplesPerLongEvaluation: 4, execMs: 1, perRule: [] },
    picked: [
      {
        variable: "model",
        value: "m1",
        dashboard: "overview",
        raw: [q({ samples: 9_000, ms: 30 }), q({ samples: 1_000 })],
        stack: [q({ samples: 90, ms: 3 }), q({ samples: 10 })],
      },
    ],
    unreadRecorded: { records: [], series: 0 },
    phases: [{ what: "x", ms: 1 }],
    ms: 1234,
  };
}

const settings = { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 };
const statusOf = (targets: TargetResult[], fragment: string) => targets.find((t) => t.target.includes(fragment));

describe("fleet report", () => {
  it("summarises a variant: median load and CPU, samples and points of the run alone, peak, stability", () => {
    const v = variant(
      [
        { samples: 1000, points: 40 },
        { samples: 10, points: 10 },
      ],
      [
        { ms: 300, cpuMs: 50 },
        { ms: 100, cpuMs: 30 },
        { ms: 200, cpuMs: 70 },
      ],
    );
    expect(variantSummary(v)).toEqual({ loadMs: 200, execMs: 10, cpuMs: 50, points: 50, samples: 1010, peakSamples: 50, stable: true });
    expect(variantSummary(undefined)).toEqual({
      loadMs: Number.NaN,
      execMs: Number.NaN,
      cpuMs: Number.NaN,
      points: Number.NaN,
      samples: Number.NaN,
      peakSamples: Number.NaN,
      stable: true,
    });
    expect(variantSummary({ alone: [q({ samples: 5 })], loads: [load(1, [5]), load(1, [6])] }).stable).toBe(false);
  });

  it("compares each dashboard, the four together and each panel, with exact figures", () => {
    const r = fleetReport(measurement(1024), settings);
    expect(r.dashboards.map((d) => [d.dashboard, d.raw.samples, d.stack.samples, d.samplesRatio, d.speedUp, d.cpuRatio, d.floorRatio])).toEqual([
      ["overview", 1_000_010, 60, 1_000_010 / 60, 20, 20, 1],
      ["modelDrilldown", 90_000, 300, 300, 20, 20, 1],
      ["gpuHealth", 1_000, 1_200, 1_000 / 1_200, 20, 20, 1.2],
      ["routerBehavior", 5_000, 100, 50, 20, 20, 1],
    ]);
    expect(r.seedFour).toEqual({ samplesRatio: 1_096_010 / 1_660, wallRatio: 20, cpuRatio: 20 });
    expect(r.picked).toEqual([{ variable: "model", value: "m1", dashboard: "overview", rawSamples: 10_000, stackSamples: 100, samplesRatio: 100, rawMs: 40, stackMs: 13 }]);
    expect(r.panels.map((p) => [p.dashboard, p.title, p.type, p.raw.samples, p.stack.samples, p.stack.points])).toEqual([
      ["overview", "A", "range", 1_000_000, 50, 50],
      ["overview", "B", "instant", 10, 10, 10],
      ["modelDrilldown", "C", "range", 90_000, 300, 300],
      ["gpuHealth", "D", "range", 1_000, 1_200, 1_000],
      ["routerBehavior", "E", "range", 5_000, 100, 100],
    ]);
    expect(r.emptyResults).toEqual(['overview raw "B": up']);
    expect(r.tsdb.rawSeriesPerGpu).toBeCloseTo(24 / 1024);
  });

  it("checks every query-cost target at 1,024 GPUs: all met at the fixture's figures", () => {
    const targets = fleetTargets(fleetReport(measurement(1024), settings));
    expect(targets.map((t) => [t.target.split(":")[0], t.status, t.detail])).toEqual([
      ["overview", "met", "16667x"],
      ["modelDrilldown", "met", "300x"],
      ["routerBehavior", "met", "50.0x"],
      ["gpuHealth", "met", "1.200 samples per point (1,200 read, 1,000 returned)"],
      ["all four seed dashboards", "met", "660x"],
      ["all four seed dashboards", "met", "20.0x"],
      ["all four seed dashboards", "met", "20.0x"],
    ]);
  });

  const slower = (ms: number, cpuMs: number, samples: number, points = samples) => variant([{ samples, points }], loads([ms, ms, ms], cpuMs));
  it.each([
    [
      "overview reads 5,000x fewer",
      {
        "overview/stack": variant(
          [
            { samples: 190, points: 190 },
            { samples: 10, points: 10 },
          ],
          loads([10], 20),
        ),
      },
      "overview: a full load",
      "5000x",
    ],
    ["drilldown reads 299x fewer", { "modelDrilldown/stack": slower(10, 20, 90_000 / 299) }, "modelDrilldown", "299x"],
    ["router reads 49x fewer", { "routerBehavior/stack": slower(10, 20, 5_000 / 49) }, "routerBehavior", "49.0x"],
    ["GPU Health reads 1.3 samples per point", { "gpuHealth/stack": slower(10, 20, 1_300, 1_000) }, "gpuHealth", "1.300 samples per point (1,300 read, 1,000 returned)"],
    ["the four take 10x less wall time", { "routerBehavior/stack": slower(50, 20, 100) }, "less Prometheus wall time", "10.0x"],
    ["the four take 16x less CPU", { "routerBehavior/stack": slower(10, 40, 100) }, "less Prometheus CPU time", "16.0x"],
  ])("misses a target when %s", (_what, over, target, detail) => {
    const targets = fleetTargets(fleetReport(measurement(1024, over), settings));
    expect(statusOf(targets, target)).toEqual(expect.objectContaining({ status: "missed", detail }));
    expect(targets.filter((t) => t.status === "missed")).toHaveLength(1);
  });

  it("checks nothing below 1,024 GPUs, and an unmeasured dashboard never meets a target", () => {
    expect(new Set(fleetTargets(fleetReport(measurement(64), settings)).map((t) => t.status))).toEqual(new Set(["not checked"]));
    const m = measurement(1024);
    delete m.runs["overview/stack"];
    expect(statusOf(fleetTargets(fleetReport(m, settings)), "overview")?.status).toBe("missed");
  });

  it("a failed query misses a target", () => {
    const m = { ...measurement(1024), failures: [{ id: "overview/raw", message: "boom" }] };
    const targets = evaluateTargets({ fleet: fleetReport(m, settings) });
    expect(statusOf(targets, "without error")).toEqual(expect.objectContaining({ status: "missed", detail: "failed: overview/raw" }));
  });

  it("a query that returns no series misses the same target (an empty result compares nothing)", () => {
    expect(statusOf(evaluateTargets({ fleet: fleetReport(measurement(1024), settings) }), "returns series")).toEqual(
      expect.objectContaining({ status: "missed", detail: "1 returned no series (listed above)" }),
    );
    const full = measurement(1024);
    (full.runs["overview/raw"]?.alone[1] as QueryResult).series = 1;
    expect(statusOf(evaluateTargets({ fleet: fleetReport(full, settings) }), "returns series")?.status).toBe("met");
  });

  it("writes the report as JSON of a fixed shape, unmeasured numbers as null", () => {
    const fleet = fleetReport(measurement(1024), settings);
    const report: BenchReport = {
      schemaVersion: 1,
      startedAt: "2026-12-01T00:00:00.000Z",
      machine: { cpus: 2, cpuModel: "x", memoryGb: 23, node: "v22", platform: "linux-x64" },
      sections: ["fleet"],
      mock: { runs: 1, cases: [{ name: "dev", resources: 0, medianMs: 1, msPerResource: Number.NaN, runsMs: [1] }], largeOverDev: Number.NaN },
      fleet,
      targets: evaluateTargets({ fleet }),
      ok: true,
      ms: 1,
    };
    const json = JSON.parse(reportJson(report)) as Record<string, unknown> & {
      fleet: Record<string, unknown> & { dashboards: Record<string, unknown>[] };
      mock: { cases: Record<string, unknown>[] };
    };
    expect(Object.keys(json)).toEqual(["schemaVersion", "startedAt", "machine", "sections", "mock", "fleet", "targets", "ok", "ms"]);
    expect(Object.keys(json.fleet)).toEqual([
      "fleet",
      "settings",
      "disk",
      "phases",
      "dashboards",
      "total",
      "seedFour",
      "rules",
      "picked",
      "panels",
      "emptyResults",
      "failures",
      "tsdb",
      "unreadRecorded",
      "ms",
    ]);
    expect(Object.keys(json.fleet.dashboards[0] ?? {})).toEqual(["dashboard", "raw", "stack", "speedUp", "samplesRatio", "cpuRatio", "floorRatio"]);
    expect(Object.keys((json.fleet.dashboards[0]?.raw ?? {}) as object)).toEqual(["loadMs", "execMs", "cpuMs", "points", "samples", "peakSamples", "stable"]);
    expect(Object.keys(json.fleet.disk as object)).toEqual([
      "openMetricsBytes",
      "partBytes",
      "parts",
      "partsOnDiskAtOnce",
      "openMetricsBoundBytes",
      "openMetricsWrittenBytes",
      "openMetricsPeakBytes",
      "tsdbBytes",
    ]);
    expect(json.targets).toHaveLength(8);
    expect(json.mock.cases[0]?.msPerResource).toBeNull();
    expect((json.mock as Record<string, unknown>).largeOverDev).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// What the fleet measurement found once, as assertions on the queries.

describe("the stack's queries, as the fleet measurement checked them", () => {
  const queries = catalog(benchContext);
  const groupingOf = (expr: string) => descendants(parsePromql(expr), "GroupingLabels").flatMap((g) => descendants(g, "LabelName").map((n) => labelNameText(expr, n)));

  it("every recorded series is read by a panel, an alert or another rule", () => {
    const read = new Set(stackQueries(benchContext).flatMap((x) => [...metricNamesIn(x.expr)]));
    expect(
      recordingRules(benchContext.scrapeIntervalSeconds)
        .filter((r) => !read.has(r.record))
        .map((r) => r.record),
    ).toEqual([]);
  });

  it.each(["gpuUtilization", "vramHeadroom"] as const)("%s keeps MIG instances of one GPU apart (mig_instance in its grouping)", (key) => {
    for (const { expr } of queries[key]) expect(groupingOf(expr.replace(/\$__\w+/g, "1m").replace(/\$\w+/g, ".*")), expr).toContain("mig_instance");
  });

  it("the ECC panel does not sum device-level counters that every MIG instance repeats", () => {
    for (const { expr } of queries.eccErrors) {
      expect(expr).toMatch(/^max by \(gpu_uuid, node\) /);
      expect(expr).not.toMatch(/\bsum\b/);
    }
  });
});
