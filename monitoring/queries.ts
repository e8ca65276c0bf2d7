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
}

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

/** GPU extended resources as kube-state-metrics names them: whole GPUs, or MIG slices of the mixed strategy. */
export const gpuResourceMatcher = 'resource=~"nvidia_com_gpu|nvidia_com_mig_.+"';

/** Every panel query, by panel key. */
export function panelQueries({ recorded: r, idleWindow, scrapeIntervalSeconds, sloWindow }: QueryContext) {
  const model = filters(modelLevel);
  const gpu = filters(gpuLabels);
  const gpuWithUuid = filters(gpuLabels, ['gpu_uuid!=""']);
  // Recorded router series keep the model level only; `node` is not on them, so it does not filter.
  const router = filters(modelLevel);
  const fleetQuantile = (q: number) => `histogram_quantile(${q}, sum by (le) (${r.latencyBuckets}${model}))`;
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
    fleetGpuUtilization: [{ expr: `avg(${r.gpuUtilization}${gpu})`, legend: "fleet", instant: true }],
    totalThroughput: [{ expr: `sum(${r.inferences}${model})`, legend: "inferences/s" }],
    fleetLatency: [
      { expr: fleetQuantile(0.5), legend: "p50", refId: "A" },
      { expr: fleetQuantile(0.95), legend: "p95", refId: "B" },
      { expr: fleetQuantile(0.99), legend: "p99", refId: "C" },
    ],

    // Seed panel 1: the seed's `rate(...[1m])` becomes the recorded rate.
    throughputByModel: [{ expr: `sum by (model, revision) (${r.inferences}${model})`, legend: "{{model}} {{revision}}" }],
    // Seed panel 2: the seed's `[30s]` window holds fewer than two samples at
    // 15-30 s scrapes (gaps, or nothing on Prometheus 3); recorded at four scrape intervals.
    tokensByModel: [{ expr: `sum by (model, revision) (${r.tokens}${model})`, legend: "{{model}} {{revision}}" }],
    // Seed panel 3: already one sample per output point; a rule would buy nothing.
    queueDepthByModelNode: [
      {
        expr: `avg by (model, node) (infermesh_model_queue_depth${filters(metrics.infermesh_model_queue_depth.labels)})`,
        legend: "{{model}} @ {{node}}",
        format: "table",
        instant: true,
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
    latencyHeatmap: [{ expr: `sum by (le) (${r.latencyBuckets}${model})`, legend: "{{le}}", format: "heatmap" }],
    errorRateByModel: [
      {
        expr: `sum by (model) (${r.errors}${model}) / sum by (model) (${r.inferences}${model})`,
        legend: "{{model}}",
      },
    ],
    // The same ratio split by error kind: what the error-rate runbook decides on (out of memory, timeout, runtime error).
    errorsByKind: [
      {
        expr: `sum by (model, error) (${r.errors}${model}) / ignoring (error) group_left () sum by (model) (${r.inferences}${model})`,
        legend: "{{model}} {{error}}",
      },
    ],

    // Seed panel 4: MIG instances report no GPU_UTIL, so the recorded
    // utilization (graphics-engine activity there) is shown per instance.
    gpuUtilization: [{ expr: withMig(`avg by (gpu_uuid, gpu, mig_profile, mig_instance, node) (${r.gpuUtilization}${gpuWithUuid})`), legend: gpuLegend }],
    // Seed panel 5, per GPU or MIG instance, recorded. The seed's query is the
    // used ratio under the title "VRAM Headroom"; the panel shows what its title
    // says, the share of memory still free (1 - used ratio).
    // One value per GPU or MIG instance (instances of one profile differ by mig_instance).
    vramHeadroom: [
      {
        expr: withMig(`1 - max by (gpu_uuid, gpu, mig_profile, mig_instance, node) (${r.vramRatio}${gpuWithUuid})`),
        legend: gpuLegend,
        instant: true,
      },
    ],
    // Seed panel 10: errors over the dashboard's range read better in a table than a per-second rate.
    // ECC counters are device-level and every MIG instance of a GPU repeats them: max, not sum.
    eccErrors: [
      { expr: `max by (gpu_uuid, node) (increase(DCGM_FI_DEV_ECC_DBE_AGG_TOTAL${gpu}[$__range]))`, legend: "double-bit (lifetime)", format: "table", instant: true, refId: "A" },
      {
        expr: `max by (gpu_uuid, node) (increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL${gpu}[$__range]))`,
        legend: "double-bit (since driver load)",
        format: "table",
        instant: true,
        refId: "B",
      },
      { expr: `max by (gpu_uuid, node) (increase(DCGM_FI_DEV_ECC_SBE_AGG_TOTAL${gpu}[$__range]))`, legend: "single-bit (lifetime)", format: "table", instant: true, refId: "C" },
      {
        expr: `max by (gpu_uuid, node) (increase(DCGM_FI_DEV_ECC_SBE_VOL_TOTAL${gpu}[$__range]))`,
        legend: "single-bit (since driver load)",
        format: "table",
        instant: true,
        refId: "D",
      },
      // The seed's title promises thermal throttling beside the errors: the share of the range each GPU was throttled for heat.
      { expr: `max by (gpu_uuid, node) (rate(DCGM_FI_DEV_THERMAL_VIOLATION${gpu}[$__range])) / 1e9`, legend: thermalColumn, format: "table", instant: true, refId: "E" },
    ],
    // Violation counters are nanoseconds throttled; per second of wall time that is the throttled fraction.
    thermalThrottling: [
      { expr: `max by (gpu_uuid, gpu, node) (rate(DCGM_FI_DEV_THERMAL_VIOLATION${gpu}[$__rate_interval])) / 1e9`, legend: "{{node}} {{gpu}} thermal", refId: "A" },
      { expr: `max by (gpu_uuid, gpu, node) (rate(DCGM_FI_DEV_POWER_VIOLATION${gpu}[$__rate_interval])) / 1e9`, legend: "{{node}} {{gpu}} power", refId: "B" },
    ],
    // Device-level readings repeat on every MIG instance of a GPU: max, not sum.
    gpuTemperature: [{ expr: `max by (gpu_uuid, gpu, node) (DCGM_FI_DEV_GPU_TEMP${gpu})`, legend: "{{node}} {{gpu}}" }],
    gpuPower: [{ expr: `max by (gpu_uuid, gpu, node) (DCGM_FI_DEV_POWER_USAGE${gpu})`, legend: "{{node}} {{gpu}}" }],
    // A table: the node and GPU are columns, and the value column is named by the legend.
    xidErrors: [{ expr: `max by (gpu_uuid, node) (DCGM_FI_DEV_XID_ERRORS${gpu})`, legend: "Last XID", format: "table", instant: true }],

    // Seed panel 7: the seed's `count by (target_node) (rate(...))` counts
    // routers per node; how often a node is chosen is the sum of the rates.
    targetChoices: [{ expr: `sum by (target_node) (${r.targetChoices}${router})`, legend: "{{target_node}}", instant: true }],
    // Seed panel 8, recorded.
    rejectionsByReason: [{ expr: `sum by (reason, model) (${r.rejections}${router})`, legend: "{{reason}} {{model}}" }],
    // Seed panel 9, as written.
    nodeHealth: [{ expr: `max by (node) (infermesh_node_healthy${filters(metrics.infermesh_node_healthy.labels)})`, legend: "{{node}}", format: "table", instant: true }],
    hedgeEffectiveness: [
      { expr: `sum(${r.hedged}${router}) / sum(${r.routerRequests}${router})`, legend: "hedged share of requests", refId: "A" },
      { expr: `sum(${r.hedgeWins}${router}) / sum(${r.hedged}${router})`, legend: "hedges that won", refId: "B" },
    ],
    cancellationsByReason: [{ expr: `sum by (reason) (${r.cancellations}${router})`, legend: "{{reason}}" }],

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
      { expr: `sum by (pool) (kube_node_status_allocatable{${gpuResourceMatcher}} * on (node) group_left (pool) ${r.nodePool})`, legend: "{{pool}} allocatable", refId: "A" },
      {
        expr: `sum by (pool) (kube_pod_container_resource_requests{${gpuResourceMatcher}} * on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1) * on (node) group_left (pool) ${r.nodePool})`,
        legend: "{{pool}} requested",
        refId: "B",
      },
    ],
    pendingGpuPods: [
      {
        expr: `count by (namespace) (max by (namespace, pod) (kube_pod_container_resource_requests{${gpuResourceMatcher}}) * on (namespace, pod) max by (namespace, pod) (kube_pod_status_phase{phase="Pending"} == 1))`,
        legend: "{{namespace}}",
        instant: true,
      },
    ],
    nodesByPool: [{ expr: `count by (pool, capacity) (${r.nodePool})`, legend: "{{pool}} ({{capacity}})", instant: true }],
    // Idle: held by a pod and below the idle threshold for the whole idle window.
    idleGpus: [
      {
        expr: `count by (pool, namespace) ((min_over_time(${r.gpuIdle}${gpu}[${idleWindow}]) == 1) * on (node) group_left (pool) ${r.nodePool})`,
        legend: "{{pool}} {{namespace}}",
        format: "table",
        instant: true,
      },
    ],
    // Each idle sample stands for one scrape interval of one GPU.
    gpuHoursWasted: [
      {
        expr: `sum by (pool, namespace) (sum_over_time(${r.gpuIdle}${gpu}[$__range]) * on (node) group_left (pool) ${r.nodePool}) * ${scrapeIntervalSeconds} / 3600`,
        legend: "{{pool}} {{namespace}}",
        format: "table",
        instant: true,
      },
    ],
  } satisfies Record<string, PanelQuery[]>;
}

export type PanelKey = keyof ReturnType<typeof panelQueries>;
