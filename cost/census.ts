/**
 * How many of each thing a fleet has that a metric is kept per: GPUs and MIG
 * instances, nodes, deployments of models (model, revision, tenant) and where
 * they run, Routers and what each routes. The series estimate
 * (cost/series.ts) multiplies these by the metric contract; this module only
 * counts.
 *
 * Two sources: a stack at a given size (its pools, models and system nodes,
 * with the planning assumptions below), and the synthetic fleet, whose
 * entities are counted as they are (sim/census.ts), which is what lets a test
 * hold the estimate against what a real Prometheus stores when it scrapes it.
 */
import type { StackConfig } from "../config";
import { gpuModels } from "../domain/gpuInstances";

export interface FleetCensus {
  zones: number;
  gpuNodes: number;
  /** Non-GPU nodes (system nodes; Routers run there). */
  systemNodes: number;
  /** Whole GPUs. */
  gpus: number;
  /** What dcgm-exporter reports a series for: whole GPUs, or each MIG instance of a split GPU. */
  gpuEntities: number;
  /** Of those, MIG instances (they report no whole-GPU-only fields). */
  migInstances: number;
  /** Agent/Adapter series keys: one deployment on one GPU (its MIG instances of one profile summed). */
  servingSlots: number;
  /** Queue-depth series keys: a serving slot without the tenant. */
  queueSlots: number;
  models: number;
  /** Distinct (model, revision). */
  modelRevisions: number;
  /** Distinct (model, revision, tenant). */
  deployments: number;
  routers: number;
  /** Distinct (deployment, zone) among serving slots: the grain of a per-model rate kept per zone. */
  servedDeploymentZones: number;
  /** Σ over deployments of the distinct zones of the Routers that route it. */
  routedDeploymentZones: number;
  /** Σ over deployments of the Routers that route it. */
  routedDeployments: number;
  /** Σ over deployments of (nodes serving it × Routers routing it). */
  routedTargets: number;
  /** Σ over nodes of the Routers whose gossip reports it. */
  gossipReports: number;
  /** Pods that hold (or wait for) a GPU. */
  gpuPods: number;
  /** Pods of the scraped exporters and infermesh components. */
  otherPods: number;
  /** Targets Prometheus scrapes (each adds its `up` and `scrape_*` series). */
  scrapeTargets: number;
}

/** Planning assumptions for a stack's fleet at a size: what the configuration does not say. */
export interface CensusAssumptions {
  /** Revisions of each model serving at once (2: a rollout in progress). */
  revisionsPerModel: number;
  /** Tenants each model revision serves. */
  tenantsPerDeployment: number;
  /** Routers per system node (Routers run on system nodes). */
  routersPerSystemNode: number;
}

export const defaultAssumptions: CensusAssumptions = { revisionsPerModel: 2, tenantsPerDeployment: 3, routersPerSystemNode: 1 };

export type SizePoint = "min" | "desired" | "max";

/**
 * The stack's fleet with every GPU pool (and the system node group) at
 * `size`: every GPU or MIG instance held by a pod, the stack's models (at
 * least one) spread over them, every Router routing every deployment and
 * gossiping about every node.
 */
export function censusOfStack(config: StackConfig, size: SizePoint, assumptions: CensusAssumptions = defaultAssumptions): FleetCensus {
  const zones = config.cluster.mode === "create" ? Object.keys(config.cluster.vpc.subnets).length : 2;
  let gpuNodes = 0;
  let gpus = 0;
  let gpuEntities = 0;
  let migInstances = 0;
  for (const pool of Object.values(config.gpuPools)) {
    const nodes = pool.scaling[size];
    const perGpu = pool.mig ? (gpuModels[pool.gpu].migProfiles[pool.mig.profile] ?? 1) : 1;
    gpuNodes += nodes;
    gpus += nodes * pool.gpusPerInstance;
    gpuEntities += nodes * pool.gpusPerInstance * perGpu;
    if (pool.mig) migInstances += nodes * pool.gpusPerInstance * perGpu;
  }
  const systemNodes = config.cluster.mode === "create" ? config.cluster.systemNodes.scaling[size] : 2;
  const routers = Math.max(1, systemNodes * assumptions.routersPerSystemNode);
  const models = Math.max(1, Object.keys(config.models).length);
  const modelRevisions = models * assumptions.revisionsPerModel;
  // No more deployments than GPU entities to hold them (none on an empty fleet).
  const deployments = Math.min(modelRevisions * assumptions.tenantsPerDeployment, gpuEntities);
  // Each entity serves one deployment; MIG instances of a GPU serving the same deployment share a slot, so this is an upper bound.
  const servingSlots = gpuEntities;
  const nodeDeploymentPairs = Math.min(servingSlots, deployments * gpuNodes);
  const targetsPerNode = 3; // dcgm-exporter, Agent, Adapter
  // Slots land in zones evenly: the expected distinct zones of a deployment with k slots is z(1 - (1 - 1/z)^k).
  const slotsPerDeployment = deployments === 0 ? 0 : servingSlots / deployments;
  const servedZones = zones * (1 - (1 - 1 / zones) ** slotsPerDeployment);
  return {
    zones,
    gpuNodes,
    systemNodes,
    gpus,
    gpuEntities,
    migInstances,
    servingSlots,
    queueSlots: Math.min(servingSlots, gpuEntities),
    models,
    modelRevisions: Math.min(modelRevisions, Math.max(deployments, 0)),
    deployments,
    routers,
    servedDeploymentZones: Math.round(deployments * servedZones),
    routedDeploymentZones: deployments * Math.min(zones, routers),
    routedDeployments: deployments * routers,
    routedTargets: nodeDeploymentPairs * routers,
    gossipReports: (gpuNodes + systemNodes) * routers,
    gpuPods: gpuEntities,
    otherPods: gpuNodes * targetsPerNode + routers + 1,
    scrapeTargets: gpuNodes * targetsPerNode + routers + 1,
  };
}
