/**
 * Where workloads run: the node classes, the GPU taint and its toleration,
 * and the node labels Prometheus keeps from kube-state-metrics. The node
 * groups set these, the agents and system charts select them, and the
 * recording rules and alerts join on them, so they are written once here.
 */
/** The taint every GPU node carries, so only pods that tolerate it (GPU workloads, GPU agents) land there. */
export const gpuTaint = { key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" } as const;

/** Tolerates the GPU taint, so GPU agents can run on GPU nodes. */
export const gpuToleration = { key: gpuTaint.key, operator: "Exists", effect: "NoSchedule" } as const;

/** Labels of the non-GPU system node group; system workloads select it. */
export const systemNodeLabels = { "infermesh.io/node-class": "system" } as const;
