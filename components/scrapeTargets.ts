import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./options";
import { podMonitorManifest, type ScrapeJob } from "./scrapeJobs";

export interface ScrapeTargetsArgs {
  /** Namespace the PodMonitor objects live in. */
  namespace: string;
  jobs: ScrapeJob[];
  /** Labels the Prometheus' monitor selector matches. */
  selectorLabels: Record<string, string>;
  /** The release that installs the PodMonitor CRD; monitors are deleted before it. */
  dependsOn?: pulumi.Resource[];
}

/** One PodMonitor per scrape job. */
export class ScrapeTargets extends pulumi.ComponentResource {
  static readonly type = "infermesh:monitoring:ScrapeTargets";
  readonly monitors: k8s.apiextensions.CustomResource[];

  constructor(name: string, args: ScrapeTargetsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ScrapeTargets.type, name, {}, opts);
    this.monitors = args.jobs.map(
      (job) =>
        new k8s.apiextensions.CustomResource(`${name}-${job.name}`, podMonitorManifest(job, args.namespace, args.selectorLabels), {
          ...childOptions(this, opts),
          dependsOn: args.dependsOn,
        }),
    );
    this.registerOutputs({ monitors: this.monitors.map((m) => m.metadata.name) });
  }
}
