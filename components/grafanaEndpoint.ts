import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as grafana from "@pulumiverse/grafana";
import type { GrafanaConfig } from "../config";
import { ampQueryPolicy, serviceAssumeRolePolicy } from "./iam";

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
  /** Managed mode: the stack's AMP workspace, which the workspace role may query (AMP backend only). */
  ampWorkspaceArn?: pulumi.Input<string>;
  protect: boolean;
}

/**
 * Where the stack's Grafana content goes through the API, and the explicit
 * provider every Grafana resource uses: an Amazon Managed Grafana workspace
 * with a token the stack renews on every deploy, or an external Grafana with a
 * token from secret config.
 *
 * The managed workspace gets a role the stack owns, passed as `roleArn` with
 * `permissionType: CUSTOMER_MANAGED`. AWS's CreateWorkspace reference
 * (`permissionType`; same text in aws/aws-sdk-js clients/grafana.d.ts at
 * 65157471): a workspace created through the API, CLI or CloudFormation (as
 * Pulumi does) gets no role from Amazon Managed Grafana; the caller manages
 * the role and passes it, SERVICE_MANAGED role creation is console-only, and
 * API callers use CUSTOMER_MANAGED only. Without a role the AMP data source
 * (SigV4 with the workspace role) and SNS contact points cannot work.
 */
export class GrafanaEndpoint extends pulumi.ComponentResource {
  static readonly type = "infermesh:grafana:Endpoint";
  readonly provider: grafana.Provider;
  readonly url: pulumi.Output<string>;
  readonly workspace?: aws.grafana.Workspace;
  /** Managed mode: the role the workspace uses for AWS data sources and notification channels. */
  readonly workspaceRole?: aws.iam.Role;

  constructor(name: string, args: GrafanaEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GrafanaEndpoint.type, name, {}, opts);
    const parent = { parent: this };
    const cfg = args.config;
    let url: pulumi.Output<string>;
    let auth: pulumi.Output<string>;

    if (cfg.mode === "managed") {
      // aws:SourceAccount only: an aws:SourceArn naming the workspace would need the
      // workspace's ARN in the role the workspace is created with (a cycle).
      const identity = aws.getCallerIdentityOutput({}, { parent: this });
      const role = new aws.iam.Role(
        `${name}-workspace-role`,
        { assumeRolePolicy: identity.accountId.apply((account) => serviceAssumeRolePolicy("grafana.amazonaws.com", account)) },
        { parent: this, protect: args.protect },
      );
      if (args.ampWorkspaceArn !== undefined) {
        new aws.iam.RolePolicy(`${name}-amp-query`, { role: role.id, policy: pulumi.output(args.ampWorkspaceArn).apply(ampQueryPolicy) }, parent);
      }
      const workspace = new aws.grafana.Workspace(
        `${name}-workspace`,
        {
          name: `infermesh-${args.stack}`,
          accountAccessType: "CURRENT_ACCOUNT",
          authenticationProviders: cfg.authentication,
          permissionType: "CUSTOMER_MANAGED",
          roleArn: role.arn,
          dataSources: ["PROMETHEUS"],
          ...(args.sns ? { notificationDestinations: ["SNS"] } : {}),
          grafanaVersion: cfg.grafanaVersion,
          configuration: JSON.stringify({ unifiedAlerting: { enabled: true }, plugins: { pluginAdminEnabled: false } }),
        },
        { parent: this, protect: args.protect },
      );
      const account = new aws.grafana.WorkspaceServiceAccount(`${name}-automation`, { workspaceId: workspace.id, grafanaRole: "ADMIN", name: "infermesh-pulumi" }, parent);
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
      this.workspaceRole = role;
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
