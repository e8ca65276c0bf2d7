/**
 * The README's scale model, produced by the same estimator as every stack's
 * cost.json (cost/): fleets of 1,000 to 50,000 GPUs over one or three
 * regions, each region one stack of 8-GPU p5.48xlarge nodes with the prod
 * stack's telemetry. Per region: active series and samples per second, the
 * backend that carries them and how many AMP workspaces (against AMP's
 * default quotas), and what one full load of every dashboard reads (samples
 * processed, AMP's query price) with the recording rules and without them
 * (each recorded series expanded to the expression its rule records, as the
 * bench's raw side is).
 */
import { parseStackConfig, type RawConfig, type StackConfig } from "../config";
import { costEstimate, dashboardQueries, dashboardRange, planningFigures, seriesLookup } from "../cost/estimate";
import { loadSamples } from "../cost/queries";
import { ampDefaultQuotas, priceTable } from "../cost/prices";
import { expandRecorded } from "./fleet/plans";

export interface ScalePoint {
  gpus: number;
  regions: number;
}

export const scalePoints: readonly ScalePoint[] = [
  { gpus: 1000, regions: 1 },
  { gpus: 1000, regions: 3 },
  { gpus: 10_000, regions: 1 },
  { gpus: 10_000, regions: 3 },
  { gpus: 50_000, regions: 1 },
  { gpus: 50_000, regions: 3 },
];

/** Models served: one per 200 GPUs, at least 10 (each in two revisions for three tenants: cost/census.ts defaults). */
export const modelsFor = (gpus: number) => Math.max(10, Math.round(gpus / 200));
/** Largest in-cluster Prometheus the model plans for: what an m7i.4xlarge (64 GiB) leaves a pod. */
export const inClusterMemoryLimitGiB = 64 * planningFigures.allocatableMemoryShare;

export interface ScaleRow extends ScalePoint {
  /** Per region. */
  series: number;
  samplesPerSecond: number;
  backend: "in-cluster" | "amp";
  /** AMP workspaces a region needs at the default quotas. */
  workspaces: number;
  /** One full load of every dashboard at 6 h, per region: samples processed. */
  loadSamplesWithRules: number;
  loadSamplesWithoutRules: number;
  /** The same at AMP's query price, USD. */
  loadUsdWithRules: number;
  loadUsdWithoutRules: number;
}

/** One region's stack: the prod stack's telemetry, every GPU on 8-GPU p5.48xlarge nodes, at max size. */
export function regionConfig(gpusPerRegion: number, models: number): StackConfig {
  const nodes = Math.ceil(gpusPerRegion / 8);
  const pools = Math.ceil(nodes / 400);
  const raw: RawConfig = {
    region: "us-east-1",
    environment: "staging",
    cluster: {
      mode: "create",
      kubernetesVersion: "1.34",
      vpc: { cidr: "10.60.0.0/16", availabilityZones: ["us-east-1a", "us-east-1b", "us-east-1c"] },
      // Routers on system nodes: one per 50 GPU nodes, at least three.
      systemNodes: { instanceTypes: ["m7i.4xlarge"], scaling: { min: 3, desired: 3, max: Math.max(3, Math.ceil(nodes / 50)) } },
    },
    // A pool holds at most 450 nodes (config/schema.ts): split evenly.
    gpuPools: Object.fromEntries(
      Array.from({ length: pools }, (_, i) => {
        const size = Math.floor(nodes / pools) + (i < nodes % pools ? 1 : 0);
        return [`h100-${i}`, { instanceTypes: ["p5.48xlarge"], capacity: "on-demand", scaling: { min: 1, desired: size, max: size } }];
      }),
    ),
    models: Object.fromEntries(Array.from({ length: models }, (_, i) => [`model-${String(i).padStart(3, "0")}`, {}])),
    telemetry: { backend: "amp", scrapeInterval: "30s", retention: "15d", volumeSizeGiB: 16384 },
  };
  return parseStackConfig(raw, { project: "infermesh", stack: "scale", now: new Date("2026-12-01T00:00:00Z") });
}

export function scaleRow(point: ScalePoint): ScaleRow {
  const config = regionConfig(point.gpus / point.regions, modelsFor(point.gpus / point.regions));
  const { report, atMax, recordingRules } = costEstimate(config);
  const { activeSeries: series, samplesPerSecond } = report.metrics.sizes.max;
  const memoryGiB = report.metrics.prometheus.memoryGiB;
  const workspaces = Math.max(1, Math.ceil(series / ampDefaultQuotas.activeSeriesPerWorkspace), Math.ceil(samplesPerSecond / ampDefaultQuotas.ingestionSamplesPerSecond));
  const scrape = config.telemetry.scrapeIntervalSeconds;
  // The estimate the report was figured from: the stack's own DCGM counters and recording rules.
  const seriesOf = seriesLookup(atMax);
  const queries = dashboardQueries(config);
  const { steps } = dashboardRange(scrape);
  const rules = new Map(recordingRules.map((r) => [r.record, r.expr]));
  const raw = queries.map((q) => ({ ...q, expr: expandRecorded(q.expr, rules, `${scrape}s`, planningFigures.dashboardRangeSeconds) }));
  const withRules = Math.round(loadSamples(queries, seriesOf, scrape, steps));
  const withoutRules = Math.round(loadSamples(raw, seriesOf, scrape, steps));
  const price = priceTable.regions["us-east-1"]?.amp.queryPerBillionSamples ?? 0;
  return {
    ...point,
    series,
    samplesPerSecond,
    backend: memoryGiB <= inClusterMemoryLimitGiB ? "in-cluster" : "amp",
    workspaces,
    loadSamplesWithRules: withRules,
    loadSamplesWithoutRules: withoutRules,
    loadUsdWithRules: (withRules / 1e9) * price,
    loadUsdWithoutRules: (withoutRules / 1e9) * price,
  };
}

const n = (x: number) => Math.round(x).toLocaleString("en-US");
const oneDecimal = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const big = (x: number) => (x >= 1e9 ? `${oneDecimal(x / 1e9)} B` : x >= 1e6 ? `${oneDecimal(x / 1e6)} M` : n(x));
const cents = (x: number) => `$${x < 0.01 ? x.toFixed(4) : x.toFixed(2)}`;

/** The README table (Markdown), one row per scale point. */
export function scaleModelTable(rows: readonly ScaleRow[] = scalePoints.map(scaleRow)): string {
  const header = [
    "| GPUs | regions | series per region | samples/s per region | backend | AMP workspaces needed per region | one full load with rules | without rules |",
    "|--:|--:|--:|--:|---|--:|--:|--:|",
  ];
  return [
    ...header,
    ...rows.map(
      (r) =>
        `| ${n(r.gpus)} | ${r.regions} | ${big(r.series)} | ${n(r.samplesPerSecond)} | ${r.backend} | ${r.workspaces} | ${big(r.loadSamplesWithRules)} samples (${cents(r.loadUsdWithRules)}) | ${big(r.loadSamplesWithoutRules)} samples (${cents(r.loadUsdWithoutRules)}) |`,
    ),
  ].join("\n");
}
