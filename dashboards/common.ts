/**
 * Shared pieces of the dashboards: the dashboard shell (uid, title,
 * tags, time, variables, cross-links), the data source, the panel factories
 * and the threshold and link helpers. Dashboards only choose panels and
 * lay them out; every query comes from the catalog in queries.ts.
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import {
  GraphThresholdsStyleConfigBuilder,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import {
  BigValueColorMode,
  BigValueGraphMode,
  GraphDrawStyle,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  SortOrder,
  StackingMode,
  TableCellDisplayMode,
  TooltipDisplayMode,
  VisibilityMode,
  type DataSourceRef,
  type TableCellOptions,
} from "@grafana/grafana-foundation-sdk/common";
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type DashboardLink,
  type DataTransformerConfig,
  type DynamicConfigValue,
  type MatcherConfig,
  type Threshold,
  type ThresholdsConfig,
  type ValueMapping,
  type VariableModel,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as BarchartBuilder } from "@grafana/grafana-foundation-sdk/barchart";
import { PanelBuilder as GaugeBuilder } from "@grafana/grafana-foundation-sdk/gauge";
import { CellValuesBuilder, PanelBuilder as HeatmapBuilder, YAxisConfigBuilder } from "@grafana/grafana-foundation-sdk/heatmap";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TableBuilder } from "@grafana/grafana-foundation-sdk/table";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { dashboardKeys, dashboardTitle, dashboardTitles, dashboardUid, type DashboardContext } from "./context";
import type { MetricName } from "../monitoring/metrics";
import { filterVariables, panelQueries, queryContext, type FilterVariable, type PanelKey, type PanelQuery } from "../monitoring/queries";
import { rateWindow } from "../monitoring/recording";
import { seedPanels, type DashboardKey, type SeedPanel } from "./seed";
import { defaultSloSpec } from "../monitoring/slo";
import { escapeRegex } from "../lib/escapeRegex";
import { alertsExplainedBy, defaultRunbookBaseUrl, runbookUrl } from "../monitoring/runbooks";

/** Every panel and target queries the data source the viewer picked in `$datasource`. */
export const datasource: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** Grafana unit ids used by the panels. */
export const units = {
  percent: "percent",
  ratio: "percentunit",
  requestsPerSecond: "reqps",
  tokensPerSecond: "suffix: tok/s",
  milliseconds: "ms",
  celsius: "celsius",
  watts: "watt",
  count: "short",
  none: "none",
  hours: "h",
} as const;

/** The catalog's queries for a stack: recorded series at the stack's rate window. */
export function catalog(ctx: DashboardContext): Record<PanelKey, PanelQuery[]> {
  return panelQueries(
    queryContext(rateWindow(ctx.scrapeIntervalSeconds), {
      scrapeIntervalSeconds: ctx.scrapeIntervalSeconds,
      sloWindow: (ctx.slo ?? defaultSloSpec).window,
      ...(ctx.idleWindow ? { idleWindow: ctx.idleWindow } : {}),
    }),
  );
}

// ---------------------------------------------------------------------------
// Seed panels

/** The seed's "Description" line of each example panel, by seed number. */
export const seedDescriptions: Readonly<Record<number, string>> = {
  1: "Total inferences per second per model version.",
  2: "Tokens generated per second for LLMs.",
  3: "Average request queue depth per model per node.",
  4: "Streaming multiprocessor (SM) utilization per GPU.",
  5: "VRAM usage ratio per GPU.",
  6: "95th percentile inference latency per model.",
  7: "How often each node is chosen as the inference target.",
  8: "Requests rejected due to backpressure or policy.",
  9: "Shows 1 if node is healthy, 0 if unhealthy (as seen by gossip).",
  10: "ECC double-bit errors per GPU over time.",
};

/** The seed panel shown by a catalog panel; throws if the key is not a seed panel. */
export function seedPanel(key: PanelKey): SeedPanel {
  const seed = seedPanels.find((p) => p.panel === key);
  if (!seed) throw new Error(`panel \`${key}\` is not one of the seed's panels (dashboards/seed.ts)`);
  return seed;
}

/** Title and description of a seed panel: the seed's own text, then what the panel adds to it. */
export function seedText(key: PanelKey, note?: string): { title: string; description: string } {
  const seed = seedPanel(key);
  const text = seedDescriptions[seed.number];
  if (text === undefined) throw new Error(`seed panel ${seed.number} (\`${key}\`) has no description in seedDescriptions`);
  return { title: seed.title, description: note ? `${text} ${note}` : text };
}

// ---------------------------------------------------------------------------
// Dashboard shell

/** Which contract metric lists the values of each filter variable, and the variables it depends on. */
const variableSources: Record<FilterVariable, { metric: MetricName; label: string; dependsOn?: FilterVariable[] }> = {
  model: { metric: "infermesh_inferences_total", label: "Model" },
  revision: { metric: "infermesh_inferences_total", label: "Revision", dependsOn: ["model"] },
  // Gossip reports every infermesh node, serving or not.
  node: { metric: "infermesh_node_healthy", label: "Node" },
  zone: { metric: "infermesh_node_healthy", label: "Zone" },
  // Routers see every tenant's requests, including the rejected ones.
  tenant: { metric: "infermesh_router_requests_total", label: "Tenant" },
};

/**
 * The dashboard variables: the data source, then one multi-value filter per
 * label in `filterVariables`. The All value is `.*` (not Grafana's default
 * alternation of every value) because the queries match with `=~`, and `.*`
 * also matches series that lack the label.
 */
export function variables(): cog.Builder<VariableModel>[] {
  const source = new DatasourceVariableBuilder("datasource").label("Data source").type("prometheus");
  const filters = filterVariables.map((name) => {
    const { metric, label, dependsOn = [] } = variableSources[name];
    const selector = dependsOn.length === 0 ? metric : `${metric}{${dependsOn.map((d) => `${d}=~"$${d}"`).join(", ")}}`;
    const query = `label_values(${selector}, ${name})`;
    return new QueryVariableBuilder(name)
      .label(label)
      .datasource(datasource)
      .query(query)
      .definition(query)
      .multi(true)
      .includeAll(true)
      .allValue(".*")
      .current({ text: "All", value: "$__all" })
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalCaseInsensitiveAsc);
  });
  return [source, ...filters];
}

/** Where a data link or panel link goes: another dashboard, keeping the time range and data source. */
export function dashboardUrl(ctx: DashboardContext, key: DashboardKey, params: readonly string[] = []): string {
  return `/d/${dashboardUid(ctx.stack, key)}?${[...params, "${__url_time_range}", "${datasource:queryparam}"].join("&")}`;
}

/**
 * The SDK's link default carries `placement: "inControlsMenu"`, which newer
 * Grafana renders inside the controls menu rather than above the panels
 * (grafana/grafana-foundation-sdk#1272); without `placement` a link sits in
 * its usual place on every Grafana version.
 */
function withDefaultPlacement(builder: DashboardLinkBuilder): cog.Builder<DashboardLink> {
  return {
    build: () => {
      const { placement: _placement, ...built } = builder.build();
      return built;
    },
  };
}

/** Links in the dashboard header to all the others, carrying the variables (so `$model` follows) and the time range. */
function dashboardLinks(ctx: DashboardContext, self: DashboardKey): cog.Builder<DashboardLink>[] {
  return dashboardKeys
    .filter((key) => key !== self)
    .map((key) =>
      withDefaultPlacement(
        new DashboardLinkBuilder(dashboardTitles[key])
          .type(DashboardLinkType.Link)
          .url(`/d/${dashboardUid(ctx.stack, key)}`)
          .tooltip(`infermesh ${dashboardTitles[key]} (${ctx.environment})`)
          .icon("dashboard")
          .includeVars(true)
          .keepTime(true),
      ),
    );
}

/** A dashboard with the settings every infermesh dashboard shares. */
export function dashboardShell(ctx: DashboardContext, key: DashboardKey, description: string): DashboardBuilder {
  return (
    new DashboardBuilder(dashboardTitle(ctx.environment, key))
      .uid(dashboardUid(ctx.stack, key))
      .description(description)
      .tags(["infermesh", "generated", ctx.environment])
      .time({ from: "now-6h", to: "now" })
      .refresh("1m")
      .timezone("browser")
      .tooltip(DashboardCursorSync.Crosshair)
      // Generated: edits in the UI would be overwritten by the next deploy.
      .readonly()
      .variables(variables())
      .links(dashboardLinks(ctx, key))
  );
}

// ---------------------------------------------------------------------------
// Targets, thresholds, links

/** A Prometheus target for one catalog query, on `$datasource`. */
export function promTarget(query: PanelQuery): DataqueryBuilder {
  const target = new DataqueryBuilder()
    .datasource(datasource)
    .expr(query.expr)
    .legendFormat(query.legend)
    .refId(query.refId ?? "A");
  if (query.instant) target.instant();
  else target.range();
  if (query.format === "heatmap") target.format(PromQueryFormat.Heatmap);
  else if (query.format === "table") target.format(PromQueryFormat.Table);
  else target.format(PromQueryFormat.TimeSeries);
  return target;
}

/** Green below `limit`, red at or above it: the line an alert fires on. */
export function limitSteps(limit: number, below = "green", above = "red"): Threshold[] {
  return [
    { value: null, color: below },
    { value: limit, color: above },
  ];
}

export function thresholds(steps: Threshold[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

/** A field-config override property replacing the thresholds. */
export function thresholdsProperty(steps: Threshold[]): DynamicConfigValue {
  return { id: "thresholds", value: thresholds(steps).build() };
}

export interface FieldOverride {
  matcher: MatcherConfig;
  properties: DynamicConfigValue[];
}

/**
 * A regular expression matching the display name Grafana gives a series of
 * `query` for `model`: the query's legend with `{{model}}` filled in and
 * any other label left open.
 */
export function seriesOfModel(query: PanelQuery, model: string): string {
  const parts = query.legend.split(/(\{\{\s*\w+\s*\}\})/);
  const pattern = parts
    .map((part) => {
      const label = /^\{\{\s*(\w+)\s*\}\}$/.exec(part)?.[1];
      if (label === undefined) return escapeRegex(part);
      return label === "model" ? escapeRegex(model) : ".*";
    })
    .join("");
  return `^${pattern}$`;
}

/** Models with their own value of `key`, sorted so output is stable. */
export function modelLimits(ctx: DashboardContext, key: "queueDepthMax" | "latencyP95MaxMs"): [string, number][] {
  return Object.entries(ctx.models)
    .flatMap(([model, limits]): [string, number][] => (limits[key] === undefined ? [] : [[model, limits[key]]]))
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Per-model threshold overrides on the series of `query` (time series panels). */
export function perModelSeriesThresholds(query: PanelQuery, limits: [string, number][]): FieldOverride[] {
  return limits.map(([model, limit]) => ({ matcher: { id: "byRegexp", options: seriesOfModel(query, model) }, properties: [thresholdsProperty(limitSteps(limit))] }));
}

/** Per-model threshold overrides on fields named after the model (a table pivoted to one column per model). */
export function perModelFieldThresholds(limits: [string, number][]): FieldOverride[] {
  return limits.map(([model, limit]) => ({ matcher: { id: "byName", options: model }, properties: [thresholdsProperty(limitSteps(limit))] }));
}

/** A data link or panel link. Grafana reads `title`, `url` and `targetBlank` there; the rest of a dashboard link is ignored. */
export function link(title: string, url: string): cog.Builder<DashboardLink> {
  return withDefaultPlacement(new DashboardLinkBuilder(title).type(DashboardLinkType.Link).url(url));
}

/**
 * Panel links to the runbook of every alert the panel explains
 * (monitoring/runbooks.ts), titled "Runbook: <alert>", at the URL the alert's
 * own `runbook_url` carries.
 */
export function runbookLinks(ctx: DashboardContext, key: PanelKey): cog.Builder<DashboardLink>[] {
  return alertsExplainedBy(key).map((alert) => {
    const builder = new DashboardLinkBuilder(`Runbook: ${alert}`)
      .type(DashboardLinkType.Link)
      .url(runbookUrl(ctx.runbookBaseUrl ?? defaultRunbookBaseUrl, alert))
      .targetBlank(true);
    return withDefaultPlacement(builder);
  });
}

// ---------------------------------------------------------------------------
// Panels

export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id; see `units`. */
  unit: string;
  queries: readonly PanelQuery[];
  /** Width in grid columns (of 24). */
  width: number;
  /** Height in grid rows. Defaults to 8. */
  height?: number;
  thresholds?: Threshold[];
  overrides?: FieldOverride[];
  min?: number;
  max?: number;
  /** Links on each value (Grafana data links). */
  dataLinks?: cog.Builder<DashboardLink>[];
  /** Links in the panel header. */
  panelLinks?: cog.Builder<DashboardLink>[];
  mappings?: ValueMapping[];
}

/** The methods every panel builder of the SDK shares, for the common part of the factories. */
interface CommonPanelBuilder<Self> {
  title(title: string): Self;
  description(description: string): Self;
  datasource(datasource: DataSourceRef): Self;
  unit(unit: string): Self;
  span(width: number): Self;
  height(height: number): Self;
  withTarget(target: cog.Builder<cog.Dataquery>): Self;
  thresholds(thresholds: cog.Builder<ThresholdsConfig>): Self;
  withOverride(override: FieldOverride): Self;
  min(min: number): Self;
  max(max: number): Self;
  dataLinks(links: cog.Builder<DashboardLink>[]): Self;
  links(links: cog.Builder<DashboardLink>[]): Self;
  mappings(mappings: ValueMapping[]): Self;
}

const refIds = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function withCommon<T extends CommonPanelBuilder<T>>(panel: T, spec: PanelSpec): T {
  panel
    .title(spec.title)
    .description(spec.description)
    .datasource(datasource)
    .unit(spec.unit)
    .span(spec.width)
    .height(spec.height ?? 8);
  spec.queries.forEach((query, i) => panel.withTarget(promTarget({ ...query, refId: query.refId ?? refIds[i] ?? `Q${i}` })));
  if (spec.thresholds) panel.thresholds(thresholds(spec.thresholds));
  for (const override of spec.overrides ?? []) panel.withOverride(override);
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  if (spec.dataLinks) panel.dataLinks(spec.dataLinks);
  if (spec.panelLinks) panel.links(spec.panelLinks);
  if (spec.mappings) panel.mappings(spec.mappings);
  return panel;
}

export function timeseriesPanel(spec: PanelSpec): TimeseriesBuilder {
  const panel = withCommon(new TimeseriesBuilder(), spec)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(VisibilityMode.Never)
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).showLegend(true))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  // A threshold on a graph is a limit to read values against, so draw it.
  if (spec.thresholds) panel.thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  return panel;
}

/** A time series drawn as stacked bars: counts that add up to a total. */
export function stackedBarsPanel(spec: PanelSpec): TimeseriesBuilder {
  return timeseriesPanel(spec).drawStyle(GraphDrawStyle.Bars).stacking(new StackingConfigBuilder().mode(StackingMode.Normal)).fillOpacity(80);
}

export function statPanel(spec: PanelSpec): StatBuilder {
  return withCommon(new StatBuilder(), spec)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .colorMode(BigValueColorMode.Value)
    .graphMode(BigValueGraphMode.None);
}

export function gaugePanel(spec: PanelSpec): GaugeBuilder {
  return withCommon(new GaugeBuilder(), spec)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .showThresholdMarkers(true);
}

export interface TableSpec extends PanelSpec {
  /** Name of the value column when the query's legend is a template rather than a name. Defaults to "Value". */
  valueName?: string;
  /** Replaces the default merge-and-rename transformations. */
  transformations?: DataTransformerConfig[];
  cellDisplay?: TableCellDisplayMode.ColorText | TableCellDisplayMode.ColorBackground;
  /**
   * What the panel says when its query returns no rows, for tables where none
   * is the good state ("No pending GPU pods"); Grafana shows it in place of
   * "No data", which an on-call engineer cannot tell from a broken query.
   */
  noValue?: string;
}

/**
 * Table-format queries arrive one frame per query with a `Time` column and
 * `Value` (`Value #<refId>` with several queries). By default they are merged
 * into one table, `Time` is dropped (instant: it is the same on every row) and
 * each value column is named after its query's legend.
 */
function defaultTableTransformations(spec: TableSpec): DataTransformerConfig[] {
  const columnName = (query: PanelQuery, fallback: string) => (query.legend.includes("{{") ? fallback : query.legend);
  const [only] = spec.queries;
  if (spec.queries.length === 1 && only) {
    return [{ id: "organize", options: { excludeByName: { Time: true }, renameByName: { Value: spec.valueName ?? columnName(only, "Value") } } }];
  }
  const renameByName = Object.fromEntries(
    spec.queries.map((query, i) => {
      const column = `Value #${query.refId ?? refIds[i]}`;
      return [column, columnName(query, column)];
    }),
  );
  return [
    { id: "merge", options: {} },
    { id: "organize", options: { excludeByName: { Time: true }, renameByName } },
  ];
}

export function tablePanel(spec: TableSpec): TableBuilder {
  const panel = withCommon(new TableBuilder(), spec);
  if (spec.noValue) panel.noValue(spec.noValue);
  for (const t of spec.transformations ?? defaultTableTransformations(spec)) panel.withTransformation(t);
  const cell: TableCellOptions =
    spec.cellDisplay === TableCellDisplayMode.ColorBackground ? { type: TableCellDisplayMode.ColorBackground } : { type: TableCellDisplayMode.ColorText };
  return panel.cellOptions(cell);
}

/**
 * Bar chart of an instant query: each series becomes one bar, named by its
 * legend, through Grafana's series-to-rows reduction (a bar chart needs one
 * frame with a string field for its x axis).
 */
export function barchartPanel(spec: PanelSpec): BarchartBuilder {
  return withCommon(new BarchartBuilder(), spec)
    .withTransformation({ id: "reduce", options: { mode: "seriesToRows", reducers: ["lastNotNull"] } })
    .xField("Field")
    .showValue(VisibilityMode.Auto)
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).showLegend(false));
}

/**
 * Heatmap of pre-bucketed Prometheus histograms (format heatmap): Grafana
 * draws the `le` buckets as rows instead of bucketing values itself.
 * `bucketUnit` labels the y axis; the panel unit is that of each cell's value.
 */
export function heatmapPanel(spec: PanelSpec & { bucketUnit: string }): HeatmapBuilder {
  return withCommon(new HeatmapBuilder(), spec)
    .calculate(false)
    .yAxis(new YAxisConfigBuilder().unit(spec.bucketUnit))
    .cellValues(new CellValuesBuilder().unit(spec.unit))
    .showLegend();
}

/** Value mappings of a 0/1 health gauge. */
export const healthMappings: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: {
      "0": { text: "unhealthy", color: "red", index: 0 },
      "1": { text: "healthy", color: "green", index: 1 },
    },
  },
];
