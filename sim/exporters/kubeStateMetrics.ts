/**
 * kube-state-metrics, as kube-prometheus-stack deploys it: the node, resource
 * and pod-phase families the metric contract reads, for the fleet's nodes and
 * pods (and, in `pool-at-max-size`, the nodes a pool gains).
 */
import type { FleetModel, FleetNode } from "../model";
import { podUid } from "../names";
import type { ScenarioName } from "../scenarios";
import { gauge, ksmFamily, type FamilySpec, type SeriesSpec } from "../values";
import { sanitizeLabelName } from "../../lib/labelName";

/**
 * kube-state-metrics' view of the fleet's nodes and pods: `kube_node_labels`
 * (`node`, then each allowlisted label the node has, as `label_<sanitized
 * key>`), allocatable resources, and each pod's phase and requests.
 */
export function kubeStateFamilies(m: FleetModel): FamilySpec[] {
  const targets = m.targets;
  const maxed = m.hit.maxedPool.nodes;
  const nodes = [...m.gpuNodes, ...m.systemNodes, ...maxed];
  // Nodes the maxed pool gains exist only while it is at its maximum.
  const onlyAtMax = (node: FleetNode) => ((maxed as FleetNode[]).includes(node) ? { present: (s: ScenarioName) => s === "pool-at-max-size" } : {});
  const nodeLabels = nodes.map((node) => {
    const labels: Array<readonly [string, string]> = [["node", node.name]];
    for (const key of [...m.settings.nodeLabelAllowlist].sort()) {
      const value = node.labels[key];
      if (value !== undefined) labels.push([`label_${sanitizeLabelName(key)}`, value]);
    }
    return { labels, value: gauge(() => 1), ...onlyAtMax(node) };
  });

  const allocatable: SeriesSpec[] = [];
  const resource = (node: string, name: string, unit: string, value: number, at: { present?: (s: ScenarioName) => boolean } = {}) =>
    allocatable.push({
      labels: [
        ["node", node],
        ["resource", name],
        ["unit", unit],
      ],
      value: gauge(() => value),
      ...at,
    });
  for (const node of m.gpuNodes) {
    resource(node.name, "cpu", "core", 47.81);
    resource(node.name, "memory", "byte", 1_952_000_000_000);
    resource(node.name, "pods", "integer", 737);
    const gpus = node.entities.reduce((seen, e) => seen.add(e.uuid), new Set<string>()).size;
    if (node.pool.mig) resource(node.name, m.gpuResource(node.entities[0]), "integer", node.entities.length);
    else resource(node.name, "nvidia_com_gpu", "integer", gpus);
  }
  for (const node of maxed) {
    resource(node.name, "cpu", "core", 47.81, onlyAtMax(node));
    resource(node.name, "memory", "byte", 1_952_000_000_000, onlyAtMax(node));
    resource(node.name, "pods", "integer", 737, onlyAtMax(node));
    const gpus = Math.min(m.shape.gpusPerNode, node.pool.gpusPerInstance);
    const migResource = node.pool.mig && m.settings.migStrategy === "mixed" ? `nvidia_com_mig_${sanitizeLabelName(node.pool.mig.profile)}` : "nvidia_com_gpu";
    resource(node.name, migResource, "integer", node.pool.mig ? gpus * node.pool.mig.instances : gpus, onlyAtMax(node));
  }
  for (const node of m.systemNodes) {
    resource(node.name, "cpu", "core", 1.93);
    resource(node.name, "memory", "byte", 7_134_000_000);
    resource(node.name, "pods", "integer", 29);
  }

  const phases: SeriesSpec[] = [];
  const requests: SeriesSpec[] = [];
  const addPod = (
    pod: { namespace: string; name: string; uid: string; node?: string },
    container: string,
    gpuResource: string | undefined,
    phase: (s: ScenarioName) => string,
    present?: (s: ScenarioName) => boolean,
  ) => {
    const at = present ? { present } : {};
    for (const p of ["Pending", "Running", "Succeeded", "Failed", "Unknown"]) {
      phases.push({
        labels: [
          ["namespace", pod.namespace],
          ["pod", pod.name],
          ["uid", pod.uid],
          ["phase", p],
        ],
        value: gauge((s) => (phase(s) === p ? 1 : 0)),
        ...at,
      });
    }
    const request = (name: string, unit: string, value: number) =>
      requests.push({
        labels: [
          ["namespace", pod.namespace],
          ["pod", pod.name],
          ["uid", pod.uid],
          ["container", container],
          ...(pod.node ? [["node", pod.node] as const] : []),
          ["resource", name],
          ["unit", unit],
        ],
        value: gauge(() => value),
        ...at,
      });
    request("cpu", "core", gpuResource ? 4 : 0.5);
    request("memory", "byte", gpuResource ? 34_359_738_368 : 536_870_912);
    if (gpuResource) request(gpuResource, "integer", 1);
  };
  for (const pod of m.runtimePods.values()) addPod(pod, "runtime", pod.gpuResource, () => "Running");
  const { idlePod, pendingPod } = m.hit;
  if (m.hit.idleGpu)
    addPod(
      idlePod,
      "runtime",
      idlePod.gpuResource,
      () => "Running",
      (s) => s === "gpu-idle",
    );
  addPod(
    pendingPod,
    "runtime",
    pendingPod.gpuResource,
    () => "Pending",
    (s) => s === "gpu-pod-pending",
  );
  for (const pod of m.standingPending) addPod(pod, "runtime", pod.gpuResource, () => "Pending");
  for (const t of targets) addPod({ namespace: t.pod.namespace, name: t.pod.name, uid: podUid(t.pod.name), node: t.node.name }, t.pod.container, undefined, () => "Running");

  return [
    ksmFamily("kube_node_labels", "Kubernetes labels converted to Prometheus labels.", nodeLabels),
    ksmFamily("kube_node_status_allocatable", "The allocatable for different resources of a node that are available for scheduling.", allocatable),
    ksmFamily("kube_pod_container_resource_requests", "The number of requested request resource by a container.", requests),
    ksmFamily("kube_pod_status_phase", "The pods current phase.", phases),
  ];
}
