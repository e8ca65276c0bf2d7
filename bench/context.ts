/**
 * The stack every bench section measures: a 15 s scrape interval (so
 * recorded rates use a 1m window), default thresholds, no per-model
 * overrides (those only add alert terms over the same series); and every
 * query that stack runs.
 */
import { alertCatalog } from "../alerts/catalog";
import { defaultThresholds } from "../monitoring/thresholds";
import type { DashboardContext } from "../dashboards/context";
import { buildDashboards } from "../dashboards/index";
import { recordingRules } from "../monitoring/recording";
import { dashboardPanels } from "../lib/dashboardJson";
import { grafanaToPromql, type GrafanaMacros } from "../lib/promql";

export const benchScrapeIntervalSeconds = 15;
export const benchContext: DashboardContext = {
  stack: "bench",
  environment: "bench",
  scrapeIntervalSeconds: benchScrapeIntervalSeconds,
  thresholds: defaultThresholds,
  models: {},
};

export interface StackQuery {
  /** `dashboard <key>: <panel title> (<refId>)`, `alert <name>` or `rule <record>`. */
  origin: string;
  /** As sent to Prometheus (variables at All, macros substituted). */
  expr: string;
}

/** Macros for the static reading of queries; the durations do not change which series are read. */
const readingMacros: GrafanaMacros = { rateInterval: "1m", range: "6h", interval: "30s" };

/** Every query the stack runs: dashboard targets, alert expressions and recording-rule expressions. */
export function stackQueries(ctx: DashboardContext = benchContext): StackQuery[] {
  const panels = dashboardPanels(buildDashboards(ctx)).flatMap((p) =>
    p.targets.map((t) => ({ origin: `dashboard ${p.dashboard}: ${p.title} (${t.refId})`, expr: grafanaToPromql(t.expr, readingMacros) })),
  );
  const alerts = alertCatalog(ctx).map((a) => ({ origin: `alert ${a.name}`, expr: a.expr }));
  const rules = recordingRules(ctx.scrapeIntervalSeconds).map((r) => ({ origin: `rule ${r.record}`, expr: r.expr }));
  return [...panels, ...alerts, ...rules];
}
