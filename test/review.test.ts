import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flattenKeyed, leafChanges } from "../review/keyed";
import { findRenders, pairRenders, readRender, type PlanResource, type Render, type Rule } from "../review/render";
import { diffResources, replaces as replacesInput } from "../review/resources";
import { reviewStack, toMarkdown } from "../review/review";
import { changedSpan, thresholdChanges, thresholdsOf } from "../review/rules";
import { projectRoot } from "../synth/synthesize";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "infermesh-review-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function tsx(script: string, args: string[]) {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", script, ...args], { cwd: projectRoot });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("inputs flattened by name, never by list position", () => {
  it.each<[string, unknown, Record<string, string>]>([
    ["elements named by a unique field", { taints: [{ key: "a", effect: "X" }] }, { "taints[key=a].effect": '"X"', "taints[key=a].key": '"a"' }],
    ["elements with no unique field, by content", { s: [{ v: 1 }, { v: 1 }] }, { 's[{"v":1}].v': "1", 's[{"v":1}#2].v': "1" }],
    ["a list of scalars is one leaf", { instanceTypes: ["g6.xlarge", "g6.2xlarge"] }, { instanceTypes: '["g6.xlarge","g6.2xlarge"]' }],
    [
      "a JSON document inside a string",
      { policy: '{"Statement":[{"Sid":"s1","Action":["a:B"]}]}' },
      { "policy{}.Statement[Sid=s1].Action": '["a:B"]', "policy{}.Statement[Sid=s1].Sid": '"s1"' },
    ],
    [
      "a YAML document over several lines",
      { data: { "r.yaml": "groups:\n  - name: g\n    interval: 30s\n" } },
      { 'data."r.yaml"{}.groups[name=g].interval': '"30s"', 'data."r.yaml"{}.groups[name=g].name': '"g"' },
    ],
    ["a one-line string stays a string", { csv: "DCGM_FI_DEV_GPU_UTIL, gauge, x" }, { csv: '"DCGM_FI_DEV_GPU_UTIL, gauge, x"' }],
  ])("%s", (_what, value, expected) => expect(Object.fromEntries(flattenKeyed(value))).toEqual(expected));

  it("reports an element removed whole as one change, and removing the first of two as that one only", () => {
    const before = flattenKeyed({
      pools: [
        { name: "a", max: 2 },
        { name: "b", max: 4 },
      ],
    });
    const after = flattenKeyed({ pools: [{ name: "b", max: 4 }] });
    expect(leafChanges(before, after)).toEqual([{ path: "pools[name=a]", element: "removed", values: 2 }]);
  });
});

describe("alert thresholds", () => {
  it.each<[string, ReturnType<typeof thresholdsOf>]>([
    ["x > 0.9", [{ op: ">", value: 0.9 }]],
    [
      "(a >= 2) or (b >= 4)",
      [
        { op: ">=", value: 2 },
        { op: ">=", value: 4 },
      ],
    ],
    ["0.5 < x", [{ op: ">", value: 0.5 }]],
    ["rate(x[5m]) > bool 1", [{ op: ">", value: 1 }]],
    ["a > b", []],
  ])("thresholdsOf(%s)", (expr, expected) => expect(thresholdsOf(expr)).toEqual(expected));

  it.each([
    ["an upper limit raised fires less: loosened", "x > 0.9", "x > 0.95", "raised", true],
    ["an upper limit lowered fires more", "x > 0.9", "x > 0.85", "lowered", false],
    ["a lower limit lowered fires less: loosened", "x < 10", "x < 5", "lowered", true],
    ["a lower limit raised fires more", "x <= 10", "x <= 20", "raised", false],
  ])("%s", (_what, before, after, move, loosened) => expect(thresholdChanges(before, after)).toEqual([expect.objectContaining({ move, loosened })]));

  it("says nothing when the comparisons themselves changed", () => expect(thresholdChanges("x > 1", "x < 1 or y > 2")).toEqual([]));
});

describe("changedSpan: the part of a long expression that changed", () => {
  it.each([
    [
      "a number at the end",
      '(count by (pool) (info{pool="a10g"}) >= 2) or (count by (pool) (info{pool="l4"}) >= 4)',
      '(count by (pool) (info{pool="a10g"}) >= 2) or (count by (pool) (info{pool="l4"}) >= 8)',
      '…{pool="l4"}) >= 4)',
      '…{pool="l4"}) >= 8)',
    ],
    [
      "a word in the middle",
      "sum by (model) (rate(a_total[5m])) / sum by (model) (rate(b_total[5m]))",
      "sum by (model) (rate(a_total[10m])) / sum by (model) (rate(b_total[5m]))",
      "…) (rate(a_total[5m])) / sum by (model…",
      "…) (rate(a_total[10m])) / sum by (model…",
    ],
    ["nothing shared", "a", "b", "a", "b"],
  ])("%s", (_what, before, after, spanBefore, spanAfter) => expect(changedSpan(before, after)).toEqual({ before: spanBefore, after: spanAfter }));
});

describe("replacement or update, as the providers define it", () => {
  // Pinned from the providers' sources (review/resources.ts names each):
  // hashicorp/terraform-provider-aws internal/service/eks/node_group.go (v6 line bridged by @pulumi/aws 7):
  //   ami_type, capacity_type, disk_size, instance_types, subnet_ids, launch_template.id/name are ForceNew;
  //   scaling_config, labels, taints, launch_template.version are updated in place.
  // internal/service/eks/cluster.go: name and role_arn are ForceNew; version and vpc_config update in place.
  // internal/service/ec2/ec2_launch_template.go: only name/name_prefix are ForceNew (all else is a new version).
  // pulumi/pulumi-kubernetes v4.32.0 provider/pkg/provider/helm_release.go: forceNewFields = .name, .namespace.
  // grafana/terraform-provider-grafana v4.45.1 internal/resources/grafana/resource_alerting_rule_group.go: name, folder_uid ForceNew.
  const node = (inputs: Record<string, unknown>): PlanResource => ({
    urn: "urn:x::gpu-l4",
    type: "aws:eks/nodeGroup:NodeGroup",
    name: "gpu-l4",
    parent: null,
    protect: false,
    inputs,
  });
  const base = { instanceTypes: ["g6.xlarge"], scalingConfig: { maxSize: 4 }, launchTemplate: { id: "lt-1", version: "1" }, labels: { a: "b" }, amiType: "AL2023_x86_64_NVIDIA" };
  it.each<[string, string, Record<string, unknown>, string]>([
    ["node group max size", "aws:eks/nodeGroup:NodeGroup", { ...base, scalingConfig: { maxSize: 8 } }, "updated"],
    ["node group launch template version", "aws:eks/nodeGroup:NodeGroup", { ...base, launchTemplate: { id: "lt-1", version: "2" } }, "updated"],
    ["node group labels", "aws:eks/nodeGroup:NodeGroup", { ...base, labels: { a: "c" } }, "updated"],
    ["node group instance types", "aws:eks/nodeGroup:NodeGroup", { ...base, instanceTypes: ["g6.2xlarge"] }, "replaced"],
    ["node group launch template identity", "aws:eks/nodeGroup:NodeGroup", { ...base, launchTemplate: { id: "lt-2", version: "1" } }, "replaced"],
    ["node group AMI type", "aws:eks/nodeGroup:NodeGroup", { ...base, amiType: "BOTTLEROCKET_x86_64_NVIDIA" }, "replaced"],
  ])("%s", (_what, type, inputs, kind) => {
    const [change] = diffResources(new Map([["urn:x::gpu-l4", { ...node(base), type }]]), new Map([["urn:x::gpu-l4", { ...node(inputs), type }]]));
    expect(change?.kind).toBe(kind);
  });

  it.each<[string, string, boolean]>([
    ["aws:eks/cluster:Cluster", "version", false],
    ["aws:eks/cluster:Cluster", "name", true],
    ["aws:eks/cluster:Cluster", "roleArn", true],
    ["aws:eks/cluster:Cluster", "vpcConfig.subnetIds", false],
    ["aws:ec2/launchTemplate:LaunchTemplate", "userData", false],
    ["aws:ec2/launchTemplate:LaunchTemplate", "name", true],
    ["kubernetes:helm.sh/v3:Release", "values.x", false],
    ["kubernetes:helm.sh/v3:Release", "namespace", true],
    ["grafana:alerting/ruleGroup:RuleGroup", "folderUid", true],
    ["grafana:alerting/ruleGroup:RuleGroup", "rules[name=x].for", false],
  ])("%s %s replaces: %s", (type, path, replaces) => {
    expect(replacesInput(type, path)).toBe(replaces);
  });
});

describe("what needs attention comes first", () => {
  const resource = (name: string, type: string, inputs: Record<string, unknown>, protect = false): PlanResource => ({
    urn: `urn:x::${name}`,
    type,
    name,
    parent: null,
    protect,
    inputs,
  });
  const renderOf = (resources: PlanResource[], rules: Rule[] = []): Render => ({
    stack: "dev",
    dir: "",
    resources: new Map(resources.map((r) => [r.urn, r])),
    dashboards: new Map(),
    rules: new Map(rules.map((r) => [`${r.group}/${r.name}`, r])),
    helm: new Map(),
  });
  const policy = (actions: string[]) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "asg", Effect: "Allow", Action: actions, Resource: "*" }] });
  const alert = (expr: string, forValue = "5m"): Rule => ({ kind: "alert", name: "InfermeshGpuHot", group: "gpu", expr, for: forValue, labels: {} });
  it.each<[string, Render, Render, string]>([
    [
      "an IAM policy that gains an action",
      renderOf([resource("autoscaler", "aws:iam/rolePolicy:RolePolicy", { policy: policy(["autoscaling:DescribeAutoScalingGroups"]) })]),
      renderOf([resource("autoscaler", "aws:iam/rolePolicy:RolePolicy", { policy: policy(["autoscaling:DescribeAutoScalingGroups", "ec2:*"]) })]),
      '- ⚠️ IAM widens: `autoscaler` (aws:iam/rolePolicy:RolePolicy): `policy{}.Statement[Sid=asg].Action` now `["autoscaling:DescribeAutoScalingGroups","ec2:*"]`',
    ],
    [
      "a new role policy attachment",
      renderOf([]),
      renderOf([resource("gpu-l4-role-admin", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })]),
      "- ⚠️ IAM widens: `gpu-l4-role-admin` (aws:iam/rolePolicyAttachment:RolePolicyAttachment) is new",
    ],
    [
      "a node group whose instance types change",
      renderOf([resource("gpu-l4", "aws:eks/nodeGroup:NodeGroup", { instanceTypes: ["g6.xlarge"] })]),
      renderOf([resource("gpu-l4", "aws:eks/nodeGroup:NodeGroup", { instanceTypes: ["g6.2xlarge"] })]),
      "- ⚠️ `gpu-l4` (aws:eks/nodeGroup:NodeGroup) node group will be recreated (its nodes drained and replaced): `instanceTypes` cannot change in place",
    ],
    [
      "a protected resource removed",
      renderOf([resource("amp", "aws:amp/workspace:Workspace", { alias: "x" }, true)]),
      renderOf([]),
      "- ⚠️ protected `amp` (aws:amp/workspace:Workspace) is removed",
    ],
    ["an alert deleted", renderOf([], [alert("t > 85")]), renderOf([]), "- ⚠️ alert `InfermeshGpuHot` (group gpu) is deleted"],
    ["an alert loosened", renderOf([], [alert("t > 85")]), renderOf([], [alert("t > 90")]), "- ⚠️ alert `InfermeshGpuHot` loosened: > 85 → 90 (fires less often)"],
    ["an alert waiting longer", renderOf([], [alert("t > 85")]), renderOf([], [alert("t > 85", "15m")]), "- ⚠️ alert `InfermeshGpuHot` waits longer before firing: for 5m → 15m"],
  ])("%s", (_what, base, head, line) => {
    const text = toMarkdown(reviewStack("dev", base, head)).split("\n");
    const attention = text.indexOf("**Needs attention**");
    expect(attention).toBeGreaterThan(0);
    expect(text.indexOf(line)).toBeGreaterThan(attention);
    const firstSection = text.findIndex((l) => /^\*\*(Resources|Dashboards|Rules|Helm values)\*\*$/.test(l));
    expect(text.indexOf(line)).toBeLessThan(firstSection);
  });
});

// ---------------------------------------------------------------------------
// Real renders: each case changes a stack file and renders it with `synth`.

interface Case {
  name: string;
  stack: "dev" | "staging";
  edit: (stackFile: string) => string;
  headline: string;
  lines: string[];
  /** Every resource line (`- added|removed|updated|replaced …`) names this. */
  onlyName?: string;
  attention?: string[];
}

const cases: Case[] = [
  {
    name: "VRAM and queue-depth thresholds: the dashboards' thresholds and the alerts",
    stack: "dev",
    edit: (s) => `${s}  infermesh:alerting:\n    thresholds: { vramUsedRatioMax: 0.85, queueDepthMax: 40 }\n`,
    headline: "**3 resources changed (3 updated), 2 alert thresholds lowered, 2 panel thresholds changed, 2 dashboards changed, 2 rules changed**",
    lines: [
      "- dashboard `im-dev-gpu` (infermesh · GPU Health (dev))",
      "  - panel `VRAM Headroom`: thresholds red@base, green@0.1 → red@base, green@0.15",
      "  - panel `Queue Depth per Model`: thresholds green@base, red@100 → green@base, red@40",
      "  - threshold > 0.9 → 0.85 (lowered; fires more often)",
      '  - `data."im-dev-gpu.json"{}` (see Dashboards): 3 values changed',
    ],
  },
  {
    name: "a GPU pool's maxSize 4 → 8, with the long per-pool alert expression's change visible",
    stack: "dev",
    edit: (s) => s.replace("scaling: { min: 0, desired: 1, max: 4 }", "scaling: { min: 0, desired: 1, max: 8 }"),
    headline: "**2 resources changed (2 updated), 1 alert threshold raised, GPU max +4 nodes, 1 rule changed**",
    lines: ["- updated `gpu-l4` (aws:eks/nodeGroup:NodeGroup)", "  - `scalingConfig.maxSize`: `4` → `8`", '  - the change: `…{pool="l4"}) >= 4)` → `…{pool="l4"}) >= 8)`'],
    attention: ["- ⚠️ alert `InfermeshGpuPoolAtMaxSize` loosened: >= 4 → 8 (fires less often)"],
  },
  {
    name: "removing one pool reports that pool's resources and no other",
    stack: "dev",
    edit: (s) => s.replace("    a10g:\n      instanceTypes: [g5.12xlarge]\n      scaling: { min: 0, desired: 0, max: 2 }\n", ""),
    headline: "**20 resources changed (18 removed, 2 updated), GPU max -2 nodes, 1 rule changed**",
    lines: [
      "- removed `gpu-a10g` (aws:eks/nodeGroup:NodeGroup)",
      "- removed `gpu-a10g-role` (aws:iam/role:Role)",
      '  - `expanderPriorities.20`: `["^eks-gpu-a10g-[0-9a-f]{7}-.*","^eks-gpu-l4-[0-9a-f]{7}-.*"]` → `["^eks-gpu-l4-[0-9a-f]{7}-.*"]`',
    ],
    onlyName: "a10g",
    attention: ["- ⚠️ node group `gpu-a10g` is removed: its nodes are drained and terminated"],
  },
  {
    name: "renaming a model reports that model in the alert and the panel that name it",
    stack: "dev",
    edit: (s) => s.replace("    gpt-7b:\n", "    llama-8b:\n"),
    headline: "**2 resources changed (2 updated), 1 dashboard changed, 1 rule changed**",
    lines: [
      '  - panel `Queue Depth per Model`: `fieldConfig.overrides[{"matcher":{"id":"byName","options":"gpt-7b"},"properties":(…#dc30521e]` removed (8 values)',
      '  - panel `Queue Depth per Model`: `fieldConfig.overrides[{"matcher":{"id":"byName","options":"llama-8b"},"properties"…#fd3697b7]` added (8 values)',
      '  + (model:infermesh_model_queue_depth:avg{model="llama-8b"} > 50) or (model:infermesh_model_queue_depth:avg{model!~"llama-8b"} > 100)',
    ],
  },
  {
    name: "removing staging's warning route",
    stack: "staging",
    edit: (s) => s.replace("      warning: [ops-sns]\n", ""),
    headline: "**2 resources changed (1 removed, 1 updated)**",
    lines: [
      "- removed `alerting-warning` (grafana:alerting/contactPoint:ContactPoint)",
      "- updated `alerting-policy` (grafana:alerting/notificationPolicy:NotificationPolicy)",
      '  - `contactPoint`: `"infermesh-staging-warning"` → `"infermesh-staging-critical"`',
      "  - `policies[contactPoint=infermesh-staging-warning]`: removed (10 values)",
    ],
  },
  {
    name: "a MIG pool of p5 instances 1 → 5 nodes at max: the cost and series it adds",
    stack: "staging",
    edit: (s) => s.replace("scaling: { min: 1, desired: 1, max: 1 }\n      diskSizeGiB: 500", "scaling: { min: 1, desired: 1, max: 5 }\n      diskSizeGiB: 500"),
    // The node group, the capacity alert and the AMP per-model series limits (twice a model's share at max size).
    headline: "**3 resources changed (3 updated), 1 alert threshold raised, GPU max +4 nodes, 1 rule changed**",
    // 4 more p5.48xlarge on-demand: 4 x 730 h x $55.04 = $160,716.80; with 4 x 500 GiB of gp3 ($160) and AMP's share, $160,998.
    lines: [
      "Cost and cardinality: +$160,998/month at max size ($46,511 → $207,509); +31.6 k active series (19.8 k → 51.4 k); AMP active-series quota 10 M: 0.5 % used",
      "- pool `h100-mig`: 1 × p5.48xlarge on-demand → 5 × p5.48xlarge on-demand at max, +$160,717/month ($40,179 → $200,896)",
    ],
    attention: [
      "- ⚠️ over budget: $207,509/month at max size, budget $60,000 (infermesh:budget.maxMonthlyCostUsd)",
      "- ⚠️ alert `InfermeshGpuPoolAtMaxSize` loosened: >= 1 → 5 (fires less often)",
    ],
  },
];

describe("npm run review on real renders", () => {
  const renders = new Map<string, string>();
  async function render(id: string, stack: string, text: string): Promise<string> {
    const root = join(scratch, id);
    mkdirSync(root, { recursive: true });
    copyFileSync(join(projectRoot, "Pulumi.yaml"), join(root, "Pulumi.yaml"));
    writeFileSync(join(root, `Pulumi.${stack}.yaml`), text);
    const out = join(root, "out", stack);
    const result = await tsx("scripts/synth.ts", [stack, "--root", root, "--out", out]);
    if (result.code !== 0) throw new Error(`synth ${id} failed: ${result.stderr}`);
    return out;
  }
  beforeAll(async () => {
    const stackFile = (stack: string) => readFileSync(join(projectRoot, `Pulumi.${stack}.yaml`), "utf8");
    const jobs: [string, string, string][] = [
      ["base-dev", "dev", stackFile("dev")],
      ["base-staging", "staging", stackFile("staging")],
      ...cases.map((c, i): [string, string, string] => {
        const edited = c.edit(stackFile(c.stack));
        if (edited === stackFile(c.stack)) throw new Error(`case ${c.name} does not change the stack file`);
        return [`case-${i}`, c.stack, edited];
      }),
    ];
    // Two at a time: one per core.
    for (let i = 0; i < jobs.length; i += 2) {
      const pair = jobs.slice(i, i + 2);
      const outs = await Promise.all(pair.map(([id, stack, text]) => render(id, stack, text)));
      pair.forEach(([id], k) => renders.set(id, outs[k] as string));
    }
  }, 240_000);

  it.each(cases.map((c, i) => ({ ...c, i })))("$name", ({ stack, headline, lines, onlyName, attention, i }) => {
    const [pair] = pairRenders(renders.get(`base-${stack}`) as string, renders.get(`case-${i}`) as string, { stack });
    const text = toMarkdown(reviewStack(stack, pair?.base, pair?.head as NonNullable<typeof pair>["head"]));
    const out = text.split("\n");
    expect(out).toContain(headline);
    for (const line of lines) expect(out, text).toContain(line);
    for (const line of attention ?? []) expect(out).toContain(line);
    if (!attention) expect(text).not.toContain("Needs attention");
    if (onlyName) {
      const resourceLines = out.filter((l) => /^- (added|removed|replaced|updated) `/.test(l) && !/\((kubernetes:helm|kubernetes:core\/v1:ConfigMap)/.test(l));
      expect(resourceLines.length).toBeGreaterThan(0);
      for (const l of resourceLines) expect(l).toContain(onlyName);
    }
  });

  it("links each changed dashboard's pictures, before and after, when the previews were drawn", () => {
    const [pair] = pairRenders(renders.get("base-dev") as string, renders.get("case-0") as string, { stack: "dev" });
    const text = toMarkdown(reviewStack("dev", pair?.base, pair?.head as NonNullable<typeof pair>["head"], { previews: "preview" })).split("\n");
    const at = text.indexOf("- dashboard `im-dev-gpu` (infermesh · GPU Health (dev))");
    expect(text[at + 1]).toBe("  - pictures in the artifact: `preview/base/dev/im-dev-gpu.png` → `preview/head/dev/im-dev-gpu.png`");
  });

  it("says so when nothing changed", () => {
    const dev = renders.get("base-dev") as string;
    const text = toMarkdown(reviewStack("dev", readRender(dev), readRender(dev)));
    expect(text.split("\n")).toEqual([
      "<!-- infermesh-review:dev -->",
      "### Review: `dev`",
      "",
      "**no resource changes**",
      "",
      "No changes to resources, dashboards, rules or Helm values.",
    ]);
  });

  it("stays within the comment limit by shortening lists, naming how many lines it left out and where they are", () => {
    const dev = readRender(renders.get("base-dev") as string);
    const review = reviewStack("dev", undefined, dev);
    const whole = toMarkdown(review, { limit: Number.POSITIVE_INFINITY });
    const short = toMarkdown(review, { limit: 4_000, artifactUrl: "https://example.test/run/1" });
    expect(whole.length).toBeGreaterThan(4_000);
    expect(short.length).toBeLessThanOrEqual(4_000);
    expect(short).toMatch(/- … \d+ more lines in the full review \(https:\/\/example\.test\/run\/1\)/);
    expect(short).toContain("(the base does not render this stack: everything is new)");
  });

  it("prints the same Markdown from the command line, and writes the whole review with --full", async () => {
    const full = join(scratch, "full.md");
    const result = await tsx("scripts/review.ts", [renders.get("base-dev") as string, renders.get("case-1") as string, "--stack", "dev", "--full", full]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("  - `scalingConfig.maxSize`: `4` → `8`");
    expect(readFileSync(full, "utf8")).toContain("GPU max +4 nodes");
  });

  it.each([
    ["a path that does not exist", () => [join(scratch, "no-such-dir"), renders.get("case-1") as string], /no-such-dir does not exist/],
    ["a directory that is not a render", () => [scratch, renders.get("case-1") as string, "--stack", "dev"], /is not a render and holds none/],
    ["a stack the head does not render", () => [renders.get("base-dev") as string, renders.get("case-1") as string, "--stack", "prod"], /no render of stack "prod"/],
    ["a stack the base does not render, without --new-stack", () => [renders.get("base-staging") as string, renders.get("case-1") as string, "--stack", "dev"], /pass --new-stack/],
  ])("refuses %s (exit 2, not an empty diff)", async (_what, args, message) => {
    const result = await tsx("scripts/review.ts", args());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
  });

  it("finds one render per stack in an out/ directory", () => {
    const out = join(scratch, "case-4", "out");
    expect([...findRenders(out).keys()]).toEqual(["staging"]);
  });
});
