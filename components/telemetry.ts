import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "./cluster";
import { devicePluginNamespace, monitoringNamespace } from "../domain/naming";
import type { StackConfig } from "../config";
import { DcgmExporter } from "./dcgmExporter";
import { DevicePlugin } from "./devicePlugin";
import { agentPlacements } from "./gpuPlacement";
import { MigManager } from "./migManager";
import { PrometheusStack, type PrometheusStackArgs } from "./prometheusStack";
import { monitorSelectorLabels } from "./prometheusStack.values";
import { goesWith, type NamespaceRef, type Teardown } from "./options";
import { ScrapeTargets } from "./scrapeTargets";
import { telemetryPlan } from "./telemetry.plan";

export interface TelemetryArgs {
  config: Pick<StackConfig, "stack" | "environment" | "region" | "telemetry" | "gpuPools" | "policy" | "alerting">;
  cluster: Cluster;
  /**
   * The GPU node groups the DaemonSets run on: they are installed after the
   * groups exist and removed before the groups are destroyed.
   */
  gpuNodeGroups: pulumi.Resource[];
  /** AMP active-series limits per label set (cost/estimate.ts `ampSeriesLimits`). */
  ampSeriesLimits?: PrometheusStackArgs["ampSeriesLimits"];
  /** Everything here but the Prometheus release (and its volume) goes with the cluster. */
  teardown: Teardown;
}

/** GPU agents (device plugin, DCGM exporter), Prometheus and the scrape targets, in the cluster. */
export class Telemetry extends pulumi.ComponentResource {
  static readonly type = "infermesh:monitoring:Telemetry";
  readonly prometheus: PrometheusStack;
  readonly monitoringNamespace: NamespaceRef;

  constructor(name: string, args: TelemetryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Telemetry.type, name, {}, opts);
    const { config, cluster } = args;
    const plan = telemetryPlan(config);
    // Objects that hold nothing outside the cluster: a whole-cluster teardown need not delete them one by one.
    const inClusterOnly = { parent: this, ...goesWith(args.teardown.cluster) };
    const after = { ...inClusterOnly, dependsOn: cluster.workloadDependencies };
    const gpuAgentDeps = [...cluster.workloadDependencies, ...args.gpuNodeGroups];

    const monitoring = new k8s.core.v1.Namespace(`${name}-monitoring`, { metadata: { name: monitoringNamespace } }, after);
    this.monitoringNamespace = { name: monitoringNamespace, output: monitoring.metadata.name };
    const gpuSystem = new k8s.core.v1.Namespace(`${name}-device-plugin`, { metadata: { name: devicePluginNamespace } }, after);

    const pools = Object.values(config.gpuPools);
    const placements = agentPlacements(pools);
    new DevicePlugin(
      `${name}-device-plugin`,
      { namespace: gpuSystem.metadata.name, migStrategy: config.telemetry.migStrategy, placements, dependsOn: gpuAgentDeps },
      inClusterOnly,
    );
    const migPools = pools.filter((p) => p.mig);
    if (migPools.length > 0) {
      new MigManager(`${name}-mig`, { pools: migPools, strategy: config.telemetry.migStrategy, dependsOn: gpuAgentDeps }, inClusterOnly);
    }
    new DcgmExporter(
      `${name}-dcgm`,
      {
        namespace: monitoring.metadata.name,
        scrapeIntervalSeconds: config.telemetry.scrapeIntervalSeconds,
        fields: plan.counterFields,
        placements,
        dependsOn: gpuAgentDeps,
      },
      inClusterOnly,
    );
    this.prometheus = new PrometheusStack(
      `${name}-prometheus`,
      {
        namespace: this.monitoringNamespace,
        telemetry: config.telemetry,
        region: config.region,
        clusterName: cluster.name,
        environment: config.environment,
        stack: config.stack,
        oidcProviderArn: cluster.oidcProviderArn,
        oidcIssuer: cluster.oidcIssuer,
        retainVolumes: config.policy.retainVolumes,
        ...(args.ampSeriesLimits ? { ampSeriesLimits: args.ampSeriesLimits } : {}),
        alertmanagerFromSecret: config.alerting.evaluator === "prometheus" && config.telemetry.backend === "in-cluster",
        protect: config.policy.protectStateful,
        dependsOn: cluster.workloadDependencies,
        teardown: args.teardown,
      },
      { parent: this },
    );
    new ScrapeTargets(
      `${name}-scrape`,
      { namespace: monitoringNamespace, jobs: plan.jobs, selectorLabels: monitorSelectorLabels, dependsOn: [this.prometheus.release] },
      inClusterOnly,
    );
    this.registerOutputs({ prometheusUrl: this.prometheus.url });
  }
}
