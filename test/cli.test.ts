import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeFailure, exitCodes, parseCommand, positiveInteger, PrerequisiteError, runCommand, UsageError, type CommandSpec, type RunIo } from "../cli/command";
import { compareVersions, doctor, formatDoctor, nodeVersions, requirePrerequisites, type Machine } from "../cli/prerequisites";
import { projectRoot, stackNames } from "../cli/stacks";

// ---------------------------------------------------------------------------
// The parser and the exit-code mapping, directly.

const spec = {
  name: "demo",
  synopsis: "<stack> [--out <dir>] [--json]",
  summary: "demo",
  options: { out: { type: "string" }, json: { type: "boolean" }, region: { type: "string", multiple: true } },
  positionals: [{ name: "stack", hint: () => "stacks: a, b" }],
} as const satisfies CommandSpec;

describe("parseCommand", () => {
  it.each([
    [["dev", "--bogus"], "unknown option --bogus"],
    [["dev", "-x"], "unknown option -x"],
    [["dev", "--out"], "--out needs a value"],
    [["dev", "--json=yes"], "--json takes no value"],
    [[], "missing <stack> (stacks: a, b)"],
    [["dev", "prod"], 'unexpected argument "prod"'],
  ])("%j is a usage error: %s", (argv, message) => {
    expect(() => parseCommand(spec, argv)).toThrow(new UsageError(message));
  });

  it("returns values, positionals and --help", () => {
    expect(parseCommand(spec, ["dev", "--out", "x", "--json", "--region", "a", "--region", "b"])).toEqual({
      values: { out: "x", json: true, region: ["a", "b"] },
      positionals: ["dev"],
      help: false,
    });
    // --help wins over a missing positional, so `npm run synth -- --help` works.
    expect(parseCommand(spec, ["-h"]).help).toBe(true);
  });

  it.each([
    ["3", 3],
    [undefined, undefined],
  ])("positiveInteger(%j) is %j", (value, expected) => expect(positiveInteger("nodes", value)).toBe(expected));

  it.each(["0", "-1", "1.5", "x", "", "1e3"])("positiveInteger rejects %j", (value) => {
    expect(() => positiveInteger("nodes", value)).toThrow(new UsageError(`--nodes takes a positive integer, got ${JSON.stringify(value)}`));
  });
});

describe("exit codes", () => {
  const configError = Object.assign(new Error("Invalid stack configuration (1 problem):\n  - infermesh:x: bad"), { name: "ConfigError" });
  it.each([
    [new UsageError("unknown option --x"), exitCodes.usage, "demo: unknown option --x; usage: npm run demo -- <stack> [--out <dir>] [--json]"],
    [new PrerequisiteError("pulumi not found on PATH; install it"), exitCodes.prerequisite, "demo: pulumi not found on PATH; install it"],
    [configError, exitCodes.usage, "demo: Invalid stack configuration (1 problem):\n  - infermesh:x: bad"],
    [new Error("pulumi up failed"), exitCodes.failed, "demo: pulumi up failed"],
  ])("%s exits %i", (err, code, message) => {
    expect(describeFailure(spec, err)).toEqual({ code, message });
  });

  it("adds the stack trace of an unexpected error only when asked to", () => {
    expect(describeFailure(spec, new Error("boom"), true).message).toMatch(/^demo: boom\nError: boom\n\s+at /);
  });

  it("runCommand exits with main's code, or the failure's, and prints --help on stdout", async () => {
    const io = (argv: string[]) => {
      const out: { stdout: string[]; stderr: string[]; code?: number } = { stdout: [], stderr: [] };
      const value: RunIo = { argv, stdout: (t) => out.stdout.push(t), stderr: (t) => out.stderr.push(t), exit: (c) => (out.code = c), debug: false };
      return { out, value };
    };
    const ok = io(["dev"]);
    await runCommand(spec, () => 1, ok.value);
    expect(ok.out).toEqual({ stdout: [], stderr: [], code: 1 });
    const bad = io(["dev", "--nope"]);
    await runCommand(spec, () => 0, bad.value);
    expect(bad.out).toEqual({ stdout: [], stderr: ["demo: unknown option --nope; usage: npm run demo -- <stack> [--out <dir>] [--json]"], code: 2 });
    const help = io(["--help"]);
    await runCommand(spec, () => 1, help.value);
    expect(help.out.code).toBe(0);
    expect(help.out.stdout[0]?.split("\n")[0]).toBe("usage: npm run demo -- <stack> [--out <dir>] [--json]");
  });
});

// ---------------------------------------------------------------------------
// Prerequisites, against machines described in the test.

const machine = (over: Partial<Machine> = {}): Machine => ({ env: { PATH: "" }, nodeVersion: "24.11.0", home: "/home/u", exists: () => false, ...over });

describe("doctor", () => {
  it.each([
    ["26.1.0", "ok"],
    ["22.12.0", "ok"],
    ["22.11.0", "warn"],
    ["20.20.2", "warn"],
    ["20.18.3", "missing"],
    ["18.20.0", "missing"],
  ])("Node.js %s is %s", (nodeVersion, status) => {
    expect(doctor("synth", machine({ nodeVersion })).results.find((r) => r.name === "node")?.status).toBe(status);
  });

  it("compares versions numerically", () => {
    expect([compareVersions("22.12.0", "22.9.9"), compareVersions("v20.19.0", nodeVersions.minimum), compareVersions("9.0.0", "10.0.0")]).toEqual([1, 0, -1]);
  });

  it("blocks a task only on what that task needs", () => {
    const bare = machine();
    expect(doctor("synth", bare).blocking).toEqual([]);
    expect(doctor("test", bare).blocking.map((b) => b.name)).toEqual(["prometheus", "promtool", "amtool"]);
    expect(doctor("deploy", bare).blocking.map((b) => b.name)).toEqual(["pulumi", "pulumi-login", "aws-cli", "aws-credentials"]);
    expect(doctor("previews", bare).blocking.map((b) => b.name)).toEqual(["prometheus", "promtool", "chromium"]);
  });

  it("finds executables on PATH and credential sources in the environment and home", () => {
    // A PATH holding node alone, whatever else this machine has installed.
    const bin = mkdtempSync(join(tmpdir(), "infermesh-path-"));
    symlinkSync(process.execPath, join(bin, "node"));
    const m = machine({
      env: { PATH: `relative/dir:${bin}`, AWS_PROFILE: "oncall", PULUMI_ACCESS_TOKEN: "x" },
      exists: (p) => p === "/home/u/.aws/config",
    });
    const byName = Object.fromEntries(doctor("deploy", m).results.map((r) => [r.name, r]));
    expect(byName["aws-credentials"]).toMatchObject({
      status: "ok",
      detail: "credential source: profile oncall, /home/u/.aws/config (not validated; `aws sts get-caller-identity` does)",
    });
    expect(byName["pulumi-login"]).toMatchObject({ status: "ok", detail: "PULUMI_ACCESS_TOKEN is set" });
    expect(byName.pulumi).toMatchObject({ status: "missing", detail: "pulumi not found on PATH" });
    expect(byName.chromium?.fix).toContain("apt-get install chromium");
  });

  it("reports what blocks the task, marked upper case, and what does not", () => {
    const text = formatDoctor(doctor("leaks", machine()));
    expect(text.split("\n")[0]).toBe("prerequisites (checked for task: leaks; MISSING blocks it, missing does not)");
    expect(text).toMatch(/^MISSING aws-cli\s+aws not found on PATH — install the AWS CLI v2/m);
    expect(text).toMatch(/^missing pulumi\s+pulumi not found on PATH/m);
    expect(text.split("\n").at(-1)).toBe("not ready for leaks: missing aws-cli, aws-credentials");
  });

  it("lets commands refuse early with how to get what is missing", () => {
    expect(() => requirePrerequisites(["pulumi"], machine())).toThrow(PrerequisiteError);
    expect(() => requirePrerequisites(["pulumi"], machine())).toThrow(
      /^pulumi not found on PATH; install the Pulumi CLI: https:\/\/www\.pulumi\.com\/docs\/install\/.*\(npm run doctor checks every prerequisite\)$/,
    );
    expect(() => requirePrerequisites(["node"], machine())).not.toThrow();
  });
});

// ---------------------------------------------------------------------------
// The real entry points, as `npm run <command>` starts them (node --import tsx).

const scratch = mkdtempSync(join(tmpdir(), "infermesh-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const preload = join(projectRoot, "test", "helpers", "loadedModules.cjs");
let spawned = 0;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  /** Files the command had loaded when it exited. */
  loaded: string[];
}

function command(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const loadedFile = join(scratch, `loaded-${++spawned}.json`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "-r", preload, script, ...args],
      { cwd: projectRoot, env: { ...process.env, INFERMESH_LOADED_MODULES: loadedFile, ...env } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ code, stdout, stderr, loaded: JSON.parse(readFileSync(loadedFile, "utf8")) as string[] });
      },
    );
  });
}

const stacks = stackNames().join(", ");
const usage = {
  synth: "usage: npm run synth -- <stack> [--out <dir>] [--root <dir>]",
  verify: "usage: npm run verify -- <stack> [--nodes N] [--gpus G] [--routers R] [--root <dir>] [--json]",
  simulate: "usage: npm run simulate -- [--stack dev] [--nodes N] [--gpus G] [--routers R] [--scenario <name>] [--port-base P]",
  bench: "usage: npm run bench -- [--only mock,dcgm,fleet] [--scale default|small|full] [--hours H] [--runs N] [--reps N] [--step S] [--max-samples N] [--part-mb N] [--out FILE]",
  "test-stack": "usage: npm run test-stack -- up <name> [--hours N] | destroy <name> | list | sweep   [--org <org>]",
  leaks: "usage: npm run leaks -- <stack> [--cluster <name>] [--region <region>]...",
  doctor: "usage: npm run doctor -- [--for test|synth|verify|simulate|bench|deploy|test-stack|leaks|kubectl|previews]",
  "deploy-path": "usage: npm run deploy-path -- <stack>... [--github-output <file>]",
};

/** Per command: an unknown flag, an unknown stack (or the command's nearest equivalent), a missing argument. */
const usageCases: Array<[keyof typeof usage, string, string[], string]> = [
  ["synth", "scripts/synth.ts", ["dev", "--bogus"], "unknown option --bogus"],
  ["synth", "scripts/synth.ts", ["nope"], `no stack "nope" (no Pulumi.nope.yaml); stacks: ${stacks}`],
  ["synth", "scripts/synth.ts", [], `missing <stack> (stacks: ${stacks})`],
  ["verify", "scripts/verify.ts", ["dev", "--bogus"], "unknown option --bogus"],
  ["verify", "scripts/verify.ts", ["nope"], `no stack "nope" (no Pulumi.nope.yaml); stacks: ${stacks}`],
  ["verify", "scripts/verify.ts", [], `missing <stack> (stacks: ${stacks})`],
  ["verify", "scripts/verify.ts", ["dev", "--nodes", "0"], '--nodes takes a positive integer, got "0"'],
  ["simulate", "scripts/simulate.ts", ["--bogus"], "unknown option --bogus"],
  ["simulate", "scripts/simulate.ts", ["--stack", "nope"], `no stack "nope" (no Pulumi.nope.yaml); stacks: ${stacks}`],
  ["simulate", "scripts/simulate.ts", ["--stack"], "--stack needs a value"],
  ["bench", "scripts/bench.ts", ["--bogus"], "unknown option --bogus"],
  ["bench", "scripts/bench.ts", ["--only", "gpu"], '--only takes mock, dcgm, fleet; got "gpu"'],
  ["bench", "scripts/bench.ts", ["--runs"], "--runs needs a value"],
  ["test-stack", "scripts/testStack.ts", ["up", "x", "--bogus"], "unknown option --bogus"],
  ["test-stack", "scripts/testStack.ts", ["up", "Bad_Name"], `invalid test stack name "Bad_Name": use lowercase letters, digits and '-' (at most 40), e.g. pr-123`],
  ["test-stack", "scripts/testStack.ts", [], "missing <command> (commands: up, destroy, list, sweep)"],
  ["test-stack", "scripts/testStack.ts", ["destroy"], "destroy needs <name>, e.g. pr-123"],
  ["leaks", "scripts/leaks.ts", ["test-x", "--bogus"], "unknown option --bogus"],
  ["leaks", "scripts/leaks.ts", ["nope"], `no stack "nope": not a Pulumi.<stack>.yaml here nor a test stack test-<name>; stacks: ${stacks}`],
  ["leaks", "scripts/leaks.ts", [], `missing <stack> (stacks: ${stacks}, or test-<name>)`],
  ["doctor", "scripts/doctor.ts", ["--bogus"], "unknown option --bogus"],
  ["doctor", "scripts/doctor.ts", ["--for", "nope"], '--for "nope" is not one of test, synth, verify, simulate, bench, deploy, test-stack, leaks, kubectl, previews'],
  ["doctor", "scripts/doctor.ts", ["--for"], "--for needs a value"],
  ["deploy-path", "scripts/deployPath.ts", ["dev", "--bogus"], "unknown option --bogus"],
  ["deploy-path", "scripts/deployPath.ts", ["dev", "nope"], `no stack "nope" (no Pulumi.nope.yaml); stacks: ${stacks}`],
  ["deploy-path", "scripts/deployPath.ts", [], `missing <stack> (stacks: ${stacks})`],
];

describe("every command's usage errors", () => {
  it.each(usageCases)("%s %j: one line with the fix, exit 2, before loading the program", async (name, script, args, problem) => {
    const result = await command(script, args);
    expect(result.stderr).toBe(`${name}: ${problem}; ${usage[name]}\n`);
    expect(result.stdout).toBe("");
    expect(result.code).toBe(exitCodes.usage);
    // Parsed and checked before the heavy imports: nothing of Pulumi or the program was loaded.
    expect(result.loaded.filter((f) => /node_modules\/@pulumi\/|\/components\/|\/dashboards\//.test(f))).toEqual([]);
  });

  it.each(Object.keys(usage) as Array<keyof typeof usage>)("%s --help prints its usage and exits 0", async (name) => {
    const script = usageCases.find(([n]) => n === name)?.[1] as string;
    const result = await command(script, ["--help"]);
    expect([result.code, result.stdout.split("\n")[0], result.stderr]).toEqual([0, usage[name], ""]);
  });
});

describe("missing prerequisites", () => {
  // A PATH with node on it and nothing else (the system's bin directory may hold prometheus, aws, …).
  const bin = join(scratch, "node-only");
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, "node"));
  const nodeOnly = { PATH: bin };

  it("test-stack without the Pulumi CLI says how to install it and exits 3", async () => {
    const result = await command("scripts/testStack.ts", ["list"], nodeOnly);
    expect(result.stderr).toBe(
      "test-stack: pulumi not found on PATH; install the Pulumi CLI: https://www.pulumi.com/docs/install/ (`curl -fsSL https://get.pulumi.com | sh`); in CI, pulumi/actions installs it (npm run doctor checks every prerequisite)\n",
    );
    expect(result.code).toBe(exitCodes.prerequisite);
  });

  it("leaks without the AWS CLI exits 3", async () => {
    const result = await command("scripts/leaks.ts", ["test-x", "--region", "us-west-2"], nodeOnly);
    expect(result.stderr).toMatch(/^leaks: aws not found on PATH; install the AWS CLI v2: /);
    expect(result.code).toBe(exitCodes.prerequisite);
  });

  it("doctor fails a task whose needs are missing, and passes one whose needs are there", async () => {
    const test = await command("scripts/doctor.ts", ["--for", "test"], nodeOnly);
    expect(test.code).toBe(exitCodes.failed);
    expect(test.stdout.trim().split("\n").at(-1)).toBe("not ready for test: missing prometheus, promtool, amtool");
    const synth = await command("scripts/doctor.ts", ["--for", "synth"], nodeOnly);
    expect(synth.code).toBe(exitCodes.ok);
    expect(synth.stdout.trim().split("\n").at(-1)).toBe("ready for synth");
  });
});
