import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dashboardKeys, dashboardUid } from "../dashboards/context";
import { dataSourceArgs } from "./grafanaContent";
import { dashboardsFor, folderFor, type DashboardInputs } from "./grafanaContent.plan";
import { dataSourceFile, provisionedFolder, provisioningYaml, sidecarContract, sidecarLabels } from "./grafanaProvisioning";
import { chartRelease } from "./helm";
import { childOptions, goesWith, type NamespaceRef, type Teardown } from "./options";
import { grafanaChart } from "../domain/versions";
import { inClusterGrafanaValues, grafanaAdminSecret } from "./grafanaInCluster.values";
import type { AlertingInputs } from "./alerting.plan";

export const grafanaRelease = "grafana";
/** The chart's Service: named after the release (it contains the chart name), port 80. */
export const grafanaServicePort = 80;

/** Kubernetes names of the provisioning objects the sidecars pick up. */
export const provisioningObjects = {
  dataSource: { name: "infermesh-grafana-datasource", key: "infermesh-datasource.yaml" },
  dashboard: (key: string) => ({ name: `infermesh-dashboard-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` }),
} as const;

export interface InClusterGrafanaArgs {
  config: DashboardInputs & AlertingInputs;
  /** The monitoring namespace. */
  namespace: NamespaceRef;
  /** The in-cluster Prometheus the data source reads. */
  prometheusUrl: string;
  /** What the Grafana pod needs first. */
  dependsOn?: pulumi.Resource[];
  /** Nothing here outlives the cluster. */
  teardown: Teardown;
}

/**
 * Grafana in the cluster, provisioned from Kubernetes objects: the Helm
 * release with its k8s-sidecar containers, the admin Secret, and ConfigMaps
 * for the data source and each dashboard (alerting objects come from
 * Alerting). `pulumi up` never calls Grafana's API, so it needs no
 * port-forward, and a restarted Grafana reads everything back.
 */
export class InClusterGrafana extends pulumi.ComponentResource {
  static readonly type = "infermesh:grafana:InCluster";
  /** The Service inside the cluster; from a workstation: kubectl -n <namespace> port-forward svc/grafana 3000:80. */
  readonly url: string;
  readonly dashboardUrls: Record<string, string>;
  readonly folderTitle: string;

  constructor(name: string, args: InClusterGrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    // Earlier releases made these children under the Endpoint component: same names, so state carries over.
    super(InClusterGrafana.type, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "infermesh:grafana:Endpoint" }] });
    const { config } = args;
    const inCluster = { ...childOptions(this, opts), ...goesWith(args.teardown.cluster) };
    const folder = folderFor(config);
    this.folderTitle = provisionedFolder(folder.title);

    const password = new random.RandomPassword(`${name}-admin-password`, { length: 32, special: false }, { parent: this });
    const secret = new k8s.core.v1.Secret(
      `${name}-admin`,
      {
        metadata: { name: grafanaAdminSecret, namespace: args.namespace.output },
        type: "Opaque",
        stringData: { "admin-user": "admin", "admin-password": pulumi.secret(password.result) },
      },
      { ...inCluster, dependsOn: args.dependsOn },
    );

    const ds = dataSourceArgs(config, { url: args.prometheusUrl });
    new k8s.core.v1.ConfigMap(
      `${name}-datasource`,
      {
        metadata: { name: provisioningObjects.dataSource.name, namespace: args.namespace.output, labels: sidecarLabels("datasource") },
        data: { [provisioningObjects.dataSource.key]: provisioningYaml(dataSourceFile({ ...ds, url: args.prometheusUrl })) },
      },
      inCluster,
    );

    // One ConfigMap per dashboard (the chart's advice), each naming its folder.
    const dashboards = dashboardsFor(config);
    for (const key of dashboardKeys) {
      const json = dashboards[key] as { uid: string };
      new k8s.core.v1.ConfigMap(
        `${name}-dashboard-${key}`,
        {
          metadata: {
            name: provisioningObjects.dashboard(key).name,
            namespace: args.namespace.output,
            labels: sidecarLabels("dashboard"),
            annotations: { [sidecarContract.folderAnnotation]: this.folderTitle },
          },
          data: { [`${json.uid}.json`]: JSON.stringify(json) },
        },
        inCluster,
      );
    }

    chartRelease(
      `${name}-grafana`,
      { chart: grafanaChart, release: grafanaRelease, namespace: args.namespace.output, values: inClusterGrafanaValues() },
      { ...inCluster, dependsOn: [secret, ...(args.dependsOn ?? [])] },
    );

    this.url = `http://${grafanaRelease}.${args.namespace.name}.svc.cluster.local`;
    this.dashboardUrls = Object.fromEntries(dashboardKeys.map((key) => [key, `${this.url}/d/${dashboardUid(config.stack, key)}`]));
    this.registerOutputs({ url: this.url, dashboardUrls: this.dashboardUrls });
  }
}
