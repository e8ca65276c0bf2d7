/** IPv4 CIDR arithmetic for VPC and subnet validation and layout. Pure. */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefix: number;
}

const cidrPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `a.b.c.d/n`; returns a reason string when it is not a valid network CIDR. */
export function parseCidr(text: string): Cidr | string {
  const match = cidrPattern.exec(text);
  if (!match) return "is not an IPv4 CIDR of the form a.b.c.d/n";
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255)) return "has an octet above 255";
  if (prefix > 32) return "has a prefix length above 32";
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    return `has host bits set (the network address for /${prefix} is ${formatAddress(address - (address % size))})`;
  }
  return { network: address, prefix };
}

export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.network)}/${cidr.prefix}`;
}

function lastAddress(cidr: Cidr): number {
  return cidr.network + 2 ** (32 - cidr.prefix) - 1;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.network >= outer.network && lastAddress(inner) <= lastAddress(outer);
}

/** The `index`-th block of prefix `prefix` inside `parent`. */
export function subnetAt(parent: Cidr, prefix: number, index: number): Cidr {
  const network = parent.network + index * 2 ** (32 - prefix);
  const cidr = { network, prefix };
  if (prefix < parent.prefix || !contains(parent, cidr)) {
    throw new Error(`block ${index} of /${prefix} does not fit in ${formatCidr(parent)}`);
  }
  return cidr;
}

export interface ZoneSubnets {
  private: string;
  public: string;
}

/** Zones the default layout leaves room for. */
export const defaultLayoutSlots = 4;

/**
 * AWS subnet sizes: "The allowed size for an IPv4 subnet is between a /28
 * netmask (16 IP addresses) and a /16 netmask (65,536 IP addresses)", and AWS
 * reserves the first four and the last address of each (EC2 CreateSubnet,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html;
 * aws/aws-sdk-js-v3 clients/client-ec2/src/commands/CreateSubnetCommand.ts).
 */
export const awsSubnetPrefixRange = { min: 16, max: 28 } as const;
export const awsReservedAddressesPerSubnet = 5;

/** Addresses of a block that instances, ENIs and pods can use. */
export function usableAddresses(prefix: number): number {
  return 2 ** (32 - prefix) - awsReservedAddressesPerSubnet;
}

/** Prefix lengths of the default layout's private and public subnets for a VPC of prefix `vpcPrefix`. */
export function defaultSubnetPrefixes(vpcPrefix: number): { privatePrefix: number; publicPrefix: number } {
  const privatePrefix = vpcPrefix + 1 + Math.log2(defaultLayoutSlots);
  return { privatePrefix, publicPrefix: privatePrefix + 2 };
}

/**
 * Default subnet layout: the first half of the VPC is split into equal private
 * blocks (nodes and pods: the VPC CNI gives every pod a VPC address, so they
 * get the space), the second half into smaller public blocks for load
 * balancers and NAT gateways. Room is left for up to four zones.
 */
export function defaultSubnets(vpcCidr: string, zones: readonly string[]): Record<string, ZoneSubnets> {
  const vpc = parseCidr(vpcCidr);
  if (typeof vpc === "string") throw new Error(`VPC CIDR ${vpcCidr} ${vpc}`);
  if (zones.length > defaultLayoutSlots) throw new Error(`at most ${defaultLayoutSlots} availability zones are laid out automatically`);
  const { privatePrefix, publicPrefix } = defaultSubnetPrefixes(vpc.prefix);
  const publicBase = subnetAt(vpc, vpc.prefix + 1, 1);
  return Object.fromEntries(
    zones.map((zone, slot) => [
      zone,
      {
        private: formatCidr(subnetAt(vpc, privatePrefix, slot)),
        public: formatCidr(subnetAt(publicBase, publicPrefix, slot)),
      },
    ]),
  );
}
