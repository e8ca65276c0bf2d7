import { describe, expect, it } from "vitest";
import { ConfigError, type RawConfig } from "../components/config";
import { loadConfig } from "../components/config/load";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { asPulumiConfig, baseRaw, parse, project, startRecording } from "./helpers/stack";

type Raw = Record<string, any>;

interface Case {
  name: string;
  change: (raw: Raw) => void;
  /** Config key path the problem must name. */
  path: string;
  /** Substrings the message must contain: the bad value and what is allowed. */
  says: string[];
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
  { name: "unsupported Kubernetes version", change: (r) => (r.cluster.kubernetesVersion = "1.24"), path: "infermesh:cluster.kubernetesVersion", says: ['"1.24"', "1.31 | 1.32 | 1.33 | 1.34 | 1.35"] },
  { name: "one availability zone", change: (r) => (vpc(r).availabilityZones = ["us-west-2a"]), path: "infermesh:cluster.vpc.availabilityZones", says: ['["us-west-2a"]', "at least two"] },
  { name: "zone outside the region", change: (r) => (vpc(r).availabilityZones = ["us-west-2a", "us-east-1b"]), path: "infermesh:cluster.vpc.availabilityZones", says: ['"us-east-1b"', "in region us-west-2"] },
  { name: "repeated zone", change: (r) => (vpc(r).availabilityZones = ["us-west-2a", "us-west-2a"]), path: "infermesh:cluster.vpc.availabilityZones", says: ["distinct", "us-west-2a"] },
  { name: "malformed VPC CIDR", change: (r) => (vpc(r).cidr = "10.40.0.0"), path: "infermesh:cluster.vpc.cidr", says: ['"10.40.0.0"', "a.b.c.d/n"] },
  { name: "VPC CIDR with host bits", change: (r) => (vpc(r).cidr = "10.40.1.0/16"), path: "infermesh:cluster.vpc.cidr", says: ['"10.40.1.0/16"', "10.40.0.0"] },
  { name: "VPC too large", change: (r) => (vpc(r).cidr = "10.0.0.0/8"), path: "infermesh:cluster.vpc.cidr", says: ['"10.0.0.0/8"', "between /16 and /24"] },
  { name: "service CIDR overlaps VPC", change: (r) => (r.cluster.serviceCidr = "10.40.128.0/20"), path: "infermesh:cluster.serviceCidr", says: ['"10.40.128.0/20"', "overlaps the VPC"] },
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
  { name: "bad subnet id for existing cluster", change: (r) => (r.cluster = { mode: "existing", name: "shared", subnetIds: ["sn-1"] }), path: "infermesh:cluster.subnetIds.0", says: ['"sn-1"', "subnet-0abc12345"] },
  { name: "misspelt cluster key", change: (r) => (r.cluster.kubernetesVersio = "1.34"), path: "infermesh:cluster.kubernetesVersio", says: ["unknown key", "kubernetesVersion"] },
  { name: "pool name not DNS-safe", change: (r) => (r.gpuPools.L4_Pool = pool(r)), path: "infermesh:gpuPools.L4_Pool", says: ['"L4_Pool"', "lowercase DNS label"] },
  { name: "reserved pool name", change: (r) => (r.gpuPools.system = pool(r)), path: "infermesh:gpuPools.system", says: ['"system"', "reserved"] },
  { name: "non-GPU instance type", change: (r) => (pool(r).instanceTypes = ["m7i.large"]), path: "infermesh:gpuPools.l4.instanceTypes.0", says: ['"m7i.large"', "g4dn, g5, g5g, g6, g6e, p4d, p4de, p5, p5e, p5en"] },
  { name: "no instance types", change: (r) => (pool(r).instanceTypes = []), path: "infermesh:gpuPools.l4.instanceTypes", says: ["got []", ">=1"] },
  { name: "mixed GPU models in a pool", change: (r) => (pool(r).instanceTypes = ["g6.xlarge", "g5.xlarge"]), path: "infermesh:gpuPools.l4.instanceTypes", says: ["g5.xlarge (1x A10G", "same GPU model"] },
  { name: "min above desired", change: (r) => (pool(r).scaling = { min: 3, desired: 1, max: 4 }), path: "infermesh:gpuPools.l4.scaling", says: ["min=3, desired=1, max=4", "min <= desired <= max"] },
  { name: "desired above max", change: (r) => (pool(r).scaling = { min: 0, desired: 5, max: 4 }), path: "infermesh:gpuPools.l4.scaling", says: ["desired=5, max=4", "min <= desired <= max"] },
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
  { name: "spot in prod", change: (r) => Object.assign(r, { environment: "prod" }, { gpuPools: { l4: { ...pool(r), capacity: "spot", scaling: { min: 1, desired: 1, max: 4 } } } }), path: "infermesh:gpuPools.l4.capacity", says: ['"spot"', '"on-demand"', "infermesh:safety.allowSpot"] },
  { name: "scale to zero in prod", change: (r) => (r.environment = "prod"), path: "infermesh:gpuPools.l4.scaling.min", says: ["got 0", ">= 1", "allowScaleToZero"] },
  { name: "ephemeral without expiry", change: (r) => (r.environment = "ephemeral"), path: "infermesh:expiresAt", says: ["is required", "ISO-8601"] },
  { name: "malformed expiry", change: (r) => (r.expiresAt = "tomorrow"), path: "infermesh:expiresAt", says: ['"tomorrow"', "2026-12-01T00:00:00Z"] },
  { name: "negative queue threshold", change: (r) => (r.models["gpt-7b"].queueDepthMax = -5), path: "infermesh:models.gpt-7b.queueDepthMax", says: ["got -5", ">0"] },
  { name: "bad model name", change: (r) => (r.models["gpt 7b"] = {}), path: "infermesh:models.gpt 7b", says: ['"gpt 7b"', "model names are"] },
  { name: "reserved tag key", change: (r) => (r.tags = { "aws:owner": "x" }), path: "infermesh:tags.aws:owner", says: ['"aws:owner"', "reserved"] },
  { name: "tag that would hide the stack's own", change: (r) => (r.tags = { environment: "other" }), path: "infermesh:tags.environment", says: ['"environment"', "project, stack, environment, expires-at are reserved"] },
  { name: "pool label the stack owns", change: (r) => (pool(r).labels = { "nvidia.com/mig.config": "all-disabled" }), path: "infermesh:gpuPools.l4.labels", says: ['["nvidia.com/mig.config"]', "set by the stack"] },
  { name: "unknown metrics backend", change: (r) => (r.telemetry = { backend: "thanos" }), path: "infermesh:telemetry.backend", says: ['"thanos"', "in-cluster | amp"] },
  { name: "scrape interval too short", change: (r) => (r.telemetry = { scrapeInterval: "1s" }), path: "infermesh:telemetry.scrapeInterval", says: ['"1s"', "between 5s and 5m"] },
  { name: "scrape interval not a duration", change: (r) => (r.telemetry = { scrapeInterval: "30 seconds" }), path: "infermesh:telemetry.scrapeInterval", says: ['"30 seconds"', "like 30s"] },
  { name: "retention too long", change: (r) => (r.telemetry = { retention: "5y" }), path: "infermesh:telemetry.retention", says: ['"5y"', "between 2h and 2y"] },
  { name: "volume too small", change: (r) => (r.telemetry = { volumeSizeGiB: 1 }), path: "infermesh:telemetry.volumeSizeGiB", says: ["got 1", ">=10"] },
  { name: "unknown infermesh component", change: (r) => (r.telemetry = { infermesh: { components: ["router", "gateway"] } }), path: "infermesh:telemetry.infermesh.components.1", says: ['"gateway"', "router | agent | adapter"] },
  { name: "SLO objective of 100%", change: (r) => (r.slo = { availabilityPercent: 100 }), path: "infermesh:slo.availabilityPercent", says: ["got 100", "strictly between 0 and 100"] },
  { name: "model SLO objective of 0%", change: (r) => (r.models["gpt-7b"].slo = { latencyPercent: 0 }), path: "infermesh:models.gpt-7b.slo.latencyPercent", says: ["got 0", "strictly between 0 and 100"] },
  { name: "SLO objective too loose to page", change: (r) => (r.slo = { latencyPercent: 90 }), path: "infermesh:slo.latencyPercent", says: ["got 90", "14.4", "could never fire", "above 93.056 and below 100"] },
  { name: "model SLO objective too loose to page over 28 days", change: (r) => ((r.slo = { window: "28d" }), (r.models["gpt-7b"].slo = { availabilityPercent: 92.5 })), path: "infermesh:models.gpt-7b.slo.availabilityPercent", says: ["got 92.5", "13.44", "above 92.56"] },
  { name: "latency target that is not a bucket bound", change: (r) => (r.models["gpt-7b"].slo = { latencyTargetMs: 1500 }), path: "infermesh:models.gpt-7b.slo.latencyTargetMs", says: ["got 1500", "bucket bound", "1000, 2000, 2500"] },
  { name: "SLO window other than 28 or 30 days", change: (r) => (r.slo = { window: "7d" }), path: "infermesh:slo.window", says: ['"7d"', "28d | 30d"] },
  { name: "unknown SLO key", change: (r) => (r.slo = { objective: 99 }), path: "infermesh:slo.objective", says: ["unknown key", "availabilityPercent"] },
  { name: "in-cluster retention shorter than the SLO window", change: (r) => (r.telemetry = { retention: "15d" }), path: "infermesh:telemetry.retention", says: ['"15d"', "SLO window (30d)", "30d or longer"] },
  { name: "bad scrape namespace", change: (r) => (r.telemetry = { infermesh: { namespaces: ["Serving"] } }), path: "infermesh:telemetry.infermesh.namespaces.0", says: ['"Serving"', "namespace name"] },
  { name: "bad metrics port name", change: (r) => (r.telemetry = { infermesh: { port: "metrics_port_9090" } }), path: "infermesh:telemetry.infermesh.port", says: ['"metrics_port_9090"', "1-15 of a-z"] },
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
  { name: "Grafana URL not http(s)", change: (r) => (r.grafana = { mode: "in-cluster", url: "localhost:3000" }), path: "infermesh:grafana.url", says: ['"localhost:3000"', "http(s) URL"] },
  { name: "token lifetime over AWS's limit", change: (r) => (r.grafana = { mode: "managed", tokenTtlDays: 90, prometheusUrl: "https://p.example.com" }), path: "infermesh:grafana.tokenTtlDays", says: ["got 90", "<=30"] },
  { name: "managed Grafana cannot reach in-cluster Prometheus", change: (r) => (r.grafana = { mode: "managed" }), path: "infermesh:grafana.prometheusUrl", says: ["is required", "backend: amp"] },
  { name: "external Grafana token missing from secrets", change: (r) => (r.grafana = { mode: "external", url: "https://g.example.com", prometheusUrl: "https://p.example.com" }), path: "infermesh:grafana.tokenSecret", says: ['"grafanaToken"', "not in infermesh:secrets"] },
  { name: "secrets in plaintext", change: (r) => (r.secrets = { slackHook: "https://hooks.slack.com/x" }), path: "infermesh:secrets", says: ["plaintext", "--secret"] },
  { name: "Grafana evaluator without Grafana", change: (r) => (r.alerting = { evaluator: "grafana" }), path: "infermesh:alerting.evaluator", says: ['"grafana"', "allowed here: prometheus"] },
  { name: "unknown contact point type", change: (r) => (r.alerting = { contactPoints: { chat: { type: "teams", secret: "x" } } }), path: "infermesh:alerting.contactPoints.chat.type", says: ['"teams"', "slack | pagerduty | email | sns"] },
  { name: "contact point secret missing", change: (r) => (r.alerting = { contactPoints: { chat: { type: "slack", secret: "slackHook" } } }), path: "infermesh:alerting.contactPoints.chat.secret", says: ['"slackHook"', "not in infermesh:secrets"] },
  { name: "route to an unknown contact point", change: (r) => (r.alerting = { routes: { critical: ["pager"] } }), path: "infermesh:alerting.routes.critical.0", says: ['"pager"', "contact points defined: none"] },
  { name: "SNS from a Grafana that is not Amazon-managed", change: (r) => (r.grafana = { mode: "in-cluster", url: "http://localhost:3000" }, r.alerting = { contactPoints: { ops: { type: "sns", topicArn: "arn:aws:sns:us-west-2:111122223333:ops" } } }), path: "infermesh:alerting.contactPoints.ops.type", says: ['"sns"', "Amazon Managed Grafana"] },
  { name: "bad SNS topic ARN", change: (r) => (r.alerting = { contactPoints: { ops: { type: "sns", topicArn: "ops-topic" } } }), path: "infermesh:alerting.contactPoints.ops.topicArn", says: ['"ops-topic"', "SNS topic ARN"] },
  { name: "VRAM threshold not a ratio", change: (r) => (r.alerting = { thresholds: { vramUsedRatioMax: 90 } }), path: "infermesh:alerting.thresholds.vramUsedRatioMax", says: ["got 90", "<1"] },
  { name: "repeat interval too long", change: (r) => (r.alerting = { repeatInterval: { info: "30d" } }), path: "infermesh:alerting.repeatInterval.info", says: ['"30d"', "between 1m and 5d"] },
  { name: "unknown alerting key", change: (r) => (r.alerting = { receivers: {} }), path: "infermesh:alerting.receivers", says: ["unknown key", "contactPoints"] },
  { name: "unknown safety override", change: (r) => (r.safety = { protect: true }), path: "infermesh:safety.protect", says: ["unknown key", "protectStateful"] },
];

function problemsOf(raw: RawConfig) {
  try {
    parse(raw);
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

  it.each(cases)("$name → $path", ({ change, path, says }) => {
    const raw = structuredClone(baseRaw()) as Raw;
    change(raw);
    const problems = problemsOf(raw);
    const problem = problems.find((p) => p.path === path);
    expect(problem, `problems: ${JSON.stringify(problems, null, 1)}`).toBeDefined();
    for (const text of says) expect(problem?.message).toContain(text);
  });

  it.each(cases)("$name registers no resource", async ({ change }) => {
    const raw = structuredClone(baseRaw()) as Raw;
    change(raw);
    const recording = await startRecording({ project, stack: "dev", config: asPulumiConfig(raw), calls: offlineLookups });
    expect(() => infermesh(loadConfig())).toThrow(ConfigError);
    await recording.settle();
    expect(recording.resources).toEqual([]);
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
