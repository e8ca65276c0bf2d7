/** The validated, typed stack configuration: what components receive. */
import type * as pulumi from "@pulumi/pulumi";
import type { Severity } from "../alerts/catalog";
import type { AlertThresholds } from "../monitoring/thresholds";
import type { SloObjectives, SloSpec } from "../monitoring/slo";
import type { ZoneSubnets } from "../domain/cidr";
import type { CapacityType, EnvironmentKind, EnvironmentPolicy } from "../domain/environments";
import type { AmiFamily, GpuInstanceType, GpuModel, NvidiaAmiType } from "../domain/gpuInstances";
import type { KubernetesVersion } from "../domain/versions";
import type { accessLevels, Sections } from "./schema";

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

/** An EKS access policy, least privilege first: view, edit, admin (namespaced resources), cluster-admin. */
export type AccessLevel = (typeof accessLevels)[number];

/** One principal's way into a created cluster: an EKS access entry and one access policy association per level. */
export interface AccessEntryConfig {
  /** The entry's key in `infermesh:access`; every child name derives from it. */
  name: string;
  principalArn: string;
  /** Per level: the whole cluster, or these namespaces. */
  policies: Partial<Record<AccessLevel, "cluster" | string[]>>;
  kubernetesGroups: string[];
}

/** How CI reaches the cluster it previews and deploys; the workflows read it (npm run deploy-path). */
export interface DeployPathConfig {
  /** `runs-on` labels of the preview and deploy jobs. */
  runsOn: string[];
  /** `self-hosted` when the labels say so, else GitHub's own runners. */
  runner: "github-hosted" | "self-hosted";
  /** Which Kubernetes API endpoint the runners use. */
  endpoint: "public" | "private";
  /** The runners' addresses (opened on the cluster security group for a private endpoint). */
  sourceCidrs: string[];
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
  | { name: string; type: "sns"; topic: SnsTopicRef };

/** An SNS contact point's topic: one the stack creates and owns, or an existing one it only names. */
export type SnsTopicRef = { owner: "stack" } | { owner: "external"; arn: string };

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
  | { mode: "in-cluster" };

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
  /** The model's own SLO objectives (resolved into `StackConfig.slo`). */
  slo?: Partial<SloObjectives>;
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
  /** Access entries of a created cluster, by name (empty for an attached cluster). */
  access: Record<string, AccessEntryConfig>;
  deploy: DeployPathConfig;
  gpuPools: Record<string, GpuPoolConfig>;
  models: Record<string, ModelConfig>;
  /** SLOs per model: window, objectives (environment defaults, `infermesh:slo`, each model's own). */
  slo: SloSpec;
  telemetry: TelemetryConfig;
  /** Absent when the stack does not manage a Grafana. */
  grafana?: GrafanaConfig;
  alerting: AlertingConfig;
  autoscaler: AutoscalerConfig;
  capacity: CapacityConfig;
  /** When this deployment runs (read once, here); short-lived credentials are renewed from it. */
  deployedAt: string;
}
