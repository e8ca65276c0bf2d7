import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** IAM policy documents the stack's roles use (pure: each returns a JSON string), and the IRSA role built from them. */

export function serviceAssumeRolePolicy(service: "ec2.amazonaws.com" | "eks.amazonaws.com"): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
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
