import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import * as random from "@pulumi/random";
import * as grafana from "@pulumiverse/grafana";
import { systemNodeLabels } from "./cluster";
import type { GrafanaConfig } from "./config";
import { grafanaChart } from "./versions";

export const grafanaRelease = "grafana";
export const grafanaAdminSecret = "grafana-admin";

/** Values of the in-cluster Grafana: system nodes, no anonymous access, ClusterIP only, credentials from a Secret. */
export function inClusterGrafanaValues() {
  return {
    nodeSelector: { ...systemNodeLabels },
    admin: { existingSecret: grafanaAdminSecret, userKey: "admin-user", passwordKey: "admin-password" },
    service: { type: "ClusterIP" },
    ingress: { enabled: false },
    // Dashboards, data sources and alerts are provisioned by the stack through the API.
    persistence: { enabled: false },
    "grafana.ini": {
      "auth.anonymous": { enabled: false },
      users: { allow_sign_up: false },
      unified_alerting: { enabled: true },
    },
  };
}

/** Token name for this deploy: a new name replaces (renews) the token on every `pulumi up`. */
export function deployTokenName(deployedAt: string): string {
  return `infermesh-${deployedAt.replace(/[^0-9]/g, "").slice(0, 14)}`;
}

export interface GrafanaEndpointArgs {
  config: GrafanaConfig;
  stack: string;
  deployedAt: string;
  /** Monitoring namespace (in-cluster mode). */
  namespace: pulumi.Input<string>;
  /** Managed mode: also allow SNS as a notification destination. */
  sns: boolean;
  protect: boolean;
  /** In-cluster mode: what the Grafana pod needs first. */
  dependsOn?: pulumi.Resource[];
  /** In-cluster mode: the cluster the stack created (Grafana keeps nothing outside it). */
  cluster?: pulumi.Resource;
}

/**
 * Where the stack's Grafana content goes, and the explicit provider every
 * Grafana resource uses: an Amazon Managed Grafana workspace with a token the
 * stack renews on every deploy, an external Grafana with a token from secret
 * config, or Grafana installed in the cluster.
 */
export class GrafanaEndpoint extends pulumi.ComponentResource {
  static readonly type = "infermesh:grafana:Endpoint";
  readonly provider: grafana.Provider;
  readonly url: pulumi.Output<string>;
  readonly workspace?: aws.grafana.Workspace;

  constructor(name: string, args: GrafanaEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GrafanaEndpoint.type, name, {}, opts);
    const parent = { parent: this };
    const cfg = args.config;
    let url: pulumi.Output<string>;
    let auth: pulumi.Output<string>;
    let dependsOn: pulumi.Resource[] = [];

    if (cfg.mode === "managed") {
      const workspace = new aws.grafana.Workspace(
        `${name}-workspace`,
        {
          name: `infermesh-${args.stack}`,
          accountAccessType: "CURRENT_ACCOUNT",
          authenticationProviders: cfg.authentication,
          permissionType: "SERVICE_MANAGED",
          dataSources: ["PROMETHEUS"],
          ...(args.sns ? { notificationDestinations: ["SNS"] } : {}),
          grafanaVersion: cfg.grafanaVersion,
          configuration: JSON.stringify({ unifiedAlerting: { enabled: true }, plugins: { pluginAdminEnabled: false } }),
        },
        { parent: this, protect: args.protect },
      );
      const account = new aws.grafana.WorkspaceServiceAccount(
        `${name}-automation`,
        { workspaceId: workspace.id, grafanaRole: "ADMIN", name: "infermesh-pulumi" },
        parent,
      );
      // Renewed on every deploy (its name carries the deploy time), so an
      // expired token never blocks `up`, and `destroy` runs within its lifetime.
      const token = new aws.grafana.WorkspaceServiceAccountToken(
        `${name}-token`,
        {
          workspaceId: workspace.id,
          serviceAccountId: account.serviceAccountId,
          name: deployTokenName(args.deployedAt),
          secondsToLive: cfg.tokenTtlDays * 86400,
        },
        parent,
      );
      this.workspace = workspace;
      url = pulumi.interpolate`https://${workspace.endpoint}`;
      auth = pulumi.secret(token.key);
    } else if (cfg.mode === "external") {
      url = pulumi.output(cfg.url);
      auth = cfg.token;
    } else {
      const password = new random.RandomPassword(`${name}-admin-password`, { length: 32, special: false }, parent);
      const secret = new k8s.core.v1.Secret(
        `${name}-admin`,
        {
          metadata: { name: grafanaAdminSecret, namespace: args.namespace },
          type: "Opaque",
          stringData: { "admin-user": "admin", "admin-password": pulumi.secret(password.result) },
        },
        { parent: this, dependsOn: args.dependsOn, ...(args.cluster ? { deletedWith: args.cluster } : {}) },
      );
      const release = chartRelease(
        `${name}-grafana`,
        { chart: grafanaChart, release: grafanaRelease, namespace: args.namespace, values: inClusterGrafanaValues() },
        { parent: this, dependsOn: [secret, ...(args.dependsOn ?? [])], ...(args.cluster ? { deletedWith: args.cluster } : {}) },
      );
      dependsOn = [release];
      url = pulumi.output(cfg.url);
      auth = pulumi.secret(pulumi.interpolate`admin:${password.result}`);
    }

    this.url = url;
    this.provider = new grafana.Provider(`${name}-provider`, { url, auth }, { parent: this, dependsOn });
    this.registerOutputs({ url: this.url });
  }
}
