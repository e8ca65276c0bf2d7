import * as aws from "@pulumi/aws";
import { describe, expect, it } from "vitest";
import { GpuNodeGroup } from "../components/gpuNodeGroup";
import { runUnderMocks } from "../synth/runtime";
import { baseRaw, one, parse, project } from "./helpers/stack";

interface FamilyCase {
  instanceType: string;
  amiFamily?: "al2023" | "bottlerocket";
  migProfile?: string;
  amiType: string;
  gpuModel: string;
  device: string;
  migConfig?: string;
}

const families: FamilyCase[] = [
  { instanceType: "g4dn.xlarge", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "T4", device: "/dev/xvda" },
  { instanceType: "g5g.xlarge", amiType: "AL2023_ARM_64_NVIDIA", gpuModel: "T4G", device: "/dev/xvda" },
  { instanceType: "g5.12xlarge", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "A10G", device: "/dev/xvda" },
  { instanceType: "g6.xlarge", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "L4", device: "/dev/xvda" },
  { instanceType: "g6e.48xlarge", amiFamily: "bottlerocket", amiType: "BOTTLEROCKET_x86_64_NVIDIA", gpuModel: "L40S", device: "/dev/xvdb" },
  { instanceType: "p4d.24xlarge", migProfile: "1g.5gb", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "A100-40GB", device: "/dev/xvda", migConfig: "all-1g.5gb" },
  { instanceType: "p4de.24xlarge", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "A100-80GB", device: "/dev/xvda" },
  { instanceType: "p5.48xlarge", migProfile: "1g.10gb+me", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "H100-80GB", device: "/dev/xvda", migConfig: "all-1g.10gb.me" },
  { instanceType: "p5e.48xlarge", migProfile: "3g.71gb", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "H200-141GB", device: "/dev/xvda", migConfig: "all-3g.71gb" },
  { instanceType: "g6e.12xlarge", amiFamily: "bottlerocket", amiType: "BOTTLEROCKET_x86_64_NVIDIA", gpuModel: "L40S", device: "/dev/xvdb" },
  { instanceType: "p5en.48xlarge", amiType: "AL2023_x86_64_NVIDIA", gpuModel: "H200-141GB", device: "/dev/xvda" },
];

const tags = { project: "infermesh", stack: "dev", environment: "dev" };

async function render(c: FamilyCase, capacity: "spot" | "on-demand") {
  const raw = baseRaw() as Record<string, any>;
  raw.gpuPools = {
    serve: {
      instanceTypes: [c.instanceType],
      capacity,
      scaling: { min: 1, desired: 2, max: 6 },
      diskSizeGiB: 300,
      ...(c.amiFamily ? { amiFamily: c.amiFamily } : {}),
      ...(c.migProfile ? { migProfile: c.migProfile } : {}),
      labels: { team: "search" },
    },
  };
  const pool = parse(raw).gpuPools.serve!;
  const run = await runUnderMocks({ project, stack: "dev", config: {} }, () => {
    const cni = new aws.eks.Addon("cni", { clusterName: "c", addonName: "vpc-cni" });
    const group = new GpuNodeGroup("gpu-serve", { clusterName: "infermesh-dev", subnetIds: ["subnet-a", "subnet-b"], pool, migStrategy: "single", tags, dependsOn: [cni] });
    return group.urn;
  });
  return run.resources;
}

describe("GpuNodeGroup", () => {
  it.each(families.flatMap((c) => (["spot", "on-demand"] as const).map((capacity) => ({ ...c, capacity }))))("$instanceType ($capacity, mig: $migProfile, $amiType)", async (c) => {
    const resources = await render(c, c.capacity);
    const component = one(resources, "infermesh:compute:GpuNodeGroup", "gpu-serve");
    const children = resources
      .filter((r) => r.parent === component.urn)
      .map((r) => `${r.type}::${r.name}`)
      .sort();
    expect(children).toEqual(["aws:ec2/launchTemplate:LaunchTemplate::gpu-serve", "aws:eks/nodeGroup:NodeGroup::gpu-serve", "infermesh:compute:NodeRole::gpu-serve-role"]);

    const nodeGroup = one(resources, "aws:eks/nodeGroup:NodeGroup", "gpu-serve");
    expect(nodeGroup.inputs).toEqual({
      clusterName: "infermesh-dev",
      nodeRoleArn: "arn:aws:synth:000000000000:gpu-serve-role",
      subnetIds: ["subnet-a", "subnet-b"],
      amiType: c.amiType,
      capacityType: c.capacity === "spot" ? "SPOT" : "ON_DEMAND",
      instanceTypes: [c.instanceType],
      scalingConfig: { minSize: 1, desiredSize: 2, maxSize: 6 },
      labels: {
        team: "search",
        "infermesh.io/node-class": "gpu",
        "infermesh.io/pool": "serve",
        "infermesh.io/gpu-model": c.gpuModel,
        "infermesh.io/capacity": c.capacity,
        "infermesh.io/ami-family": c.amiFamily ?? "al2023",
        "nvidia.com/gpu.present": "true",
        // Cluster Autoscaler's GPU label: the GPU model, lower case.
        "k8s.amazonaws.com/accelerator": `nvidia-${c.gpuModel.toLowerCase()}`,
        ...(c.migConfig
          ? {
              "infermesh.io/gpu-partitioning": "mig",
              "nvidia.com/mig.config": c.migConfig,
              "nvidia.com/gpu.deploy.mig-manager": "true",
              "nvidia.com/gpu.deploy.client": "paused-for-mig-change",
            }
          : { "infermesh.io/gpu-partitioning": "whole", "nvidia.com/gpu.deploy.operands": "false" }),
      },
      taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }],
      launchTemplate: { id: "gpu-serve-id", version: "1" },
      updateConfig: { maxUnavailable: 1 },
      tags: { "infermesh.io/pool": "serve" },
    });
    expect(nodeGroup.ignoreChanges).toEqual(["scalingConfig.desiredSize"]);
    expect(nodeGroup.dependsOn).toContain(one(resources, "aws:eks/addon:Addon", "cni").urn);
    for (const key of ["worker", "ecr"]) {
      expect(nodeGroup.dependsOn).toContain(one(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", `gpu-serve-role-${key}`).urn);
    }

    const instanceTags = { ...tags, "infermesh.io/pool": "serve" };
    expect(one(resources, "aws:ec2/launchTemplate:LaunchTemplate", "gpu-serve").inputs).toEqual({
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
      blockDeviceMappings: [{ deviceName: c.device, ebs: { volumeSize: 300, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
      tagSpecifications: [
        { resourceType: "instance", tags: instanceTags },
        { resourceType: "volume", tags: instanceTags },
        { resourceType: "network-interface", tags: instanceTags },
      ],
      updateDefaultVersion: true,
    });
  });

  it("gives the node role only the worker and registry policies (plus CNI when asked)", async () => {
    const resources = await render(families[3]!, "spot");
    const attachments = resources.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
    expect(attachments.map((r) => [r.name, r.inputs.policyArn])).toEqual([
      ["gpu-serve-role-worker", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"],
      ["gpu-serve-role-ecr", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"],
    ]);
    expect(JSON.parse(one(resources, "aws:iam/role:Role", "gpu-serve-role").inputs.assumeRolePolicy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
  });
});
