import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { alertingPlan, grafanaRulePlan } from "../components/alerting.plan";
import { integrationUid } from "../components/routing";
import { alertmanagerConfig, grafanaPolicyTree } from "../components/routing";
import type { StackConfig } from "../config";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { runUnderMocks } from "../synth/runtime";
import { alertCatalog } from "../alerts/catalog";
import { defaultRunbookBaseUrl, runbookBaseUrlOf } from "../monitoring/runbooks";
import { readFileSync } from "node:fs";
import { isRecordingGroup } from "../alerts/prometheusRules";
import { redactSecrets, revealSecrets, type RecordedResource } from "../synth/runtime";
import { runTool } from "../verify/prometheus";
import { baseRaw, byType, deploy, one, parse, project } from "./helpers/stack";

const secrets = { slackHook: "https://hooks.slack.com/services/T000/B000/SECRET", pdKey: "pd-routing-key-SECRET", emails: "oncall@example.com, ml@example.com" };
const routing = {
  contactPoints: {
    pager: { type: "pagerduty", secret: "pdKey" },
    chat: { type: "slack", secret: "slackHook", channel: "#infermesh-alerts" },
    mail: { type: "email", secret: "emails" },
  },
  routes: { critical: ["pager", "chat"], warning: ["chat"], info: ["mail"] },
};
/** A Grafana the stack owns and reaches through its API (the in-cluster one is provisioned from files, tested below). */
const apiGrafana = { mode: "managed", prometheusUrl: "https://prometheus.internal.example.com" };
const inClusterGrafana = { mode: "in-cluster" };

function stack(extra: Record<string, unknown>) {
  return parse({ ...baseRaw(), secrets, ...extra }, "dev", ["secrets"]);
}

const dir = mkdtempSync(join(tmpdir(), "infermesh-alerting-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function amtoolCheck(name: string, config: unknown) {
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, stringify(config, { aliasDuplicateObjects: false }));
  return runTool("amtool", ["check-config", file]);
}

describe("Grafana-evaluated alerts", () => {
  it("one rule group per domain in the stack's folder, each rule a query → reduce → condition pipeline", async () => {
    const config = stack({ grafana: apiGrafana, alerting: routing });
    const resources = await deploy(config);
    const groups = byType(resources, "grafana:alerting/ruleGroup:RuleGroup");
    expect(groups.map((g) => g.inputs.name).sort()).toEqual([
      "infermesh-capacity",
      "infermesh-contract",
      "infermesh-gpu",
      "infermesh-routing",
      "infermesh-serving",
      "infermesh-slo",
      "infermesh-targets",
    ]);
    const catalog = alertingPlan(config).alerts;
    const rules = groups.flatMap((g) => {
      expect(g.inputs.folderUid).toBe("im-dev-folder");
      expect(g.inputs.intervalSeconds).toBe(30);
      return g.inputs.rules as Array<Record<string, any>>;
    });
    expect(rules.map((r) => r.name).sort()).toEqual(catalog.map((a) => a.name).sort());
    for (const rule of rules) {
      const alert = catalog.find((a) => a.name === rule.name)!;
      expect(rule.condition).toBe("C");
      expect(rule.for).toBe(alert.for);
      expect(rule.noDataState).toBe(alert.noDataState);
      expect(rule.execErrState).toBe("Error");
      expect(rule.labels).toEqual({ severity: alert.severity, environment: "dev" });
      expect(rule.annotations.runbook_url).toBe(`${repositoryWebUrl}/blob/main/RUNBOOKS.md#${alert.name.toLowerCase()}`);
      expect(rule.annotations.description).not.toMatch(/\$value\b/);
      expect(rule.uid).toMatch(/^im-dev-alert-[A-Za-z0-9]+$/);
      expect(rule.datas.map((d: Record<string, unknown>) => [d.refId, d.datasourceUid, d.relativeTimeRange])).toEqual([
        ["A", "im-dev-prometheus", { from: 600, to: 0 }],
        ["B", "__expr__", { from: 0, to: 0 }],
        ["C", "__expr__", { from: 0, to: 0 }],
      ]);
      expect(JSON.parse(rule.datas[0].model)).toEqual({ refId: "A", expr: alert.expr, instant: true, range: false, intervalMs: 1000, maxDataPoints: 43200 });
      expect(JSON.parse(rule.datas[1].model)).toEqual({
        refId: "B",
        type: "reduce",
        expression: "A",
        reducer: "last",
        settings: { mode: "" },
        intervalMs: 1000,
        maxDataPoints: 43200,
      });
      expect(JSON.parse(rule.datas[2].model)).toEqual({ refId: "C", type: "math", expression: "is_number($B) || is_inf($B)", intervalMs: 1000, maxDataPoints: 43200 });
      // A Grafana the stack owns routes through the policy tree, not per rule.
      expect(rule.notificationSettings).toBeUndefined();
    }
    const nearOom = rules.find((r) => r.name === "InfermeshGpuNearOom")!;
    expect(nearOom.annotations.description).toContain("{{ $values.B.Value | humanizePercentage }}");
  });

  it("contact points per severity, secrets kept secret", async () => {
    const resources = await deploy(stack({ grafana: apiGrafana, alerting: routing }));
    const points = byType(resources, "grafana:alerting/contactPoint:ContactPoint");
    expect(points.map((p) => [p.name, p.inputs.name]).sort()).toEqual([
      ["alerting-critical", "infermesh-dev-critical"],
      ["alerting-info", "infermesh-dev-info"],
      ["alerting-warning", "infermesh-dev-warning"],
    ]);
    const critical = one(resources, "grafana:alerting/contactPoint:ContactPoint", "alerting-critical");
    // The integrations holding secrets are secret as a whole; the rest is readable.
    expect(redactSecrets(critical.inputs)).toEqual({ name: "infermesh-dev-critical", slacks: "[secret]", pagerduties: "[secret]", emails: [], sns: [] });
    expect(revealSecrets(critical.inputs)).toMatchObject({
      slacks: [{ url: secrets.slackHook, recipient: "#infermesh-alerts" }],
      pagerduties: [{ integrationKey: secrets.pdKey, severity: "critical" }],
      emails: [],
      sns: [],
    });
    expect(JSON.stringify(redactSecrets(critical.inputs))).not.toContain(secrets.slackHook);
    expect(revealSecrets(one(resources, "grafana:alerting/contactPoint:ContactPoint", "alerting-info").inputs)).toMatchObject({
      emails: [{ addresses: ["oncall@example.com", "ml@example.com"] }],
    });
  });

  it("a notification policy tree that pages on critical and notifies chat on warning", async () => {
    const resources = await deploy(stack({ grafana: apiGrafana, alerting: routing }));
    const policy = one(resources, "grafana:alerting/notificationPolicy:NotificationPolicy", "alerting-policy");
    const branch = (severity: string, repeatInterval: string) => ({
      matchers: [
        { label: "severity", match: "=", value: severity },
        { label: "environment", match: "=", value: "dev" },
      ],
      contactPoint: `infermesh-dev-${severity}`,
      groupBies: ["alertname", "model", "node"],
      repeatInterval,
      continue: false,
    });
    expect(policy.inputs).toEqual({
      contactPoint: "infermesh-dev-info",
      groupBies: ["alertname", "model", "node"],
      groupWait: "30s",
      groupInterval: "5m",
      repeatInterval: "24h",
      policies: [branch("critical", "1h"), branch("warning", "4h"), branch("info", "24h")],
    });
    for (const p of byType(resources, "grafana:alerting/contactPoint:ContactPoint")) expect(policy.dependsOn).toContain(p.urn);
  });

  it("per-rule routing for a shared (external) Grafana: no policy tree, each rule names its contact point", async () => {
    const config = stack({
      grafana: { mode: "external", url: "https://grafana.example.com", prometheusUrl: "https://prom.example.com", tokenSecret: "slackHook" },
      alerting: routing,
    });
    const resources = await deploy(config);
    // What synth writes to grafana/alert-rules.json is what is deployed.
    const byGroupName = (groups: Array<{ name: unknown; rules: unknown }>) => Object.fromEntries(groups.map((g) => [String(g.name), g.rules]));
    expect(byGroupName(byType(resources, "grafana:alerting/ruleGroup:RuleGroup").map((g) => ({ name: g.inputs.name, rules: g.inputs.rules })))).toEqual(
      byGroupName(grafanaRulePlan(config, alertingPlan(config).alerts)),
    );
    expect(byType(resources, "grafana:alerting/notificationPolicy:NotificationPolicy")).toEqual([]);
    const rules = byType(resources, "grafana:alerting/ruleGroup:RuleGroup").flatMap((g) => g.inputs.rules as Array<Record<string, any>>);
    const byName = Object.fromEntries(rules.map((r) => [r.name, r.notificationSettings]));
    expect(byName.InfermeshNodeDown).toEqual({ contactPoint: "infermesh-dev-critical", groupBies: ["alertname", "model", "node"], repeatInterval: "1h" });
    expect(byName.InfermeshGpuNearOom).toEqual({ contactPoint: "infermesh-dev-warning", groupBies: ["alertname", "model", "node"], repeatInterval: "4h" });
  });

  it("recording rules are still evaluated by Prometheus", async () => {
    const config = stack({ grafana: inClusterGrafana });
    const resources = await deploy(config);
    const rules = byType(resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
    expect(rules.map((r) => r.name)).toEqual(["alerting-recording"]);
    // Both recording groups, the SLO's long windows included: the burn-rate alerts Grafana evaluates read them.
    const recordingGroups = (rules[0]!.inputs as any).spec.groups as Array<{ name: string; interval: string }>;
    expect(recordingGroups.map((g) => [g.name, g.interval])).toEqual([
      ["infermesh-recording", "30s"],
      ["infermesh-recording-long", "2m"],
    ]);
    expect(recordingGroups).toEqual(alertingPlan(config).groups.filter((g) => isRecordingGroup(g.name)));
  });
});

/**
 * The in-cluster Grafana's alerting as provisioning files (Grafana
 * `apiVersion: 1` alerting formats, grafana/grafana
 * pkg/services/provisioning/alerting: types.go AlertingFileV1 keys `groups`,
 * `contactPoints`, `policies`), read by the chart's alerts sidecar.
 */
describe("Grafana-evaluated alerts in the in-cluster Grafana", () => {
  const rulesOf = (resources: RecordedResource[]) => {
    const cm = one(resources, "kubernetes:core/v1:ConfigMap", "alerting-grafana-rules").inputs as { metadata: unknown; data: Record<string, string> };
    return {
      metadata: cm.metadata,
      keys: Object.keys(cm.data).sort(),
      rules: parseYaml(cm.data["infermesh-rules.yaml"]!),
      policies: cm.data["infermesh-policies.yaml"] && parseYaml(cm.data["infermesh-policies.yaml"]),
    };
  };
  const contactPointsOf = (resources: RecordedResource[]) => {
    const secret = one(resources, "kubernetes:core/v1:Secret", "alerting-grafana-contact-points");
    return { secret, file: parseYaml((revealSecrets(secret.inputs.stringData) as Record<string, string>)["infermesh-contact-points.yaml"]!) };
  };

  it("no Grafana API resource: rule groups and the policy tree in a ConfigMap, contact points in a Secret, for the alerts sidecar", async () => {
    const resources = await deploy(stack({ grafana: inClusterGrafana, alerting: routing }));
    expect(resources.filter((r) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana")).toEqual([]);
    const { metadata, keys } = rulesOf(resources);
    expect(metadata).toEqual({ name: "infermesh-grafana-alerting", namespace: "monitoring", labels: { grafana_alert: "1" } });
    expect(keys).toEqual(["infermesh-policies.yaml", "infermesh-rules.yaml"]);
    const { secret } = contactPointsOf(resources);
    expect(redactSecrets(secret.inputs)).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "infermesh-grafana-contact-points", namespace: "monitoring", labels: { grafana_alert: "1" } },
      type: "Opaque",
      stringData: "[secret]",
    });
    // Nothing secret outside the Secret: the rules and policies ConfigMap holds none of the values.
    const plain = JSON.stringify(byType(resources, "kubernetes:core/v1:ConfigMap").map((r) => r.inputs));
    for (const value of Object.values(secrets)) for (const part of value.split(",")) expect(plain).not.toContain(part.trim());
  });

  it("rule groups: the same rule plan the API path deploys, in the dashboards' folder", async () => {
    const config = stack({ grafana: inClusterGrafana, alerting: routing });
    const { rules } = rulesOf(await deploy(config));
    const plan = grafanaRulePlan(config, alertingPlan(config).alerts);
    // The API path's RuleGroup inputs for the same alerts (a Grafana the stack owns there too).
    const api = byType(await deploy(stack({ grafana: apiGrafana, alerting: routing })), "grafana:alerting/ruleGroup:RuleGroup").map((g) => g.inputs as Record<string, any>);
    expect(rules.apiVersion).toBe(1);
    expect(rules.groups.map((g: any) => g.name)).toEqual(plan.map((g) => g.name));
    expect(rules.groups.map((g: any) => g.name).sort()).toEqual(api.map((g) => g.name).sort());
    for (const group of rules.groups) {
      const apiGroup = api.find((g) => g.name === group.name)!;
      expect(group.orgId).toBe(1);
      expect(group.folder).toBe("infermesh · dev (dev)");
      expect(group.interval).toBe(`${apiGroup.intervalSeconds}s`);
      expect(group.rules.map((r: any) => r.uid)).toEqual(apiGroup.rules.map((r: any) => r.uid));
      group.rules.forEach((rule: any, i: number) => {
        const expected = apiGroup.rules[i];
        expect(rule).toEqual({
          uid: expected.uid,
          title: expected.name,
          condition: expected.condition,
          data: expected.datas.map((d: any) => ({
            refId: d.refId,
            queryType: d.queryType,
            relativeTimeRange: d.relativeTimeRange,
            datasourceUid: d.datasourceUid,
            model: JSON.parse(d.model),
          })),
          noDataState: expected.noDataState,
          execErrState: expected.execErrState,
          for: expected.for,
          annotations: expected.annotations,
          labels: expected.labels,
          isPaused: false,
        });
      });
    }
  });

  it("contact points: one per routed severity with the API path's names and integrations; the values only inside the Secret", async () => {
    const { file } = contactPointsOf(await deploy(stack({ grafana: inClusterGrafana, alerting: routing })));
    const api = byType(await deploy(stack({ grafana: apiGrafana, alerting: routing })), "grafana:alerting/contactPoint:ContactPoint").map(
      (p) => revealSecrets(p.inputs) as Record<string, any>,
    );
    expect(file.apiVersion).toBe(1);
    expect(file.contactPoints.map((c: any) => c.name)).toEqual(["infermesh-dev-critical", "infermesh-dev-warning", "infermesh-dev-info"]);
    for (const cp of file.contactPoints) {
      const expected = api.find((p) => p.name === cp.name)!;
      // Same integration uids as the API path, and the same settings.
      const of = (type: string) => cp.receivers.filter((r: any) => r.type === type).map((r: any) => ({ uid: r.uid, ...r.settings }));
      expect(of("slack")).toEqual(expected.slacks);
      expect(of("pagerduty")).toEqual(expected.pagerduties);
      // Grafana's email integration splits `addresses` on ',', ';' and newlines.
      expect(of("email").map((s: any) => ({ uid: s.uid, addresses: s.addresses.split(/[,;\n]/) }))).toEqual(expected.emails);
      expect(cp.orgId).toBe(1);
    }
    expect(file.contactPoints[0].receivers).toEqual([
      { uid: integrationUid("dev", "critical", "pager"), type: "pagerduty", settings: { integrationKey: secrets.pdKey, severity: "critical" }, disableResolveMessage: false },
      { uid: integrationUid("dev", "critical", "chat"), type: "slack", settings: { url: secrets.slackHook, recipient: "#infermesh-alerts" }, disableResolveMessage: false },
    ]);
    expect(file.contactPoints[2].receivers).toEqual([
      { uid: integrationUid("dev", "info", "mail"), type: "email", settings: { addresses: "oncall@example.com;ml@example.com" }, disableResolveMessage: false },
    ]);
  });

  it("notification policies: the API path's policy tree as the org's provisioned tree", async () => {
    const config = stack({ grafana: inClusterGrafana, alerting: routing });
    const { policies } = rulesOf(await deploy(config));
    const tree = grafanaPolicyTree(config.alerting, "dev", "dev")!;
    const branch = (severity: string, repeat: string) => ({
      receiver: `infermesh-dev-${severity}`,
      object_matchers: [
        ["severity", "=", severity],
        ["environment", "=", "dev"],
      ],
      group_by: ["alertname", "model", "node"],
      repeat_interval: repeat,
      continue: false,
    });
    expect(policies).toEqual({
      apiVersion: 1,
      policies: [
        {
          orgId: 1,
          receiver: tree.contactPoint,
          group_by: tree.groupBies,
          group_wait: tree.groupWait,
          group_interval: tree.groupInterval,
          repeat_interval: tree.repeatInterval,
          routes: [branch("critical", "1h"), branch("warning", "4h"), branch("info", "24h")],
        },
      ],
    });
    expect(policies.policies[0].routes.map((r: any) => r.receiver)).toEqual(tree.policies.map((p) => p.contactPoint));
  });

  it("per-rule routing: no policy tree; each rule's notification_settings name the API path's contact point", async () => {
    const config = stack({ grafana: inClusterGrafana, alerting: { ...routing, policy: "per-rule" } });
    const { keys, rules } = rulesOf(await deploy(config));
    expect(keys).toEqual(["infermesh-rules.yaml"]);
    const planned = Object.fromEntries(
      grafanaRulePlan(config, alertingPlan(config).alerts)
        .flatMap((g) => g.rules)
        .map((r) => [r.name, r.notificationSettings]),
    );
    const provisioned = rules.groups.flatMap((g: any) => g.rules);
    for (const rule of provisioned) {
      const ns = planned[rule.title]!;
      expect(rule.notification_settings).toEqual({ receiver: ns.contactPoint, group_by: ns.groupBies, repeat_interval: ns.repeatInterval });
    }
    expect(provisioned.find((r: any) => r.title === "InfermeshNodeDown").notification_settings.receiver).toBe("infermesh-dev-critical");
  });

  it("no routes: rules only, no contact point Secret and no policy tree", async () => {
    const resources = await deploy(stack({ grafana: inClusterGrafana }));
    expect(rulesOf(resources).keys).toEqual(["infermesh-rules.yaml"]);
    expect(byType(resources, "kubernetes:core/v1:Secret").map((s) => s.name)).toEqual(["grafana-admin"]);
  });

  it("values Grafana would expand: no '$' where the provisioning reader expands environment variables", async () => {
    // grafana/grafana pkg/services/provisioning/values/values.go: string values go through os.ExpandEnv
    // ('$$' for a literal '$'); rules_types.go takes title, labels, group name and folder that way, and
    // annotations raw (grafana#54975), so their `{{ $labels.x }}` templates survive; an open change
    // (grafana#127214) would expand `${NAME}` in annotations. notification_policy_types.go expands the
    // whole policy; a rule's query model is taken raw.
    const config = stack({ grafana: inClusterGrafana, alerting: routing });
    const { rules, policies } = rulesOf(await deploy(config));
    for (const group of rules.groups) {
      expect(`${group.name}${group.folder}${group.interval}`).not.toContain("$");
      for (const rule of group.rules) {
        expect(`${rule.uid}${rule.title}${rule.for}${JSON.stringify(rule.labels)}`).not.toContain("$");
        expect(JSON.stringify(rule.annotations)).not.toContain("${");
      }
    }
    expect(JSON.stringify(policies)).not.toContain("$");
    // The templates that must survive are there.
    expect(JSON.stringify(rules)).toContain("{{ $values.B.Value");
  });

  it("every integration has the uid, type and settings Grafana requires of a provisioned receiver (contact_point_types.go), uids valid and distinct", async () => {
    const { file } = contactPointsOf(await deploy(stack({ grafana: inClusterGrafana, alerting: routing })));
    const receivers = file.contactPoints.flatMap((c: any) => c.receivers);
    for (const r of receivers) {
      expect(r.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
      expect(typeof r.type).toBe("string");
      expect(Object.keys(r.settings).length).toBeGreaterThan(0);
    }
    expect(new Set(receivers.map((r: any) => r.uid)).size).toBe(receivers.length);
  });
});

describe("Prometheus-evaluated alerts", () => {
  it("in-cluster: PrometheusRule objects for recording and alert rules, labelled for the stack's Prometheus", async () => {
    const config = stack({
      alerting: { ...routing, contactPoints: { pager: routing.contactPoints.pager, chat: routing.contactPoints.chat }, routes: { critical: ["pager", "chat"], warning: ["chat"] } },
    });
    const resources = await deploy(config);
    const rules = byType(resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
    const { groups } = alertingPlan(config);
    expect(rules.map((r) => [r.name, (r.inputs as any).metadata])).toEqual([
      ["alerting-recording", { name: "infermesh-recording", namespace: "monitoring", labels: { release: "kps" } }],
      ["alerting-alerts", { name: "infermesh-alerts", namespace: "monitoring", labels: { release: "kps" } }],
    ]);
    expect((rules[0]!.inputs as any).spec.groups).toEqual(groups.filter((g) => isRecordingGroup(g.name)));
    expect((rules[1]!.inputs as any).spec.groups).toEqual(groups.filter((g) => !isRecordingGroup(g.name)));
    for (const r of rules) expect(r.dependsOn).toContain(one(resources, "kubernetes:helm.sh/v3:Release", "telemetry-prometheus").urn);
    expect(byType(resources, "grafana:alerting/ruleGroup:RuleGroup")).toEqual([]);
  });

  it("in-cluster: Alertmanager routing in a Secret, valid for amtool", async () => {
    const config = stack({
      alerting: { contactPoints: { pager: routing.contactPoints.pager, chat: routing.contactPoints.chat }, routes: { critical: ["pager", "chat"], warning: ["chat"] } },
    });
    const resources = await deploy(config);
    const secret = one(resources, "kubernetes:core/v1:Secret", "alerting-alertmanager");
    expect(JSON.stringify(redactSecrets(secret.inputs))).not.toContain(secrets.pdKey);
    const am = parseYaml((revealSecrets(secret.inputs.stringData) as Record<string, string>)["alertmanager.yaml"]!);
    expect(am).toEqual({
      route: {
        receiver: "null",
        group_by: ["alertname", "model", "node"],
        group_wait: "30s",
        group_interval: "5m",
        repeat_interval: "24h",
        routes: [
          { receiver: "infermesh-dev-critical", matchers: ['severity="critical"', 'environment="dev"'], repeat_interval: "1h" },
          { receiver: "infermesh-dev-warning", matchers: ['severity="warning"', 'environment="dev"'], repeat_interval: "4h" },
        ],
      },
      receivers: [
        { name: "null" },
        {
          name: "infermesh-dev-critical",
          slack_configs: [{ api_url: secrets.slackHook, channel: "#infermesh-alerts", send_resolved: true }],
          pagerduty_configs: [{ routing_key: secrets.pdKey, send_resolved: true }],
        },
        { name: "infermesh-dev-warning", slack_configs: [{ api_url: secrets.slackHook, channel: "#infermesh-alerts", send_resolved: true }] },
      ],
    });
    const check = await amtoolCheck("in-cluster", am);
    expect(check.stdout + check.stderr).toContain("SUCCESS");
    expect(check.code).toBe(0);
  });

  it("AMP: rule groups namespaces and an SNS-only alert manager definition, valid for amtool", async () => {
    const config = stack({
      telemetry: { backend: "amp" },
      alerting: {
        contactPoints: { pager: { type: "sns", topicArn: "arn:aws:sns:us-west-2:111122223333:page" }, chat: { type: "sns", topicArn: "arn:aws:sns:us-west-2:111122223333:chat" } },
        routes: { critical: ["pager"], warning: ["chat"], info: ["chat"] },
      },
    });
    const resources = await deploy(config);
    const { groups } = alertingPlan(config);
    const namespaces = byType(resources, "aws:amp/ruleGroupNamespace:RuleGroupNamespace");
    expect(namespaces.map((n) => [n.name, n.inputs.name, n.inputs.workspaceId])).toEqual([
      ["alerting-recording", "infermesh-recording", "telemetry-prometheus-amp-id"],
      ["alerting-alerts", "infermesh-alerts", "telemetry-prometheus-amp-id"],
    ]);
    expect(parseYaml(namespaces[0]!.inputs.data as string)).toEqual({ groups: groups.filter((g) => isRecordingGroup(g.name)) });
    expect(parseYaml(namespaces[1]!.inputs.data as string)).toEqual({ groups: groups.filter((g) => !isRecordingGroup(g.name)) });
    const definition = parseYaml(revealSecrets(one(resources, "aws:amp/alertManagerDefinition:AlertManagerDefinition", "alerting-alertmanager").inputs.definition) as string);
    const am = parseYaml(definition.alertmanager_config);
    expect(am.receivers).toEqual([
      { name: "null" },
      { name: "infermesh-dev-critical", sns_configs: [{ topic_arn: "arn:aws:sns:us-west-2:111122223333:page", sigv4: { region: "us-west-2" }, send_resolved: true }] },
      { name: "infermesh-dev-warning", sns_configs: [{ topic_arn: "arn:aws:sns:us-west-2:111122223333:chat", sigv4: { region: "us-west-2" }, send_resolved: true }] },
      { name: "infermesh-dev-info", sns_configs: [{ topic_arn: "arn:aws:sns:us-west-2:111122223333:chat", sigv4: { region: "us-west-2" }, send_resolved: true }] },
    ]);
    expect(byType(resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")).toEqual([]);
    const check = await amtoolCheck("amp", am);
    expect(check.stdout + check.stderr).toContain("SUCCESS");
    expect(check.code).toBe(0);
  });

  it("amtool rejects a broken configuration (the check can fail)", async () => {
    const config = stack({});
    const broken = alertmanagerConfig(config.alerting, {}, { stack: "dev", environment: "dev", region: "us-west-2" }) as Record<string, any>;
    broken.route.receiver = "nobody";
    const check = await amtoolCheck("broken", broken);
    expect(check.code).not.toBe(0);
  });
});

/** Runs the program under mocks; returns what it registered, its `snsTopics` output and the warnings it logged. */
async function deployWithOutputs(config: StackConfig) {
  const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
  const run = await runUnderMocks({ project, stack: config.stack, config: {}, calls: offlineLookups }, () => infermesh(config));
  const snsTopics = run.result.snsTopics ? await new Promise((resolve) => run.result.snsTopics!.apply(resolve)) : undefined;
  return { resources: run.resources, snsTopics, warnings: warn.mock.calls.map((c) => c[0]) };
}

describe("SNS topics", () => {
  afterEach(() => vi.restoreAllMocks());
  const amp = { telemetry: { backend: "amp" } };
  const workspaceArn = "arn:aws:aps:synth:000000000000:workspace/telemetry-prometheus-amp";
  // AWS, "Giving Amazon Managed Service for Prometheus permission to send alert messages to your Amazon SNS topic"
  // (prometheus/latest/userguide/AMP-alertmanager-receiver-AMPpermission): the aps.amazonaws.com service principal,
  // sns:Publish and sns:GetTopicAttributes, limited by aws:SourceArn (the workspace) and aws:SourceAccount.
  const ampGrant = (topicArn: string) => ({
    Sid: "InfermeshDevAmpAlertManagerPublish",
    Effect: "Allow",
    Principal: { Service: "aps.amazonaws.com" },
    Action: ["sns:Publish", "sns:GetTopicAttributes"],
    Resource: topicArn,
    Condition: { ArnEquals: { "aws:SourceArn": workspaceArn }, StringEquals: { "aws:SourceAccount": "000000000000" } },
  });

  it("AMP + create: the stack's topic with a policy letting only this workspace publish, used by the alert manager", async () => {
    const config = stack({ ...amp, alerting: { contactPoints: { pager: { type: "sns", create: true } }, routes: { critical: ["pager"] } } });
    const { resources, snsTopics, warnings } = await deployWithOutputs(config);
    const topicArn = "arn:aws:sns:synth:000000000000:grafana-infermesh-dev-pager";
    const component = one(resources, "infermesh:monitoring:AlertTopics", "alerting-sns");
    expect(component.parent).toBe(one(resources, "infermesh:monitoring:Alerting", "alerting").urn);
    const topic = one(resources, "aws:sns/topic:Topic", "alerting-sns-pager");
    expect([topic.inputs, topic.parent, topic.protect]).toEqual([{ name: "grafana-infermesh-dev-pager" }, component.urn, false]);
    const policy = one(resources, "aws:sns/topicPolicy:TopicPolicy", "alerting-sns-pager");
    expect(policy.parent).toBe(component.urn);
    expect(policy.inputs.arn).toBe(topicArn);
    expect(JSON.parse(policy.inputs.policy as string)).toEqual({ Version: "2012-10-17", Statement: [ampGrant(topicArn)] });
    const definition = parseYaml(revealSecrets(one(resources, "aws:amp/alertManagerDefinition:AlertManagerDefinition", "alerting-alertmanager").inputs.definition) as string);
    expect(parseYaml(definition.alertmanager_config).receivers[1]).toEqual({
      name: "infermesh-dev-critical",
      sns_configs: [{ topic_arn: topicArn, sigv4: { region: "us-west-2" }, send_resolved: true }],
    });
    expect(snsTopics).toEqual({ pager: { arn: topicArn, owner: "stack", publisher: "amp" } });
    expect(warnings).toEqual([]);
  });

  it("AMP + an external topic: nothing created, the exact grant in the stack output and a warning", async () => {
    const topicArn = "arn:aws:sns:us-west-2:111122223333:page";
    const config = stack({ ...amp, alerting: { contactPoints: { pager: { type: "sns", topicArn } }, routes: { critical: ["pager"] } } });
    const { resources, snsTopics, warnings } = await deployWithOutputs(config);
    expect(byType(resources, "aws:sns/topic:Topic")).toEqual([]);
    expect(byType(resources, "aws:sns/topicPolicy:TopicPolicy")).toEqual([]);
    expect(snsTopics).toEqual({ pager: { arn: topicArn, owner: "external", publisher: "amp", grantRequired: ampGrant(topicArn) } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the stack does not own SNS topic ${topicArn}`);
    expect(warnings[0]).toContain(JSON.stringify(ampGrant(topicArn)));
    expect(warnings[0]).toContain("snsTopics.pager.grantRequired");
    expect(warnings[0]).toContain("kms:GenerateDataKey* and kms:Decrypt");
  });

  // The workspace role the stack owns (components/grafanaEndpoint.ts) publishes: sns:Publish on exactly the
  // stack's topics, owned and external, in one identity policy; no topic policy.
  const grafanaPublish = (topicArns: string[]) => ({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["sns:Publish"], Resource: topicArns }] });

  it("managed Grafana + create: the stack's topic, its workspace role may publish to it, no topic policy", async () => {
    const config = stack({ ...amp, grafana: { mode: "managed" }, alerting: { contactPoints: { ops: { type: "sns", create: true } }, routes: { critical: ["ops"] } } });
    const { resources, snsTopics, warnings } = await deployWithOutputs(config);
    const topicArn = "arn:aws:sns:synth:000000000000:grafana-infermesh-dev-ops";
    expect(one(resources, "aws:sns/topic:Topic", "alerting-sns-ops").inputs).toEqual({ name: "grafana-infermesh-dev-ops" });
    expect(byType(resources, "aws:sns/topicPolicy:TopicPolicy")).toEqual([]);
    const publish = one(resources, "aws:iam/rolePolicy:RolePolicy", "alerting-sns-grafana-publish");
    expect(publish.parent).toBe(one(resources, "infermesh:monitoring:AlertTopics", "alerting-sns").urn);
    expect(publish.inputs.role).toBe("grafana-workspace-role-id");
    expect(JSON.parse(publish.inputs.policy as string)).toEqual(grafanaPublish([topicArn]));
    expect(one(resources, "grafana:alerting/contactPoint:ContactPoint", "alerting-critical").inputs.sns).toEqual([{ uid: "im-dev-cp-critical-ops", topic: topicArn }]);
    const workspace = one(resources, "aws:grafana/workspace:Workspace", "grafana-workspace");
    expect([workspace.inputs.notificationDestinations, workspace.inputs.permissionType, workspace.inputs.roleArn]).toEqual([
      ["SNS"],
      "CUSTOMER_MANAGED",
      "arn:aws:synth:000000000000:grafana-workspace-role",
    ]);
    expect(snsTopics).toEqual({ ops: { arn: topicArn, owner: "stack", publisher: "grafana" } });
    expect(warnings).toEqual([]);
  });

  it("managed Grafana + owned and external topics, any name: one publish grant on exactly those topics", async () => {
    const external = "arn:aws:sns:us-west-2:111122223333:infermesh-staging-alerts";
    const owned = "arn:aws:sns:synth:000000000000:grafana-infermesh-dev-ops";
    const config = stack({
      ...amp,
      grafana: { mode: "managed" },
      alerting: { contactPoints: { ops: { type: "sns", create: true }, pager: { type: "sns", topicArn: external } }, routes: { critical: ["pager"], warning: ["ops"] } },
    });
    const { resources, snsTopics, warnings } = await deployWithOutputs(config);
    expect(byType(resources, "aws:sns/topic:Topic").map((t) => t.name)).toEqual(["alerting-sns-ops"]);
    const publish = byType(resources, "aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === "grafana-workspace-role-id");
    expect(publish.map((p) => p.name).sort()).toEqual(["alerting-sns-grafana-publish", "grafana-amp-query"]);
    expect(JSON.parse(one(resources, "aws:iam/rolePolicy:RolePolicy", "alerting-sns-grafana-publish").inputs.policy as string)).toEqual(grafanaPublish([owned, external].sort()));
    expect(one(resources, "grafana:alerting/contactPoint:ContactPoint", "alerting-critical").inputs.sns).toEqual([{ uid: "im-dev-cp-critical-pager", topic: external }]);
    expect(snsTopics).toEqual({ ops: { arn: owned, owner: "stack", publisher: "grafana" }, pager: { arn: external, owner: "external", publisher: "grafana" } });
    expect(warnings).toEqual([]);
  });

  it("managed Grafana but AMP's alert manager publishes: the workspace role gets no SNS permission", async () => {
    const config = stack({
      ...amp,
      grafana: { mode: "managed" },
      alerting: { evaluator: "prometheus", contactPoints: { pager: { type: "sns", create: true } }, routes: { critical: ["pager"] } },
    });
    const { resources } = await deployWithOutputs(config);
    expect(one(resources, "aws:sns/topicPolicy:TopicPolicy", "alerting-sns-pager").inputs.arn).toBe("arn:aws:sns:synth:000000000000:grafana-infermesh-dev-pager");
    expect(
      byType(resources, "aws:iam/rolePolicy:RolePolicy")
        .filter((p) => p.inputs.role === "grafana-workspace-role-id")
        .map((p) => p.name),
    ).toEqual(["grafana-amp-query"]);
  });

  it("the stack's topics are protected where stateful resources are", async () => {
    const config = stack({ ...amp, safety: { protectStateful: true }, alerting: { contactPoints: { pager: { type: "sns", create: true } }, routes: { critical: ["pager"] } } });
    const { resources } = await deployWithOutputs(config);
    expect(one(resources, "aws:sns/topic:Topic", "alerting-sns-pager").protect).toBe(true);
  });

  it("no SNS contact point, no topics component and no output", async () => {
    const { resources, snsTopics } = await deployWithOutputs(stack({ grafana: inClusterGrafana, alerting: routing }));
    expect(byType(resources, "infermesh:monitoring:AlertTopics")).toEqual([]);
    expect(snsTopics).toBeUndefined();
  });
});

describe("routing helpers", () => {
  it("no routes means no policy tree", () => {
    expect(grafanaPolicyTree(stack({}).alerting, "dev", "dev")).toBeUndefined();
  });

  it("every alert of the catalog is delivered with an environment label", () => {
    const config = stack({});
    const catalog = alertCatalog({ thresholds: config.alerting.thresholds, models: config.models, scrapeIntervalSeconds: 30, poolMaxSizes: { l4: 4 } });
    expect(alertingPlan(config).alerts.map((a) => a.name)).toEqual(catalog.map((a) => a.name));
    for (const a of alertingPlan(config).alerts) expect(a.labels.environment).toBe("dev");
  });
});

/** The repository package.json names, as a web address: the one source of the default runbook links. */
const repositoryWebUrl = (JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { repository: { url: string } }).repository.url.replace(/\.git$/, "");

describe("runbooks", () => {
  it("link by default to RUNBOOKS.md of the repository package.json names", () => {
    expect(repositoryWebUrl).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    expect(defaultRunbookBaseUrl).toBe(`${repositoryWebUrl}/blob/main/RUNBOOKS.md`);
    expect(stack({}).alerting.runbookBaseUrl).toBe(defaultRunbookBaseUrl);
    // The config key still overrides it.
    const own = "https://wiki.example/infermesh/runbooks";
    expect(alertingPlan(stack({ alerting: { runbookBaseUrl: own } })).alerts.every((a) => a.annotations.runbook_url.startsWith(`${own}#`))).toBe(true);
  });

  it.each([
    [{ type: "git", url: "https://github.com/acme/fleet.git" }, "https://github.com/acme/fleet/blob/main/RUNBOOKS.md"],
    [{ url: "git+https://github.com/acme/fleet.git" }, "https://github.com/acme/fleet/blob/main/RUNBOOKS.md"],
    ["https://github.com/acme/fleet", "https://github.com/acme/fleet/blob/main/RUNBOOKS.md"],
    ["git@github.com:acme/fleet.git", "https://github.com/acme/fleet/blob/main/RUNBOOKS.md"],
    ["github:acme/fleet", "https://github.com/acme/fleet/blob/main/RUNBOOKS.md"],
  ])("reads repository %j as %s", (repository, expected) => {
    expect(runbookBaseUrlOf(repository)).toBe(expected);
  });

  it.each([
    [undefined, /repository\.url` is missing/],
    [{ type: "git" }, /repository\.url` is missing/],
    ["https://gitlab.example/acme/fleet", /"https:\/\/gitlab\.example\/acme\/fleet": a GitHub repository .* is allowed, or set infermesh:alerting\.runbookBaseUrl/],
  ])("refuses repository %j with an error naming the field", (repository, message) => {
    expect(() => runbookBaseUrlOf(repository)).toThrow(message);
  });

  it("every alert in the catalog has a section in RUNBOOKS.md, and no section is stale", async () => {
    const { readFileSync } = await import("node:fs");
    const headings = [...readFileSync(join(__dirname, "..", "RUNBOOKS.md"), "utf8").matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    const names = alertCatalog({ thresholds: stack({}).alerting.thresholds, models: {}, scrapeIntervalSeconds: 30, poolMaxSizes: { any: 1 } }).map((a) => a.name);
    expect([...headings].sort()).toEqual([...names].sort());
  });
});
