import { z } from "zod";
import { durationSeconds } from "../lib/duration";
import { latencyBucketBoundsMs } from "../monitoring/metrics";
import { sloWindows } from "../monitoring/slo";
import { defaultRunbookBaseUrl } from "../monitoring/runbooks";
import { parseCidr } from "../domain/cidr";
import { environmentKinds } from "../domain/environments";
import { gpuModels, isMigCapable, lookupGpuInstance } from "../domain/gpuInstances";
import { defaultKubernetesVersion, supportedKubernetesVersions } from "../domain/versions";

/** A strict object whose unknown-key error lists the keys that are allowed. */
function obj<S extends z.core.$ZodLooseShape>(shape: S) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) => (issue.code === "unrecognized_keys" ? `unknown key; allowed keys: ${allowed}` : undefined),
  });
}

const int = () => z.number().int();

/** RFC 1123 label, short enough to leave room for suffixes in AWS names. */
export const dnsLabelPattern = /^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$/;
const dnsLabelRule = "a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, at most 30 characters";

const clusterNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const regionPattern = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const labelKeyPattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** Prometheus label values are free-form, but model names also become rule and uid parts. */
const modelNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const subnetIdPattern = /^subnet-[0-9a-f]{8,17}$/;

const cidr = z.string().superRefine((value, ctx) => {
  const parsed = parseCidr(value);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", input: value, message: `got ${JSON.stringify(value)}; ${parsed}` });
});

const scaling = obj({ min: int().min(0), desired: int().min(0), max: int().min(1).max(450) }).superRefine((s, ctx) => {
  if (!(s.min <= s.desired && s.desired <= s.max)) {
    ctx.addIssue({
      code: "custom",
      input: s,
      message: `got min=${s.min}, desired=${s.desired}, max=${s.max}; must satisfy min <= desired <= max`,
    });
  }
});

const instanceType = z.string().superRefine((value, ctx) => {
  if (!lookupGpuInstance(value)) {
    ctx.addIssue({
      code: "custom",
      input: value,
      message: `got ${JSON.stringify(value)}; not a supported GPU instance type (families: g4dn, g5, g5g, g6, g6e, p4d, p4de, p5, p5e, p5en; see domain/gpuInstances.ts)`,
    });
  }
});

const labels = z.record(
  z.string().regex(labelKeyPattern, { error: (i) => `got ${JSON.stringify(i.input)}; not a valid Kubernetes label key` }),
  z.string().regex(labelValuePattern, {
    error: (i) => `got ${JSON.stringify(i.input)}; label values are at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.'`,
  }),
);

const isReservedLabel = (key: string) => key.startsWith("infermesh.io/") || key.startsWith("nvidia.com/");

export const gpuPoolSchema = obj({
  /** One or more instance types with the same GPU model and CPU architecture. */
  instanceTypes: z.array(instanceType).min(1),
  /** Defaults to the environment's `defaultCapacity`. */
  capacity: z.enum(["spot", "on-demand"]).optional(),
  scaling,
  diskSizeGiB: int().min(50).max(16384).default(200),
  amiFamily: z.enum(["al2023", "bottlerocket"]).default("al2023"),
  /** Uniform MIG layout, e.g. `1g.10gb`; only on MIG-capable GPUs. */
  migProfile: z.string().optional(),
  labels: labels
    .refine((l) => !Object.keys(l).some(isReservedLabel), {
      error: (i) => `got ${JSON.stringify(Object.keys(i.input as object).filter(isReservedLabel))}; keys under infermesh.io/ and nvidia.com/ are set by the stack`,
    })
    .default({}),
}).superRefine((pool, ctx) => {
  const gpus = pool.instanceTypes.map((t) => ({ type: t, info: lookupGpuInstance(t) }));
  const known = gpus.flatMap((g) => (g.info ? [{ type: g.type, ...g.info }] : []));
  const first = known[0];
  if (!first) return;
  const mixed = known.filter((g) => g.gpu !== first.gpu || g.architecture !== first.architecture || g.gpusPerInstance !== first.gpusPerInstance);
  if (mixed.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["instanceTypes"],
      input: pool.instanceTypes,
      message: `got ${mixed.map((g) => `${g.type} (${g.gpusPerInstance}x ${g.gpu}, ${g.architecture})`).join(", ")} beside ${first.type} (${first.gpusPerInstance}x ${first.gpu}, ${first.architecture}); all instance types of a pool must have the same GPU model, GPU count and architecture`,
    });
  }
  if (pool.migProfile !== undefined) {
    if (!isMigCapable(first.gpu)) {
      ctx.addIssue({
        code: "custom",
        path: ["migProfile"],
        input: pool.migProfile,
        message: `got ${JSON.stringify(pool.migProfile)} on ${first.gpu} (${first.type}), which has no MIG; MIG needs A100, H100 or H200 (p4d, p4de, p5, p5e, p5en)`,
      });
    } else {
      const profiles = Object.keys(gpuModels[first.gpu].migProfiles);
      if (!profiles.includes(pool.migProfile)) {
        ctx.addIssue({
          code: "custom",
          path: ["migProfile"],
          input: pool.migProfile,
          message: `got ${JSON.stringify(pool.migProfile)}; ${first.gpu} offers ${profiles.join(" | ")}`,
        });
      }
    }
  }
});

const dnsLabelKey = z.string().regex(dnsLabelPattern, { error: (i) => `got ${JSON.stringify(i.input)}; must be ${dnsLabelRule}` });

export const gpuPoolsSchema = z.record(dnsLabelKey, gpuPoolSchema).superRefine((pools, ctx) => {
  if (Object.hasOwn(pools, "system")) {
    ctx.addIssue({ code: "custom", path: ["system"], input: "system", message: `got "system"; the name is reserved for the system node group` });
  }
});

const systemNodes = obj({
  instanceTypes: z
    .array(z.string().regex(/^[a-z0-9-]+\.[a-z0-9-]+$/, { error: (i) => `got ${JSON.stringify(i.input)}; not an EC2 instance type` }))
    .min(1)
    .default(["m7i.large"]),
  scaling: scaling.default({ min: 2, desired: 2, max: 4 }),
  diskSizeGiB: int().min(20).max(16384).default(50),
});

const zoneSubnets = obj({ private: cidr, public: cidr });

export const createClusterSchema = obj({
  mode: z.literal("create"),
  /** Defaults to `infermesh-<stack>`. */
  name: z
    .string()
    .regex(clusterNamePattern, { error: (i) => `got ${JSON.stringify(i.input)}; EKS names are 1-100 of A-Z, a-z, 0-9, '-', '_' starting alphanumeric` })
    .optional(),
  kubernetesVersion: z.enum(supportedKubernetesVersions).default(defaultKubernetesVersion),
  vpc: obj({
    cidr,
    availabilityZones: z.array(z.string()).min(2, { error: (i) => `got ${JSON.stringify(i.input)}; at least two availability zones are needed to create a VPC` }),
    /** Explicit subnets keyed by zone; defaults to an even split of `cidr`. */
    subnets: z.record(z.string(), zoneSubnets).optional(),
  }),
  /** Kubernetes service range; must not overlap the VPC. */
  serviceCidr: cidr.default("172.20.0.0/16"),
  endpointPublicAccess: z.boolean().default(true),
  publicAccessCidrs: z.array(cidr).min(1).default(["0.0.0.0/0"]),
  systemNodes: systemNodes.prefault({}),
});

export const existingClusterSchema = obj({
  mode: z.literal("existing"),
  name: z.string().regex(clusterNamePattern, { error: (i) => `got ${JSON.stringify(i.input)}; not an EKS cluster name` }),
  /** Subnets for GPU node groups; defaults to the cluster's own subnets. */
  subnetIds: z
    .array(z.string().regex(subnetIdPattern, { error: (i) => `got ${JSON.stringify(i.input)}; expected a subnet id like subnet-0abc12345` }))
    .min(1)
    .optional(),
});

export const clusterSchema = z.discriminatedUnion("mode", [createClusterSchema, existingClusterSchema]);

/** An SLO objective: a percentage strictly between 0 and 100 (how high it must be to page is a rule in slo.ts). */
const objectivePercent = z.number().superRefine((value, ctx) => {
  if (!(value > 0 && value < 100)) ctx.addIssue({ code: "custom", input: value, message: `got ${value}; an objective is a percentage strictly between 0 and 100, e.g. 99.5` });
});

/** A latency target the histogram can answer: one of its bucket bounds. */
const latencyTargetMs = z.number().superRefine((value, ctx) => {
  if (!(latencyBucketBoundsMs as readonly number[]).includes(value)) {
    ctx.addIssue({
      code: "custom",
      input: value,
      message: `got ${value}; the latency SLI reads the latency histogram's bucket at the target, so it must be a bucket bound (ms): ${latencyBucketBoundsMs.join(", ")}`,
    });
  }
});

const sloObjectives = {
  /** Percent of inferences completed without error. */
  availabilityPercent: objectivePercent.optional(),
  /** Percent of inferences completed within `latencyTargetMs`. */
  latencyPercent: objectivePercent.optional(),
  latencyTargetMs: latencyTargetMs.optional(),
};

/** Stack-wide SLO settings; unset keys come from the environment's defaults (monitoring/slo.ts sloDefaults). */
export const sloSchema = obj({
  /** The window the objectives are promised over. */
  window: z.enum(sloWindows).optional(),
  ...sloObjectives,
});

export const modelSchema = obj({
  /** Queue depth above which `InfermeshHighQueueDepth` fires for this model. */
  queueDepthMax: z.number().positive().optional(),
  /** p95 latency (ms) above which `InfermeshLatencyP95Breach` fires for this model. */
  latencyP95MaxMs: z.number().positive().optional(),
  /** This model's own objectives; unset keys come from `infermesh:slo`. */
  slo: obj(sloObjectives).optional(),
});

export const modelsSchema = z.record(
  z.string().regex(modelNamePattern, { error: (i) => `got ${JSON.stringify(i.input)}; model names are 1-63 of A-Z, a-z, 0-9, '.', '_', '-'` }),
  modelSchema,
);

export const safetySchema = obj({
  protectStateful: z.boolean().optional(),
  retainVolumes: z.boolean().optional(),
  allowSpot: z.boolean().optional(),
  allowScaleToZero: z.boolean().optional(),
  defaultCapacity: z.enum(["spot", "on-demand"]).optional(),
  natGateways: z.enum(["single", "per-az"]).optional(),
  requireExpiry: z.boolean().optional(),
});

/** Tags the stack sets itself on every resource. */
export const stackTagKeys = ["project", "stack", "environment", "expires-at"];
const tagKeyPattern = /^[\w .:/=+\-@]{1,128}$/;
/**
 * AWS reserves the `aws:` prefix "or any upper or lowercase combination of
 * such" for keys and values, allows at most 128 (key) and 256 (value) Unicode
 * characters, and across services (IAM, EKS: `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
 * only letters, digits, spaces and `_ . : / = + - @`; the stack's tags land on
 * every resource type through the provider's default tags.
 * https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html,
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html
 */
const awsReservedTagPrefix = /^aws:/i;
const tagValuePattern = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const tagsSchema = z.record(
  z
    .string()
    .regex(tagKeyPattern, { error: (i) => `got ${JSON.stringify(i.input)}; AWS tag keys are 1-128 of letters, digits, spaces and _ . : / = + - @` })
    .refine((k) => !awsReservedTagPrefix.test(k) && !stackTagKeys.includes(k), {
      error: (i) => `got ${JSON.stringify(i.input)}; keys starting with "aws:" in any letter case (AWS's own) and ${stackTagKeys.join(", ")} are reserved`,
    }),
  z.string().superRefine((value, ctx) => {
    const length = [...value].length;
    const problem = awsReservedTagPrefix.test(value)
      ? 'values starting with "aws:" in any letter case are reserved by AWS'
      : length > 256
        ? `AWS tag values are at most 256 characters (this one has ${length})`
        : !tagValuePattern.test(value)
          ? "AWS tag values are letters, digits, spaces and _ . : / = + - @"
          : undefined;
    const shown = length > 60 ? `${JSON.stringify([...value].slice(0, 57).join(""))}...` : JSON.stringify(value);
    if (problem) ctx.addIssue({ code: "custom", input: value, message: `got ${shown}; ${problem}` });
  }),
);

// One number and one unit: what the config accepts (Prometheus also reads `1h30m`).
const durationPattern = /^(\d+)(ms|s|m|h|d|w|y)$/;
/** A Prometheus duration between `min` and `max` (both durations), e.g. `30s`. */
function duration(min: string, max: string) {
  return z.string().superRefine((value, ctx) => {
    const ok = durationPattern.test(value) && durationSeconds(value) >= durationSeconds(min) && durationSeconds(value) <= durationSeconds(max);
    if (!ok) ctx.addIssue({ code: "custom", input: value, message: `got ${JSON.stringify(value)}; expected a duration like 30s, 5m or 15d between ${min} and ${max}` });
  });
}

export const infermeshComponents = ["router", "agent", "adapter"] as const;

export const telemetrySchema = obj({
  /** `in-cluster`: Prometheus keeps the data; `amp`: it also remote-writes to Amazon Managed Prometheus. */
  backend: z.enum(["in-cluster", "amp"]).default("in-cluster"),
  scrapeInterval: duration("5s", "5m").default("30s"),
  /** How long the in-cluster Prometheus keeps data. */
  retention: duration("2h", "2y").default("15d"),
  volumeSizeGiB: int().min(10).max(16384).default(100),
  /** Device plugin MIG strategy; defaults to `single` when a pool has a MIG profile, `none` otherwise. */
  migStrategy: z.enum(["none", "single", "mixed"]).optional(),
  /** Which infermesh pods are scraped. */
  infermesh: obj({
    /** Namespaces to look in; empty means all. */
    namespaces: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: (i) => `got ${JSON.stringify(i.input)}; not a Kubernetes namespace name` })).default([]),
    /** Value of `app.kubernetes.io/part-of` on infermesh pods. */
    partOf: z
      .string()
      .regex(labelValuePattern, { error: (i) => `got ${JSON.stringify(i.input)}; not a Kubernetes label value` })
      .min(1)
      .default("infermesh"),
    /** Values of `app.kubernetes.io/component`, one scrape job each. */
    components: z
      .array(z.enum(infermeshComponents))
      .min(1)
      .default([...infermeshComponents]),
    /** Name of the container port serving /metrics. */
    port: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/, { error: (i) => `got ${JSON.stringify(i.input)}; a container port name is 1-15 of a-z, 0-9, '-'` })
      .default("metrics"),
    path: z
      .string()
      .regex(/^\/[\w./-]*$/, { error: (i) => `got ${JSON.stringify(i.input)}; expected an absolute URL path like /metrics` })
      .default("/metrics"),
  }).prefault({}),
});

const httpUrl = z.string().regex(/^https?:\/\/[^\s/$.?#][^\s]*$/, { error: (i) => `got ${JSON.stringify(i.input)}; expected an http(s) URL` });
/** Name of a value in `infermesh:secrets`. */
const secretName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, { error: (i) => `got ${JSON.stringify(i.input)}; expected the name of an entry in infermesh:secrets` });

export const grafanaSchema = z.discriminatedUnion("mode", [
  obj({
    /** Amazon Managed Grafana workspace created by the stack. */
    mode: z.literal("managed"),
    authentication: z
      .array(z.enum(["AWS_SSO", "SAML"]))
      .min(1)
      .default(["AWS_SSO"]),
    grafanaVersion: z.enum(["10.4", "12.4"]).default("12.4"),
    /** Lifetime of the service-account token the stack creates on every deploy (AWS allows at most 30 days). */
    tokenTtlDays: int().min(1).max(30).default(7),
    /** Prometheus URL the workspace can reach; needed with the in-cluster backend (the service is not reachable from AWS). */
    prometheusUrl: httpUrl.optional(),
  }),
  obj({
    /** A Grafana the stack does not run. */
    mode: z.literal("external"),
    url: httpUrl,
    /** Entry in infermesh:secrets holding a service-account token. */
    tokenSecret: secretName.default("grafanaToken"),
    prometheusUrl: httpUrl.optional(),
  }),
  z.strictObject(
    {
      /**
       * Grafana via Helm on the system nodes, ClusterIP only. Its content comes
       * from Kubernetes objects, so `pulumi up` never calls its API and it takes no URL.
       */
      mode: z.literal("in-cluster"),
    },
    { error: (issue) => (issue.code === "unrecognized_keys" ? inClusterUnknownKeys(issue.keys, issue.input) : undefined) },
  ),
]);

/** A leftover `url` (the key this mode used to require) gets its own explanation. */
function inClusterUnknownKeys(keys: readonly string[], input: unknown): string {
  if (keys.length === 1 && keys[0] === "url") {
    const url = typeof input === "object" && input !== null ? (input as Record<string, unknown>).url : undefined;
    return `got ${JSON.stringify(url)}; an in-cluster Grafana takes no url: the stack provisions its data source, dashboards and alerting from Kubernetes objects and never calls its API, so remove the key (browse it with kubectl -n monitoring port-forward svc/grafana 3000:80)`;
  }
  return `unknown key; allowed keys: mode${keys.includes("url") ? " (an in-cluster Grafana takes no url: the stack never calls its API)" : ""}`;
}

const contactPointSchema = z.discriminatedUnion("type", [
  obj({
    type: z.literal("slack"),
    secret: secretName,
    channel: z
      .string()
      .regex(/^[#@]?[\w.-]{1,80}$/, { error: (i) => `got ${JSON.stringify(i.input)}; expected a Slack channel like #alerts` })
      .optional(),
  }),
  obj({ type: z.literal("pagerduty"), secret: secretName }),
  obj({ type: z.literal("email"), secret: secretName }),
  obj({
    type: z.literal("sns"),
    /** A topic the stack does not own: its owner must grant the publisher (see the `snsTopics` stack output). */
    topicArn: z
      .string()
      .regex(/^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, { error: (i) => `got ${JSON.stringify(i.input)}; expected an SNS topic ARN` })
      .optional(),
    /** The stack creates the topic, with the access policy its publisher needs. */
    create: z.literal(true, { error: (i) => `got ${JSON.stringify(i.input)}; allowed: true (or leave it out and set topicArn)` }).optional(),
  }).superRefine((cp, ctx) => {
    if ((cp.topicArn === undefined) === (cp.create === undefined)) {
      ctx.addIssue({
        code: "custom",
        input: cp,
        message: `got ${cp.topicArn === undefined ? "neither topicArn nor create" : "both topicArn and create"}; set exactly one: topicArn (an existing topic the stack does not own) or create: true (the stack creates the topic and its access policy)`,
      });
    }
  }),
]);

export const alertingSchema = obj({
  /** Who evaluates alert rules; defaults to Grafana when the stack manages one. */
  evaluator: z.enum(["grafana", "prometheus"]).optional(),
  /**
   * `tree`: the stack owns the Grafana org's notification policy tree (a
   * Grafana of its own). `per-rule`: each rule names its contact point, for a
   * Grafana shared with other stacks. Defaults to per-rule for an external Grafana.
   */
  policy: z.enum(["tree", "per-rule"]).optional(),
  /** Defaults to RUNBOOKS.md of the repository package.json names (monitoring/runbooks.ts). */
  runbookBaseUrl: httpUrl.default(defaultRunbookBaseUrl),
  thresholds: obj({
    queueDepthMax: z.number().positive().optional(),
    latencyP95MaxMs: z.number().positive().optional(),
    vramUsedRatioMax: z.number().gt(0).lt(1).optional(),
    rejectionRatioMax: z.number().gt(0).lt(1).optional(),
    errorRatioMax: z.number().gt(0).lt(1).optional(),
    thermalThrottleRatioMax: z.number().gt(0).lt(1).optional(),
  }).default({}),
  contactPoints: z.record(dnsLabelKey, contactPointSchema).default({}),
  /** Contact points each severity notifies. */
  routes: obj({
    critical: z.array(dnsLabelKey).default([]),
    warning: z.array(dnsLabelKey).default([]),
    info: z.array(dnsLabelKey).default([]),
  }).prefault({}),
  groupBy: z
    .array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: (i) => `got ${JSON.stringify(i.input)}; not a label name` }))
    .min(1)
    .default(["alertname", "model", "node"]),
  repeatInterval: obj({
    critical: duration("1m", "5d").default("1h"),
    warning: duration("1m", "5d").default("4h"),
    info: duration("1m", "5d").default("24h"),
  }).prefault({}),
});

export const autoscalerSchema = obj({
  /** Cluster Autoscaler for the GPU pools (scale from zero, spot first). */
  enabled: z.boolean().default(true),
  /** How long a GPU node must be unneeded before it is removed. */
  scaleDownDelay: duration("1m", "24h").default("10m"),
  /** Priority-expander weight per pool (higher wins); defaults to 20 for spot pools and 10 for on-demand pools. */
  expanderPriorities: z.record(z.string(), int().min(1).max(1000)).default({}),
});

export const capacitySchema = obj({
  /** A GPU held by a pod below this utilization (percent) counts as idle. */
  idleUtilizationPercent: z.number().min(0).max(100).default(5),
  /** ...when it stays there for this long. */
  idleWindow: duration("10m", "7d").default("1h"),
  /** GPU pods pending longer than this raise InfermeshGpuPodsPending. */
  pendingPodTimeout: duration("1m", "24h").default("10m"),
});

// ---------------------------------------------------------------------------
// Who reaches the cluster (EKS access entries) and how CI reaches it.

/** EKS access policies by the level a config names, least privilege first (components/clusterAccess.ts maps them to ARNs). */
export const accessLevels = ["view", "edit", "admin", "cluster-admin"] as const;

const iamNamePart = "[\\w+=,.@-]";
/** An IAM role or user ARN, path allowed (EKS access entries accept role paths, unlike aws-auth). */
export const principalArnPattern = new RegExp(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\\d{12}):(role|user)/(${iamNamePart}+/)*${iamNamePart}{1,64}$`);
const stsSessionPattern = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[^/]+$/;

const principalArn = z.string().superRefine((value, ctx) => {
  if (principalArnPattern.test(value)) return;
  const session = stsSessionPattern.exec(value);
  const hint = session
    ? `; that is a role session (as aws sts get-caller-identity prints it): use the role itself, arn:${session[1]}:iam::${session[2]}:role/<path/>${session[3]} (with the role's path, if any)`
    : "; expected an IAM role or user ARN like arn:aws:iam::111122223333:role/oncall (a path such as role/aws-reserved/sso.amazonaws.com/<name> is allowed)";
  ctx.addIssue({ code: "custom", input: value, message: `got ${JSON.stringify(value)}${hint}` });
});

const namespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: (i) => `got ${JSON.stringify(i.input)}; not a Kubernetes namespace name` });
/** `cluster`, or the namespaces an access policy is limited to. */
const accessScope = z.union([z.literal("cluster"), z.array(namespaceName).min(1)], {
  error: (i) => `got ${JSON.stringify(i.input)}; expected "cluster" or a list of namespaces like [serving, monitoring]`,
});

export const accessEntrySchema = obj({
  /** The IAM role (or user) that gets in: a CI role, an on-call group's SSO role, a viewer. */
  principalArn,
  /** Access level → scope. One EKS access policy association each; least privilege (view, whole cluster) by default. */
  policies: z
    .partialRecord(z.enum(accessLevels), accessScope, {
      // zod reports a key outside the enum as unrecognized_keys, which its record typings omit.
      error: (issue) => ((issue as { code: string }).code === "unrecognized_keys" ? `unknown access level; allowed: ${accessLevels.join(" | ")}` : undefined),
    })
    .default({ view: "cluster" }),
  /** Kubernetes groups for RBAC bindings the cluster's own manifests define (none by default). */
  kubernetesGroups: z
    .array(z.string().regex(/^[a-zA-Z0-9][\w.:-]{0,62}$/, { error: (i) => `got ${JSON.stringify(i.input)}; a Kubernetes group name like infermesh:node-operators` }))
    .default([]),
});

/** Access entries by a stable name (the child resources are named after it). */
export const accessSchema = z.record(dnsLabelKey, accessEntrySchema);

export const deploySchema = obj({
  /** `runs-on` labels of the runners that preview and deploy this stack; `self-hosted` marks runners the team runs (e.g. in the VPC). */
  runsOn: z
    .array(z.string().regex(/^[\w.-]{1,100}$/, { error: (i) => `got ${JSON.stringify(i.input)}; a runner label like ubuntu-latest or self-hosted` }))
    .min(1)
    .default(["ubuntu-latest"]),
  /** How those runners reach the Kubernetes API: the public endpoint, or the private one from inside the VPC (or a network routed to it). */
  endpoint: z.enum(["public", "private"]).default("public"),
  /** The runners' addresses: opened on port 443 of the cluster security group (private), or checked against publicAccessCidrs (public). */
  sourceCidrs: z.array(cidr).default([]),
});

/**
 * Cost and cardinality limits of the stack at its pools' maximum sizes, as
 * cost/estimate.ts figures them; the policy pack refuses a preview over
 * them (policy/policies.ts `budget-within-limits`).
 */
export const budgetSchema = obj({
  /** Most the stack may cost a month with every pool at its maximum size, USD. */
  maxMonthlyCostUsd: z.number().positive().optional(),
  /** Most active series the stack's metrics may reach at maximum size. */
  maxActiveSeries: int().min(1).optional(),
  /** AMP active-series limit per model's label set (AMP workspace configuration); default: twice the model's estimated share at maximum size. */
  maxActiveSeriesPerModel: int().min(1000).optional(),
});

/**
 * Each top-level key of the stack's config, validated on its own so one bad
 * section never hides another's problems. An unset section is parsed as `{}`
 * (`prefault`), so its keys' own defaults are its defaults.
 */
export const sections = {
  region: z
    .string({ error: (i) => (i.input === undefined ? "is required (e.g. us-west-2); set it with `pulumi config set aws:region <region>`" : undefined) })
    .regex(regionPattern, {
      error: (i) =>
        i.input === undefined
          ? "is required (e.g. us-west-2); set it with `pulumi config set aws:region <region>`"
          : `got ${JSON.stringify(i.input)}; not an AWS region name like us-west-2`,
    }),
  environment: z.enum(environmentKinds),
  cluster: clusterSchema,
  access: accessSchema.default({}),
  deploy: deploySchema.prefault({}),
  gpuPools: gpuPoolsSchema.default({}),
  models: modelsSchema.default({}),
  slo: sloSchema.default({}),
  safety: safetySchema.default({}),
  tags: tagsSchema.default({}),
  telemetry: telemetrySchema.prefault({}),
  grafana: grafanaSchema.optional(),
  autoscaler: autoscalerSchema.prefault({}),
  capacity: capacitySchema.prefault({}),
  alerting: alertingSchema.prefault({}),
  budget: budgetSchema.prefault({}),
  /** Secret values (tokens, webhook URLs, keys), set with `pulumi config set --secret --path 'infermesh:secrets.<name>'`. */
  secrets: z.record(secretName, z.string().min(1)).default({}),
  /** When the sweep may destroy the stack; how far ahead is checked against the deploy time (rules.ts). */
  expiresAt: z.iso.datetime({ error: (i) => `got ${JSON.stringify(i.input)}; expected an ISO-8601 UTC time (YYYY-MM-DDThh:mm:ssZ)` }).optional(),
} as const;

export type Sections = { [K in keyof typeof sections]: z.output<(typeof sections)[K]> };
