import { describe, expect, it } from "vitest";
import { contractLabels, metricOfSeries, metrics, seriesNames } from "../monitoring/metrics";

describe("metric contract", () => {
  it("holds the seed's metrics with their types", () => {
    expect({
      infermesh_inferences_total: metrics.infermesh_inferences_total.type,
      infermesh_tokens_generated_total: metrics.infermesh_tokens_generated_total.type,
      infermesh_model_queue_depth: metrics.infermesh_model_queue_depth.type,
      infermesh_inference_latency: metrics.infermesh_inference_latency.type,
      infermesh_router_target_chosen_total: metrics.infermesh_router_target_chosen_total.type,
      infermesh_requests_rejected_total: metrics.infermesh_requests_rejected_total.type,
      infermesh_node_healthy: metrics.infermesh_node_healthy.type,
    }).toEqual({
      infermesh_inferences_total: "counter",
      infermesh_tokens_generated_total: "counter",
      infermesh_model_queue_depth: "gauge",
      infermesh_inference_latency: "histogram",
      infermesh_router_target_chosen_total: "counter",
      infermesh_requests_rejected_total: "counter",
      infermesh_node_healthy: "gauge",
    });
    expect(metrics.infermesh_inference_latency.unit).toBe("milliseconds");
  });

  it("names counters with _total and everything else without", () => {
    for (const [name, m] of Object.entries(metrics)) {
      if (m.source !== "infermesh") continue;
      expect(name.endsWith("_total"), name).toBe(m.type === "counter");
    }
  });

  it("gives every metric a subset of the contract labels plus its own", () => {
    for (const [name, m] of Object.entries(metrics)) {
      const own = m.labels.filter((l) => !(contractLabels as readonly string[]).includes(l));
      expect(
        own.every((l) => /^[a-z_]+$/.test(l)),
        name,
      ).toBe(true);
      expect(new Set(m.labels).size, name).toBe(m.labels.length);
    }
    expect(metrics.DCGM_FI_DEV_FB_USED.labels).toEqual(expect.arrayContaining(["gpu_uuid", "node", "zone", "mig_profile"]));
  });

  it.each([
    ["infermesh_inference_latency_bucket", "infermesh_inference_latency"],
    ["infermesh_inference_latency_count", "infermesh_inference_latency"],
    ["infermesh_inferences_total", "infermesh_inferences_total"],
    ["infermesh_inferences_total_count", undefined],
    ["DCGM_FI_DEV_FB_FREE", undefined],
  ])("series %s belongs to %s", (series, metric) => {
    expect(metricOfSeries(series)).toBe(metric);
  });

  it("stores a histogram as three series", () => {
    expect(seriesNames("infermesh_inference_latency")).toEqual(["infermesh_inference_latency_bucket", "infermesh_inference_latency_sum", "infermesh_inference_latency_count"]);
    expect(seriesNames("infermesh_node_healthy")).toEqual(["infermesh_node_healthy"]);
  });
});
