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
  runbookLinks,
} from "./common";
import type { DashboardContext } from "./context";
import { thermalColumn, type PanelQuery } from "../monitoring/queries";

/** The counters are whole numbers: red (or orange) from the first error. */
const oneError = 0.5;

/** What the per-GPU time series show while no node, model, revision or tenant is picked (`coarseAtAll`). */
const perNodeAtAll = "With no node, model, revision or tenant picked, one line per node (legend `avg` or `max` where a GPU index would be); pick some for one line per GPU.";

/** Single-bit errors were corrected: worth watching (orange), unlike double-bit ones (red). */
function correctableColumns(queries: readonly PanelQuery[]): FieldOverride[] {
  return queries
    .filter((query) => query.expr.includes("_ECC_SBE_"))
    .map((query) => ({ matcher: { id: "byName", options: query.legend }, properties: [thresholdsProperty(limitSteps(oneError, "green", "orange"))] }));
}

/**
 * Free share of memory at which the near-OOM alert fires: it fires on the used
 * ratio, so the headroom line is its complement (rounded so 1 - 0.9 reads 0.1).
 */
export function headroomLimit(vramUsedRatioMax: number): number {
  return Number((1 - vramUsedRatioMax).toFixed(6));
}

/** The ECC table's thermal column is a share of time, red at the thermal-throttling alert limit. */
function thermalColumnOverride(limit: number): FieldOverride {
  return {
    matcher: { id: "byName", options: thermalColumn },
    properties: [{ id: "unit", value: units.ratio }, thresholdsProperty(limitSteps(limit))],
  };
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
        ...seedText(
          "gpuUtilization",
          `Per GPU or MIG instance (the legend shows its MIG profile); MIG instances report no GPU_UTIL, so their graphics-engine activity stands in. ${perNodeAtAll}`,
        ),
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
        ...seedText(
          "vramHeadroom",
          `Shown as headroom, the share of memory still free (1 - that ratio), per GPU or MIG instance; red below ${Math.round(headroomLimit(ctx.thresholds.vramUsedRatioMax) * 1000) / 10}% free, where the near-OOM alert fires.`,
        ),
        unit: units.ratio,
        queries: q.vramHeadroom,
        panelLinks: runbookLinks(ctx, "vramHeadroom"),
        width: 8,
        min: 0,
        max: 1,
        thresholds: limitSteps(headroomLimit(ctx.thresholds.vramUsedRatioMax), "red", "green"),
        dataLinks: nodeOfSeries,
      }),
    )
    .withRow(new RowBuilder("Errors"))
    .withPanel(
      tablePanel({
        ...seedText(
          "eccErrors",
          "Errors each GPU has counted: double-bit (uncorrectable, red) and single-bit (corrected, orange), over the GPU's life and since the last driver load; and the share of the dashboard's time range each GPU was thermally throttled, red at the thermal-throttling alert limit.",
        ),
        unit: units.count,
        queries: q.eccErrors,
        panelLinks: runbookLinks(ctx, "eccErrors"),
        width: 14,
        thresholds: limitSteps(oneError),
        overrides: [...correctableColumns(q.eccErrors), thermalColumnOverride(ctx.thresholds.thermalThrottleRatioMax)],
        dataLinks: nodeOfRow,
      }),
    )
    .withPanel(
      tablePanel({
        title: "XID Errors",
        description: "Last XID error code each GPU reported (0 when none). The code stays until the driver reloads; see NVIDIA's XID catalog for its meaning.",
        unit: units.none,
        queries: q.xidErrors,
        panelLinks: runbookLinks(ctx, "xidErrors"),
        width: 10,
        thresholds: limitSteps(1),
        cellDisplay: TableCellDisplayMode.ColorText,
        dataLinks: nodeOfRow,
      }),
    )
    .withRow(new RowBuilder("Thermal and power"))
    .withPanel(
      timeseriesPanel({
        title: "Thermal Throttling",
        description: `Share of time each GPU was slowed down for heat (thermal) or power draw (power). The dashed line is the thermal-throttling alert limit. ${perNodeAtAll}`,
        unit: units.ratio,
        queries: q.thermalThrottling,
        panelLinks: runbookLinks(ctx, "thermalThrottling"),
        width: 8,
        min: 0,
        max: 1,
        thresholds: limitSteps(ctx.thresholds.thermalThrottleRatioMax),
        dataLinks: nodeOfSeries,
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "GPU Temperature",
        description: `Temperature of each GPU. ${perNodeAtAll}`,
        unit: units.celsius,
        queries: q.gpuTemperature,
        width: 8,
        dataLinks: nodeOfSeries,
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "GPU Power Draw",
        description: `Power drawn by each GPU. ${perNodeAtAll}`,
        unit: units.watts,
        queries: q.gpuPower,
        width: 8,
        min: 0,
        dataLinks: nodeOfSeries,
      }),
    )
    .withRow(new RowBuilder("Capacity and waste"))
    .withPanel(
      timeseriesPanel({
        title: "GPUs Allocatable vs Requested",
        description: "Per GPU pool: GPUs (or MIG slices) the nodes offer, and those requested by running pods.",
        unit: units.count,
        queries: q.gpusByPool,
        panelLinks: runbookLinks(ctx, "gpusByPool"),
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
        panelLinks: runbookLinks(ctx, "nodesByPool"),
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
        panelLinks: runbookLinks(ctx, "pendingGpuPods"),
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
        panelLinks: runbookLinks(ctx, "idleGpus"),
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
        panelLinks: runbookLinks(ctx, "gpuHoursWasted"),
        width: 12,
        valueName: "GPU-hours",
      }),
    );
}
