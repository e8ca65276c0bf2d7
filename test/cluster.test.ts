import { describe, expect, it } from "vitest";
import { accessPolicyArn } from "../components/clusterAccess";
import type { AccessLevel } from "../config";
import { readStackConfig } from "../lifecycle/deployPath";
import { projectRoot } from "../synth/synthesize";
import type { RecordedResource } from "../synth/runtime";
import { revealSecrets } from "../synth/runtime";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

const key = (r: RecordedResource) => `${r.type}::${r.name}`;

/** Everything a created cluster brings, independent of GPU pools. */
const createdClusterResources = [
  "aws:ec2/eip:Eip::cluster-vpc-nat-us-west-2a",
  "aws:ec2/internetGateway:InternetGateway::cluster-vpc-igw",
  "aws:ec2/launchTemplate:LaunchTemplate::cluster-system",
  "aws:ec2/natGateway:NatGateway::cluster-vpc-nat-us-west-2a",
  "aws:ec2/routeTable:RouteTable::cluster-vpc-private-us-west-2a",
  "aws:ec2/routeTable:RouteTable::cluster-vpc-private-us-west-2b",
  "aws:ec2/routeTable:RouteTable::cluster-vpc-public",
  "aws:ec2/routeTableAssociation:RouteTableAssociation::cluster-vpc-private-us-west-2a",
  "aws:ec2/routeTableAssociation:RouteTableAssociation::cluster-vpc-private-us-west-2b",
  "aws:ec2/routeTableAssociation:RouteTableAssociation::cluster-vpc-public-us-west-2a",
  "aws:ec2/routeTableAssociation:RouteTableAssociation::cluster-vpc-public-us-west-2b",
  "aws:ec2/subnet:Subnet::cluster-vpc-private-us-west-2a",
  "aws:ec2/subnet:Subnet::cluster-vpc-private-us-west-2b",
  "aws:ec2/subnet:Subnet::cluster-vpc-public-us-west-2a",
  "aws:ec2/subnet:Subnet::cluster-vpc-public-us-west-2b",
  "aws:ec2/vpc:Vpc::cluster-vpc",
  "aws:eks/addon:Addon::cluster-coredns",
  "aws:eks/addon:Addon::cluster-ebs-csi",
  "aws:eks/addon:Addon::cluster-kube-proxy",
  "aws:eks/addon:Addon::cluster-vpc-cni",
  "aws:eks/cluster:Cluster::cluster",
  "aws:eks/nodeGroup:NodeGroup::cluster-system",
  "aws:iam/openIdConnectProvider:OpenIdConnectProvider::cluster-oidc",
  "aws:iam/role:Role::cluster-control-plane",
  "aws:iam/role:Role::cluster-ebs-csi-irsa",
  "aws:iam/role:Role::cluster-system-role",
  "aws:iam/role:Role::cluster-vpc-cni-irsa",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::cluster-control-plane-cluster",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::cluster-ebs-csi-irsa-ebs",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::cluster-system-role-ecr",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::cluster-system-role-worker",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::cluster-vpc-cni-irsa-cni",
  "infermesh:cluster:Cluster::cluster",
  "infermesh:cluster:EksAddon::cluster-coredns",
  "infermesh:cluster:EksAddon::cluster-ebs-csi",
  "infermesh:cluster:EksAddon::cluster-kube-proxy",
  "infermesh:cluster:EksAddon::cluster-vpc-cni",
  "infermesh:compute:NodeRole::cluster-system-role",
  "infermesh:network:Vpc::cluster-vpc",
  "pulumi:providers:kubernetes::cluster-k8s",
];

/** The in-cluster telemetry pipeline with the default in-cluster backend. */
const telemetryResources = [
  "infermesh:monitoring:Telemetry::telemetry",
  "kubernetes:core/v1:Namespace::telemetry-monitoring",
  "kubernetes:core/v1:Namespace::telemetry-device-plugin",
  "infermesh:gpu:DevicePlugin::telemetry-device-plugin",
  "kubernetes:helm.sh/v3:Release::telemetry-device-plugin",
  "infermesh:gpu:DcgmExporter::telemetry-dcgm",
  "kubernetes:helm.sh/v3:Release::telemetry-dcgm",
  "infermesh:monitoring:PrometheusStack::telemetry-prometheus",
  "kubernetes:storage.k8s.io/v1:StorageClass::telemetry-prometheus-gp3",
  "kubernetes:helm.sh/v3:Release::telemetry-prometheus",
  "infermesh:monitoring:ScrapeTargets::telemetry-scrape",
  "kubernetes:monitoring.coreos.com/v1:PodMonitor::telemetry-scrape-dcgm-exporter",
  "kubernetes:monitoring.coreos.com/v1:PodMonitor::telemetry-scrape-infermesh-router",
  "kubernetes:monitoring.coreos.com/v1:PodMonitor::telemetry-scrape-infermesh-agent",
  "kubernetes:monitoring.coreos.com/v1:PodMonitor::telemetry-scrape-infermesh-adapter",
];

/** Alerting of a stack without Grafana: Prometheus evaluates, the in-cluster Alertmanager routes. */
/** The cost estimate and budget the policy pack reads (creates nothing). */
const costEstimate = "infermesh:cost:Budget::cost";

const alertingResources = [
  "infermesh:monitoring:Alerting::alerting",
  "infermesh:monitoring:PrometheusRules::alerting-recording",
  "kubernetes:monitoring.coreos.com/v1:PrometheusRule::alerting-recording",
  "infermesh:monitoring:PrometheusRules::alerting-alerts",
  "kubernetes:monitoring.coreos.com/v1:PrometheusRule::alerting-alerts",
  "kubernetes:core/v1:Secret::alerting-alertmanager",
];

/** Cluster Autoscaler, present with GPU pools unless disabled. */
const autoscalerResources = [
  "infermesh:cluster:ClusterAutoscaler::autoscaler",
  "aws:iam/role:Role::autoscaler-irsa",
  "aws:iam/rolePolicy:RolePolicy::autoscaler-irsa",
  "kubernetes:helm.sh/v3:Release::autoscaler",
];

/** Node-template tags are asserted in test/autoscaling.test.ts; here only the rest of the set. */
const withoutAsgTags = (keys: string[]) => keys.filter((k) => !k.startsWith("aws:autoscaling/tag:Tag::"));

const l4Pool = [
  "aws:ec2/launchTemplate:LaunchTemplate::gpu-l4",
  "aws:eks/nodeGroup:NodeGroup::gpu-l4",
  "aws:iam/role:Role::gpu-l4-role",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::gpu-l4-role-ecr",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment::gpu-l4-role-worker",
  "infermesh:compute:GpuNodeGroup::gpu-l4",
  "infermesh:compute:NodeRole::gpu-l4-role",
];

describe("created cluster", () => {
  it("registers exactly the VPC, control plane, OIDC, add-ons, system nodes and each pool", async () => {
    const resources = await deploy(parse(baseRaw()));
    expect(withoutAsgTags(resources.map(key)).sort()).toEqual(
      [...createdClusterResources, ...l4Pool, ...telemetryResources, ...alertingResources, ...autoscalerResources, "pulumi:providers:aws::aws", costEstimate].sort(),
    );
  });

  it("uses one tagged AWS provider for every AWS resource", async () => {
    const resources = await deploy(parse(baseRaw()));
    const provider = one(resources, "pulumi:providers:aws", "aws");
    expect(provider.inputs).toMatchObject({ region: "us-west-2", defaultTags: JSON.stringify({ tags: { project: "infermesh", stack: "dev", environment: "dev" } }) });
    const awsResources = resources.filter((r) => r.type.startsWith("aws:"));
    expect(awsResources.length).toBeGreaterThan(30);
    for (const r of awsResources) expect(r.provider, key(r)).toBe(`${provider.urn}::aws-id`);
  });

  it("configures the control plane, OIDC and add-ons", async () => {
    const resources = await deploy(parse(baseRaw()));
    const cluster = one(resources, "aws:eks/cluster:Cluster", "cluster");
    expect(cluster.inputs).toEqual({
      name: "infermesh-dev",
      version: "1.34",
      roleArn: "arn:aws:synth:000000000000:cluster-control-plane",
      vpcConfig: {
        subnetIds: ["cluster-vpc-private-us-west-2a-id", "cluster-vpc-private-us-west-2b-id", "cluster-vpc-public-us-west-2a-id", "cluster-vpc-public-us-west-2b-id"],
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
        publicAccessCidrs: ["0.0.0.0/0"],
      },
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
      bootstrapSelfManagedAddons: false,
      kubernetesNetworkConfig: { serviceIpv4Cidr: "172.20.0.0/16" },
      enabledClusterLogTypes: ["api", "audit", "authenticator"],
      deletionProtection: false,
      tags: { "infermesh.io/deploy-endpoint": "public", "infermesh.io/deploy-runner": "github-hosted" },
    });
    expect(one(resources, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster-oidc").inputs).toEqual({
      url: "https://oidc.eks.synth.invalid/id/cluster",
      clientIdLists: ["sts.amazonaws.com"],
    });
    expect(
      byType(resources, "aws:eks/addon:Addon")
        .map((r) => [r.name, r.inputs.addonName, r.inputs.serviceAccountRoleArn ?? null])
        .sort(),
    ).toEqual([
      ["cluster-coredns", "coredns", null],
      ["cluster-ebs-csi", "aws-ebs-csi-driver", "arn:aws:synth:000000000000:cluster-ebs-csi-irsa"],
      ["cluster-kube-proxy", "kube-proxy", null],
      ["cluster-vpc-cni", "vpc-cni", "arn:aws:synth:000000000000:cluster-vpc-cni-irsa"],
    ]);
    const ebsTrust = JSON.parse(one(resources, "aws:iam/role:Role", "cluster-ebs-csi-irsa").inputs.assumeRolePolicy as string);
    expect(ebsTrust.Statement[0].Condition.StringEquals).toEqual({
      "oidc.eks.synth.invalid/id/cluster:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
      "oidc.eks.synth.invalid/id/cluster:aud": "sts.amazonaws.com",
    });
  });

  it("orders nodes after the networking add-ons, and workload add-ons after the system nodes", async () => {
    const resources = await deploy(parse(baseRaw()));
    const urn = (type: string, name: string) => one(resources, type, name).urn;
    const networking = [urn("aws:eks/addon:Addon", "cluster-vpc-cni"), urn("aws:eks/addon:Addon", "cluster-kube-proxy")];
    for (const group of ["cluster-system", "gpu-l4"]) {
      expect(one(resources, "aws:eks/nodeGroup:NodeGroup", group).dependsOn).toEqual(expect.arrayContaining(networking));
    }
    for (const addon of ["cluster-coredns", "cluster-ebs-csi"]) {
      expect(one(resources, "aws:eks/addon:Addon", addon).dependsOn).toContain(urn("aws:eks/nodeGroup:NodeGroup", "cluster-system"));
    }
  });

  it("lays out subnets per zone with discovery tags", async () => {
    const resources = await deploy(parse(baseRaw()));
    expect(
      byType(resources, "aws:ec2/subnet:Subnet")
        .map((r) => [r.name, r.inputs.availabilityZone, r.inputs.cidrBlock, r.inputs.tags])
        .sort(),
    ).toEqual([
      [
        "cluster-vpc-private-us-west-2a",
        "us-west-2a",
        "10.40.0.0/19",
        { Name: "cluster-vpc-private-us-west-2a", "kubernetes.io/role/internal-elb": "1", "kubernetes.io/cluster/infermesh-dev": "shared" },
      ],
      [
        "cluster-vpc-private-us-west-2b",
        "us-west-2b",
        "10.40.32.0/19",
        { Name: "cluster-vpc-private-us-west-2b", "kubernetes.io/role/internal-elb": "1", "kubernetes.io/cluster/infermesh-dev": "shared" },
      ],
      [
        "cluster-vpc-public-us-west-2a",
        "us-west-2a",
        "10.40.128.0/21",
        { Name: "cluster-vpc-public-us-west-2a", "kubernetes.io/role/elb": "1", "kubernetes.io/cluster/infermesh-dev": "shared" },
      ],
      [
        "cluster-vpc-public-us-west-2b",
        "us-west-2b",
        "10.40.136.0/21",
        { Name: "cluster-vpc-public-us-west-2b", "kubernetes.io/role/elb": "1", "kubernetes.io/cluster/infermesh-dev": "shared" },
      ],
    ]);
  });

  it("builds a kubeconfig that authenticates through aws eks get-token, held as a secret", async () => {
    const resources = await deploy(parse(baseRaw()));
    const provider = one(resources, "pulumi:providers:kubernetes", "cluster-k8s");
    const kubeconfig = JSON.parse(revealSecrets(provider.inputs.kubeconfig) as string);
    expect(provider.inputs.kubeconfig).not.toBeTypeOf("string");
    expect(kubeconfig.clusters).toEqual([{ name: "infermesh-dev", cluster: { server: "https://infermesh-dev.eks.synth.invalid", "certificate-authority-data": "c3ludGgtY2E=" } }]);
    expect(kubeconfig.users[0].user.exec).toEqual({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", "infermesh-dev", "--region", "us-west-2", "--output", "json"],
      interactiveMode: "Never",
    });
  });
});

describe("existing cluster", () => {
  const existing = () => ({ ...baseRaw(), cluster: { mode: "existing", name: "shared-gpu" } });

  it("creates no cluster resources, only the pools, a Kubernetes provider and telemetry", async () => {
    const resources = await deploy(parse(existing()));
    expect(withoutAsgTags(resources.map(key)).sort()).toEqual(
      [
        "infermesh:cluster:Cluster::cluster",
        "pulumi:providers:kubernetes::cluster-k8s",
        "pulumi:providers:aws::aws",
        ...l4Pool,
        ...telemetryResources,
        ...alertingResources,
        ...autoscalerResources,
        costEstimate,
        // The attached cluster's aws-node may rely on the node role for ENIs.
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment::gpu-l4-role-cni",
      ].sort(),
    );
  });

  it("places pools in the cluster's subnets, or in the configured ones", async () => {
    const fromCluster = await deploy(parse(existing()));
    expect(one(fromCluster, "aws:eks/nodeGroup:NodeGroup", "gpu-l4").inputs).toMatchObject({
      clusterName: "shared-gpu",
      subnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b"],
    });
    const raw = existing();
    raw.cluster = { ...raw.cluster, subnetIds: ["subnet-0123456789abcdef0"] } as typeof raw.cluster;
    const configured = await deploy(parse(raw));
    expect(one(configured, "aws:eks/nodeGroup:NodeGroup", "gpu-l4").inputs.subnetIds).toEqual(["subnet-0123456789abcdef0"]);
  });
});

describe("cluster access", () => {
  const oncallArn = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Oncall_0a1b2c3d4e5f6a7b";
  const withAccess = () => ({
    ...baseRaw(),
    access: {
      "ci-preview": { principalArn: "arn:aws:iam::111122223333:role/infermesh-ci-preview" },
      oncall: { principalArn: oncallArn, policies: { view: "cluster", edit: ["serving", "monitoring"] }, kubernetesGroups: ["infermesh:node-operators"] },
    },
  });

  it("creates nothing for access without entries: the creator is the only admin", async () => {
    const resources = await deploy(parse(baseRaw()));
    expect(resources.filter((r) => r.type.startsWith("aws:eks/access") || r.type === "infermesh:cluster:ClusterAccess")).toEqual([]);
  });

  it("gives each principal one access entry and one policy association per level, named after its key", async () => {
    const resources = await deploy(parse(withAccess()));
    const access = resources.filter((r) => r.type.startsWith("aws:eks/access") || r.type === "infermesh:cluster:ClusterAccess");
    expect(access.map(key).sort()).toEqual([
      "aws:eks/accessEntry:AccessEntry::access-ci-preview",
      "aws:eks/accessEntry:AccessEntry::access-oncall",
      "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::access-ci-preview-view",
      "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::access-oncall-edit",
      "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::access-oncall-view",
      "infermesh:cluster:ClusterAccess::access",
    ]);
    expect(one(resources, "aws:eks/accessEntry:AccessEntry", "access-ci-preview").inputs).toEqual({
      clusterName: "infermesh-dev",
      principalArn: "arn:aws:iam::111122223333:role/infermesh-ci-preview",
      type: "STANDARD",
    });
    expect(one(resources, "aws:eks/accessEntry:AccessEntry", "access-oncall").inputs).toEqual({
      clusterName: "infermesh-dev",
      principalArn: oncallArn,
      type: "STANDARD",
      kubernetesGroups: ["infermesh:node-operators"],
    });
    // Least privilege by default: an entry that names no policy may only view.
    expect(one(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "access-ci-preview-view").inputs).toEqual({
      clusterName: "infermesh-dev",
      principalArn: "arn:aws:iam::111122223333:role/infermesh-ci-preview",
      policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
      accessScope: { type: "cluster" },
    });
    expect(one(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "access-oncall-edit").inputs).toEqual({
      clusterName: "infermesh-dev",
      principalArn: oncallArn,
      policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
      accessScope: { type: "namespace", namespaces: ["serving", "monitoring"] },
    });
  });

  it("associates policies after their entry exists and deletes entries with the control plane", async () => {
    const resources = await deploy(parse(withAccess()));
    const cluster = one(resources, "aws:eks/cluster:Cluster", "cluster");
    const entry = one(resources, "aws:eks/accessEntry:AccessEntry", "access-oncall");
    for (const level of ["view", "edit"]) {
      expect(one(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", `access-oncall-${level}`).dependsOn).toContain(entry.urn);
    }
    expect(one(resources, "infermesh:cluster:ClusterAccess", "access").deletedWith).toBe(cluster.urn);
    for (const r of resources.filter((x) => x.type.startsWith("aws:eks/access"))) expect(r.provider, key(r)).toMatch(/::aws-id$/);
  });

  it("uses the partition of the region in policy ARNs", async () => {
    const raw: Record<string, any> = withAccess();
    raw.region = "us-gov-west-1";
    raw.cluster.vpc.availabilityZones = ["us-gov-west-1a", "us-gov-west-1b"];
    raw.access = { viewers: { principalArn: "arn:aws-us-gov:iam::111122223333:role/viewers" } };
    const resources = await deploy(parse(raw));
    expect(one(resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "access-viewers-view").inputs.policyArn).toBe(
      "arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
    );
  });
});

describe("deploy path", () => {
  const privateRaw = () => ({
    ...baseRaw(),
    cluster: { ...(baseRaw().cluster as object), endpointPublicAccess: false },
    deploy: { runsOn: ["self-hosted", "linux", "infermesh-dev"], endpoint: "private", sourceCidrs: ["10.200.16.0/24", "10.201.0.0/20"] },
  });

  it("admits self-hosted runners to a private endpoint on 443, one rule per range named after it", async () => {
    const resources = await deploy(parse(privateRaw()));
    const cluster = one(resources, "aws:eks/cluster:Cluster", "cluster");
    expect(cluster.inputs.vpcConfig).toMatchObject({ endpointPrivateAccess: true, endpointPublicAccess: false });
    expect(cluster.inputs.tags).toEqual({ "infermesh.io/deploy-endpoint": "private", "infermesh.io/deploy-runner": "self-hosted" });
    const rules = byType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    expect(rules.map((r) => [r.name, r.inputs])).toEqual([
      [
        "cluster-api-from-10-200-16-0-24",
        {
          securityGroupId: "sg-synth-infermesh-dev",
          cidrIpv4: "10.200.16.0/24",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          description: "Kubernetes API for CI runners (infermesh:deploy.sourceCidrs)",
        },
      ],
      [
        "cluster-api-from-10-201-0-0-20",
        {
          securityGroupId: "sg-synth-infermesh-dev",
          cidrIpv4: "10.201.0.0/20",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          description: "Kubernetes API for CI runners (infermesh:deploy.sourceCidrs)",
        },
      ],
    ]);
    for (const rule of rules) {
      expect(rule.dependsOn).toContain(cluster.urn);
      expect(rule.deletedWith).toBe(cluster.urn);
    }
  });

  it("opens nothing for runners that use the public endpoint", async () => {
    const raw = { ...baseRaw(), deploy: { runsOn: ["self-hosted", "infermesh"], sourceCidrs: ["203.0.113.0/24"] } };
    const resources = await deploy(parse(raw));
    expect(byType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")).toEqual([]);
    expect(one(resources, "aws:eks/cluster:Cluster", "cluster").inputs.tags).toEqual({ "infermesh.io/deploy-endpoint": "public", "infermesh.io/deploy-runner": "self-hosted" });
  });
});

describe("access in the stack files", () => {
  const stacks = ["dev", "staging", "prod"];
  const accessOf = async (stack: string) => (await readStackConfig(stack, projectRoot)).access;

  it.each(stacks)("%s lets the CI preview role only view: enough for pulumi preview", async (stack) => {
    // pulumi/pulumi-kubernetes v4.32.0 (the newest tag mirrored; the package pins 4.34.2),
    // provider/pkg/provider/provider.go: Create and Update fall back to a client-side preview when the
    // server-side dry run is Forbidden (`if req.GetPreview() && apierrors.IsForbidden(awaitErr)`), and
    // provider/pkg/provider/helm_release.go renders charts ClientOnly and diffs releases from their inputs.
    // So a view-only role previews every Kubernetes object; it only needs to authenticate.
    const access = await accessOf(stack);
    expect(access["ci-preview"]?.policies).toEqual({ view: "cluster" });
  });

  it.each(stacks)("%s grants each principal each policy once", async (stack) => {
    // hashicorp/terraform-provider-aws internal/service/eks/access_policy_association.go (commit 01f43111):
    // an association's ID is cluster#principal#policy and access_scope is ForceNew, so a principal holds one
    // scope per policy; the config's level → scope map cannot express two.
    const pairs = Object.values(await accessOf(stack)).flatMap((e) => Object.keys(e.policies).map((level) => `${e.principalArn} ${accessPolicyArn("aws", level as AccessLevel)}`));
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs.length).toBeGreaterThan(0);
  });
});
