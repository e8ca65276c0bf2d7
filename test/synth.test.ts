import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
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
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^infermesh/${stack}: \\d+ resources`));
    expect(result.stdout).toContain("GPU pools:");
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8"));
    expect(plan.project).toBe("infermesh");
    expect(plan.stack).toBe(stack);
    for (const r of plan.resources) {
      expect(Object.keys(r).sort()).toEqual(["custom", "deletedWith", "dependsOn", "ignoreChanges", "inputs", "name", "parent", "protect", "provider", "retainOnDelete", "type", "urn"]);
    }
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
