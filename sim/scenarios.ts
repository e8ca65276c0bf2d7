/**
 * What can go wrong in the synthetic fleet, and which alerts of the catalog
 * (alerts/catalog.ts) each scenario must raise.
 */

export const scenarioNames = [
  "healthy",
  "vram-near-oom",
  "queue-spike",
  "latency-breach",
  "node-down",
  "ecc-double-bit",
  "thermal-throttling",
  "dcgm-exporter-gone",
  "agent-gone",
  "rejection-spike",
  "error-spike",
  "gpu-idle",
  "gpu-pod-pending",
  "slo-slow-burn",
  "slo-fast-burn",
  "contract-metric-gone",
  "pool-at-max-size",
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}

export interface ScenarioSpec {
  name: ScenarioName;
  /** What goes wrong and where (the entity is named by `Fleet.scenarioTarget`). */
  description: string;
  /** Alert names of the catalog (alerts/catalog.ts) the scenario raises; no other alert may be raised. */
  alerts: readonly string[];
  /**
   * Alerts the scenario may also raise, from the scenario on, depending on
   * how much healthy history Prometheus holds (an SLO window still mostly
   * healthy does not burn): allowed, not required.
   */
  mayAlsoRaise?: readonly string[];
  /**
   * When its alerts resolve after the fleet recovers: `at-once` (the next
   * evaluation), or `after-window` (the alert reads a range, e.g. `[10m]`, that
   * still holds the bad samples).
   */
  clears: "at-once" | "after-window";
}

export const scenarios: Readonly<Record<ScenarioName, ScenarioSpec>> = {
  healthy: {
    name: "healthy",
    description:
      "Every target answers; VRAM below 80%, queues short, p95 under 1 s, 1% of requests rejected, 0.6% of inferences failing, no ECC or XID errors, throttling under 2% of the time.",
    alerts: [],
    clears: "at-once",
  },
  "vram-near-oom": {
    name: "vram-near-oom",
    description: "One whole GPU holding a model uses 96% of its framebuffer.",
    alerts: ["InfermeshGpuNearOom"],
    clears: "at-once",
  },
  "queue-spike": {
    name: "queue-spike",
    description: "Every queue of one model (gpt-7b, the seed's example) holds far more requests than its limit.",
    alerts: ["InfermeshHighQueueDepth"],
    clears: "at-once",
  },
  "latency-breach": {
    name: "latency-breach",
    description: "One model's (gpt-7b) inferences take 10-30 s instead of under 1 s.",
    alerts: ["InfermeshLatencyP95Breach"],
    mayAlsoRaise: ["InfermeshSloFastBurn", "InfermeshSloSlowBurn"],
    clears: "after-window",
  },
  "node-down": {
    name: "node-down",
    description: "Gossip reports one GPU node unhealthy (every Router says 0) and Routers stop choosing it; its exporters still answer.",
    alerts: ["InfermeshNodeDown"],
    clears: "at-once",
  },
  "ecc-double-bit": {
    name: "ecc-double-bit",
    description: "One whole GPU reports two double-bit ECC errors (volatile and aggregate counters) and the XID 48 that comes with them.",
    alerts: ["InfermeshGpuEccDoubleBitErrors", "InfermeshGpuXidErrors"],
    clears: "after-window",
  },
  "thermal-throttling": {
    name: "thermal-throttling",
    description: "One whole GPU runs at 88 C and is thermally throttled all the time (a failed fan).",
    alerts: ["InfermeshGpuThermalThrottling"],
    clears: "after-window",
  },
  "dcgm-exporter-gone": {
    name: "dcgm-exporter-gone",
    description: "One GPU node's dcgm-exporter answers every scrape with HTTP 503, so none of its GPU series arrive.",
    alerts: ["InfermeshDcgmExporterDown", "InfermeshGpuMetricsAbsent"],
    clears: "at-once",
  },
  "agent-gone": {
    name: "agent-gone",
    description: "One node's infermesh Agent answers every scrape with HTTP 503.",
    alerts: ["InfermeshTargetDown"],
    clears: "at-once",
  },
  "rejection-spike": {
    name: "rejection-spike",
    description: "Routers reject half of one model's requests (429, mostly its tenants over quota).",
    alerts: ["InfermeshAdmissionRejectionsHigh"],
    clears: "after-window",
  },
  "error-spike": {
    name: "error-spike",
    description: "A bad rollout makes 60% of one model's inferences fail (mostly runtime errors).",
    alerts: ["InfermeshErrorRateHigh"],
    mayAlsoRaise: ["InfermeshSloFastBurn", "InfermeshSloSlowBurn"],
    clears: "after-window",
  },
  "gpu-idle": {
    name: "gpu-idle",
    description: "A new pod takes the idle GPU and does nothing with it (0% utilization).",
    alerts: ["InfermeshGpuIdle"],
    clears: "at-once",
  },
  "gpu-pod-pending": {
    name: "gpu-pod-pending",
    description: "A pod requesting a GPU stays Pending: no node has one free.",
    alerts: ["InfermeshGpuPodsPending"],
    clears: "at-once",
  },
  "slo-slow-burn": {
    name: "slo-slow-burn",
    description:
      "A model deployed for the scenario (its whole history) fails 4x its availability budget (under the error-rate alert's 5%) and misses its latency target on 4x its latency budget (so its p95 is over the target too); 0.5% bad requests besides, which do not count.",
    alerts: ["InfermeshSloSlowBurn", "InfermeshLatencyP95Breach"],
    clears: "after-window",
  },
  "slo-fast-burn": {
    name: "slo-fast-burn",
    description: "A model deployed for the scenario (its whole history) fails 50x its availability budget, and every inference is over its latency target (20x a 5% budget).",
    alerts: ["InfermeshSloFastBurn", "InfermeshSloSlowBurn", "InfermeshErrorRateHigh", "InfermeshLatencyP95Breach"],
    clears: "after-window",
  },
  "contract-metric-gone": {
    name: "contract-metric-gone",
    description: "Routers are replaced by a build that no longer exposes infermesh_router_requests_total (the rejection alert's denominator).",
    alerts: ["InfermeshContractMetricAbsent"],
    clears: "at-once",
  },
  "pool-at-max-size": {
    name: "pool-at-max-size",
    description:
      "The stack's GPU pool nearest its maximum size scales out to it: kube-state-metrics lists the new nodes, whose dcgm-exporter has not started yet (so they also have no GPU metrics).",
    alerts: ["InfermeshGpuPoolAtMaxSize", "InfermeshGpuMetricsAbsent"],
    clears: "at-once",
  },
};

/** An alert a scenario must raise: its name and the labels that identify the entity it is about. */
export interface ExpectedAlert {
  alertname: string;
  labels: Record<string, string>;
}
