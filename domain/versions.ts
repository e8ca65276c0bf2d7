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

export interface ClusterAutoscalerRelease {
  /** Chart version: kubernetes/autoscaler tag `cluster-autoscaler-chart-<chart>`, published in the repo's Helm index. */
  chart: string;
  /** Image tag: kubernetes/autoscaler tag `cluster-autoscaler-<x.y.z>`. */
  imageTag: string;
}

/**
 * Cluster Autoscaler per Kubernetes minor: the newest chart built for that
 * minor (its `appVersion`), because the chart's ClusterRole is what the image
 * may read, and the image's informers change with the minor (1.35 locks
 * dynamic resource allocation on and lists `resource.k8s.io` objects, which
 * charts before 9.54.0 do not grant); and the newest patch image of that minor,
 * which the scheduler code it embeds must match. A record over every accepted
 * minor, so accepting a new one does not compile until it has a row here.
 */
export const clusterAutoscalerReleases: Record<KubernetesVersion, ClusterAutoscalerRelease> = {
  "1.31": { chart: "9.44.0", imageTag: "v1.31.5" },
  "1.32": { chart: "9.46.6", imageTag: "v1.32.7" },
  "1.33": { chart: "9.51.0", imageTag: "v1.33.6" },
  "1.34": { chart: "9.53.0", imageTag: "v1.34.5" },
  "1.35": { chart: "9.59.0", imageTag: "v1.35.2" },
};

export const clusterAutoscalerChartSource = { repo: "https://kubernetes.github.io/autoscaler", chart: "cluster-autoscaler" } as const;

/**
 * The release for a cluster's minor version. Created clusters are validated
 * against the table; an attached cluster's version comes from AWS at deploy
 * time, so an unsupported one fails here, by name.
 */
export function clusterAutoscalerRelease(kubernetesVersion: string): ClusterAutoscalerRelease {
  const release = Object.hasOwn(clusterAutoscalerReleases, kubernetesVersion) ? clusterAutoscalerReleases[kubernetesVersion as KubernetesVersion] : undefined;
  if (!release) {
    throw new Error(
      `Cluster Autoscaler: no chart/image pinned for Kubernetes ${JSON.stringify(kubernetesVersion)}; supported: ${supportedKubernetesVersions.join(", ")} (domain/versions.ts), or set infermesh:autoscaler.enabled: false`,
    );
  }
  return release;
}

/**
 * NVIDIA GPU Operator, installed only for its MIG manager: the EKS NVIDIA AMIs
 * ship the driver and container toolkit, and the stack runs its own device
 * plugin and DCGM exporter.
 */
export const gpuOperatorChart: ChartVersion = { repo: "https://helm.ngc.nvidia.com/nvidia", chart: "gpu-operator", version: "v26.7.0" };
