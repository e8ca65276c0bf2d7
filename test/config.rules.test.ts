import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { awsSubnetPrefixRange, defaultSubnets, parseCidr, type Cidr } from "../domain/cidr";
import { ConfigError, providerNamespaces } from "../config";
import { redact } from "../config/errors";
import { loadConfig } from "../config/load";
import { eksServiceCidrPrefixRange, eksServiceCidrRanges, maxExpiryHours } from "../config/rules";
import { encryptedValuePaths } from "../config/stackFile";
import { expiryAfter, maxHours } from "../lifecycle/testStacks";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { runUnderMocks, startRecording } from "../synth/runtime";
import { readStackFile } from "../synth/stackFile";
import { projectRoot, stackNames, synthDeployTime } from "../synth/synthesize";
import { baseRaw, parse, project } from "./helpers/stack";

const scratch = mkdtempSync(join(tmpdir(), "infermesh-config-rules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const problemsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("EKS service CIDR rules", () => {
  // Upstream fact: pulumi/pulumi-aws v7.48.0 (the @pulumi/aws this repository pins),
  // sdk/nodejs/types/input.ts, eks.ClusterKubernetesNetworkConfig.serviceIpv4Cidr, which
  // carries the EKS API's own text (KubernetesNetworkConfigRequest). The installed copy is read.
  it("are the ones @pulumi/aws documents for serviceIpv4Cidr", () => {
    const require = createRequire(import.meta.url);
    expect(require("@pulumi/aws/package.json").version).toBe("7.48.0");
    const docs = readFileSync(require.resolve("@pulumi/aws/types/input.d.ts"), "utf8");
    const doc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*serviceIpv4Cidr\?/.exec(docs)?.[1] ?? "";
    expect(doc).toContain(`Within one of the following private IP address blocks: ${eksServiceCidrRanges.slice(0, 2).join(", ")}, or ${eksServiceCidrRanges[2]}.`);
    expect(doc).toContain("Doesn't overlap with any CIDR block assigned to the VPC");
    expect(doc).toContain(`Between /${eksServiceCidrPrefixRange.max} and /${eksServiceCidrPrefixRange.min}.`);
  });

  it.each(["10.100.0.0/16", "172.20.0.0/16", "192.168.0.0/24", "10.0.0.0/12"])("accepts %s", (serviceCidr) => {
    const raw = baseRaw() as Record<string, any>;
    raw.cluster.serviceCidr = serviceCidr;
    expect(parse(raw).cluster).toMatchObject({ serviceCidr });
  });
});

describe("default subnet layout", () => {
  it("keeps every subnet within AWS's /16-/28 for the largest prefix it accepts, /23", () => {
    const raw = baseRaw() as Record<string, any>;
    raw.cluster.vpc.cidr = "10.40.0.0/23";
    const cluster = parse(raw).cluster;
    if (cluster.mode !== "create") throw new Error("expected mode create");
    const prefixes = Object.values(cluster.vpc.subnets)
      .flatMap((s) => [s.private, s.public])
      .map((c) => (parseCidr(c) as Cidr).prefix);
    expect(Math.max(...prefixes)).toBe(awsSubnetPrefixRange.max);
    expect(Object.values(defaultSubnets("10.40.0.0/24", ["a"])).map((s) => s.public)).toEqual(["10.40.0.128/29"]);
  });
});

describe("namespaces", () => {
  it("accepts the provider namespaces and ignores their keys", () => {
    const raw = {
      ...baseRaw(),
      "aws:profile": "ops",
      "kubernetes:context": "dev",
      "grafana:url": "https://g.example.com",
      "random:x": "1",
      "pulumi:disable-default-providers": '["*"]',
    };
    expect(() => parse(raw)).not.toThrow();
  });

  it("allows the namespace of every package whose resources the program registers, in every stack", async () => {
    vi.stubEnv("INFERMESH_DEPLOY_TIME", synthDeployTime);
    try {
      const packages = new Set<string>();
      for (const stack of stackNames()) {
        const { config, secretKeys } = readStackFile(join(projectRoot, `Pulumi.${stack}.yaml`));
        const run = await runUnderMocks({ project, stack, config, secretKeys, rootDirectory: projectRoot, calls: offlineLookups }, () => infermesh(loadConfig()));
        for (const r of run.resources) packages.add(r.type.startsWith("pulumi:providers:") ? r.type.slice("pulumi:providers:".length) : (r.type.split(":")[0] as string));
      }
      packages.delete(project);
      expect([...packages].sort()).toEqual(expect.arrayContaining(["aws", "grafana", "kubernetes", "random"]));
      for (const p of packages) expect(providerNamespaces).toContain(p);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("expiry window", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const ephemeral = (expiresAt: string) => ({ ...baseRaw(), environment: "ephemeral", expiresAt });

  it.each([
    ["one second ahead", "2026-01-01T00:00:01Z"],
    ["exactly seven days ahead", "2026-01-08T00:00:00Z"],
  ])("accepts %s", (_, expiresAt) => {
    expect(parse(ephemeral(expiresAt), "test-a", [], now).tags["expires-at"]).toBe(expiresAt);
  });

  it("refuses an expiry equal to now", () => {
    expect(problemsOf(() => parse(ephemeral("2026-01-01T00:00:00Z"), "test-a", [], now)).map((p) => p.path)).toEqual(["infermesh:expiresAt"]);
  });

  it("accepts the longest expiry `test-stack up --hours` sets, and no longer", () => {
    expect(maxHours).toBe(maxExpiryHours);
    expect(() => parse(ephemeral(expiryAfter(now, maxHours)), "test-a", [], now)).not.toThrow();
    expect(() => expiryAfter(now, maxHours + 1)).toThrow();
  });

  it("checks the test-stack template against the offline render's pinned time, and README shows the same example", () => {
    const template = readStackFile(join(projectRoot, "Pulumi.test.yaml"));
    const expiresAt = template.config["infermesh:expiresAt"] as string;
    const at = Date.parse(expiresAt);
    expect(at).toBeGreaterThan(Date.parse(synthDeployTime));
    expect(at).toBeLessThanOrEqual(Date.parse(synthDeployTime) + maxExpiryHours * 3_600_000);
    expect(readFileSync(join(projectRoot, "README.md"), "utf8")).toContain(`\`${expiresAt}\``);
  });
});

describe("secrets in the stack file", () => {
  const writeStack = (name: string, config: Record<string, unknown>) => {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true });
    const base = Object.fromEntries(Object.entries(baseRaw()).map(([k, v]) => [k === "region" ? "aws:region" : `${project}:${k}`, v]));
    writeFileSync(join(dir, "Pulumi.dev.yaml"), stringify({ config: { ...base, ...config } }));
    return dir;
  };

  it("finds each encrypted value's config path", () => {
    const dir = writeStack("paths", { "infermesh:secrets": { a: { secure: "v1:x" }, b: "clear" }, "infermesh:token": { secure: "v1:y" } });
    expect(encryptedValuePaths(join(dir, "Pulumi.dev.yaml")).sort()).toEqual(["infermesh:secrets.a", "infermesh:token"]);
  });

  it("accepts secrets that are all encrypted, one by one", async () => {
    const dir = writeStack("encrypted", { "infermesh:secrets": { grafanaToken: { secure: "v1:AAAA" }, slackHook: { secure: "v1:BBBB" } } });
    const { config, secretKeys } = readStackFile(join(dir, "Pulumi.dev.yaml"));
    await startRecording({ project, stack: "dev", config, secretKeys, rootDirectory: dir, calls: offlineLookups });
    expect(() => loadConfig()).not.toThrow();
  });
});

describe("redact", () => {
  it.each([
    ['got "glsa_abc"; expected x', ["glsa_abc"], "got [secret]; expected x"],
    ["token glsa_abc in prose", ["glsa_abc"], "token [secret] in prose"],
    ['got "ab"; not "ab"c', ["ab"], "got [secret]; not [secret]c"],
    ["short ab stays", ["ab"], "short ab stays"],
    ['got "a\\"b"', ['a"b'], "got [secret]"],
    ["longest first: abcdef", ["abc", "abcdef"], "longest first: [secret]"],
  ])("%s", (message, secrets, expected) => {
    expect(redact(message, secrets)).toBe(expected);
  });
});
