/**
 * The limits the alerts fire at, which the dashboards draw as threshold lines:
 * one table, so a panel and the alert that explains it never disagree.
 */
export interface AlertThresholds {
  /** Default queue depth limit for models without their own. */
  queueDepthMax: number;
  /** Default p95 latency limit (ms) for models without their own. */
  latencyP95MaxMs: number;
  vramUsedRatioMax: number;
  rejectionRatioMax: number;
  errorRatioMax: number;
  /** Share of time a GPU may spend thermally throttled before it counts as sustained throttling. */
  thermalThrottleRatioMax: number;
}

export const defaultThresholds: AlertThresholds = {
  queueDepthMax: 100,
  latencyP95MaxMs: 2000,
  vramUsedRatioMax: 0.9,
  rejectionRatioMax: 0.05,
  errorRatioMax: 0.05,
  thermalThrottleRatioMax: 0.1,
};
