/**
 * Rules across config sections (environment policy, network layout, MIG and
 * telemetry, secrets and routing). Each returns every problem it finds.
 */
import { awsSubnetPrefixRange, contains, defaultSubnetPrefixes, overlaps, parseCidr, usableAddresses, type Cidr } from "../domain/cidr";
import type { EnvironmentPolicy } from "../domain/environments";
import type { Defaults } from "./defaults";
import { configPath, show, type ConfigProblem } from "./errors";
import type { Sections } from "./schema";
import type { MigStrategy, RawConfig } from "./types";

/** `value[key]` when `value` is an object (raw config values are anything). */
const field = (value: unknown, key: string): unknown => (typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined);

/**
 * Rules that depend on the environment. Pools are read from the raw values so
 * that a pool with an unrelated mistake is still checked against the policy.
 */
export function policyProblems(parsed: Partial<Sections>, raw: RawConfig, policy: EnvironmentPolicy): ConfigProblem[] {
  const env = parsed.environment;
  const problems: ConfigProblem[] = [];
  if (!policy.allowSpot && policy.defaultCapacity === "spot") {
    problems.push({
      path: "infermesh:safety.defaultCapacity",
      message: `got "spot" while spot is not allowed in environment "${env}"; set infermesh:safety.allowSpot: true or use "on-demand"`,
    });
  }
  const rawPools = typeof raw.gpuPools === "object" && raw.gpuPools !== null ? (raw.gpuPools as Record<string, unknown>) : {};
  for (const [name, pool] of Object.entries(rawPools)) {
    if (typeof pool !== "object" || pool === null) continue;
    if (field(pool, "capacity") === "spot" && !policy.allowSpot) {
      problems.push({
        path: `infermesh:gpuPools.${name}.capacity`,
        message: `got "spot"; environment "${env}" allows only "on-demand" (set infermesh:safety.allowSpot: true to override)`,
      });
    }
    if (field(field(pool, "scaling"), "min") === 0 && !policy.allowScaleToZero) {
      problems.push({
        path: `infermesh:gpuPools.${name}.scaling.min`,
        message: `got 0; environment "${env}" keeps at least one node per pool (allowed: >= 1, or set infermesh:safety.allowScaleToZero: true)`,
      });
    }
  }
  return problems;
}

/**
 * How far ahead a stack's expiry may lie. A GPU cluster kept for more than a
 * week is not a test any more; `npm run test-stack -- up --hours` allows the
 * same (lifecycle/testStacks.ts `maxHours`, kept equal by a test).
 */
export const maxExpiryHours = 168;

/** ISO-8601 UTC without milliseconds, the form `infermesh:expiresAt` takes. */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * `infermesh:expiresAt` becomes the `expires-at` tag the sweep destroys by:
 * it must lie after `now` (an expired stack is not deployed again; `npm run
 * test-stack -- up` sets a fresh expiry) and at most {@link maxExpiryHours} ahead.
 */
export function expiryProblems(parsed: Partial<Sections>, policy: EnvironmentPolicy | undefined, now: Date): ConfigProblem[] {
  const path = "infermesh:expiresAt";
  const latest = now.getTime() + maxExpiryHours * 3_600_000;
  const allowed = `a time after now (${isoSeconds(now.getTime())}) and at most ${maxExpiryHours / 24} days ahead, e.g. ${isoSeconds(now.getTime() + 24 * 3_600_000)}`;
  const expiresAt = parsed.expiresAt;
  if (expiresAt === undefined) {
    return policy?.requireExpiry && parsed.environment !== undefined
      ? [{ path, message: `is required for environment "${parsed.environment}" (an ISO-8601 UTC time, written to the expires-at tag): ${allowed}` }]
      : [];
  }
  const at = Date.parse(expiresAt);
  if (at <= now.getTime()) return [{ path, message: `got "${expiresAt}", which has passed; allowed: ${allowed}` }];
  if (at > latest) {
    return [{ path, message: `got "${expiresAt}", ${Math.ceil((at - now.getTime()) / 86_400_000)} days ahead; allowed: ${allowed} (until ${isoSeconds(latest)})` }];
  }
  return [];
}

export function networkProblems(cluster: Extract<Sections["cluster"], { mode: "create" }>, region: string | undefined): ConfigProblem[] {
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
  problems.push(...serviceCidrProblems(cluster.serviceCidr, service));
  const explicit = cluster.vpc.subnets;
  if (explicit === undefined) {
    if (zones.length > 4) at("vpc.subnets", `is required with more than four availability zones (got ${zones.length}); list each zone's private and public CIDR`);
    const { privatePrefix, publicPrefix } = defaultSubnetPrefixes(vpc.prefix);
    if (vpc.prefix <= 24 && publicPrefix > awsSubnetPrefixRange.max) {
      at(
        "vpc.cidr",
        `got "${cluster.vpc.cidr}"; the default subnet layout would cut it into /${privatePrefix} private and /${publicPrefix} public subnets (${2 ** (32 - publicPrefix)} addresses), smaller than AWS's /${awsSubnetPrefixRange.max} minimum; allowed without vpc.subnets: /16 to /${awsSubnetPrefixRange.max - (publicPrefix - vpc.prefix)} (its smallest subnet is a /${awsSubnetPrefixRange.max}), or list vpc.subnets`,
      );
    }
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
    if (block.cidr.prefix < awsSubnetPrefixRange.min || block.cidr.prefix > awsSubnetPrefixRange.max) {
      at(
        block.path,
        `got "${block.text}"; AWS subnets are /${awsSubnetPrefixRange.min} to /${awsSubnetPrefixRange.max} (the smallest, a /${awsSubnetPrefixRange.max}, has ${usableAddresses(awsSubnetPrefixRange.max)} usable addresses)`,
      );
    }
    if (!contains(vpc, block.cidr)) at(block.path, `got "${block.text}", which is outside the VPC ${cluster.vpc.cidr}`);
    const clash = blocks.slice(0, i).find((other) => overlaps(other.cidr, block.cidr));
    if (clash) at(block.path, `got "${block.text}", which overlaps ${clash.path} (${clash.text}); subnets must not overlap`);
  });
  return problems;
}

/**
 * EKS's own rules for `kubernetesNetworkConfig.serviceIpv4Cidr`: "Within one of
 * the following private IP address blocks: 10.0.0.0/8, 172.16.0.0/12, or
 * 192.168.0.0/16. Doesn't overlap with any CIDR block assigned to the VPC [...]
 * Between /24 and /12." (EKS API reference, KubernetesNetworkConfigRequest,
 * https://docs.aws.amazon.com/eks/latest/APIReference/API_KubernetesNetworkConfigRequest.html;
 * the same text ships in @pulumi/aws's docs of `aws.eks.Cluster`, which a test
 * pins). The overlap with the VPC is checked by {@link networkProblems}.
 */
export const eksServiceCidrRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] as const;
export const eksServiceCidrPrefixRange = { min: 12, max: 24 } as const;

function serviceCidrProblems(text: string, service: Cidr): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const path = "infermesh:cluster.serviceCidr";
  if (!eksServiceCidrRanges.some((range) => contains(parseCidr(range) as Cidr, service))) {
    problems.push({ path, message: `got "${text}"; EKS assigns service addresses only from inside ${eksServiceCidrRanges.join(", ")} (e.g. 172.20.0.0/16)` });
  }
  if (service.prefix < eksServiceCidrPrefixRange.min || service.prefix > eksServiceCidrPrefixRange.max) {
    problems.push({ path, message: `got "${text}"; EKS service ranges are between /${eksServiceCidrPrefixRange.max} and /${eksServiceCidrPrefixRange.min}` });
  }
  return problems;
}

/** `migStrategy` is the resolved strategy (defaults.ts): `none` here was set explicitly. */
export function telemetryProblems(pools: Sections["gpuPools"], migStrategy: MigStrategy): ConfigProblem[] {
  const migPools = Object.entries(pools)
    .filter(([, p]) => p.migProfile !== undefined)
    .map(([name]) => name);
  const problems: ConfigProblem[] = [];
  for (const [name, pool] of Object.entries(pools)) {
    if (pool.migProfile !== undefined && pool.amiFamily === "bottlerocket") {
      problems.push({
        path: `infermesh:gpuPools.${name}.amiFamily`,
        message: `got "bottlerocket" with migProfile ${JSON.stringify(pool.migProfile)}; the NVIDIA MIG manager cannot repartition Bottlerocket's GPUs (allowed with MIG: al2023)`,
      });
    }
  }
  if (migStrategy === "none" && migPools.length > 0) {
    problems.push({
      path: "infermesh:telemetry.migStrategy",
      message: `got "none" while pools ${migPools.join(", ")} set migProfile; with "none" the device plugin ignores MIG instances (allowed here: single | mixed)`,
    });
  }
  return problems;
}

/** Priority-expander weights name pools that exist. */
export function autoscalerProblems(parsed: Partial<Sections>): ConfigProblem[] {
  const { autoscaler, gpuPools } = parsed;
  if (!autoscaler || !gpuPools) return [];
  return Object.keys(autoscaler.expanderPriorities)
    .filter((name) => !Object.hasOwn(gpuPools, name))
    .map((name) => ({
      path: `infermesh:autoscaler.expanderPriorities.${name}`,
      message: `got a pool that does not exist; pools: ${Object.keys(gpuPools).join(", ") || "none"}`,
    }));
}

/**
 * Secret values live in `infermesh:secrets`, each one encrypted. Another key
 * held encrypted would be read as plain configuration (into state and plan
 * output unencrypted); an entry left in clear beside encrypted ones is a
 * secret committed in plain text. Names only: values are never printed.
 */
export function secrecyProblems(raw: RawConfig, secretKeys: readonly string[], encryptedPaths: readonly string[] | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const key of secretKeys) {
    if (key === "secrets" || raw[key] === undefined) continue;
    problems.push({
      path: configPath([key]),
      message: `is encrypted, but only infermesh:secrets holds secret values (the stack would use this key unencrypted, in state and plan output); set it without --secret and keep tokens, webhook URLs and keys in infermesh:secrets`,
    });
  }
  const secrets = raw.secrets;
  // Unknown without the stack file; nothing in clear when the map was encrypted as a whole.
  if (encryptedPaths === undefined || encryptedPaths.includes("secrets") || !secretKeys.includes("secrets")) return problems;
  if (typeof secrets !== "object" || secrets === null || Array.isArray(secrets)) return problems;
  const names = Object.keys(secrets);
  const clear = names.filter((name) => !encryptedPaths.includes(`secrets.${name}`));
  if (clear.length === 0 || clear.length === names.length) return problems;
  for (const name of clear) {
    problems.push({
      path: `infermesh:secrets.${name}`,
      message: `is stored in clear text in the stack file while other entries are encrypted (in clear: ${clear.join(", ")}); encrypt it with \`pulumi config set --secret --path 'infermesh:secrets.${name}' <value>\``,
    });
  }
  return problems;
}

/**
 * An external Grafana is reached with the service-account token from
 * `infermesh:secrets` in every request's Authorization header: in prod only
 * over https, so the token never travels in clear text.
 */
export function grafanaTransportProblems(parsed: Partial<Sections>): ConfigProblem[] {
  const grafana = parsed.grafana;
  if (grafana?.mode !== "external" || parsed.environment !== "prod" || !/^http:\/\//.test(grafana.url)) return [];
  return [
    {
      path: "infermesh:grafana.url",
      message: `got ${JSON.stringify(grafana.url)}; environment "prod" requires an https:// URL for an external Grafana: the stack sends its token (infermesh:secrets.${grafana.tokenSecret}) with every request, and over http it travels in clear text`,
    },
  ];
}

/** Secrets stay secret, references resolve, and the evaluator can reach what it needs. */
export function alertingProblems(parsed: Partial<Sections>, raw: RawConfig, secretKeys: readonly string[], defaults: Partial<Defaults>): ConfigProblem[] {
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
  const evaluator = defaults.evaluator;
  if (!alerting || !evaluator) return problems;
  if (evaluator === "grafana" && !grafana) {
    at("infermesh:alerting.evaluator", `got "grafana" but no infermesh:grafana is configured; allowed here: prometheus`);
  }
  for (const [name, cp] of Object.entries(alerting.contactPoints)) {
    if (cp.type !== "sns") requireSecret(`infermesh:alerting.contactPoints.${name}.secret`, cp.secret);
    if (cp.type === "sns" && evaluator === "grafana" && grafana?.mode !== "managed") {
      at(
        `infermesh:alerting.contactPoints.${name}.type`,
        `got "sns"; Grafana sends to SNS only as Amazon Managed Grafana (infermesh:grafana.mode: managed); allowed here: slack | pagerduty | email`,
      );
    }
    if (cp.type === "email" && evaluator === "prometheus" && parsed.telemetry?.backend !== "amp") {
      at(`infermesh:alerting.contactPoints.${name}.type`, `got "email"; the stack's Alertmanager has no SMTP relay configured; allowed here: slack | pagerduty`);
    }
    if (cp.type !== "sns" && evaluator === "prometheus" && parsed.telemetry?.backend === "amp") {
      at(`infermesh:alerting.contactPoints.${name}.type`, `got "${cp.type}"; Amazon Managed Prometheus' alert manager delivers only to SNS; allowed here: sns`);
    }
    if (cp.type === "sns" && evaluator === "prometheus" && parsed.telemetry?.backend !== "amp") {
      at(
        `infermesh:alerting.contactPoints.${name}.type`,
        `got "sns"; the in-cluster Alertmanager has no AWS credentials to publish to SNS; allowed here: slack | pagerduty (or infermesh:telemetry.backend: amp)`,
      );
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

/** The AWS partition of a region name (`us-gov-west-1` → `aws-us-gov`). */
export function partitionOf(region: string): string {
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  if (region.startsWith("us-iso-")) return "aws-iso";
  return "aws";
}

/**
 * Access entries: one per principal (EKS refuses a second), `cluster-admin`
 * only cluster-wide, principals in the cluster's partition, and only on a
 * cluster this stack creates: an attached cluster's access is its owner's.
 */
export function accessProblems(parsed: Partial<Sections>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const access = parsed.access ?? {};
  const names = Object.keys(access);
  if (names.length === 0) return problems;
  if (parsed.cluster?.mode === "existing") {
    problems.push({
      path: "infermesh:access",
      message: `got entries ${names.join(", ")} with infermesh:cluster.mode "existing"; the stack does not change an attached cluster, so its owner grants access (remove infermesh:access, or create the cluster)`,
    });
    return problems;
  }
  const seen = new Map<string, string>();
  for (const [name, entry] of Object.entries(access)) {
    const at = `infermesh:access.${name}`;
    const first = seen.get(entry.principalArn);
    if (first !== undefined) {
      problems.push({
        path: `${at}.principalArn`,
        message: `got ${JSON.stringify(entry.principalArn)}, already in infermesh:access.${first}; EKS allows one access entry per principal, so put both entries' policies under one`,
      });
    } else seen.set(entry.principalArn, name);
    if (Array.isArray(entry.policies["cluster-admin"])) {
      problems.push({
        path: `${at}.policies.cluster-admin`,
        message: `got namespaces ${show(entry.policies["cluster-admin"])}; cluster-admin is for the whole cluster (allowed: "cluster"); for full rights in namespaces use admin`,
      });
    }
    if (Object.keys(entry.policies).length === 0 && entry.kubernetesGroups.length === 0) {
      problems.push({
        path: `${at}.policies`,
        message: 'got {}; an entry with no access policy and no kubernetesGroups grants nothing (allowed: view, edit, admin, cluster-admin, each "cluster" or namespaces)',
      });
    }
    const partition = /^arn:([\w-]+):/.exec(entry.principalArn)?.[1];
    if (parsed.region !== undefined && partition !== undefined && partition !== partitionOf(parsed.region)) {
      problems.push({ path: `${at}.principalArn`, message: `got a principal in partition ${partition}; region ${parsed.region} is in partition ${partitionOf(parsed.region)}` });
    }
  }
  return problems;
}

/** Whether `runs-on` labels name runners the team runs (GitHub marks them `self-hosted`). */
export function isSelfHosted(runsOn: readonly string[]): boolean {
  return runsOn.includes("self-hosted");
}

const everywhere = "0.0.0.0/0";

/**
 * The deploy path must reach the cluster it deploys: GitHub-hosted runners
 * only through the public endpoint, open to every address (theirs are not
 * fixed); a private endpoint only from self-hosted runners whose addresses
 * the stack opens on the cluster security group; a restricted public
 * endpoint only from runners whose addresses it admits.
 */
export function deployProblems(parsed: Partial<Sections>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const deploy = parsed.deploy;
  if (!deploy) return problems;
  const at = (path: string, message: string) => problems.push({ path: `infermesh:deploy.${path}`, message });
  const hosted = !isSelfHosted(deploy.runsOn);
  if (deploy.endpoint === "private" && hosted) {
    at(
      "endpoint",
      `got "private" with runsOn ${show(deploy.runsOn)}; GitHub-hosted runners are outside the VPC and cannot reach a private endpoint (allowed here: public), or run on self-hosted runners inside the VPC (runsOn [self-hosted, <label>])`,
    );
  }
  const cluster = parsed.cluster;
  if (cluster?.mode === "existing") {
    if (deploy.sourceCidrs.length > 0) {
      at(
        "sourceCidrs",
        `got ${show(deploy.sourceCidrs)} with infermesh:cluster.mode "existing"; the stack opens runner addresses only on a cluster it creates (an attached cluster's owner admits them); remove it`,
      );
    }
    return problems;
  }
  if (cluster?.mode !== "create") return problems;
  if (deploy.endpoint === "public" && !cluster.endpointPublicAccess) {
    at(
      "endpoint",
      `got "public" while infermesh:cluster.endpointPublicAccess is false; CI could not reach the cluster: use endpoint "private" with self-hosted runners in the VPC, or turn the public endpoint on`,
    );
  }
  if (deploy.endpoint === "private" && deploy.sourceCidrs.length === 0) {
    at("sourceCidrs", `is required with endpoint "private": the runners' addresses, which the stack allows to port 443 of the cluster security group (e.g. [10.200.16.0/24])`);
  }
  if (deploy.endpoint === "public" && cluster.endpointPublicAccess) {
    const admitted = cluster.publicAccessCidrs.map((c) => parseCidr(c) as Cidr);
    if (!cluster.publicAccessCidrs.includes(everywhere) && deploy.sourceCidrs.length === 0) {
      at(
        "sourceCidrs",
        `is required while infermesh:cluster.publicAccessCidrs is ${show(cluster.publicAccessCidrs)}: list the runners' egress addresses so they can be checked against it (GitHub-hosted standard runners have no fixed addresses: use larger runners with static IPs, self-hosted runners, or ${everywhere})`,
      );
    }
    deploy.sourceCidrs.forEach((text, i) => {
      const source = parseCidr(text) as Cidr;
      if (!admitted.some((a) => contains(a, source))) {
        at(
          `sourceCidrs.${i}`,
          `got "${text}", which infermesh:cluster.publicAccessCidrs ${show(cluster.publicAccessCidrs)} does not admit; CI could not reach the public endpoint from it`,
        );
      }
    });
  }
  return problems;
}
