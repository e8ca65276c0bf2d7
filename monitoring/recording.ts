/**
 * Recording rules: the expensive aggregations the dashboards and alerts read,
 * precomputed by Prometheus (or AMP) in every mode. Names follow
 * `level:metric:operations`; the levels used here are shorthands for the
 * labels a rule keeps:
 *
 * | level        | labels kept                                        |
 * |--------------|----------------------------------------------------|
 * | `model`      | model, revision, tenant, zone                      |
 * | `model_le`   | model, revision, tenant, zone, le                  |
 * | `model` (p50/p95/p99, queue depth, error ratio) | model only: the grain of the seed's panel and of the alerts |
 * | `model_revision` | model, revision                                |
 * | `reason`, `le`, `error` | the metric's own label only             |
 * | `fleet`      | none: the whole fleet                              |
 * | `router`     | model, revision, tenant, zone (+ the metric's own) |
 * | `gpu`        | every GPU label (one series per GPU or MIG instance) |
 * | `node`       | node, zone (GPU readings: one series per GPU node); node, pool, capacity (`node:infermesh_gpu_pool:info`) |
 * | `pool`, `pool_namespace` | the GPU pool (and the namespace holding the GPUs) |
 * | `model` (SLO) | model, slo (monitoring/slo.ts)                    |
 *
 * The coarse levels (`fleet`, `le`, `reason`, `error`, `model` (error ratio),
 * `model_revision`, `node`, `pool`) are each the exact grain of one dashboard
 * panel with its variables at All, so a full load reads one sample per point
 * it draws; a selected variable filters the finer level instead
 * (`coarseAtAll` in queries.ts). Each is an aggregation of a finer recorded
 * series, so evaluating it reads hundreds of samples, not the raw fleet.
 *
 * `node` is not kept on request-level rules: a request rate per node and per
 * GPU is what the raw series already are, and keeping it would leave nothing
 * to precompute. Node-level panels read raw series (cheap: one sample each).
 */

import { defaultSloSpec, longWindowInterval, sloRecordingRules, type SloSpec } from "./slo";

export interface RecordingRule {
  record: string;
  expr: string;
  /** What reads it, for reviewers. */
  purpose: string;
  /** `long`: a window of a day or more, evaluated in its own, slower group. */
  cadence?: "long";
}

/** Label sets kept by the levels above. */
export const modelLevel = ["model", "revision", "tenant", "zone"] as const;

/**
 * Window of recorded rates: four scrape intervals (a rate needs at least two
 * samples; four survive a missed scrape), and at least one minute.
 */
export function rateWindow(scrapeIntervalSeconds: number): string {
  const seconds = Math.max(60, 4 * scrapeIntervalSeconds);
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

const by = (labels: readonly string[]) => `by (${labels.join(", ")})`;

/** Names of the recorded series, for the query catalog and the alerts. */
export function recordedNames(window: string) {
  return {
    inferences: `model:infermesh_inferences:rate${window}`,
    tokens: `model:infermesh_tokens_generated:rate${window}`,
    errors: `model:infermesh_inference_errors:rate${window}`,
    latencyBuckets: `model_le:infermesh_inference_latency_bucket:rate${window}`,
    latencyP50: `model:infermesh_inference_latency:p50_${window}`,
    latencyP95: `model:infermesh_inference_latency:p95_${window}`,
    latencyP99: `model:infermesh_inference_latency:p99_${window}`,
    queueDepth: "model:infermesh_model_queue_depth:avg",
    routerRequests: `router:infermesh_router_requests:rate${window}`,
    rejections: `router:infermesh_requests_rejected:rate${window}`,
    targetChoices: `router:infermesh_router_target_chosen:rate${window}`,
    hedged: `router:infermesh_router_hedged_requests:rate${window}`,
    hedgeWins: `router:infermesh_router_hedge_wins:rate${window}`,
    cancellations: `router:infermesh_router_cancellations:rate${window}`,
    fleetInferences: `fleet:infermesh_inferences:rate${window}`,
    fleetLatencyBuckets: `le:infermesh_inference_latency_bucket:rate${window}`,
    fleetLatencyP50: `fleet:infermesh_inference_latency:p50_${window}`,
    fleetLatencyP95: `fleet:infermesh_inference_latency:p95_${window}`,
    fleetLatencyP99: `fleet:infermesh_inference_latency:p99_${window}`,
    revisionInferences: `model_revision:infermesh_inferences:rate${window}`,
    revisionTokens: `model_revision:infermesh_tokens_generated:rate${window}`,
    errorRatio: `model:infermesh_inference_errors:ratio_rate${window}`,
    errorKindRatio: `error:infermesh_inference_errors:ratio_rate${window}`,
    rejectionsByReason: `reason:infermesh_requests_rejected:rate${window}`,
    cancellationsByReason: `reason:infermesh_router_cancellations:rate${window}`,
    hedgedRatio: `fleet:infermesh_router_hedged_requests:ratio_rate${window}`,
    hedgeWinRatio: `fleet:infermesh_router_hedge_wins:ratio_rate${window}`,
    gpuUtilization: "gpu:infermesh_gpu_utilization:percent",
    fleetGpuUtilization: "fleet:infermesh_gpu_utilization:avg",
    nodeGpuUtilization: "node:infermesh_gpu_utilization:avg",
    nodeGpuTemperature: "node:infermesh_gpu_temperature:max",
    nodeGpuPower: "node:infermesh_gpu_power:max",
    nodeVramFree: "node:infermesh_gpu_memory_free:ratio_min",
    pendingGpuPods: "namespace:infermesh_gpu_pods_pending:count",
    nodeThermalThrottled: `node:infermesh_gpu_thermal_throttled:ratio_rate${window}`,
    nodePowerThrottled: `node:infermesh_gpu_power_throttled:ratio_rate${window}`,
    poolGpusAllocatable: "pool:infermesh_gpus_allocatable:sum",
    poolGpusRequested: "pool:infermesh_gpus_requested:sum",
    poolIdleGpus: "pool_namespace:infermesh_gpus_idle:count",
    gpuIdleLong: "gpu:infermesh_gpu_idle:min_long",
    poolIdleForWindow: "pool_namespace:infermesh_gpus_idle_for_window:count",
    gpuIdle: "gpu:infermesh_gpu_idle:bool",
    nodePool: "node:infermesh_gpu_pool:info",
    vramRatio: "gpu:infermesh_gpu_memory_used:ratio",
  } as const;
}

export type RecordedNames = ReturnType<typeof recordedNames>;

/** GPU GPU-utilization percent below which a GPU held by a pod counts as idle, unless the stack sets its own. */
export const defaultIdleUtilizationPercent = 5;

/** Which pool a GPU node belongs to, from kube-state-metrics' node labels. */
export const nodePoolExpr =
  'max by (node, pool, capacity) (label_replace(label_replace(kube_node_labels{label_infermesh_io_node_class="gpu"}, "pool", "$1", "label_infermesh_io_pool", "(.+)"), "capacity", "$1", "label_infermesh_io_capacity", "(.+)"))';

export function recordingRules(scrapeIntervalSeconds: number, opts: { idleUtilizationPercent?: number; idleWindow?: string; slo?: SloSpec } = {}): RecordingRule[] {
  const w = rateWindow(scrapeIntervalSeconds);
  const n = recordedNames(w);
  const model = by(modelLevel);
  return [
    { record: n.inferences, expr: `sum ${model} (rate(infermesh_inferences_total[${w}]))`, purpose: "throughput panels, error ratio" },
    { record: n.tokens, expr: `sum ${model} (rate(infermesh_tokens_generated_total[${w}]))`, purpose: "token rate panels" },
    { record: n.errors, expr: `sum ${by([...modelLevel, "error"])} (rate(infermesh_inference_errors_total[${w}]))`, purpose: "error rate panel and alert" },
    { record: n.latencyBuckets, expr: `sum ${by([...modelLevel, "le"])} (rate(infermesh_inference_latency_bucket[${w}]))`, purpose: "latency heatmap and fleet quantiles" },
    {
      record: n.latencyP95,
      // Per model across revisions, tenants and zones: quantiles cannot be combined after the fact.
      expr: `histogram_quantile(0.95, sum by (model, le) (${n.latencyBuckets}))`,
      purpose: "per-model p95 panel (seed panel 6) and latency alert",
    },
    // p50 and p99 beside it in the latency distribution panel, recorded alike so the panel reads one series per model and quantile.
    { record: n.latencyP50, expr: `histogram_quantile(0.5, sum by (model, le) (${n.latencyBuckets}))`, purpose: "per-model latency distribution panel (p50)" },
    { record: n.latencyP99, expr: `histogram_quantile(0.99, sum by (model, le) (${n.latencyBuckets}))`, purpose: "per-model latency distribution panel (p99)" },
    { record: n.queueDepth, expr: `avg by (model) (infermesh_model_queue_depth)`, purpose: "queue depth alert (the seed's avg per model)" },
    { record: n.routerRequests, expr: `sum ${model} (rate(infermesh_router_requests_total[${w}]))`, purpose: "rejection and hedge ratios" },
    { record: n.rejections, expr: `sum ${by([...modelLevel, "reason"])} (rate(infermesh_requests_rejected_total[${w}]))`, purpose: "admission control panel and alert" },
    { record: n.targetChoices, expr: `sum ${by([...modelLevel, "target_node"])} (rate(infermesh_router_target_chosen_total[${w}]))`, purpose: "target choice distribution" },
    { record: n.hedged, expr: `sum ${model} (rate(infermesh_router_hedged_requests_total[${w}]))`, purpose: "hedge effectiveness" },
    { record: n.hedgeWins, expr: `sum ${model} (rate(infermesh_router_hedge_wins_total[${w}]))`, purpose: "hedge effectiveness" },
    { record: n.cancellations, expr: `sum ${by([...modelLevel, "reason"])} (rate(infermesh_router_cancellations_total[${w}]))`, purpose: "cancellations by reason" },
    {
      record: n.gpuUtilization,
      // GPU_UTIL is not reported on MIG instances; the graphics-engine ratio is, so it stands in there.
      expr: `DCGM_FI_DEV_GPU_UTIL or (DCGM_FI_PROF_GR_ENGINE_ACTIVE{mig_profile!=""} * 100)`,
      purpose: "utilization per GPU or MIG instance, fleet utilization",
    },
    { record: n.vramRatio, expr: "DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL", purpose: "VRAM headroom panel and near-OOM alert" },
    {
      record: n.gpuIdle,
      // Only GPUs a pod holds can be wasted; `pod` is set on those alone.
      expr: `${n.gpuUtilization}{pod!=""} < bool ${opts.idleUtilizationPercent ?? defaultIdleUtilizationPercent}`,
      purpose: "idle-GPU panels and GPU-hours wasted",
    },
    { record: n.nodePool, expr: nodePoolExpr, purpose: "capacity panels per pool, pool-at-max alert" },
    ...coarseRules(n, w, opts.idleWindow ?? "1h", longWindowInterval(scrapeIntervalSeconds)),
    ...sloRecordingRules(opts.slo ?? defaultSloSpec, scrapeIntervalSeconds),
  ];
}

/** GPU extended resources as kube-state-metrics names them: whole GPUs, or MIG slices of the mixed strategy. */
export const gpuResourceMatcher = 'resource=~"nvidia_com_gpu|nvidia_com_mig_.+"';

/**
 * The coarse levels: each the grain of one panel with its variables at All,
 * each read from a finer recorded series (or, for GPU readings, from the
 * node's own handful of series), so an evaluation reads hundreds of samples.
 */
function coarseRules(n: RecordedNames, w: string, idleWindow: string, longInterval: string): RecordingRule[] {
  // One series per node, its `gpu` label naming what it shows of the node's GPUs (the legend names a GPU there).
  const perNode = (how: "avg" | "max" | "min", expr: string) => `label_replace(${how} by (node, zone) (${expr}), "gpu", "${how}", "", "")`;
  const onPool = `* on (node) group_left (pool) ${n.nodePool}`;
  return [
    { record: n.fleetInferences, expr: `sum(${n.inferences})`, purpose: "total throughput (Overview)" },
    { record: n.fleetLatencyBuckets, expr: `sum by (le) (${n.latencyBuckets})`, purpose: "fleet quantiles, latency heatmap" },
    { record: n.fleetLatencyP50, expr: `histogram_quantile(0.5, ${n.fleetLatencyBuckets})`, purpose: "fleet latency (Overview)" },
    { record: n.fleetLatencyP95, expr: `histogram_quantile(0.95, ${n.fleetLatencyBuckets})`, purpose: "fleet latency (Overview)" },
    { record: n.fleetLatencyP99, expr: `histogram_quantile(0.99, ${n.fleetLatencyBuckets})`, purpose: "fleet latency (Overview)" },
    { record: n.revisionInferences, expr: `sum by (model, revision) (${n.inferences})`, purpose: "throughput per model and revision" },
    { record: n.revisionTokens, expr: `sum by (model, revision) (${n.tokens})`, purpose: "token rate per model and revision" },
    { record: n.errorRatio, expr: `sum by (model) (${n.errors}) / sum by (model) (${n.inferences})`, purpose: "error rate by model" },
    { record: n.errorKindRatio, expr: `sum by (error) (${n.errors}) / ignoring (error) group_left () sum(${n.inferences})`, purpose: "errors by kind" },
    {
      record: n.rejectionsByReason,
      // `model` names what the series sums, for the panel's legend (`{{reason}} {{model}}`) at every grain.
      expr: `label_replace(sum by (reason) (${n.rejections}), "model", "all models", "", "")`,
      purpose: "admission control panel, every model",
    },
    { record: n.cancellationsByReason, expr: `sum by (reason) (${n.cancellations})`, purpose: "cancellations by reason" },
    { record: n.hedgedRatio, expr: `sum(${n.hedged}) / sum(${n.routerRequests})`, purpose: "hedge effectiveness" },
    { record: n.hedgeWinRatio, expr: `sum(${n.hedgeWins}) / sum(${n.hedged})`, purpose: "hedge effectiveness" },
    { record: n.fleetGpuUtilization, expr: `avg(${n.gpuUtilization})`, purpose: "fleet GPU utilization (Overview)" },
    { record: n.nodeGpuUtilization, expr: perNode("avg", n.gpuUtilization), purpose: "GPU utilization per node" },
    // Device-level readings repeat on every MIG instance of a GPU: max, never sum.
    { record: n.nodeGpuTemperature, expr: perNode("max", "DCGM_FI_DEV_GPU_TEMP"), purpose: "hottest GPU per node" },
    { record: n.nodeGpuPower, expr: perNode("max", "DCGM_FI_DEV_POWER_USAGE"), purpose: "highest GPU power draw per node" },
    // Violation counters are nanoseconds throttled; per second of wall time that is the throttled fraction.
    { record: n.nodeThermalThrottled, expr: `${perNode("max", `rate(DCGM_FI_DEV_THERMAL_VIOLATION[${w}])`)} / 1e9`, purpose: "thermal throttling per node" },
    { record: n.nodePowerThrottled, expr: `${perNode("max", `rate(DCGM_FI_DEV_POWER_VIOLATION[${w}])`)} / 1e9`, purpose: "power throttling per node" },
    { record: n.nodeVramFree, expr: perNode("min", `1 - ${n.vramRatio}`), purpose: "VRAM headroom per node (its fullest GPU)" },
    {
      record: n.pendingGpuPods,
      // 0/1 per pod holding a GPU request, so a namespace with GPU pods has a series, 0 when none is pending.
      expr: `sum by (namespace) ((max by (namespace, pod) (kube_pod_container_resource_requests{${gpuResourceMatcher}}) > bool 0) * on (namespace, pod) max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}))`,
      purpose: "pending GPU pods per namespace",
    },
    { record: n.poolGpusAllocatable, expr: `sum by (pool) (kube_node_status_allocatable{${gpuResourceMatcher}} ${onPool})`, purpose: "GPUs allocatable per pool" },
    {
      record: n.poolGpusRequested,
      expr: `sum by (pool) (kube_pod_container_resource_requests{${gpuResourceMatcher}} * on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1) ${onPool})`,
      purpose: "GPUs requested by running pods per pool",
    },
    // Sums of 0/1 rather than counts of the idle ones: a pool and namespace holding GPUs has a series, 0 when none idles.
    { record: n.poolIdleGpus, expr: `sum by (pool, namespace) (${n.gpuIdle} ${onPool})`, purpose: "GPU-hours wasted (one sample per pool, namespace and interval)" },
    // Idle for the whole idle window, in two steps of the long group: the least of each interval, then the least of those
    // over the window, so an evaluation reads a sample per GPU and interval rather than every scrape of the window.
    { record: n.gpuIdleLong, expr: `min_over_time(${n.gpuIdle}[${longInterval}])`, purpose: "idle GPUs over the idle window", cadence: "long" },
    {
      record: n.poolIdleForWindow,
      expr: `sum by (pool, namespace) (min_over_time(${n.gpuIdleLong}[${idleWindow}]) ${onPool})`,
      purpose: `idle GPUs panel: held and idle for the whole idle window`,
      cadence: "long",
    },
  ];
}
