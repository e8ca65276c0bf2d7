import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { alertingPlan, grafanaRulePlan } from "../components/alerting";
import { alertmanagerConfig, grafanaPolicyTree } from "../components/routing";
import { alertCatalog } from "../dashboards/alerts";
import { isRecordingGroup } from "../dashboards/ruleFiles";
import { redactSecrets, revealSecrets } from "../synth/runtime";
import { runTool } from "../verify/prometheus";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

const secrets = { slackHook: "https://hooks.slack.com/services/T000/B000/SECRET", pdKey: "pd-routing-key-SECRET", emails: "oncall@example.com, ml@example.com" };
const routing = {
  contactPoints: {
    pager: { type: "pagerduty", secret: "pdKey" },
    chat: { type: "slack", secret: "slackHook", channel: "#infermesh-alerts" },
    mail: { type: "email", secret: "emails" },
  },
  routes: { critical: ["pager", "chat"], warning: ["chat"], info: ["mail"] },
};
const inClusterGrafana = { mode: "in-cluster", url: "http://localhost:3000" };

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
    const config = stack({ grafana: inClusterGrafana, alerting: routing });
    const resources = await deploy(config);
    const groups = byType(resources, "grafana:alerting/ruleGroup:RuleGroup");
    expect(groups.map((g) => g.inputs.name).sort()).toEqual(["infermesh-capacity", "infermesh-contract", "infermesh-gpu", "infermesh-routing", "infermesh-serving", "infermesh-slo", "infermesh-targets"]);
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
      expect(rule.annotations.runbook_url).toBe(`https://github.com/infermesh/infermesh-stack/blob/main/RUNBOOKS.md#${alert.name.toLowerCase()}`);
      expect(rule.annotations.description).not.toMatch(/\$value\b/);
      expect(rule.uid).toMatch(/^im-dev-alert-[A-Za-z0-9]+$/);
      expect(rule.datas.map((d: Record<string, unknown>) => [d.refId, d.datasourceUid, d.relativeTimeRange])).toEqual([
        ["A", "im-dev-prometheus", { from: 600, to: 0 }],
        ["B", "__expr__", { from: 0, to: 0 }],
        ["C", "__expr__", { from: 0, to: 0 }],
      ]);
      expect(JSON.parse(rule.datas[0].model)).toEqual({ refId: "A", expr: alert.expr, instant: true, range: false, intervalMs: 1000, maxDataPoints: 43200 });
      expect(JSON.parse(rule.datas[1].model)).toEqual({ refId: "B", type: "reduce", expression: "A", reducer: "last", settings: { mode: "" }, intervalMs: 1000, maxDataPoints: 43200 });
      expect(JSON.parse(rule.datas[2].model)).toEqual({ refId: "C", type: "math", expression: "is_number($B) || is_inf($B)", intervalMs: 1000, maxDataPoints: 43200 });
      // A Grafana the stack owns routes through the policy tree, not per rule.
      expect(rule.notificationSettings).toBeUndefined();
    }
    const nearOom = rules.find((r) => r.name === "InfermeshGpuNearOom")!;
    expect(nearOom.annotations.description).toContain("{{ $values.B.Value | humanizePercentage }}");
  });

  it("contact points per severity, secrets kept secret", async () => {
    const resources = await deploy(stack({ grafana: inClusterGrafana, alerting: routing }));
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
    const resources = await deploy(stack({ grafana: inClusterGrafana, alerting: routing }));
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
    const config = stack({ grafana: { mode: "external", url: "https://grafana.example.com", prometheusUrl: "https://prom.example.com", tokenSecret: "slackHook" }, alerting: routing });
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

describe("Prometheus-evaluated alerts", () => {
  it("in-cluster: PrometheusRule objects for recording and alert rules, labelled for the stack's Prometheus", async () => {
    const config = stack({ alerting: { ...routing, contactPoints: { pager: routing.contactPoints.pager, chat: routing.contactPoints.chat }, routes: { critical: ["pager", "chat"], warning: ["chat"] } } });
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
    const config = stack({ alerting: { contactPoints: { pager: routing.contactPoints.pager, chat: routing.contactPoints.chat }, routes: { critical: ["pager", "chat"], warning: ["chat"] } } });
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

describe("runbooks", () => {
  it("every alert in the catalog has a section in RUNBOOKS.md, and no section is stale", async () => {
    const { readFileSync } = await import("node:fs");
    const headings = [...readFileSync(join(__dirname, "..", "RUNBOOKS.md"), "utf8").matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    const names = alertCatalog({ thresholds: stack({}).alerting.thresholds, models: {}, scrapeIntervalSeconds: 30, poolMaxSizes: { any: 1 } }).map((a) => a.name);
    expect([...headings].sort()).toEqual([...names].sort());
  });
});
