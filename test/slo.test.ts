import type { Dashboard, Panel, RowPanel, Threshold } from "@grafana/grafana-foundation-sdk/dashboard";
import { describe, expect, it } from "vitest";
import { environmentKinds, type EnvironmentKind } from "../domain/environments";
import { sloDefaults } from "../monitoring/slo";
import { dashboardUid } from "../dashboards/context";
import { alertCatalog, contractAbsenceChecks, type AlertContext } from "../alerts/catalog";
import { defaultThresholds } from "../monitoring/thresholds";
import { buildDashboards } from "../dashboards/index";
import { latencyBucketBoundsMs, metrics } from "../monitoring/metrics";
import { contractReaders, dashboardQueries, namesIn } from "../alerts/readers";
import { recordingRules } from "../monitoring/recording";
import {
  burnRatePairs,
  defaultSloSpec,
  errorBudget,
  leMatcher,
  minimumObjectivePercent,
  sloRatioWindows,
  sloRecordedNames,
  sloRecordingRules,
  type SloSpec,
} from "../monitoring/slo";
import { grafanaToPromql, metricNamesIn } from "../lib/promql";
import { baseRaw, parse } from "./helpers/stack";
import { healthy, phaseStart, simulateSlo, sloCaseSpec, sloScenarios, type SloScenario } from "../verify/sloCases";

const forSeconds = { InfermeshSloFastBurn: 120, InfermeshSloSlowBurn: 900 } as const;

describe("burn-rate policy", () => {
  it("pages at 14.4x over 1h/5m and 6x over 6h/30m, tickets at 3x over 1d/2h and 1x over 3d/6h, over 30 days", () => {
    expect(burnRatePairs("30d", 30)).toEqual([
      { speed: "fast", long: "1h", short: "5m", factor: 14.4 },
      { speed: "fast", long: "6h", short: "30m", factor: 6 },
      { speed: "slow", long: "1d", short: "2h", factor: 3 },
      { speed: "slow", long: "3d", short: "6h", factor: 1 },
    ]);
  });

  it("spends the same share of a 28-day budget, so the factors scale with the window", () => {
    expect(burnRatePairs("28d", 30).map((p) => p.factor)).toEqual([13.44, 5.6, 2.8, 0.9333]);
  });

  it("widens the shortest window to four scrapes when 5 minutes hold fewer", () => {
    expect(burnRatePairs("30d", 90)[0]).toMatchObject({ long: "1h", short: "6m" });
    expect(sloRatioWindows("30d", 90)).toEqual(["6m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]);
    expect(sloRecordedNames(90).errors).toBe("model:infermesh_slo_errors:rate6m");
  });

  it("needs an objective high enough for the fastest page to be reachable", () => {
    // 14.4 x a 6.944% budget is 100%: every request failing.
    expect(minimumObjectivePercent("30d")).toBe(93.056);
    expect(minimumObjectivePercent("28d")).toBe(92.56);
    expect(errorBudget(99.9)).toBe(0.001);
    expect(errorBudget(99.5)).toBe(0.005);
    expect(errorBudget(95)).toBe(0.05);
  });
});

describe("latency SLI buckets", () => {
  it("reads the target bucket as Prometheus 2 stores it and as Prometheus 3 normalizes it", () => {
    // kube-prometheus-stack 82.6.0 runs Prometheus v3.10.0, which stores le="2000" as le="2000.0"
    // (prometheus/prometheus v3.10.0 model/textparse/promparse.go normalizeFloatsInLabelValues; docs/migration.md);
    // the verification Prometheus and promtool are 2.42, which keep it as exposed.
    const matcher = leMatcher(2000);
    expect(matcher).toBe('le=~"2000(\\\\.0)?"');
    const regex = new RegExp(`^(?:${JSON.parse(matcher.slice("le=~".length)) as string})$`);
    expect(["2000", "2000.0"].map((v) => regex.test(v))).toEqual([true, true]);
    expect(["20000", "2000.5", "200", "2500"].map((v) => regex.test(v))).toEqual([false, false, false, false]);
  });

  it("takes bucket bounds from the metric contract, which has the seed's 2000 ms", () => {
    expect(metrics.infermesh_inference_latency.buckets).toBe(latencyBucketBoundsMs);
    expect(latencyBucketBoundsMs).toContain(defaultSloSpec.defaults.latencyTargetMs);
    expect([...latencyBucketBoundsMs]).toEqual([...latencyBucketBoundsMs].sort((a, b) => a - b));
  });
});

describe("SLO recording rules", () => {
  const spec: SloSpec = { ...defaultSloSpec, models: { "gpt-7b": { latencyTargetMs: 1000 }, "llama-3.1-70b": { availabilityPercent: 99.9 } } };
  const rules = sloRecordingRules(spec, 30);
  const names = sloRecordedNames(30);

  it("records one ratio per window the alerts and the dashboard read, plus two base rates and the budget", () => {
    expect(rules.map((r) => r.record)).toEqual([names.errors, names.events, names.budget, ...["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"].map((w) => names.ratio(w))]);
    for (const r of rules) expect(r.record).toMatch(/^model:infermesh_slo_[a-z_]+:[a-z0-9_]+$/);
  });

  it("reads raw counters up to 1h and only the recorded base rates beyond, in the slower group", () => {
    for (const w of ["30m", "1h"]) {
      const rule = rules.find((r) => r.record === names.ratio(w));
      expect(rule?.expr).toContain(`rate(infermesh_inferences_total[${w}])`);
      expect(rule?.cadence).toBeUndefined();
    }
    for (const w of ["2h", "6h", "1d", "3d", "30d"]) {
      const rule = rules.find((r) => r.record === names.ratio(w));
      expect(rule?.expr).toBe(`sum_over_time(${names.errors}[${w}]) / sum_over_time(${names.events}[${w}])`);
      expect(rule?.cadence).toBe("long");
    }
  });

  it("counts failed inferences except bad requests, and slow ones against each model's own target bucket", () => {
    const errors = rules.find((r) => r.record === names.errors)?.expr ?? "";
    expect(errors).toContain('infermesh_inference_errors_total{error!~"bad_request"}[5m]');
    // A model that never failed has no error series yet: 0 errors, not no data.
    expect(errors).toContain("or 0 * sum by (model) (rate(infermesh_inferences_total[5m]))");
    expect(errors).toContain(`infermesh_inference_latency_bucket{model!~"gpt-7b", ${leMatcher(2000)}}`);
    expect(errors).toContain(`infermesh_inference_latency_bucket{model=~"gpt-7b", ${leMatcher(1000)}}`);
  });

  it("gives each model its own budget, with names escaped for the regex", () => {
    const budget = rules.find((r) => r.record === names.budget)?.expr ?? "";
    expect(budget).toContain(`group by (model, slo) (${names.events}{slo="availability", model!~"llama-3\\\\.1-70b"}) * 0.005`);
    expect(budget).toContain(`group by (model, slo) (${names.events}{slo="availability", model=~"llama-3\\\\.1-70b"}) * 0.001`);
    expect(budget).toContain(`group by (model, slo) (${names.events}{slo="latency"}) * 0.05`);
  });

  it("every SLO rule and alert parses with Prometheus' grammar", () => {
    const catalog = alertCatalog({ thresholds: defaultThresholds, models: {}, scrapeIntervalSeconds: 30, slo: spec });
    for (const expr of [...rules.map((r) => r.expr), ...catalog.filter((a) => a.group === "slo" || a.group === "contract").map((a) => a.expr)]) {
      expect(() => metricNamesIn(expr)).not.toThrow();
    }
  });
});

describe("long windows are rate ratios, not averages of ratios", () => {
  // A quiet hour with many failures, then a busy hour with few: the window's true ratio weighs the busy hour.
  const uneven: SloScenario = {
    name: "uneven traffic",
    intervalSeconds: 60,
    phases: [
      { name: "quiet", steps: 60, traffic: { "gpt-7b": { events: 600, errors: 60, clientErrors: 0, slow: 0 }, "llama-70b": healthy } },
      { name: "busy", steps: 60, traffic: { "gpt-7b": { events: 6000, errors: 6, clientErrors: 0, slow: 0 }, "llama-70b": healthy } },
    ],
  };
  const timeline = simulateSlo(uneven, { forSeconds });
  const names = sloRecordedNames(30);

  it("equals the increase between the two ends of the window (each averaged over 5 minutes)", () => {
    const k = 120;
    const counter = (perStep: (step: number) => number) => {
      const x = [0];
      for (let s = 1; s <= k; s++) x.push((x[s - 1] as number) + perStep(s));
      return x;
    };
    const errors = counter((s) => (s <= 60 ? 60 : 6));
    const events = counter((s) => (s <= 60 ? 600 : 6000));
    // Sliding 5m rates over the window [k-2h, k] telescope: the last five samples minus the five before the window.
    const ends = (x: number[]) => [0, 1, 2, 3, 4].reduce((sum, j) => sum + (x[k - j] as number) - (x[Math.max(0, k - 120 - 1 - j)] as number), 0);
    const derived = timeline[k]?.recorded.get(names.ratio("2h"))?.get("gpt-7b/availability");
    expect(derived).toBeCloseTo(ends(errors) / ends(events), 12);
    // The true ratio of the two hours is 6.6/660 = 1%; an average of the 5m ratios would say about 5.5%.
    expect(derived).toBeCloseTo(0.01, 3);
    const fiveMinute = timeline.slice(1, k + 1).map((s) => s.recorded.get(names.ratio("5m"))?.get("gpt-7b/availability") as number);
    expect(fiveMinute.reduce((a, b) => a + b, 0) / fiveMinute.length).toBeGreaterThan(0.05);
  });
});

describe("when the burn-rate alerts fire (the promtool cases check these steps)", () => {
  const [fast, slow] = sloScenarios as [SloScenario, SloScenario];
  const first = (scenario: SloScenario, alert: string, labels: Record<string, string>) => {
    const timeline = simulateSlo(scenario, { spec: sloCaseSpec, forSeconds });
    return timeline.findIndex((s) => s.firing.some((f) => f.alert === alert && Object.entries(labels).every(([k, v]) => (f.labels as Record<string, string>)[k] === v)));
  };

  it("pages 3 minutes after a model starts failing every inference: 1 of 60 minutes already exceeds 14.4 x 0.1%, then `for: 2m`", () => {
    const burnBegins = phaseStart(fast, "burn") - 1;
    expect(first(fast, "InfermeshSloFastBurn", { model: "llama-70b", slo: "availability", long_window: "1h" }) - burnBegins).toBe(3);
  });

  it("pages 46 minutes after every inference of a model turns slow against a 5% budget: 44 of 60 minutes reach 14.4 x 5%", () => {
    const burnBegins = phaseStart(fast, "burn") - 1;
    expect(first(fast, "InfermeshSloFastBurn", { model: "gpt-7b", slo: "latency", long_window: "1h" }) - burnBegins).toBe(46);
  });

  it("never pages on a slow burn, and tickets when the 3-day window has spent 10% of the budget", () => {
    expect(first(slow, "InfermeshSloFastBurn", {})).toBe(-1);
    const burnBegins = phaseStart(slow, "burn") - 1;
    // Availability at 2x its budget: (2 - 0.1) x b > (1 - 0.1) x 3 days, so b > 1.42 days; at 5-minute steps, plus `for: 15m`.
    const availability = first(slow, "InfermeshSloSlowBurn", { model: "gpt-7b", slo: "availability", long_window: "3d" }) - burnBegins;
    expect(availability * 5).toBeGreaterThan(1.42 * 24 * 60);
    expect(availability * 5).toBeLessThan(1.43 * 24 * 60 + 15 + 5);
    // Latency at 4x: the same 10% over 3 days after ~0.74 days, before availability.
    const latency = first(slow, "InfermeshSloSlowBurn", { model: "gpt-7b", slo: "latency", long_window: "3d" }) - burnBegins;
    expect(latency).toBeLessThan(availability);
    // gpt-7b's availability burn of 2x never reaches the 1-day pair's 3x.
    expect(first(slow, "InfermeshSloSlowBurn", { model: "gpt-7b", slo: "availability", long_window: "1d" })).toBe(-1);
  });
});

describe("contract readers", () => {
  const ctx: AlertContext = { thresholds: defaultThresholds, models: {}, scrapeIntervalSeconds: 30 };
  const alerts = alertCatalog(ctx);
  const recording = recordingRules(30);
  const dashboards = buildDashboards({ stack: "t", environment: "t", scrapeIntervalSeconds: 30, thresholds: defaultThresholds, models: {} });

  it("finds the same series in every query as Prometheus' grammar does", () => {
    const vocabulary = new Set([...Object.keys(metrics).flatMap((m) => [m, `${m}_bucket`, `${m}_sum`, `${m}_count`]), ...recording.map((r) => r.record)]);
    const queries = [
      ...alerts.map((a) => a.expr),
      ...recording.map((r) => r.expr),
      ...dashboardQueries(dashboards)
        .filter((q) => !q.reader.startsWith("variable "))
        .map((q) => grafanaToPromql(q.expr, { rateInterval: "1m", range: "6h", interval: "30s" })),
    ];
    expect(queries.length).toBeGreaterThan(60);
    for (const expr of queries) expect([...namesIn(expr, vocabulary)].sort(), expr).toEqual([...metricNamesIn(expr)].filter((n) => vocabulary.has(n)).sort());
  });

  it("ignores names inside strings", () => {
    expect([...namesIn('label_replace(up, "metric", "infermesh_inferences_total", "", "")', new Set(["up", "infermesh_inferences_total"]))]).toEqual(["up"]);
  });

  it("names what reads the router request counter: the rejection alert, the hedge panel and the tenant variable", () => {
    const readers = contractReaders({ alerts: alerts.filter((a) => a.name !== "InfermeshContractMetricAbsent"), recording, dashboards });
    expect(readers.infermesh_router_requests_total.alerts).toEqual(["InfermeshAdmissionRejectionsHigh"]);
    expect(readers.infermesh_router_requests_total.panels).toEqual(["Router Behavior / Hedge Effectiveness", "variable tenant"]);
    expect(readers.infermesh_inference_errors_total.alerts).toEqual(["InfermeshErrorRateHigh", "InfermeshSloFastBurn", "InfermeshSloSlowBurn"]);
    expect(readers.infermesh_inference_errors_total.panels).toContain("SLOs / Burn Rate per Window");
    expect(readers.infermesh_inference_errors_total.panels).toContain("Per-Model Drilldown / Error Rate by Model");
  });

  it("checks every contract metric a scraped exporter serves, and the bucket each latency target reads", () => {
    const checks = contractAbsenceChecks({ ...ctx, slo: { ...defaultSloSpec, models: { "llama-70b": { latencyTargetMs: 5000 } } } });
    const served = Object.keys(metrics).filter((m) => metrics[m as keyof typeof metrics].source !== "prometheus");
    expect(checks.map((c) => c.metric)).toEqual([...served, 'infermesh_inference_latency_bucket{le="2000"}', 'infermesh_inference_latency_bucket{le="5000"}']);
    expect(checks.find((c) => c.metric === "DCGM_FI_DEV_GPU_UTIL")?.gate).toBe('count(DCGM_FI_DEV_FB_TOTAL{mig_profile=""}) > 0');
    expect(checks.find((c) => c.metric === "infermesh_router_hedge_wins_total")).toMatchObject({ exposedBy: "router", gate: 'count(up{job=~"monitoring/infermesh-.+"} == 1) > 0' });
    const bucket = checks.find((c) => c.metric === 'infermesh_inference_latency_bucket{le="5000"}');
    expect(bucket?.readers.alerts).toEqual(["InfermeshSloFastBurn", "InfermeshSloSlowBurn"]);
    expect(bucket?.readers.panels).toContain("SLOs / Objectives, SLI and Error Budget");
  });
});

describe("SLO configuration", () => {
  /** A config valid in every environment. */
  function rawFor(environment: EnvironmentKind, extra: Record<string, unknown> = {}) {
    const raw = { ...baseRaw(), environment, ...extra } as Record<string, any>;
    raw.gpuPools.l4.scaling = { min: 1, desired: 1, max: 4 };
    if (environment === "ephemeral") raw.expiresAt = "2026-01-02T00:00:00Z";
    return raw;
  }

  it.each([
    ["dev", { window: "30d", availabilityPercent: 99, latencyPercent: 95, latencyTargetMs: 2000 }],
    ["staging", { window: "30d", availabilityPercent: 99, latencyPercent: 95, latencyTargetMs: 2000 }],
    ["prod", { window: "30d", availabilityPercent: 99.5, latencyPercent: 95, latencyTargetMs: 2000 }],
    ["ephemeral", { window: "30d", availabilityPercent: 99, latencyPercent: 95, latencyTargetMs: 2000 }],
  ] as const)("%s promises its defaults to every model", (environment, expected) => {
    const { window, ...defaults } = expected;
    expect(parse(rawFor(environment)).slo).toEqual({ window, defaults, models: {} });
  });

  it("has defaults for every environment kind, each able to page and a bucket bound", () => {
    expect(Object.keys(sloDefaults).sort()).toEqual([...environmentKinds].sort());
    for (const d of Object.values(sloDefaults)) {
      for (const percent of [d.availabilityPercent, d.latencyPercent]) expect(percent).toBeGreaterThan(minimumObjectivePercent(d.window));
      expect(latencyBucketBoundsMs).toContain(d.latencyTargetMs);
    }
  });

  it("takes infermesh:slo over the environment and each model's own over both", () => {
    const config = parse(
      rawFor("prod", {
        slo: { window: "28d", latencyPercent: 99 },
        models: { "gpt-7b": { queueDepthMax: 50, slo: { availabilityPercent: 99.9, latencyTargetMs: 1000 } }, "llama-70b": { latencyP95MaxMs: 6000 } },
      }),
    );
    expect(config.slo).toEqual({
      window: "28d",
      defaults: { availabilityPercent: 99.5, latencyPercent: 99, latencyTargetMs: 2000 },
      models: { "gpt-7b": { availabilityPercent: 99.9, latencyTargetMs: 1000 } },
    });
  });

  it("keeps one SLO window of data in the in-cluster Prometheus unless retention is set", () => {
    expect(parse(rawFor("dev")).telemetry.retention).toBe("30d");
    expect(parse(rawFor("dev", { slo: { window: "28d" } })).telemetry.retention).toBe("28d");
    expect(parse(rawFor("dev", { telemetry: { retention: "90d" } })).telemetry.retention).toBe("90d");
    // With AMP the rules run on AMP's data (kept 150 days); the local Prometheus only buffers.
    expect(parse(rawFor("dev", { telemetry: { backend: "amp", retention: "7d" } })).telemetry.retention).toBe("7d");
  });

  it("delivers the stack's objectives to the alerts, the rules and the dashboards", async () => {
    const config = parse(rawFor("dev", { models: { "gpt-7b": { slo: { availabilityPercent: 99.9 } } } }));
    const { alertingPlan } = await import("../components/alerting.plan");
    const { dashboardsFor } = await import("../components/grafanaContent.plan");
    const rules = alertingPlan(config).groups.flatMap((g) => g.rules);
    const budget = rules.find((r) => "record" in r && r.record === "model:infermesh_slo_error_budget:ratio");
    expect(budget?.expr).toContain('{slo="availability", model=~"gpt-7b"}) * 0.001');
    expect(budget?.expr).toContain('{slo="availability", model!~"gpt-7b"}) * 0.01');
    const summary = JSON.stringify(dashboardsFor(config).slo);
    expect(summary).toContain("model:infermesh_slo_errors:ratio_rate30d");
  });
});

describe("SLO dashboard and the Per-Model Drilldown row", () => {
  const spec: SloSpec = { window: "28d", defaults: { availabilityPercent: 99.5, latencyPercent: 95, latencyTargetMs: 2000 }, models: { "llama-70b": { latencyTargetMs: 5000 } } };
  const built = buildDashboards({ stack: "ci", environment: "staging", scrapeIntervalSeconds: 30, thresholds: defaultThresholds, models: {}, slo: spec });
  const isRow = (p: Panel | RowPanel): p is RowPanel => p.type === "row";
  const panels = (d: Dashboard) => (d.panels ?? []).filter((p): p is Panel => !isRow(p));
  const panel = (d: Dashboard, title: string) => {
    const found = panels(d).find((p) => p.title === title);
    if (!found) throw new Error(`no panel ${title}`);
    return found;
  };
  const exprs = (p: Panel) => ((p.targets ?? []) as unknown as Array<{ expr: string; legendFormat: string }>).map((t) => [t.legendFormat, t.expr]);
  const names = sloRecordedNames(30);

  it("shows each model's objective, SLI over the SLO window and error budget remaining", () => {
    const summary = panel(built.slo, "Objectives, SLI and Error Budget");
    expect(summary.type).toBe("table");
    expect(exprs(summary)).toEqual([
      ["objective", `1 - ${names.budget}{model=~"$model"}`],
      ["SLI (28d)", `1 - ${names.ratio("28d")}{model=~"$model"}`],
      ["error budget remaining", `1 - ${names.ratio("28d")}{model=~"$model"} / on (model, slo) ${names.budget}{model=~"$model"}`],
    ]);
    expect(summary.fieldConfig?.defaults.unit).toBe("percentunit");
    expect(summary.description).toContain("2000 ms (llama-70b: 5000 ms)");
  });

  it("shows the burn rate over every alert window, coloured at each window's ticket and page factors", () => {
    const burn = panel(built.slo, "Burn Rate per Window");
    expect(exprs(burn).map(([legend]) => legend)).toEqual(["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
    const steps = Object.fromEntries(
      (burn.fieldConfig?.overrides ?? []).map((o) => [
        String(o.matcher.options),
        ((o.properties[0]?.value as { steps?: Threshold[] } | undefined)?.steps ?? []).map((t) => [t.color, t.value]),
      ]),
    );
    // Over 28 days: pages at 13.44 (1h/5m) and 5.6 (6h/30m), tickets at 2.8 (1d/2h) and 0.9333 (3d/6h).
    expect(steps).toEqual({
      "5m": [
        ["green", null],
        ["red", 13.44],
      ],
      "30m": [
        ["green", null],
        ["red", 5.6],
      ],
      "1h": [
        ["green", null],
        ["red", 13.44],
      ],
      "2h": [
        ["green", null],
        ["orange", 2.8],
      ],
      "6h": [
        ["green", null],
        ["orange", 0.9333],
        ["red", 5.6],
      ],
      "1d": [
        ["green", null],
        ["orange", 2.8],
      ],
      "3d": [
        ["green", null],
        ["orange", 0.9333],
      ],
    });
  });

  it("adds a service-levels row to the Per-Model Drilldown, linking to the SLOs dashboard", () => {
    const rows = (built.modelDrilldown.panels ?? []).filter(isRow).map((r) => r.title);
    expect(rows).toContain("Service levels");
    const remaining = panel(built.modelDrilldown, "Error Budget Remaining");
    expect(exprs(remaining)).toEqual([["{{model}} {{slo}}", `1 - ${names.ratio("28d")}{model=~"$model"} / on (model, slo) ${names.budget}{model=~"$model"}`]]);
    const links = (remaining.fieldConfig?.defaults.links ?? []) as Array<{ url?: string }>;
    expect(links.map((l) => l.url?.startsWith(`/d/${dashboardUid("ci", "slo")}?var-model=`))).toEqual([true]);
  });
});
