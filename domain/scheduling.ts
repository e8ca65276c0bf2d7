/**
 * Where workloads run: the node classes, the GPU taint and its toleration,
 * and the node labels Prometheus keeps from kube-state-metrics. The node
 * groups set these, the agents and system charts select them, and the
 * recording rules and alerts join on them, so they are written once here.
 */
import { sanitizeLabelName } from "../lib/labelName";

/** Labels the stack sets on every node it creates. */
export const nodeLabelKeys = {
  /** `gpu` or `system`. */
  nodeClass: "infermesh.io/node-class",
  pool: "infermesh.io/pool",
  gpuModel: "infermesh.io/gpu-model",
  capacity: "infermesh.io/capacity",
  amiFamily: "infermesh.io/ami-family",
} as const;

/** Node labels kube-state-metrics keeps on `kube_node_labels` (its `metricLabelsAllowlist` for nodes). */
export const ksmNodeLabelAllowlist = [nodeLabelKeys.nodeClass, nodeLabelKeys.pool, nodeLabelKeys.capacity, "topology.kubernetes.io/zone"] as const;

/** A node label's name on `kube_node_labels`: `label_` and the key with every character outside `[a-zA-Z0-9_]` as `_`. */
export const ksmLabelName = (key: string) => `label_${sanitizeLabelName(key)}`;

/** The taint every GPU node carries, so only pods that tolerate it (GPU workloads, GPU agents) land there. */
export const gpuTaint = { key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" } as const;

/** Tolerates the GPU taint, so GPU agents can run on GPU nodes. */
export const gpuToleration = { key: gpuTaint.key, operator: "Exists", effect: "NoSchedule" } as const;

/** Labels of the non-GPU system node group; system workloads select it. */
export const systemNodeLabels = { [nodeLabelKeys.nodeClass]: "system" } as const;
