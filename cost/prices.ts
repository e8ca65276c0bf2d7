/**
 * The pinned price table every cost estimate reads: AWS list prices per
 * region, with the date they were taken on and where from. Prices change;
 * the table does not follow them by itself. A table older than
 * {@link staleAfterDays} on the day an estimate is made is reported as stale
 * (cost/estimate.ts), so a reviewer knows the figures may have moved.
 *
 * What each figure is:
 * - on-demand: the Linux on-demand hourly list price of the instance type;
 * - spot: a dated snapshot of the spot price (spot prices move hourly, by
 *   zone); marked as such and always an assumption for planning;
 * - `assumption: true` where a figure is not a published list price of that
 *   region (derived from another region's or family's published price).
 */

/** How old (days) a table may be before estimates call it stale. */
export const staleAfterDays = 90;

export interface InstancePrice {
  onDemandPerHour: number;
  /** Spot snapshot, $/h (see {@link PriceTable.spotSnapshotOn}). */
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
  /** When the spot snapshot was read (YYYY-MM-DD). */
  spotSnapshotOn: string;
  sources: readonly string[];
  regions: Readonly<Record<string, RegionPrices>>;
}

/** AMP's default service quotas, per workspace (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP_quotas.html). */
export const ampDefaultQuotas = {
  /** Active series per workspace (adjustable). */
  activeSeriesPerWorkspace: 10_000_000,
  /** Ingestion rate per workspace, samples per second (adjustable). */
  ingestionSamplesPerSecond: 170_000,
} as const;

/** Hours AWS bills a month as (730 = 8,760 / 12). */
export const hoursPerMonth = 730;

const i = (onDemandPerHour: number, spotPerHour: number, memoryGiB: number, assumption?: true): InstancePrice => ({
  onDemandPerHour,
  spotPerHour,
  memoryGiB,
  ...(assumption ? { assumption } : {}),
});

// us-east-1 and us-west-2 publish the same Linux on-demand prices for these families.
const usInstances: Record<string, InstancePrice> = {
  "g4dn.xlarge": i(0.526, 0.2213, 16),
  "g4dn.2xlarge": i(0.752, 0.3138, 32),
  "g4dn.4xlarge": i(1.204, 0.5133, 64),
  "g4dn.8xlarge": i(2.176, 0.9316, 128),
  "g4dn.12xlarge": i(3.912, 1.6628, 192),
  "g4dn.16xlarge": i(4.352, 1.8536, 256),
  "g4dn.metal": i(7.824, 3.3284, 384),
  "g5g.xlarge": i(0.42, 0.1787, 8),
  "g5g.2xlarge": i(0.556, 0.2365, 16),
  "g5g.4xlarge": i(0.828, 0.3522, 32),
  "g5g.8xlarge": i(1.372, 0.5836, 64),
  "g5g.16xlarge": i(2.744, 1.1672, 128),
  "g5g.metal": i(2.744, 1.1672, 128),
  "g5.xlarge": i(1.006, 0.4384, 16),
  "g5.2xlarge": i(1.212, 0.5112, 32),
  "g5.4xlarge": i(1.624, 0.6922, 64),
  "g5.8xlarge": i(2.448, 1.0434, 128),
  "g5.12xlarge": i(5.672, 2.4176, 192),
  "g5.16xlarge": i(4.096, 1.7459, 256),
  "g5.24xlarge": i(8.144, 3.4714, 384),
  "g5.48xlarge": i(16.288, 6.9427, 768),
  "g6.xlarge": i(0.8048, 0.3431, 16),
  "g6.2xlarge": i(0.9776, 0.4167, 32),
  "g6.4xlarge": i(1.3232, 0.5641, 64),
  "g6.8xlarge": i(2.0144, 0.8587, 128),
  "g6.12xlarge": i(4.6016, 1.9616, 192),
  "g6.16xlarge": i(3.3968, 1.448, 256),
  "g6.24xlarge": i(6.6752, 2.8456, 384),
  "g6.48xlarge": i(13.3504, 5.6912, 768),
  "g6e.xlarge": i(1.861, 0.7933, 32),
  "g6e.2xlarge": i(2.24208, 0.9558, 64),
  "g6e.4xlarge": i(3.00424, 1.2807, 128),
  "g6e.8xlarge": i(4.52856, 1.9305, 256),
  "g6e.12xlarge": i(10.49264, 4.4729, 384),
  "g6e.16xlarge": i(7.57719, 3.2301, 512),
  "g6e.24xlarge": i(15.06559, 6.4223, 768),
  "g6e.48xlarge": i(30.13118, 12.8446, 1536),
  // P-family on-demand prices after AWS's June 2025 reduction (up to 45% on P4d, P4de, P5, P5en).
  "p4d.24xlarge": i(21.957642, 9.3605, 1152),
  "p4de.24xlarge": i(27.447301, 11.7004, 1152, true),
  "p5.4xlarge": i(6.88, 2.9329, 256),
  "p5.48xlarge": i(55.04, 23.4636, 2048),
  "p5e.48xlarge": i(63.296, 26.9831, 2048, true),
  "p5en.48xlarge": i(63.296, 26.9831, 2048),
  // System node types.
  "m7i.large": i(0.1008, 0.043, 8),
  "m7i.xlarge": i(0.2016, 0.086, 16),
  "m7i.2xlarge": i(0.4032, 0.1719, 32),
  "m7i.4xlarge": i(0.8064, 0.3438, 64),
  "m6i.large": i(0.096, 0.0409, 8),
  "m6i.xlarge": i(0.192, 0.0818, 16),
  "m5.large": i(0.096, 0.0409, 8),
  "t3.medium": i(0.0416, 0.0125, 4),
  "t3.large": i(0.0832, 0.025, 8),
  "t3.xlarge": i(0.1664, 0.0499, 16),
  "m5.xlarge": i(0.192, 0.0818, 16),
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
  takenOn: "2026-11-02",
  spotSnapshotOn: "2026-11-02",
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
export function tableAge(table: PriceTable, on: Date): { days: number; stale: boolean } {
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
