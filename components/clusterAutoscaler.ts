import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import type { AutoscalerConfig } from "../config";
import { irsaRole } from "./iam";
import { clusterAutoscalerChartSource, clusterAutoscalerRelease } from "../domain/versions";
import { autoscalerServiceAccount, clusterAutoscalerPolicy, clusterAutoscalerValues } from "./clusterAutoscaler.values";
import { goesWith, type Teardown } from "./options";

export const autoscalerNamespace = "kube-system";
export interface ClusterAutoscalerArgs {
  clusterName: string;
  region: string;
  /** Minor version, e.g. `1.34`; an attached cluster's comes from AWS. */
  kubernetesVersion: pulumi.Input<string>;
  autoscaler: AutoscalerConfig;
  oidcProviderArn: pulumi.Input<string>;
  oidcIssuer: pulumi.Input<string>;
  dependsOn?: pulumi.Resource[];
  /** The release goes with the cluster; its IAM role does not: that lives outside. */
  teardown: Teardown;
}

/** Cluster Autoscaler on the system nodes, with an IRSA role that can resize only this cluster's tagged groups. */
export class ClusterAutoscaler extends pulumi.ComponentResource {
  static readonly type = "infermesh:cluster:ClusterAutoscaler";

  constructor(name: string, args: ClusterAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ClusterAutoscaler.type, name, {}, opts);
    const role = irsaRole(
      `${name}-irsa`,
      { oidcProviderArn: args.oidcProviderArn, oidcIssuer: args.oidcIssuer, namespace: autoscalerNamespace, serviceAccount: autoscalerServiceAccount },
      { parent: this },
    );
    const policy = new aws.iam.RolePolicy(`${name}-irsa`, { role: role.id, policy: clusterAutoscalerPolicy(args.clusterName) }, { parent: this });
    chartRelease(
      name,
      {
        chart: { ...clusterAutoscalerChartSource, version: pulumi.output(args.kubernetesVersion).apply((v) => clusterAutoscalerRelease(v).chart) },
        release: "cluster-autoscaler",
        namespace: autoscalerNamespace,
        values: pulumi
          .all([role.arn, args.kubernetesVersion])
          .apply(([roleArn, kubernetesVersion]) =>
            clusterAutoscalerValues({ clusterName: args.clusterName, region: args.region, autoscaler: args.autoscaler, kubernetesVersion, roleArn }),
          ),
      },
      { parent: this, dependsOn: [policy, ...(args.dependsOn ?? [])], ...goesWith(args.teardown.cluster) },
    );
    this.registerOutputs({});
  }
}
