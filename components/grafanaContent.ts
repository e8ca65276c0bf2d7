import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./options";
import * as grafana from "@pulumiverse/grafana";
import type { StackConfig } from "../config";
import { dataSourceUid } from "../domain/naming";
import type { PrometheusStack } from "./prometheusStack";
import { dashboardsFor, folderFor, type DashboardInputs } from "./grafanaContent.plan";

export interface DataSourceTarget {
  url: pulumi.Input<string>;
  /** Region of an AMP workspace, signed with SigV4. */
  sigV4?: { region: string; authType: "ec2_iam_role" | "default" };
}

/**
 * Where Grafana reads metrics: the in-cluster Prometheus service for an
 * in-cluster Grafana; AMP (SigV4) for a Grafana outside the cluster when AMP
 * holds the data; otherwise the URL the stack was given for Prometheus.
 */
export function dataSourceTarget(config: Pick<StackConfig, "grafana" | "region" | "telemetry">, prometheus: PrometheusStack): DataSourceTarget {
  const g = config.grafana;
  if (!g || g.mode === "in-cluster") return { url: prometheus.url };
  if (prometheus.ampWorkspace) {
    return {
      url: prometheus.ampWorkspace.prometheusEndpoint.apply((endpoint) => endpoint.replace(/\/$/, "")),
      // A managed workspace signs with its own IAM role; another Grafana with the credentials of the host it runs on.
      sigV4: { region: config.region, authType: g.mode === "managed" ? "ec2_iam_role" : "default" },
    };
  }
  // Validation requires prometheusUrl in this case.
  return { url: g.prometheusUrl as string };
}

/** The Prometheus data source every dashboard and Grafana-evaluated rule reads. */
export function dataSourceArgs(config: Pick<StackConfig, "stack" | "telemetry">, target: DataSourceTarget) {
  return {
    type: "prometheus",
    name: `infermesh-${config.stack}`,
    uid: dataSourceUid(config.stack),
    url: target.url,
    accessMode: "proxy",
    // Never the org default: other stacks may share this Grafana.
    isDefault: false,
    jsonDataEncoded: JSON.stringify({
      httpMethod: "POST",
      timeInterval: config.telemetry.scrapeInterval,
      ...(target.sigV4 ? { sigV4Auth: true, sigV4AuthType: target.sigV4.authType, sigV4Region: target.sigV4.region } : {}),
    }),
  };
}

export interface GrafanaContentArgs {
  config: DashboardInputs & Pick<StackConfig, "grafana" | "region">;
  provider: grafana.Provider;
  dataSource: DataSourceTarget;
}

/** The environment's folder, its Prometheus data source and every dashboard (the seed's four and the SLOs). */
export class GrafanaContent extends pulumi.ComponentResource {
  static readonly type = "infermesh:grafana:Content";
  readonly folderUid: pulumi.Output<string>;
  readonly dataSourceUid: string;
  readonly dashboardUrls: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: GrafanaContentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GrafanaContent.type, name, {}, opts);
    const { config } = args;
    const parent = { ...childOptions(this, opts), provider: args.provider };
    // Nothing in the folder is kept by hand, so deleting it with its contents is always safe.
    const folder = new grafana.oss.Folder(`${name}-folder`, { ...folderFor(config), preventDestroyIfNotEmpty: false }, parent);
    const dataSource = new grafana.oss.DataSource(`${name}-prometheus`, dataSourceArgs(config, args.dataSource), parent);
    const dashboards = Object.entries(dashboardsFor(config)).map(
      ([key, json]) =>
        [
          key,
          new grafana.oss.Dashboard(
            `${name}-${key}`,
            { configJson: JSON.stringify(json), folder: folder.uid, overwrite: true, message: `infermesh ${config.stack}` },
            { ...parent, dependsOn: [dataSource] },
          ),
        ] as const,
    );
    this.folderUid = folder.uid;
    this.dataSourceUid = dataSourceUid(config.stack);
    this.dashboardUrls = pulumi.all(Object.fromEntries(dashboards.map(([key, d]) => [key, d.url])));
    this.registerOutputs({ folderUid: this.folderUid, dashboardUrls: this.dashboardUrls });
  }
}
