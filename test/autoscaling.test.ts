import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../components/config";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

const pools = {
  l4: { instanceTypes: ["g6.12xlarge"], scaling: { min: 0, desired: 0, max: 4 } },
  h100: { instanceTypes: ["p5.48xlarge"], capacity: "on-demand", migProfile: "1g.10gb", scaling: { min: 0, desired: 0, max: 2 } },
};

function stack(extra: Record<string, unknown> = {}) {
  return parse({ ...baseRaw(), gpuPools: pools, ...extra });
}

/** The node-template tags a pool's Auto Scaling group carries, as key → value. */
function asgTags(resources: Awaited<ReturnType<typeof deploy>>, pool: string): Record<string, string> {
  const tags = byType(resources, "aws:autoscaling/tag:Tag").filter((t) => t.name.startsWith(`gpu-${pool}-asg-`));
  for (const t of tags) expect(t.inputs.autoscalingGroupName).toBe(`eks-gpu-${pool}-synth`);
  return Object.fromEntries(tags.map((t) => [(t.inputs.tag as { key: string }).key, (t.inputs.tag as { value: string; propagateAtLaunch: boolean }).value]));
}

const label = (key: string) => `k8s.io/cluster-autoscaler/node-template/label/${key}`;

describe("scale from zero: node-template tags on each pool's Auto Scaling group", () => {
  it("a pool without MIG advertises its whole GPUs", async () => {
    const resources = await deploy(stack());
    expect(asgTags(resources, "l4")).toEqual({
      "k8s.io/cluster-autoscaler/enabled": "true",
      "k8s.io/cluster-autoscaler/infermesh-dev": "owned",
      [label("infermesh.io/node-class")]: "gpu",
      [label("infermesh.io/pool")]: "l4",
      [label("infermesh.io/gpu-model")]: "L4",
      [label("infermesh.io/capacity")]: "spot",
      [label("infermesh.io/ami-family")]: "al2023",
      [label("nvidia.com/gpu.present")]: "true",
      [label("infermesh.io/gpu-partitioning")]: "whole",
      [label("k8s.amazonaws.com/accelerator")]: "nvidia-l4",
      [label("nvidia.com/gpu.deploy.operands")]: "false",
      "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
      "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "4",
    });
  });

  it("a single-strategy MIG pool advertises its slices as nvidia.com/gpu", async () => {
    const tags = asgTags(await deploy(stack()), "h100");
    expect(tags[label("nvidia.com/mig.config")]).toBe("all-1g.10gb");
    expect(tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"]).toBe("56");
    expect(Object.keys(tags).filter((k) => k.includes("/resources/"))).toEqual(["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"]);
  });

  it("a mixed-strategy MIG pool advertises nvidia.com/mig-<profile>", async () => {
    const tags = asgTags(await deploy(stack({ telemetry: { migStrategy: "mixed" } })), "h100");
    expect(Object.entries(tags).filter(([k]) => k.includes("/resources/"))).toEqual([["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/mig-1g.10gb", "56"]]);
  });

  it("no tags and no autoscaler when it is disabled", async () => {
    const resources = await deploy(stack({ autoscaler: { enabled: false } }));
    expect(byType(resources, "aws:autoscaling/tag:Tag")).toEqual([]);
    expect(byType(resources, "infermesh:cluster:ClusterAutoscaler")).toEqual([]);
  });
});

describe("Cluster Autoscaler", () => {
  it("exact Helm values: discovery, region, image for the cluster version, system nodes, priority expander spot first", async () => {
    const resources = await deploy(stack({ autoscaler: { scaleDownDelay: "20m" } }));
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "autoscaler").inputs as Record<string, any>;
    expect({ ...release, values: undefined }).toEqual({
      name: "cluster-autoscaler",
      chart: "cluster-autoscaler",
      version: "9.46.6",
      repositoryOpts: { repo: "https://kubernetes.github.io/autoscaler" },
      namespace: "kube-system",
      compat: "true",
      values: undefined,
    });
    expect(release.values).toEqual({
      cloudProvider: "aws",
      awsRegion: "us-west-2",
      autoDiscovery: { clusterName: "infermesh-dev", tags: ["k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/infermesh-dev"] },
      image: { tag: "v1.34.0" },
      rbac: { serviceAccount: { create: true, name: "cluster-autoscaler", annotations: { "eks.amazonaws.com/role-arn": "arn:aws:synth:000000000000:autoscaler-irsa" } } },
      nodeSelector: { "infermesh.io/node-class": "system" },
      extraArgs: {
        expander: "priority",
        "scale-down-unneeded-time": "20m",
        "scale-down-delay-after-add": "10m",
        "balance-similar-node-groups": true,
        "skip-nodes-with-local-storage": false,
      },
      // The spot L4 pool (20) is tried before the on-demand H100 pool (10); the system group last.
      expanderPriorities: { "1": [".*"], "10": ["^eks-gpu-h100-[0-9a-f]{7}-.*"], "20": ["^eks-gpu-l4-[0-9a-f]{7}-.*"] },
    });
  });

  it("configured priorities override the spot-first default", async () => {
    const resources = await deploy(stack({ autoscaler: { expanderPriorities: { h100: 50 } } }));
    expect((one(resources, "kubernetes:helm.sh/v3:Release", "autoscaler").inputs as any).values.expanderPriorities).toEqual({
      "1": [".*"],
      "20": ["^eks-gpu-l4-[0-9a-f]{7}-.*"],
      "50": ["^eks-gpu-h100-[0-9a-f]{7}-.*"],
    });
  });

  it("the pool patterns match that pool's Auto Scaling groups only", () => {
    const pattern = new RegExp("^eks-gpu-l4-[0-9a-f]{7}-.*");
    expect(pattern.test("eks-gpu-l4-3fa2b1c-8ec6e2f4-1f2e-4b2f-9b0e-0c1d2e3f4a5b")).toBe(true);
    expect(pattern.test("eks-gpu-l4-spot-3fa2b1c-8ec6e2f4")).toBe(false);
  });

  it("IAM: describe calls anywhere, resizing only this cluster's tagged groups, through IRSA", async () => {
    const resources = await deploy(stack());
    const policy = JSON.parse(one(resources, "aws:iam/rolePolicy:RolePolicy", "autoscaler-irsa").inputs.policy as string);
    expect(policy.Statement).toEqual([
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
        Condition: { StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/infermesh-dev": "owned", "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true" } },
      },
    ]);
    for (const statement of policy.Statement) for (const action of statement.Action) expect(action).not.toMatch(/\*/);
    const trust = JSON.parse(one(resources, "aws:iam/role:Role", "autoscaler-irsa").inputs.assumeRolePolicy as string);
    expect(trust.Statement[0].Condition.StringEquals["oidc.eks.synth.invalid/id/cluster:sub"]).toBe("system:serviceaccount:kube-system:cluster-autoscaler");
  });
});

describe("MIG manager", () => {
  it("renders mig-parted layouts from the pools and owns neither device plugin nor DCGM exporter", async () => {
    const raw = { ...baseRaw(), gpuPools: { ...pools, a100: { instanceTypes: ["p4d.24xlarge"], migProfile: "3g.20gb", scaling: { min: 0, desired: 0, max: 1 } } } };
    const resources = await deploy(parse(raw));
    const values = (one(resources, "kubernetes:helm.sh/v3:Release", "telemetry-mig").inputs as any).values;
    expect(values).toMatchObject({
      driver: { enabled: false },
      toolkit: { enabled: false },
      devicePlugin: { enabled: false },
      dcgmExporter: { enabled: false },
      dcgm: { enabled: false },
      mig: { strategy: "single" },
      migManager: { enabled: true, config: { create: true, name: "infermesh-mig-parted-config", default: "all-disabled" } },
    });
    expect(parseYaml(values.migManager.config.data["config.yaml"])).toEqual({
      version: "v1",
      "mig-configs": {
        "all-disabled": [{ devices: "all", "mig-enabled": false }],
        "all-1g.10gb": [{ devices: "all", "mig-enabled": true, "mig-devices": { "1g.10gb": 7 } }],
        "all-3g.20gb": [{ devices: "all", "mig-enabled": true, "mig-devices": { "3g.20gb": 2 } }],
      },
    });
    // The device plugin and DCGM exporter in the cluster are the stack's: one release for whole-GPU nodes,
    // one for MIG nodes (started once the MIG manager releases them).
    const releases = byType(resources, "kubernetes:helm.sh/v3:Release").map((r) => [r.inputs.chart, r.inputs.name]);
    expect(releases.filter(([c]) => c === "nvidia-device-plugin")).toEqual([
      ["nvidia-device-plugin", "nvidia-device-plugin"],
      ["nvidia-device-plugin", "nvidia-device-plugin-mig"],
    ]);
    expect(releases.filter(([c]) => c === "dcgm-exporter")).toEqual([
      ["dcgm-exporter", "dcgm-exporter"],
      ["dcgm-exporter", "dcgm-exporter-mig"],
    ]);
  });

  it("is not installed without MIG pools", async () => {
    const resources = await deploy(parse(baseRaw()));
    expect(byType(resources, "infermesh:gpu:MigManager")).toEqual([]);
  });

  it.each([
    ["MIG on Bottlerocket", { gpuPools: { h100: { ...pools.h100, amiFamily: "bottlerocket" } } }, "infermesh:gpuPools.h100.amiFamily", "cannot repartition Bottlerocket"],
    ["strategy none with a MIG pool", { gpuPools: pools, telemetry: { migStrategy: "none" } }, "infermesh:telemetry.migStrategy", "pools h100 set migProfile"],
    ["priority for a pool that does not exist", { gpuPools: pools, autoscaler: { expanderPriorities: { a10g: 5 } } }, "infermesh:autoscaler.expanderPriorities.a10g", "pools: l4, h100"],
  ])("rejects %s, naming the pool", (_, extra, path, says) => {
    try {
      parse({ ...baseRaw(), ...extra });
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problem = (err as ConfigError).problems.find((p) => p.path === path);
      expect(problem?.message).toContain(says);
    }
  });
});
