/**
 * What a dashboard is built from, and how each dashboard is named: its uid
 * (the identity Grafana keeps across deploys and links point at) and its title.
 */
import type { AlertThresholds } from "../monitoring/thresholds";
import { grafanaUid } from "../domain/naming";
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
  /** Per-model SLOs; defaults to `defaultSloSpec` (monitoring/slo.ts). */
  slo?: SloSpec;
  /** Where the alerts' runbook links point (`infermesh:alerting.runbookBaseUrl`); defaults to the repository's RUNBOOKS.md. */
  runbookBaseUrl?: string;
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
