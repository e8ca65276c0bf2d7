import type * as pulumi from "@pulumi/pulumi";

/**
 * Options for a component's children: the component as parent, plus the
 * `deletedWith` the component was given, which the SDK does not pass down to
 * children's registrations by itself.
 */
export function childOptions(parent: pulumi.Resource, opts?: pulumi.ComponentResourceOptions): { parent: pulumi.Resource; deletedWith?: pulumi.Resource } {
  return { parent, ...(opts?.deletedWith ? { deletedWith: opts.deletedWith } : {}) };
}
