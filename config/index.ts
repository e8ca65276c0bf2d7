import * as pulumi from "@pulumi/pulumi";
import { defaultThresholds } from "../monitoring/thresholds";
import { defaultSubnets } from "../domain/cidr";
import { environmentPolicies, type EnvironmentPolicy } from "../domain/environments";
import { lookupGpuInstance, migConfigName, nvidiaAmiType, type GpuInstanceType } from "../domain/gpuInstances";
import { ConfigError, configPath, problemsFromZod, redact, secretTexts, type ConfigProblem } from "./errors";
import {
  accessProblems,
  alertingProblems,
  deployProblems,
  expiryProblems,
  grafanaTransportProblems,
  isSelfHosted,
  networkProblems,
  policyProblems,
  secrecyProblems,
  telemetryProblems,
} from "./rules";
import { durationSeconds, sections, type Sections } from "./schema";
import { effectiveRetention, resolveSlo, sloProblems } from "./slo";
import type { AlertingConfig, ContactPoint, CreateClusterConfig, ExistingClusterConfig, GpuPoolConfig, GrafanaConfig, StackConfig } from "./types";

export { ConfigError, type ConfigProblem } from "./errors";
export type * from "./types";

/**
 * Raw values by top-level key (`region` is `aws:region`; the rest are
 * `infermesh:<key>`). Keys of any other namespace keep their namespace
 * (`kubernetes:context`, or a misspelt `infermsh:gpuPools`).
 */
export type RawConfig = Partial<Record<keyof typeof sections, unknown>> & Record<string, unknown>;

/**
 * Namespaces a stack may set besides the project's own: the providers the
 * program creates (their plugins read their keys, e.g. `aws:profile`) and the
 * engine's (`pulumi:disable-default-providers`).
 */
export const providerNamespaces = ["aws", "kubernetes", "grafana", "random", "pulumi"] as const;

/** What a stack's configuration is checked against besides its values. */
export interface ParseContext {
  project: string;
  stack: string;
  /** When this deployment runs, read once at the edge (tests and the offline render pin it). */
  now: Date;
  /** Top-level keys (`secrets`) the CLI holds encrypted, as a whole or in part. */
  secretKeys?: readonly string[];
  /**
   * Paths (`secrets.grafanaToken`) of the values stored encrypted in
   * `Pulumi.<stack>.yaml`, when the stack file could be read; the engine only
   * says which top-level keys hold some secret.
   */
  encryptedPaths?: readonly string[];
}

/**
 * Validates a stack's raw configuration into a {@link StackConfig}. Throws a
 * {@link ConfigError} listing every problem found; nothing else in the program
 * reads configuration. No message carries a secret value.
 */
export function parseStackConfig(raw: RawConfig, ctx: ParseContext): StackConfig {
  const problems: ConfigProblem[] = [];
  const parsed: Partial<Sections> = {};
  const allowedKeys = Object.keys(sections).filter((k) => k !== "region");
  for (const key of Object.keys(raw)) {
    const separator = key.indexOf(":");
    if (separator >= 0) {
      const namespace = key.slice(0, separator);
      if (!(providerNamespaces as readonly string[]).includes(namespace) && namespace !== ctx.project) {
        const name = key.slice(separator + 1);
        const guess = allowedKeys.includes(name) ? ` (did you mean ${ctx.project}:${name}?)` : "";
        problems.push({
          path: key,
          message: `unknown namespace "${namespace}"; allowed namespaces: ${ctx.project} (this project), ${providerNamespaces.join(", ")}${guess}`,
        });
      }
    } else if (!Object.hasOwn(sections, key)) {
      problems.push({ path: configPath([key]), message: `unknown key; allowed keys: ${allowedKeys.join(", ")}` });
    }
  }
  // Secrets live in infermesh:secrets whether or not they were encrypted; any other key the CLI holds encrypted is secret too.
  const secretSections = new Set(["secrets", ...(ctx.secretKeys ?? [])]);
  for (const [key, schema] of Object.entries(sections) as [keyof Sections, (typeof sections)[keyof Sections]][]) {
    const result = schema.safeParse(raw[key], { reportInput: true });
    if (result.success) (parsed as Record<string, unknown>)[key] = result.data;
    else problems.push(...problemsFromZod(result.error.issues, [key], { secret: secretSections.has(key) }));
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
  problems.push(...secrecyProblems(raw, ctx.secretKeys ?? [], ctx.encryptedPaths));
  problems.push(...grafanaTransportProblems(parsed));
  problems.push(...expiryProblems(parsed, policy, ctx.now));
  problems.push(...accessProblems(parsed), ...deployProblems(parsed));
  problems.push(...sloProblems(parsed, raw));

  if (problems.length > 0) {
    const secrets = [...secretSections].flatMap((key) => secretTexts(raw[key]));
    throw new ConfigError(problems.map((p) => ({ path: p.path, message: redact(p.message, secrets) })));
  }
  // Every section parsed (or a problem was recorded above), so these are defined.
  const s = parsed as Sections;
  const p = policy as EnvironmentPolicy;
  const slo = resolveSlo(s);

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
    access: Object.fromEntries(Object.entries(s.access).map(([name, entry]) => [name, { name, ...entry }])),
    deploy: { ...s.deploy, runner: isSelfHosted(s.deploy.runsOn) ? "self-hosted" : "github-hosted" },
    gpuPools: Object.fromEntries(Object.entries(s.gpuPools).map(([name, pool]) => [name, resolvePool(name, pool, p)])),
    models: s.models,
    slo,
    telemetry: {
      backend: s.telemetry.backend,
      scrapeInterval: s.telemetry.scrapeInterval,
      scrapeIntervalSeconds: durationSeconds(s.telemetry.scrapeInterval),
      retention: effectiveRetention(s.telemetry, raw, slo.window),
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
    deployedAt: ctx.now.toISOString(),
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
          return [name, { name, type: "sns", topic: cp.topicArn === undefined ? { owner: "stack" } : { owner: "external", arn: cp.topicArn } }];
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

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
