import { existsSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { encryptedValuePaths } from "./stackFile";
import { parseStackConfig } from "./index";
import type { RawConfig, StackConfig } from "./types";

/**
 * The program's only reader of `pulumi.Config`: collects every key (so a
 * misspelt key or namespace is reported, not ignored), `infermesh:*` by name
 * and `aws:region` as `region`, then validates them all at once.
 */
export function loadConfig(): StackConfig {
  const project = pulumi.getProject();
  const stack = pulumi.getStack();
  const { raw, secretKeys } = rawConfig(project, pulumi.runtime.allConfig(), isConfigSecret);
  const encryptedPaths = stackFileEncryption(project, stack);
  return parseStackConfig(raw, { project, stack, secretKeys, now: deployTime(), ...(encryptedPaths ? { encryptedPaths } : {}) });
}

/**
 * Config keys as the program reads them: the project's keys by name (JSON
 * text decoded), `aws:region` as `region`, every other key as it is (so an
 * unknown namespace is reported, not ignored); and which project keys are
 * secret.
 */
export function rawConfig(project: string, entries: Record<string, string>, isSecret: (key: string) => boolean): { raw: RawConfig; secretKeys: string[] } {
  const raw: RawConfig = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(entries)) {
    if (key === "aws:region") raw.region = value;
    else if (key.startsWith(`${project}:`)) {
      const name = key.slice(project.length + 1);
      raw[name] = decode(value);
      if (isSecret(key)) secretKeys.push(name);
    } else raw[key] = value;
  }
  return { raw, secretKeys };
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
 * Which values of the project's keys `Pulumi.<stack>.yaml` (beside
 * `Pulumi.yaml`) stores encrypted, as paths like `secrets.grafanaToken`. The
 * engine only tells the program which top-level keys hold some secret, so an
 * entry left in clear among encrypted ones is visible only in the file.
 * Undefined without a stack file (config from an environment or the service).
 */
function stackFileEncryption(project: string, stack: string): string[] | undefined {
  const root = pulumi.runtime.getRootDirectory();
  const file = root ? join(root, `Pulumi.${stack}.yaml`) : "";
  if (!file || !existsSync(file)) return undefined;
  const prefix = `${project}:`;
  return encryptedValuePaths(file).flatMap((path) => (path.startsWith(prefix) ? [path.slice(prefix.length)] : []));
}

/**
 * When this deployment runs. `INFERMESH_DEPLOY_TIME` pins it (the offline
 * render does, so its output is reproducible); otherwise it is the clock.
 */
function deployTime(): Date {
  const pinned = process.env.INFERMESH_DEPLOY_TIME;
  if (!pinned) return new Date();
  const at = new Date(pinned);
  if (Number.isNaN(at.getTime())) throw new Error(`INFERMESH_DEPLOY_TIME=${JSON.stringify(pinned)} is not a time; expected ISO-8601 like 2026-12-01T00:00:00Z`);
  return at;
}
