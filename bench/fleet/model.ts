/**
 * The seam between the fleet-scale measurement and the synthetic fleet it
 * measures: build a fleet for a scale and a window, plan it into OpenMetrics
 * parts, write one part. bench/fleet/measure.ts uses nothing else, so the
 * fleet behind it (today bench/fleet/legacyModel.ts) can be replaced by
 * another generator without touching the measurement.
 */
import type { RecordingRule } from "../../monitoring/recording";
import {
  buildFleet,
  fleetFamilies,
  fleetScales,
  latencyBucketsMs,
  migProfile,
  missingSeries,
  planParts,
  promtoolBlockSeconds,
  scrapeSeconds,
  storedSeries,
  writePart,
  type FleetScale,
  type Segment,
} from "./legacyModel";

export { fleetScales, promtoolBlockSeconds, type FleetScale };

/** What the report says about the fleet. */
export interface FleetShape {
  scale: string;
  gpus: number;
  nodes: number;
  migNodes: number;
  migInstances: number;
  devices: number;
  freeDevices: number;
  deployments: number;
  models: number;
  revisions: number;
  tenants: number;
  routers: number;
  routersPerDeployment: number;
  hours: number;
  scrapeSeconds: number;
  samplesPerSeries: number;
  /** Stored raw series (a histogram counts each bucket, count and sum). */
  rawSeries: number;
  dcgmSeries: number;
  samples: number;
  latencyBuckets: number;
  migProfile: string;
  /** Window, unix seconds. */
  start: number;
  end: number;
}

/** One OpenMetrics file's worth of series; opaque to the measurement. */
export interface FleetPart {
  segments: Segment[];
}

export interface SyntheticFleet {
  shape: FleetShape;
  /** Raw series the given queries and rules read that the fleet lacks (a panel over them would time an empty answer). */
  missing(queries: readonly string[], rules: readonly RecordingRule[]): string[];
  /** The fleet in OpenMetrics parts of about `partBytes` each (the last may be smaller), and the estimated total size. */
  parts(partBytes: number): { parts: FleetPart[]; bytes: number };
  /** Writes one part as a complete OpenMetrics exposition (ending in `# EOF`). */
  writePart(file: string, part: FleetPart): Promise<{ bytes: number; lines: number }>;
  /** UUIDs of the GPUs split into MIG instances. */
  migGpuUuids: ReadonlySet<string>;
}

export function syntheticFleet(scale: FleetScale, nowSeconds = Date.now() / 1000): SyntheticFleet {
  const fleet = buildFleet(scale, nowSeconds);
  const families = fleetFamilies(fleet);
  const rawSeries = families.reduce((n, f) => n + storedSeries(f), 0);
  const migDevices = fleet.devices.filter((d) => d.mig);
  return {
    shape: {
      scale: scale.name,
      gpus: fleet.gpus,
      nodes: scale.nodes,
      migNodes: Math.floor(scale.nodes / scale.migEvery),
      migInstances: migDevices.length,
      devices: fleet.devices.length,
      freeDevices: fleet.devices.length - fleet.entities.length,
      deployments: fleet.deployments.length,
      models: scale.models,
      revisions: scale.revisions,
      tenants: scale.tenants,
      routers: scale.routers,
      routersPerDeployment: scale.routersPerDeployment,
      hours: scale.hours,
      scrapeSeconds,
      samplesPerSeries: fleet.steps,
      rawSeries,
      dcgmSeries: families.filter((f) => f.name.startsWith("DCGM_")).reduce((n, f) => n + storedSeries(f), 0),
      samples: rawSeries * fleet.steps,
      latencyBuckets: latencyBucketsMs.length + 1,
      migProfile: `${migProfile.perGpu}x ${migProfile.name}`,
      start: fleet.start,
      end: fleet.end,
    },
    missing: (queries, rules) => missingSeries(families, queries, rules),
    parts: (partBytes) => {
      const { parts, bytes } = planParts(families, fleet.steps, partBytes);
      return { parts: parts.map((segments) => ({ segments })), bytes };
    },
    writePart: (file, part) => writePart(file, part.segments),
    migGpuUuids: new Set(migDevices.map((d) => d.uuid)),
  };
}
