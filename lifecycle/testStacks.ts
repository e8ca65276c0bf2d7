/**
 * Short-lived test stacks (`test-<name>`): create from the `Pulumi.test.yaml`
 * template with an expiry, destroy and remove, list, and sweep the expired
 * ones. Pulumi is reached only through {@link StackWorkspace} (the Automation
 * API in production, a fake in tests) and Pulumi Cloud's TTL schedules only
 * through {@link TtlScheduler}.
 *
 * Expiry is read from the stack's config (`infermesh:expiresAt`) and, because
 * CI runners do not keep `Pulumi.test-<name>.yaml` between jobs, from the
 * deployed state: the AWS provider's `expires-at` default tag, which the
 * program derives from that config and the policy pack requires.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import type { Stack } from "@pulumi/pulumi/automation";

export const testStackPrefix = "test-";
/** The stack file every test stack's config is copied from. */
export const templateStackFile = "Pulumi.test.yaml";
export const expiresAtKey = "infermesh:expiresAt";
export const environmentKey = "infermesh:environment";
export const expiresAtTag = "expires-at";
export const defaultHours = 24;
/** A GPU cluster left up for more than a week is not a test any more. */
export const maxHours = 168;

export interface ConfigValue {
  value: string;
  secret?: boolean;
}
export type ConfigMap = Record<string, ConfigValue>;

export interface OperationResult {
  /** `succeeded`, `failed`, … as the engine reports it. */
  result: string;
}

/** A resource of the stack's deployed state. */
export interface StateResource {
  urn: string;
  type: string;
  inputs?: Record<string, unknown>;
}

export interface StackListing {
  name: string;
  lastUpdate?: string;
  resourceCount?: number;
  updateInProgress?: boolean;
}

/** One stack of the project, as the orchestration needs it. */
export interface ManagedStack {
  readonly name: string;
  getAllConfig(): Promise<ConfigMap>;
  setAllConfig(config: ConfigMap): Promise<void>;
  up(options: { onOutput: (text: string) => void }): Promise<OperationResult>;
  destroy(options: { onOutput: (text: string) => void }): Promise<OperationResult>;
  /** Resources in the stack's state (empty for a stack never deployed). */
  resources(): Promise<StateResource[]>;
}

/** The project's Pulumi workspace: the boundary tests replace. */
export interface StackWorkspace {
  createOrSelectStack(name: string): Promise<ManagedStack>;
  /** `undefined` when no such stack exists. */
  selectStack(name: string): Promise<ManagedStack | undefined>;
  listStacks(): Promise<StackListing[]>;
  /** Removes the stack and its config (what `pulumi destroy --remove` does after the destroy). */
  removeStack(name: string): Promise<void>;
}

/** Pulumi Cloud's second safety net: a Deployments TTL schedule that destroys the stack at expiry. */
export interface TtlScheduler {
  /** Returns a line describing what was scheduled. */
  schedule(request: { stack: string; expiresAt: string }): Promise<string>;
}

export interface LifecycleDeps {
  workspace: StackWorkspace;
  /** Config of the template stack, as `setAllConfig` takes it. */
  templateConfig: () => ConfigMap;
  now: () => Date;
  log: (line: string) => void;
  /** Engine output (up/destroy progress). */
  output?: (text: string) => void;
  /** Set only when the backend is Pulumi Cloud. */
  ttl?: TtlScheduler;
}

export class RefusedError extends Error {
  override readonly name = "RefusedError";
}

const shortNamePattern = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

/** The stack name without an `org/` or `org/project/` qualifier. */
export function bareStackName(name: string): string {
  return name.split("/").pop() ?? name;
}

export function isTestStackName(name: string): boolean {
  return bareStackName(name).startsWith(testStackPrefix);
}

/** `pr-12` → `test-pr-12`; a name that already carries the prefix is kept. */
export function testStackName(name: string): string {
  const bare = bareStackName(name);
  const short = bare.startsWith(testStackPrefix) ? bare.slice(testStackPrefix.length) : bare;
  if (!shortNamePattern.test(short)) {
    throw new RefusedError(`invalid test stack name ${JSON.stringify(name)}: use lowercase letters, digits and '-' (at most 40), e.g. pr-123`);
  }
  return name.slice(0, name.length - bare.length) + testStackPrefix + short;
}

/** ISO-8601 UTC without milliseconds, the form `infermesh:expiresAt` and the tag use. */
export function expiryAfter(now: Date, hours: number): string {
  if (!Number.isFinite(hours) || hours <= 0 || hours > maxHours) {
    throw new RefusedError(`--hours must be a number in (0, ${maxHours}]; got ${hours}`);
  }
  return new Date(now.getTime() + hours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The template stack file as a config map: structured values as JSON text (as
 * the program decodes them). Encrypted values are refused: they belong to the
 * template stack's secrets provider and cannot be copied.
 */
export function readTemplateConfig(root: string): ConfigMap {
  const file = join(root, templateStackFile);
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: ConfigMap = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (JSON.stringify(value ?? null).includes('"secure"')) {
      throw new RefusedError(`${file}: ${key} holds an encrypted value, which cannot be copied into another stack; set it on the test stack instead`);
    }
    config[key] = { value: typeof value === "string" ? value : JSON.stringify(value) };
  }
  return config;
}

/** The `environment` and `expires-at` default tags of the AWS providers in a stack's state. */
export function stateTags(resources: readonly StateResource[]): { environment?: string; expiresAt?: string } {
  for (const r of resources) {
    if (r.type !== "pulumi:providers:aws") continue;
    const raw = r.inputs?.defaultTags;
    let parsed: unknown = raw;
    if (typeof raw === "string") {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
    }
    const tags = (parsed as { tags?: Record<string, unknown> } | undefined)?.tags ?? {};
    const environment = typeof tags.environment === "string" ? tags.environment : undefined;
    const expiresAt = typeof tags[expiresAtTag] === "string" ? (tags[expiresAtTag] as string) : undefined;
    if (environment !== undefined || expiresAt !== undefined) return { environment, expiresAt };
  }
  return {};
}

export interface UpResult {
  stack: string;
  expiresAt: string;
  /** False when an existing stack kept the expiry it already had. */
  newExpiry: boolean;
  ttl?: string;
}

/**
 * `test-stack up <name> [--hours N]`: the template's config with an expiry, a
 * TTL schedule on Pulumi Cloud, then `up`. Updating an existing, unexpired
 * test stack keeps its expiry unless `--hours` is given, so pushes to a pull
 * request do not keep a cluster alive forever and the TTL schedule (which is
 * created, never moved) stays in step with the tag.
 */
export async function upTestStack(deps: LifecycleDeps, name: string, options: { hours?: number } = {}): Promise<UpResult> {
  const stackName = testStackName(name);
  const now = deps.now();
  const requested = options.hours === undefined ? undefined : expiryAfter(now, options.hours);
  const template = deps.templateConfig();
  if (template[environmentKey]?.value !== "ephemeral") {
    throw new RefusedError(`${templateStackFile} must set ${environmentKey}: ephemeral (got ${JSON.stringify(template[environmentKey]?.value)})`);
  }

  const stack = await deps.workspace.createOrSelectStack(stackName);
  const current = await stack.getAllConfig();
  const deployed = stateTags(await stack.resources());
  for (const [source, environment] of [
    ["config", current[environmentKey]?.value],
    ["deployed state", deployed.environment],
  ] as const) {
    if (environment !== undefined && environment !== "ephemeral") {
      throw new RefusedError(`refusing to reuse ${stackName}: its ${source} says environment ${environment}, not ephemeral`);
    }
  }
  const kept = requested === undefined ? (current[expiresAtKey]?.value ?? deployed.expiresAt) : undefined;
  const keep = kept !== undefined && Date.parse(kept) > now.getTime();
  const expiresAt = requested ?? (keep ? kept : expiryAfter(now, defaultHours));

  await stack.setAllConfig({ ...template, [expiresAtKey]: { value: expiresAt } });
  deps.log(`${stackName}: config copied from ${templateStackFile}, ${expiresAtKey}=${expiresAt}${keep ? " (kept)" : ""}`);

  // Scheduled before `up`, so a deployment that fails half-way is still torn down at expiry.
  let ttl: string | undefined;
  if (deps.ttl && !keep) {
    try {
      ttl = await deps.ttl.schedule({ stack: stackName, expiresAt });
      deps.log(`${stackName}: ${ttl}`);
    } catch (err) {
      // The expires-at tag and the scheduled sweep still catch the stack; the backstop must not block the test.
      deps.log(`${stackName}: warning: no Pulumi Cloud TTL schedule: ${errorText(err)}`);
    }
  }

  const result = await stack.up({ onOutput: deps.output ?? (() => {}) });
  if (result.result !== "succeeded") throw new Error(`${stackName}: up ${result.result}`);
  deps.log(`${stackName}: up succeeded; expires at ${expiresAt}`);
  return { stack: stackName, expiresAt, newExpiry: !keep, ...(ttl ? { ttl } : {}) };
}

export interface DestroyResult {
  stack: string;
  /** False when there was no such stack. */
  existed: boolean;
}

/**
 * `test-stack destroy <name>`: destroys every resource, then removes the stack
 * (`--remove`). Refuses anything not named `test-*`, and any stack whose config
 * or deployed state says it is not ephemeral, or whose state has resources but
 * nothing proving it is ephemeral.
 */
export async function destroyTestStack(deps: LifecycleDeps, stackName: string): Promise<DestroyResult> {
  if (!isTestStackName(stackName)) {
    throw new RefusedError(`refusing to destroy ${stackName}: only test stacks (named ${testStackPrefix}*) are destroyed by this tool`);
  }
  const stack = await deps.workspace.selectStack(stackName);
  if (!stack) {
    deps.log(`${stackName}: no such stack; nothing to destroy`);
    return { stack: stackName, existed: false };
  }
  const configured = (await stack.getAllConfig())[environmentKey]?.value;
  const state = await stack.resources();
  const deployed = stateTags(state).environment;
  for (const [source, environment] of [
    ["config", configured],
    ["deployed state", deployed],
  ] as const) {
    if (environment !== undefined && environment !== "ephemeral") {
      throw new RefusedError(`refusing to destroy ${stackName}: its ${source} says environment ${environment}, not ephemeral`);
    }
  }
  if (configured === undefined && deployed === undefined && state.length > 0) {
    throw new RefusedError(`refusing to destroy ${stackName}: ${state.length} resources but neither config nor state shows environment ephemeral`);
  }

  deps.log(`${stackName}: destroying ${state.length} resources`);
  const result = await stack.destroy({ onOutput: deps.output ?? (() => {}) });
  // A failed destroy keeps the stack, so its state still lists what is left to clean up.
  if (result.result !== "succeeded") throw new Error(`${stackName}: destroy ${result.result}; the stack is kept for another attempt`);
  await deps.workspace.removeStack(stackName);
  deps.log(`${stackName}: destroyed and removed`);
  return { stack: stackName, existed: true };
}

export interface TestStackInfo {
  name: string;
  expiresAt?: string;
  /** Where the expiry came from. */
  source?: "config" | "state";
  status: "active" | "expired" | "unknown";
  resourceCount?: number;
  lastUpdate?: string;
  updateInProgress?: boolean;
}

/** `test-stack list`: every `test-*` stack with its expiry. */
export async function listTestStacks(deps: LifecycleDeps): Promise<TestStackInfo[]> {
  const now = deps.now().getTime();
  const infos: TestStackInfo[] = [];
  for (const listing of await deps.workspace.listStacks()) {
    if (!isTestStackName(listing.name)) continue;
    const stack = await deps.workspace.selectStack(listing.name);
    const configured = stack ? (await stack.getAllConfig())[expiresAtKey]?.value : undefined;
    const deployed = stack && configured === undefined ? stateTags(await stack.resources()).expiresAt : undefined;
    const expiresAt = configured ?? deployed;
    const at = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
    infos.push({
      name: listing.name,
      ...(expiresAt !== undefined ? { expiresAt, source: configured !== undefined ? ("config" as const) : ("state" as const) } : {}),
      status: Number.isNaN(at) ? "unknown" : at <= now ? "expired" : "active",
      ...(listing.resourceCount !== undefined ? { resourceCount: listing.resourceCount } : {}),
      ...(listing.lastUpdate !== undefined ? { lastUpdate: listing.lastUpdate } : {}),
      ...(listing.updateInProgress ? { updateInProgress: true } : {}),
    });
  }
  return infos.sort((a, b) => a.name.localeCompare(b.name));
}

export interface SweepResult {
  destroyed: string[];
  failed: Array<{ stack: string; error: string }>;
  /** Test stacks whose expiry could not be read; a person has to look at them. */
  unknown: string[];
  active: string[];
}

/** `test-stack sweep`: destroys every expired test stack; one failure does not stop the others. */
export async function sweepExpiredTestStacks(deps: LifecycleDeps): Promise<SweepResult> {
  const result: SweepResult = { destroyed: [], failed: [], unknown: [], active: [] };
  for (const info of await listTestStacks(deps)) {
    if (info.status === "unknown") {
      result.unknown.push(info.name);
      continue;
    }
    // An update in progress holds the stack's lock; the next sweep gets it.
    if (info.status === "active" || info.updateInProgress) {
      result.active.push(info.name);
      continue;
    }
    deps.log(`${info.name}: expired at ${info.expiresAt}`);
    try {
      await destroyTestStack(deps, info.name);
      result.destroyed.push(info.name);
    } catch (err) {
      result.failed.push({ stack: info.name, error: errorText(err) });
      deps.log(`${info.name}: sweep failed: ${errorText(err)}`);
    }
  }
  return result;
}

export function formatTestStacks(infos: readonly TestStackInfo[]): string {
  if (infos.length === 0) return "no test stacks";
  const rows = [
    ["STACK", "EXPIRES AT", "STATUS", "RESOURCES", "LAST UPDATE"],
    ...infos.map((i) => [
      i.name,
      i.expiresAt ? `${i.expiresAt} (${i.source})` : "-",
      i.updateInProgress ? `${i.status}, updating` : i.status,
      i.resourceCount === undefined ? "-" : String(i.resourceCount),
      i.lastUpdate ?? "-",
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------
// Production boundaries: the Automation API and Pulumi Cloud's REST API.

export interface AutomationOptions {
  workDir: string;
  /** Pulumi Cloud organization; stacks are addressed as `<org>/<stack>` when set. */
  organization?: string;
  /** Policy packs `up` runs with (the repository's `policy/` by default). */
  policyPacks?: string[];
}

/** {@link StackWorkspace} over the Automation API's LocalWorkspace for the program in `workDir`. */
export async function automationWorkspace(options: AutomationOptions): Promise<StackWorkspace> {
  const automation = await import("@pulumi/pulumi/automation");
  const workDir = resolve(options.workDir);
  const policyPacks = options.policyPacks ?? (existsSync(join(workDir, "policy", "PulumiPolicy.yaml")) ? [join(workDir, "policy")] : []);
  const qualified = (name: string) => (options.organization && !name.includes("/") ? `${options.organization}/${name}` : name);
  const workspace = await automation.LocalWorkspace.create({ workDir });

  const wrap = (stack: Stack, name: string): ManagedStack => ({
    name,
    getAllConfig: () => stack.getAllConfig(),
    setAllConfig: (config) => stack.setAllConfig(config),
    up: async ({ onOutput }) => ({ result: (await stack.up({ onOutput, policyPacks })).summary.result }),
    destroy: async ({ onOutput }) => ({ result: (await stack.destroy({ onOutput })).summary.result }),
    resources: async () => {
      const state = await stack.exportStack();
      const resources = ((state.deployment as { resources?: unknown[] } | undefined)?.resources ?? []) as StateResource[];
      return resources.map((r) => ({ urn: r.urn, type: r.type, ...(r.inputs ? { inputs: r.inputs } : {}) }));
    },
  });

  return {
    createOrSelectStack: async (name) => wrap(await automation.LocalWorkspace.createOrSelectStack({ stackName: qualified(name), workDir }), name),
    selectStack: async (name) => {
      try {
        return wrap(await automation.LocalWorkspace.selectStack({ stackName: qualified(name), workDir }), name);
      } catch (err) {
        if (err instanceof automation.StackNotFoundError) return undefined;
        throw err;
      }
    },
    listStacks: async () => (await workspace.listStacks({ all: false })).map((s) => ({ ...s, name: bareStackName(s.name) })),
    removeStack: (name) => workspace.removeStack(qualified(name)),
  };
}

export const pulumiCloudApi = "https://api.pulumi.com";

/**
 * The Pulumi Cloud API to schedule TTLs with, or `undefined` for another
 * backend: `PULUMI_BACKEND_URL` decides when set (app.pulumi.com / api.pulumi.com),
 * otherwise an access token means the default backend, Pulumi Cloud.
 */
export function pulumiCloudApiFor(env: NodeJS.ProcessEnv): string | undefined {
  const backend = env.PULUMI_BACKEND_URL;
  if (backend) return /^https:\/\/(app|api)\.pulumi\.com(\/|$)/.test(backend) ? pulumiCloudApi : undefined;
  return env.PULUMI_ACCESS_TOKEN ? pulumiCloudApi : undefined;
}

/** Deployment settings a TTL destroy runs with: where the program is, and how it gets AWS credentials. */
export interface DeploymentSettingsPatch {
  sourceContext: { git: { repoUrl: string; branch: string; repoDir?: string } };
  operationContext?: { oidc?: { aws?: { roleArn: string; sessionName: string } } };
}

/** Settings for TTL destroys from the CI environment, or `undefined` outside GitHub Actions. */
export function deploymentSettingsFromEnv(env: NodeJS.ProcessEnv): DeploymentSettingsPatch | undefined {
  if (!env.GITHUB_SERVER_URL || !env.GITHUB_REPOSITORY) return undefined;
  const roleArn = env.INFERMESH_TTL_AWS_ROLE_ARN;
  return {
    // Destroy does not run the program, so the default branch serves every PR's stack, even after its branch is deleted.
    sourceContext: { git: { repoUrl: `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}.git`, branch: `refs/heads/${env.INFERMESH_TTL_BRANCH ?? "main"}` } },
    ...(roleArn ? { operationContext: { oidc: { aws: { roleArn, sessionName: "infermesh-ttl-destroy" } } } } : {}),
  };
}

export interface PulumiCloudTtlOptions {
  api: string;
  token: string;
  organization: string;
  project: string;
  /** Written when the stack has no deployment settings; a TTL schedule needs them. */
  settings?: DeploymentSettingsPatch;
  fetch?: typeof fetch;
}

/** TTL schedules through Pulumi Cloud's REST API (`deleteAfterDestroy`, like `destroy --remove`). */
export function pulumiCloudTtl(options: PulumiCloudTtlOptions): TtlScheduler {
  const http = options.fetch ?? fetch;
  const headers = { Authorization: `token ${options.token}`, Accept: "application/vnd.pulumi+8", "Content-Type": "application/json" };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await http(`${options.api}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: response.status, text: await response.text() };
  };
  return {
    schedule: async ({ stack, expiresAt }) => {
      const base = `/api/stacks/${encodeURIComponent(options.organization)}/${encodeURIComponent(options.project)}/${encodeURIComponent(bareStackName(stack))}/deployments`;
      const current = await call("GET", `${base}/settings`);
      if (current.status === 404 || (current.status === 200 && current.text.trim() === "")) {
        if (!options.settings) throw new Error("the stack has no Pulumi Deployments settings, which a TTL schedule needs (run from GitHub Actions or configure them)");
        const patched = await call("POST", `${base}/settings`, options.settings);
        if (patched.status >= 300) throw new Error(`deployment settings: HTTP ${patched.status} ${patched.text}`);
      } else if (current.status >= 300) {
        throw new Error(`deployment settings: HTTP ${current.status} ${current.text}`);
      }
      const created = await call("POST", `${base}/ttl/schedules`, { timestamp: expiresAt, deleteAfterDestroy: true });
      if (created.status >= 300) throw new Error(`TTL schedule: HTTP ${created.status} ${created.text}`);
      return `Pulumi Cloud TTL schedule: destroy and delete ${options.organization}/${options.project}/${bareStackName(stack)} at ${expiresAt}`;
    },
  };
}
