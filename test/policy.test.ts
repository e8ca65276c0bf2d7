import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as aws from "@pulumi/aws";
import * as grpc from "@grpc/grpc-js";
import { unknownCheckingProxy, type Policies, type PolicyResource, type ResourceValidationArgs, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { AnalyzeRequest, AnalyzeStackRequest, AnalyzerResource, AnalyzerResourceOptions } from "@pulumi/pulumi/proto/analyzer_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monitoringNamespace } from "../domain/naming";
import { ampPublishStatement } from "../components/alertTopics";
import { ampQueryPolicy, serviceAssumeRolePolicy, snsPublishPolicy } from "../components/iam";
import { gpuTaint } from "../domain/scheduling";
import { environmentKinds as programEnvironmentKinds } from "../domain/environments";
import { deployPathTags } from "../components/cluster";
import { blocking, checkPlan, formatResult, policyResources, readPlan, resourceValidationArgs, type PackConfig } from "../policy/planAdapter";
import {
  budgetWithinLimits,
  costBudgetType,
  defaultMonitoringNamespaces,
  deployEndpointTag,
  deployPathReachesCluster,
  deployRunnerTag,
  ebsEncrypted,
  environmentKinds,
  ephemeralStackLifecycle,
  gpuNodeGroupTaint,
  iamNoWildcardActions,
  infermeshPolicies,
  isWildcardAction,
  launchTemplateImdsv2,
  monitoringEndpointsAuthenticated,
  plaintextAt,
  policyNames,
  prodStatefulProtected,
  secretsNotPlaintext,
} from "../policy/policies";
import type { Plan, PlanResource } from "../synth/plan";
import { secretMarker } from "../synth/runtime";
import { projectRoot } from "../synth/synthesize";

// ---------------------------------------------------------------------------
// Arguments as the policy server (@pulumi/policy server.js) builds them from
// the engine's request: props behind the unknown-checking proxy, options with
// every field the server fills, type tests by type token.

class NotApplicable extends Error {}

const urnOf = (type: string, name: string) => `urn:pulumi:dev::infermesh::${type}::${name}`;

function isTypeOf(type: string, cls: unknown): boolean {
  return (cls as { __pulumiType?: string }).__pulumiType === type;
}

function engineOpts(protect = false, parent?: string) {
  return {
    protect,
    ignoreChanges: [] as string[],
    aliases: [] as string[],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [] as string[],
    ...(parent ? { parent } : {}),
  };
}

function resourceArgs(type: string, props: Record<string, unknown>, name = "r", config: Record<string, unknown> = {}): ResourceValidationArgs {
  const proxied = unknownCheckingProxy(props) as Record<string, any>;
  return {
    type,
    props: proxied,
    urn: urnOf(type, name),
    name,
    opts: engineOpts(),
    stackTags: new Map(),
    isType: (cls) => isTypeOf(type, cls),
    asType: ((cls: unknown) => (isTypeOf(type, cls) ? proxied : undefined)) as ResourceValidationArgs["asType"],
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/** Runs one resource policy like the server: every validation, violations collected, not-applicable swallowed. */
async function violationsOf(policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>): Promise<string[]> {
  const found: string[] = [];
  const validations = policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
  for (const validate of validations) {
    try {
      await validate(resourceArgs(type, props), (message) => found.push(message));
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  }
  return found;
}

interface StackResourceSpec {
  type: string;
  name: string;
  props: Record<string, unknown>;
  protect?: boolean;
}

function stackResource(spec: StackResourceSpec): PolicyResource {
  const props = unknownCheckingProxy(spec.props) as Record<string, any>;
  return {
    type: spec.type,
    props,
    urn: urnOf(spec.type, spec.name),
    name: spec.name,
    opts: engineOpts(spec.protect ?? false),
    dependencies: [],
    propertyDependencies: {},
    isType: (cls) => isTypeOf(spec.type, cls),
    asType: ((cls: unknown) => (isTypeOf(spec.type, cls) ? props : undefined)) as PolicyResource["asType"],
  };
}

/** Runs one stack policy; `undefined` when it reported itself not applicable. */
async function stackViolations(
  policy: StackValidationPolicy,
  resources: StackResourceSpec[],
  config: Record<string, unknown> = {},
): Promise<Array<{ message: string; urn?: string }> | undefined> {
  const found: Array<{ message: string; urn?: string }> = [];
  try {
    await policy.validateStack(
      {
        resources: resources.map(stackResource),
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
          throw new NotApplicable(reason);
        },
      },
      (message, urn) => found.push({ message, ...(urn ? { urn } : {}) }),
    );
  } catch (err) {
    if (err instanceof NotApplicable) return undefined;
    throw err;
  }
  return found;
}

/** The AWS provider as the engine sees it: nested inputs JSON-encoded by the provider SDK. */
function awsProvider(tags: Record<string, string>, name = "aws"): StackResourceSpec {
  return { type: "pulumi:providers:aws", name, props: { region: "us-west-2", defaultTags: JSON.stringify({ tags }) } };
}

// ---------------------------------------------------------------------------

describe("gpu-node-group-taint", () => {
  const policy = gpuNodeGroupTaint();
  const type = "aws:eks/nodeGroup:NodeGroup";
  const gpuLabels = { "infermesh.io/node-class": "gpu", "infermesh.io/pool": "l4" };

  it("passes a GPU node group with the program's taint", async () => {
    expect(await violationsOf(policy, type, { labels: gpuLabels, taints: [{ ...gpuTaint }] })).toEqual([]);
  });

  it("passes a system node group without taints", async () => {
    expect(await violationsOf(policy, type, { labels: { "infermesh.io/node-class": "system" } })).toEqual([]);
  });

  it("flags a GPU node group without the taint, or with another effect", async () => {
    expect(await violationsOf(policy, type, { labels: gpuLabels })).toEqual([expect.stringContaining("pool l4 has no nvidia.com/gpu taint")]);
    expect(await violationsOf(policy, type, { labels: gpuLabels, taints: [{ key: "nvidia.com/gpu", value: "true", effect: "PREFER_NO_SCHEDULE" }] })).toHaveLength(1);
  });

  it("ignores other resource types", async () => {
    expect(await violationsOf(policy, "aws:ec2/launchTemplate:LaunchTemplate", { labels: gpuLabels })).toEqual([]);
  });
});

describe("launch-template-imdsv2", () => {
  const policy = launchTemplateImdsv2();
  const type = "aws:ec2/launchTemplate:LaunchTemplate";

  it("passes httpTokens: required", async () => {
    expect(await violationsOf(policy, type, { metadataOptions: { httpEndpoint: "enabled", httpTokens: "required" } })).toEqual([]);
  });

  it("flags optional tokens and templates without metadata options", async () => {
    expect(await violationsOf(policy, type, { metadataOptions: { httpTokens: "optional" } })).toEqual([expect.stringContaining('"optional"')]);
    expect(await violationsOf(policy, type, {})).toEqual([expect.stringContaining("null")]);
  });
});

describe("ebs-encrypted", () => {
  const policy = ebsEncrypted();

  it("passes encrypted launch template devices (the provider types `encrypted` as a string)", async () => {
    const props = {
      blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeSize: 200 } },
        { deviceName: "/dev/sdb", virtualName: "ephemeral0" },
      ],
    };
    expect(await violationsOf(policy, "aws:ec2/launchTemplate:LaunchTemplate", props)).toEqual([]);
  });

  it("flags unencrypted launch template devices", async () => {
    const props = {
      blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { volumeSize: 200 } },
        { deviceName: "/dev/xvdb", ebs: { encrypted: "false" } },
      ],
    };
    expect(await violationsOf(policy, "aws:ec2/launchTemplate:LaunchTemplate", props)).toHaveLength(2);
  });

  it("checks EBS volumes", async () => {
    expect(await violationsOf(policy, "aws:ebs/volume:Volume", { availabilityZone: "us-west-2a", encrypted: true })).toEqual([]);
    expect(await violationsOf(policy, "aws:ebs/volume:Volume", { availabilityZone: "us-west-2a" })).toHaveLength(1);
  });

  it("checks EBS StorageClasses and leaves other provisioners alone", async () => {
    const type = "kubernetes:storage.k8s.io/v1:StorageClass";
    expect(await violationsOf(policy, type, { metadata: { name: "gp3" }, provisioner: "ebs.csi.aws.com", parameters: { type: "gp3", encrypted: "true" } })).toEqual([]);
    expect(await violationsOf(policy, type, { metadata: { name: "gp3" }, provisioner: "ebs.csi.aws.com", parameters: { type: "gp3" } })).toHaveLength(1);
    expect(await violationsOf(policy, type, { metadata: { name: "efs" }, provisioner: "efs.csi.aws.com", parameters: {} })).toEqual([]);
  });
});

describe("monitoring-endpoints-authenticated", () => {
  const policy = monitoringEndpointsAuthenticated();
  const release = "kubernetes:helm.sh/v3:Release";
  const anonymous = { "grafana.ini": { "auth.anonymous": { enabled: true } } };

  it("uses the namespace the program installs monitoring into", () => {
    expect(defaultMonitoringNamespaces).toEqual([monitoringNamespace]);
  });

  it("flags a Grafana release exposed through a LoadBalancer or an ingress with anonymous access", async () => {
    expect(await violationsOf(policy, release, { name: "grafana", chart: "grafana", values: { ...anonymous, service: { type: "LoadBalancer" } } })).toEqual([
      expect.stringContaining("public LoadBalancer service with anonymous access"),
    ]);
    expect(await violationsOf(policy, release, { name: "grafana", chart: "grafana/grafana", values: { ...anonymous, ingress: { enabled: true } } })).toHaveLength(1);
  });

  it("passes Grafana with a login, or only inside the cluster", async () => {
    expect(
      await violationsOf(policy, release, { chart: "grafana", values: { "grafana.ini": { "auth.anonymous": { enabled: false } }, service: { type: "LoadBalancer" } } }),
    ).toEqual([]);
    expect(await violationsOf(policy, release, { chart: "grafana", values: { ...anonymous, service: { type: "ClusterIP" }, ingress: { enabled: false } } })).toEqual([]);
  });

  it("flags a public Prometheus or Alertmanager, which have no login", async () => {
    const values = { grafana: { enabled: false }, prometheus: { service: { type: "LoadBalancer" } }, alertmanager: { ingress: { enabled: true } } };
    const found = await violationsOf(policy, release, { name: "kps", chart: "kube-prometheus-stack", values });
    expect(found).toEqual([expect.stringContaining("Prometheus has no authentication"), expect.stringContaining("Alertmanager has no authentication")]);
  });

  it("passes an internal load balancer and an authenticating ingress", async () => {
    const values = {
      grafana: { enabled: false },
      prometheus: { service: { type: "LoadBalancer", annotations: { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" } } },
      alertmanager: { ingress: { enabled: true, annotations: { "nginx.ingress.kubernetes.io/auth-url": "https://oauth2.example/oauth2/auth" } } },
    };
    expect(await violationsOf(policy, release, { chart: "kube-prometheus-stack", values })).toEqual([]);
  });

  it("requires authentication providers on an Amazon Managed Grafana workspace", async () => {
    const type = "aws:grafana/workspace:Workspace";
    expect(await violationsOf(policy, type, { accountAccessType: "CURRENT_ACCOUNT", authenticationProviders: ["AWS_SSO"], permissionType: "SERVICE_MANAGED" })).toEqual([]);
    expect(await violationsOf(policy, type, { accountAccessType: "CURRENT_ACCOUNT", authenticationProviders: [], permissionType: "SERVICE_MANAGED" })).toHaveLength(1);
  });

  it("flags a public LoadBalancer Service in the monitoring namespace only", async () => {
    const type = "kubernetes:core/v1:Service";
    const spec = { type: "LoadBalancer", ports: [{ port: 80 }] };
    expect(await violationsOf(policy, type, { metadata: { name: "grafana", namespace: "monitoring" }, spec })).toEqual([expect.stringContaining("monitoring/grafana")]);
    expect(await violationsOf(policy, type, { metadata: { name: "web", namespace: "serving" }, spec })).toEqual([]);
    const internal = { name: "grafana", namespace: "monitoring", annotations: { "service.beta.kubernetes.io/aws-load-balancer-internal": "true" } };
    expect(await violationsOf(policy, type, { metadata: internal, spec })).toEqual([]);
    expect(await violationsOf(policy, type, { metadata: { name: "grafana", namespace: "monitoring" }, spec: { type: "ClusterIP" } })).toEqual([]);
  });

  it("flags an Ingress into the monitoring namespace without authentication", async () => {
    const type = "kubernetes:networking.k8s.io/v1:Ingress";
    expect(await violationsOf(policy, type, { metadata: { name: "prometheus", namespace: "monitoring" }, spec: {} })).toHaveLength(1);
    expect(
      await violationsOf(policy, type, { metadata: { name: "prometheus", namespace: "monitoring", annotations: { "alb.ingress.kubernetes.io/auth-type": "oidc" } }, spec: {} }),
    ).toEqual([]);
  });
});

describe("iam-no-wildcard-actions", () => {
  const policy = iamNoWildcardActions();
  const document = (statement: unknown) => JSON.stringify({ Version: "2012-10-17", Statement: statement });

  it("recognizes wildcard actions", () => {
    expect(["*", "s3:*", "aps:*"].every(isWildcardAction)).toBe(true);
    expect(["aps:RemoteWrite", "s3:Get*", "ec2:Describe*"].some(isWildcardAction)).toBe(false);
  });

  it("passes the program's AMP writer policy", async () => {
    const props = { role: "writer", policy: document([{ Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: "arn:aws:aps:us-west-2:111122223333:workspace/ws-1" }]) };
    expect(await violationsOf(policy, "aws:iam/rolePolicy:RolePolicy", props)).toEqual([]);
  });

  it("passes the Grafana workspace role's policies: AMP queries on one workspace, publish on named topics", async () => {
    const amp = { role: "grafana", policy: ampQueryPolicy("arn:aws:aps:us-west-2:111122223333:workspace/ws-1") };
    const sns = { role: "grafana", policy: snsPublishPolicy(["arn:aws:sns:us-west-2:111122223333:ops", "arn:aws:sns:us-west-2:111122223333:grafana-infermesh-staging-ops"]) };
    expect(await violationsOf(policy, "aws:iam/rolePolicy:RolePolicy", amp)).toEqual([]);
    expect(await violationsOf(policy, "aws:iam/rolePolicy:RolePolicy", sns)).toEqual([]);
    expect(await violationsOf(policy, "aws:iam/role:Role", { assumeRolePolicy: serviceAssumeRolePolicy("grafana.amazonaws.com", "111122223333") })).toEqual([]);
    expect(() => snsPublishPolicy([])).toThrow("no topic to grant");
  });

  it("flags `*` and `service:*` in role policies and managed policies", async () => {
    expect(await violationsOf(policy, "aws:iam/rolePolicy:RolePolicy", { role: "r", policy: document({ Effect: "Allow", Action: "*", Resource: "*" }) })).toEqual([
      expect.stringContaining("allows *"),
    ]);
    // A document given as an object instead of JSON text.
    const props = { policy: { Version: "2012-10-17", Statement: [{ Sid: "Nodes", Effect: "Allow", Action: ["ec2:DescribeInstances", "ec2:*"], Resource: "*" }] } };
    expect(await violationsOf(policy, "aws:iam/policy:Policy", props)).toEqual([expect.stringContaining("(Nodes) allows ec2:*")]);
  });

  it("allows wildcards in Deny statements", async () => {
    expect(await violationsOf(policy, "aws:iam/policy:Policy", { policy: document([{ Effect: "Deny", Action: "*", Resource: "*" }]) })).toEqual([]);
  });

  it("flags inline role policies, NotAction grants, AdministratorAccess and unreadable documents", async () => {
    const role = { assumeRolePolicy: "{}", inlinePolicies: [{ name: "all", policy: document([{ Effect: "Allow", Action: "iam:*", Resource: "*" }]) }] };
    expect(await violationsOf(policy, "aws:iam/role:Role", role)).toHaveLength(1);
    expect(await violationsOf(policy, "aws:iam/policy:Policy", { policy: document([{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }]) })).toHaveLength(1);
    expect(await violationsOf(policy, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })).toHaveLength(
      1,
    );
    expect(await violationsOf(policy, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy" })).toEqual(
      [],
    );
    expect(await violationsOf(policy, "aws:iam/rolePolicy:RolePolicy", { role: "r", policy: "not json" })).toHaveLength(1);
  });
});

describe("iam-no-wildcard-actions on SNS topic policies", () => {
  const policy = iamNoWildcardActions();
  const topic = "arn:aws:sns:us-west-2:111122223333:grafana-infermesh-dev-pager";
  const workspace = "arn:aws:aps:us-west-2:111122223333:workspace/ws-1";
  const document = (...statements: unknown[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

  it("passes the grant the program gives AMP's alert manager", async () => {
    const props = { arn: topic, policy: document(ampPublishStatement({ stack: "dev", topicArn: topic, workspaceArn: workspace })) };
    expect(await violationsOf(policy, "aws:sns/topicPolicy:TopicPolicy", props)).toEqual([]);
  });

  it("flags wildcard actions, any-principal grants and service grants without a source condition", async () => {
    const grant = {
      Effect: "Allow",
      Principal: { Service: "aps.amazonaws.com" },
      Action: ["sns:Publish"],
      Resource: topic,
      Condition: { StringEquals: { "aws:SourceAccount": "111122223333" } },
    };
    expect(await violationsOf(policy, "aws:sns/topicPolicy:TopicPolicy", { arn: topic, policy: document({ ...grant, Action: "sns:*" }) })).toEqual([
      expect.stringContaining("allows sns:*"),
    ]);
    expect(await violationsOf(policy, "aws:sns/topicPolicy:TopicPolicy", { arn: topic, policy: document({ ...grant, Principal: "*" }) })).toEqual([
      expect.stringContaining('any principal ("*")'),
    ]);
    expect(await violationsOf(policy, "aws:sns/topicPolicy:TopicPolicy", { arn: topic, policy: document({ ...grant, Principal: { AWS: ["*"] } }) })).toEqual([
      expect.stringContaining('any principal ("*")'),
    ]);
    const { Condition: _dropped, ...unconditioned } = grant;
    expect(await violationsOf(policy, "aws:sns/topicPolicy:TopicPolicy", { arn: topic, policy: document(unconditioned) })).toEqual([
      expect.stringContaining("allows aps.amazonaws.com without an aws:SourceArn or aws:SourceAccount condition"),
    ]);
    // The same checks on a policy given inline to the topic.
    expect(await violationsOf(policy, "aws:sns/topic:Topic", { name: "t", policy: document(unconditioned) })).toHaveLength(1);
    expect(await violationsOf(policy, "aws:sns/topic:Topic", { name: "t" })).toEqual([]);
  });
});

describe("ephemeral-stack-lifecycle", () => {
  const policy = ephemeralStackLifecycle();
  const cluster: StackResourceSpec = { type: "aws:eks/cluster:Cluster", name: "cluster", props: { name: "infermesh-test-x", deletionProtection: false } };

  it("passes an ephemeral stack with expires-at and nothing protected", async () => {
    expect(await stackViolations(policy, [awsProvider({ environment: "ephemeral", "expires-at": "2026-12-31T00:00:00Z" }), cluster])).toEqual([]);
  });

  it("flags a missing or malformed expires-at tag on the provider", async () => {
    expect(await stackViolations(policy, [awsProvider({ environment: "ephemeral" }), cluster])).toEqual([
      { message: expect.stringContaining("no expires-at default tag"), urn: urnOf("pulumi:providers:aws", "aws") },
    ]);
    expect(await stackViolations(policy, [awsProvider({ environment: "ephemeral", "expires-at": "tomorrow" }), cluster])).toEqual([
      expect.objectContaining({ message: expect.stringContaining("not an ISO-8601 time") }),
    ]);
  });

  it("flags protected resources and EKS deletion protection", async () => {
    const found = await stackViolations(policy, [
      awsProvider({ environment: "ephemeral", "expires-at": "2026-12-31T00:00:00Z" }),
      { ...cluster, protect: true, props: { name: "c", deletionProtection: true } },
    ]);
    expect(found?.map((v) => v.message)).toEqual([expect.stringContaining("is protected"), expect.stringContaining("deletion protection")]);
  });

  it("does not apply to other environments; policy config overrides the tag", async () => {
    expect(await stackViolations(policy, [awsProvider({ environment: "dev" }), { ...cluster, protect: true }])).toBeUndefined();
    expect(await stackViolations(policy, [awsProvider({ environment: "dev" }), cluster], { environment: "ephemeral" })).toEqual([
      expect.objectContaining({ message: expect.stringContaining("no expires-at") }),
    ]);
  });

  it("reports a stack whose environment cannot be told", async () => {
    expect(await stackViolations(policy, [cluster])).toEqual([{ message: expect.stringContaining("cannot tell the stack's environment kind") }]);
    expect(await stackViolations(policy, [awsProvider({ environment: "dev" }), awsProvider({ environment: "ephemeral" }, "aws-east"), cluster])).toEqual([
      { message: expect.stringContaining("disagree") },
    ]);
  });
});

it("knows the program's environment kinds", () => {
  expect([...environmentKinds]).toEqual([...programEnvironmentKinds]);
});

describe("prod-stateful-protected", () => {
  const policy = prodStatefulProtected();
  const stateful: StackResourceSpec[] = [
    { type: "aws:eks/cluster:Cluster", name: "cluster", props: { name: "infermesh-prod" }, protect: true },
    { type: "aws:amp/workspace:Workspace", name: "amp", props: { alias: "infermesh-prod" }, protect: true },
    { type: "aws:grafana/workspace:Workspace", name: "grafana", props: { name: "infermesh-prod" }, protect: true },
  ];

  it("passes prod with every stateful resource protected", async () => {
    expect(await stackViolations(policy, [awsProvider({ environment: "prod" }), ...stateful])).toEqual([]);
  });

  it("flags an unprotected stateful resource in prod", async () => {
    const found = await stackViolations(policy, [awsProvider({ environment: "prod" }), ...stateful.map((r) => (r.name === "amp" ? { ...r, protect: false } : r))]);
    expect(found).toEqual([{ message: expect.stringContaining("aws:amp/workspace:Workspace amp is not protected"), urn: urnOf("aws:amp/workspace:Workspace", "amp") }]);
  });

  it("does not apply to staging", async () => {
    expect(await stackViolations(policy, [awsProvider({ environment: "staging" }), ...stateful.map((r) => ({ ...r, protect: false }))])).toBeUndefined();
  });
});

describe("budget-within-limits", () => {
  const policy = budgetWithinLimits();
  const estimate = (figures: Record<string, unknown>): StackResourceSpec => ({
    type: costBudgetType,
    name: "cost",
    props: { environment: "prod", monthlyUsdAtMax: 415_613.66, activeSeriesAtMax: 65_464, pricesTakenOn: "2025-08-01", ...figures },
  });

  it("passes a stack under its budget", async () => {
    expect(await stackViolations(policy, [estimate({ maxMonthlyCostUsd: 450_000, maxActiveSeries: 100_000 })])).toEqual([]);
  });

  it("passes a stack exactly at its budget, and one without a budget", async () => {
    expect(await stackViolations(policy, [estimate({ maxMonthlyCostUsd: 415_613.66, maxActiveSeries: 65_464 })])).toEqual([]);
    expect(await stackViolations(policy, [estimate({})])).toEqual([]);
  });

  it("refuses a stack over its cost budget, with the figures", async () => {
    expect(await stackViolations(policy, [estimate({ maxMonthlyCostUsd: 400_000 })])).toEqual([
      {
        message:
          "at max size the stack costs $415,614/month (prices of 2025-08-01), over the prod environment's budget of $400,000/month by $15,614; lower a pool's scaling.max or raise infermesh:budget.maxMonthlyCostUsd.",
        urn: urnOf(costBudgetType, "cost"),
      },
    ]);
  });

  it("refuses a stack over its series budget, with the figures", async () => {
    expect(await stackViolations(policy, [estimate({ maxActiveSeries: 50_000 })])).toEqual([
      {
        message:
          "at max size the stack keeps 65,464 active series, over the prod environment's budget of 50,000 by 15,464; drop labels or counters, or raise infermesh:budget.maxActiveSeries.",
        urn: urnOf(costBudgetType, "cost"),
      },
    ]);
  });

  it("applies the pack config's budget for the environment when it is stricter", async () => {
    const config = { budgets: { prod: { maxMonthlyCostUsd: 300_000 }, dev: { maxMonthlyCostUsd: 1 } } };
    const found = await stackViolations(policy, [estimate({ maxMonthlyCostUsd: 450_000 })], config);
    expect(found?.map((v) => v.message)).toEqual([expect.stringContaining("over the prod environment's budget of $300,000/month by $115,614")]);
    expect(await stackViolations(policy, [estimate({ environment: "staging" })], config)).toEqual([]);
  });

  it("does not apply to a stack without an estimate", async () => {
    expect(await stackViolations(policy, [awsProvider({ environment: "prod" })])).toBeUndefined();
  });
});

describe("secrets-not-plaintext", () => {
  const policy = secretsNotPlaintext();
  const marked = { secretMarker };

  it("passes secret-bearing inputs that are secret", async () => {
    const resources: StackResourceSpec[] = [
      { type: "pulumi:providers:kubernetes", name: "k8s", props: { kubeconfig: secretMarker } },
      { type: "pulumi:providers:grafana", name: "grafana", props: { url: "https://g.example", auth: secretMarker } },
      { type: "grafana:alerting/contactPoint:ContactPoint", name: "cp", props: { name: "cp", slacks: [{ url: secretMarker, recipient: "#alerts" }], pagerduties: [], emails: [] } },
      { type: "kubernetes:core/v1:Secret", name: "s", props: { metadata: { name: "s" }, stringData: secretMarker } },
    ];
    expect(await stackViolations(policy, resources, marked)).toEqual([]);
  });

  it("flags plaintext kubeconfig, Grafana auth, contact point URLs and keys, Secret data", async () => {
    const resources: StackResourceSpec[] = [
      { type: "pulumi:providers:kubernetes", name: "k8s", props: { kubeconfig: "apiVersion: v1\nkind: Config" } },
      { type: "pulumi:providers:grafana", name: "grafana", props: { url: "https://g.example", auth: "admin:hunter2" } },
      {
        type: "grafana:alerting/contactPoint:ContactPoint",
        name: "cp",
        props: { slacks: [{ url: "https://hooks.slack.com/services/T/B/x" }], pagerduties: [{ integrationKey: "abc" }] },
      },
      { type: "kubernetes:core/v1:Secret", name: "s", props: { stringData: { password: "hunter2" } } },
    ];
    const found = await stackViolations(policy, resources, marked);
    expect(found?.map((v) => v.message)).toEqual([
      expect.stringContaining("kubeconfig is in plaintext"),
      expect.stringContaining("auth is in plaintext"),
      expect.stringContaining("slacks[0].url is in plaintext"),
      expect.stringContaining("pagerduties[0].integrationKey is in plaintext"),
      expect.stringContaining("stringData is in plaintext"),
    ]);
  });

  it("walks paths through arrays and accepts per-value secrets", () => {
    expect(plaintextAt({ emails: [{ addresses: [secretMarker, secretMarker] }] }, "emails[].addresses", secretMarker)).toEqual([]);
    expect(plaintextAt({ emails: [{ addresses: ["a@example.com"] }] }, "emails[].addresses", secretMarker)).toEqual(["emails[0].addresses"]);
    expect(plaintextAt({ emails: secretMarker }, "emails[].addresses", secretMarker)).toEqual([]);
    expect(plaintextAt({ slacks: [] }, "slacks[].url", secretMarker)).toEqual([]);
  });

  it("is not applicable under the engine, which hands validators unwrapped secrets", async () => {
    expect(await stackViolations(policy, [{ type: "pulumi:providers:kubernetes", name: "k8s", props: { kubeconfig: "plaintext" } }])).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

const planResource = (overrides: Partial<PlanResource> & Pick<PlanResource, "type" | "name">): PlanResource => ({
  urn: urnOf(overrides.type, overrides.name),
  parent: null,
  custom: true,
  provider: null,
  protect: false,
  retainOnDelete: false,
  deletedWith: null,
  ignoreChanges: [],
  dependsOn: [],
  inputs: {},
  ...overrides,
});

describe("deploy-path-reaches-cluster", () => {
  const policy = deployPathReachesCluster();
  const clusterType = "aws:eks/cluster:Cluster";
  const ruleType = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
  const cluster = (tags: Record<string, string>, vpcConfig: Record<string, unknown>): StackResourceSpec => ({
    type: clusterType,
    name: "cluster",
    props: { name: "infermesh-prod", tags, vpcConfig },
  });
  const rule = (props: Record<string, unknown>): StackResourceSpec => ({
    type: ruleType,
    name: "cluster-api-from-10-200-16-0-24",
    props: { securityGroupId: "sg-1", cidrIpv4: "10.200.16.0/24", ...props },
  });
  const privateTags = { [deployEndpointTag]: "private", [deployRunnerTag]: "self-hosted" };
  const privateVpc = { endpointPrivateAccess: true, endpointPublicAccess: false };

  /** Runs the policy with each rule depending on the cluster, as the engine reports an input taken from its output. */
  async function check(specs: StackResourceSpec[]) {
    const found: Array<{ message: string; urn?: string }> = [];
    const resources = specs.map(stackResource);
    const eks = resources.find((r) => r.type === clusterType);
    for (const r of resources) if (r.type === ruleType && eks) r.dependencies = [eks];
    try {
      await policy.validateStack(
        {
          resources,
          stackTags: new Map(),
          getConfig: <T extends object>() => ({}) as T,
          notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
          },
        },
        (message, urn) => found.push({ message, ...(urn ? { urn } : {}) }),
      );
    } catch (err) {
      if (err instanceof NotApplicable) return undefined;
      throw err;
    }
    return found.map((f) => f.message);
  }

  it("reads the tags the program sets", () => {
    expect({ endpoint: deployEndpointTag, runner: deployRunnerTag }).toEqual(deployPathTags);
  });

  it("passes GitHub-hosted runners on an open public endpoint, and self-hosted runners admitted to a private one", async () => {
    expect(
      await check([
        cluster(
          { [deployEndpointTag]: "public", [deployRunnerTag]: "github-hosted" },
          { endpointPrivateAccess: true, endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] },
        ),
      ]),
    ).toEqual([]);
    expect(await check([cluster(privateTags, privateVpc), rule({ ipProtocol: "tcp", fromPort: 443, toPort: 443 })])).toEqual([]);
  });

  it("flags a private endpoint that admits no runner", async () => {
    const message =
      "EKS cluster cluster: no security group rule admits the runners to the private endpoint (TCP 443 on the cluster security group); set infermesh:deploy.sourceCidrs.";
    expect(await check([cluster(privateTags, privateVpc)])).toEqual([message]);
    // A rule for another port, or one not tied to the cluster, does not count.
    expect(await check([cluster(privateTags, privateVpc), rule({ ipProtocol: "tcp", fromPort: 22, toPort: 22 })])).toEqual([message]);
  });

  it("flags hosted runners on a private endpoint, a public path with the endpoint off, and an allowlist hosted runners miss", async () => {
    expect(await check([cluster({ ...privateTags, [deployRunnerTag]: "github-hosted" }, privateVpc), rule({ ipProtocol: "tcp", fromPort: 443, toPort: 443 })])).toEqual([
      "EKS cluster cluster: GitHub-hosted runners are outside the VPC and cannot reach the private endpoint; deploy from self-hosted runners inside it.",
    ]);
    expect(await check([cluster({ [deployEndpointTag]: "public", [deployRunnerTag]: "self-hosted" }, privateVpc)])).toEqual([
      "EKS cluster cluster: CI deploys through the public endpoint, which is off (vpcConfig.endpointPublicAccess false); use self-hosted runners in the VPC and the private endpoint.",
    ]);
    expect(
      await check([cluster({ [deployEndpointTag]: "public", [deployRunnerTag]: "github-hosted" }, { endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] })]),
    ).toEqual(['EKS cluster cluster: GitHub-hosted runners have no fixed addresses, but the public endpoint admits only ["203.0.113.0/24"].']);
  });

  it("flags a cluster that does not say how CI reaches it, and does not apply without a created cluster", async () => {
    expect(await check([cluster({}, privateVpc)])).toEqual([
      "EKS cluster cluster does not say how CI reaches it: tags infermesh.io/deploy-endpoint (public | private) and infermesh.io/deploy-runner (github-hosted | self-hosted) are null and null.",
    ]);
    expect(await check([awsProvider({ environment: "prod" })])).toBeUndefined();
  });
});

describe("planAdapter", () => {
  const provider = planResource({ type: "pulumi:providers:aws", name: "aws", inputs: { defaultTags: JSON.stringify({ tags: { environment: "prod" } }), region: "us-east-1" } });
  const component = planResource({ type: "infermesh:compute:GpuNodeGroup", name: "gpu-l4", custom: false });
  const nodeGroup = planResource({
    type: "aws:eks/nodeGroup:NodeGroup",
    name: "gpu-l4",
    parent: component.urn,
    provider: `${provider.urn}::aws-id`,
    protect: true,
    ignoreChanges: ["scalingConfig.desiredSize"],
    dependsOn: [provider.urn],
    inputs: { labels: { "infermesh.io/node-class": "gpu" }, kubeconfig: secretMarker },
  });
  const plan: Plan = { project: "infermesh", stack: "prod", resources: [provider, component, nodeGroup] };

  it("builds ResourceValidationArgs as the engine does", () => {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    const args = resourceValidationArgs(nodeGroup, { byUrn, getConfig: () => ({}) as never, stackTags: new Map() });
    expect(args).toMatchObject({ type: nodeGroup.type, urn: nodeGroup.urn, name: "gpu-l4" });
    expect(args.props.labels).toEqual({ "infermesh.io/node-class": "gpu" });
    expect(args.opts).toMatchObject({ protect: true, parent: component.urn, ignoreChanges: ["scalingConfig.desiredSize"], aliases: [], additionalSecretOutputs: [] });
    expect(args.provider).toMatchObject({ type: "pulumi:providers:aws", name: "aws", urn: provider.urn });
    expect(args.provider?.props.defaultTags).toBe(JSON.stringify({ tags: { environment: "prod" } }));
    expect(args.isType(aws.eks.NodeGroup)).toBe(true);
    expect(args.isType(aws.eks.Cluster)).toBe(false);
    expect(args.asType(aws.eks.NodeGroup)?.labels).toEqual({ "infermesh.io/node-class": "gpu" });
    expect(args.asType(aws.eks.Cluster)).toBeUndefined();
    expect(() => args.notApplicable("x")).toThrow();
  });

  it("links parents and dependencies for stack validation", () => {
    const resources = policyResources(plan);
    const ng = resources.find((r) => r.type === "aws:eks/nodeGroup:NodeGroup");
    expect(ng?.parent?.urn).toBe(component.urn);
    expect(ng?.dependencies.map((d) => d.urn)).toEqual([provider.urn]);
    expect(ng?.isType(aws.eks.NodeGroup)).toBe(true);
  });

  it("honours pack config: enforcement levels, disabled policies, policy properties", async () => {
    const cluster = planResource({ type: "aws:eks/cluster:Cluster", name: "cluster", inputs: { tags: { [deployEndpointTag]: "public", [deployRunnerTag]: "github-hosted" } } });
    const unprotected: Plan = { ...plan, resources: [provider, cluster] };
    expect(blocking(await checkPlan(unprotected))).toEqual([expect.objectContaining({ policy: policyNames.prodProtected, type: "aws:eks/cluster:Cluster", name: "cluster" })]);
    const advisory: PackConfig = { [policyNames.prodProtected]: "advisory" };
    const result = await checkPlan(unprotected, { config: advisory });
    expect(result.violations).toHaveLength(1);
    expect(blocking(result)).toEqual([]);
    expect((await checkPlan(unprotected, { config: { [policyNames.prodProtected]: "disabled" } })).violations).toEqual([]);
    expect((await checkPlan(unprotected, { config: { [policyNames.prodProtected]: { environment: "dev" } } })).violations).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// The synthesized plans of every stack against the whole pack. Each render
// runs in its own process: the mock runtime is process-global.

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "infermesh-policy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const stacks = ["dev", "staging", "prod", "test"] as const;
const plans = new Map<string, Plan>();

describe("synthesized plans", () => {
  beforeAll(async () => {
    await Promise.all(
      stacks.map(async (stack) => {
        const out = join(scratch, stack);
        await run("npx", ["tsx", "scripts/synth.ts", stack, "--out", out], { cwd: projectRoot, maxBuffer: 64 * 1024 * 1024 });
        plans.set(stack, readPlan(join(out, "plan.json")));
      }),
    );
  }, 240_000);

  const planOf = (stack: string): Plan => {
    const plan = plans.get(stack);
    if (!plan) throw new Error(`no plan for ${stack}`);
    return structuredClone(plan);
  };

  it.each(stacks)("%s passes every policy of the pack", async (stack) => {
    const result = await checkPlan(planOf(stack));
    expect(result.violations, formatResult(result)).toEqual([]);
    // Only the other environments' rules are skipped; the secrets rule runs on plans.
    const skipped = result.notApplicable.map((n) => n.policy).sort();
    const expected = {
      dev: [policyNames.ephemeral, policyNames.prodProtected],
      staging: [policyNames.ephemeral, policyNames.prodProtected],
      prod: [policyNames.ephemeral],
      test: [policyNames.prodProtected],
    }[stack];
    expect(skipped).toEqual([...expected].sort());
  });

  it("catches an unprotected control plane in prod", async () => {
    const plan = planOf("prod");
    const cluster = plan.resources.find((r) => r.type === "aws:eks/cluster:Cluster");
    if (!cluster) throw new Error("no cluster in the prod plan");
    cluster.protect = false;
    expect(blocking(await checkPlan(plan))).toEqual([expect.objectContaining({ policy: policyNames.prodProtected, urn: cluster.urn })]);
  });

  it("catches a test stack without expires-at, or with something protected", async () => {
    const plan = planOf("test");
    const provider = plan.resources.find((r) => r.type === "pulumi:providers:aws");
    if (!provider) throw new Error("no AWS provider in the test plan");
    const inputs = provider.inputs as { defaultTags: string };
    const tags = JSON.parse(inputs.defaultTags) as { tags: Record<string, string> };
    delete tags.tags["expires-at"];
    inputs.defaultTags = JSON.stringify(tags);
    const namespace = plan.resources.find((r) => r.type === "kubernetes:core/v1:Namespace");
    if (namespace) namespace.protect = true;
    const policies = blocking(await checkPlan(plan)).map((v) => v.policy);
    expect(policies).toEqual([policyNames.ephemeral, policyNames.ephemeral]);
  });

  it("refuses prod's preview once its pools at max size cost more than its budget, with the figures", async () => {
    const plan = planOf("prod");
    const budget = plan.resources.find((r) => r.type === costBudgetType);
    if (!budget) throw new Error("no cost estimate in the prod plan");
    const figures = budget.inputs as { monthlyUsdAtMax: number; maxMonthlyCostUsd?: number };
    expect(blocking(await checkPlan(plan))).toEqual([]);
    figures.maxMonthlyCostUsd = Math.floor(figures.monthlyUsdAtMax) - 1000;
    expect(blocking(await checkPlan(plan))).toEqual([
      expect.objectContaining({ policy: policyNames.budget, urn: budget.urn, message: expect.stringMatching(/^at max size the stack costs \$[\d,]+\/month .* by \$1,00\d;/) }),
    ]);
  });

  it("catches a private prod endpoint that no runner can reach", async () => {
    const plan = planOf("prod");
    plan.resources = plan.resources.filter((r) => r.type !== "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    expect(blocking(await checkPlan(plan)).map((v) => [v.policy, v.name])).toEqual([[policyNames.deployPath, "cluster"]]);
  });

  it("catches a kubeconfig in plaintext and an unencrypted, IMDSv1 GPU launch template", async () => {
    const plan = planOf("dev");
    const k8s = plan.resources.find((r) => r.type === "pulumi:providers:kubernetes");
    const template = plan.resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate" && r.name.startsWith("gpu-"));
    if (!k8s || !template) throw new Error("dev plan lacks a Kubernetes provider or a GPU launch template");
    (k8s.inputs as Record<string, unknown>).kubeconfig = "apiVersion: v1";
    const lt = template.inputs as { metadataOptions: { httpTokens: string }; blockDeviceMappings: Array<{ ebs: { encrypted?: string } }> };
    lt.metadataOptions.httpTokens = "optional";
    delete lt.blockDeviceMappings[0]!.ebs.encrypted;
    const policies = blocking(await checkPlan(plan))
      .map((v) => v.policy)
      .sort();
    expect(policies).toEqual([policyNames.ebsEncrypted, policyNames.imdsv2, policyNames.secrets].sort());
  });
});

// ---------------------------------------------------------------------------
// policy/index.ts as the Pulumi CLI runs it: the SDK's policy-pack runner in
// the pack's folder (ts-node, the pack's package.json version), answering the
// engine's Analyze and AnalyzeStack calls over gRPC.

describe("policy pack under the CLI's policy runner", () => {
  let child: ReturnType<typeof spawn> | undefined;
  let client: AnalyzerClient | undefined;
  afterAll(() => {
    client?.close();
    child?.kill();
  });

  beforeAll(async () => {
    const runner = join(projectRoot, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
    const proc = spawn(process.execPath, [runner, "127.0.0.1:0", "."], { cwd: join(projectRoot, "policy"), stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    const port = await new Promise<string>((resolve, reject) => {
      let out = "";
      let err = "";
      proc.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const match = /^(\d+)\s*$/m.exec(out);
        if (match) resolve(match[1] as string);
      });
      proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
      proc.on("exit", (code) => reject(new Error(`policy pack exited with ${code}: ${err}${out}`)));
    });
    client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }, 180_000);

  const options = () => new AnalyzerResourceOptions().setProtect(false);

  it("reports a GPU node group without its taint as a mandatory violation", async () => {
    const request = new AnalyzeRequest()
      .setType("aws:eks/nodeGroup:NodeGroup")
      .setName("gpu-l4")
      .setUrn(urnOf("aws:eks/nodeGroup:NodeGroup", "gpu-l4"))
      .setOptions(options())
      .setProperties(Struct.fromJavaScript({ labels: { "infermesh.io/node-class": "gpu" }, taints: [] }));
    const response = await new Promise<import("@pulumi/pulumi/proto/analyzer_pb").AnalyzeResponse>((resolve, reject) =>
      client!.analyze(request, (err, res) => (err ? reject(err) : resolve(res))),
    );
    const diagnostics = response.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), pack: d.getPolicypackname(), mandatory: d.getEnforcementlevel() === 1 }));
    expect(diagnostics).toEqual([{ policy: policyNames.gpuTaint, pack: "infermesh", mandatory: true }]);
  });

  it("runs stack policies on what the engine sends: the prod rule applies, the secrets rule does not", async () => {
    const resource = (type: string, name: string, props: Record<string, unknown>) =>
      new AnalyzerResource()
        .setType(type)
        .setName(name)
        .setUrn(urnOf(type, name))
        .setOptions(options())
        .setProperties(Struct.fromJavaScript(props as never));
    const request = new AnalyzeStackRequest().setResourcesList([
      resource("pulumi:providers:aws", "aws", { defaultTags: JSON.stringify({ tags: { environment: "prod" } }) }),
      resource("aws:eks/cluster:Cluster", "cluster", { name: "infermesh-prod", tags: { [deployEndpointTag]: "public", [deployRunnerTag]: "github-hosted" } }),
      resource("pulumi:providers:kubernetes", "k8s", { kubeconfig: "apiVersion: v1" }),
    ]);
    const response = await new Promise<import("@pulumi/pulumi/proto/analyzer_pb").AnalyzeResponse>((resolve, reject) =>
      client!.analyzeStack(request, (err, res) => (err ? reject(err) : resolve(res))),
    );
    expect(response.getDiagnosticsList().map((d) => [d.getPolicyname(), d.getUrn()])).toEqual([[policyNames.prodProtected, urnOf("aws:eks/cluster:Cluster", "cluster")]]);
    const skipped = response.getNotApplicableList().map((n) => n.getPolicyName());
    expect(skipped).toEqual(expect.arrayContaining([policyNames.secrets, policyNames.ephemeral]));
  });

  it("serves every policy of the pack", () => {
    const names = (infermeshPolicies() as Policies).map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(Object.values(policyNames));
  });
});
