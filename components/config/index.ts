import * as pulumi from "@pulumi/pulumi";
import { defaultThresholds, type AlertThresholds, type Severity } from "../../dashboards/alerts";
import { contains, defaultSubnets, overlaps, parseCidr, type Cidr, type ZoneSubnets } from "../cidr";
import { environmentPolicies, type CapacityType, type EnvironmentKind, type EnvironmentPolicy } from "../environments";
import {
  lookupGpuInstance,
  migConfigName,
  nvidiaAmiType,
  type AmiFamily,
  type GpuInstanceType,
  type GpuModel,
  type NvidiaAmiType,
} from "../gpuInstances";
import type { KubernetesVersion } from "../versions";
import { ConfigError, configPath, problemsFromZod, show, type ConfigProblem } from "./errors";
import { durationSeconds, sections, type Sections } from "./schema";

export { ConfigError, type ConfigProblem } from "./errors";

export interface Scaling {
  min: number;
  desired: number;
  max: number;
}

export interface GpuPoolConfig {
  /** The pool's key in `infermesh:gpuPools`; every child name derives from it. */
  name: string;
  instanceTypes: string[];
  gpu: GpuModel;
  gpusPerInstance: number;
  architecture: GpuInstanceType["architecture"];
  capacity: CapacityType;
  scaling: Scaling;
  diskSizeGiB: number;
  amiFamily: AmiFamily;
  amiType: NvidiaAmiType;
  mig?: { profile: string; config: string };
  labels: Record<string, string>;
}

export interface CreateClusterConfig {
  mode: "create";
  name: string;
  kubernetesVersion: KubernetesVersion;
  vpc: { cidr: string; subnets: Record<string, ZoneSubnets> };
  serviceCidr: string;
  endpointPublicAccess: boolean;
  publicAccessCidrs: string[];
  systemNodes: { instanceTypes: string[]; scaling: Scaling; diskSizeGiB: number };
}

export interface ExistingClusterConfig {
  mode: "existing";
  name: string;
  subnetIds?: string[];
}

export type MigStrategy = "none" | "single" | "mixed";

export interface TelemetryConfig {
  backend: "in-cluster" | "amp";
  /** Prometheus duration, e.g. `30s`. */
  scrapeInterval: string;
  scrapeIntervalSeconds: number;
  retention: string;
  volumeSizeGiB: number;
  migStrategy: MigStrategy;
  infermesh: Sections["telemetry"]["infermesh"];
}

/** A notification channel; its secret part stays a Pulumi secret from config to state. */
export type ContactPoint =
  | { name: string; type: "slack"; webhookUrl: pulumi.Output<string>; channel?: string }
  | { name: string; type: "pagerduty"; integrationKey: pulumi.Output<string> }
  | { name: string; type: "email"; addresses: pulumi.Output<string[]> }
  | { name: string; type: "sns"; topicArn: string };

export interface AlertingConfig {
  evaluator: "grafana" | "prometheus";
  policy: "tree" | "per-rule";
  runbookBaseUrl: string;
  thresholds: AlertThresholds;
  contactPoints: Record<string, ContactPoint>;
  routes: Record<Severity, string[]>;
  groupBy: string[];
  repeatInterval: Record<Severity, string>;
}

export type GrafanaConfig =
  | { mode: "managed"; authentication: ("AWS_SSO" | "SAML")[]; grafanaVersion: string; tokenTtlDays: number; prometheusUrl?: string }
  | { mode: "external"; url: string; token: pulumi.Output<string>; prometheusUrl?: string }
  | { mode: "in-cluster"; url: string };

export interface AutoscalerConfig {
  enabled: boolean;
  scaleDownDelay: string;
  /** Priority-expander weight of every GPU pool, by pool name. */
  priorities: Record<string, number>;
}

export interface CapacityConfig {
  idleUtilizationPercent: number;
  idleWindow: string;
  pendingPodTimeout: string;
}

export interface ModelConfig {
  queueDepthMax?: number;
  latencyP95MaxMs?: number;
}

/** Everything a stack can set, validated, with defaults applied. Components receive parts of it. */
export interface StackConfig {
  project: string;
  stack: string;
  region: string;
  environment: EnvironmentKind;
  policy: EnvironmentPolicy;
  expiresAt?: string;
  /** Tags for every AWS resource: project, stack, environment, expiry and the stack's own. */
  tags: Record<string, string>;
  cluster: CreateClusterConfig | ExistingClusterConfig;
  gpuPools: Record<string, GpuPoolConfig>;
  models: Record<string, ModelConfig>;
  telemetry: TelemetryConfig;
  /** Absent when the stack does not manage a Grafana. */
  grafana?: GrafanaConfig;
  alerting: AlertingConfig;
  autoscaler: AutoscalerConfig;
  capacity: CapacityConfig;
  /** When this deployment runs (read once, here); short-lived credentials are renewed from it. */
  deployedAt: string;
}

/** Raw values by top-level key (`region` is `aws:region`; the rest are `infermesh:<key>`). */
export type RawConfig = Partial<Record<keyof typeof sections, unknown>> & Record<string, unknown>;

/**
 * Validates a stack's raw configuration into a {@link StackConfig}. Throws a
 * {@link ConfigError} listing every problem found; nothing else in the program
 * reads configuration.
 */
export function parseStackConfig(
  raw: RawConfig,
  ctx: { project: string; stack: string; secretKeys?: readonly string[]; now?: Date },
): StackConfig {
  const problems: ConfigProblem[] = [];
  const parsed: Partial<Sections> = {};
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(sections, key)) {
      problems.push({ path: configPath([key]), message: `unknown key; allowed keys: ${Object.keys(sections).filter((k) => k !== "region").join(", ")}` });
    }
  }
  for (const [key, schema] of Object.entries(sections) as [keyof Sections, (typeof sections)[keyof Sections]][]) {
    const result = schema.safeParse(raw[key], { reportInput: true });
    if (result.success) (parsed as Record<string, unknown>)[key] = result.data;
    else problems.push(...problemsFromZod(result.error.issues, [key]));
  }

  const policy = parsed.environment ? { ...environmentPolicies[parsed.environment], ...definedOnly(parsed.safety ?? {}) } : undefined;
  if (policy) problems.push(...policyProblems(parsed, raw, policy));
  if (parsed.cluster?.mode === "create") problems.push(...networkProblems(parsed.cluster, parsed.region));
  if (parsed.telemetry && parsed.gpuPools) problems.push(...telemetryProblems(parsed.telemetry, parsed.gpuPools));
  if (parsed.autoscaler && parsed.gpuPools) {
    for (const name of Object.keys(parsed.autoscaler.expanderPriorities)) {
      if (!Object.hasOwn(parsed.gpuPools, name)) {
        problems.push({ path: `infermesh:autoscaler.expanderPriorities.${name}`, message: `got a pool that does not exist; pools: ${Object.keys(parsed.gpuPools).join(", ") || "none"}` });
      }
    }
  }
  problems.push(...alertingProblems(parsed, raw, ctx.secretKeys ?? []));

  if (problems.length > 0) throw new ConfigError(problems);
  // Every section parsed (or a problem was recorded above), so these are defined.
  const s = parsed as Sections;
  const p = policy as EnvironmentPolicy;

  const tags: Record<string, string> = {
    ...s.tags,
    project: ctx.project,
    stack: ctx.stack,
    environment: s.environment,
    ...(s.expiresAt ? { "expires-at": s.expiresAt } : {}),
  };
  return {
    project: ctx.project,
    stack: ctx.stack,
    region: s.region,
    environment: s.environment,
    policy: p,
    ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
    tags,
    cluster: resolveCluster(s.cluster, ctx.stack),
    gpuPools: Object.fromEntries(Object.entries(s.gpuPools).map(([name, pool]) => [name, resolvePool(name, pool, p)])),
    models: s.models,
    telemetry: {
      backend: s.telemetry.backend,
      scrapeInterval: s.telemetry.scrapeInterval,
      scrapeIntervalSeconds: durationSeconds(s.telemetry.scrapeInterval),
      retention: s.telemetry.retention,
      volumeSizeGiB: s.telemetry.volumeSizeGiB,
      migStrategy: s.telemetry.migStrategy ?? (Object.values(s.gpuPools).some((p) => p.migProfile) ? "single" : "none"),
      infermesh: s.telemetry.infermesh,
    },
    ...(s.grafana ? { grafana: resolveGrafana(s.grafana, s.secrets) } : {}),
    alerting: resolveAlerting(s.alerting, s.grafana, s.secrets),
    autoscaler: {
      enabled: s.autoscaler.enabled,
      scaleDownDelay: s.autoscaler.scaleDownDelay,
      priorities: Object.fromEntries(
        Object.entries(s.gpuPools).map(([name, pool]) => [
          name,
          s.autoscaler.expanderPriorities[name] ?? ((pool.capacity ?? p.defaultCapacity) === "spot" ? 20 : 10),
        ]),
      ),
    },
    capacity: s.capacity,
    deployedAt: (ctx.now ?? new Date()).toISOString(),
  };
}

const secretValue = (secrets: Record<string, string>, name: string) => pulumi.secret(secrets[name] as string);

function resolveGrafana(grafana: Sections["grafana"] & object, secrets: Record<string, string>): GrafanaConfig {
  if (grafana.mode === "external") {
    return { mode: "external", url: grafana.url, token: secretValue(secrets, grafana.tokenSecret), ...(grafana.prometheusUrl ? { prometheusUrl: grafana.prometheusUrl } : {}) };
  }
  return grafana;
}

function resolveAlerting(alerting: Sections["alerting"], grafana: Sections["grafana"], secrets: Record<string, string>): AlertingConfig {
  const contactPoints = Object.fromEntries(
    Object.entries(alerting.contactPoints).map(([name, cp]): [string, ContactPoint] => {
      switch (cp.type) {
        case "slack":
          return [name, { name, type: "slack", webhookUrl: secretValue(secrets, cp.secret), ...(cp.channel ? { channel: cp.channel } : {}) }];
        case "pagerduty":
          return [name, { name, type: "pagerduty", integrationKey: secretValue(secrets, cp.secret) }];
        case "email":
          return [name, { name, type: "email", addresses: secretValue(secrets, cp.secret).apply((list) => list.split(",").map((a) => a.trim())) }];
        case "sns":
          return [name, { name, type: "sns", topicArn: cp.topicArn }];
      }
    }),
  );
  return {
    evaluator: alerting.evaluator ?? (grafana ? "grafana" : "prometheus"),
    policy: alerting.policy ?? (grafana?.mode === "external" ? "per-rule" : "tree"),
    runbookBaseUrl: alerting.runbookBaseUrl,
    thresholds: { ...defaultThresholds, ...definedOnly(alerting.thresholds) },
    contactPoints,
    routes: alerting.routes,
    groupBy: alerting.groupBy,
    repeatInterval: alerting.repeatInterval,
  };
}

/** Secrets stay secret, references resolve, and the evaluator can reach what it needs. */
function alertingProblems(parsed: Partial<Sections>, raw: RawConfig, secretKeys: readonly string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (path: string, message: string) => problems.push({ path, message });
  const secrets = parsed.secrets ?? {};
  if (raw.secrets !== undefined && !secretKeys.includes("secrets")) {
    at("infermesh:secrets", "holds values in plaintext; set each with `pulumi config set --secret --path 'infermesh:secrets.<name>' <value>`");
  }
  const requireSecret = (path: string, name: string) => {
    if (!Object.hasOwn(secrets, name)) {
      at(path, `got ${JSON.stringify(name)}, which is not in infermesh:secrets (present: ${Object.keys(secrets).join(", ") || "none"})`);
    }
  };
  const grafana = parsed.grafana;
  if (grafana?.mode === "external") requireSecret("infermesh:grafana.tokenSecret", grafana.tokenSecret);
  if (grafana && grafana.mode !== "in-cluster" && parsed.telemetry?.backend === "in-cluster" && grafana.prometheusUrl === undefined) {
    at(
      "infermesh:grafana.prometheusUrl",
      `is required with grafana mode "${grafana.mode}" and the in-cluster metrics backend (the Prometheus service is only reachable inside the cluster); set it, or use infermesh:telemetry.backend: amp`,
    );
  }
  const alerting = parsed.alerting;
  if (!alerting) return problems;
  const evaluator = alerting.evaluator ?? (grafana ? "grafana" : "prometheus");
  if (evaluator === "grafana" && !grafana) {
    at("infermesh:alerting.evaluator", `got "grafana" but no infermesh:grafana is configured; allowed here: prometheus`);
  }
  for (const [name, cp] of Object.entries(alerting.contactPoints)) {
    if (cp.type !== "sns") requireSecret(`infermesh:alerting.contactPoints.${name}.secret`, cp.secret);
    if (cp.type === "sns" && evaluator === "grafana" && grafana?.mode !== "managed") {
      at(`infermesh:alerting.contactPoints.${name}.type`, `got "sns"; Grafana sends to SNS only as Amazon Managed Grafana (infermesh:grafana.mode: managed); allowed here: slack | pagerduty | email`);
    }
    if (cp.type === "email" && evaluator === "prometheus" && parsed.telemetry?.backend !== "amp") {
      at(`infermesh:alerting.contactPoints.${name}.type`, `got "email"; the stack's Alertmanager has no SMTP relay configured; allowed here: slack | pagerduty | sns`);
    }
    if (cp.type !== "sns" && evaluator === "prometheus" && parsed.telemetry?.backend === "amp") {
      at(`infermesh:alerting.contactPoints.${name}.type`, `got "${cp.type}"; Amazon Managed Prometheus' alert manager delivers only to SNS; allowed here: sns`);
    }
  }
  for (const severity of ["critical", "warning", "info"] as const) {
    alerting.routes[severity].forEach((name, i) => {
      if (!Object.hasOwn(alerting.contactPoints, name)) {
        at(`infermesh:alerting.routes.${severity}.${i}`, `got ${JSON.stringify(name)}; contact points defined: ${Object.keys(alerting.contactPoints).join(", ") || "none"}`);
      }
    });
  }
  return problems;
}

function telemetryProblems(telemetry: Sections["telemetry"], pools: Sections["gpuPools"]): ConfigProblem[] {
  const migPools = Object.entries(pools).filter(([, p]) => p.migProfile !== undefined).map(([name]) => name);
  const problems: ConfigProblem[] = [];
  for (const [name, pool] of Object.entries(pools)) {
    if (pool.migProfile !== undefined && pool.amiFamily === "bottlerocket") {
      problems.push({
        path: `infermesh:gpuPools.${name}.amiFamily`,
        message: `got "bottlerocket" with migProfile ${JSON.stringify(pool.migProfile)}; the NVIDIA MIG manager cannot repartition Bottlerocket's GPUs (allowed with MIG: al2023)`,
      });
    }
  }
  if (telemetry.migStrategy === "none" && migPools.length > 0) {
    problems.push(
      {
        path: "infermesh:telemetry.migStrategy",
        message: `got "none" while pools ${migPools.join(", ")} set migProfile; with "none" the device plugin ignores MIG instances (allowed here: single | mixed)`,
      });
  }
  return problems;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Rules that depend on the environment. Pools are read from the raw values so
 * that a pool with an unrelated mistake is still checked against the policy.
 */
function policyProblems(parsed: Partial<Sections>, raw: RawConfig, policy: EnvironmentPolicy): ConfigProblem[] {
  const env = parsed.environment;
  const problems: ConfigProblem[] = [];
  if (!policy.allowSpot && policy.defaultCapacity === "spot") {
    problems.push({
      path: "infermesh:safety.defaultCapacity",
      message: `got "spot" while spot is not allowed in environment "${env}"; set infermesh:safety.allowSpot: true or use "on-demand"`,
    });
  }
  const rawPools = typeof raw.gpuPools === "object" && raw.gpuPools !== null ? (raw.gpuPools as Record<string, any>) : {};
  for (const [name, pool] of Object.entries(rawPools)) {
    if (typeof pool !== "object" || pool === null) continue;
    if (pool.capacity === "spot" && !policy.allowSpot) {
      problems.push({
        path: `infermesh:gpuPools.${name}.capacity`,
        message: `got "spot"; environment "${env}" allows only "on-demand" (set infermesh:safety.allowSpot: true to override)`,
      });
    }
    if (pool.scaling?.min === 0 && !policy.allowScaleToZero) {
      problems.push({
        path: `infermesh:gpuPools.${name}.scaling.min`,
        message: `got 0; environment "${env}" keeps at least one node per pool (allowed: >= 1, or set infermesh:safety.allowScaleToZero: true)`,
      });
    }
  }
  if (policy.requireExpiry && parsed.expiresAt === undefined && parsed.environment !== undefined) {
    problems.push({
      path: "infermesh:expiresAt",
      message: `is required for environment "${env}" (an ISO-8601 UTC time like 2026-12-01T00:00:00Z, written to the expires-at tag)`,
    });
  }
  return problems;
}

function networkProblems(cluster: Extract<Sections["cluster"], { mode: "create" }>, region: string | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (path: string, message: string) => problems.push({ path: `infermesh:cluster.${path}`, message });
  const zones = cluster.vpc.availabilityZones;
  const duplicates = zones.filter((z, i) => zones.indexOf(z) !== i);
  if (duplicates.length > 0) at("vpc.availabilityZones", `got ${show(zones)}; zones must be distinct (repeated: ${duplicates.join(", ")})`);
  if (region !== undefined) {
    const foreign = zones.filter((z) => !new RegExp(`^${region}[a-z]$`).test(z));
    if (foreign.length > 0) at("vpc.availabilityZones", `got ${show(foreign)}; zones must be in region ${region} (e.g. ${region}a, ${region}b)`);
  }
  const vpc = parseCidr(cluster.vpc.cidr) as Cidr;
  if (vpc.prefix < 16 || vpc.prefix > 24) at("vpc.cidr", `got "${cluster.vpc.cidr}"; the VPC prefix must be between /16 and /24`);
  const service = parseCidr(cluster.serviceCidr) as Cidr;
  if (overlaps(vpc, service)) {
    at("serviceCidr", `got "${cluster.serviceCidr}", which overlaps the VPC ${cluster.vpc.cidr}; choose a range outside it (e.g. 172.20.0.0/16)`);
  }
  const explicit = cluster.vpc.subnets;
  if (explicit === undefined) {
    if (zones.length > 4) at("vpc.subnets", `is required with more than four availability zones (got ${zones.length}); list each zone's private and public CIDR`);
    return problems;
  }
  const missing = zones.filter((z) => !Object.hasOwn(explicit, z));
  const extra = Object.keys(explicit).filter((z) => !zones.includes(z));
  if (missing.length > 0) at("vpc.subnets", `has no entry for ${missing.join(", ")}; every availability zone needs private and public CIDRs`);
  for (const z of extra) at(`vpc.subnets.${z}`, `got a zone that is not in vpc.availabilityZones (${zones.join(", ")})`);
  const blocks = Object.entries(explicit).flatMap(([zone, s]) =>
    (["private", "public"] as const).map((kind) => ({ path: `vpc.subnets.${zone}.${kind}`, text: s[kind], cidr: parseCidr(s[kind]) as Cidr })),
  );
  blocks.forEach((block, i) => {
    if (!contains(vpc, block.cidr)) at(block.path, `got "${block.text}", which is outside the VPC ${cluster.vpc.cidr}`);
    const clash = blocks.slice(0, i).find((other) => overlaps(other.cidr, block.cidr));
    if (clash) at(block.path, `got "${block.text}", which overlaps ${clash.path} (${clash.text}); subnets must not overlap`);
  });
  return problems;
}

function resolveCluster(cluster: Sections["cluster"], stack: string): CreateClusterConfig | ExistingClusterConfig {
  if (cluster.mode === "existing") return { mode: "existing", name: cluster.name, ...(cluster.subnetIds ? { subnetIds: cluster.subnetIds } : {}) };
  return {
    mode: "create",
    name: cluster.name ?? `infermesh-${stack}`,
    kubernetesVersion: cluster.kubernetesVersion,
    vpc: { cidr: cluster.vpc.cidr, subnets: cluster.vpc.subnets ?? defaultSubnets(cluster.vpc.cidr, cluster.vpc.availabilityZones) },
    serviceCidr: cluster.serviceCidr,
    endpointPublicAccess: cluster.endpointPublicAccess,
    publicAccessCidrs: cluster.publicAccessCidrs,
    systemNodes: cluster.systemNodes,
  };
}

function resolvePool(name: string, pool: Sections["gpuPools"][string], policy: EnvironmentPolicy): GpuPoolConfig {
  // Validation guarantees every instance type is in the table and they agree on GPU and architecture.
  const gpu = lookupGpuInstance(pool.instanceTypes[0] as string) as GpuInstanceType;
  return {
    name,
    instanceTypes: pool.instanceTypes,
    gpu: gpu.gpu,
    gpusPerInstance: gpu.gpusPerInstance,
    architecture: gpu.architecture,
    capacity: pool.capacity ?? policy.defaultCapacity,
    scaling: pool.scaling,
    diskSizeGiB: pool.diskSizeGiB,
    amiFamily: pool.amiFamily,
    amiType: nvidiaAmiType(pool.amiFamily, gpu.architecture),
    ...(pool.migProfile ? { mig: { profile: pool.migProfile, config: migConfigName(pool.migProfile) } } : {}),
    labels: pool.labels,
  };
}
