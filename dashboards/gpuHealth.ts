/**
 * GPU Health: utilization, memory, errors, heat and power per GPU or MIG
 * instance. Every value links to this dashboard narrowed to its node.
 */
import { RowBuilder, type DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { TableCellDisplayMode } from "@grafana/grafana-foundation-sdk/common";
import {
  catalog,
  dashboardShell,
  dashboardUrl,
  gaugePanel,
  limitSteps,
  link,
  seedText,
  tablePanel,
  thresholdsProperty,
  timeseriesPanel,
  units,
  type FieldOverride,
} from "./common";
import type { DashboardContext } from "./context";
import type { PanelQuery } from "../monitoring/queries";

/**
 * `increase()` extrapolates to the edges of the range, so a single error can
 * read as 0.9; half an error or more is an error.
 */
const oneError = 0.5;

/** Single-bit errors were corrected: worth watching (orange), unlike double-bit ones (red). */
function correctableColumns(queries: readonly PanelQuery[]): FieldOverride[] {
  return queries
    .filter((query) => query.expr.includes("_ECC_SBE_"))
    .map((query) => ({ matcher: { id: "byName", options: query.legend }, properties: [thresholdsProperty(limitSteps(oneError, "green", "orange"))] }));
}

export function gpuHealthDashboard(ctx: DashboardContext): DashboardBuilder {
  const q = catalog(ctx);
  const nodeOfSeries = [link("Only node ${__field.labels.node}", dashboardUrl(ctx, "gpuHealth", ["var-node=${__field.labels.node}"]))];
  // Table rows carry the node as a column rather than as a series label.
  const nodeOfRow = [link("Only node ${__data.fields.node}", dashboardUrl(ctx, "gpuHealth", ["var-node=${__data.fields.node}"]))];

  return dashboardShell(ctx, "gpuHealth", "Utilization, VRAM headroom, ECC and XID errors, thermal throttling, temperature and power per GPU and MIG instance.")
    .withRow(new RowBuilder("Utilization and memory"))
    .withPanel(
      timeseriesPanel({
        ...seedText("gpuUtilization", "Per GPU or MIG instance (the legend shows its MIG profile); MIG instances report no GPU_UTIL, so their graphics-engine activity stands in."),
        unit: units.percent,
        queries: q.gpuUtilization,
        width: 16,
        min: 0,
        max: 100,
        dataLinks: nodeOfSeries,
      }),
    )
    .withPanel(
      gaugePanel({
        ...seedText("vramHeadroom", "Per GPU or MIG instance; red at the near-OOM alert limit."),
        unit: units.ratio,
        queries: q.vramHeadroom,
        width: 8,
        min: 0,
        max: 1,
        thresholds: limitSteps(ctx.thresholds.vramUsedRatioMax),
        dataLinks: nodeOfSeries,
      }),
    )
    .withRow(new RowBuilder("Errors"))
    .withPanel(
      tablePanel({
        ...seedText(
          "eccErrors",
          "Counted over the dashboard's time range: double-bit (uncorrectable, red) and single-bit (corrected, orange), over the GPU's life and since the last driver load.",
        ),
        unit: units.count,
        queries: q.eccErrors,
        width: 14,
        thresholds: limitSteps(oneError),
        overrides: correctableColumns(q.eccErrors),
        dataLinks: nodeOfRow,
      }),
    )
    .withPanel(
      tablePanel({
        title: "XID Errors",
        description: "Last XID error code each GPU reported (0 when none). The code stays until the driver reloads; see NVIDIA's XID catalog for its meaning.",
        unit: units.none,
        queries: q.xidErrors,
        width: 10,
        valueName: "Last XID",
        thresholds: limitSteps(1),
        cellDisplay: TableCellDisplayMode.ColorText,
        dataLinks: nodeOfRow,
      }),
    )
    .withRow(new RowBuilder("Thermal and power"))
    .withPanel(
      timeseriesPanel({
        title: "Thermal Throttling",
        description: "Share of time each GPU was slowed down for heat (thermal) or power draw (power). The dashed line is the thermal-throttling alert limit.",
        unit: units.ratio,
        queries: q.thermalThrottling,
        width: 8,
        min: 0,
        max: 1,
        thresholds: limitSteps(ctx.thresholds.thermalThrottleRatioMax),
        dataLinks: nodeOfSeries,
      }),
    )
    .withPanel(
      timeseriesPanel({ title: "GPU Temperature", description: "Temperature of each GPU.", unit: units.celsius, queries: q.gpuTemperature, width: 8, dataLinks: nodeOfSeries }),
    )
    .withPanel(
      timeseriesPanel({ title: "GPU Power Draw", description: "Power drawn by each GPU.", unit: units.watts, queries: q.gpuPower, width: 8, min: 0, dataLinks: nodeOfSeries }),
    )
    .withRow(new RowBuilder("Capacity and waste"))
    .withPanel(
      timeseriesPanel({
        title: "GPUs Allocatable vs Requested",
        description: "Per GPU pool: GPUs (or MIG slices) the nodes offer, and those requested by running pods.",
        unit: units.count,
        queries: q.gpusByPool,
        width: 12,
        min: 0,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Nodes per Pool",
        description: "GPU nodes in each pool, by capacity type (spot or on-demand).",
        unit: units.count,
        queries: q.nodesByPool,
        width: 6,
        valueName: "Nodes",
      }),
    )
    .withPanel(
      tablePanel({
        title: "Pending GPU Pods",
        description: "Pods waiting for a GPU, per namespace. Pods pending long mean a pool at its maximum or no capacity of that type.",
        unit: units.count,
        queries: q.pendingGpuPods,
        width: 6,
        valueName: "Pending pods",
        noValue: "No pending GPU pods",
        thresholds: limitSteps(1, "green", "orange"),
      }),
    )
    .withPanel(
      tablePanel({
        title: "Idle GPUs",
        description: `GPUs (or MIG instances) held by a pod but below the idle utilization threshold for the whole idle window (${ctx.idleWindow ?? "1h"}), per pool and namespace.`,
        unit: units.count,
        queries: q.idleGpus,
        width: 12,
        valueName: "Idle GPUs",
        noValue: "No idle GPUs",
        thresholds: limitSteps(1, "green", "orange"),
      }),
    )
    .withPanel(
      tablePanel({
        title: "GPU-Hours Wasted",
        description: "GPU-hours spent idle while held by a pod over the dashboard's time range, per pool and namespace.",
        unit: units.hours,
        queries: q.gpuHoursWasted,
        width: 12,
        valueName: "GPU-hours",
      }),
    );
}
