/**
 * The synthetic fleet is the stack's fleet: built from a stack file, it has
 * that stack's GPU pools (names, GPU models, MIG layouts, node labels, kept
 * under each pool's maximum size) and serves that stack's models; the
 * pool-at-max-size scenario scales the pool nearest its maximum to it. And
 * sim/ loads no Pulumi provider, so the bench and verify can use it without one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { StackConfig } from "../config";
import { gpuModels } from "../domain/gpuInstances";
import { Fleet } from "../sim/fleet";
import { loadStackConfig } from "../verify/run";
import { fleetSettings } from "../verify/stackFleet";

const stacks = ["dev", "staging", "prod"] as const;
const configs = new Map<string, StackConfig>();

beforeAll(async () => {
  // The mock runtime holds one stack's config at a time: load them in turn.
  for (const stack of stacks) configs.set(stack, await loadStackConfig(stack));
}, 120_000);

describe.each(stacks)("the %s stack's fleet", (stack) => {
  const fleet = () => new Fleet({ settings: fleetSettings(configs.get(stack) as StackConfig), shape: { nodes: 6 } });

  it("has the stack's pools, each with its GPU model, instance GPUs and MIG layout, below its maximum size", () => {
    const config = configs.get(stack) as StackConfig;
    const f = fleet();
    const pools = Object.values(config.gpuPools);
    expect(f.pools.map((p) => p.name)).toEqual(pools.map((p) => p.name));
    for (const pool of pools) {
      const nodes = f.gpuNodes.filter((n) => n.pool.name === pool.name);
      expect(nodes.length, pool.name).toBeLessThan(pool.scaling.max);
      for (const node of nodes) {
        expect(node.labels).toMatchObject({
          "infermesh.io/pool": pool.name,
          "infermesh.io/gpu-model": pool.gpu,
          "infermesh.io/capacity": pool.capacity,
          "infermesh.io/node-class": "gpu",
        });
        const gpus = new Set(node.entities.map((e) => e.uuid));
        expect(gpus.size).toBe(Math.min(f.shape.gpusPerNode, pool.gpusPerInstance));
        if (pool.mig) {
          expect(node.entities.every((e) => e.mig?.profile === pool.mig?.profile)).toBe(true);
          expect(node.entities.length).toBe(gpus.size * (gpuModels[pool.gpu].migProfiles[pool.mig.profile] as number));
        } else {
          expect(node.entities.some((e) => e.mig)).toBe(false);
        }
      }
    }
    // Every pool that can take a node below its maximum gets one.
    expect(new Set(f.gpuNodes.map((n) => n.pool.name))).toEqual(new Set(pools.filter((p) => p.scaling.max > 1).map((p) => p.name)));
  });

  it("serves the stack's models, and its thresholds drive the queue spike", () => {
    const config = configs.get(stack) as StackConfig;
    const f = fleet();
    const served = new Set(f.slots.map((s) => s.deployment.model.name));
    for (const model of Object.keys(config.models)) expect(served, model).toContain(model);
    expect(f.models.slice(0, Object.keys(config.models).length).map((m) => m.name)).toEqual(Object.keys(config.models));
    const limit = config.models[f.hit.queueModel]?.queueDepthMax ?? config.alerting.thresholds.queueDepthMax;
    expect(f.hit.queueSpikeDepth).toBeGreaterThan(limit);
  });

  it("pool-at-max-size lists the nodes that bring the pool nearest its maximum to it, in that scenario only", () => {
    const f = fleet();
    const { pool, nodes } = f.hit.maxedPool;
    const placed = f.gpuNodes.filter((n) => n.pool === pool).length;
    expect(placed + nodes.length).toBe(pool.maxNodes);
    const ksm = f.target("kube-state-metrics");
    const nodeLines = (text: string) => text.split("\n").filter((l) => l.startsWith("kube_node_labels{") && l.includes(`label_infermesh_io_pool="${pool.name}"`));
    expect(nodeLines(f.exposition(ksm))).toHaveLength(placed);
    f.setScenario("pool-at-max-size");
    expect(nodeLines(f.exposition(ksm))).toHaveLength(pool.maxNodes);
    expect(f.expectedAlerts("pool-at-max-size")).toEqual([
      { alertname: "InfermeshGpuPoolAtMaxSize", labels: { pool: pool.name } },
      ...nodes.map((n) => ({ alertname: "InfermeshGpuMetricsAbsent", labels: { node: n.name } })),
    ]);
  });
});

describe("fleet shape", () => {
  it("scales past the pools' maximum sizes only when asked (the bench)", () => {
    const settings = fleetSettings(configs.get("prod") as StackConfig);
    const capped = new Fleet({ settings, shape: { nodes: 200 } });
    expect(capped.gpuNodes.length).toBe(settings.pools.reduce((sum, p) => sum + p.maxNodes - 1, 0));
    const scaled = new Fleet({ settings, shape: { nodes: 200, belowPoolMax: false } });
    expect(scaled.gpuNodes.length).toBe(200);
    expect(new Set(scaled.gpuNodes.map((n) => n.name)).size).toBe(200);
  });

  it("shards routers by deployment and gossip by node when told to", () => {
    const f = new Fleet({
      settings: fleetSettings(configs.get("prod") as StackConfig),
      shape: { nodes: 12, routers: 8, routersPerDeployment: 2, gossipPeers: 4, belowPoolMax: false },
    });
    f.deployments.forEach((_, i) => expect(f.routersOf(i)).toHaveLength(2));
    const healthy = f.targets
      .filter((t) => t.kind === "router")
      .map(
        (t) =>
          f
            .exposition(t)
            .split("\n")
            .filter((l) => l.startsWith("infermesh_node_healthy{")).length,
      );
    expect(healthy.reduce((a, b) => a + b, 0)).toBe((f.gpuNodes.length + f.systemNodes.length) * 4);
  });

  it("holds barely used GPUs and keeps GPU pods Pending only when told to (the bench's idle and pending panels)", () => {
    const settings = fleetSettings(configs.get("prod") as StackConfig);
    const util = (f: Fleet) =>
      f.gpuNodes.flatMap((n) =>
        f
          .exposition(f.target("dcgm-exporter", n))
          .split("\n")
          .filter((l) => l.startsWith("DCGM_FI_PROF_GR_ENGINE_ACTIVE{") && l.includes(',pod="')),
      );
    const pending = (f: Fleet) =>
      f
        .exposition(f.target("kube-state-metrics"))
        .split("\n")
        .filter((l) => l.startsWith("kube_pod_status_phase{") && l.includes('phase="Pending"') && l.endsWith(" 1"));
    const plain = new Fleet({ settings, shape: { nodes: 6 } });
    expect(plain.slots.some((s) => s.deployment.idle)).toBe(false);
    expect(pending(plain)).toEqual([]);
    const bench = new Fleet({ settings, shape: { nodes: 6, idleEvery: 4, pendingPods: 2 } });
    const held = bench.gpuNodes.flatMap((n) => n.entities.filter((e) => e.deployment));
    expect(held.filter((e) => e.deployment?.idle)).toHaveLength(Math.floor(held.length / 4));
    const lowUtil = util(bench).filter((l) => Number(l.split(" ").pop()) < 0.05);
    expect(lowUtil).toHaveLength(Math.floor(held.length / 4));
    expect(pending(bench)).toHaveLength(2);
  });

  it("refuses a shape it cannot build, naming the key", () => {
    const settings = fleetSettings(configs.get("dev") as StackConfig);
    expect(() => new Fleet({ settings, shape: { nodes: 0 } })).toThrow("nodes must be an integer from 1 to 1024, got 0");
    expect(() => new Fleet({ settings, shape: { gpusPerNode: 9 } })).toThrow("gpusPerNode must be an integer from 1 to 8, got 9");
  });
});

/** Relative modules a file loads at runtime (`import type` is erased). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+"([^"]+)"/gm), ...text.matchAll(/^\s*import\s+"([^"]+)"/gm)].map((m) => m[1] as string);
}

describe("sim/", () => {
  it("loads no Pulumi provider or component module, directly or through what it imports", () => {
    const root = resolve(__dirname, "..");
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string, via: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of runtimeImports(file)) {
        if (spec.startsWith("@pulumi/") || spec.startsWith("@pulumiverse/")) offenders.push(`${via} -> ${file.slice(root.length + 1)} imports ${spec}`);
        if (spec.startsWith(".")) visit(`${resolve(dirname(file), spec)}.ts`, `${via} -> ${file.slice(root.length + 1)}`);
      }
    };
    const entries = readdirSync(join(root, "sim"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    expect(entries.length).toBeGreaterThan(5);
    for (const entry of entries) visit(join(root, "sim", entry), `sim/${entry}`);
    expect(offenders).toEqual([]);
  });
});
