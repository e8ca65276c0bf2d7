/**
 * Overview: is the fleet busy, how much is it serving, and how fast. Fleet
 * totals only; each panel links to the dashboard that breaks it down.
 */
import { RowBuilder, type DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { catalog, dashboardShell, dashboardUrl, limitSteps, link, statPanel, timeseriesPanel, units, runbookLinks } from "./common";
import type { DashboardContext } from "./context";

export function overviewDashboard(ctx: DashboardContext): DashboardBuilder {
  const q = catalog(ctx);
  const toDrilldown = link("Per-Model Drilldown", dashboardUrl(ctx, "modelDrilldown", ["${model:queryparam}"]));
  const toGpuHealth = link("GPU Health", dashboardUrl(ctx, "gpuHealth", ["${node:queryparam}", "${zone:queryparam}"]));

  return dashboardShell(ctx, "overview", "Fleet-wide GPU utilization, throughput and latency of the infermesh fleet.")
    .withRow(new RowBuilder("Fleet"))
    .withPanel(
      statPanel({
        title: "Fleet GPU Utilization",
        description: "Average utilization over every GPU and MIG instance in the fleet, now. MIG instances report no GPU_UTIL, so their graphics-engine activity stands in.",
        unit: units.percent,
        queries: q.fleetGpuUtilization,
        width: 6,
        min: 0,
        max: 100,
        // Utilization is neither good nor bad on its own: one neutral colour.
        thresholds: [{ value: null, color: "blue" }],
        panelLinks: [toGpuHealth],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "Total Throughput",
        description: "Inferences completed per second across the selected models, successful or not.",
        unit: units.requestsPerSecond,
        queries: q.totalThroughput,
        width: 9,
        min: 0,
        panelLinks: [toDrilldown],
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "Latency (p50, p95, p99)",
        description:
          "Inference latency quantiles over all selected models, from the latency histogram. The dashed line is the default p95 limit of the latency alert; models with their own limit are on the Per-Model Drilldown.",
        unit: units.milliseconds,
        queries: q.fleetLatency,
        width: 9,
        min: 0,
        thresholds: limitSteps(ctx.thresholds.latencyP95MaxMs),
        panelLinks: [toDrilldown, ...runbookLinks(ctx, "fleetLatency")],
      }),
    );
}
