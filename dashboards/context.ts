/**
 * What a dashboard is built from, and how each dashboard is named: its uid
 * (the identity Grafana keeps across deploys and links point at) and its title.
 */
import { createHash } from "node:crypto";
import type { AlertThresholds } from "../alerts/catalog";
import type { DashboardKey } from "./seed";
import type { SloSpec } from "../monitoring/slo";

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

/** Uid parts of the dashboards: alphanumeric, so the readable uid form applies (see {@link grafanaUid}). */
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
export const maxUidLength = 40;
export const validUid = /^[A-Za-z0-9_-]+$/;
const alphanumeric = /^[A-Za-z0-9]+$/;
const hashLength = 12;

/**
 * The one Grafana uid of a stack's object (folder, data source, dashboard,
 * alert rule, contact point integration), unique for every (stack, parts).
 * Parts name the object; readable forms need them alphanumeric. Three forms,
 * told apart by their first three characters, each of which reads back into
 * exactly one (stack, parts):
 *
 * - `im-<stack>-<part>-<part>…` for a stack name without `-` or `.` (dev,
 *   staging, prod): splitting on `-` gives the stack, then the parts;
 * - `im_<stack>-<part>_<part>…` for a stack name with `-`: the text after the
 *   last `-` holds the parts, which hold no `_`;
 * - `imh-<prefix>-<hash>` when neither fits Grafana's 40 characters, or a part
 *   or the stack holds other characters (Pulumi allows `.`): a readable
 *   prefix plus a hash of the exact (stack, parts), since cutting a name or
 *   replacing characters alone would map different stacks to one uid.
 */
export function grafanaUid(stack: string, ...parts: string[]): string {
  if (parts.length === 0) throw new Error("grafanaUid needs at least one part naming the object");
  if (parts.every((p) => alphanumeric.test(p))) {
    const readable = /^[A-Za-z0-9_]+$/.test(stack) ? `im-${stack}-${parts.join("-")}` : `im_${stack}-${parts.join("_")}`;
    if (readable.length <= maxUidLength && validUid.test(readable)) return readable;
  }
  const hash = createHash("sha256").update(JSON.stringify([stack, ...parts])).digest("hex").slice(0, hashLength);
  const prefix = `${stack}-${parts.join("_")}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, maxUidLength - "imh-".length - 1 - hashLength);
  return `imh-${prefix}-${hash}`;
}
