/**
 * The dev and prod stacks against a real Prometheus (verify/run.ts): the
 * synthetic fleet scraped through each stack's own scrape configuration, its
 * recording and alert rule groups loaded, every dashboard query and the seed's
 * queries checked, every scenario played. The two stacks run side by side,
 * each with its scenarios in one Prometheus. Prometheus evaluates the rules in
 * both (prod's evaluator is AMP, dev's is Grafana: same expressions).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { alertingPlan } from "../components/alerting.plan";
import type { StackConfig } from "../config";
import { dashboardsFor } from "../components/grafanaContent.plan";
import { seedAlerts, seedPanels } from "../dashboards/seed";
import { scenarioNames, scenarios, type ScenarioName } from "../sim/scenarios";
import { requireBinary } from "../verify/prometheus";
import { formatReport, loadStackConfig, runVerification, type VerificationReport } from "../verify/run";

const stacks = ["dev", "prod"] as const;
type Stack = (typeof stacks)[number];

/** The scenarios the issues ask for; none may be skipped. */
const required: readonly ScenarioName[] = [
  "vram-near-oom",
  "queue-spike",
  "latency-breach",
  "node-down",
  "ecc-double-bit",
  "thermal-throttling",
  "dcgm-exporter-gone",
  "slo-slow-burn",
  "slo-fast-burn",
  "contract-metric-gone",
];

const configs = new Map<Stack, StackConfig>();
const reports = new Map<Stack, VerificationReport>();

beforeAll(async () => {
  // A missing binary fails every test here with the package to install; nothing is skipped.
  requireBinary("prometheus");
  // The mock runtime holds one stack's config at a time: load them in turn, then verify both at once.
  for (const stack of stacks) configs.set(stack, await loadStackConfig(stack));
  const done = await Promise.all(stacks.map((stack) => runVerification(configs.get(stack) as StackConfig)));
  done.forEach((report, i) => reports.set(stacks[i] as Stack, report));
}, 210_000);

function report(stack: Stack): VerificationReport {
  const r = reports.get(stack);
  if (!r) throw new Error(`no verification report for ${stack}`);
  return r;
}

describe.each(stacks)("%s stack against a real Prometheus", (stack) => {
  it("scrapes every fleet target through the stack's scrape jobs, and nothing else", () => {
    const r = report(stack);
    expect(r.targets.length, formatReport(r)).toBe(r.fleet.targets);
    expect(r.targets.filter((t) => !t.ok)).toEqual([]);
  });

  it("every panel query of every dashboard returns data with the labels its legend and grouping name", () => {
    const r = report(stack);
    const dashboards = Object.values(dashboardsFor(configs.get(stack) as StackConfig)) as Array<{
      title: string;
      panels?: Array<{ targets?: unknown[]; panels?: Array<{ targets?: unknown[] }> }>;
    }>;
    const targets = dashboards.flatMap((d) => (d.panels ?? []).flatMap((p) => [...(p.targets ?? []), ...(p.panels ?? []).flatMap((q) => q.targets ?? [])]));
    expect(r.panels.length).toBe(targets.length);
    expect(new Set(r.panels.map((p) => p.dashboard))).toEqual(new Set(dashboards.map((d) => d.title)));
    expect(
      r.panels.filter((p) => !p.ok).map((p) => ({ panel: `${p.dashboard} / ${p.panel} ${p.refId}`, series: p.series, missing: p.missingLabels, error: p.error, query: p.query })),
      formatReport(r),
    ).toEqual([]);
  });

  it("every dashboard variable lists values at All", () => {
    const r = report(stack);
    expect(r.variables.length).toBeGreaterThan(0);
    expect(r.variables.filter((v) => !v.ok)).toEqual([]);
  });

  it("the seed's ten panel queries return data, verbatim", () => {
    const r = report(stack);
    expect(r.seedPanels.map((p) => p.expr)).toEqual(seedPanels.map((p) => p.expr));
    expect(
      r.seedPanels.filter((p) => !p.ok),
      formatReport(r),
    ).toEqual([]);
  });

  it("the seed's four alert expressions return data, verbatim, in the scenario that triggers them", () => {
    const r = report(stack);
    expect(r.seedAlerts.map((a) => a.expr).sort()).toEqual(seedAlerts.map((a) => a.expr).sort());
    for (const row of r.seedAlerts) expect(row.scenario && scenarios[row.scenario].alerts, row.title).toContain(row.alert);
    expect(
      r.seedAlerts.filter((a) => !a.ok),
      formatReport(r),
    ).toEqual([]);
  });

  it("every recording rule returns data", () => {
    const r = report(stack);
    expect(r.recording.length).toBe(alertingPlan(configs.get(stack) as StackConfig).groups.flatMap((g) => g.rules.filter((rule) => "record" in rule)).length);
    expect(r.recording.filter((x) => !x.ok)).toEqual([]);
  });

  it("every contract metric is stored, with its contract labels and no relabeling leftovers", () => {
    const r = report(stack);
    expect(r.contract.filter((x) => !x.ok)).toEqual([]);
  });

  it("every rule evaluates without error", () => {
    expect(report(stack).ruleHealth).toEqual([]);
  });

  it("the healthy fleet raises no alert", () => {
    const r = report(stack);
    const healthy = r.scenarios.find((s) => s.name === "healthy");
    expect(healthy?.unexpected, formatReport(r)).toEqual([]);
    expect(healthy?.ok).toBe(true);
  });

  it.each(scenarioNames.filter((n) => n !== "healthy"))("scenario %s raises exactly its expected alerts", (name) => {
    const r = report(stack);
    const row = r.scenarios.find((s) => s.name === name);
    expect(row, `${name} did not run`).toBeDefined();
    if (required.includes(name)) expect(row?.skipped).toBeUndefined();
    if (row?.skipped) return expect(row.skipped).toMatch(/alert catalog has no/);
    expect({ missing: row?.missing, unexpected: row?.unexpected, activeBefore: row?.activeBefore, cleared: row?.cleared }, formatReport(r)).toEqual({
      missing: [],
      unexpected: [],
      activeBefore: [],
      cleared: scenarios[name].clears === "at-once" ? true : undefined,
    });
    // An alert may be raised for several entities (both SLIs of a model, each window pair): each name once here.
    expect([...new Set(row?.raised.map((a) => a.alertname))].sort()).toEqual([...scenarios[name].alerts].sort());
    expect(row?.ok).toBe(true);
  });

  it("a slow burn opens SLO tickets for both SLIs of the model and no SLO page; a fast burn pages for both", () => {
    const r = report(stack);
    const raised = (name: ScenarioName) =>
      (r.scenarios.find((s) => s.name === name)?.raised ?? []).filter((a) => a.alertname.startsWith("InfermeshSlo")).map((a) => `${a.alertname} ${a.labels.model} ${a.labels.slo}`);
    expect(new Set(raised("slo-slow-burn"))).toEqual(new Set(["InfermeshSloSlowBurn qwen-14b availability", "InfermeshSloSlowBurn qwen-14b latency"]));
    expect(new Set(raised("slo-fast-burn"))).toEqual(
      new Set([
        "InfermeshSloFastBurn phi-3-mini availability",
        "InfermeshSloFastBurn phi-3-mini latency",
        "InfermeshSloSlowBurn phi-3-mini availability",
        "InfermeshSloSlowBurn phi-3-mini latency",
      ]),
    );
    // Every window pair, since the model's whole history is the burn: the 1h/5m and 6h/30m pages, the 1d/2h and 3d/6h tickets.
    const windows = (name: ScenarioName, alert: string) =>
      new Set((r.scenarios.find((s) => s.name === name)?.raised ?? []).filter((a) => a.alertname === alert).map((a) => `${a.labels.long_window}/${a.labels.short_window}`));
    expect(windows("slo-fast-burn", "InfermeshSloFastBurn")).toEqual(new Set(["1h/5m", "6h/30m"]));
    expect(windows("slo-slow-burn", "InfermeshSloSlowBurn")).toEqual(new Set(["1d/2h", "3d/6h"]));
  });

  it("the missing router request counter raises the absence alert naming the rejection alert and the panels that read it", () => {
    const r = report(stack);
    const alert = r.scenarios.find((s) => s.name === "contract-metric-gone")?.raised.find((a) => a.alertname === "InfermeshContractMetricAbsent");
    expect(alert?.labels).toMatchObject({
      metric: "infermesh_router_requests_total",
      exposed_by: "router",
      read_by_alerts: "InfermeshAdmissionRejectionsHigh",
      read_by_panels: "Router Behavior / Hedge Effectiveness, variable tenant",
    });
  });

  it("lists, per contract metric, the alerts and panels that read it", () => {
    const r = report(stack);
    const row = (metric: string) => r.contract.find((x) => x.metric === metric);
    expect(row("infermesh_router_cancellations_total")).toMatchObject({ exposedBy: "router", readByAlerts: [], readByPanels: ["Router Behavior / Cancellations by Reason"] });
    expect(row("infermesh_inference_errors_total")?.readByAlerts).toEqual(["InfermeshErrorRateHigh", "InfermeshSloFastBurn", "InfermeshSloSlowBurn"]);
    expect(r.contract.every((x) => x.readByAlerts.length + x.readByPanels.length > 0)).toBe(true);
  });

  it("passes as a whole", () => {
    const r = report(stack);
    expect(r.failures, formatReport(r)).toEqual([]);
  });
});
