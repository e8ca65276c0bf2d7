import { describe, expect, it } from "vitest";
import { contains, defaultSubnets, formatCidr, overlaps, parseCidr, type Cidr } from "../domain/cidr";
import { dataVolumeDevice, gpuInstanceTypes, gpuModels, isMigCapable, lookupGpuInstance, migConfigName, nvidiaAmiType } from "../domain/gpuInstances";
import { irsaAssumeRolePolicy } from "../components/iam";
import { eksKubeconfig } from "../components/kubeconfig";

const cidr = (text: string) => parseCidr(text) as Cidr;

describe("parseCidr", () => {
  it.each([
    ["10.0.0.0/16", "10.0.0.0/16"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["192.168.1.128/25", "192.168.1.128/25"],
    ["255.255.255.255/32", "255.255.255.255/32"],
  ])("accepts %s", (text, formatted) => {
    expect(formatCidr(cidr(text))).toBe(formatted);
  });

  it.each([
    ["10.0.0.0", "is not an IPv4 CIDR of the form a.b.c.d/n"],
    ["10.0.0.256/24", "has an octet above 255"],
    ["10.0.0.0/33", "has a prefix length above 32"],
    ["10.0.1.0/16", "has host bits set (the network address for /16 is 10.0.0.0)"],
    ["fd00::/8", "is not an IPv4 CIDR of the form a.b.c.d/n"],
  ])("rejects %s", (text, reason) => {
    expect(parseCidr(text)).toBe(reason);
  });
});

describe("overlaps and contains", () => {
  it.each([
    ["10.0.0.0/16", "10.0.255.0/24", true, true],
    ["10.0.0.0/16", "10.1.0.0/16", false, false],
    ["10.0.0.0/8", "10.200.0.0/16", true, true],
    ["10.0.0.0/24", "10.0.0.0/16", true, false],
    ["172.20.0.0/16", "172.20.255.255/32", true, true],
  ])("%s vs %s", (a, b, overlapping, inside) => {
    expect(overlaps(cidr(a), cidr(b))).toBe(overlapping);
    expect(overlaps(cidr(b), cidr(a))).toBe(overlapping);
    expect(contains(cidr(a), cidr(b))).toBe(inside);
  });
});

describe("defaultSubnets", () => {
  it.each([
    ["10.40.0.0/16", ["a", "b"], { a: { private: "10.40.0.0/19", public: "10.40.128.0/21" }, b: { private: "10.40.32.0/19", public: "10.40.136.0/21" } }],
    [
      "10.90.0.0/20",
      ["x", "y", "z"],
      {
        x: { private: "10.90.0.0/23", public: "10.90.8.0/25" },
        y: { private: "10.90.2.0/23", public: "10.90.8.128/25" },
        z: { private: "10.90.4.0/23", public: "10.90.9.0/25" },
      },
    ],
  ])("%s over %j", (vpc, zones, expected) => {
    expect(defaultSubnets(vpc, zones)).toEqual(expected);
  });

  it("never overlaps and stays inside the VPC for 2-4 zones and /16-/24", () => {
    for (let prefix = 16; prefix <= 24; prefix++) {
      for (const zones of [
        ["a", "b"],
        ["a", "b", "c"],
        ["a", "b", "c", "d"],
      ]) {
        const vpc = `10.0.0.0/${prefix}`;
        const blocks = Object.values(defaultSubnets(vpc, zones)).flatMap((s) => [cidr(s.private), cidr(s.public)]);
        blocks.forEach((block, i) => {
          expect(contains(cidr(vpc), block)).toBe(true);
          for (const other of blocks.slice(i + 1)) expect(overlaps(block, other)).toBe(false);
        });
      }
    }
  });
});

describe("GPU instance table", () => {
  it("covers every family the stack supports", () => {
    const families = new Set(Object.keys(gpuInstanceTypes).map((t) => t.split(".")[0]));
    expect([...families].sort()).toEqual(["g4dn", "g5", "g5g", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"]);
  });

  it.each([
    ["g4dn.12xlarge", { gpu: "T4", gpusPerInstance: 4, architecture: "x86_64" }],
    ["g5g.16xlarge", { gpu: "T4G", gpusPerInstance: 2, architecture: "arm64" }],
    ["g5.48xlarge", { gpu: "A10G", gpusPerInstance: 8, architecture: "x86_64" }],
    ["g6.xlarge", { gpu: "L4", gpusPerInstance: 1, architecture: "x86_64" }],
    ["g6e.12xlarge", { gpu: "L40S", gpusPerInstance: 4, architecture: "x86_64" }],
    ["p4d.24xlarge", { gpu: "A100-40GB", gpusPerInstance: 8, architecture: "x86_64" }],
    ["p4de.24xlarge", { gpu: "A100-80GB", gpusPerInstance: 8, architecture: "x86_64" }],
    ["p5.4xlarge", { gpu: "H100-80GB", gpusPerInstance: 1, architecture: "x86_64" }],
    ["p5e.48xlarge", { gpu: "H200-141GB", gpusPerInstance: 8, architecture: "x86_64" }],
    ["p5en.48xlarge", { gpu: "H200-141GB", gpusPerInstance: 8, architecture: "x86_64" }],
  ])("%s", (type, expected) => {
    expect(lookupGpuInstance(type)).toEqual(expected);
  });

  it.each(["m7i.large", "g6.3xlarge", "toString", "__proto__"])("does not know %s", (type) => {
    expect(lookupGpuInstance(type)).toBeUndefined();
  });

  it.each([
    ["T4", false],
    ["A10G", false],
    ["L4", false],
    ["L40S", false],
    ["A100-40GB", true],
    ["H100-80GB", true],
    ["H200-141GB", true],
  ] as const)("%s MIG capable: %s", (gpu, capable) => {
    expect(isMigCapable(gpu)).toBe(capable);
  });

  it("MIG profile memory never exceeds the GPU's memory", () => {
    for (const [gpu, info] of Object.entries(gpuModels)) {
      for (const [profile, count] of Object.entries(info.migProfiles)) {
        const memory = Number(/\.(\d+)gb/.exec(profile)?.[1]);
        expect(memory * count, `${gpu} ${profile}`).toBeLessThanOrEqual(info.memoryGiB + 1);
      }
    }
  });

  it.each([
    ["al2023", "x86_64", "AL2023_x86_64_NVIDIA"],
    ["al2023", "arm64", "AL2023_ARM_64_NVIDIA"],
    ["bottlerocket", "x86_64", "BOTTLEROCKET_x86_64_NVIDIA"],
    ["bottlerocket", "arm64", "BOTTLEROCKET_ARM_64_NVIDIA"],
  ] as const)("%s on %s boots %s", (family, arch, ami) => {
    expect(nvidiaAmiType(family, arch)).toBe(ami);
  });

  it.each([
    ["al2023", "/dev/xvda"],
    ["bottlerocket", "/dev/xvdb"],
  ] as const)("%s keeps images on %s", (family, device) => {
    expect(dataVolumeDevice(family)).toBe(device);
  });

  it.each([
    ["1g.10gb", "all-1g.10gb"],
    ["1g.10gb+me", "all-1g.10gb.me"],
    ["7g.141gb", "all-7g.141gb"],
  ])("MIG profile %s → %s", (profile, name) => {
    expect(migConfigName(profile)).toBe(name);
  });
});

describe("policies and kubeconfig", () => {
  it("IRSA trust names exactly one service account", () => {
    expect(
      JSON.parse(
        irsaAssumeRolePolicy({
          oidcProviderArn: "arn:aws:iam::1:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC",
          oidcIssuer: "https://oidc.eks.us-west-2.amazonaws.com/id/ABC",
          namespace: "monitoring",
          serviceAccount: "prometheus",
        }),
      ),
    ).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Federated: "arn:aws:iam::1:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC" },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: {
              "oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:monitoring:prometheus",
              "oidc.eks.us-west-2.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
            },
          },
        },
      ],
    });
  });

  it("kubeconfig selects the cluster and authenticates with get-token", () => {
    const config = JSON.parse(eksKubeconfig({ clusterName: "c1", endpoint: "https://e", certificateAuthority: "Q0E=", region: "eu-west-1" }));
    expect(config["current-context"]).toBe("c1");
    expect(config.contexts).toEqual([{ name: "c1", context: { cluster: "c1", user: "c1-aws" } }]);
    expect(config.users[0].user.exec.args).toEqual(["eks", "get-token", "--cluster-name", "c1", "--region", "eu-west-1", "--output", "json"]);
  });
});
