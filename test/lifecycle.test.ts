import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AwsCliError, findLeaks, formatLeaks, getResourcesArgs, leakCheck, parseArn, type CommandResult, type CommandRunner } from "../lifecycle/leaks";
import {
  deploymentSettingsFromEnv,
  destroyTestStack,
  environmentKey,
  expiresAtKey,
  formatTestStacks,
  listTestStacks,
  pulumiCloudApiFor,
  pulumiCloudTtl,
  readTemplateConfig,
  RefusedError,
  sweepExpiredTestStacks,
  testStackName,
  upTestStack,
  type ConfigMap,
  type LifecycleDeps,
  type ManagedStack,
  type StackListing,
  type StackWorkspace,
  type StateResource,
} from "../lifecycle/testStacks";
import { projectRoot } from "../synth/synthesize";

// ---------------------------------------------------------------------------
// The Automation API replaced at the module edge: an in-memory workspace that
// records every call in order.

class FakeStack implements ManagedStack {
  config: ConfigMap = {};
  state: StateResource[] = [];
  upResult = "succeeded";
  destroyResult = "succeeded";
  constructor(
    readonly name: string,
    private readonly calls: string[],
  ) {}
  async getAllConfig() {
    return structuredClone(this.config);
  }
  async setAllConfig(config: ConfigMap) {
    this.calls.push(`setAllConfig ${this.name}`);
    this.config = structuredClone(config);
  }
  async up() {
    this.calls.push(`up ${this.name}`);
    return { result: this.upResult };
  }
  async destroy() {
    this.calls.push(`destroy ${this.name}`);
    if (this.destroyResult === "succeeded") this.state = [];
    return { result: this.destroyResult };
  }
  async resources() {
    return structuredClone(this.state);
  }
}

class FakeWorkspace implements StackWorkspace {
  readonly stacks = new Map<string, FakeStack>();
  readonly calls: string[] = [];
  add(name: string, setup: (s: FakeStack) => void = () => {}): FakeStack {
    const stack = new FakeStack(name, this.calls);
    setup(stack);
    this.stacks.set(name, stack);
    return stack;
  }
  async createOrSelectStack(name: string) {
    this.calls.push(`createOrSelectStack ${name}`);
    return this.stacks.get(name) ?? this.add(name);
  }
  async selectStack(name: string) {
    this.calls.push(`selectStack ${name}`);
    return this.stacks.get(name);
  }
  async listStacks(): Promise<StackListing[]> {
    return [...this.stacks.values()].map((s) => ({ name: s.name, resourceCount: s.state.length }));
  }
  async removeStack(name: string) {
    this.calls.push(`removeStack ${name}`);
    this.stacks.delete(name);
  }
}

const now = new Date("2026-03-01T10:00:00Z");
const template = readTemplateConfig(projectRoot);

function awsProviderState(tags: Record<string, string>): StateResource {
  return { urn: "urn:pulumi:x::infermesh::pulumi:providers:aws::aws", type: "pulumi:providers:aws", inputs: { region: "us-west-2", defaultTags: JSON.stringify({ tags }) } };
}

function cluster(): StateResource {
  return { urn: "urn:pulumi:x::infermesh::aws:eks/cluster:Cluster::cluster", type: "aws:eks/cluster:Cluster", inputs: { name: "c" } };
}

let workspace: FakeWorkspace;
let logs: string[];
let scheduled: Array<{ stack: string; expiresAt: string }>;

function deps(overrides: Partial<LifecycleDeps> = {}): LifecycleDeps {
  return {
    workspace,
    templateConfig: () => structuredClone(template),
    now: () => now,
    log: (line) => logs.push(line),
    ttl: {
      schedule: async (request) => {
        scheduled.push(request);
        workspace.calls.push(`ttl ${request.stack}`);
        return `TTL at ${request.expiresAt}`;
      },
    },
    ...overrides,
  };
}

beforeEach(() => {
  workspace = new FakeWorkspace();
  logs = [];
  scheduled = [];
});

describe("test stack names", () => {
  it("prefixes test- once and keeps an organization qualifier", () => {
    expect(testStackName("pr-12")).toBe("test-pr-12");
    expect(testStackName("test-pr-12")).toBe("test-pr-12");
    expect(testStackName("acme/pr-12")).toBe("acme/test-pr-12");
  });

  it("refuses names that are not DNS-label-like", () => {
    expect(() => testStackName("PR_12")).toThrow(RefusedError);
    expect(() => testStackName("")).toThrow(RefusedError);
  });
});

describe("up", () => {
  it("creates test-<name> with the template's config and an expiry 24 hours out, schedules the TTL, then runs up", async () => {
    const result = await upTestStack(deps(), "pr-12");
    expect(result).toEqual({ stack: "test-pr-12", expiresAt: "2026-03-02T10:00:00Z", newExpiry: true, ttl: "TTL at 2026-03-02T10:00:00Z" });
    expect(workspace.calls).toEqual(["createOrSelectStack test-pr-12", "setAllConfig test-pr-12", "ttl test-pr-12", "up test-pr-12"]);
    const config = workspace.stacks.get("test-pr-12")!.config;
    expect(config[expiresAtKey]).toEqual({ value: "2026-03-02T10:00:00Z" });
    expect(scheduled).toEqual([{ stack: "test-pr-12", expiresAt: "2026-03-02T10:00:00Z" }]);
  });

  it("copies every other key of Pulumi.test.yaml unchanged", async () => {
    await upTestStack(deps(), "pr-12");
    const config = workspace.stacks.get("test-pr-12")!.config;
    const file = (parse(readFileSync(join(projectRoot, "Pulumi.test.yaml"), "utf8")) as { config: Record<string, unknown> }).config;
    expect(Object.keys(config).sort()).toEqual(Object.keys(file).sort());
    for (const [key, value] of Object.entries(file)) {
      if (key === expiresAtKey) continue;
      const stored = config[key]!.value;
      expect(typeof value === "string" ? stored : JSON.parse(stored), key).toEqual(value);
    }
    expect(config[environmentKey]).toEqual({ value: "ephemeral" });
  });

  it("takes --hours", async () => {
    expect((await upTestStack(deps(), "pr-12", { hours: 6 })).expiresAt).toBe("2026-03-01T16:00:00Z");
    await expect(upTestStack(deps(), "pr-13", { hours: 0 })).rejects.toThrow(RefusedError);
    await expect(upTestStack(deps(), "pr-13", { hours: 1000 })).rejects.toThrow(/--hours/);
    expect(workspace.stacks.has("test-pr-13")).toBe(false);
  });

  it("keeps the expiry of an existing, unexpired stack and schedules no second TTL", async () => {
    workspace.add("test-pr-12", (s) => (s.config = { ...template, [expiresAtKey]: { value: "2026-03-01T20:00:00Z" } }));
    const result = await upTestStack(deps(), "pr-12");
    expect(result).toEqual({ stack: "test-pr-12", expiresAt: "2026-03-01T20:00:00Z", newExpiry: false });
    expect(scheduled).toEqual([]);
  });

  it("reads a kept expiry from the deployed state when the runner has no stack file", async () => {
    workspace.add("test-pr-12", (s) => (s.state = [awsProviderState({ environment: "ephemeral", "expires-at": "2026-03-01T20:00:00Z" })]));
    expect((await upTestStack(deps(), "pr-12")).expiresAt).toBe("2026-03-01T20:00:00Z");
  });

  it("gives an expired stack a fresh expiry, and --hours overrides a kept one", async () => {
    workspace.add("test-pr-12", (s) => (s.config = { ...template, [expiresAtKey]: { value: "2026-03-01T09:00:00Z" } }));
    expect(await upTestStack(deps(), "pr-12")).toMatchObject({ expiresAt: "2026-03-02T10:00:00Z", newExpiry: true });
    workspace.add("test-pr-14", (s) => (s.config = { ...template, [expiresAtKey]: { value: "2026-03-01T20:00:00Z" } }));
    expect(await upTestStack(deps(), "pr-14", { hours: 48 })).toMatchObject({ expiresAt: "2026-03-03T10:00:00Z", newExpiry: true });
  });

  it("refuses to turn a non-ephemeral stack into a test stack", async () => {
    workspace.add("test-prod", (s) => (s.config = { [environmentKey]: { value: "prod" } }));
    await expect(upTestStack(deps(), "prod")).rejects.toThrow(/config says environment prod/);
    workspace.add("test-dev", (s) => (s.state = [awsProviderState({ environment: "dev" })]));
    await expect(upTestStack(deps(), "dev")).rejects.toThrow(/deployed state says environment dev/);
    expect(workspace.calls.filter((c) => /^(setAllConfig|up) /.test(c))).toEqual([]);
  });

  it("refuses a template that is not ephemeral", async () => {
    const d = deps({ templateConfig: () => ({ ...template, [environmentKey]: { value: "dev" } }) });
    await expect(upTestStack(d, "pr-12")).rejects.toThrow(RefusedError);
    expect(workspace.calls).toEqual([]);
  });

  it("goes on without the TTL backstop when Pulumi Cloud refuses it, and without one on other backends", async () => {
    const failing = deps({ ttl: { schedule: async () => Promise.reject(new Error("HTTP 403")) } });
    await upTestStack(failing, "pr-12");
    expect(logs).toContainEqual(expect.stringContaining("warning: no Pulumi Cloud TTL schedule: HTTP 403"));
    expect(workspace.calls).toContain("up test-pr-12");
    const { ttl: _ttl, ...withoutTtl } = deps();
    expect(await upTestStack(withoutTtl, "pr-15")).not.toHaveProperty("ttl");
  });

  it("fails when up fails", async () => {
    workspace.add("test-pr-12", (s) => (s.upResult = "failed"));
    await expect(upTestStack(deps(), "pr-12")).rejects.toThrow("test-pr-12: up failed");
  });

  it("refuses a template with encrypted values", () => {
    const dir = mkdtempSync(join(tmpdir(), "infermesh-template-"));
    try {
      writeFileSync(join(dir, "Pulumi.test.yaml"), "config:\n  infermesh:environment: ephemeral\n  infermesh:secrets:\n    grafanaToken:\n      secure: v1:abc\n");
      expect(() => readTemplateConfig(dir)).toThrow(/encrypted/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("destroy", () => {
  it("destroys, then removes the stack (--remove)", async () => {
    workspace.add("test-pr-12", (s) => {
      s.config = { ...template };
      s.state = [awsProviderState({ environment: "ephemeral" }), cluster()];
    });
    expect(await destroyTestStack(deps(), "test-pr-12")).toEqual({ stack: "test-pr-12", existed: true });
    expect(workspace.calls).toEqual(["selectStack test-pr-12", "destroy test-pr-12", "removeStack test-pr-12"]);
    expect(workspace.stacks.has("test-pr-12")).toBe(false);
  });

  it.each(["dev", "staging", "prod", "acme/prod", "pr-12"])("refuses %s without touching the workspace", async (name) => {
    workspace.add(name, (s) => (s.config = { [environmentKey]: { value: "ephemeral" } }));
    await expect(destroyTestStack(deps(), name)).rejects.toThrow(RefusedError);
    expect(workspace.calls).toEqual([]);
  });

  it("refuses a test-* stack whose config or deployed state is not ephemeral", async () => {
    workspace.add("test-prod-copy", (s) => (s.config = { [environmentKey]: { value: "prod" } }));
    await expect(destroyTestStack(deps(), "test-prod-copy")).rejects.toThrow(/config says environment prod/);
    workspace.add("test-dev-copy", (s) => (s.state = [awsProviderState({ environment: "dev" }), cluster()]));
    await expect(destroyTestStack(deps(), "test-dev-copy")).rejects.toThrow(/deployed state says environment dev/);
    expect(workspace.calls.filter((c) => c.startsWith("destroy") || c.startsWith("removeStack"))).toEqual([]);
  });

  it("refuses a stack with resources but no proof it is ephemeral", async () => {
    workspace.add("test-unknown", (s) => (s.state = [cluster()]));
    await expect(destroyTestStack(deps(), "test-unknown")).rejects.toThrow(/neither config nor state/);
  });

  it("destroys from the deployed state alone (a fresh CI runner has no stack file)", async () => {
    workspace.add("test-pr-12", (s) => (s.state = [awsProviderState({ environment: "ephemeral", "expires-at": "2026-03-02T10:00:00Z" }), cluster()]));
    await destroyTestStack(deps(), "test-pr-12");
    expect(workspace.calls).toContain("removeStack test-pr-12");
  });

  it("does nothing for a stack that does not exist", async () => {
    expect(await destroyTestStack(deps(), "test-pr-99")).toEqual({ stack: "test-pr-99", existed: false });
    expect(workspace.calls).toEqual(["selectStack test-pr-99"]);
  });

  it("keeps the stack when destroy fails, so its state still lists what is left", async () => {
    workspace.add("test-pr-12", (s) => {
      s.config = { ...template };
      s.destroyResult = "failed";
    });
    await expect(destroyTestStack(deps(), "test-pr-12")).rejects.toThrow(/destroy failed/);
    expect(workspace.stacks.has("test-pr-12")).toBe(true);
    expect(workspace.calls).not.toContain("removeStack test-pr-12");
  });
});

describe("list and sweep", () => {
  beforeEach(() => {
    workspace.add("dev", (s) => (s.config = { [environmentKey]: { value: "dev" }, [expiresAtKey]: { value: "2020-01-01T00:00:00Z" } }));
    workspace.add("prod", (s) => (s.config = { [environmentKey]: { value: "prod" } }));
    workspace.add("test-expired", (s) => (s.config = { ...template, [expiresAtKey]: { value: "2026-03-01T09:59:59Z" } }));
    workspace.add("test-expired-state", (s) => (s.state = [awsProviderState({ environment: "ephemeral", "expires-at": "2026-02-28T00:00:00Z" }), cluster()]));
    workspace.add("test-active", (s) => (s.config = { ...template, [expiresAtKey]: { value: "2026-03-01T12:00:00Z" } }));
    workspace.add("test-unknown", () => {});
  });

  it("lists only test stacks, with expiry from config or state", async () => {
    const infos = await listTestStacks(deps());
    expect(infos.map((i) => [i.name, i.expiresAt, i.source, i.status])).toEqual([
      ["test-active", "2026-03-01T12:00:00Z", "config", "active"],
      ["test-expired", "2026-03-01T09:59:59Z", "config", "expired"],
      ["test-expired-state", "2026-02-28T00:00:00Z", "state", "expired"],
      ["test-unknown", undefined, undefined, "unknown"],
    ]);
    const table = formatTestStacks(infos);
    expect(table.split("\n")[0]).toMatch(/^STACK\s+EXPIRES AT\s+STATUS\s+RESOURCES\s+LAST UPDATE$/);
    expect(table).toContain("2026-02-28T00:00:00Z (state)");
  });

  it("sweeps only the expired ones, each destroyed then removed", async () => {
    const result = await sweepExpiredTestStacks(deps());
    expect(result).toEqual({ destroyed: ["test-expired", "test-expired-state"], failed: [], unknown: ["test-unknown"], active: ["test-active"] });
    expect([...workspace.stacks.keys()].sort()).toEqual(["dev", "prod", "test-active", "test-unknown"]);
    expect(workspace.calls.filter((c) => /^(destroy|removeStack) /.test(c))).toEqual([
      "destroy test-expired",
      "removeStack test-expired",
      "destroy test-expired-state",
      "removeStack test-expired-state",
    ]);
  });

  it("goes on after a failed destroy and reports it", async () => {
    workspace.stacks.get("test-expired")!.destroyResult = "failed";
    const result = await sweepExpiredTestStacks(deps());
    expect(result.destroyed).toEqual(["test-expired-state"]);
    expect(result.failed).toEqual([{ stack: "test-expired", error: expect.stringContaining("destroy failed") }]);
  });
});

describe("Pulumi Cloud TTL backstop", () => {
  it("is used for Pulumi Cloud backends only", () => {
    expect(pulumiCloudApiFor({ PULUMI_ACCESS_TOKEN: "pul-x" })).toBe("https://api.pulumi.com");
    expect(pulumiCloudApiFor({ PULUMI_BACKEND_URL: "https://app.pulumi.com", PULUMI_ACCESS_TOKEN: "pul-x" })).toBe("https://api.pulumi.com");
    expect(pulumiCloudApiFor({ PULUMI_BACKEND_URL: "s3://state-bucket", PULUMI_ACCESS_TOKEN: "pul-x" })).toBeUndefined();
    expect(pulumiCloudApiFor({ PULUMI_BACKEND_URL: "file://~" })).toBeUndefined();
    expect(pulumiCloudApiFor({})).toBeUndefined();
  });

  function fakeFetch(responses: Record<string, number>) {
    const requests: Array<{ method: string; url: string; body?: unknown; auth?: string }> = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      const method = init.method ?? "GET";
      requests.push({ method, url, ...(init.body ? { body: JSON.parse(String(init.body)) } : {}), auth: (init.headers as Record<string, string>).Authorization });
      const status = responses[`${method} ${url.replace(/^.*\/deployments/, "")}`] ?? 200;
      return new Response(status === 404 ? "not found" : "{}", { status });
    }) as unknown as typeof fetch;
    return { requests, fetchImpl };
  }

  const settings = deploymentSettingsFromEnv({
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: "acme/infermesh",
    INFERMESH_TTL_AWS_ROLE_ARN: "arn:aws:iam::111122223333:role/ttl",
  });

  it("writes deployment settings when the stack has none, then the TTL schedule with delete-after-destroy", async () => {
    const { requests, fetchImpl } = fakeFetch({ "GET /settings": 404 });
    const ttl = pulumiCloudTtl({ api: "https://api.pulumi.com", token: "pul-x", organization: "acme", project: "infermesh", settings, fetch: fetchImpl });
    expect(await ttl.schedule({ stack: "acme/test-pr-12", expiresAt: "2026-03-02T10:00:00Z" })).toContain("acme/infermesh/test-pr-12 at 2026-03-02T10:00:00Z");
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET https://api.pulumi.com/api/stacks/acme/infermesh/test-pr-12/deployments/settings",
      "POST https://api.pulumi.com/api/stacks/acme/infermesh/test-pr-12/deployments/settings",
      "POST https://api.pulumi.com/api/stacks/acme/infermesh/test-pr-12/deployments/ttl/schedules",
    ]);
    expect(requests[1]!.body).toEqual({
      sourceContext: { git: { repoUrl: "https://github.com/acme/infermesh.git", branch: "refs/heads/main" } },
      operationContext: { oidc: { aws: { roleArn: "arn:aws:iam::111122223333:role/ttl", sessionName: "infermesh-ttl-destroy" } } },
    });
    expect(requests[2]!.body).toEqual({ timestamp: "2026-03-02T10:00:00Z", deleteAfterDestroy: true });
    expect(requests.every((r) => r.auth === "token pul-x")).toBe(true);
  });

  it("keeps existing settings, and fails clearly without settings or when the schedule is refused", async () => {
    const existing = fakeFetch({});
    await pulumiCloudTtl({ api: "https://api.pulumi.com", token: "t", organization: "acme", project: "infermesh", fetch: existing.fetchImpl }).schedule({
      stack: "test-a",
      expiresAt: "2026-03-02T10:00:00Z",
    });
    expect(existing.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
    const none = fakeFetch({ "GET /settings": 404 });
    await expect(
      pulumiCloudTtl({ api: "https://api.pulumi.com", token: "t", organization: "acme", project: "infermesh", fetch: none.fetchImpl }).schedule({
        stack: "test-a",
        expiresAt: "x",
      }),
    ).rejects.toThrow(/no Pulumi Deployments settings/);
    const refused = fakeFetch({ "POST /ttl/schedules": 409 });
    await expect(
      pulumiCloudTtl({ api: "https://api.pulumi.com", token: "t", organization: "acme", project: "infermesh", fetch: refused.fetchImpl }).schedule({
        stack: "test-a",
        expiresAt: "x",
      }),
    ).rejects.toThrow(/HTTP 409/);
  });

  it("has no settings to offer outside GitHub Actions", () => {
    expect(deploymentSettingsFromEnv({})).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------
// Leaks

type Responder = (args: readonly string[]) => CommandResult;

function fakeRunner(respond: Responder): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run: async (command, args) => {
      calls.push([command, ...args]);
      return respond(args);
    },
  };
}

const mapping = (arn: string, tags: Record<string, string>) => ({ ResourceARN: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) });
const ok = (list: unknown[]): CommandResult => ({ code: 0, stdout: JSON.stringify({ ResourceTagMappingList: list }), stderr: "" });

const account = "111122223333";
const lb = `arn:aws:elasticloadbalancing:us-west-2:${account}:loadbalancer/net/a1b2c3-monitoring-grafana/0123456789abcdef`;
const volume = `arn:aws:ec2:us-west-2:${account}:volume/vol-0abc`;
const eni = `arn:aws:ec2:us-west-2:${account}:network-interface/eni-0def`;
const sg = `arn:aws:ec2:us-west-2:${account}:security-group/sg-0123`;
const instance = `arn:aws:ec2:us-west-2:${account}:instance/i-0aaa`;

function taggingResponder(byFilter: Record<string, unknown[]>): Responder {
  return (args) => {
    if (args[0] === "ec2") return { code: 0, stdout: JSON.stringify([["i-0aaa", "terminated"]]), stderr: "" };
    const filter = args[args.indexOf("--tag-filters") + 1] ?? "";
    return ok(byFilter[filter] ?? []);
  };
}

describe("leaks", () => {
  const query = { stack: "test-pr-12", cluster: "infermesh-test-pr-12", regions: ["us-west-2"] };

  it("queries the Resource Groups Tagging API for the stack tag and the cluster tags", async () => {
    const runner = fakeRunner(taggingResponder({}));
    expect(await findLeaks(runner, query)).toEqual([]);
    expect(runner.calls).toEqual([
      ["aws", ...getResourcesArgs({ key: "stack", values: ["test-pr-12"] }, "us-west-2")],
      ["aws", ...getResourcesArgs({ key: "kubernetes.io/cluster/infermesh-test-pr-12" }, "us-west-2")],
      ["aws", ...getResourcesArgs({ key: "cluster.k8s.amazonaws.com/name", values: ["infermesh-test-pr-12"] }, "us-west-2")],
    ]);
    expect(runner.calls[0]).toEqual([
      "aws",
      "resourcegroupstaggingapi",
      "get-resources",
      "--region",
      "us-west-2",
      "--tag-filters",
      "Key=stack,Values=test-pr-12",
      "--output",
      "json",
    ]);
    expect(runner.calls[1]).toContain("Key=kubernetes.io/cluster/infermesh-test-pr-12");
  });

  it("parses load balancers, volumes, ENIs and security groups, once each, and drops terminated instances", async () => {
    const runner = fakeRunner(
      taggingResponder({
        "Key=stack,Values=test-pr-12": [
          mapping(volume, { stack: "test-pr-12", Name: "prometheus-db" }),
          mapping(eni, { stack: "test-pr-12" }),
          mapping(instance, { stack: "test-pr-12" }),
        ],
        "Key=kubernetes.io/cluster/infermesh-test-pr-12": [
          mapping(lb, { "kubernetes.io/cluster/infermesh-test-pr-12": "owned" }),
          mapping(sg, { "kubernetes.io/cluster/infermesh-test-pr-12": "owned" }),
          mapping(volume, { stack: "test-pr-12" }),
        ],
      }),
    );
    const leaks = await findLeaks(runner, query);
    expect(leaks.map((l) => [l.service, l.resourceType, l.id, l.matchedBy.length])).toEqual([
      ["ec2", "volume", "vol-0abc", 2],
      ["ec2", "network-interface", "eni-0def", 1],
      ["elasticloadbalancing", "loadbalancer", "net/a1b2c3-monitoring-grafana/0123456789abcdef", 1],
      ["ec2", "security-group", "sg-0123", 1],
    ]);
    expect(runner.calls.at(-1)).toEqual(expect.arrayContaining(["ec2", "describe-instances", "--instance-ids", "i-0aaa"]));
  });

  it("keeps instances that are still running", async () => {
    const runner = fakeRunner((args) =>
      args[0] === "ec2"
        ? { code: 0, stdout: JSON.stringify([["i-0aaa", "running"]]), stderr: "" }
        : ok(args.includes("Key=stack,Values=test-pr-12") ? [mapping(instance, { stack: "test-pr-12" })] : []),
    );
    expect((await findLeaks(runner, query)).map((l) => l.id)).toEqual(["i-0aaa"]);
  });

  it("splits ARNs into service, type and id", () => {
    expect(parseArn(lb)).toEqual({ service: "elasticloadbalancing", region: "us-west-2", resourceType: "loadbalancer", id: "net/a1b2c3-monitoring-grafana/0123456789abcdef" });
    expect(parseArn(`arn:aws:logs:us-west-2:${account}:log-group:/aws/eks/c/cluster`)).toMatchObject({ service: "logs", resourceType: "log-group", id: "/aws/eks/c/cluster" });
  });

  it("prints a table and exits 1 when anything is left", async () => {
    const runner = fakeRunner(taggingResponder({ "Key=stack,Values=test-pr-12": [mapping(volume, { stack: "test-pr-12", Name: "prometheus-db" })] }));
    const printed: string[] = [];
    expect(await leakCheck(runner, query, (t) => printed.push(t))).toBe(1);
    expect(printed.join("\n")).toMatch(/1 AWS resource\(s\) still tagged for stack test-pr-12/);
    expect(printed.join("\n")).toMatch(/us-west-2\s+ec2:volume\s+vol-0abc\s+prometheus-db\s+stack=test-pr-12/);
  });

  it("exits 0 when nothing is left", async () => {
    const printed: string[] = [];
    expect(await leakCheck(fakeRunner(taggingResponder({})), query, (t) => printed.push(t))).toBe(0);
    expect(printed).toEqual(["no AWS resources left for stack test-pr-12"]);
  });

  it("exits 3 when the AWS CLI fails or answers something else", async () => {
    const expired = fakeRunner(() => ({ code: 254, stdout: "", stderr: "An error occurred (ExpiredTokenException)" }));
    const printed: string[] = [];
    expect(await leakCheck(expired, query, (t) => printed.push(t))).toBe(3);
    expect(printed[0]).toContain("ExpiredTokenException");
    await expect(findLeaks(expired, query)).rejects.toThrow(AwsCliError);
    expect(
      await leakCheck(
        fakeRunner(() => ({ code: 0, stdout: "{}", stderr: "" })),
        query,
        () => {},
      ),
    ).toBe(3);
  });

  it("formats an empty result plainly", () => {
    expect(formatLeaks("test-x", [])).toBe("no AWS resources left for stack test-x");
  });
});

// ---------------------------------------------------------------------------
// The npm scripts' exit codes, with a stand-in `aws` on PATH.

const run = promisify(execFile);
const bin = mkdtempSync(join(tmpdir(), "infermesh-aws-"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

async function script(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", ...args], { cwd: projectRoot, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function fakeAws(list: unknown[]): string {
  const dir = mkdtempSync(join(bin, "path-"));
  const path = join(dir, "aws");
  writeFileSync(path, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify({ ResourceTagMappingList: list })}\nJSON\n`);
  chmodSync(path, 0o755);
  return `${dir}:${process.env.PATH}`;
}

describe("npm run leaks / test-stack", () => {
  it("leaks exits 1 with a table when resources are left", async () => {
    const result = await script(["scripts/leaks.ts", "test-pr-12", "--region", "us-west-2"], { PATH: fakeAws([mapping(lb, { stack: "test-pr-12" })]) });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("elasticloadbalancing:loadbalancer");
  });

  it("leaks exits 0 when nothing is left, and 2 without a stack", async () => {
    expect((await script(["scripts/leaks.ts", "test-pr-12", "--region", "us-west-2"], { PATH: fakeAws([]) })).code).toBe(0);
    expect((await script(["scripts/leaks.ts"])).code).toBe(2);
  });

  it("test-stack rejects bad usage before touching Pulumi", async () => {
    for (const args of [[], ["destroy"], ["up", "a", "b"], ["list", "x"], ["sweep", "--hours", "3"], ["rm", "x"]]) {
      const result = await script(["scripts/testStack.ts", ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toContain("usage: npm run test-stack");
    }
  });
});
