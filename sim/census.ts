/**
 * The synthetic fleet's entities counted as the series estimate counts a
 * stack's (cost/census.ts): what lets a test hold the estimate against the
 * series a real Prometheus stores when it scrapes this fleet.
 */
import type { FleetCensus } from "../cost/census";
import type { FleetModel } from "./model";

/** The synthetic fleet's entities, counted as they are (healthy scenario: no scenario-only models, pods or nodes). */
export function censusOfFleet(fleet: FleetModel): FleetCensus {
  const entities = fleet.gpuNodes.flatMap((n) => n.entities);
  const distinct = (keys: Iterable<string>) => new Set(keys).size;
  const deployments = fleet.deployments;
  let routedDeployments = 0;
  let routedTargets = 0;
  let routedDeploymentZones = 0;
  deployments.forEach((d, index) => {
    const routers = fleet.routersOf(index);
    routedDeployments += routers.length;
    routedDeploymentZones += distinct(routers.map((r) => (fleet.systemNodes[r] as { zone: string }).zone));
    routedTargets += routers.length * distinct(fleet.slots.filter((s) => s.deployment === d).map((s) => s.node.name));
  });
  const nodes = [...fleet.gpuNodes, ...fleet.systemNodes];
  const gossipReports = nodes.reduce((sum, _, i) => sum + fleet.gossipOf(i).length, 0);
  const otherPods = fleet.targets.length;
  return {
    zones: fleet.settings.zones.length,
    gpuNodes: fleet.gpuNodes.length,
    systemNodes: fleet.systemNodes.length,
    gpus: distinct(entities.map((e) => e.uuid)),
    gpuEntities: entities.length,
    migInstances: entities.filter((e) => e.mig).length,
    servingSlots: fleet.slots.length,
    queueSlots: distinct(fleet.slots.map((s) => `${s.gpuUuid}/${s.migProfile ?? ""}/${s.deployment.model.name}/${s.deployment.revision}`)),
    models: distinct(deployments.map((d) => d.model.name)),
    modelRevisions: distinct(deployments.map((d) => `${d.model.name}/${d.revision}`)),
    deployments: deployments.length,
    routers: fleet.systemNodes.length,
    servedDeploymentZones: distinct(fleet.slots.map((s) => `${s.deployment.model.name}/${s.deployment.revision}/${s.deployment.tenant}/${s.node.zone}`)),
    routedDeploymentZones,
    routedDeployments,
    routedTargets,
    gossipReports,
    gpuPods: fleet.runtimePods.size + fleet.standingPending.length,
    otherPods,
    scrapeTargets: fleet.targets.length,
  };
}
