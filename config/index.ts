import { resolvedDefaults, type Defaults } from "./defaults";
import { ConfigError, configPath, problemsFromZod, redact, secretTexts, type ConfigProblem } from "./errors";
import {
  accessProblems,
  alertingProblems,
  autoscalerProblems,
  deployProblems,
  expiryProblems,
  grafanaTransportProblems,
  networkProblems,
  policyProblems,
  secrecyProblems,
  telemetryProblems,
} from "./rules";
import { resolveStackConfig } from "./resolve";
import { sections, type Sections } from "./schema";
import { sloProblems } from "./slo";
import type { ParseContext, RawConfig, StackConfig } from "./types";

export { ConfigError, type ConfigProblem } from "./errors";
export type * from "./types";

/**
 * Namespaces a stack may set besides the project's own: the providers the
 * program creates (their plugins read their keys, e.g. `aws:profile`) and the
 * engine's (`pulumi:disable-default-providers`).
 */
export const providerNamespaces = ["aws", "kubernetes", "grafana", "random", "pulumi"] as const;

/**
 * Validates a stack's raw configuration into a {@link StackConfig}. Throws a
 * {@link ConfigError} listing every problem found; nothing else in the program
 * reads configuration. No message carries a secret value.
 */
export function parseStackConfig(raw: RawConfig, ctx: ParseContext): StackConfig {
  const problems: ConfigProblem[] = [];
  const parsed: Partial<Sections> = {};
  const allowedKeys = Object.keys(sections).filter((k) => k !== "region");
  for (const key of Object.keys(raw)) {
    const separator = key.indexOf(":");
    if (separator >= 0) {
      const namespace = key.slice(0, separator);
      if (!(providerNamespaces as readonly string[]).includes(namespace) && namespace !== ctx.project) {
        const name = key.slice(separator + 1);
        const guess = allowedKeys.includes(name) ? ` (did you mean ${ctx.project}:${name}?)` : "";
        problems.push({
          path: key,
          message: `unknown namespace "${namespace}"; allowed namespaces: ${ctx.project} (this project), ${providerNamespaces.join(", ")}${guess}`,
        });
      }
    } else if (!Object.hasOwn(sections, key)) {
      problems.push({ path: configPath([key]), message: `unknown key; allowed keys: ${allowedKeys.join(", ")}` });
    }
  }
  // Secrets live in infermesh:secrets whether or not they were encrypted; any other key the CLI holds encrypted is secret too.
  const secretSections = new Set(["secrets", ...(ctx.secretKeys ?? [])]);
  for (const [key, schema] of Object.entries(sections) as [keyof Sections, (typeof sections)[keyof Sections]][]) {
    const result = schema.safeParse(raw[key], { reportInput: true });
    if (!result.success) problems.push(...problemsFromZod(result.error.issues, [key], { secret: secretSections.has(key) }));
    // An unset optional section (grafana, expiresAt) stays absent, as it is from the resolved config.
    else if (result.data !== undefined) (parsed as Record<string, unknown>)[key] = result.data;
  }

  const defaults = resolvedDefaults(parsed);
  if (defaults.policy) problems.push(...policyProblems(parsed, raw, defaults.policy));
  if (parsed.cluster?.mode === "create") problems.push(...networkProblems(parsed.cluster, parsed.region));
  if (parsed.gpuPools && defaults.migStrategy) problems.push(...telemetryProblems(parsed.gpuPools, defaults.migStrategy));
  problems.push(...autoscalerProblems(parsed));
  problems.push(...alertingProblems(parsed, raw, ctx.secretKeys ?? [], defaults));
  problems.push(...secrecyProblems(raw, ctx.secretKeys ?? [], ctx.encryptedPaths));
  problems.push(...grafanaTransportProblems(parsed));
  problems.push(...expiryProblems(parsed, defaults.policy, ctx.now));
  problems.push(...accessProblems(parsed), ...deployProblems(parsed));
  problems.push(...sloProblems(parsed, raw, defaults.sloWindow));

  if (problems.length > 0) {
    const secrets = [...secretSections].flatMap((key) => secretTexts(raw[key]));
    throw new ConfigError(problems.map((p) => ({ path: p.path, message: redact(p.message, secrets) })));
  }
  // Every section parsed (or a problem was recorded above), so they and every default are defined.
  return resolveStackConfig(parsed as Sections, defaults as Defaults, raw, ctx);
}
