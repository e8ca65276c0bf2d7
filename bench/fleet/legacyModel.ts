/**
 * The synthetic fleet of the fleet-scale bench, as it was in
 * scripts/bench-fleet.ts: the fleet model (nodes, GPUs and MIG instances,
 * deployments, routers), the series each exports in the stored label form
 * (after the stack's relabeling), and OpenMetrics part files of them.
 *
 * Moved as one block; bench/fleet/measure.ts reaches it only through
 * bench/fleet/model.ts (build fleet, plan parts, write part), so the
 * simulator that replaces it can be put behind the same seam.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { inferenceErrors, cancellationReasons, metrics, rejectionReasons, type MetricName, latencyBucketBoundsMs } from "../../monitoring/metrics";
import type { RecordingRule } from "../../monitoring/recording";
import { metricNamesIn } from "../../lib/promql";
import { benchScrapeIntervalSeconds } from "../context";

// ---------------------------------------------------------------------------
// Scale

export interface FleetScale {
  name: string;
  nodes: number;
  gpusPerNode: number;
  /** Every `migEvery`-th node has its GPUs split into MIG instances. */
  migEvery: number;
  models: number;
  revisions: number;
  tenants: number;
  routers: number;
  /** Routers that see a given deployment (routers are sharded by deployment). */
  routersPerDeployment: number;
  hours: number;
}

export const fleetScales: Record<"full" | "small", FleetScale> = {
  full: { name: "full", nodes: 128, gpusPerNode: 8, migEvery: 16, models: 64, revisions: 3, tenants: 4, routers: 32, routersPerDeployment: 4, hours: 6 },
  small: { name: "small", nodes: 8, gpusPerNode: 8, migEvery: 8, models: 4, revisions: 3, tenants: 4, routers: 4, routersPerDeployment: 2, hours: 1 },
};

/** The scrape interval of the data, and the stack's (benchContext). */
export const scrapeSeconds = benchScrapeIntervalSeconds;
/** An H100 80GB split in two `3g.40gb` instances: a profile the stack's GPU table allows. */
export const migProfile = { name: "3g.40gb", perGpu: 2, fbTotalMiB: 40_448 };
const gpuModelName = "NVIDIA H100 80GB HBM3";
const wholeFbTotalMiB = 81_559;
/** The metric contract's bounds: the latency SLO reads the bucket at its target. */
export const latencyBucketsMs = latencyBucketBoundsMs;
const zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
const monitoring = "monitoring";
const servingNamespace = "infermesh";

// ---------------------------------------------------------------------------
// The synthetic fleet

interface FleetNode {
  name: string;
  zone: string;
  ip: string;
  mig: boolean;
}

interface Deployment {
  index: number;
  model: string;
  revision: string;
  quant: string;
  runtime: string;
  /** The pod labels make a serving pod belong to one tenant (DCGM series carry it too). */
  tenant: string;
  /** Requests per second across the deployment at load 1. */
  rps: number;
  /** Median latency (ms) at base load. */
  medianMs: number;
  base: number;
  phase: number;
  entities: GpuEntity[];
  routers: Router[];
}

/** A whole GPU or a MIG instance: what dcgm-exporter reports one series per field for. */
interface GpuDevice {
  /** Position among all devices. */
  id: number;
  node: FleetNode;
  gpu: number;
  uuid: string;
  mig?: { profile: string; instance: string };
}

/** A device held by one serving pod. */
interface GpuEntity extends GpuDevice {
  /** Position among held devices. */
  index: number;
  deployment: Deployment;
  pod: string;
  podIp: string;
}

const isHeld = (d: GpuDevice): d is GpuEntity => "deployment" in d;

interface Router {
  index: number;
  pod: string;
  node: FleetNode;
  ip: string;
}

export interface Fleet {
  scale: FleetScale;
  nodes: FleetNode[];
  routerNodes: FleetNode[];
  deployments: Deployment[];
  /** Every GPU and MIG instance, held or free. */
  devices: GpuDevice[];
  /** The held ones. */
  entities: GpuEntity[];
  /** GPU pods waiting for a GPU (no node). */
  pendingPods: string[];
  routers: Router[];
  gpus: number;
  /** Sample timestamps, unix seconds. */
  start: number;
  end: number;
  steps: number;
}

/**
 * Deterministic PRNG (mulberry32), so a run is reproducible. Each output
 * hashes a counter, so streams from neighbouring seeds (one per series) are
 * independent from their first value on.
 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const hex = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join("");
const podSuffix = (r: () => number) => Array.from({ length: 5 }, () => "bcdfghjklmnpqrstvwxz2456789"[Math.floor(r() * 27)]).join("");
const pad = (n: number, width: number) => String(n).padStart(width, "0");

/**
 * Promtool writes one block per aligned range of its block duration, reading
 * the whole input once per range; with 18 h blocks (the hidden
 * `--max-block-duration` flag) a window inside one aligned 18 h range costs a
 * single pass. The window ends at the latest minute that allows that.
 */
export const promtoolBlockSeconds = 18 * 3600;

export function fleetWindow(hours: number, nowSeconds: number): { start: number; end: number; steps: number } {
  const duration = hours * 3600;
  let end = Math.floor(nowSeconds / 60) * 60;
  const blockStart = Math.floor(end / promtoolBlockSeconds) * promtoolBlockSeconds;
  if (end - duration < blockStart) end = blockStart - 60;
  return { start: end - duration, end, steps: duration / scrapeSeconds + 1 };
}

export function buildFleet(scale: FleetScale, nowSeconds = Date.now() / 1000): Fleet {
  const r = rng(42);
  const nodeName = (a: number, b: number) => `ip-10-40-${a}-${b}.ec2.internal`;
  const nodes: FleetNode[] = Array.from({ length: scale.nodes }, (_, i) => {
    const a = 16 + 16 * (i % 3) + Math.floor(i / 600);
    const b = 10 + (Math.floor(i / 3) % 200);
    return { name: nodeName(a, b), zone: zones[i % 3] as string, ip: `10.40.${a}.${b}`, mig: i % scale.migEvery === scale.migEvery - 1 };
  });
  const routerNodes: FleetNode[] = Array.from({ length: Math.ceil(scale.routers / 4) }, (_, i) => ({
    name: nodeName(8 + 16 * (i % 3), 10 + i),
    zone: zones[i % 3] as string,
    ip: `10.40.${8 + 16 * (i % 3)}.${10 + i}`,
    mig: false,
  }));
  const routers: Router[] = Array.from({ length: scale.routers }, (_, i) => {
    const node = routerNodes[Math.floor(i / 4)] as FleetNode;
    return { index: i, pod: `router-${hex(r, 5)}-${podSuffix(r)}`, node, ip: `10.40.${node.ip.split(".")[2]}.${100 + i}` };
  });
  const quants = ["fp16", "fp8", "int4"];
  const runtimes = ["vllm", "tgi", "trtllm", "sglang"];
  const deployments: Deployment[] = [];
  for (let m = 0; m < scale.models; m++) {
    for (let v = 0; v < scale.revisions; v++) {
      const index = deployments.length;
      const routerStride = Math.max(1, Math.floor(scale.routers / scale.routersPerDeployment));
      // A few deployments hold GPUs they barely use: what the idle-GPU panels look for.
      const idle = index % 16 === 5;
      deployments.push({
        index,
        model: `model-${pad(m, 2)}`,
        revision: `r${v + 1}`,
        quant: quants[m % quants.length] as string,
        runtime: runtimes[m % runtimes.length] as string,
        tenant: `tenant-${index % scale.tenants}`,
        rps: idle ? 0.5 : 20 + 180 * r(),
        medianMs: 60 + 600 * r(),
        base: idle ? 0.02 : 0.35 + 0.5 * r(),
        phase: 2 * Math.PI * r(),
        entities: [],
        routers: Array.from({ length: Math.min(scale.routersPerDeployment, scale.routers) }, (_, j) => routers[(index + j * routerStride) % scale.routers] as Router),
      });
    }
  }
  const devices: GpuDevice[] = [];
  const entities: GpuEntity[] = [];
  nodes.forEach((node, n) => {
    for (let g = 0; g < scale.gpusPerNode; g++) {
      const uuid = `GPU-${hex(r, 8)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 12)}`;
      const instances = node.mig ? Array.from({ length: migProfile.perGpu }, (_, k) => ({ profile: migProfile.name, instance: String(k + 1) })) : [undefined];
      for (const mig of instances) {
        const device: GpuDevice = { id: devices.length, node, gpu: g, uuid, ...(mig ? { mig } : {}) };
        // One device in 40 is free: no pod, so no pod or model labels on its DCGM series.
        if (device.id % 40 === 39) {
          devices.push(device);
          continue;
        }
        const deployment = deployments[entities.length % deployments.length] as Deployment;
        const entity: GpuEntity = {
          ...device,
          index: entities.length,
          deployment,
          pod: `${deployment.model}-${deployment.revision}-${hex(r, 5)}-${podSuffix(r)}`,
          podIp: `10.40.${node.ip.split(".")[2]}.${(n * 16 + entities.length) % 250 + 2}`,
        };
        devices.push(entity);
        entities.push(entity);
        deployment.entities.push(entity);
      }
    }
  });
  const pendingPods = Array.from({ length: Math.max(1, Math.round(scale.nodes / 40)) }, (_, i) => {
    const d = deployments[(i * 7) % deployments.length] as Deployment;
    return `${d.model}-${d.revision}-${hex(r, 5)}-${podSuffix(r)}`;
  });
  return { scale, nodes, routerNodes, deployments, devices, entities, pendingPods, routers, gpus: scale.nodes * scale.gpusPerNode, ...fleetWindow(scale.hours, nowSeconds) };
}

// ---------------------------------------------------------------------------
// Series

type Labels = Record<string, string | undefined>;

/** One OpenMetrics metric family: its samples are written together. */
export interface Family {
  /** Family name (a counter's samples add `_total`). */
  name: string;
  type: "counter" | "gauge" | "histogram" | "unknown";
  help: string;
  /** Label sets of the family's series (histograms: of each bucket set). */
  series: Labels[];
  /** Lines per series per timestamp (a histogram writes its buckets, count and sum). */
  linesPerPoint: number;
  write: (out: Writer, labels: string, index: number) => void;
}

/** Labels in sorted order, empty values left out (Prometheus does not store them). */
function renderLabels(labels: Labels): string {
  return Object.keys(labels)
    .filter((k) => labels[k] !== undefined && labels[k] !== "")
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(",");
}

/** Buffered writer: appends to a string and flushes it to the file in large chunks. */
export class Writer {
  private chunk = "";
  bytes = 0;
  lines = 0;
  constructor(private readonly fd: number) {}
  add(text: string): void {
    this.chunk += text;
    if (this.chunk.length >= 8 << 20) this.flush();
  }
  flush(): void {
    if (this.chunk.length === 0) return;
    this.bytes += writeSync(this.fd, this.chunk);
    this.chunk = "";
  }
}

/**
 * Per-deployment load over the window: a slow wave around a base, so
 * rates, latency and utilization move like a day's traffic rather than sit flat.
 */
function loadCurve(fleet: Fleet, d: Deployment): Float64Array {
  const out = new Float64Array(fleet.steps);
  const r = rng(1000 + d.index);
  for (let i = 0; i < fleet.steps; i++) {
    const wave = Math.sin((2 * Math.PI * i) / fleet.steps + d.phase);
    out[i] = Math.min(0.98, Math.max(0.005, d.base * (1 + 0.3 * wave) + 0.04 * (r() - 0.5) * Math.min(1, 4 * d.base)));
  }
  return out;
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26), enough for bucket shares. */
function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x) / Math.SQRT2);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t) * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** Writes one series: `prefix value timestamp` per step. */
function writeSeries(out: Writer, fleet: Fleet, timestamps: readonly string[], prefix: string, value: (i: number) => string): void {
  for (let i = 0; i < fleet.steps; i++) out.add(`${prefix}${value(i)} ${timestamps[i]}\n`);
  out.lines += fleet.steps;
}

/** A counter's cumulative value from per-step increments, with probabilistic rounding so small rates stay honest. */
function counterValues(steps: number, seed: number, expected: (i: number) => number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(steps);
  let total = Math.floor(r() * 1000 * expected(0));
  for (let i = 0; i < steps; i++) {
    const e = Math.max(0, expected(i));
    total += Math.floor(e + r());
    out[i] = total;
  }
  return out;
}

export function fleetFamilies(fleet: Fleet): Family[] {
  const { steps } = fleet;
  const timestamps = Array.from({ length: steps }, (_, i) => String(fleet.start + i * scrapeSeconds));
  const loads = new Map(fleet.deployments.map((d) => [d.index, loadCurve(fleet, d)]));
  const freeLoad = new Float64Array(steps);
  const loadOf = (d: GpuDevice) => (isHeld(d) ? (loads.get(d.deployment.index) as Float64Array) : freeLoad);
  // Inferences per step of each entity; the histogram counts the same inferences.
  const inferences = fleet.entities.map((e) => {
    const load = loadOf(e);
    const perEntity = (e.deployment.rps / e.deployment.entities.length) * scrapeSeconds;
    const r = rng(2000 + e.index);
    const out = new Float64Array(steps);
    for (let i = 0; i < steps; i++) out[i] = Math.floor(perEntity * ((load[i] as number) / e.deployment.base) * (0.9 + 0.2 * r()) + r());
    return out;
  });
  const cumulative = (per: Float64Array, seed: number) => {
    const out = new Float64Array(per.length);
    let total = Math.floor(rng(seed)() * 1e6);
    per.forEach((v, i) => (out[i] = total += v));
    return out;
  };

  const dcgmTarget = (e: GpuDevice): Labels => ({
    job: `${monitoring}/dcgm-exporter`,
    instance: `${e.node.ip}:9400`,
    endpoint: "metrics",
    node: e.node.name,
    zone: e.node.zone,
  });
  const dcgmLabelsOf = (e: GpuDevice): Labels => ({
    ...dcgmTarget(e),
    gpu: String(e.gpu),
    gpu_uuid: e.uuid,
    gpu_model: gpuModelName,
    mig_profile: e.mig?.profile,
    mig_instance: e.mig?.instance,
    ...(isHeld(e)
      ? { namespace: servingNamespace, pod: e.pod, container: "runtime", model: e.deployment.model, revision: e.deployment.revision, tenant: e.deployment.tenant }
      : {}),
  });
  const agentTarget = (e: GpuEntity): Labels => ({
    job: `${monitoring}/infermesh-agent`,
    instance: `${e.podIp}:8080`,
    endpoint: "metrics",
    namespace: servingNamespace,
    pod: e.pod,
    container: "agent",
    node: e.node.name,
    zone: e.node.zone,
  });
  const servingLabelsOf = (e: GpuEntity): Labels => ({
    ...agentTarget(e),
    model: e.deployment.model,
    revision: e.deployment.revision,
    quant: e.deployment.quant,
    runtime: e.deployment.runtime,
    gpu_uuid: e.uuid,
    mig_profile: e.mig?.profile,
    tenant: e.deployment.tenant,
  });
  const routerTarget = (rt: Router): Labels => ({
    job: `${monitoring}/infermesh-router`,
    instance: `${rt.ip}:8080`,
    endpoint: "metrics",
    namespace: servingNamespace,
    pod: rt.pod,
    container: "router",
    node: rt.node.name,
    zone: rt.node.zone,
  });
  const routes = fleet.deployments.flatMap((d) => d.routers.map((rt) => ({ d, rt })));
  const routeLabels = ({ d, rt }: { d: Deployment; rt: Router }): Labels => ({ ...routerTarget(rt), model: d.model, revision: d.revision, tenant: d.tenant });
  /** Requests per step one router sends for a deployment. */
  const routeRequests = ({ d }: { d: Deployment }, i: number) => {
    const load = loads.get(d.index) as Float64Array;
    return ((d.rps * scrapeSeconds) / d.routers.length) * ((load[i] as number) / d.base);
  };

  const families: Family[] = [];
  const devices = fleet.devices;
  const firstOfGpu = new Map<string, GpuDevice>();
  for (const d of devices) if (!firstOfGpu.has(d.uuid)) firstOfGpu.set(d.uuid, d);
  /**
   * A DCGM family: `instance` fields differ per MIG instance; `device` fields
   * (temperature, power, ECC, violations, XID) are the physical GPU's and
   * repeat on each of its MIG instances, as dcgm-exporter reports them.
   */
  const gpuFamily = (name: MetricName, type: Family["type"], scope: "instance" | "device", members: GpuDevice[], value: (e: GpuDevice, load: Float64Array, r: () => number) => (i: number) => string) => {
    families.push({
      name,
      type,
      help: metrics[name].help,
      series: members.map(dcgmLabelsOf),
      linesPerPoint: 1,
      write: (out, labels, k) => {
        const member = members[k] as GpuDevice;
        const e = scope === "device" ? (firstOfGpu.get(member.uuid) as GpuDevice) : member;
        writeSeries(out, fleet, timestamps, `${name}{${labels}} `, value(e, loadOf(e), rng(hashString(name) ^ e.id)));
      },
    });
  };
  const whole = devices.filter((e) => !e.mig);
  // MIG instances report no GPU_UTIL (dcgm-exporter issues #50, #216).
  gpuFamily("DCGM_FI_DEV_GPU_UTIL", "gauge", "instance", whole, (_e, load, r) => (i) => String(Math.round(100 * Math.min(1, (load[i] as number) * (0.95 + 0.1 * r())))));
  gpuFamily("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "instance", devices, (_e, load, r) => (i) => String(Math.round(1000 * Math.min(1, (load[i] as number) * (0.9 + 0.1 * r()))) / 1000));
  gpuFamily("DCGM_FI_DEV_FB_USED", "gauge", "instance", devices, (e, load, r) => {
    const total = e.mig ? migProfile.fbTotalMiB : wholeFbTotalMiB;
    const weights = isHeld(e) ? total * (0.45 + 0.3 * r()) : 0;
    return (i) => String(Math.round(Math.min(total - 300, weights + 0.25 * total * (load[i] as number) * (0.9 + 0.1 * r()))));
  });
  gpuFamily("DCGM_FI_DEV_FB_TOTAL", "gauge", "instance", devices, (e) => {
    const total = String(e.mig ? migProfile.fbTotalMiB : wholeFbTotalMiB);
    return () => total;
  });
  // Counters dcgm-exporter names without `_total`: OpenMetrics only allows
  // that for type `unknown`; the type does not reach the TSDB either way.
  const rareCounter = (share: number, perStep: number) => (e: GpuDevice, _load: Float64Array, r: () => number) => {
    const hit = r() < share;
    const values = counterValues(fleet.steps, e.id * 31 + Math.floor(r() * 1e6), (i) => (hit && i > fleet.steps / 3 ? perStep : 0));
    return (i: number) => String(values[i]);
  };
  gpuFamily("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "unknown", "device", devices, rareCounter(0.002, 0.002));
  gpuFamily("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "unknown", "device", devices, rareCounter(0.004, 0.002));
  gpuFamily("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "unknown", "device", devices, rareCounter(0.05, 0.05));
  gpuFamily("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "unknown", "device", devices, rareCounter(0.08, 0.05));
  const violation = (share: number, fraction: number) => (e: GpuDevice, load: Float64Array, r: () => number) => {
    const hit = r() < share;
    const values = counterValues(fleet.steps, e.id * 37 + 5, (i) => (hit ? fraction * (load[i] as number) * scrapeSeconds * 1e9 : 0));
    return (i: number) => String(values[i]);
  };
  gpuFamily("DCGM_FI_DEV_THERMAL_VIOLATION", "unknown", "device", devices, violation(0.03, 0.2));
  gpuFamily("DCGM_FI_DEV_POWER_VIOLATION", "unknown", "device", devices, violation(0.1, 0.05));
  gpuFamily("DCGM_FI_DEV_GPU_TEMP", "gauge", "device", devices, (_e, load, r) => (i) => String(Math.round(38 + 40 * (load[i] as number) + 3 * r())));
  gpuFamily("DCGM_FI_DEV_POWER_USAGE", "gauge", "device", devices, (_e, load, r) => (i) => String(Math.round(10 * (75 + 600 * (load[i] as number) * (0.95 + 0.1 * r()))) / 10));
  gpuFamily("DCGM_FI_DEV_XID_ERRORS", "gauge", "device", devices, (_e, _load, r) => {
    const code = r() < 0.004 ? (r() < 0.5 ? "79" : "48") : "0";
    const from = Math.floor(r() * fleet.steps);
    return (i) => (i >= from ? code : "0");
  });

  // Serving (infermesh agent), one pod per held GPU or MIG instance.
  const all = fleet.entities;
  const servingFamily = (name: MetricName, family: string, type: Family["type"], values: (e: GpuEntity) => (i: number) => string, labels: (e: GpuEntity) => Labels = servingLabelsOf) => {
    families.push({
      name: family,
      type,
      help: metrics[name].help,
      series: all.map(labels),
      linesPerPoint: 1,
      write: (out, text, k) => writeSeries(out, fleet, timestamps, `${name}{${text}} `, values(all[k] as GpuEntity)),
    });
  };
  servingFamily("infermesh_inferences_total", "infermesh_inferences", "counter", (e) => {
    const values = cumulative(inferences[e.index] as Float64Array, 3000 + e.index);
    return (i) => String(values[i]);
  });
  servingFamily("infermesh_tokens_generated_total", "infermesh_tokens_generated", "counter", (e) => {
    const per = inferences[e.index] as Float64Array;
    const tokens = 80 + (e.deployment.index % 7) * 40;
    const values = counterValues(fleet.steps, 4000 + e.index, (i) => (per[i] as number) * tokens);
    return (i) => String(values[i]);
  });
  servingFamily(
    "infermesh_model_queue_depth",
    "infermesh_model_queue_depth",
    "gauge",
    (e) => {
      const load = loadOf(e);
      const r = rng(5000 + e.index);
      return (i) => String(Math.floor(90 * (load[i] as number) ** 3 * (0.8 + 0.4 * r())));
    },
    (e) => ({ ...servingLabelsOf(e), tenant: undefined }),
  );
  const errorShare: Record<(typeof inferenceErrors)[number], number> = { timeout: 0.004, out_of_memory: 0.0005, runtime_error: 0.002, bad_request: 0.003 };
  const errorSeries = all.flatMap((e) => inferenceErrors.map((error) => ({ e, error })));
  families.push({
    name: "infermesh_inference_errors",
    type: "counter",
    help: metrics.infermesh_inference_errors_total.help,
    series: errorSeries.map(({ e, error }) => ({ ...servingLabelsOf(e), error })),
    linesPerPoint: 1,
    write: (out, text, k) => {
      const { e, error } = errorSeries[k] as { e: GpuEntity; error: (typeof inferenceErrors)[number] };
      const per = inferences[e.index] as Float64Array;
      const values = counterValues(fleet.steps, 6000 + k, (i) => (per[i] as number) * errorShare[error]);
      writeSeries(out, fleet, timestamps, `infermesh_inference_errors_total{${text}} `, (i) => String(values[i]));
    },
  });
  // The latency histogram, written as OpenMetrics MetricPoints: at each
  // timestamp every bucket, then count and sum. Latency rises with load.
  const sigma = 0.6;
  families.push({
    name: "infermesh_inference_latency",
    type: "histogram",
    help: metrics.infermesh_inference_latency.help,
    series: all.map(servingLabelsOf),
    linesPerPoint: latencyBucketsMs.length + 3,
    write: (out, text, k) => {
      const e = all[k] as GpuEntity;
      const per = inferences[e.index] as Float64Array;
      const load = loadOf(e);
      const prefixes = [...latencyBucketsMs.map((le) => `infermesh_inference_latency_bucket{${text},le="${le}"} `), `infermesh_inference_latency_bucket{${text},le="+Inf"} `];
      const countPrefix = `infermesh_inference_latency_count{${text}} `;
      const sumPrefix = `infermesh_inference_latency_sum{${text}} `;
      const r = rng(7000 + k);
      const start = Math.floor(r() * 1e5);
      const buckets = latencyBucketsMs.map(() => 0);
      let count = start;
      let sum = start * e.deployment.medianMs;
      for (let i = 0; i < fleet.steps; i++) {
        const n = per[i] as number;
        const median = e.deployment.medianMs * (1 + 1.5 * Math.max(0, (load[i] as number) - e.deployment.base));
        count += n;
        sum += n * median * Math.exp((sigma * sigma) / 2);
        let line = "";
        const ts = timestamps[i] as string;
        latencyBucketsMs.forEach((le, b) => {
          buckets[b] = (buckets[b] as number) + Math.round(n * normalCdf(Math.log(le / median) / sigma));
          // Every bucket started with the same history, scaled to its share at base latency.
          line += `${prefixes[b]}${Math.round(start * normalCdf(Math.log(le / e.deployment.medianMs) / sigma)) + (buckets[b] as number)} ${ts}\n`;
        });
        line += `${prefixes[latencyBucketsMs.length]}${count} ${ts}\n${countPrefix}${count} ${ts}\n${sumPrefix}${Math.round(sum)} ${ts}\n`;
        out.add(line);
      }
      out.lines += fleet.steps * (latencyBucketsMs.length + 3);
    },
  });

  // Routers: each deployment is routed by `routersPerDeployment` routers.
  const routerFamily = <T>(name: MetricName, family: string, items: T[], labels: (item: T) => Labels, expected: (item: T, i: number) => number) => {
    families.push({
      name: family,
      type: "counter",
      help: metrics[name].help,
      series: items.map(labels),
      linesPerPoint: 1,
      write: (out, text, k) => {
        const item = items[k] as T;
        const values = counterValues(fleet.steps, hashString(family) ^ (k * 7919), (i) => expected(item, i));
        writeSeries(out, fleet, timestamps, `${name}{${text}} `, (i) => String(values[i]));
      },
    });
  };
  routerFamily("infermesh_router_requests_total", "infermesh_router_requests", routes, routeLabels, routeRequests);
  routerFamily("infermesh_router_hedged_requests_total", "infermesh_router_hedged_requests", routes, routeLabels, (x, i) => 0.03 * routeRequests(x, i));
  routerFamily("infermesh_router_hedge_wins_total", "infermesh_router_hedge_wins", routes, routeLabels, (x, i) => 0.012 * routeRequests(x, i));
  const rejectShare: Record<(typeof rejectionReasons)[number], number> = { queue_full: 0.01, rate_limited: 0.005, tenant_quota: 0.002, no_healthy_target: 0.0005, policy: 0.0002 };
  const rejections = routes.flatMap((x) => rejectionReasons.map((reason) => ({ ...x, reason })));
  routerFamily("infermesh_requests_rejected_total", "infermesh_requests_rejected", rejections, (x) => ({ ...routeLabels(x), reason: x.reason }), (x, i) => rejectShare[x.reason] * routeRequests(x, i));
  const cancelShare: Record<(typeof cancellationReasons)[number], number> = { hedge_lost: 0.018, client_gone: 0.003, deadline: 0.001 };
  const cancellations = routes.flatMap((x) => cancellationReasons.map((reason) => ({ ...x, reason })));
  routerFamily("infermesh_router_cancellations_total", "infermesh_router_cancellations", cancellations, (x) => ({ ...routeLabels(x), reason: x.reason }), (x, i) => cancelShare[x.reason] * routeRequests(x, i));
  const choices = routes.flatMap((x) => {
    const perNode = new Map<string, number>();
    for (const e of x.d.entities) perNode.set(e.node.name, (perNode.get(e.node.name) ?? 0) + 1);
    return [...perNode].map(([target, gpus]) => ({ ...x, target, share: gpus / x.d.entities.length }));
  });
  routerFamily("infermesh_router_target_chosen_total", "infermesh_router_target_chosen", choices, (x) => ({ ...routeLabels(x), target_node: x.target }), (x, i) => x.share * routeRequests(x, i));

  // Gossip: each GPU node's health is reported by 4 routers (its gossip
  // peers); one node is down for 20 minutes.
  const observers = Math.min(4, fleet.routers.length);
  const observations = fleet.nodes.flatMap((node, n) =>
    Array.from({ length: observers }, (_, j) => ({ rt: fleet.routers[(n + j * Math.floor(fleet.routers.length / observers)) % fleet.routers.length] as Router, node, n })),
  );
  const downFrom = Math.floor(fleet.steps / 2);
  const downTo = downFrom + Math.floor(1200 / scrapeSeconds);
  families.push({
    name: "infermesh_node_healthy",
    type: "gauge",
    help: metrics.infermesh_node_healthy.help,
    // `node`/`zone` are the node observed (honor_labels keeps them over the router's own).
    series: observations.map(({ rt, node }) => ({ ...routerTarget(rt), node: node.name, zone: node.zone })),
    linesPerPoint: 1,
    write: (out, text, k) => {
      const { n } = observations[k] as { n: number };
      writeSeries(out, fleet, timestamps, `infermesh_node_healthy{${text}} `, (i) => (n === 5 && i >= downFrom && i < downTo ? "0" : "1"));
    },
  });

  // What the alerts read besides the above: target health and node labels.
  const upTargets: Labels[] = [
    ...fleet.nodes.map((node) => ({ job: `${monitoring}/dcgm-exporter`, instance: `${node.ip}:9400`, endpoint: "metrics", node: node.name, zone: node.zone })),
    ...all.map(agentTarget),
    ...fleet.routers.map(routerTarget),
  ];
  families.push({
    name: "up",
    type: "gauge",
    help: metrics.up.help,
    series: upTargets,
    linesPerPoint: 1,
    write: (out, text) => writeSeries(out, fleet, timestamps, `up{${text}} `, () => "1"),
  });
  const labelledNodes = [...fleet.nodes.map((node) => ({ node, cls: "gpu", pool: node.mig ? "h100-mig" : "h100" })), ...fleet.routerNodes.map((node) => ({ node, cls: "cpu", pool: "system" }))];
  families.push({
    name: "kube_node_labels",
    type: "gauge",
    help: metrics.kube_node_labels.help,
    series: labelledNodes.map(({ node, cls, pool }) => ({
      job: "kube-state-metrics",
      instance: "10.40.8.200:8080",
      node: node.name,
      label_infermesh_io_node_class: cls,
      label_infermesh_io_pool: pool,
      label_infermesh_io_capacity: "on-demand",
      label_topology_kubernetes_io_zone: node.zone,
    })),
    linesPerPoint: 1,
    write: (out, text) => writeSeries(out, fleet, timestamps, `kube_node_labels{${text}} `, () => "1"),
  });

  // kube-state-metrics: what nodes offer, what pods request, and pod phases
  // (the capacity panels). Resource names as kube-state-metrics sanitises them.
  const ksm = { job: "kube-state-metrics", instance: "10.40.8.200:8080" };
  const gpuResource = (mig: boolean) => (mig ? `nvidia_com_mig_${migProfile.name.replace(/\./g, "_")}` : "nvidia_com_gpu");
  const allocatable = [
    ...fleet.nodes.flatMap((node) => [
      { node, resource: gpuResource(node.mig), unit: "integer", value: String(node.mig ? fleet.scale.gpusPerNode * migProfile.perGpu : fleet.scale.gpusPerNode) },
      { node, resource: "cpu", unit: "core", value: "191.45" },
      { node, resource: "memory", unit: "byte", value: "2011892187136" },
      { node, resource: "pods", unit: "integer", value: "110" },
    ]),
    ...fleet.routerNodes.flatMap((node) => [
      { node, resource: "cpu", unit: "core", value: "15.89" },
      { node, resource: "memory", unit: "byte", value: "63193096192" },
      { node, resource: "pods", unit: "integer", value: "110" },
    ]),
  ];
  families.push({
    name: "kube_node_status_allocatable",
    type: "gauge",
    help: metrics.kube_node_status_allocatable.help,
    series: allocatable.map(({ node, resource, unit }) => ({ ...ksm, node: node.name, resource, unit })),
    linesPerPoint: 1,
    write: (out, text, k) => {
      const value = (allocatable[k] as { value: string }).value;
      writeSeries(out, fleet, timestamps, `kube_node_status_allocatable{${text}} `, () => value);
    },
  });
  const pods = [
    ...all.map((e) => ({ pod: e.pod, node: e.node.name as string | undefined, container: "agent", gpu: gpuResource(e.mig !== undefined), phase: "Running" })),
    ...fleet.pendingPods.map((pod) => ({ pod, node: undefined, container: "agent", gpu: gpuResource(false), phase: "Pending" })),
    ...fleet.routers.map((rt) => ({ pod: rt.pod, node: rt.node.name as string | undefined, container: "router", gpu: undefined, phase: "Running" })),
  ];
  const requests = pods.flatMap((p) => [
    ...(p.gpu ? [{ p, resource: p.gpu, unit: "integer", value: "1" }] : []),
    { p, resource: "cpu", unit: "core", value: p.gpu ? "8" : "2" },
    { p, resource: "memory", unit: "byte", value: p.gpu ? "68719476736" : "4294967296" },
  ]);
  families.push({
    name: "kube_pod_container_resource_requests",
    type: "gauge",
    help: metrics.kube_pod_container_resource_requests.help,
    series: requests.map(({ p, resource, unit }) => ({ ...ksm, namespace: servingNamespace, pod: p.pod, container: p.container, node: p.node, resource, unit })),
    linesPerPoint: 1,
    write: (out, text, k) => {
      const value = (requests[k] as { value: string }).value;
      writeSeries(out, fleet, timestamps, `kube_pod_container_resource_requests{${text}} `, () => value);
    },
  });
  const phases = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];
  const podPhases = pods.flatMap((p) => phases.map((phase) => ({ p, phase })));
  families.push({
    name: "kube_pod_status_phase",
    type: "gauge",
    help: metrics.kube_pod_status_phase.help,
    series: podPhases.map(({ p, phase }) => ({ ...ksm, namespace: servingNamespace, pod: p.pod, phase })),
    linesPerPoint: 1,
    write: (out, text, k) => {
      const { p, phase } = podPhases[k] as { p: { phase: string }; phase: string };
      const value = p.phase === phase ? "1" : "0";
      writeSeries(out, fleet, timestamps, `kube_pod_status_phase{${text}} `, () => value);
    },
  });
  return families;
}

/** Names of the stored series of a family. */
export function sampleNames(f: Family): string[] {
  if (f.type === "counter") return [`${f.name}_total`];
  if (f.type === "histogram") return [`${f.name}_bucket`, `${f.name}_count`, `${f.name}_sum`];
  return [f.name];
}

/**
 * Raw series the measured queries and the recording rules read but the
 * synthetic fleet lacks: a panel over them would time an empty answer.
 */
export function missingSeries(families: readonly Family[], queries: readonly string[], rules: readonly RecordingRule[]): string[] {
  const generated = new Set(families.flatMap(sampleNames));
  const recorded = new Set(rules.map((r) => r.record));
  const read = new Set([...queries, ...rules.map((r) => r.expr)].flatMap((q) => [...metricNamesIn(q)]));
  return [...read].filter((n) => !recorded.has(n) && !generated.has(n)).sort();
}

/** Stored series of a family (a histogram stores buckets, count and sum). */
export const storedSeries = (f: Family) => f.series.length * f.linesPerPoint;

/** A run of one family's series (in sorted order) within a part file. */
export interface Segment {
  family: Family;
  series: { text: string; index: number }[];
}

/** Part files of about `partBytes` each, holding all families in name order and each family's series sorted. */
export function planParts(families: readonly Family[], steps: number, partBytes: number): { parts: Segment[][]; bytes: number } {
  const parts: Segment[][] = [[]];
  let size = 0;
  let bytes = 0;
  for (const family of [...families].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const order = family.series.map((labels, index) => ({ text: renderLabels(labels), index })).sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    let from = 0;
    for (let k = 0; k < order.length; k++) {
      // A line is the name, the labels, a value and a timestamp (about 30 bytes with the le label of buckets).
      const seriesBytes = ((order[k] as { text: string }).text.length + family.name.length + 30) * family.linesPerPoint * steps;
      size += seriesBytes;
      bytes += seriesBytes;
      if (size >= partBytes) {
        (parts.at(-1) as Segment[]).push({ family, series: order.slice(from, k + 1) });
        parts.push([]);
        from = k + 1;
        size = 0;
      }
    }
    if (from < order.length) (parts.at(-1) as Segment[]).push({ family, series: order.slice(from) });
  }
  return { parts: parts.filter((p) => p.length > 0), bytes };
}

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const yieldToEventLoop = () => new Promise<void>((done) => setImmediate(done));

/** Writes one part as a complete OpenMetrics exposition, ending in `# EOF`. */
export async function writePart(file: string, segments: readonly Segment[]): Promise<{ bytes: number; lines: number }> {
  const fd = openSync(file, "w");
  const out = new Writer(fd);
  try {
    for (const { family, series } of segments) {
      out.add(`# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`);
      for (let k = 0; k < series.length; k++) {
        const { text, index } = series[k] as { text: string; index: number };
        family.write(out, text, index);
        // Let finished promtool runs be noticed (and the next one started) while generating.
        if (k % 64 === 63) await yieldToEventLoop();
      }
    }
    out.add("# EOF\n");
    out.flush();
  } finally {
    closeSync(fd);
  }
  return { bytes: out.bytes, lines: out.lines };
}
