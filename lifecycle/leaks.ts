/**
 * What a destroyed stack left behind in AWS. Pulumi removes what it created;
 * what Kubernetes created for it (load balancers for LoadBalancer Services,
 * EBS volumes for PVCs, ENIs of the VPC CNI, their security groups) is only
 * found by its tags. The Resource Groups Tagging API answers for every
 * service at once; the AWS CLI is called through {@link CommandRunner}.
 */
import { execFile } from "node:child_process";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with arguments (no shell); tests replace it. */
export interface CommandRunner {
  run(command: string, args: readonly string[]): Promise<CommandResult>;
}

export const execRunner: CommandRunner = {
  run: (command, args) =>
    new Promise((resolve) => {
      execFile(command, [...args], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 127 ? err.message : "") });
      });
    }),
};

/** One tag filter of `get-resources`: a key, optionally with values. */
export interface TagFilter {
  key: string;
  values?: string[];
}

export interface LeakQuery {
  stack: string;
  /** EKS cluster name; the program's default is `infermesh-<stack>`. */
  cluster: string;
  regions: string[];
}

export interface LeakedResource {
  arn: string;
  region: string;
  service: string;
  resourceType: string;
  id: string;
  name?: string;
  tags: Record<string, string>;
  /** The tag filters that found it. */
  matchedBy: string[];
}

export function defaultClusterName(stack: string): string {
  return `infermesh-${stack}`;
}

/**
 * The tags that mark a resource as the stack's: the AWS provider's default
 * `stack` tag (Pulumi-created resources, and instances, volumes and ENIs the
 * launch templates tag), the Kubernetes cloud-provider cluster tag (load
 * balancers, CSI volumes, their security groups), and the VPC CNI's ENI tag.
 */
export function leakFilters(query: Pick<LeakQuery, "stack" | "cluster">): TagFilter[] {
  return [{ key: "stack", values: [query.stack] }, { key: `kubernetes.io/cluster/${query.cluster}` }, { key: "cluster.k8s.amazonaws.com/name", values: [query.cluster] }];
}

function describeFilter(filter: TagFilter): string {
  return filter.values ? `${filter.key}=${filter.values.join("|")}` : filter.key;
}

/** `aws resourcegroupstaggingapi get-resources` arguments for one filter (the CLI pages through all results itself). */
export function getResourcesArgs(filter: TagFilter, region: string): string[] {
  const tagFilter = filter.values ? `Key=${filter.key},Values=${filter.values.join(",")}` : `Key=${filter.key}`;
  return ["resourcegroupstaggingapi", "get-resources", "--region", region, "--tag-filters", tagFilter, "--output", "json"];
}

interface TagMapping {
  ResourceARN?: unknown;
  Tags?: Array<{ Key?: unknown; Value?: unknown }>;
}

/** Service, resource type and id from an ARN, e.g. `ec2`, `volume`, `vol-0abc`. */
export function parseArn(arn: string): { service: string; region: string; resourceType: string; id: string } {
  const [, , service = "", region = "", , ...rest] = arn.split(":");
  const resource = rest.join(":");
  // `type/id` or `type:id`, whichever separator comes first (`log-group:/aws/eks/...`).
  const at = resource.search(/[/:]/);
  return at >= 0 ? { service, region, resourceType: resource.slice(0, at), id: resource.slice(at + 1) } : { service, region, resourceType: "", id: resource };
}

/** Parses `get-resources --output json`. */
export function parseGetResources(stdout: string): Array<{ arn: string; tags: Record<string, string> }> {
  const doc = JSON.parse(stdout) as { ResourceTagMappingList?: TagMapping[] };
  if (!Array.isArray(doc.ResourceTagMappingList)) throw new Error("unexpected get-resources output: no ResourceTagMappingList");
  return doc.ResourceTagMappingList.flatMap((m) => {
    if (typeof m.ResourceARN !== "string") return [];
    const tags = Object.fromEntries((m.Tags ?? []).filter((t) => typeof t.Key === "string").map((t) => [t.Key as string, typeof t.Value === "string" ? t.Value : ""]));
    return [{ arn: m.ResourceARN, tags }];
  });
}

export class AwsCliError extends Error {
  override readonly name = "AwsCliError";
}

/** Every resource in `regions` carrying one of the stack's tags, once each. */
export async function findLeaks(runner: CommandRunner, query: LeakQuery): Promise<LeakedResource[]> {
  const found = new Map<string, LeakedResource>();
  for (const region of query.regions) {
    for (const filter of leakFilters(query)) {
      const result = await runner.run("aws", getResourcesArgs(filter, region));
      if (result.code !== 0) {
        throw new AwsCliError(`aws ${getResourcesArgs(filter, region).join(" ")} exited with ${result.code}: ${result.stderr.trim() || "no output"}`);
      }
      for (const { arn, tags } of parseGetResources(result.stdout)) {
        const existing = found.get(arn);
        if (existing) {
          existing.matchedBy.push(describeFilter(filter));
          continue;
        }
        const parsed = parseArn(arn);
        found.set(arn, {
          arn,
          region: parsed.region || region,
          service: parsed.service,
          resourceType: parsed.resourceType,
          id: parsed.id,
          ...(tags.Name !== undefined ? { name: tags.Name } : {}),
          tags,
          matchedBy: [describeFilter(filter)],
        });
      }
    }
  }
  return dropTerminatedInstances(runner, [...found.values()]);
}

/**
 * Terminated EC2 instances stay visible, tags and all, for a while after their
 * node group is deleted; they are gone, not leaked.
 */
async function dropTerminatedInstances(runner: CommandRunner, resources: LeakedResource[]): Promise<LeakedResource[]> {
  const instances = resources.filter((r) => r.service === "ec2" && r.resourceType === "instance");
  if (instances.length === 0) return resources;
  const gone = new Set<string>();
  for (const region of new Set(instances.map((i) => i.region))) {
    const ids = instances.filter((i) => i.region === region).map((i) => i.id);
    const result = await runner.run("aws", [
      "ec2",
      "describe-instances",
      "--region",
      region,
      "--instance-ids",
      ...ids,
      "--query",
      "Reservations[].Instances[].[InstanceId,State.Name]",
      "--output",
      "json",
    ]);
    if (result.code !== 0) continue; // keep them listed: better a false alarm than a missed leak
    for (const pair of JSON.parse(result.stdout) as unknown[]) {
      if (Array.isArray(pair) && (pair[1] === "terminated" || pair[1] === "shutting-down")) gone.add(`${region}/${String(pair[0])}`);
    }
  }
  return resources.filter((r) => !(r.service === "ec2" && r.resourceType === "instance" && gone.has(`${r.region}/${r.id}`)));
}

export function formatLeaks(stack: string, leaks: readonly LeakedResource[]): string {
  if (leaks.length === 0) return `no AWS resources left for stack ${stack}`;
  const rows = [
    ["REGION", "TYPE", "ID", "NAME", "MATCHED BY"],
    ...[...leaks]
      .sort((a, b) => `${a.region}${a.service}${a.resourceType}${a.id}`.localeCompare(`${b.region}${b.service}${b.resourceType}${b.id}`))
      .map((l) => [l.region, `${l.service}:${l.resourceType}`, l.id, l.name ?? "-", l.matchedBy.join(", ")]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const table = rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
  return `${leaks.length} AWS resource(s) still tagged for stack ${stack}:\n${table}`;
}

/** Exit status of `npm run leaks`: 0 clean, 1 leftovers, 3 could not tell (the AWS CLI failed: a prerequisite, per the commands' convention). */
export async function leakCheck(runner: CommandRunner, query: LeakQuery, print: (text: string) => void): Promise<number> {
  try {
    const leaks = await findLeaks(runner, query);
    print(formatLeaks(query.stack, leaks));
    return leaks.length === 0 ? 0 : 1;
  } catch (err) {
    print(`could not list resources for stack ${query.stack}: ${err instanceof Error ? err.message : String(err)}`);
    return 3;
  }
}
