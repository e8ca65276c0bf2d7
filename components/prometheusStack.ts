import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import type { TelemetryConfig } from "../config";
import { irsaRole } from "./iam";
import { charts } from "../domain/versions";
import { goesWith, type NamespaceRef, type Teardown } from "./options";
import {
  ampRemoteWritePolicy,
  ampRemoteWriteUrl,
  kubePrometheusStackValues,
  prometheusRelease,
  prometheusServiceAccount,
  prometheusUrl,
  storageClassName,
  type KubePrometheusStackInputs,
} from "./prometheusStack.values";

export interface PrometheusStackArgs {
  namespace: NamespaceRef;
  telemetry: TelemetryConfig;
  region: string;
  /** AMP workspace alias and external labels. */
  clusterName: pulumi.Input<string>;
  environment: string;
  stack: string;
  oidcProviderArn: pulumi.Input<string>;
  oidcIssuer: pulumi.Input<string>;
  retainVolumes: boolean;
  protect: boolean;
  /** AMP active-series limits per label set (AMP backend only; cost/estimate.ts `ampSeriesLimits`). */
  ampSeriesLimits?: ReadonlyArray<{ labelSet: Record<string, string>; maxSeries: number }>;
  /** The in-cluster Alertmanager takes its configuration from the stack (Prometheus evaluates alerts). */
  alertmanagerFromSecret: boolean;
  /** What the Prometheus pods and volume need first (system nodes, EBS CSI driver). */
  dependsOn?: pulumi.Resource[];
  /** The StorageClass goes with the cluster; the release does not: its volumes must be released. */
  teardown: Teardown;
}

/**
 * kube-prometheus-stack (operator, Prometheus with a gp3 volume on system
 * nodes, Alertmanager, kube-state-metrics, node-exporter) and, in `amp` mode,
 * an Amazon Managed Prometheus workspace it remote-writes to through IRSA.
 */
export class PrometheusStack extends pulumi.ComponentResource {
  static readonly type = "infermesh:monitoring:PrometheusStack";
  readonly release: k8s.helm.v3.Release;
  readonly url: string;
  readonly ampWorkspace?: aws.amp.Workspace;

  constructor(name: string, args: PrometheusStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PrometheusStack.type, name, {}, opts);
    const storageClass = new k8s.storage.v1.StorageClass(
      `${name}-gp3`,
      {
        metadata: { name: storageClassName },
        provisioner: "ebs.csi.aws.com",
        parameters: { type: "gp3", encrypted: "true" },
        reclaimPolicy: args.retainVolumes ? "Retain" : "Delete",
        volumeBindingMode: "WaitForFirstConsumer",
        allowVolumeExpansion: true,
      },
      { parent: this, dependsOn: args.dependsOn, ...goesWith(args.teardown.cluster) },
    );

    let amp: pulumi.Output<NonNullable<KubePrometheusStackInputs["amp"]>> | undefined;
    if (args.telemetry.backend === "amp") {
      const workspace = new aws.amp.Workspace(`${name}-amp`, { alias: `infermesh-${args.stack}` }, { parent: this, protect: args.protect });
      const role = irsaRole(
        `${name}-amp-writer`,
        { oidcProviderArn: args.oidcProviderArn, oidcIssuer: args.oidcIssuer, namespace: args.namespace.name, serviceAccount: prometheusServiceAccount },
        { parent: this },
      );
      new aws.iam.RolePolicy(`${name}-amp-writer`, { role: role.id, policy: workspace.arn.apply(ampRemoteWritePolicy) }, { parent: this });
      this.ampWorkspace = workspace;
      if (args.ampSeriesLimits && args.ampSeriesLimits.length > 0) {
        new aws.amp.WorkspaceConfiguration(
          `${name}-amp-limits`,
          { workspaceId: workspace.id, limitsPerLabelSets: args.ampSeriesLimits.map((l) => ({ labelSet: { ...l.labelSet }, limits: { maxSeries: l.maxSeries } })) },
          { parent: this },
        );
      }
      amp = pulumi.all([workspace.prometheusEndpoint, role.arn]).apply(([endpoint, roleArn]) => ({ remoteWriteUrl: ampRemoteWriteUrl(endpoint), region: args.region, roleArn }));
    }
    this.release = this.helmRelease(name, args, amp, storageClass);
    this.url = prometheusUrl(args.namespace.name);
    this.registerOutputs({ url: this.url, ampEndpoint: this.ampWorkspace?.prometheusEndpoint });
  }

  private helmRelease(
    name: string,
    args: PrometheusStackArgs,
    amp: pulumi.Output<NonNullable<KubePrometheusStackInputs["amp"]>> | undefined,
    storageClass: k8s.storage.v1.StorageClass,
  ): k8s.helm.v3.Release {
    const values = pulumi.all([args.clusterName, amp]).apply(([cluster, ampArgs]) =>
      kubePrometheusStackValues({
        telemetry: args.telemetry,
        retainVolumes: args.retainVolumes,
        alertmanagerFromSecret: args.alertmanagerFromSecret,
        externalLabels: { cluster, environment: args.environment },
        ...(ampArgs ? { amp: ampArgs } : {}),
      }),
    );
    return chartRelease(
      name,
      // The operator's CRDs come with the chart; a slow first install is normal.
      { chart: charts.kubePrometheusStack, release: prometheusRelease, namespace: args.namespace.output, values, timeout: 900 },
      { parent: this, dependsOn: [storageClass, ...(args.dependsOn ?? [])] },
    );
  }
}
