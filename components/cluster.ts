import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { systemNodeLabels } from "../domain/scheduling";
import type { CreateClusterConfig, DeployPathConfig, ExistingClusterConfig } from "../config";
import { EksAddon } from "./eksAddon";
import type { NatGatewayLayout } from "../domain/environments";
import { serviceAssumeRolePolicy } from "./iam";
import { eksKubeconfig } from "./kubeconfig";
import { nodeLaunchTemplateArgs } from "./launchTemplate";
import { NodeRole } from "./nodeRole";
import { Vpc } from "./vpc";

export interface ClusterArgs {
  /** Create a cluster (with its VPC) or attach to an existing one by name. */
  config: CreateClusterConfig | ExistingClusterConfig;
  region: string;
  /** NAT layout of a created VPC. */
  natGateways: NatGatewayLayout;
  /** Protect the control plane from deletion (Pulumi `protect` and EKS deletion protection). */
  protect: boolean;
  /** Tags for instances and volumes launched by node groups (provider default tags do not reach them). */
  tags: Record<string, string>;
  /** How CI reaches the Kubernetes API: recorded on a created control plane, and its runners admitted to a private endpoint. */
  deploy: DeployPathConfig;
}

/**
 * Tags on a created control plane saying how CI reaches it; the policy pack
 * (deploy-path-reaches-cluster) checks the endpoint settings against them.
 */
export const deployPathTags = { endpoint: "infermesh.io/deploy-endpoint", runner: "infermesh.io/deploy-runner" } as const;

/** A stable child-name part for a CIDR: `10.200.16.0/24` → `10-200-16-0-24`. */
export const cidrKey = (cidr: string) => cidr.replace(/[./]/g, "-");

/**
 * The EKS cluster GPU pools join: either created here (VPC, control plane,
 * OIDC provider, core add-ons, a small system node group) or an existing
 * cluster looked up by name. Either way it exposes the same outputs and a
 * Kubernetes provider for in-cluster components.
 */
export class Cluster extends pulumi.ComponentResource {
  static readonly type = "infermesh:cluster:Cluster";
  readonly name: pulumi.Output<string>;
  /** Kubernetes minor version, e.g. `1.34`. */
  readonly version: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;
  readonly certificateAuthority: pulumi.Output<string>;
  readonly oidcIssuer: pulumi.Output<string>;
  readonly oidcProviderArn: pulumi.Output<string>;
  /** Subnets GPU node groups are placed in. */
  readonly nodeSubnetIds: pulumi.Output<string[]>;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  /**
   * What node groups must depend on: the networking add-ons a node needs to
   * become Ready, so that on destroy the nodes (and their ENIs) are gone before
   * the VPC CNI is removed.
   */
  readonly nodeDependencies: pulumi.Resource[];
  /**
   * What in-cluster workloads need before they can start: somewhere to run
   * (system nodes), DNS, and the EBS CSI driver for volumes. Empty for an
   * attached cluster, which already has them.
   */
  readonly workloadDependencies: pulumi.Resource[];
  /**
   * The control plane, when this stack created it. In-cluster objects with
   * nothing outside the cluster are `deletedWith` it: destroying the whole
   * cluster removes them anyway, so their own deletes are skipped.
   */
  readonly controlPlane?: aws.eks.Cluster;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Cluster.type, name, {}, opts);
    const created = args.config.mode === "create" ? this.create(name, args.config, args) : this.attach(args.config);
    this.name = created.name;
    this.version = created.version;
    this.endpoint = created.endpoint;
    this.certificateAuthority = created.certificateAuthority;
    this.oidcIssuer = created.oidcIssuer;
    this.oidcProviderArn = created.oidcProviderArn;
    this.nodeSubnetIds = created.nodeSubnetIds;
    this.nodeDependencies = created.nodeDependencies;
    this.workloadDependencies = created.workloadDependencies;
    if (created.controlPlane) this.controlPlane = created.controlPlane;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.name, this.endpoint, this.certificateAuthority])
        .apply(([clusterName, endpoint, certificateAuthority]) => eksKubeconfig({ clusterName, endpoint, certificateAuthority, region: args.region })),
    );
    this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig, enableServerSideApply: true }, { parent: this });
    this.registerOutputs({ name: this.name, endpoint: this.endpoint, kubeconfig: this.kubeconfig });
  }

  private create(name: string, config: CreateClusterConfig, args: ClusterArgs) {
    const parent = { parent: this };
    const vpc = new Vpc(`${name}-vpc`, { cidr: config.vpc.cidr, subnets: config.vpc.subnets, natGateways: args.natGateways, clusterName: config.name }, parent);

    const role = new aws.iam.Role(`${name}-control-plane`, { assumeRolePolicy: serviceAssumeRolePolicy("eks.amazonaws.com") }, parent);
    const rolePolicy = new aws.iam.RolePolicyAttachment(`${name}-control-plane-cluster`, { role: role.name, policyArn: aws.iam.ManagedPolicy.AmazonEKSClusterPolicy }, parent);
    const cluster = new aws.eks.Cluster(
      name,
      {
        name: config.name,
        version: config.kubernetesVersion,
        roleArn: role.arn,
        vpcConfig: {
          subnetIds: pulumi.all([...vpc.privateSubnetIds, ...vpc.publicSubnetIds]),
          endpointPrivateAccess: true,
          endpointPublicAccess: config.endpointPublicAccess,
          ...(config.endpointPublicAccess ? { publicAccessCidrs: config.publicAccessCidrs } : {}),
        },
        accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
        // The stack installs VPC CNI, kube-proxy and CoreDNS as managed add-ons
        // below, so EKS must not also install unmanaged copies.
        bootstrapSelfManagedAddons: false,
        kubernetesNetworkConfig: { serviceIpv4Cidr: config.serviceCidr },
        enabledClusterLogTypes: ["api", "audit", "authenticator"],
        deletionProtection: args.protect,
        tags: { [deployPathTags.endpoint]: args.deploy.endpoint, [deployPathTags.runner]: args.deploy.runner },
      },
      // Nodes need NAT egress until the control plane and node groups are gone.
      { parent: this, protect: args.protect, dependsOn: [rolePolicy, ...vpc.egress] },
    );
    // A private endpoint answers only what its security group admits (EKS's cluster security group admits only
    // itself); CI runners inside the VPC or a routed network are let in on 443, one rule per configured range.
    if (args.deploy.endpoint === "private") {
      for (const cidr of args.deploy.sourceCidrs) {
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-api-from-${cidrKey(cidr)}`,
          {
            securityGroupId: cluster.vpcConfig.clusterSecurityGroupId,
            cidrIpv4: cidr,
            ipProtocol: "tcp",
            fromPort: 443,
            toPort: 443,
            description: "Kubernetes API for CI runners (infermesh:deploy.sourceCidrs)",
          },
          { parent: this, deletedWith: cluster },
        );
      }
    }
    const oidcIssuer = cluster.identities.apply((ids) => ids[0]?.oidcs?.[0]?.issuer ?? "");
    const oidc = new aws.iam.OpenIdConnectProvider(`${name}-oidc`, { url: oidcIssuer, clientIdLists: ["sts.amazonaws.com"] }, parent);
    const irsa = (namespace: string, serviceAccount: string, policies: Record<string, string>) => ({
      namespace,
      name: serviceAccount,
      policies,
      oidcProviderArn: oidc.arn,
      oidcIssuer,
    });

    // Networking add-ons first: a node cannot become Ready without them.
    const vpcCni = new EksAddon(
      `${name}-vpc-cni`,
      { clusterName: cluster.name, addonName: "vpc-cni", serviceAccount: irsa("kube-system", "aws-node", { cni: aws.iam.ManagedPolicy.AmazonEKS_CNI_Policy }) },
      parent,
    );
    const kubeProxy = new EksAddon(`${name}-kube-proxy`, { clusterName: cluster.name, addonName: "kube-proxy" }, parent);
    const nodeDependencies = [vpcCni, kubeProxy];

    const systemRole = new NodeRole(`${name}-system-role`, {}, parent);
    const systemTemplate = new aws.ec2.LaunchTemplate(
      `${name}-system`,
      nodeLaunchTemplateArgs({ diskSizeGiB: config.systemNodes.diskSizeGiB, amiFamily: "standard", tags: args.tags }),
      parent,
    );
    const systemNodes = new aws.eks.NodeGroup(
      `${name}-system`,
      {
        clusterName: cluster.name,
        nodeRoleArn: systemRole.arn,
        subnetIds: pulumi.all(vpc.privateSubnetIds),
        amiType: "AL2023_x86_64_STANDARD",
        capacityType: "ON_DEMAND",
        instanceTypes: config.systemNodes.instanceTypes,
        scalingConfig: { desiredSize: config.systemNodes.scaling.desired, minSize: config.systemNodes.scaling.min, maxSize: config.systemNodes.scaling.max },
        labels: { ...systemNodeLabels },
        launchTemplate: { id: systemTemplate.id, version: systemTemplate.latestVersion.apply(String) },
        updateConfig: { maxUnavailable: 1 },
      },
      { parent: this, dependsOn: [...systemRole.attachments, ...nodeDependencies], ignoreChanges: ["scalingConfig.desiredSize"] },
    );

    // Workload add-ons run as pods, so they wait for the system nodes.
    const coredns = new EksAddon(`${name}-coredns`, { clusterName: cluster.name, addonName: "coredns", dependsOn: [systemNodes] }, parent);
    const ebsCsi = new EksAddon(
      `${name}-ebs-csi`,
      {
        clusterName: cluster.name,
        addonName: "aws-ebs-csi-driver",
        serviceAccount: irsa("kube-system", "ebs-csi-controller-sa", { ebs: aws.iam.ManagedPolicy.AmazonEBSCSIDriverPolicy }),
        dependsOn: [systemNodes],
      },
      parent,
    );

    return {
      name: cluster.name,
      version: pulumi.output(config.kubernetesVersion as string),
      endpoint: cluster.endpoint,
      certificateAuthority: cluster.certificateAuthority.apply((ca) => ca.data ?? ""),
      oidcIssuer,
      oidcProviderArn: oidc.arn,
      nodeSubnetIds: pulumi.all(vpc.privateSubnetIds),
      nodeDependencies,
      workloadDependencies: [systemNodes, coredns, ebsCsi] as pulumi.Resource[],
      controlPlane: cluster as aws.eks.Cluster | undefined,
    };
  }

  private attach(config: ExistingClusterConfig) {
    const cluster = aws.eks.getClusterOutput({ name: config.name }, { parent: this });
    const oidcIssuer = cluster.identities.apply((ids) => ids[0]?.oidcs?.[0]?.issuer ?? "");
    const oidc = aws.iam.getOpenIdConnectProviderOutput({ url: oidcIssuer }, { parent: this });
    return {
      name: cluster.name,
      version: cluster.version,
      endpoint: cluster.endpoint,
      certificateAuthority: cluster.certificateAuthorities.apply((cas) => cas[0]?.data ?? ""),
      oidcIssuer,
      oidcProviderArn: oidc.arn,
      nodeSubnetIds: config.subnetIds ? pulumi.output(config.subnetIds) : cluster.vpcConfig.subnetIds,
      nodeDependencies: [] as pulumi.Resource[],
      workloadDependencies: [] as pulumi.Resource[],
      controlPlane: undefined as aws.eks.Cluster | undefined,
    };
  }
}
