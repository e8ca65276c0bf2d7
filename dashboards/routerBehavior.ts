/**
 * Router Behavior: where routers send requests, what they refuse, node
 * membership, and whether hedging pays for itself.
 */
import { RowBuilder, type DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { TableCellDisplayMode } from "@grafana/grafana-foundation-sdk/common";
import { barchartPanel, catalog, dashboardShell, dashboardUrl, healthMappings, link, seedText, stackedBarsPanel, tablePanel, timeseriesPanel, units, runbookLinks } from "./common";
import type { DashboardContext } from "./context";

export function routerBehaviorDashboard(ctx: DashboardContext): DashboardBuilder {
  const q = catalog(ctx);
  return dashboardShell(ctx, "routerBehavior", "Target choices, admission control, node membership, hedging and cancellations of the infermesh routers.")
    .withRow(new RowBuilder("Routing"))
    .withPanel(
      barchartPanel({
        ...seedText("targetChoices", "Requests per second sent to each node, summed over routers."),
        unit: units.requestsPerSecond,
        queries: q.targetChoices,
        width: 12,
        min: 0,
      }),
    )
    .withPanel(
      tablePanel({
        ...seedText("nodeHealth"),
        unit: units.none,
        queries: q.nodeHealth,
        panelLinks: runbookLinks(ctx, "nodeHealth"),
        width: 12,
        valueName: "Health",
        mappings: healthMappings,
        thresholds: [
          { value: null, color: "red" },
          { value: 1, color: "green" },
        ],
        cellDisplay: TableCellDisplayMode.ColorBackground,
        dataLinks: [link("GPU Health of ${__data.fields.node}", dashboardUrl(ctx, "gpuHealth", ["var-node=${__data.fields.node}"]))],
      }),
    )
    .withRow(new RowBuilder("Admission control"))
    .withPanel(
      stackedBarsPanel({
        ...seedText(
          "rejectionsByReason",
          "Answered with HTTP 429, per second, by reason over every model (pick a model, or any variable, for reason and model); the bars stack to all rejections.",
        ),
        unit: units.requestsPerSecond,
        queries: q.rejectionsByReason,
        panelLinks: runbookLinks(ctx, "rejectionsByReason"),
        width: 24,
        min: 0,
      }),
    )
    .withRow(new RowBuilder("Hedging and cancellation"))
    .withPanel(
      timeseriesPanel({
        title: "Hedge Effectiveness",
        description:
          "Share of requests a router hedged (sent a second copy to another target), and share of hedges answered first by the copy. Many hedges that rarely win add load without cutting latency.",
        unit: units.ratio,
        queries: q.hedgeEffectiveness,
        width: 12,
        min: 0,
        max: 1,
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "Cancellations by Reason",
        description: "In-flight requests routers cancelled per second: losing hedge copies, clients that went away, and deadlines.",
        unit: units.requestsPerSecond,
        queries: q.cancellationsByReason,
        width: 12,
        min: 0,
      }),
    );
}
