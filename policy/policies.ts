/**
 * The infermesh policy pack's rules, as factories. Nothing here starts a
 * policy server: `new PolicyPack` (policy/index.ts) serves at import and exits
 * the process if a second pack is defined, so tests and the plan adapter import
 * this module instead.
 *
 * Every validator reads `args.props` as the policy engine passes it: resource
 * inputs, secrets already unwrapped, unknown values behind a proxy that throws
 * during previews. Provider-level nested values (the AWS provider's
 * `defaultTags`) arrive as JSON text because the provider SDKs serialize them.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import {
  validateResourceOfType,
  type EnforcementLevel,
  type Policies,
  type PolicyResource,
  type ReportViolation,
  type ResourceValidationPolicy,
  type StackValidationArgs,
  type StackValidationPolicy,
} from "@pulumi/policy";

export const packName = "infermesh";
/** Violations block `preview`/`up` unless a policy or the pack config says otherwise. */
export const packEnforcementLevel: EnforcementLevel = "mandatory";

// Kept here rather than imported so the pack folder stays self-contained (publishable with `pulumi policy publish`);
// test/policy.test.ts checks it against domain/environments.ts.
export const environmentKinds = ["dev", "staging", "prod", "ephemeral"] as const;
export type EnvironmentKind = (typeof environmentKinds)[number];

export interface PolicyOptions {
  enforcementLevel?: EnforcementLevel;
}

export const policyNames = {
  gpuTaint: "gpu-node-group-taint",
  imdsv2: "launch-template-imdsv2",
  ebsEncrypted: "ebs-encrypted",
  monitoringAuth: "monitoring-endpoints-authenticated",
  iamWildcards: "iam-no-wildcard-actions",
  ephemeral: "ephemeral-stack-lifecycle",
  prodProtected: "prod-stateful-protected",
  secrets: "secrets-not-plaintext",
  deployPath: "deploy-path-reaches-cluster",
  budget: "budget-within-limits",
} as const;

const awsProviderType = "pulumi:providers:aws";

// ---------------------------------------------------------------------------
// Small readers shared by the rules.

function isTrue(value: unknown): boolean {
  return value === true || value === "true";
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function get(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    const record = asRecord(current);
    if (!record) return undefined;
    current = record[key];
  }
  return current;
}

/** Nested provider inputs come as JSON text from the engine and as objects from hand-built args. */
function jsonish(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** `defaultTags.tags` of an AWS provider's inputs. */
export function awsProviderDefaultTags(props: Record<string, unknown>): Record<string, string> {
  const tags = asRecord(get(jsonish(props.defaultTags), "tags")) ?? {};
  return Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === "string"));
}

// ---------------------------------------------------------------------------
// GPU node groups

export const gpuNodeClassLabel = "infermesh.io/node-class";
export const gpuTaintKey = "nvidia.com/gpu";

/** GPU node groups keep non-GPU pods off expensive nodes with the `nvidia.com/gpu` NoSchedule taint. */
export function gpuNodeGroupTaint(options: PolicyOptions = {}): ResourceValidationPolicy {
  return {
    name: policyNames.gpuTaint,
    description: `EKS node groups labelled ${gpuNodeClassLabel}=gpu carry the ${gpuTaintKey} NO_SCHEDULE taint.`,
    enforcementLevel: options.enforcementLevel,
    severity: "medium",
    validateResource: validateResourceOfType(aws.eks.NodeGroup, (nodeGroup, _args, reportViolation) => {
      if (nodeGroup.labels?.[gpuNodeClassLabel] !== "gpu") return;
      const tainted = (nodeGroup.taints ?? []).some((t) => t.key === gpuTaintKey && t.effect === "NO_SCHEDULE");
      if (!tainted) {
        const pool = nodeGroup.labels?.["infermesh.io/pool"];
        reportViolation(`GPU node group${pool ? ` of pool ${pool}` : ""} has no ${gpuTaintKey} taint with effect NO_SCHEDULE; any pod could land on its GPUs.`);
      }
    }),
  };
}

// ---------------------------------------------------------------------------
// Launch templates and EBS

/** Nodes answer instance-metadata requests only with a session token (IMDSv2), so SSRF cannot read node credentials. */
export function launchTemplateImdsv2(options: PolicyOptions = {}): ResourceValidationPolicy {
  return {
    name: policyNames.imdsv2,
    description: "EC2 launch templates require IMDSv2 (metadataOptions.httpTokens: required).",
    enforcementLevel: options.enforcementLevel,
    severity: "high",
    validateResource: validateResourceOfType(aws.ec2.LaunchTemplate, (template, _args, reportViolation) => {
      const tokens = template.metadataOptions?.httpTokens;
      if (tokens !== "required") {
        reportViolation(`metadataOptions.httpTokens is ${JSON.stringify(tokens ?? null)}; set it to "required" so instances only serve IMDSv2.`);
      }
    }),
  };
}

const ebsProvisioners = ["ebs.csi.aws.com", "kubernetes.io/aws-ebs"];

/** Node disks, standalone volumes and volumes provisioned for PVCs are encrypted at rest. */
export function ebsEncrypted(options: PolicyOptions = {}): ResourceValidationPolicy {
  return {
    name: policyNames.ebsEncrypted,
    description: "EBS block devices of launch templates, EBS volumes and EBS StorageClasses are encrypted.",
    enforcementLevel: options.enforcementLevel,
    severity: "high",
    validateResource: [
      validateResourceOfType(aws.ec2.LaunchTemplate, (template, _args, reportViolation) => {
        for (const [i, mapping] of (template.blockDeviceMappings ?? []).entries()) {
          if (mapping.ebs && !isTrue(mapping.ebs.encrypted)) {
            reportViolation(`blockDeviceMappings[${i}] (${mapping.deviceName ?? "no device name"}) is an unencrypted EBS volume; set ebs.encrypted to "true".`);
          }
        }
      }),
      validateResourceOfType(aws.ebs.Volume, (volume, _args, reportViolation) => {
        if (!isTrue(volume.encrypted)) reportViolation("EBS volume is not encrypted; set encrypted: true.");
      }),
      validateResourceOfType(k8s.storage.v1.StorageClass, (storageClass, _args, reportViolation) => {
        if (!ebsProvisioners.includes(storageClass.provisioner)) return;
        if (storageClass.parameters?.encrypted !== "true") {
          reportViolation(`StorageClass ${storageClass.metadata?.name ?? ""} provisions unencrypted EBS volumes; set parameters.encrypted: "true".`);
        }
      }),
    ],
  };
}

// ---------------------------------------------------------------------------
// Monitoring endpoints

export interface MonitoringOptions extends PolicyOptions {
  /** Namespaces whose Services and Ingresses count as monitoring endpoints. */
  monitoringNamespaces?: string[];
}

export const defaultMonitoringNamespaces = ["monitoring"];

const internalLoadBalancerAnnotations: Record<string, string[]> = {
  "service.beta.kubernetes.io/aws-load-balancer-internal": ["true", "0.0.0.0/0"],
  "service.beta.kubernetes.io/aws-load-balancer-scheme": ["internal"],
  "alb.ingress.kubernetes.io/scheme": ["internal"],
};

/** Annotations with which an ingress controller authenticates before forwarding (oauth2-proxy, basic auth, ALB OIDC/Cognito). */
const ingressAuthAnnotations = ["nginx.ingress.kubernetes.io/auth-url", "nginx.ingress.kubernetes.io/auth-type", "alb.ingress.kubernetes.io/auth-type"];

function annotationsOf(value: unknown): Record<string, unknown> {
  return asRecord(value) ?? {};
}

function isInternal(annotations: Record<string, unknown>): boolean {
  return Object.entries(internalLoadBalancerAnnotations).some(([key, values]) => values.includes(String(annotations[key] ?? "")));
}

function hasIngressAuth(annotations: Record<string, unknown>): boolean {
  const authType = annotations["alb.ingress.kubernetes.io/auth-type"];
  return ingressAuthAnnotations.some((key) => annotations[key] !== undefined) && authType !== "none";
}

/**
 * How a chart component is exposed, read from the usual `service` and
 * `ingress` values. `undefined` when it is reachable only inside the cluster
 * or VPC.
 */
function publicExposure(component: unknown): string | undefined {
  const serviceType = get(component, "service", "type");
  if (serviceType === "LoadBalancer" && !isInternal(annotationsOf(get(component, "service", "annotations")))) {
    return "a public LoadBalancer service";
  }
  if (isTrue(get(component, "ingress", "enabled"))) {
    const annotations = annotationsOf(get(component, "ingress", "annotations"));
    if (!isInternal(annotations) && !hasIngressAuth(annotations)) return "an ingress without authentication";
  }
  return undefined;
}

/** Grafana lets anyone in when anonymous auth is on (grafana.ini `auth.anonymous.enabled`). */
function grafanaAnonymous(values: unknown): boolean {
  const ini = get(values, "grafana.ini");
  return isTrue(get(ini, "auth.anonymous", "enabled")) || isTrue(get(ini, "auth", "anonymous", "enabled"));
}

function chartName(chart: string): string {
  return chart.replace(/\/+$/, "").split("/").pop() ?? chart;
}

/** The Grafana, Prometheus and Alertmanager parts of a Helm release's values, by chart. */
function monitoringComponents(chart: string, values: Record<string, unknown>): { grafana: unknown[]; prometheus: Array<{ name: string; values: unknown }> } {
  switch (chartName(chart)) {
    case "grafana":
      return { grafana: [values], prometheus: [] };
    case "kube-prometheus-stack":
      return {
        // The chart enables its Grafana subchart unless told otherwise.
        grafana: get(values, "grafana", "enabled") === false ? [] : [get(values, "grafana") ?? {}],
        prometheus: [
          { name: "Prometheus", values: get(values, "prometheus") },
          { name: "Alertmanager", values: get(values, "alertmanager") },
        ],
      };
    case "prometheus":
      return {
        grafana: [],
        prometheus: [
          { name: "Prometheus", values: get(values, "server") },
          { name: "Alertmanager", values: get(values, "alertmanager") },
        ],
      };
    case "alertmanager":
      return { grafana: [], prometheus: [{ name: "Alertmanager", values }] };
    default:
      return { grafana: [], prometheus: [] };
  }
}

/**
 * Grafana, Prometheus and Alertmanager are never reachable from the internet
 * without authentication. Prometheus and Alertmanager have no login of their
 * own, so any public exposure without an authenticating ingress is a
 * violation; Grafana is one only with anonymous access on.
 */
export function monitoringEndpointsAuthenticated(options: MonitoringOptions = {}): ResourceValidationPolicy {
  const namespaces = options.monitoringNamespaces ?? defaultMonitoringNamespaces;
  return {
    name: policyNames.monitoringAuth,
    description: "No public Grafana, Prometheus or Alertmanager endpoint without authentication.",
    enforcementLevel: options.enforcementLevel,
    severity: "critical",
    validateResource: [
      validateResourceOfType(k8s.helm.v3.Release, (release, _args, reportViolation) => {
        const values = asRecord(release.values) ?? {};
        const { grafana, prometheus } = monitoringComponents(release.chart, values);
        for (const component of grafana) {
          const exposure = publicExposure(component);
          if (exposure && grafanaAnonymous(component)) {
            reportViolation(`Helm release ${release.name ?? release.chart}: Grafana is exposed through ${exposure} with anonymous access enabled.`);
          }
        }
        for (const { name, values: component } of prometheus) {
          const exposure = publicExposure(component);
          if (exposure) {
            reportViolation(`Helm release ${release.name ?? release.chart}: ${name} has no authentication and is exposed through ${exposure}.`);
          }
        }
      }),
      validateResourceOfType(aws.grafana.Workspace, (workspace, _args, reportViolation) => {
        if ((workspace.authenticationProviders ?? []).length === 0) {
          reportViolation("Amazon Managed Grafana workspace has no authentication providers (AWS_SSO or SAML).");
        }
      }),
      validateResourceOfType(k8s.core.v1.Service, (service, _args, reportViolation) => {
        const namespace = service.metadata?.namespace ?? "default";
        if (!namespaces.includes(namespace) || service.spec?.type !== "LoadBalancer") return;
        if (isInternal(annotationsOf(service.metadata?.annotations))) return;
        reportViolation(
          `Service ${namespace}/${service.metadata?.name ?? ""} is a public LoadBalancer in a monitoring namespace; use ClusterIP with port-forward, an internal load balancer, or an authenticating ingress.`,
        );
      }),
      validateResourceOfType(k8s.networking.v1.Ingress, (ingress, _args, reportViolation) => {
        const namespace = ingress.metadata?.namespace ?? "default";
        if (!namespaces.includes(namespace)) return;
        const annotations = annotationsOf(ingress.metadata?.annotations);
        if (isInternal(annotations) || hasIngressAuth(annotations)) return;
        reportViolation(
          `Ingress ${namespace}/${ingress.metadata?.name ?? ""} exposes a monitoring namespace without an authentication annotation (${ingressAuthAnnotations.join(", ")}).`,
        );
      }),
    ],
  };
}

// ---------------------------------------------------------------------------
// IAM

interface PolicyStatement {
  Effect?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Sid?: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

/** `*` or a whole service (`s3:*`). */
export function isWildcardAction(action: string): boolean {
  return action === "*" || /^[A-Za-z0-9-]+:\*$/.test(action);
}

function statementsOf(document: unknown): PolicyStatement[] | string {
  const parsed = jsonish(document);
  const statement = get(parsed, "Statement");
  if (statement === undefined) return "the policy document has no Statement (or is not valid JSON)";
  const list = Array.isArray(statement) ? statement : [statement];
  return list.filter((s): s is PolicyStatement => asRecord(s) !== undefined);
}

function actionsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((a): a is string => typeof a === "string") : [];
}

/** Reports every Allow statement of `document` that grants a wildcard action; `where` names the document. */
function checkPolicyDocument(document: unknown, where: string, reportViolation: ReportViolation): void {
  const statements = statementsOf(document);
  if (typeof statements === "string") {
    reportViolation(`${where}: ${statements}; it cannot be checked for wildcard actions.`);
    return;
  }
  for (const [i, statement] of statements.entries()) {
    if (statement.Effect === "Deny") continue;
    const label = `${where} Statement[${i}]${typeof statement.Sid === "string" ? ` (${statement.Sid})` : ""}`;
    const wildcards = actionsOf(statement.Action).filter(isWildcardAction);
    if (wildcards.length > 0) reportViolation(`${label} allows ${wildcards.join(", ")}; list the actions the principal needs.`);
    // Allow + NotAction grants everything not listed, which is broader than any wildcard.
    if (statement.NotAction !== undefined) reportViolation(`${label} allows NotAction ${JSON.stringify(statement.NotAction)}, i.e. every other action.`);
  }
}

/** Condition keys that tie a service principal's access to one source (AWS's cross-service confused-deputy guidance). */
const sourceConditionKeys = ["aws:sourcearn", "aws:sourceaccount"];

/**
 * Reports Allow statements of a resource policy that grant anyone (`*`), or
 * grant an AWS service without `aws:SourceArn`/`aws:SourceAccount`, which would
 * let the service act for any of its customers.
 */
function checkResourcePolicyPrincipals(document: unknown, where: string, reportViolation: ReportViolation): void {
  const statements = statementsOf(document);
  if (typeof statements === "string") return;
  for (const [i, statement] of statements.entries()) {
    if (statement.Effect === "Deny") continue;
    const label = `${where} Statement[${i}]${typeof statement.Sid === "string" ? ` (${statement.Sid})` : ""}`;
    const principal = statement.Principal;
    const aws = actionsOf(get(principal, "AWS"));
    if (principal === "*" || aws.includes("*")) reportViolation(`${label} allows any principal ("*"); name the principals that need access.`);
    const services = actionsOf(get(principal, "Service"));
    const conditionKeys = Object.values(asRecord(statement.Condition) ?? {}).flatMap((operator) => Object.keys(asRecord(operator) ?? {}).map((k) => k.toLowerCase()));
    if (services.length > 0 && !conditionKeys.some((k) => sourceConditionKeys.includes(k))) {
      reportViolation(`${label} allows ${services.join(", ")} without an aws:SourceArn or aws:SourceAccount condition; the service could act for any of its customers.`);
    }
  }
}

/** AWS-managed policies whose statements are `Action: "*"`. */
const adminManagedPolicies = /^arn:aws[\w-]*:iam::aws:policy\/AdministratorAccess$/;

/**
 * No principal created by the stack is granted `*` or `service:*`; SNS topic
 * policies (resource policies) also name their principals and tie service
 * principals to a source.
 */
export function iamNoWildcardActions(options: PolicyOptions = {}): ResourceValidationPolicy {
  return {
    name: policyNames.iamWildcards,
    description:
      'IAM policy documents and SNS topic policies allow no wildcard actions ("*" or "service:*"); topic policies allow no "*" principal and no service principal without aws:SourceArn/aws:SourceAccount.',
    enforcementLevel: options.enforcementLevel,
    severity: "high",
    validateResource: [
      validateResourceOfType(aws.iam.RolePolicy, (policy, _args, report) => checkPolicyDocument(policy.policy, "role policy", report)),
      validateResourceOfType(aws.iam.Policy, (policy, _args, report) => checkPolicyDocument(policy.policy, "policy", report)),
      validateResourceOfType(aws.iam.UserPolicy, (policy, _args, report) => checkPolicyDocument(policy.policy, "user policy", report)),
      validateResourceOfType(aws.iam.GroupPolicy, (policy, _args, report) => checkPolicyDocument(policy.policy, "group policy", report)),
      validateResourceOfType(aws.iam.Role, (role, _args, report) => {
        for (const inline of role.inlinePolicies ?? []) {
          if (inline.policy !== undefined) checkPolicyDocument(inline.policy, `inline policy ${inline.name ?? ""}`.trim(), report);
        }
      }),
      validateResourceOfType(aws.iam.RolePolicyAttachment, (attachment, _args, report) => {
        if (adminManagedPolicies.test(attachment.policyArn)) report(`attaches ${attachment.policyArn}, which allows "*".`);
      }),
      validateResourceOfType(aws.sns.TopicPolicy, (policy, _args, report) => {
        checkPolicyDocument(policy.policy, "topic policy", report);
        checkResourcePolicyPrincipals(policy.policy, "topic policy", report);
      }),
      validateResourceOfType(aws.sns.Topic, (topic, _args, report) => {
        if (topic.policy === undefined) return;
        checkPolicyDocument(topic.policy, "topic policy", report);
        checkResourcePolicyPrincipals(topic.policy, "topic policy", report);
      }),
    ],
  };
}

// ---------------------------------------------------------------------------
// Stack-level rules that depend on the environment kind

export interface EnvironmentConfig {
  environment?: EnvironmentKind;
}

const environmentConfigSchema = {
  properties: {
    environment: {
      type: "string" as const,
      enum: [...environmentKinds],
      description: "Environment kind of the stack; inferred from the AWS provider's `environment` default tag when unset.",
    },
  },
};

export type EnvironmentResolution = { kind: EnvironmentKind; source: string } | { problem: string };

/**
 * The stack's environment kind: the policy config's `environment`, else the
 * `environment` default tag every AWS provider of the stack carries (the
 * program sets it from `infermesh:environment`).
 */
export function resolveEnvironment(args: Pick<StackValidationArgs, "resources" | "getConfig">): EnvironmentResolution {
  const configured = args.getConfig<EnvironmentConfig>().environment;
  if (configured !== undefined) {
    return (environmentKinds as readonly string[]).includes(configured)
      ? { kind: configured, source: "policy config" }
      : { problem: `policy config environment ${JSON.stringify(configured)} is not one of ${environmentKinds.join(", ")}` };
  }
  const tagged = new Set<string>();
  for (const provider of args.resources.filter((r) => r.type === awsProviderType)) {
    const environment = awsProviderDefaultTags(provider.props).environment;
    if (environment !== undefined) tagged.add(environment);
  }
  if (tagged.size === 0) return { problem: "no policy config `environment` and no AWS provider with an `environment` default tag" };
  if (tagged.size > 1) return { problem: `AWS providers disagree on the environment tag: ${[...tagged].sort().join(", ")}` };
  const [kind] = [...tagged] as [string];
  return (environmentKinds as readonly string[]).includes(kind)
    ? { kind: kind as EnvironmentKind, source: "AWS provider default tags" }
    : { problem: `AWS provider environment tag ${JSON.stringify(kind)} is not one of ${environmentKinds.join(", ")}` };
}

/** Runs `check` when the stack is of `kind`; an unresolvable environment is itself a violation. */
function forEnvironment(
  kind: EnvironmentKind,
  check: (args: StackValidationArgs, reportViolation: ReportViolation) => void,
): (args: StackValidationArgs, reportViolation: ReportViolation) => void {
  return (args, reportViolation) => {
    const environment = resolveEnvironment(args);
    if ("problem" in environment) {
      reportViolation(`cannot tell the stack's environment kind: ${environment.problem}.`);
      return;
    }
    if (environment.kind !== kind) return args.notApplicable(`the stack is ${environment.kind} (${environment.source}), not ${kind}`);
    check(args, reportViolation);
  };
}

export const expiresAtTag = "expires-at";

/**
 * Ephemeral stacks must be easy to find and to tear down: every AWS provider
 * tags resources with `expires-at`, nothing is protected, and the EKS control
 * plane has no deletion protection.
 */
export function ephemeralStackLifecycle(options: PolicyOptions = {}): StackValidationPolicy {
  return {
    name: policyNames.ephemeral,
    description: `Ephemeral stacks tag every AWS resource with ${expiresAtTag} (AWS provider default tags) and protect nothing.`,
    enforcementLevel: options.enforcementLevel,
    severity: "high",
    configSchema: environmentConfigSchema,
    validateStack: forEnvironment("ephemeral", (args, reportViolation) => {
      const providers = args.resources.filter((r) => r.type === awsProviderType);
      if (providers.length === 0) reportViolation(`no AWS provider with default tags; ephemeral stacks need an explicit provider carrying ${expiresAtTag}.`);
      for (const provider of providers) {
        const expiresAt = awsProviderDefaultTags(provider.props)[expiresAtTag];
        if (expiresAt === undefined) reportViolation(`AWS provider ${provider.name} has no ${expiresAtTag} default tag.`, provider.urn);
        else if (!/^\d{4}-\d{2}-\d{2}T/.test(expiresAt) || Number.isNaN(Date.parse(expiresAt))) {
          reportViolation(`AWS provider ${provider.name}: ${expiresAtTag} ${JSON.stringify(expiresAt)} is not an ISO-8601 time.`, provider.urn);
        }
      }
      for (const resource of args.resources) {
        if (resource.opts.protect) reportViolation(`${resource.type} ${resource.name} is protected; an ephemeral stack must be destroyable.`, resource.urn);
        if (resource.type === "aws:eks/cluster:Cluster" && isTrue(resource.props.deletionProtection)) {
          reportViolation(`EKS cluster ${resource.name} has deletion protection; an ephemeral stack must be destroyable.`, resource.urn);
        }
      }
    }),
  };
}

export const prodStatefulTypes = ["aws:eks/cluster:Cluster", "aws:amp/workspace:Workspace", "aws:grafana/workspace:Workspace"];

/** In prod, the control plane, metrics storage and Grafana workspace cannot be deleted by a stray `up` or `destroy`. */
export function prodStatefulProtected(options: PolicyOptions = {}): StackValidationPolicy {
  return {
    name: policyNames.prodProtected,
    description: `Prod stacks protect their stateful resources (${prodStatefulTypes.join(", ")}).`,
    enforcementLevel: options.enforcementLevel,
    severity: "critical",
    configSchema: environmentConfigSchema,
    validateStack: forEnvironment("prod", (args, reportViolation) => {
      for (const resource of args.resources) {
        if (prodStatefulTypes.includes(resource.type) && !resource.opts.protect) {
          reportViolation(`${resource.type} ${resource.name} is not protected; prod's stateful resources need protect: true.`, resource.urn);
        }
      }
    }),
  };
}

// ---------------------------------------------------------------------------
// Budget

/** The program's cost estimate at max size and its budget (components/costBudget.ts `CostBudgetFigures`). */
export interface BudgetFigures {
  environment?: string;
  monthlyUsdAtMax?: number;
  activeSeriesAtMax?: number;
  pricesTakenOn?: string;
  maxMonthlyCostUsd?: number;
  maxActiveSeries?: number;
}

export const costBudgetType = "infermesh:cost:Budget";

/** Per-environment budgets in the pack's config; the stricter of these and the stack's own `infermesh:budget` applies. */
export interface BudgetConfig {
  budgets?: Partial<Record<EnvironmentKind, { maxMonthlyCostUsd?: number; maxActiveSeries?: number }>>;
}

const limitsSchema = {
  type: "object" as const,
  properties: { maxMonthlyCostUsd: { type: "number" as const, exclusiveMinimum: 0 }, maxActiveSeries: { type: "integer" as const, minimum: 1 } },
  additionalProperties: false,
};

const dollars = (n: number) => `$${Math.round(n).toLocaleString("en-US")}`;
const whole = (n: number) => Math.round(n).toLocaleString("en-US");

function stricter(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * A preview whose fleet at max size costs more a month, or keeps more
 * active series, than its environment's budget is refused, with the figures
 * (the program's estimate, cost/estimate.ts, carried by its `infermesh:cost:Budget`).
 */
export function budgetWithinLimits(options: PolicyOptions = {}): StackValidationPolicy {
  return {
    name: policyNames.budget,
    description: "The stack at its pools' maximum sizes stays within its environment's budget: monthly cost and active series.",
    enforcementLevel: options.enforcementLevel,
    severity: "high",
    configSchema: {
      properties: {
        budgets: {
          type: "object",
          properties: Object.fromEntries(environmentKinds.map((k) => [k, limitsSchema])),
          additionalProperties: false,
          description: "Budgets per environment kind: maxMonthlyCostUsd (at max size), maxActiveSeries.",
        },
      },
    },
    validateStack: (args, reportViolation) => {
      const estimates = args.resources.filter((r) => r.type === costBudgetType);
      if (estimates.length === 0) return args.notApplicable(`the stack has no ${costBudgetType} (no cost estimate to check)`);
      const { budgets = {} } = args.getConfig<BudgetConfig>();
      for (const resource of estimates) {
        const f = resource.props as BudgetFigures;
        const fromPack = f.environment !== undefined ? budgets[f.environment as EnvironmentKind] : undefined;
        const maxCost = stricter(f.maxMonthlyCostUsd, fromPack?.maxMonthlyCostUsd);
        const maxSeries = stricter(f.maxActiveSeries, fromPack?.maxActiveSeries);
        const where = `${f.environment ?? "unknown"} environment`;
        if (maxCost !== undefined && typeof f.monthlyUsdAtMax === "number" && f.monthlyUsdAtMax > maxCost) {
          reportViolation(
            `at max size the stack costs ${dollars(f.monthlyUsdAtMax)}/month (prices of ${f.pricesTakenOn ?? "unknown date"}), over the ${where}'s budget of ${dollars(maxCost)}/month by ${dollars(f.monthlyUsdAtMax - maxCost)}; lower a pool's scaling.max or raise infermesh:budget.maxMonthlyCostUsd.`,
            resource.urn,
          );
        }
        if (maxSeries !== undefined && typeof f.activeSeriesAtMax === "number" && f.activeSeriesAtMax > maxSeries) {
          reportViolation(
            `at max size the stack keeps ${whole(f.activeSeriesAtMax)} active series, over the ${where}'s budget of ${whole(maxSeries)} by ${whole(f.activeSeriesAtMax - maxSeries)}; drop labels or counters, or raise infermesh:budget.maxActiveSeries.`,
            resource.urn,
          );
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Secrets

/**
 * Inputs that carry credentials or private contact data, by resource type.
 * `a[].b` walks every element of array `a`.
 */
export const secretInputs: Readonly<Record<string, readonly string[]>> = {
  "pulumi:providers:kubernetes": ["kubeconfig"],
  "pulumi:providers:grafana": ["auth", "tlsKey", "smAccessToken", "oncallAccessToken", "cloudAccessPolicyToken"],
  "kubernetes:core/v1:Secret": ["data", "stringData"],
  "grafana:oss/dataSource:DataSource": ["secureJsonDataEncoded"],
  "grafana:alerting/contactPoint:ContactPoint": [
    "slacks[].url",
    "slacks[].token",
    "pagerduties[].integrationKey",
    "emails[].addresses",
    "webhooks[].url",
    "webhooks[].basicAuthPassword",
    "webhooks[].authorizationCredentials",
    "opsgenies[].apiKey",
    "teams[].url",
    "discords[].url",
    "googlechats[].url",
    "telegrams[].token",
  ],
  "kubernetes:helm.sh/v3:Release": ["values.adminPassword", "values.grafana.adminPassword"],
};

export interface SecretsConfig {
  /**
   * The value that stands for a Pulumi secret in the representation being
   * checked (`[secret]` in plan.json). Unset under the real engine, which
   * unwraps secrets before validators run.
   */
  secretMarker?: string;
}

/** Values at `path` that are set and not the secret marker, with their concrete paths. */
export function plaintextAt(props: unknown, path: string, marker: string): string[] {
  const found: string[] = [];
  const walk = (value: unknown, segments: string[], at: string) => {
    if (value === undefined || value === null || value === marker) return;
    const [segment, ...rest] = segments;
    if (segment === undefined) {
      if (isEmpty(value) || allMarked(value, marker)) return;
      found.push(at);
      return;
    }
    const array = segment.endsWith("[]");
    const key = array ? segment.slice(0, -2) : segment;
    const child = asRecord(value)?.[key];
    const childAt = at ? `${at}.${key}` : key;
    if (!array) walk(child, rest, childAt);
    else if (child === marker) return;
    else if (Array.isArray(child)) child.forEach((item, i) => walk(item, rest, `${childAt}[${i}]`));
    else walk(child, rest, childAt);
  };
  walk(props, path.split("."), "");
  return found;
}

function isEmpty(value: unknown): boolean {
  if (value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  const record = asRecord(value);
  return record !== undefined && Object.keys(record).length === 0;
}

/** A structure whose every leaf is the marker (a secret per value rather than one for the whole). */
function allMarked(value: unknown, marker: string): boolean {
  if (value === marker) return true;
  if (Array.isArray(value)) return value.length > 0 && value.every((v) => allMarked(v, marker));
  const record = asRecord(value);
  return record !== undefined && Object.keys(record).length > 0 && Object.values(record).every((v) => allMarked(v, marker));
}

/**
 * Credential-bearing inputs (kubeconfig, Grafana provider auth, contact point
 * URLs and keys, Kubernetes Secret data, …) are Pulumi secrets, so they are
 * encrypted in state and masked in previews.
 *
 * Under the real engine this rule cannot see secretness: @pulumi/policy
 * deserializes resource properties with secrets unwrapped to plain values
 * before any validator runs, so a secret kubeconfig and a plaintext one look
 * the same. The rule therefore reports itself not applicable there, and is
 * enforced on the offline plan (policy/planAdapter.ts over plan.json, where
 * synth writes every secret as `[secret]`), which CI runs on every pull request.
 */
export function secretsNotPlaintext(options: PolicyOptions = {}): StackValidationPolicy {
  return {
    name: policyNames.secrets,
    description: "Inputs that carry credentials (kubeconfig, Grafana auth, contact point URLs and keys, Secret data) are Pulumi secrets.",
    enforcementLevel: options.enforcementLevel,
    severity: "critical",
    configSchema: {
      properties: {
        secretMarker: {
          type: "string",
          description: "Value that stands for a secret in the checked representation; set by the plan adapter. Leave unset under the engine.",
        },
      },
    },
    validateStack: (args, reportViolation) => {
      const marker = args.getConfig<SecretsConfig>().secretMarker;
      if (marker === undefined) {
        return args.notApplicable("the policy SDK unwraps secrets before validation, so secretness is only checked on plan.json (policy/planAdapter.ts)");
      }
      for (const resource of args.resources) {
        for (const path of secretInputs[resource.type] ?? []) {
          for (const at of plaintextAt(resource.props, path, marker)) {
            reportViolation(`${resource.type} ${resource.name}: ${at} is in plaintext; wrap it in pulumi.secret() (or read it with config.requireSecret).`, resource.urn);
          }
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Deploy path

// Kept here rather than imported (the pack folder stays self-contained); test/policy.test.ts checks them
// against components/cluster.ts.
export const deployEndpointTag = "infermesh.io/deploy-endpoint";
export const deployRunnerTag = "infermesh.io/deploy-runner";
const eksClusterType = "aws:eks/cluster:Cluster";
const ingressRuleTypes = ["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroupRule:SecurityGroupRule"];

/** A rule that admits TCP 443 (the Kubernetes API) from somewhere. */
function admitsApi(rule: PolicyResource): boolean {
  const props = rule.props;
  if (rule.type === "aws:ec2/securityGroupRule:SecurityGroupRule" && props.type !== "ingress") return false;
  const protocol = String(props.ipProtocol ?? props.protocol ?? "");
  if (!["tcp", "6", "-1", "all"].includes(protocol)) return false;
  if (protocol === "-1" || protocol === "all") return true;
  const from = Number(props.fromPort);
  const to = Number(props.toPort);
  return from <= 443 && 443 <= to;
}

/**
 * CI can reach every EKS cluster the stack creates, the way the cluster says
 * CI deploys it (its `infermesh.io/deploy-endpoint` and
 * `infermesh.io/deploy-runner` tags, set from `infermesh:deploy`, which the
 * workflows read too):
 * - `public`: the public endpoint is on, and for GitHub-hosted runners, whose
 *   addresses are not fixed, open to 0.0.0.0/0;
 * - `private`: the private endpoint is on, the runners are self-hosted, and
 *   some security group rule depending on the cluster admits TCP 443 (EKS's
 *   cluster security group admits nothing else by default).
 * An attached cluster is not in the stack, so there is nothing to check.
 */
export function deployPathReachesCluster(options: PolicyOptions = {}): StackValidationPolicy {
  return {
    name: policyNames.deployPath,
    description:
      "The CI runners that preview and deploy the stack can reach each EKS cluster it creates (public endpoint open to them, or a private endpoint with their addresses admitted).",
    enforcementLevel: options.enforcementLevel,
    severity: "high",
    validateStack: (args, reportViolation) => {
      const clusters = args.resources.filter((r) => r.type === eksClusterType);
      if (clusters.length === 0) return args.notApplicable("the stack creates no EKS cluster (an attached cluster's endpoint is not in the plan)");
      for (const cluster of clusters) {
        const where = `EKS cluster ${cluster.name}`;
        const tags = asRecord(cluster.props.tags) ?? {};
        const endpoint = tags[deployEndpointTag];
        const runner = tags[deployRunnerTag];
        if ((endpoint !== "public" && endpoint !== "private") || (runner !== "github-hosted" && runner !== "self-hosted")) {
          reportViolation(
            `${where} does not say how CI reaches it: tags ${deployEndpointTag} (public | private) and ${deployRunnerTag} (github-hosted | self-hosted) are ${JSON.stringify(endpoint ?? null)} and ${JSON.stringify(runner ?? null)}.`,
            cluster.urn,
          );
          continue;
        }
        const vpc = asRecord(cluster.props.vpcConfig) ?? {};
        if (endpoint === "public") {
          // EKS's default for endpointPublicAccess is true and for publicAccessCidrs 0.0.0.0/0.
          if (vpc.endpointPublicAccess !== undefined && !isTrue(vpc.endpointPublicAccess)) {
            reportViolation(
              `${where}: CI deploys through the public endpoint, which is off (vpcConfig.endpointPublicAccess false); use self-hosted runners in the VPC and the private endpoint.`,
              cluster.urn,
            );
          }
          const cidrs = Array.isArray(vpc.publicAccessCidrs) ? (vpc.publicAccessCidrs as unknown[]) : ["0.0.0.0/0"];
          if (runner === "github-hosted" && !cidrs.includes("0.0.0.0/0")) {
            reportViolation(`${where}: GitHub-hosted runners have no fixed addresses, but the public endpoint admits only ${JSON.stringify(cidrs)}.`, cluster.urn);
          }
          continue;
        }
        if (vpc.endpointPrivateAccess !== undefined && !isTrue(vpc.endpointPrivateAccess)) {
          reportViolation(`${where}: CI deploys through the private endpoint, which is off (vpcConfig.endpointPrivateAccess false).`, cluster.urn);
        }
        if (runner !== "self-hosted") {
          reportViolation(`${where}: GitHub-hosted runners are outside the VPC and cannot reach the private endpoint; deploy from self-hosted runners inside it.`, cluster.urn);
        }
        const admitted = args.resources.filter((r) => ingressRuleTypes.includes(r.type) && r.dependencies.some((d) => d.urn === cluster.urn) && admitsApi(r));
        if (admitted.length === 0) {
          reportViolation(
            `${where}: no security group rule admits the runners to the private endpoint (TCP 443 on the cluster security group); set infermesh:deploy.sourceCidrs.`,
            cluster.urn,
          );
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------

export interface PackOptions {
  monitoringNamespaces?: string[];
}

/** Every policy of the pack, in the order they are reported. */
export function infermeshPolicies(options: PackOptions = {}): Policies {
  return [
    gpuNodeGroupTaint(),
    launchTemplateImdsv2(),
    ebsEncrypted(),
    monitoringEndpointsAuthenticated({ monitoringNamespaces: options.monitoringNamespaces }),
    iamNoWildcardActions(),
    ephemeralStackLifecycle(),
    prodStatefulProtected(),
    secretsNotPlaintext(),
    deployPathReachesCluster(),
    budgetWithinLimits(),
  ];
}
