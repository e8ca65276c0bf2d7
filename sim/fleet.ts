/**
 * A deterministic synthetic infermesh fleet: GPU nodes (some split into MIG
 * instances), the models, revisions and tenants they serve, and every process
 * Prometheus scrapes there (dcgm-exporter per node, an infermesh Agent and
 * Adapter per GPU node, Routers, kube-state-metrics). Each target's exposition
 * is what that exporter sends, before the stack's relabeling; the stack's own
 * scrape configuration has to turn it into the label contract.
 *
 * Counters are integrals of per-scenario rates over the fleet's history, so a
 * rate read over any window is exactly the rate the scenarios define, and
 * switching scenario changes rates without a counter ever going down. Gauges
 * follow the current scenario. Nothing is random: the same shape and settings
 * give the same fleet, names and values.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { StackConfig } from "../config";
import { contractDcgmFields } from "../components/dcgmCounters";
import { dcgmExporterValues, dcgmRelease } from "../components/dcgmExporter";
import { placementSuffix } from "../components/gpuPlacement";
import { kubePrometheusStackValues } from "../components/prometheusStack";
import { monitoringNamespace } from "../components/telemetry";
import { cancellationReasons, inferenceErrors, latencyBucketBoundsMs, metrics, rejectionReasons, type MetricDefinition, type MetricName } from "../monitoring/metrics";
import { errorBudget, objectivesFor, type SloSpec } from "../monitoring/slo";
import type { DiscoveredPod } from "./discovery";
import { dcgmFamilies, expositionContentType, renderExposition, sanitizeLabelName, type DcgmField, type FixtureGpu, type MetricFamily, type Sample } from "./exposition";

// ---------------------------------------------------------------------------
// Scenarios

export const scenarioNames = [
  "healthy",
  "vram-near-oom",
  "queue-spike",
  "latency-breach",
  "node-down",
  "ecc-double-bit",
  "thermal-throttling",
  "dcgm-exporter-gone",
  "agent-gone",
  "rejection-spike",
  "error-spike",
  "gpu-idle",
  "gpu-pod-pending",
  "slo-slow-burn",
  "slo-fast-burn",
  "contract-metric-gone",
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}

export interface ScenarioSpec {
  name: ScenarioName;
  /** What goes wrong and where (the entity is named by `Fleet.scenarioTarget`). */
  description: string;
  /** Alert names of the catalog (dashboards/alerts.ts) the scenario raises; no other alert may be raised. */
  alerts: readonly string[];
  /**
   * Alerts the scenario may also raise, from the scenario on, depending on
   * how much healthy history Prometheus holds (an SLO window still mostly
   * healthy does not burn): allowed, not required.
   */
  mayAlsoRaise?: readonly string[];
  /**
   * When its alerts resolve after the fleet recovers: `at-once` (the next
   * evaluation), or `after-window` (the alert reads a range, e.g. `[10m]`, that
   * still holds the bad samples).
   */
  clears: "at-once" | "after-window";
}

export const scenarios: Readonly<Record<ScenarioName, ScenarioSpec>> = {
  healthy: {
    name: "healthy",
    description: "Every target answers; VRAM below 80%, queues short, p95 under 1 s, 1% of requests rejected, 0.6% of inferences failing, no ECC or XID errors, throttling under 2% of the time.",
    alerts: [],
    clears: "at-once",
  },
  "vram-near-oom": {
    name: "vram-near-oom",
    description: "One whole GPU holding a model uses 96% of its framebuffer.",
    alerts: ["InfermeshGpuNearOom"],
    clears: "at-once",
  },
  "queue-spike": {
    name: "queue-spike",
    description: "Every queue of one model (gpt-7b, the seed's example) holds far more requests than its limit.",
    alerts: ["InfermeshHighQueueDepth"],
    clears: "at-once",
  },
  "latency-breach": {
    name: "latency-breach",
    description: "One model's (gpt-7b) inferences take 10-30 s instead of under 1 s.",
    alerts: ["InfermeshLatencyP95Breach"],
    mayAlsoRaise: ["InfermeshSloFastBurn", "InfermeshSloSlowBurn"],
    clears: "after-window",
  },
  "node-down": {
    name: "node-down",
    description: "Gossip reports one GPU node unhealthy (every Router says 0) and Routers stop choosing it; its exporters still answer.",
    alerts: ["InfermeshNodeDown"],
    clears: "at-once",
  },
  "ecc-double-bit": {
    name: "ecc-double-bit",
    description: "One whole GPU reports two double-bit ECC errors (volatile and aggregate counters) and the XID 48 that comes with them.",
    alerts: ["InfermeshGpuEccDoubleBitErrors", "InfermeshGpuXidErrors"],
    clears: "after-window",
  },
  "thermal-throttling": {
    name: "thermal-throttling",
    description: "One whole GPU runs at 88 C and is thermally throttled all the time (a failed fan).",
    alerts: ["InfermeshGpuThermalThrottling"],
    clears: "after-window",
  },
  "dcgm-exporter-gone": {
    name: "dcgm-exporter-gone",
    description: "One GPU node's dcgm-exporter answers every scrape with HTTP 503, so none of its GPU series arrive.",
    alerts: ["InfermeshDcgmExporterDown", "InfermeshGpuMetricsAbsent"],
    clears: "at-once",
  },
  "agent-gone": {
    name: "agent-gone",
    description: "One node's infermesh Agent answers every scrape with HTTP 503.",
    alerts: ["InfermeshTargetDown"],
    clears: "at-once",
  },
  "rejection-spike": {
    name: "rejection-spike",
    description: "Routers reject half of one model's requests (429, mostly its tenants over quota).",
    alerts: ["InfermeshAdmissionRejectionsHigh"],
    clears: "after-window",
  },
  "error-spike": {
    name: "error-spike",
    description: "A bad rollout makes 60% of one model's inferences fail (mostly runtime errors).",
    alerts: ["InfermeshErrorRateHigh"],
    mayAlsoRaise: ["InfermeshSloFastBurn", "InfermeshSloSlowBurn"],
    clears: "after-window",
  },
  "gpu-idle": {
    name: "gpu-idle",
    description: "A new pod takes the idle GPU and does nothing with it (0% utilization).",
    alerts: ["InfermeshGpuIdle"],
    clears: "at-once",
  },
  "gpu-pod-pending": {
    name: "gpu-pod-pending",
    description: "A pod requesting a GPU stays Pending: no node has one free.",
    alerts: ["InfermeshGpuPodsPending"],
    clears: "at-once",
  },
  "slo-slow-burn": {
    name: "slo-slow-burn",
    description:
      "A model deployed for the scenario (its whole history) fails 4x its availability budget (under the error-rate alert's 5%) and misses its latency target on 4x its latency budget (so its p95 is over the target too); 0.5% bad requests besides, which do not count.",
    alerts: ["InfermeshSloSlowBurn", "InfermeshLatencyP95Breach"],
    clears: "after-window",
  },
  "slo-fast-burn": {
    name: "slo-fast-burn",
    description: "A model deployed for the scenario (its whole history) fails 50x its availability budget, and every inference is over its latency target (20x a 5% budget).",
    alerts: ["InfermeshSloFastBurn", "InfermeshSloSlowBurn", "InfermeshErrorRateHigh", "InfermeshLatencyP95Breach"],
    clears: "after-window",
  },
  "contract-metric-gone": {
    name: "contract-metric-gone",
    description: "Routers are replaced by a build that no longer exposes infermesh_router_requests_total (the rejection alert's denominator).",
    alerts: ["InfermeshContractMetricAbsent"],
    clears: "at-once",
  },
};

/** An alert a scenario must raise: its name and the labels that identify the entity it is about. */
export interface ExpectedAlert {
  alertname: string;
  labels: Record<string, string>;
}

// ---------------------------------------------------------------------------
// Settings and shape

export interface FleetShape {
  /** GPU nodes; pools rotate L4, H100 split into 1g.10gb MIG instances, A100-80GB. */
  nodes: number;
  gpusPerNode: number;
  /** Routers, each on its own system node. */
  routers: number;
}

export const defaultShape: FleetShape = { nodes: 4, gpusPerNode: 2, routers: 2 };

/** What the fleet takes from the stack: where pods run, how they are labelled, what is allowlisted. */
export interface FleetSettings {
  region: string;
  zones: readonly string[];
  /** Namespace of dcgm-exporter and of the stack's monitors. */
  monitoringNamespace: string;
  /** dcgm-exporter's Helm release, the pods' `app.kubernetes.io/instance`. */
  dcgmRelease: string;
  /** The counters file dcgm-exporter is given: the fields it exports. */
  dcgmFields: readonly DcgmField[];
  /** dcgm-exporter's pod-label allowlist: regular expressions on a pod label's key. */
  podLabelAllowlist: readonly string[];
  /** Node label keys kube-state-metrics exports as `kube_node_labels{label_*}`. */
  nodeLabelAllowlist: readonly string[];
  /** Which infermesh pods exist, how they are labelled and where they serve metrics. */
  infermesh: { namespaces: readonly string[]; partOf: string; port: string; path: string };
  /** Queue depth of the spiking model in `queue-spike`; above its alert limit. */
  queueSpikeDepth: number;
  /** How the device plugin advertises MIG instances: `nvidia.com/mig-<profile>` (mixed) or `nvidia.com/gpu`. */
  migStrategy: "none" | "single" | "mixed";
  /** The stack's SLOs: the scenario models burn against their objectives. */
  slo: SloSpec;
}

/** The model the seed's examples name; queue and latency scenarios hit it. */
export const seedModel = "gpt-7b";

/** The fleet settings a stack implies, from the same functions that render its Helm values and scrape jobs. */
export function fleetSettings(config: StackConfig): FleetSettings {
  const zones = config.cluster.mode === "create" ? Object.keys(config.cluster.vpc.subnets) : [`${config.region}a`, `${config.region}b`];
  const ksm = kubePrometheusStackValues({ telemetry: config.telemetry, retainVolumes: false, externalLabels: {}, alertmanagerFromSecret: false })["kube-state-metrics"];
  const nodes = ksm.metricLabelsAllowlist.map((entry) => /^nodes=\[(.*)\]$/.exec(entry)?.[1]).find((list) => list !== undefined);
  const queueLimit = config.models[seedModel]?.queueDepthMax ?? config.alerting.thresholds.queueDepthMax;
  const { infermesh } = config.telemetry;
  return {
    region: config.region,
    zones,
    monitoringNamespace,
    dcgmRelease,
    dcgmFields: contractDcgmFields(),
    podLabelAllowlist: dcgmExporterValues({ scrapeIntervalSeconds: config.telemetry.scrapeIntervalSeconds, fields: [] }, "whole").kubernetes.podLabelAllowlistRegex,
    nodeLabelAllowlist: nodes === undefined ? [] : nodes.split(",").map((key) => key.trim()),
    infermesh: { namespaces: infermesh.namespaces, partOf: infermesh.partOf, port: infermesh.port, path: infermesh.path },
    queueSpikeDepth: Math.max(250, Math.ceil(queueLimit * 2)),
    migStrategy: config.telemetry.migStrategy,
    slo: config.slo,
  };
}

// ---------------------------------------------------------------------------
// Fleet entities

/** Latency histogram bounds (ms) the Agents and Adapters use: the metric contract's. */
export const latencyBuckets = latencyBucketBoundsMs;

/** Share of observations at or below each bound of `latencyBuckets` (the +Inf bucket is 1), in bound order. */
type LatencyProfile = readonly number[];

/** A profile from shares at some bounds: a bound takes the share of the nearest listed bound at or below it (0 below the first). */
function latencyProfile(shares: Readonly<Record<number, number>>): LatencyProfile {
  const listed = Object.keys(shares).map(Number).sort((a, b) => a - b);
  return latencyBuckets.map((bound) => {
    const at = listed.filter((b) => b <= bound).pop();
    return at === undefined ? 0 : (shares[at] as number);
  });
}

const llmLatency = latencyProfile({ 25: 0.01, 50: 0.04, 100: 0.15, 250: 0.45, 500: 0.8, 1000: 0.985, 2000: 0.996, 2500: 0.998, 5000: 1 });
const embeddingLatency = latencyProfile({ 25: 0.35, 50: 0.75, 100: 0.96, 250: 0.995, 500: 1 });
/** 10-30 s for 92% of requests: p95 lands in the (10000, 30000] bucket. */
const breachLatency = latencyProfile({ 100: 0.01, 250: 0.02, 500: 0.03, 1000: 0.04, 2000: 0.045, 2500: 0.05, 5000: 0.06, 10000: 0.08, 30000: 1 });
/** 50-100 ms, except a share `slow` in the bucket just over `targetMs`. */
const slowShareLatency = (targetMs: number, slow: number): LatencyProfile => latencyBuckets.map((bound) => (bound < 100 ? 0 : bound <= targetMs ? 1 - slow : 1));

/**
 * A model deployed only while its scenario plays: its whole history in
 * Prometheus is the burn, so every SLO window sees the same error ratio
 * however long the verification has been running (the windows' timing is
 * what the promtool cases prove).
 */
interface ScenarioModel {
  scenario: ScenarioName;
  model: ModelSpec;
  /** Share of inferences failing with `runtime_error` (counted against availability). */
  errors: number;
  /** Share failing with `bad_request` (not counted). */
  clientErrors: number;
}

export interface ModelSpec {
  name: string;
  revisions: readonly string[];
  quant: string;
  runtime: string;
  /** Agents report infermesh-native runtimes; Adapters report the runtimes they adapt. */
  reporter: "agent" | "adapter";
  /** Inferences per second on one whole GPU. */
  qps: number;
  /** Tokens generated per inference; 0 for models that generate none (embeddings). */
  tokensPerInference: number;
  latency: LatencyProfile;
}

export const fleetModels: readonly ModelSpec[] = [
  { name: "gpt-7b", revisions: ["r3", "r4"], quant: "fp16", runtime: "vllm", reporter: "agent", qps: 14, tokensPerInference: 180, latency: llmLatency },
  { name: "llama-70b", revisions: ["r1"], quant: "fp8", runtime: "tensorrt-llm", reporter: "agent", qps: 5, tokensPerInference: 240, latency: llmLatency },
  { name: "mistral-7b", revisions: ["r2"], quant: "awq-int4", runtime: "tgi", reporter: "adapter", qps: 9, tokensPerInference: 150, latency: llmLatency },
  { name: "bge-large", revisions: ["r1"], quant: "fp16", runtime: "triton", reporter: "adapter", qps: 40, tokensPerInference: 0, latency: embeddingLatency },
];

export const tenants = ["acme", "globex", "initech"] as const;

interface PoolSpec {
  pool: string;
  capacity: "spot" | "on-demand";
  /** dcgm-exporter's `modelName`. */
  modelName: string;
  /** `infermesh.io/gpu-model`. */
  gpuModel: string;
  /** Framebuffer of a whole GPU, or of one MIG instance, in MiB. */
  fbTotalMiB: number;
  mig?: { profile: string; instances: number };
  power: { idle: number; max: number };
  /** Models whole GPUs (or MIG instances) serve, in rotation. */
  serves: readonly string[];
}

const pools: readonly PoolSpec[] = [
  { pool: "l4", capacity: "spot", modelName: "NVIDIA L4", gpuModel: "L4", fbTotalMiB: 23034, power: { idle: 16, max: 72 }, serves: ["gpt-7b", "mistral-7b"] },
  {
    pool: "h100-mig",
    capacity: "on-demand",
    modelName: "NVIDIA H100 80GB HBM3",
    gpuModel: "H100-80GB",
    fbTotalMiB: 9856,
    mig: { profile: "1g.10gb", instances: 7 },
    power: { idle: 70, max: 700 },
    serves: ["bge-large", "mistral-7b"],
  },
  { pool: "a100", capacity: "on-demand", modelName: "NVIDIA A100-SXM4-80GB", gpuModel: "A100-80GB", fbTotalMiB: 81920, power: { idle: 60, max: 400 }, serves: ["llama-70b"] },
];

export interface FleetNode {
  name: string;
  zone: string;
  /** Kubernetes labels of the node. */
  labels: Record<string, string>;
  role: "gpu" | "system";
}

export interface GpuNode extends FleetNode {
  role: "gpu";
  index: number;
  pool: PoolSpec;
  /** dcgm-exporter's spelling of the host label: `Hostname` up to 4.8.2, `hostname` after. */
  hostnameLabel: "Hostname" | "hostname";
  /** Whole GPUs, or every MIG instance of every GPU. */
  entities: GpuEntity[];
}

/** A whole GPU or one MIG instance, as dcgm-exporter reports it. */
export interface GpuEntity extends FixtureGpu {
  /** Position in the fleet, for deterministic per-entity values. */
  ordinal: number;
  fbTotalMiB: number;
  /** What runs on it; absent when idle. */
  deployment?: Deployment;
}

export interface Deployment {
  model: ModelSpec;
  revision: string;
  tenant: string;
}

/** What one Agent or Adapter series describes: one deployment on one GPU (its MIG instances of one profile summed). */
export interface ServingSlot {
  node: GpuNode;
  gpuUuid: string;
  migProfile?: string;
  deployment: Deployment;
  /** Whole GPUs count 1; MIG instances count their share of a GPU's throughput. */
  capacity: number;
  ordinal: number;
}

export type TargetKind = "dcgm-exporter" | "agent" | "adapter" | "router" | "kube-state-metrics";

/** A process Prometheus scrapes, and the pod it runs as. */
export interface FleetTarget {
  id: string;
  kind: TargetKind;
  node: FleetNode;
  pod: { namespace: string; name: string; labels: Record<string, string>; container: string; portName: string };
  path: string;
}

// ---------------------------------------------------------------------------
// Deterministic names

function digest(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** Kubernetes' random-suffix alphabet (no vowels, no confusable digits). */
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

function suffix(seed: string, length: number): string {
  const hex = digest(seed);
  let out = "";
  for (let i = 0; i < length; i++) out += suffixAlphabet[parseInt(hex.slice(i * 2, i * 2 + 2), 16) % suffixAlphabet.length];
  return out;
}

/** A Kubernetes object uid. */
function podUid(seed: string): string {
  const h = digest(`uid/${seed}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function gpuUuid(seed: string): string {
  const h = digest(seed);
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** EC2's private DNS name for an address in the region. */
function ec2Name(region: string, address: readonly number[]): string {
  const domain = region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`;
  return `ip-${address.join("-")}.${domain}`;
}

// ---------------------------------------------------------------------------
// Values

/** How long every process has been up when the fleet starts (at healthy rates), so counters start well above zero. */
const uptimeSeconds = 6 * 3600;

/** A series' value: a gauge of the current scenario, or a counter integrating per-scenario rates (plus a jump when a scenario starts). */
type ValueSpec =
  | { kind: "gauge"; value: (s: ScenarioName) => number }
  | { kind: "counter"; base: number; rate: (s: ScenarioName) => number; jump?: (s: ScenarioName) => number };

interface SeriesSpec {
  labels: ReadonlyArray<readonly [string, string]>;
  suffix?: Sample["suffix"];
  value: ValueSpec;
  /** Scenarios in which the series exists; always, when absent. */
  present?: (s: ScenarioName) => boolean;
}

interface FamilySpec {
  name: string;
  help: string;
  type: MetricFamily["type"];
  series: SeriesSpec[];
}

const gauge = (value: (s: ScenarioName) => number): ValueSpec => ({ kind: "gauge", value });
/** A counter at `rate` per second; unless `base` is given it starts where the healthy rate leaves it after the processes' uptime. */
const counter = (rate: (s: ScenarioName) => number, opts: { base?: number; jump?: (s: ScenarioName) => number } = {}): ValueSpec => ({
  kind: "counter",
  base: opts.base ?? rate("healthy") * uptimeSeconds,
  rate,
  ...(opts.jump ? { jump: opts.jump } : {}),
});

/** Labels in the order Prometheus' Go client writes them: sorted by name. */
function sortedLabels(labels: Record<string, string | undefined>): Array<readonly [string, string]> {
  return Object.entries(labels)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function family(name: MetricName, series: SeriesSpec[]): FamilySpec {
  const m = metrics[name];
  return { name, help: m.help, type: m.type, series };
}

/** A family kube-state-metrics always exports, whether or not the metric contract reads it. */
function ksmFamily(name: string, help: string, series: SeriesSpec[]): FamilySpec {
  const contract = (metrics as Record<string, MetricDefinition | undefined>)[name];
  return { name, help: contract?.help ?? help, type: "gauge", series };
}

/** Mean of a latency profile (bucket midpoints; the last bound for the open bucket), for `_sum`. */
function meanLatency(profile: LatencyProfile): number {
  let mean = 0;
  let below = 0;
  let lower = 0;
  latencyBuckets.forEach((bound, i) => {
    const at = profile[i] ?? 1;
    mean += (at - below) * ((lower + bound) / 2);
    below = at;
    lower = bound;
  });
  return mean + (1 - below) * lower;
}

const errorWeights: Record<(typeof inferenceErrors)[number], { healthy: number; spike: number }> = {
  timeout: { healthy: 0.35, spike: 0.05 },
  out_of_memory: { healthy: 0.05, spike: 0.05 },
  runtime_error: { healthy: 0.2, spike: 0.85 },
  bad_request: { healthy: 0.4, spike: 0.05 },
};
const rejectionWeights: Record<(typeof rejectionReasons)[number], { healthy: number; spike: number }> = {
  queue_full: { healthy: 0.35, spike: 0.02 },
  rate_limited: { healthy: 0.35, spike: 0.15 },
  tenant_quota: { healthy: 0.2, spike: 0.8 },
  no_healthy_target: { healthy: 0.05, spike: 0.02 },
  policy: { healthy: 0.05, spike: 0.01 },
};
const healthyErrorRatio = 0.006;
const spikeErrorRatio = 0.6;
const healthyRejectionRatio = 0.01;
const spikeRejectionRatio = 0.5;
const hedgeShare = 0.04;
const hedgeWinShare = 0.4;
const cancellationShare: Record<(typeof cancellationReasons)[number], number> = { hedge_lost: hedgeShare, client_gone: 0.003, deadline: 0.001 };

export interface FleetOptions {
  settings: FleetSettings;
  shape?: Partial<FleetShape>;
  scenario?: ScenarioName;
  /** Seconds since the epoch; defaults to the wall clock. */
  clock?: () => number;
}

/** What each scenario hits. */
export interface ScenarioTargets {
  vramGpu: GpuEntity;
  eccGpu: GpuEntity;
  thermalGpu: GpuEntity;
  downNode: GpuNode;
  dcgmGoneNode: GpuNode;
  agentGoneNode: GpuNode;
  queueModel: string;
  latencyModel: string;
  rejectionModel: string;
  errorModel: string;
  /** An idle GPU (whole if the fleet has one) a pod takes in `gpu-idle`; absent when every GPU is busy. */
  idleGpu?: GpuEntity;
  /** The pod that takes it. */
  idlePod: RuntimePod;
  /** The pod that cannot be scheduled in `gpu-pod-pending`. */
  pendingPod: RuntimePod;
  /** The models deployed for the SLO scenarios. */
  sloSlowModel: string;
  sloFastModel: string;
}

/** A pod running a model (or waiting to), as kube-state-metrics and dcgm-exporter see it. */
export interface RuntimePod {
  namespace: string;
  name: string;
  uid: string;
  /** Node it runs on; absent while Pending. */
  node?: string;
  labels: Record<string, string>;
  /** The GPU resource it requests, as kube-state-metrics names it (`nvidia_com_gpu`, `nvidia_com_mig_1g_10gb`). */
  gpuResource: string;
}

export class Fleet {
  readonly shape: FleetShape;
  readonly settings: FleetSettings;
  readonly gpuNodes: GpuNode[];
  readonly systemNodes: FleetNode[];
  readonly slots: ServingSlot[];
  readonly deployments: Deployment[];
  readonly targets: FleetTarget[];
  readonly hit: ScenarioTargets;
  private readonly clock: () => number;
  private readonly history: Array<{ from: number; scenario: ScenarioName }>;
  private readonly families = new Map<string, FamilySpec[]>();
  private readonly dcgmValues = new Map<string, ValueSpec>();

  constructor(options: FleetOptions) {
    this.shape = { ...defaultShape, ...options.shape };
    const { nodes, gpusPerNode, routers } = this.shape;
    if (!(Number.isInteger(nodes) && nodes >= 1 && nodes <= 64)) throw new Error(`nodes must be an integer from 1 to 64, got ${nodes}`);
    if (!(Number.isInteger(gpusPerNode) && gpusPerNode >= 1 && gpusPerNode <= 8)) throw new Error(`gpusPerNode must be an integer from 1 to 8, got ${gpusPerNode}`);
    if (!(Number.isInteger(routers) && routers >= 1 && routers <= 8)) throw new Error(`routers must be an integer from 1 to 8, got ${routers}`);
    if (options.settings.zones.length === 0) throw new Error("the fleet needs at least one zone");
    this.settings = options.settings;
    this.clock = options.clock ?? (() => Date.now() / 1000);
    this.history = [{ from: this.clock(), scenario: options.scenario ?? "healthy" }];

    this.gpuNodes = this.buildGpuNodes();
    this.systemNodes = Array.from({ length: routers }, (_, j) => {
      const zoneIndex = j % this.settings.zones.length;
      const zone = this.settings.zones[zoneIndex] as string;
      return { name: ec2Name(this.settings.region, [10, 0, zoneIndex * 32 + 2, 200 + j]), zone, role: "system" as const, labels: { "infermesh.io/node-class": "system", "topology.kubernetes.io/zone": zone } };
    });
    this.slots = this.buildSlots();
    this.deployments = uniqueDeployments(this.slots);
    this.hit = this.chooseTargets();
    this.targets = this.buildTargets();
  }

  get scenario(): ScenarioName {
    return (this.history[this.history.length - 1] as { scenario: ScenarioName }).scenario;
  }

  /** Switches scenario from now on; counters keep what they accumulated. */
  setScenario(name: ScenarioName): void {
    if (!isScenarioName(name)) throw new Error(`unknown scenario ${String(name)}; scenarios: ${scenarioNames.join(", ")}`);
    if (name === this.scenario) return;
    const now = this.clock();
    const last = this.history[this.history.length - 1] as { from: number };
    this.history.push({ from: Math.max(now, last.from), scenario: name });
  }

  /** The alerts `name` must raise, with the labels of the entity it hits. */
  expectedAlerts(name: ScenarioName): ExpectedAlert[] {
    const h = this.hit;
    const gpu = (g: GpuEntity) => ({ gpu_uuid: g.uuid, node: g.node });
    const bothSlis = (model: string) => [
      { model, slo: "availability" },
      { model, slo: "latency" },
    ];
    const perScenario: Record<ScenarioName, Record<string, Record<string, string> | Array<Record<string, string>>>> = {
      healthy: {},
      "vram-near-oom": { InfermeshGpuNearOom: gpu(h.vramGpu) },
      "queue-spike": { InfermeshHighQueueDepth: { model: h.queueModel } },
      "latency-breach": { InfermeshLatencyP95Breach: { model: h.latencyModel } },
      "node-down": { InfermeshNodeDown: { node: h.downNode.name } },
      "ecc-double-bit": { InfermeshGpuEccDoubleBitErrors: gpu(h.eccGpu), InfermeshGpuXidErrors: gpu(h.eccGpu) },
      "thermal-throttling": { InfermeshGpuThermalThrottling: gpu(h.thermalGpu) },
      "dcgm-exporter-gone": { InfermeshDcgmExporterDown: { node: h.dcgmGoneNode.name }, InfermeshGpuMetricsAbsent: { node: h.dcgmGoneNode.name } },
      "agent-gone": { InfermeshTargetDown: { node: h.agentGoneNode.name, pod: this.target("agent", h.agentGoneNode).pod.name } },
      "rejection-spike": { InfermeshAdmissionRejectionsHigh: { model: h.rejectionModel } },
      "error-spike": { InfermeshErrorRateHigh: { model: h.errorModel } },
      "gpu-idle": h.idleGpu ? { InfermeshGpuIdle: { ...gpu(h.idleGpu), pod: h.idlePod.name } } : {},
      "gpu-pod-pending": { InfermeshGpuPodsPending: { namespace: h.pendingPod.namespace, pod: h.pendingPod.name } },
      "slo-slow-burn": { InfermeshSloSlowBurn: bothSlis(h.sloSlowModel), InfermeshLatencyP95Breach: { model: h.sloSlowModel } },
      "slo-fast-burn": {
        InfermeshSloFastBurn: bothSlis(h.sloFastModel),
        InfermeshSloSlowBurn: bothSlis(h.sloFastModel),
        InfermeshErrorRateHigh: { model: h.sloFastModel },
        InfermeshLatencyP95Breach: { model: h.sloFastModel },
      },
      "contract-metric-gone": { InfermeshContractMetricAbsent: { metric: "infermesh_router_requests_total" } },
    };
    const unsupported = this.unsupported(name);
    if (unsupported) throw new Error(`scenario ${name} cannot run on this fleet: ${unsupported}`);
    const byAlert = perScenario[name];
    const missing = scenarios[name].alerts.filter((a) => !(a in byAlert));
    if (missing.length > 0) throw new Error(`scenario ${name} has no labels for ${missing.join(", ")}`);
    return scenarios[name].alerts.flatMap((alertname) => [byAlert[alertname] as Record<string, string> | Array<Record<string, string>>].flat().map((labels) => ({ alertname, labels })));
  }

  /** Alerts `name` may also raise (see `ScenarioSpec.mayAlsoRaise`), with the labels of the entity it hits. */
  mayAlsoRaise(name: ScenarioName): ExpectedAlert[] {
    const h = this.hit;
    const sli: Partial<Record<ScenarioName, Record<string, string>>> = {
      "latency-breach": { model: h.latencyModel, slo: "latency" },
      "error-spike": { model: h.errorModel, slo: "availability" },
    };
    const labels = sli[name];
    return (scenarios[name].mayAlsoRaise ?? []).map((alertname) => {
      if (!labels) throw new Error(`scenario ${name} has no labels for the alerts it may also raise`);
      return { alertname, labels };
    });
  }

  /** Why this fleet's shape cannot play a scenario, or undefined when it can. */
  unsupported(name: ScenarioName): string | undefined {
    if (name === "gpu-idle" && !this.hit.idleGpu) return "every GPU is busy (a fleet with two or more GPUs per node, or a MIG node, has an idle one)";
    return undefined;
  }

  /** The entity a scenario hits, for people. */
  scenarioTarget(name: ScenarioName): string {
    const h = this.hit;
    const gpu = (g: GpuEntity) => `GPU ${g.uuid} (${g.modelName}) on ${g.node}`;
    switch (name) {
      case "healthy":
        return "the whole fleet";
      case "vram-near-oom":
        return gpu(h.vramGpu);
      case "ecc-double-bit":
        return gpu(h.eccGpu);
      case "thermal-throttling":
        return gpu(h.thermalGpu);
      case "queue-spike":
        return `model ${h.queueModel} (depth ${this.settings.queueSpikeDepth})`;
      case "latency-breach":
        return `model ${h.latencyModel}`;
      case "rejection-spike":
        return `model ${h.rejectionModel}`;
      case "error-spike":
        return `model ${h.errorModel}`;
      case "node-down":
        return `node ${h.downNode.name}`;
      case "dcgm-exporter-gone":
        return `dcgm-exporter on ${h.dcgmGoneNode.name}`;
      case "agent-gone":
        return `Agent ${this.target("agent", h.agentGoneNode).pod.name} on ${h.agentGoneNode.name}`;
      case "gpu-idle":
        return h.idleGpu ? `pod ${h.idlePod.name} on ${gpu(h.idleGpu)}` : "no idle GPU";
      case "gpu-pod-pending":
        return `pod ${h.pendingPod.namespace}/${h.pendingPod.name}`;
      case "slo-slow-burn":
        return `model ${h.sloSlowModel}, deployed for the scenario`;
      case "slo-fast-burn":
        return `model ${h.sloFastModel}, deployed for the scenario`;
      case "contract-metric-gone":
        return "every Router";
    }
  }

  /** What a scrape of `targetId` gets now: HTTP status and exposition text. */
  scrape(targetId: string, now = this.clock()): { status: 200 | 503; body: string } {
    const target = this.targets.find((t) => t.id === targetId);
    if (!target) throw new Error(`no target ${targetId}`);
    if (this.isDown(target)) return { status: 503, body: "Service Unavailable\n" };
    return { status: 200, body: this.exposition(target, now) };
  }

  /** The exposition text of a target at `now`, as its exporter writes it. */
  exposition(target: FleetTarget, now = this.clock()): string {
    if (target.kind === "dcgm-exporter") {
      const node = this.gpuNodes.find((n) => n.name === target.node.name) as GpuNode;
      const values = (field: string, gpu: FixtureGpu): number | undefined => {
        const spec = this.dcgmValues.get(dcgmKey(field, gpu));
        return spec === undefined ? undefined : this.valueAt(spec, now);
      };
      const idle = this.scenario === "gpu-idle" ? this.hit.idleGpu : undefined;
      // The pod that takes the idle GPU shows up on its series, as dcgm-exporter attributes it.
      const entities = node.entities.map((e) => (e === idle ? { ...e, pod: { namespace: this.hit.idlePod.namespace, pod: this.hit.idlePod.name, container: "runtime", labels: this.allowlisted(this.hit.idlePod.labels) } } : e));
      return renderExposition(dcgmFamilies(entities, values, { hostnameLabel: node.hostnameLabel, fields: [...this.settings.dcgmFields] }));
    }
    const specs = this.families.get(target.id) ?? [];
    const scenario = this.scenario;
    return renderExposition(
      specs.map((f) => ({
        name: f.name,
        help: f.help,
        type: f.type,
        samples: f.series
          .filter((s) => s.present === undefined || s.present(scenario))
          .map((s) => ({ labels: s.labels, value: this.valueAt(s.value, now), ...(s.suffix ? { suffix: s.suffix } : {}) })),
      })),
    );
  }

  target(kind: TargetKind, node?: FleetNode): FleetTarget {
    const found = this.targets.find((t) => t.kind === kind && (node === undefined || t.node.name === node.name));
    if (!found) throw new Error(`no ${kind} target${node ? ` on ${node.name}` : ""}`);
    return found;
  }

  private isDown(target: FleetTarget): boolean {
    switch (this.scenario) {
      case "dcgm-exporter-gone":
        return target.kind === "dcgm-exporter" && target.node.name === this.hit.dcgmGoneNode.name;
      case "agent-gone":
        return target.kind === "agent" && target.node.name === this.hit.agentGoneNode.name;
      default:
        return false;
    }
  }

  private valueAt(spec: ValueSpec, now: number): number {
    if (spec.kind === "gauge") return spec.value(this.scenario);
    return Math.round(this.integrate(spec, now) * 1000) / 1000;
  }

  /** A counter's value at `now`: its base, plus each history segment's jump and rate times duration. */
  private integrate(spec: Extract<ValueSpec, { kind: "counter" }>, now: number): number {
    let total = spec.base;
    this.history.forEach((segment, i) => {
      if (segment.from >= now) return;
      const next = this.history[i + 1];
      const end = next === undefined ? now : Math.min(next.from, now);
      if (i > 0 && spec.jump) total += spec.jump(segment.scenario);
      total += spec.rate(segment.scenario) * (end - segment.from);
    });
    return total;
  }

  // --- construction -------------------------------------------------------

  private buildGpuNodes(): GpuNode[] {
    const { region, zones } = this.settings;
    const nodes: GpuNode[] = [];
    let ordinal = 0;
    for (let i = 0; i < this.shape.nodes; i++) {
      const pool = pools[i % pools.length] as PoolSpec;
      const zoneIndex = i % zones.length;
      const zone = zones[zoneIndex] as string;
      const name = ec2Name(region, [10, 0, zoneIndex * 32 + 1, 20 + i]);
      const labels: Record<string, string> = {
        "infermesh.io/node-class": "gpu",
        "infermesh.io/pool": pool.pool,
        "infermesh.io/gpu-model": pool.gpuModel,
        "infermesh.io/capacity": pool.capacity,
        "nvidia.com/gpu.present": "true",
        "topology.kubernetes.io/zone": zone,
        "kubernetes.io/hostname": name,
        ...(pool.mig ? { "nvidia.com/mig.config": `all-${pool.mig.profile}` } : {}),
      };
      const node: GpuNode = { name, zone, labels, role: "gpu", index: i, pool, hostnameLabel: i % 2 === 0 ? "Hostname" : "hostname", entities: [] };
      for (let g = 0; g < this.shape.gpusPerNode; g++) {
        const uuid = gpuUuid(`${name}/${g}`);
        const mig = pool.mig;
        // MIG instance ids of a uniform 1g layout start at 7, as nvidia-smi numbers them.
        const instances = mig ? Array.from({ length: mig.instances }, (_, k) => ({ profile: mig.profile, instance: 7 + k })) : [undefined];
        instances.forEach((instance, k) => {
          // Whole GPUs: the last GPU of the last node idles (when it is not the only one there); MIG: the last instance of each GPU idles.
          const idle = instance ? k === instances.length - 1 : i === this.shape.nodes - 1 && g === this.shape.gpusPerNode - 1 && g > 0;
          const served = pool.serves[(instance ? k : g) % pool.serves.length] as string;
          const entity: GpuEntity = { node: name, index: g, uuid, modelName: pool.modelName, ordinal: ordinal++, fbTotalMiB: pool.fbTotalMiB, ...(instance ? { mig: instance } : {}) };
          if (!idle) entity.deployment = this.deploymentFor(served, entity.ordinal);
          node.entities.push(entity);
        });
      }
      nodes.push(node);
    }
    return nodes;
  }

  private deploymentFor(modelName: string, ordinal: number): Deployment {
    const model = fleetModels.find((m) => m.name === modelName) as ModelSpec;
    return { model, revision: model.revisions[ordinal % model.revisions.length] as string, tenant: tenants[ordinal % tenants.length] as string };
  }

  private infermeshNamespace(): string {
    return this.settings.infermesh.namespaces[0] ?? "serving";
  }

  /** Pod labels dcgm-exporter copies onto a GPU's series: those its allowlist passes. */
  private allowlisted(labels: Record<string, string>): Record<string, string> {
    const allow = this.settings.podLabelAllowlist.map((r) => new RegExp(r));
    return Object.fromEntries(Object.entries(labels).filter(([key]) => allow.some((r) => r.test(key))));
  }

  /** The GPU resource a pod on `entity` requests, as kube-state-metrics names it. */
  private gpuResource(entity?: GpuEntity): string {
    return entity?.mig && this.settings.migStrategy === "mixed" ? `nvidia_com_mig_${sanitizeLabelName(entity.mig.profile)}` : "nvidia_com_gpu";
  }

  /** A pod of a model's deployment for a tenant; `seed` makes its name and uid unique. */
  private runtimePod(d: Deployment, seed: string, entity?: GpuEntity): RuntimePod {
    const templateHash = suffix(`${d.model.name}/${d.revision}/${d.tenant}`, 10);
    return {
      namespace: this.infermeshNamespace(),
      name: `${d.model.name}-${d.tenant}-${templateHash}-${suffix(seed, 5)}`,
      uid: podUid(seed),
      ...(entity ? { node: entity.node } : {}),
      labels: {
        "app.kubernetes.io/name": d.model.name,
        "app.kubernetes.io/part-of": this.settings.infermesh.partOf,
        "app.kubernetes.io/component": "runtime",
        "infermesh.io/model": d.model.name,
        "infermesh.io/revision": d.revision,
        "infermesh.io/tenant": d.tenant,
        "pod-template-hash": templateHash,
      },
      gpuResource: this.gpuResource(entity),
    };
  }

  /** Pods holding GPUs (one per whole GPU or MIG instance), in entity order. */
  private readonly runtimePods = new Map<GpuEntity, RuntimePod>();

  /** The pod holding each GPU entity, with the labels dcgm-exporter copies onto its series. */
  private attachPods(): void {
    for (const node of this.gpuNodes) {
      for (const entity of node.entities) {
        if (!entity.deployment) continue;
        const pod = this.runtimePod(entity.deployment, `${entity.uuid}/${entity.mig?.instance ?? ""}`, entity);
        this.runtimePods.set(entity, pod);
        entity.pod = { namespace: pod.namespace, pod: pod.name, container: "runtime", labels: this.allowlisted(pod.labels) };
      }
    }
  }

  private buildSlots(): ServingSlot[] {
    this.attachPods();
    const slots = new Map<string, ServingSlot>();
    for (const node of this.gpuNodes) {
      for (const entity of node.entities) {
        const d = entity.deployment;
        if (!d) continue;
        const key = [entity.uuid, entity.mig?.profile ?? "", d.model.name, d.revision, d.tenant].join("/");
        const share = entity.mig ? 1 / (node.pool.mig?.instances ?? 1) : 1;
        const existing = slots.get(key);
        if (existing) existing.capacity += share;
        else slots.set(key, { node, gpuUuid: entity.uuid, ...(entity.mig ? { migProfile: entity.mig.profile } : {}), deployment: d, capacity: share, ordinal: entity.ordinal });
      }
    }
    return [...slots.values()];
  }

  private chooseTargets(): ScenarioTargets {
    const whole = this.gpuNodes.flatMap((n) => n.entities.filter((e) => !e.mig));
    const held = whole.filter((e) => e.deployment);
    const pick = (list: GpuEntity[], i: number): GpuEntity => (list[Math.min(i, list.length - 1)] ?? held[0] ?? whole[0] ?? (this.gpuNodes[0]?.entities[0] as GpuEntity));
    const served = new Set(this.slots.map((s) => s.deployment.model.name));
    const model = (preferred: string) => (served.has(preferred) ? preferred : seedModel);
    const last = this.gpuNodes[this.gpuNodes.length - 1] as GpuNode;
    const first = this.gpuNodes[0] as GpuNode;
    const idle = this.gpuNodes.flatMap((n) => n.entities.filter((e) => !e.deployment));
    const idleGpu = idle.find((e) => !e.mig) ?? idle[0];
    const embedding = fleetModels.find((m) => m.name === "bge-large") as ModelSpec;
    const llama = fleetModels.find((m) => m.name === "llama-70b") as ModelSpec;
    return {
      ...(idleGpu ? { idleGpu } : {}),
      idlePod: this.runtimePod({ model: embedding, revision: embedding.revisions[0] as string, tenant: "globex" }, "idle", idleGpu),
      pendingPod: this.runtimePod({ model: llama, revision: llama.revisions[0] as string, tenant: "initech" }, "pending"),
      vramGpu: pick(held, 0),
      eccGpu: pick(held, 1),
      thermalGpu: pick(held, held.length - 1),
      downNode: last,
      dcgmGoneNode: this.gpuNodes.find((n) => n.pool.mig) ?? last,
      agentGoneNode: first,
      queueModel: seedModel,
      latencyModel: seedModel,
      rejectionModel: model("llama-70b"),
      errorModel: model("mistral-7b"),
      sloSlowModel: "qwen-14b",
      sloFastModel: "phi-3-mini",
    };
  }

  private buildTargets(): FleetTarget[] {
    const targets: FleetTarget[] = [];
    const { infermesh } = this.settings;
    const namespace = this.infermeshNamespace();
    const infermeshPod = (component: "agent" | "adapter" | "router", name: string) => ({
      namespace,
      name,
      labels: {
        "app.kubernetes.io/name": `infermesh-${component}`,
        "app.kubernetes.io/part-of": infermesh.partOf,
        "app.kubernetes.io/component": component,
      },
      container: component,
      portName: infermesh.port,
    });
    for (const node of this.gpuNodes) {
      // MIG nodes run the exporter of the MIG release (see components/gpuPlacement.ts).
      const release = `${this.settings.dcgmRelease}${placementSuffix(node.pool.mig ? "mig" : "whole")}`;
      const dcgm: FleetTarget = {
        id: `dcgm-exporter/${node.name}`,
        kind: "dcgm-exporter",
        node,
        pod: {
          namespace: this.settings.monitoringNamespace,
          name: `${release}-${suffix(`dcgm/${node.name}`, 5)}`,
          // The labels NVIDIA's chart puts on the exporter's pods.
          labels: { "app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "dcgm-exporter" },
          container: "exporter",
          portName: "metrics",
        },
        path: "/metrics",
      };
      targets.push(dcgm);
      this.registerDcgm(node);
      for (const component of ["agent", "adapter"] as const) {
        const target: FleetTarget = { id: `${component}/${node.name}`, kind: component, node, pod: infermeshPod(component, `infermesh-${component}-${suffix(`${component}/${node.name}`, 5)}`), path: infermesh.path };
        targets.push(target);
        // The scenario models run on the first GPU node, reported by its Agent.
        const scenarioModels = component === "agent" && node === this.gpuNodes[0] ? this.scenarioModels(node) : [];
        this.families.set(target.id, this.servingFamilies(this.slots.filter((s) => s.node === node && s.deployment.model.reporter === component), scenarioModels));
      }
    }
    const routerHash = suffix("router", 10);
    this.systemNodes.forEach((node, r) => {
      const target: FleetTarget = { id: `router/${r}`, kind: "router", node, pod: infermeshPod("router", `infermesh-router-${routerHash}-${suffix(`router/${r}`, 5)}`), path: infermesh.path };
      targets.push(target);
      this.families.set(target.id, this.routerFamilies());
    });
    const ksmNode = this.systemNodes[0] as FleetNode;
    const ksm: FleetTarget = {
      id: "kube-state-metrics",
      kind: "kube-state-metrics",
      node: ksmNode,
      pod: { namespace: this.settings.monitoringNamespace, name: `kube-state-metrics-${suffix("ksm", 10)}-${suffix("ksm/pod", 5)}`, labels: { "app.kubernetes.io/name": "kube-state-metrics" }, container: "kube-state-metrics", portName: "http" },
      path: "/metrics",
    };
    targets.push(ksm);
    this.families.set(ksm.id, this.kubeStateFamilies(targets));
    return targets;
  }

  /** Per-field readings of every entity on a GPU node. Device-level readings repeat on each MIG instance of a GPU. */
  private registerDcgm(node: GpuNode): void {
    const h = this.hit;
    for (const e of node.entities) {
      const siblings = node.entities.filter((x) => x.uuid === e.uuid);
      const busy = (x: GpuEntity) => (x.deployment ? 0.55 + ((x.ordinal * 7) % 35) / 100 : 0);
      const deviceUtil = (siblings.reduce((sum, x) => sum + busy(x), 0) / siblings.length) * 100;
      const isTarget = (g: GpuEntity) => g === e;
      const thermal = (s: ScenarioName) => s === "thermal-throttling" && isTarget(h.thermalGpu);
      const fbUsedShare = e.deployment ? 0.55 + (e.ordinal % 4) * 0.07 : 0.005;
      // Two uncorrectable errors the moment the scenario starts; counters keep them afterwards.
      const dbeBurst = (s: ScenarioName) => (s === "ecc-double-bit" && isTarget(h.eccGpu) ? 2 : 0);
      const readings: Partial<Record<string, ValueSpec>> = {
        DCGM_FI_DEV_GPU_UTIL: e.mig ? undefined : gauge(() => Math.round(deviceUtil)),
        DCGM_FI_PROF_GR_ENGINE_ACTIVE: gauge(() => Number((busy(e) * 0.95).toFixed(6))),
        DCGM_FI_DEV_FB_TOTAL: gauge(() => e.fbTotalMiB),
        DCGM_FI_DEV_FB_USED: gauge((s) => Math.round(e.fbTotalMiB * (s === "vram-near-oom" && isTarget(h.vramGpu) ? 0.96 : fbUsedShare))),
        DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: counter(() => 0, { base: 0, jump: dbeBurst }),
        DCGM_FI_DEV_ECC_DBE_AGG_TOTAL: counter(() => 0, { base: e.ordinal % 5 === 3 ? 1 : 0, jump: dbeBurst }),
        DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: counter(() => (e.ordinal % 5 === 1 ? 0.01 : 0), { base: e.ordinal % 3 }),
        DCGM_FI_DEV_ECC_SBE_AGG_TOTAL: counter(() => (e.ordinal % 5 === 1 ? 0.01 : 0), { base: 40 + (e.ordinal % 7) * 3 }),
        DCGM_FI_DEV_THERMAL_VIOLATION: counter((s) => (thermal(s) ? 1e9 : e.ordinal % 4 === 3 ? 0.015e9 : 0), { base: e.ordinal * 37e9 }),
        DCGM_FI_DEV_POWER_VIOLATION: counter(() => (e.ordinal % 3 === 0 ? 0.03e9 : 0), { base: e.ordinal * 11e9 }),
        DCGM_FI_DEV_GPU_TEMP: gauge((s) => (thermal(s) ? 88 : Math.round(38 + deviceUtil * 0.35))),
        DCGM_FI_DEV_POWER_USAGE: gauge(() => Number((node.pool.power.idle + ((node.pool.power.max - node.pool.power.idle) * deviceUtil) / 100).toFixed(3))),
        DCGM_FI_DEV_XID_ERRORS: gauge((s) => (s === "ecc-double-bit" && isTarget(h.eccGpu) ? 48 : 0)),
      };
      for (const field of this.settings.dcgmFields) {
        const spec = readings[field.name];
        if (spec) this.dcgmValues.set(dcgmKey(field.name, e), spec);
      }
      const unknown = this.settings.dcgmFields.filter((f) => !(f.name in readings)).map((f) => f.name);
      if (unknown.length > 0) throw new Error(`the fleet has no readings for DCGM field(s) ${unknown.join(", ")}; add them to verify/fleet.ts`);
    }
  }

  private slotRate(slot: ServingSlot): number {
    return slot.deployment.model.qps * slot.capacity;
  }

  /** The models the SLO scenarios deploy, burning against the stack's objectives for them, on a whole GPU of `node`. */
  private scenarioModels(node: GpuNode): Array<ScenarioModel & { slot: ServingSlot }> {
    const h = this.hit;
    const spec = (name: string): ModelSpec => ({ name, revisions: ["r1"], quant: "fp16", runtime: "vllm", reporter: "agent", qps: 20, tokensPerInference: 120, latency: llmLatency });
    const budgets = (name: string) => {
      const o = objectivesFor(this.settings.slo, name);
      return { availability: errorBudget(o.availabilityPercent), latency: errorBudget(o.latencyPercent), targetMs: o.latencyTargetMs };
    };
    const slow = budgets(h.sloSlowModel);
    const fast = budgets(h.sloFastModel);
    const models: ScenarioModel[] = [
      // 4x: over both ticket factors (3 and 1), under both page factors (6 and 14.4).
      { scenario: "slo-slow-burn", model: { ...spec(h.sloSlowModel), latency: slowShareLatency(slow.targetMs, 4 * slow.latency) }, errors: 4 * slow.availability, clientErrors: 0.005 },
      { scenario: "slo-fast-burn", model: { ...spec(h.sloFastModel), latency: slowShareLatency(fast.targetMs, 1) }, errors: Math.min(0.9, 50 * fast.availability), clientErrors: 0 },
    ];
    const entity = node.entities.find((e) => !e.mig) ?? (node.entities[0] as GpuEntity);
    return models.map((m, i) => ({
      ...m,
      slot: { node, gpuUuid: entity.uuid, ...(entity.mig ? { migProfile: entity.mig.profile } : {}), deployment: { model: m.model, revision: "r1", tenant: "acme" }, capacity: 1, ordinal: 1000 + i },
    }));
  }

  /** Agent or Adapter series for its slots: inferences, tokens, errors by kind, latency histogram, queue depth. */
  private servingFamilies(slots: ServingSlot[], scenarioModels: ReadonlyArray<ScenarioModel & { slot: ServingSlot }> = []): FamilySpec[] {
    const h = this.hit;
    const base = (slot: ServingSlot) => ({
      model: slot.deployment.model.name,
      revision: slot.deployment.revision,
      quant: slot.deployment.model.quant,
      runtime: slot.deployment.model.runtime,
      gpu_uuid: slot.gpuUuid,
      mig_profile: slot.migProfile,
    });
    const inferences: SeriesSpec[] = [];
    const tokens: SeriesSpec[] = [];
    const errors: SeriesSpec[] = [];
    const latency: SeriesSpec[] = [];
    for (const slot of slots) {
      const labels = { ...base(slot), tenant: slot.deployment.tenant };
      const rate = this.slotRate(slot);
      const model = slot.deployment.model;
      inferences.push({ labels: sortedLabels(labels), value: counter(() => rate) });
      if (model.tokensPerInference > 0) tokens.push({ labels: sortedLabels(labels), value: counter(() => rate * model.tokensPerInference) });
      for (const error of inferenceErrors) {
        const errorRate = (s: ScenarioName) => {
          const spike = s === "error-spike" && model.name === h.errorModel;
          return rate * (spike ? spikeErrorRatio : healthyErrorRatio) * errorWeights[error][spike ? "spike" : "healthy"];
        };
        errors.push({ labels: sortedLabels({ ...labels, error }), value: counter(errorRate) });
      }
      const profile = (s: ScenarioName) => (s === "latency-breach" && model.name === h.latencyModel ? breachLatency : model.latency);
      latencyBuckets.forEach((bound, i) => {
        const bucketRate = (s: ScenarioName) => rate * (profile(s)[i] ?? 1);
        latency.push({ labels: [...sortedLabels(labels), ["le", String(bound)]], suffix: "_bucket", value: counter(bucketRate) });
      });
      latency.push({ labels: [...sortedLabels(labels), ["le", "+Inf"]], suffix: "_bucket", value: counter(() => rate) });
      latency.push({ labels: sortedLabels(labels), suffix: "_sum", value: counter((s) => rate * meanLatency(profile(s))) });
      latency.push({ labels: sortedLabels(labels), suffix: "_count", value: counter(() => rate) });
    }
    for (const m of scenarioModels) {
      const labels = sortedLabels({ ...base(m.slot), tenant: m.slot.deployment.tenant });
      const rate = this.slotRate(m.slot);
      const present = (s: ScenarioName) => s === m.scenario;
      // Counters of a new deployment: from 0, growing only while it runs.
      const from0 = (perSecond: number): ValueSpec => counter((s) => (present(s) ? perSecond : 0), { base: 0 });
      inferences.push({ labels, value: from0(rate), present });
      tokens.push({ labels, value: from0(rate * m.model.tokensPerInference), present });
      for (const error of inferenceErrors) {
        const share = error === "runtime_error" ? m.errors : error === "bad_request" ? m.clientErrors : 0;
        errors.push({ labels: sortedLabels({ ...base(m.slot), tenant: m.slot.deployment.tenant, error }), value: from0(rate * share), present });
      }
      latencyBuckets.forEach((bound, i) => latency.push({ labels: [...labels, ["le", String(bound)]], suffix: "_bucket", value: from0(rate * (m.model.latency[i] ?? 1)), present }));
      latency.push({ labels: [...labels, ["le", "+Inf"]], suffix: "_bucket", value: from0(rate), present });
      latency.push({ labels, suffix: "_sum", value: from0(rate * meanLatency(m.model.latency)), present });
      latency.push({ labels, suffix: "_count", value: from0(rate), present });
    }
    // A queue belongs to a model on a GPU, whichever tenants it serves.
    const queues = new Map<string, { labels: Record<string, string | undefined>; depth: number; model: string }>();
    for (const slot of slots) {
      const labels = base(slot);
      const key = JSON.stringify(labels);
      const depth = 1 + (slot.ordinal % 4);
      const q = queues.get(key);
      if (q) q.depth += depth;
      else queues.set(key, { labels, depth, model: slot.deployment.model.name });
    }
    const queue: SeriesSpec[] = [...queues.values()].map((q) => ({
      labels: sortedLabels(q.labels),
      value: gauge((s) => (s === "queue-spike" && q.model === h.queueModel ? this.settings.queueSpikeDepth : q.depth)),
    }));
    // Go's client writes families sorted by name.
    return [
      family("infermesh_inference_errors_total", errors),
      family("infermesh_inference_latency", latency),
      family("infermesh_inferences_total", inferences),
      family("infermesh_model_queue_depth", queue),
      family("infermesh_tokens_generated_total", tokens),
    ];
  }

  /** One Router's series: it carries 1/R of every deployment's traffic and reports gossip's view of every node. */
  private routerFamilies(): FamilySpec[] {
    const h = this.hit;
    const share = 1 / this.shape.routers;
    const requests: SeriesSpec[] = [];
    const rejected: SeriesSpec[] = [];
    const chosen: SeriesSpec[] = [];
    const hedged: SeriesSpec[] = [];
    const wins: SeriesSpec[] = [];
    const cancelled: SeriesSpec[] = [];
    for (const d of this.deployments) {
      const labels = { model: d.model.name, revision: d.revision, tenant: d.tenant };
      const slots = this.slots.filter((s) => s.deployment === d);
      const admitted = slots.reduce((sum, s) => sum + this.slotRate(s), 0) * share;
      const spike = (s: ScenarioName) => s === "rejection-spike" && d.model.name === h.rejectionModel;
      const ratio = (s: ScenarioName) => (spike(s) ? spikeRejectionRatio : healthyRejectionRatio);
      const total = (s: ScenarioName) => admitted / (1 - ratio(s));
      // A router build without the request counter, in `contract-metric-gone`.
      requests.push({ labels: sortedLabels(labels), value: counter(total), present: (s) => s !== "contract-metric-gone" });
      for (const reason of rejectionReasons) {
        const rate = (s: ScenarioName) => total(s) * ratio(s) * rejectionWeights[reason][spike(s) ? "spike" : "healthy"];
        rejected.push({ labels: sortedLabels({ ...labels, reason }), value: counter(rate) });
      }
      const nodes = [...new Set(slots.map((s) => s.node))];
      for (const node of nodes) {
        const weight = (excluded?: GpuNode) => {
          const serving = slots.filter((s) => s.node !== excluded);
          const all = serving.reduce((sum, s) => sum + this.slotRate(s), 0);
          const mine = serving.filter((s) => s.node === node).reduce((sum, s) => sum + this.slotRate(s), 0);
          return all === 0 ? 0 : mine / all;
        };
        const rate = (s: ScenarioName) => admitted * weight(s === "node-down" ? h.downNode : undefined);
        chosen.push({ labels: sortedLabels({ ...labels, target_node: node.name }), value: counter(rate) });
      }
      hedged.push({ labels: sortedLabels(labels), value: counter(() => admitted * hedgeShare) });
      wins.push({ labels: sortedLabels(labels), value: counter(() => admitted * hedgeShare * hedgeWinShare) });
      for (const reason of cancellationReasons) {
        const rate = admitted * cancellationShare[reason];
        cancelled.push({ labels: sortedLabels({ ...labels, reason }), value: counter(() => rate) });
      }
    }
    const healthy: SeriesSpec[] = [...this.gpuNodes, ...this.systemNodes].map((node) => ({
      labels: sortedLabels({ node: node.name, zone: node.zone }),
      value: gauge((s) => (s === "node-down" && node === h.downNode ? 0 : 1)),
    }));
    return [
      family("infermesh_node_healthy", healthy),
      family("infermesh_requests_rejected_total", rejected),
      family("infermesh_router_cancellations_total", cancelled),
      family("infermesh_router_hedge_wins_total", wins),
      family("infermesh_router_hedged_requests_total", hedged),
      family("infermesh_router_requests_total", requests),
      family("infermesh_router_target_chosen_total", chosen),
    ];
  }

  /**
   * kube-state-metrics' view of the fleet's nodes and pods: `kube_node_labels`
   * (`node`, then each allowlisted label the node has, as `label_<sanitized
   * key>`), allocatable resources, and each pod's phase and requests.
   */
  private kubeStateFamilies(targets: readonly FleetTarget[]): FamilySpec[] {
    const nodes = [...this.gpuNodes, ...this.systemNodes];
    const nodeLabels = nodes.map((node) => {
      const labels: Array<readonly [string, string]> = [["node", node.name]];
      for (const key of [...this.settings.nodeLabelAllowlist].sort()) {
        const value = node.labels[key];
        if (value !== undefined) labels.push([`label_${sanitizeLabelName(key)}`, value]);
      }
      return { labels, value: gauge(() => 1) };
    });

    const allocatable: SeriesSpec[] = [];
    const resource = (node: string, name: string, unit: string, value: number) =>
      allocatable.push({ labels: [["node", node], ["resource", name], ["unit", unit]], value: gauge(() => value) });
    for (const node of this.gpuNodes) {
      resource(node.name, "cpu", "core", 47.81);
      resource(node.name, "memory", "byte", 1_952_000_000_000);
      resource(node.name, "pods", "integer", 737);
      const gpus = node.entities.reduce((seen, e) => seen.add(e.uuid), new Set<string>()).size;
      if (node.pool.mig) resource(node.name, this.gpuResource(node.entities[0]), "integer", node.entities.length);
      else resource(node.name, "nvidia_com_gpu", "integer", gpus);
    }
    for (const node of this.systemNodes) {
      resource(node.name, "cpu", "core", 1.93);
      resource(node.name, "memory", "byte", 7_134_000_000);
      resource(node.name, "pods", "integer", 29);
    }

    const phases: SeriesSpec[] = [];
    const requests: SeriesSpec[] = [];
    const addPod = (pod: { namespace: string; name: string; uid: string; node?: string }, container: string, gpuResource: string | undefined, phase: (s: ScenarioName) => string, present?: (s: ScenarioName) => boolean) => {
      const at = present ? { present } : {};
      for (const p of ["Pending", "Running", "Succeeded", "Failed", "Unknown"]) {
        phases.push({ labels: [["namespace", pod.namespace], ["pod", pod.name], ["uid", pod.uid], ["phase", p]], value: gauge((s) => (phase(s) === p ? 1 : 0)), ...at });
      }
      const request = (name: string, unit: string, value: number) =>
        requests.push({
          labels: [["namespace", pod.namespace], ["pod", pod.name], ["uid", pod.uid], ["container", container], ...(pod.node ? [["node", pod.node] as const] : []), ["resource", name], ["unit", unit]],
          value: gauge(() => value),
          ...at,
        });
      request("cpu", "core", gpuResource ? 4 : 0.5);
      request("memory", "byte", gpuResource ? 34_359_738_368 : 536_870_912);
      if (gpuResource) request(gpuResource, "integer", 1);
    };
    for (const pod of this.runtimePods.values()) addPod(pod, "runtime", pod.gpuResource, () => "Running");
    const { idlePod, pendingPod } = this.hit;
    if (this.hit.idleGpu) addPod(idlePod, "runtime", idlePod.gpuResource, () => "Running", (s) => s === "gpu-idle");
    addPod(pendingPod, "runtime", pendingPod.gpuResource, () => "Pending", (s) => s === "gpu-pod-pending");
    for (const t of targets) addPod({ namespace: t.pod.namespace, name: t.pod.name, uid: podUid(t.pod.name), node: t.node.name }, t.pod.container, undefined, () => "Running");

    return [
      ksmFamily("kube_node_labels", "Kubernetes labels converted to Prometheus labels.", nodeLabels),
      ksmFamily("kube_node_status_allocatable", "The allocatable for different resources of a node that are available for scheduling.", allocatable),
      ksmFamily("kube_pod_container_resource_requests", "The number of requested request resource by a container.", requests),
      ksmFamily("kube_pod_status_phase", "The pods current phase.", phases),
    ];
  }
}

function dcgmKey(field: string, gpu: FixtureGpu): string {
  return `${field}/${gpu.uuid}/${gpu.mig?.instance ?? ""}`;
}

function uniqueDeployments(slots: readonly ServingSlot[]): Deployment[] {
  const seen = new Map<string, Deployment>();
  for (const { deployment: d } of slots) seen.set(`${d.model.name}/${d.revision}/${d.tenant}`, d);
  return [...seen.values()];
}

// ---------------------------------------------------------------------------
// Serving on loopback

export interface FleetEndpoint {
  target: FleetTarget;
  port: number;
  /** Scrape URL, e.g. `http://127.0.0.1:41234/metrics`. */
  url: string;
}

export interface ServedFleet {
  fleet: Fleet;
  endpoints: FleetEndpoint[];
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** First port; targets take consecutive ports from it. Default: a free port each. */
  portBase?: number;
}

const loopback = "127.0.0.1";

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, loopback, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Scrapers keep connections alive; close() alone would wait for them.
    server.closeAllConnections();
  });
}

/** Serves every target of `fleet` on its own 127.0.0.1 port, each at its metrics path. */
export async function serveFleet(fleet: Fleet, options: ServeOptions = {}): Promise<ServedFleet> {
  const { portBase } = options;
  if (portBase !== undefined && !(Number.isInteger(portBase) && portBase >= 1024 && portBase + fleet.targets.length <= 65535)) {
    throw new Error(`port base must be an integer from 1024 to ${65535 - fleet.targets.length}, got ${portBase}`);
  }
  const servers: Server[] = [];
  const endpoints: FleetEndpoint[] = [];
  try {
    for (const [i, target] of fleet.targets.entries()) {
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const path = new URL(req.url ?? "/", `http://${loopback}`).pathname;
        if (path !== target.path || (req.method !== "GET" && req.method !== "HEAD")) {
          res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
          return;
        }
        let result: { status: 200 | 503; body: string };
        try {
          result = fleet.scrape(target.id);
        } catch (error) {
          res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${String(error)}\n`);
          return;
        }
        const type = result.status === 200 ? expositionContentType : "text/plain; charset=utf-8";
        res.writeHead(result.status, { "content-type": type, "content-length": Buffer.byteLength(result.body) });
        res.end(req.method === "HEAD" ? undefined : result.body);
      });
      servers.push(server);
      const port = await listen(server, portBase === undefined ? 0 : portBase + i);
      endpoints.push({ target, port, url: `http://${loopback}:${port}${target.path}` });
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    fleet,
    endpoints,
    stop() {
      stopped ??= Promise.all(servers.map(closeServer)).then(() => undefined);
      return stopped;
    },
  };
}

/** The pods Kubernetes discovery would return for the served fleet (kube-state-metrics is scraped by its own static job). */
export function discoveredPods(served: ServedFleet): DiscoveredPod[] {
  return served.endpoints
    .filter((e) => e.target.kind !== "kube-state-metrics")
    .map(({ target, port }) => ({
      namespace: target.pod.namespace,
      name: target.pod.name,
      nodeName: target.node.name,
      zone: target.node.zone,
      labels: target.pod.labels,
      container: target.pod.container,
      portName: target.pod.portName,
      address: `${loopback}:${port}`,
    }));
}

/** Job name kube-prometheus-stack's kube-state-metrics ServiceMonitor gives its series. */
export const kubeStateMetricsJob = "kube-state-metrics";

/**
 * A static scrape job for the served kube-state-metrics, as kube-prometheus-stack
 * scrapes it: its own labels win (`node` on `kube_node_labels` is the node described).
 */
export function kubeStateMetricsScrapeConfig(served: ServedFleet, interval: string): Record<string, unknown> {
  const endpoint = served.endpoints.find((e) => e.target.kind === "kube-state-metrics");
  if (!endpoint) throw new Error("the fleet serves no kube-state-metrics");
  return {
    job_name: kubeStateMetricsJob,
    honor_labels: true,
    metrics_path: endpoint.target.path,
    scrape_interval: interval,
    static_configs: [
      {
        targets: [`${loopback}:${endpoint.port}`],
        labels: { namespace: endpoint.target.pod.namespace, pod: endpoint.target.pod.name, container: endpoint.target.pod.container, endpoint: endpoint.target.pod.portName },
      },
    ],
  };
}
