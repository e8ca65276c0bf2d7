import { describe, expect, it } from "vitest";
import type { RecordedResource } from "../synth/runtime";
import { baseRaw, deploy, parse } from "./helpers/stack";

const pools = {
  alpha: { instanceTypes: ["g6.xlarge"], scaling: { min: 0, desired: 1, max: 2 } },
  beta: { instanceTypes: ["g5.12xlarge"], scaling: { min: 0, desired: 0, max: 2 } },
  gamma: { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb", scaling: { min: 0, desired: 0, max: 1 } },
};

/**
 * Three objects aggregate every pool by design: Cluster Autoscaler's release
 * (its priority expander), the alert rules (the pool-at-maximum alert has a
 * term per pool) and the cost estimate (the stack's total at max size). A
 * pool legitimately shows in their inputs; the expander is checked on its
 * own below, the estimate in test/cost.test.ts.
 */
const aggregatesPools = (r: RecordedResource) =>
  (r.type === "kubernetes:helm.sh/v3:Release" && r.name === "autoscaler") ||
  (r.type === "kubernetes:monitoring.coreos.com/v1:PrometheusRule" && r.name === "alerting-alerts") ||
  r.type === "infermesh:cost:Budget";

/** URN → inputs, for every resource that does not belong to the given pools. */
function others(resources: RecordedResource[], excluded: string[]): Map<string, unknown> {
  const belongs = (r: RecordedResource) => excluded.some((pool) => r.urn.endsWith(`::gpu-${pool}`) || r.urn.includes(`::gpu-${pool}-`));
  return new Map(resources.filter((r) => !belongs(r)).map((r) => [r.urn, aggregatesPools(r) ? "(lists every pool)" : r.inputs]));
}

const priorities = (resources: RecordedResource[]) =>
  (resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.name === "autoscaler")!.inputs as { values: { expanderPriorities: Record<string, string[]> } }).values
    .expanderPriorities;

async function deployPools(gpuPools: Record<string, unknown>) {
  return deploy(parse({ ...baseRaw(), gpuPools }));
}

describe("pools are keyed by name", () => {
  it("renaming one pool changes no other resource's name or inputs", async () => {
    const before = await deployPools(pools);
    const { beta, ...rest } = pools;
    const after = await deployPools({ ...rest, delta: beta });
    const unchanged = others(before, ["beta"]);
    expect(unchanged.size).toBeGreaterThan(40);
    expect(others(after, ["delta"])).toEqual(unchanged);
    expect(after.filter((r) => r.urn.includes("gpu-delta")).length).toBe(before.filter((r) => r.urn.includes("gpu-beta")).length);
    expect(JSON.stringify(priorities(after))).toBe(JSON.stringify(priorities(before)).replace("gpu-beta-", "gpu-delta-"));
  });

  it("removing one pool changes no other resource's name or inputs", async () => {
    const before = await deployPools(pools);
    const { alpha: _removed, ...rest } = pools;
    const after = await deployPools(rest);
    expect(others(after, [])).toEqual(others(before, ["alpha"]));
  });

  it("reordering pools changes nothing", async () => {
    const before = await deployPools(pools);
    const after = await deployPools({ gamma: pools.gamma, alpha: pools.alpha, beta: pools.beta });
    expect(others(after, [])).toEqual(others(before, []));
  });
});
