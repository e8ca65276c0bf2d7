import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { nodeVersions } from "../cli/prerequisites";
import { stackNames } from "../cli/stacks";
import { environmentKinds } from "../domain/environments";
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
  /** A job that calls a reusable workflow: its path, the inputs it passes and its secrets. */
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: string | Record<string, string>;
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
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const source = (file: string) => readFileSync(join(dir, file), "utf8");
const workflow = (file: string) => parse(source(file)) as Workflow;
const scripts = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

/** The reusable per-stack workflow (preview or up of one stack) and the jobs, in any workflow, that call it. */
const stackWorkflow = "stack.yml";
const callsStack = (job: Job) => job.uses === `./.github/workflows/${stackWorkflow}`;
const stackCallers = (file: string) => Object.entries(workflow(file).jobs).filter(([, job]) => callsStack(job));

/** The environment stacks (every Pulumi.<stack>.yaml but the ephemeral template) in deploy order: dev, staging, prod. */
const stackEnvironment = (stack: string) =>
  (parse(readFileSync(join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> }).config[
    "infermesh:environment"
  ] as (typeof environmentKinds)[number];
const environmentStacks = stackNames()
  .filter((stack) => stackEnvironment(stack) !== "ephemeral")
  .sort((a, b) => environmentKinds.indexOf(stackEnvironment(a)) - environmentKinds.indexOf(stackEnvironment(b)));

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
    // Each of them drives Pulumi (preview/up, or the CLI the Automation API needs), installed by the action, itself or through stack.yml.
    expect(steps(workflow(file)).filter(({ step }) => step.uses === "pulumi/actions@v7").length + stackCallers(file).length).toBeGreaterThan(0);
  });

  it.each(files)("%s asks for an OIDC token wherever it assumes an AWS role", (file) => {
    const wf = workflow(file);
    for (const [name, job] of Object.entries(wf.jobs)) {
      if (!(job.steps ?? []).some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials"))) continue;
      if ("workflow_call" in wf.on) {
        // A called workflow runs with its caller's token and could only narrow it: every caller grants the OIDC token.
        const callers = files.flatMap((caller) =>
          stackCallers(caller).map(([callerJob, c]) => [`${caller} ${callerJob}`, c.permissions ?? workflow(caller).permissions ?? {}] as const),
        );
        expect(callers.length, `${file} ${name}`).toBeGreaterThan(0);
        for (const [caller, permissions] of callers) expect(permissions["id-token"], caller).toBe("write");
        continue;
      }
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

  it("previews every environment stack (each Pulumi.<stack>.yaml but the test template) through stack.yml, from this repository only", () => {
    expect(environmentStacks).toEqual(["dev", "staging", "prod"]);
    const callers = stackCallers("pull-request.yml");
    expect(callers.map(([name]) => name)).toEqual(["preview"]);
    const preview = wf.jobs.preview!;
    expect(preview.strategy?.matrix?.stack).toEqual(environmentStacks);
    expect(preview.strategy).toMatchObject({ "fail-fast": false });
    expect(preview.with).toEqual({ stack: "${{ matrix.stack }}", command: "preview" });
    expect(preview.secrets).toBe("inherit");
    // The comment needs pull-requests: write, and stack.yml can only narrow what its caller grants.
    expect(preview.permissions).toEqual({ contents: "read", "id-token": "write", "pull-requests": "write" });
    expect(preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
    expect(wf.permissions).toEqual({ contents: "read" });
  });

  it("renders base and head, reviews them with exactly npm run review, uploads both renders and keeps one comment per stack", () => {
    const job = wf.jobs.review!;
    const text = runText(job);
    expect(text).toMatch(/npm run synth -- \$\{\{ matrix.stack \}\} --out "\$RUNNER_TEMP\/render\/head\/\$\{\{ matrix.stack \}\}"/);
    expect(text).toMatch(/npm run synth -- \$\{\{ matrix.stack \}\} --out "\$RUNNER_TEMP\/render\/base\/\$\{\{ matrix.stack \}\}"/);
    expect(text).toContain('npm run review -- "$RUNNER_TEMP/render/base" "$RUNNER_TEMP/render/head" --stack ${{ matrix.stack }}');
    expect(text).toContain('--out "$RUNNER_TEMP/review-comment.md"');
    expect(job.steps?.some((s) => s.with?.ref === "${{ github.event.pull_request.base.sha }}")).toBe(true);
    const upload = job.steps?.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect(upload?.with?.path).toBe("${{ runner.temp }}/render");
    const comment = job.steps?.find((s) => s.uses?.startsWith("marocchino/sticky-pull-request-comment"));
    expect(comment?.with?.header).toBe("review-${{ matrix.stack }}");
    expect(comment?.with?.path).toBe("${{ runner.temp }}/review-comment.md");
    // Pictures of both sides when the dashboards or rules changed, linked from the comment; no data fails the check after the comment.
    expect(text).toContain('npm run preview -- ${{ matrix.stack }} --out "$RUNNER_TEMP/render/preview/head/${{ matrix.stack }}"');
    expect(text).toContain('npm run preview -- ${{ matrix.stack }} --out "$RUNNER_TEMP/render/preview/base/${{ matrix.stack }}"');
    expect(text).toContain("--previews preview");
    const names = job.steps?.map((s) => s.name) ?? [];
    expect(names.indexOf("Fail when a dashboard panel shows no data")).toBeGreaterThan(names.indexOf("Comment"));
  });
});

describe("deploy.yml", () => {
  const wf = workflow("deploy.yml");

  it("runs on pushes to main and deploys every environment stack in order through stack.yml, each after the one before, prod behind the production environment", () => {
    expect(wf.on).toEqual({ push: { branches: ["main"] } });
    expect(Object.keys(wf.jobs)).toEqual(environmentStacks);
    environmentStacks.forEach((stack, i) => {
      const job = wf.jobs[stack]!;
      expect(callsStack(job), stack).toBe(true);
      expect(job.with).toEqual({ stack, command: "up", environment: stack === "prod" ? "production" : stack });
      expect(job.secrets).toBe("inherit");
      expect(job.needs, stack).toBe(i === 0 ? undefined : environmentStacks[i - 1]);
    });
    expect(source("deploy.yml")).toMatch(/required[\s#]+reviewers/);
    expect(wf.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect((wf as unknown as { concurrency: unknown }).concurrency).toEqual({ group: "deploy", "cancel-in-progress": false });
  });
});

describe("stack.yml", () => {
  const wf = workflow(stackWorkflow);
  const pulumi = wf.jobs.pulumi!;
  const on = (command: "preview" | "up") => (pulumi.steps ?? []).filter((s) => (s as { if?: string }).if === `inputs.command == '${command}'`);
  const inputs = (wf.on.workflow_call as { inputs: Record<string, { type: string; required?: boolean; default?: string }> }).inputs;

  it("is called with a stack, a command and an optional environment, and callers pass exactly those", () => {
    expect(Object.keys(wf.on)).toEqual(["workflow_call"]);
    expect(inputs).toMatchObject({
      stack: { type: "string", required: true },
      command: { type: "string", required: true },
      environment: { type: "string", required: false, default: "" },
    });
    const callers = files.flatMap((file) => stackCallers(file).map(([name, job]) => [`${file} ${name}`, job] as const));
    expect(callers.length).toBe(1 + environmentStacks.length);
    for (const [caller, job] of callers) {
      for (const input of Object.keys(job.with ?? {})) expect(Object.keys(inputs), caller).toContain(input);
      for (const [input, spec] of Object.entries(inputs)) if (spec.required) expect(job.with, caller).toHaveProperty(input);
      expect(["preview", "up"], caller).toContain(job.with?.command);
    }
  });

  it("refuses a command other than preview or up before anything else", () => {
    const first = wf.jobs.paths?.steps?.[0] as Step & { if?: string };
    expect(first.if).toBe("inputs.command != 'preview' && inputs.command != 'up'");
    expect(first.run).toMatch(/exit 1$/m);
  });

  it("declares no permissions, so each caller's grant (pull-requests: write only for previews) reaches the job unnarrowed", () => {
    expect(wf.permissions).toBeUndefined();
    for (const job of Object.values(wf.jobs)) expect(job.permissions).toBeUndefined();
  });

  it("runs the job in the environment its caller names (protection rules, environment secrets)", () => {
    expect(pulumi.environment).toBe("${{ inputs.environment }}");
    expect(pulumi.needs).toBe("paths");
  });

  it("previews with a diff, one PR comment per stack and the policy pack, as the preview role", () => {
    const preview = on("preview");
    expect(preview.map((s) => s.uses)).toEqual(["aws-actions/configure-aws-credentials@v5", "pulumi/actions@v7"]);
    expect(preview[0]?.with?.["role-to-assume"]).toBe("${{ secrets.AWS_PREVIEW_ROLE_ARN }}");
    expect(preview[1]?.with).toEqual({
      command: "preview",
      "stack-name": "${{ vars.PULUMI_ORG }}/${{ inputs.stack }}",
      diff: true,
      "comment-on-pr": true,
      "edit-pr-comment": true,
      "always-include-summary": true,
      policyPacks: "policy",
      "github-token": "${{ secrets.GITHUB_TOKEN }}",
    });
    expect(preview[1]?.env).toEqual({ PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}" });
  });

  it("deploys with `up` and the policy pack, as the environment's deploy role", () => {
    const up = on("up");
    expect(up.map((s) => s.uses)).toEqual(["aws-actions/configure-aws-credentials@v5", "pulumi/actions@v7"]);
    expect(up[0]?.with?.["role-to-assume"]).toBe("${{ secrets.AWS_DEPLOY_ROLE_ARN }}");
    expect(up[1]?.with).toEqual({ command: "up", "stack-name": "${{ vars.PULUMI_ORG }}/${{ inputs.stack }}", policyPacks: "policy" });
    expect(up[1]?.env).toEqual({ PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}" });
  });

  it("runs no AWS or Pulumi step unconditionally: each belongs to exactly one command", () => {
    const guarded = [...on("preview"), ...on("up")];
    for (const step of pulumi.steps ?? []) {
      if (step.uses?.startsWith("aws-actions/") || step.uses?.startsWith("pulumi/")) expect(guarded, JSON.stringify(step)).toContain(step);
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

/** `${{ fromJSON(needs.paths.outputs.<output>).<field> }}` → the paths job output it reads. */
function pathRead(value: unknown, field: "runsOn" | "region"): string | undefined {
  const match = new RegExp(`^\\$\\{\\{ fromJSON\\(needs\\.paths\\.outputs\\.([\\w-]+)\\)\\.${field} \\}\\}$`).exec(String(value));
  return match?.[1];
}

/** Workflow files with jobs that reach AWS themselves (the others call stack.yml). */
const reachingAws = (file: string) =>
  Object.entries(workflow(file).jobs).filter(([, job]) => (job.steps ?? []).some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials")));
const awsFiles = files.filter((file) => reachingAws(file).length > 0);

describe("deploy paths", () => {
  const needsOf = (job: Job) => (Array.isArray(job.needs) ? job.needs : job.needs ? [job.needs] : []);

  it("leaves AWS to stack.yml, test-cluster.yml and expired-test-stacks.yml; deploy.yml and pull-request.yml go through stack.yml", () => {
    expect(awsFiles).toEqual(["expired-test-stacks.yml", stackWorkflow, "test-cluster.yml"]);
    for (const file of ["deploy.yml", "pull-request.yml"]) expect(stackCallers(file).length, file).toBeGreaterThan(0);
  });

  it.each(awsFiles)("%s: every job that reaches AWS runs where its stack says, in its stack's region", (file) => {
    const wf = workflow(file);
    for (const [name, job] of reachingAws(file)) {
      expect(needsOf(job), `${file} ${name}`).toContain("paths");
      const output = pathRead(job["runs-on"], "runsOn");
      expect(output, `${file} ${name} runs-on ${JSON.stringify(job["runs-on"])}`).toBeDefined();
      for (const step of (job.steps ?? []).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials"))) {
        expect(pathRead(step.with?.["aws-region"], "region"), `${file} ${name} aws-region`).toBe(output);
      }
      expect(Object.keys(wf.jobs.paths?.outputs ?? {}), `${file} ${name}`).toContain(output);
    }
  });

  it.each(awsFiles.filter((file) => file !== stackWorkflow))("%s: the paths job reads exactly the stacks it exposes, from their stack files", (file) => {
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

  it("stack.yml: the paths job reads the called stack's file and exposes its path under one name", () => {
    const paths = workflow(stackWorkflow).jobs.paths!;
    expect(paths.outputs).toEqual({ stack: "${{ steps.read.outputs[inputs.stack] }}" });
    const read = paths.steps?.find((s) => (s as { id?: string }).id === "read");
    // The input reaches the shell through the environment, never spliced into the script.
    expect(read?.env).toEqual({ STACK: "${{ inputs.stack }}" });
    expect(read?.run).toBe('npm run deploy-path -- "$STACK" --github-output "$GITHUB_OUTPUT"');
    expect(paths["runs-on"]).toBe("ubuntu-latest");
  });

  it.each(files)("%s writes no AWS region: every aws-region is the one deploy-path read from the stack file", (file) => {
    expect(source(file)).not.toMatch(/\b(?:us|eu|ap|sa|ca|me|af|il|mx)(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d\b/);
    expect(source(file)).not.toMatch(/AWS_(?:DEFAULT_)?REGION/);
    for (const { job, step } of steps(workflow(file)).filter(({ step }) => step.uses?.startsWith("aws-actions/configure-aws-credentials"))) {
      expect(pathRead(step.with?.["aws-region"], "region"), `${file} ${job}`).toBeDefined();
    }
  });

  it.each(stackNames())("deploy-path reads stack %s's region from aws:region in its Pulumi.<stack>.yaml", async (stack) => {
    const file = parse(readFileSync(join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    expect(file.config["aws:region"]).toMatch(/^[a-z]{2}(-[a-z]+)+-\d$/);
    expect((await readDeployPath(stack, projectRoot)).region).toBe(file.config["aws:region"]);
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
    const outputs = Object.fromEntries(
      githubOutputs(paths)
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), JSON.parse(line.slice(line.indexOf("=") + 1))]),
    );
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
    // Every job that runs steps itself sets up Node (jobs that call stack.yml run none).
    const withSteps = Object.entries(workflow(file).jobs).filter(([, job]) => (job.steps ?? []).length > 0);
    expect(withSteps.length + stackCallers(file).length).toBeGreaterThan(0);
    for (const [name] of withSteps)
      expect(
        setups.some(({ job }) => job === name),
        `${file} ${name}`,
      ).toBe(true);
    for (const { job, step } of setups) {
      expect(step.with, `${file} ${job}`).not.toHaveProperty("node-version");
      expect(String(step.with?.["node-version-file"]), `${file} ${job}`).toMatch(/^(head\/)?\.node-version$/);
    }
  });

  // actions/setup-node v5.0.0: action.yml declares these inputs, and src/util.ts getNodeVersionFromFile reads a
  // version file that is not a JSON object with /^(?:node(js)?\s+)?v?(?<version>[^\s]+)$/m.
  const setupNodeInputs = [
    "always-auth",
    "node-version",
    "node-version-file",
    "architecture",
    "check-latest",
    "registry-url",
    "scope",
    "token",
    "cache",
    "package-manager-cache",
    "cache-dependency-path",
    "mirror",
    "mirror-token",
  ];

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
