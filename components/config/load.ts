import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, type RawConfig, type StackConfig } from "./index";

/**
 * The program's only reader of `pulumi.Config`: collects every `infermesh:*`
 * key (so a misspelt key is reported, not ignored) and `aws:region`, then
 * validates them all at once.
 */
export function loadConfig(): StackConfig {
  const project = pulumi.getProject();
  const raw: RawConfig = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key === "aws:region") raw.region = value;
    else if (key.startsWith(`${project}:`)) raw[key.slice(project.length + 1)] = decode(value);
  }
  return parseStackConfig(raw, { project, stack: pulumi.getStack() });
}

/** Structured values arrive as JSON text; plain strings stay strings. */
function decode(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
