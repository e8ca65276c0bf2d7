/**
 * The in-cluster Grafana's Helm values and names. Pure.
 */
import { systemNodeLabels } from "../domain/scheduling";
import { sidecarValues } from "./grafanaProvisioning";

/**
 * Values of the in-cluster Grafana: system nodes, no anonymous access,
 * ClusterIP only, credentials from a Secret, content from the sidecars.
 */
export function inClusterGrafanaValues() {
  return {
    nodeSelector: { ...systemNodeLabels },
    admin: { existingSecret: grafanaAdminSecret, userKey: "admin-user", passwordKey: "admin-password" },
    service: { type: "ClusterIP" },
    ingress: { enabled: false },
    // No volume: everything the stack defines (data source, folder, dashboards,
    // rules, contact points, policies) is provisioned from Kubernetes objects
    // and re-read on every start, so a restart loses none of it, and rules
    // dropped from the catalog disappear with it (Grafana never deletes a
    // provisioned rule whose file entry is gone). What does live only in
    // grafana.db is lost on restart: alert state (pending `for` timers restart,
    // firing alerts notify once more), silences, the notification log and
    // annotations. A volume would keep those at the price of an EBS volume
    // pinned to one zone and a ReadWriteOnce rollout; see the README.
    persistence: { enabled: false },
    // The sidecars read ConfigMaps and Secrets of their own namespace: a Role there, not a ClusterRole over every Secret.
    rbac: { namespaced: true },
    sidecar: sidecarValues(),
    "grafana.ini": {
      "auth.anonymous": { enabled: false },
      users: { allow_sign_up: false },
      unified_alerting: { enabled: true },
    },
  };
}

export const grafanaAdminSecret = "grafana-admin";
