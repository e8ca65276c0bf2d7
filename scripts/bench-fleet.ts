/**
 * Section B of `npm run bench`: what a full load of each dashboard costs a
 * real Prometheus at fleet scale, with the seed's raw expressions and with
 * the stack's own queries (recording rules included), in the same run against
 * the same server.
 *
 * 1. A synthetic fleet is written as OpenMetrics text in the stored label
 *    form (after the stack's relabeling), series sorted and each series'
 *    samples in time order, in parts of about 1.5 GB: `promtool tsdb
 *    create-blocks-from openmetrics` reads every input twice, so parts small
 *    enough to stay in the page cache are backfilled two at a time while the
 *    next one is written.
 * 2. Prometheus serves those blocks; `promtool tsdb create-blocks-from rules`
 *    backfills the stack's recording rules over the same window, in
 *    dependency order (a rule reading another recorded series needs that
 *    series loaded first), with a restart after each stage to load the blocks.
 * 3. Once Prometheus has merged the overlapping backfilled blocks (so the
 *    merge neither runs during nor distorts the timings), every query runs
 *    alone once (warm-up, and each panel's own cost), then each dashboard is
 *    loaded as Grafana loads it, all panels at once, raw and stack
 *    alternating; `stats=all` gives the samples processed.
 *
 * Everything runs on 127.0.0.1 under one temp dir, removed at the end with
 * Prometheus and promtool stopped, on failure and on SIGINT/SIGTERM too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { catalog } from "../dashboards/common";
import { buildDashboards } from "../dashboards/index";
import { cancellationReasons, inferenceErrors, metrics, rejectionReasons, type MetricName, latencyBucketBoundsMs } from "../monitoring/metrics";
import type { PanelKey } from "../monitoring/queries";
import { recordingRules, type RecordingRule } from "../monitoring/recording";
import { prometheusRuleGroups } from "../alerts/prometheusRules";
import { seedPanels, type DashboardKey } from "../dashboards/seed";
import { freeLoopbackPort, requireBinary } from "../verify/prometheus";
import { benchContext, benchScrapeIntervalSeconds, dashboardPanels, descendants, grafanaToPromql, metricNamesIn, parsePromql, selectorsIn, stackQueries, type GrafanaMacros } from "./bench-dcgm";

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
const scrapeSeconds = benchScrapeIntervalSeconds;
/** An H100 80GB split in two `3g.40gb` instances: a profile the stack's GPU table allows. */
const migProfile = { name: "3g.40gb", perGpu: 2, fbTotalMiB: 40_448 };
const gpuModelName = "NVIDIA H100 80GB HBM3";
const wholeFbTotalMiB = 81_559;
/** The metric contract's bounds: the latency SLO reads the bucket at its target. */
const latencyBucketsMs = latencyBucketBoundsMs;
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
const promtoolBlockSeconds = 18 * 3600;

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
interface Family {
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
class Writer {
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
function sampleNames(f: Family): string[] {
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
const storedSeries = (f: Family) => f.series.length * f.linesPerPoint;

/** A run of one family's series (in sorted order) within a part file. */
interface Segment {
  family: Family;
  series: { text: string; index: number }[];
}

/** Part files of about `partBytes` each, holding all families in name order and each family's series sorted. */
function planParts(families: readonly Family[], steps: number, partBytes: number): { parts: Segment[][]; bytes: number } {
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
async function writePart(file: string, segments: readonly Segment[]): Promise<{ bytes: number; lines: number }> {
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

// ---------------------------------------------------------------------------
// Processes: Prometheus and promtool, tracked so every exit path stops them

const children = new Set<ChildProcess>();
let cleanupDir: string | undefined;

function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
}

function emergencyCleanup(): void {
  killChildren();
  if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
  cleanupDir = undefined;
}

function onSignal(signal: NodeJS.Signals): void {
  emergencyCleanup();
  process.exit(signal === "SIGINT" ? 130 : 143);
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary to completion, bounded by `timeoutMs`; output is kept (the tail of it) for error messages. */
function run(bin: string, args: string[], timeoutMs: number): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout = (stdout + c).slice(-65536)));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-65536)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${bin}: ${err.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function promtoolOrThrow(args: string[], timeoutMs: number): Promise<ToolRun> {
  const result = await run(requireBinary("promtool"), args, timeoutMs);
  if (result.code !== 0) throw new Error(`promtool ${args.join(" ")} failed (exit ${result.code}):\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`);
  return result;
}


const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

interface Server {
  url: string;
  stop(): Promise<void>;
}

/**
 * Prometheus on an existing data dir. verify/prometheus.ts' startPrometheus
 * always starts on a fresh data dir of its own and deletes it on stop, so it
 * cannot serve backfilled blocks across the restarts this needs.
 */
async function serve(dir: string, dataDir: string, extraArgs: string[]): Promise<Server> {
  const config = join(dir, "prometheus.yml");
  if (!existsSync(config)) writeFileSync(config, YAML.stringify({ global: { scrape_interval: `${scrapeSeconds}s`, evaluation_interval: `${scrapeSeconds}s` } }));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  let stderr = "";
  const child = track(
    spawn(requireBinary("prometheus"), [`--config.file=${config}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn", ...extraArgs], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-65536)));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const stopped = await Promise.race([exited.then(() => true), sleep(60_000).then(() => false)]);
    if (!stopped) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited early (${child.exitCode ?? child.signalCode}):\n${stderr.slice(-4000)}`);
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await response.text();
      if (response.status === 200) return { url, stop };
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`prometheus was not ready within 300 s:\n${stderr.slice(-4000)}`);
}

/** Moves every block (ULID-named dir) from `from` into `dataDir`; returns how many. */
function moveBlocks(from: string, dataDir: string): number {
  let moved = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory() && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name)) {
      renameSync(join(from, entry.name), join(dataDir, entry.name));
      moved++;
    }
  }
  return moved;
}

interface BlockMeta {
  dir: string;
  minTime: number;
  maxTime: number;
  series: number;
  samples: number;
}

function blocksOnDisk(dataDir: string): BlockMeta[] {
  const out: BlockMeta[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name)) continue;
    try {
      const meta = JSON.parse(readFileSync(join(dataDir, entry.name, "meta.json"), "utf8")) as { minTime: number; maxTime: number; stats?: { numSeries?: number; numSamples?: number } };
      out.push({ dir: entry.name, minTime: meta.minTime, maxTime: meta.maxTime, series: meta.stats?.numSeries ?? 0, samples: meta.stats?.numSamples ?? 0 });
    } catch {
      // Being written or removed.
    }
  }
  return out.sort((a, b) => a.minTime - b.minTime);
}

const overlapping = (blocks: BlockMeta[]) => blocks.some((b, i) => i > 0 && b.minTime < Math.max(...blocks.slice(0, i).map((x) => x.maxTime)));

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

/**
 * Waits until Prometheus has merged the overlapping backfilled blocks: its
 * first compaction starts a minute after start-up, and a merge running while
 * queries are timed would both slow them and change what they read from.
 */
async function settle(url: string, dataDir: string, timeoutMs: number): Promise<{ ms: number; blocks: BlockMeta[] }> {
  const started = Date.now();
  const hadOverlap = overlapping(blocksOnDisk(dataDir));
  while (Date.now() - started < timeoutMs) {
    const blocks = blocksOnDisk(dataDir);
    const pending = readdirSync(dataDir).some((name) => name.includes(".tmp"));
    const loaded = await metricValue(url, "prometheus_tsdb_blocks_loaded");
    const triggered = await metricValue(url, "prometheus_tsdb_compactions_triggered_total");
    if (!overlapping(blocks) && !pending && loaded === blocks.length && (!hadOverlap || triggered >= 1)) return { ms: Date.now() - started, blocks };
    await sleep(1_000);
  }
  throw new Error(`Prometheus did not merge the backfilled blocks within ${timeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------
// Recording rules: backfill order, and the raw expression behind a recorded series

/** Rules in stages: each stage reads only raw series and recorded series of earlier stages. */
export function ruleStages(rules: readonly RecordingRule[]): RecordingRule[][] {
  const records = new Set(rules.map((r) => r.record));
  const stages: RecordingRule[][] = [];
  const done = new Set<string>();
  let left = [...rules];
  while (left.length > 0) {
    const ready = left.filter((r) => [...metricNamesIn(r.expr)].every((n) => !records.has(n) || done.has(n)));
    if (ready.length === 0) throw new Error(`recording rules depend on each other in a cycle: ${left.map((r) => r.record).join(", ")}`);
    stages.push(ready);
    for (const r of ready) done.add(r.record);
    left = left.filter((r) => !ready.includes(r));
  }
  return stages;
}

/** Adds `matchers` to every vector selector of `expr`. */
function withMatchers(expr: string, matchers: readonly string[]): string {
  if (matchers.length === 0) return expr;
  const edits = descendants(parsePromql(expr), "VectorSelector").map((node) => {
    const list = node.getChild("LabelMatchers");
    if (!list) {
      const id = node.getChild("Identifier");
      if (!id) throw new Error(`selector without a name in ${expr}`);
      return { at: id.to, text: `{${matchers.join(", ")}}` };
    }
    const inside = expr.slice(list.from + 1, list.to - 1).trim();
    return { at: list.to - 1, text: `${inside === "" ? "" : ", "}${matchers.join(", ")}` };
  });
  let out = expr;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.at);
  return out;
}

/**
 * The raw equivalent of a query: every recorded series replaced by the
 * expression its rule records, with the query's label matchers moved onto
 * that expression's selectors (the stack only filters recorded series on
 * labels their rules keep, so this returns the same series).
 */
export function expandRecorded(expr: string, rules: ReadonlyMap<string, string>, ruleInterval: string): string {
  let current = expr;
  for (let depth = 0; depth < 8; depth++) {
    const recorded = selectorsIn(current).filter((s) => s.metric !== undefined && rules.has(s.metric));
    if (recorded.length === 0) return current;
    let out = current;
    for (const s of recorded.sort((a, b) => b.node.from - a.node.from)) {
      const raw = `(${withMatchers(rules.get(s.metric as string) as string, s.matchers)})`;
      const matrix = s.node.parent?.name === "MatrixSelector" ? s.node.parent : null;
      if (matrix) {
        // A range over a recorded series is that expression sampled at the
        // rule's interval: a subquery with that step.
        const range = current.slice(s.node.to, matrix.to).trim().replace(/^\[/, "").replace(/\]$/, "");
        out = `${out.slice(0, matrix.from)}${raw}[${range}:${ruleInterval}]${out.slice(matrix.to)}`;
      } else {
        out = `${out.slice(0, s.node.from)}${raw}${out.slice(s.node.to)}`;
      }
    }
    current = out;
  }
  throw new Error(`recorded series nested too deep in ${expr}`);
}

// ---------------------------------------------------------------------------
// Panels as Grafana issues them

interface Query {
  expr: string;
  instant: boolean;
}

export interface PanelPlan {
  dashboard: DashboardKey;
  title: string;
  /** The query catalog's key for the panel, when its targets are a catalog entry. */
  key?: PanelKey;
  /** `seed #n` (the seed's expression), `derived` (recorded series expanded) or `raw already` (no recorded series). */
  rawSource: string;
  stack: Query[];
  raw: Query[];
}

export function panelPlans(macros: GrafanaMacros): PanelPlan[] {
  const rules = new Map(recordingRules(benchContext.scrapeIntervalSeconds).map((r) => [r.record, r.expr]));
  const queriesByKey = catalog(benchContext);
  const keys = Object.keys(queriesByKey) as PanelKey[];
  return dashboardPanels(buildDashboards(benchContext)).map((p) => {
    const exprs = p.targets.map((t) => t.expr);
    const key = keys.find((k) => queriesByKey[k].length === exprs.length && queriesByKey[k].every((q, i) => q.expr === exprs[i]));
    const seed = key === undefined ? undefined : seedPanels.find((s) => s.panel === key);
    if (seed && seed.dashboard !== p.dashboard) throw new Error(`seed panel ${seed.number} belongs to ${seed.dashboard} but ${p.dashboard} shows it`);
    const stack = p.targets.map((t) => ({ expr: grafanaToPromql(t.expr, macros), instant: t.instant }));
    const instant = p.targets[0]?.instant ?? false;
    const common = { dashboard: p.dashboard, title: p.title, ...(key === undefined ? {} : { key }), stack };
    if (seed) return { ...common, rawSource: `seed #${seed.number}`, raw: [{ expr: seed.expr, instant }] };
    const raw = stack.map((q) => ({ expr: expandRecorded(q.expr, rules, `${scrapeSeconds}s`), instant: q.instant }));
    const same = raw.every((q, i) => q.expr === stack[i]?.expr);
    return { ...common, rawSource: same ? "raw already" : "derived", raw };
  });
}

interface QueryResult {
  ms: number;
  samples: number;
  peak: number;
  /** Prometheus' own execution time (no JSON encoding), ms. */
  execMs: number;
  series: number;
  bytes: number;
}

interface QueryStats {
  timings?: { execTotalTime?: number };
  samples?: { totalQueryableSamples?: number; peakSamples?: number };
}

/** The JSON object starting at `from` (stats hold no strings with braces). */
function objectAt(buf: Buffer, from: number): string {
  let depth = 0;
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return buf.subarray(from, i + 1).toString("utf8");
  }
  throw new Error("unterminated stats object");
}

/**
 * One query as Grafana sends it (POST, form-encoded) with `stats=all`. The
 * body is read in full but not parsed: on two cores, parsing tens of MB of
 * points here would be timed against Prometheus.
 */
async function runQuery(url: string, q: Query, window: { start: number; end: number; step: number }): Promise<QueryResult> {
  const params = new URLSearchParams(
    q.instant ? { query: q.expr, time: String(window.end), stats: "all" } : { query: q.expr, start: String(window.start), end: String(window.end), step: String(window.step), stats: "all" },
  );
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/${q.instant ? "query" : "query_range"}`, {
    method: "POST",
    body: params,
    signal: AbortSignal.timeout(600_000),
  });
  const body = Buffer.from(await response.arrayBuffer());
  const ms = performance.now() - started;
  if (!body.subarray(0, 40).toString("utf8").includes('"status":"success"')) throw new Error(`query failed (HTTP ${response.status}): ${body.subarray(0, 600).toString("utf8")}\n  query: ${q.expr}`);
  const at = body.lastIndexOf('"stats":');
  const stats = (at < 0 ? {} : JSON.parse(objectAt(body, at + 8))) as QueryStats;
  let series = 0;
  for (let i = body.indexOf('{"metric":'); i >= 0; i = body.indexOf('{"metric":', i + 10)) series++;
  return {
    ms,
    samples: stats.samples?.totalQueryableSamples ?? Number.NaN,
    peak: stats.samples?.peakSamples ?? Number.NaN,
    execMs: 1000 * (stats.timings?.execTotalTime ?? Number.NaN),
    series,
    bytes: body.length,
  };
}

interface LoadResult {
  ms: number;
  perQuery: QueryResult[];
}

/** A full dashboard load: every query of every panel at once, as Grafana does; done when the last one is. */
async function loadDashboard(url: string, queries: Query[], window: { start: number; end: number; step: number }): Promise<LoadResult> {
  const started = performance.now();
  const perQuery = await Promise.all(queries.map((q) => runQuery(url, q, window)));
  return { ms: performance.now() - started, perQuery };
}

async function instantValue(url: string, expr: string, time: number): Promise<number> {
  const body = (await (await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr, time: String(time) }), signal: AbortSignal.timeout(300_000) })).json()) as {
    status: string;
    data?: { result?: { value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? "failed"}`);
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

async function instantVector(url: string, expr: string, time: number): Promise<{ metric: Record<string, string>; value: number }[]> {
  const body = (await (await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr, time: String(time) }), signal: AbortSignal.timeout(300_000) })).json()) as {
    status: string;
    data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? "failed"}`);
  return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/**
 * What the measurement shows about the stack's queries and rules beyond
 * speed: recorded series nothing reads, per-GPU panels that merge MIG
 * instances, and device-level counters summed over MIG instances.
 */
async function stackChecks(url: string, fleet: Fleet, plans: readonly PanelPlan[], seriesOf: ReadonlyMap<PanelKey, number>, range: string): Promise<string[]> {
  const findings: string[] = [];
  const rules = recordingRules(benchContext.scrapeIntervalSeconds);
  const read = new Set(stackQueries(benchContext).flatMap((q) => [...metricNamesIn(q.expr)]));
  const unread = rules.filter((r) => !read.has(r.record)).map((r) => r.record);
  if (unread.length > 0) {
    const series = await instantValue(url, `count({__name__=~"${unread.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|")}"})`, fleet.end);
    findings.push(`recorded but read by no panel, alert or other rule: ${unread.join(", ")} (${fmt(series)} series evaluated every interval for nothing)`);
  }
  const devices = await instantValue(url, 'count(DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu_uuid!=""})', fleet.end);
  for (const p of plans) {
    if (p.key !== "gpuUtilization" && p.key !== "vramHeadroom") continue;
    const returned = seriesOf.get(p.key);
    if (returned !== undefined && returned < devices) {
      const why = p.stack.some((q) => q.expr.includes("mig_instance")) ? "" : "; its `by` has no mig_instance, so the MIG instances of one GPU with the same profile become one series";
      findings.push(`"${p.title}" returns ${fmt(returned)} series for ${fmt(devices)} GPUs and MIG instances${why}`);
    }
  }
  const ecc = plans.find((p) => p.key === "eccErrors");
  const migGpus = new Set(fleet.devices.filter((d) => d.mig).map((d) => d.uuid));
  for (const summed of ecc?.stack.filter((q) => /^\s*sum by \(/.test(q.expr)) ?? []) {
    const bySum = await instantVector(url, summed.expr, fleet.end);
    const byMax = new Map((await instantVector(url, summed.expr.replace(/^\s*sum by \(/, "max by ("), fleet.end)).map((r) => [r.metric.gpu_uuid, r.value]));
    const inflated = bySum.filter((r) => migGpus.has(r.metric.gpu_uuid ?? "") && r.value > (byMax.get(r.metric.gpu_uuid) ?? 0) * 1.000001);
    if (inflated.length > 0) {
      const field = [...metricNamesIn(summed.expr)].join(", ");
      findings.push(
        `"${ecc?.title}" sums ${field}, a device-level counter every MIG instance of a GPU repeats: on the ${inflated.length} MIG GPUs (of ${migGpus.size}) with such errors in ${range} it shows ${migProfile.perGpu}x the device's count; max by (gpu_uuid, node) would not`,
      );
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------
// Report helpers

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(a / b >= 100 ? 0 : 1)}x` : "n/a");
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export interface FleetOptions {
  scale: FleetScale;
  /** Timed repetitions (after one untimed warm-up round). */
  reps: number;
  /** Range-query step, seconds. */
  step: number;
  /** Passed as --query.max-samples when set; Prometheus' default (50 M) otherwise. */
  maxSamples?: number;
  /** Where the temp dir goes. */
  tmpRoot?: string;
}

export async function runFleetSection(opts: FleetOptions): Promise<void> {
  const { scale } = opts;
  const phase = (() => {
    let last = performance.now();
    return (what: string) => {
      const now = performance.now();
      console.log(`  [${seconds(now - last)}] ${what}`);
      last = now;
    };
  })();
  const sectionStarted = performance.now();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", emergencyCleanup);
  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), "infermesh-bench-fleet-"));
  cleanupDir = dir;
  let server: Server | undefined;
  try {
    const fleet = buildFleet(scale);
    const families = fleetFamilies(fleet);
    const window = { start: fleet.end - scale.hours * 3600, end: fleet.end, step: opts.step };
    const macros: GrafanaMacros = { rateInterval: "1m", range: `${scale.hours}h`, interval: `${opts.step}s` };
    const plans = panelPlans(macros);
    const rules = recordingRules(benchContext.scrapeIntervalSeconds);
    const missing = missingSeries(families, plans.flatMap((p) => [...p.raw, ...p.stack].map((q) => q.expr)), rules);
    if (missing.length > 0) throw new Error(`the synthetic fleet has no series for ${missing.join(", ")}, which the dashboards or recording rules read; add them to fleetFamilies (scripts/bench-fleet.ts)`);
    const storedTotal = sum(families.map(storedSeries));
    const dcgmSeries = sum(families.filter((f) => f.name.startsWith("DCGM_")).map(storedSeries));
    const migInstances = fleet.devices.filter((e) => e.mig).length;
    const freeDevices = fleet.devices.length - fleet.entities.length;
    console.log(
      `fleet (${scale.name}): ${fleet.gpus.toLocaleString("en-US")} GPUs on ${scale.nodes} nodes (${Math.floor(scale.nodes / scale.migEvery)} nodes split into ${migProfile.perGpu}x ${migProfile.name}: ${migInstances} MIG instances; ${freeDevices} of ${fleet.devices.length} GPUs/instances free), ` +
        `${fleet.deployments.length} deployments (${scale.models} models x ${scale.revisions} revisions, one tenant each of ${scale.tenants}), ${scale.routers} routers (${scale.routersPerDeployment} per deployment), ` +
        `${scale.hours} h at ${scrapeSeconds} s (${fleet.steps} samples per series), window ${new Date(fleet.start * 1000).toISOString()} .. ${new Date(fleet.end * 1000).toISOString()}`,
    );
    console.log(
      `  ${fmt(storedTotal)} raw series (${fmt(dcgmSeries)} DCGM), ${fmt(storedTotal * fleet.steps)} samples; one serving pod per held GPU/instance; ` +
        `latency histogram with ${latencyBucketsMs.length + 1} buckets; temp dir ${dir}`,
    );

    // 1. Generate and backfill, pipelined: two promtools read finished parts while the next is written.
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    // Parts small enough to stay in the page cache between promtool's two
    // passes over each (one for the time range, one to append).
    const { parts } = planParts(families, fleet.steps, 1.5e9);
    let written = 0;
    let lines = 0;
    const backfills: Promise<void>[] = [];
    let failure: unknown;
    let running = 0;
    const waiting: (() => void)[] = [];
    const slot = async () => {
      while (running >= 2) await new Promise<void>((done) => waiting.push(done));
      running++;
    };
    const release = () => {
      running--;
      waiting.shift()?.();
    };
    for (const [k, part] of parts.entries()) {
      if (failure !== undefined) break;
      const file = join(dir, `part-${k}.om`);
      const result = await writePart(file, part);
      written += result.bytes;
      lines += result.lines;
      const out = join(dir, `blocks-${k}`);
      await slot();
      backfills.push(
        (async () => {
          try {
            await promtoolOrThrow(["tsdb", "create-blocks-from", "--quiet", `--max-block-duration=${promtoolBlockSeconds / 3600}h`, "openmetrics", file, out], 3_600_000);
          } finally {
            rmSync(file, { force: true });
            release();
          }
          moveBlocks(out, dataDir);
        })().catch((err: unknown) => {
          failure ??= err;
        }),
      );
    }
    await Promise.all(backfills);
    if (failure !== undefined) throw failure;
    phase(`generated ${parts.length} OpenMetrics part(s), ${(written / 1e9).toFixed(2)} GB, ${fmt(lines)} lines, and backfilled them with promtool`);

    // 2. Recording rules over the same window, in dependency order; each
    //    stage's rules in two files backfilled at once (one per core).
    const extraArgs = opts.maxSamples === undefined ? [] : [`--query.max-samples=${opts.maxSamples}`];
    server = await serve(dir, dataDir, extraArgs);
    const stages = ruleStages(rules);
    for (const [s, stage] of stages.entries()) {
      const halves = [stage.filter((_, i) => i % 2 === 0), stage.filter((_, i) => i % 2 === 1)].filter((h) => h.length > 0);
      const url = server.url;
      const moved = await Promise.all(
        halves.map(async (half, h) => {
          const ruleFile = join(dir, `rules-${s}-${h}.yml`);
          writeFileSync(ruleFile, YAML.stringify({ groups: prometheusRuleGroups([], half, `${scrapeSeconds}s`) }, { lineWidth: 0 }));
          const out = join(dir, `rule-blocks-${s}-${h}`);
          await promtoolOrThrow(["tsdb", "create-blocks-from", "rules", "--quiet", `--url=${url}`, `--start=${fleet.start}`, `--end=${fleet.end}`, `--output-dir=${out}`, ruleFile], 3_600_000);
          return moveBlocks(out, dataDir);
        }),
      );
      // Restart to load the new blocks (the next stage reads them; the last one is timed).
      await server.stop();
      server = await serve(dir, dataDir, extraArgs);
      phase(`backfilled recording-rule stage ${s + 1}/${stages.length} (${stage.length} rules, ${sum(moved)} blocks) and restarted Prometheus`);
    }
    const settled = await settle(server.url, dataDir, 900_000);
    phase(`Prometheus merged the overlapping blocks into ${settled.blocks.length} block(s) (${fmt(sum(settled.blocks.map((b) => b.samples)))} samples)`);

    // 3. Dashboards, raw and stack. First every query alone (a warm-up, and
    //    each panel's own cost without the others competing for the two
    //    cores), then full loads: all panels at once, variants alternating.
    const url = server.url;
    const dashboards = [...new Set(plans.map((p) => p.dashboard))];
    const variants = ["raw", "stack"] as const;
    type Variant = (typeof variants)[number];
    const queriesOf = (d: DashboardKey, v: Variant) => plans.filter((p) => p.dashboard === d).flatMap((p) => p[v]);
    const alone = new Map<string, QueryResult[]>();
    const loads = new Map<string, LoadResult[]>();
    const failures = new Map<string, string>();
    for (const d of dashboards) {
      for (const v of variants) {
        const id = `${d}/${v}`;
        try {
          const results: QueryResult[] = [];
          for (const q of queriesOf(d, v)) results.push(await runQuery(url, q, window));
          alone.set(id, results);
        } catch (err) {
          failures.set(id, err instanceof Error ? err.message : String(err));
        }
      }
    }
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const d of dashboards) {
        const order: readonly Variant[] = rep % 2 === 1 ? variants : [...variants].reverse();
        for (const v of order) {
          const id = `${d}/${v}`;
          if (failures.has(id)) continue;
          try {
            loads.set(id, [...(loads.get(id) ?? []), await loadDashboard(url, queriesOf(d, v), window)]);
          } catch (err) {
            failures.set(id, err instanceof Error ? err.message : String(err));
          }
        }
      }
    }
    phase(`ran every query alone once, then timed ${opts.reps} full loads of ${dashboards.length} dashboards x 2 variants`);

    const total = await instantValue(url, 'count({__name__=~".+"})', fleet.end);
    const recorded = await instantValue(url, 'count({__name__=~".+:.+"})', fleet.end);
    const dcgmStored = await instantValue(url, 'count({__name__=~"DCGM_.+"})', fleet.end);

    console.log("");
    console.log(
      `Full dashboard loads: range queries over ${scale.hours} h at step ${opts.step} s (Grafana's interval for a ~700 px panel over 6 h; --step to change), instant queries at the range's end for stat/gauge/table/bar panels; ` +
        `variables at All (.*), $__rate_interval=1m, $__range=${scale.hours}h; every panel of a dashboard at once; median of ${opts.reps}; ` +
        `--query.max-samples ${opts.maxSamples === undefined ? "left at Prometheus' default (50,000,000)" : `raised to ${fmt(opts.maxSamples)}`}.`,
    );
    console.log("raw = the seed's expression for seed panels, each recorded series expanded to the expression its rule records for the others; stack = the dashboard JSON's targets.");
    console.log("samples = totalQueryableSamples summed over the dashboard's queries (stats=all); peak = the largest peakSamples of one query; exec = Prometheus' own execution time summed over the queries (no JSON encoding).");
    const head = ["dashboard", "raw ms", "stack ms", "speed-up", "raw samples", "stack samples", "samples x", "raw exec ms", "stack exec ms", "raw peak", "stack peak", ">=10x"];
    const widths = [16, 9, 9, 9, 15, 15, 10, 12, 14, 12, 12, 7];
    const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(""));
    line(head);
    const summary = (d: DashboardKey, v: Variant) => {
      const runs = loads.get(`${d}/${v}`) ?? [];
      const first = alone.get(`${d}/${v}`) ?? [];
      return {
        ms: median(runs.map((r) => r.ms)),
        execMs: median(runs.map((r) => sum(r.perQuery.map((q) => q.execMs)))),
        samples: sum(first.map((q) => q.samples)),
        peak: Math.max(...first.map((q) => q.peak)),
        stable: runs.every((r) => sum(r.perQuery.map((q) => q.samples)) === sum(first.map((q) => q.samples))),
      };
    };
    const totals = { raw: { ms: 0, samples: 0 }, stack: { ms: 0, samples: 0 } };
    const shortfalls: string[] = [];
    for (const d of dashboards) {
      const raw = summary(d, "raw");
      const stack = summary(d, "stack");
      totals.raw.ms += raw.ms;
      totals.raw.samples += raw.samples;
      totals.stack.ms += stack.ms;
      totals.stack.samples += stack.samples;
      const speedUp = raw.ms / stack.ms;
      const met = Number.isFinite(speedUp) ? (speedUp >= 10 ? "yes" : "NO") : "n/a";
      if (met !== "yes") shortfalls.push(`${d} ${Number.isFinite(speedUp) ? `${speedUp.toFixed(1)}x` : "not measured"}`);
      line([d, fmt(raw.ms), fmt(stack.ms), ratio(raw.ms, stack.ms), fmt(raw.samples), fmt(stack.samples), ratio(raw.samples, stack.samples), fmt(raw.execMs), fmt(stack.execMs), fmt(raw.peak), fmt(stack.peak), met]);
      if (!raw.stable || !stack.stable) console.log(`  note: samples processed differed between repetitions for ${d}`);
    }
    line(["all four", fmt(totals.raw.ms), fmt(totals.stack.ms), ratio(totals.raw.ms, totals.stack.ms), fmt(totals.raw.samples), fmt(totals.stack.samples), ratio(totals.raw.samples, totals.stack.samples), "", "", "", "", ""]);
    console.log(shortfalls.length === 0 ? "Target (every dashboard >= 10x faster): met." : `Target (every dashboard >= 10x faster) NOT met for: ${shortfalls.join(", ")}.`);
    for (const [id, message] of failures) console.log(`FAILED ${id}: ${message}`);

    console.log("");
    console.log(
      "Per panel, each query run alone (ms = wall time of the panel's queries one after another; exec = Prometheus' execution time within it, the rest being JSON encoding and transfer; series and MB = what the stack's query returns; n-ex = share of the stack's time spent outside execution):",
    );
    const phead = ["dashboard", "panel", "raw from", "type", "raw ms", "stack ms", "speed-up", "raw exec", "stack exec", "raw samples", "stack samples", "samples x", "raw series", "stack series", "stack MB"];
    const pw = [16, 34, 12, 8, 9, 9, 9, 9, 11, 14, 14, 10, 11, 13, 9];
    const pline = (cells: string[]) => console.log(cells.map((c, i) => (i < 3 ? c.slice(0, (pw[i] as number) - 1).padEnd(pw[i] as number) : c.padStart(pw[i] as number))).join(""));
    pline(phead);
    const empty: string[] = [];
    const seriesOf = new Map<PanelKey, number>();
    for (const d of dashboards) {
      const offsets = { raw: 0, stack: 0 };
      for (const p of plans.filter((x) => x.dashboard === d)) {
        const slice = (v: Variant) => {
          const mine = (alone.get(`${d}/${v}`) ?? []).slice(offsets[v], offsets[v] + p[v].length);
          offsets[v] += p[v].length;
          mine.forEach((q, i) => q.series === 0 && empty.push(`${d} ${v} "${p.title}": ${p[v][i]?.expr ?? "?"}`));
          return {
            ms: sum(mine.map((q) => q.ms)),
            execMs: sum(mine.map((q) => q.execMs)),
            samples: sum(mine.map((q) => q.samples)),
            series: sum(mine.map((q) => q.series)),
            mb: sum(mine.map((q) => q.bytes)) / 1e6,
          };
        };
        const raw = slice("raw");
        const stack = slice("stack");
        if (p.key) seriesOf.set(p.key, stack.series);
        pline([
          d,
          p.title,
          p.rawSource,
          p.stack[0]?.instant ? "instant" : "range",
          fmt(raw.ms),
          fmt(stack.ms),
          ratio(raw.ms, stack.ms),
          fmt(raw.execMs),
          fmt(stack.execMs),
          fmt(raw.samples),
          fmt(stack.samples),
          ratio(raw.samples, stack.samples),
          fmt(raw.series),
          fmt(stack.series),
          stack.mb.toFixed(1),
        ]);
      }
      const totalOf = (v: Variant) => {
        const all = alone.get(`${d}/${v}`) ?? [];
        return { ms: sum(all.map((q) => q.ms)), execMs: sum(all.map((q) => q.execMs)) };
      };
      const [raw, stack] = [totalOf("raw"), totalOf("stack")];
      pline([
        d,
        "(all panels, one after another)",
        "",
        "",
        fmt(raw.ms),
        fmt(stack.ms),
        ratio(raw.ms, stack.ms),
        fmt(raw.execMs),
        fmt(stack.execMs),
        "",
        "",
        "",
        "",
        "",
        `${stack.ms > 0 ? Math.round((100 * (stack.ms - stack.execMs)) / stack.ms) : 0}% n-ex`,
      ]);
    }
    for (const q of empty) console.log(`note: no series returned by ${q}`);

    console.log("");
    console.log(
      `TSDB: ${fmt(total)} series at the end of the window (${fmt(total - recorded)} raw, ${fmt(recorded)} recorded; ${fmt(dcgmStored)} DCGM); ` +
        `${((total - recorded) / fleet.gpus).toFixed(1)} raw series per GPU (${(dcgmStored / fleet.gpus).toFixed(1)} DCGM), ${(total / fleet.gpus).toFixed(1)} with recorded.`,
    );
    for (const finding of await stackChecks(url, fleet, plans, seriesOf, `${scale.hours}h`)) console.log(`check: ${finding}`);
    console.log(`fleet section took ${seconds(performance.now() - sectionStarted)}`);
  } finally {
    if (server) await server.stop().catch(() => undefined);
    killChildren();
    rmSync(dir, { recursive: true, force: true });
    cleanupDir = undefined;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", emergencyCleanup);
  }
}
