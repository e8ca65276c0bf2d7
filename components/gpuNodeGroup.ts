import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { GpuPoolConfig } from "../config";
import { nodeLaunchTemplateArgs } from "./launchTemplate";
import { NodeRole } from "./nodeRole";
import { nodeTemplateTags } from "./nodeTemplate";
import type { MigStrategy } from "../config";
import { gpuNodeLabels } from "./gpuPlacement";
import { gpuTaint, nodeLabelKeys } from "../domain/scheduling";

export interface GpuNodeGroupArgs {
  clusterName: pulumi.Input<string>;
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  pool: GpuPoolConfig;
  /** Tags for launched instances and volumes. */
  tags: Record<string, string>;
  /** How the device plugin advertises MIG slices; decides some of the nodes' labels. */
  migStrategy: MigStrategy;
  /** Attach the VPC CNI policy to the node role (attached clusters). Defaults to false. */
  includeCniPolicy?: boolean;
  /** Resources the nodes need before joining (the cluster's networking add-ons). */
  dependsOn?: pulumi.Resource[];
  /** Tag the pool's Auto Scaling group for Cluster Autoscaler (discovery and scale from zero). */
  autoscaling?: { clusterName: string };
}

/** Stable child-name part for a tag key. */
const tagSlug = (key: string) =>
  key
    .replace(/^k8s\.io\/cluster-autoscaler\//, "")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/-$/, "")
    .toLowerCase();

/** One GPU pool: an EKS managed node group on an NVIDIA AMI, its launch template and node role. */
export class GpuNodeGroup extends pulumi.ComponentResource {
  static readonly type = "infermesh:compute:GpuNodeGroup";
  readonly nodeGroup: aws.eks.NodeGroup;
  readonly nodeGroupName: pulumi.Output<string>;

  constructor(name: string, args: GpuNodeGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GpuNodeGroup.type, name, {}, opts);
    const { pool } = args;
    const role = new NodeRole(`${name}-role`, { includeCniPolicy: args.includeCniPolicy ?? false }, { parent: this });
    const template = new aws.ec2.LaunchTemplate(
      name,
      nodeLaunchTemplateArgs({ diskSizeGiB: pool.diskSizeGiB, amiFamily: pool.amiFamily, tags: { ...args.tags, [nodeLabelKeys.pool]: pool.name } }),
      { parent: this },
    );
    this.nodeGroup = new aws.eks.NodeGroup(
      name,
      {
        clusterName: args.clusterName,
        nodeRoleArn: role.arn,
        subnetIds: args.subnetIds,
        amiType: pool.amiType,
        capacityType: pool.capacity === "spot" ? "SPOT" : "ON_DEMAND",
        instanceTypes: pool.instanceTypes,
        scalingConfig: { minSize: pool.scaling.min, desiredSize: pool.scaling.desired, maxSize: pool.scaling.max },
        labels: gpuNodeLabels(pool, args.migStrategy),
        taints: [{ ...gpuTaint }],
        launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
        updateConfig: { maxUnavailable: 1 },
        tags: { [nodeLabelKeys.pool]: pool.name },
      },
      {
        parent: this,
        // Policies stay attached until the nodes are gone, or EKS cannot drain and delete them.
        dependsOn: [...role.attachments, ...(args.dependsOn ?? [])],
        // An autoscaler owns the current size; the stack owns only the bounds.
        ignoreChanges: ["scalingConfig.desiredSize"],
      },
    );
    this.nodeGroupName = this.nodeGroup.nodeGroupName;

    if (args.autoscaling) {
      // Tags on the node group do not reach its Auto Scaling group, which is
      // where Cluster Autoscaler reads them.
      const asgName = this.nodeGroup.resources.apply((r) => r[0]?.autoscalingGroups[0]?.name ?? "");
      for (const [key, value] of Object.entries(nodeTemplateTags(pool, args.autoscaling.clusterName, args.migStrategy))) {
        new aws.autoscaling.Tag(`${name}-asg-${tagSlug(key)}`, { autoscalingGroupName: asgName, tag: { key, value, propagateAtLaunch: false } }, { parent: this });
      }
    }
    this.registerOutputs({ nodeGroupName: this.nodeGroupName });
  }
}
