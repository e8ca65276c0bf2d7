import type { StackConfig } from "../../config";
import { parseStackConfig, type RawConfig } from "../../config";
import { infermesh } from "../../program";
import { offlineLookups } from "../../synth/lookups";
import { runUnderMocks, startRecording, type RecordedResource } from "../../synth/runtime";

export const project = "infermesh";

/** A valid dev configuration, as raw config values; tests change one thing at a time. */
export function baseRaw(): RawConfig {
  return {
    region: "us-west-2",
    environment: "dev",
    cluster: {
      mode: "create",
      kubernetesVersion: "1.34",
      vpc: { cidr: "10.40.0.0/16", availabilityZones: ["us-west-2a", "us-west-2b"] },
    },
    gpuPools: {
      l4: { instanceTypes: ["g6.xlarge"], scaling: { min: 0, desired: 1, max: 4 } },
    },
    models: { "gpt-7b": { queueDepthMax: 50 } },
  };
}

/** "Now" for parsed configs; an ephemeral fixture's `expiresAt` lies within 7 days after it. */
export const testNow = "2026-01-01T00:00:00Z";

export function parse(raw: RawConfig, stack = "dev", secretKeys: string[] = [], now = new Date(testNow)): StackConfig {
  return parseStackConfig(raw, { project, stack, secretKeys, now });
}

/** The full config key of a raw key: `region` is `aws:region`, a namespaced key (`kubernetes:context`) is itself. */
export function configKey(key: string): string {
  return key === "region" ? "aws:region" : key.includes(":") ? key : `${project}:${key}`;
}

/** Raw values in the form `pulumi config` hands the program: `ns:key` → string. */
export function asPulumiConfig(raw: RawConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [configKey(key), typeof value === "string" ? value : JSON.stringify(value)]));
}

/** Runs the program for a parsed config under mocks and returns what it registered. */
export async function deploy(config: StackConfig): Promise<RecordedResource[]> {
  const run = await runUnderMocks({ project, stack: config.stack, config: {}, calls: offlineLookups }, () => infermesh(config));
  return run.resources;
}

export { startRecording };

export function byType(resources: readonly RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: readonly RecordedResource[], type: string, name: string): RecordedResource {
  const found = resources.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0] as RecordedResource;
}
