/**
 * The validated, typed stack configuration: what components receive. Each
 * section is the schema's output (z.output, via {@link Sections}) with what
 * resolution derives laid over it, so a key the schema validates reaches the
 * components without being listed here again; resolution keeps every parsed
 * key (config/resolve.ts) and the compiler holds it to these types.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { AlertThresholds } from "../monitoring/thresholds";
import type { SloSpec } from "../monitoring/slo";
import type { ZoneSubnets } from "../domain/cidr";
import type { CapacityType, EnvironmentPolicy } from "../domain/environments";
import type { GpuInstanceType, GpuModel, NvidiaAmiType } from "../domain/gpuInstances";
import type { accessLevels, Sections, sections } from "./schema";

/** `Parsed` with the keys of `Derived` replaced by (or added as) what resolution derives. */
type Resolved<Parsed, Derived> = Omit<Parsed, keyof Derived> & Derived;

/**
 * Raw values by top-level key (`region` is `aws:region`; the rest are
 * `infermesh:<key>`). Keys of any other namespace keep their namespace
 * (`kubernetes:context`, or a misspelt `infermsh:gpuPools`).
 */
export type RawConfig = Partial<Record<keyof typeof sections, unknown>> & Record<string, unknown>;

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

export type Scaling = Sections["gpuPools"][string]["scaling"];

export type GpuPoolConfig = Resolved<
  Sections["gpuPools"][string],
  {
    /** The pool's key in `infermesh:gpuPools`; every child name derives from it. */
    name: string;
    gpu: GpuModel;
    gpusPerInstance: number;
    architecture: GpuInstanceType["architecture"];
    /** As set, or the environment's `defaultCapacity`. */
    capacity: CapacityType;
    amiType: NvidiaAmiType;
    /** The pool's `migProfile` and the MIG manager's name for its layout. */
    mig?: { profile: string; config: string };
  }
>;

type CreateClusterSection = Extract<Sections["cluster"], { mode: "create" }>;

export type CreateClusterConfig = Resolved<
  CreateClusterSection,
  {
    /** As set, or `infermesh-<stack>`. */
    name: string;
    /** Subnets as listed, or an even split of the VPC's CIDR across its zones. */
    vpc: Resolved<CreateClusterSection["vpc"], { subnets: Record<string, ZoneSubnets> }>;
  }
>;

export type ExistingClusterConfig = Extract<Sections["cluster"], { mode: "existing" }>;

/** An EKS access policy, least privilege first: view, edit, admin (namespaced resources), cluster-admin. */
export type AccessLevel = (typeof accessLevels)[number];

/** One principal's way into a created cluster: an EKS access entry and one access policy association per level. */
export type AccessEntryConfig = Resolved<
  Sections["access"][string],
  {
    /** The entry's key in `infermesh:access`; every child name derives from it. */
    name: string;
  }
>;

/** How CI reaches the cluster it previews and deploys; the workflows read it (npm run deploy-path). */
export type DeployPathConfig = Resolved<
  Sections["deploy"],
  {
    /** `self-hosted` when the `runsOn` labels say so, else GitHub's own runners. */
    runner: "github-hosted" | "self-hosted";
  }
>;

export type MigStrategy = NonNullable<Sections["telemetry"]["migStrategy"]>;

export type TelemetryConfig = Resolved<
  Sections["telemetry"],
  {
    scrapeIntervalSeconds: number;
    /** As set, or the schema's default raised to the SLO window (config/slo.ts `effectiveRetention`). */
    retention: string;
    /** As set, or `single` when a pool has a MIG profile and `none` otherwise. */
    migStrategy: MigStrategy;
  }
>;

/** A notification channel; its secret part stays a Pulumi secret from config to state. */
export type ContactPoint =
  | { name: string; type: "slack"; webhookUrl: pulumi.Output<string>; channel?: string }
  | { name: string; type: "pagerduty"; integrationKey: pulumi.Output<string> }
  | { name: string; type: "email"; addresses: pulumi.Output<string[]> }
  | { name: string; type: "sns"; topic: SnsTopicRef };

/** An SNS contact point's topic: one the stack creates and owns, or an existing one it only names. */
export type SnsTopicRef = { owner: "stack" } | { owner: "external"; arn: string };

export type AlertingEvaluator = NonNullable<Sections["alerting"]["evaluator"]>;
export type AlertingPolicy = NonNullable<Sections["alerting"]["policy"]>;

export type AlertingConfig = Resolved<
  Sections["alerting"],
  {
    evaluator: AlertingEvaluator;
    policy: AlertingPolicy;
    /** Every threshold: as set, or its default from the alert catalog. */
    thresholds: AlertThresholds;
    /** Contact points with their secrets resolved from `infermesh:secrets`. */
    contactPoints: Record<string, ContactPoint>;
  }
>;

type GrafanaSection = NonNullable<Sections["grafana"]>;

export type GrafanaConfig = Exclude<GrafanaSection, { mode: "external" }> | Resolved<Extract<GrafanaSection, { mode: "external" }>, { token: pulumi.Output<string> }>;

export type AutoscalerConfig = Resolved<
  Sections["autoscaler"],
  {
    /** Priority-expander weight of every GPU pool, by pool name. */
    priorities: Record<string, number>;
  }
>;

export type CapacityConfig = Sections["capacity"];

export type ModelConfig = Sections["models"][string];

/**
 * Sections that reach components only through others: `safety` is folded
 * into `policy`, and `secrets` into the contact points and Grafana token
 * that name them (as Pulumi secrets).
 */
export type ConsumedSections = "safety" | "secrets";

/** Everything a stack can set, validated, with defaults applied. Components receive parts of it. */
export type StackConfig = Resolved<
  Omit<Sections, ConsumedSections>,
  {
    project: string;
    stack: string;
    /** The environment's policy with `infermesh:safety` laid over it. */
    policy: EnvironmentPolicy;
    expiresAt?: string;
    /** Tags for every AWS resource: project, stack, environment, expiry and the stack's own. */
    tags: Record<string, string>;
    cluster: CreateClusterConfig | ExistingClusterConfig;
    /** Access entries of a created cluster, by name (empty for an attached cluster). */
    access: Record<string, AccessEntryConfig>;
    deploy: DeployPathConfig;
    gpuPools: Record<string, GpuPoolConfig>;
    /** SLOs per model: window, objectives (environment defaults, `infermesh:slo`, each model's own). */
    slo: SloSpec;
    telemetry: TelemetryConfig;
    /** Absent when the stack does not manage a Grafana. */
    grafana?: GrafanaConfig;
    alerting: AlertingConfig;
    autoscaler: AutoscalerConfig;
    /** When this deployment runs (read once, here); short-lived credentials are renewed from it. */
    deployedAt: string;
  }
>;
