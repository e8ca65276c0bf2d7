import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import { ClusterAccess } from "./components/clusterAccess";
import { ClusterAutoscaler } from "./components/clusterAutoscaler";
import { ConfigError, type StackConfig } from "./config";
import { partitionOf } from "./config/rules";
import { GpuNodeGroup } from "./components/gpuNodeGroup";
import { Alerting, type GrafanaAlertTarget } from "./components/alerting";
import type { SnsTopicSummary } from "./components/alertTopics";
import { GrafanaContent, dataSourceTarget } from "./components/grafanaContent";
import { GrafanaEndpoint } from "./components/grafanaEndpoint";
import { InClusterGrafana } from "./components/grafanaInCluster";
import { Telemetry } from "./components/telemetry";
import { CostBudget } from "./components/costBudget";
import { ampSeriesLimits, costBudgetFigures, costReport } from "./cost/estimate";
import { goesWith, type Teardown } from "./components/options";
import { gpuNodeGroupName } from "./domain/naming";

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
  /** Set when the stack manages a Grafana. */
  grafanaUrl?: pulumi.Output<string>;
  dashboardUrls?: pulumi.Output<Record<string, string>>;
  /** Set with SNS contact points: each topic's ARN, owner, publisher and the grant an external topic still needs. */
  snsTopics?: pulumi.Output<Record<string, SnsTopicSummary>>;
}

/** Composes one environment's stack from its validated configuration. */
export function infermesh(config: StackConfig): StackOutputs {
  // Cost and cardinality at max size, from configuration; a Prometheus volume too small for it is refused before anything is registered.
  const cost = costReport(config);
  const misfits = cost.findings.filter((f) => f.level === "error");
  if (misfits.length > 0) throw new ConfigError(misfits.map((f) => ({ path: f.path, message: f.message })));
  const awsProvider = new aws.Provider("aws", { region: config.region as aws.Region, defaultTags: { tags: config.tags } });
  const cluster = new Cluster(
    "cluster",
    { config: config.cluster, region: config.region, natGateways: config.policy.natGateways, protect: config.policy.protectStateful, tags: config.tags, deploy: config.deploy },
    { providers: [awsProvider] },
  );
  // Access entries go with the control plane: deleting the cluster deletes them.
  if (cluster.controlPlane && Object.keys(config.access).length > 0) {
    new ClusterAccess(
      "access",
      { clusterName: cluster.name, partition: partitionOf(config.region), entries: config.access },
      { providers: [awsProvider], deletedWith: cluster.controlPlane },
    );
  }
  // What a whole teardown removes; in-cluster objects go with the cluster, Grafana objects with the Grafana.
  const teardown: Teardown = cluster.controlPlane ? { cluster: cluster.controlPlane } : {};
  const pools = Object.values(config.gpuPools).map(
    (pool) =>
      [
        pool.name,
        new GpuNodeGroup(
          gpuNodeGroupName(pool.name),
          {
            clusterName: cluster.name,
            subnetIds: cluster.nodeSubnetIds,
            pool,
            tags: config.tags,
            migStrategy: config.telemetry.migStrategy,
            includeCniPolicy: config.cluster.mode === "existing",
            dependsOn: cluster.nodeDependencies,
            ...(config.autoscaler.enabled ? { autoscaling: { clusterName: config.cluster.name } } : {}),
          },
          { providers: [awsProvider] },
        ),
      ] as const,
  );
  const inCluster = { providers: [awsProvider, cluster.provider] };
  if (config.autoscaler.enabled && pools.length > 0) {
    new ClusterAutoscaler(
      "autoscaler",
      {
        clusterName: config.cluster.name,
        region: config.region,
        kubernetesVersion: cluster.version,
        autoscaler: config.autoscaler,
        oidcProviderArn: cluster.oidcProviderArn,
        oidcIssuer: cluster.oidcIssuer,
        dependsOn: cluster.workloadDependencies,
        teardown,
      },
      inCluster,
    );
  }
  // The budget the policy pack checks, and AMP's per-model series limits.
  new CostBudget("cost", costBudgetFigures(cost));
  const telemetry = new Telemetry(
    "telemetry",
    { config, cluster, gpuNodeGroups: pools.map(([, group]) => group.nodeGroup), teardown, ampSeriesLimits: ampSeriesLimits(config, cost) },
    inCluster,
  );

  let grafanaSide:
    | { url: pulumi.Input<string>; dashboardUrls: pulumi.Input<Record<string, string>>; target: GrafanaAlertTarget; teardown: Teardown; workspaceRole?: aws.iam.Role }
    | undefined;
  if (config.grafana?.mode === "in-cluster") {
    // Provisioned from Kubernetes objects: nothing calls Grafana's API, and every object goes with the cluster.
    const grafana = new InClusterGrafana(
      "grafana",
      {
        config,
        namespace: telemetry.monitoringNamespace,
        prometheusUrl: telemetry.prometheus.url,
        dependsOn: cluster.workloadDependencies,
        teardown,
      },
      inCluster,
    );
    grafanaSide = {
      url: grafana.url,
      dashboardUrls: grafana.dashboardUrls,
      target: { kind: "provisioned", namespace: telemetry.monitoringNamespace.output, folder: grafana.folderTitle },
      teardown,
    };
  } else if (config.grafana) {
    const endpoint = new GrafanaEndpoint(
      "grafana",
      {
        config: config.grafana,
        stack: config.stack,
        deployedAt: config.deployedAt,
        sns: Object.values(config.alerting.contactPoints).some((cp) => cp.type === "sns"),
        ...(telemetry.prometheus.ampWorkspace ? { ampWorkspaceArn: telemetry.prometheus.ampWorkspace.arn } : {}),
        protect: config.policy.protectStateful,
      },
      inCluster,
    );
    // Grafana objects go with the Grafana when the stack destroys it: no API calls to a Grafana that is going away.
    const withGrafana: Teardown = endpoint.workspace ? { ...teardown, grafana: endpoint.workspace } : teardown;
    const content = new GrafanaContent(
      "grafana",
      { config, provider: endpoint.provider, dataSource: dataSourceTarget(config, telemetry.prometheus) },
      goesWith(withGrafana.grafana),
    );
    grafanaSide = {
      url: endpoint.url,
      dashboardUrls: content.dashboardUrls,
      target: { kind: "api", provider: endpoint.provider, folderUid: content.folderUid, datasourceUid: content.dataSourceUid },
      teardown: withGrafana,
      ...(endpoint.workspaceRole ? { workspaceRole: endpoint.workspaceRole } : {}),
    };
  }
  const alerting = new Alerting(
    "alerting",
    {
      config,
      prometheus: telemetry.prometheus,
      namespace: telemetry.monitoringNamespace,
      teardown: grafanaSide?.teardown ?? teardown,
      ...(grafanaSide ? { grafana: grafanaSide.target } : {}),
      ...(grafanaSide?.workspaceRole ? { grafanaWorkspaceRole: grafanaSide.workspaceRole } : {}),
    },
    inCluster,
  );
  return {
    region: config.region,
    clusterName: cluster.name,
    clusterEndpoint: cluster.endpoint,
    kubeconfig: cluster.kubeconfig,
    gpuNodeGroupNames: pulumi.all(Object.fromEntries(pools.map(([key, group]) => [key, group.nodeGroupName]))),
    prometheusUrl: telemetry.prometheus.url,
    ...(telemetry.prometheus.ampWorkspace ? { ampEndpoint: telemetry.prometheus.ampWorkspace.prometheusEndpoint } : {}),
    ...(grafanaSide ? { grafanaUrl: pulumi.output(grafanaSide.url), dashboardUrls: pulumi.output(grafanaSide.dashboardUrls) } : {}),
    ...(alerting.snsTopics ? { snsTopics: alerting.snsTopics } : {}),
  };
}
