/**
 * Every version this stack pins, in one place, so an upgrade is one reviewed
 * diff instead of a hunt through constructors.
 */

/** Kubernetes minor versions EKS offers in standard or extended support. */
export const supportedKubernetesVersions = ["1.31", "1.32", "1.33", "1.34", "1.35"] as const;
export type KubernetesVersion = (typeof supportedKubernetesVersions)[number];

/** Used when a stack does not set `cluster.kubernetesVersion`. */
export const defaultKubernetesVersion: KubernetesVersion = "1.34";
