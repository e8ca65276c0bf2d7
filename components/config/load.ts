import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { parseStackConfig, type RawConfig, type StackConfig } from "./index";

/**
 * The program's only reader of `pulumi.Config`: collects every `infermesh:*`
 * key (so a misspelt key is reported, not ignored) and `aws:region`, then
 * validates them all at once.
 */
export function loadConfig(): StackConfig {
  const project = pulumi.getProject();
  const raw: RawConfig = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key === "aws:region") raw.region = value;
    else if (key.startsWith(`${project}:`)) {
      const name = key.slice(project.length + 1);
      raw[name] = decode(value);
      if (isConfigSecret(key)) secretKeys.push(name);
    }
  }
  return parseStackConfig(raw, { project, stack: pulumi.getStack(), secretKeys, now: deployTime() });
}

// Which keys the CLI holds encrypted. The SDK marks this internal (its typings
// omit it) but it is how `pulumi.Config` itself decides secretness.
const isConfigSecret = (runtimeConfig as unknown as { isConfigSecret(key: string): boolean }).isConfigSecret;

/** Structured values arrive as JSON text; plain strings stay strings. */
function decode(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * When this deployment runs. `INFERMESH_DEPLOY_TIME` pins it (the offline
 * render does, so its output is reproducible); otherwise it is the clock.
 */
function deployTime(): Date {
  const pinned = process.env.INFERMESH_DEPLOY_TIME;
  return pinned ? new Date(pinned) : new Date();
}
