import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { systemNodeLabels } from "../domain/scheduling";
import type { TelemetryConfig } from "../config";
import { gpuToleration } from "../domain/scheduling";
import { irsaRole } from "./iam";
import { charts } from "../domain/versions";

/** Release name; also the `release` label prometheus-operator selects monitors and rules by. */
export const prometheusRelease = "kps";
/** Labels a PodMonitor or PrometheusRule needs to be picked up by the stack's Prometheus. */
export const monitorSelectorLabels = { release: prometheusRelease } as const;
/** Service account the Prometheus pods run as (`<fullnameOverride>-prometheus`). */
export const prometheusServiceAccount = `${prometheusRelease}-prometheus`;
export const storageClassName = "gp3";
/** Secret holding the in-cluster Alertmanager's configuration when Prometheus evaluates the alerts. */
export const alertmanagerSecretName = "alertmanager-infermesh";

/** In-cluster URL of the Prometheus API. */
export function prometheusUrl(namespace: string): string {
  return `http://${prometheusRelease}-prometheus.${namespace}.svc:9090`;
}

/** Remote-write target of an AMP workspace (`prometheusEndpoint` ends with a slash). */
export function ampRemoteWriteUrl(prometheusEndpoint: string): string {
  return `${prometheusEndpoint.replace(/\/?$/, "/")}api/v1/remote_write`;
}

/** The only permission Prometheus needs on the workspace. */
export function ampRemoteWritePolicy(workspaceArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: workspaceArn }],
  });
}

export interface KubePrometheusStackInputs {
  telemetry: TelemetryConfig;
  retainVolumes: boolean;
  externalLabels: Record<string, string>;
  /** Set in `amp` mode. */
  amp?: { remoteWriteUrl: string; region: string; roleArn: string };
  /** Alertmanager reads the stack's routing from a Secret (Prometheus evaluates the alerts). */
  alertmanagerFromSecret: boolean;
}

export function kubePrometheusStackValues(args: KubePrometheusStackInputs) {
  const { telemetry } = args;
  const onSystemNodes = { nodeSelector: { ...systemNodeLabels } };
  const selector = { matchLabels: { ...monitorSelectorLabels } };
  return {
    fullnameOverride: prometheusRelease,
    // Grafana is provisioned separately, per environment mode.
    grafana: { enabled: false },
    prometheusOperator: { ...onSystemNodes, admissionWebhooks: { patch: { ...onSystemNodes } } },
    // Node labels become kube_node_labels{label_infermesh_io_*}, so alerts can tell GPU nodes apart.
    "kube-state-metrics": {
      ...onSystemNodes,
      metricLabelsAllowlist: ["nodes=[infermesh.io/node-class,infermesh.io/pool,infermesh.io/capacity,topology.kubernetes.io/zone]"],
    },
    // node-exporter must also run on the tainted GPU nodes.
    "prometheus-node-exporter": { tolerations: [gpuToleration] },
    alertmanager: {
      alertmanagerSpec: {
        ...onSystemNodes,
        ...(args.alertmanagerFromSecret ? { useExistingSecret: true, configSecret: alertmanagerSecretName } : {}),
      },
    },
    prometheus: {
      serviceAccount: { annotations: args.amp ? { "eks.amazonaws.com/role-arn": args.amp.roleArn } : {} },
      prometheusSpec: {
        ...onSystemNodes,
        scrapeInterval: telemetry.scrapeInterval,
        evaluationInterval: telemetry.scrapeInterval,
        retention: telemetry.retention,
        externalLabels: args.externalLabels,
        serviceMonitorSelector: selector,
        podMonitorSelector: selector,
        ruleSelector: selector,
        serviceMonitorNamespaceSelector: {},
        podMonitorNamespaceSelector: {},
        ruleNamespaceSelector: {},
        storageSpec: {
          volumeClaimTemplate: {
            spec: {
              storageClassName,
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: `${telemetry.volumeSizeGiB}Gi` } },
            },
          },
        },
        // Without this the claim outlives the StatefulSet and its EBS volume is orphaned on teardown.
        persistentVolumeClaimRetentionPolicy: { whenDeleted: args.retainVolumes ? "Retain" : "Delete", whenScaled: "Retain" },
        remoteWrite: args.amp
          ? [
              {
                url: args.amp.remoteWriteUrl,
                sigv4: { region: args.amp.region },
                queueConfig: { capacity: 2500, maxSamplesPerSend: 1000, maxShards: 200 },
              },
            ]
          : [],
      },
    },
  };
}

export interface PrometheusStackArgs {
  namespace: pulumi.Input<string>;
  namespaceName: string;
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
  /** The in-cluster Alertmanager takes its configuration from the stack (Prometheus evaluates alerts). */
  alertmanagerFromSecret: boolean;
  /** What the Prometheus pods and volume need first (system nodes, EBS CSI driver). */
  dependsOn?: pulumi.Resource[];
  /** The cluster the stack created; the StorageClass goes with it (the release does not: its volumes must be released). */
  cluster?: pulumi.Resource;
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
      { parent: this, dependsOn: args.dependsOn, ...(args.cluster ? { deletedWith: args.cluster } : {}) },
    );

    let amp: pulumi.Output<NonNullable<KubePrometheusStackInputs["amp"]>> | undefined;
    if (args.telemetry.backend === "amp") {
      const workspace = new aws.amp.Workspace(`${name}-amp`, { alias: `infermesh-${args.stack}` }, { parent: this, protect: args.protect });
      const role = irsaRole(
        `${name}-amp-writer`,
        { oidcProviderArn: args.oidcProviderArn, oidcIssuer: args.oidcIssuer, namespace: args.namespaceName, serviceAccount: prometheusServiceAccount },
        { parent: this },
      );
      new aws.iam.RolePolicy(`${name}-amp-writer`, { role: role.id, policy: workspace.arn.apply(ampRemoteWritePolicy) }, { parent: this });
      this.ampWorkspace = workspace;
      amp = pulumi
        .all([workspace.prometheusEndpoint, role.arn])
        .apply(([endpoint, roleArn]) => ({ remoteWriteUrl: ampRemoteWriteUrl(endpoint), region: args.region, roleArn }));
    }
    this.release = this.helmRelease(name, args, amp, storageClass);
    this.url = prometheusUrl(args.namespaceName);
    this.registerOutputs({ url: this.url, ampEndpoint: this.ampWorkspace?.prometheusEndpoint });
  }

  private helmRelease(
    name: string,
    args: PrometheusStackArgs,
    amp: pulumi.Output<NonNullable<KubePrometheusStackInputs["amp"]>> | undefined,
    storageClass: k8s.storage.v1.StorageClass,
  ): k8s.helm.v3.Release {
    const values = pulumi
      .all([args.clusterName, amp])
      .apply(([cluster, ampArgs]) =>
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
      { chart: charts.kubePrometheusStack, release: prometheusRelease, namespace: args.namespace, values, timeout: 900 },
      { parent: this, dependsOn: [storageClass, ...(args.dependsOn ?? [])] },
    );
  }
}
