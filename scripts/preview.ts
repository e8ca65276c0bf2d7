/**
 * Pictures of every dashboard of a stack before it deploys, offline: the
 * stack's simulated fleet in a real Prometheus, each panel's own queries, a
 * real headless Chromium.
 *
 *   npm run preview -- <stack> [--scenario <name>] [--out <dir>]
 */
import { join } from "node:path";
import { exitCodes, runCommand, UsageError, type CommandSpec } from "../cli/command";
import { requirePrerequisites, tasks } from "../cli/prerequisites";
import { projectRoot, requireStack, stackHint } from "../cli/stacks";
import { isScenarioName, scenarioNames } from "../sim/scenarios";

export const previewCommand = {
  name: "preview",
  synopsis: "<stack> [--scenario <name>] [--out <dir>]",
  summary:
    "Draws every dashboard of the stack from its simulated fleet (a real Prometheus with the stack's scrape configs and recording rules, a real headless Chromium): out/<stack>/preview/<uid>.png, <uid>.html and index.html. Exits 1 when a panel shows no data or cannot be drawn.",
  details: [
    `--scenario <name>  draw the dashboards with a fault in progress (its last 20 minutes): ${scenarioNames.join(", ")}`,
    "--out <dir>        write there instead of out/<stack>/preview",
  ],
  options: { scenario: { type: "string" }, out: { type: "string" } },
  positionals: [{ name: "stack", hint: () => stackHint() }],
} as const satisfies CommandSpec;

void runCommand(previewCommand, async ({ values, positionals: [stack] }) => {
  requireStack(stack as string);
  const scenario = values.scenario;
  if (scenario !== undefined && !isScenarioName(scenario)) throw new UsageError(`--scenario: no scenario "${scenario}"; scenarios: ${scenarioNames.join(", ")}`);
  requirePrerequisites(tasks.previews);
  const { loadStackConfig } = await import("../verify/run");
  const { previewExitCode, runPreview } = await import("../preview/run");
  const config = await loadStackConfig(stack as string);
  const outDir = values.out ?? join(projectRoot, "out", stack as string, "preview");
  const result = await runPreview(config, { stack: stack as string, outDir, ...(scenario ? { scenario } : {}), progress: (line) => console.log(line) });
  for (const d of result.dashboards) console.log(`wrote ${d.png} (${d.size.width}x${d.size.height})`);
  console.log(`index: ${result.index}`);
  for (const p of result.noData) console.log(`NO DATA ${p}`);
  for (const e of result.errors) console.log(`ERROR ${e}`);
  return previewExitCode(result) === 0 ? exitCodes.ok : exitCodes.failed;
});
