/**
 * A stack as the synthetic fleet (sim/) sees it: the settings its Helm values,
 * node groups and monitors imply, and the Prometheus scrape configuration its
 * PodMonitors render to, with Kubernetes discovery swapped for static pods,
 * from the components' pure plans and values (sim/ itself reads no config).
 */
import type { StackConfig } from "../config";
import { contractDcgmFields } from "../components/dcgmCounters";
import { dcgmExporterValues, dcgmRelease } from "../components/dcgmExporter.values";
import { gpuNodeLabels } from "../components/gpuPlacement";
import { scrapeConfig } from "../components/scrapeJobs";
import { telemetryPlan } from "../components/telemetry.plan";
import { monitoringNamespace } from "../domain/naming";
import { ksmNodeLabelAllowlist } from "../domain/scheduling";
import { withStaticDiscovery, type DiscoveredPod } from "../sim/discovery";
import type { FleetSettings } from "../sim/model";

/** The fleet settings a stack implies, from the same functions that render its node groups, Helm values and scrape jobs. */
export function fleetSettings(config: StackConfig): FleetSettings {
  const zones = config.cluster.mode === "create" ? Object.keys(config.cluster.vpc.subnets) : [`${config.region}a`, `${config.region}b`];
  const { infermesh, migStrategy } = config.telemetry;
  return {
    region: config.region,
    zones,
    pools: Object.values(config.gpuPools).map((pool) => ({
      name: pool.name,
      gpu: pool.gpu,
      gpusPerInstance: pool.gpusPerInstance,
      capacity: pool.capacity,
      ...(pool.mig ? { migProfile: pool.mig.profile } : {}),
      maxNodes: pool.scaling.max,
      nodeLabels: gpuNodeLabels(pool, migStrategy),
    })),
    models: Object.keys(config.models),
    queueDepthMax: (model) => config.models[model]?.queueDepthMax ?? config.alerting.thresholds.queueDepthMax,
    monitoringNamespace,
    dcgmRelease,
    dcgmFields: contractDcgmFields(),
    podLabelAllowlist: dcgmExporterValues({ scrapeIntervalSeconds: config.telemetry.scrapeIntervalSeconds, fields: [] }, "whole").kubernetes.podLabelAllowlistRegex,
    nodeLabelAllowlist: [...ksmNodeLabelAllowlist],
    infermesh: { namespaces: infermesh.namespaces, partOf: infermesh.partOf, port: infermesh.port, path: infermesh.path },
    migStrategy,
    slo: config.slo,
  };
}

/** The stack's scrape jobs as Prometheus `scrape_configs`, discovering `pods` statically, every `interval`. */
export function stackScrapeConfigs(config: StackConfig, pods: readonly DiscoveredPod[], interval: string): Array<Record<string, unknown>> {
  return telemetryPlan(config).jobs.map((job) => ({ ...withStaticDiscovery(scrapeConfig(job, monitoringNamespace), pods), scrape_interval: interval }));
}
