/**
 * What an environment kind implies, in one exhaustive table. A stack picks its
 * kind with `infermesh:environment`; every entry here can be overridden under
 * `infermesh:safety`.
 */
export const environmentKinds = ["dev", "staging", "prod", "ephemeral"] as const;
export type EnvironmentKind = (typeof environmentKinds)[number];

export type CapacityType = "spot" | "on-demand";
export type NatGatewayLayout = "single" | "per-az";

export interface EnvironmentPolicy {
  /** Pulumi `protect` on stateful resources (metrics storage, workspaces, the cluster). */
  protectStateful: boolean;
  /** Keep volumes (EBS from PVCs) when their claims or the stack are deleted. */
  retainVolumes: boolean;
  /** Whether GPU pools may run on spot capacity. */
  allowSpot: boolean;
  /** Whether GPU pools may have `scaling.min: 0`. */
  allowScaleToZero: boolean;
  /** Capacity type of a pool that does not choose one. */
  defaultCapacity: CapacityType;
  /** One shared NAT gateway (cheap) or one per availability zone (survives a zone loss). */
  natGateways: NatGatewayLayout;
  /** Whether the stack must carry an `infermesh:expiresAt` time, turned into an `expires-at` tag. */
  requireExpiry: boolean;
}

export const environmentPolicies: { readonly [K in EnvironmentKind]: EnvironmentPolicy } = {
  dev: {
    protectStateful: false,
    retainVolumes: false,
    allowSpot: true,
    allowScaleToZero: true,
    defaultCapacity: "spot",
    natGateways: "single",
    requireExpiry: false,
  },
  staging: {
    protectStateful: false,
    retainVolumes: false,
    allowSpot: true,
    allowScaleToZero: false,
    defaultCapacity: "on-demand",
    natGateways: "per-az",
    requireExpiry: false,
  },
  prod: {
    protectStateful: true,
    retainVolumes: true,
    allowSpot: false,
    allowScaleToZero: false,
    defaultCapacity: "on-demand",
    natGateways: "per-az",
    requireExpiry: false,
  },
  ephemeral: {
    protectStateful: false,
    retainVolumes: false,
    allowSpot: true,
    allowScaleToZero: true,
    defaultCapacity: "spot",
    natGateways: "single",
    requireExpiry: true,
  },
};
