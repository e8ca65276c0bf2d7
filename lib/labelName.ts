/**
 * A Kubernetes label key (or any name) as a Prometheus label name: every
 * character outside `[a-zA-Z0-9_]` becomes `_`, as Prometheus' Kubernetes
 * discovery and kube-state-metrics both write them.
 */
export const sanitizeLabelName = (name: string): string => name.replace(/[^a-zA-Z0-9_]/g, "_");
