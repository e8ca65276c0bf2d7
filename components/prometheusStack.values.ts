/**
 * kube-prometheus-stack's Helm values, names and the AMP remote-write
 * pieces, from config alone. Pure.
 */
import type { TelemetryConfig } from "../config";
import { gpuToleration, systemNodeLabels, ksmNodeLabelAllowlist } from "../domain/scheduling";

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
      metricLabelsAllowlist: [`nodes=[${ksmNodeLabelAllowlist.join(",")}]`],
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
