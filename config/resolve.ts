/**
 * Parsed sections to the {@link StackConfig} components receive. Every
 * resolver keeps the parsed section's keys (a spread) and lays what it
 * derives over them, so a key the schema validates is never dropped here.
 */
import * as pulumi from "@pulumi/pulumi";
import { defaultThresholds } from "../monitoring/thresholds";
import { defaultSubnets } from "../domain/cidr";
import type { CapacityType } from "../domain/environments";
import { lookupGpuInstance, migConfigName, nvidiaAmiType, type GpuInstanceType } from "../domain/gpuInstances";
import { definedOnly, type Defaults } from "./defaults";
import { isSelfHosted } from "./rules";
import { durationSeconds } from "../lib/duration";
import type { Sections } from "./schema";
import { effectiveRetention, resolveSlo } from "./slo";
import type { AlertingConfig, ContactPoint, CreateClusterConfig, ExistingClusterConfig, GpuPoolConfig, GrafanaConfig, ParseContext, RawConfig, StackConfig } from "./types";

/** Resolves sections that all parsed and passed the rules, with the defaults decided from them. */
export function resolveStackConfig(s: Sections, d: Defaults, raw: RawConfig, ctx: ParseContext): StackConfig {
  const { safety: _safety, secrets, grafana, ...sections } = s;
  return {
    ...sections,
    project: ctx.project,
    stack: ctx.stack,
    policy: d.policy,
    tags: {
      ...s.tags,
      project: ctx.project,
      stack: ctx.stack,
      environment: s.environment,
      ...(s.expiresAt ? { "expires-at": s.expiresAt } : {}),
    },
    cluster: resolveCluster(s.cluster, ctx.stack),
    access: mapValues(s.access, (name, entry) => ({ name, ...entry })),
    deploy: { ...s.deploy, runner: isSelfHosted(s.deploy.runsOn) ? "self-hosted" : "github-hosted" },
    gpuPools: mapValues(s.gpuPools, (name, pool) => resolvePool(name, pool, d.capacity[name] as CapacityType)),
    slo: resolveSlo(s, d.sloWindow),
    telemetry: {
      ...s.telemetry,
      scrapeIntervalSeconds: durationSeconds(s.telemetry.scrapeInterval),
      retention: effectiveRetention(s.telemetry, raw, d.sloWindow),
      migStrategy: d.migStrategy,
    },
    ...(grafana ? { grafana: resolveGrafana(grafana, secrets) } : {}),
    alerting: resolveAlerting(s.alerting, d, secrets),
    autoscaler: {
      ...s.autoscaler,
      priorities: mapValues(s.gpuPools, (name) => s.autoscaler.expanderPriorities[name] ?? (d.capacity[name] === "spot" ? 20 : 10)),
    },
    deployedAt: ctx.now.toISOString(),
  };
}

function mapValues<T, U>(record: Record<string, T>, f: (name: string, value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, f(name, value)]));
}

const secretValue = (secrets: Record<string, string>, name: string) => pulumi.secret(secrets[name] as string);

function resolveGrafana(grafana: NonNullable<Sections["grafana"]>, secrets: Record<string, string>): GrafanaConfig {
  if (grafana.mode === "external") return { ...grafana, token: secretValue(secrets, grafana.tokenSecret) };
  return grafana;
}

function resolveAlerting(alerting: Sections["alerting"], d: Defaults, secrets: Record<string, string>): AlertingConfig {
  const contactPoints = mapValues(alerting.contactPoints, (name, cp): ContactPoint => {
    switch (cp.type) {
      case "slack":
        return { name, type: "slack", webhookUrl: secretValue(secrets, cp.secret), ...(cp.channel ? { channel: cp.channel } : {}) };
      case "pagerduty":
        return { name, type: "pagerduty", integrationKey: secretValue(secrets, cp.secret) };
      case "email":
        return { name, type: "email", addresses: secretValue(secrets, cp.secret).apply((list) => list.split(",").map((a) => a.trim())) };
      case "sns":
        return { name, type: "sns", topic: cp.topicArn === undefined ? { owner: "stack" } : { owner: "external", arn: cp.topicArn } };
    }
  });
  return {
    ...alerting,
    evaluator: d.evaluator,
    policy: d.alertPolicy,
    thresholds: { ...defaultThresholds, ...definedOnly(alerting.thresholds) },
    contactPoints,
  };
}

function resolveCluster(cluster: Sections["cluster"], stack: string): CreateClusterConfig | ExistingClusterConfig {
  if (cluster.mode === "existing") return cluster;
  return {
    ...cluster,
    name: cluster.name ?? `infermesh-${stack}`,
    vpc: { ...cluster.vpc, subnets: cluster.vpc.subnets ?? defaultSubnets(cluster.vpc.cidr, cluster.vpc.availabilityZones) },
  };
}

function resolvePool(name: string, pool: Sections["gpuPools"][string], capacity: CapacityType): GpuPoolConfig {
  // Validation guarantees every instance type is in the table and they agree on GPU and architecture.
  const gpu = lookupGpuInstance(pool.instanceTypes[0] as string) as GpuInstanceType;
  return {
    ...pool,
    name,
    gpu: gpu.gpu,
    gpusPerInstance: gpu.gpusPerInstance,
    architecture: gpu.architecture,
    capacity,
    amiType: nvidiaAmiType(pool.amiFamily, gpu.architecture),
    ...(pool.migProfile ? { mig: { profile: pool.migProfile, config: migConfigName(pool.migProfile) } } : {}),
  };
}
