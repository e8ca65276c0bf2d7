import type { DataSourceRef } from "@grafana/grafana-foundation-sdk/common";
import type { Dashboard, DashboardLink, Panel, RowPanel, Threshold } from "@grafana/grafana-foundation-sdk/dashboard";
import { parser } from "@prometheus-io/lezer-promql";
import { catalogKeysOf, panelsOf } from "../lib/dashboardJson";
import { descendants, grafanaToPromql, labelNameText as labelName, servedOperands, substituteVariables, syntaxErrors, variablesIn, type SyntaxNode } from "../lib/promql";
import { describe, expect, it } from "vitest";
import { alertCatalog } from "../alerts/catalog";
import { defaultThresholds } from "../monitoring/thresholds";
import { seedDescriptions } from "../dashboards/common";
import { dashboardKeys, dashboardUid, type DashboardContext } from "../dashboards/context";
import { buildDashboards, dashboardTitles } from "../dashboards/index";
import { contractLabels, metricOfSeries, metrics } from "../monitoring/metrics";
import { filterVariables, panelQueries, queryContext, switchLabel, type PanelKey, type PanelQuery } from "../monitoring/queries";
import { rateWindow, recordingRules } from "../monitoring/recording";
import { seedAlerts, seedPanels, type DashboardKey } from "../dashboards/seed";
import { sloRecordedNames } from "../monitoring/slo";
import { alertPanels, runbookUrl, type AlertWithPanels } from "../monitoring/runbooks";
import { headroomLimit } from "../dashboards/gpuHealth";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// ---------------------------------------------------------------------------
// Context: the seed's alert examples supply the thresholds to check against.

function seedAlertExpr(alert: string): string {
  const seed = seedAlerts.find((a) => a.alert === alert);
  if (!seed) throw new Error(`no seed alert ${alert}`);
  return seed.expr;
}
const limitIn = (expr: string) => Number(/>\s*([0-9.e+-]+)\s*\)?\s*$/.exec(expr)?.[1]);
const seedQueueModel = /model="([^"]+)"/.exec(seedAlertExpr("InfermeshHighQueueDepth"))?.[1] ?? "";

const ctx: DashboardContext = {
  stack: "ci",
  environment: "staging",
  scrapeIntervalSeconds: 30,
  thresholds: defaultThresholds,
  models: {
    // The seed's `avg(infermesh_model_queue_depth{model="gpt-7b"}) > 50`.
    [seedQueueModel]: { queueDepthMax: limitIn(seedAlertExpr("InfermeshHighQueueDepth")) },
    // A name with regex metacharacters, and a model with only a latency limit.
    "llama-3.1-70b": { latencyP95MaxMs: 4000 },
    "mixtral-8x7b": {},
  },
};
const built = buildDashboards(ctx);
const catalog = panelQueries(queryContext(rateWindow(ctx.scrapeIntervalSeconds)));
const panelKeys = Object.keys(catalog) as PanelKey[];

// ---------------------------------------------------------------------------
// Dashboard JSON helpers

interface Target {
  expr: string;
  refId?: string;
  legendFormat?: string;
  format?: string;
  datasource?: DataSourceRef;
}

const isRow = (p: Panel | RowPanel): p is RowPanel => p.type === "row";
const targetsOf = (p: Panel) => (p.targets ?? []) as unknown as Target[];
const stepsOf = (p: Panel): Threshold[] => p.fieldConfig?.defaults.thresholds?.steps ?? [];
const redAt = (steps: readonly Threshold[]) => steps.find((s) => s.color === "red")?.value;
const dataLinksOf = (p: Panel): DashboardLink[] => (p.fieldConfig?.defaults.links ?? []) as DashboardLink[];

/** The catalog keys whose queries a panel runs (exactly one when the dashboard is right). */
function keysOf(p: Panel): PanelKey[] {
  return catalogKeysOf(
    targetsOf(p).map((t) => t.expr),
    catalog,
  );
}

function panelOf(key: PanelKey, dashboards: Record<DashboardKey, Dashboard> = built): { panel: Panel; dashboard: DashboardKey } {
  for (const dashboard of dashboardKeys) {
    const panel = panelsOf(dashboards[dashboard]).find((p) => keysOf(p).includes(key));
    if (panel) return { panel, dashboard };
  }
  throw new Error(`no panel runs the queries of \`${key}\``);
}

const allPanels = dashboardKeys.flatMap((dashboard) => panelsOf(built[dashboard]).map((panel) => ({ dashboard, panel })));
const allTargets = allPanels.flatMap(({ dashboard, panel }) => targetsOf(panel).map((target) => ({ dashboard, panel, target })));

// ---------------------------------------------------------------------------
// PromQL through Prometheus' own parser

const grafanaMacros = ["__rate_interval", "__interval", "__range", "__range_s"];
/** What Grafana sends Prometheus: macros become durations and variables (all values `.*`) become regexes. */
const substituteGrafana = (expr: string): string => grafanaToPromql(expr, { rateInterval: "5m", range: "5m", interval: "5m" });

const children = (node: SyntaxNode): SyntaxNode[] => {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
};
const expressionNodes = new Set([
  "AggregateExpr",
  "BinaryExpr",
  "FunctionCall",
  "MatrixSelector",
  "NumberDurationLiteral",
  "OffsetExpr",
  "ParenExpr",
  "StringLiteral",
  "SubqueryExpr",
  "UnaryExpr",
  "VectorSelector",
  "StepInvariantExpr",
]);
const expressionsIn = (node: SyntaxNode) => children(node).filter((c) => expressionNodes.has(c.name));

interface Selector {
  metric: string | undefined;
  matchedLabels: string[];
}

function selectorOf(source: string, node: SyntaxNode): Selector {
  const identifier = node.getChild("Identifier");
  let metric = identifier ? source.slice(identifier.from, identifier.to) : undefined;
  const matchedLabels: string[] = [];
  for (const matchers of node.getChildren("LabelMatchers")) {
    for (const m of children(matchers)) {
      // `{"metric.name", ...}`: a bare quoted name is the metric.
      if (m.name === "QuotedLabelName") metric = labelName(source, m);
      if (m.name !== "UnquotedLabelMatcher" && m.name !== "QuotedLabelMatcher") continue;
      const nameNode = m.getChild("LabelName") ?? m.getChild("QuotedLabelName");
      if (!nameNode) continue;
      const name = labelName(source, nameNode);
      const op = m.getChild("MatchOp")?.firstChild?.name;
      const value = m.getChild("StringLiteral");
      if (name === "__name__" && op === "EqlSingle" && value) metric = JSON.parse(source.slice(value.from, value.to)) as string;
      else matchedLabels.push(name);
    }
  }
  return { metric, matchedLabels };
}

const rulesByRecord = (scrapeIntervalSeconds: number) => new Map(recordingRules(scrapeIntervalSeconds).map((r) => [r.record, r.expr]));
const ctxRules = rulesByRecord(ctx.scrapeIntervalSeconds);

/** Labels a stored or recorded series carries; undefined if it is neither in the contract nor recorded. */
function seriesLabels(series: string, rules: Map<string, string>): Set<string> | undefined {
  const metric = metricOfSeries(series);
  if (metric) return new Set<string>([...metrics[metric].labels, ...(series.endsWith("_bucket") ? ["le"] : [])]);
  const expr = rules.get(series);
  return expr === undefined ? undefined : (outputLabels(expr, rules) ?? new Set());
}

/**
 * Labels of the series an expression returns, following Prometheus'
 * semantics: `by` keeps its labels, `without` drops them, one-to-one
 * arithmetic keeps the left side's (only the `on` labels, or without the
 * `ignoring` ones), `or` unions, `histogram_quantile` drops `le`. Null for
 * scalars.
 */
function outputLabels(source: string, rules: Map<string, string>): Set<string> | null {
  const labelsOf = (node: SyntaxNode): Set<string> | null => {
    switch (node.name) {
      case "PromQL":
      case "ParenExpr":
      case "UnaryExpr":
      case "OffsetExpr":
      case "SubqueryExpr":
      case "MatrixSelector":
      case "StepInvariantExpr": {
        const inner = expressionsIn(node)[0];
        if (!inner) throw new Error(`empty ${node.name} in ${source}`);
        return labelsOf(inner);
      }
      case "VectorSelector": {
        const { metric } = selectorOf(source, node);
        const labels = metric === undefined ? undefined : seriesLabels(metric, rules);
        if (!labels) throw new Error(`unknown series ${metric ?? "(unnamed)"} in ${source}`);
        return labels;
      }
      case "NumberDurationLiteral":
      case "StringLiteral":
        return null;
      case "AggregateExpr": {
        const body = node.getChild("FunctionCallBody");
        const args = body ? expressionsIn(body) : [];
        const last = args[args.length - 1];
        const input = last ? (labelsOf(last) ?? new Set<string>()) : new Set<string>();
        const modifier = node.getChild("AggregateModifier");
        if (!modifier) return new Set();
        const grouping = descendants(modifier, "LabelName").map((n) => labelName(source, n));
        return modifier.getChild("By") ? new Set(grouping) : new Set([...input].filter((l) => !grouping.includes(l)));
      }
      case "FunctionCall": {
        const name = source.slice(node.firstChild?.from ?? 0, node.firstChild?.to ?? 0);
        const body = node.getChild("FunctionCallBody");
        const args = body ? expressionsIn(body) : [];
        const vectors = args.map(labelsOf).filter((l): l is Set<string> => l !== null);
        const labels = new Set(vectors.flatMap((l) => [...l]));
        if (name === "histogram_quantile") labels.delete("le");
        // label_replace(v, "dst", ...) adds its destination label.
        const dst = args[1];
        if ((name === "label_replace" || name === "label_join") && dst?.name === "StringLiteral") labels.add(JSON.parse(source.slice(dst.from, dst.to)) as string);
        return labels;
      }
      case "BinaryExpr": {
        const operands = expressionsIn(node);
        const [left, right] = [operands[0], operands[operands.length - 1]];
        if (!left || !right) throw new Error(`incomplete binary expression in ${source}`);
        const l = labelsOf(left);
        const r = labelsOf(right);
        if (l === null) return r;
        if (r === null) return l;
        if (node.getChild("Or")) return new Set([...l, ...r]);
        if (node.getChild("And") || node.getChild("Unless")) return l;
        const isComparison = ["Eql", "Neq", "Gtr", "Lss", "Gte", "Lte"].some((op) => node.getChild(op));
        if (isComparison && !node.getChild("BoolModifier")) return l;
        const matching = node.getChild("MatchingModifierClause");
        if (!matching) return l;
        const [matchLabels, extra] = matching.getChildren("GroupingLabels").map((g) => descendants(g, "LabelName").map((n) => labelName(source, n)));
        if (matching.getChild("GroupLeft") || matching.getChild("GroupRight")) return new Set([...l, ...(extra ?? [])]);
        if (matching.getChild("On")) return new Set([...l].filter((x) => matchLabels?.includes(x)));
        return new Set([...l].filter((x) => !matchLabels?.includes(x)));
      }
      default:
        throw new Error(`unhandled ${node.name} in ${source}`);
    }
  };
  return labelsOf(parser.parse(source).topNode);
}

/**
 * Contract violations of one query: series that are neither contract metrics
 * nor recording rules, and labels filtered or grouped by that are neither
 * contract labels, nor labels of the series involved, nor `le`.
 */
function contractViolations(expr: string, rules: Map<string, string>): string[] {
  const source = substituteGrafana(expr);
  const top = parser.parse(source).topNode;
  const problems: string[] = [];
  const allowedFor = (series: readonly (string | undefined)[]) =>
    new Set<string>([...contractLabels, "le", ...series.flatMap((s) => (s === undefined ? [] : [...(seriesLabels(s, rules) ?? [])]))]);

  for (const node of descendants(top, "VectorSelector")) {
    const { metric, matchedLabels } = selectorOf(source, node);
    if (metric === undefined || seriesLabels(metric, rules) === undefined) {
      problems.push(`reads ${metric ?? "an unnamed selector"}, which is neither in the metric contract nor a recording rule`);
      continue;
    }
    // Stricter than the contract: a filter on a label the series lacks silently matches nothing
    // once a value is chosen (e.g. `node` on a recorded series that aggregated it away).
    // The switch between a coarse and a fine series (`coarseAtAll`) is on a label no series carries, on purpose.
    const own = new Set<string>(["le", switchLabel, ...(seriesLabels(metric, rules) ?? [])]);
    for (const label of matchedLabels) if (!own.has(label)) problems.push(`filters ${metric} by ${label}, a label it does not carry`);
  }
  for (const grouping of descendants(top, "GroupingLabels")) {
    // `by (...)` belongs to an aggregation, `on (...)`/`group_left (...)` to a binary operation.
    const scope = grouping.parent?.parent;
    if (!scope) continue;
    const series = descendants(scope, "VectorSelector").map((n) => selectorOf(source, n).metric);
    const allowed = allowedFor(series);
    for (const n of descendants(grouping, "LabelName")) {
      const label = labelName(source, n);
      if (!allowed.has(label)) problems.push(`groups by ${label}, which none of ${series.join(", ")} carries`);
    }
  }
  return problems;
}

describe("panel queries parse with Prometheus' parser", () => {
  it("has queries to check", () => {
    expect(allTargets.length).toBeGreaterThanOrEqual(panelKeys.length);
  });

  it.each(allTargets.map(({ dashboard, panel, target }) => [dashboard, panel.title, target.refId, target.expr]))("%s › %s › %s", (_d, _p, _r, expr) => {
    expect(expr).toMatch(/\S/);
    expect(syntaxErrors(substituteGrafana(expr as string))).toEqual([]);
  });

  it("accepts the seed's own queries (the check is not rejecting everything)", () => {
    for (const seed of seedPanels) expect(syntaxErrors(seed.expr), seed.title).toEqual([]);
  });

  it.each([
    ['sum by (model (rate(infermesh_inferences_total{model=~"$model"}[$__rate_interval]))'],
    ["rate(infermesh_inferences_total[$__rate_interval]"],
    ['sum(rate(infermesh_inferences_total{model=~"$model"}[$__rate_interval])) by'],
    ["histogram_quantile(0.95, sum by (le) (infermesh_inference_latency_bucket)))"],
    // A variable outside quotes is not a label value.
    ["infermesh_inferences_total{model=~$model}"],
    // A Grafana macro that is not a duration where a duration belongs.
    ["rate(infermesh_inferences_total[$__interval_ms])"],
    [""],
  ])("catches the malformed query %j", (expr) => {
    expect(syntaxErrors(substituteGrafana(expr))).not.toEqual([]);
  });

  it("uses only the dashboard's variables and Grafana's duration macros", () => {
    for (const { dashboard, panel, target } of allTargets) {
      const defined = (built[dashboard].templating.list ?? []).map((v) => v.name);
      for (const name of variablesIn(target.expr)) expect([...defined, ...grafanaMacros], `${panel.title}: $${name}`).toContain(name);
    }
  });
});

describe("panel queries keep to the metric and label contracts", () => {
  it.each([15, 30, 45])("reads only contract metrics, recorded series and their labels at a %ss scrape interval", (scrapeIntervalSeconds) => {
    const dashboards = buildDashboards({ ...ctx, scrapeIntervalSeconds });
    const rules = rulesByRecord(scrapeIntervalSeconds);
    const problems = dashboardKeys.flatMap((d) =>
      panelsOf(dashboards[d]).flatMap((p) => targetsOf(p).flatMap((t) => contractViolations(t.expr, rules).map((problem) => `${d} › ${p.title ?? ""}: ${problem}`))),
    );
    expect(problems).toEqual([]);
  });

  it.each([
    ['sum by (model) (infermesh_not_a_metric{model=~"$model"})', "reads infermesh_not_a_metric"],
    ["sum by (pod_name) (infermesh_inferences_total)", "groups by pod_name"],
    ['DCGM_FI_DEV_GPU_UTIL{Hostname=~"$node"}', "filters DCGM_FI_DEV_GPU_UTIL by Hostname"],
    ["model:infermesh_inferences:rate9m", "reads model:infermesh_inferences:rate9m"],
  ])("flags %j", (expr, problem) => {
    expect(contractViolations(expr, ctxRules).join("\n")).toContain(problem);
  });

  it("derives recorded series' labels from their rules", () => {
    const r = queryContext(rateWindow(ctx.scrapeIntervalSeconds)).recorded;
    expect(seriesLabels(r.gpuUtilization, ctxRules)).toEqual(new Set(metrics.DCGM_FI_DEV_GPU_UTIL.labels));
    expect(seriesLabels(r.latencyBuckets, ctxRules)?.has("le")).toBe(true);
    expect(seriesLabels(r.latencyP95, ctxRules)?.has("le")).toBe(false);
    expect(seriesLabels(r.queueDepth, ctxRules)).toEqual(new Set(["model"]));
    // SLO series: one per model and SLI, every window alike.
    const slo = sloRecordedNames(ctx.scrapeIntervalSeconds);
    for (const name of [slo.errors, slo.events, slo.budget, slo.ratio("5m"), slo.ratio("1h"), slo.ratio("30d")])
      expect(seriesLabels(name, ctxRules), name).toEqual(new Set(["model", "slo"]));
  });
});

describe("dashboard contents", () => {
  it("shows every catalog panel exactly once, and nothing else", () => {
    for (const { dashboard, panel } of allPanels) expect(keysOf(panel), `${dashboard} › ${panel.title ?? ""}`).toHaveLength(1);
    const shown = allPanels.flatMap(({ panel }) => keysOf(panel));
    expect([...shown].sort()).toEqual([...panelKeys].sort());
  });

  it.each(dashboardKeys)("%s has its seed panels with the seed's titles and panel types, and no other dashboard's", (key) => {
    const panels = panelsOf(built[key]);
    for (const seed of seedPanels) {
      const found = panels.filter((p) => p.title === seed.title);
      if (seed.dashboard !== key) {
        expect(found, `seed panel ${seed.number} belongs on ${seed.dashboard}`).toEqual([]);
        continue;
      }
      expect(found, seed.title).toHaveLength(1);
      const [panel] = found;
      expect(panel?.type).toBe(seed.panelType);
      expect(panel && keysOf(panel)).toEqual([seed.panel]);
      expect(panel?.description?.startsWith(seedDescriptions[seed.number] ?? "\0")).toBe(true);
    }
  });

  it("places panels on the dashboards of the seed's layout with the units asked for", () => {
    const expected: Partial<Record<PanelKey, [DashboardKey, string]>> = {
      fleetGpuUtilization: ["overview", "percent"],
      totalThroughput: ["overview", "reqps"],
      fleetLatency: ["overview", "ms"],
      latencyP95ByModel: ["modelDrilldown", "ms"],
      latencyHeatmap: ["modelDrilldown", "reqps"],
      errorRateByModel: ["modelDrilldown", "percentunit"],
      gpuUtilization: ["gpuHealth", "percent"],
      vramHeadroom: ["gpuHealth", "percentunit"],
      thermalThrottling: ["gpuHealth", "percentunit"],
      gpuTemperature: ["gpuHealth", "celsius"],
      gpuPower: ["gpuHealth", "watt"],
      hedgeEffectiveness: ["routerBehavior", "percentunit"],
      cancellationsByReason: ["routerBehavior", "reqps"],
    };
    for (const [key, [dashboard, unit]] of Object.entries(expected) as [PanelKey, [DashboardKey, string]][]) {
      const found = panelOf(key);
      expect([found.dashboard, found.panel.fieldConfig?.defaults.unit], key).toEqual([dashboard, unit]);
    }
    expect(["stat", "gauge"]).toContain(panelOf("fleetGpuUtilization").panel.type);
  });

  it("draws the heatmap from Prometheus buckets and admission control as stacked bars", () => {
    const heatmap = panelOf("latencyHeatmap").panel;
    expect(heatmap.type).toBe("heatmap");
    expect(targetsOf(heatmap).map((t) => t.format)).toEqual(["heatmap"]);
    expect(heatmap.options).toMatchObject({ calculate: false, yAxis: { unit: "ms" } });

    const rejections = panelOf("rejectionsByReason").panel;
    expect(rejections.fieldConfig?.defaults.custom).toMatchObject({ drawStyle: "bars", stacking: { mode: "normal" } });
  });

  it("labels GPU utilization and VRAM series with their MIG profile and instance, joined into `mig`", () => {
    for (const key of ["gpuUtilization", "vramHeadroom"] as const) {
      for (const t of targetsOf(panelOf(key).panel)) {
        expect(t.legendFormat, key).toContain("{{mig}}");
        // Each side of the switch between a node-level and a per-GPU series (`coarseAtAll`), at All and with values picked.
        for (const values of [{}, { node: "n1" }] as Record<string, string>[]) {
          for (const side of servedOperands(substituteGrafana(substituteVariables(t.expr, values))))
            expect(side, key).toMatch(/^label_join\(.*, "mig", " ", "mig_profile", "mig_instance"\)$/);
        }
      }
    }
  });

  it("plots VRAM headroom (1 - used ratio) under the title VRAM Headroom, red below 1 - the near-OOM limit", () => {
    const { panel } = panelOf("vramHeadroom");
    expect(panel.title).toBe("VRAM Headroom");
    const [target] = targetsOf(panel);
    const rules = rulesByRecord(ctx.scrapeIntervalSeconds);
    const recorded = [...rules.entries()].find(([, expr]) => expr === "DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL")?.[0];
    expect(recorded).toBeDefined();
    // The argument of label_join is the complement of the used ratio.
    expect(target?.expr).toContain(`(1 - max by (gpu_uuid, gpu, mig_profile, mig_instance, node) (${recorded}{`);
    expect(stepsOf(panel)).toEqual([
      { value: null, color: "red" },
      { value: 0.1, color: "green" },
    ]);
    expect(headroomLimit(0.9)).toBe(0.1);
    expect(headroomLimit(0.85)).toBe(0.15);
  });

  it("shows thermal throttling beside the ECC errors in the panel titled for both", () => {
    const { panel } = panelOf("eccErrors");
    expect(panel.title).toBe("ECC Errors / Thermal Throttling");
    const thermal = targetsOf(panel).filter((t) => t.expr.includes("DCGM_FI_DEV_THERMAL_VIOLATION"));
    expect(thermal).toHaveLength(1);
    const [column] = thermal;
    // Nanoseconds throttled over the range (the counter's two ends) per second of the range: the share spent throttled.
    expect(column?.expr).toMatch(
      /^max by \(gpu_uuid, node\) \(clamp_min\(DCGM_FI_DEV_THERMAL_VIOLATION\{[^}]*\} - DCGM_FI_DEV_THERMAL_VIOLATION\{[^}]*\} offset \$__range, 0\) or DCGM_FI_DEV_THERMAL_VIOLATION\{[^}]*\}\) \/ 1e9 \/ \$__range_s$/,
    );
    const override = (panel.fieldConfig?.overrides ?? []).find((o) => o.matcher.options === column?.legendFormat);
    expect(override?.properties.find((p) => p.id === "unit")?.value).toBe("percentunit");
    expect(redAt((override?.properties.find((p) => p.id === "thresholds")?.value as { steps: Threshold[] } | undefined)?.steps ?? [])).toBe(ctx.thresholds.thermalThrottleRatioMax);
    // Every column of the merged table is named (a templated legend would leave "Value #E").
    const organize = panel.transformations?.find((t) => t.id === "organize")?.options as { renameByName: Record<string, string> };
    expect(Object.values(organize.renameByName)).toContain(column?.legendFormat);
  });

  it("shows a latency distribution (p50, p95, p99 per model) under the title Latency Distribution", () => {
    const { panel } = panelOf("latencyP95ByModel");
    expect(panel.title).toBe("Latency Distribution");
    expect(targetsOf(panel).map((t) => t.legendFormat)).toEqual(["{{model}} p50", "{{model}} p95", "{{model}} p99"]);
    const exprs = targetsOf(panel).map((t) => t.expr);
    // Each quantile a recorded series per model, so the panel reads one series per model and quantile.
    expect(exprs[0]).toMatch(/^model:infermesh_inference_latency:p50_\w+\{model=~"\$model"\}$/);
    expect(exprs[1]).toMatch(/^model:infermesh_inference_latency:p95_\w+\{model=~"\$model"\}$/);
    expect(exprs[2]).toMatch(/^model:infermesh_inference_latency:p99_\w+\{model=~"\$model"\}$/);
  });

  it("runs each target with the catalog's instant/range and format settings", () => {
    for (const key of panelKeys) {
      const targets = targetsOf(panelOf(key).panel) as (Target & { instant?: boolean; range?: boolean })[];
      catalog[key].forEach((q: PanelQuery, i) => {
        expect(targets[i]?.instant, `${key} ${i}`).toBe(q.instant === true);
        expect(targets[i]?.range, `${key} ${i}`).toBe(q.instant !== true);
        expect(targets[i]?.format, `${key} ${i}`).toBe(q.format ?? "time_series");
        expect(targets[i]?.legendFormat).toBe(q.legend);
      });
    }
  });
});

describe("every panel", () => {
  it.each(allPanels.map(({ dashboard, panel }) => [dashboard, panel.title ?? "", panel]))("%s › %s has a unit, a description and $datasource", (_d, _t, panel) => {
    const p = panel as Panel;
    expect(p.fieldConfig?.defaults.unit).toMatch(/\S/);
    expect(p.description).toMatch(/\S/);
    expect(p.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
    const targets = targetsOf(p);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(t.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
    const refIds = targets.map((t) => t.refId);
    expect(refIds.every((r) => typeof r === "string" && r.length > 0)).toBe(true);
    expect(new Set(refIds).size).toBe(refIds.length);
  });

  it.each(dashboardKeys)("%s lays panels out in rows on the 24-column grid without overlaps", (key) => {
    const items = (built[key].panels ?? []).map((p) => ({ title: p.title, type: p.type, g: p.gridPos }));
    expect(items[0]?.type).toBe("row");
    for (const { title, g } of items) {
      expect(g, title).toBeDefined();
      if (!g) continue;
      expect(g.x >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24, title).toBe(true);
    }
    for (const [i, a] of items.entries()) {
      for (const b of items.slice(i + 1)) {
        if (!a.g || !b.g) continue;
        const overlap = a.g.x < b.g.x + b.g.w && b.g.x < a.g.x + a.g.w && a.g.y < b.g.y + b.g.h && b.g.y < a.g.y + a.g.h;
        expect(overlap, `${a.title} / ${b.title}`).toBe(false);
      }
    }
    // Rows stay expanded with their panels after them: Grafana drops panels nested in an expanded row.
    for (const row of (built[key].panels ?? []).filter(isRow)) expect([row.collapsed, row.panels ?? []]).toEqual([false, []]);
  });
});

describe("variables", () => {
  it.each(dashboardKeys)("%s has $datasource then the filter variables, multi-value with All = .*", (key) => {
    const list = built[key].templating.list ?? [];
    expect(list.map((v) => v.name)).toEqual(["datasource", ...filterVariables]);
    const [source, ...filters] = list;
    expect(source).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const v of filters) {
      expect(v, v.name).toMatchObject({ type: "query", datasource: { type: "prometheus", uid: "${datasource}" }, multi: true, includeAll: true, allValue: ".*", refresh: 2 });
      expect(v.sort, v.name).toBeGreaterThan(0);
      const m = /^label_values\(([A-Za-z_:][\w:]*)(?:\{[^}]*\})?,\s*(\w+)\)$/.exec(String(v.query));
      expect(m, String(v.query)).not.toBeNull();
      const metric = metricOfSeries(m?.[1] ?? "");
      expect(metric, `${v.name} lists values of a contract metric`).toBeDefined();
      expect(m?.[2]).toBe(v.name);
      expect(metric && (metrics[metric].labels as readonly string[]).includes(v.name), `${metric} carries ${v.name}`).toBe(true);
      const earlier = list.slice(0, list.indexOf(v)).map((x) => x.name);
      for (const ref of variablesIn(String(v.query))) expect(earlier, `${v.name} depends on $${ref}`).toContain(ref);
    }
  });
});

describe("thresholds equal the alert thresholds", () => {
  /** The per-model limits of a catalog alert built by `perModelThreshold`, and its default. */
  function alertLimits(name: string, context: DashboardContext): { byModel: Record<string, number>; fallback: number } {
    const alert = alertCatalog(context).find((a) => a.name === name);
    if (!alert) throw new Error(`no alert ${name}`);
    const terms = alert.expr.includes(") or (") ? alert.expr.slice(1, -1).split(") or (") : [alert.expr];
    const byModel: Record<string, number> = {};
    let fallback = Number.NaN;
    for (const term of terms) {
      const model = /model="((?:[^"\\]|\\.)*)"/.exec(term)?.[1];
      if (model === undefined) fallback = limitIn(term);
      else byModel[JSON.parse(`"${model}"`) as string] = limitIn(term);
    }
    return { byModel, fallback };
  }

  const overridesOf = (p: Panel) => p.fieldConfig?.overrides ?? [];
  const overrideLimits = (p: Panel) =>
    overridesOf(p).map((o) => ({ matcher: o.matcher, limit: redAt((o.properties.find((x) => x.id === "thresholds")?.value as { steps: Threshold[] } | undefined)?.steps ?? []) }));

  it("starts from the seed's alert limits", () => {
    expect(defaultThresholds.vramUsedRatioMax).toBe(limitIn(seedAlertExpr("InfermeshGpuNearOom")));
    expect(defaultThresholds.latencyP95MaxMs).toBe(limitIn(seedAlertExpr("InfermeshLatencyP95Breach")));
  });

  it.each([
    ["defaults", ctx],
    [
      "stack overrides",
      { ...ctx, thresholds: { ...defaultThresholds, vramUsedRatioMax: 0.8, latencyP95MaxMs: 1200, queueDepthMax: 30, errorRatioMax: 0.02, thermalThrottleRatioMax: 0.2 } },
    ],
  ] as [string, DashboardContext][])("with %s", (_name, context) => {
    const dashboards = buildDashboards(context);
    const t = context.thresholds;
    const at = (key: PanelKey) => panelOf(key, dashboards).panel;
    // Headroom is red below the free share at which the near-OOM alert fires.
    expect(stepsOf(at("vramHeadroom"))).toEqual([
      { value: null, color: "red" },
      { value: headroomLimit(t.vramUsedRatioMax), color: "green" },
    ]);
    expect(headroomLimit(t.vramUsedRatioMax)).toBeCloseTo(1 - t.vramUsedRatioMax, 9);
    expect(alertCatalog(context).find((a) => a.name === "InfermeshGpuNearOom")?.expr).toMatch(new RegExp(`> ${t.vramUsedRatioMax}$`));
    expect(redAt(stepsOf(at("fleetLatency")))).toBe(t.latencyP95MaxMs);
    expect(redAt(stepsOf(at("errorRateByModel")))).toBe(t.errorRatioMax);
    expect(redAt(stepsOf(at("thermalThrottling")))).toBe(t.thermalThrottleRatioMax);

    // p95 by model: the alert's default and per-model limits, each override matching exactly that model's series.
    const p95 = at("latencyP95ByModel");
    const latency = alertLimits("InfermeshLatencyP95Breach", context);
    expect(redAt(stepsOf(p95))).toBe(latency.fallback);
    const p95Overrides = overrideLimits(p95);
    expect(p95Overrides).toHaveLength(Object.keys(latency.byModel).length);
    const legend = catalog.latencyP95ByModel.find((q) => q.legend.endsWith(" p95"))?.legend ?? "";
    // Only the p95 line turns red at a model's own limit: its p50 and p99 are not what the alert reads.
    for (const other of catalog.latencyP95ByModel.filter((q) => q.legend !== legend))
      for (const model of Object.keys(latency.byModel))
        expect(p95Overrides.some((o) => new RegExp(String(o.matcher.options)).test(other.legend.replace("{{model}}", model)))).toBe(false);
    for (const [model, limit] of Object.entries(latency.byModel)) {
      const matching = p95Overrides.filter((o) => o.matcher.id === "byRegexp" && new RegExp(String(o.matcher.options)).test(legend.replace("{{model}}", model)));
      expect(
        matching.map((o) => o.limit),
        model,
      ).toEqual([limit]);
      const lookalike = legend.replace("{{model}}", model.replace(".", "x"));
      if (lookalike !== legend.replace("{{model}}", model)) expect(p95Overrides.some((o) => new RegExp(String(o.matcher.options)).test(lookalike))).toBe(false);
    }

    // Queue depth: one column per model, each model's column at its own limit.
    const queue = at("queueDepthByModelNode");
    const depth = alertLimits("InfermeshHighQueueDepth", context);
    expect(redAt(stepsOf(queue))).toBe(depth.fallback);
    expect(Object.fromEntries(overrideLimits(queue).map((o) => [String(o.matcher.options), o.limit]))).toEqual(depth.byModel);
    expect(queue.transformations?.map((x) => x.options as unknown)).toContainEqual(expect.objectContaining({ columnField: "model" }));
  });

  it("includes the seed's per-model queue limit", () => {
    expect(seedQueueModel).not.toBe("");
    const queue = panelOf("queueDepthByModelNode").panel;
    expect(overrideLimits(queue)).toContainEqual({ matcher: { id: "byName", options: seedQueueModel }, limit: limitIn(seedAlertExpr("InfermeshHighQueueDepth")) });
  });
});

describe("links", () => {
  const uids = Object.fromEntries(dashboardKeys.map((k) => [k, dashboardUid(ctx.stack, k)])) as Record<DashboardKey, string>;
  const uidOf = (url: string | undefined) => /^\/d\/([^/?]+)/.exec(url ?? "")?.[1];
  const headerLinks = (key: DashboardKey) => built[key].links ?? [];

  it("point only at the stack's dashboards, with variables that exist and labels the series carry", () => {
    for (const key of dashboardKeys) {
      const variables = (built[key].templating.list ?? []).map((v) => v.name);
      for (const l of headerLinks(key)) expect(Object.values(uids)).toContain(uidOf(l.url));
      for (const p of panelsOf(built[key])) {
        const seriesLabelsOfPanel = new Set(targetsOf(p).flatMap((t) => [...(outputLabels(substituteGrafana(t.expr), ctxRules) ?? [])]));
        for (const l of [...((p.links ?? []) as DashboardLink[]).filter((x) => !x.title.startsWith("Runbook: ")), ...dataLinksOf(p)]) {
          expect(Object.values(uids), `${p.title ?? ""}: ${l.url ?? ""}`).toContain(uidOf(l.url));
          for (const [, v] of (l.url ?? "").matchAll(/var-(\w+)=/g)) expect(variables).toContain(v);
          for (const [, label] of (l.url ?? "").matchAll(/\$\{__(?:field\.labels|data\.fields)\.(\w+)\}/g))
            expect(seriesLabelsOfPanel, `${p.title ?? ""} links by ${label}`).toContain(label);
        }
      }
    }
  });

  it("connects every dashboard to all the others in its header, carrying variables and time", () => {
    for (const key of dashboardKeys) {
      expect(
        headerLinks(key)
          .map((l) => uidOf(l.url))
          .sort(),
      ).toEqual(
        dashboardKeys
          .filter((k) => k !== key)
          .map((k) => uids[k])
          .sort(),
      );
      for (const l of headerLinks(key)) expect(l).toMatchObject({ includeVars: true, keepTime: true });
      // Without `placement` the links sit above the panels rather than inside the controls menu.
      for (const l of headerLinks(key)) expect(l).not.toHaveProperty("placement");
    }
  });

  it("takes Overview to the Per-Model Drilldown with the selected models", () => {
    const drill = panelsOf(built.overview)
      .flatMap((p) => (p.links ?? []) as DashboardLink[])
      .filter((l) => uidOf(l.url) === uids.modelDrilldown);
    expect(drill.length).toBeGreaterThan(0);
    for (const l of drill) expect(l.url).toContain("${model:queryparam}");
    expect(headerLinks("modelDrilldown").some((l) => uidOf(l.url) === uids.overview)).toBe(true);
  });

  it("filters GPU Health by the node of the value clicked", () => {
    // Per-GPU and per-node panels; the capacity panels aggregate per pool, where no single node applies.
    const perNode = panelsOf(built.gpuHealth).filter((p) => targetsOf(p).every((t) => /by \([^)]*\bnode\b/.test(t.expr ?? "")));
    expect(perNode.length).toBeGreaterThanOrEqual(7);
    for (const p of perNode) {
      const table = targetsOf(p).every((t) => t.format === "table");
      const expected = table ? "var-node=${__data.fields.node}" : "var-node=${__field.labels.node}";
      expect(
        dataLinksOf(p).some((l) => uidOf(l.url) === uids.gpuHealth && l.url?.includes(expected)),
        p.title,
      ).toBe(true);
    }
  });
});

/**
 * A deep copy without the SDK's `_implements…` marker methods (how it tells
 * query types apart at runtime; not data, and dropped by JSON). Everything
 * else, functions included, is kept so the round trip notices it.
 */
function withoutSdkMarkers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSdkMarkers);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !(k.startsWith("_implements") && typeof v === "function"))
      .map(([k, v]) => [k, withoutSdkMarkers(v)]),
  );
}

/**
 * The legend rule: a legend template is at most 40 characters as written
 * (literal text plus each `{{label}}` reference), and names no `gpu_uuid`
 * (40 characters once rendered; the GPU's index `gpu` names it on its node).
 * Legends of table queries name columns and follow the same rule.
 */
const maxLegendLength = 40;

describe("legends", () => {
  it.each(allTargets.map(({ dashboard, panel, target }) => [dashboard, panel.title ?? "", target.refId ?? "", target]))(
    "%s › %s › %s keeps its legend short",
    (_d, _t, _r, target) => {
      const legend = (target as Target).legendFormat ?? "";
      expect(legend).toMatch(/\S/);
      expect(legend.length, legend).toBeLessThanOrEqual(maxLegendLength);
      expect(legend).not.toMatch(/\{\{\s*gpu_uuid\s*\}\}/);
    },
  );

  it("fails a legend of the length the GPU panels had", () => {
    const old = "{{node}} {{gpu_uuid}} {{mig_profile}} {{mig_instance}}";
    expect(old.length).toBeGreaterThan(maxLegendLength);
  });

  it("names a GPU by node and index, with labels the query keeps", () => {
    for (const key of ["gpuUtilization", "vramHeadroom", "thermalThrottling", "gpuTemperature", "gpuPower"] as const) {
      for (const t of targetsOf(panelOf(key).panel)) {
        expect(t.legendFormat, key).toMatch(/^\{\{node\}\} \{\{gpu\}\}/);
        const labels = outputLabels(substituteGrafana(t.expr), ctxRules) ?? new Set();
        for (const [, label] of (t.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)) expect(labels, `${key}: ${label}`).toContain(label);
      }
    }
  });
});

describe("runbook links", () => {
  const base = "https://git.example/ops/infermesh/RUNBOOKS.md";
  const dashboards = buildDashboards({ ...ctx, runbookBaseUrl: base });
  const panelsWithKeys = dashboardKeys.flatMap((d) => panelsOf(dashboards[d]).map((panel) => ({ panel, key: keysOf(panel)[0] })));
  const runbookLinksOf = (p: Panel) => ((p.links ?? []) as DashboardLink[]).filter((l) => l.title.startsWith("Runbook: "));

  it("relates only alerts of the catalog to panels that exist", () => {
    const names = alertCatalog({ ...ctx, poolMaxSizes: { any: 1 } }).map((a) => a.name);
    for (const alert of Object.keys(alertPanels)) expect(names).toContain(alert);
    for (const keys of Object.values(alertPanels)) for (const key of keys) expect(panelKeys).toContain(key);
  });

  it("gives each panel that explains an alert a link to that alert's runbook, and no other", () => {
    for (const { panel, key } of panelsWithKeys) {
      const expected = (Object.keys(alertPanels) as AlertWithPanels[])
        .filter((alert) => key !== undefined && (alertPanels[alert] as readonly PanelKey[]).includes(key))
        .map((alert) => ({ title: `Runbook: ${alert}`, url: runbookUrl(base, alert) }));
      expect(
        runbookLinksOf(panel).map((l) => ({ title: l.title, url: l.url })),
        panel.title,
      ).toEqual(expected);
      for (const l of runbookLinksOf(panel)) expect(l.targetBlank).toBe(true);
    }
    expect(panelsWithKeys.filter(({ panel }) => runbookLinksOf(panel).length > 0).length).toBeGreaterThanOrEqual(Object.keys(alertPanels).length);
  });

  it("links to the same URL as the alert's runbook_url annotation", async () => {
    const { deliver } = await import("../alerts/catalog");
    const delivered = deliver(alertCatalog({ ...ctx, poolMaxSizes: { any: 1 } }), { runbookBaseUrl: base, labels: {} });
    const urls = new Map(delivered.map((a) => [a.name, a.annotations.runbook_url]));
    for (const { panel } of panelsWithKeys) for (const l of runbookLinksOf(panel)) expect(l.url).toBe(urls.get(l.title.slice("Runbook: ".length)));
  });
});

/**
 * Panels a runbook names, in RUNBOOKS.md's documented form: within a numbered
 * step, `<dashboard title> → *<panel title>*`, and every further `*<title>*`
 * up to the next dashboard name belongs to the same dashboard.
 */
function runbookPanelRefs(markdown: string): { alert: string; dashboard: string; panel: string }[] {
  const titles = Object.values(dashboardTitles);
  const refs: { alert: string; dashboard: string; panel: string }[] = [];
  for (const section of markdown.split(/^## /m).slice(1)) {
    const alert = section.slice(0, section.indexOf("\n")).trim();
    const steps = section
      .split(/^\d+\. /m)
      .slice(1)
      .map((step) => step.replace(/\s*\n\s*/g, " "));
    for (const step of steps) {
      const tokens = step.matchAll(new RegExp(`(${titles.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}) →|\\*([^*]+)\\*`, "g"));
      let dashboard: string | undefined;
      for (const [, name, panel] of tokens) {
        if (name) dashboard = name;
        else if (panel !== undefined) {
          if (!dashboard) throw new Error(`${alert}: *${panel}* names a panel without a dashboard before it (\`<dashboard> → *<panel>*\`)`);
          refs.push({ alert, dashboard, panel });
        }
      }
    }
  }
  return refs;
}

describe("runbooks name panels that exist", () => {
  const runbooks = readFileSync(join(__dirname, "..", "RUNBOOKS.md"), "utf8");
  const refs = runbookPanelRefs(runbooks);

  it("finds the panels in the documented form (and rejects an unattributed one)", () => {
    expect(runbookPanelRefs("## A\n\n1. GPU Health → *VRAM Headroom* and\n   *XID Errors*; then Router Behavior → *Node Health & Membership*.\n")).toEqual([
      { alert: "A", dashboard: "GPU Health", panel: "VRAM Headroom" },
      { alert: "A", dashboard: "GPU Health", panel: "XID Errors" },
      { alert: "A", dashboard: "Router Behavior", panel: "Node Health & Membership" },
    ]);
    expect(() => runbookPanelRefs("## A\n\n1. See *VRAM Headroom*.\n")).toThrow(/without a dashboard/);
    expect(refs.length).toBeGreaterThanOrEqual(15);
  });

  it.each(refs.map((r) => [r.alert, r.dashboard, r.panel]))("%s: %s › %s", (_alert, dashboard, panel) => {
    const key = dashboardKeys.find((k) => dashboardTitles[k] === dashboard) as DashboardKey;
    expect(panelsOf(built[key]).map((p) => p.title)).toContain(panel);
  });

  it("sends the reader of every alert with panels to at least one of them", () => {
    const unnamed = Object.entries(alertPanels)
      .filter(([alert, keys]) => {
        const titles = (keys as readonly PanelKey[]).map((k) => panelOf(k).panel.title);
        return !refs.some((r) => r.alert === alert && titles.includes(r.panel));
      })
      .map(([alert]) => alert);
    expect(unnamed).toEqual([]);
  });
});

describe("identity and settings", () => {
  it("gives every dashboard a distinct uid, stable across builds", () => {
    const uids = dashboardKeys.map((k) => built[k].uid);
    expect(dashboardKeys).toEqual(["overview", "modelDrilldown", "gpuHealth", "routerBehavior", "slo"]);
    expect(new Set(uids).size).toBe(dashboardKeys.length);
    expect(uids).toEqual(dashboardKeys.map((k) => dashboardUid(ctx.stack, k)));
    expect(JSON.stringify(buildDashboards(ctx))).toBe(JSON.stringify(built));
  });

  it("gives two stacks sharing a Grafana different uids", () => {
    const other = buildDashboards({ ...ctx, stack: "ci2" });
    const a = dashboardKeys.map((k) => built[k].uid);
    const b = dashboardKeys.map((k) => other[k].uid);
    expect(a.filter((u) => b.includes(u))).toEqual([]);
  });

  it("keeps uids valid and distinct for long and unusual stack names", () => {
    const long = "a".repeat(60);
    const stacks = ["dev", "x", "team.prod", "team-prod", "team_prod", `${long}1`, `${long}2`, "a".repeat(29), "a".repeat(30), "a".repeat(31), "x-gpu", "x-model", "prod-overview"];
    const all = stacks.flatMap((s) => dashboardKeys.map((k) => dashboardUid(s, k)));
    for (const uid of all) expect(uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(new Set(all).size).toBe(all.length);
    expect(dashboardUid("prod", "overview")).toBe("im-prod-overview");
  });

  it.each(dashboardKeys)("%s names the environment, is tagged, read-only and refreshes every minute", (key) => {
    expect(built[key]).toMatchObject({
      uid: dashboardUid(ctx.stack, key),
      tags: ["infermesh", "generated", ctx.environment],
      time: { from: "now-6h", to: "now" },
      refresh: "1m",
      editable: false,
    });
    expect(built[key].title).toContain(dashboardTitles[key]);
    expect(built[key].title).toContain(`(${ctx.environment})`);
  });

  it.each(dashboardKeys)("%s survives a JSON round trip", (key) => {
    expect(JSON.parse(JSON.stringify(built[key]))).toEqual(withoutSdkMarkers(built[key]));
  });
});
