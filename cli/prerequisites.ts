/**
 * What each task needs on the machine, how to tell whether it is there, and
 * how to get it: the table behind `npm run doctor`, and the checks commands
 * run before they start work that would otherwise fail half-way with a bare
 * `spawn pulumi ENOENT`.
 *
 * Checks look only at the machine (PATH, environment, files); none calls AWS
 * or Pulumi Cloud, so doctor answers offline and quickly. A found credential
 * source is not proof that the credentials are valid.
 */
import { accessSync, constants as fsConstants, existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import { PrerequisiteError } from "./command";

/** The tasks doctor knows, each the prerequisites it cannot do without. */
export const tasks = {
  test: ["node", "prometheus", "promtool", "amtool"],
  synth: ["node"],
  verify: ["node", "prometheus"],
  simulate: ["node"],
  bench: ["node", "prometheus", "promtool"],
  deploy: ["node", "pulumi", "pulumi-login", "aws-cli", "aws-credentials"],
  "test-stack": ["node", "pulumi", "pulumi-login", "aws-cli", "aws-credentials"],
  leaks: ["node", "aws-cli", "aws-credentials"],
  kubectl: ["kubectl", "aws-cli", "aws-credentials"],
  previews: ["node", "prometheus", "promtool", "chromium"],
} as const satisfies Record<string, readonly PrerequisiteName[]>;
export type Task = keyof typeof tasks;
export const taskNames = Object.keys(tasks) as Task[];

export type PrerequisiteName = "node" | "prometheus" | "promtool" | "amtool" | "pulumi" | "pulumi-login" | "aws-cli" | "aws-credentials" | "kubectl" | "chromium";

/** What a check sees of the machine; tests pass their own. */
export interface Machine {
  env: Readonly<Record<string, string | undefined>>;
  nodeVersion: string;
  home: string;
  /** Whether a file exists (credential files). */
  exists: (path: string) => boolean;
}

export function currentMachine(): Machine {
  return { env: process.env, nodeVersion: process.versions.node, home: homedir(), exists: existsSync };
}

export type CheckStatus = "ok" | "warn" | "missing";
export interface CheckResult {
  name: PrerequisiteName;
  status: CheckStatus;
  /** What was found, or what is wrong. */
  detail: string;
  /** How to get it (empty when ok). */
  fix: string;
}

/** Absolute path of an executable found on the machine's PATH. */
export function findOnPath(name: string, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "" || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/**
 * Node versions: `supported` is what package.json `engines` claims (the LTS
 * lines CI runs); `minimum` is the oldest release the test suite is known to
 * pass on (20.19, the floor vite and rolldown declare). In between, things
 * work but the line is past its end of life.
 */
export const nodeVersions = { supported: "22.12.0", minimum: "20.19.0" } as const;

export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, "").split(".").map(Number);
  const pb = b.replace(/^v/, "").split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const nodeFix = "install a current Node.js LTS (24 or 26) from https://nodejs.org/ or your package manager; CI uses the version in .github/workflows";

function checkNode(m: Machine): CheckResult {
  const v = m.nodeVersion;
  if (compareVersions(v, nodeVersions.supported) >= 0) return { name: "node", status: "ok", detail: `Node.js ${v}`, fix: "" };
  if (compareVersions(v, nodeVersions.minimum) >= 0) {
    return { name: "node", status: "warn", detail: `Node.js ${v} runs the tests but is outside engines (>=${nodeVersions.supported}): its line is past end of life`, fix: nodeFix };
  }
  return { name: "node", status: "missing", detail: `Node.js ${v} is older than ${nodeVersions.minimum}, the oldest the tools run on`, fix: nodeFix };
}

function executable(name: PrerequisiteName, binary: string, fix: string, alternatives: readonly string[] = []) {
  return (m: Machine): CheckResult => {
    for (const candidate of [binary, ...alternatives]) {
      const path = findOnPath(candidate, m.env);
      if (path) return { name, status: "ok", detail: path, fix: "" };
    }
    return { name, status: "missing", detail: `${[binary, ...alternatives].join(" / ")} not found on PATH`, fix };
  };
}

function checkAwsCredentials(m: Machine): CheckResult {
  const e = m.env;
  const sources: string[] = [];
  if (e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY) sources.push("AWS_ACCESS_KEY_ID");
  if (e.AWS_WEB_IDENTITY_TOKEN_FILE && e.AWS_ROLE_ARN) sources.push("web identity (AWS_ROLE_ARN)");
  if (e.AWS_CONTAINER_CREDENTIALS_FULL_URI || e.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) sources.push("container credentials");
  if (e.AWS_PROFILE) sources.push(`profile ${e.AWS_PROFILE}`);
  const files = [e.AWS_SHARED_CREDENTIALS_FILE ?? join(m.home, ".aws", "credentials"), e.AWS_CONFIG_FILE ?? join(m.home, ".aws", "config")];
  for (const f of files) if (m.exists(f)) sources.push(f);
  if (sources.length > 0)
    return { name: "aws-credentials", status: "ok", detail: `credential source: ${sources.join(", ")} (not validated; \`aws sts get-caller-identity\` does)`, fix: "" };
  return {
    name: "aws-credentials",
    status: "missing",
    detail: "no AWS credential source (environment variables, AWS_PROFILE, ~/.aws/credentials or ~/.aws/config)",
    fix: "`aws configure sso` (or `aws configure`); CI assumes a role through OIDC (aws-actions/configure-aws-credentials)",
  };
}

function checkPulumiLogin(m: Machine): CheckResult {
  if (m.env.PULUMI_ACCESS_TOKEN) return { name: "pulumi-login", status: "ok", detail: "PULUMI_ACCESS_TOKEN is set", fix: "" };
  if (m.env.PULUMI_BACKEND_URL) return { name: "pulumi-login", status: "ok", detail: `PULUMI_BACKEND_URL=${m.env.PULUMI_BACKEND_URL}`, fix: "" };
  const credentials = join(m.env.PULUMI_HOME ?? join(m.home, ".pulumi"), "credentials.json");
  if (m.exists(credentials)) return { name: "pulumi-login", status: "ok", detail: credentials, fix: "" };
  return { name: "pulumi-login", status: "missing", detail: "not logged in to a Pulumi backend", fix: "`pulumi login` (or set PULUMI_ACCESS_TOKEN)" };
}

const checks: Record<PrerequisiteName, (m: Machine) => CheckResult> = {
  node: checkNode,
  prometheus: executable("prometheus", "prometheus", "`apt-get install prometheus` (Debian)"),
  promtool: executable("promtool", "promtool", "`apt-get install prometheus` (Debian; promtool comes with it)"),
  amtool: executable("amtool", "amtool", "`apt-get install prometheus-alertmanager` (Debian)"),
  pulumi: executable(
    "pulumi",
    "pulumi",
    "install the Pulumi CLI: https://www.pulumi.com/docs/install/ (`curl -fsSL https://get.pulumi.com | sh`); in CI, pulumi/actions installs it",
  ),
  "pulumi-login": checkPulumiLogin,
  "aws-cli": executable(
    "aws-cli",
    "aws",
    "install the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html (the kubeconfig runs `aws eks get-token`)",
  ),
  "aws-credentials": checkAwsCredentials,
  kubectl: executable("kubectl", "kubectl", "`apt-get install kubernetes-client` (Debian) or https://kubernetes.io/docs/tasks/tools/"),
  chromium: executable("chromium", "chromium", "`apt-get install chromium` (Debian)", ["chromium-browser", "google-chrome"]),
};

export function checkPrerequisite(name: PrerequisiteName, machine: Machine = currentMachine()): CheckResult {
  return checks[name](machine);
}

/** Tasks that need a prerequisite, for doctor's report. */
export function neededBy(name: PrerequisiteName): Task[] {
  return taskNames.filter((t) => (tasks[t] as readonly PrerequisiteName[]).includes(name));
}

export interface DoctorReport {
  task: Task;
  results: CheckResult[];
  /** Prerequisites of `task` that are missing. */
  blocking: CheckResult[];
}

/** Every prerequisite checked; only those `task` needs can block it. */
export function doctor(task: Task, machine: Machine = currentMachine()): DoctorReport {
  const results = (Object.keys(checks) as PrerequisiteName[]).map((n) => checks[n](machine));
  const needed = tasks[task] as readonly PrerequisiteName[];
  return { task, results, blocking: results.filter((r) => r.status === "missing" && needed.includes(r.name)) };
}

export function formatDoctor(report: DoctorReport): string {
  const needed = tasks[report.task] as readonly PrerequisiteName[];
  const rows = report.results.map((r) => {
    const mark = r.status === "ok" ? "ok" : r.status === "warn" ? "warn" : needed.includes(r.name) ? "MISSING" : "missing";
    return { mark, name: r.name, text: `${r.detail}${r.fix ? ` — ${r.fix}` : ""}${r.status === "ok" ? "" : ` [needed for: ${neededBy(r.name).join(", ")}]`}` };
  });
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `${r.mark.padEnd(8)}${r.name.padEnd(width + 2)}${r.text}`);
  const verdict = report.blocking.length === 0 ? `ready for ${report.task}` : `not ready for ${report.task}: missing ${report.blocking.map((b) => b.name).join(", ")}`;
  return [`prerequisites (checked for task: ${report.task}; MISSING blocks it, missing does not)`, ...lines, verdict].join("\n");
}

/**
 * For commands: throws a {@link PrerequisiteError} naming the first missing
 * prerequisite of `names` and how to get it.
 */
export function requirePrerequisites(names: readonly PrerequisiteName[], machine: Machine = currentMachine()): void {
  for (const name of names) {
    const result = checks[name](machine);
    if (result.status === "missing") throw new PrerequisiteError(`${result.detail}; ${result.fix} (npm run doctor checks every prerequisite)`);
  }
}
