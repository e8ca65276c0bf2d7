import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ChartVersion } from "../domain/versions";

export interface ChartReleaseArgs {
  /** Which chart, from the versions module (the version may be known only at deploy time, e.g. from an attached cluster). */
  chart: Omit<ChartVersion, "version"> & { version: pulumi.Input<string> };
  /** Helm release name in the cluster (fixed: other objects refer to its resources by name). */
  release: string;
  namespace: pulumi.Input<string>;
  values: pulumi.Input<Record<string, unknown>>;
  createNamespace?: boolean;
  /** Seconds Helm waits for the release's resources. */
  timeout?: number;
}

/** A Helm release of a pinned chart. */
export function chartRelease(name: string, args: ChartReleaseArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
  return new k8s.helm.v3.Release(
    name,
    {
      name: args.release,
      chart: args.chart.chart,
      version: args.chart.version,
      repositoryOpts: { repo: args.chart.repo },
      namespace: args.namespace,
      values: args.values,
      ...(args.createNamespace ? { createNamespace: true } : {}),
      ...(args.timeout ? { timeout: args.timeout } : {}),
    },
    opts,
  );
}
