import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { encryptedPlaceholder, readStackFile } from "../synth/stackFile";
import { projectRoot, stackNames } from "../synth/synthesize";
import { redactSecrets, secretMarker } from "../synth/runtime";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "infermesh-synth-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function synth(args: string[]) {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", "scripts/synth.ts", ...args], { cwd: projectRoot });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("npm run synth", () => {
  it("knows the environment stacks and the test-stack template", () => {
    expect(stackNames()).toEqual(expect.arrayContaining(["dev", "prod", "staging", "test"]));
  });

  it.each(["dev", "staging", "prod", "test"])("renders %s with a plan and a summary", async (stack) => {
    const out = join(scratch, stack);
    const result = await synth([stack, "--out", out]);
    // Prod's SNS topics are owned elsewhere: synth prints the warnings a deploy would, one per topic, and nothing else.
    const warned = [...result.stderr.matchAll(/^warning: \[runtime\] alerting contact point "([^"]+)": the stack does not own SNS topic/gm)].map((m) => m[1]).sort();
    expect(warned).toEqual(stack === "prod" ? ["chat", "pager"] : []);
    if (stack !== "prod") expect(result.stderr).toBe("");
    expect(result.stderr).not.toMatch(/^error/m);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^infermesh/${stack}: \\d+ resources`));
    expect(result.stdout).toContain("GPU pools:");
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8"));
    expect(plan.project).toBe("infermesh");
    expect(plan.stack).toBe(stack);
    for (const r of plan.resources) {
      expect(Object.keys(r).sort()).toEqual([
        "custom",
        "deletedWith",
        "dependsOn",
        "ignoreChanges",
        "inputs",
        "name",
        "parent",
        "protect",
        "provider",
        "retainOnDelete",
        "type",
        "urn",
      ]);
    }
  });

  it("writes each SNS topic's owner and, for a topic owned elsewhere, the grant it still needs", async () => {
    const out = join(scratch, "prod-sns");
    expect((await synth(["prod", "--out", out])).code).toBe(0);
    const topics = JSON.parse(readFileSync(join(out, "alerting", "sns-topics.json"), "utf8"));
    expect(Object.keys(topics).sort()).toEqual(["chat", "pager"]);
    expect(topics.pager).toMatchObject({ arn: "arn:aws:sns:us-east-1:111122223333:infermesh-prod-page", owner: "external", publisher: "amp" });
    expect(topics.pager.grantRequired).toMatchObject({
      Principal: { Service: "aps.amazonaws.com" },
      Action: ["sns:Publish", "sns:GetTopicAttributes"],
      Resource: topics.pager.arn,
    });
    const staging = join(scratch, "staging-sns");
    expect((await synth(["staging", "--out", staging])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(staging, "alerting", "sns-topics.json"), "utf8"))).toEqual({
      "ops-sns": { arn: "arn:aws:sns:synth:000000000000:grafana-infermesh-staging-ops-sns", owner: "stack", publisher: "grafana" },
    });
    expect(existsSync(join(scratch, "dev", "alerting", "sns-topics.json"))).toBe(false);
  });

  it("keeps secrets out of plan.json", async () => {
    const out = join(scratch, "dev-secrets");
    expect((await synth(["dev", "--out", out])).code).toBe(0);
    const text = readFileSync(join(out, "plan.json"), "utf8");
    const plan = JSON.parse(text);
    const k8s = plan.resources.find((r: { type: string }) => r.type === "pulumi:providers:kubernetes");
    expect(k8s.inputs.kubeconfig).toBe(secretMarker);
    // The kubeconfig's content never appears anywhere in clear.
    expect(text).not.toContain("certificate-authority-data");
    expect(text).not.toContain("get-token");
  });

  it("dev: the in-cluster Grafana's content is Kubernetes objects in the plan, with no Grafana provider and no Grafana URL", async () => {
    const out = join(scratch, "dev-grafana");
    expect((await synth(["dev", "--out", out])).code).toBe(0);
    const text = readFileSync(join(out, "plan.json"), "utf8");
    const plan = JSON.parse(text) as { resources: Array<{ type: string; name: string; inputs: any }> };
    expect(plan.resources.filter((r) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana")).toEqual([]);
    expect(text).not.toContain("localhost:3000");
    const objects = plan.resources
      .filter((r) => r.type === "kubernetes:core/v1:ConfigMap" && Object.keys(r.inputs.metadata.labels ?? {}).some((l: string) => l.startsWith("grafana_")))
      .map((r) => [r.inputs.metadata.name, r.inputs.metadata.labels, Object.keys(r.inputs.data)]);
    expect(objects.sort()).toEqual(
      [
        ["infermesh-dashboard-gpu-health", { grafana_dashboard: "1" }, ["im-dev-gpu.json"]],
        ["infermesh-dashboard-model-drilldown", { grafana_dashboard: "1" }, ["im-dev-model.json"]],
        ["infermesh-dashboard-overview", { grafana_dashboard: "1" }, ["im-dev-overview.json"]],
        ["infermesh-dashboard-router-behavior", { grafana_dashboard: "1" }, ["im-dev-router.json"]],
        ["infermesh-dashboard-slo", { grafana_dashboard: "1" }, ["im-dev-slo.json"]],
        ["infermesh-grafana-alerting", { grafana_alert: "1" }, ["infermesh-rules.yaml"]],
        ["infermesh-grafana-datasource", { grafana_datasource: "1" }, ["infermesh-datasource.yaml"]],
      ].sort(),
    );
    // The provisioned dashboards are the ones synth writes for import.
    const overview = plan.resources.find((r) => r.name === "grafana-dashboard-overview")!;
    expect(JSON.parse(overview.inputs.data["im-dev-overview.json"])).toEqual(JSON.parse(readFileSync(join(out, "grafana/dashboards/im-dev-overview.json"), "utf8")));
    // ...and the provisioned rules are synth's alert-rules.json in Grafana's file format.
    const rules = parseYaml(plan.resources.find((r) => r.name === "alerting-grafana-rules")!.inputs.data["infermesh-rules.yaml"]);
    const planned = JSON.parse(readFileSync(join(out, "grafana/alert-rules.json"), "utf8")) as Array<{ name: string; rules: Array<{ uid: string }> }>;
    expect(rules.groups.map((g: { name: string; rules: Array<{ uid: string }> }) => [g.name, g.rules.map((r) => r.uid)])).toEqual(
      planned.map((g) => [g.name, g.rules.map((r) => r.uid)]),
    );
    expect(plan.resources.find((r) => r.name === "grafana-admin")!.inputs.stringData).toBe(secretMarker);
  });

  it("in-cluster Grafana contact points: a Secret whose content plan.json shows only as [secret]", async () => {
    const root = join(scratch, "contacts");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "Pulumi.yaml"), readFileSync(join(projectRoot, "Pulumi.yaml")));
    const dev = parseYaml(readFileSync(join(projectRoot, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    dev.config["infermesh:secrets"] = { slackHook: { secure: "v1:AAAAencrypted" } };
    dev.config["infermesh:alerting"] = { contactPoints: { chat: { type: "slack", secret: "slackHook", channel: "#infermesh" } }, routes: { warning: ["chat"] } };
    writeFileSync(join(root, "Pulumi.contacts.yaml"), stringify(dev));
    const out = join(root, "out");
    const result = await synth(["contacts", "--root", root, "--out", out]);
    expect(result.stderr).toBe("");
    const text = readFileSync(join(out, "plan.json"), "utf8");
    const secret = (JSON.parse(text).resources as Array<{ name: string; type: string; inputs: any }>).find((r) => r.name === "alerting-grafana-contact-points")!;
    expect(secret.type).toBe("kubernetes:core/v1:Secret");
    expect(secret.inputs.metadata).toEqual({ name: "infermesh-grafana-contact-points", namespace: "monitoring", labels: { grafana_alert: "1" } });
    expect(secret.inputs.stringData).toBe(secretMarker);
    expect(text).not.toContain(encryptedPlaceholder);
  });

  it("refuses a secret left in clear beside encrypted ones, and never writes or prints a secret value", async () => {
    const root = join(scratch, "secrets");
    const out = join(root, "out");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "Pulumi.yaml"), readFileSync(join(projectRoot, "Pulumi.yaml")));
    const secure = { secure: "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    const stackFile = (slackHook: unknown) =>
      stringify({
        config: {
          "aws:region": "us-west-2",
          "infermesh:environment": "staging",
          "infermesh:cluster": { mode: "create", vpc: { cidr: "10.40.0.0/16", availabilityZones: ["us-west-2a", "us-west-2b"] } },
          "infermesh:gpuPools": { l4: { instanceTypes: ["g6.xlarge"], scaling: { min: 1, desired: 1, max: 2 } } },
          "infermesh:grafana": { mode: "external", url: "https://grafana.example.com", prometheusUrl: "https://prometheus.example.com" },
          "infermesh:alerting": {
            contactPoints: { chat: { type: "slack", secret: "slackHook" }, pager: { type: "pagerduty", secret: "pagerKey" }, mail: { type: "email", secret: "oncall" } },
            routes: { critical: ["pager", "mail"], warning: ["chat"], info: ["chat"] },
          },
          "infermesh:secrets": { grafanaToken: secure, slackHook, pagerKey: secure, oncall: secure },
        },
      });

    // The engine marks the whole key secret; only the stack file shows the entry in clear.
    writeFileSync(join(root, "Pulumi.sec.yaml"), stackFile("https://hooks.slack.com/services/T0/B0/webhook-left-in-clear"));
    const refused = await synth(["sec", "--root", root, "--out", out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("infermesh:secrets.slackHook: is stored in clear text");
    expect(refused.stderr).not.toContain("webhook-left-in-clear");
    expect(existsSync(out)).toBe(false);

    writeFileSync(join(root, "Pulumi.sec.yaml"), stackFile(secure));
    const result = await synth(["sec", "--root", root, "--out", out]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const files = readdirSync(out, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(files.length).toBeGreaterThan(10);
    for (const text of [result.stdout, ...files.map((f) => readFileSync(join(f.parentPath, f.name), "utf8"))]) {
      expect(text).not.toContain(encryptedPlaceholder);
    }
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { resources: { type: string; inputs: Record<string, unknown> }[] };
    expect(plan.resources.find((r) => r.type === "pulumi:providers:grafana")?.inputs.auth).toBe(secretMarker);
  });

  it("replaces encrypted config values with a placeholder marked secret", () => {
    const file = join(scratch, "Pulumi.enc.yaml");
    writeFileSync(file, stringify({ config: { "infermesh:token": { secure: "v1:abc" }, "infermesh:cluster": { mode: "existing", name: "x" } } }));
    expect(readStackFile(file)).toEqual({
      config: { "infermesh:token": encryptedPlaceholder, "infermesh:cluster": '{"mode":"existing","name":"x"}' },
      secretKeys: ["infermesh:token"],
    });
  });

  it("redacts secrets at any depth", () => {
    const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });
    expect(redactSecrets({ a: secret("x"), b: [1, secret({ c: 2 })], d: { e: "plain" } })).toEqual({ a: secretMarker, b: [1, secretMarker], d: { e: "plain" } });
  });

  it("exits non-zero on bad config, prints every problem and writes nothing", async () => {
    const root = join(scratch, "bad");
    const out = join(root, "out");
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "Pulumi.yaml"), readFileSync(join(projectRoot, "Pulumi.yaml")));
    writeFileSync(
      join(root, "Pulumi.bad.yaml"),
      stringify({
        config: {
          "aws:region": "us-west-2",
          "infermesh:environment": "prod",
          "infermesh:cluster": { mode: "create", vpc: { cidr: "10.0.0.0/33", availabilityZones: ["us-west-2a", "us-west-2b"] } },
          "infermesh:gpuPools": { l4: { instanceTypes: ["g6.xlarge"], capacity: "spot", scaling: { min: 2, desired: 1, max: 3 } } },
        },
      }),
    );
    const result = await synth(["bad", "--root", root, "--out", out]);
    // A configuration error is the user's to fix, like a usage error: exit 2 (README "Commands").
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("synth: Invalid stack configuration (3 problems):");
    expect(result.stderr).toContain('infermesh:cluster.vpc.cidr: got "10.0.0.0/33"; has a prefix length above 32');
    expect(result.stderr).toContain('infermesh:gpuPools.l4.capacity: got "spot"; environment "prod" allows only "on-demand"');
    expect(result.stderr).toContain("infermesh:gpuPools.l4.scaling: got min=2, desired=1, max=3; must satisfy min <= desired <= max");
    expect(existsSync(out)).toBe(false);
  });

  it("names the available stacks when the stack file is missing", async () => {
    const result = await synth(["nope", "--out", join(scratch, "nope")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^synth: no stack "nope" \(no Pulumi\.nope\.yaml\); stacks: .*dev.*prod/);
  });
});
