import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import type { StackConfig } from "./components/config";
import { GpuNodeGroup } from "./components/gpuNodeGroup";
import { Telemetry } from "./components/telemetry";

/** What a stack exports. */
export interface StackOutputs {
  region: string;
  clusterName: pulumi.Output<string>;
  clusterEndpoint: pulumi.Output<string>;
  kubeconfig: pulumi.Output<string>;
  gpuNodeGroupNames: pulumi.Output<Record<string, string>>;
  prometheusUrl: string;
  /** Set when the metrics backend is Amazon Managed Prometheus. */
  ampEndpoint?: pulumi.Output<string>;
}

/** Composes one environment's stack from its validated configuration. */
export function infermesh(config: StackConfig): StackOutputs {
  const awsProvider = new aws.Provider("aws", { region: config.region as aws.Region, defaultTags: { tags: config.tags } });
  const cluster = new Cluster(
    "cluster",
    { config: config.cluster, region: config.region, natGateways: config.policy.natGateways, protect: config.policy.protectStateful, tags: config.tags },
    { providers: [awsProvider] },
  );
  const pools = Object.values(config.gpuPools).map(
    (pool) =>
      [
        pool.name,
        new GpuNodeGroup(
        `gpu-${pool.name}`,
        {
          clusterName: cluster.name,
          subnetIds: cluster.nodeSubnetIds,
          pool,
          tags: config.tags,
          includeCniPolicy: config.cluster.mode === "existing",
          dependsOn: cluster.nodeDependencies,
        },
        { providers: [awsProvider] },
      ),
      ] as const,
  );
  const telemetry = new Telemetry("telemetry", { config, cluster }, { providers: [awsProvider, cluster.provider] });
  return {
    region: config.region,
    clusterName: cluster.name,
    clusterEndpoint: cluster.endpoint,
    kubeconfig: cluster.kubeconfig,
    gpuNodeGroupNames: pulumi.all(Object.fromEntries(pools.map(([key, group]) => [key, group.nodeGroupName]))),
    prometheusUrl: telemetry.prometheus.url,
    ...(telemetry.prometheus.ampWorkspace ? { ampEndpoint: telemetry.prometheus.ampWorkspace.prometheusEndpoint } : {}),
  };
}
