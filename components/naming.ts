import { createHash } from "node:crypto";

/**
 * A Grafana uid for one of a stack's objects: `im-<stack>-<suffix>`, unique
 * per stack so stacks sharing a Grafana never collide, and within Grafana's
 * 40-character limit (long stack names are shortened with a hash, so the uid
 * stays stable and distinct).
 */
export function grafanaUid(stack: string, suffix: string): string {
  const plain = `im-${stack}-${suffix}`.replace(/[^A-Za-z0-9_-]/g, "-");
  if (plain.length <= 40) return plain;
  const hash = createHash("sha256").update(stack).digest("hex").slice(0, 8);
  const room = 40 - `im--${hash}-${suffix}`.length;
  return `im-${stack.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, Math.max(0, room))}-${hash}-${suffix}`.slice(0, 40);
}
