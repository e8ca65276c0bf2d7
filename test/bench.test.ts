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
import { evaluateTargets, fleetReport, reportJson, variantSummary, type BenchReport } from "../bench/report";
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

const q = (over: Partial<QueryResult>): QueryResult => ({ ms: 10, samples: 100, peak: 50, execMs: 5, series: 1, bytes: 1000, ...over });
const load = (ms: number, samples: number[]) => ({ ms, perQuery: samples.map((s) => q({ samples: s })) });

function measurement(gpus: number, stackLoads: number[]): FleetMeasurement {
  const plans = [
    {
      dashboard: "overview" as const,
      title: "A",
      key: "totalThroughput" as const,
      rawSource: "derived",
      stack: [{ expr: "a:b", instant: false }],
      raw: [{ expr: "sum(rate(x[1m]))", instant: false }],
    },
    { dashboard: "overview" as const, title: "B", rawSource: "raw already", stack: [{ expr: "up", instant: true }], raw: [{ expr: "up", instant: true }] },
  ];
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
      "overview/raw": {
        alone: [q({ samples: 1000, ms: 100, peak: 700 }), q({ samples: 10, series: 0 })],
        loads: [load(300, [1000, 10]), load(100, [1000, 10]), load(200, [1000, 10])],
      },
      "overview/stack": { alone: [q({ samples: 50 }), q({ samples: 10 })], loads: stackLoads.map((ms) => load(ms, [50, 10])) },
    },
    failures: [],
    tsdb: { series: 30, recordedSeries: 6, dcgmSeries: 8, blocks: 1, samples: 5000 },
    unreadRecorded: { records: [], series: 0 },
    phases: [{ what: "x", ms: 1 }],
    ms: 1234,
  };
}

describe("fleet report", () => {
  it("summarises a variant: median load, samples of the run alone, peak, stability", () => {
    const m = measurement(1024, [10, 30, 20]);
    expect(variantSummary(m.runs["overview/raw"])).toEqual({ loadMs: 200, execMs: 10, samples: 1010, peakSamples: 700, stable: true });
    expect(variantSummary(undefined)).toEqual({ loadMs: Number.NaN, execMs: Number.NaN, samples: Number.NaN, peakSamples: Number.NaN, stable: true });
    expect(variantSummary({ alone: [q({ samples: 5 })], loads: [load(1, [5]), load(1, [6])] }).stable).toBe(false);
  });

  it("compares dashboards and panels, and lists queries with no series", () => {
    const r = fleetReport(measurement(1024, [10, 30, 20]), { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 });
    expect(r.dashboards).toEqual([expect.objectContaining({ dashboard: "overview", speedUp: 10, samplesRatio: 1010 / 60 })]);
    expect(r.panels.map((p) => [p.title, p.type, p.raw.ms, p.stack.ms, p.speedUp])).toEqual([
      ["A", "range", 100, 10, 10],
      ["B", "instant", 10, 10, 1],
    ]);
    expect(r.emptyResults).toEqual(['overview raw "B": up']);
    expect(r.tsdb.rawSeriesPerGpu).toBeCloseTo(24 / 1024);
  });

  it.each([
    ["met at 1,024 GPUs", 1024, [10, 30, 20], "met"],
    ["missed at 1,024 GPUs", 1024, [50, 40, 60], "missed"],
    ["not checked below 1,024 GPUs", 64, [50, 40, 60], "not checked"],
  ])("speed-up target %s", (_what, gpus, stackLoads, status) => {
    const fleet = fleetReport(measurement(gpus, stackLoads), { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 });
    const target = evaluateTargets({ fleet }).find((t) => t.target.includes("faster"));
    expect(target?.status).toBe(status);
  });

  it("a failed query misses a target", () => {
    const m = { ...measurement(1024, [10, 10, 10]), failures: [{ id: "overview/raw", message: "boom" }] };
    const targets = evaluateTargets({ fleet: fleetReport(m, { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 }) });
    expect(targets.find((t) => t.target.includes("without error"))).toEqual(expect.objectContaining({ status: "missed", detail: "failed: overview/raw" }));
  });

  it("a query that returns no series misses the same target (an empty result compares nothing)", () => {
    const fleet = fleetReport(measurement(1024, [10, 30, 20]), { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 });
    expect(evaluateTargets({ fleet }).find((t) => t.target.includes("returns series"))).toEqual(
      expect.objectContaining({ status: "missed", detail: "1 returned no series (listed above)" }),
    );
    const full = measurement(1024, [10, 30, 20]);
    const alone = full.runs["overview/raw"]?.alone ?? [];
    alone[1] = q({ samples: 10 });
    expect(evaluateTargets({ fleet: fleetReport(full, { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 }) }).find((t) => t.target.includes("returns series"))?.status).toBe(
      "met",
    );
  });

  it("writes the report as JSON of a fixed shape, unmeasured numbers as null", () => {
    const fleet = fleetReport(measurement(1024, [10, 30, 20]), { reps: 3, step: 30, maxSamples: null, partBytes: 5e8 });
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
    expect(Object.keys(json.fleet)).toEqual(["fleet", "settings", "disk", "phases", "dashboards", "total", "panels", "emptyResults", "failures", "tsdb", "unreadRecorded", "ms"]);
    expect(Object.keys(json.fleet.dashboards[0] ?? {})).toEqual(["dashboard", "raw", "stack", "speedUp", "samplesRatio"]);
    expect(Object.keys((json.fleet.dashboards[0]?.raw ?? {}) as object)).toEqual(["loadMs", "execMs", "samples", "peakSamples", "stable"]);
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
    expect(json.targets).toEqual([expect.objectContaining({ section: "fleet", status: "missed" }), expect.objectContaining({ section: "fleet", status: "met" })]);
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
