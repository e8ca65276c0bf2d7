/**
 * promtool tests of the SLO burn-rate alerts and recording rules
 * (monitoring/slo.ts), at the boundaries of their windows.
 *
 * Each scenario is a traffic timeline in phases (healthy, burning, stopped)
 * for two models with different objectives. Where each check lands is not
 * written by hand: `simulateSlo` computes, step by step, what the recording
 * rules and alerts are meant to compute (error ratios over each window as
 * rate ratios, burn rates against each model's budget, the `for` of each
 * alert), with the same floating-point operations in the same order as
 * Prometheus 2.42, and the checks are placed where it says an alert starts or
 * stops firing: one evaluation before and at that step. promtool then has to
 * agree, label for label and value for value.
 *
 * Samples and evaluations are one minute apart, or five minutes in the
 * scenario that must run for days (the shortest window then holds two
 * samples, enough for a rate); each spacing has its own test file, since
 * promtool's evaluation interval is per file.
 */
import YAML from "yaml";
import type { DeliveredAlert } from "../alerts/catalog";
import { latencyBucketBoundsMs } from "../monitoring/metrics";
import {
  baseWindowSeconds,
  burnRatePairs,
  errorBudget,
  objectivesFor,
  promDuration,
  sloKinds,
  sloRatioWindows,
  sloRecordedNames,
  type SloKind,
  type SloSpec,
} from "../monitoring/slo";
import { promtoolContext, seriesSelector, type ExpectedAlert, type ExpectedSample, type InputSeries } from "./promtoolCases";

/** The stack the cases are written for: 30s scrapes (so the shortest window is 5m) and two models with different objectives. */
export const sloCaseScrapeIntervalSeconds = 30;

/** The SLOs of the promtool context (verify/promtoolCases.ts): gpt-7b at the defaults, llama-70b with objectives of its own. */
export const sloCaseSpec: SloSpec = promtoolContext.slo as SloSpec;

/** Per-step increments of one model's counters. */
export interface Traffic {
  /** Inferences completed (and observed by the latency histogram). */
  events: number;
  /** Failed inferences that count against availability (`runtime_error`). */
  errors: number;
  /** `bad_request` failures: the client's, not counted. */
  clientErrors: number;
  /** Inferences slower than the model's latency target. */
  slow: number;
}

export interface Phase {
  name: string;
  steps: number;
  traffic: Readonly<Record<string, Traffic>>;
}

export interface SloScenario {
  name: string;
  /** Seconds between samples and evaluations: a minute, or five where the windows reach days (promtool time grows with the square of the steps). */
  intervalSeconds: 60 | 300;
  phases: readonly Phase[];
}

export const sloCaseModels = ["gpt-7b", "llama-70b"] as const;

// ---------------------------------------------------------------------------
// Input series

const gpus: Record<string, { node: string; gpu_uuid: string; zone: string }> = {
  "gpt-7b": { node: "gpu-node-a", gpu_uuid: "GPU-3f1c2a9e-7b41-4c7e-9d1a-0a0000000001", zone: "us-west-2a" },
  "llama-70b": { node: "gpu-node-b", gpu_uuid: "GPU-8d0e5b72-11c3-4f0a-b2d4-0c0000000003", zone: "us-west-2b" },
};

const servingLabels = (model: string) => ({ model, revision: "r1", quant: "fp16", runtime: "vllm", ...(gpus[model] as object), tenant: "acme" }) as Record<string, string>;

/** The contract bound below `bound`: a bucket the latency SLI must not read. */
function lowerBound(bound: number): number {
  const bounds = latencyBucketBoundsMs as readonly number[];
  return bounds[bounds.indexOf(bound) - 1] as number;
}

interface CounterSpec {
  series: string;
  increment: (t: Traffic) => number;
}

/**
 * How each model's bucket bounds are stored: as exposed (`2000`, Prometheus 2)
 * for gpt-7b, and as Prometheus 3 normalizes classic histogram bounds
 * (`5000.0`) for llama-70b: kube-prometheus-stack 82.6.0 runs Prometheus
 * v3.10.0 (prometheus-community/helm-charts kube-prometheus-stack-82.6.0
 * charts/kube-prometheus-stack/values.yaml, prometheusSpec.image.tag), whose
 * parser rewrites `le` (prometheus/prometheus v3.10.0
 * model/textparse/promparse.go, normalizeFloatsInLabelValues; docs/migration.md
 * "`le` and `quantile` label values"). The rules must read both.
 */
const storedLe = (model: string, bound: number) => (model === "llama-70b" ? `${bound}.0` : String(bound));

function counters(model: string, spec: SloSpec): CounterSpec[] {
  const labels = servingLabels(model);
  const target = objectivesFor(spec, model).latencyTargetMs;
  const le = (bound: number) => storedLe(model, bound);
  return [
    { series: seriesSelector("infermesh_inferences_total", labels), increment: (t) => t.events },
    { series: seriesSelector("infermesh_inference_errors_total", { ...labels, error: "runtime_error" }), increment: (t) => t.errors },
    { series: seriesSelector("infermesh_inference_errors_total", { ...labels, error: "bad_request" }), increment: (t) => t.clientErrors },
    { series: seriesSelector("infermesh_inference_latency_count", labels), increment: (t) => t.events },
    { series: seriesSelector("infermesh_inference_latency_bucket", { ...labels, le: le(target) }), increment: (t) => t.events - t.slow },
    // Half the fast inferences are also under the next lower bound: a rule reading that bucket would see a different ratio.
    { series: seriesSelector("infermesh_inference_latency_bucket", { ...labels, le: le(lowerBound(target)) }), increment: (t) => Math.floor((t.events - t.slow) / 2) },
  ];
}

/** promtool's expanding notation for a counter at 0 that grows by each phase's increment every step. */
function counterValues(phases: readonly Phase[], increment: (p: Phase) => number): string {
  const parts: string[] = [];
  let value = 0;
  phases.forEach((phase, i) => {
    const inc = increment(phase);
    // `a+bxn` is n+1 samples; the first phase also has the sample at 0.
    if (i === 0) parts.push(`0+${inc}x${phase.steps}`);
    else parts.push(`${value + inc}+${inc}x${phase.steps - 1}`);
    value += inc * phase.steps;
  });
  return parts.join(" ");
}

export function sloInputSeries(scenario: SloScenario, spec: SloSpec = sloCaseSpec): InputSeries[] {
  return sloCaseModels.flatMap((model) =>
    counters(model, spec).map((c) => ({ series: c.series, values: counterValues(scenario.phases, (p) => c.increment(p.traffic[model] as Traffic)) })),
  );
}

export const scenarioSteps = (s: SloScenario) => s.phases.reduce((n, p) => n + p.steps, 0);
export const phaseStart = (s: SloScenario, name: string) => {
  let step = 1;
  for (const p of s.phases) {
    if (p.name === name) return step;
    step += p.steps;
  }
  throw new Error(`${s.name} has no phase ${name}`);
};

// ---------------------------------------------------------------------------
// What the rules compute

/** Neumaier-compensated sum, as Prometheus 2.42's sum_over_time. */
function kahanSum(values: readonly number[]): number {
  let sum = 0;
  let c = 0;
  for (const v of values) {
    const t = sum + v;
    if (Math.abs(sum) >= Math.abs(v)) c += sum - t + v;
    else c += v - t + sum;
    sum = t;
  }
  return Number.isFinite(sum) ? sum + c : sum;
}

export interface FiringAlert {
  alert: "InfermeshSloFastBurn" | "InfermeshSloSlowBurn";
  labels: { model: string; slo: SloKind; long_window: string; short_window: string };
  /** The long window's burn rate: the alert's `$value`. */
  value: number;
}

export interface SloStep {
  /** Recorded values per series name, each `model/slo` → value. */
  recorded: Map<string, Map<string, number>>;
  /** Alerts whose condition holds at this step, and those firing (condition held for `for`). */
  active: FiringAlert[];
  firing: FiringAlert[];
}

const key = (model: string, slo: SloKind) => `${model}/${slo}`;

/**
 * Step-by-step evaluation of the SLO rules over a scenario (index = step;
 * step 0 has one sample and no rate). Counters start at 0 at step 0 and
 * every sample is aligned with the evaluations, so rate() over a window is
 * (last - first) x (1 / window) without extrapolation, with the first sample
 * inside the window (Prometheus 2 includes both ends): prometheus/prometheus
 * v2.42.0 promql/functions.go (extrapolatedRate, funcSumOverTime) and
 * promql/engine.go (matrixIterSlice).
 */
export function simulateSlo(scenario: SloScenario, opts: { spec?: SloSpec; forSeconds: Record<FiringAlert["alert"], number> }): SloStep[] {
  const spec = opts.spec ?? sloCaseSpec;
  const scrape = sloCaseScrapeIntervalSeconds;
  const dt = scenario.intervalSeconds;
  const n = sloRecordedNames(scrape);
  const steps = scenarioSteps(scenario);
  const trafficAt: Traffic[][] = [];
  for (const phase of scenario.phases) for (let i = 0; i < phase.steps; i++) trafficAt.push(sloCaseModels.map((m) => phase.traffic[m] as Traffic));
  // Cumulative counters per model: index 0 is the sample at step 0.
  const cumulative = (model: number, f: (t: Traffic) => number) => {
    const out = [0];
    for (let k = 1; k <= steps; k++) out.push((out[k - 1] as number) + f((trafficAt[k - 1] as Traffic[])[model] as Traffic));
    return out;
  };
  const series = sloCaseModels.map((_model, i) => ({
    events: cumulative(i, (t) => t.events),
    errors: cumulative(i, (t) => t.errors),
    good: cumulative(i, (t) => t.events - t.slow),
  }));
  const rate = (x: readonly number[], k: number, windowSeconds: number): number | undefined => {
    const first = Math.max(0, k - windowSeconds / dt);
    if (k - first < 1) return undefined;
    // Prometheus multiplies by 1/window rather than dividing: the same rounding here.
    return ((x[k] as number) - (x[first] as number)) * (1 / windowSeconds);
  };
  const baseSeconds = baseWindowSeconds(scrape);
  const rawErrors = (m: number, slo: SloKind, k: number, w: number) => {
    const s = series[m] as (typeof series)[number];
    if (slo === "availability") return rate(s.errors, k, w);
    const count = rate(s.events, k, w);
    const good = rate(s.good, k, w);
    return count === undefined || good === undefined ? undefined : count - good;
  };
  const rawEvents = (m: number, k: number, w: number) => rate((series[m] as (typeof series)[number]).events, k, w);
  const windows = sloRatioWindows(spec.window, scrape);
  const seconds = (w: string) => Number(/^\d+/.exec(w)?.[0]) * ({ m: 60, h: 3600, d: 86400 } as Record<string, number>)[w.slice(-1)]!;
  const pairs = burnRatePairs(spec.window, scrape);
  const budgets = new Map<string, number>();
  for (const model of sloCaseModels) {
    const o = objectivesFor(spec, model);
    budgets.set(key(model, "availability"), errorBudget(o.availabilityPercent));
    budgets.set(key(model, "latency"), errorBudget(o.latencyPercent));
  }

  const out: SloStep[] = [];
  const baseErrors: Array<Map<string, number>> = [];
  const baseEvents: Array<Map<string, number>> = [];
  const activeSince = new Map<string, number>();
  for (let k = 0; k <= steps; k++) {
    const recorded = new Map<string, Map<string, number>>();
    const put = (name: string, k2: string, v: number) => {
      if (!recorded.has(name)) recorded.set(name, new Map());
      (recorded.get(name) as Map<string, number>).set(k2, v);
    };
    const be = new Map<string, number>();
    const bv = new Map<string, number>();
    for (const [m, model] of sloCaseModels.entries()) {
      for (const slo of sloKinds) {
        const e = rawErrors(m, slo, k, baseSeconds);
        const v = rawEvents(m, k, baseSeconds);
        if (e === undefined || v === undefined) continue;
        be.set(key(model, slo), e);
        bv.set(key(model, slo), v);
        put(n.errors, key(model, slo), e);
        put(n.events, key(model, slo), v);
        put(n.budget, key(model, slo), budgets.get(key(model, slo)) as number);
      }
    }
    baseErrors.push(be);
    baseEvents.push(bv);
    for (const w of windows) {
      const ws = seconds(w);
      for (const [m, model] of sloCaseModels.entries()) {
        for (const slo of sloKinds) {
          const id = key(model, slo);
          let ratio: number | undefined;
          if (ws === baseSeconds) {
            const e = be.get(id);
            const v = bv.get(id);
            ratio = e === undefined || v === undefined ? undefined : e / v;
          } else if (ws <= 3600) {
            const e = rawErrors(m, slo, k, ws);
            const v = rawEvents(m, k, ws);
            ratio = e === undefined || v === undefined ? undefined : e / v;
          } else {
            const from = Math.max(0, k - ws / dt);
            const es: number[] = [];
            const vs: number[] = [];
            for (let u = from; u <= k; u++) {
              const e = (baseErrors[u] as Map<string, number>).get(id);
              const v = (baseEvents[u] as Map<string, number>).get(id);
              if (e !== undefined) es.push(e);
              if (v !== undefined) vs.push(v);
            }
            ratio = es.length === 0 ? undefined : kahanSum(es) / kahanSum(vs);
          }
          if (ratio !== undefined) put(n.ratio(w), id, ratio);
        }
      }
    }
    const active: FiringAlert[] = [];
    for (const model of sloCaseModels) {
      for (const slo of sloKinds) {
        const id = key(model, slo);
        const budget = budgets.get(id) as number;
        const burn = (w: string) => {
          const r = recorded.get(n.ratio(w))?.get(id);
          return r === undefined ? Number.NaN : r / budget;
        };
        for (const p of pairs) {
          if (burn(p.long) > p.factor && burn(p.short) > p.factor) {
            active.push({
              alert: p.speed === "fast" ? "InfermeshSloFastBurn" : "InfermeshSloSlowBurn",
              labels: { model, slo, long_window: p.long, short_window: p.short },
              value: burn(p.long),
            });
          }
        }
      }
    }
    const ids = new Set(active.map((a) => JSON.stringify([a.alert, a.labels])));
    for (const id of [...activeSince.keys()]) if (!ids.has(id)) activeSince.delete(id);
    for (const id of ids) if (!activeSince.has(id)) activeSince.set(id, k);
    const firing = active.filter((a) => (k - (activeSince.get(JSON.stringify([a.alert, a.labels])) as number)) * dt >= opts.forSeconds[a.alert]);
    out.push({ recorded, active, firing });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Checks at the boundaries

/** Go's `%.Nf`: correctly rounded, ties (exactly representable halves) to even. */
export function goFixed(value: number, digits: number): string {
  const scaled = value * 10 ** digits;
  if (Number.isInteger(scaled * 2) && !Number.isInteger(scaled)) {
    const down = Math.floor(scaled);
    const even = down % 2 === 0 ? down : down + 1;
    return (even / 10 ** digits).toFixed(digits);
  }
  return value.toFixed(digits);
}

function expected(firing: readonly FiringAlert[], alert: FiringAlert["alert"], delivered: readonly DeliveredAlert[]): ExpectedAlert[] {
  const rule = delivered.find((a) => a.name === alert);
  if (!rule) throw new Error(`no delivered alert ${alert}`);
  return firing
    .filter((f) => f.alert === alert)
    .map((f) => ({
      labels: { ...f.labels },
      description: rule.annotations.description
        .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, l: string) => (f.labels as Record<string, string>)[l] ?? "")
        .replace(/\{\{ \$value \| printf "%\.(\d)f" \}\}/g, (_m, d: string) => goFixed(f.value, Number(d))),
    }));
}

export type SloCheckKind = "healthy" | "beforeFor" | "firing" | "resolved" | "quiet";

export interface SloCheck {
  alert: FiringAlert["alert"];
  kind: SloCheckKind;
  scenario: string;
  evalSeconds: number;
  expected: ExpectedAlert[];
}

/**
 * Where a scenario is checked: the last step of its first phase (windows full
 * of healthy traffic), and one evaluation before and at every step an SLO
 * alert starts or stops firing. Both alerts are checked at all of them, so
 * the fast-burn alert is seen quiet while the slow one fires (a slow burn
 * does not page).
 */
export function sloChecks(scenario: SloScenario, delivered: readonly DeliveredAlert[], timeline: readonly SloStep[]): SloCheck[] {
  const dt = scenario.intervalSeconds;
  const alerts = ["InfermeshSloFastBurn", "InfermeshSloSlowBurn"] as const;
  const instances = (step: number, alert: FiringAlert["alert"]) =>
    new Set((timeline[step] as SloStep).firing.filter((f) => f.alert === alert).map((f) => JSON.stringify(f.labels)));
  const healthyEnd = (scenario.phases[0] as Phase).steps;
  const kinds = new Map<number, Map<FiringAlert["alert"], SloCheckKind>>();
  const mark = (step: number, alert: FiringAlert["alert"], kind: SloCheckKind) => {
    const at = kinds.get(step) ?? new Map<FiringAlert["alert"], SloCheckKind>();
    if (!at.has(alert) || kind !== "quiet") at.set(alert, kind);
    kinds.set(step, at);
  };
  for (const alert of alerts) mark(healthyEnd, alert, "healthy");
  for (let k = healthyEnd + 1; k < timeline.length; k++) {
    for (const alert of alerts) {
      const before = instances(k - 1, alert);
      const now = instances(k, alert);
      if ([...now].some((l) => !before.has(l))) {
        mark(k - 1, alert, "beforeFor");
        mark(k, alert, "firing");
      }
      if ([...before].some((l) => !now.has(l))) {
        mark(k - 1, alert, "firing");
        mark(k, alert, "resolved");
      }
    }
  }
  // The other alert is checked at the same steps.
  for (const at of kinds.values()) for (const alert of alerts) if (!at.has(alert)) at.set(alert, "quiet");
  return [...kinds.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([step, at]) =>
      alerts.map((alert) => ({
        alert,
        kind: at.get(alert) as SloCheckKind,
        scenario: scenario.name,
        evalSeconds: step * dt,
        expected: expected((timeline[step] as SloStep).firing, alert, delivered),
      })),
    );
}

// ---------------------------------------------------------------------------
// The scenarios

const minutely = { hours: (h: number) => h * 60 };
const fiveMinutely = { hours: (h: number) => h * 12, days: (d: number) => d * 288 };

/**
 * Healthy traffic: 6,000 inferences a minute per model; 3 failures per
 * minute count against availability (0.05%: a tenth of gpt-7b's budget, half
 * of llama-70b's); 300 bad requests (5%) do not; 60 inferences (1%) are over
 * the latency target.
 */
export const healthy: Traffic = { events: 6000, errors: 3, clientErrors: 300, slow: 60 };

export const sloScenarios: readonly SloScenario[] = [
  {
    name: "SLO fast burn: llama-70b fails every inference for 20 minutes, gpt-7b is over its latency target for an hour at 20x, then both recover",
    intervalSeconds: 60,
    phases: [
      // Six hours of history: every page window is full of healthy traffic.
      { name: "healthy", steps: minutely.hours(6), traffic: { "gpt-7b": healthy, "llama-70b": healthy } },
      {
        name: "burn",
        steps: 20,
        traffic: { "gpt-7b": { ...healthy, slow: 6000 }, "llama-70b": { ...healthy, errors: 6000, slow: 0 } },
      },
      { name: "latency-burn", steps: 40, traffic: { "gpt-7b": { ...healthy, slow: 6000 }, "llama-70b": healthy } },
      // Long enough for the 30m short window of the 6h page to clear.
      { name: "recovered", steps: 45, traffic: { "gpt-7b": healthy, "llama-70b": healthy } },
    ],
  },
  {
    name: "SLO slow burn: gpt-7b fails 1% of inferences (2x its budget) and misses its latency target on 20% (4x) for 36 hours, then recovers",
    intervalSeconds: 300,
    phases: [
      // Three days of history: every ticket window is full of healthy traffic.
      { name: "healthy", steps: fiveMinutely.days(3), traffic: { "gpt-7b": healthy, "llama-70b": healthy } },
      { name: "burn", steps: fiveMinutely.hours(36), traffic: { "gpt-7b": { ...healthy, errors: 60, slow: 1200 }, "llama-70b": healthy } },
      { name: "recovered", steps: fiveMinutely.hours(6), traffic: { "gpt-7b": healthy, "llama-70b": healthy } },
    ],
  },
];

// ---------------------------------------------------------------------------
// The test file

export interface SloTestGroup {
  scenario: SloScenario;
  input: InputSeries[];
  checks: SloCheck[];
  recording: Array<{ record: string; evalSeconds: number; expected: ExpectedSample[] }>;
}

/** The recorded SLO series at `step`, as promql_expr_test expects them. */
function recordedAt(timeline: readonly SloStep[], step: number, intervalSeconds: number): Array<{ record: string; evalSeconds: number; expected: ExpectedSample[] }> {
  const s = timeline[step] as SloStep;
  return [...s.recorded.entries()].map(([record, values]) => ({
    record,
    evalSeconds: step * intervalSeconds,
    expected: [...values.entries()].map(([id, value]) => {
      const [model, slo] = id.split("/") as [string, string];
      return { labels: { model, slo }, value };
    }),
  }));
}

export function sloTestGroups(delivered: readonly DeliveredAlert[], spec: SloSpec = sloCaseSpec): SloTestGroup[] {
  const forSeconds = Object.fromEntries(
    (["InfermeshSloFastBurn", "InfermeshSloSlowBurn"] as const).map((name) => {
      const rule = delivered.find((a) => a.name === name);
      if (!rule) throw new Error(`no delivered alert ${name}`);
      const m = /^(\d+)([smh])$/.exec(rule.for);
      if (!m) throw new Error(`${name}: unexpected for ${rule.for}`);
      return [name, Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2] as string]!];
    }),
  ) as Record<FiringAlert["alert"], number>;
  return sloScenarios.map((scenario) => {
    const timeline = simulateSlo(scenario, { spec, forSeconds });
    const burnStart = phaseStart(scenario, "burn");
    return {
      scenario,
      input: sloInputSeries(scenario, spec),
      checks: sloChecks(scenario, delivered, timeline),
      // Every recorded series, in the middle of the burn (windows holding healthy and burning traffic).
      recording: recordedAt(timeline, burnStart + 10, scenario.intervalSeconds),
    };
  });
}

/** The promtool test files for the SLO scenarios, by name: one per sample spacing (promtool's evaluation interval is per file). */
export function renderSloPromtoolTests(
  delivered: readonly DeliveredAlert[],
  ruleFiles: readonly string[],
  groupEvalOrder: readonly string[],
  groups: readonly SloTestGroup[] = sloTestGroups(delivered),
): Record<string, string> {
  const intervals = [...new Set(groups.map((g) => g.scenario.intervalSeconds))];
  const minutes = (seconds: number) => `${seconds / 60}m`;
  return Object.fromEntries(
    intervals.map((seconds) => {
      const interval = promDuration(seconds);
      const file = {
        rule_files: [...ruleFiles],
        evaluation_interval: interval,
        group_eval_order: [...groupEvalOrder],
        tests: groups
          .filter((g) => g.scenario.intervalSeconds === seconds)
          .map((g) => ({
            name: g.scenario.name,
            interval,
            input_series: g.input.map((s) => ({ series: s.series, values: s.values })),
            alert_rule_test: g.checks.map((c) => {
              const rule = delivered.find((a) => a.name === c.alert) as DeliveredAlert;
              return {
                eval_time: minutes(c.evalSeconds),
                alertname: c.alert,
                exp_alerts: c.expected.map((e) => ({
                  exp_labels: { ...e.labels, ...rule.labels },
                  exp_annotations: { summary: rule.annotations.summary, description: e.description, runbook_url: rule.annotations.runbook_url },
                })),
              };
            }),
            promql_expr_test: g.recording.map((r) => ({
              expr: r.record,
              eval_time: minutes(r.evalSeconds),
              exp_samples: r.expected.map((e) => ({ labels: seriesSelector(r.record, e.labels), value: e.value })),
            })),
          })),
      };
      return [`slo-tests-${interval}.yml`, YAML.stringify(file, { aliasDuplicateObjects: false, lineWidth: 0 })];
    }),
  );
}
