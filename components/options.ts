import type * as pulumi from "@pulumi/pulumi";

/**
 * Options for a component's children: the component as parent, plus the
 * `deletedWith` the component was given, which the SDK does not pass down to
 * children's registrations by itself.
 */
export function childOptions(parent: pulumi.Resource, opts?: pulumi.ComponentResourceOptions): { parent: pulumi.Resource; deletedWith?: pulumi.Resource } {
  return { parent, ...(opts?.deletedWith ? { deletedWith: opts.deletedWith } : {}) };
}

/**
 * What a whole-stack teardown removes, so deletes inside it are moot: the
 * cluster the stack created (every in-cluster object goes with it) and the
 * Grafana it created (every Grafana object goes with it, so an expired token
 * or a closed port-forward never blocks `destroy`). program.ts decides it
 * once; a component whose children all go with one of them takes it as
 * `opts.deletedWith` (see childOptions), a component whose children differ
 * takes `teardown` and says per child why.
 */
export interface Teardown {
  cluster?: pulumi.Resource;
  grafana?: pulumi.Resource;
}

/** `deletedWith` for one resource, or nothing: spread into its options. */
export const goesWith = (resource: pulumi.Resource | undefined): { deletedWith?: pulumi.Resource } => (resource ? { deletedWith: resource } : {});

/**
 * A namespace the stack creates: its name, known when planning (URLs, IRSA
 * subjects), and the Namespace object's output, which objects in it take as
 * their `metadata.namespace` so they wait for it.
 */
export interface NamespaceRef {
  name: string;
  output: pulumi.Input<string>;
}
