import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { nodeVersions } from "../cli/prerequisites";
import { stackNames } from "../cli/stacks";
import { githubOutputs, readDeployPath } from "../lifecycle/deployPath";
import { projectRoot } from "../synth/synthesize";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  "working-directory"?: string;
}

interface Job {
  "runs-on"?: string | string[];
  outputs?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  steps?: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const dir = join(projectRoot, ".github", "workflows");
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const source = (file: string) => readFileSync(join(dir, file), "utf8");
const workflow = (file: string) => parse(source(file)) as Workflow;
const scripts = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

const steps = (wf: Workflow) => Object.entries(wf.jobs).flatMap(([job, j]) => (j.steps ?? []).map((step, index) => ({ job, index, step })));
const runText = (job: Job) => (job.steps ?? []).map((s) => s.run ?? "").join("\n");

describe("workflow files", () => {
  it("exist for pull requests, deploys, test clusters and the expiry sweep", () => {
    expect(files).toEqual(expect.arrayContaining(["pull-request.yml", "deploy.yml", "test-cluster.yml", "expired-test-stacks.yml"]));
  });

  it.each(files)("%s is a valid workflow (action-validator)", (file) => {
    const state = validateWorkflow(source(file));
    expect(state.errors, JSON.stringify(state.errors, null, 2)).toEqual([]);
  });

  it.each(files)("%s runs only npm scripts that package.json declares", (file) => {
    const referenced = steps(workflow(file)).flatMap(({ step }) => [...(step.run ?? "").matchAll(/\bnpm\s+run(?:-script)?\s+([\w:.-]+)/g)].map((m) => m[1] as string));
    const tests = steps(workflow(file)).filter(({ step }) => /\bnpm\s+(test|t)\b/.test(step.run ?? ""));
    for (const script of referenced) expect(Object.keys(scripts), `npm run ${script} in ${file}`).toContain(script);
    if (tests.length > 0) expect(scripts.test).toBeDefined();
  });

  it.each(files)("%s installs from the lockfile (npm ci) before any npm or npx command", (file) => {
    for (const [name, job] of Object.entries(workflow(file).jobs)) {
      let installed = new Set<string>();
      for (const step of job.steps ?? []) {
        const run = step.run ?? "";
        expect(run, `${file} ${name}`).not.toMatch(/\bnpm\s+(install|i|add)\b|\byarn\b|\bpnpm\b/);
        const where = step["working-directory"] ?? ".";
        for (const line of run.split("\n")) {
          if (/\bnpm\s+ci\b/.test(line)) installed = new Set([...installed, where]);
          else if (/\b(npm\s+(run|test)|npx)\b/.test(line)) expect(installed.has(where), `${file} ${name}: "${line.trim()}" runs before npm ci in ${where}`).toBe(true);
        }
      }
    }
  });

  it.each(files)("%s pins pulumi/actions to v7 and every action to a version", (file) => {
    for (const { job, step } of steps(workflow(file))) {
      if (!step.uses) continue;
      expect(step.uses, `${file} ${job}`).toMatch(/^[\w.-]+\/[\w./-]+@[\w.-]+$/);
      if (step.uses.startsWith("pulumi/actions@")) expect(step.uses).toBe("pulumi/actions@v7");
    }
    // Each of them drives Pulumi (preview/up, or the CLI the Automation API needs), installed by the action.
    expect(steps(workflow(file)).filter(({ step }) => step.uses === "pulumi/actions@v7").length).toBeGreaterThan(0);
  });

  it.each(files)("%s asks for an OIDC token wherever it assumes an AWS role", (file) => {
    const wf = workflow(file);
    for (const [name, job] of Object.entries(wf.jobs)) {
      if (!(job.steps ?? []).some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials"))) continue;
      const permissions = job.permissions ?? wf.permissions ?? {};
      expect(permissions["id-token"], `${file} ${name}`).toBe("write");
      for (const s of (job.steps ?? []).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials"))) {
        expect(s.with?.["role-to-assume"], `${file} ${name}`).toMatch(/^\$\{\{ secrets\.AWS_[A-Z_]+_ROLE_ARN \}\}$/);
        expect(s.with).not.toHaveProperty("aws-access-key-id");
      }
    }
  });
});

describe("pull-request.yml", () => {
  const wf = workflow("pull-request.yml");

  it("runs the README's test command with the Prometheus tools installed first", () => {
    const test = runText(wf.jobs.test!);
    expect(test).toMatch(/apt-get install[^\n]*\bprometheus\b[^\n]*\bprometheus-alertmanager\b/);
    expect(test.indexOf("prometheus-alertmanager")).toBeLessThan(test.indexOf("npm test"));
    expect(wf.jobs.test!.steps?.find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version-file"]).toBe(".node-version");
  });

  it("previews every environment stack with a diff, one PR comment each, and the policy pack", () => {
    const preview = wf.jobs.preview!;
    const matrix = (preview as { strategy?: { matrix?: { stack?: string[] } } }).strategy?.matrix?.stack;
    expect(matrix).toEqual(["dev", "staging", "prod"]);
    const step = preview.steps?.find((s) => s.uses === "pulumi/actions@v7");
    expect(step?.with).toMatchObject({ command: "preview", diff: true, "comment-on-pr": true, policyPacks: "policy" });
    expect(String(step?.with?.["stack-name"])).toContain("${{ matrix.stack }}");
    expect(step?.env?.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
    expect(preview.permissions).toMatchObject({ "id-token": "write", "pull-requests": "write" });
  });

  it("renders base and head, summarizes with scripts/synthDiff.ts and keeps one comment per stack", () => {
    const job = wf.jobs["synth-diff"]!;
    const text = runText(job);
    expect(text).toMatch(/npm run synth -- \$\{\{ matrix.stack \}\} --out "\$RUNNER_TEMP\/synth\/head"/);
    expect(text).toMatch(/npm run synth -- \$\{\{ matrix.stack \}\} --out "\$RUNNER_TEMP\/synth\/base"/);
    expect(text).toContain("npx tsx scripts/synthDiff.ts");
    expect(job.steps?.some((s) => s.with?.ref === "${{ github.event.pull_request.base.sha }}")).toBe(true);
    const comment = job.steps?.find((s) => s.uses?.startsWith("marocchino/sticky-pull-request-comment"));
    expect(comment?.with?.header).toBe("synth-diff-${{ matrix.stack }}");
  });
});

describe("deploy.yml", () => {
  const wf = workflow("deploy.yml");

  it("runs on pushes to main and deploys dev, staging, prod in order, prod behind the production environment", () => {
    expect(wf.on).toEqual({ push: { branches: ["main"] } });
    expect(wf.jobs.dev?.needs).toBe("paths");
    expect(wf.jobs.staging?.needs).toEqual(["paths", "dev"]);
    expect(wf.jobs.prod?.needs).toEqual(["paths", "staging"]);
    expect(wf.jobs.prod?.environment).toBe("production");
    expect(source("deploy.yml")).toMatch(/required[\s#]+reviewers/);
    for (const stack of ["dev", "staging", "prod"]) {
      const up = wf.jobs[stack]?.steps?.find((s) => s.uses === "pulumi/actions@v7");
      expect(up?.with).toMatchObject({ command: "up", policyPacks: "policy" });
      expect(String(up?.with?.["stack-name"])).toMatch(new RegExp(`/${stack}$`));
    }
  });
});

describe("test clusters", () => {
  it("creates test-pr-<number> for a labelled PR, destroys it on close, then fails on leftovers", () => {
    const wf = workflow("test-cluster.yml");
    expect(String((wf as unknown as { env: Record<string, string> }).env.STACK_NAME)).toBe("pr-${{ github.event.pull_request.number }}");
    expect(wf.jobs.up?.if).toContain("contains(github.event.pull_request.labels.*.name, 'test-cluster')");
    expect(runText(wf.jobs.up!)).toContain('npm run test-stack -- up "$STACK_NAME"');
    expect(wf.jobs.destroy?.if).toContain("github.event.action == 'closed'");
    const destroy = runText(wf.jobs.destroy!);
    expect(destroy.indexOf('npm run test-stack -- destroy "$STACK_NAME"')).toBeGreaterThanOrEqual(0);
    expect(destroy.indexOf('npm run leaks -- "test-$STACK_NAME"')).toBeGreaterThan(destroy.indexOf("test-stack -- destroy"));
  });

  it("sweeps expired test stacks on a schedule", () => {
    const wf = workflow("expired-test-stacks.yml");
    expect(wf.on.schedule).toEqual([{ cron: expect.stringMatching(/^\S+ \S+ \S+ \S+ \S+$/) }]);
    expect(runText(wf.jobs.sweep!)).toContain("npm run test-stack -- sweep");
  });
});

// ---------------------------------------------------------------------------
// Where the jobs run comes from the stacks (npm run deploy-path), not from the workflow files.

/** `${{ fromJSON(needs.paths.outputs.<stack>).<field> }}` → the stack it reads (`matrix` for `outputs[matrix.stack]`). */
function pathRead(value: unknown, field: "runsOn" | "region"): string | undefined {
  const match = new RegExp(`^\\$\\{\\{ fromJSON\\(needs\\.paths\\.outputs(?:\\.([\\w-]+)|\\[matrix\\.stack\\])\\)\\.${field} \\}\\}$`).exec(String(value));
  return match ? (match[1] ?? "matrix") : undefined;
}

describe("deploy paths", () => {
  const needsOf = (job: Job) => (Array.isArray(job.needs) ? job.needs : job.needs ? [job.needs] : []);

  it.each(files)("%s: every job that reaches AWS runs where its stack says, in its stack's region", (file) => {
    const wf = workflow(file);
    const reaching = Object.entries(wf.jobs).filter(([, job]) => (job.steps ?? []).some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials")));
    expect(reaching.length).toBeGreaterThan(0);
    for (const [name, job] of reaching) {
      expect(needsOf(job), `${file} ${name}`).toContain("paths");
      const stack = pathRead(job["runs-on"], "runsOn");
      expect(stack, `${file} ${name} runs-on ${JSON.stringify(job["runs-on"])}`).toBeDefined();
      for (const step of (job.steps ?? []).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials"))) {
        expect(pathRead(step.with?.["aws-region"], "region"), `${file} ${name} aws-region`).toBe(stack);
      }
      const expected = stack === "matrix" ? (job.strategy?.matrix?.stack as string[]) : [stack as string];
      const exposed = Object.keys(wf.jobs.paths?.outputs ?? {});
      for (const s of expected) expect(exposed, `${file} ${name}`).toContain(s);
    }
  });

  it.each(files)("%s: the paths job reads exactly the stacks it exposes, from their stack files", (file) => {
    const paths = workflow(file).jobs.paths;
    expect(paths, file).toBeDefined();
    const stacks = Object.keys(paths?.outputs ?? {});
    expect(stacks.length).toBeGreaterThan(0);
    for (const stack of stacks) {
      expect(paths?.outputs?.[stack]).toBe(`\${{ steps.read.outputs.${stack} }}`);
      expect(stackNames()).toContain(stack);
    }
    const read = paths?.steps?.find((s) => (s as { id?: string }).id === "read");
    expect(read?.run).toBe(`npm run deploy-path -- ${stacks.join(" ")} --github-output "$GITHUB_OUTPUT"`);
    // The paths job itself only reads files: a GitHub-hosted runner is always enough.
    expect(paths?.["runs-on"]).toBe("ubuntu-latest");
  });

  it("gives prod, whose endpoint is private, self-hosted runners; the others GitHub's", async () => {
    const paths = await Promise.all(["dev", "staging", "prod", "test"].map((s) => readDeployPath(s, projectRoot)));
    expect(paths.map((p) => [p.stack, p.runner, p.endpoint, p.region])).toEqual([
      ["dev", "github-hosted", "public", "us-west-2"],
      ["staging", "github-hosted", "public", "us-west-2"],
      ["prod", "self-hosted", "private", "us-east-1"],
      ["test", "github-hosted", "public", "us-west-2"],
    ]);
    // What the prod job's `fromJSON(needs.paths.outputs.prod)` parses.
    const outputs = Object.fromEntries(githubOutputs(paths).trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), JSON.parse(line.slice(line.indexOf("=") + 1))]));
    expect(outputs.prod).toEqual({ runsOn: ["self-hosted", "linux", "x64", "infermesh-prod"], region: "us-east-1", runner: "self-hosted", endpoint: "private" });
  });
});

// ---------------------------------------------------------------------------
// One Node.js version for every workflow, a current LTS line the engines field admits.

// Release lines from nodejs/Release, schedule.json at e4bf922d83b877a116763e2f83d2d9b6701871f9 (2026-07-02):
// start of LTS and end of life of each line.
const nodeSchedule: Record<number, { lts?: string; end: string }> = {
  20: { lts: "2023-10-24", end: "2026-04-30" },
  22: { lts: "2024-10-29", end: "2027-04-30" },
  24: { lts: "2025-10-28", end: "2028-04-30" },
  25: { end: "2026-06-01" },
  26: { lts: "2026-10-28", end: "2029-04-30" },
};

describe("Node.js version", () => {
  const pinned = readFileSync(join(projectRoot, ".node-version"), "utf8").trim();
  const engines = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;

  it.each(files)("%s sets up Node from .node-version in every job", (file) => {
    const setups = steps(workflow(file)).filter(({ step }) => step.uses?.startsWith("actions/setup-node"));
    expect(setups.length).toBeGreaterThan(0);
    for (const { job, step } of setups) {
      expect(step.with, `${file} ${job}`).not.toHaveProperty("node-version");
      expect(String(step.with?.["node-version-file"]), `${file} ${job}`).toMatch(/^(head\/)?\.node-version$/);
    }
  });

  // actions/setup-node v5.0.0: action.yml declares these inputs, and src/util.ts getNodeVersionFromFile reads a
  // version file that is not a JSON object with /^(?:node(js)?\s+)?v?(?<version>[^\s]+)$/m.
  const setupNodeInputs = ["always-auth", "node-version", "node-version-file", "architecture", "check-latest", "registry-url", "scope", "token", "cache", "package-manager-cache", "cache-dependency-path", "mirror", "mirror-token"];

  it.each(files)("%s passes setup-node@v5 only inputs it declares", (file) => {
    for (const { job, step } of steps(workflow(file)).filter(({ step }) => step.uses?.startsWith("actions/setup-node"))) {
      expect(step.uses).toBe("actions/setup-node@v5");
      for (const input of Object.keys(step.with ?? {})) expect(setupNodeInputs, `${file} ${job} ${input}`).toContain(input);
    }
  });

  it("writes .node-version the way setup-node reads it", () => {
    const contents = readFileSync(join(projectRoot, ".node-version"), "utf8");
    expect(contents.match(/^(?:node(js)?\s+)?v?(?<version>[^\s]+)$/m)?.groups?.version).toBe(pinned);
  });

  it("pins an LTS line that the engines field admits and doctor treats as supported", () => {
    const major = Number(pinned);
    expect(pinned).toMatch(/^\d+$/);
    expect(nodeSchedule[major]?.lts).toBeDefined();
    expect(engines).toBe(`>=${nodeVersions.supported}`);
    expect(major).toBeGreaterThanOrEqual(Number(nodeVersions.supported.split(".")[0]));
  });

  it("admits no line that had reached its end of life when the schedule was read", () => {
    const floor = Number(nodeVersions.supported.split(".")[0]);
    expect(Date.parse(nodeSchedule[floor]?.end ?? "") > Date.parse("2026-07-02")).toBe(true);
    expect(Date.parse(nodeSchedule[floor - 2]?.end ?? "") <= Date.parse("2026-07-02")).toBe(true);
  });
});
