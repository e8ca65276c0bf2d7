/**
 * Grafana-managed form of the alert catalog: one rule group per alert domain,
 * each rule a query → reduce → condition pipeline. Pure; the component passes
 * the result to `grafana.alerting.RuleGroup`.
 */
import type { AlertGroup, DeliveredAlert, Severity } from "./catalog";
import { grafanaUid } from "../domain/naming";

export interface GrafanaRuleData {
  refId: string;
  datasourceUid: string;
  queryType: string;
  relativeTimeRange: { from: number; to: number };
  model: string;
}

export interface GrafanaRule {
  name: string;
  uid: string;
  condition: string;
  for: string;
  noDataState: string;
  execErrState: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  datas: GrafanaRuleData[];
  notificationSettings?: { contactPoint: string; groupBies: string[]; repeatInterval: string };
}

export interface GrafanaRuleGroup {
  name: string;
  intervalSeconds: number;
  rules: GrafanaRule[];
}

/** Grafana's server-side expressions data source. */
export const expressionDatasource = "__expr__";

/**
 * Prometheus templates read `$value`; Grafana keeps each stage's value under
 * `$values.<refId>`. The reduce stage (B) holds the query's value.
 */
export function grafanaTemplate(text: string): string {
  return text.replace(/\{\{\s*\$value\b/g, "{{ $values.B.Value");
}

/** A rule's uid: the stack's, with the alert's name (without the common prefix). */
export function ruleUid(stack: string, alert: string): string {
  return grafanaUid(stack, "alert", alert.replace(/^Infermesh/, ""));
}

export interface GrafanaRuleOptions {
  datasourceUid: string;
  /** Evaluation interval, seconds (Grafana needs a multiple of 10). */
  intervalSeconds: number;
  /** Pulumi stack name; every rule uid carries it. */
  stack: string;
  /** Per-rule routing for a shared Grafana, where the org's policy tree is not the stack's to own. */
  routeBySeverity?: Partial<Record<Severity, { contactPoint: string; repeatInterval: string }>>;
  groupBy: string[];
}

export function grafanaRuleGroups(alerts: readonly DeliveredAlert[], opts: GrafanaRuleOptions): GrafanaRuleGroup[] {
  const domains = [...new Set(alerts.map((a) => a.group))] as AlertGroup[];
  return domains.map((domain) => ({
    name: `infermesh-${domain}`,
    intervalSeconds: opts.intervalSeconds,
    rules: alerts.filter((a) => a.group === domain).map((a) => grafanaRule(a, opts)),
  }));
}

function grafanaRule(alert: DeliveredAlert, opts: GrafanaRuleOptions): GrafanaRule {
  const route = opts.routeBySeverity?.[alert.severity];
  return {
    name: alert.name,
    uid: ruleUid(opts.stack, alert.name),
    condition: "C",
    for: alert.for,
    noDataState: alert.noDataState,
    execErrState: alert.execErrState,
    labels: alert.labels,
    annotations: {
      summary: alert.annotations.summary,
      description: grafanaTemplate(alert.annotations.description),
      runbook_url: alert.annotations.runbook_url,
    },
    datas: [
      {
        refId: "A",
        datasourceUid: opts.datasourceUid,
        queryType: "",
        // Ten minutes back covers the longest range any catalog expression reads.
        relativeTimeRange: { from: 600, to: 0 },
        // intervalMs and maxDataPoints are what Grafana stores anyway; leaving them out is a permanent diff.
        model: JSON.stringify({ refId: "A", expr: alert.expr, instant: true, range: false, intervalMs: 1000, maxDataPoints: 43200 }),
      },
      {
        refId: "B",
        datasourceUid: expressionDatasource,
        queryType: "",
        relativeTimeRange: { from: 0, to: 0 },
        model: JSON.stringify({ refId: "B", type: "reduce", expression: "A", reducer: "last", settings: { mode: "" }, intervalMs: 1000, maxDataPoints: 43200 }),
      },
      {
        refId: "C",
        datasourceUid: expressionDatasource,
        queryType: "",
        relativeTimeRange: { from: 0, to: 0 },
        // The PromQL already compares against the threshold, so every series it
        // returns is firing; its value (kept in B for the description) may be 0,
        // e.g. an unhealthy node, so the condition is "B is a value", not "B > 0".
        model: JSON.stringify({ refId: "C", type: "math", expression: "is_number($B) || is_inf($B)", intervalMs: 1000, maxDataPoints: 43200 }),
      },
    ],
    ...(route ? { notificationSettings: { contactPoint: route.contactPoint, groupBies: opts.groupBy, repeatInterval: route.repeatInterval } } : {}),
  };
}
