/**
 * The pinned price table every cost estimate reads: AWS list prices per
 * region, with the date they were taken on and where from. Prices change;
 * the table does not follow them by itself. A table older than
 * {@link staleAfterDays} on the day an estimate is made is reported as stale
 * (cost/estimate.ts), so a reviewer knows the figures may have moved.
 *
 * What each figure is:
 * - on-demand: the Linux on-demand hourly list price of the instance type,
 *   as published when the table was taken;
 * - spot: an assumption, {@link assumedSpotShare} of on-demand. Spot prices
 *   move hourly and by zone, and no dated snapshot is pinned here; replace
 *   them with one (`aws ec2 describe-spot-price-history`) and set
 *   {@link PriceTable.spot} to say when it was taken;
 * - `assumption: true` where the on-demand figure is not one the table's
 *   author could confirm as the region's published price (newer or rarer
 *   types, priced from their family).
 */

/** How old (days) a table may be before estimates call it stale. */
export const staleAfterDays = 90;

export interface InstancePrice {
  onDemandPerHour: number;
  /** Spot, $/h (see {@link PriceTable.spot}: how it was obtained). */
  spotPerHour: number;
  /** Memory of the instance, GiB (for what a pod on it may use). */
  memoryGiB: number;
  /** The on-demand figure is not this region's published price (see the table's notes). */
  assumption?: true;
}

export interface RegionPrices {
  instances: Readonly<Record<string, InstancePrice>>;
  /** EKS control plane in standard support, $/h per cluster. */
  eksControlPlanePerHour: number;
  /** NAT gateway, $/h per gateway (data processing, $/GB, is not estimated: it depends on traffic). */
  natGatewayPerHour: number;
  /** EBS gp3 storage, $/GB-month (baseline IOPS and throughput included). */
  ebsGp3PerGiBMonth: number;
  /** Amazon Managed Service for Prometheus. */
  amp: {
    /** Ingestion, $ per 10 million samples, in tiers of samples per month (the last tier is unbounded). */
    ingestionTiers: ReadonlyArray<{ upToSamples: number; perTenMillion: number }>;
    /** Storage, $/GB-month of compressed samples and metadata. */
    storagePerGBMonth: number;
    /** Queries, $ per billion samples processed. */
    queryPerBillionSamples: number;
  };
  /** Amazon Managed Grafana, $ per active user per month. */
  grafana: { editorPerMonth: number; viewerPerMonth: number };
  /** Spot figures are not drawn from this region's published snapshot. */
  notes?: string;
}

export interface PriceTable {
  /** When the list prices were read (YYYY-MM-DD). */
  takenOn: string;
  /** Where the spot figures come from: a dated snapshot, or the assumption they are. */
  spot: string;
  sources: readonly string[];
  regions: Readonly<Record<string, RegionPrices>>;
}

/**
 * AMP's default service quotas, per workspace, as planned against
 * (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP_quotas.html).
 * That page's versions differ: one lists 10,000,000 active series "per 2
 * hours" (capacity adjusted from 2 M to 10 M on the last 30 minutes' usage),
 * a later one 50,000,000 with an ingestion rate of a thirtieth of it. The
 * stack plans against the lower, 10 M, and the ingestion rate that went
 * with it (170,000 samples/s, as the table's author recalls it: not
 * re-read). Both are adjustable on request.
 */
export const ampDefaultQuotas = {
  activeSeriesPerWorkspace: 10_000_000,
  ingestionSamplesPerSecond: 170_000,
} as const;

/** Hours AWS bills a month as (730 = 8,760 / 12). */
export const hoursPerMonth = 730;

/** Spot as a share of on-demand, for planning: GPU spot capacity has commonly gone for 30-50 % of on-demand. */
export const assumedSpotShare = 0.4;

const i = (onDemandPerHour: number, memoryGiB: number, assumption?: true): InstancePrice => ({
  onDemandPerHour,
  spotPerHour: Math.round(onDemandPerHour * assumedSpotShare * 10_000) / 10_000,
  memoryGiB,
  ...(assumption ? { assumption } : {}),
});

// us-east-1 and us-west-2 publish the same Linux on-demand prices for these families.
const usInstances: Record<string, InstancePrice> = {
  "g4dn.xlarge": i(0.526, 16),
  "g4dn.2xlarge": i(0.752, 32),
  "g4dn.4xlarge": i(1.204, 64),
  "g4dn.8xlarge": i(2.176, 128),
  "g4dn.12xlarge": i(3.912, 192),
  "g4dn.16xlarge": i(4.352, 256),
  "g4dn.metal": i(7.824, 384),
  "g5g.xlarge": i(0.42, 8),
  "g5g.2xlarge": i(0.556, 16),
  "g5g.4xlarge": i(0.828, 32),
  "g5g.8xlarge": i(1.372, 64),
  "g5g.16xlarge": i(2.744, 128),
  "g5g.metal": i(2.744, 128),
  "g5.xlarge": i(1.006, 16),
  "g5.2xlarge": i(1.212, 32),
  "g5.4xlarge": i(1.624, 64),
  "g5.8xlarge": i(2.448, 128),
  "g5.12xlarge": i(5.672, 192),
  "g5.16xlarge": i(4.096, 256),
  "g5.24xlarge": i(8.144, 384),
  "g5.48xlarge": i(16.288, 768),
  "g6.xlarge": i(0.8048, 16),
  "g6.2xlarge": i(0.9776, 32),
  "g6.4xlarge": i(1.3232, 64),
  "g6.8xlarge": i(2.0144, 128),
  "g6.12xlarge": i(4.6016, 192),
  "g6.16xlarge": i(3.3968, 256),
  "g6.24xlarge": i(6.6752, 384),
  "g6.48xlarge": i(13.3504, 768),
  "g6e.xlarge": i(1.861, 32),
  "g6e.2xlarge": i(2.24208, 64),
  "g6e.4xlarge": i(3.00424, 128),
  "g6e.8xlarge": i(4.52856, 256),
  "g6e.12xlarge": i(10.49264, 384),
  "g6e.16xlarge": i(7.57719, 512),
  "g6e.24xlarge": i(15.06559, 768),
  "g6e.48xlarge": i(30.13118, 1536),
  // P-family on-demand prices after AWS's June 2025 reduction (up to 45% on P4d, P4de, P5, P5en).
  "p4d.24xlarge": i(21.957642, 1152, true),
  "p4de.24xlarge": i(27.447301, 1152, true),
  "p5.4xlarge": i(6.88, 256, true),
  "p5.48xlarge": i(55.04, 2048),
  "p5e.48xlarge": i(63.296, 2048, true),
  "p5en.48xlarge": i(63.296, 2048, true),
  // System node types.
  "m7i.large": i(0.1008, 8),
  "m7i.xlarge": i(0.2016, 16),
  "m7i.2xlarge": i(0.4032, 32),
  "m7i.4xlarge": i(0.8064, 64),
  "m6i.large": i(0.096, 8),
  "m6i.xlarge": i(0.192, 16),
  "m5.large": i(0.096, 8),
  "t3.medium": i(0.0416, 4),
  "t3.large": i(0.0832, 8),
  "t3.xlarge": i(0.1664, 16),
  "m5.xlarge": i(0.192, 16),
};

const usRegion: Omit<RegionPrices, "instances"> = {
  eksControlPlanePerHour: 0.1,
  natGatewayPerHour: 0.045,
  ebsGp3PerGiBMonth: 0.08,
  amp: {
    ingestionTiers: [
      { upToSamples: 2_000_000_000, perTenMillion: 0.9 },
      { upToSamples: 252_000_000_000, perTenMillion: 0.35 },
      { upToSamples: 1_002_000_000_000, perTenMillion: 0.16 },
      { upToSamples: Number.POSITIVE_INFINITY, perTenMillion: 0.1 },
    ],
    storagePerGBMonth: 0.03,
    queryPerBillionSamples: 0.1,
  },
  grafana: { editorPerMonth: 9, viewerPerMonth: 5 },
};

export const priceTable: PriceTable = {
  // The list prices as the table's author knew them (after AWS's June 2025 P-family reduction); not re-read since.
  takenOn: "2025-08-01",
  spot: `assumed: ${assumedSpotShare * 100} % of on-demand (no dated spot snapshot pinned)`,
  sources: [
    "https://aws.amazon.com/ec2/pricing/on-demand/",
    "https://aws.amazon.com/ec2/spot/pricing/",
    "https://aws.amazon.com/eks/pricing/",
    "https://aws.amazon.com/vpc/pricing/",
    "https://aws.amazon.com/ebs/pricing/",
    "https://aws.amazon.com/prometheus/pricing/",
    "https://aws.amazon.com/grafana/pricing/",
  ],
  regions: {
    "us-east-1": { instances: usInstances, ...usRegion },
    "us-west-2": { instances: usInstances, ...usRegion },
    "us-east-2": { instances: usInstances, ...usRegion, notes: "us-east-1's figures: assumed equal (same published prices for these families at the time taken)" },
  },
};

/** The region's prices; a region the table lacks is priced as the table's first region, and says so. */
export function regionPrices(table: PriceTable, region: string): { prices: RegionPrices; pricedAs: string } {
  if (Object.hasOwn(table.regions, region)) return { prices: table.regions[region] as RegionPrices, pricedAs: region };
  const [first, prices] = Object.entries(table.regions)[0] as [string, RegionPrices];
  return { prices, pricedAs: first };
}

/** One instance type's prices in a region's table, or undefined when the table lacks it. */
export function instancePrice(prices: RegionPrices, instanceType: string): InstancePrice | undefined {
  return Object.hasOwn(prices.instances, instanceType) ? prices.instances[instanceType] : undefined;
}

/** Days from the table's date to `on`, and whether that is past {@link staleAfterDays}. */
export function tableAge(table: Pick<PriceTable, "takenOn">, on: Date): { days: number; stale: boolean } {
  const days = Math.floor((on.getTime() - Date.parse(`${table.takenOn}T00:00:00Z`)) / 86_400_000);
  return { days, stale: days > staleAfterDays };
}

/** AMP ingestion cost of `samples` in a month, tier by tier. */
export function ampIngestionCost(prices: RegionPrices, samples: number): number {
  let cost = 0;
  let from = 0;
  for (const tier of prices.amp.ingestionTiers) {
    const inTier = Math.max(0, Math.min(samples, tier.upToSamples) - from);
    cost += (inTier / 1e7) * tier.perTenMillion;
    from = tier.upToSamples;
    if (samples <= from) break;
  }
  return cost;
}
