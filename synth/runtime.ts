import * as pulumi from "@pulumi/pulumi";
// The recorder reads fields the public Mocks interface drops (parent, dependencies, options).
import { deserializeProperties, specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import * as runtimeState from "@pulumi/pulumi/runtime/state";

/** Marker that replaces every secret value in a recorded plan. */
export const secretMarker = "[secret]";

/** One resource the program registered, as `pulumi up` would send it to the engine. */
export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent; absent only for the stack itself. */
  parent?: string;
  custom: boolean;
  /** Provider reference (`<provider urn>::<id>`) the resource was registered with, if explicit or inherited. */
  provider?: string;
  /** Explicit or implied dependencies, as URNs. */
  dependsOn: string[];
  protect: boolean;
  retainOnDelete: boolean;
  deletedWith?: string;
  ignoreChanges: string[];
  /** Inputs with Pulumi secrets still wrapped; see {@link redactSecrets}. */
  inputs: Record<string, unknown>;
}

/** Values the mock runtime answers for provider lookups (`aws.eks.getCluster`, …). */
export type CallHandler = (inputs: Record<string, unknown>) => Record<string, unknown>;

export interface MockRunOptions {
  project: string;
  stack: string;
  /** Config as `pulumi config` holds it: `ns:key` → string (objects as JSON text). */
  config: Record<string, string>;
  secretKeys?: string[];
  /**
   * Directory holding `Pulumi.yaml` and the stack file, as the CLI tells a real
   * program (`pulumi.runtime.getRootDirectory()`); none by default, so a test
   * never picks up a stack file by accident.
   */
  rootDirectory?: string;
  /** Answers for every provider function the program may invoke; any other call fails the run. */
  calls?: Record<string, CallHandler>;
}

export interface MockRun<T> {
  result: T;
  resources: RecordedResource[];
}

/** Provider-computed outputs a real deployment would return, so dependent inputs resolve to readable values. */
function computedState(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case "aws:eks/cluster:Cluster":
      return {
        arn: `arn:aws:eks:synth:000000000000:cluster/${inputs.name ?? name}`,
        endpoint: `https://${inputs.name ?? name}.eks.synth.invalid`,
        certificateAuthority: { data: "c3ludGgtY2E=" },
        identities: [{ oidcs: [{ issuer: `https://oidc.eks.synth.invalid/id/${name}` }] }],
        vpcConfig: { ...inputs.vpcConfig, clusterSecurityGroupId: `sg-synth-${inputs.name ?? name}` },
      };
    case "aws:eks/nodeGroup:NodeGroup":
      return {
        nodeGroupName: inputs.nodeGroupName ?? name,
        arn: `arn:aws:eks:synth:000000000000:nodegroup/${name}`,
        resources: [{ autoscalingGroups: [{ name: `eks-${name}-synth` }] }],
      };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { latestVersion: 1 };
    case "aws:grafana/workspace:Workspace":
      return { arn: `arn:aws:grafana:synth:000000000000:/workspaces/${name}`, endpoint: `${name}.grafana-workspace.synth.invalid` };
    case "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount":
      return { serviceAccountId: `${name}-sa` };
    case "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken":
      return { key: `synth-token-for-${name}`, serviceAccountTokenId: `${name}-token` };
    case "random:index/randomPassword:RandomPassword":
      return { result: `synth-password-for-${name}` };
    case "grafana:oss/dashboard:Dashboard":
      return { url: `https://grafana.synth.invalid/d/${name}` };
    case "aws:amp/workspace:Workspace":
      return { arn: `arn:aws:aps:synth:000000000000:workspace/${name}`, prometheusEndpoint: `https://aps-workspaces.synth.invalid/workspaces/${name}/` };
    case "aws:sns/topic:Topic":
      return { arn: `arn:aws:sns:synth:000000000000:${inputs.name ?? name}`, name: inputs.name ?? name };
    default:
      return type.startsWith("aws:") ? { arn: `arn:aws:synth:000000000000:${name}`, name: inputs.name ?? name } : {};
  }
}

let activeRecording: RecordedResource[] | undefined;

export interface Recording {
  /** Registrations so far, in completion order. */
  resources: RecordedResource[];
  /** Waits until `value`'s outputs resolved and no registration is in flight. */
  settle(value?: unknown): Promise<void>;
}

/**
 * Switches Pulumi to its mock runtime with a stack's config and records every
 * resource registration with its inputs, parent and options. `call` is strict:
 * a provider function without a handler fails the run, so a plan never
 * silently depends on made-up lookups. Each call starts a fresh recording.
 */
export async function startRecording(options: MockRunOptions): Promise<Recording> {
  pulumi.runtime.setAllConfig(options.config, options.secretKeys ?? []);
  // The mock runtime leaves the root directory to the environment the process started with.
  (runtimeState as unknown as { getStore(): { settings: { options: { rootDirectory?: string } } } }).getStore().settings.options.rootDirectory = options.rootDirectory ?? "";
  const calls = options.calls ?? {};
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({
        id: args.custom ? `${args.name}-id` : "",
        state: { ...args.inputs, ...computedState(args.type, args.name, args.inputs) },
      }),
      call: (args) => {
        const handler = calls[args.token];
        if (!handler) throw new Error(`unexpected provider call ${args.token}: the mock runtime has no answer for it`);
        return handler(args.inputs);
      },
    },
    options.project,
    options.stack,
    false,
  );
  const resources: RecordedResource[] = [];
  activeRecording = resources;
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: any, callback: (err: any, resp: any) => void): void;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    register(req, (err, resp) => {
      if (!err && activeRecording === resources) {
        resources.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          ...(req.getParent() ? { parent: req.getParent() } : {}),
          custom: req.getCustom(),
          ...(req.getProvider() ? { provider: req.getProvider() } : {}),
          dependsOn: [...req.getDependenciesList()].sort(),
          protect: req.getProtect() ?? false,
          retainOnDelete: req.getRetainondelete() ?? false,
          ...(req.getDeletedwith() ? { deletedWith: req.getDeletedwith() } : {}),
          ignoreChanges: req.getIgnorechangesList(),
          inputs: deserializeProperties(req.getObject(), false),
        });
      }
      callback(err, resp);
    });
  };
  return { resources, settle };
}

/** {@link startRecording}, run `program`, and wait for everything it registered. */
export async function runUnderMocks<T>(options: MockRunOptions, program: () => T | Promise<T>): Promise<MockRun<T>> {
  const recording = await startRecording(options);
  const result = await program();
  await recording.settle(result);
  return { result, resources: recording.resources };
}

/** Waits until every output in `value` has resolved and the runtime has no registration in flight. */
async function settle(value?: unknown): Promise<void> {
  await new Promise<void>((resolve) => {
    pulumi.output(value as pulumi.Input<object>).apply(() => resolve());
  });
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/** Replaces every secret with {@link secretMarker}; everything else is kept as recorded. */
export function redactSecrets(value: unknown): unknown {
  if (isSecret(value)) return secretMarker;
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v)]));
  }
  return value;
}

/** Unwraps secrets for assertions that need the value itself. */
export function revealSecrets(value: unknown): unknown {
  if (isSecret(value)) return revealSecrets(value.value);
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
  }
  return value;
}
