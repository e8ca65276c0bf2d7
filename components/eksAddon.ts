import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { irsaRole } from "./iam";

export interface EksAddonArgs {
  clusterName: pulumi.Input<string>;
  /** EKS add-on name, e.g. `vpc-cni`. The version is EKS's default for the cluster's Kubernetes version. */
  addonName: string;
  /** When set, the add-on's service account gets its own IRSA role with these managed policies. */
  serviceAccount?: {
    namespace: string;
    name: string;
    policies: Record<string, string>;
    oidcProviderArn: pulumi.Input<string>;
    oidcIssuer: pulumi.Input<string>;
  };
  /** What the add-on needs before it can become healthy, e.g. nodes for its pods. */
  dependsOn?: pulumi.Resource[];
}

/** One EKS managed add-on, optionally with an IRSA role scoped to its service account. */
export class EksAddon extends pulumi.ComponentResource {
  static readonly type = "infermesh:cluster:EksAddon";
  readonly addon: aws.eks.Addon;

  constructor(name: string, args: EksAddonArgs, opts?: pulumi.ComponentResourceOptions) {
    super(EksAddon.type, name, {}, opts);
    let serviceAccountRoleArn: pulumi.Output<string> | undefined;
    const attachments: aws.iam.RolePolicyAttachment[] = [];
    const sa = args.serviceAccount;
    if (sa) {
      const role = irsaRole(`${name}-irsa`, { oidcProviderArn: sa.oidcProviderArn, oidcIssuer: sa.oidcIssuer, namespace: sa.namespace, serviceAccount: sa.name }, { parent: this });
      for (const [key, policyArn] of Object.entries(sa.policies)) {
        attachments.push(new aws.iam.RolePolicyAttachment(`${name}-irsa-${key}`, { role: role.name, policyArn }, { parent: this }));
      }
      serviceAccountRoleArn = role.arn;
    }
    this.addon = new aws.eks.Addon(
      name,
      {
        clusterName: args.clusterName,
        addonName: args.addonName,
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "OVERWRITE",
        ...(serviceAccountRoleArn ? { serviceAccountRoleArn } : {}),
      },
      { parent: this, dependsOn: [...attachments, ...(args.dependsOn ?? [])] },
    );
    this.registerOutputs({ addonName: this.addon.addonName });
  }
}
