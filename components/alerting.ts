import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as grafana from "@pulumiverse/grafana";
import { stringify } from "yaml";
import type { DeliveredAlert } from "../alerts/catalog";
import { isRecordingGroup } from "../alerts/prometheusRules";
import type { StackConfig } from "../config";
import { contactPointsFile, policiesFile, provisioningYaml, ruleGroupsFile, sidecarLabels } from "./grafanaProvisioning";
import type { PrometheusStack } from "./prometheusStack";
import { alertmanagerSecretName, monitorSelectorLabels } from "./prometheusStack.values";
import { AlertTopics, type SnsTopicSummary } from "./alertTopics";
import { PrometheusRules } from "./prometheusRules";
import { alertmanagerConfig, grafanaPolicyTree, integrationUid, routedSeverities, severityReceiver, type ResolvedSecrets } from "./routing";
import { alertingPlan, grafanaRulePlan, type AlertingInputs } from "./alerting.plan";
import { goesWith, type NamespaceRef, type Teardown } from "./options";

/** Secret halves of the contact points, resolved together (still secret as an Output). */
export function resolvedSecrets(config: Pick<StackConfig, "alerting">): pulumi.Output<ResolvedSecrets> {
  const entries = Object.values(config.alerting.contactPoints).map((cp) => {
    switch (cp.type) {
      case "slack":
        return cp.webhookUrl.apply((webhookUrl) => [cp.name, { webhookUrl }] as const);
      case "pagerduty":
        return cp.integrationKey.apply((integrationKey) => [cp.name, { integrationKey }] as const);
      case "email":
        return cp.addresses.apply((addresses) => [cp.name, { addresses }] as const);
      case "sns":
        return pulumi.output([cp.name, {}] as const);
    }
  });
  return pulumi.all(entries).apply((pairs) => Object.fromEntries(pairs) as ResolvedSecrets);
}

export interface AlertingArgs {
  config: AlertingInputs & Pick<StackConfig, "region" | "policy">;
  prometheus: PrometheusStack;
  /** The monitoring namespace. */
  namespace: NamespaceRef;
  /** In-cluster objects go with the cluster, Grafana objects with the Grafana, AMP rule groups with the workspace. */
  teardown: Teardown;
  /** Where Grafana-evaluated rules live; required when the evaluator is Grafana. */
  grafana?: GrafanaAlertTarget;
  /** Amazon Managed Grafana's workspace role, which publishes to SNS when Grafana evaluates the alerts. */
  grafanaWorkspaceRole?: aws.iam.Role;
}

/**
 * A Grafana reached through its API (managed or external), or the in-cluster
 * Grafana, whose alerting sidecar provisions rules, contact points and the
 * policy tree from labelled objects in its namespace.
 */
export type GrafanaAlertTarget =
  | { kind: "api"; provider: grafana.Provider; folderUid: pulumi.Input<string>; datasourceUid: string }
  | { kind: "provisioned"; namespace: pulumi.Input<string>; folder: string };

/** Kubernetes names of the in-cluster Grafana's alerting provisioning objects. */
export const alertingProvisioning = {
  rules: { name: "infermesh-grafana-alerting", rulesKey: "infermesh-rules.yaml", policiesKey: "infermesh-policies.yaml" },
  contactPoints: { name: "infermesh-grafana-contact-points", key: "infermesh-contact-points.yaml" },
} as const;

/**
 * Recording rules (always evaluated by Prometheus or AMP), the alert catalog
 * (evaluated by Grafana or Prometheus, per config) and routing to the
 * configured contact points.
 */
export class Alerting extends pulumi.ComponentResource {
  static readonly type = "infermesh:monitoring:Alerting";
  /** The SNS contact points' topics (stack output `snsTopics`); undefined without SNS contact points. */
  readonly snsTopics?: pulumi.Output<Record<string, SnsTopicSummary>>;

  constructor(name: string, args: AlertingArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Alerting.type, name, {}, opts);
    const { config, prometheus } = args;
    const { alerts, groups } = alertingPlan(config);
    const hasSns = Object.values(config.alerting.contactPoints).some((cp) => cp.type === "sns");
    const topics = hasSns
      ? new AlertTopics(
          `${name}-sns`,
          {
            config,
            ...(prometheus.ampWorkspace ? { ampWorkspace: prometheus.ampWorkspace } : {}),
            ...(args.grafanaWorkspaceRole ? { grafanaWorkspaceRole: args.grafanaWorkspaceRole } : {}),
          },
          { parent: this },
        )
      : undefined;
    const topicArns: Record<string, pulumi.Output<string>> = topics?.arns ?? {};
    if (topics) this.snsTopics = topics.summary;
    const ruleTarget: ConstructorParameters<typeof PrometheusRules>[1]["target"] = prometheus.ampWorkspace
      ? { kind: "amp", workspaceId: prometheus.ampWorkspace.id }
      : { kind: "in-cluster", namespace: args.namespace.name, selectorLabels: monitorSelectorLabels, dependsOn: [prometheus.release] };
    const rulesGoWith = prometheus.ampWorkspace ?? args.teardown.cluster;
    const ruleOpts = { parent: this, ...(rulesGoWith ? { deletedWith: rulesGoWith } : {}) };

    new PrometheusRules(`${name}-recording`, { groups: groups.filter((g) => isRecordingGroup(g.name)), target: ruleTarget, ruleName: "infermesh-recording" }, ruleOpts);

    if (config.alerting.evaluator === "prometheus") {
      new PrometheusRules(`${name}-alerts`, { groups: groups.filter((g) => !isRecordingGroup(g.name)), target: ruleTarget, ruleName: "infermesh-alerts" }, ruleOpts);
      const definition = pulumi.all([resolvedSecrets(config), pulumi.all(topicArns)]).apply(([secrets, arns]) =>
        stringify(alertmanagerConfig(config.alerting, secrets, { stack: config.stack, environment: config.environment, region: config.region, topicArns: arns }), {
          lineWidth: 0,
          aliasDuplicateObjects: false,
        }),
      );
      if (prometheus.ampWorkspace) {
        new aws.amp.AlertManagerDefinition(
          `${name}-alertmanager`,
          { workspaceId: prometheus.ampWorkspace.id, definition: definition.apply((cfg) => stringify({ alertmanager_config: cfg }, { lineWidth: 0 })) },
          { parent: this, deletedWith: prometheus.ampWorkspace },
        );
      } else {
        new k8s.core.v1.Secret(
          `${name}-alertmanager`,
          {
            metadata: { name: alertmanagerSecretName, namespace: args.namespace.output },
            type: "Opaque",
            stringData: { "alertmanager.yaml": pulumi.secret(definition) },
          },
          { parent: this, ...goesWith(args.teardown.cluster) },
        );
      }
    } else {
      this.grafanaAlerting(name, args, alerts, topicArns);
    }
    this.registerOutputs({ snsTopics: this.snsTopics });
  }

  private grafanaAlerting(name: string, args: AlertingArgs, alerts: DeliveredAlert[], topicArns: Record<string, pulumi.Output<string>>) {
    const target = args.grafana;
    if (!target) throw new pulumi.ResourceError("Grafana-evaluated alerts need a Grafana (infermesh:grafana)", this);
    if (target.kind === "provisioned") this.provisionedAlerting(name, args, target, alerts);
    else this.apiAlerting(name, args, target, alerts, topicArns);
  }

  /**
   * The in-cluster Grafana's alerting as provisioning files its sidecar reads:
   * rule groups and the policy tree in a ConfigMap, contact points (webhook
   * URLs, integration keys, addresses) in a Secret.
   */
  private provisionedAlerting(name: string, args: AlertingArgs, target: Extract<GrafanaAlertTarget, { kind: "provisioned" }>, alerts: DeliveredAlert[]) {
    const { config } = args;
    const opts = { parent: this, ...goesWith(args.teardown.cluster) };
    const labels = sidecarLabels("alert");
    const tree = config.alerting.policy === "per-rule" ? undefined : grafanaPolicyTree(config.alerting, config.stack, config.environment);
    new k8s.core.v1.ConfigMap(
      `${name}-grafana-rules`,
      {
        metadata: { name: alertingProvisioning.rules.name, namespace: target.namespace, labels },
        data: {
          [alertingProvisioning.rules.rulesKey]: provisioningYaml(ruleGroupsFile(grafanaRulePlan(config, alerts), target.folder)),
          ...(tree ? { [alertingProvisioning.rules.policiesKey]: provisioningYaml(policiesFile(tree)) } : {}),
        },
      },
      opts,
    );
    if (routedSeverities(config.alerting).length === 0) return;
    const file = resolvedSecrets(config).apply((secrets) => provisioningYaml(contactPointsFile(config.alerting, config.stack, secrets)));
    new k8s.core.v1.Secret(
      `${name}-grafana-contact-points`,
      {
        metadata: { name: alertingProvisioning.contactPoints.name, namespace: target.namespace, labels },
        type: "Opaque",
        stringData: { [alertingProvisioning.contactPoints.key]: pulumi.secret(file) },
      },
      opts,
    );
  }

  private apiAlerting(
    name: string,
    args: AlertingArgs,
    target: Extract<GrafanaAlertTarget, { kind: "api" }>,
    alerts: DeliveredAlert[],
    topicArns: Record<string, pulumi.Output<string>>,
  ) {
    const { config } = args;
    const opts = { parent: this, provider: target.provider, ...goesWith(args.teardown.grafana) };
    const routed = routedSeverities(config.alerting);

    const contactPoints = routed.map(({ severity, contactPoints: cps }) => {
      const of = <T extends (typeof cps)[number]["type"]>(type: T) => cps.filter((cp): cp is Extract<(typeof cps)[number], { type: T }> => cp.type === type);
      return new grafana.alerting.ContactPoint(
        `${name}-${severity}`,
        {
          name: severityReceiver(config.stack, severity),
          slacks: of("slack").map((cp) => ({ uid: integrationUid(config.stack, severity, cp.name), url: cp.webhookUrl, ...(cp.channel ? { recipient: cp.channel } : {}) })),
          pagerduties: of("pagerduty").map((cp) => ({
            uid: integrationUid(config.stack, severity, cp.name),
            integrationKey: cp.integrationKey,
            severity: severity === "critical" ? "critical" : "warning",
          })),
          emails: of("email").map((cp) => ({ uid: integrationUid(config.stack, severity, cp.name), addresses: cp.addresses })),
          sns: of("sns").map((cp) => ({
            uid: integrationUid(config.stack, severity, cp.name),
            topic: cp.topic.owner === "external" ? cp.topic.arn : (topicArns[cp.name] as pulumi.Output<string>),
          })),
        },
        opts,
      );
    });

    const perRule = config.alerting.policy === "per-rule";
    const ruleGroups = grafanaRulePlan(config, alerts);
    for (const group of ruleGroups) {
      new grafana.alerting.RuleGroup(
        `${name}-${group.name}`,
        {
          name: group.name,
          folderUid: target.folderUid,
          intervalSeconds: group.intervalSeconds,
          rules: group.rules,
        },
        { ...opts, dependsOn: contactPoints },
      );
    }

    const tree = perRule ? undefined : grafanaPolicyTree(config.alerting, config.stack, config.environment);
    if (tree) new grafana.alerting.NotificationPolicy(`${name}-policy`, tree, { ...opts, dependsOn: contactPoints });
  }
}
