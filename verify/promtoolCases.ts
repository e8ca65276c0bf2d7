/**
 * promtool unit tests for the alert catalog and the recording rules, as data.
 *
 * Input series are written in the metric contract's stored label form
 * (monitoring/metrics.ts) at a 30 s scrape interval, so the recorded rates use
 * a 2m window. Alerts that read recorded series are tested from raw series:
 * the test file loads the recording rules with the alerts and evaluates the
 * recording group first.
 *
 * Each alert has scenarios of two kinds, which expand to three kinds of case:
 * - healthy: nothing fires once `for` has long elapsed;
 * - breach: the condition holds from `conditionFrom`; nothing fires one
 *   evaluation before `for` elapses (for `for: 0s`, one evaluation before the
 *   condition holds), and the listed alerts fire when it does.
 * Case times follow from each delivered rule's `for`. Expected labels and
 * annotations are exact: the scenario gives the labels the expression yields
 * and the description as promtool expands it; severity, the stack's labels,
 * summary and runbook_url come from the delivered rule.
 */
import YAML from "yaml";
import { durationSeconds, formatDuration } from "../lib/duration";
import { contractAbsenceChecks, type AlertContext, type DeliveredAlert } from "../alerts/catalog";
import { defaultThresholds } from "../monitoring/thresholds";
import { metrics, type MetricName } from "../monitoring/metrics";
import { rateWindow, recordedNames } from "../monitoring/recording";
import { alertGroupName, longRecordingGroupName, recordingGroupName } from "../alerts/prometheusRules";

export const promtoolScrapeIntervalSeconds = 30;
/** Rule evaluation and input sample spacing: one scrape interval. */
export const promtoolInterval = `${promtoolScrapeIntervalSeconds}s`;

/** The catalog context the cases are written for: default thresholds and two models with their own limits. */
export const promtoolContext: AlertContext = {
  thresholds: defaultThresholds,
  models: { "gpt-7b": { queueDepthMax: 50 }, "llama-70b": { queueDepthMax: 20, latencyP95MaxMs: 6000 } },
  scrapeIntervalSeconds: promtoolScrapeIntervalSeconds,
  poolMaxSizes: { "h100-spot": 2 },
  // A shorter idle window than the default hour keeps the inputs short; the rule is the same.
  capacity: { idleWindow: "30m", pendingPodTimeout: "10m" },
  // One model with objectives of its own: a tighter availability objective and another latency target (verify/sloCases.ts).
  slo: {
    window: "30d",
    defaults: { availabilityPercent: 99.5, latencyPercent: 95, latencyTargetMs: 2000 },
    models: { "llama-70b": { availabilityPercent: 99.9, latencyTargetMs: 5000 } },
  },
};

/** One promtool input series: `name{labels}` and values in expanding notation (`'0+1x20'`, `'1x10 0x30'`). */
export interface InputSeries {
  series: string;
  values: string;
}

export interface ExpectedAlert {
  /** Labels the alert's expression yields (without alertname, severity and the stack's labels). */
  labels: Record<string, string>;
  /** The description annotation as promtool expands its template. */
  description: string;
}

interface ScenarioBase {
  alert: string;
  /** What the scenario shows; the promtool test group's name. */
  name: string;
  input: InputSeries[];
}

/** Nothing fires, evaluated `healthyMargin` after `for` has elapsed from the first sample. */
export interface HealthyScenario extends ScenarioBase {
  kind: "healthy";
}

/** The expression returns `firing`'s series from `conditionFrom` on (a promtool duration from the first sample). */
export interface BreachScenario extends ScenarioBase {
  kind: "breach";
  conditionFrom: string;
  firing: ExpectedAlert[];
}

export type AlertScenario = HealthyScenario | BreachScenario;

export const alertCaseKinds = ["healthy", "beforeFor", "firing"] as const;
export type AlertCaseKind = (typeof alertCaseKinds)[number];

/** One `alert_rule_test` entry: an alert checked at one time of one scenario. */
export interface AlertCase {
  alert: string;
  kind: AlertCaseKind;
  scenario: string;
  /** Seconds from the first sample. */
  evalSeconds: number;
  /** Alerts firing at that time; empty when quiet. */
  expected: ExpectedAlert[];
}

export interface ExpectedSample {
  labels: Record<string, string>;
  value: number;
}

/** One `promql_expr_test` entry: a recorded series queried by name. */
export interface RecordingCase {
  record: string;
  evalTime: string;
  expected: ExpectedSample[];
}

export interface RecordingScenario {
  name: string;
  input: InputSeries[];
  cases: RecordingCase[];
}

/** How long after `for` has elapsed a healthy scenario is checked: long enough for every window in the catalog to fill. */
export const healthyMarginSeconds = 300;

// ---------------------------------------------------------------------------
// Helpers for series in stored label form.

/** `name{a="x", b="y"}`; labels with empty values are left out, as Prometheus stores them. */
export function seriesSelector(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${name}{${pairs.join(", ")}}`;
}

const input = (name: string, labels: Record<string, string>, values: string): InputSeries => ({ series: seriesSelector(name, labels), values });

const pick = (labels: Record<string, string>, keys: readonly string[]) => Object.fromEntries(keys.flatMap((k) => (labels[k] === undefined ? [] : [[k, labels[k] as string]])));

const zoneA = "us-west-2a";
const zoneB = "us-west-2b";

/** A DCGM series' labels after the scrape job's relabeling: the GPU, where it is, and the pod holding it. */
interface Gpu {
  gpu_uuid: string;
  gpu: string;
  gpu_model: string;
  node: string;
  zone: string;
  mig_profile?: string;
  mig_instance?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  model?: string;
  revision?: string;
  tenant?: string;
}

const dcgm = (gpu: Gpu): Record<string, string> => ({ ...gpu });

const h100a: Gpu = {
  gpu_uuid: "GPU-3f1c2a9e-7b41-4c7e-9d1a-0a0000000001",
  gpu: "0",
  gpu_model: "NVIDIA H100 80GB HBM3",
  node: "gpu-node-a",
  zone: zoneA,
  namespace: "serving",
  pod: "gpt-7b-r1-0",
  container: "runtime",
  model: "gpt-7b",
  revision: "r1",
  tenant: "acme",
};
const h100b: Gpu = {
  gpu_uuid: "GPU-3f1c2a9e-7b41-4c7e-9d1a-0a0000000002",
  gpu: "1",
  gpu_model: "NVIDIA H100 80GB HBM3",
  node: "gpu-node-a",
  zone: zoneA,
};
const a100c: Gpu = {
  gpu_uuid: "GPU-8d0e5b72-11c3-4f0a-b2d4-0c0000000003",
  gpu: "0",
  gpu_model: "NVIDIA A100-SXM4-80GB",
  node: "gpu-node-b",
  zone: zoneB,
};
/** A MIG instance on an A100, held by a llama-70b pod. */
const a100cMig: Gpu = {
  ...a100c,
  mig_profile: "3g.40gb",
  mig_instance: "1",
  namespace: "serving",
  pod: "llama-70b-r3-0",
  container: "runtime",
  model: "llama-70b",
  revision: "r3",
  tenant: "globex",
};

/** Labels of a series an Agent or Adapter serves for one model on one GPU. */
function serving(model: string, revision: string, tenant: string, gpu: Gpu): Record<string, string> {
  return {
    model,
    revision,
    quant: "fp16",
    runtime: "vllm",
    node: gpu.node,
    gpu_uuid: gpu.gpu_uuid,
    mig_profile: gpu.mig_profile ?? "",
    tenant,
    zone: gpu.zone,
  };
}

/** Labels of a series a Router serves for one model. */
const routing = (model: string, revision: string, tenant: string, node: string, zone: string) => ({ model, revision, tenant, node, zone });

/** `up` of a dcgm-exporter: its job drops the exporter's own pod labels (they would collide with GPU attribution). */
const dcgmUp = (instance: string, node: string, zone: string) => ({ job: "monitoring/dcgm-exporter", instance, endpoint: "metrics", node, zone });

/** `up` of an infermesh Router, Agent or Adapter pod. */
const infermeshUp = (component: string, instance: string, pod: string, node: string, zone: string) => ({
  job: `monitoring/infermesh-${component}`,
  instance,
  namespace: "infermesh",
  pod,
  container: component,
  endpoint: "metrics",
  node,
  zone,
});

const kubeNode = (node: string, nodeClass: string, zone: string) => ({
  node,
  label_infermesh_io_node_class: nodeClass,
  label_infermesh_io_pool: nodeClass === "gpu" ? "h100-spot" : "",
  label_infermesh_io_capacity: nodeClass === "gpu" ? "spot" : "on-demand",
  label_topology_kubernetes_io_zone: zone,
});

/** Buckets of the latency histogram in the inputs below. */
const latencyBounds = ["1000", "2000", "3000", "4000", "6000", "8000", "+Inf"] as const;

/**
 * Latency buckets of one model whose p95 is the midpoint of (lower, upper]:
 * 90% of requests at or below `lower`, the rest in (lower, upper]. Counters
 * grow 3000 per scrape (100 requests/s over a full window).
 */
function latencyInput(labels: Record<string, string>, lower: string, upper: string): InputSeries[] {
  const lo = Number(lower);
  const hi = Number(upper);
  return latencyBounds.map((le) => {
    const bound = Number(le);
    const perScrape = bound >= hi ? 3000 : bound >= lo ? 2700 : 0;
    return input("infermesh_inference_latency_bucket", { ...labels, le }, `0+${perScrape}x60`);
  });
}

// ---------------------------------------------------------------------------
// Alert scenarios.

const gpt7bA = serving("gpt-7b", "r1", "acme", h100a);
const gpt7bB = serving("gpt-7b", "r1", "acme", h100b);
const llama70b = serving("llama-70b", "r3", "globex", a100cMig);
/** A model with no limits of its own in the config: the defaults apply. */
const mistral = serving("mistral-7b", "r2", "acme", a100c);
const qwen = serving("qwen-14b", "r1", "globex", h100b);

/** The queue-depth gauge has no tenant label. */
const queueLabels = (labels: Record<string, string>) => {
  const { tenant: _tenant, ...rest } = labels;
  return rest;
};

const nearOomMig = dcgm(a100cMig);
const nearOomWhole = dcgm(h100a);

export const alertScenarios: AlertScenario[] = [
  {
    alert: "InfermeshHighQueueDepth",
    kind: "healthy",
    name: "each model under its own limit; an unconfigured model at 60 is under the default 100",
    input: [
      input("infermesh_model_queue_depth", queueLabels(gpt7bA), "40x40"),
      input("infermesh_model_queue_depth", queueLabels(gpt7bB), "40x40"),
      input("infermesh_model_queue_depth", queueLabels(llama70b), "15x40"),
      input("infermesh_model_queue_depth", queueLabels(mistral), "60x40"),
    ],
  },
  {
    alert: "InfermeshHighQueueDepth",
    kind: "breach",
    name: "gpt-7b averages 60 over 50, llama-70b 25 over 20, an unconfigured model 120 over the default 100",
    input: [
      input("infermesh_model_queue_depth", queueLabels(gpt7bA), "50x40"),
      input("infermesh_model_queue_depth", queueLabels(gpt7bB), "70x40"),
      input("infermesh_model_queue_depth", queueLabels(llama70b), "25x40"),
      input("infermesh_model_queue_depth", queueLabels(mistral), "120x40"),
    ],
    conditionFrom: "0s",
    firing: [
      { labels: { model: "gpt-7b" }, description: "Average queue depth of model gpt-7b is 60, above its limit, for 5 minutes." },
      { labels: { model: "llama-70b" }, description: "Average queue depth of model llama-70b is 25, above its limit, for 5 minutes." },
      { labels: { model: "mistral-7b" }, description: "Average queue depth of model mistral-7b is 120, above its limit, for 5 minutes." },
    ],
  },
  {
    alert: "InfermeshGpuNearOom",
    kind: "healthy",
    name: "a MIG instance at 85% and a whole GPU at 75% of their memory",
    input: [
      input("DCGM_FI_DEV_FB_USED", nearOomMig, "34816x40"),
      input("DCGM_FI_DEV_FB_TOTAL", nearOomMig, "40960x40"),
      input("DCGM_FI_DEV_FB_USED", nearOomWhole, "61440x40"),
      input("DCGM_FI_DEV_FB_TOTAL", nearOomWhole, "81920x40"),
    ],
  },
  {
    alert: "InfermeshGpuNearOom",
    kind: "breach",
    name: "a MIG instance goes from 85% to 95% of its memory at 3m; the whole GPU beside it stays at 75%",
    input: [
      input("DCGM_FI_DEV_FB_USED", nearOomMig, "34816x5 38912x40"),
      input("DCGM_FI_DEV_FB_TOTAL", nearOomMig, "40960x45"),
      input("DCGM_FI_DEV_FB_USED", nearOomWhole, "61440x45"),
      input("DCGM_FI_DEV_FB_TOTAL", nearOomWhole, "81920x45"),
    ],
    conditionFrom: "3m",
    firing: [
      {
        labels: nearOomMig,
        description: `GPU ${a100c.gpu_uuid} (3g.40gb) on node gpu-node-b has used 95% of its memory for 5 minutes.`,
      },
    ],
  },
  {
    alert: "InfermeshLatencyP95Breach",
    kind: "healthy",
    name: "llama-70b at 5000 ms is under its own 6000; gpt-7b and an unconfigured model at 1500 ms are under the default 2000",
    input: [...latencyInput(llama70b, "4000", "6000"), ...latencyInput(gpt7bA, "1000", "2000"), ...latencyInput(mistral, "1000", "2000")],
  },
  {
    alert: "InfermeshLatencyP95Breach",
    kind: "breach",
    name: "llama-70b at 7000 ms is over its own 6000; gpt-7b at 2500 ms and an unconfigured model at 3500 ms are over the default 2000; another at 1500 ms is not",
    input: [...latencyInput(llama70b, "6000", "8000"), ...latencyInput(gpt7bA, "2000", "3000"), ...latencyInput(mistral, "3000", "4000"), ...latencyInput(qwen, "1000", "2000")],
    // A rate needs two samples; every bucket scales alike, so the quantile is exact from the second.
    conditionFrom: "30s",
    firing: [
      { labels: { model: "llama-70b" }, description: "p95 latency of model llama-70b is 7000 ms, above its limit, for 10 minutes." },
      { labels: { model: "gpt-7b" }, description: "p95 latency of model gpt-7b is 2500 ms, above its limit, for 10 minutes." },
      { labels: { model: "mistral-7b" }, description: "p95 latency of model mistral-7b is 3500 ms, above its limit, for 10 minutes." },
    ],
  },
  {
    alert: "InfermeshNodeDown",
    kind: "healthy",
    name: "one of two gossip observers reports gpu-node-b unhealthy; the other still sees it healthy",
    input: [
      // Two agents' verdicts about the same node differ only by the observer's target labels.
      input("infermesh_node_healthy", { node: "gpu-node-b", zone: zoneB, instance: "10.0.1.10:9090" }, "1x5 0x30"),
      input("infermesh_node_healthy", { node: "gpu-node-b", zone: zoneB, instance: "10.0.3.12:9090" }, "1x35"),
      input("infermesh_node_healthy", { node: "gpu-node-a", zone: zoneA, instance: "10.0.3.12:9090" }, "1x35"),
    ],
  },
  {
    alert: "InfermeshNodeDown",
    kind: "breach",
    name: "every observer reports gpu-node-b unhealthy from 3m; gpu-node-a stays healthy",
    input: [
      input("infermesh_node_healthy", { node: "gpu-node-b", zone: zoneB, instance: "10.0.1.10:9090" }, "1x5 0x30"),
      input("infermesh_node_healthy", { node: "gpu-node-b", zone: zoneB, instance: "10.0.3.12:9090" }, "1x5 0x30"),
      input("infermesh_node_healthy", { node: "gpu-node-a", zone: zoneA, instance: "10.0.3.12:9090" }, "1x35"),
    ],
    conditionFrom: "3m",
    firing: [{ labels: { node: "gpu-node-b" }, description: "Node gpu-node-b has been reported unhealthy by gossip for 2 minutes." }],
  },
  {
    alert: "InfermeshGpuEccDoubleBitErrors",
    kind: "healthy",
    name: "a GPU with no errors, one with 3 errors from before its series, and one whose count a driver reload resets to 0 at 3m",
    input: [
      input("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", dcgm(h100a), "0x40"),
      input("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", dcgm(h100b), "3x40"),
      input("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", dcgm(a100c), "3x5 0x35"),
    ],
  },
  {
    alert: "InfermeshGpuEccDoubleBitErrors",
    kind: "breach",
    name: "a GPU's counter goes from 0 to 1 at 12m; a GPU with 3 old errors stays quiet",
    input: [input("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", dcgm(h100a), "0x23 1x20"), input("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", dcgm(h100b), "3x43")],
    conditionFrom: "12m",
    firing: [
      {
        labels: pick(dcgm(h100a), ["gpu_uuid", "node", "zone"]),
        description: `GPU ${h100a.gpu_uuid} on node gpu-node-a reported 1 double-bit ECC errors in 10 minutes; its results may be corrupt. Drain the node.`,
      },
    ],
  },
  {
    alert: "InfermeshGpuThermalThrottling",
    kind: "healthy",
    name: "a GPU throttled 5% of the time",
    input: [input("DCGM_FI_DEV_THERMAL_VIOLATION", dcgm(h100a), "1000000000000+1500000000x60")],
  },
  {
    alert: "InfermeshGpuThermalThrottling",
    kind: "breach",
    name: "a GPU throttled 50% of the time (15e9 ns per 30 s scrape); a GPU beside it 5%",
    input: [
      input("DCGM_FI_DEV_THERMAL_VIOLATION", dcgm(h100a), "1000000000000+15000000000x60"),
      input("DCGM_FI_DEV_THERMAL_VIOLATION", dcgm(h100b), "1000000000000+1500000000x60"),
    ],
    // Until the 5m window fills, rate() extrapolates half an interval before the first sample: 7.5% at 30s, 12.5% at 60s.
    conditionFrom: "60s",
    firing: [
      {
        labels: pick(dcgm(h100a), ["gpu_uuid", "node", "zone"]),
        description: `GPU ${h100a.gpu_uuid} on node gpu-node-a spent 50% of the last 5 minutes thermally throttled, for 15 minutes.`,
      },
    ],
  },
  {
    alert: "InfermeshGpuXidErrors",
    kind: "healthy",
    name: "a GPU that never had an XID, one whose last XID (13) is older than its series, and one a driver reload clears to 0 at 3m",
    input: [input("DCGM_FI_DEV_XID_ERRORS", dcgm(h100a), "0x40"), input("DCGM_FI_DEV_XID_ERRORS", dcgm(h100b), "13x40"), input("DCGM_FI_DEV_XID_ERRORS", dcgm(a100c), "13x5 0x35")],
  },
  {
    alert: "InfermeshGpuXidErrors",
    kind: "breach",
    name: "a GPU reports XID 79 at 10m; the one still showing an old XID 13 stays quiet",
    input: [input("DCGM_FI_DEV_XID_ERRORS", dcgm(h100a), "0x19 79x30"), input("DCGM_FI_DEV_XID_ERRORS", dcgm(h100b), "13x50")],
    conditionFrom: "10m",
    firing: [{ labels: pick(dcgm(h100a), ["gpu_uuid", "node", "zone"]), description: `GPU ${h100a.gpu_uuid} on node gpu-node-a reported XID 79.` }],
  },
  {
    alert: "InfermeshGpuMetricsAbsent",
    kind: "healthy",
    name: "both GPU nodes send DCGM metrics; the system node sends none and is not a GPU node",
    input: [
      input("kube_node_labels", kubeNode("gpu-node-a", "gpu", zoneA), "1x40"),
      input("kube_node_labels", kubeNode("gpu-node-b", "gpu", zoneB), "1x40"),
      input("kube_node_labels", kubeNode("system-node-a", "system", zoneA), "1x40"),
      input("DCGM_FI_DEV_FB_TOTAL", dcgm(h100a), "81920x40"),
      input("DCGM_FI_DEV_FB_TOTAL", dcgm(a100cMig), "40960x40"),
    ],
  },
  {
    alert: "InfermeshGpuMetricsAbsent",
    kind: "breach",
    name: "gpu-node-b is a GPU node and sends no DCGM metrics; the system node sends none either",
    input: [
      input("kube_node_labels", kubeNode("gpu-node-a", "gpu", zoneA), "1x40"),
      input("kube_node_labels", kubeNode("gpu-node-b", "gpu", zoneB), "1x40"),
      input("kube_node_labels", kubeNode("system-node-a", "system", zoneA), "1x40"),
      input("DCGM_FI_DEV_FB_TOTAL", dcgm(h100a), "81920x40"),
    ],
    conditionFrom: "0s",
    firing: [
      {
        labels: { node: "gpu-node-b" },
        description: "Node gpu-node-b is a GPU node but no DCGM metrics have arrived from it for 10 minutes; check the dcgm-exporter pod there.",
      },
    ],
  },
  {
    alert: "InfermeshDcgmExporterDown",
    kind: "healthy",
    name: "both exporters up; an infermesh router down is not an exporter",
    input: [
      input("up", dcgmUp("10.0.1.23:9400", "gpu-node-a", zoneA), "1x40"),
      input("up", dcgmUp("10.0.2.31:9400", "gpu-node-b", zoneB), "1x40"),
      input("up", infermeshUp("router", "10.0.1.40:9090", "infermesh-router-7c9f8-x2kqz", "system-node-a", zoneA), "0x40"),
    ],
  },
  {
    alert: "InfermeshDcgmExporterDown",
    kind: "breach",
    name: "the exporter on gpu-node-b fails every scrape from 2m",
    input: [input("up", dcgmUp("10.0.1.23:9400", "gpu-node-a", zoneA), "1x40"), input("up", dcgmUp("10.0.2.31:9400", "gpu-node-b", zoneB), "1x3 0x36")],
    conditionFrom: "2m",
    firing: [
      {
        labels: dcgmUp("10.0.2.31:9400", "gpu-node-b", zoneB),
        description: "dcgm-exporter 10.0.2.31:9400 on node gpu-node-b has failed every scrape for 5 minutes.",
      },
    ],
  },
  {
    alert: "InfermeshTargetDown",
    kind: "healthy",
    name: "an adapter failing every other scrape is not down; a dcgm-exporter down is not an infermesh target",
    input: [
      input("up", infermeshUp("router", "10.0.1.40:9090", "infermesh-router-7c9f8-x2kqz", "system-node-a", zoneA), "1x40"),
      input("up", infermeshUp("adapter", "10.0.2.41:9090", "infermesh-adapter-5d6b7-p9wts", "gpu-node-b", zoneB), "0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1"),
      input("up", dcgmUp("10.0.1.23:9400", "gpu-node-a", zoneA), "0x40"),
    ],
  },
  {
    alert: "InfermeshTargetDown",
    kind: "breach",
    name: "the router fails every scrape from the start; the agent is up",
    input: [
      input("up", infermeshUp("router", "10.0.1.40:9090", "infermesh-router-7c9f8-x2kqz", "system-node-a", zoneA), "0x40"),
      input("up", infermeshUp("agent", "10.0.1.42:9090", "infermesh-agent-k8r2d", "gpu-node-a", zoneA), "1x40"),
    ],
    conditionFrom: "0s",
    firing: [
      {
        labels: infermeshUp("router", "10.0.1.40:9090", "infermesh-router-7c9f8-x2kqz", "system-node-a", zoneA),
        description: "monitoring/infermesh-router pod infermesh/infermesh-router-7c9f8-x2kqz on node system-node-a has failed every scrape for 5 minutes.",
      },
    ],
  },
  {
    alert: "InfermeshAdmissionRejectionsHigh",
    kind: "healthy",
    name: "routers reject 3% of gpt-7b's and llama-70b's requests",
    input: [
      input("infermesh_router_requests_total", routing("gpt-7b", "r1", "acme", "system-node-a", zoneA), "0+3000x60"),
      input("infermesh_requests_rejected_total", { ...routing("gpt-7b", "r1", "acme", "system-node-a", zoneA), reason: "queue_full" }, "0+90x60"),
      input("infermesh_router_requests_total", routing("llama-70b", "r3", "globex", "system-node-a", zoneA), "0+3000x60"),
      input("infermesh_requests_rejected_total", { ...routing("llama-70b", "r3", "globex", "system-node-a", zoneA), reason: "tenant_quota" }, "0+90x60"),
    ],
  },
  {
    alert: "InfermeshAdmissionRejectionsHigh",
    kind: "breach",
    name: "two routers in two zones reject 10% of gpt-7b's requests between them (queue_full, rate_limited); llama-70b 3%",
    input: [
      input("infermesh_router_requests_total", routing("gpt-7b", "r1", "acme", "system-node-a", zoneA), "0+1500x60"),
      input("infermesh_requests_rejected_total", { ...routing("gpt-7b", "r1", "acme", "system-node-a", zoneA), reason: "queue_full" }, "0+150x60"),
      input("infermesh_router_requests_total", routing("gpt-7b", "r1", "acme", "system-node-b", zoneB), "0+1500x60"),
      input("infermesh_requests_rejected_total", { ...routing("gpt-7b", "r1", "acme", "system-node-b", zoneB), reason: "rate_limited" }, "0+150x60"),
      input("infermesh_router_requests_total", routing("llama-70b", "r3", "globex", "system-node-a", zoneA), "0+3000x60"),
      input("infermesh_requests_rejected_total", { ...routing("llama-70b", "r3", "globex", "system-node-a", zoneA), reason: "tenant_quota" }, "0+90x60"),
    ],
    // Every counter starts at 0 together, so the ratio is exact from the second sample.
    conditionFrom: "30s",
    firing: [{ labels: { model: "gpt-7b" }, description: "Routers rejected 10% of requests for model gpt-7b (HTTP 429) for 10 minutes." }],
  },
  {
    alert: "InfermeshErrorRateHigh",
    kind: "healthy",
    name: "2% of gpt-7b's and 1% of llama-70b's inferences fail",
    input: [
      input("infermesh_inferences_total", gpt7bA, "0+3000x60"),
      input("infermesh_inference_errors_total", { ...gpt7bA, error: "timeout" }, "0+60x60"),
      input("infermesh_inferences_total", llama70b, "0+3000x60"),
      input("infermesh_inference_errors_total", { ...llama70b, error: "runtime_error" }, "0+30x60"),
    ],
  },
  {
    alert: "InfermeshErrorRateHigh",
    kind: "breach",
    name: "7% of gpt-7b's inferences fail across two GPUs (timeout, out_of_memory); llama-70b 1%",
    input: [
      input("infermesh_inferences_total", gpt7bA, "0+1500x60"),
      input("infermesh_inference_errors_total", { ...gpt7bA, error: "timeout" }, "0+150x60"),
      input("infermesh_inferences_total", gpt7bB, "0+1500x60"),
      input("infermesh_inference_errors_total", { ...gpt7bB, error: "out_of_memory" }, "0+60x60"),
      input("infermesh_inferences_total", llama70b, "0+3000x60"),
      input("infermesh_inference_errors_total", { ...llama70b, error: "runtime_error" }, "0+30x60"),
    ],
    conditionFrom: "30s",
    firing: [{ labels: { model: "gpt-7b" }, description: "7% of inferences of model gpt-7b failed for 10 minutes." }],
  },
  {
    alert: "InfermeshGpuPodsPending",
    kind: "healthy",
    name: "a GPU pod pending for 5 minutes, then running; a CPU-only pod pending all along",
    input: [
      input("kube_pod_status_phase", { namespace: "serving", pod: "gpt-7b-r1-1", phase: "Pending" }, "1x10 0x30"),
      input("kube_pod_status_phase", { namespace: "serving", pod: "gpt-7b-r1-1", phase: "Running" }, "0x10 1x30"),
      input("kube_pod_container_resource_requests", { namespace: "serving", pod: "gpt-7b-r1-1", container: "runtime", resource: "nvidia_com_gpu", unit: "integer" }, "1x40"),
      input("kube_pod_status_phase", { namespace: "batch", pod: "etl-0", phase: "Pending" }, "1x40"),
      input("kube_pod_container_resource_requests", { namespace: "batch", pod: "etl-0", container: "etl", resource: "cpu", unit: "core" }, "2x40"),
    ],
  },
  {
    alert: "InfermeshGpuPodsPending",
    kind: "breach",
    name: "a pod asking for a MIG slice stays pending",
    input: [
      input("kube_pod_status_phase", { namespace: "serving", pod: "llama-70b-r3-2", phase: "Pending" }, "1x40"),
      input(
        "kube_pod_container_resource_requests",
        { namespace: "serving", pod: "llama-70b-r3-2", container: "runtime", resource: "nvidia_com_mig_3g_40gb", unit: "integer" },
        "1x40",
      ),
    ],
    conditionFrom: "0s",
    firing: [
      {
        labels: { namespace: "serving", pod: "llama-70b-r3-2" },
        description: "Pod serving/llama-70b-r3-2 has been waiting for a GPU for 10m; its pool may be at its maximum size or out of that capacity type.",
      },
    ],
  },
  {
    alert: "InfermeshGpuPoolAtMaxSize",
    kind: "healthy",
    name: "one node in a pool whose maximum is two",
    input: [input("kube_node_labels", kubeNode("gpu-node-a", "gpu", zoneA), "1x50"), input("kube_node_labels", kubeNode("system-node-a", "system", zoneA), "1x50")],
  },
  {
    alert: "InfermeshGpuPoolAtMaxSize",
    kind: "breach",
    name: "a second node joins at 2m and the pool reaches its maximum of two",
    input: [input("kube_node_labels", kubeNode("gpu-node-a", "gpu", zoneA), "1x50"), input("kube_node_labels", kubeNode("gpu-node-b", "gpu", zoneB), "_ _ _ _ 1x46")],
    conditionFrom: "2m",
    firing: [{ labels: { pool: "h100-spot" }, description: "GPU pool h100-spot has 2 nodes, its maximum, for 15 minutes; it cannot grow for more demand." }],
  },
  {
    alert: "InfermeshGpuIdle",
    kind: "healthy",
    name: "a held GPU at 40%; an unheld GPU at 0% is not waste",
    input: [input("DCGM_FI_DEV_GPU_UTIL", dcgm(h100a), "40x80"), input("DCGM_FI_DEV_GPU_UTIL", dcgm(h100b), "0x80")],
  },
  {
    alert: "InfermeshGpuIdle",
    kind: "breach",
    name: "the pod's GPU drops to 2% at 1m and stays there",
    input: [input("DCGM_FI_DEV_GPU_UTIL", dcgm(h100a), "40 40 2x80"), input("DCGM_FI_DEV_GPU_UTIL", dcgm(h100b), "0x82")],
    conditionFrom: "1m",
    firing: [{ labels: dcgm(h100a), description: `GPU ${h100a.gpu_uuid} on node gpu-node-a, held by serving/gpt-7b-r1-0, has been idle for 30m.` }],
  },
];

// ---------------------------------------------------------------------------
// Contract metric absence.

/** One stored series of every contract metric a scraped exporter serves (histograms: count and the SLO's buckets). */
function everyContractMetric(opts: { without?: readonly string[]; latencyBounds?: readonly string[]; migOnly?: boolean } = {}): InputSeries[] {
  const labelsOf = (name: MetricName) => Object.fromEntries(metrics[name].labels.map((l) => [l, l === "mig_profile" ? (opts.migOnly ? "1g.10gb" : "") : `${l}-1`]));
  return (Object.keys(metrics) as MetricName[])
    .filter((name) => metrics[name].source !== "prometheus" && !(opts.without ?? []).includes(name))
    .flatMap((name) => {
      if (metrics[name].type !== "histogram") return [input(name, labelsOf(name), "1x40")];
      // By default one bound as Prometheus 3 stores it (`2000.0`) and one as Prometheus 2 does (verify/sloCases.ts, storedLe).
      return [
        input(`${name}_count`, labelsOf(name), "0+10x40"),
        ...(opts.latencyBounds ?? ["2000.0", "5000"]).map((le) => input(`${name}_bucket`, { ...labelsOf(name), le }, "0+9x40")),
      ];
    });
}

const scrapedUp = (value: string): InputSeries[] => [
  input("up", infermeshUp("router", "10.0.1.40:9090", "infermesh-router-7c9f8-x2kqz", "system-node-a", zoneA), value),
  input("up", infermeshUp("agent", "10.0.1.42:9090", "infermesh-agent-k8r2d", "gpu-node-a", zoneA), value),
  input("up", dcgmUp("10.0.1.23:9400", "gpu-node-a", zoneA), value),
  input("up", { job: "kube-state-metrics", instance: "10.0.1.50:8080" }, value),
];

/** What the absence alert says about a check: its labels and description, from the delivered catalog's own check. */
function absent(metric: string): ExpectedAlert {
  const check = contractAbsenceChecks(promtoolContext).find((c) => c.metric === metric);
  if (!check) throw new Error(`no absence check for ${metric}`);
  const alerts = check.readers.alerts.join(", ") || "none";
  const panels = check.readers.panels.join(", ") || "none";
  return {
    labels: { metric, exposed_by: check.exposedBy, read_by_alerts: alerts, read_by_panels: panels },
    description: `${metric} has been missing from every ${check.exposedBy} target for 10 minutes while they are scraped. Alerts that read it cannot fire: ${alerts}. Panels that read it show no data: ${panels}.`,
  };
}

alertScenarios.push(
  {
    alert: "InfermeshContractMetricAbsent",
    kind: "healthy",
    name: "every contract metric is exposed; on a fleet of MIG instances only, GPU utilization is rightly absent",
    input: [...scrapedUp("1x40"), ...everyContractMetric({ without: ["DCGM_FI_DEV_GPU_UTIL"], migOnly: true })],
  },
  {
    alert: "InfermeshContractMetricAbsent",
    kind: "healthy",
    name: "no infermesh, dcgm-exporter or kube-state-metrics target answers: their metrics are gone, which InfermeshTargetDown reports",
    input: [...scrapedUp("0x40")],
  },
  {
    alert: "InfermeshContractMetricAbsent",
    kind: "breach",
    name: "routers expose no infermesh_router_requests_total and the latency histogram has no 2000 ms bucket, while their targets are up",
    input: [...scrapedUp("1x40"), ...everyContractMetric({ without: ["infermesh_router_requests_total"], latencyBounds: ["1000", "2500", "5000"] })],
    conditionFrom: "0s",
    firing: [absent("infermesh_router_requests_total"), absent('infermesh_inference_latency_bucket{le="2000"}')],
  },
);

// ---------------------------------------------------------------------------
// Recording rule scenarios.

const rec = recordedNames(rateWindow(promtoolScrapeIntervalSeconds));

/** gpt-7b r1 for acme on a GPU in zone b: the same model and revision, another zone. */
const gpt7bZoneB = serving("gpt-7b", "r1", "acme", a100c);
const modelKey = (labels: Record<string, string>) => pick(labels, ["model", "revision", "tenant", "zone"]);
const routerA = routing("gpt-7b", "r1", "acme", "system-node-a", zoneA);
const routerB = routing("gpt-7b", "r1", "acme", "system-node-b", zoneA);
const wholeGpu = dcgm(h100a);
const migGpu = dcgm(a100cMig);
/** A second GPU held by a pod, nearly idle. */
const idleHeld = dcgm({ ...h100b, namespace: "serving", pod: "qwen-14b-r1-0", container: "runtime", model: "qwen-14b", revision: "r1", tenant: "globex" });

/** Cumulative per-scrape increments of gpt-7b's buckets on two GPUs: together 50, 90, 100, 100 requests/s at le 1000, 2000, 4000, +Inf. */
const recordingBuckets: Array<[string, number, number]> = [
  ["1000", 900, 600],
  ["2000", 1500, 1200],
  ["4000", 1800, 1200],
  ["+Inf", 1800, 1200],
];

/** Held GPUs only: 1 below the idle threshold, 0 above it. */
const heldGpusIdle = [
  { labels: wholeGpu, value: 0 },
  { labels: migGpu, value: 0 },
  { labels: idleHeld, value: 1 },
];

/** A node-level GPU reading on gpu-node-a and gpu-node-b, its `gpu` label naming the aggregation. */
const nodeCase = (record: string, how: "avg" | "max" | "min", onA: number, onB: number): RecordingCase => ({
  record,
  evalTime: "5m",
  expected: [
    { labels: { node: "gpu-node-a", zone: zoneA, gpu: how }, value: onA },
    { labels: { node: "gpu-node-b", zone: zoneB, gpu: how }, value: onB },
  ],
});

// Counters grow by k per 30 s scrape; over a full 2m window (5 samples) rate() is 4k/120 = k/30 per second, exactly.
export const recordingScenarios: RecordingScenario[] = [
  {
    name: "recording rules: request-level rates, quantiles and queue depth from serving series",
    input: [
      input("infermesh_inferences_total", gpt7bA, "0+1500x20"),
      input("infermesh_inferences_total", gpt7bB, "0+900x20"),
      input("infermesh_inferences_total", gpt7bZoneB, "0+600x20"),
      input("infermesh_inferences_total", llama70b, "0+300x20"),
      input("infermesh_tokens_generated_total", gpt7bA, "0+30000x20"),
      input("infermesh_tokens_generated_total", gpt7bB, "0+15000x20"),
      input("infermesh_inference_errors_total", { ...gpt7bA, error: "timeout" }, "0+30x20"),
      input("infermesh_inference_errors_total", { ...gpt7bB, error: "timeout" }, "0+60x20"),
      input("infermesh_inference_errors_total", { ...gpt7bA, error: "out_of_memory" }, "0+90x20"),
      ...recordingBuckets.flatMap(([le, onA, onB]) => [
        input("infermesh_inference_latency_bucket", { ...gpt7bA, le }, `0+${onA}x20`),
        input("infermesh_inference_latency_bucket", { ...gpt7bB, le }, `0+${onB}x20`),
      ]),
      input("infermesh_model_queue_depth", queueLabels(gpt7bA), "10x20"),
      input("infermesh_model_queue_depth", queueLabels(gpt7bB), "30x20"),
      input("infermesh_model_queue_depth", queueLabels(llama70b), "5x20"),
    ],
    cases: [
      {
        record: rec.inferences,
        evalTime: "5m",
        expected: [
          { labels: modelKey(gpt7bA), value: 80 },
          { labels: modelKey(gpt7bZoneB), value: 20 },
          { labels: modelKey(llama70b), value: 10 },
        ],
      },
      { record: rec.tokens, evalTime: "5m", expected: [{ labels: modelKey(gpt7bA), value: 1500 }] },
      {
        record: rec.errors,
        evalTime: "5m",
        expected: [
          { labels: { ...modelKey(gpt7bA), error: "timeout" }, value: 3 },
          { labels: { ...modelKey(gpt7bA), error: "out_of_memory" }, value: 3 },
        ],
      },
      {
        record: rec.latencyBuckets,
        evalTime: "5m",
        expected: [
          { labels: { ...modelKey(gpt7bA), le: "1000" }, value: 50 },
          { labels: { ...modelKey(gpt7bA), le: "2000" }, value: 90 },
          { labels: { ...modelKey(gpt7bA), le: "4000" }, value: 100 },
          { labels: { ...modelKey(gpt7bA), le: "+Inf" }, value: 100 },
        ],
      },
      // Linear interpolation inside the bucket holding the rank: 95 of 100 requests falls halfway into (2000, 4000].
      { record: rec.latencyP95, evalTime: "5m", expected: [{ labels: { model: "gpt-7b" }, value: 3000 }] },
      // 50 of 100 is the whole first bucket, (0, 1000]: its upper bound.
      { record: rec.latencyP50, evalTime: "5m", expected: [{ labels: { model: "gpt-7b" }, value: 1000 }] },
      // 99 of 100 falls nine tenths into (2000, 4000].
      { record: rec.latencyP99, evalTime: "5m", expected: [{ labels: { model: "gpt-7b" }, value: 3800 }] },
      // The coarse levels: the fleet, and model and revision, from the recorded series above.
      { record: rec.fleetInferences, evalTime: "5m", expected: [{ labels: {}, value: 110 }] },
      {
        record: rec.revisionInferences,
        evalTime: "5m",
        expected: [
          { labels: pick(gpt7bA, ["model", "revision"]), value: 100 },
          { labels: pick(llama70b, ["model", "revision"]), value: 10 },
        ],
      },
      { record: rec.revisionTokens, evalTime: "5m", expected: [{ labels: pick(gpt7bA, ["model", "revision"]), value: 1500 }] },
      // 3 timeouts and 3 out-of-memory errors a second against gpt-7b's 100 inferences a second; llama-70b has none.
      { record: rec.errorRatio, evalTime: "5m", expected: [{ labels: { model: "gpt-7b" }, value: 0.06 }] },
      // The same errors against the fleet's 110 inferences a second.
      {
        record: rec.errorKindRatio,
        evalTime: "5m",
        expected: [
          { labels: { error: "timeout" }, value: 3 / 110 },
          { labels: { error: "out_of_memory" }, value: 3 / 110 },
        ],
      },
      {
        record: rec.fleetLatencyBuckets,
        evalTime: "5m",
        expected: [
          { labels: { le: "1000" }, value: 50 },
          { labels: { le: "2000" }, value: 90 },
          { labels: { le: "4000" }, value: 100 },
          { labels: { le: "+Inf" }, value: 100 },
        ],
      },
      { record: rec.fleetLatencyP50, evalTime: "5m", expected: [{ labels: {}, value: 1000 }] },
      { record: rec.fleetLatencyP95, evalTime: "5m", expected: [{ labels: {}, value: 3000 }] },
      { record: rec.fleetLatencyP99, evalTime: "5m", expected: [{ labels: {}, value: 3800 }] },
      {
        record: rec.queueDepth,
        evalTime: "5m",
        expected: [
          { labels: { model: "gpt-7b" }, value: 20 },
          { labels: { model: "llama-70b" }, value: 5 },
        ],
      },
    ],
  },
  {
    name: "recording rules: router rates summed over routers in a zone",
    input: [
      input("infermesh_router_requests_total", routerA, "0+1200x20"),
      input("infermesh_router_requests_total", routerB, "0+1800x20"),
      input("infermesh_requests_rejected_total", { ...routerA, reason: "queue_full" }, "0+60x20"),
      input("infermesh_requests_rejected_total", { ...routerB, reason: "queue_full" }, "0+90x20"),
      input("infermesh_requests_rejected_total", { ...routerB, reason: "rate_limited" }, "0+30x20"),
      input("infermesh_router_target_chosen_total", { ...routerA, target_node: "gpu-node-a" }, "0+600x20"),
      input("infermesh_router_target_chosen_total", { ...routerB, target_node: "gpu-node-a" }, "0+300x20"),
      input("infermesh_router_target_chosen_total", { ...routerA, target_node: "gpu-node-b" }, "0+900x20"),
      input("infermesh_router_hedged_requests_total", routerA, "0+150x20"),
      input("infermesh_router_hedged_requests_total", routerB, "0+150x20"),
      input("infermesh_router_hedge_wins_total", routerA, "0+60x20"),
      input("infermesh_router_hedge_wins_total", routerB, "0+30x20"),
      input("infermesh_router_cancellations_total", { ...routerA, reason: "hedge_lost" }, "0+90x20"),
      input("infermesh_router_cancellations_total", { ...routerA, reason: "client_gone" }, "0+30x20"),
      input("infermesh_router_cancellations_total", { ...routerB, reason: "client_gone" }, "0+30x20"),
    ],
    cases: [
      { record: rec.routerRequests, evalTime: "5m", expected: [{ labels: modelKey(routerA), value: 100 }] },
      {
        record: rec.rejections,
        evalTime: "5m",
        expected: [
          { labels: { ...modelKey(routerA), reason: "queue_full" }, value: 5 },
          { labels: { ...modelKey(routerA), reason: "rate_limited" }, value: 1 },
        ],
      },
      {
        record: rec.targetChoices,
        evalTime: "5m",
        expected: [
          { labels: { ...modelKey(routerA), target_node: "gpu-node-a" }, value: 30 },
          { labels: { ...modelKey(routerA), target_node: "gpu-node-b" }, value: 30 },
        ],
      },
      { record: rec.hedged, evalTime: "5m", expected: [{ labels: modelKey(routerA), value: 10 }] },
      { record: rec.hedgeWins, evalTime: "5m", expected: [{ labels: modelKey(routerA), value: 3 }] },
      {
        record: rec.cancellations,
        evalTime: "5m",
        expected: [
          { labels: { ...modelKey(routerA), reason: "hedge_lost" }, value: 3 },
          { labels: { ...modelKey(routerA), reason: "client_gone" }, value: 2 },
        ],
      },
      {
        record: rec.rejectionsByReason,
        evalTime: "5m",
        expected: [
          { labels: { model: "all models", reason: "queue_full" }, value: 5 },
          { labels: { model: "all models", reason: "rate_limited" }, value: 1 },
        ],
      },
      {
        record: rec.cancellationsByReason,
        evalTime: "5m",
        expected: [
          { labels: { reason: "hedge_lost" }, value: 3 },
          { labels: { reason: "client_gone" }, value: 2 },
        ],
      },
      // 10 hedged of 100 requests a second; 3 of the 10 won.
      { record: rec.hedgedRatio, evalTime: "5m", expected: [{ labels: {}, value: 0.1 }] },
      { record: rec.hedgeWinRatio, evalTime: "5m", expected: [{ labels: {}, value: 0.3 }] },
    ],
  },
  {
    name: "recording rules: per-GPU utilization and memory, whole GPUs and MIG instances",
    input: [
      input("DCGM_FI_DEV_GPU_UTIL", wholeGpu, "87x20"),
      // Whole GPUs report the engine ratio too; only MIG instances should use it.
      input("DCGM_FI_PROF_GR_ENGINE_ACTIVE", wholeGpu, "0.8x20"),
      input("DCGM_FI_PROF_GR_ENGINE_ACTIVE", migGpu, "0.25x20"),
      input("DCGM_FI_DEV_FB_USED", wholeGpu, "61440x20"),
      input("DCGM_FI_DEV_FB_TOTAL", wholeGpu, "81920x20"),
      input("DCGM_FI_DEV_FB_USED", migGpu, "20480x20"),
      input("DCGM_FI_DEV_FB_TOTAL", migGpu, "40960x20"),
      input("DCGM_FI_DEV_GPU_UTIL", idleHeld, "2x20"),
      input("DCGM_FI_DEV_GPU_TEMP", wholeGpu, "70x20"),
      input("DCGM_FI_DEV_GPU_TEMP", idleHeld, "60x20"),
      input("DCGM_FI_DEV_GPU_TEMP", migGpu, "50x20"),
      input("DCGM_FI_DEV_POWER_USAGE", wholeGpu, "500x20"),
      input("DCGM_FI_DEV_POWER_USAGE", idleHeld, "100x20"),
      input("DCGM_FI_DEV_POWER_USAGE", migGpu, "250x20"),
      // Nanoseconds throttled: 3 s, 1.5 s and 6 s in every 30 s scrape are a tenth, a twentieth and a fifth of the time.
      input("DCGM_FI_DEV_THERMAL_VIOLATION", wholeGpu, "0+3000000000x20"),
      input("DCGM_FI_DEV_THERMAL_VIOLATION", idleHeld, "0x20"),
      input("DCGM_FI_DEV_THERMAL_VIOLATION", migGpu, "0+1500000000x20"),
      input("DCGM_FI_DEV_POWER_VIOLATION", wholeGpu, "0+6000000000x20"),
      input("DCGM_FI_DEV_POWER_VIOLATION", migGpu, "0x20"),
      input("kube_node_labels", kubeNode("gpu-node-a", "gpu", zoneA), "1x20"),
      input("kube_node_labels", kubeNode("system-node-a", "system", zoneA), "1x20"),
      input("kube_node_status_allocatable", { node: "gpu-node-a", resource: "nvidia_com_gpu", unit: "integer" }, "8x20"),
      input("kube_node_status_allocatable", { node: "gpu-node-a", resource: "cpu", unit: "core" }, "96x20"),
      // Two running pods hold 1 and 2 GPUs on gpu-node-a; a pending one asks for 4 and counts nowhere.
      ...[
        ["gpt-7b-r1-0", "Running", 1],
        ["qwen-14b-r1-0", "Running", 2],
        ["qwen-14b-r1-1", "Pending", 4],
      ].flatMap(([pod, phase, gpus]) => [
        input("kube_pod_status_phase", { namespace: "serving", pod: String(pod), phase: String(phase) }, "1x20"),
        input(
          "kube_pod_container_resource_requests",
          { namespace: "serving", pod: String(pod), container: "runtime", node: "gpu-node-a", resource: "nvidia_com_gpu", unit: "integer" },
          `${gpus}x20`,
        ),
      ]),
    ],
    cases: [
      {
        record: rec.gpuUtilization,
        evalTime: "5m",
        expected: [
          { labels: wholeGpu, value: 87 },
          { labels: migGpu, value: 25 },
          { labels: idleHeld, value: 2 },
        ],
      },
      { record: rec.fleetGpuUtilization, evalTime: "5m", expected: [{ labels: {}, value: 38 }] },
      nodeCase(rec.nodeGpuUtilization, "avg", 44.5, 25),
      nodeCase(rec.nodeGpuTemperature, "max", 70, 50),
      nodeCase(rec.nodeGpuPower, "max", 500, 250),
      nodeCase(rec.nodeThermalThrottled, "max", 0.1, 0.05),
      nodeCase(rec.nodePowerThrottled, "max", 0.2, 0),
      // The fuller GPU of each node: 75 % used on gpu-node-a (the other GPU reports no memory here), 50 % on gpu-node-b.
      nodeCase(rec.nodeVramFree, "min", 0.25, 0.5),
      // One of the three GPU pods of serving is pending.
      { record: rec.pendingGpuPods, evalTime: "5m", expected: [{ labels: { namespace: "serving" }, value: 1 }] },
      // gpu-node-b has no pool label (no kube_node_labels here), so only gpu-node-a's pool counts.
      { record: rec.poolGpusAllocatable, evalTime: "5m", expected: [{ labels: { pool: "h100-spot" }, value: 8 }] },
      { record: rec.poolGpusRequested, evalTime: "5m", expected: [{ labels: { pool: "h100-spot" }, value: 3 }] },
      { record: rec.poolIdleGpus, evalTime: "5m", expected: [{ labels: { pool: "h100-spot", namespace: "serving" }, value: 1 }] },
      // Idle throughout, so the least of each long interval is what every scrape said.
      { record: rec.gpuIdleLong, evalTime: "5m", expected: heldGpusIdle },
      { record: rec.poolIdleForWindow, evalTime: "5m", expected: [{ labels: { pool: "h100-spot", namespace: "serving" }, value: 1 }] },
      { record: rec.gpuIdle, evalTime: "5m", expected: heldGpusIdle },
      { record: rec.nodePool, evalTime: "5m", expected: [{ labels: { node: "gpu-node-a", pool: "h100-spot", capacity: "spot" }, value: 1 }] },
      {
        record: rec.vramRatio,
        evalTime: "5m",
        expected: [
          { labels: wholeGpu, value: 0.75 },
          { labels: migGpu, value: 0.5 },
        ],
      },
    ],
  },
];

// ---------------------------------------------------------------------------
// Durations and rendering.

/** Seconds from the first to the last sample of a promtool values string (`'1x5 0x30'` has 37 samples: 18m). */
export function seriesSpanSeconds(values: string): number {
  const samples = values
    .trim()
    .split(/\s+/)
    .reduce((n, token) => {
      const repeat = /x(\d+)$/.exec(token);
      return n + (repeat ? Number(repeat[1]) + 1 : 1);
    }, 0);
  return (samples - 1) * promtoolScrapeIntervalSeconds;
}

function deliveredByName(delivered: readonly DeliveredAlert[], name: string): DeliveredAlert {
  const alert = delivered.find((a) => a.name === name);
  if (!alert) throw new Error(`promtool case for ${name}: no such alert in the delivered catalog`);
  return alert;
}

/** The cases a scenario expands to, timed by the delivered rule's `for`. */
export function scenarioCases(scenario: AlertScenario, delivered: readonly DeliveredAlert[]): AlertCase[] {
  const hold = durationSeconds(deliveredByName(delivered, scenario.alert).for);
  const interval = promtoolScrapeIntervalSeconds;
  const base = { alert: scenario.alert, scenario: scenario.name };
  if (scenario.kind === "healthy") return [{ ...base, kind: "healthy", evalSeconds: hold + healthyMarginSeconds, expected: [] }];
  const from = durationSeconds(scenario.conditionFrom);
  const firingAt = from + hold;
  if (firingAt - interval < 0) {
    throw new Error(`${scenario.alert} / ${scenario.name}: with for ${hold}s there is no evaluation before it fires; start the condition later`);
  }
  return [
    { ...base, kind: "beforeFor", evalSeconds: firingAt - interval, expected: [] },
    { ...base, kind: "firing", evalSeconds: firingAt, expected: scenario.firing },
  ];
}

/** Every alert case, for the given delivered catalog. */
export function alertCases(delivered: readonly DeliveredAlert[], scenarios: readonly AlertScenario[] = alertScenarios): AlertCase[] {
  return scenarios.flatMap((s) => scenarioCases(s, delivered));
}

/** Recorded series names that have at least one `promql_expr_test`. */
export function recordsWithCases(scenarios: readonly RecordingScenario[] = recordingScenarios): Set<string> {
  return new Set(scenarios.flatMap((s) => s.cases.map((c) => c.record)));
}

/** The groups `prometheusRuleGroups` renders for `delivered`, recording groups first so alerts see this evaluation's recorded series. */
export function groupEvalOrder(delivered: readonly DeliveredAlert[]): string[] {
  return [recordingGroupName, longRecordingGroupName, ...new Set(delivered.map((a) => alertGroupName(a.group)))];
}

function expectedAlert(alert: DeliveredAlert, expected: ExpectedAlert) {
  return {
    exp_labels: { ...expected.labels, ...alert.labels },
    exp_annotations: { summary: alert.annotations.summary, description: expected.description, runbook_url: alert.annotations.runbook_url },
  };
}

/** The promtool test file as an object (`promtool test rules` format). */
export function promtoolTestFile(
  delivered: readonly DeliveredAlert[],
  ruleFiles: readonly string[],
  scenarios: { alerts?: readonly AlertScenario[]; recording?: readonly RecordingScenario[] } = {},
): Record<string, unknown> {
  const alerts = scenarios.alerts ?? alertScenarios;
  const recording = scenarios.recording ?? recordingScenarios;
  const tests = [
    ...alerts.map((scenario) => {
      const rule = deliveredByName(delivered, scenario.alert);
      return {
        name: `${scenario.alert}: ${scenario.name}`,
        interval: promtoolInterval,
        input_series: scenario.input.map((s) => ({ series: s.series, values: s.values })),
        alert_rule_test: scenarioCases(scenario, delivered).map((c) => ({
          eval_time: formatDuration(c.evalSeconds),
          alertname: c.alert,
          exp_alerts: c.expected.map((e) => expectedAlert(rule, e)),
        })),
      };
    }),
    ...recording.map((scenario) => ({
      name: scenario.name,
      interval: promtoolInterval,
      input_series: scenario.input.map((s) => ({ series: s.series, values: s.values })),
      promql_expr_test: scenario.cases.map((c) => ({
        expr: c.record,
        eval_time: c.evalTime,
        exp_samples: c.expected.map((e) => ({ labels: seriesSelector(c.record, e.labels), value: e.value })),
      })),
    })),
  ];
  return {
    rule_files: [...ruleFiles],
    evaluation_interval: promtoolInterval,
    group_eval_order: groupEvalOrder(delivered),
    tests,
  };
}

/** The promtool test YAML for `delivered`, reading `ruleFiles` (relative to the test file's directory). */
export function renderPromtoolTests(
  delivered: readonly DeliveredAlert[],
  ruleFiles: readonly string[],
  scenarios?: { alerts?: readonly AlertScenario[]; recording?: readonly RecordingScenario[] },
): string {
  return YAML.stringify(promtoolTestFile(delivered, ruleFiles, scenarios), { aliasDuplicateObjects: false, lineWidth: 0 });
}
