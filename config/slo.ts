/**
 * SLO settings across sections: objectives from the environment's defaults,
 * `infermesh:slo` and each model; the rules that keep every burn-rate alert
 * able to fire; and the retention the SLO window needs.
 */
import { burnRatePairs, minimumObjectivePercent, type SloSpec, type SloWindow } from "../monitoring/slo";
import { sloDefaults } from "../monitoring/slo";
import { definedOnly } from "./defaults";
import type { ConfigProblem } from "./errors";
import { durationSeconds } from "../lib/duration";
import type { Sections } from "./schema";
import type { RawConfig } from "./types";

/** `window` is the resolved SLO window (defaults.ts). */
export function resolveSlo(s: Pick<Sections, "environment" | "slo" | "models">, window: SloWindow): SloSpec {
  const { window: _environmentWindow, ...defaults } = sloDefaults[s.environment];
  const { window: _stackWindow, ...stack } = s.slo;
  return {
    window,
    defaults: { ...defaults, ...definedOnly(stack) },
    models: Object.fromEntries(Object.entries(s.models).flatMap(([model, m]) => (m.slo ? [[model, definedOnly(m.slo)]] : []))),
  };
}

/**
 * Every objective must leave a budget small enough that the fastest page can
 * fire: at 90% a 14.4x burn would need 144% of requests to fail. And the
 * in-cluster Prometheus must keep one SLO window of data, or the SLI over the
 * window covers less than it says.
 */
export function sloProblems(parsed: Partial<Sections>, raw: RawConfig, window: SloWindow | undefined): ConfigProblem[] {
  if (!window) return [];
  const problems: ConfigProblem[] = [];
  const floor = minimumObjectivePercent(window);
  const fastest = Math.max(...burnRatePairs(window, 30).map((p) => p.factor));
  const checkObjective = (path: string, value: number | undefined) => {
    if (value === undefined || value <= 0 || value >= 100 || value > floor) return;
    const budget = Number((100 - value).toFixed(6));
    problems.push({
      path,
      message: `got ${value}; over ${window} the fast-burn page fires at ${fastest} times the budget rate, and ${fastest} x ${budget}% is more than every request failing, so it could never fire; allowed: above ${floor} and below 100`,
    });
  };
  checkObjective("infermesh:slo.availabilityPercent", parsed.slo?.availabilityPercent);
  checkObjective("infermesh:slo.latencyPercent", parsed.slo?.latencyPercent);
  for (const [model, m] of Object.entries(parsed.models ?? {})) {
    checkObjective(`infermesh:models.${model}.slo.availabilityPercent`, m.slo?.availabilityPercent);
    checkObjective(`infermesh:models.${model}.slo.latencyPercent`, m.slo?.latencyPercent);
  }
  const telemetry = parsed.telemetry;
  if (telemetry?.backend === "in-cluster" && explicitRetention(raw) && durationSeconds(telemetry.retention) < durationSeconds(window)) {
    problems.push({
      path: "infermesh:telemetry.retention",
      message: `got ${JSON.stringify(telemetry.retention)}, shorter than the SLO window (${window}): the SLI and error budget over the window would cover only ${telemetry.retention}; allowed: ${window} or longer (or leave it unset, or use backend amp)`,
    });
  }
  return problems;
}

function explicitRetention(raw: RawConfig): boolean {
  const telemetry = raw.telemetry;
  return typeof telemetry === "object" && telemetry !== null && (telemetry as Record<string, unknown>).retention !== undefined;
}

/**
 * The in-cluster Prometheus' retention: as set, or when unset the schema's
 * default raised to the SLO window, so the window's SLI is in the data.
 */
export function effectiveRetention(telemetry: Sections["telemetry"], raw: RawConfig, window: SloWindow): string {
  if (explicitRetention(raw) || telemetry.backend !== "in-cluster") return telemetry.retention;
  return durationSeconds(telemetry.retention) >= durationSeconds(window) ? telemetry.retention : window;
}
