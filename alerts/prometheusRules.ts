/**
 * Prometheus rule-file form of the recording rules and the alert catalog:
 * what promtool checks and tests, what a PrometheusRule object carries and
 * what an AMP rule groups namespace holds. Pure.
 */
import type { AlertGroup, DeliveredAlert } from "./catalog";
import type { RecordingRule } from "../monitoring/recording";

export interface PrometheusRecordingRule {
  record: string;
  expr: string;
}

export interface PrometheusAlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PrometheusRuleGroup {
  name: string;
  interval: string;
  rules: Array<PrometheusRecordingRule | PrometheusAlertingRule>;
}

export const recordingGroupName = "infermesh-recording";
/** Recording rules over windows of a day or more (SLOs), evaluated less often: they read many samples and change slowly. */
export const longRecordingGroupName = "infermesh-recording-long";
export const alertGroupName = (group: AlertGroup) => `infermesh-${group}-alerts`;

/** Whether a group holds recording rules (which Prometheus or AMP evaluates whoever evaluates the alerts). */
export function isRecordingGroup(name: string): boolean {
  return name === recordingGroupName || name === longRecordingGroupName;
}

/** The recording groups (the long-window one when a rule needs it) and one group per alert domain, in a stable order. */
export function prometheusRuleGroups(alerts: readonly DeliveredAlert[], recording: readonly RecordingRule[], interval: string, longInterval = "2m"): PrometheusRuleGroup[] {
  const toRule = ({ record, expr }: RecordingRule) => ({ record, expr });
  const long = recording.filter((r) => r.cadence === "long");
  const groups: PrometheusRuleGroup[] = [
    { name: recordingGroupName, interval, rules: recording.filter((r) => r.cadence !== "long").map(toRule) },
    ...(long.length > 0 ? [{ name: longRecordingGroupName, interval: longInterval, rules: long.map(toRule) }] : []),
  ];
  const domains = [...new Set(alerts.map((a) => a.group))];
  for (const domain of domains) {
    groups.push({
      name: alertGroupName(domain),
      interval,
      rules: alerts.filter((a) => a.group === domain).map((a) => ({ alert: a.name, expr: a.expr, for: a.for, labels: a.labels, annotations: { ...a.annotations } })),
    });
  }
  return groups;
}
