import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as grafana from "@pulumiverse/grafana";
import type { GrafanaConfig } from "./config";

/** Token name for this deploy: a new name replaces (renews) the token on every `pulumi up`. */
export function deployTokenName(deployedAt: string): string {
  return `infermesh-${deployedAt.replace(/[^0-9]/g, "").slice(0, 14)}`;
}

/** A Grafana the stack reaches through its API (an in-cluster Grafana is provisioned from Kubernetes objects instead). */
export type ApiGrafanaConfig = Exclude<GrafanaConfig, { mode: "in-cluster" }>;

export interface GrafanaEndpointArgs {
  config: ApiGrafanaConfig;
  stack: string;
  deployedAt: string;
  /** Managed mode: also allow SNS as a notification destination. */
  sns: boolean;
  protect: boolean;
}

/**
 * Where the stack's Grafana content goes through the API, and the explicit
 * provider every Grafana resource uses: an Amazon Managed Grafana workspace
 * with a token the stack renews on every deploy, or an external Grafana with a
 * token from secret config.
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
    } else {
      url = pulumi.output(cfg.url);
      auth = cfg.token;
    }

    this.url = url;
    this.provider = new grafana.Provider(`${name}-provider`, { url, auth }, { parent: this });
    this.registerOutputs({ url: this.url });
  }
}
