/**
 * Every version this stack pins, in one place, so an upgrade is one reviewed
 * diff instead of a hunt through constructors.
 */

/** Kubernetes minor versions EKS offers in standard or extended support. */
export const supportedKubernetesVersions = ["1.31", "1.32", "1.33", "1.34", "1.35"] as const;
export type KubernetesVersion = (typeof supportedKubernetesVersions)[number];

/** Used when a stack does not set `cluster.kubernetesVersion`. */
export const defaultKubernetesVersion: KubernetesVersion = "1.34";

export interface ChartVersion {
  repo: string;
  chart: string;
  version: string;
}

/** Helm charts the stack installs. */
export const charts = {
  /** NVIDIA k8s-device-plugin; AL2023 NVIDIA AMIs ship drivers and toolkit but not the plugin. */
  devicePlugin: { repo: "https://nvidia.github.io/k8s-device-plugin", chart: "nvidia-device-plugin", version: "0.20.0" },
  /** dcgm-exporter chart 4.8.2 runs image 4.5.3-4.8.2-distroless (emits `Hostname`; later builds emit `hostname`). */
  dcgmExporter: { repo: "https://nvidia.github.io/dcgm-exporter/helm-charts", chart: "dcgm-exporter", version: "4.8.2" },
  kubePrometheusStack: { repo: "https://prometheus-community.github.io/helm-charts", chart: "kube-prometheus-stack", version: "82.6.0" },
} as const satisfies Record<string, ChartVersion>;

/**
 * Grafana chart for the `in-cluster` Grafana mode, from grafana-community, where
 * it is maintained since grafana/helm-charts deprecated it (kube-prometheus-stack
 * 82.6.0 pulls its Grafana from the same repository). 11.6.1 is the last chart
 * on Grafana 12.4 (appVersion 12.4.3), the minor Amazon Managed Grafana runs as
 * `12.4`; chart 12.x moves to Grafana 13, a major upgrade of its own.
 */
export const grafanaChart: ChartVersion = { repo: "https://grafana-community.github.io/helm-charts", chart: "grafana", version: "11.6.1" };

/** The Grafana the pinned chart runs (its appVersion; the stack sets no image tag). */
export const grafanaChartAppVersion = "12.4.3";

/** Cluster Autoscaler chart; its image must match the cluster's Kubernetes minor version. */
export const clusterAutoscalerChart: ChartVersion = { repo: "https://kubernetes.github.io/autoscaler", chart: "cluster-autoscaler", version: "9.46.6" };

export function clusterAutoscalerImageTag(kubernetesVersion: string): string {
  return `v${kubernetesVersion}.0`;
}

/**
 * NVIDIA GPU Operator, installed only for its MIG manager: the EKS NVIDIA AMIs
 * ship the driver and container toolkit, and the stack runs its own device
 * plugin and DCGM exporter.
 */
export const gpuOperatorChart: ChartVersion = { repo: "https://helm.ngc.nvidia.com/nvidia", chart: "gpu-operator", version: "v26.7.0" };
