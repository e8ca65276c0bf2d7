import { describe, expect, it } from "vitest";
import { environmentKinds, environmentPolicies, type EnvironmentKind } from "../domain/environments";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

/** A config valid in every environment: on-demand-capable pool with min 1, and an expiry for ephemeral. */
function rawFor(environment: EnvironmentKind) {
  const raw = baseRaw() as Record<string, any>;
  raw.environment = environment;
  raw.gpuPools.l4.scaling = { min: 1, desired: 1, max: 4 };
  if (environment === "ephemeral") raw.expiresAt = "2026-01-02T00:00:00Z";
  return raw;
}

describe("environment defaults", () => {
  it.each([
    ["dev", { protectStateful: false, retainVolumes: false, allowSpot: true, allowScaleToZero: true, defaultCapacity: "spot", natGateways: "single", requireExpiry: false }],
    [
      "staging",
      { protectStateful: false, retainVolumes: false, allowSpot: true, allowScaleToZero: false, defaultCapacity: "on-demand", natGateways: "per-az", requireExpiry: false },
    ],
    ["prod", { protectStateful: true, retainVolumes: true, allowSpot: false, allowScaleToZero: false, defaultCapacity: "on-demand", natGateways: "per-az", requireExpiry: false }],
    ["ephemeral", { protectStateful: false, retainVolumes: false, allowSpot: true, allowScaleToZero: true, defaultCapacity: "spot", natGateways: "single", requireExpiry: true }],
  ] as const)("%s", (environment, expected) => {
    const config = parse(rawFor(environment));
    expect(config.policy).toEqual(expected);
    expect(config.gpuPools.l4?.capacity).toBe(expected.defaultCapacity);
  });

  it("covers every environment kind", () => {
    expect(Object.keys(environmentPolicies).sort()).toEqual([...environmentKinds].sort());
  });

  it("tags every resource with project, stack and environment, plus expiry on ephemeral stacks", () => {
    expect(parse(rawFor("dev"), "dev").tags).toEqual({ project: "infermesh", stack: "dev", environment: "dev" });
    expect(parse({ ...rawFor("ephemeral"), tags: { team: "ml" } }, "test-pr-12").tags).toEqual({
      team: "ml",
      project: "infermesh",
      stack: "test-pr-12",
      environment: "ephemeral",
      "expires-at": "2026-01-02T00:00:00Z",
    });
  });
});

describe("overrides win over environment defaults", () => {
  it("safety overrides replace single entries and keep the rest", () => {
    const config = parse({ ...rawFor("prod"), safety: { allowSpot: true, protectStateful: false } });
    expect(config.policy).toEqual({ ...environmentPolicies.prod, allowSpot: true, protectStateful: false });
  });

  it("a pool's capacity beats the environment default", () => {
    const raw = rawFor("dev");
    raw.gpuPools.l4.capacity = "on-demand";
    expect(parse(raw).gpuPools.l4?.capacity).toBe("on-demand");
  });

  it("prod accepts spot and scale-to-zero once allowed", () => {
    const raw = rawFor("prod");
    raw.gpuPools.l4 = { ...raw.gpuPools.l4, capacity: "spot", scaling: { min: 0, desired: 0, max: 2 } };
    raw.safety = { allowSpot: true, allowScaleToZero: true };
    expect(parse(raw).gpuPools.l4).toMatchObject({ capacity: "spot", scaling: { min: 0, desired: 0, max: 2 } });
  });

  it("natGateways override changes the NAT layout", async () => {
    const raw = rawFor("dev");
    raw.cluster.vpc.availabilityZones = ["us-west-2a", "us-west-2b", "us-west-2c"];
    const single = await deploy(parse(raw));
    expect(byType(single, "aws:ec2/natGateway:NatGateway").map((r) => r.name)).toEqual(["cluster-vpc-nat-us-west-2a"]);
    const perAz = await deploy(parse({ ...raw, safety: { natGateways: "per-az" } }));
    expect(
      byType(perAz, "aws:ec2/natGateway:NatGateway")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["cluster-vpc-nat-us-west-2a", "cluster-vpc-nat-us-west-2b", "cluster-vpc-nat-us-west-2c"]);
  });

  it("protection follows the policy: prod protects the control plane, dev does not", async () => {
    const prod = one(await deploy(parse(rawFor("prod"))), "aws:eks/cluster:Cluster", "cluster");
    expect(prod.protect).toBe(true);
    expect(prod.inputs.deletionProtection).toBe(true);
    const dev = one(await deploy(parse(rawFor("dev"))), "aws:eks/cluster:Cluster", "cluster");
    expect(dev.protect).toBe(false);
    expect(dev.inputs.deletionProtection).toBe(false);
  });
});
