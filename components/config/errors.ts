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
    super(
      [
        `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):`,
        ...problems.map((p) => `  - ${p.path}: ${p.message}`),
      ].join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `gpuPools.l4.scaling` under `infermesh:`; `region` is the AWS provider's own key. */
export function configPath(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  const key = head === "region" ? "aws:region" : `infermesh:${head ?? ""}`;
  return [key, ...rest].join(".");
}

/** Turns zod's issues into problems that name the value and what is allowed. */
export function problemsFromZod(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    const path = [...prefix, ...issue.path];
    const input = (issue as { input?: unknown }).input;
    // A message written in the schema already names the value and what is allowed.
    const custom = !/^(Invalid|Too (small|big)|Unrecognized)/.test(issue.message);
    if (custom && issue.code !== "unrecognized_keys") return [{ path: configPath(path), message: issue.message }];
    switch (issue.code) {
      case "invalid_key":
        // A record key failed its own schema: report the key's problems at the key's path.
        return problemsFromZod(issue.issues, path);
      case "invalid_value":
        return [{ path: configPath(path), message: `got ${show(input)}; allowed: ${issue.values.map(String).join(" | ")}` }];
      case "invalid_union": {
        const union = issue as z.core.$ZodIssueInvalidUnion & { discriminator?: string; options?: unknown[] };
        if (union.discriminator !== undefined && union.options !== undefined) {
          const got = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[union.discriminator] : input;
          return [{ path: configPath(path), message: `got ${show(got)}; allowed: ${union.options.map(String).join(" | ")}` }];
        }
        return [{ path: configPath(path), message: `${issue.message} (got ${show(input)})` }];
      }
      case "unrecognized_keys":
        return issue.keys.map((key) => ({ path: configPath([...path, key]), message: issue.message }));
      case "invalid_type":
        return [
          {
            path: configPath(path),
            message: input === undefined ? `is required (${issue.expected})` : `got ${show(input)}; expected ${issue.expected}`,
          },
        ];
      case "too_small":
        return [{ path: configPath(path), message: `got ${show(input)}; ${issue.message.replace(/^Too small: /, "")}` }];
      case "too_big":
        return [{ path: configPath(path), message: `got ${show(input)}; ${issue.message.replace(/^Too big: /, "")}` }];
      default:
        return [{ path: configPath(path), message: issue.message }];
    }
  });
}
