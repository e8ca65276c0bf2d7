/**
 * Grafana file provisioning for the in-cluster Grafana: what the grafana
 * chart's k8s-sidecar containers select, and the provisioning files (Grafana
 * `apiVersion: 1` formats) the selected ConfigMaps and Secrets hold. The
 * content is the same data source, dashboards, rule plan and routing the API
 * path sends to a managed or external Grafana, in file form. Pure: secret
 * values come in as plain strings inside `apply` and go out only inside
 * Pulumi secrets.
 */
import { stringify } from "yaml";
import type { AlertingConfig } from "../config";
import type { GrafanaRuleGroup } from "../alerts/grafanaRules";
import { integrationUid, routedSeverities, severityReceiver, type PolicyTree, type ResolvedSecrets } from "./routing";

/**
 * What the sidecars select (`<label>=<labelValue>`, in the release's own
 * namespace) and the annotation that names a dashboard's folder.
 */
export const sidecarContract = {
  labelValue: "1",
  dashboardLabel: "grafana_dashboard",
  datasourceLabel: "grafana_datasource",
  alertLabel: "grafana_alert",
  folderAnnotation: "grafana_folder",
} as const;

/**
 * The chart's `sidecar` values. Dashboards and the data source never hold a
 * secret, so those sidecars read ConfigMaps only; alerting reads both, since
 * contact points (webhook URLs, integration keys, addresses) live in a Secret.
 * Each dashboard ConfigMap names its folder in the folder annotation; with
 * `foldersFromFilesStructure` Grafana turns that directory into the folder.
 */
export function sidecarValues() {
  const select = (label: string) => ({ enabled: true, label, labelValue: sidecarContract.labelValue });
  return {
    dashboards: {
      ...select(sidecarContract.dashboardLabel),
      resource: "configmap",
      folderAnnotation: sidecarContract.folderAnnotation,
      // A dashboard whose ConfigMap is gone is deleted; UI edits are refused (the next deploy would undo them).
      provider: { foldersFromFilesStructure: true, disableDelete: false, allowUiUpdates: false },
    },
    datasources: { ...select(sidecarContract.datasourceLabel), resource: "configmap" },
    alerts: { ...select(sidecarContract.alertLabel), resource: "both" },
  };
}

/** Labels of a provisioning object for one sidecar. */
export function sidecarLabels(kind: "dashboard" | "datasource" | "alert"): Record<string, string> {
  const label = { dashboard: sidecarContract.dashboardLabel, datasource: sidecarContract.datasourceLabel, alert: sidecarContract.alertLabel }[kind];
  return { [label]: sidecarContract.labelValue };
}

/**
 * The folder every provisioned dashboard and rule group lands in, by title:
 * the dashboard provider makes it from the sidecar's directory (one path
 * segment) and the rule provisioner finds or makes it by title (`folder`, split
 * on `/`). Both look it up by title, so whichever runs first creates it and the
 * other finds it.
 */
export function provisionedFolder(title: string): string {
  if (title.includes("/") || title.trim() !== title || title === "" || title === "." || title === "..") {
    throw new Error(`folder title ${JSON.stringify(title)} cannot be a provisioning directory name (no '/', no surrounding spaces)`);
  }
  return title;
}

/** The Prometheus data source as the API path creates it (`dataSourceArgs`). */
export interface DataSourceSpec {
  type: string;
  name: string;
  uid: string;
  url: string;
  accessMode: string;
  isDefault: boolean;
  jsonDataEncoded: string;
}

/** Data source provisioning file: the same data source, uid and settings the API path creates. */
export function dataSourceFile(ds: DataSourceSpec) {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: ds.name,
        type: ds.type,
        uid: ds.uid,
        access: ds.accessMode,
        url: ds.url,
        isDefault: ds.isDefault,
        jsonData: JSON.parse(ds.jsonDataEncoded) as Record<string, unknown>,
        // Provisioned: changed only by the next deploy.
        editable: false,
      },
    ],
  };
}

/** Alert rule provisioning file: the Grafana rule plan (`grafanaRulePlan`) in the stack's folder. */
export function ruleGroupsFile(groups: readonly GrafanaRuleGroup[], folder: string) {
  return {
    apiVersion: 1,
    groups: groups.map((group) => ({
      orgId: 1,
      name: group.name,
      folder: provisionedFolder(folder),
      interval: `${group.intervalSeconds}s`,
      rules: group.rules.map((rule) => ({
        uid: rule.uid,
        title: rule.name,
        condition: rule.condition,
        data: rule.datas.map((d) => ({
          refId: d.refId,
          queryType: d.queryType,
          relativeTimeRange: d.relativeTimeRange,
          datasourceUid: d.datasourceUid,
          model: JSON.parse(d.model) as Record<string, unknown>,
        })),
        noDataState: rule.noDataState,
        execErrState: rule.execErrState,
        for: rule.for,
        annotations: rule.annotations,
        labels: rule.labels,
        isPaused: false,
        ...(rule.notificationSettings
          ? {
              notification_settings: {
                receiver: rule.notificationSettings.contactPoint,
                group_by: rule.notificationSettings.groupBies,
                repeat_interval: rule.notificationSettings.repeatInterval,
              },
            }
          : {}),
      })),
    })),
  };
}

/**
 * Contact point provisioning file: one contact point per routed severity, named
 * as on the API path, with one integration per configured contact point. Holds
 * secrets: goes into a Secret only.
 */
export function contactPointsFile(alerting: AlertingConfig, stack: string, secrets: ResolvedSecrets) {
  return {
    apiVersion: 1,
    contactPoints: routedSeverities(alerting).map(({ severity, contactPoints }) => ({
      orgId: 1,
      name: severityReceiver(stack, severity),
      receivers: contactPoints.map((cp) => {
        const uid = integrationUid(stack, severity, cp.name);
        switch (cp.type) {
          case "slack":
            return { uid, type: "slack", settings: { url: secrets[cp.name]?.webhookUrl, ...(cp.channel ? { recipient: cp.channel } : {}) }, disableResolveMessage: false };
          case "pagerduty":
            return {
              uid,
              type: "pagerduty",
              settings: { integrationKey: secrets[cp.name]?.integrationKey, severity: severity === "critical" ? "critical" : "warning" },
              disableResolveMessage: false,
            };
          case "email":
            // Grafana splits `addresses` on ',', ';' and newlines.
            return { uid, type: "email", settings: { addresses: (secrets[cp.name]?.addresses ?? []).join(";") }, disableResolveMessage: false };
          case "sns":
            // Validation allows SNS only from Amazon Managed Grafana, which is never provisioned from files.
            throw new Error(`contact point ${cp.name}: SNS is not available from an in-cluster Grafana`);
        }
      }),
    })),
  };
}

/** Notification policy provisioning file: the policy tree the API path sets, replacing the org's tree. */
export function policiesFile(tree: PolicyTree) {
  return {
    apiVersion: 1,
    policies: [
      {
        orgId: 1,
        receiver: tree.contactPoint,
        group_by: tree.groupBies,
        group_wait: tree.groupWait,
        group_interval: tree.groupInterval,
        repeat_interval: tree.repeatInterval,
        routes: tree.policies.map((p) => ({
          receiver: p.contactPoint,
          object_matchers: p.matchers.map((m) => [m.label, m.match, m.value]),
          group_by: p.groupBies,
          repeat_interval: p.repeatInterval,
          continue: p.continue,
        })),
      },
    ],
  };
}

/** A provisioning file as the sidecar writes it to disk. */
export function provisioningYaml(file: object): string {
  return stringify(file, { lineWidth: 0, aliasDuplicateObjects: false });
}
