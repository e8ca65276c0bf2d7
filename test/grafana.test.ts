import { describe, expect, it } from "vitest";
import { dashboardsFor, dataSourceUid, folderFor } from "../components/grafanaContent";
import { deployTokenName } from "../components/grafanaEndpoint";
import { grafanaUid } from "../dashboards/context";
import { redactSecrets, revealSecrets, type RecordedResource } from "../synth/runtime";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

const now = new Date("2026-11-27T10:20:30Z");
const secrets = { grafanaToken: "glsa_top-secret-token", slackHook: "https://hooks.slack.com/services/T000/B000/SECRET", pdKey: "pd-routing-key-SECRET" };

function stack(extra: Record<string, unknown>, secretKeys: string[] = ["secrets"]) {
  return parse({ ...baseRaw(), secrets, ...extra }, "dev", secretKeys, now);
}

const external = { mode: "external", url: "https://grafana.example.com", prometheusUrl: "https://prometheus.internal.example.com" };
const isGrafana = (r: RecordedResource) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana";

describe("Grafana endpoint modes", () => {
  it("external: an explicit provider from the configured URL and the secret token", async () => {
    const resources = await deploy(stack({ grafana: external }));
    const provider = one(resources, "pulumi:providers:grafana", "grafana-provider");
    expect(provider.inputs.url).toBe("https://grafana.example.com");
    expect(provider.inputs.auth).not.toBeTypeOf("string");
    expect(revealSecrets(provider.inputs.auth)).toBe(secrets.grafanaToken);
    for (const r of resources.filter((x) => x.type.startsWith("grafana:"))) expect(r.provider, r.name).toBe(`${provider.urn}::grafana-provider-id`);
    expect(byType(resources, "aws:grafana/workspace:Workspace")).toEqual([]);
  });

  it("managed: a workspace, a service account and a token renewed on every deploy, at most 30 days", async () => {
    const raw = { ...baseRaw(), telemetry: { backend: "amp" }, grafana: { mode: "managed", tokenTtlDays: 30 } };
    const resources = await deploy(parse(raw, "dev", [], now));
    expect(one(resources, "aws:grafana/workspace:Workspace", "grafana-workspace").inputs).toEqual({
      name: "infermesh-dev",
      accountAccessType: "CURRENT_ACCOUNT",
      authenticationProviders: ["AWS_SSO"],
      permissionType: "SERVICE_MANAGED",
      dataSources: ["PROMETHEUS"],
      grafanaVersion: "12.4",
      configuration: JSON.stringify({ unifiedAlerting: { enabled: true }, plugins: { pluginAdminEnabled: false } }),
    });
    expect(one(resources, "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount", "grafana-automation").inputs).toEqual({
      workspaceId: "grafana-workspace-id",
      grafanaRole: "ADMIN",
      name: "infermesh-pulumi",
    });
    const token = one(resources, "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken", "grafana-token");
    expect(token.inputs).toEqual({ workspaceId: "grafana-workspace-id", serviceAccountId: "grafana-automation-sa", name: "infermesh-20261127102030", secondsToLive: 30 * 86400 });
    const provider = one(resources, "pulumi:providers:grafana", "grafana-provider");
    expect(provider.inputs.url).toBe("https://grafana-workspace.grafana-workspace.synth.invalid");
    expect(provider.inputs.auth).not.toBeTypeOf("string");
    // A later deploy names a new token, which replaces (renews) the old one.
    expect(deployTokenName("2026-11-28T08:00:00.000Z")).not.toBe(token.inputs.name);
  });

  it("in-cluster: Grafana on system nodes, generated admin password kept secret, no anonymous access, ClusterIP", async () => {
    const resources = await deploy(stack({ grafana: { mode: "in-cluster", url: "http://localhost:3000" } }, ["secrets"]));
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "grafana-grafana").inputs as Record<string, any>;
    expect(release).toMatchObject({ name: "grafana", chart: "grafana", version: "10.1.0", namespace: "monitoring" });
    expect(release.values).toEqual({
      nodeSelector: { "infermesh.io/node-class": "system" },
      admin: { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" },
      service: { type: "ClusterIP" },
      ingress: { enabled: false },
      persistence: { enabled: false },
      "grafana.ini": { "auth.anonymous": { enabled: false }, users: { allow_sign_up: false }, unified_alerting: { enabled: true } },
    });
    const secret = one(resources, "kubernetes:core/v1:Secret", "grafana-admin");
    // A secret inside a property makes the whole property secret.
    expect(redactSecrets(secret.inputs)).toMatchObject({ metadata: { name: "grafana-admin", namespace: "monitoring" }, stringData: "[secret]" });
    expect(revealSecrets(secret.inputs.stringData)).toEqual({ "admin-user": "admin", "admin-password": "synth-password-for-grafana-admin-password" });
    const provider = one(resources, "pulumi:providers:grafana", "grafana-provider");
    expect(provider.inputs.url).toBe("http://localhost:3000");
    expect(revealSecrets(provider.inputs.auth)).toBe("admin:synth-password-for-grafana-admin-password");
  });
});

describe("Grafana content", () => {
  it("one folder per stack, every dashboard in it, configJson exactly the synthesized JSON", async () => {
    const config = stack({ grafana: external });
    const resources = await deploy(config);
    const folder = one(resources, "grafana:oss/folder:Folder", "grafana-folder");
    expect(folder.inputs).toEqual({ uid: "im-dev-folder", title: "infermesh · dev (dev)", preventDestroyIfNotEmpty: false });
    const expected = dashboardsFor(config);
    const dashboards = byType(resources, "grafana:oss/dashboard:Dashboard");
    expect(dashboards.map((d) => d.name).sort()).toEqual(["grafana-gpuHealth", "grafana-modelDrilldown", "grafana-overview", "grafana-routerBehavior", "grafana-slo"]);
    for (const d of dashboards) {
      const key = d.name.replace(/^grafana-/, "");
      expect(d.inputs.folder).toBe(folderFor(config).uid);
      expect(d.inputs.configJson).toBe(JSON.stringify(expected[key]));
      expect(d.inputs.overwrite).toBe(true);
      expect(d.dependsOn).toContain(one(resources, "grafana:oss/dataSource:DataSource", "grafana-prometheus").urn);
    }
  });

  it("dashboards preselect the stack's data source", () => {
    for (const dashboard of Object.values(dashboardsFor(stack({ grafana: external })))) {
      const variable = (dashboard as { templating: { list: Array<Record<string, unknown>> } }).templating.list.find((v) => v.type === "datasource");
      expect(variable?.current).toEqual({ text: "infermesh-dev", value: "im-dev-prometheus" });
    }
  });

  it.each([
    ["external Grafana, in-cluster backend: the given Prometheus URL", { grafana: external }, "https://prometheus.internal.example.com", {}],
    [
      "external Grafana, AMP: SigV4 with the host's credentials",
      { grafana: { mode: "external", url: "https://grafana.example.com" }, telemetry: { backend: "amp" } },
      "https://aps-workspaces.synth.invalid/workspaces/telemetry-prometheus-amp",
      { sigV4Auth: true, sigV4AuthType: "default", sigV4Region: "us-west-2" },
    ],
    [
      "managed Grafana, AMP: SigV4 with the workspace role",
      { grafana: { mode: "managed" }, telemetry: { backend: "amp" } },
      "https://aps-workspaces.synth.invalid/workspaces/telemetry-prometheus-amp",
      { sigV4Auth: true, sigV4AuthType: "ec2_iam_role", sigV4Region: "us-west-2" },
    ],
    ["in-cluster Grafana: the Prometheus service", { grafana: { mode: "in-cluster", url: "http://localhost:3000" } }, "http://kps-prometheus.monitoring.svc:9090", {}],
  ])("data source: %s", async (_, extra, url, sigV4) => {
    const resources = await deploy(stack(extra));
    const source = one(resources, "grafana:oss/dataSource:DataSource", "grafana-prometheus");
    expect(source.inputs).toEqual({
      type: "prometheus",
      name: "infermesh-dev",
      uid: "im-dev-prometheus",
      url,
      accessMode: "proxy",
      isDefault: false,
      jsonDataEncoded: JSON.stringify({ httpMethod: "POST", timeInterval: "30s", ...sigV4 }),
    });
  });

  it("two stacks sharing a Grafana get different folder, data source, dashboard and rule uids", () => {
    const a = stack({ grafana: external });
    const b = parse({ ...baseRaw(), secrets, grafana: external }, "dev-two", ["secrets"], now);
    expect(folderFor(a).uid).not.toBe(folderFor(b).uid);
    expect(dataSourceUid("dev")).not.toBe(dataSourceUid("dev-two"));
    const uids = (c: typeof a) => Object.values(dashboardsFor(c)).map((d) => (d as { uid: string }).uid);
    expect(uids(a).filter((u) => uids(b).includes(u))).toEqual([]);
    expect(grafanaUid("dev", "alert")).not.toBe(grafanaUid("dev-two", "alert"));
  });

  it.each([
    ["a-stack-name-that-is-far-too-long-for-grafana-uids", "prometheus"],
    ["a-stack-name-that-is-far-too-long-for-grafana-uids-2", "prometheus"],
    ["dotted.stack", "folder"],
  ])("uids stay valid and distinct for stack %s", (name, suffix) => {
    const uid = grafanaUid(name, suffix);
    expect(uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(uid).toBe(grafanaUid(name, suffix));
  });

  it("long stack names that share a prefix never share a uid", () => {
    expect(grafanaUid("a-stack-name-that-is-far-too-long-for-grafana-uids", "prometheus")).not.toBe(grafanaUid("a-stack-name-that-is-far-too-long-for-grafana-uids-2", "prometheus"));
  });
});

describe("secrets", () => {
  it("never reach any resource input in plaintext", async () => {
    const raw = {
      grafana: external,
      alerting: {
        contactPoints: { chat: { type: "slack", secret: "slackHook", channel: "#infermesh" }, pager: { type: "pagerduty", secret: "pdKey" } },
        routes: { critical: ["pager", "chat"], warning: ["chat"] },
      },
    };
    const resources = await deploy(stack(raw));
    const text = JSON.stringify(resources.map((r) => redactSecrets(r.inputs)));
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);
    // ...while the values do reach Grafana, inside secrets.
    const revealed = JSON.stringify(resources.filter(isGrafana).map((r) => revealSecrets(r.inputs)));
    for (const value of Object.values(secrets)) expect(revealed).toContain(value);
  });
});
