import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceAssumeRolePolicy } from "./iam";

/** Managed policies a node role may carry, by the stable key its attachment is named after. */
const nodePolicies = {
  worker: aws.iam.ManagedPolicy.AmazonEKSWorkerNodePolicy,
  ecr: aws.iam.ManagedPolicy.AmazonEC2ContainerRegistryReadOnly,
  cni: aws.iam.ManagedPolicy.AmazonEKS_CNI_Policy,
} as const;

export interface NodeRoleArgs {
  /**
   * Attach the VPC CNI policy to the node role. Needed only when the cluster's
   * `aws-node` daemonset has no IRSA role of its own (an attached cluster this
   * stack did not create). Defaults to false.
   */
  includeCniPolicy?: boolean;
}

/** The IAM role EKS managed nodes run as, with only the managed policies nodes need. */
export class NodeRole extends pulumi.ComponentResource {
  static readonly type = "infermesh:compute:NodeRole";
  readonly role: aws.iam.Role;
  readonly arn: pulumi.Output<string>;
  /** Attachments that must outlive the node group (EKS needs them to drain and delete nodes). */
  readonly attachments: aws.iam.RolePolicyAttachment[];

  constructor(name: string, args: NodeRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(NodeRole.type, name, {}, opts);
    this.role = new aws.iam.Role(name, { assumeRolePolicy: serviceAssumeRolePolicy("ec2.amazonaws.com") }, { parent: this });
    const keys = (Object.keys(nodePolicies) as (keyof typeof nodePolicies)[]).filter((k) => k !== "cni" || args.includeCniPolicy);
    this.attachments = keys.map((key) => new aws.iam.RolePolicyAttachment(`${name}-${key}`, { role: this.role.name, policyArn: nodePolicies[key] }, { parent: this }));
    this.arn = this.role.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
