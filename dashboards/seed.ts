/**
 * The product spec's panels and alert examples, verbatim, and where each one
 * lives in the stack's dashboards. Used to check that every seed panel exists
 * with its type, that the seed's own queries return data through the stack's
 * relabeling, and as the baseline the benchmark compares against.
 */
import type { PanelKey } from "../monitoring/queries";

export type DashboardKey = "overview" | "modelDrilldown" | "gpuHealth" | "routerBehavior" | "slo";
/** Grafana panel types the dashboards use. */
export type PanelType = "timeseries" | "stat" | "gauge" | "table" | "barchart" | "heatmap";

export interface SeedPanel {
  number: number;
  title: string;
  /** The seed's PromQL, exactly as written. */
  expr: string;
  /** The seed's "Panel Type" line. */
  seedType: string;
  /** The Grafana panel type chosen among the seed's suggestions. */
  panelType: PanelType;
  dashboard: DashboardKey;
  panel: PanelKey;
}

export const seedPanels: readonly SeedPanel[] = [
  {
    number: 1,
    title: "Inference Throughput",
    expr: "sum(rate(infermesh_inferences_total[1m])) by (model, revision)",
    seedType: "Time series line chart",
    panelType: "timeseries",
    dashboard: "modelDrilldown",
    panel: "throughputByModel",
  },
  {
    number: 2,
    title: "Token Generation Rate",
    expr: "sum(rate(infermesh_tokens_generated_total[30s])) by (model, revision)",
    seedType: "Time series line chart",
    panelType: "timeseries",
    dashboard: "modelDrilldown",
    panel: "tokensByModel",
  },
  {
    number: 3,
    title: "Queue Depth per Model",
    expr: "avg(infermesh_model_queue_depth) by (model, node)",
    seedType: "Heatmap or table",
    panelType: "table",
    dashboard: "modelDrilldown",
    panel: "queueDepthByModelNode",
  },
  {
    number: 4,
    title: "GPU Utilization",
    expr: 'avg(DCGM_FI_DEV_GPU_UTIL{gpu_uuid!=""}) by (gpu_uuid, node)',
    seedType: "Gauge or line chart",
    panelType: "timeseries",
    dashboard: "gpuHealth",
    panel: "gpuUtilization",
  },
  {
    number: 5,
    title: "VRAM Headroom",
    expr: '(avg(DCGM_FI_DEV_FB_USED{gpu_uuid!=""}) by (gpu_uuid))\n/\n(avg(DCGM_FI_DEV_FB_TOTAL{gpu_uuid!=""}) by (gpu_uuid))',
    seedType: "Gauge",
    panelType: "gauge",
    dashboard: "gpuHealth",
    panel: "vramHeadroom",
  },
  {
    number: 6,
    title: "Latency Distribution",
    expr: "histogram_quantile(0.95, sum(rate(infermesh_inference_latency_bucket[5m])) by (le, model))",
    seedType: "Time series",
    panelType: "timeseries",
    dashboard: "modelDrilldown",
    panel: "latencyP95ByModel",
  },
  {
    number: 7,
    title: "Router Target Choices",
    expr: "count by (target_node) (rate(infermesh_router_target_chosen_total[1m]))",
    seedType: "Bar chart",
    panelType: "barchart",
    dashboard: "routerBehavior",
    panel: "targetChoices",
  },
  {
    number: 8,
    title: "Admission Control (429s)",
    expr: "sum(rate(infermesh_requests_rejected_total[5m])) by (reason, model)",
    seedType: "Stacked bar chart",
    panelType: "timeseries",
    dashboard: "routerBehavior",
    panel: "rejectionsByReason",
  },
  {
    number: 9,
    title: "Node Health & Membership",
    expr: "max(infermesh_node_healthy) by (node)",
    seedType: "Single stat or table",
    panelType: "table",
    dashboard: "routerBehavior",
    panel: "nodeHealth",
  },
  {
    number: 10,
    title: "ECC Errors / Thermal Throttling",
    expr: "sum(rate(DCGM_FI_DEV_ECC_DBE_AGG_TOTAL[5m])) by (gpu_uuid)",
    seedType: "Alert table or single stat with thresholds",
    panelType: "table",
    dashboard: "gpuHealth",
    panel: "eccErrors",
  },
];

export interface SeedAlert {
  title: string;
  /** The seed's expression, exactly as written. */
  expr: string;
  /** The catalog alert that implements it. */
  alert: string;
}

export const seedAlerts: readonly SeedAlert[] = [
  { title: "High queue depth", expr: 'avg(infermesh_model_queue_depth{model="gpt-7b"}) > 50', alert: "InfermeshHighQueueDepth" },
  { title: "GPU near OOM", expr: "(DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL) > 0.9", alert: "InfermeshGpuNearOom" },
  { title: "p95 latency breach", expr: "histogram_quantile(0.95, rate(infermesh_inference_latency_bucket[5m])) > 2000", alert: "InfermeshLatencyP95Breach" },
  { title: "Node down", expr: "max(infermesh_node_healthy) by (node) == 0", alert: "InfermeshNodeDown" },
];
