/**
 * What a dashboard is built from, and how each dashboard is named: its uid
 * (the identity Grafana keeps across deploys and links point at) and its title.
 */
import { createHash } from "node:crypto";
import type { AlertThresholds } from "./alerts";
import type { DashboardKey } from "./seed";
import type { SloSpec } from "./slo";

export interface DashboardContext {
  /** Pulumi stack name; part of every uid so stacks sharing one Grafana never collide. */
  stack: string;
  /** Environment name shown in titles and tags. */
  environment: string;
  /** Prometheus scrape interval; sets the window of the recorded rates the panels read. */
  scrapeIntervalSeconds: number;
  /** The alert thresholds; panels draw the same lines the alerts fire on. */
  thresholds: AlertThresholds;
  /** Per-model overrides of the thresholds; models not listed use `thresholds`. */
  models: Record<string, { queueDepthMax?: number; latencyP95MaxMs?: number }>;
  /** How long a held GPU must stay below the idle threshold to count as idle; defaults to 1h. */
  idleWindow?: string;
  /** Per-model SLOs; defaults to `defaultSloSpec` (dashboards/slo.ts). */
  slo?: SloSpec;
}

/** The seed's "Suggested Dashboards Layout" names. */
export const dashboardTitles: Record<DashboardKey, string> = {
  overview: "Overview",
  modelDrilldown: "Per-Model Drilldown",
  gpuHealth: "GPU Health",
  routerBehavior: "Router Behavior",
  slo: "SLOs",
};

export const dashboardKeys = Object.keys(dashboardTitles) as DashboardKey[];

/** Title as shown in Grafana's search, naming the environment so prod and staging are never confused. */
export function dashboardTitle(environment: string, key: DashboardKey): string {
  return `infermesh · ${dashboardTitles[key]} (${environment})`;
}

/**
 * Short uid parts. None contains `-` and none is a suffix of another, so
 * `im-<stack>-<short>` is injective in (stack, key); each also contains a
 * letter outside hex, so a readable uid never equals a hashed one (which
 * ends in hex digits).
 */
const uidShort: Record<DashboardKey, string> = {
  overview: "overview",
  modelDrilldown: "model",
  gpuHealth: "gpu",
  routerBehavior: "router",
  slo: "slo",
};

/** Stable dashboard uid, unique per stack and dashboard (see {@link grafanaUid}). */
export function dashboardUid(stack: string, key: DashboardKey): string {
  return grafanaUid(stack, uidShort[key]);
}

/** Grafana's limit on uids (`util.IsValidShortUID` plus `MaxUIDLength`). */
const maxUidLength = 40;
const validUid = /^[A-Za-z0-9_-]+$/;
const hashLength = 10;

/**
 * A Grafana uid for one of a stack's objects (folder, data source, dashboard,
 * alert rule): `im-<stack>-<suffix>` when that is a valid Grafana uid, so
 * stacks sharing a Grafana never collide. A stack name that is too long or
 * holds characters Grafana rejects (Pulumi allows `.`) gets a readable prefix
 * and a hash of the exact (stack, suffix), since truncating or replacing
 * characters alone would map different stacks to one uid.
 */
export function grafanaUid(stack: string, suffix: string): string {
  const readable = `im-${stack}-${suffix}`;
  if (readable.length <= maxUidLength && validUid.test(readable)) return readable;
  const hash = createHash("sha256").update(`${stack}\0${suffix}`).digest("hex").slice(0, hashLength);
  const room = maxUidLength - `im--${suffix}-`.length - hashLength;
  const prefix = stack.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, Math.max(0, room));
  return `im-${prefix}-${suffix}-${hash}`;
}
