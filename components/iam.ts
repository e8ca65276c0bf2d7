import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** IAM policy documents the stack's roles use (pure: each returns a JSON string), and the IRSA role built from them. */

/**
 * Trust policy for an AWS service. With `sourceAccount`, the service may
 * assume the role only when acting for a resource of that account (AWS's
 * cross-service confused-deputy guidance, `aws:SourceAccount`).
 */
export function serviceAssumeRolePolicy(service: "ec2.amazonaws.com" | "eks.amazonaws.com" | "grafana.amazonaws.com", sourceAccount?: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: "sts:AssumeRole",
        ...(sourceAccount !== undefined ? { Condition: { StringEquals: { "aws:SourceAccount": sourceAccount } } } : {}),
      },
    ],
  });
}

/**
 * Read access to one AMP workspace, as Grafana's SigV4 Prometheus data source
 * queries it: the four query actions of AWS's AmazonPrometheusQueryAccess
 * managed policy, on that workspace only (the managed policy allows them on
 * every workspace).
 */
export function ampQueryPolicy(workspaceArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"], Resource: workspaceArn }],
  });
}

/** Publishing to exactly these SNS topics (sorted, so the document does not change with config order). */
export function snsPublishPolicy(topicArns: string[]): string {
  if (topicArns.length === 0) throw new Error("snsPublishPolicy: no topic to grant");
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["sns:Publish"], Resource: [...new Set(topicArns)].sort() }],
  });
}

/**
 * Trust policy for IAM Roles for Service Accounts: only the named service
 * account, through the cluster's OIDC provider, may assume the role.
 */
export function irsaAssumeRolePolicy(args: {
  oidcProviderArn: string;
  /** Issuer URL, with or without `https://`. */
  oidcIssuer: string;
  namespace: string;
  serviceAccount: string;
}): string {
  const issuer = args.oidcIssuer.replace(/^https:\/\//, "");
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: args.oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${args.namespace}:${args.serviceAccount}`,
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  });
}

export interface IrsaRoleArgs {
  oidcProviderArn: pulumi.Input<string>;
  oidcIssuer: pulumi.Input<string>;
  namespace: string;
  serviceAccount: string;
}

/** An IAM role only the named Kubernetes service account can assume (see {@link irsaAssumeRolePolicy}). */
export function irsaRole(name: string, args: IrsaRoleArgs, opts: pulumi.CustomResourceOptions): aws.iam.Role {
  return new aws.iam.Role(
    name,
    {
      assumeRolePolicy: pulumi
        .all([args.oidcProviderArn, args.oidcIssuer])
        .apply(([oidcProviderArn, oidcIssuer]) => irsaAssumeRolePolicy({ oidcProviderArn, oidcIssuer, namespace: args.namespace, serviceAccount: args.serviceAccount })),
    },
    opts,
  );
}
