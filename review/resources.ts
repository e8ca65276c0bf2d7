/**
 * Resources base → head, by URN (the program names children from stable keys,
 * so a URN is a resource's identity): added, removed, replaced or updated,
 * with each changed input. Whether a change replaces a resource is the
 * provider's decision; `replacingInputs` holds it for the types this stack
 * creates whose replacement matters (see the sources named there).
 */
import { flattenKeyed, isUnder, leafChanges, type LeafChange } from "./keyed";
import type { PlanResource, Render } from "./render";

/**
 * Inputs whose change makes the provider replace the resource rather than
 * update it (Terraform's `ForceNew`, which the bridged Pulumi providers keep),
 * as paths of the flattened inputs; a path matches itself and everything
 * under it. Read from the providers' sources:
 * - hashicorp/terraform-provider-aws (v6 line, which @pulumi/aws 7 bridges):
 *   internal/service/eks/node_group.go, eks/cluster.go, eks/addon.go,
 *   ec2/ec2_launch_template.go, iam/role.go, ec2/vpc_.go, ec2/vpc_subnet.go,
 *   amp/workspace.go, grafana/workspace.go;
 * - pulumi/pulumi-kubernetes provider/pkg/provider/helm_release.go
 *   (`forceNewFields := []string{".name", ".namespace"}`, v4.32.0 = master);
 * - grafana/terraform-provider-grafana v4.45.1 (the files @pulumiverse/grafana
 *   2.x bridges): internal/resources/grafana/resource_dashboard.go (a new
 *   `uid` inside configJson), resource_folder.go, resource_alerting_rule_group.go,
 *   resource_alerting_contact_point.go, and `org_id` on all of them.
 * test/review.test.ts pins these as a table.
 */
export const replacingInputs: Readonly<Record<string, readonly string[]>> = {
  "aws:eks/nodeGroup:NodeGroup": [
    "amiType",
    "capacityType",
    "clusterName",
    "diskSize",
    "instanceTypes",
    "nodeGroupName",
    "nodeGroupNamePrefix",
    "nodeRoleArn",
    "remoteAccess",
    "subnetIds",
    // The template's identity; its version is a rolling update in place.
    "launchTemplate.id",
    "launchTemplate.name",
  ],
  // vpcConfig (subnets included), version and logging update in place on the v6 line.
  "aws:eks/cluster:Cluster": [
    "name",
    "roleArn",
    "bootstrapSelfManagedAddons",
    "accessConfig.bootstrapClusterCreatorAdminPermissions",
    "kubernetesNetworkConfig.ipFamily",
    "kubernetesNetworkConfig.serviceIpv4Cidr",
    "outpostConfig",
  ],
  // Every other change is a new version of the same template.
  "aws:ec2/launchTemplate:LaunchTemplate": ["name", "namePrefix"],
  // The trust policy updates in place.
  "aws:iam/role:Role": ["name", "namePrefix", "path"],
  "aws:eks/addon:Addon": ["addonName", "clusterName", "namespaceConfig"],
  "aws:ec2/vpc:Vpc": ["cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"],
  "aws:ec2/subnet:Subnet": ["availabilityZone", "availabilityZoneId", "cidrBlock", "vpcId", "ipv6Native", "outpostArn"],
  "aws:amp/workspace:Workspace": ["kmsKeyArn"],
  "aws:grafana/workspace:Workspace": ["authenticationProviders"],
  "kubernetes:helm.sh/v3:Release": ["name", "namespace"],
  "grafana:oss/dashboard:Dashboard": ["orgId", "configJson{}.uid"],
  "grafana:oss/folder:Folder": ["orgId", "uid"],
  "grafana:alerting/ruleGroup:RuleGroup": ["orgId", "name", "folderUid"],
  "grafana:alerting/contactPoint:ContactPoint": ["orgId", "name", "disableProvenance"],
};

export type ResourceChangeKind = "added" | "removed" | "replaced" | "updated";

export interface ResourceChange {
  urn: string;
  type: string;
  name: string;
  kind: ResourceChangeKind;
  /** Protected in the base (or, when added, in the head). */
  protect: boolean;
  changes: (LeafChange & { replaces: boolean })[];
}

/** Whether changing the input at `path` makes the provider replace a resource of `type`. */
export function replaces(type: string, path: string): boolean {
  return (replacingInputs[type] ?? []).some((p) => isUnder(path, p));
}

function changeOf(before: PlanResource | undefined, after: PlanResource | undefined): ResourceChange | undefined {
  const r = (after ?? before) as PlanResource;
  const base = { urn: r.urn, type: r.type, name: r.name };
  if (!before) return { ...base, kind: "added", protect: r.protect, changes: [] };
  if (!after) return { ...base, kind: "removed", protect: before.protect, changes: [] };
  const changes = leafChanges(flattenKeyed(before.inputs), flattenKeyed(after.inputs)).map((c) => ({ ...c, replaces: replaces(r.type, c.path) }));
  const protectChanged = before.protect !== after.protect;
  if (changes.length === 0 && !protectChanged) return undefined;
  const all = protectChanged ? [...changes, { path: "(protect)", before: String(before.protect), after: String(after.protect), replaces: false }] : changes;
  return { ...base, kind: changes.some((c) => c.replaces) ? "replaced" : "updated", protect: before.protect, changes: all };
}

/** Component resources (no inputs of their own) are left out: their children carry the change. */
export function diffResources(base: Render["resources"], head: Render["resources"]): ResourceChange[] {
  const custom = (m: Render["resources"]) => new Map([...m].filter(([, r]) => !r.type.startsWith("infermesh:")));
  const a = custom(base);
  const b = custom(head);
  const urns = [...new Set([...a.keys(), ...b.keys()])].sort();
  return urns.flatMap((urn) => {
    const c = changeOf(a.get(urn), b.get(urn));
    return c ? [c] : [];
  });
}
