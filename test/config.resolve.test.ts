/**
 * A key the schema validates reaches the components: every key of every
 * section, set explicitly, is in the resolved StackConfig with its value.
 * Checked twice: by the compiler (each parsed section's keys are keys of its
 * resolved type; `tsc` checks the `expectTypeOf` lines) and at run time on a
 * config that sets every key the schema knows.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import type {
  AccessEntryConfig,
  AlertingConfig,
  AutoscalerConfig,
  CapacityConfig,
  ConsumedSections,
  CreateClusterConfig,
  DeployPathConfig,
  ExistingClusterConfig,
  GpuPoolConfig,
  GrafanaConfig,
  ModelConfig,
  RawConfig,
  StackConfig,
  TelemetryConfig,
} from "../config";
import type { AlertThresholds } from "../monitoring/thresholds";
import type { EnvironmentPolicy } from "../domain/environments";
import type { SloSpec } from "../monitoring/slo";
import {
  accessEntrySchema,
  alertingSchema,
  autoscalerSchema,
  capacitySchema,
  createClusterSchema,
  deploySchema,
  existingClusterSchema,
  gpuPoolSchema,
  grafanaSchema,
  modelSchema,
  safetySchema,
  sections,
  sloSchema,
  telemetrySchema,
  type Sections,
} from "../config/schema";
import { parse, testNow } from "./helpers/stack";

type Grafana = NonNullable<Sections["grafana"]>;
type Mode<G, M> = Extract<G, { mode: M }>;

describe("resolved types keep every key of the parsed sections", () => {
  it("compiles only while every parsed key is a key of its resolved type", () => {
    expectTypeOf<keyof Sections["gpuPools"][string]>().toExtend<keyof GpuPoolConfig>();
    expectTypeOf<keyof Mode<Sections["cluster"], "create">>().toExtend<keyof CreateClusterConfig>();
    expectTypeOf<keyof Mode<Sections["cluster"], "create">["vpc"]>().toExtend<keyof CreateClusterConfig["vpc"]>();
    expectTypeOf<keyof Mode<Sections["cluster"], "existing">>().toExtend<keyof ExistingClusterConfig>();
    expectTypeOf<keyof Sections["access"][string]>().toExtend<keyof AccessEntryConfig>();
    expectTypeOf<keyof Sections["deploy"]>().toExtend<keyof DeployPathConfig>();
    expectTypeOf<keyof Sections["models"][string]>().toExtend<keyof ModelConfig>();
    expectTypeOf<keyof Sections["telemetry"]>().toExtend<keyof TelemetryConfig>();
    expectTypeOf<keyof Sections["alerting"]>().toExtend<keyof AlertingConfig>();
    expectTypeOf<keyof Sections["alerting"]["thresholds"]>().toExtend<keyof AlertThresholds>();
    expectTypeOf<keyof Sections["autoscaler"]>().toExtend<keyof AutoscalerConfig>();
    expectTypeOf<keyof Sections["capacity"]>().toExtend<keyof CapacityConfig>();
    expectTypeOf<keyof Mode<Grafana, "managed">>().toExtend<keyof Mode<GrafanaConfig, "managed">>();
    expectTypeOf<keyof Mode<Grafana, "external">>().toExtend<keyof Mode<GrafanaConfig, "external">>();
    expectTypeOf<keyof Mode<Grafana, "in-cluster">>().toExtend<keyof Mode<GrafanaConfig, "in-cluster">>();
    // Reshaped on purpose: the SLO section into per-model objectives, safety into the policy, secrets into Pulumi secrets.
    expectTypeOf<keyof Sections["slo"]>().toExtend<"window" | keyof SloSpec["defaults"]>();
    expectTypeOf<keyof Sections["safety"]>().toExtend<keyof EnvironmentPolicy>();
    expectTypeOf<Exclude<keyof Sections, ConsumedSections>>().toExtend<keyof StackConfig>();
    expectTypeOf<"secrets">().not.toExtend<keyof StackConfig>();
  });
});

const expiresAt = new Date(Date.parse(testNow) + 24 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A dev stack that sets every key the schema knows (an external Grafana and a created cluster). */
function fullRaw(): RawConfig {
  return {
    region: "us-west-2",
    environment: "dev",
    cluster: {
      mode: "create",
      name: "fleet",
      kubernetesVersion: "1.34",
      vpc: {
        cidr: "10.40.0.0/16",
        availabilityZones: ["us-west-2a", "us-west-2b"],
        subnets: {
          "us-west-2a": { private: "10.40.0.0/19", public: "10.40.64.0/22" },
          "us-west-2b": { private: "10.40.32.0/19", public: "10.40.68.0/22" },
        },
      },
      serviceCidr: "172.21.0.0/16",
      endpointPublicAccess: true,
      publicAccessCidrs: ["0.0.0.0/0"],
      systemNodes: { instanceTypes: ["m7i.xlarge"], scaling: { min: 2, desired: 3, max: 5 }, diskSizeGiB: 60 },
    },
    access: {
      oncall: { principalArn: "arn:aws:iam::111122223333:role/oncall", policies: { edit: ["serving"] }, kubernetesGroups: ["infermesh:oncall"] },
    },
    deploy: { runsOn: ["ubuntu-latest"], endpoint: "public", sourceCidrs: ["203.0.113.0/24"] },
    gpuPools: {
      a100: {
        instanceTypes: ["p4d.24xlarge"],
        capacity: "on-demand",
        scaling: { min: 0, desired: 1, max: 2 },
        diskSizeGiB: 300,
        amiFamily: "al2023",
        migProfile: "3g.20gb",
        labels: { team: "serving" },
      },
    },
    models: {
      "gpt-7b": { queueDepthMax: 40, latencyP95MaxMs: 900, slo: { availabilityPercent: 99.9, latencyPercent: 97, latencyTargetMs: 1000 } },
    },
    slo: { window: "28d", availabilityPercent: 99.5, latencyPercent: 96, latencyTargetMs: 2000 },
    safety: {
      protectStateful: true,
      retainVolumes: true,
      allowSpot: false,
      allowScaleToZero: true,
      defaultCapacity: "on-demand",
      natGateways: "per-az",
      requireExpiry: true,
    },
    tags: { team: "serving" },
    telemetry: {
      backend: "in-cluster",
      scrapeInterval: "15s",
      retention: "30d",
      volumeSizeGiB: 200,
      migStrategy: "mixed",
      infermesh: { namespaces: ["serving"], partOf: "im", components: ["router", "agent"], port: "prom", path: "/prom" },
    },
    grafana: { mode: "external", url: "https://grafana.example.com", tokenSecret: "gtoken", prometheusUrl: "https://prometheus.example.com" },
    autoscaler: { enabled: false, scaleDownDelay: "20m", expanderPriorities: { a100: 50 } },
    capacity: { idleUtilizationPercent: 10, idleWindow: "2h", pendingPodTimeout: "15m" },
    alerting: {
      evaluator: "grafana",
      policy: "tree",
      runbookBaseUrl: "https://runbooks.example.com/infermesh",
      thresholds: { queueDepthMax: 70, latencyP95MaxMs: 1500, vramUsedRatioMax: 0.8, rejectionRatioMax: 0.02, errorRatioMax: 0.03, thermalThrottleRatioMax: 0.2 },
      contactPoints: { chat: { type: "slack", secret: "slackHook", channel: "#alerts" } },
      routes: { critical: ["chat"], warning: ["chat"], info: [] },
      groupBy: ["alertname", "model"],
      repeatInterval: { critical: "30m", warning: "2h", info: "12h" },
    },
    budget: { maxMonthlyCostUsd: 100000, maxActiveSeries: 500000, maxActiveSeriesPerModel: 20000 },
    secrets: { gtoken: "glsa_token", slackHook: "https://hooks.slack.com/services/T/B/x" },
    expiresAt,
  };
}

const section = (raw: RawConfig, key: string) => raw[key] as Record<string, unknown>;
const entry = (raw: RawConfig, key: string, name: string) => section(raw, key)[name] as Record<string, unknown>;

interface Case {
  name: string;
  /** The keys the schema knows for this part of the config. */
  keys: readonly string[];
  /** What the fixture sets there. */
  set: (raw: RawConfig) => Record<string, unknown>;
  /** Where it ends up in the resolved config. */
  resolved: (config: StackConfig) => object;
  /** Keys whose values resolution turns into something else (they must still be there). */
  reshaped?: readonly string[];
}

const raw = fullRaw();
const cases: Case[] = [
  { name: "gpuPools.<pool>", keys: Object.keys(gpuPoolSchema.shape), set: (r) => entry(r, "gpuPools", "a100"), resolved: (c) => c.gpuPools.a100 as object },
  { name: "cluster (create)", keys: Object.keys(createClusterSchema.shape), set: (r) => section(r, "cluster"), resolved: (c) => c.cluster },
  {
    name: "cluster.vpc",
    keys: Object.keys(createClusterSchema.shape.vpc.shape),
    set: (r) => section(r, "cluster").vpc as Record<string, unknown>,
    resolved: (c) => (c.cluster as CreateClusterConfig).vpc,
  },
  { name: "access.<entry>", keys: Object.keys(accessEntrySchema.shape), set: (r) => entry(r, "access", "oncall"), resolved: (c) => c.access.oncall as object },
  { name: "deploy", keys: Object.keys(deploySchema.shape), set: (r) => section(r, "deploy"), resolved: (c) => c.deploy },
  { name: "models.<model>", keys: Object.keys(modelSchema.shape), set: (r) => entry(r, "models", "gpt-7b"), resolved: (c) => c.models["gpt-7b"] as object },
  { name: "telemetry", keys: Object.keys(telemetrySchema.shape), set: (r) => section(r, "telemetry"), resolved: (c) => c.telemetry },
  { name: "grafana (external)", keys: Object.keys(grafanaSchema.options[1].shape), set: (r) => section(r, "grafana"), resolved: (c) => c.grafana as object },
  { name: "autoscaler", keys: Object.keys(autoscalerSchema.shape), set: (r) => section(r, "autoscaler"), resolved: (c) => c.autoscaler },
  { name: "capacity", keys: Object.keys(capacitySchema.shape), set: (r) => section(r, "capacity"), resolved: (c) => c.capacity },
  {
    name: "alerting",
    keys: Object.keys(alertingSchema.shape),
    set: (r) => section(r, "alerting"),
    resolved: (c) => c.alerting,
    // Secret names become Pulumi secrets.
    reshaped: ["contactPoints"],
  },
  { name: "safety (into policy)", keys: Object.keys(safetySchema.shape), set: (r) => section(r, "safety"), resolved: (c) => c.policy },
  {
    name: "slo (into the SLO spec)",
    keys: Object.keys(sloSchema.shape),
    set: (r) => section(r, "slo"),
    resolved: (c) => ({ window: c.slo.window, ...c.slo.defaults }),
  },
];

describe("every key the schema validates reaches the resolved config", () => {
  const config = parse(raw, "dev", ["secrets"]);

  it.each(cases)("$name", ({ keys, set, resolved, reshaped = [] }) => {
    // The fixture must keep up with the schema: a new key fails here until it is set above.
    expect(Object.keys(set(raw)).sort()).toEqual([...keys].sort());
    const out = resolved(config) as Record<string, unknown>;
    for (const key of keys) {
      expect(out, key).toHaveProperty([key]);
      if (!reshaped.includes(key)) expect(out[key], key).toEqual(set(raw)[key]);
    }
  });

  it("every top-level key except safety and secrets, which other keys carry", () => {
    const consumed: ConsumedSections[] = ["safety", "secrets"];
    expect(Object.keys(raw).sort()).toEqual(Object.keys(sections).sort());
    for (const key of Object.keys(sections).filter((k) => !(consumed as string[]).includes(k))) expect(config, key).toHaveProperty([key]);
    expect(config).not.toHaveProperty(["secrets"]);
  });

  it("a managed Grafana and an attached cluster keep their keys too", () => {
    const managed = { mode: "managed", authentication: ["SAML"], grafanaVersion: "10.4", tokenTtlDays: 3, prometheusUrl: "https://prometheus.example.com" };
    const existing = { mode: "existing", name: "shared", subnetIds: ["subnet-0abc12345"] };
    expect(Object.keys(managed).sort()).toEqual(Object.keys(grafanaSchema.options[0].shape).sort());
    expect(Object.keys(existing).sort()).toEqual(Object.keys(existingClusterSchema.shape).sort());
    const { access: _access, ...rest } = fullRaw();
    const other = parse({ ...rest, grafana: managed, cluster: existing, deploy: { runsOn: ["ubuntu-latest"] }, alerting: { evaluator: "prometheus" } }, "dev", ["secrets"]);
    expect(other.grafana).toEqual(managed);
    expect(other.cluster).toEqual(existing);
  });
});
