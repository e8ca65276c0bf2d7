/**
 * Who hears about which alert: one notification target per severity, built
 * from the contact points routed to it, rendered for Grafana (contact points
 * and a policy tree, or per-rule routing) and for Alertmanager (in-cluster or
 * Amazon Managed Prometheus). Pure: secret values come in as plain strings
 * inside `apply` and go out only inside Pulumi secrets.
 */
import { severities, type Severity } from "../alerts/catalog";
import { grafanaUid } from "../domain/naming";
import type { AlertingConfig, ContactPoint } from "../config";

/** Name of the stack's notification target for a severity, unique per stack in a shared Grafana. */
export function severityReceiver(stack: string, severity: Severity): string {
  return `infermesh-${stack}-${severity}`;
}

/** Uid of one contact point's integration in a severity's Grafana contact point. */
export function integrationUid(stack: string, severity: Severity, contactPoint: string): string {
  return grafanaUid(stack, "cp", severity, contactPoint);
}

/** The severities that notify someone, with their contact points in route order. */
export function routedSeverities(alerting: AlertingConfig): Array<{ severity: Severity; contactPoints: ContactPoint[] }> {
  return severities.flatMap((severity) => {
    const contactPoints = alerting.routes[severity].map((name) => alerting.contactPoints[name] as ContactPoint);
    return contactPoints.length === 0 ? [] : [{ severity, contactPoints }];
  });
}

export interface PolicyTree {
  contactPoint: string;
  groupBies: string[];
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  policies: Array<{
    matchers: Array<{ label: string; match: "="; value: string }>;
    contactPoint: string;
    groupBies: string[];
    repeatInterval: string;
    continue: boolean;
  }>;
}

/**
 * The Grafana notification policy tree for a Grafana the stack owns: one
 * branch per routed severity, matched on the stack's environment label so the
 * tree never captures alerts from elsewhere in the org. Alerts that match no
 * branch go to the least urgent routed target.
 */
export function grafanaPolicyTree(alerting: AlertingConfig, stack: string, environment: string): PolicyTree | undefined {
  const routed = routedSeverities(alerting);
  const fallback = routed.at(-1);
  if (!fallback) return undefined;
  return {
    contactPoint: severityReceiver(stack, fallback.severity),
    groupBies: alerting.groupBy,
    groupWait: "30s",
    groupInterval: "5m",
    repeatInterval: alerting.repeatInterval[fallback.severity],
    policies: routed.map(({ severity }) => ({
      matchers: [
        { label: "severity", match: "=", value: severity },
        { label: "environment", match: "=", value: environment },
      ],
      contactPoint: severityReceiver(stack, severity),
      groupBies: alerting.groupBy,
      repeatInterval: alerting.repeatInterval[severity],
      continue: false,
    })),
  };
}

/** Plain secret values of the contact points, resolved inside an `apply`. */
export type ResolvedSecrets = Record<string, { webhookUrl?: string; integrationKey?: string; addresses?: string[] }>;

/**
 * Alertmanager configuration (in-cluster Alertmanager, or AMP's alert
 * manager, which accepts only SNS receivers). Alerts of other stacks sharing
 * the Alertmanager are not matched: routes match this stack's environment.
 */
export function alertmanagerConfig(
  alerting: AlertingConfig,
  secrets: ResolvedSecrets,
  opts: {
    stack: string;
    environment: string;
    region: string /** Topic ARN per SNS contact point (the stack's own topics are known only at deploy time). */;
    topicArns?: Record<string, string>;
  },
) {
  const routed = routedSeverities(alerting);
  return {
    route: {
      receiver: "null",
      group_by: alerting.groupBy,
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: alerting.repeatInterval.info,
      routes: routed.map(({ severity }) => ({
        receiver: severityReceiver(opts.stack, severity),
        matchers: [`severity="${severity}"`, `environment="${opts.environment}"`],
        repeat_interval: alerting.repeatInterval[severity],
      })),
    },
    receivers: [
      { name: "null" },
      ...routed.map(({ severity, contactPoints }) => {
        const receiver: Record<string, unknown> = { name: severityReceiver(opts.stack, severity) };
        const of = (type: ContactPoint["type"]) => contactPoints.filter((cp) => cp.type === type);
        const slack = of("slack").map((cp) => ({
          api_url: secrets[cp.name]?.webhookUrl,
          ...(cp.type === "slack" && cp.channel ? { channel: cp.channel } : {}),
          send_resolved: true,
        }));
        const pagerduty = of("pagerduty").map((cp) => ({ routing_key: secrets[cp.name]?.integrationKey, send_resolved: true }));
        const sns = of("sns").map((cp) => ({ topic_arn: topicArnOf(cp, opts.topicArns ?? {}), sigv4: { region: opts.region }, send_resolved: true }));
        if (slack.length) receiver.slack_configs = slack;
        if (pagerduty.length) receiver.pagerduty_configs = pagerduty;
        if (sns.length) receiver.sns_configs = sns;
        return receiver;
      }),
    ],
  };
}

/** The ARN an SNS contact point publishes to: its external topic's, or the stack's topic's as resolved at deploy time. */
function topicArnOf(cp: ContactPoint, resolved: Record<string, string>): string {
  if (cp.type !== "sns") throw new Error(`contact point ${cp.name} is not SNS`);
  const arn = cp.topic.owner === "external" ? cp.topic.arn : resolved[cp.name];
  if (arn === undefined) throw new Error(`no topic ARN resolved for SNS contact point ${cp.name}`);
  return arn;
}

export { severities };
