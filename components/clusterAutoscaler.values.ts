/**
 * Cluster Autoscaler's Helm values and IAM policy, from config alone. Pure.
 */
import type { AutoscalerConfig } from "../config";
import { systemNodeLabels } from "../domain/scheduling";
import { clusterAutoscalerRelease } from "../domain/versions";
import { escapeRegex } from "../lib/escapeRegex";
import { discoveryTags } from "./nodeTemplate";
import { gpuNodeGroupName } from "../domain/naming";

/**
 * Describe calls need `*` (they take no resource); the two calls that change
 * capacity are limited to Auto Scaling groups tagged as this cluster's.
 */
export function clusterAutoscalerPolicy(clusterName: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "Discover",
        Effect: "Allow",
        Action: [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:GetInstanceTypesFromInstanceRequirements",
          "eks:DescribeNodegroup",
        ],
        Resource: "*",
      },
      {
        Sid: "ScaleOwnGroups",
        Effect: "Allow",
        Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
        Resource: "*",
        Condition: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "owned", "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true" } },
      },
    ],
  });
}

export function clusterAutoscalerValues(args: { clusterName: string; region: string; kubernetesVersion: string; roleArn: string; autoscaler: AutoscalerConfig }) {
  return {
    cloudProvider: "aws",
    awsRegion: args.region,
    autoDiscovery: { clusterName: args.clusterName, tags: Object.keys(discoveryTags(args.clusterName)) },
    image: { tag: clusterAutoscalerRelease(args.kubernetesVersion).imageTag },
    rbac: { serviceAccount: { create: true, name: autoscalerServiceAccount, annotations: { "eks.amazonaws.com/role-arn": args.roleArn } } },
    nodeSelector: { ...systemNodeLabels },
    extraArgs: {
      expander: "priority",
      "scale-down-unneeded-time": args.autoscaler.scaleDownDelay,
      "scale-down-delay-after-add": "10m",
      "balance-similar-node-groups": true,
      "skip-nodes-with-local-storage": false,
    },
    expanderPriorities: expanderPriorities(args.autoscaler.priorities),
  };
}

export const autoscalerServiceAccount = "cluster-autoscaler";

/** Priority-expander configuration: higher weight first, so spot pools are tried before on-demand pools that fit the same pod. */
export function expanderPriorities(priorities: Record<string, number>): Record<number, string[]> {
  const byWeight: Record<number, string[]> = {};
  for (const [pool, weight] of Object.entries(priorities).sort(([a], [b]) => a.localeCompare(b))) {
    (byWeight[weight] ??= []).push(poolGroupPattern(pool));
  }
  // Anything else (the system group) last.
  (byWeight[1] ??= []).push(".*");
  return byWeight;
}

/** ASG-name patterns of a pool: EKS names a managed group's ASG `eks-<node group name>-<uuid>`, and Pulumi auto-names the node group `<gpuNodeGroupName>-<7 hex>`. */
export function poolGroupPattern(pool: string): string {
  return `^eks-${escapeRegex(gpuNodeGroupName(pool))}-[0-9a-f]{7}-.*`;
}
