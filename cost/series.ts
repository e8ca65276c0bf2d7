/**
 * Active series of a fleet, by source, from the stack's own data: the metric
 * contract's label sets and histogram buckets (monitoring/metrics.ts), the
 * DCGM counters the stack deploys, the fleet's entity counts
 * (cost/census.ts), and the recording rules the stack deploys, each
 * estimated from its expression's grain (its `by (…)` labels, read with
 * Prometheus' own grammar), not from a list of today's rules.
 */
import type { CounterField } from "../components/dcgmCounters";
import { parsePromql, selectorInfo, type SyntaxNode } from "../lib/promql";
import { cancellationReasons, inferenceErrors, metrics, rejectionReasons, type MetricDefinition, type MetricName } from "../monitoring/metrics";
import type { FleetCensus } from "./census";

/** Where a series comes from. */
export type SeriesSource = "dcgm-exporter" | "infermesh-router" | "infermesh-serving" | "kube-state-metrics" | "cluster-defaults" | "scrape" | "recording-rules";
export const seriesSources: readonly SeriesSource[] = [
  "dcgm-exporter",
  "infermesh-serving",
  "infermesh-router",
  "kube-state-metrics",
  "cluster-defaults",
  "scrape",
  "recording-rules",
];

/**
 * What kube-prometheus-stack's own monitors add (the stack's Prometheus
 * selects them: they carry its `release` label): node-exporter and the
 * kubelet with cAdvisor per node, kube-state-metrics' families beyond the
 * contract's per pod. Planning figures, not measured from the stack's data:
 * a node-exporter with the chart's collectors on a node with a few disks and
 * NICs, the kubelet's and cAdvisor's series after the chart's drops.
 */
export const clusterDefaults = {
  nodeExporterSeriesPerNode: 800,
  kubeletSeriesPerNode: 300,
  cadvisorSeriesPerPod: 40,
  kubeStateSeriesPerPod: 30,
} as const;

/** What one series of a metric is kept per. */
type Base = "gpuEntity" | "servingSlot" | "queueSlot" | "routedDeployment" | "routedTarget" | "gossip" | "node" | "gpuNode" | "pod" | "target";

/** Phases kube-state-metrics reports for every pod (one series each, 1 for the current one). */
const podPhases = ["Pending", "Running", "Succeeded", "Failed", "Unknown"] as const;

/**
 * Labels whose values come from a closed list, by metric: each multiplies the
 * metric's series. A label the contract adds that is neither an entity's nor
 * listed here is an error (see {@link rawSeries}), so it cannot go uncounted.
 */
const enumerated: Partial<Record<MetricName, Readonly<Record<string, number>>>> = {
  infermesh_inference_errors_total: { error: inferenceErrors.length },
  infermesh_requests_rejected_total: { reason: rejectionReasons.length },
  infermesh_router_cancellations_total: { reason: cancellationReasons.length },
  kube_pod_status_phase: { phase: podPhases.length },
};

/** Labels that name an entity (or hang off one): they add no series beyond the entity's own. */
const entityLabels = new Set([
  "model",
  "revision",
  "quant",
  "runtime",
  "node",
  "gpu_uuid",
  "mig_profile",
  "tenant",
  "zone",
  "target_node",
  "gpu",
  "gpu_model",
  "mig_instance",
  "namespace",
  "pod",
  "container",
  "job",
  "instance",
  "endpoint",
  "resource",
  "unit",
]);

/** Prometheus' own series per scrape target: `up` (in the contract) and these four. */
export const scrapeSeriesPerTarget = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"] as const;

/** Node resources kube-state-metrics reports allocatable for: cpu, memory, pods, and a GPU node's GPU resource. */
const nodeResources = 3;
/** Resources a container requests: cpu and memory, and a GPU pod's GPU resource. */
const podResources = 2;

export interface MetricSeries {
  metric: MetricName;
  source: SeriesSource;
  base: Base;
  series: number;
  labels: readonly string[];
  /** Closed-list labels and how many values each has (`le` for a histogram's buckets). */
  enums: Readonly<Record<string, number>>;
}

function sourceOf(m: MetricDefinition): SeriesSource {
  if (m.source === "dcgm") return "dcgm-exporter";
  if (m.source === "kube-state-metrics") return "kube-state-metrics";
  if (m.source === "prometheus") return "scrape";
  return m.exposedBy.includes("router") ? "infermesh-router" : "infermesh-serving";
}

function baseOf(m: MetricDefinition): Base {
  const has = (l: string) => m.labels.includes(l);
  switch (sourceOf(m)) {
    case "dcgm-exporter":
      return "gpuEntity";
    case "infermesh-serving":
      return has("tenant") ? "servingSlot" : "queueSlot";
    case "infermesh-router":
      return has("target_node") ? "routedTarget" : has("model") ? "routedDeployment" : "gossip";
    case "kube-state-metrics":
      return has("pod") ? "pod" : "node";
    default:
      return "target";
  }
}

function baseCount(base: Base, c: FleetCensus, metric: MetricName): number {
  switch (base) {
    case "gpuEntity":
      return c.gpuEntities - ((metrics[metric] as MetricDefinition).wholeGpusOnly ? c.migInstances : 0);
    case "servingSlot":
      return c.servingSlots;
    case "queueSlot":
      return c.queueSlots;
    case "routedDeployment":
      return c.routedDeployments;
    case "routedTarget":
      return c.routedTargets;
    case "gossip":
      return c.gossipReports;
    case "gpuNode":
      return c.gpuNodes;
    case "node":
      // Resources per node: GPU nodes add their GPU resource.
      return metric === "kube_node_status_allocatable" ? c.gpuNodes * (nodeResources + 1) + c.systemNodes * nodeResources : c.gpuNodes + c.systemNodes;
    case "pod":
      return metric === "kube_pod_container_resource_requests" ? c.gpuPods * (podResources + 1) + c.otherPods * podResources : c.gpuPods + c.otherPods;
    case "target":
      return c.scrapeTargets;
  }
}

/**
 * Series of every contract metric the fleet exposes (DCGM fields only when
 * the stack's counters list has them), after the stack's relabeling: the
 * metric's entity count times its closed-list labels, a histogram's buckets
 * (`le`, with +Inf) plus `_sum` and `_count`.
 */
export function rawSeries(census: FleetCensus, counters: readonly CounterField[]): MetricSeries[] {
  const collected = new Set(counters.map((f) => f.name));
  return (Object.entries(metrics) as Array<[MetricName, MetricDefinition]>).flatMap(([name, m]) => {
    if (m.source === "dcgm" && !collected.has(name)) return [];
    const enums: Record<string, number> = { ...(enumerated[name] ?? {}) };
    for (const label of m.labels) {
      if (!entityLabels.has(label) && !(label in enums) && !label.startsWith("label_")) {
        throw new Error(`metric ${name}: label ${label} is neither an entity's nor a closed list the series estimate knows (cost/series.ts enumerated)`);
      }
    }
    const base = baseOf(m);
    const keys = baseCount(base, census, name) * Object.values(enums).reduce((a, b) => a * b, 1);
    const series = m.type === "histogram" ? keys * histogramSeriesPerKey(m) : keys;
    if (m.type === "histogram") enums.le = histogramBounds(m);
    return [{ metric: name, source: sourceOf(m), base, series, labels: m.labels, enums }];
  });
}

/** A histogram's `le` values: its buckets' bounds and +Inf. */
const histogramBounds = (m: Pick<MetricDefinition, "buckets">) => (m.buckets?.length ?? 0) + 1;
/** Series of one histogram key (one label set): a `_bucket` per bound, `_sum` and `_count`. */
const histogramSeriesPerKey = (m: Pick<MetricDefinition, "buckets">) => histogramBounds(m) + 2;

/**
 * Series of one of a histogram's names (`_bucket`, `_sum`, `_count`) out of
 * all the series of the histogram `m` keeps: a bucket per bound, or one.
 */
export function histogramPart(m: Pick<MetricDefinition, "buckets">, series: number, part: "bucket" | "sum" | "count"): number {
  const keys = series / histogramSeriesPerKey(m);
  return part === "bucket" ? keys * histogramBounds(m) : keys;
}

// ---------------------------------------------------------------------------
// Recording rules

/** A rule's result as the estimate sees it: how many series, over which labels, drawn from which raw metric. */
interface Vector {
  series: number;
  /** Labels the result keeps; `all` when it keeps its input's. */
  labels: ReadonlySet<string> | "all";
  /** The raw metric the series descend from (for its entity counts and closed lists). */
  from?: MetricSeries;
  /** Labels set to constants (label_replace), with their values: disjoint sets add up under `or`. */
  constants: ReadonlyMap<string, ReadonlySet<string>>;
  scalar?: true;
}

export interface RuleInput {
  record: string;
  expr: string;
}

export interface RuleSeries {
  record: string;
  series: number;
  /** Labels of the recorded series, as the estimate reads the expression. */
  labels: string[] | "all";
}

const scalar: Vector = { series: 1, labels: new Set(), constants: new Map(), scalar: true };

/**
 * Distinct label sets when `from`'s series are aggregated to `kept`: the
 * finest entity among the kept labels (a GPU, a pod, a deployment, a model
 * revision, a model, a node, a zone) times the closed-list labels kept,
 * never more than the input has.
 */
function grainCount(kept: ReadonlySet<string>, input: Vector, census: FleetCensus): number {
  const from = input.from;
  if (!from) return Math.min(1, input.series);
  const has = (l: string) => kept.has(l);
  const enumsKept = Object.entries(from.enums).filter(([l]) => has(l));
  const enumProduct = enumsKept.reduce((a, [, n]) => a * n, 1);
  const allEnums = Object.values(from.enums).reduce((a, b) => a * b, 1);
  const constantProduct = [...input.constants].filter(([l]) => has(l)).reduce((a, [, v]) => a * v.size, 1);
  const nodes = from.base === "gpuEntity" || from.base === "servingSlot" || from.base === "queueSlot" ? census.gpuNodes : census.gpuNodes + census.systemNodes;
  // A per-deployment series kept per zone: the zones where it is served (serving metrics) or routed (a Router's zone).
  const routed = from.base === "routedDeployment" || from.base === "routedTarget";
  const deploymentZones = routed ? census.routedDeploymentZones : census.servedDeploymentZones;
  let entities: number;
  if (["gpu_uuid", "pod", "instance", "mig_instance", "phase", "resource"].some(has) || from.base === "gossip") {
    entities = input.series / Math.max(1, allEnums);
  } else if (has("tenant") || has("revision") || has("model")) {
    const keyed = has("tenant") ? census.deployments : has("revision") ? census.modelRevisions : census.models;
    entities = has("zone") ? Math.min(keyed * census.zones, deploymentZones) : keyed;
    if (has("target_node")) entities *= Math.max(1, census.routedTargets / Math.max(1, census.routedDeployments));
  } else if (has("node") || has("target_node")) {
    entities = nodes;
  } else if (has("zone")) {
    entities = census.zones;
  } else {
    entities = 1;
  }
  return Math.min(input.series, Math.round(entities * enumProduct * constantProduct));
}

function text(source: string, node: SyntaxNode): string {
  return source.slice(node.from, node.to);
}

function groupingLabels(source: string, node: SyntaxNode | null): string[] {
  return (node?.getChild("GroupingLabels")?.getChildren("LabelName") ?? []).map((n) => text(source, n));
}

/** The children that are expressions (not function identifiers, modifiers or punctuation). */
function exprChildren(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (
      [
        "BinaryExpr",
        "AggregateExpr",
        "FunctionCall",
        "VectorSelector",
        "MatrixSelector",
        "ParenExpr",
        "SubqueryExpr",
        "UnaryExpr",
        "OffsetExpr",
        "NumberDurationLiteral",
        "StringLiteral",
        "StepInvariantExpr",
      ].includes(c.name)
    )
      out.push(c);
  }
  return out;
}

interface Scope {
  source: string;
  census: FleetCensus;
  raw: ReadonlyMap<string, MetricSeries>;
  recorded: ReadonlyMap<string, Vector>;
}

function seriesOfName(name: string, scope: Scope): Vector {
  const recorded = scope.recorded.get(name);
  if (recorded) return recorded;
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
  const raw = scope.raw.get(name) ?? (histogram ? scope.raw.get(histogram[1] as string) : undefined);
  if (!raw) return { series: 0, labels: "all", constants: new Map() };
  if (histogram && raw.enums.le !== undefined && raw.metric !== name) {
    const part = histogramPart(metrics[raw.metric] as MetricDefinition, raw.series, histogram[2] as "bucket" | "sum" | "count");
    return { series: part, labels: "all", from: raw, constants: new Map() };
  }
  return { series: raw.series, labels: "all", from: raw, constants: new Map() };
}

function evaluate(node: SyntaxNode, scope: Scope): Vector {
  const { source, census } = scope;
  switch (node.name) {
    case "PromQL":
    case "ParenExpr":
    case "MatrixSelector":
    case "SubqueryExpr":
    case "OffsetExpr":
    case "StepInvariantExpr":
    case "UnaryExpr": {
      const inner = exprChildren(node)[0];
      return inner ? evaluate(inner, scope) : scalar;
    }
    case "NumberDurationLiteral":
    case "StringLiteral":
      return scalar;
    case "VectorSelector": {
      const info = selectorInfo(source, node);
      const input = seriesOfName(info.metric ?? "", scope);
      // An equality matcher on a constant label picks its share of the series.
      let series = input.series;
      const constants = new Map(input.constants);
      for (const m of info.parts) {
        const values = constants.get(m.label);
        if (m.op === "=" && values && values.size > 1) {
          series = series / values.size;
          constants.set(m.label, new Set([m.value]));
        }
      }
      return { ...input, series, constants };
    }
    case "AggregateExpr": {
      const op = node.getChild("AggregateOp")?.firstChild?.name ?? "";
      const modifier = node.getChild("AggregateModifier");
      const body = node.getChild("FunctionCallBody");
      const args = body ? exprChildren(body) : [];
      const input = evaluate(args[args.length - 1] as SyntaxNode, scope);
      if (["Topk", "Bottomk", "LimitK", "LimitRatio"].includes(op)) return input;
      if (!modifier) return { series: Math.min(1, input.series), labels: new Set(), constants: new Map(), ...(input.from ? { from: input.from } : {}) };
      const listed = groupingLabels(source, modifier);
      if (modifier.getChild("Without")) {
        return { ...input, labels: input.labels === "all" ? "all" : new Set([...input.labels].filter((l) => !listed.includes(l))) };
      }
      const kept = new Set(listed);
      const constants = new Map([...input.constants].filter(([l]) => kept.has(l)));
      return { series: grainCount(kept, input, census), labels: kept, constants, ...(input.from ? { from: input.from } : {}) };
    }
    case "FunctionCall": {
      const fn = node.getChild("FunctionIdentifier")?.firstChild?.name ?? "";
      const body = node.getChild("FunctionCallBody");
      const args = body ? exprChildren(body) : [];
      const vectorArg = args.find((a) => a.name !== "NumberDurationLiteral" && a.name !== "StringLiteral");
      if (!vectorArg) return scalar;
      const input = evaluate(vectorArg, scope);
      if (fn === "HistogramQuantile") {
        const kept = input.labels === "all" ? "all" : new Set([...input.labels].filter((l) => l !== "le"));
        const le = input.from?.enums.le ?? 1;
        return { ...input, series: Math.ceil(input.series / le), labels: kept };
      }
      if (fn === "LabelReplace") {
        const strings = args.filter((a) => a.name === "StringLiteral").map((a) => JSON.parse(text(source, a)) as string);
        const [destination, replacement] = strings;
        const constants = new Map(input.constants);
        // A constant replacement (no capture group) gives every series the same value.
        if (destination !== undefined && replacement !== undefined && !replacement.includes("$")) constants.set(destination, new Set([replacement]));
        const labels = input.labels === "all" ? "all" : new Set([...input.labels, ...(destination ? [destination] : [])]);
        return { ...input, labels, constants };
      }
      return input;
    }
    case "BinaryExpr": {
      const [left, right] = exprChildren(node).map((c) => evaluate(c, scope)) as [Vector, Vector];
      const op = node.getChild("Or") ? "or" : node.getChild("And") || node.getChild("Unless") ? "filter" : "arith";
      if (left.scalar && right.scalar) return scalar;
      if (left.scalar) return right;
      if (right.scalar) return left;
      if (op === "filter") return left;
      if (op === "or") {
        const disjoint = [...left.constants].some(([l, v]) => {
          const other = right.constants.get(l);
          return other !== undefined && [...v].every((x) => !other.has(x));
        });
        const constants = new Map(left.constants);
        for (const [l, v] of right.constants) constants.set(l, new Set([...(constants.get(l) ?? []), ...v]));
        return {
          ...left,
          series: disjoint ? left.series + right.series : Math.max(left.series, right.series),
          constants,
          ...((left.from ?? right.from) ? { from: left.from ?? right.from } : {}),
        };
      }
      const matching = node.getChild("MatchingModifierClause");
      if (matching?.getChild("GroupLeft")) return left;
      if (matching?.getChild("GroupRight")) return right;
      return left.series <= right.series ? left : { ...right, labels: left.labels, constants: left.constants };
    }
    default:
      throw new Error(`the series estimate does not read PromQL ${node.name} (${JSON.stringify(text(source, node))})`);
  }
}

/**
 * Series each recording rule writes, in rule order (a rule may read what an
 * earlier one records): the grain its expression keeps, against the fleet's
 * entity counts.
 */
export function ruleSeries(rules: readonly RuleInput[], raw: readonly MetricSeries[], census: FleetCensus): RuleSeries[] {
  const rawByName = new Map(raw.map((r) => [r.metric as string, r]));
  const recorded = new Map<string, Vector>();
  return rules.map((rule) => {
    const scope: Scope = { source: rule.expr, census, raw: rawByName, recorded };
    const result = evaluate(parsePromql(rule.expr), scope);
    const series = Math.round(result.series);
    const prior = recorded.get(rule.record);
    // Two rules may record into one name (each a share of its series).
    recorded.set(rule.record, prior ? { ...result, series: prior.series + series } : { ...result, series });
    return { record: rule.record, series, labels: result.labels === "all" ? "all" : [...result.labels].sort() };
  });
}

export interface SeriesEstimate {
  /** Active series by source. */
  bySource: Record<SeriesSource, number>;
  total: number;
  byMetric: Array<{ metric: string; source: SeriesSource; series: number }>;
  rules: RuleSeries[];
}

/**
 * Every active series the fleet's scrape and the stack's recording rules
 * keep. `clusterDefaults`: add what kube-prometheus-stack's own monitors
 * scrape (a cluster; the synthetic fleet serves only the contract's exporters).
 */
export function estimateSeries(census: FleetCensus, counters: readonly CounterField[], rules: readonly RuleInput[], opts: { clusterDefaults?: boolean } = {}): SeriesEstimate {
  const raw = rawSeries(census, counters);
  const recorded = ruleSeries(rules, raw, census);
  const bySource = Object.fromEntries(seriesSources.map((s) => [s, 0])) as Record<SeriesSource, number>;
  const byMetric: SeriesEstimate["byMetric"] = [];
  for (const r of raw) {
    // `up` is one of the per-target scrape series counted below.
    if (r.metric === "up") continue;
    bySource[r.source] += r.series;
    byMetric.push({ metric: r.metric, source: r.source, series: r.series });
  }
  bySource.scrape += census.scrapeTargets * scrapeSeriesPerTarget.length;
  if (opts.clusterDefaults) {
    const nodes = census.gpuNodes + census.systemNodes;
    const pods = census.gpuPods + census.otherPods;
    const d = clusterDefaults;
    bySource["cluster-defaults"] = nodes * (d.nodeExporterSeriesPerNode + d.kubeletSeriesPerNode) + pods * (d.cadvisorSeriesPerPod + d.kubeStateSeriesPerPod);
    // node-exporter and the kubelet (with cAdvisor) are two more targets per node.
    bySource.scrape += nodes * 2 * scrapeSeriesPerTarget.length;
  }
  bySource["recording-rules"] = recorded.reduce((sum, r) => sum + r.series, 0);
  const total = Object.values(bySource).reduce((a, b) => a + b, 0);
  return { bySource, total, byMetric, rules: recorded };
}
