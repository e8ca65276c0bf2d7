import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";

/** One problem with a stack's configuration. */
export interface ConfigProblem {
  /** Config key path as a user writes it, e.g. `infermesh:gpuPools.l4.scaling.min`. */
  path: string;
  /** What is wrong, the offending value and what is allowed. */
  message: string;
}

/**
 * Every problem found in a stack's configuration, reported together. Extends
 * RunError so the Pulumi CLI prints the message without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super([`Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):`, ...problems.map((p) => `  - ${p.path}: ${p.message}`)].join("\n"));
    this.name = "ConfigError";
  }
}

export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What a message prints instead of a secret value. */
export const secretMarker = "[secret]";

/**
 * The namespace of the project's own config keys: the project's name in
 * `Pulumi.yaml`, under which load.ts reads them (`pulumi.getProject()`).
 * Problem paths and messages name keys under it; a test keeps the two equal.
 */
export const projectNamespace = "infermesh";

/** `gpuPools.l4.scaling` under the project's namespace; `region` is the AWS provider's own key; a namespaced key (`kubernetes:context`) is itself. */
export function configPath(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  const key = head === "region" ? "aws:region" : head?.includes(":") ? head : `${projectNamespace}:${head ?? ""}`;
  return [key, ...rest].join(".");
}

/** Every scalar inside a config value, as text: what must never appear in a message when the value is secret. */
export function secretTexts(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(secretTexts);
  if (typeof value === "object") return Object.values(value).flatMap(secretTexts);
  return [String(value)];
}

/**
 * Replaces every occurrence of a secret in a message with {@link secretMarker}:
 * quoted (as messages print strings) always, bare when long enough not to
 * garble ordinary words. The last line of defence; messages about secret keys
 * are built without their values in the first place.
 */
export function redact(message: string, secrets: readonly string[]): string {
  let text = message;
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) {
    if (secret === "") continue;
    text = text.split(JSON.stringify(secret)).join(secretMarker);
    if (secret.length >= 4) text = text.split(secret).join(secretMarker);
  }
  return text;
}

/**
 * A schema message about a secret value without the value: messages follow
 * `got <value>; <what is allowed>`, so the rendered value is replaced; a
 * message that renders it some other way keeps only a neutral text.
 */
function withoutValue(message: string, input: unknown): string {
  const rendered = `got ${JSON.stringify(input)}`;
  if (message.startsWith(rendered)) return `got ${secretMarker}${message.slice(rendered.length)}`;
  return `got ${secretMarker}; the value is not valid here (not shown: the key holds secrets)`;
}

/**
 * Turns zod's issues into problems that name the value and what is allowed.
 * With `secret`, the values came from a secret key: messages say
 * {@link secretMarker} instead.
 */
export function problemsFromZod(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = [], options: { secret?: boolean } = {}): ConfigProblem[] {
  const display = options.secret ? () => secretMarker : show;
  return issues.flatMap((issue): ConfigProblem[] => {
    const path = [...prefix, ...issue.path];
    const input = (issue as { input?: unknown }).input;
    // A message written in the schema already names the value and what is allowed.
    const custom = !/^(Invalid|Too (small|big)|Unrecognized)/.test(issue.message);
    if (custom && issue.code !== "unrecognized_keys") {
      return [{ path: configPath(path), message: options.secret ? withoutValue(issue.message, input) : issue.message }];
    }
    switch (issue.code) {
      case "invalid_key":
        // A record key failed its own schema: report the key's problems at the key's path.
        return problemsFromZod(issue.issues, path, options);
      case "invalid_value":
        return [{ path: configPath(path), message: `got ${display(input)}; allowed: ${issue.values.map(String).join(" | ")}` }];
      case "invalid_union": {
        const union = issue as z.core.$ZodIssueInvalidUnion & { discriminator?: string; options?: unknown[] };
        if (union.discriminator !== undefined && union.options !== undefined) {
          const got = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[union.discriminator] : input;
          return [{ path: configPath(path), message: `got ${display(got)}; allowed: ${union.options.map(String).join(" | ")}` }];
        }
        return [{ path: configPath(path), message: `${issue.message} (got ${display(input)})` }];
      }
      case "unrecognized_keys":
        return issue.keys.map((key) => ({ path: configPath([...path, key]), message: issue.message }));
      case "invalid_type":
        return [
          {
            path: configPath(path),
            message: input === undefined ? `is required (${issue.expected})` : `got ${display(input)}; expected ${issue.expected}`,
          },
        ];
      case "too_small":
        return [{ path: configPath(path), message: `got ${display(input)}; ${issue.message.replace(/^Too small: /, "")}` }];
      case "too_big":
        return [{ path: configPath(path), message: `got ${display(input)}; ${issue.message.replace(/^Too big: /, "")}` }];
      default:
        return [{ path: configPath(path), message: issue.message }];
    }
  });
}
