import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { ConfigError, type RawConfig } from "../config";
import { loadConfig } from "../config/load";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { readStackFile } from "../synth/stackFile";
import { asPulumiConfig, baseRaw, configKey, parse, project, startRecording, testNow } from "./helpers/stack";

type Raw = Record<string, any>;

interface Case {
  name: string;
  change: (raw: Raw) => void;
  /** Config key path the problem must name. */
  path: string;
  /** Substrings the message must contain: the bad value and what is allowed. */
  says: string[];
  /** Top-level keys the CLI holds encrypted (`secrets`). */
  secret?: string[];
  /** Secret texts no message may contain. */
  never?: string[];
}

const pool = (raw: Raw) => raw.gpuPools.l4;
const vpc = (raw: Raw) => raw.cluster.vpc;

const cases: Case[] = [
  { name: "missing region", change: (r) => delete r.region, path: "aws:region", says: ["is required", "us-west-2"] },
  { name: "malformed region", change: (r) => (r.region = "Oregon"), path: "aws:region", says: ['"Oregon"', "like us-west-2"] },
  { name: "unknown environment", change: (r) => (r.environment = "qa"), path: "infermesh:environment", says: ['"qa"', "dev | staging | prod | ephemeral"] },
  { name: "missing environment", change: (r) => delete r.environment, path: "infermesh:environment", says: ["dev | staging | prod | ephemeral"] },
  { name: "unknown top-level key", change: (r) => (r.gpuPool = {}), path: "infermesh:gpuPool", says: ["unknown key", "gpuPools"] },
  { name: "unknown cluster mode", change: (r) => (r.cluster.mode = "import"), path: "infermesh:cluster.mode", says: ['"import"', "create | existing"] },
  {
    name: "unsupported Kubernetes version",
    change: (r) => (r.cluster.kubernetesVersion = "1.24"),
    path: "infermesh:cluster.kubernetesVersion",
    says: ['"1.24"', "1.31 | 1.32 | 1.33 | 1.34 | 1.35"],
  },
  {
    name: "one availability zone",
    change: (r) => (vpc(r).availabilityZones = ["us-west-2a"]),
    path: "infermesh:cluster.vpc.availabilityZones",
    says: ['["us-west-2a"]', "at least two"],
  },
  {
    name: "zone outside the region",
    change: (r) => (vpc(r).availabilityZones = ["us-west-2a", "us-east-1b"]),
    path: "infermesh:cluster.vpc.availabilityZones",
    says: ['"us-east-1b"', "in region us-west-2"],
  },
  {
    name: "repeated zone",
    change: (r) => (vpc(r).availabilityZones = ["us-west-2a", "us-west-2a"]),
    path: "infermesh:cluster.vpc.availabilityZones",
    says: ["distinct", "us-west-2a"],
  },
  { name: "malformed VPC CIDR", change: (r) => (vpc(r).cidr = "10.40.0.0"), path: "infermesh:cluster.vpc.cidr", says: ['"10.40.0.0"', "a.b.c.d/n"] },
  { name: "VPC CIDR with host bits", change: (r) => (vpc(r).cidr = "10.40.1.0/16"), path: "infermesh:cluster.vpc.cidr", says: ['"10.40.1.0/16"', "10.40.0.0"] },
  { name: "VPC too large", change: (r) => (vpc(r).cidr = "10.0.0.0/8"), path: "infermesh:cluster.vpc.cidr", says: ['"10.0.0.0/8"', "between /16 and /24"] },
  {
    name: "service CIDR overlaps VPC",
    change: (r) => (r.cluster.serviceCidr = "10.40.128.0/20"),
    path: "infermesh:cluster.serviceCidr",
    says: ['"10.40.128.0/20"', "overlaps the VPC"],
  },
  {
    name: "overlapping subnets",
    change: (r) =>
      (vpc(r).subnets = {
        "us-west-2a": { private: "10.40.0.0/18", public: "10.40.128.0/20" },
        "us-west-2b": { private: "10.40.32.0/19", public: "10.40.144.0/20" },
      }),
    path: "infermesh:cluster.vpc.subnets.us-west-2b.private",
    says: ['"10.40.32.0/19"', "overlaps", "us-west-2a.private"],
  },
  {
    name: "subnet outside the VPC",
    change: (r) =>
      (vpc(r).subnets = {
        "us-west-2a": { private: "10.40.0.0/19", public: "10.41.0.0/20" },
        "us-west-2b": { private: "10.40.32.0/19", public: "10.40.144.0/20" },
      }),
    path: "infermesh:cluster.vpc.subnets.us-west-2a.public",
    says: ['"10.41.0.0/20"', "outside the VPC 10.40.0.0/16"],
  },
  { name: "existing cluster without a name", change: (r) => (r.cluster = { mode: "existing" }), path: "infermesh:cluster.name", says: ["is required"] },
  {
    name: "bad subnet id for existing cluster",
    change: (r) => (r.cluster = { mode: "existing", name: "shared", subnetIds: ["sn-1"] }),
    path: "infermesh:cluster.subnetIds.0",
    says: ['"sn-1"', "subnet-0abc12345"],
  },
  { name: "misspelt cluster key", change: (r) => (r.cluster.kubernetesVersio = "1.34"), path: "infermesh:cluster.kubernetesVersio", says: ["unknown key", "kubernetesVersion"] },
  { name: "pool name not DNS-safe", change: (r) => (r.gpuPools.L4_Pool = pool(r)), path: "infermesh:gpuPools.L4_Pool", says: ['"L4_Pool"', "lowercase DNS label"] },
  { name: "reserved pool name", change: (r) => (r.gpuPools.system = pool(r)), path: "infermesh:gpuPools.system", says: ['"system"', "reserved"] },
  {
    name: "non-GPU instance type",
    change: (r) => (pool(r).instanceTypes = ["m7i.large"]),
    path: "infermesh:gpuPools.l4.instanceTypes.0",
    says: ['"m7i.large"', "g4dn, g5, g5g, g6, g6e, p4d, p4de, p5, p5e, p5en"],
  },
  { name: "no instance types", change: (r) => (pool(r).instanceTypes = []), path: "infermesh:gpuPools.l4.instanceTypes", says: ["got []", ">=1"] },
  {
    name: "mixed GPU models in a pool",
    change: (r) => (pool(r).instanceTypes = ["g6.xlarge", "g5.xlarge"]),
    path: "infermesh:gpuPools.l4.instanceTypes",
    says: ["g5.xlarge (1x A10G", "same GPU model"],
  },
  {
    name: "min above desired",
    change: (r) => (pool(r).scaling = { min: 3, desired: 1, max: 4 }),
    path: "infermesh:gpuPools.l4.scaling",
    says: ["min=3, desired=1, max=4", "min <= desired <= max"],
  },
  {
    name: "desired above max",
    change: (r) => (pool(r).scaling = { min: 0, desired: 5, max: 4 }),
    path: "infermesh:gpuPools.l4.scaling",
    says: ["desired=5, max=4", "min <= desired <= max"],
  },
  { name: "negative min", change: (r) => (pool(r).scaling = { min: -1, desired: 1, max: 4 }), path: "infermesh:gpuPools.l4.scaling.min", says: ["got -1", ">=0"] },
  { name: "fractional max", change: (r) => (pool(r).scaling = { min: 0, desired: 1, max: 2.5 }), path: "infermesh:gpuPools.l4.scaling.max", says: ["got 2.5", "expected int"] },
  { name: "unknown capacity type", change: (r) => (pool(r).capacity = "reserved"), path: "infermesh:gpuPools.l4.capacity", says: ['"reserved"', "spot | on-demand"] },
  { name: "unknown AMI family", change: (r) => (pool(r).amiFamily = "ubuntu"), path: "infermesh:gpuPools.l4.amiFamily", says: ['"ubuntu"', "al2023 | bottlerocket"] },
  { name: "disk too small", change: (r) => (pool(r).diskSizeGiB = 20), path: "infermesh:gpuPools.l4.diskSizeGiB", says: ["got 20", ">=50"] },
  { name: "MIG on a GPU without MIG", change: (r) => (pool(r).migProfile = "1g.10gb"), path: "infermesh:gpuPools.l4.migProfile", says: ['"1g.10gb"', "L4", "has no MIG"] },
  {
    name: "MIG profile the GPU does not offer",
    change: (r) => Object.assign(pool(r), { instanceTypes: ["p4d.24xlarge"], migProfile: "2g.20gb", scaling: { min: 0, desired: 0, max: 1 } }),
    path: "infermesh:gpuPools.l4.migProfile",
    says: ['"2g.20gb"', "A100-40GB offers 1g.5gb | 1g.5gb+me | 1g.10gb | 2g.10gb"],
  },
  { name: "invalid pool label", change: (r) => (pool(r).labels = { "team name": "x" }), path: "infermesh:gpuPools.l4.labels.team name", says: ['"team name"', "label key"] },
  {
    name: "spot in prod",
    change: (r) => Object.assign(r, { environment: "prod" }, { gpuPools: { l4: { ...pool(r), capacity: "spot", scaling: { min: 1, desired: 1, max: 4 } } } }),
    path: "infermesh:gpuPools.l4.capacity",
    says: ['"spot"', '"on-demand"', "infermesh:safety.allowSpot"],
  },
  { name: "scale to zero in prod", change: (r) => (r.environment = "prod"), path: "infermesh:gpuPools.l4.scaling.min", says: ["got 0", ">= 1", "allowScaleToZero"] },
  { name: "ephemeral without expiry", change: (r) => (r.environment = "ephemeral"), path: "infermesh:expiresAt", says: ["is required", "ISO-8601"] },
  { name: "malformed expiry", change: (r) => (r.expiresAt = "tomorrow"), path: "infermesh:expiresAt", says: ['"tomorrow"', "YYYY-MM-DDThh:mm:ssZ"] },
  { name: "negative queue threshold", change: (r) => (r.models["gpt-7b"].queueDepthMax = -5), path: "infermesh:models.gpt-7b.queueDepthMax", says: ["got -5", ">0"] },
  { name: "bad model name", change: (r) => (r.models["gpt 7b"] = {}), path: "infermesh:models.gpt 7b", says: ['"gpt 7b"', "model names are"] },
  { name: "reserved tag key", change: (r) => (r.tags = { "aws:owner": "x" }), path: "infermesh:tags.aws:owner", says: ['"aws:owner"', "reserved"] },
  {
    name: "tag that would hide the stack's own",
    change: (r) => (r.tags = { environment: "other" }),
    path: "infermesh:tags.environment",
    says: ['"environment"', "project, stack, environment, expires-at are reserved"],
  },
  {
    name: "pool label the stack owns",
    change: (r) => (pool(r).labels = { "nvidia.com/mig.config": "all-disabled" }),
    path: "infermesh:gpuPools.l4.labels",
    says: ['["nvidia.com/mig.config"]', "set by the stack"],
  },
  { name: "unknown metrics backend", change: (r) => (r.telemetry = { backend: "thanos" }), path: "infermesh:telemetry.backend", says: ['"thanos"', "in-cluster | amp"] },
  { name: "scrape interval too short", change: (r) => (r.telemetry = { scrapeInterval: "1s" }), path: "infermesh:telemetry.scrapeInterval", says: ['"1s"', "between 5s and 5m"] },
  {
    name: "scrape interval not a duration",
    change: (r) => (r.telemetry = { scrapeInterval: "30 seconds" }),
    path: "infermesh:telemetry.scrapeInterval",
    says: ['"30 seconds"', "like 30s"],
  },
  { name: "retention too long", change: (r) => (r.telemetry = { retention: "5y" }), path: "infermesh:telemetry.retention", says: ['"5y"', "between 2h and 2y"] },
  { name: "volume too small", change: (r) => (r.telemetry = { volumeSizeGiB: 1 }), path: "infermesh:telemetry.volumeSizeGiB", says: ["got 1", ">=10"] },
  { name: "negative cost budget", change: (r) => (r.budget = { maxMonthlyCostUsd: -5 }), path: "infermesh:budget.maxMonthlyCostUsd", says: ["got -5", ">0"] },
  {
    name: "per-model series limit below AMP's useful range",
    change: (r) => (r.budget = { maxActiveSeriesPerModel: 10 }),
    path: "infermesh:budget.maxActiveSeriesPerModel",
    says: ["got 10", ">=1000"],
  },
  { name: "unknown budget key", change: (r) => (r.budget = { maxCost: 5 }), path: "infermesh:budget.maxCost", says: ["unknown key"] },
  {
    name: "unknown infermesh component",
    change: (r) => (r.telemetry = { infermesh: { components: ["router", "gateway"] } }),
    path: "infermesh:telemetry.infermesh.components.1",
    says: ['"gateway"', "router | agent | adapter"],
  },
  {
    name: "SLO objective of 100%",
    change: (r) => (r.slo = { availabilityPercent: 100 }),
    path: "infermesh:slo.availabilityPercent",
    says: ["got 100", "strictly between 0 and 100"],
  },
  {
    name: "model SLO objective of 0%",
    change: (r) => (r.models["gpt-7b"].slo = { latencyPercent: 0 }),
    path: "infermesh:models.gpt-7b.slo.latencyPercent",
    says: ["got 0", "strictly between 0 and 100"],
  },
  {
    name: "SLO objective too loose to page",
    change: (r) => (r.slo = { latencyPercent: 90 }),
    path: "infermesh:slo.latencyPercent",
    says: ["got 90", "14.4", "could never fire", "above 93.056 and below 100"],
  },
  {
    name: "model SLO objective too loose to page over 28 days",
    change: (r) => ((r.slo = { window: "28d" }), (r.models["gpt-7b"].slo = { availabilityPercent: 92.5 })),
    path: "infermesh:models.gpt-7b.slo.availabilityPercent",
    says: ["got 92.5", "13.44", "above 92.56"],
  },
  {
    name: "latency target that is not a bucket bound",
    change: (r) => (r.models["gpt-7b"].slo = { latencyTargetMs: 1500 }),
    path: "infermesh:models.gpt-7b.slo.latencyTargetMs",
    says: ["got 1500", "bucket bound", "1000, 2000, 2500"],
  },
  { name: "SLO window other than 28 or 30 days", change: (r) => (r.slo = { window: "7d" }), path: "infermesh:slo.window", says: ['"7d"', "28d | 30d"] },
  { name: "unknown SLO key", change: (r) => (r.slo = { objective: 99 }), path: "infermesh:slo.objective", says: ["unknown key", "availabilityPercent"] },
  {
    name: "in-cluster retention shorter than the SLO window",
    change: (r) => (r.telemetry = { retention: "15d" }),
    path: "infermesh:telemetry.retention",
    says: ['"15d"', "SLO window (30d)", "30d or longer"],
  },
  {
    name: "bad scrape namespace",
    change: (r) => (r.telemetry = { infermesh: { namespaces: ["Serving"] } }),
    path: "infermesh:telemetry.infermesh.namespaces.0",
    says: ['"Serving"', "namespace name"],
  },
  {
    name: "bad metrics port name",
    change: (r) => (r.telemetry = { infermesh: { port: "metrics_port_9090" } }),
    path: "infermesh:telemetry.infermesh.port",
    says: ['"metrics_port_9090"', "1-15 of a-z"],
  },
  { name: "relative metrics path", change: (r) => (r.telemetry = { infermesh: { path: "metrics" } }), path: "infermesh:telemetry.infermesh.path", says: ['"metrics"', "/metrics"] },
  {
    name: "MIG strategy none with a MIG pool",
    change: (r) => {
      r.telemetry = { migStrategy: "none" };
      r.gpuPools.h100 = { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb", scaling: { min: 0, desired: 0, max: 1 } };
    },
    path: "infermesh:telemetry.migStrategy",
    says: ['"none"', "h100", "single | mixed"],
  },
  { name: "unknown Grafana mode", change: (r) => (r.grafana = { mode: "cloud" }), path: "infermesh:grafana.mode", says: ['"cloud"', "managed | external | in-cluster"] },
  { name: "external Grafana without URL", change: (r) => (r.grafana = { mode: "external" }), path: "infermesh:grafana.url", says: ["is required"] },
  {
    name: "Grafana URL not http(s)",
    change: (r) => (r.grafana = { mode: "external", url: "localhost:3000", prometheusUrl: "https://p.example.com" }),
    path: "infermesh:grafana.url",
    says: ['"localhost:3000"', "http(s) URL"],
  },
  {
    name: "in-cluster Grafana given a url",
    change: (r) => (r.grafana = { mode: "in-cluster", url: "http://localhost:3000" }),
    path: "infermesh:grafana.url",
    says: ['"http://localhost:3000"', "takes no url", "never calls its API", "remove the key"],
  },
  {
    name: "in-cluster Grafana with an unknown key",
    change: (r) => (r.grafana = { mode: "in-cluster", adminUser: "root" }),
    path: "infermesh:grafana.adminUser",
    says: ["unknown key", "allowed keys: mode"],
  },
  {
    name: "token lifetime over AWS's limit",
    change: (r) => (r.grafana = { mode: "managed", tokenTtlDays: 90, prometheusUrl: "https://p.example.com" }),
    path: "infermesh:grafana.tokenTtlDays",
    says: ["got 90", "<=30"],
  },
  {
    name: "managed Grafana cannot reach in-cluster Prometheus",
    change: (r) => (r.grafana = { mode: "managed" }),
    path: "infermesh:grafana.prometheusUrl",
    says: ["is required", "backend: amp"],
  },
  {
    name: "external Grafana token missing from secrets",
    change: (r) => (r.grafana = { mode: "external", url: "https://g.example.com", prometheusUrl: "https://p.example.com" }),
    path: "infermesh:grafana.tokenSecret",
    says: ['"grafanaToken"', "not in infermesh:secrets"],
  },
  { name: "secrets in plaintext", change: (r) => (r.secrets = { slackHook: "https://hooks.slack.com/x" }), path: "infermesh:secrets", says: ["plaintext", "--secret"] },
  {
    name: "Grafana evaluator without Grafana",
    change: (r) => (r.alerting = { evaluator: "grafana" }),
    path: "infermesh:alerting.evaluator",
    says: ['"grafana"', "allowed here: prometheus"],
  },
  {
    name: "unknown contact point type",
    change: (r) => (r.alerting = { contactPoints: { chat: { type: "teams", secret: "x" } } }),
    path: "infermesh:alerting.contactPoints.chat.type",
    says: ['"teams"', "slack | pagerduty | email | sns"],
  },
  {
    name: "contact point secret missing",
    change: (r) => (r.alerting = { contactPoints: { chat: { type: "slack", secret: "slackHook" } } }),
    path: "infermesh:alerting.contactPoints.chat.secret",
    says: ['"slackHook"', "not in infermesh:secrets"],
  },
  {
    name: "route to an unknown contact point",
    change: (r) => (r.alerting = { routes: { critical: ["pager"] } }),
    path: "infermesh:alerting.routes.critical.0",
    says: ['"pager"', "contact points defined: none"],
  },
  {
    name: "SNS from a Grafana that is not Amazon-managed",
    change: (r) => ((r.grafana = { mode: "in-cluster" }), (r.alerting = { contactPoints: { ops: { type: "sns", topicArn: "arn:aws:sns:us-west-2:111122223333:ops" } } })),
    path: "infermesh:alerting.contactPoints.ops.type",
    says: ['"sns"', "Amazon Managed Grafana"],
  },
  {
    name: "bad SNS topic ARN",
    change: (r) => (r.alerting = { contactPoints: { ops: { type: "sns", topicArn: "ops-topic" } } }),
    path: "infermesh:alerting.contactPoints.ops.topicArn",
    says: ['"ops-topic"', "SNS topic ARN"],
  },
  {
    name: "SNS contact point naming no topic",
    change: (r) => ((r.telemetry = { backend: "amp" }), (r.alerting = { contactPoints: { ops: { type: "sns" } } })),
    path: "infermesh:alerting.contactPoints.ops",
    says: ["neither topicArn nor create", "topicArn (an existing topic the stack does not own) or create: true"],
  },
  {
    name: "SNS contact point naming two topics",
    change: (r) => (
      (r.telemetry = { backend: "amp" }), (r.alerting = { contactPoints: { ops: { type: "sns", topicArn: "arn:aws:sns:us-west-2:111122223333:ops", create: true } } })
    ),
    path: "infermesh:alerting.contactPoints.ops",
    says: ["both topicArn and create", "set exactly one"],
  },
  {
    name: "SNS create not true",
    change: (r) => ((r.telemetry = { backend: "amp" }), (r.alerting = { contactPoints: { ops: { type: "sns", create: false } } })),
    path: "infermesh:alerting.contactPoints.ops.create",
    says: ["got false", "allowed: true"],
  },
  {
    name: "SNS from the in-cluster Alertmanager",
    change: (r) => (r.alerting = { contactPoints: { ops: { type: "sns", create: true } } }),
    path: "infermesh:alerting.contactPoints.ops.type",
    says: ['"sns"', "no AWS credentials", "slack | pagerduty"],
  },
  {
    name: "VRAM threshold not a ratio",
    change: (r) => (r.alerting = { thresholds: { vramUsedRatioMax: 90 } }),
    path: "infermesh:alerting.thresholds.vramUsedRatioMax",
    says: ["got 90", "<1"],
  },
  {
    name: "repeat interval too long",
    change: (r) => (r.alerting = { repeatInterval: { info: "30d" } }),
    path: "infermesh:alerting.repeatInterval.info",
    says: ['"30d"', "between 1m and 5d"],
  },
  { name: "unknown alerting key", change: (r) => (r.alerting = { receivers: {} }), path: "infermesh:alerting.receivers", says: ["unknown key", "contactPoints"] },
  { name: "unknown safety override", change: (r) => (r.safety = { protect: true }), path: "infermesh:safety.protect", says: ["unknown key", "protectStateful"] },

  // AWS and EKS limits.
  {
    name: "VPC whose default layout makes subnets below AWS's /28",
    change: (r) => (vpc(r).cidr = "10.40.0.0/24"),
    path: "infermesh:cluster.vpc.cidr",
    says: ['"10.40.0.0/24"', "/27 private and /29 public subnets", "AWS's /28 minimum", "/16 to /23"],
  },
  {
    name: "explicit subnet below AWS's /28",
    change: (r) => {
      vpc(r).cidr = "10.40.0.0/24";
      vpc(r).subnets = {
        "us-west-2a": { private: "10.40.0.0/26", public: "10.40.0.128/29" },
        "us-west-2b": { private: "10.40.0.64/26", public: "10.40.0.144/28" },
      };
    },
    path: "infermesh:cluster.vpc.subnets.us-west-2a.public",
    says: ['"10.40.0.128/29"', "/16 to /28"],
  },
  {
    name: "service CIDR outside EKS's private ranges",
    change: (r) => (r.cluster.serviceCidr = "100.64.0.0/16"),
    path: "infermesh:cluster.serviceCidr",
    says: ['"100.64.0.0/16"', "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"],
  },
  {
    name: "service CIDR smaller than /24",
    change: (r) => (r.cluster.serviceCidr = "172.20.0.0/25"),
    path: "infermesh:cluster.serviceCidr",
    says: ['"172.20.0.0/25"', "between /24 and /12"],
  },
  {
    name: "service CIDR larger than /12",
    change: (r) => (r.cluster.serviceCidr = "10.0.0.0/11"),
    path: "infermesh:cluster.serviceCidr",
    says: ['"10.0.0.0/11"', "between /24 and /12"],
  },
  {
    name: "tag key with AWS's prefix in upper case",
    change: (r) => (r.tags = { "AWS:owner": "x" }),
    path: "infermesh:tags.AWS:owner",
    says: ['"AWS:owner"', '"aws:" in any letter case', "reserved"],
  },
  {
    name: "tag key with AWS's prefix in mixed case",
    change: (r) => (r.tags = { "Aws:team": "x" }),
    path: "infermesh:tags.Aws:team",
    says: ['"Aws:team"', '"aws:" in any letter case', "reserved"],
  },
  { name: "tag value with AWS's prefix", change: (r) => (r.tags = { team: "AWS:managed" }), path: "infermesh:tags.team", says: ['"AWS:managed"', "reserved by AWS"] },
  {
    name: "tag value with characters AWS rejects",
    change: (r) => (r.tags = { team: "ml;platform" }),
    path: "infermesh:tags.team",
    says: ['"ml;platform"', "letters, digits, spaces and _ . : / = + - @"],
  },

  // Keys outside the project's namespace.
  {
    name: "misspelt project namespace",
    change: (r) => (r["infermsh:gpuPools"] = { l4: pool(r) }),
    path: "infermsh:gpuPools",
    says: ['unknown namespace "infermsh"', "infermesh (this project), aws, kubernetes, grafana, random, pulumi", "did you mean infermesh:gpuPools?"],
  },
  {
    name: "another project's namespace",
    change: (r) => (r["platform:team"] = "ml"),
    path: "platform:team",
    says: ['unknown namespace "platform"', "infermesh (this project), aws"],
  },

  // An external Grafana in prod.
  {
    name: "external Grafana over http in prod",
    change: (r) => {
      r.environment = "prod";
      pool(r).scaling = { min: 1, desired: 1, max: 4 };
      r.grafana = { mode: "external", url: "http://grafana.example.com", prometheusUrl: "https://prometheus.example.com" };
      r.secrets = { grafanaToken: "glsa_token-that-must-stay-secret" };
    },
    secret: ["secrets"],
    path: "infermesh:grafana.url",
    says: ['"http://grafana.example.com"', "https://", "infermesh:secrets.grafanaToken", "clear text"],
    never: ["glsa_token-that-must-stay-secret"],
  },

  // Secret values never reach a message.
  {
    name: "secret that is not a string",
    change: (r) => (r.secrets = { grafanaToken: 4815162342 }),
    secret: ["secrets"],
    path: "infermesh:secrets.grafanaToken",
    says: ["got [secret]", "expected string"],
    never: ["4815162342"],
  },
  {
    name: "secrets given as one string",
    change: (r) => (r.secrets = "xoxb-slack-token-in-the-wrong-place"),
    secret: ["secrets"],
    path: "infermesh:secrets",
    says: ["got [secret]", "expected record"],
    never: ["xoxb-slack-token-in-the-wrong-place"],
  },
  {
    name: "secret in another encrypted key",
    change: (r) => {
      r.grafana = { mode: "external", url: "https://admin:hunter2-grafana-password@grafana.example.com", prometheusUrl: "https://prometheus.example.com" };
      r.secrets = { grafanaToken: "glsa_token-that-must-stay-secret" };
    },
    secret: ["grafana", "secrets"],
    path: "infermesh:grafana",
    says: ["is encrypted", "only infermesh:secrets holds secret values"],
    never: ["hunter2-grafana-password", "glsa_token-that-must-stay-secret"],
  },
  {
    name: "invalid URL in an encrypted key",
    change: (r) => (r.grafana = { mode: "external", url: "grafana.internal/?token=glsa_url-token-that-must-stay-secret", prometheusUrl: "https://prometheus.example.com" }),
    secret: ["grafana"],
    path: "infermesh:grafana.url",
    says: ["got [secret]", "http(s) URL"],
    never: ["glsa_url-token-that-must-stay-secret"],
  },

  // Test-stack expiry, against the pinned now (2026-01-01T00:00:00Z).
  {
    name: "expiry in the past",
    change: (r) => Object.assign(r, { environment: "ephemeral", expiresAt: "2025-12-31T23:00:00Z" }),
    path: "infermesh:expiresAt",
    says: ['"2025-12-31T23:00:00Z"', "has passed", "after now (2026-01-01T00:00:00Z)", "at most 7 days ahead", "e.g. 2026-01-02T00:00:00Z"],
  },
  {
    name: "expiry too far ahead",
    change: (r) => Object.assign(r, { environment: "ephemeral", expiresAt: "2026-01-08T00:00:01Z" }),
    path: "infermesh:expiresAt",
    says: ['"2026-01-08T00:00:01Z"', "8 days ahead", "at most 7 days ahead", "until 2026-01-08T00:00:00Z"],
  },
];

// Who reaches the cluster (infermesh:access) and how CI reaches it (infermesh:deploy).
const role = "arn:aws:iam::111122223333:role/oncall";
const privateCluster = (r: Raw) => (r.cluster.endpointPublicAccess = false);
cases.push(
  {
    name: "access principal not an IAM ARN",
    change: (r) => (r.access = { oncall: { principalArn: "oncall" } }),
    path: "infermesh:access.oncall.principalArn",
    says: ['"oncall"', "arn:aws:iam::111122223333:role/oncall"],
  },
  {
    name: "access principal is a role session",
    change: (r) => (r.access = { oncall: { principalArn: "arn:aws:sts::111122223333:assumed-role/Oncall/jane" } }),
    path: "infermesh:access.oncall.principalArn",
    says: ['"arn:aws:sts::111122223333:assumed-role/Oncall/jane"', "arn:aws:iam::111122223333:role/<path/>Oncall"],
  },
  {
    name: "access principal in another partition",
    change: (r) => (r.access = { oncall: { principalArn: "arn:aws-cn:iam::111122223333:role/oncall" } }),
    path: "infermesh:access.oncall.principalArn",
    says: ["partition aws-cn", "us-west-2 is in partition aws"],
  },
  {
    name: "access entry name not a DNS label",
    change: (r) => (r.access = { OnCall: { principalArn: role } }),
    path: "infermesh:access.OnCall",
    says: ['"OnCall"', "lowercase DNS label"],
  },
  {
    name: "unknown access level",
    change: (r) => (r.access = { oncall: { principalArn: role, policies: { root: "cluster" } } }),
    path: "infermesh:access.oncall.policies.root",
    says: ["unknown access level", "view | edit | admin | cluster-admin"],
  },
  {
    name: "access scope neither cluster nor namespaces",
    change: (r) => (r.access = { oncall: { principalArn: role, policies: { edit: "namespace" } } }),
    path: "infermesh:access.oncall.policies.edit",
    says: ['"namespace"', '"cluster" or a list of namespaces'],
  },
  {
    name: "cluster-admin limited to namespaces",
    change: (r) => (r.access = { oncall: { principalArn: role, policies: { "cluster-admin": ["serving"] } } }),
    path: "infermesh:access.oncall.policies.cluster-admin",
    says: ['["serving"]', "use admin"],
  },
  {
    name: "access entry that grants nothing",
    change: (r) => (r.access = { oncall: { principalArn: role, policies: {} } }),
    path: "infermesh:access.oncall.policies",
    says: ["grants nothing", "view, edit, admin, cluster-admin"],
  },
  {
    name: "one principal in two access entries",
    change: (r) => (r.access = { oncall: { principalArn: role }, pager: { principalArn: role, policies: { edit: "cluster" } } }),
    path: "infermesh:access.pager.principalArn",
    says: [role, "infermesh:access.oncall", "one access entry per principal"],
  },
  {
    name: "access entries on an attached cluster",
    change: (r) => ((r.cluster = { mode: "existing", name: "shared" }), (r.access = { oncall: { principalArn: role } })),
    path: "infermesh:access",
    says: ["oncall", '"existing"', "its owner grants access"],
  },
  {
    name: "private endpoint with the default deploy path",
    change: privateCluster,
    path: "infermesh:deploy.endpoint",
    says: ['"public"', "endpointPublicAccess is false", 'endpoint "private"'],
  },
  {
    name: "private endpoint from GitHub-hosted runners",
    change: (r) => (privateCluster(r), (r.deploy = { endpoint: "private", sourceCidrs: ["10.200.16.0/24"] })),
    path: "infermesh:deploy.endpoint",
    says: ['"private"', '["ubuntu-latest"]', "self-hosted"],
  },
  {
    name: "private endpoint without runner addresses",
    change: (r) => (privateCluster(r), (r.deploy = { runsOn: ["self-hosted", "infermesh"], endpoint: "private" })),
    path: "infermesh:deploy.sourceCidrs",
    says: ["is required", "port 443 of the cluster security group"],
  },
  {
    name: "restricted public endpoint without runner addresses",
    change: (r) => (r.cluster.publicAccessCidrs = ["203.0.113.0/24"]),
    path: "infermesh:deploy.sourceCidrs",
    says: ['["203.0.113.0/24"]', "no fixed addresses"],
  },
  {
    name: "runners outside the public endpoint's allowlist",
    change: (r) => ((r.cluster.publicAccessCidrs = ["203.0.113.0/24"]), (r.deploy = { runsOn: ["infermesh-large"], sourceCidrs: ["198.51.100.0/28"] })),
    path: "infermesh:deploy.sourceCidrs.0",
    says: ['"198.51.100.0/28"', '["203.0.113.0/24"]', "does not admit"],
  },
  {
    name: "runner addresses for an attached cluster",
    change: (r) => ((r.cluster = { mode: "existing", name: "shared" }), (r.deploy = { sourceCidrs: ["10.200.16.0/24"] })),
    path: "infermesh:deploy.sourceCidrs",
    says: ['["10.200.16.0/24"]', "a cluster it creates"],
  },
  { name: "bad runner label", change: (r) => (r.deploy = { runsOn: ["self hosted"] }), path: "infermesh:deploy.runsOn.0", says: ['"self hosted"', "runner label"] },
  { name: "unknown deploy endpoint", change: (r) => (r.deploy = { endpoint: "vpn" }), path: "infermesh:deploy.endpoint", says: ['"vpn"', "public | private"] },
);

function problemsOf(raw: RawConfig, secretKeys: string[] = []) {
  try {
    parse(raw, "dev", secretKeys);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("config was accepted");
}

describe("invalid configuration", () => {
  it("has a table of at least 25 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)("$name → $path", ({ change, path, says, secret = [], never = [] }) => {
    const raw = structuredClone(baseRaw()) as Raw;
    change(raw);
    const problems = problemsOf(raw, secret);
    const problem = problems.find((p) => p.path === path);
    expect(problem, `problems: ${JSON.stringify(problems, null, 1)}`).toBeDefined();
    for (const text of says) expect(problem?.message).toContain(text);
    const message = new ConfigError(problems).message;
    for (const text of never) expect(message).not.toContain(text);
  });

  it.each(cases)("$name registers no resource", async ({ change, secret = [], never = [] }) => {
    const raw = structuredClone(baseRaw()) as Raw;
    change(raw);
    // The clock at the edge, pinned to the parse helper's now.
    vi.stubEnv("INFERMESH_DEPLOY_TIME", testNow);
    try {
      const recording = await startRecording({ project, stack: "dev", config: asPulumiConfig(raw), secretKeys: secret.map(configKey), calls: offlineLookups });
      const error = (() => {
        try {
          infermesh(loadConfig());
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigError);
      for (const text of never) expect((error as Error).message).not.toContain(text);
      await recording.settle();
      expect(recording.resources).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("reports every problem of a config with several at once", () => {
    const raw = structuredClone(baseRaw()) as Raw;
    raw.environment = "prod";
    raw.cluster.kubernetesVersion = "1.20";
    vpc(raw).availabilityZones = ["us-west-2a"];
    pool(raw).capacity = "spot";
    pool(raw).instanceTypes = ["g6.xlarge", "t3.large"];
    raw.models["gpt-7b"].latencyP95MaxMs = 0;
    const problems = problemsOf(raw);
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        "infermesh:cluster.kubernetesVersion",
        "infermesh:cluster.vpc.availabilityZones",
        "infermesh:gpuPools.l4.capacity",
        "infermesh:gpuPools.l4.instanceTypes.1",
        "infermesh:gpuPools.l4.scaling.min",
        "infermesh:models.gpt-7b.latencyP95MaxMs",
      ].sort(),
    );
    const message = new ConfigError(problems).message;
    expect(message).toMatch(/^Invalid stack configuration \(6 problems\):/);
    for (const p of problems) expect(message).toContain(`  - ${p.path}: ${p.message}`);
  });
});

/** A bad `Pulumi.<stack>.yaml`: what only the file shows (duplicate keys, per-entry encryption, keys without a namespace). */
interface FileCase {
  name: string;
  /** Changes the `config:` map of a valid stack file (keys as written: `infermesh:secrets`). */
  edit?: (config: Raw) => void;
  /** Lines appended under `config:` as written, for what a map cannot hold (a key twice, broken YAML). */
  extra?: string;
  path: string;
  says: string[];
  never?: string[];
}

const clearWebhook = "https://hooks.slack.com/services/T0000/B0000/webhook-secret-in-clear";

const fileCases: FileCase[] = [
  {
    name: "key written twice",
    extra: "  infermesh:capacity:\n    idleWindow: 1h\n    idleWindow: 2h\n",
    path: "infermesh:capacity.idleWindow",
    says: ["written twice in Pulumi.dev.yaml", "lines"],
  },
  {
    name: "secret entry written twice",
    extra: `  infermesh:secrets:\n    slackHook: ${clearWebhook}\n    slackHook: ${clearWebhook}-2\n`,
    path: "infermesh:secrets.slackHook",
    says: ["written twice in Pulumi.dev.yaml"],
    never: ["webhook-secret-in-clear"],
  },
  {
    name: "secrets partly in clear",
    edit: (c) => (c["infermesh:secrets"] = { grafanaToken: { secure: "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, slackHook: clearWebhook }),
    path: "infermesh:secrets.slackHook",
    says: ["clear text", "other entries are encrypted", "pulumi config set --secret --path 'infermesh:secrets.slackHook'"],
    never: ["webhook-secret-in-clear"],
  },
  {
    name: "key without a namespace",
    edit: (c) => (c.gpuPools = c["infermesh:gpuPools"]),
    path: "gpuPools",
    says: ["no namespace", "infermesh:gpuPools"],
  },
  {
    name: "misspelt namespace in the stack file",
    edit: (c) => (c["infermsh:models"] = c["infermesh:models"]),
    path: "infermsh:models",
    says: ['unknown namespace "infermsh"', "did you mean infermesh:models?"],
  },
  {
    name: "broken YAML near a secret",
    extra: `  infermesh:secrets:\n    slackHook: "${clearWebhook}\n`,
    path: "Pulumi.dev.yaml",
    says: ["is not valid YAML at line"],
    never: ["webhook-secret-in-clear"],
  },
];

/** The offline render's path: the stack file read as synth reads it, then the program. */
async function renderStackFile(c: FileCase): Promise<{ error: unknown; resources: unknown[] }> {
  const root = mkdtempSync(join(tmpdir(), "infermesh-config-"));
  try {
    const config: Raw = Object.fromEntries(Object.entries(baseRaw()).map(([key, value]) => [configKey(key), value]));
    c.edit?.(config);
    writeFileSync(join(root, "Pulumi.dev.yaml"), stringify({ config }) + (c.extra ?? ""));
    let recording: Awaited<ReturnType<typeof startRecording>> | undefined;
    try {
      const { config: values, secretKeys } = readStackFile(join(root, "Pulumi.dev.yaml"));
      recording = await startRecording({ project, stack: "dev", config: values, secretKeys, rootDirectory: root, calls: offlineLookups });
      infermesh(loadConfig());
    } catch (error) {
      await recording?.settle();
      return { error, resources: recording?.resources ?? [] };
    }
    await recording.settle();
    throw new Error(`config was accepted (${recording.resources.length} resources)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("invalid stack file", () => {
  it.each(fileCases)("$name → $path, no resource registered", async (c) => {
    vi.stubEnv("INFERMESH_DEPLOY_TIME", testNow);
    try {
      const { error, resources } = await renderStackFile(c);
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      const problem = problems.find((p) => p.path === c.path);
      expect(problem, `problems: ${JSON.stringify(problems, null, 1)}`).toBeDefined();
      for (const text of c.says) expect(problem?.message).toContain(text);
      for (const text of c.never ?? []) expect((error as Error).message).not.toContain(text);
      expect(resources).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
