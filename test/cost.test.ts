/**
 * Cost arithmetic on a table of pools (spot and on-demand, MIG, zero-sized)
 * with exact expected figures, priced from a fixed test table so the
 * expectations do not move when the real one is refreshed; the fixed parts
 * counted from configuration against what the plan creates; the price
 * table's age; AMP's ingestion tiers.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type StackConfig } from "../config";
import { loadConfig } from "../config/load";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { asPulumiConfig, baseRaw, parse, project, startRecording } from "./helpers/stack";
import { scaleModelTable } from "../bench/scaleModel";
import { censusOfStack } from "../cost/census";
import { costReport, costSummary, fixedCosts, poolCost } from "../cost/estimate";
import { rawSeries, ruleSeries } from "../cost/series";
import type { FleetCensus } from "../cost/census";
import { contractDcgmFields } from "../components/dcgmCounters";
import { compact, costLines } from "../review/cost";
import { ampIngestionCost, priceTable, regionPrices, staleAfterDays, tableAge, type PriceTable, type RegionPrices } from "../cost/prices";
import type { Plan } from "../synth/plan";
import { querySamples } from "../cost/queries";
import { projectRoot } from "../synth/synthesize";
import { loadStackConfig } from "../verify/run";

const testRegion: RegionPrices = {
  instances: {
    "g6.xlarge": { onDemandPerHour: 1, spotPerHour: 0.25, memoryGiB: 16 },
    "g6.2xlarge": { onDemandPerHour: 2, spotPerHour: 0.5, memoryGiB: 32 },
    "p4de.24xlarge": { onDemandPerHour: 30, spotPerHour: 12, memoryGiB: 1152 },
    "p5.48xlarge": { onDemandPerHour: 50, spotPerHour: 20, memoryGiB: 2048 },
  },
  eksControlPlanePerHour: 0.1,
  natGatewayPerHour: 0.05,
  ebsGp3PerGiBMonth: 0.1,
  amp: {
    ingestionTiers: [
      { upToSamples: 1e9, perTenMillion: 1 },
      { upToSamples: Number.POSITIVE_INFINITY, perTenMillion: 0.5 },
    ],
    storagePerGBMonth: 0.03,
    queryPerBillionSamples: 0.1,
  },
  grafana: { editorPerMonth: 9, viewerPerMonth: 5 },
};

type PoolInput = Parameters<typeof poolCost>[0];
const pool = (
  name: string,
  instanceTypes: string[],
  capacity: "spot" | "on-demand",
  scaling: { min: number; desired: number; max: number },
  gpusPerInstance: number,
): PoolInput => ({
  name,
  instanceTypes,
  capacity,
  scaling,
  gpusPerInstance,
});

describe("pool cost arithmetic (730 hours a month)", () => {
  const cases: Array<{
    name: string;
    pool: PoolInput;
    mig?: number;
    instanceType: string;
    max: { nodes: number; instanceHours: number; gpuHours: number; onDemandUsd: number; spotUsd: number; usd: number };
    minUsd: number;
  }> = [
    {
      name: "on-demand, 8-GPU instances",
      pool: pool("h100", ["p5.48xlarge"], "on-demand", { min: 1, desired: 2, max: 8 }, 8),
      instanceType: "p5.48xlarge",
      // 8 x 730 = 5,840 instance-hours; x 8 GPUs = 46,720 GPU-hours; x $50 = $292,000; spot x $20 = $116,800.
      max: { nodes: 8, instanceHours: 5840, gpuHours: 46720, onDemandUsd: 292000, spotUsd: 116800, usd: 292000 },
      minUsd: 36500,
    },
    {
      name: "spot, the dearest of two listed types",
      pool: pool("l4", ["g6.xlarge", "g6.2xlarge"], "spot", { min: 1, desired: 2, max: 4 }, 1),
      instanceType: "g6.2xlarge",
      max: { nodes: 4, instanceHours: 2920, gpuHours: 2920, onDemandUsd: 5840, spotUsd: 1460, usd: 1460 },
      minUsd: 365,
    },
    {
      name: "MIG: billed per instance, whatever the slices",
      pool: pool("a100-mig", ["p4de.24xlarge"], "on-demand", { min: 1, desired: 1, max: 4 }, 8),
      mig: 2,
      instanceType: "p4de.24xlarge",
      max: { nodes: 4, instanceHours: 2920, gpuHours: 23360, onDemandUsd: 87600, spotUsd: 35040, usd: 87600 },
      minUsd: 21900,
    },
    {
      name: "zero-sized: nothing at min, the bill at max",
      pool: pool("burst", ["g6.xlarge"], "spot", { min: 0, desired: 0, max: 3 }, 1),
      instanceType: "g6.xlarge",
      max: { nodes: 3, instanceHours: 2190, gpuHours: 2190, onDemandUsd: 2190, spotUsd: 547.5, usd: 547.5 },
      minUsd: 0,
    },
  ];

  it.each(cases)("$name", (c) => {
    const cost = poolCost(c.pool, testRegion, c.mig);
    expect(cost.instanceType).toBe(c.instanceType);
    expect(cost.sizes.max).toEqual(c.max);
    expect(cost.sizes.min.usd).toBe(c.minUsd);
    if (c.mig) expect(cost.migSlicesPerGpu).toBe(c.mig);
    else expect(cost.migSlicesPerGpu).toBeUndefined();
  });

  it("prices an instance type the table lacks at $0 (the report names it)", () => {
    expect(poolCost(pool("x", ["g9.xlarge"], "on-demand", { min: 1, desired: 1, max: 1 }, 1), testRegion).sizes.max.usd).toBe(0);
  });
});

describe("AMP ingestion tiers", () => {
  it.each([
    { samples: 0, usd: 0 },
    { samples: 1e7, usd: 1 },
    { samples: 1e9, usd: 100 },
    // 1e9 at $1 per 10 M, then 1e9 at $0.50 per 10 M.
    { samples: 2e9, usd: 150 },
  ])("$samples samples cost $usd USD", ({ samples, usd }) => {
    expect(ampIngestionCost(testRegion, samples)).toBeCloseTo(usd, 9);
  });
});

describe("the price table", () => {
  it("is stale after staleAfterDays, and says how old it is", () => {
    const table = { takenOn: "2026-01-01" } as PriceTable;
    expect(tableAge(table, new Date(`2026-01-01T12:00:00Z`))).toEqual({ days: 0, stale: false });
    const late = new Date(Date.parse("2026-01-01T00:00:00Z") + (staleAfterDays + 1) * 86_400_000);
    expect(tableAge(table, late)).toEqual({ days: staleAfterDays + 1, stale: true });
  });

  it("prices a region it lacks as its first region, and says so", () => {
    expect(regionPrices(priceTable, "eu-west-1").pricedAs).toBe(Object.keys(priceTable.regions)[0]);
    expect(regionPrices(priceTable, "us-west-2").pricedAs).toBe("us-west-2");
  });
});

describe("the stacks' reports", () => {
  const stacks = ["dev", "prod"] as const;
  const configs = new Map<string, StackConfig>();
  const plans = new Map<string, Plan>();
  let dir = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cost-"));
    // The mock runtime holds one program run per process: synth runs as the command does.
    for (const stack of stacks) {
      await promisify(execFile)("npx", ["tsx", "scripts/synth.ts", stack, "--out", join(dir, stack)], { cwd: projectRoot });
      plans.set(stack, JSON.parse(readFileSync(join(dir, stack, "plan.json"), "utf8")) as Plan);
      configs.set(stack, await loadStackConfig(stack));
    }
    return () => rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it.each(stacks)("%s: the fixed parts counted from configuration are the ones the plan creates", (stack) => {
    const config = configs.get(stack) as StackConfig;
    const plan = plans.get(stack) as Plan;
    const inPlan = (type: string) => plan.resources.filter((r) => r.type === type).length;
    const fixed = Object.fromEntries(fixedCosts(config, regionPrices(priceTable, config.region).prices).map((f) => [f.item.replace(/ \(.*$/, ""), f.count.desired]));
    expect(fixed["EKS control plane"]).toBe(inPlan("aws:eks/cluster:Cluster"));
    expect(fixed["NAT gateways"]).toBe(inPlan("aws:ec2/natGateway:NatGateway"));
    expect(fixed["Managed Grafana"] ?? 0).toBe(inPlan("aws:grafana/workspace:Workspace"));
    const report = costReport(config);
    expect(report.metrics.amp?.workspaces ?? 0).toBe(inPlan("aws:amp/workspace:Workspace"));
    const systemGroup = plan.resources.find((r) => r.type === "aws:eks/nodeGroup:NodeGroup" && !(r.inputs as { labels?: Record<string, string> }).labels?.["infermesh.io/pool"]);
    expect(systemGroup).toBeDefined();
    expect(fixed["system nodes"]).toBe(((systemGroup as { inputs: unknown }).inputs as { scalingConfig: { desiredSize: number } }).scalingConfig.desiredSize);
  });

  it.each(stacks)("%s: cost.json is the report, and the total is its parts", (stack) => {
    const report = JSON.parse(readFileSync(join(dir, stack, "cost.json"), "utf8")) as ReturnType<typeof costReport>;
    expect(report).toEqual(JSON.parse(JSON.stringify(costReport(configs.get(stack) as StackConfig))));
    const parts = report.compute.pools.reduce((s, p) => s + p.sizes.max.usd, 0) + report.compute.fixed.reduce((s, f) => s + f.monthlyUsd.max, 0);
    expect(report.compute.monthlyUsd.max).toBeCloseTo(parts, 2);
    expect(report.monthlyUsdAtMax).toBeCloseTo(report.compute.monthlyUsd.max + (report.metrics.amp?.monthlyUsd ?? 0), 2);
    expect(JSON.stringify(report)).not.toMatch(/20\d\d-\d\d-\d\dT/);
  });

  // Upstream fact: prometheus-community/helm-charts, tag kube-prometheus-stack-82.6.0. The chart's kubelet ServiceMonitor
  // (charts/kube-prometheus-stack/templates/exporters/kubelet/servicemonitor.yaml) includes "kube-prometheus-stack.labels"
  // (templates/_helpers.tpl: `release: {{ $.Release.Name | quote }}`), and its values.yaml sets `releaseLabel: true` for the
  // node-exporter and kube-state-metrics subcharts' monitors. A Prometheus selecting `release: <release>` scrapes them all,
  // so the estimate counts their series (cluster-defaults) beside the contract's.
  it.each(stacks)("%s: counts kube-prometheus-stack's own monitors, which its Prometheus selects by the release label", (stack) => {
    const release = (plans.get(stack) as Plan).resources.find(
      (r) => r.type === "kubernetes:helm.sh/v3:Release" && (r.inputs as { chart?: string }).chart === "kube-prometheus-stack",
    );
    const inputs = (release as { inputs: { name: string; version: string; values: Record<string, any> } }).inputs;
    expect(inputs.version).toBe("82.6.0");
    const spec = inputs.values.prometheus.prometheusSpec;
    expect(spec.serviceMonitorSelector).toEqual({ matchLabels: { release: inputs.name } });
    const report = costReport(configs.get(stack) as StackConfig);
    const nodes = report.compute.pools.reduce((n, p) => n + p.sizes.max.nodes, 0);
    expect(report.metrics.sizes.max.bySource["cluster-defaults"]).toBeGreaterThanOrEqual(
      nodes * (report.assumptions.nodeExporterSeriesPerNode + report.assumptions.kubeletSeriesPerNode),
    );
  });

  it("prod at max: the GPUs and MIG slices its pools hold", () => {
    const census = censusOfStack(configs.get("prod") as StackConfig, "max");
    // l4: 16 x 1 GPU; h100: 8 x 8; a100-mig: 4 x 8 GPUs split in two 3g.40gb slices.
    expect(census).toMatchObject({ gpuNodes: 28, gpus: 16 + 64 + 32, gpuEntities: 16 + 64 + 64, migInstances: 64 });
  });

  it("the summary says when the table is stale, and is short", () => {
    const report = costReport(configs.get("prod") as StackConfig);
    const fresh = costSummary(report, new Date(`${priceTable.takenOn}T00:00:00Z`));
    const stale = costSummary(report, new Date(Date.parse(`${priceTable.takenOn}T00:00:00Z`) + 200 * 86_400_000));
    expect(fresh).not.toMatch(/STALE/);
    expect(stale).toMatch(/STALE: 200 days old/);
    expect(fresh.split("\n").length).toBeLessThanOrEqual(4);
  });
});

describe("the in-cluster Prometheus' disk", () => {
  // 16 x 8 GPUs at max, kept a year, on 10 GiB.
  const raw = () => ({
    ...baseRaw(),
    gpuPools: { h100: { instanceTypes: ["p5.48xlarge"], scaling: { min: 0, desired: 1, max: 16 } } },
    telemetry: { retention: "1y", volumeSizeGiB: 10 },
  });

  it("is an error naming the key, the value and what the fleet needs", () => {
    const report = costReport(parse(raw()));
    expect(report.metrics.prometheus.fits).toBe(false);
    expect(report.findings).toEqual([
      {
        level: "error",
        path: "infermesh:telemetry.volumeSizeGiB",
        message: expect.stringMatching(/^got 10; Prometheus needs about [\d.]+ GiB for 1y of [\d,]+ samples\/s at max size: raise it or shorten infermesh:telemetry.retention$/),
      },
    ]);
    expect(report.metrics.prometheus.diskGiB).toBeGreaterThan(10);
  });

  it("stops the program before it registers any resource", async () => {
    const recording = await startRecording({ project, stack: "dev", config: asPulumiConfig(raw()), calls: offlineLookups });
    let error: unknown;
    try {
      infermesh(loadConfig());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path)).toEqual(["infermesh:telemetry.volumeSizeGiB"]);
    await recording.settle();
    expect(recording.resources).toEqual([]);
  });

  it("fits with a volume of what it needs", () => {
    const needed = Math.ceil(costReport(parse(raw())).metrics.prometheus.diskGiB);
    const fitted = costReport(parse({ ...raw(), telemetry: { retention: "1y", volumeSizeGiB: needed } }));
    expect(fitted.findings).toEqual([]);
    expect(fitted.metrics.prometheus.fits).toBe(true);
  });
});

describe("the README's scale model", () => {
  it("is the estimator's output (npm run scale-model)", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const block = /<!-- scale-model:begin -->\n([\s\S]*?)\n<!-- scale-model:end -->/.exec(readme);
    expect(block, "README.md has no scale-model block").not.toBeNull();
    expect((block as RegExpExecArray)[1]).toBe(scaleModelTable());
  });
});

describe("a recording rule's series, from its grain", () => {
  // 10 GPU nodes (2 of 8 whole GPUs, 8 of 4 GPUs split in 2 MIG slices), 5 models in 8 revisions and 20 deployments, 3 zones.
  const census: FleetCensus = {
    zones: 3,
    gpuNodes: 10,
    systemNodes: 2,
    gpus: 48,
    gpuEntities: 80,
    migInstances: 64,
    servingSlots: 80,
    queueSlots: 80,
    models: 5,
    modelRevisions: 8,
    deployments: 20,
    servedDeploymentZones: 45,
    routedDeploymentZones: 40,
    routers: 2,
    routedDeployments: 40,
    routedTargets: 160,
    gossipReports: 24,
    gpuPods: 80,
    otherPods: 32,
    scrapeTargets: 33,
  };
  const raw = rawSeries(census, contractDcgmFields());
  const one = (expr: string, earlier: Array<{ record: string; expr: string }> = []) => ruleSeries([...earlier, { record: "r", expr }], raw, census).at(-1)?.series;

  it.each([
    { name: "a sum to one series", expr: "sum(rate(infermesh_inferences_total[2m]))", series: 1 },
    { name: "per model", expr: "sum by (model) (rate(infermesh_inferences_total[2m]))", series: 5 },
    { name: "per deployment and zone: where deployments are served", expr: "sum by (model, revision, tenant, zone) (rate(infermesh_inferences_total[2m]))", series: 45 },
    {
      name: "per deployment and zone of a Router's series: where they are routed",
      expr: "sum by (model, revision, tenant, zone) (rate(infermesh_router_requests_total[2m]))",
      series: 40,
    },
    { name: "a closed list multiplies", expr: "sum by (model, error) (rate(infermesh_inference_errors_total[2m]))", series: 20 },
    { name: "histogram buckets per model: 12 bounds and +Inf", expr: "sum by (model, le) (rate(infermesh_inference_latency_bucket[2m]))", series: 65 },
    { name: "a quantile drops le", expr: "histogram_quantile(0.9, sum by (model, le) (rate(infermesh_inference_latency_bucket[2m])))", series: 5 },
    { name: "one-to-one division keeps the GPUs", expr: "DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL", series: 80 },
    { name: "whole GPUs or MIG slices: the union", expr: 'DCGM_FI_DEV_GPU_UTIL or (DCGM_FI_PROF_GR_ENGINE_ACTIVE{mig_profile!=""} * 100)', series: 80 },
    { name: "whole-GPU-only fields skip MIG slices", expr: "DCGM_FI_DEV_GPU_UTIL", series: 16 },
    {
      name: "label_replace constants make disjoint sets that add up",
      expr: 'label_replace(sum by (model) (rate(infermesh_inferences_total[5m])), "slo", "a", "", "") or label_replace(sum by (model) (rate(infermesh_inference_latency_count[5m])), "slo", "b", "", "")',
      series: 10,
    },
    { name: "per node", expr: "max by (node) (kube_node_labels)", series: 12 },
  ])("$name: $series", ({ expr, series }) => {
    expect(one(expr)).toBe(series);
  });

  it("reads what an earlier rule records, and a matcher on its constant label picks that share", () => {
    const both =
      'label_replace(sum by (model) (rate(infermesh_inferences_total[5m])), "slo", "a", "", "") or label_replace(sum by (model) (rate(infermesh_inferences_total[5m])), "slo", "b", "", "")';
    expect(one('r0{slo="a"}', [{ record: "r0", expr: both }])).toBe(5);
    expect(one("sum by (model, le) (r0)", [{ record: "r0", expr: "sum by (model, revision, le) (rate(infermesh_inference_latency_bucket[2m]))" }])).toBe(65);
  });

  it("refuses PromQL it cannot read, rather than guessing", () => {
    expect(() => one("sum by (model) (")).toThrow(/PromQL syntax error/);
  });
});

describe("the review's cost line", () => {
  const report = (usd: number, series: number) =>
    ({
      monthlyUsdAtMax: usd,
      metrics: { sizes: { max: { activeSeries: series, bySource: {} } } },
      compute: { pools: [] },
      budget: { withinBudget: true },
      findings: [],
      prices: { takenOn: "2025-08-01" },
    }) as unknown as ReturnType<typeof costReport>;

  it("shows the change, base → head", () => {
    expect(costLines(report(1000, 50_000), report(19_400, 1_250_000)).summary).toBe("+$18,400/month at max size ($1,000 → $19,400); +1.2 M active series (50 k → 1.3 M)");
  });

  it("shows nothing when neither moved", () => {
    expect(costLines(report(1000, 5), report(1000, 5))).toEqual({ lines: [], attention: [] });
  });

  it("shows the head alone when the base render predates cost.json, never a rise from zero", () => {
    expect(costLines(undefined, report(19_400, 1_250_000), true).summary).toBe("$19,400/month at max size; 1.3 M active series (the base render has no cost.json to compare with)");
  });

  it.each([
    [999, "999"],
    [12_345, "12.3 k"],
    [50_000, "50 k"],
    [1_250_000, "1.3 M"],
    [10_000_000, "10 M"],
  ])("compact(%d) = %s", (n, text) => {
    expect(compact(n)).toBe(text);
  });
});

describe("samples a query reads, from its selectors", () => {
  const seriesOf = (metric: string) => ({ x: 10, y: 5 })[metric] ?? 0;
  it.each([
    ["an instant selector: one sample per series", "x", 10],
    ["a range: the samples in it at the 15 s interval", "rate(x[1m])", 40],
    ["a subquery: its steps", "max_over_time(x[1h:1m])", 600],
    ["every selector counts", "x / y", 15],
    ["an unknown name reads nothing", "z", 0],
    ["the off side of a switch (coarseAtAll) reads nothing", 'sum(x{__variables__!~".*"}) or y{__variables__=~".*"}', 5],
    ["the other side, once a value is picked", 'sum(x{__variables__!~"m1"}) or y{__variables__=~"m1"}', 10],
  ])("%s", (_what, expr, samples) => {
    expect(querySamples(expr, seriesOf, 15)).toBe(samples);
  });
});
