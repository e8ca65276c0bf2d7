/**
 * SLOs: each model's objectives, how it did over the SLO window, what is left
 * of its error budget, and how fast it is burning over every window the
 * burn-rate alerts read (monitoring/slo.ts).
 */
import { RowBuilder, type DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { TableCellDisplayMode } from "@grafana/grafana-foundation-sdk/common";
import { catalog, dashboardShell, dashboardUrl, link, tablePanel, thresholdsProperty, timeseriesPanel, units, type FieldOverride, runbookLinks } from "./common";
import type { DashboardContext } from "./context";
import { burnRatePairs, defaultSloSpec, objectivesFor, type SloSpec } from "../monitoring/slo";

/** Colour steps for a burn-rate column: orange at the lowest ticket factor over that window, red at the lowest page factor. */
export function burnRateSteps(spec: SloSpec, scrapeIntervalSeconds: number, window: string) {
  const pairs = burnRatePairs(spec.window, scrapeIntervalSeconds).filter((p) => p.long === window || p.short === window);
  const lowest = (speed: "fast" | "slow") => Math.min(...pairs.filter((p) => p.speed === speed).map((p) => p.factor));
  const steps: Array<{ value: number | null; color: string }> = [{ value: null, color: "green" }];
  if (Number.isFinite(lowest("slow"))) steps.push({ value: lowest("slow"), color: "orange" });
  if (Number.isFinite(lowest("fast"))) steps.push({ value: lowest("fast"), color: "red" });
  return steps;
}

/** The latency targets in words, for descriptions: the default and each model with its own. */
export function latencyTargetsText(spec: SloSpec): string {
  const own = Object.keys(spec.models)
    .sort()
    .filter((m) => objectivesFor(spec, m).latencyTargetMs !== spec.defaults.latencyTargetMs)
    .map((m) => `${m}: ${objectivesFor(spec, m).latencyTargetMs} ms`);
  return `${spec.defaults.latencyTargetMs} ms${own.length > 0 ? ` (${own.join(", ")})` : ""}`;
}

export function sloDashboard(ctx: DashboardContext): DashboardBuilder {
  const q = catalog(ctx);
  const spec = ctx.slo ?? defaultSloSpec;
  const pairs = burnRatePairs(spec.window, ctx.scrapeIntervalSeconds);
  const toDrilldown = [link("Per-Model Drilldown for ${__data.fields.model}", dashboardUrl(ctx, "modelDrilldown", ["var-model=${__data.fields.model}"]))];
  const windowOverrides: FieldOverride[] = q.sloBurnRates.map((query) => ({
    matcher: { id: "byName", options: query.legend },
    properties: [thresholdsProperty(burnRateSteps(spec, ctx.scrapeIntervalSeconds, query.legend))],
  }));
  const pageLines: FieldOverride[] = pairs
    .filter((p) => p.speed === "fast")
    .map((p) => ({
      matcher: { id: "byRegexp", options: `^.* over ${p.long}$` },
      properties: [
        thresholdsProperty([
          { value: null, color: "green" },
          { value: p.factor, color: "red" },
        ]),
      ],
    }));
  const pairsText = pairs.map((p) => `${p.speed === "fast" ? "page" : "ticket"} at ${p.factor}x over ${p.long} and ${p.short}`).join("; ");

  return dashboardShell(ctx, "slo", `Per-model objectives over ${spec.window}: availability (inferences without error) and latency (inferences within the target).`)
    .withRow(new RowBuilder("Objectives and error budget"))
    .withPanel(
      tablePanel({
        title: "Objectives, SLI and Error Budget",
        description: `Per model and SLI: the objective, the share of good inferences over the last ${spec.window} (the SLI), and the share of the error budget (1 - objective) still unspent; below 0 the objective is missed. Availability counts failed inferences except bad requests; latency counts inferences slower than the target (${latencyTargetsText(spec)}).`,
        unit: units.ratio,
        queries: q.sloSummary,
        panelLinks: runbookLinks(ctx, "sloSummary"),
        width: 24,
        thresholds: [{ value: null, color: "text" }],
        overrides: [
          {
            matcher: { id: "byName", options: "error budget remaining" },
            properties: [
              thresholdsProperty([
                { value: null, color: "red" },
                { value: 0, color: "orange" },
                { value: 0.25, color: "green" },
              ]),
            ],
          },
        ],
        cellDisplay: TableCellDisplayMode.ColorText,
        dataLinks: toDrilldown,
      }),
    )
    .withRow(new RowBuilder("Burn rate"))
    .withPanel(
      tablePanel({
        title: "Burn Rate per Window",
        description: `Error ratio over each window as a multiple of the error budget: 1 spends exactly the budget over ${spec.window}. The alerts need both windows of a pair over the factor: ${pairsText}. A cell is orange at the ticket factor of its window and red at the page factor.`,
        unit: units.none,
        queries: q.sloBurnRates,
        panelLinks: runbookLinks(ctx, "sloBurnRates"),
        width: 24,
        thresholds: [{ value: null, color: "green" }],
        overrides: windowOverrides,
        cellDisplay: TableCellDisplayMode.ColorBackground,
        dataLinks: toDrilldown,
      }),
    )
    .withPanel(
      timeseriesPanel({
        title: "Burn Rate over the Page Windows",
        description: `Burn rate over the long windows of the pages; the dashed line is the page factor of each (${pairs
          .filter((p) => p.speed === "fast")
          .map((p) => `${p.factor}x over ${p.long}`)
          .join(", ")}), which the short window must also exceed.`,
        unit: units.none,
        queries: q.sloBurnRateHistory,
        panelLinks: runbookLinks(ctx, "sloBurnRateHistory"),
        width: 24,
        min: 0,
        thresholds: [
          { value: null, color: "green" },
          { value: pairs.find((p) => p.speed === "fast")?.factor ?? 1, color: "red" },
        ],
        overrides: pageLines,
        dataLinks: [link("Per-Model Drilldown for ${__field.labels.model}", dashboardUrl(ctx, "modelDrilldown", ["var-model=${__field.labels.model}"]))],
      }),
    );
}
