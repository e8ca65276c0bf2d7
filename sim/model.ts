/**
 * The synthetic infermesh fleet's entities, built from a stack's own
 * configuration: its GPU pools (instance GPUs, MIG layouts, capacity type,
 * the labels its node groups give their nodes), its models, its namespaces
 * and exporters' settings. GPU nodes, the models, revisions and tenants they
 * serve, the pods holding each GPU or MIG instance, and every process
 * Prometheus scrapes there (dcgm-exporter per GPU node, an infermesh Agent
 * and Adapter per GPU node, Routers, kube-state-metrics).
 *
 * Scaled down for verify (a few nodes, each pool kept under its maximum so
 * the healthy fleet raises no pool-at-max alert) and up for the bench
 * (hundreds of nodes, routers sharded by deployment). Nothing is random: the
 * same stack and shape give the same fleet and names.
 */
import type { GpuModel } from "../domain/gpuInstances";
import { gpuModels } from "../domain/gpuInstances";
import { latencyBucketBoundsMs } from "../monitoring/metrics";
import { errorBudget, objectivesFor, type SloSpec } from "../monitoring/slo";
import { placementSuffix } from "../components/gpuPlacement";
import { sanitizeLabelName } from "../lib/labelName";
import { digest, ec2Name, gpuUuid, podUid, suffix } from "./names";
import type { ScenarioName } from "./scenarios";
import type { Wave } from "./values";

// ---------------------------------------------------------------------------
// Settings and shape

export interface FleetShape {
  /** GPU nodes, spread over the stack's pools in turn. */
  nodes: number;
  /** GPUs per node, at most the pool's instance type has. */
  gpusPerNode: number;
  /** Routers, each on its own system node. */
  routers: number;
  /** Models served: the stack's own, then models of a fixed catalogue (then `model-NN`) up to this many. */
  models: number;
  /** Routers that route a given deployment (routers sharded by deployment); default every router. */
  routersPerDeployment?: number;
  /** Routers whose gossip reports each node's health; default every router. */
  gossipPeers?: number;
  /** Every `idleEvery`-th GPU (or MIG instance) held by a pod is barely used (the bench: what the idle-GPU panels look for); default none. */
  idleEvery?: number;
  /** GPU pods that stay Pending throughout (the bench); default none (verify's pending pod comes with its scenario). */
  pendingPods?: number;
  /** Traffic over the day (the bench): every deployment's rates and GPU load swing by `amplitude` over `periodSeconds`, each in its own phase. */
  traffic?: { amplitude: number; periodSeconds: number };
  /**
   * Keep every pool under its maximum size (so the healthy fleet raises no
   * pool-at-max alert): a pool takes at most `max - 1` nodes. Default true;
   * the bench turns it off to scale past the stack's real sizes.
   */
  belowPoolMax?: boolean;
}

export const defaultShape: FleetShape = { nodes: 4, gpusPerNode: 2, routers: 2, models: 4 };

/** A GPU pool of the stack, as the fleet needs it. */
export interface PoolSettings {
  name: string;
  gpu: GpuModel;
  gpusPerInstance: number;
  capacity: "spot" | "on-demand";
  /** The uniform MIG profile every GPU of the pool is split into. */
  migProfile?: string;
  /** The pool's maximum size (nodes): the pool-at-max alert's threshold. */
  maxNodes: number;
  /** The Kubernetes labels the pool's node group gives its nodes. */
  nodeLabels: Readonly<Record<string, string>>;
}

/** What the fleet takes from the stack: pools, models, where pods run, how they are labelled, what is allowlisted. */
export interface FleetSettings {
  region: string;
  zones: readonly string[];
  pools: readonly PoolSettings[];
  /** The models the stack configures (`infermesh:models`), in its order. */
  models: readonly string[];
  /** Each model's queue-depth alert limit (the stack's override or its default). */
  queueDepthMax: (model: string) => number;
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
  /** How the device plugin advertises MIG instances: `nvidia.com/mig-<profile>` (mixed) or `nvidia.com/gpu`. */
  migStrategy: "none" | "single" | "mixed";
  /** The stack's SLOs: the scenario models burn against their objectives. */
  slo: SloSpec;
}

/** The model the seed's examples name; queue and latency scenarios hit it when the fleet serves it. */
const seedModel = "gpt-7b";

// ---------------------------------------------------------------------------
// GPUs and models

/** dcgm-exporter's `modelName` (the driver's product name), framebuffer (MiB) and power range (W) of a whole GPU. */
const gpuFacts: Readonly<Record<GpuModel, { productName: string; fbTotalMiB: number; power: { idle: number; max: number } }>> = {
  T4: { productName: "Tesla T4", fbTotalMiB: 15360, power: { idle: 10, max: 70 } },
  T4G: { productName: "NVIDIA T4G", fbTotalMiB: 15360, power: { idle: 10, max: 70 } },
  A10G: { productName: "NVIDIA A10G", fbTotalMiB: 23028, power: { idle: 18, max: 300 } },
  L4: { productName: "NVIDIA L4", fbTotalMiB: 23034, power: { idle: 16, max: 72 } },
  L40S: { productName: "NVIDIA L40S", fbTotalMiB: 46068, power: { idle: 35, max: 350 } },
  "A100-40GB": { productName: "NVIDIA A100-SXM4-40GB", fbTotalMiB: 40960, power: { idle: 50, max: 400 } },
  "A100-80GB": { productName: "NVIDIA A100-SXM4-80GB", fbTotalMiB: 81920, power: { idle: 60, max: 400 } },
  "H100-80GB": { productName: "NVIDIA H100 80GB HBM3", fbTotalMiB: 81559, power: { idle: 70, max: 700 } },
  "H200-141GB": { productName: "NVIDIA H200", fbTotalMiB: 143771, power: { idle: 75, max: 700 } },
};

/** Framebuffer of one MIG instance: its profile's memory (`3g.40gb` → 40 GB) less what the driver reserves (1g.10gb shows 9856 MiB). */
function migFbTotalMiB(profile: string): number {
  const gb = Number(/\.(\d+)gb/.exec(profile)?.[1] ?? 0);
  return Math.round(gb * 1024 * 0.9625);
}

/** Latency histogram bounds (ms) the Agents and Adapters use: the metric contract's. */
export const latencyBuckets = latencyBucketBoundsMs;

/** Share of observations at or below each bound of `latencyBuckets` (the +Inf bucket is 1), in bound order. */
export type LatencyProfile = readonly number[];

/** A profile from shares at some bounds: a bound takes the share of the nearest listed bound at or below it (0 below the first). */
function latencyProfile(shares: Readonly<Record<number, number>>): LatencyProfile {
  const listed = Object.keys(shares)
    .map(Number)
    .sort((a, b) => a - b);
  return latencyBuckets.map((bound) => {
    const at = listed.filter((b) => b <= bound).pop();
    return at === undefined ? 0 : (shares[at] as number);
  });
}

export const llmLatency = latencyProfile({ 25: 0.01, 50: 0.04, 100: 0.15, 250: 0.45, 500: 0.8, 1000: 0.985, 2000: 0.996, 2500: 0.998, 5000: 1 });
const embeddingLatency = latencyProfile({ 25: 0.35, 50: 0.75, 100: 0.96, 250: 0.995, 500: 1 });
/** 10-30 s for 92% of requests: p95 lands in the (10000, 30000] bucket. */
export const breachLatency = latencyProfile({ 100: 0.01, 250: 0.02, 500: 0.03, 1000: 0.04, 2000: 0.045, 2500: 0.05, 5000: 0.06, 10000: 0.08, 30000: 1 });
/** 50-100 ms, except a share `slow` in the bucket just over `targetMs`. */
export const slowShareLatency = (targetMs: number, slow: number): LatencyProfile => latencyBuckets.map((bound) => (bound < 100 ? 0 : bound <= targetMs ? 1 - slow : 1));

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

/** Models the fleet knows how to serve by name; a stack's other models, and fillers, get a generic LLM profile. */
const catalogue: readonly ModelSpec[] = [
  { name: "gpt-7b", revisions: ["r3", "r4"], quant: "fp16", runtime: "vllm", reporter: "agent", qps: 14, tokensPerInference: 180, latency: llmLatency },
  { name: "llama-70b", revisions: ["r1"], quant: "fp8", runtime: "tensorrt-llm", reporter: "agent", qps: 5, tokensPerInference: 240, latency: llmLatency },
  { name: "mistral-7b", revisions: ["r2"], quant: "awq-int4", runtime: "tgi", reporter: "adapter", qps: 9, tokensPerInference: 150, latency: llmLatency },
  { name: "bge-large", revisions: ["r1"], quant: "fp16", runtime: "triton", reporter: "adapter", qps: 40, tokensPerInference: 0, latency: embeddingLatency },
];

function genericModel(name: string, n: number): ModelSpec {
  const runtimes = [
    ["vllm", "agent"],
    ["tgi", "adapter"],
    ["sglang", "agent"],
    ["triton", "adapter"],
  ] as const;
  const [runtime, reporter] = runtimes[n % runtimes.length] as (typeof runtimes)[number];
  return {
    name,
    revisions: ["r1", "r2", "r3"],
    quant: ["fp16", "fp8", "int4"][n % 3] as string,
    runtime,
    reporter,
    qps: 6 + (n % 5) * 3,
    tokensPerInference: 120 + (n % 4) * 40,
    latency: llmLatency,
  };
}

/** The models served: the stack's, then the catalogue's, then `model-NN`, until there are `count` (at least the stack's). */
function fleetModels(stackModels: readonly string[], count: number): ModelSpec[] {
  const names = [...stackModels];
  for (const m of catalogue) if (names.length < count && !names.includes(m.name)) names.push(m.name);
  for (let n = 0; names.length < count; n++) if (!names.includes(`model-${String(n).padStart(2, "0")}`)) names.push(`model-${String(n).padStart(2, "0")}`);
  return names.map((name, n) => catalogue.find((m) => m.name === name) ?? genericModel(name, n));
}

export const tenants = ["acme", "globex", "initech"] as const;

// ---------------------------------------------------------------------------
// Entities

export interface PoolSpec extends PoolSettings {
  /** dcgm-exporter's `modelName`. */
  productName: string;
  /** Framebuffer of a whole GPU, or of one MIG instance, in MiB. */
  fbTotalMiB: number;
  mig?: { profile: string; instances: number };
  power: { idle: number; max: number };
}

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
  /** Holds its GPU but serves almost nothing (`FleetShape.idleEvery`). */
  idle?: boolean;
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
  /** `ip:port` of the pod in the cluster: the scrape address when no loopback server stands in for it (the backfill). */
  address: string;
}

/**
 * A model deployed only while its scenario plays: its whole history in
 * Prometheus is the burn, so every SLO window sees the same error ratio
 * however long the verification has been running (the windows' timing is
 * what the promtool cases prove).
 */
export interface ScenarioModel {
  scenario: ScenarioName;
  model: ModelSpec;
  /** Share of inferences failing with `runtime_error` (counted against availability). */
  errors: number;
  /** Share failing with `bad_request` (not counted). */
  clientErrors: number;
  slot: ServingSlot;
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
  /** Queue depth of `queueModel` in `queue-spike`: over its alert limit. */
  queueSpikeDepth: number;
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
  /** The pool that scales to its maximum in `pool-at-max-size`, and the nodes it gains. */
  maxedPool: { pool: PoolSpec; nodes: GpuNode[] };
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

/** Ports the pods listen on, for their in-cluster addresses. */
const ports: Record<TargetKind, number> = { "dcgm-exporter": 9400, agent: 9090, adapter: 9091, router: 9090, "kube-state-metrics": 8080 };

function poolSpec(p: PoolSettings): PoolSpec {
  const facts = gpuFacts[p.gpu];
  const instances = p.migProfile === undefined ? undefined : gpuModels[p.gpu].migProfiles[p.migProfile];
  if (p.migProfile !== undefined && instances === undefined) throw new Error(`pool ${p.name}: ${p.gpu} has no MIG profile ${p.migProfile}`);
  return {
    ...p,
    productName: facts.productName,
    fbTotalMiB: p.migProfile === undefined ? facts.fbTotalMiB : migFbTotalMiB(p.migProfile),
    ...(p.migProfile !== undefined ? { mig: { profile: p.migProfile, instances: instances as number } } : {}),
    power: facts.power,
  };
}

/** The fleet's entities: nodes, GPUs, pods, deployments and scrape targets. Values live in the exporters (sim/exporters). */
export class FleetModel {
  readonly shape: FleetShape;
  readonly settings: FleetSettings;
  readonly pools: PoolSpec[];
  readonly models: ModelSpec[];
  readonly gpuNodes: GpuNode[];
  readonly systemNodes: FleetNode[];
  readonly slots: ServingSlot[];
  readonly deployments: Deployment[];
  readonly hit: ScenarioTargets;
  readonly targets: FleetTarget[];
  /** Pods holding GPUs (one per whole GPU or MIG instance), in entity order. */
  readonly runtimePods = new Map<GpuEntity, RuntimePod>();
  /** The models the SLO scenarios deploy, on the first GPU node (reported by its Agent). */
  readonly scenarioModels: ScenarioModel[];
  /** GPU pods Pending throughout (`FleetShape.pendingPods`). */
  readonly standingPending: RuntimePod[];

  constructor(settings: FleetSettings, shape: Partial<FleetShape> = {}) {
    this.shape = { ...defaultShape, ...shape };
    const { nodes, gpusPerNode, routers, models } = this.shape;
    const integer = (key: string, value: number, max: number) => {
      if (!(Number.isInteger(value) && value >= 1 && value <= max)) throw new Error(`${key} must be an integer from 1 to ${max}, got ${value}`);
    };
    integer("nodes", nodes, 1024);
    integer("gpusPerNode", gpusPerNode, 8);
    integer("routers", routers, 64);
    integer("models", models, 512);
    if (settings.zones.length === 0) throw new Error("the fleet needs at least one zone");
    if (settings.pools.length === 0) throw new Error("the fleet needs at least one GPU pool");
    this.settings = settings;
    this.pools = settings.pools.map(poolSpec);
    this.models = fleetModels(settings.models, models);

    this.gpuNodes = this.buildGpuNodes();
    if (this.gpuNodes.length === 0) throw new Error(`no pool of ${this.pools.map((p) => `${p.name} (max ${p.maxNodes})`).join(", ")} can take a node below its maximum size`);
    this.systemNodes = Array.from({ length: routers }, (_, j) => this.systemNode(j));
    this.attachPods();
    this.slots = this.buildSlots();
    this.deployments = uniqueDeployments(this.slots);
    this.hit = this.chooseTargets();
    this.scenarioModels = this.buildScenarioModels(this.gpuNodes[0] as GpuNode);
    this.standingPending = Array.from({ length: this.shape.pendingPods ?? 0 }, (_, i) =>
      this.runtimePod(this.deploymentFor(this.models[i % this.models.length] as ModelSpec, i), `pending/${i}`),
    );
    this.targets = this.buildTargets();
  }

  target(kind: TargetKind, node?: FleetNode): FleetTarget {
    const found = this.targets.find((t) => t.kind === kind && (node === undefined || t.node.name === node.name));
    if (!found) throw new Error(`no ${kind} target${node ? ` on ${node.name}` : ""}`);
    return found;
  }

  /** The traffic wave of a deployment (undefined without `shape.traffic`): its phase is a hash of the deployment, so Agents, Routers and GPUs serving it move together. */
  wave(d: Deployment | undefined): Wave | undefined {
    const traffic = this.shape.traffic;
    if (!traffic || !d) return undefined;
    const phase = (parseInt(digest(`${d.model.name}/${d.revision}/${d.tenant}`).slice(0, 8), 16) / 0xffffffff) * 2 * Math.PI;
    return { amplitude: traffic.amplitude, period: traffic.periodSeconds, phase };
  }

  /** Inferences per second of a slot. */
  slotRate(slot: ServingSlot): number {
    return slot.deployment.model.qps * slot.capacity * (slot.deployment.idle ? 0.01 : 1);
  }

  /** Pod labels dcgm-exporter copies onto a GPU's series: those its allowlist passes. */
  allowlisted(labels: Record<string, string>): Record<string, string> {
    const allow = this.settings.podLabelAllowlist.map((r) => new RegExp(r));
    return Object.fromEntries(Object.entries(labels).filter(([key]) => allow.some((r) => r.test(key))));
  }

  /** The GPU resource a pod on `entity` requests, as kube-state-metrics names it. */
  gpuResource(entity?: GpuEntity): string {
    return entity?.mig && this.settings.migStrategy === "mixed" ? `nvidia_com_mig_${sanitizeLabelName(entity.mig.profile)}` : "nvidia_com_gpu";
  }

  /** Routers that route deployment `index` (of `deployments`): `routersPerDeployment` of them, spread evenly. */
  routersOf(index: number): number[] {
    const { routers } = this.shape;
    const per = Math.min(this.shape.routersPerDeployment ?? routers, routers);
    const stride = Math.max(1, Math.floor(routers / per));
    return [...new Set(Array.from({ length: per }, (_, k) => (index + k * stride) % routers))];
  }

  /** Routers whose gossip reports node `index` (GPU nodes first, then system nodes). */
  gossipOf(index: number): number[] {
    const { routers } = this.shape;
    const peers = Math.min(this.shape.gossipPeers ?? routers, routers);
    const stride = Math.max(1, Math.floor(routers / peers));
    return [...new Set(Array.from({ length: peers }, (_, k) => (index + k * stride) % routers))];
  }

  // --- construction -------------------------------------------------------

  private systemNode(j: number): FleetNode {
    const zoneIndex = j % this.settings.zones.length;
    const zone = this.settings.zones[zoneIndex] as string;
    return {
      name: ec2Name(this.settings.region, [10, 0, zoneIndex * 32 + 2 + Math.floor(j / 50), 200 + (j % 50)]),
      zone,
      role: "system",
      labels: { "infermesh.io/node-class": "system", "topology.kubernetes.io/zone": zone },
    };
  }

  private nodeName(i: number, zoneIndex: number): string {
    return ec2Name(this.settings.region, [10, Math.floor(i / 200), zoneIndex * 32 + 1 + Math.floor((i % 200) / 100), 20 + (i % 100)]);
  }

  /** A GPU node of `pool`; its labels are the pool's node labels, plus the zone and hostname Kubernetes sets. */
  gpuNodeOf(pool: PoolSpec, i: number): GpuNode {
    const zoneIndex = i % this.settings.zones.length;
    const zone = this.settings.zones[zoneIndex] as string;
    const name = this.nodeName(i, zoneIndex);
    const labels: Record<string, string> = { ...pool.nodeLabels, "topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": name };
    return { name, zone, labels, role: "gpu", index: i, pool, hostnameLabel: i % 2 === 0 ? "Hostname" : "hostname", entities: [] };
  }

  private buildGpuNodes(): GpuNode[] {
    const { nodes: wanted, gpusPerNode, belowPoolMax = true, idleEvery } = this.shape;
    const room = (p: PoolSpec) => (belowPoolMax ? p.maxNodes - 1 : Infinity);
    const perPool = new Map<PoolSpec, number>();
    const placed: PoolSpec[] = [];
    // Pools in turn, each only while it stays below its maximum.
    for (let turn = 0; placed.length < wanted; turn++) {
      const open = this.pools.filter((p) => (perPool.get(p) ?? 0) < room(p));
      if (open.length === 0) break;
      const pool = this.pools[turn % this.pools.length] as PoolSpec;
      if ((perPool.get(pool) ?? 0) >= room(pool)) continue;
      perPool.set(pool, (perPool.get(pool) ?? 0) + 1);
      placed.push(pool);
    }
    const nodes: GpuNode[] = [];
    let ordinal = 0;
    let held = 0;
    const gpusOf = (pool: PoolSpec) => Math.min(gpusPerNode, pool.gpusPerInstance);
    // One whole GPU idles: the last of the last node with more than one (a node's only GPU stays busy).
    const idleNode = placed.map((p, i) => (!p.mig && gpusOf(p) > 1 ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    placed.forEach((pool, i) => {
      const node = this.gpuNodeOf(pool, i);
      const gpus = gpusOf(pool);
      for (let g = 0; g < gpus; g++) {
        const uuid = gpuUuid(`${node.name}/${g}`);
        const mig = pool.mig;
        // MIG instance ids of a uniform 1g layout start at 7, as nvidia-smi numbers them.
        const instances = mig ? Array.from({ length: mig.instances }, (_, k) => ({ profile: mig.profile, instance: 7 + k })) : [undefined];
        instances.forEach((instance, k) => {
          // MIG: the last instance of a node's last GPU idles (when the GPU has several).
          const idle = instance ? g === gpus - 1 && k === instances.length - 1 && instances.length > 1 : i === idleNode && g === gpus - 1;
          const entity: GpuEntity = {
            node: node.name,
            index: g,
            uuid,
            modelName: pool.productName,
            ordinal: ordinal++,
            fbTotalMiB: pool.fbTotalMiB,
            ...(instance ? { mig: instance } : {}),
          };
          if (!idle) {
            const barelyUsed = idleEvery !== undefined && held % idleEvery === idleEvery - 1;
            entity.deployment = this.deploymentFor(this.models[held++ % this.models.length] as ModelSpec, entity.ordinal, barelyUsed);
          }
          node.entities.push(entity);
        });
      }
      nodes.push(node);
    });
    return nodes;
  }

  private deploymentFor(model: ModelSpec, ordinal: number, idle = false): Deployment {
    return { model, revision: model.revisions[ordinal % model.revisions.length] as string, tenant: tenants[ordinal % tenants.length] as string, ...(idle ? { idle } : {}) };
  }

  private infermeshNamespace(): string {
    return this.settings.infermesh.namespaces[0] ?? "serving";
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
    const anyHeld = this.gpuNodes.flatMap((n) => n.entities.filter((e) => e.deployment));
    const pick = (list: GpuEntity[], i: number): GpuEntity => list[Math.min(i, list.length - 1)] ?? anyHeld[0] ?? (this.gpuNodes[0]?.entities[0] as GpuEntity);
    // Distinct served models for the model scenarios, the seed's first when served.
    const served = [...new Set(this.slots.map((s) => s.deployment.model.name))];
    const ordered = served.includes(seedModel) ? [seedModel, ...served.filter((m) => m !== seedModel)] : served;
    const nth = (i: number) => ordered[i % ordered.length] as string;
    const last = this.gpuNodes[this.gpuNodes.length - 1] as GpuNode;
    const first = this.gpuNodes[0] as GpuNode;
    const idle = this.gpuNodes.flatMap((n) => n.entities.filter((e) => !e.deployment));
    const idleGpu = idle.find((e) => !e.mig) ?? idle[0];
    const idleModel = this.models[this.models.length - 1] as ModelSpec;
    const pendingModel = this.models[Math.min(1, this.models.length - 1)] as ModelSpec;
    // The pool nearest its maximum scales out to it (new nodes after every existing index).
    const counts = new Map(this.pools.map((p) => [p, this.gpuNodes.filter((n) => n.pool === p).length]));
    const maxed = [...this.pools].sort((a, b) => a.maxNodes - (counts.get(a) ?? 0) - (b.maxNodes - (counts.get(b) ?? 0)))[0] as PoolSpec;
    const newNodes = Array.from({ length: Math.max(0, maxed.maxNodes - (counts.get(maxed) ?? 0)) }, (_, k) => this.gpuNodeOf(maxed, this.gpuNodes.length + k));
    return {
      ...(idleGpu ? { idleGpu } : {}),
      idlePod: this.runtimePod({ model: idleModel, revision: idleModel.revisions[0] as string, tenant: "globex" }, "idle", idleGpu),
      pendingPod: this.runtimePod({ model: pendingModel, revision: pendingModel.revisions[0] as string, tenant: "initech" }, "pending"),
      vramGpu: pick(held, 0),
      eccGpu: pick(held, 1),
      thermalGpu: pick(held, held.length - 1),
      downNode: last,
      dcgmGoneNode: this.gpuNodes.find((n) => n.pool.mig) ?? last,
      agentGoneNode: first,
      queueModel: nth(0),
      queueSpikeDepth: Math.max(250, Math.ceil(this.settings.queueDepthMax(nth(0)) * 2)),
      latencyModel: nth(0),
      rejectionModel: nth(1),
      errorModel: nth(2),
      sloSlowModel: "qwen-14b",
      sloFastModel: "phi-3-mini",
      maxedPool: { pool: maxed, nodes: newNodes },
    };
  }

  /** The models the SLO scenarios deploy, burning against the stack's objectives for them, on a whole GPU of `node`. */
  private buildScenarioModels(node: GpuNode): ScenarioModel[] {
    const h = this.hit;
    const spec = (name: string): ModelSpec => ({
      name,
      revisions: ["r1"],
      quant: "fp16",
      runtime: "vllm",
      reporter: "agent",
      qps: 20,
      tokensPerInference: 120,
      latency: llmLatency,
    });
    const budgets = (name: string) => {
      const o = objectivesFor(this.settings.slo, name);
      return { availability: errorBudget(o.availabilityPercent), latency: errorBudget(o.latencyPercent), targetMs: o.latencyTargetMs };
    };
    const slow = budgets(h.sloSlowModel);
    const fast = budgets(h.sloFastModel);
    const models: Array<Omit<ScenarioModel, "slot">> = [
      // 4x: over both ticket factors (3 and 1), under both page factors (6 and 14.4).
      {
        scenario: "slo-slow-burn",
        model: { ...spec(h.sloSlowModel), latency: slowShareLatency(slow.targetMs, 4 * slow.latency) },
        errors: 4 * slow.availability,
        clientErrors: 0.005,
      },
      {
        scenario: "slo-fast-burn",
        model: { ...spec(h.sloFastModel), latency: slowShareLatency(fast.targetMs, 1) },
        errors: Math.min(0.9, 50 * fast.availability),
        clientErrors: 0,
      },
    ];
    const entity = node.entities.find((e) => !e.mig) ?? (node.entities[0] as GpuEntity);
    return models.map((m, i) => ({
      ...m,
      slot: {
        node,
        gpuUuid: entity.uuid,
        ...(entity.mig ? { migProfile: entity.mig.profile } : {}),
        deployment: { model: m.model, revision: "r1", tenant: "acme" },
        capacity: 1,
        ordinal: 1000 + i,
      },
    }));
  }

  /** A pod address on `node`'s subnet: stable, distinct per target. */
  private address(kind: TargetKind, nodeIndex: number, role: "gpu" | "system"): string {
    const n = nodeIndex + (role === "system" ? 4096 : 0);
    const k = ["dcgm-exporter", "agent", "adapter", "router", "kube-state-metrics"].indexOf(kind);
    return `10.${100 + Math.floor(n / 256)}.${n % 256}.${10 + k}:${ports[kind]}`;
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
      targets.push({
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
        address: this.address("dcgm-exporter", node.index, "gpu"),
      });
      for (const component of ["agent", "adapter"] as const) {
        targets.push({
          id: `${component}/${node.name}`,
          kind: component,
          node,
          pod: infermeshPod(component, `infermesh-${component}-${suffix(`${component}/${node.name}`, 5)}`),
          path: infermesh.path,
          address: this.address(component, node.index, "gpu"),
        });
      }
    }
    const routerHash = suffix("router", 10);
    this.systemNodes.forEach((node, r) => {
      targets.push({
        id: `router/${r}`,
        kind: "router",
        node,
        pod: infermeshPod("router", `infermesh-router-${routerHash}-${suffix(`router/${r}`, 5)}`),
        path: infermesh.path,
        address: this.address("router", r, "system"),
      });
    });
    targets.push({
      id: "kube-state-metrics",
      kind: "kube-state-metrics",
      node: this.systemNodes[0] as FleetNode,
      pod: {
        namespace: this.settings.monitoringNamespace,
        name: `kube-state-metrics-${suffix("ksm", 10)}-${suffix("ksm/pod", 5)}`,
        labels: { "app.kubernetes.io/name": "kube-state-metrics" },
        container: "kube-state-metrics",
        portName: "http",
      },
      path: "/metrics",
      address: this.address("kube-state-metrics", 0, "system"),
    });
    return targets;
  }
}

function uniqueDeployments(slots: readonly ServingSlot[]): Deployment[] {
  const seen = new Map<string, Deployment>();
  for (const { deployment: d } of slots) seen.set(`${d.model.name}/${d.revision}/${d.tenant}`, d);
  return [...seen.values()];
}

export interface FixtureGpu {
  /** Kubernetes node name; dcgm-exporter's Hostname label (the chart sets NODE_NAME from spec.nodeName). */
  node: string;
  index: number;
  /** Whole-GPU UUID (`GPU-…`); MIG instances carry their parent's UUID. */
  uuid: string;
  modelName: string;
  mig?: { profile: string; instance: number };
  /** The pod holding this GPU or MIG instance, as the kubelet pod-resources API reports it. */
  pod?: { namespace: string; pod: string; container: string; labels?: Record<string, string> };
}

export interface DcgmField {
  name: string;
  type: "gauge" | "counter";
  help: string;
}
