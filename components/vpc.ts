import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ZoneSubnets } from "../domain/cidr";
import type { NatGatewayLayout } from "../domain/environments";

export interface VpcArgs {
  cidr: string;
  /** Private and public CIDR per availability zone; children are named after the zone. */
  subnets: Record<string, ZoneSubnets>;
  natGateways: NatGatewayLayout;
  /** Tagged on subnets so EKS and load balancer controllers can discover them. */
  clusterName: string;
}

/** A VPC for one EKS cluster: public subnets for load balancers and NAT, private subnets for nodes and pods. */
export class Vpc extends pulumi.ComponentResource {
  static readonly type = "infermesh:network:Vpc";
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly publicSubnetIds: pulumi.Output<string>[];
  /** Everything whose deletion must wait for the cluster (routes, NAT): nodes need egress until they are gone. */
  readonly egress: pulumi.Resource[];

  constructor(name: string, args: VpcArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Vpc.type, name, {}, opts);
    const parent = { parent: this };
    // Sorted so the single NAT gateway's zone does not move when the zone list is reordered.
    const zones = Object.keys(args.subnets).sort();
    const clusterTag = { [`kubernetes.io/cluster/${args.clusterName}`]: "shared" };

    const vpc = new aws.ec2.Vpc(name, { cidrBlock: args.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name } }, parent);
    const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: name } }, parent);
    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags: { Name: `${name}-public` } },
      parent,
    );

    const publicSubnets = new Map<string, aws.ec2.Subnet>();
    for (const zone of zones) {
      const subnet = new aws.ec2.Subnet(
        `${name}-public-${zone}`,
        {
          vpcId: vpc.id,
          availabilityZone: zone,
          cidrBlock: (args.subnets[zone] as ZoneSubnets).public,
          tags: { Name: `${name}-public-${zone}`, "kubernetes.io/role/elb": "1", ...clusterTag },
        },
        parent,
      );
      new aws.ec2.RouteTableAssociation(`${name}-public-${zone}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }, parent);
      publicSubnets.set(zone, subnet);
    }

    const natZones = args.natGateways === "single" ? zones.slice(0, 1) : zones;
    const nats = new Map<string, aws.ec2.NatGateway>();
    for (const zone of natZones) {
      const eip = new aws.ec2.Eip(`${name}-nat-${zone}`, { domain: "vpc", tags: { Name: `${name}-nat-${zone}` } }, parent);
      nats.set(
        zone,
        new aws.ec2.NatGateway(
          `${name}-nat-${zone}`,
          { allocationId: eip.id, subnetId: (publicSubnets.get(zone) as aws.ec2.Subnet).id, tags: { Name: `${name}-nat-${zone}` } },
          { parent: this, dependsOn: [igw] },
        ),
      );
    }

    const privateSubnets: aws.ec2.Subnet[] = [];
    const egress: pulumi.Resource[] = [publicRoutes, ...nats.values()];
    for (const zone of zones) {
      const subnet = new aws.ec2.Subnet(
        `${name}-private-${zone}`,
        {
          vpcId: vpc.id,
          availabilityZone: zone,
          cidrBlock: (args.subnets[zone] as ZoneSubnets).private,
          tags: { Name: `${name}-private-${zone}`, "kubernetes.io/role/internal-elb": "1", ...clusterTag },
        },
        parent,
      );
      const nat = (nats.get(zone) ?? nats.get(natZones[0] as string)) as aws.ec2.NatGateway;
      const routes = new aws.ec2.RouteTable(
        `${name}-private-${zone}`,
        { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }], tags: { Name: `${name}-private-${zone}` } },
        parent,
      );
      egress.push(routes, new aws.ec2.RouteTableAssociation(`${name}-private-${zone}`, { subnetId: subnet.id, routeTableId: routes.id }, parent));
      privateSubnets.push(subnet);
    }

    this.vpcId = vpc.id;
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.publicSubnetIds = [...publicSubnets.values()].map((s) => s.id);
    this.egress = egress;
    this.registerOutputs({ vpcId: this.vpcId, privateSubnetIds: this.privateSubnetIds, publicSubnetIds: this.publicSubnetIds });
  }
}
