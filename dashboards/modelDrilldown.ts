/**
 * Per-Model Drilldown: traffic, latency, queues and errors per model, with
 * each model's own alert limits drawn where it has them.
 */
import { RowBuilder, type DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { TableCellDisplayMode } from "@grafana/grafana-foundation-sdk/common";
import {
  catalog,
  dashboardShell,
  dashboardUrl,
  heatmapPanel,
  limitSteps,
  link,
  modelLimits,
  perModelFieldThresholds,
  perModelSeriesThresholds,
  seedText,
  stackedBarsPanel,
  tablePanel,
  timeseriesPanel,
  units,
  runbookLinks,
} from "./common";
import type { DashboardContext } from "./context";
import { defaultSloSpec } from "../monitoring/slo";

export function modelDrilldownDashboard(ctx: DashboardContext): DashboardBuilder {
  const q = catalog(ctx);
  // Clicking a model's series narrows the whole dashboard to that model.
  const focusModel = [link("Only model ${__field.labels.model}", dashboardUrl(ctx, "modelDrilldown", ["var-model=${__field.labels.model}"]))];
  const slo = ctx.slo ?? defaultSloSpec;
  const toSlo = [link("SLOs of ${__field.labels.model}", dashboardUrl(ctx, "slo", ["var-model=${__field.labels.model}"]))];
  const p95Query = q.latencyP95ByModel.find((query) => query.legend.endsWith(" p95"));
  if (!p95Query) throw new Error("the query catalog has no `latencyP95ByModel` query");

  return dashboardShell(ctx, "modelDrilldown", "Throughput, tokens, queue depth, latency, errors and service levels per model and revision.")
    .withRow(new RowBuilder("Traffic"))
    .withPanel(timeseriesPanel({ ...seedText("throughputByModel"), unit: units.requestsPerSecond, queries: q.throughputByModel, width: 12, min: 0, dataLinks: focusModel }))
    .withPanel(timeseriesPanel({ ...seedText("tokensByModel"), unit: units.tokensPerSecond, queries: q.tokensByModel, width: 12, min: 0, dataLinks: focusModel }))
    .withRow(new RowBuilder("Latency"))
    .withPanel(
      timeseriesPanel({
        ...seedText(
          "latencyP95ByModel",
          "With the median (p50) and p99 beside it, the spread of each model's latency. The dashed line is the latency alert's default p95 limit; a model with its own limit has its p95 turn red at that limit instead.",
        ),
        unit: units.milliseconds,
        queries: q.latencyP95ByModel,
        panelLinks: runbookLinks(ctx, "latencyP95ByModel"),
        width: 12,
        min: 0,
        thresholds: limitSteps(ctx.thresholds.latencyP95MaxMs),
        overrides: perModelSeriesThresholds(p95Query, modelLimits(ctx, "latencyP95MaxMs")),
        dataLinks: focusModel,
      }),
    )
    .withPanel(
      heatmapPanel({
        title: "Latency Histogram",
        description: "Inferences per second in each latency bucket (upper bound in ms), over the selected models.",
        unit: units.requestsPerSecond,
        bucketUnit: units.milliseconds,
        queries: q.latencyHeatmap,
        width: 12,
      }),
    )
    .withRow(new RowBuilder("Queues and errors"))
    .withPanel(
      tablePanel({
        ...seedText(
          "queueDepthByModelNode",
          "Nodes in rows, models in columns. A cell turns red at its model's queue-depth alert limit (the alert itself fires on the model's average over nodes).",
        ),
        unit: units.count,
        queries: q.queueDepthByModelNode,
        panelLinks: runbookLinks(ctx, "queueDepthByModelNode"),
        width: 12,
        // One column per model, so each model's limit applies to its own column.
        transformations: [{ id: "groupingToMatrix", options: { columnField: "model", rowField: "node", valueField: "Value", emptyValue: "null" } }],
        thresholds: limitSteps(ctx.thresholds.queueDepthMax),
        overrides: perModelFieldThresholds(modelLimits(ctx, "queueDepthMax")),
        cellDisplay: TableCellDisplayMode.ColorBackground,
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "Error Rate by Model",
        description: "Share of each model's inferences that failed, of any error kind. The dashed line is the error-rate alert limit.",
        unit: units.ratio,
        queries: q.errorRateByModel,
        panelLinks: runbookLinks(ctx, "errorRateByModel"),
        width: 12,
        min: 0,
        thresholds: limitSteps(ctx.thresholds.errorRatioMax),
        dataLinks: focusModel,
      }),
    )
    .withPanel(
      stackedBarsPanel({
        title: "Errors by Kind",
        description:
          "Share of the selected models' inferences that failed, by error kind (timeout, out_of_memory, runtime_error, bad_request); the bars stack to their error rate. Pick a model (or click it in Error Rate by Model) for its own.",
        unit: units.ratio,
        queries: q.errorsByKind,
        panelLinks: runbookLinks(ctx, "errorsByKind"),
        width: 24,
        min: 0,
      }),
    )
    .withRow(new RowBuilder("Service levels"))
    .withPanel(
      timeseriesPanel({
        title: "SLI over the SLO Window",
        description: `Share of good inferences over the last ${slo.window}, per model and SLI (availability: without error; latency: within the target). Objectives and burn rates are on the SLOs dashboard.`,
        unit: units.ratio,
        queries: q.sloComplianceHistory,
        width: 12,
        max: 1,
        dataLinks: toSlo,
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "Error Budget Remaining",
        description: `Share of each model's error budget (1 - objective) left over the last ${slo.window}; below the dashed line at 0 the objective is missed.`,
        unit: units.ratio,
        queries: q.sloBudgetRemainingHistory,
        panelLinks: runbookLinks(ctx, "sloBudgetRemainingHistory"),
        width: 12,
        thresholds: limitSteps(0, "red", "green"),
        dataLinks: toSlo,
      }),
    );
}
