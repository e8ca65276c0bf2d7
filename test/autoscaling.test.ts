import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../config";
import { clusterAutoscalerRelease, clusterAutoscalerReleases, supportedKubernetesVersions, type KubernetesVersion } from "../domain/versions";
import { clusterAutoscalerValues } from "../components/clusterAutoscaler.values";
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
      version: "9.53.0",
      repositoryOpts: { repo: "https://kubernetes.github.io/autoscaler" },
      namespace: "kube-system",
      compat: "true",
      values: undefined,
    });
    expect(release.values).toEqual({
      cloudProvider: "aws",
      awsRegion: "us-west-2",
      autoDiscovery: { clusterName: "infermesh-dev", tags: ["k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/infermesh-dev"] },
      image: { tag: "v1.34.5" },
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
    const pattern = /^eks-gpu-l4-[0-9a-f]{7}-.*/;
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

/**
 * Upstream facts the autoscaler table relies on, read in kubernetes/autoscaler
 * (git tags; chart directory `charts/cluster-autoscaler` up to chart 9.51.0,
 * `cluster-autoscaler/charts/cluster-autoscaler` from 9.52.0).
 */
const upstreamCharts: Record<string, { appVersion: string; clusterRoleGrantsResourceK8sIo: boolean }> = {
  // tag cluster-autoscaler-chart-<version>: Chart.yaml `appVersion`; templates/clusterrole.yaml has (or lacks) the
  // rule `apiGroups: [resource.k8s.io]` `resources: [resourceslices, deviceclasses, resourceclaims]` `verbs: [watch, list, get]`,
  // first added by commit d4a3ca1d9b "CA: update k8s deps to 1.35.0-rc.0" (chart 9.54.0).
  "9.44.0": { appVersion: "1.31.0", clusterRoleGrantsResourceK8sIo: false },
  "9.46.6": { appVersion: "1.32.0", clusterRoleGrantsResourceK8sIo: false },
  "9.51.0": { appVersion: "1.33.0", clusterRoleGrantsResourceK8sIo: false },
  "9.53.0": { appVersion: "1.34.2", clusterRoleGrantsResourceK8sIo: false },
  "9.54.0": { appVersion: "1.35.0", clusterRoleGrantsResourceK8sIo: true },
  "9.59.0": { appVersion: "1.35.0", clusterRoleGrantsResourceK8sIo: true },
};

const upstreamImages: Record<KubernetesVersion, { patchTags: string[]; startsDraInformers: boolean }> = {
  // Tags cluster-autoscaler-1.31.0 … 1.31.5; no DRA flag in main.go at cluster-autoscaler-1.31.5.
  "1.31": { patchTags: ["1.31.0", "1.31.1", "1.31.2", "1.31.3", "1.31.4", "1.31.5"], startsDraInformers: false },
  // main.go L285 at cluster-autoscaler-1.32.7: `enable-dynamic-resource-allocation` default false; the listers of
  // simulator/dynamicresources/provider/provider.go L35-37 are built only when it is set (core/autoscaler.go L171).
  "1.32": { patchTags: ["1.32.0", "1.32.1", "1.32.2", "1.32.3", "1.32.4", "1.32.5", "1.32.6", "1.32.7"], startsDraInformers: false },
  // config/flags/flags.go L227 at cluster-autoscaler-1.33.6 and -1.34.5: default false.
  "1.33": { patchTags: ["1.33.0", "1.33.1", "1.33.2", "1.33.3", "1.33.4", "1.33.5", "1.33.6"], startsDraInformers: false },
  "1.34": { patchTags: ["1.34.0", "1.34.1", "1.34.2", "1.34.3", "1.34.4", "1.34.5"], startsDraInformers: false },
  // config/flags/flags.go at cluster-autoscaler-1.35.2: L231 default true "locked to true", L302 klog.Fatalf when false;
  // core/autoscaler.go L135 then lists ResourceClaims/ResourceSlices/DeviceClasses (provider.go L35-37, resource.k8s.io/v1).
  "1.35": { patchTags: ["1.35.0", "1.35.1", "1.35.2"], startsDraInformers: true },
};

/**
 * Value paths the templates of every chart above read (`git grep -F .Values.<path> <tag> -- <chart dir>/templates`,
 * found at each chart tag above): the keys the stack may set. `deployment.yaml` reads `autoDiscovery.tags` as
 * `--node-group-auto-discovery=asg:tag={{ tpl (join "," .Values.autoDiscovery.tags) . }}` and ranges over `extraArgs`;
 * `priority-expander-configmap.yaml` renders `expanderPriorities` when `extraArgs.expander` includes `priority`.
 */
const valuesReadByCharts = [
  "cloudProvider",
  "awsRegion",
  "autoDiscovery.clusterName",
  "autoDiscovery.tags",
  "image.tag",
  "rbac.serviceAccount.create",
  "rbac.serviceAccount.name",
  "rbac.serviceAccount.annotations",
  "nodeSelector",
  "extraArgs",
  "expanderPriorities",
];

/** Paths of `values` that no read path covers. */
function unreadPaths(values: Record<string, unknown>, reads: readonly string[], prefix = ""): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    if (reads.includes(path)) return [];
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return unreadPaths(value as Record<string, unknown>, reads, path);
    return [path];
  });
}

const minorOf = (version: string) => version.split(".").slice(0, 2).join(".");
const newestPatch = (tags: string[]) => [...tags].sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2])).at(-1);

describe("Cluster Autoscaler chart and image per Kubernetes minor", () => {
  it("every accepted Kubernetes version has a row, and no other", () => {
    expect(Object.keys(clusterAutoscalerReleases).sort()).toEqual([...supportedKubernetesVersions].sort());
  });

  it.each([...supportedKubernetesVersions])("%s: the chart built for that minor, the newest patch image, RBAC for what the image lists", (minor) => {
    const release = clusterAutoscalerReleases[minor];
    const chart = upstreamCharts[release.chart];
    expect(chart, `chart ${release.chart} is not among the audited upstream charts`).toBeDefined();
    expect(minorOf(chart!.appVersion)).toBe(minor);
    expect(release.imageTag).toBe(`v${newestPatch(upstreamImages[minor].patchTags)}`);
    if (upstreamImages[minor].startsDraInformers) expect(chart!.clusterRoleGrantsResourceK8sIo).toBe(true);
  });

  it("every value the stack sets is one the charts read", () => {
    const values = clusterAutoscalerValues({
      clusterName: "c",
      region: "us-west-2",
      kubernetesVersion: "1.35",
      roleArn: "arn:aws:iam::111122223333:role/r",
      autoscaler: { enabled: true, scaleDownDelay: "10m", expanderPriorities: {}, priorities: { l4: 20 } },
    });
    expect(unreadPaths(values, valuesReadByCharts)).toEqual([]);
  });

  it.each([
    ["1.31", "9.44.0", "v1.31.5"],
    ["1.35", "9.59.0", "v1.35.2"],
  ])("a %s cluster gets chart %s and image %s in its Helm release", async (kubernetesVersion, chart, tag) => {
    const raw = { ...baseRaw(), gpuPools: pools };
    (raw.cluster as Record<string, unknown>).kubernetesVersion = kubernetesVersion;
    const release = one(await deploy(parse(raw)), "kubernetes:helm.sh/v3:Release", "autoscaler").inputs as Record<string, any>;
    expect([release.version, release.values.image]).toEqual([chart, { tag }]);
  });

  it("an attached cluster's version (from AWS) picks its row", async () => {
    // synth/lookups.ts answers aws.eks.getCluster with version 1.33.
    const release = one(await deploy(parse({ ...baseRaw(), gpuPools: pools, cluster: { mode: "existing", name: "shared-gpu" } })), "kubernetes:helm.sh/v3:Release", "autoscaler")
      .inputs as Record<string, any>;
    expect([release.version, release.values.image]).toEqual(["9.51.0", { tag: "v1.33.6" }]);
  });

  it("an attached cluster on a version without a row fails by name", () => {
    expect(() => clusterAutoscalerRelease("1.30")).toThrow(/no chart\/image pinned for Kubernetes "1\.30"; supported: 1\.31, 1\.32, 1\.33, 1\.34, 1\.35/);
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
    [
      "priority for a pool that does not exist",
      { gpuPools: pools, autoscaler: { expanderPriorities: { a10g: 5 } } },
      "infermesh:autoscaler.expanderPriorities.a10g",
      "pools: l4, h100",
    ],
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
