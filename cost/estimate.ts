/**
 * What a stack costs and what it does to its metrics backend, from its
 * configuration alone (so the program, synth and the review read one
 * figure): GPU pools and the fixed parts the stack creates, priced from the
 * pinned table (cost/prices.ts) at min, desired and max size; active series
 * by source and samples per second (cost/series.ts); and per backend, AMP's
 * bill and quotas or the in-cluster Prometheus' memory and disk against what
 * the stack gives it. `npm run synth` writes it as `out/<stack>/cost.json`.
 *
 * Deterministic: no run date in it (the table's date is), so renders diff
 * cleanly; staleness is judged when it is printed (`costSummary`).
 */
import { alertingPlan } from "../components/alerting.plan";
import type { CostBudgetFigures } from "../components/costBudget";
import { dashboardsFor } from "../components/grafanaContent.plan";
import { telemetryPlan } from "../components/telemetry.plan";
import type { StackConfig } from "../config";
import { lookupGpuInstance } from "../domain/gpuInstances";
import { dashboardPanels } from "../lib/dashboardJson";
import { durationSeconds } from "../lib/duration";
import { grafanaToPromql } from "../lib/promql";
import { metrics, type MetricName } from "../monitoring/metrics";
import { censusOfStack, defaultAssumptions, type CensusAssumptions, type SizePoint } from "./census";
import {
  ampDefaultQuotas,
  ampIngestionCost,
  hoursPerMonth,
  instancePrice,
  priceTable,
  regionPrices,
  tableAge,
  type InstancePrice,
  type PriceTable,
  type RegionPrices,
} from "./prices";
import { loadSamples, querySamples, type PanelQuery } from "./queries";
import { clusterDefaults, estimateSeries, histogramPart, type RuleInput, type SeriesEstimate, type SeriesSource } from "./series";

export const sizePoints: readonly SizePoint[] = ["min", "desired", "max"];

/** Planning figures that are not prices and not configuration; each is stated in cost.json. */
export const planningFigures = {
  /** Bytes of memory per head series, doubled for Go's garbage collector (Prometheus holds ~3-4 KiB per active series). */
  prometheusBytesPerSeries: 8192,
  /** Bytes on disk per sample: the upper end of the 1-2 Prometheus' storage documentation gives. */
  bytesPerSample: 2,
  /** Share of a node's memory a pod may plan on (the rest: kubelet, system pods, DaemonSets). */
  allocatableMemoryShare: 0.75,
  /** How long AMP keeps samples (its default retention). */
  ampRetentionDays: 150,
  /** Full loads of every dashboard a day, at the dashboards' default range (6 h). */
  dashboardLoadsPerDay: 50,
  /** Points Grafana asks a range query for (a panel's width in pixels, roughly). */
  rangeQueryPoints: 400,
  /** Dashboards' default time range, seconds. */
  dashboardRangeSeconds: 6 * 3600,
  /** Active Amazon Managed Grafana users a month. */
  grafanaEditors: 5,
  grafanaViewers: 20,
} as const;

export interface SizeCost {
  nodes: number;
  instanceHours: number;
  gpuHours: number;
  onDemandUsd: number;
  spotUsd: number;
  /** At the pool's capacity type. */
  usd: number;
}

export interface PoolCost {
  pool: string;
  /** The listed instance type priced (the dearest, when a pool lists several). */
  instanceType: string;
  capacity: "spot" | "on-demand";
  gpusPerInstance: number;
  /** MIG slices per GPU, when the pool splits its GPUs. */
  migSlicesPerGpu?: number;
  onDemandPerHour: number;
  spotPerHour: number;
  priceIsAssumption?: true;
  sizes: Record<SizePoint, SizeCost>;
}

export interface FixedCost {
  item: string;
  count: Record<SizePoint, number>;
  unit: string;
  unitPriceUsd: number;
  monthlyUsd: Record<SizePoint, number>;
}

export interface MetricsAtSize {
  activeSeries: number;
  bySource: Record<SeriesSource, number>;
  samplesPerSecond: number;
}

export interface AmpCost {
  workspaces: number;
  ingestedSamplesPerMonth: number;
  ingestionUsd: number;
  storedGB: number;
  storageUsd: number;
  /** Query samples processed a month: rule evaluations by AMP's ruler and dashboard loads. */
  querySamplesPerMonth: number;
  queryUsd: number;
  monthlyUsd: number;
  activeSeriesQuota: number;
  activeSeriesQuotaUsedPercent: number;
  ingestionQuotaSamplesPerSecond: number;
  ingestionQuotaUsedPercent: number;
}

export interface PrometheusFit {
  memoryGiB: number;
  /** Memory a pod may plan on, on the smallest system node type Prometheus is scheduled to. */
  nodeAllocatableGiB: number;
  diskGiB: number;
  volumeGiB: number;
  retentionDays: number;
  fits: boolean;
}

export interface Finding {
  level: "error" | "warning";
  /** The config key it is about. */
  path: string;
  message: string;
}

/** `out/<stack>/cost.json`. */
export interface CostReport {
  stack: string;
  environment: string;
  region: string;
  currency: "USD";
  hoursPerMonth: number;
  prices: { takenOn: string; spot: string; sources: readonly string[]; notes?: string };
  assumptions: CensusAssumptions & typeof planningFigures & typeof clusterDefaults;
  compute: {
    pools: PoolCost[];
    fixed: FixedCost[];
    /** Every pool and fixed part, at the pools' capacity types, a month. */
    monthlyUsd: Record<SizePoint, number>;
    /** The same with every pool on-demand, and every pool on spot. */
    monthlyOnDemandUsd: Record<SizePoint, number>;
    monthlySpotUsd: Record<SizePoint, number>;
  };
  metrics: {
    backend: "in-cluster" | "amp";
    scrapeIntervalSeconds: number;
    sizes: Record<SizePoint, MetricsAtSize>;
    /** Series each recording rule writes at max size. */
    rulesAtMax: Array<{ record: string; series: number }>;
    /** Estimated share of one model at max size (series carrying its `model` label). */
    seriesPerModelAtMax: number;
    amp?: AmpCost;
    prometheus: PrometheusFit;
  };
  /** Compute and metrics at max size, a month. */
  monthlyUsdAtMax: number;
  budget: { maxMonthlyCostUsd?: number; maxActiveSeries?: number; withinBudget: boolean };
  findings: Finding[];
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const bySize = <T>(f: (size: SizePoint) => T): Record<SizePoint, T> => ({ min: f("min"), desired: f("desired"), max: f("max") });

/**
 * A pool's cost at each size: instance-hours a month, GPU-hours, and the
 * monthly bill on-demand, on spot and at its capacity type. A pool listing
 * several instance types is priced at the dearest (what the autoscaler may
 * pick).
 */
export function poolCost(
  pool: Pick<StackConfig["gpuPools"][string], "name" | "instanceTypes" | "capacity" | "scaling" | "gpusPerInstance">,
  prices: RegionPrices,
  migSlicesPerGpu?: number,
): PoolCost {
  const priced = pool.instanceTypes.map((t) => ({ type: t, price: instancePrice(prices, t) ?? unpriced }));
  const dearest = priced.reduce((a, b) => (b.price.onDemandPerHour > a.price.onDemandPerHour ? b : a));
  const gpus = lookupGpuInstance(dearest.type)?.gpusPerInstance ?? pool.gpusPerInstance;
  return {
    pool: pool.name,
    instanceType: dearest.type,
    capacity: pool.capacity,
    gpusPerInstance: gpus,
    ...(migSlicesPerGpu ? { migSlicesPerGpu } : {}),
    onDemandPerHour: dearest.price.onDemandPerHour,
    spotPerHour: dearest.price.spotPerHour,
    ...(dearest.price.assumption ? { priceIsAssumption: true as const } : {}),
    sizes: bySize((size) => {
      const nodes = pool.scaling[size];
      const instanceHours = nodes * hoursPerMonth;
      const onDemandUsd = round2(instanceHours * dearest.price.onDemandPerHour);
      const spotUsd = round2(instanceHours * dearest.price.spotPerHour);
      return { nodes, instanceHours, gpuHours: instanceHours * gpus, onDemandUsd, spotUsd, usd: pool.capacity === "spot" ? spotUsd : onDemandUsd };
    }),
  };
}

/** An instance type the table lacks: priced at nothing, and reported (see `unpricedTypes`). */
const unpriced: InstancePrice = { onDemandPerHour: 0, spotPerHour: 0, memoryGiB: 0 };

function fixed(item: string, unit: string, unitPriceUsd: number, count: Record<SizePoint, number>, perMonth: (count: number) => number): FixedCost {
  return { item, unit, unitPriceUsd, count, monthlyUsd: bySize((s) => round2(perMonth(count[s]))) };
}

/** The parts the stack creates besides GPU pools, counted from its configuration (test/cost.test.ts holds the counts to the plan). */
export function fixedCosts(config: StackConfig, prices: RegionPrices): FixedCost[] {
  const out: FixedCost[] = [];
  const monthly = (perHour: number) => (n: number) => n * perHour * hoursPerMonth;
  const gib = (perGiBMonth: number) => (n: number) => n * perGiBMonth;
  const constant = (n: number) => bySize(() => n);
  if (config.cluster.mode === "create") {
    const cluster = config.cluster;
    out.push(fixed("EKS control plane", "cluster-hour", prices.eksControlPlanePerHour, constant(1), monthly(prices.eksControlPlanePerHour)));
    const zones = Object.keys(cluster.vpc.subnets).length;
    const nat = config.policy.natGateways === "per-az" ? zones : 1;
    out.push(fixed("NAT gateways", "gateway-hour", prices.natGatewayPerHour, constant(nat), monthly(prices.natGatewayPerHour)));
    const hourly = (t: string) => (instancePrice(prices, t) ?? unpriced).onDemandPerHour;
    const systemType = cluster.systemNodes.instanceTypes.reduce((a, b) => (hourly(b) > hourly(a) ? b : a));
    const systemPrice = hourly(systemType);
    out.push(
      fixed(
        `system nodes (${systemType}, on-demand)`,
        "instance-hour",
        systemPrice,
        bySize((s) => cluster.systemNodes.scaling[s]),
        monthly(systemPrice),
      ),
    );
    out.push(
      fixed(
        "system node volumes (gp3)",
        "GiB-month",
        prices.ebsGp3PerGiBMonth,
        bySize((s) => cluster.systemNodes.scaling[s] * cluster.systemNodes.diskSizeGiB),
        gib(prices.ebsGp3PerGiBMonth),
      ),
    );
  }
  const pools = Object.values(config.gpuPools);
  out.push(
    fixed(
      "GPU node volumes (gp3)",
      "GiB-month",
      prices.ebsGp3PerGiBMonth,
      bySize((s) => pools.reduce((sum, p) => sum + p.scaling[s] * p.diskSizeGiB, 0)),
      gib(prices.ebsGp3PerGiBMonth),
    ),
  );
  out.push(fixed("Prometheus volume (gp3)", "GiB-month", prices.ebsGp3PerGiBMonth, constant(config.telemetry.volumeSizeGiB), gib(prices.ebsGp3PerGiBMonth)));
  if (config.grafana?.mode === "managed") {
    const { grafanaEditors, grafanaViewers } = planningFigures;
    const perMonth = grafanaEditors * prices.grafana.editorPerMonth + grafanaViewers * prices.grafana.viewerPerMonth;
    out.push(fixed(`Managed Grafana (${grafanaEditors} editors, ${grafanaViewers} viewers)`, "workspace-month", perMonth, constant(1), (n) => n * perMonth));
  }
  return out;
}

type RecordingRuleInput = RuleInput & { intervalSeconds: number };

/** Every rule the stack deploys (recording and alerting: what a ruler evaluates), in group order, with its group's interval. */
function stackRules(config: StackConfig): Array<{ record?: string; expr: string; intervalSeconds: number }> {
  return alertingPlan(config).groups.flatMap((g) =>
    g.rules.map((r) => ({ ...("record" in r ? { record: r.record } : {}), expr: r.expr, intervalSeconds: durationSeconds(g.interval) })),
  );
}

/** Samples a second the fleet writes: every raw series each scrape, every recorded series each evaluation. */
function samplesPerSecond(estimate: SeriesEstimate, rules: ReadonlyArray<{ intervalSeconds: number }>, scrapeIntervalSeconds: number): number {
  const raw = estimate.total - estimate.bySource["recording-rules"];
  const recorded = estimate.rules.reduce((sum, r, i) => sum + r.series / (rules[i]?.intervalSeconds ?? scrapeIntervalSeconds), 0);
  return raw / scrapeIntervalSeconds + recorded;
}

/** Series of a name as a query reads it: a contract metric (a histogram's `_bucket`, `_sum`, `_count`) or a recorded series. */
export function seriesLookup(estimate: SeriesEstimate): (name: string) => number {
  const byName = new Map<string, number>();
  for (const m of estimate.byMetric) {
    const def = metrics[m.metric as MetricName];
    if (def.type === "histogram") {
      for (const part of ["bucket", "sum", "count"] as const) byName.set(`${m.metric}_${part}`, histogramPart(def, m.series, part));
    } else byName.set(m.metric, m.series);
  }
  for (const r of estimate.rules) byName.set(r.record, (byName.get(r.record) ?? 0) + r.series);
  return (name) => byName.get(name) ?? 0;
}

/** A range query over the dashboards' default range: its step (about `rangeQueryPoints` points, no finer than the scrape) and its steps. */
export function dashboardRange(scrapeIntervalSeconds: number): { stepSeconds: number; steps: number } {
  const stepSeconds = Math.max(scrapeIntervalSeconds, Math.ceil(planningFigures.dashboardRangeSeconds / planningFigures.rangeQueryPoints));
  return { stepSeconds, steps: Math.ceil(planningFigures.dashboardRangeSeconds / stepSeconds) };
}

/** The stack's dashboards' queries as Grafana sends them (variables at All). */
export function dashboardQueries(config: StackConfig): PanelQuery[] {
  const scrape = config.telemetry.scrapeIntervalSeconds;
  const step = dashboardRange(scrape).stepSeconds;
  const macros = { rateInterval: `${Math.max(4 * scrape, 60)}s`, range: `${planningFigures.dashboardRangeSeconds}s`, interval: `${step}s` };
  return dashboardPanels(dashboardsFor(config) as never).flatMap((p) => p.targets.map((t) => ({ expr: grafanaToPromql(t.expr, macros), instant: t.instant })));
}

function seriesWithModel(estimate: SeriesEstimate): number {
  const raw = estimate.byMetric.filter((m) => (metrics[m.metric as MetricName].labels as readonly string[]).includes("model")).reduce((s, m) => s + m.series, 0);
  const rules = estimate.rules.filter((r) => r.labels === "all" || r.labels.includes("model")).reduce((s, r) => s + r.series, 0);
  return raw + rules;
}

/** The smallest memory among the system node types (Prometheus runs on system nodes). */
function systemNodeMemoryGiB(config: StackConfig, prices: RegionPrices): number | undefined {
  if (config.cluster.mode !== "create") return undefined;
  const known = config.cluster.systemNodes.instanceTypes.flatMap((t) => instancePrice(prices, t)?.memoryGiB ?? []);
  return known.length === 0 ? undefined : Math.min(...known);
}

const gib = (bytes: number) => Math.round((bytes / 2 ** 30) * 10) / 10;

export function costReport(config: StackConfig, table: PriceTable = priceTable, assumptions: CensusAssumptions = defaultAssumptions): CostReport {
  return costEstimate(config, table, assumptions).report;
}

/**
 * The report, with what it was figured from that other estimates reuse: the
 * series estimate at max size and the recording rules it read.
 */
export function costEstimate(
  config: StackConfig,
  table: PriceTable = priceTable,
  assumptions: CensusAssumptions = defaultAssumptions,
): { report: CostReport; atMax: SeriesEstimate; recordingRules: RecordingRuleInput[] } {
  const { prices, pricedAs } = regionPrices(table, config.region);
  const findings: Finding[] = [];
  if (pricedAs !== config.region) {
    findings.push({ level: "warning", path: "aws:region", message: `the price table (cost/prices.ts) has no ${config.region}: priced at ${pricedAs}'s prices` });
  }
  const listed = [
    ...Object.values(config.gpuPools).flatMap((p) => p.instanceTypes.map((t) => ({ t, path: `infermesh:gpuPools.${p.name}.instanceTypes` }))),
    ...(config.cluster.mode === "create" ? config.cluster.systemNodes.instanceTypes.map((t) => ({ t, path: "infermesh:cluster.systemNodes.instanceTypes" })) : []),
  ];
  for (const { t, path } of listed.filter(({ t }) => !instancePrice(prices, t))) {
    findings.push({ level: "warning", path, message: `the price table (cost/prices.ts, taken ${table.takenOn}) has no ${t}: it is priced at $0; add it with its source` });
  }
  const migSlices = (pool: StackConfig["gpuPools"][string]) =>
    pool.mig
      ? censusOfStack({ ...config, gpuPools: { [pool.name]: { ...pool, scaling: { min: 1, desired: 1, max: 1 } } } }, "max", assumptions).gpuEntities / pool.gpusPerInstance
      : undefined;
  const pools = Object.values(config.gpuPools).map((p) => poolCost(p, prices, migSlices(p)));
  const fixedParts = fixedCosts(config, prices);
  const fixedAt = (s: SizePoint) => fixedParts.reduce((sum, f) => sum + f.monthlyUsd[s], 0);
  const poolsAt = (s: SizePoint, pick: (c: SizeCost) => number) => pools.reduce((sum, p) => sum + pick(p.sizes[s]), 0);

  const scrape = config.telemetry.scrapeIntervalSeconds;
  const counters = telemetryPlan(config).counterFields;
  const allRules = stackRules(config);
  const rules = allRules.flatMap((r) => (r.record === undefined ? [] : [{ ...r, record: r.record }]));
  const censuses = bySize((s) => censusOfStack(config, s, assumptions));
  const estimates = bySize((s) => estimateSeries(censuses[s], counters, rules, { clusterDefaults: true }));
  const sizes = bySize((s): MetricsAtSize => {
    const e = estimates[s];
    return { activeSeries: e.total, bySource: e.bySource, samplesPerSecond: Math.round(samplesPerSecond(e, rules, scrape)) };
  });
  const atMax = estimates.max;

  // The in-cluster Prometheus: every series in memory, every sample on its volume for the retention.
  const retentionSeconds = durationSeconds(config.telemetry.retention);
  const memoryGiB = gib(sizes.max.activeSeries * planningFigures.prometheusBytesPerSeries);
  const diskGiB = gib(sizes.max.samplesPerSecond * retentionSeconds * planningFigures.bytesPerSample);
  const nodeMemory = systemNodeMemoryGiB(config, prices);
  const nodeAllocatableGiB = nodeMemory === undefined ? 0 : Math.round(nodeMemory * planningFigures.allocatableMemoryShare * 10) / 10;
  const diskFits = diskGiB <= config.telemetry.volumeSizeGiB;
  const memoryFits = nodeMemory === undefined || memoryGiB <= nodeAllocatableGiB;
  if (!diskFits) {
    findings.push({
      level: "error",
      path: "infermesh:telemetry.volumeSizeGiB",
      message: `got ${config.telemetry.volumeSizeGiB}; Prometheus needs about ${diskGiB} GiB for ${config.telemetry.retention} of ${sizes.max.samplesPerSecond.toLocaleString("en-US")} samples/s at max size: raise it or shorten infermesh:telemetry.retention`,
    });
  }
  if (!memoryFits) {
    findings.push({
      level: "warning",
      path: "infermesh:cluster.systemNodes.instanceTypes",
      message: `Prometheus needs about ${memoryGiB} GiB of memory for ${sizes.max.activeSeries.toLocaleString("en-US")} active series at max size; a system node leaves about ${nodeAllocatableGiB} GiB: use a larger system node type`,
    });
  }

  let amp: AmpCost | undefined;
  if (config.telemetry.backend === "amp") {
    const ingested = sizes.max.samplesPerSecond * hoursPerMonth * 3600;
    const ingestionUsd = round2(ampIngestionCost(prices, ingested));
    const storedGB = Math.round(((ingested * (planningFigures.ampRetentionDays / (hoursPerMonth / 24)) * planningFigures.bytesPerSample) / 1e9) * 10) / 10;
    const storageUsd = round2(storedGB * prices.amp.storagePerGBMonth);
    const seriesOf = seriesLookup(atMax);
    const ruleSamples = allRules.reduce((sum, r) => sum + querySamples(r.expr, seriesOf, scrape) * ((hoursPerMonth * 3600) / r.intervalSeconds), 0);
    const dashboardSamples = loadSamples(dashboardQueries(config), seriesOf, scrape, dashboardRange(scrape).steps) * planningFigures.dashboardLoadsPerDay * (hoursPerMonth / 24);
    const querySamplesPerMonth = Math.round(ruleSamples + dashboardSamples);
    const queryUsd = round2((querySamplesPerMonth / 1e9) * prices.amp.queryPerBillionSamples);
    amp = {
      workspaces: 1,
      ingestedSamplesPerMonth: Math.round(ingested),
      ingestionUsd,
      storedGB,
      storageUsd,
      querySamplesPerMonth,
      queryUsd,
      monthlyUsd: round2(ingestionUsd + storageUsd + queryUsd),
      activeSeriesQuota: ampDefaultQuotas.activeSeriesPerWorkspace,
      activeSeriesQuotaUsedPercent: Math.round((sizes.max.activeSeries / ampDefaultQuotas.activeSeriesPerWorkspace) * 1000) / 10,
      ingestionQuotaSamplesPerSecond: ampDefaultQuotas.ingestionSamplesPerSecond,
      ingestionQuotaUsedPercent: Math.round((sizes.max.samplesPerSecond / ampDefaultQuotas.ingestionSamplesPerSecond) * 1000) / 10,
    };
    if (amp.activeSeriesQuotaUsedPercent > 80 || amp.ingestionQuotaUsedPercent > 80) {
      findings.push({
        level: "warning",
        path: "infermesh:telemetry.backend",
        message: `at max size the AMP workspace uses ${amp.activeSeriesQuotaUsedPercent}% of its active-series quota and ${amp.ingestionQuotaUsedPercent}% of its ingestion quota: request a quota increase first`,
      });
    }
  }

  const monthlyUsd = bySize((s) => round2(poolsAt(s, (c) => c.usd) + fixedAt(s)));
  const monthlyUsdAtMax = round2(monthlyUsd.max + (amp?.monthlyUsd ?? 0));
  const { maxMonthlyCostUsd, maxActiveSeries } = config.budget;
  const withinBudget = (maxMonthlyCostUsd === undefined || monthlyUsdAtMax <= maxMonthlyCostUsd) && (maxActiveSeries === undefined || sizes.max.activeSeries <= maxActiveSeries);
  const report: CostReport = {
    stack: config.stack,
    environment: config.environment,
    region: config.region,
    currency: "USD",
    hoursPerMonth,
    prices: { takenOn: table.takenOn, spot: table.spot, sources: table.sources, ...(prices.notes ? { notes: prices.notes } : {}) },
    assumptions: { ...assumptions, ...planningFigures, ...clusterDefaults },
    compute: {
      pools,
      fixed: fixedParts,
      monthlyUsd,
      monthlyOnDemandUsd: bySize((s) => round2(poolsAt(s, (c) => c.onDemandUsd) + fixedAt(s))),
      monthlySpotUsd: bySize((s) => round2(poolsAt(s, (c) => c.spotUsd) + fixedAt(s))),
    },
    metrics: {
      backend: config.telemetry.backend,
      scrapeIntervalSeconds: scrape,
      sizes,
      rulesAtMax: atMax.rules.map((r) => ({ record: r.record, series: r.series })),
      seriesPerModelAtMax: Math.ceil(seriesWithModel(atMax) / Math.max(1, censuses.max.models)),
      ...(amp ? { amp } : {}),
      prometheus: {
        memoryGiB,
        nodeAllocatableGiB,
        diskGiB,
        volumeGiB: config.telemetry.volumeSizeGiB,
        retentionDays: Math.round((retentionSeconds / 86400) * 10) / 10,
        fits: diskFits && memoryFits,
      },
    },
    monthlyUsdAtMax,
    budget: { ...(maxMonthlyCostUsd !== undefined ? { maxMonthlyCostUsd } : {}), ...(maxActiveSeries !== undefined ? { maxActiveSeries } : {}), withinBudget },
    findings,
  };
  return { report, atMax, recordingRules: rules };
}

const usd = (n: number) => `$${Math.round(n).toLocaleString("en-US")}`;
const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** A few lines for the synth summary; `on` is the day it is printed (to judge the table's age). */
export function costSummary(report: CostReport, on: Date): string {
  const age = tableAge(report.prices, on);
  const m = report.metrics.sizes;
  const assumed = [...new Set(report.compute.pools.flatMap((p) => [...(p.priceIsAssumption ? [p.instanceType] : []), ...(p.capacity === "spot" ? ["spot"] : [])]))];
  const lines = [
    `Cost (${report.region}, prices of ${report.prices.takenOn}${age.stale ? `, STALE: ${age.days} days old` : ""}${assumed.length > 0 ? `; assumed: ${assumed.join(", ")}` : ""}): ${usd(report.compute.monthlyUsd.min)} / ${usd(report.compute.monthlyUsd.desired)} / ${usd(report.compute.monthlyUsd.max)} a month at min / desired / max (${usd(report.monthlyUsdAtMax)} at max with metrics)`,
    `Metrics at max: ${count(m.max.activeSeries)} active series, ${count(m.max.samplesPerSecond)} samples/s (${report.metrics.backend})${
      report.metrics.amp ? `; AMP ${usd(report.metrics.amp.monthlyUsd)}/month, active-series quota ${report.metrics.amp.activeSeriesQuotaUsedPercent}% used` : ""
    }; Prometheus needs ~${report.metrics.prometheus.memoryGiB} GiB memory, ${report.metrics.prometheus.diskGiB} of ${report.metrics.prometheus.volumeGiB} GiB disk`,
  ];
  if (report.budget.maxMonthlyCostUsd !== undefined || report.budget.maxActiveSeries !== undefined) {
    lines.push(
      `Budget: ${report.budget.withinBudget ? "within" : "OVER"} (${[
        report.budget.maxMonthlyCostUsd !== undefined ? `max ${usd(report.budget.maxMonthlyCostUsd)}/month` : "",
        report.budget.maxActiveSeries !== undefined ? `max ${count(report.budget.maxActiveSeries)} series` : "",
      ]
        .filter(Boolean)
        .join(", ")})`,
    );
  }
  for (const f of report.findings) lines.push(`${f.level}: ${f.path}: ${f.message}`);
  return lines.join("\n");
}

/** One AMP per-label-set limit: series matching every label of the set count against `maxSeries`. */
export interface AmpSeriesLimit {
  labelSet: Record<string, string>;
  maxSeries: number;
}

/**
 * AMP active-series limits per model (AMP workspace configuration, limits
 * per label set), so one runaway model is throttled alone instead of the
 * workspace hitting its quota: `infermesh:budget.maxActiveSeriesPerModel`,
 * or twice a model's estimated share at max size (at least 1,000, in
 * thousands). None without the AMP backend or configured models.
 */
export function ampSeriesLimits(config: Pick<StackConfig, "telemetry" | "models" | "budget">, report: Pick<CostReport, "metrics">): AmpSeriesLimit[] {
  if (config.telemetry.backend !== "amp") return [];
  const maxSeries = config.budget.maxActiveSeriesPerModel ?? Math.max(1000, Math.ceil((2 * report.metrics.seriesPerModelAtMax) / 1000) * 1000);
  return Object.keys(config.models)
    .sort()
    .map((model) => ({ labelSet: { model }, maxSeries }));
}

/** The figures the stack's `infermesh:cost:Budget` carries for the policy pack. */
export function costBudgetFigures(report: CostReport): CostBudgetFigures {
  return {
    environment: report.environment,
    monthlyUsdAtMax: report.monthlyUsdAtMax,
    activeSeriesAtMax: report.metrics.sizes.max.activeSeries,
    pricesTakenOn: report.prices.takenOn,
    ...(report.budget.maxMonthlyCostUsd !== undefined ? { maxMonthlyCostUsd: report.budget.maxMonthlyCostUsd } : {}),
    ...(report.budget.maxActiveSeries !== undefined ? { maxActiveSeries: report.budget.maxActiveSeries } : {}),
  };
}
