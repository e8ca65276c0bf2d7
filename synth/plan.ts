import { redactSecrets, type RecordedResource } from "./runtime";

export interface PlanResource {
  type: string;
  name: string;
  urn: string;
  parent: string | null;
  custom: boolean;
  provider: string | null;
  protect: boolean;
  retainOnDelete: boolean;
  deletedWith: string | null;
  ignoreChanges: string[];
  dependsOn: string[];
  inputs: unknown;
}

export interface Plan {
  project: string;
  stack: string;
  resources: PlanResource[];
}

/** The reviewable plan: every registered resource, sorted by URN for stable diffs, secrets redacted. */
export function buildPlan(project: string, stack: string, resources: readonly RecordedResource[]): Plan {
  return {
    project,
    stack,
    resources: [...resources]
      .sort((a, b) => a.urn.localeCompare(b.urn))
      .map((r) => ({
        type: r.type,
        name: r.name,
        urn: r.urn,
        parent: r.parent ?? null,
        custom: r.custom,
        provider: r.provider ?? null,
        protect: r.protect,
        retainOnDelete: r.retainOnDelete,
        deletedWith: r.deletedWith ?? null,
        ignoreChanges: r.ignoreChanges,
        dependsOn: r.dependsOn,
        inputs: redactSecrets(r.inputs),
      })),
  };
}

/** A few lines a reviewer reads first: resources by type and each GPU pool's shape. */
export function summarizePlan(plan: Plan): string {
  const counts = new Map<string, number>();
  for (const r of plan.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  const lines = [`${plan.project}/${plan.stack}: ${plan.resources.length} resources`];
  for (const [type, count] of [...counts].sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${String(count).padStart(4)}  ${type}`);
  const pools = plan.resources.filter((r) => r.type === "aws:eks/nodeGroup:NodeGroup" && poolOf(r) !== undefined);
  lines.push(pools.length === 0 ? "GPU pools: none" : "GPU pools:");
  for (const r of pools.sort((a, b) => (poolOf(a) ?? "").localeCompare(poolOf(b) ?? ""))) {
    const inputs = r.inputs as {
      instanceTypes?: string[];
      capacityType?: string;
      scalingConfig?: { minSize: number; desiredSize: number; maxSize: number };
      labels?: Record<string, string>;
    };
    const s = inputs.scalingConfig;
    const mig = inputs.labels?.["nvidia.com/mig.config"];
    lines.push(
      `  ${poolOf(r)}: ${(inputs.instanceTypes ?? []).join(", ")} ${inputs.capacityType ?? "?"} min/desired/max ${s?.minSize}/${s?.desiredSize}/${s?.maxSize}${mig ? ` mig ${mig}` : ""}`,
    );
  }
  return lines.join("\n");
}

function poolOf(r: PlanResource): string | undefined {
  return (r.inputs as { labels?: Record<string, string> }).labels?.["infermesh.io/pool"];
}
