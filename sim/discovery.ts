/**
 * Stands in for Kubernetes pod discovery (both sinks use it: a real Prometheus
 * scraping the loopback servers, and the backfill relabeling the same
 * targets): turns a rendered `scrape_configs`
 * entry into one with static targets that carry the same `__meta_kubernetes_*`
 * labels pod discovery (with node metadata attached) would give them, so the
 * stack's own relabeling runs unchanged against a local process.
 */

import type { Fleet } from "./fleet";
import type { FleetTarget } from "./model";
import { sanitizeLabelName } from "../lib/labelName";

export interface DiscoveredPod {
  namespace: string;
  name: string;
  nodeName: string;
  /** `topology.kubernetes.io/zone` of the pod's node. */
  zone: string;
  labels: Record<string, string>;
  container: string;
  portName: string;
  /** `host:port` the target is scraped at. */
  address: string;
}

export function podMetaLabels(pod: DiscoveredPod): Record<string, string> {
  return {
    __meta_kubernetes_namespace: pod.namespace,
    __meta_kubernetes_pod_name: pod.name,
    __meta_kubernetes_pod_node_name: pod.nodeName,
    __meta_kubernetes_pod_container_name: pod.container,
    __meta_kubernetes_pod_container_port_name: pod.portName,
    __meta_kubernetes_node_name: pod.nodeName,
    __meta_kubernetes_node_label_topology_kubernetes_io_zone: pod.zone,
    __meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone: "true",
    ...Object.fromEntries(
      Object.entries(pod.labels).flatMap(([key, value]) => [
        [`__meta_kubernetes_pod_label_${sanitizeLabelName(key)}`, value],
        [`__meta_kubernetes_pod_labelpresent_${sanitizeLabelName(key)}`, "true"],
      ]),
    ),
  };
}

interface KubernetesSdConfig {
  role: string;
  namespaces?: { names: string[] };
}

/**
 * Replaces `kubernetes_sd_configs` with `static_configs` for the pods that
 * discovery would return (the config's namespace filter applies); which of
 * them become targets is left to the config's own relabel rules.
 */
export function withStaticDiscovery(scrapeConfig: Record<string, unknown>, pods: readonly DiscoveredPod[]): Record<string, unknown> {
  const { kubernetes_sd_configs: sd, ...rest } = scrapeConfig as { kubernetes_sd_configs?: KubernetesSdConfig[] };
  if (sd?.length !== 1 || sd[0]?.role !== "pod") {
    throw new Error(`expected one kubernetes_sd_configs entry with role pod in ${String(scrapeConfig.job_name)}`);
  }
  const names = sd[0].namespaces?.names;
  const visible = pods.filter((pod) => !names || names.includes(pod.namespace));
  return { ...rest, static_configs: visible.map((pod) => ({ targets: [pod.address], labels: podMetaLabels(pod) })) };
}

/** The pods Kubernetes discovery would return for a fleet (kube-state-metrics is scraped by its own static job), at `addressOf` each target. */
export function fleetPods(fleet: Fleet, addressOf: (target: FleetTarget) => string): DiscoveredPod[] {
  return fleet.targets
    .filter((t) => t.kind !== "kube-state-metrics")
    .map((target) => ({
      namespace: target.pod.namespace,
      name: target.pod.name,
      nodeName: target.node.name,
      zone: target.node.zone,
      labels: target.pod.labels,
      container: target.pod.container,
      portName: target.pod.portName,
      address: addressOf(target),
    }));
}

/** Job name kube-prometheus-stack's kube-state-metrics ServiceMonitor gives its series. */
const kubeStateMetricsJob = "kube-state-metrics";

/**
 * A static scrape job for the fleet's kube-state-metrics, as kube-prometheus-stack
 * scrapes it: its own labels win (`node` on `kube_node_labels` is the node described).
 */
export function kubeStateMetricsScrapeConfig(fleet: Fleet, addressOf: (target: FleetTarget) => string, interval: string): Record<string, unknown> {
  const target = fleet.target("kube-state-metrics");
  return {
    job_name: kubeStateMetricsJob,
    honor_labels: true,
    metrics_path: target.path,
    scrape_interval: interval,
    static_configs: [
      {
        targets: [addressOf(target)],
        labels: { namespace: target.pod.namespace, pod: target.pod.name, container: target.pod.container, endpoint: target.pod.portName },
      },
    ],
  };
}
