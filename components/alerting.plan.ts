/**
 * The stack's alerts and rule groups, derived from config alone: what the
 * Alerting component deploys and what synth and verify render. Pure.
 */
import { type AlertContext, type DeliveredAlert, alertCatalog, deliver } from "../alerts/catalog";
import { grafanaRuleGroups } from "../alerts/grafanaRules";
import { type PrometheusRuleGroup, prometheusRuleGroups } from "../alerts/prometheusRules";
import type { StackConfig } from "../config";
import { dataSourceUid } from "../domain/naming";
import { recordingRules } from "../monitoring/recording";
import { longWindowInterval } from "../monitoring/slo";
import { routedSeverities, severityReceiver } from "./routing";

/** What the stack's alerts are derived from. */
export type AlertingInputs = Pick<StackConfig, "stack" | "environment" | "alerting" | "models" | "gpuPools" | "capacity" | "slo" | "telemetry">;

/** What the alert catalog is built from, for a stack. */
export function alertContext(config: Pick<AlertingInputs, "alerting" | "models" | "gpuPools" | "capacity" | "slo" | "telemetry">): AlertContext {
  return {
    thresholds: config.alerting.thresholds,
    models: config.models,
    scrapeIntervalSeconds: config.telemetry.scrapeIntervalSeconds,
    poolMaxSizes: Object.fromEntries(Object.values(config.gpuPools).map((p) => [p.name, p.scaling.max])),
    capacity: config.capacity,
    slo: config.slo,
  };
}

/** The stack's alerts as delivered (runbook links, environment label) and its rule groups, from config alone. */
export function alertingPlan(config: AlertingInputs): { alerts: DeliveredAlert[]; groups: PrometheusRuleGroup[] } {
  const alerts = deliver(alertCatalog(alertContext(config)), { runbookBaseUrl: config.alerting.runbookBaseUrl, labels: { environment: config.environment } });
  const recording = recordingRules(config.telemetry.scrapeIntervalSeconds, {
    idleUtilizationPercent: config.capacity.idleUtilizationPercent,
    idleWindow: config.capacity.idleWindow,
    slo: config.slo,
  });
  return { alerts, groups: prometheusRuleGroups(alerts, recording, config.telemetry.scrapeInterval, longWindowInterval(config.telemetry.scrapeIntervalSeconds)) };
}

/**
 * The alerts as Grafana-managed rule groups, routed per rule when the stack
 * does not own the org's policy tree: what the component deploys and what
 * synth writes.
 */
export function grafanaRulePlan(config: AlertingInputs, alerts: readonly DeliveredAlert[]) {
  const perRule = config.alerting.policy === "per-rule";
  return grafanaRuleGroups(alerts, {
    datasourceUid: dataSourceUid(config.stack),
    // Grafana evaluates on multiples of 10 s.
    intervalSeconds: Math.max(10, Math.ceil(config.telemetry.scrapeIntervalSeconds / 10) * 10),
    stack: config.stack,
    groupBy: config.alerting.groupBy,
    ...(perRule
      ? {
          routeBySeverity: Object.fromEntries(
            routedSeverities(config.alerting).map(({ severity }) => [
              severity,
              { contactPoint: severityReceiver(config.stack, severity), repeatInterval: config.alerting.repeatInterval[severity] },
            ]),
          ),
        }
      : {}),
  });
}
