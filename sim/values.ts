/**
 * How the simulator describes a series before any sink renders it: a label
 * list in the exporter's own order, and a value that is a function of the
 * scenario (gauges) or an integral of per-scenario rates over the fleet's
 * history (counters), so a rate read over any window is exactly the rate the
 * scenarios define and no counter ever goes down.
 */
import { metrics, type MetricDefinition, type MetricName } from "../monitoring/metrics";
import type { MetricFamily, Sample } from "./exposition";
import type { ScenarioName } from "./scenarios";

/** How long every process has been up when the fleet starts (at healthy rates), so counters start well above zero. */
const uptimeSeconds = 6 * 3600;

/**
 * Traffic that rises and falls over the day: rates and the gauges that follow
 * them are scaled by `1 + amplitude * sin(2π t / period + phase)`. Only the
 * bench asks for it; without one, a rate read over any window is exactly the
 * scenario's.
 */
export interface Wave {
  amplitude: number;
  period: number;
  phase: number;
}

const waveAt = (w: Wave, t: number) => 1 + w.amplitude * Math.sin((2 * Math.PI * t) / w.period + w.phase);

/** ∫ waveAt dt from t0 to t1, in closed form, so a counter's value needs no stepping. */
const waveIntegral = (w: Wave, t0: number, t1: number) =>
  t1 - t0 + ((w.amplitude * w.period) / (2 * Math.PI)) * (Math.cos((2 * Math.PI * t0) / w.period + w.phase) - Math.cos((2 * Math.PI * t1) / w.period + w.phase));

/** A series' value: a gauge of the current scenario, or a counter integrating per-scenario rates (plus a jump when a scenario starts). */
export type ValueSpec =
  | { kind: "gauge"; value: (s: ScenarioName) => number; wave?: Wave }
  | { kind: "counter"; base: number; rate: (s: ScenarioName) => number; jump?: (s: ScenarioName) => number; wave?: Wave };

export interface SeriesSpec {
  labels: ReadonlyArray<readonly [string, string]>;
  suffix?: Sample["suffix"];
  value: ValueSpec;
  /** Scenarios in which the series exists; always, when absent. */
  present?: (s: ScenarioName) => boolean;
}

export interface FamilySpec {
  name: string;
  help: string;
  type: MetricFamily["type"];
  series: SeriesSpec[];
}

export const gauge = (value: (s: ScenarioName) => number, wave?: Wave): ValueSpec => ({ kind: "gauge", value, ...(wave ? { wave } : {}) });

/** A counter at `rate` per second; unless `base` is given it starts where the healthy rate leaves it after the processes' uptime. */
export const counter = (rate: (s: ScenarioName) => number, opts: { base?: number; jump?: (s: ScenarioName) => number; wave?: Wave } = {}): ValueSpec => ({
  kind: "counter",
  base: opts.base ?? rate("healthy") * uptimeSeconds,
  rate,
  ...(opts.jump ? { jump: opts.jump } : {}),
  ...(opts.wave ? { wave: opts.wave } : {}),
});

/** Labels in the order Prometheus' Go client writes them: sorted by name. */
export function sortedLabels(labels: Record<string, string | undefined>): Array<readonly [string, string]> {
  return Object.entries(labels)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A family of the metric contract (monitoring/metrics.ts): its name, help and type come from there. */
export function family(name: MetricName, series: SeriesSpec[]): FamilySpec {
  const m = metrics[name];
  return { name, help: m.help, type: m.type, series };
}

/** A family kube-state-metrics always exports, whether or not the metric contract reads it. */
export function ksmFamily(name: string, help: string, series: SeriesSpec[]): FamilySpec {
  const contract = (metrics as Record<string, MetricDefinition | undefined>)[name];
  return { name, help: contract?.help ?? help, type: "gauge", series };
}

/** One stretch of the fleet's history: a scenario from `from` (unix seconds) until the next stretch. */
export interface HistorySegment {
  from: number;
  scenario: ScenarioName;
}

/** The scenario playing at `t`: the last segment that started at or before it (the first, before any). */
export function scenarioAt(history: readonly HistorySegment[], t: number): ScenarioName {
  let current = (history[0] as HistorySegment).scenario;
  for (const segment of history) {
    if (segment.from <= t) current = segment.scenario;
    else break;
  }
  return current;
}

/** A value at `t`: a gauge of the scenario then, a counter's base plus each earlier segment's jump and rate times duration. */
export function valueAt(spec: ValueSpec, history: readonly HistorySegment[], t: number): number {
  if (spec.kind === "gauge") {
    const value = spec.value(scenarioAt(history, t));
    return spec.wave ? Math.round(value * waveAt(spec.wave, t) * 1000) / 1000 : value;
  }
  let total = spec.base;
  history.forEach((segment, i) => {
    if (segment.from >= t) return;
    const next = history[i + 1];
    const end = next === undefined ? t : Math.min(next.from, t);
    if (i > 0 && spec.jump) total += spec.jump(segment.scenario);
    total += spec.rate(segment.scenario) * (spec.wave ? waveIntegral(spec.wave, segment.from, end) : end - segment.from);
  });
  return Math.round(total * 1000) / 1000;
}
