/**
 * Defaults that depend on more than one section, each decided once: the rules
 * (rules.ts, slo.ts) validate the same choice that resolution (resolve.ts)
 * hands to the components. Defaults within one section are the schema's.
 */
import { environmentPolicies, type CapacityType, type EnvironmentPolicy } from "../domain/environments";
import { sloDefaults } from "../monitoring/slo";
import type { SloWindow } from "../monitoring/slo";
import type { Sections } from "./schema";
import type { AlertingEvaluator, AlertingPolicy, MigStrategy } from "./types";

export interface Defaults {
  /** The environment's policy with `infermesh:safety` laid over it. */
  policy: EnvironmentPolicy;
  /** Each pool's capacity: as set, or the policy's `defaultCapacity`. */
  capacity: Record<string, CapacityType>;
  /** Who evaluates alert rules: as set, or Grafana when the stack manages one. */
  evaluator: AlertingEvaluator;
  /** The notification policy: as set, or per-rule for an external (shared) Grafana. */
  alertPolicy: AlertingPolicy;
  /** The device plugin's MIG strategy: as set, or `single` when a pool has a MIG profile. */
  migStrategy: MigStrategy;
  /** The SLO window: `infermesh:slo.window`, or the environment's. */
  sloWindow: SloWindow;
}

/**
 * Every default whose inputs parsed. While validating, a section may have
 * failed, so each default is there only when the sections it depends on are;
 * once every section parsed, all are.
 */
export function resolvedDefaults(parsed: Partial<Sections>): Partial<Defaults> {
  const { environment, safety, gpuPools, telemetry, alerting, grafana, slo } = parsed;
  const policy = environment ? { ...environmentPolicies[environment], ...definedOnly(safety ?? {}) } : undefined;
  return {
    ...(policy ? { policy } : {}),
    ...(policy && gpuPools ? { capacity: Object.fromEntries(Object.entries(gpuPools).map(([name, pool]) => [name, pool.capacity ?? policy.defaultCapacity])) } : {}),
    ...(alerting
      ? {
          evaluator: alerting.evaluator ?? (grafana ? "grafana" : "prometheus"),
          alertPolicy: alerting.policy ?? (grafana?.mode === "external" ? "per-rule" : "tree"),
        }
      : {}),
    ...(telemetry && gpuPools ? { migStrategy: telemetry.migStrategy ?? (Object.values(gpuPools).some((p) => p.migProfile) ? "single" : "none") } : {}),
    ...(environment ? { sloWindow: slo?.window ?? sloDefaults[environment].window } : {}),
  };
}

/** The entries of `value` that are set. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
