/**
 * The query catalog: every PromQL expression a dashboard panel runs, as typed
 * functions of the stack's settings, separate from panel layout. Each query
 * filters by the dashboard variables on exactly the labels its series carry
 * and reads recorded series where a recording rule precomputes the
 * aggregation (see recording.ts).
 */
import { metrics } from "./metrics";
import { modelLevel, recordedNames, type RecordedNames } from "./recording";
import { burnRatePairs, sloRatioWindows, sloRecordedNames, type SloWindow } from "./slo";

/** Dashboard variables that filter series, each named after the label it filters. */
export const filterVariables = ["model", "revision", "node", "zone", "tenant"] as const;
export type FilterVariable = (typeof filterVariables)[number];

/**
 * Label matchers for the dashboard variables a series can be filtered by.
 * Variables are multi-value with an All value of `.*`, so `=~` matches one,
 * several, or every value (including series without the label).
 */
export function filters(labels: readonly string[], extra: readonly string[] = []): string {
  const matchers = [...extra, ...filterVariables.filter((v) => labels.includes(v)).map((v) => `${v}=~"$${v}"`)];
  return matchers.length === 0 ? "" : `{${matchers.join(", ")}}`;
}

export interface PanelQuery {
  expr: string;
  /** Grafana legend format. */
  legend: string;
  /** Instant query (stat, gauge, table, bar chart) rather than a range. */
  instant?: boolean;
  /** Heatmap buckets (`le`) rather than time series. */
  format?: "heatmap" | "table";
  /** Reference id within its panel. */
  refId?: string;
  /**
   * Why the query reads raw series rather than recorded ones (with its
   * variables at All or picked): a test requires this of every query that
   * does, and of no other.
   */
  readsRaw?: string;
}

/** Reasons a panel reads raw series, shared by the panels they hold for. */
const rawBecause = {
  perGpu: "one sample per GPU and point: the raw series are the panel's grain (a MIG GPU's instances repeat a device-level reading)",
  counterNow: "instant, one sample per GPU (or MIG instance repeating it): the reading's current value is the column",
  perNodeNow: "instant, one sample per row it shows: the seed's grain",
} as const;

const gpuLabels = metrics.DCGM_FI_DEV_FB_USED.labels;

export interface QueryContext {
  /** Recorded series names for the stack's rate window. */
  recorded: RecordedNames;
  /** How long a held GPU must stay below the idle threshold to count as idle. */
  idleWindow: string;
  /** Seconds between recorded samples, to turn counted idle samples into GPU-hours. */
  scrapeIntervalSeconds: number;
  /** The SLO window the objectives are promised over. */
  sloWindow: SloWindow;
}

export function queryContext(window: string, opts: { idleWindow?: string; scrapeIntervalSeconds?: number; sloWindow?: SloWindow } = {}): QueryContext {
  return { recorded: recordedNames(window), idleWindow: opts.idleWindow ?? "1h", scrapeIntervalSeconds: opts.scrapeIntervalSeconds ?? 30, sloWindow: opts.sloWindow ?? "30d" };
}

/**
 * Legend of a series per GPU or MIG instance: the node, the GPU's index on it
 * (`gpu`; the 40-character UUID would fill the legend) and the MIG instance.
 */
export const gpuLegend = "{{node}} {{gpu}} {{mig}}";

/**
 * Adds `mig`, the MIG profile and instance in one label ("3g.40gb 1"; blank on
 * whole GPUs), so the legend names a MIG instance compactly.
 */
export function withMig(expr: string): string {
  return `label_join(${expr}, "mig", " ", "mig_profile", "mig_instance")`;
}

/** Name of the ECC table's thermal-throttling column. */
export const thermalColumn = "thermal throttled (share)";

/**
 * A label no stored series carries: Prometheus drops every label whose name
 * starts with `__` (the metric name aside) before it stores a series, so a
 * matcher on it sees the empty string on every series.
 */
export const switchLabel = "__variables__";

/**
 * A panel that reads a coarse recorded series while the variables it is
 * filtered by are at All, and filters a finer series as soon as one is not.
 * Grafana cannot branch, but a regex can: both sides carry a matcher on
 * `switchLabel` whose regex is the variables' values, concatenated. At All
 * every value is `.*`, which matches the empty string, so the coarse side's
 * `=~` keeps its series and the fine side's `!~` keeps none (Prometheus
 * answers that from the index without reading a sample). A selected value is
 * never empty (`label_values` lists none), so the concatenation no longer
 * matches the empty string and the sides swap.
 *
 * `coarse` and `fine` take the label matchers of their selectors: the
 * variables on the labels each carries (`filters`) and the switch; and the
 * switch alone, for a selector the variables do not filter (every selector
 * of a side must carry it, or it is read while the side is off).
 * `switchOn` are the variables that turn to the fine side: by default those
 * the fine series can be filtered by and the coarse one cannot. The result is
 * an `or`, the weakest operator: parenthesize it inside a larger expression.
 */
export function coarseAtAll(
  grain: { coarse: readonly string[]; fine: readonly string[]; switchOn?: readonly FilterVariable[] },
  coarse: (matchers: string, switchOnly: string) => string,
  fine: (matchers: string, switchOnly: string) => string,
): string {
  const switchOn = grain.switchOn ?? filterVariables.filter((v) => grain.fine.includes(v) && !grain.coarse.includes(v));
  if (switchOn.length === 0) return coarse(filters(grain.coarse), "");
  const values = switchOn.map((v) => `\${${v}}`).join("");
  const off = `${switchLabel}!~"${values}"`;
  const on = `${switchLabel}=~"${values}"`;
  return `${fine(filters(grain.fine, [off]), `{${off}}`)} or ${coarse(filters(grain.coarse, [on]), `{${on}}`)}`;
}

/** Every panel query, by panel key. */
export function panelQueries({ recorded: r, idleWindow, scrapeIntervalSeconds, sloWindow }: QueryContext) {
  const gpu = filters(gpuLabels);
  // Recorded router series keep the model level only; `node` is not on them, so it does not filter.
  const router = filters(modelLevel);
  // The grains the coarse sides of `coarseAtAll` are recorded at.
  const fleet = { coarse: [], fine: modelLevel };
  const perModel = { coarse: ["model"], fine: modelLevel };
  const perRevision = { coarse: ["model", "revision"], fine: modelLevel };
  // GPU readings: one line per node at All (zone is a node's), per GPU once nodes or a workload are picked.
  const perNode = { coarse: ["node", "zone"], fine: gpuLabels, switchOn: ["model", "revision", "node", "tenant"] as const };
  const fleetQuantile = (q: number, recorded: string) =>
    coarseAtAll(
      fleet,
      (m) => `${recorded}${m}`,
      (m) => `histogram_quantile(${q}, sum by (le) (${r.latencyBuckets}${m}))`,
    );
  const withUuid = (m: string) => m.replace("{", '{gpu_uuid!="", ');
  // SLO series are recorded per model and SLI (`slo`); only the model variable narrows them.
  const s = sloRecordedNames(scrapeIntervalSeconds);
  const sloModel = filters(["model"]);
  const burn = (window: string) => `${s.ratio(window)}${sloModel} / on (model, slo) ${s.budget}${sloModel}`;
  const budgetRemaining = `1 - ${burn(sloWindow)}`;
  const compliance = `1 - ${s.ratio(sloWindow)}${sloModel}`;
  const alertWindows = sloRatioWindows(sloWindow, scrapeIntervalSeconds).filter((w) => w !== sloWindow);
  const pageWindows = burnRatePairs(sloWindow, scrapeIntervalSeconds)
    .filter((p) => p.speed === "fast")
    .map((p) => p.long);
  return {
    // Overview
    fleetGpuUtilization: [
      {
        expr: coarseAtAll(
          { coarse: [], fine: gpuLabels },
          (m) => `${r.fleetGpuUtilization}${m}`,
          (m) => `avg(${r.gpuUtilization}${m})`,
        ),
        legend: "fleet",
        instant: true,
      },
    ],
    totalThroughput: [
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.fleetInferences}${m}`,
          (m) => `sum(${r.inferences}${m})`,
        ),
        legend: "inferences/s",
      },
    ],
    fleetLatency: [
      { expr: fleetQuantile(0.5, r.fleetLatencyP50), legend: "p50", refId: "A" },
      { expr: fleetQuantile(0.95, r.fleetLatencyP95), legend: "p95", refId: "B" },
      { expr: fleetQuantile(0.99, r.fleetLatencyP99), legend: "p99", refId: "C" },
    ],

    // Seed panel 1: the seed's `rate(...[1m])` becomes the recorded rate.
    throughputByModel: [
      {
        expr: coarseAtAll(
          perRevision,
          (m) => `${r.revisionInferences}${m}`,
          (m) => `sum by (model, revision) (${r.inferences}${m})`,
        ),
        legend: "{{model}} {{revision}}",
      },
    ],
    // Seed panel 2: the seed's `[30s]` window holds fewer than two samples at
    // 15-30 s scrapes (gaps, or nothing on Prometheus 3); recorded at four scrape intervals.
    tokensByModel: [
      {
        expr: coarseAtAll(
          perRevision,
          (m) => `${r.revisionTokens}${m}`,
          (m) => `sum by (model, revision) (${r.tokens}${m})`,
        ),
        legend: "{{model}} {{revision}}",
      },
    ],
    // Seed panel 3: already one sample per output point; a rule would buy nothing.
    queueDepthByModelNode: [
      {
        expr: `avg by (model, node) (infermesh_model_queue_depth${filters(metrics.infermesh_model_queue_depth.labels)})`,
        legend: "{{model}} @ {{node}}",
        format: "table",
        instant: true,
        readsRaw: rawBecause.perNodeNow,
      },
    ],
    // Seed panel 6, recorded per model (so only the model variable narrows it),
    // between the median and p99 of the same recorded buckets at the same grain,
    // so the panel shows the distribution its title names and not one quantile.
    latencyP95ByModel: [
      { expr: `${r.latencyP50}${filters(["model"])}`, legend: "{{model}} p50", refId: "A" },
      { expr: `${r.latencyP95}${filters(["model"])}`, legend: "{{model}} p95", refId: "B" },
      { expr: `${r.latencyP99}${filters(["model"])}`, legend: "{{model}} p99", refId: "C" },
    ],
    latencyHeatmap: [
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.fleetLatencyBuckets}${m}`,
          (m) => `sum by (le) (${r.latencyBuckets}${m})`,
        ),
        legend: "{{le}}",
        format: "heatmap",
      },
    ],
    errorRateByModel: [
      {
        expr: coarseAtAll(
          perModel,
          (m) => `${r.errorRatio}${m}`,
          (m) => `sum by (model) (${r.errors}${m}) / sum by (model) (${r.inferences}${m})`,
        ),
        legend: "{{model}}",
      },
    ],
    // The error ratio of the selected models split by kind: what the error-rate runbook decides on (out of memory,
    // timeout, runtime error) once the model is picked from the panel above. Per kind rather than per model and kind:
    // every model's four kinds (256 series at 64 models) would be no picture.
    errorsByKind: [
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.errorKindRatio}${m}`,
          (m) => `sum by (error) (${r.errors}${m}) / ignoring (error) group_left () sum(${r.inferences}${m})`,
        ),
        legend: "{{error}}",
      },
    ],

    // Seed panel 4: MIG instances report no GPU_UTIL, so the recorded
    // utilization (graphics-engine activity there) is shown per instance.
    // With nodes and workloads at All, one line per node (1,000 GPUs as lines are no picture); per GPU once some are picked.
    gpuUtilization: [
      {
        expr: coarseAtAll(
          perNode,
          (m) => withMig(`${r.nodeGpuUtilization}${m}`),
          (m) => withMig(`avg by (gpu_uuid, gpu, mig_profile, mig_instance, node) (${r.gpuUtilization}${withUuid(m)})`),
        ),
        legend: gpuLegend,
      },
    ],
    // Seed panel 5, per GPU or MIG instance, recorded. The seed's query is the
    // used ratio under the title "VRAM Headroom"; the panel shows what its title
    // says, the share of memory still free (1 - used ratio).
    // One value per GPU or MIG instance (instances of one profile differ by mig_instance).
    vramHeadroom: [
      {
        expr: coarseAtAll(
          perNode,
          (m) => withMig(`${r.nodeVramFree}${m}`),
          (m) => withMig(`1 - max by (gpu_uuid, gpu, mig_profile, mig_instance, node) (${r.vramRatio}${withUuid(m)})`),
        ),
        legend: gpuLegend,
        instant: true,
      },
    ],
    // Seed panel 10: the counters as a table, now. The aggregate counter counts over the GPU's life and the
    // volatile one since the driver loaded: their values are the two columns, one sample each.
    // ECC counters are device-level and every MIG instance of a GPU repeats them: max, not sum.
    eccErrors: [
      ...(
        [
          ["DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "double-bit (lifetime)", "A"],
          ["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "double-bit (since driver load)", "B"],
          ["DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "single-bit (lifetime)", "C"],
          ["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "single-bit (since driver load)", "D"],
        ] as const
      ).map(([counter, legend, refId]) => ({
        expr: `max by (gpu_uuid, node) (${counter}${gpu})`,
        legend,
        format: "table" as const,
        instant: true,
        refId,
        readsRaw: rawBecause.counterNow,
      })),
      // The seed's title promises thermal throttling beside the errors: the share of the range each GPU was throttled
      // for heat, from the counter's two ends (two samples a GPU, not every scrape of the range; a driver reload
      // within the range resets it, and the share then reads as 0 rather than negative). A GPU with no sample at the
      // range's start joined within it: its counter, since its driver loaded, is all it was throttled for.
      {
        expr: `max by (gpu_uuid, node) (clamp_min(DCGM_FI_DEV_THERMAL_VIOLATION${gpu} - DCGM_FI_DEV_THERMAL_VIOLATION${gpu} offset $__range, 0) or DCGM_FI_DEV_THERMAL_VIOLATION${gpu}) / 1e9 / $__range_s`,
        legend: thermalColumn,
        format: "table",
        instant: true,
        refId: "E",
        readsRaw: "instant, two samples per GPU: the counter at both ends of the range",
      },
    ],
    // Violation counters are nanoseconds throttled; per second of wall time that is the throttled fraction.
    thermalThrottling: [
      {
        expr: coarseAtAll(
          perNode,
          (m) => `${r.nodeThermalThrottled}${m}`,
          (m) => `max by (gpu_uuid, gpu, node) (rate(DCGM_FI_DEV_THERMAL_VIOLATION${m}[$__rate_interval])) / 1e9`,
        ),
        legend: "{{node}} {{gpu}} thermal",
        refId: "A",
        readsRaw: rawBecause.perGpu,
      },
      {
        expr: coarseAtAll(
          perNode,
          (m) => `${r.nodePowerThrottled}${m}`,
          (m) => `max by (gpu_uuid, gpu, node) (rate(DCGM_FI_DEV_POWER_VIOLATION${m}[$__rate_interval])) / 1e9`,
        ),
        legend: "{{node}} {{gpu}} power",
        refId: "B",
        readsRaw: rawBecause.perGpu,
      },
    ],
    // Device-level readings repeat on every MIG instance of a GPU: max, not sum. At All, each node's hottest (or
    // hungriest) GPU.
    gpuTemperature: [
      {
        expr: coarseAtAll(
          perNode,
          (m) => `${r.nodeGpuTemperature}${m}`,
          (m) => `max by (gpu_uuid, gpu, node) (DCGM_FI_DEV_GPU_TEMP${m})`,
        ),
        legend: "{{node}} {{gpu}}",
        readsRaw: rawBecause.perGpu,
      },
    ],
    gpuPower: [
      {
        expr: coarseAtAll(
          perNode,
          (m) => `${r.nodeGpuPower}${m}`,
          (m) => `max by (gpu_uuid, gpu, node) (DCGM_FI_DEV_POWER_USAGE${m})`,
        ),
        legend: "{{node}} {{gpu}}",
        readsRaw: rawBecause.perGpu,
      },
    ],
    // A table: the node and GPU are columns, and the value column is named by the legend.
    xidErrors: [{ expr: `max by (gpu_uuid, node) (DCGM_FI_DEV_XID_ERRORS${gpu})`, legend: "Last XID", format: "table", instant: true, readsRaw: rawBecause.counterNow }],

    // Seed panel 7: the seed's `count by (target_node) (rate(...))` counts
    // routers per node; how often a node is chosen is the sum of the rates.
    targetChoices: [{ expr: `sum by (target_node) (${r.targetChoices}${router})`, legend: "{{target_node}}", instant: true }],
    // Seed panel 8, recorded.
    // At All, per reason over every model (64 models' five reasons as stacked bars would be no picture); per reason and
    // model once any variable is picked.
    rejectionsByReason: [
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.rejectionsByReason}${m}`,
          (m) => `sum by (reason, model) (${r.rejections}${m})`,
        ),
        legend: "{{reason}} {{model}}",
      },
    ],
    // Seed panel 9, as written.
    nodeHealth: [
      {
        expr: `max by (node) (infermesh_node_healthy${filters(metrics.infermesh_node_healthy.labels)})`,
        legend: "{{node}}",
        format: "table",
        instant: true,
        readsRaw: rawBecause.perNodeNow,
      },
    ],
    hedgeEffectiveness: [
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.hedgedRatio}${m}`,
          (m) => `sum(${r.hedged}${m}) / sum(${r.routerRequests}${m})`,
        ),
        legend: "hedged share of requests",
        refId: "A",
      },
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.hedgeWinRatio}${m}`,
          (m) => `sum(${r.hedgeWins}${m}) / sum(${r.hedged}${m})`,
        ),
        legend: "hedges that won",
        refId: "B",
      },
    ],
    cancellationsByReason: [
      {
        expr: coarseAtAll(
          fleet,
          (m) => `${r.cancellationsByReason}${m}`,
          (m) => `sum by (reason) (${r.cancellations}${m})`,
        ),
        legend: "{{reason}}",
      },
    ],

    // SLOs: objective, SLI over the SLO window, error budget remaining and burn rates (monitoring/slo.ts).
    sloSummary: [
      { expr: `1 - ${s.budget}${sloModel}`, legend: "objective", format: "table", instant: true, refId: "A" },
      { expr: compliance, legend: `SLI (${sloWindow})`, format: "table", instant: true, refId: "B" },
      { expr: budgetRemaining, legend: "error budget remaining", format: "table", instant: true, refId: "C" },
    ],
    // Burn rate: the error ratio over a window as a multiple of the budget; 1 spends it exactly over the SLO window.
    sloBurnRates: alertWindows.map((w, i) => ({ expr: burn(w), legend: w, format: "table" as const, instant: true, refId: "ABCDEFGHIJ"[i] as string })),
    sloBurnRateHistory: pageWindows.map((w, i) => ({ expr: burn(w), legend: `{{model}} {{slo}} over ${w}`, refId: "AB"[i] as string })),
    sloBudgetRemainingHistory: [{ expr: budgetRemaining, legend: "{{model}} {{slo}}" }],
    sloComplianceHistory: [{ expr: compliance, legend: "{{model}} {{slo}}" }],

    // Capacity and waste, per GPU pool (node labels from kube-state-metrics, recorded as node → pool).
    gpusByPool: [
      { expr: r.poolGpusAllocatable, legend: "{{pool}} allocatable", refId: "A" },
      { expr: r.poolGpusRequested, legend: "{{pool}} requested", refId: "B" },
    ],
    pendingGpuPods: [
      {
        expr: `${r.pendingGpuPods} > 0`,
        legend: "{{namespace}}",
        instant: true,
      },
    ],
    nodesByPool: [{ expr: `count by (pool, capacity) (${r.nodePool})`, legend: "{{pool}} ({{capacity}})", instant: true }],
    // Idle: held by a pod and below the idle threshold for the whole idle window.
    idleGpus: [
      {
        expr: coarseAtAll(
          { coarse: [], fine: gpuLabels },
          // Pools and namespaces with an idle GPU only, as the fine side counts them.
          (m) => `${r.poolIdleForWindow}${m} > 0`,
          (m, off) => `count by (pool, namespace) ((min_over_time(${r.gpuIdle}${m}[${idleWindow}]) == 1) * on (node) group_left (pool) ${r.nodePool}${off})`,
        ),
        legend: "{{pool}} {{namespace}}",
        format: "table",
        instant: true,
      },
    ],
    // Each idle sample stands for one scrape interval of one GPU.
    gpuHoursWasted: [
      {
        expr: `(${coarseAtAll(
          { coarse: [], fine: gpuLabels },
          (m) => `sum by (pool, namespace) (sum_over_time(${r.poolIdleGpus}${m}[$__range]))`,
          (m, off) => `sum by (pool, namespace) (sum_over_time(${r.gpuIdle}${m}[$__range]) * on (node) group_left (pool) ${r.nodePool}${off})`,
        )}) * ${scrapeIntervalSeconds} / 3600`,
        legend: "{{pool}} {{namespace}}",
        format: "table",
        instant: true,
      },
    ],
  } satisfies Record<string, PanelQuery[]>;
}

export type PanelKey = keyof ReturnType<typeof panelQueries>;
