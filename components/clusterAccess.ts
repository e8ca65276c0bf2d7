import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { AccessEntryConfig, AccessLevel } from "../config";
import { accessLevels } from "../config/schema";

/** The EKS access policy each level grants (AWS-managed, the same in every account). */
export const eksAccessPolicies: Record<AccessLevel, string> = {
  view: "AmazonEKSViewPolicy",
  edit: "AmazonEKSEditPolicy",
  admin: "AmazonEKSAdminPolicy",
  "cluster-admin": "AmazonEKSClusterAdminPolicy",
};

/** `arn:<partition>:eks::aws:cluster-access-policy/<policy>`: access policy ARNs carry no region or account. */
export function accessPolicyArn(partition: string, level: AccessLevel): string {
  return `arn:${partition}:eks::aws:cluster-access-policy/${eksAccessPolicies[level]}`;
}

export interface ClusterAccessArgs {
  clusterName: pulumi.Input<string>;
  /** AWS partition of the cluster (`aws`, `aws-us-gov`, …), for the policy ARNs. */
  partition: string;
  entries: Record<string, AccessEntryConfig>;
}

/**
 * Who may use the Kubernetes API of a cluster the stack creates, beyond its
 * creator (whom EKS admits through `bootstrapClusterCreatorAdminPermissions`):
 * one access entry per configured principal and one access policy
 * association per level it is granted. Children are named after the entry's
 * key and the level, so adding or removing a person touches nobody else.
 */
export class ClusterAccess extends pulumi.ComponentResource {
  static readonly type = "infermesh:cluster:ClusterAccess";
  readonly entries: Record<string, aws.eks.AccessEntry>;

  constructor(name: string, args: ClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ClusterAccess.type, name, {}, opts);
    this.entries = {};
    for (const entry of Object.values(args.entries)) {
      const accessEntry = new aws.eks.AccessEntry(
        `${name}-${entry.name}`,
        {
          clusterName: args.clusterName,
          principalArn: entry.principalArn,
          type: "STANDARD",
          ...(entry.kubernetesGroups.length > 0 ? { kubernetesGroups: entry.kubernetesGroups } : {}),
        },
        { parent: this },
      );
      this.entries[entry.name] = accessEntry;
      for (const level of accessLevels) {
        const scope = entry.policies[level];
        if (scope === undefined) continue;
        new aws.eks.AccessPolicyAssociation(
          `${name}-${entry.name}-${level}`,
          {
            clusterName: args.clusterName,
            // The entry's output, not the config value: the association needs the entry to exist first.
            principalArn: accessEntry.principalArn,
            policyArn: accessPolicyArn(args.partition, level),
            accessScope: scope === "cluster" ? { type: "cluster" } : { type: "namespace", namespaces: scope },
          },
          { parent: this },
        );
      }
    }
    this.registerOutputs({});
  }
}
