import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { dashboardsFor, folderFor } from "../components/grafanaContent.plan";
import { dataSourceUid } from "../domain/naming";
import { deployTokenName } from "../components/grafanaEndpoint";
import { provisionedFolder } from "../components/grafanaProvisioning";
import { grafanaChart, grafanaChartAppVersion } from "../domain/versions";
import { dashboardKeys } from "../dashboards/context";
import { grafanaUid } from "../domain/naming";
import { dashboardSchemaVersion, latestSchemaVersion, oldestSupportedGrafana, rewrittenByNewerMigrations } from "../dashboards/schemaVersion";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { redactSecrets, revealSecrets, runUnderMocks, type RecordedResource } from "../synth/runtime";
import { baseRaw, byType, deploy, one, parse, project } from "./helpers/stack";

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
      permissionType: "CUSTOMER_MANAGED",
      roleArn: "arn:aws:synth:000000000000:grafana-workspace-role",
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
});

describe("Amazon Managed Grafana workspace role", () => {
  const grafanaRoles = (resources: RecordedResource[]) =>
    byType(resources, "aws:iam/role:Role").filter((r) => JSON.stringify(r.inputs.assumeRolePolicy).includes("grafana.amazonaws.com"));
  const rolePoliciesOf = (resources: RecordedResource[], roleId: string) => byType(resources, "aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === roleId);
  // AWS CreateWorkspace reference, permissionType (text also in aws/aws-sdk-js@65157471 clients/grafana.d.ts):
  // a workspace created through the API/CLI/CloudFormation gets no role from Amazon Managed Grafana;
  // API callers pass workspaceRoleArn and use CUSTOMER_MANAGED only (SERVICE_MANAGED is console-only).
  const trust = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "grafana.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": "000000000000" } } },
    ],
  };

  it("managed + AMP backend: a role only Grafana of this account assumes, querying only the stack's AMP workspace, passed as roleArn", async () => {
    const raw = { ...baseRaw(), telemetry: { backend: "amp" }, grafana: { mode: "managed" } };
    const resources = await deploy(parse(raw, "dev", [], now));
    const endpoint = one(resources, "infermesh:grafana:Endpoint", "grafana");
    const role = one(resources, "aws:iam/role:Role", "grafana-workspace-role");
    expect([role.parent, role.protect]).toEqual([endpoint.urn, false]);
    expect(Object.keys(role.inputs)).toEqual(["assumeRolePolicy"]);
    expect(JSON.parse(role.inputs.assumeRolePolicy as string)).toEqual(trust);
    const query = one(resources, "aws:iam/rolePolicy:RolePolicy", "grafana-amp-query");
    expect([query.parent, query.inputs.role]).toEqual([endpoint.urn, "grafana-workspace-role-id"]);
    expect(JSON.parse(query.inputs.policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"],
          Resource: "arn:aws:aps:synth:000000000000:workspace/telemetry-prometheus-amp",
        },
      ],
    });
    expect(rolePoliciesOf(resources, "grafana-workspace-role-id").map((p) => p.name)).toEqual(["grafana-amp-query"]);
    const workspace = one(resources, "aws:grafana/workspace:Workspace", "grafana-workspace");
    expect([workspace.inputs.permissionType, workspace.inputs.roleArn]).toEqual(["CUSTOMER_MANAGED", "arn:aws:synth:000000000000:grafana-workspace-role"]);
  });

  it("managed + in-cluster backend: the role, and no aps permission (there is no AMP workspace to query)", async () => {
    const raw = { ...baseRaw(), grafana: { mode: "managed", prometheusUrl: "https://prometheus.internal.example.com" } };
    const resources = await deploy(parse(raw, "dev", [], now));
    expect(JSON.parse(one(resources, "aws:iam/role:Role", "grafana-workspace-role").inputs.assumeRolePolicy as string)).toEqual(trust);
    expect(rolePoliciesOf(resources, "grafana-workspace-role-id")).toEqual([]);
    expect(JSON.stringify(byType(resources, "aws:iam/rolePolicy:RolePolicy").map((p) => p.inputs.policy))).not.toContain("aps:Query");
    expect(one(resources, "aws:grafana/workspace:Workspace", "grafana-workspace").inputs.roleArn).toBe("arn:aws:synth:000000000000:grafana-workspace-role");
  });

  it("protected where the workspace is", async () => {
    const raw = { ...baseRaw(), telemetry: { backend: "amp" }, grafana: { mode: "managed" }, safety: { protectStateful: true } };
    const resources = await deploy(parse(raw, "dev", [], now));
    expect(one(resources, "aws:grafana/workspace:Workspace", "grafana-workspace").protect).toBe(true);
    expect(one(resources, "aws:iam/role:Role", "grafana-workspace-role").protect).toBe(true);
  });

  it.each([
    ["external", { grafana: external }],
    ["in-cluster", { grafana: { mode: "in-cluster" } }],
  ])("%s Grafana: no workspace role", async (_mode, extra) => {
    const resources = await deploy(stack(extra));
    expect(grafanaRoles(resources)).toEqual([]);
    expect(resources.filter((r) => r.name.startsWith("grafana-") && r.type.startsWith("aws:iam/"))).toEqual([]);
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
    expect(grafanaUid("a-stack-name-that-is-far-too-long-for-grafana-uids", "prometheus")).not.toBe(
      grafanaUid("a-stack-name-that-is-far-too-long-for-grafana-uids-2", "prometheus"),
    );
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

describe("in-cluster Grafana: provisioned from Kubernetes objects", () => {
  const inCluster = { grafana: { mode: "in-cluster" } };
  const configMap = (resources: RecordedResource[], name: string) =>
    one(resources, "kubernetes:core/v1:ConfigMap", name).inputs as { metadata: Record<string, unknown>; data: Record<string, string> };

  it("Helm release: the grafana-community chart on system nodes, ClusterIP, no anonymous access, sidecars for dashboards, data sources and alerting", async () => {
    const resources = await deploy(stack(inCluster));
    const release = one(resources, "kubernetes:helm.sh/v3:Release", "grafana-grafana").inputs as Record<string, any>;
    expect(release).toMatchObject({
      name: "grafana",
      chart: "grafana",
      version: "11.6.1",
      repositoryOpts: { repo: "https://grafana-community.github.io/helm-charts" },
      namespace: "monitoring",
    });
    expect(release.values).toEqual({
      nodeSelector: { "infermesh.io/node-class": "system" },
      admin: { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" },
      service: { type: "ClusterIP" },
      ingress: { enabled: false },
      persistence: { enabled: false },
      rbac: { namespaced: true },
      sidecar: {
        dashboards: {
          enabled: true,
          label: "grafana_dashboard",
          labelValue: "1",
          resource: "configmap",
          folderAnnotation: "grafana_folder",
          provider: { foldersFromFilesStructure: true, disableDelete: false, allowUiUpdates: false },
        },
        datasources: { enabled: true, label: "grafana_datasource", labelValue: "1", resource: "configmap" },
        alerts: { enabled: true, label: "grafana_alert", labelValue: "1", resource: "both" },
      },
      "grafana.ini": { "auth.anonymous": { enabled: false }, users: { allow_sign_up: false }, unified_alerting: { enabled: true } },
    });
    const secret = one(resources, "kubernetes:core/v1:Secret", "grafana-admin");
    // A secret inside a property makes the whole property secret.
    expect(redactSecrets(secret.inputs)).toMatchObject({ metadata: { name: "grafana-admin", namespace: "monitoring" }, stringData: "[secret]" });
    expect(revealSecrets(secret.inputs.stringData)).toEqual({ "admin-user": "admin", "admin-password": "synth-password-for-grafana-admin-password" });
  });

  it("no Grafana provider and no Grafana API resource: deploying needs no port-forward and no Grafana URL", async () => {
    const resources = await deploy(stack({ ...inCluster, alerting: { contactPoints: { chat: { type: "slack", secret: "slackHook" } }, routes: { warning: ["chat"] } } }));
    expect(resources.filter(isGrafana)).toEqual([]);
    expect(JSON.stringify(resources.map((r) => redactSecrets(r.inputs)))).not.toMatch(/localhost|127\.0\.0\.1/);
  });

  it("data source: a ConfigMap for the data source sidecar with the API path's data source (same uid) on the in-cluster Prometheus", async () => {
    const config = stack(inCluster);
    const resources = await deploy(config);
    const cm = configMap(resources, "grafana-datasource");
    expect(cm.metadata).toEqual({ name: "infermesh-grafana-datasource", namespace: "monitoring", labels: { grafana_datasource: "1" } });
    expect(Object.keys(cm.data)).toEqual(["infermesh-datasource.yaml"]);
    expect(parseYaml(cm.data["infermesh-datasource.yaml"]!)).toEqual({
      apiVersion: 1,
      datasources: [
        {
          name: "infermesh-dev",
          type: "prometheus",
          uid: dataSourceUid("dev"),
          access: "proxy",
          url: "http://kps-prometheus.monitoring.svc:9090",
          isDefault: false,
          jsonData: { httpMethod: "POST", timeInterval: "30s" },
          editable: false,
        },
      ],
    });
  });

  it("dashboards: one ConfigMap each for the dashboard sidecar, in the environment's folder, JSON exactly what the API path imports", async () => {
    const config = stack(inCluster);
    const resources = await deploy(config);
    const expected = dashboardsFor(config) as Record<string, { uid: string }>;
    const names = {
      overview: "infermesh-dashboard-overview",
      modelDrilldown: "infermesh-dashboard-model-drilldown",
      gpuHealth: "infermesh-dashboard-gpu-health",
      routerBehavior: "infermesh-dashboard-router-behavior",
      slo: "infermesh-dashboard-slo",
    };
    expect(Object.keys(names).sort()).toEqual([...dashboardKeys].sort());
    for (const [key, name] of Object.entries(names)) {
      const cm = configMap(resources, `grafana-dashboard-${key}`);
      expect(cm.metadata).toEqual({ name, namespace: "monitoring", labels: { grafana_dashboard: "1" }, annotations: { grafana_folder: "infermesh · dev (dev)" } });
      expect(Object.keys(cm.data)).toEqual([`${expected[key]!.uid}.json`]);
      expect(JSON.parse(cm.data[`${expected[key]!.uid}.json`]!)).toEqual(expected[key]);
    }
    expect(byType(resources, "kubernetes:core/v1:ConfigMap").filter((r) => (r.inputs as any).metadata.labels?.grafana_dashboard === "1")).toHaveLength(dashboardKeys.length);
  });

  it("outputs: the Service inside the cluster and links to each dashboard", async () => {
    const config = stack(inCluster);
    const run = await runUnderMocks({ project, stack: config.stack, config: {}, calls: offlineLookups }, () => infermesh(config));
    const [url, links] = await new Promise<[string, Record<string, string>]>((resolve) =>
      pulumi.all([run.result.grafanaUrl, run.result.dashboardUrls]).apply(([u, d]) => resolve([u as string, d as Record<string, string>])),
    );
    expect(url).toBe("http://grafana.monitoring.svc.cluster.local");
    expect(links).toEqual({
      overview: "http://grafana.monitoring.svc.cluster.local/d/im-dev-overview",
      modelDrilldown: "http://grafana.monitoring.svc.cluster.local/d/im-dev-model",
      gpuHealth: "http://grafana.monitoring.svc.cluster.local/d/im-dev-gpu",
      routerBehavior: "http://grafana.monitoring.svc.cluster.local/d/im-dev-router",
      slo: "http://grafana.monitoring.svc.cluster.local/d/im-dev-slo",
    });
  });

  it("a folder title that cannot be one directory is refused", () => {
    expect(provisionedFolder("infermesh · dev (dev)")).toBe("infermesh · dev (dev)");
    for (const bad of ["a/b", " padded", "", ".."]) expect(() => provisionedFolder(bad)).toThrow(/cannot be a provisioning directory name/);
  });
});

/**
 * What the in-cluster Grafana's provisioning is only right for if the pinned
 * chart, its sidecar and Grafana behave this way. Chart facts were read in
 * grafana-community/helm-charts at tag grafana-11.6.1, sidecar facts in
 * kiwigrid/k8s-sidecar at tag 2.6.0 (the chart's default sidecar.image.tag),
 * Grafana facts in grafana/grafana (pkg/services/provisioning/...).
 */
describe("upstream facts the in-cluster Grafana relies on", () => {
  async function inClusterPlan() {
    const resources = await deploy(
      stack({ grafana: { mode: "in-cluster" }, alerting: { contactPoints: { chat: { type: "slack", secret: "slackHook" } }, routes: { warning: ["chat"] } } }),
    );
    const values = (one(resources, "kubernetes:helm.sh/v3:Release", "grafana-grafana").inputs as Record<string, any>).values;
    const objects = resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap" || r.type === "kubernetes:core/v1:Secret").map((r) => r.inputs as any);
    return { values, objects };
  }

  it("charts/grafana/Chart.yaml at grafana-11.6.1: version 11.6.1, appVersion 12.4.3 (the image tag when values set none)", () => {
    expect(grafanaChart).toEqual({ repo: "https://grafana-community.github.io/helm-charts", chart: "grafana", version: "11.6.1" });
    expect(grafanaChartAppVersion).toBe("12.4.3");
  });

  it("charts/grafana/templates/_pod.tpl: each sidecar selects LABEL=LABEL_VALUE, so every object carries exactly its sidecar's label and value", async () => {
    // _pod.tpl: env LABEL from sidecar.<kind>.label and LABEL_VALUE from sidecar.<kind>.labelValue;
    // k8s-sidecar src/resources.py: label_selector = f"{label}={label_value}" if label_value else label.
    const { values, objects } = await inClusterPlan();
    const selector = (kind: string) => ({ [values.sidecar[kind].label]: values.sidecar[kind].labelValue });
    const by = (name: string) => objects.find((o) => o.metadata.name === name);
    for (const o of objects.filter((x) => x.metadata.name.startsWith("infermesh-dashboard-"))) expect(o.metadata.labels).toEqual(selector("dashboards"));
    expect(by("infermesh-grafana-datasource").metadata.labels).toEqual(selector("datasources"));
    expect(by("infermesh-grafana-alerting").metadata.labels).toEqual(selector("alerts"));
    expect(by("infermesh-grafana-contact-points").metadata.labels).toEqual(selector("alerts"));
    // Objects live where the sidecars look: searchNamespace unset means the release's namespace (k8s-sidecar src/sidecar.py reads the pod's namespace file).
    for (const o of objects) expect(o.metadata.namespace).toBe("monitoring");
    expect(values.sidecar.dashboards.searchNamespace ?? values.sidecar.datasources.searchNamespace ?? values.sidecar.alerts.searchNamespace).toBeUndefined();
  });

  it("sidecar resource kinds: dashboards and the data source from ConfigMaps, alerting from ConfigMaps and Secrets (RESOURCE env)", async () => {
    const { values, objects } = await inClusterPlan();
    expect(values.sidecar.dashboards.resource).toBe("configmap");
    expect(values.sidecar.datasources.resource).toBe("configmap");
    expect(values.sidecar.alerts.resource).toBe("both");
    // The one object holding secrets is a Secret, which only the alerts sidecar reads.
    expect(objects.find((o) => o.metadata.name === "infermesh-grafana-contact-points").type).toBe("Opaque");
  });

  it("dashboard folder: FOLDER_ANNOTATION from sidecar.dashboards.folderAnnotation, provider foldersFromFilesStructure, one path segment", async () => {
    // _pod.tpl: `FOLDER_ANNOTATION` = sidecar.dashboards.folderAnnotation (unset, the sidecar's own default
    // is k8s-sidecar-target-directory: src/sidecar.py). k8s-sidecar src/resources.py _get_destination_folder:
    // a relative annotation value is joined to FOLDER (sidecar.dashboards.folder). templates/_config.tpl
    // (grafana.configDashboardProviderData): foldersFromFilesStructure renders no folder/folderUid, and
    // grafana pkg/services/provisioning/dashboards/file_reader.go names the folder after the directory's base name.
    const { values, objects } = await inClusterPlan();
    expect(values.sidecar.dashboards.provider.foldersFromFilesStructure).toBe(true);
    expect(values.sidecar.dashboards.provider.folder ?? values.sidecar.dashboards.provider.folderUid).toBeUndefined();
    const annotation = values.sidecar.dashboards.folderAnnotation;
    const folders = objects.filter((o) => o.metadata.name.startsWith("infermesh-dashboard-")).map((o) => o.metadata.annotations[annotation]);
    expect(new Set(folders)).toEqual(new Set(["infermesh · dev (dev)"]));
    // grafana pkg/services/provisioning/alerting/rules_provisioner.go: a group's `folder` is a path split on "/",
    // each part found or created by title, so the rules land in the dashboards' folder.
    const rules = parseYaml(objects.find((o) => o.metadata.name === "infermesh-grafana-alerting").data["infermesh-rules.yaml"]);
    for (const group of rules.groups) expect(group.folder).toBe(folders[0]);
    expect(folders[0]).not.toMatch(/[/\\]/);
  });

  it("RBAC: rbac.namespaced gives the sidecars a Role in their namespace (templates/role.yaml), no ClusterRole over every Secret (templates/clusterrole.yaml)", async () => {
    const { values } = await inClusterPlan();
    expect(values.rbac).toEqual({ namespaced: true });
    // role.yaml grants configmaps/secrets get/watch/list only if the dashboards, datasources or plugins sidecar is
    // on: the alerts sidecar alone is not in that condition, so the stack's alerting relies on the others being on.
    expect(values.sidecar.dashboards.enabled || values.sidecar.datasources.enabled).toBe(true);
    expect(values.sidecar.alerts.enabled).toBe(true);
  });

  it("no volume: persistence.enabled false mounts /var/lib/grafana from an emptyDir (_pod.tpl), so everything the stack defines is provisioned", async () => {
    const { values, objects } = await inClusterPlan();
    expect(values.persistence).toEqual({ enabled: false });
    // Data source, dashboards and every alerting kind come from objects, not from grafana.db.
    const alerting = objects.find((o) => o.metadata.name === "infermesh-grafana-alerting").data;
    expect(Object.keys(alerting).sort()).toEqual(["infermesh-policies.yaml", "infermesh-rules.yaml"]);
    expect(Object.keys(revealSecrets(objects.find((o) => o.metadata.name === "infermesh-grafana-contact-points").stringData) as object)).toEqual(["infermesh-contact-points.yaml"]);
  });
});

/**
 * Which dashboard schema versions each targeted Grafana understands. The
 * frontend (grafana/grafana public/app/features/dashboard/state/DashboardMigrator.ts)
 * runs each step only `if (oldVersion < N)`, so a newer number loads
 * unmigrated; the backend (apps/dashboard/pkg/migration/migrate.go) returns
 * "schema version not migrated to target version" for a dashboard newer than
 * its schemaversion.LATEST_VERSION (migrations.go: 42 at the 12.4 line).
 */
describe("dashboard schemaVersion for every targeted Grafana", () => {
  const targets: Array<[string, string, number]> = [
    ["in-cluster (grafana chart 11.6.1)", grafanaChartAppVersion.split(".").slice(0, 2).join("."), 42],
    ["Amazon Managed Grafana 12.4", "12.4", 42],
    ["Amazon Managed Grafana 10.4", "10.4", 39],
    ["external Grafana (version unknown: the oldest supported)", oldestSupportedGrafana, 39],
  ];

  it.each(targets)("%s (Grafana %s) knows schema versions up to %i, and the dashboards declare no newer one", (_, minor, latest) => {
    expect(latestSchemaVersion[minor as keyof typeof latestSchemaVersion]).toBe(latest);
    expect(dashboardSchemaVersion).toBeLessThanOrEqual(latest);
  });

  it("the declared version is the newest every target accepts", () => {
    expect(dashboardSchemaVersion).toBe(Math.min(...targets.map(([, , latest]) => latest)));
  });

  it("every dashboard declares it, whatever the SDK wrote", () => {
    for (const dashboard of Object.values(dashboardsFor(stack({ grafana: external })))) expect((dashboard as { schemaVersion: number }).schemaVersion).toBe(39);
  });

  it("nothing in the dashboards is rewritten by migrations v40-v42, so a newer Grafana reads them exactly as written", () => {
    for (const [key, dashboard] of Object.entries(dashboardsFor(stack({ grafana: external }))))
      expect(rewrittenByNewerMigrations(dashboard as Record<string, unknown>), key).toEqual([]);
  });

  it.each([
    ["refresh not a string (v40)", { refresh: false }, /v40/],
    ["timepicker.time_options (v41)", { refresh: "1m", timepicker: { time_options: ["5m"] } }, /v41/],
    [
      "hideFrom.viz override inside a row (v42)",
      { refresh: "1m", panels: [{ type: "row", panels: [{ title: "p", fieldConfig: { overrides: [{ properties: [{ id: "custom.hideFrom", value: { viz: true } }] }] } }] }] },
      /v42 .*"p"/,
    ],
  ])("the check finds %s", (_, dashboard, says) => {
    expect(rewrittenByNewerMigrations(dashboard)).toEqual([expect.stringMatching(says)]);
  });
});
