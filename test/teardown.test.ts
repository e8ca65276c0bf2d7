import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedResource } from "../synth/runtime";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

/**
 * Pulumi deletes in reverse dependency order, and a child goes before its
 * parent. So "A is destroyed before B" holds when A depends on B, directly,
 * through another dependency, or through an ancestor that does.
 */
function destroyedBefore(resources: readonly RecordedResource[], a: RecordedResource, b: RecordedResource): boolean {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const seen = new Set<string>();
  const queue = [a.urn];
  while (queue.length > 0) {
    const urn = queue.pop() as string;
    if (urn === b.urn) return true;
    if (seen.has(urn)) continue;
    seen.add(urn);
    const r = byUrn.get(urn);
    if (!r) continue;
    queue.push(...r.dependsOn);
    if (r.parent) queue.push(r.parent);
  }
  return false;
}

const raw = () => ({
  ...baseRaw(),
  gpuPools: {
    l4: { instanceTypes: ["g6.xlarge"], scaling: { min: 0, desired: 1, max: 4 } },
    h100: { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb", scaling: { min: 0, desired: 0, max: 2 } },
  },
  grafana: { mode: "in-cluster" },
});

let resources: RecordedResource[];
beforeAll(async () => {
  resources = await deploy(parse(raw()));
});

describe("teardown order by construction", () => {
  it("the stack creates no LoadBalancer Service or Ingress (nothing that leaves an ELB behind)", () => {
    expect(resources.filter((r) => /:(Service|Ingress)$/.test(r.type))).toEqual([]);
    for (const r of byType(resources, "kubernetes:helm.sh/v3:Release")) {
      const values = JSON.stringify(r.inputs.values ?? {});
      expect(values, r.name).not.toContain("LoadBalancer");
      expect(values, r.name).not.toMatch(/"ingress":\{"enabled":true/);
    }
  });

  it("every Helm release goes before every node group and the control plane", () => {
    const groups = byType(resources, "aws:eks/nodeGroup:NodeGroup");
    expect(groups.map((g) => g.name).sort()).toEqual(["cluster-system", "gpu-h100", "gpu-l4"]);
    const releases = byType(resources, "kubernetes:helm.sh/v3:Release");
    expect(releases.length).toBeGreaterThanOrEqual(6);
    const controlPlane = one(resources, "aws:eks/cluster:Cluster", "cluster");
    for (const release of releases) {
      expect(destroyedBefore(resources, release, controlPlane), `${release.name} before the control plane`).toBe(true);
      expect(destroyedBefore(resources, release, one(resources, "aws:eks/nodeGroup:NodeGroup", "cluster-system")), `${release.name} before system nodes`).toBe(true);
    }
    // The GPU agents run on the GPU nodes: they go before those groups.
    for (const name of ["telemetry-device-plugin", "telemetry-dcgm", "telemetry-mig"]) {
      for (const group of ["gpu-l4", "gpu-h100"]) {
        expect(
          destroyedBefore(resources, one(resources, "kubernetes:helm.sh/v3:Release", name), one(resources, "aws:eks/nodeGroup:NodeGroup", group)),
          `${name} before ${group}`,
        ).toBe(true);
      }
    }
  });

  it("Prometheus' volume is released while the EBS CSI driver still runs", () => {
    const kps = one(resources, "kubernetes:helm.sh/v3:Release", "telemetry-prometheus");
    expect(destroyedBefore(resources, kps, one(resources, "aws:eks/addon:Addon", "cluster-ebs-csi"))).toBe(true);
    // Its own delete is never skipped: uninstalling it is what deletes the claim (and so the EBS volume).
    expect(kps.deletedWith).toBeUndefined();
    expect((kps.inputs.values as any).prometheus.prometheusSpec.persistentVolumeClaimRetentionPolicy.whenDeleted).toBe("Delete");
  });

  it("node groups go before the VPC CNI add-on and their IAM policy attachments (no orphaned ENIs)", () => {
    const cni = one(resources, "aws:eks/addon:Addon", "cluster-vpc-cni");
    for (const group of byType(resources, "aws:eks/nodeGroup:NodeGroup")) {
      expect(destroyedBefore(resources, group, cni), group.name).toBe(true);
      const role = group.name === "cluster-system" ? "cluster-system-role" : `${group.name}-role`;
      for (const key of ["worker", "ecr"]) {
        expect(
          destroyedBefore(resources, group, one(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", `${role}-${key}`)),
          `${group.name} before ${role}-${key}`,
        ).toBe(true);
      }
    }
  });

  it("the control plane goes before the NAT gateways and routes its nodes need", () => {
    const controlPlane = one(resources, "aws:eks/cluster:Cluster", "cluster");
    for (const nat of byType(resources, "aws:ec2/natGateway:NatGateway")) expect(destroyedBefore(resources, controlPlane, nat)).toBe(true);
  });

  it("custom resources go before the operator that owns their CRDs", () => {
    const kps = one(resources, "kubernetes:helm.sh/v3:Release", "telemetry-prometheus");
    const custom = resources.filter((r) => r.type.startsWith("kubernetes:monitoring.coreos.com/"));
    expect(custom.length).toBeGreaterThanOrEqual(5);
    for (const r of custom) expect(destroyedBefore(resources, r, kps), r.name).toBe(true);
  });

  it("objects with nothing outside the cluster are deleted with it; cloud resources never are", () => {
    const controlPlane = one(resources, "aws:eks/cluster:Cluster", "cluster");
    const skipped = resources.filter((r) => r.deletedWith === controlPlane.urn).map((r) => `${r.type}::${r.name}`);
    expect(skipped).toEqual(
      expect.arrayContaining([
        "kubernetes:helm.sh/v3:Release::telemetry-device-plugin",
        "kubernetes:helm.sh/v3:Release::telemetry-dcgm",
        "kubernetes:helm.sh/v3:Release::telemetry-mig",
        "kubernetes:helm.sh/v3:Release::autoscaler",
        "kubernetes:helm.sh/v3:Release::grafana-grafana",
        "kubernetes:core/v1:Secret::grafana-admin",
        "kubernetes:core/v1:ConfigMap::grafana-datasource",
        "kubernetes:core/v1:ConfigMap::grafana-dashboard-overview",
        "kubernetes:core/v1:ConfigMap::alerting-grafana-rules",
        "kubernetes:monitoring.coreos.com/v1:PodMonitor::telemetry-scrape-dcgm-exporter",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule::alerting-recording",
        "kubernetes:core/v1:Namespace::telemetry-monitoring",
        "kubernetes:storage.k8s.io/v1:StorageClass::telemetry-prometheus-gp3",
      ]),
    );
    expect(skipped.filter((k) => k.startsWith("aws:"))).toEqual([]);
  });

  it("the in-cluster Grafana's content is Kubernetes objects that go with the cluster: no Grafana API call at teardown", () => {
    const controlPlane = one(resources, "aws:eks/cluster:Cluster", "cluster");
    expect(resources.filter((r) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana")).toEqual([]);
    const namespace = one(resources, "kubernetes:core/v1:Namespace", "telemetry-monitoring");
    const provisioning = resources.filter(
      (r) => /^kubernetes:core\/v1:(ConfigMap|Secret)$/.test(r.type) && r.parent?.match(/infermesh:grafana:InCluster|infermesh:monitoring:Alerting/),
    );
    expect(provisioning.map((r) => r.name).sort()).toEqual([
      "alerting-grafana-rules",
      "grafana-admin",
      "grafana-dashboard-gpuHealth",
      "grafana-dashboard-modelDrilldown",
      "grafana-dashboard-overview",
      "grafana-dashboard-routerBehavior",
      "grafana-dashboard-slo",
      "grafana-datasource",
    ]);
    for (const r of provisioning) {
      expect(r.deletedWith, r.name).toBe(controlPlane.urn);
      // Created in the monitoring namespace, so removed before it (when deleted one by one, on an attached cluster).
      expect(destroyedBefore(resources, r, namespace), `${r.name} before the namespace`).toBe(true);
    }
  });

  it("an attached cluster's objects are always deleted one by one", async () => {
    const attached = await deploy(parse({ ...raw(), cluster: { mode: "existing", name: "shared" } }));
    expect(attached.filter((r) => r.deletedWith !== undefined)).toEqual([]);
  });
});

describe("protection per environment", () => {
  it("prod protects the control plane, the metrics and Grafana workspaces (and the role the Grafana workspace runs as), and keeps volumes", async () => {
    const prod = { ...raw(), environment: "prod", telemetry: { backend: "amp" }, grafana: { mode: "managed" } } as Record<string, any>;
    prod.gpuPools = { l4: { instanceTypes: ["g6.xlarge"], scaling: { min: 1, desired: 1, max: 4 } } };
    const r = await deploy(parse(prod));
    expect(
      r
        .filter((x) => x.protect)
        .map((x) => `${x.type}::${x.name}`)
        .sort(),
    ).toEqual([
      "aws:amp/workspace:Workspace::telemetry-prometheus-amp",
      "aws:eks/cluster:Cluster::cluster",
      "aws:grafana/workspace:Workspace::grafana-workspace",
      "aws:iam/role:Role::grafana-workspace-role",
    ]);
    expect(one(r, "kubernetes:storage.k8s.io/v1:StorageClass", "telemetry-prometheus-gp3").inputs.reclaimPolicy).toBe("Retain");
  });

  it("ephemeral stacks protect nothing and delete their volumes", async () => {
    const r = await deploy(parse({ ...raw(), environment: "ephemeral", expiresAt: "2026-01-02T00:00:00Z", telemetry: { backend: "amp" } }));
    expect(r.filter((x) => x.protect)).toEqual([]);
    expect(r.filter((x) => x.retainOnDelete)).toEqual([]);
    expect(one(r, "kubernetes:storage.k8s.io/v1:StorageClass", "telemetry-prometheus-gp3").inputs.reclaimPolicy).toBe("Delete");
    expect(JSON.parse(one(r, "pulumi:providers:aws", "aws").inputs.defaultTags as string).tags["expires-at"]).toBe("2026-01-02T00:00:00Z");
  });
});
