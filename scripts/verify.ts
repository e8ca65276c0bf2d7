/**
 * Proof against a real Prometheus for one stack: serves the synthetic fleet,
 * scrapes it through the stack's rendered scrape configuration with its rule
 * groups loaded, checks every dashboard query, the seed's queries and alert
 * expressions, and every scenario's alerts; prints the report.
 *
 *   npm run verify -- <stack> [--nodes N] [--gpus G] [--routers R] [--root <dir>] [--json]
 *
 * Exits 0 when everything passed, 1 on any failure (README "Commands" for the rest).
 */
import { positiveInteger, runCommand, type CommandSpec } from "../cli/command";
import { requirePrerequisites } from "../cli/prerequisites";
import { requireRoot, requireStack, stackHint } from "../cli/stacks";

export const verifyCommand = {
  name: "verify",
  synopsis: "<stack> [--nodes N] [--gpus G] [--routers R] [--root <dir>] [--json]",
  summary: "Runs a real prometheus over the synthetic fleet with the stack's scrape configs and rules; checks every panel, the seed's queries and every scenario's alerts.",
  details: ["--nodes N, --gpus G, --routers R  fleet shape (positive integers)", "--root <dir>  read the stack files from <dir>", "--json        print the report as JSON"],
  options: { nodes: { type: "string" }, gpus: { type: "string" }, routers: { type: "string" }, root: { type: "string" }, json: { type: "boolean" } },
  positionals: [{ name: "stack", hint: () => stackHint() }],
} as const satisfies CommandSpec;

void runCommand(verifyCommand, async ({ values, positionals: [stack] }) => {
  const root = requireRoot(values.root);
  requireStack(stack as string, root);
  const nodes = positiveInteger("nodes", values.nodes);
  const gpusPerNode = positiveInteger("gpus", values.gpus);
  const routers = positiveInteger("routers", values.routers);
  requirePrerequisites(["prometheus"]);
  const { formatReport, loadStackConfig, runVerification } = await import("../verify/run");
  const config = await loadStackConfig(stack as string, root);
  const report = await runVerification(config, {
    shape: { ...(nodes ? { nodes } : {}), ...(gpusPerNode ? { gpusPerNode } : {}), ...(routers ? { routers } : {}) },
    log: (line) => console.error(`[verify] ${line}`),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
});
