/**
 * The stacks a command may name: one per `Pulumi.<stack>.yaml` in the project
 * root. Light on purpose (node:fs only), so commands check a stack name
 * before they load the program.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "./command";

export const projectRoot = resolve(__dirname, "..");

/** Stack names with a `Pulumi.<stack>.yaml` in `root`, sorted. */
export function stackNames(root = projectRoot): string[] {
  return readdirSync(root)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** The project root a `--root <dir>` names (default: this repository), checked to hold a Pulumi.yaml. */
export function requireRoot(root: string | undefined): string {
  if (root === undefined) return projectRoot;
  const dir = resolve(root);
  if (!existsSync(join(dir, "Pulumi.yaml"))) throw new UsageError(`--root ${root} has no Pulumi.yaml; give the directory holding Pulumi.yaml and the Pulumi.<stack>.yaml files`);
  return dir;
}

const stackList = (root: string) => stackNames(root).join(", ") || "none";

/** The stack, if `Pulumi.<stack>.yaml` exists in `root`; otherwise a usage error listing the stacks there. */
export function requireStack(stack: string, root = projectRoot): string {
  if (!existsSync(join(root, `Pulumi.${stack}.yaml`))) throw new UsageError(`no stack ${JSON.stringify(stack)} (no Pulumi.${stack}.yaml); stacks: ${stackList(root)}`);
  return stack;
}

/** What to tell a user who left out the stack: which ones there are. */
export function stackHint(root = projectRoot): string {
  return `stacks: ${stackList(root)}`;
}
