/**
 * Runs the policy pack over an offline plan (`out/<stack>/plan.json`, written
 * by `npm run synth`) the way the policy engine would run it over a preview:
 * each resource through every resource policy with `ResourceValidationArgs`,
 * then the whole stack through every stack policy with `StackValidationArgs`.
 *
 * What differs from the engine, on purpose:
 * - props are the plan's inputs with secrets as `[secret]` (the engine hands
 *   validators plaintext), which is what lets `secrets-not-plaintext` work;
 *   the adapter passes it that marker through the policy's config;
 * - the plan has no unknowns (the mock runtime resolves every output), so
 *   nothing is reported as "can't run during preview";
 * - stack validation sees inputs too, where the engine passes outputs.
 *
 *   npx tsx policy/planAdapter.ts out/prod/plan.json [--config policy-config.json]
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import {
  unknownCheckingProxy,
  type EnforcementLevel,
  type Policies,
  type PolicyResource,
  type PolicyResourceOptions,
  type PolicyProviderResource,
  type ReportViolation,
  type ResourceValidation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type StackValidationArgs,
  type StackValidationPolicy,
} from "@pulumi/policy";
import type { Resource } from "@pulumi/pulumi";
import { exitCodes, runCommand, UsageError, type CommandSpec } from "../cli/command";
import type { Plan, PlanResource } from "../synth/plan";
import { secretMarker } from "../synth/runtime";
import { infermeshPolicies, packEnforcementLevel, policyNames } from "./policies";

/** Per-policy config as `--policy-pack-config` gives it: an enforcement level, or properties. */
export type PackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export interface Violation {
  policy: string;
  enforcementLevel: EnforcementLevel;
  message: string;
  /** The resource the violation is about; absent for a stack-wide finding. */
  urn?: string;
  type?: string;
  name?: string;
}

export interface NotApplicable {
  policy: string;
  reason: string;
  urn?: string;
}

export interface PlanCheckResult {
  stack: string;
  violations: Violation[];
  /** Stack policies that did not apply (e.g. the prod rule on a dev stack); resource type mismatches are not listed. */
  notApplicable: NotApplicable[];
}

export interface PlanCheckOptions {
  policies?: Policies;
  config?: PackConfig;
  /** Pulumi Cloud stack tags; the engine passes them, plan.json has none. */
  stackTags?: Record<string, string>;
}

/** Options the adapter knows that the engine does not: the plan's secret marker. */
function defaultConfig(): PackConfig {
  return { [policyNames.secrets]: { secretMarker } };
}

/** Extra options the plan records; the engine does not send them, so no policy relies on them. */
export interface PlanResourceOptions extends PolicyResourceOptions {
  dependsOn: string[];
  retainOnDelete: boolean;
  deletedWith?: string;
  provider?: string;
}

class NotApplicableSignal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function throwNotApplicable(reason?: string): never {
  throw new NotApplicableSignal(reason ?? "not applicable");
}

type ResourceClass = { new (...rest: any[]): Resource };

/** The type token a resource class registers (generated SDK classes carry it as `__pulumiType`). */
function pulumiTypeOf(cls: unknown): string | undefined {
  const token = (cls as { __pulumiType?: unknown } | undefined)?.__pulumiType;
  return typeof token === "string" && token.length > 0 ? token : undefined;
}

/** Same test as the policy server's: the class's type token, else its `isInstance`. */
function isTypeOf(type: string, cls: ResourceClass): boolean {
  const token = pulumiTypeOf(cls);
  if (token) return token === type;
  const isInstance = (cls as unknown as { isInstance?: (o: unknown) => boolean }).isInstance;
  return typeof isInstance === "function" && isInstance({ __pulumiType: type }) === true;
}

function enforcementLevelOf(policyName: string, declared: EnforcementLevel | undefined, config: PackConfig): EnforcementLevel {
  const entry = config[policyName];
  const configured = typeof entry === "string" ? entry : entry?.enforcementLevel;
  const level = configured ?? declared ?? packEnforcementLevel;
  // Remediations are not run offline; like the engine after remediating, report what is left as mandatory.
  return level === "remediate" ? "mandatory" : level;
}

/** `getConfig()` for one policy: its configured properties over the schema's defaults, without `enforcementLevel`. */
function configGetter(policy: ResourceValidationPolicy | StackValidationPolicy, config: PackConfig): <T extends object>() => T {
  const defaults = Object.fromEntries(
    Object.entries(policy.configSchema?.properties ?? {})
      .filter(([, schema]) => (schema as { default?: unknown }).default !== undefined)
      .map(([key, schema]) => [key, (schema as { default?: unknown }).default]),
  );
  const entry = config[policy.name];
  const { enforcementLevel: _level, ...properties } = typeof entry === "object" ? entry : {};
  return <T extends object>() => ({ ...defaults, ...properties }) as T;
}

/** Provider reference `<provider urn>::<id>` → the provider's URN. */
function providerUrn(reference: string): string {
  return reference.slice(0, reference.lastIndexOf("::"));
}

function propsOf(resource: PlanResource): Record<string, any> {
  const inputs = (resource.inputs ?? {}) as Record<string, unknown>;
  return unknownCheckingProxy(JSON.parse(JSON.stringify(inputs))) as Record<string, any>;
}

function optionsOf(resource: PlanResource): PlanResourceOptions {
  return {
    protect: resource.protect,
    ignoreChanges: resource.ignoreChanges,
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...(resource.parent ? { parent: resource.parent } : {}),
    dependsOn: resource.dependsOn,
    retainOnDelete: resource.retainOnDelete,
    ...(resource.deletedWith ? { deletedWith: resource.deletedWith } : {}),
    ...(resource.provider ? { provider: resource.provider } : {}),
  };
}

function providerOf(resource: PlanResource, byUrn: ReadonlyMap<string, PlanResource>): PolicyProviderResource | undefined {
  if (!resource.provider) return undefined;
  const provider = byUrn.get(providerUrn(resource.provider));
  if (!provider) return undefined;
  return { type: provider.type, props: propsOf(provider), urn: provider.urn, name: provider.name };
}

/** `ResourceValidationArgs` for one planned resource, as the engine builds them in `analyze`. */
export function resourceValidationArgs(
  resource: PlanResource,
  context: { byUrn: ReadonlyMap<string, PlanResource>; getConfig: <T extends object>() => T; stackTags: ReadonlyMap<string, string> },
): ResourceValidationArgs {
  const props = propsOf(resource);
  const provider = providerOf(resource, context.byUrn);
  return {
    type: resource.type,
    props,
    urn: resource.urn,
    name: resource.name,
    opts: optionsOf(resource),
    ...(provider ? { provider } : {}),
    stackTags: context.stackTags,
    isType: (cls) => isTypeOf(resource.type, cls),
    asType: ((cls: ResourceClass) => (isTypeOf(resource.type, cls) ? props : undefined)) as ResourceValidationArgs["asType"],
    getConfig: context.getConfig,
    notApplicable: throwNotApplicable,
  };
}

/** `StackValidationArgs.resources`: every planned resource with parent and dependencies linked, as in `analyzeStack`. */
export function policyResources(plan: Plan): PolicyResource[] {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  const resources = plan.resources.map((r) => {
    const props = propsOf(r);
    const provider = providerOf(r, byUrn);
    const resource: PolicyResource = {
      type: r.type,
      props,
      urn: r.urn,
      name: r.name,
      opts: optionsOf(r),
      ...(provider ? { provider } : {}),
      dependencies: [],
      propertyDependencies: {},
      isType: (cls) => isTypeOf(r.type, cls),
      asType: ((cls: ResourceClass) => (isTypeOf(r.type, cls) ? props : undefined)) as PolicyResource["asType"],
    };
    return resource;
  });
  const policyByUrn = new Map(resources.map((r) => [r.urn, r]));
  for (const [i, r] of plan.resources.entries()) {
    const resource = resources[i] as PolicyResource;
    const parent = r.parent ? policyByUrn.get(r.parent) : undefined;
    if (parent) resource.parent = parent;
    resource.dependencies = r.dependsOn.map((urn) => policyByUrn.get(urn)).filter((d): d is PolicyResource => d !== undefined);
  }
  return resources;
}

function isStackPolicy(policy: ResourceValidationPolicy | StackValidationPolicy): policy is StackValidationPolicy {
  return typeof (policy as StackValidationPolicy).validateStack === "function";
}

/** Runs every policy over the plan and collects violations, like `pulumi preview --policy-pack`. */
export async function checkPlan(plan: Plan, options: PlanCheckOptions = {}): Promise<PlanCheckResult> {
  const policies = options.policies ?? infermeshPolicies();
  const config: PackConfig = { ...defaultConfig(), ...(options.config ?? {}) };
  const stackTags: ReadonlyMap<string, string> = new Map(Object.entries(options.stackTags ?? {}));
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  const violations: Violation[] = [];
  const notApplicable: NotApplicable[] = [];
  const resourceInfo = (urn: string | undefined) => {
    const r = urn ? byUrn.get(urn) : undefined;
    return r ? { urn: r.urn, type: r.type, name: r.name } : urn ? { urn } : {};
  };

  for (const policy of policies) {
    const enforcementLevel = enforcementLevelOf(policy.name, policy.enforcementLevel, config);
    if (enforcementLevel === "disabled") continue;
    const getConfig = configGetter(policy, config);
    const fail = (err: unknown): never => {
      throw new Error(`policy ${policy.name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    };

    if (isStackPolicy(policy)) {
      const args: StackValidationArgs = { resources: policyResources(plan), stackTags, getConfig, notApplicable: throwNotApplicable };
      const report: ReportViolation = (message, urn) => violations.push({ policy: policy.name, enforcementLevel, message, ...resourceInfo(urn) });
      try {
        await policy.validateStack(args, report);
      } catch (err) {
        if (err instanceof NotApplicableSignal) notApplicable.push({ policy: policy.name, reason: err.reason });
        else fail(err);
      }
      continue;
    }

    const validations: ResourceValidation[] =
      policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const resource of plan.resources) {
      const args = resourceValidationArgs(resource, { byUrn, getConfig, stackTags });
      // The engine always reports a resource violation against the resource being validated.
      const report: ReportViolation = (message) => violations.push({ policy: policy.name, enforcementLevel, message, urn: resource.urn, type: resource.type, name: resource.name });
      for (const validation of validations) {
        const token = pulumiTypeOf(validation);
        if (token !== undefined && token !== resource.type) continue;
        try {
          await validation(args, report);
        } catch (err) {
          if (!(err instanceof NotApplicableSignal)) fail(err);
        }
      }
    }
  }
  return { stack: plan.stack, violations, notApplicable };
}

export function readPlan(path: string): Plan {
  return JSON.parse(readFileSync(path, "utf8")) as Plan;
}

/** Violations that fail a preview (mandatory), as opposed to warnings (advisory). */
export function blocking(result: PlanCheckResult): Violation[] {
  return result.violations.filter((v) => v.enforcementLevel === "mandatory");
}

export function formatResult(result: PlanCheckResult): string {
  const lines = [`${result.stack}: ${result.violations.length === 0 ? "no policy violations" : `${result.violations.length} policy violation(s)`}`];
  for (const v of result.violations) {
    const where = v.type ? `${v.type} ${v.name}` : (v.urn ?? "stack");
    lines.push(`  [${v.enforcementLevel}] ${v.policy}: ${where}: ${v.message}`);
  }
  for (const n of result.notApplicable) lines.push(`  (not applicable) ${n.policy}: ${n.reason}`);
  return lines.join("\n");
}

export const planAdapterCommand = {
  name: "planAdapter",
  invocation: "npx tsx policy/planAdapter.ts",
  synopsis: "<out/<stack>/plan.json | out/<stack>>... [--config policy-config.json]",
  summary: "Runs the policy pack over offline plans written by npm run synth; exits 1 on any mandatory violation.",
  details: ["--config <file>  per-policy config as pulumi's --policy-pack-config takes it"],
  options: { config: { type: "string" } },
  positionals: [{ name: "plan", rest: true }],
} as const satisfies CommandSpec;

if (process.argv[1] && /planAdapter\.[cm]?[jt]s$/.test(process.argv[1])) {
  void runCommand(planAdapterCommand, async ({ values, positionals }) => {
    if (positionals.length === 0) throw new UsageError("missing <plan> (an out/<stack> directory or its plan.json)");
    const config = values.config ? (JSON.parse(readFileSync(values.config, "utf8")) as PackConfig) : undefined;
    let failed = false;
    for (const target of positionals) {
      const file = basename(target) === "plan.json" ? target : `${target.replace(/\/+$/, "")}/plan.json`;
      if (!existsSync(file)) throw new UsageError(`no plan at ${file}; write one with npm run synth -- <stack>`);
      const result = await checkPlan(readPlan(file), { config });
      console.log(formatResult(result).replace(/^[^:]+/, `${result.stack} (${dirname(file)})`));
      if (blocking(result).length > 0) failed = true;
    }
    return failed ? exitCodes.failed : exitCodes.ok;
  });
}
