/**
 * A kubeconfig for an EKS cluster that authenticates with `aws eks get-token`,
 * so it carries no credential of its own (it is still exported as a secret:
 * it names the endpoint and CA of a private control plane).
 */
export function eksKubeconfig(args: { clusterName: string; endpoint: string; certificateAuthority: string; region: string }): string {
  const user = `${args.clusterName}-aws`;
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: args.clusterName, cluster: { server: args.endpoint, "certificate-authority-data": args.certificateAuthority } }],
    contexts: [{ name: args.clusterName, context: { cluster: args.clusterName, user } }],
    "current-context": args.clusterName,
    users: [
      {
        name: user,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", args.clusterName, "--region", args.region, "--output", "json"],
            interactiveMode: "Never",
          },
        },
      },
    ],
  });
}
