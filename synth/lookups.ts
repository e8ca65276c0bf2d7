import type { CallHandler } from "./runtime";

/**
 * Answers for the provider lookups the program makes: the deploying account
 * (for an Amazon Managed Grafana's workspace role), and the cluster when it
 * attaches to an existing one. Offline there is no AWS to ask, so the values
 * are recognisable stand-ins (`*.synth.invalid`, account 000000000000).
 */
export const offlineLookups: Record<string, CallHandler> = {
  "aws:index/getCallerIdentity:getCallerIdentity": () => ({
    id: "000000000000",
    accountId: "000000000000",
    arn: "arn:aws:iam::000000000000:role/synth-deployer",
    userId: "AROASYNTHDEPLOYER:synth",
  }),
  "aws:eks/getCluster:getCluster": (inputs) => {
    const name = String(inputs.name);
    return {
      id: name,
      name,
      version: "1.33",
      arn: `arn:aws:eks:synth:000000000000:cluster/${name}`,
      endpoint: `https://${name}.eks.synth.invalid`,
      certificateAuthorities: [{ data: "c3ludGgtY2E=" }],
      identities: [{ oidcs: [{ issuer: `https://oidc.eks.synth.invalid/id/${name}` }] }],
      vpcConfig: { subnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b"], vpcId: "vpc-00000000000000000" },
    };
  },
  "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": (inputs) => ({
    arn: `arn:aws:iam::000000000000:oidc-provider/${String(inputs.url).replace(/^https:\/\//, "")}`,
    url: inputs.url,
    clientIdLists: ["sts.amazonaws.com"],
  }),
};
