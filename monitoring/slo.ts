/**
 * Service level objectives per model, and the multi-window, multi-burn-rate
 * alerts on them (Google SRE workbook, "Alerting on SLOs", the method sloth
 * and pyrra generate for Prometheus).
 *
 * Two SLIs per model, each an error ratio over a window:
 * - availability: inferences that failed (`infermesh_inference_errors_total`,
 *   except `bad_request`: a malformed request is the client's error) over
 *   inferences completed (`infermesh_inferences_total`);
 * - latency: inferences slower than the model's target (the latency
 *   histogram's count minus its bucket at the target) over all observed.
 *
 * Recorded once per model and SLI (label `slo`), as few rules as the windows
 * allow:
 * - `model:infermesh_slo_errors:rate5m` and `model:infermesh_slo_events:rate5m`:
 *   bad and all events per second over the shortest window, from raw counters;
 * - `model:infermesh_slo_errors:ratio_rate<w>` for every window an alert or
 *   the dashboard reads. Windows up to 1h come from raw counters (exact rate
 *   ratios; they decide how fast a page fires). Longer windows divide the sums
 *   over the window of the two recorded 5m rates: a sum of sliding 5m rates
 *   telescopes to the increase between the two ends (each averaged over 5m),
 *   so the quotient is a true rate ratio over the window, not an average of
 *   ratios (which would weigh a quiet hour like a busy one). Such a rule reads
 *   the model's two recorded series over the window instead of every raw
 *   series the model has (one per GPU and error kind).
 * - `model:infermesh_slo_error_budget:ratio`: 1 - objective, per model and SLI.
 *
 * Cost per evaluation, per model and SLI: the 5m, 30m and 1h rules read the
 * model's raw series over their windows; each longer window reads
 * 2 x window / scrape interval recorded samples (30d at 30 s: 172,800).
 * The longer windows are evaluated in their own group every 2 minutes rather
 * than every scrape (4x fewer reads at 30 s): a window of 2 hours or more
 * moves by under 2% in that time.
 */
import type { EnvironmentKind } from "../domain/environments";
import type { inferenceErrors } from "./metrics";
import { escapeRegexInPromqlString as escapeRegex } from "../lib/escapeRegex";

export const sloKinds = ["availability", "latency"] as const;
export type SloKind = (typeof sloKinds)[number];

export const sloWindows = ["28d", "30d"] as const;
export type SloWindow = (typeof sloWindows)[number];

/** What a model promises: both objectives in percent, and the latency target (a bucket bound of the histogram). */
export interface SloObjectives {
  /** Percent of inferences that must complete without error, in (0, 100). */
  availabilityPercent: number;
  /** Percent of inferences that must complete within `latencyTargetMs`, in (0, 100). */
  latencyPercent: number;
  /** Latency target, ms; one of `latencyBucketBoundsMs`. */
  latencyTargetMs: number;
}

/** The stack's SLOs: one window, default objectives, and per-model overrides. */
export interface SloSpec {
  window: SloWindow;
  defaults: SloObjectives;
  /** Models with objectives of their own; every other model gets `defaults`. */
  models: Readonly<Record<string, Partial<SloObjectives>>>;
}

/** Objectives when a caller gives none: those of a production environment (domain/environments.ts). */
export const defaultSloSpec: SloSpec = {
  window: "30d",
  defaults: { availabilityPercent: 99.5, latencyPercent: 95, latencyTargetMs: 2000 },
  models: {},
};

/** Error kinds that do not count against availability: the client sent a bad request. */
export const clientErrors = ["bad_request"] as const satisfies ReadonlyArray<(typeof inferenceErrors)[number]>;

export function objectivesFor(spec: SloSpec, model: string): SloObjectives {
  return { ...spec.defaults, ...spec.models[model] };
}

/** The error budget of an objective: 1 - percent/100, rounded so 99.9 gives 0.001 and not 0.0009999999999999432. */
export function errorBudget(percent: number): number {
  return Number(((100 - percent) / 100).toPrecision(12));
}

// ---------------------------------------------------------------------------
// Windows and burn rates

const day = 86400;
export const windowSeconds: Record<SloWindow, number> = { "28d": 28 * day, "30d": 30 * day };

/** A Prometheus duration for whole seconds, in the largest unit that divides them: 300 → "5m", 86400 → "1d". */
export function promDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error(`not a positive whole number of seconds: ${seconds}`);
  for (const [unit, size] of [
    ["d", day],
    ["h", 3600],
    ["m", 60],
  ] as const)
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/**
 * The shortest window: 5 minutes, or four scrape intervals when that is
 * longer (a rate needs two samples; four survive a missed scrape).
 */
export function baseWindowSeconds(scrapeIntervalSeconds: number): number {
  return Math.max(300, 4 * scrapeIntervalSeconds);
}

export type BurnSpeed = "fast" | "slow";

/**
 * The SRE workbook's four alerting windows, as the share of the whole
 * window's budget each long window may spend: 2% in 1h and 5% in 6h page;
 * 10% in 1d and 10% in 3d open a ticket. Each long window is paired with a
 * short one (1/12 of it) that must burn too, so an alert resolves soon after
 * the burn stops.
 */
export const burnRatePolicy: ReadonlyArray<{ speed: BurnSpeed; longSeconds: number; shortSeconds: number | "base"; budgetSpent: number }> = [
  { speed: "fast", longSeconds: 3600, shortSeconds: "base", budgetSpent: 0.02 },
  { speed: "fast", longSeconds: 6 * 3600, shortSeconds: 1800, budgetSpent: 0.05 },
  { speed: "slow", longSeconds: day, shortSeconds: 2 * 3600, budgetSpent: 0.1 },
  { speed: "slow", longSeconds: 3 * day, shortSeconds: 6 * 3600, budgetSpent: 0.1 },
];

export interface BurnRatePair {
  speed: BurnSpeed;
  long: string;
  short: string;
  /** Burn rate (multiple of the rate that spends exactly the budget over the SLO window) both windows must exceed. */
  factor: number;
}

/** The alerting pairs for an SLO window: 14.4, 6, 3 and 1 over 30d; 13.44, 5.6, 2.8 and 0.9333 over 28d. */
export function burnRatePairs(window: SloWindow, scrapeIntervalSeconds: number): BurnRatePair[] {
  const base = baseWindowSeconds(scrapeIntervalSeconds);
  return burnRatePolicy.map((p) => ({
    speed: p.speed,
    long: promDuration(p.longSeconds),
    short: promDuration(p.shortSeconds === "base" ? base : p.shortSeconds),
    factor: Number(((p.budgetSpent * windowSeconds[window]) / p.longSeconds).toFixed(4)),
  }));
}

/**
 * The lowest objective (percent, exclusive) at which every alert can fire:
 * above the fastest factor F an error ratio would have to exceed 1, so the
 * objective must leave a budget under 1/F (93.06% over 30d).
 */
export function minimumObjectivePercent(window: SloWindow): number {
  const fastest = Math.max(...burnRatePairs(window, 30).map((p) => p.factor));
  return Number((100 * (1 - 1 / fastest)).toFixed(3));
}

/** Every window a ratio is recorded for, shortest first: the alert windows and the SLO window. */
export function sloRatioWindows(window: SloWindow, scrapeIntervalSeconds: number): string[] {
  const seconds = new Set<number>([windowSeconds[window]]);
  const base = baseWindowSeconds(scrapeIntervalSeconds);
  for (const p of burnRatePolicy) {
    seconds.add(p.longSeconds);
    seconds.add(p.shortSeconds === "base" ? base : p.shortSeconds);
  }
  return [...seconds].sort((a, b) => a - b).map(promDuration);
}

/** Windows read from raw counters; longer ones are derived from the recorded base rates. */
const rawUpToSeconds = 3600;

// ---------------------------------------------------------------------------
// Recorded series

export function sloRecordedNames(scrapeIntervalSeconds: number) {
  const base = promDuration(baseWindowSeconds(scrapeIntervalSeconds));
  return {
    errors: `model:infermesh_slo_errors:rate${base}`,
    events: `model:infermesh_slo_events:rate${base}`,
    ratio: (window: string) => `model:infermesh_slo_errors:ratio_rate${window}`,
    budget: "model:infermesh_slo_error_budget:ratio",
  } as const;
}

/** `model=~"a|b"` or `model!~"a|b"`, names escaped for the regex; empty for "every model" (no exclusions). */
function modelMatcher(models: readonly string[], negate: boolean): string {
  if (models.length === 0) return "";
  const alternation = models.map(escapeRegex).join("|");
  return `model${negate ? "!~" : "=~"}"${alternation}"`;
}

/**
 * `le` of a bucket bound as stored: Prometheus 3 writes classic histogram
 * bounds as floats (`2000.0`), Prometheus 2 as exposed (`2000`); the matcher
 * takes both (prometheus/prometheus v3.10.0 docs/migration.md).
 */
export function leMatcher(boundMs: number): string {
  return Number.isInteger(boundMs) ? `le=~"${boundMs}(\\\\.0)?"` : `le="${boundMs}"`;
}

/** Each latency target in use, with the models that have it; the default target's group excludes the others. */
function latencyTargetGroups(spec: SloSpec): Array<{ targetMs: number; matcher: string }> {
  const byTarget = new Map<number, string[]>();
  for (const model of Object.keys(spec.models).sort()) {
    const target = objectivesFor(spec, model).latencyTargetMs;
    if (target === spec.defaults.latencyTargetMs) continue;
    byTarget.set(target, [...(byTarget.get(target) ?? []), model]);
  }
  const others = [...byTarget.values()].flat();
  return [
    { targetMs: spec.defaults.latencyTargetMs, matcher: modelMatcher(others, true) },
    ...[...byTarget.entries()].sort(([a], [b]) => a - b).map(([targetMs, models]) => ({ targetMs, matcher: modelMatcher(models, false) })),
  ];
}

const selector = (name: string, matchers: readonly string[]) => {
  const list = matchers.filter(Boolean);
  return list.length === 0 ? name : `${name}{${list.join(", ")}}`;
};
const withSlo = (expr: string, slo: SloKind) => `label_replace(${expr}, "slo", "${slo}", "", "")`;
const orTerms = (terms: readonly string[]) => (terms.length === 1 ? (terms[0] as string) : terms.map((t) => `(${t})`).join(" or "));

/** Bad events per second per model over `window`, from raw counters, for one SLI. */
function rawErrors(spec: SloSpec, slo: SloKind, window: string): string {
  if (slo === "availability") {
    // A model that never failed may have no error series yet: it counts as 0 errors, not as no data.
    const errors = `sum by (model) (rate(${selector("infermesh_inference_errors_total", [`error!~"${clientErrors.join("|")}"`])}[${window}]))`;
    return `${errors} or 0 * ${rawEvents(slo, window)}`;
  }
  return orTerms(
    latencyTargetGroups(spec).map(
      ({ targetMs, matcher }) =>
        `sum by (model) (rate(${selector("infermesh_inference_latency_count", [matcher])}[${window}])) - sum by (model) (rate(${selector("infermesh_inference_latency_bucket", [matcher, leMatcher(targetMs)])}[${window}]))`,
    ),
  );
}

/** All events per second per model over `window`, from raw counters, for one SLI. */
function rawEvents(slo: SloKind, window: string): string {
  return slo === "availability" ? `sum by (model) (rate(infermesh_inferences_total[${window}]))` : `sum by (model) (rate(infermesh_inference_latency_count[${window}]))`;
}

/** Every latency bucket the latency SLI reads, by bound: a contract series whose absence would silence it. */
export function sloLatencyBuckets(spec: SloSpec): number[] {
  return [...new Set(latencyTargetGroups(spec).map((g) => g.targetMs))].sort((a, b) => a - b);
}

export interface SloRecordingRule {
  record: string;
  expr: string;
  purpose: string;
  /** `long`: evaluated in the slower SLO group (windows over 1h). */
  cadence?: "long";
}

/** The budget per model and SLI, for the models that have traffic: one term per distinct budget. */
function budgetExpr(spec: SloSpec, events: string): string {
  const terms: string[] = [];
  for (const slo of sloKinds) {
    const percentOf = (o: SloObjectives) => (slo === "availability" ? o.availabilityPercent : o.latencyPercent);
    const byBudget = new Map<number, string[]>();
    for (const model of Object.keys(spec.models).sort()) {
      const budget = errorBudget(percentOf(objectivesFor(spec, model)));
      if (budget === errorBudget(percentOf(spec.defaults))) continue;
      byBudget.set(budget, [...(byBudget.get(budget) ?? []), model]);
    }
    const own = [...byBudget.values()].flat();
    terms.push(`group by (model, slo) (${selector(events, [`slo="${slo}"`, modelMatcher(own, true)])}) * ${errorBudget(percentOf(spec.defaults))}`);
    for (const [budget, models] of [...byBudget.entries()].sort(([a], [b]) => a - b)) {
      terms.push(`group by (model, slo) (${selector(events, [`slo="${slo}"`, modelMatcher(models, false)])}) * ${budget}`);
    }
  }
  return orTerms(terms);
}

export function sloRecordingRules(spec: SloSpec, scrapeIntervalSeconds: number): SloRecordingRule[] {
  const n = sloRecordedNames(scrapeIntervalSeconds);
  const baseSeconds = baseWindowSeconds(scrapeIntervalSeconds);
  const base = promDuration(baseSeconds);
  const both = (f: (slo: SloKind) => string) => orTerms(sloKinds.map((slo) => withSlo(f(slo), slo)));
  const rules: SloRecordingRule[] = [
    { record: n.errors, expr: both((slo) => rawErrors(spec, slo, base)), purpose: "SLO bad events per model; sums over long windows" },
    { record: n.events, expr: both((slo) => rawEvents(slo, base)), purpose: "SLO events per model; sums over long windows, which models have a budget" },
    { record: n.budget, expr: budgetExpr(spec, n.events), purpose: "error budget per model and SLI: burn rates, budget remaining" },
  ];
  for (const window of sloRatioWindows(spec.window, scrapeIntervalSeconds)) {
    const seconds = durationOf(window);
    if (seconds === baseSeconds) {
      rules.push({ record: n.ratio(window), expr: `${n.errors} / ${n.events}`, purpose: "error ratio over the shortest window (fast-burn page)" });
    } else if (seconds <= rawUpToSeconds) {
      rules.push({ record: n.ratio(window), expr: both((slo) => `(${rawErrors(spec, slo, window)}) / ${rawEvents(slo, window)}`), purpose: "error ratio over a page window" });
    } else {
      rules.push({
        record: n.ratio(window),
        expr: `sum_over_time(${n.errors}[${window}]) / sum_over_time(${n.events}[${window}])`,
        purpose: window === spec.window ? "SLI over the SLO window, error budget remaining" : "error ratio over a long alert window",
        cadence: "long",
      });
    }
  }
  return rules;
}

function durationOf(window: string): number {
  const m = /^(\d+)([smhd])$/.exec(window);
  if (!m) throw new Error(`not a window: ${window}`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: day } as const)[m[2] as "s" | "m" | "h" | "d"];
}

/** Evaluation interval of the long-window rules: every 2 minutes, or the scrape interval when longer (at most 4 minutes, inside the 5-minute lookback). */
export function longWindowInterval(scrapeIntervalSeconds: number): string {
  return promDuration(Math.min(240, Math.max(120, scrapeIntervalSeconds)));
}

// ---------------------------------------------------------------------------
// Alerts

export interface SloAlertSpec {
  name: string;
  speed: BurnSpeed;
  expr: string;
  for: string;
  severity: "critical" | "warning";
  summary: string;
  description: string;
}

/** `ratio(long)/budget > f and ratio(short)/budget > f`, labelled with its windows, per pair of a speed. */
export function burnExpr(spec: SloSpec, scrapeIntervalSeconds: number, speed: BurnSpeed): string {
  const n = sloRecordedNames(scrapeIntervalSeconds);
  const burn = (window: string) => `${n.ratio(window)} / on (model, slo) ${n.budget}`;
  const terms = burnRatePairs(spec.window, scrapeIntervalSeconds)
    .filter((p) => p.speed === speed)
    .map(
      (p) =>
        `label_replace(label_replace(${burn(p.long)} > ${p.factor} and ${burn(p.short)} > ${p.factor}, "long_window", "${p.long}", "", ""), "short_window", "${p.short}", "", "")`,
    );
  return orTerms(terms);
}

export function sloAlerts(spec: SloSpec, scrapeIntervalSeconds: number): SloAlertSpec[] {
  const pairs = burnRatePairs(spec.window, scrapeIntervalSeconds);
  const list = (speed: BurnSpeed) =>
    pairs
      .filter((p) => p.speed === speed)
      .map((p) => `${p.factor}x over ${p.long} and ${p.short}`)
      .join(", or ");
  return [
    {
      name: "InfermeshSloFastBurn",
      speed: "fast",
      expr: burnExpr(spec, scrapeIntervalSeconds, "fast"),
      for: "2m",
      severity: "critical",
      summary: "A model is spending its error budget fast enough to exhaust it in days.",
      description: `Model {{ $labels.model }} is spending its {{ $labels.slo }} error budget {{ $value | printf "%.1f" }} times as fast as its ${spec.window} objective allows, over the last {{ $labels.long_window }} and {{ $labels.short_window }} (pages at ${list("fast")}).`,
    },
    {
      name: "InfermeshSloSlowBurn",
      speed: "slow",
      expr: burnExpr(spec, scrapeIntervalSeconds, "slow"),
      for: "15m",
      severity: "warning",
      summary: "A model is spending its error budget faster than its objective allows.",
      description: `Model {{ $labels.model }} is spending its {{ $labels.slo }} error budget {{ $value | printf "%.2f" }} times as fast as its ${spec.window} objective allows, over the last {{ $labels.long_window }} and {{ $labels.short_window }} (tickets at ${list("slow")}).`,
    },
  ];
}

/**
 * Service level objectives a stack starts from, per environment kind; every
 * entry can be overridden under `infermesh:slo`, and per model under
 * `infermesh:models.<model>.slo`. Production promises the most; the others
 * keep the same latency objective (a looser one could not page: see
 * `minimumObjectivePercent` in this file) and a looser availability.
 */
export const sloDefaults: { readonly [K in EnvironmentKind]: { window: SloWindow } & SloObjectives } = {
  dev: { window: "30d", availabilityPercent: 99, latencyPercent: 95, latencyTargetMs: 2000 },
  staging: { window: "30d", availabilityPercent: 99, latencyPercent: 95, latencyTargetMs: 2000 },
  prod: { window: "30d", availabilityPercent: 99.5, latencyPercent: 95, latencyTargetMs: 2000 },
  ephemeral: { window: "30d", availabilityPercent: 99, latencyPercent: 95, latencyTargetMs: 2000 },
};
