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
 * | `model` (p95, queue depth) | model only: the grain of the seed's panel and of the alerts |
 * | `router`     | model, revision, tenant, zone (+ the metric's own) |
 * | `gpu`        | every GPU label (one series per GPU or MIG instance) |
 * | `node`       | node, pool, capacity (GPU nodes only)              |
 * | `model` (SLO) | model, slo (monitoring/slo.ts)                    |
 *
 * `node` is not kept on request-level rules: a request rate per node and per
 * GPU is what the raw series already are, and keeping it would leave nothing
 * to precompute. Node-level panels read raw series (cheap: one sample each).
 */

import { defaultSloSpec, sloRecordingRules, type SloSpec } from "./slo";

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
    gpuUtilization: "gpu:infermesh_gpu_utilization:percent",
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

export function recordingRules(scrapeIntervalSeconds: number, opts: { idleUtilizationPercent?: number; slo?: SloSpec } = {}): RecordingRule[] {
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
    ...sloRecordingRules(opts.slo ?? defaultSloSpec, scrapeIntervalSeconds),
  ];
}
