/**
 * The synthetic infermesh fleet in time: the entities of a stack's fleet
 * (model.ts), what each of its exporters emits (exporters/), and the
 * scenarios it plays. Counters are integrals of per-scenario rates over the
 * fleet's history, so a rate read over any window is exactly the rate the
 * scenarios define, and switching scenario changes rates without a counter
 * ever going down. Gauges follow the scenario playing. Two sinks render it:
 * loopback HTTP servers for verify and simulate (http.ts), and OpenMetrics
 * through the stack's own relabeling for the bench's backfill (openmetrics.ts).
 */
import type { MetricFamily } from "./exposition";
import { renderExposition } from "./exposition";
import { dcgmExporterFamilies } from "./exporters/dcgm";
import { routerFamilies, servingFamilies } from "./exporters/infermesh";
import { kubeStateFamilies } from "./exporters/kubeStateMetrics";
import { FleetModel, type FleetSettings, type FleetShape, type FleetTarget, type GpuEntity, type GpuNode } from "./model";
import { isScenarioName, scenarioNames, scenarios, type ExpectedAlert, type ScenarioName } from "./scenarios";
import { scenarioAt, valueAt, type FamilySpec, type HistorySegment } from "./values";

export interface FleetOptions {
  settings: FleetSettings;
  shape?: Partial<FleetShape>;
  scenario?: ScenarioName;
  /** Seconds since the epoch; defaults to the wall clock. */
  clock?: () => number;
  /** A history to play instead of one scenario from now (the backfill's window); later `setScenario` calls append to it. */
  timeline?: readonly HistorySegment[];
}

export class Fleet extends FleetModel {
  private readonly clock: () => number;
  private readonly history: HistorySegment[];
  /** What each target exposes over time, by target id. */
  private readonly specs = new Map<string, FamilySpec[]>();

  constructor(options: FleetOptions) {
    super(options.settings, options.shape);
    this.clock = options.clock ?? (() => Date.now() / 1000);
    if (options.timeline !== undefined && options.timeline.length === 0) throw new Error("a timeline needs at least one segment");
    this.history = options.timeline ? [...options.timeline] : [{ from: this.clock(), scenario: options.scenario ?? "healthy" }];
    for (const target of this.targets) {
      switch (target.kind) {
        case "dcgm-exporter":
          this.specs.set(target.id, dcgmExporterFamilies(this, target.node as GpuNode));
          break;
        case "agent":
        case "adapter": {
          const node = target.node as GpuNode;
          // The scenario models run on the first GPU node, reported by its Agent.
          const scenarioModels = target.kind === "agent" && node === this.gpuNodes[0] ? this.scenarioModels : [];
          this.specs.set(
            target.id,
            servingFamilies(
              this,
              this.slots.filter((s) => s.node === node && s.deployment.model.reporter === target.kind),
              scenarioModels,
            ),
          );
          break;
        }
        case "router":
          this.specs.set(target.id, routerFamilies(this, this.systemNodes.indexOf(target.node)));
          break;
        case "kube-state-metrics":
          this.specs.set(target.id, kubeStateFamilies(this));
          break;
      }
    }
  }

  get scenario(): ScenarioName {
    return (this.history[this.history.length - 1] as HistorySegment).scenario;
  }

  /** The scenarios played so far, each from when it started. */
  get timeline(): readonly HistorySegment[] {
    return this.history;
  }

  /** Switches scenario from now on; counters keep what they accumulated. */
  setScenario(name: ScenarioName): void {
    if (!isScenarioName(name)) throw new Error(`unknown scenario ${String(name)}; scenarios: ${scenarioNames.join(", ")}`);
    if (name === this.scenario) return;
    const now = this.clock();
    const last = this.history[this.history.length - 1] as { from: number };
    this.history.push({ from: Math.max(now, last.from), scenario: name });
  }

  /** The alerts `name` must raise, with the labels of the entity it hits. */
  expectedAlerts(name: ScenarioName): ExpectedAlert[] {
    const h = this.hit;
    const gpu = (g: GpuEntity) => ({ gpu_uuid: g.uuid, node: g.node });
    const bothSlis = (model: string) => [
      { model, slo: "availability" },
      { model, slo: "latency" },
    ];
    const perScenario: Record<ScenarioName, Record<string, Record<string, string> | Array<Record<string, string>>>> = {
      healthy: {},
      "vram-near-oom": { InfermeshGpuNearOom: gpu(h.vramGpu) },
      "queue-spike": { InfermeshHighQueueDepth: { model: h.queueModel } },
      "latency-breach": { InfermeshLatencyP95Breach: { model: h.latencyModel } },
      "node-down": { InfermeshNodeDown: { node: h.downNode.name } },
      "ecc-double-bit": { InfermeshGpuEccDoubleBitErrors: gpu(h.eccGpu), InfermeshGpuXidErrors: gpu(h.eccGpu) },
      "thermal-throttling": { InfermeshGpuThermalThrottling: gpu(h.thermalGpu) },
      "dcgm-exporter-gone": { InfermeshDcgmExporterDown: { node: h.dcgmGoneNode.name }, InfermeshGpuMetricsAbsent: { node: h.dcgmGoneNode.name } },
      "agent-gone": { InfermeshTargetDown: { node: h.agentGoneNode.name, pod: this.target("agent", h.agentGoneNode).pod.name } },
      "rejection-spike": { InfermeshAdmissionRejectionsHigh: { model: h.rejectionModel } },
      "error-spike": { InfermeshErrorRateHigh: { model: h.errorModel } },
      "gpu-idle": h.idleGpu ? { InfermeshGpuIdle: { ...gpu(h.idleGpu), pod: h.idlePod.name } } : {},
      "gpu-pod-pending": { InfermeshGpuPodsPending: { namespace: h.pendingPod.namespace, pod: h.pendingPod.name } },
      "slo-slow-burn": { InfermeshSloSlowBurn: bothSlis(h.sloSlowModel), InfermeshLatencyP95Breach: { model: h.sloSlowModel } },
      "slo-fast-burn": {
        InfermeshSloFastBurn: bothSlis(h.sloFastModel),
        InfermeshSloSlowBurn: bothSlis(h.sloFastModel),
        InfermeshErrorRateHigh: { model: h.sloFastModel },
        InfermeshLatencyP95Breach: { model: h.sloFastModel },
      },
      "contract-metric-gone": { InfermeshContractMetricAbsent: { metric: "infermesh_router_requests_total" } },
      "pool-at-max-size": {
        InfermeshGpuPoolAtMaxSize: { pool: h.maxedPool.pool.name },
        InfermeshGpuMetricsAbsent: h.maxedPool.nodes.map((n) => ({ node: n.name })),
      },
    };
    const unsupported = this.unsupported(name);
    if (unsupported) throw new Error(`scenario ${name} cannot run on this fleet: ${unsupported}`);
    const byAlert = perScenario[name];
    const missing = scenarios[name].alerts.filter((a) => !(a in byAlert));
    if (missing.length > 0) throw new Error(`scenario ${name} has no labels for ${missing.join(", ")}`);
    return scenarios[name].alerts.flatMap((alertname) =>
      [byAlert[alertname] as Record<string, string> | Array<Record<string, string>>].flat().map((labels) => ({ alertname, labels })),
    );
  }

  /** Alerts `name` may also raise (see `ScenarioSpec.mayAlsoRaise`), with the labels of the entity it hits. */
  mayAlsoRaise(name: ScenarioName): ExpectedAlert[] {
    const h = this.hit;
    const sli: Partial<Record<ScenarioName, Record<string, string>>> = {
      "latency-breach": { model: h.latencyModel, slo: "latency" },
      "error-spike": { model: h.errorModel, slo: "availability" },
    };
    const labels = sli[name];
    return (scenarios[name].mayAlsoRaise ?? []).map((alertname) => {
      if (!labels) throw new Error(`scenario ${name} has no labels for the alerts it may also raise`);
      return { alertname, labels };
    });
  }

  /** Why this fleet's shape cannot play a scenario, or undefined when it can. */
  unsupported(name: ScenarioName): string | undefined {
    if (name === "gpu-idle" && !this.hit.idleGpu) return "every GPU is busy (a fleet with a node of two or more GPUs, or a MIG node, has an idle one)";
    if (name === "pool-at-max-size" && this.hit.maxedPool.nodes.length === 0) return `pool ${this.hit.maxedPool.pool.name} is already at its maximum size`;
    return undefined;
  }

  /** The entity a scenario hits, for people. */
  scenarioTarget(name: ScenarioName): string {
    const h = this.hit;
    const gpu = (g: GpuEntity) => `GPU ${g.uuid} (${g.modelName}) on ${g.node}`;
    switch (name) {
      case "healthy":
        return "the whole fleet";
      case "vram-near-oom":
        return gpu(h.vramGpu);
      case "ecc-double-bit":
        return gpu(h.eccGpu);
      case "thermal-throttling":
        return gpu(h.thermalGpu);
      case "queue-spike":
        return `model ${h.queueModel} (depth ${h.queueSpikeDepth})`;
      case "latency-breach":
        return `model ${h.latencyModel}`;
      case "rejection-spike":
        return `model ${h.rejectionModel}`;
      case "error-spike":
        return `model ${h.errorModel}`;
      case "node-down":
        return `node ${h.downNode.name}`;
      case "dcgm-exporter-gone":
        return `dcgm-exporter on ${h.dcgmGoneNode.name}`;
      case "agent-gone":
        return `Agent ${this.target("agent", h.agentGoneNode).pod.name} on ${h.agentGoneNode.name}`;
      case "gpu-idle":
        return h.idleGpu ? `pod ${h.idlePod.name} on ${gpu(h.idleGpu)}` : "no idle GPU";
      case "gpu-pod-pending":
        return `pod ${h.pendingPod.namespace}/${h.pendingPod.name}`;
      case "slo-slow-burn":
        return `model ${h.sloSlowModel}, deployed for the scenario`;
      case "slo-fast-burn":
        return `model ${h.sloFastModel}, deployed for the scenario`;
      case "contract-metric-gone":
        return "every Router";
      case "pool-at-max-size":
        return `pool ${h.maxedPool.pool.name} (${h.maxedPool.pool.gpu}, max ${h.maxedPool.pool.maxNodes} nodes)`;
    }
  }

  /** What a scrape of `targetId` gets at `now`: HTTP status and exposition text. */
  scrape(targetId: string, now = this.clock()): { status: 200 | 503; body: string } {
    const families = this.families(this.targetById(targetId), now);
    if (families === undefined) return { status: 503, body: "Service Unavailable\n" };
    return { status: 200, body: renderExposition(families) };
  }

  /** The exposition text of a target at `now`, as its exporter writes it. */
  exposition(target: FleetTarget, now = this.clock()): string {
    return renderExposition(this.families(target, now, { up: true }) ?? []);
  }

  /**
   * The families a target exposes at `t` (in the scenario playing then), or
   * undefined when it answers with an error instead. Both sinks render these:
   * the loopback servers as text, the backfill as OpenMetrics.
   */
  families(target: FleetTarget, t: number, opts: { up?: boolean } = {}): MetricFamily[] | undefined {
    const scenario = scenarioAt(this.history, t);
    if (!opts.up && this.isDown(target, scenario)) return undefined;
    return this.seriesSpecs(target).map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      samples: f.series
        .filter((s) => s.present === undefined || s.present(scenario))
        .map((s) => ({ labels: s.labels, value: valueAt(s.value, this.history, t), ...(s.suffix ? { suffix: s.suffix } : {}) })),
    }));
  }

  /** Every series a target may expose, in any scenario (each with the scenarios it exists in). */
  seriesSpecs(target: FleetTarget): readonly FamilySpec[] {
    return this.specs.get(target.id) ?? [];
  }

  private targetById(id: string): FleetTarget {
    const target = this.targets.find((t) => t.id === id);
    if (!target) throw new Error(`no target ${id}`);
    return target;
  }

  /** Whether `target` answers scrapes with an error in `scenario`. */
  isDown(target: FleetTarget, scenario: ScenarioName): boolean {
    switch (scenario) {
      case "dcgm-exporter-gone":
        return target.kind === "dcgm-exporter" && target.node.name === this.hit.dcgmGoneNode.name;
      case "agent-gone":
        return target.kind === "agent" && target.node.name === this.hit.agentGoneNode.name;
      default:
        return false;
    }
  }
}
