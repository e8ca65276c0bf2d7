/**
 * The infermesh processes of the metric contract (monitoring/metrics.ts), as
 * they expose their series before the stack's relabeling: an Agent or Adapter
 * per GPU node (inferences, tokens, errors by kind, the latency histogram,
 * queue depth of the deployments it reports), and Routers (requests,
 * rejections, target choice, hedging, cancellations, gossip's node health).
 * A metric added to the contract is taught to the simulator here.
 */
import { cancellationReasons, inferenceErrors, rejectionReasons } from "../../monitoring/metrics";
import { breachLatency, latencyBuckets, type FleetModel, type GpuNode, type LatencyProfile, type ScenarioModel, type ServingSlot } from "../model";
import type { ScenarioName } from "../scenarios";
import { counter, family, gauge, sortedLabels, type FamilySpec, type SeriesSpec, type ValueSpec } from "../values";

function meanLatency(profile: LatencyProfile): number {
  let mean = 0;
  let below = 0;
  let lower = 0;
  latencyBuckets.forEach((bound, i) => {
    const at = profile[i] ?? 1;
    mean += (at - below) * ((lower + bound) / 2);
    below = at;
    lower = bound;
  });
  return mean + (1 - below) * lower;
}

const errorWeights: Record<(typeof inferenceErrors)[number], { healthy: number; spike: number }> = {
  timeout: { healthy: 0.35, spike: 0.05 },
  out_of_memory: { healthy: 0.05, spike: 0.05 },
  runtime_error: { healthy: 0.2, spike: 0.85 },
  bad_request: { healthy: 0.4, spike: 0.05 },
};
const rejectionWeights: Record<(typeof rejectionReasons)[number], { healthy: number; spike: number }> = {
  queue_full: { healthy: 0.35, spike: 0.02 },
  rate_limited: { healthy: 0.35, spike: 0.15 },
  tenant_quota: { healthy: 0.2, spike: 0.8 },
  no_healthy_target: { healthy: 0.05, spike: 0.02 },
  policy: { healthy: 0.05, spike: 0.01 },
};
const healthyErrorRatio = 0.006;
const spikeErrorRatio = 0.6;
const healthyRejectionRatio = 0.01;
const spikeRejectionRatio = 0.5;
const hedgeShare = 0.04;
const hedgeWinShare = 0.4;
const cancellationShare: Record<(typeof cancellationReasons)[number], number> = { hedge_lost: hedgeShare, client_gone: 0.003, deadline: 0.001 };

/** Agent or Adapter series for its slots: inferences, tokens, errors by kind, latency histogram, queue depth. */
export function servingFamilies(m: FleetModel, slots: readonly ServingSlot[], scenarioModels: readonly ScenarioModel[] = []): FamilySpec[] {
  const h = m.hit;
  const base = (slot: ServingSlot) => ({
    model: slot.deployment.model.name,
    revision: slot.deployment.revision,
    quant: slot.deployment.model.quant,
    runtime: slot.deployment.model.runtime,
    gpu_uuid: slot.gpuUuid,
    mig_profile: slot.migProfile,
  });
  const inferences: SeriesSpec[] = [];
  const tokens: SeriesSpec[] = [];
  const errors: SeriesSpec[] = [];
  const latency: SeriesSpec[] = [];
  for (const slot of slots) {
    const labels = { ...base(slot), tenant: slot.deployment.tenant };
    const rate = m.slotRate(slot);
    const model = slot.deployment.model;
    const wave = { wave: m.wave(slot.deployment) };
    inferences.push({ labels: sortedLabels(labels), value: counter(() => rate, wave) });
    if (model.tokensPerInference > 0) tokens.push({ labels: sortedLabels(labels), value: counter(() => rate * model.tokensPerInference, wave) });
    for (const error of inferenceErrors) {
      const errorRate = (s: ScenarioName) => {
        const spike = s === "error-spike" && model.name === h.errorModel;
        return rate * (spike ? spikeErrorRatio : healthyErrorRatio) * errorWeights[error][spike ? "spike" : "healthy"];
      };
      errors.push({ labels: sortedLabels({ ...labels, error }), value: counter(errorRate, wave) });
    }
    const profile = (s: ScenarioName) => (s === "latency-breach" && model.name === h.latencyModel ? breachLatency : model.latency);
    latencyBuckets.forEach((bound, i) => {
      const bucketRate = (s: ScenarioName) => rate * (profile(s)[i] ?? 1);
      latency.push({ labels: [...sortedLabels(labels), ["le", String(bound)]], suffix: "_bucket", value: counter(bucketRate, wave) });
    });
    latency.push({ labels: [...sortedLabels(labels), ["le", "+Inf"]], suffix: "_bucket", value: counter(() => rate, wave) });
    latency.push({ labels: sortedLabels(labels), suffix: "_sum", value: counter((s) => rate * meanLatency(profile(s)), wave) });
    latency.push({ labels: sortedLabels(labels), suffix: "_count", value: counter(() => rate, wave) });
  }
  for (const sm of scenarioModels) {
    const labels = sortedLabels({ ...base(sm.slot), tenant: sm.slot.deployment.tenant });
    const rate = m.slotRate(sm.slot);
    const present = (s: ScenarioName) => s === sm.scenario;
    // Counters of a new deployment: from 0, growing only while it runs.
    const from0 = (perSecond: number): ValueSpec => counter((s) => (present(s) ? perSecond : 0), { base: 0 });
    inferences.push({ labels, value: from0(rate), present });
    tokens.push({ labels, value: from0(rate * sm.model.tokensPerInference), present });
    for (const error of inferenceErrors) {
      const share = error === "runtime_error" ? sm.errors : error === "bad_request" ? sm.clientErrors : 0;
      errors.push({ labels: sortedLabels({ ...base(sm.slot), tenant: sm.slot.deployment.tenant, error }), value: from0(rate * share), present });
    }
    latencyBuckets.forEach((bound, i) => latency.push({ labels: [...labels, ["le", String(bound)]], suffix: "_bucket", value: from0(rate * (sm.model.latency[i] ?? 1)), present }));
    latency.push({ labels: [...labels, ["le", "+Inf"]], suffix: "_bucket", value: from0(rate), present });
    latency.push({ labels, suffix: "_sum", value: from0(rate * meanLatency(sm.model.latency)), present });
    latency.push({ labels, suffix: "_count", value: from0(rate), present });
  }
  // A queue belongs to a model on a GPU, whichever tenants it serves.
  const queues = new Map<string, { labels: Record<string, string | undefined>; depth: number; model: string; deployment: ServingSlot["deployment"] }>();
  for (const slot of slots) {
    const labels = base(slot);
    const key = JSON.stringify(labels);
    const depth = 1 + (slot.ordinal % 4);
    const q = queues.get(key);
    if (q) q.depth += depth;
    else queues.set(key, { labels, depth, model: slot.deployment.model.name, deployment: slot.deployment });
  }
  const queue: SeriesSpec[] = [...queues.values()].map((q) => ({
    labels: sortedLabels(q.labels),
    value: gauge((s) => (s === "queue-spike" && q.model === h.queueModel ? h.queueSpikeDepth : q.depth), m.wave(q.deployment)),
  }));
  // Go's client writes families sorted by name.
  return [
    family("infermesh_inference_errors_total", errors),
    family("infermesh_inference_latency", latency),
    family("infermesh_inferences_total", inferences),
    family("infermesh_model_queue_depth", queue),
    family("infermesh_tokens_generated_total", tokens),
  ];
}

/** One Router's series: it carries 1/R of every deployment's traffic and reports gossip's view of every node. */
export function routerFamilies(m: FleetModel, router: number): FamilySpec[] {
  const h = m.hit;
  const requests: SeriesSpec[] = [];
  const rejected: SeriesSpec[] = [];
  const chosen: SeriesSpec[] = [];
  const hedged: SeriesSpec[] = [];
  const wins: SeriesSpec[] = [];
  const cancelled: SeriesSpec[] = [];
  for (const [index, d] of m.deployments.entries()) {
    // Routers are sharded by deployment: each of its routers carries an equal share.
    const routers = m.routersOf(index);
    if (!routers.includes(router)) continue;
    const share = 1 / routers.length;
    const labels = { model: d.model.name, revision: d.revision, tenant: d.tenant };
    const wave = { wave: m.wave(d) };
    const slots = m.slots.filter((s) => s.deployment === d);
    const admitted = slots.reduce((sum, s) => sum + m.slotRate(s), 0) * share;
    const spike = (s: ScenarioName) => s === "rejection-spike" && d.model.name === h.rejectionModel;
    const ratio = (s: ScenarioName) => (spike(s) ? spikeRejectionRatio : healthyRejectionRatio);
    const total = (s: ScenarioName) => admitted / (1 - ratio(s));
    // A router build without the request counter, in `contract-metric-gone`.
    requests.push({ labels: sortedLabels(labels), value: counter(total, wave), present: (s) => s !== "contract-metric-gone" });
    for (const reason of rejectionReasons) {
      const rate = (s: ScenarioName) => total(s) * ratio(s) * rejectionWeights[reason][spike(s) ? "spike" : "healthy"];
      rejected.push({ labels: sortedLabels({ ...labels, reason }), value: counter(rate, wave) });
    }
    const nodes = [...new Set(slots.map((s) => s.node))];
    for (const node of nodes) {
      const weight = (excluded?: GpuNode) => {
        const serving = slots.filter((s) => s.node !== excluded);
        const all = serving.reduce((sum, s) => sum + m.slotRate(s), 0);
        const mine = serving.filter((s) => s.node === node).reduce((sum, s) => sum + m.slotRate(s), 0);
        return all === 0 ? 0 : mine / all;
      };
      const rate = (s: ScenarioName) => admitted * weight(s === "node-down" ? h.downNode : undefined);
      chosen.push({ labels: sortedLabels({ ...labels, target_node: node.name }), value: counter(rate, wave) });
    }
    hedged.push({ labels: sortedLabels(labels), value: counter(() => admitted * hedgeShare, wave) });
    wins.push({ labels: sortedLabels(labels), value: counter(() => admitted * hedgeShare * hedgeWinShare, wave) });
    for (const reason of cancellationReasons) {
      const rate = admitted * cancellationShare[reason];
      cancelled.push({ labels: sortedLabels({ ...labels, reason }), value: counter(() => rate, wave) });
    }
  }
  const healthy: SeriesSpec[] = [...m.gpuNodes, ...m.systemNodes]
    .flatMap((node, i) => (m.gossipOf(i).includes(router) ? [node] : []))
    .map((node) => ({
      labels: sortedLabels({ node: node.name, zone: node.zone }),
      value: gauge((s) => (s === "node-down" && node === h.downNode ? 0 : 1)),
    }));
  return [
    family("infermesh_node_healthy", healthy),
    family("infermesh_requests_rejected_total", rejected),
    family("infermesh_router_cancellations_total", cancelled),
    family("infermesh_router_hedge_wins_total", wins),
    family("infermesh_router_hedged_requests_total", hedged),
    family("infermesh_router_requests_total", requests),
    family("infermesh_router_target_chosen_total", chosen),
  ];
}
