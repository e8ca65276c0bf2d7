/**
 * The fleet the fleet-scale bench measures: the one synthetic fleet (sim/),
 * built from the prod stack's pools and models and scaled up, written as
 * OpenMetrics through the stack's own scrape configuration and relabel rules
 * (sim/openmetrics.ts). bench/fleet/measure.ts uses only what this module
 * exports: a shape to report, the series queries need, and parts to write.
 */
import type { RecordingRule } from "../../monitoring/recording";
import { fleetPods, kubeStateMetricsScrapeConfig } from "../../sim/discovery";
import { Fleet } from "../../sim/fleet";
import type { FleetTarget } from "../../sim/model";
import { Backfill, backfillWindow, promtoolBlockSeconds, type BackfillPart } from "../../sim/openmetrics";
import { metricNamesIn } from "../../lib/promql";
import { loadStackConfig } from "../../verify/run";
import { fleetSettings, stackScrapeConfigs } from "../../verify/stackFleet";
import { benchScrapeIntervalSeconds } from "../context";

export { promtoolBlockSeconds };

export interface FleetScale {
  name: string;
  /** GPU nodes, spread over the stack's pools of `gpusPerNode`-GPU instances. */
  nodes: number;
  gpusPerNode: number;
  /** Models served: the stack's own, then generated ones. */
  models: number;
  routers: number;
  /** Routers that see a given deployment (routers are sharded by deployment). */
  routersPerDeployment: number;
  hours: number;
}

export const fleetScales = {
  full: { name: "full", nodes: 128, gpusPerNode: 8, models: 64, routers: 32, routersPerDeployment: 4, hours: 6 },
  small: { name: "small", nodes: 8, gpusPerNode: 8, models: 4, routers: 4, routersPerDeployment: 2, hours: 1 },
} as const satisfies Record<string, FleetScale>;

/** The stack whose pools, models and scrape configuration (relabel rules included) the bench's fleet has. */
export const fleetStack = "prod";

/** What the report says about the fleet. */
export interface FleetShape {
  scale: string;
  stack: string;
  gpus: number;
  nodes: number;
  /** Per pool: nodes, GPU model and MIG layout. */
  pools: string[];
  migInstances: number;
  /** GPUs and MIG instances. */
  devices: number;
  freeDevices: number;
  deployments: number;
  models: number;
  routers: number;
  routersPerDeployment: number;
  hours: number;
  scrapeSeconds: number;
  samplesPerSeries: number;
  /** Series as Prometheus stores them after the stack's relabeling (a histogram counts each bucket, count and sum). */
  rawSeries: number;
  dcgmSeries: number;
  samples: number;
  /** Window, unix seconds. */
  start: number;
  end: number;
}

/** One OpenMetrics file's worth of series; opaque to the measurement. */
export type FleetPart = BackfillPart;

export interface SyntheticFleet {
  shape: FleetShape;
  /** Raw series the given queries and rules read that the fleet lacks (a panel over them would time an empty answer). */
  missing(queries: readonly string[], rules: readonly RecordingRule[]): string[];
  /** The fleet in OpenMetrics parts of about `partBytes` each (the last may be smaller), and the estimated total size. */
  parts(partBytes: number): { parts: FleetPart[]; bytes: number };
  /** Writes one part as a complete OpenMetrics exposition (ending in `# EOF`). */
  writePart(file: string, part: FleetPart): Promise<{ bytes: number; lines: number }>;
}

/**
 * Raw series the measured queries and the recording rules read but the
 * backfilled fleet lacks.
 */
export function missingSeries(stored: ReadonlyArray<{ name: string }>, queries: readonly string[], rules: readonly RecordingRule[]): string[] {
  const generated = new Set(stored.map((f) => f.name));
  const recorded = new Set(rules.map((r) => r.record));
  const read = new Set([...queries, ...rules.map((r) => r.expr)].flatMap((q) => [...metricNamesIn(q)]));
  return [...read].filter((n) => !recorded.has(n) && !generated.has(n)).sort();
}

/**
 * The stack's fleet scaled up: its pools whose instances hold `gpusPerNode`
 * GPUs (pool maximum sizes ignored), written through its own scrape
 * configuration. Traffic swings by 10% over the window, each deployment in
 * its own phase; one GPU in 16 is held but barely used, a few GPU pods stay
 * Pending, and one node goes down for 20 minutes mid-window.
 */
export async function syntheticFleet(scale: FleetScale, nowSeconds = Date.now() / 1000): Promise<SyntheticFleet> {
  const config = await loadStackConfig(fleetStack);
  const settings = fleetSettings(config);
  const pools = settings.pools.filter((p) => p.gpusPerInstance >= scale.gpusPerNode);
  if (pools.length === 0) throw new Error(`stack ${fleetStack} has no pool of ${scale.gpusPerNode}-GPU instances`);
  const scrapeSeconds = benchScrapeIntervalSeconds;
  const window = backfillWindow(scale.hours, nowSeconds, scrapeSeconds);
  const down = window.start + Math.floor((window.end - window.start) / 2 / 60) * 60;
  const fleet = new Fleet({
    settings: { ...settings, pools },
    shape: {
      nodes: scale.nodes,
      gpusPerNode: scale.gpusPerNode,
      routers: scale.routers,
      models: scale.models,
      routersPerDeployment: scale.routersPerDeployment,
      gossipPeers: 4,
      belowPoolMax: false,
      idleEvery: 16,
      pendingPods: Math.max(1, Math.round(scale.nodes / 40)),
      traffic: { amplitude: 0.1, periodSeconds: scale.hours * 3600 },
    },
    timeline: [
      { from: window.start, scenario: "healthy" },
      { from: down, scenario: "node-down" },
      { from: Math.min(down + 1200, window.end), scenario: "healthy" },
    ],
  });
  const addressOf = (t: FleetTarget) => t.address;
  const scrapeConfigs = [...stackScrapeConfigs(config, fleetPods(fleet, addressOf), `${scrapeSeconds}s`), kubeStateMetricsScrapeConfig(fleet, addressOf, `${scrapeSeconds}s`)];
  const backfill = new Backfill(fleet, scrapeConfigs, addressOf, window);
  const devices = fleet.gpuNodes.flatMap((n) => n.entities);
  const rawSeries = backfill.seriesCount;
  return {
    shape: {
      scale: scale.name,
      stack: fleetStack,
      gpus: new Set(devices.map((d) => d.uuid)).size,
      nodes: fleet.gpuNodes.length,
      pools: fleet.pools.map((p) => `${p.name}: ${fleet.gpuNodes.filter((n) => n.pool === p).length} x ${p.gpu}${p.mig ? ` split into ${p.mig.instances}x ${p.mig.profile}` : ""}`),
      migInstances: devices.filter((d) => d.mig).length,
      devices: devices.length,
      freeDevices: devices.filter((d) => !d.deployment).length,
      deployments: fleet.deployments.length,
      models: fleet.models.length,
      routers: scale.routers,
      routersPerDeployment: scale.routersPerDeployment,
      hours: scale.hours,
      scrapeSeconds,
      samplesPerSeries: window.steps,
      rawSeries,
      dcgmSeries: backfill.families.filter((f) => f.name.startsWith("DCGM_")).reduce((n, f) => n + f.series.length, 0),
      samples: rawSeries * window.steps,
      start: window.start,
      end: window.end,
    },
    missing: (queries, rules) => missingSeries(backfill.families, queries, rules),
    parts: (partBytes) => {
      const parts = backfill.planParts(partBytes);
      return { parts, bytes: parts.reduce((n, p) => n + p.bytes, 0) };
    },
    writePart: (file, part) => backfill.writePart(file, part),
  };
}
