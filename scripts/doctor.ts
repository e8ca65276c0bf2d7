/**
 * Checks every prerequisite of the project's commands and says how to get
 * what is missing:
 *
 *   npm run doctor [-- --for <task>]
 *
 * Exits 1 only when something `<task>` needs is missing (default task:
 * test, what `npm test` needs); everything else is reported, not enforced.
 */
import { exitCodes, oneOf, runCommand, type CommandSpec } from "../cli/command";
import { doctor, formatDoctor, taskNames, tasks } from "../cli/prerequisites";

export const doctorCommand = {
  name: "doctor",
  synopsis: `[--for ${taskNames.join("|")}]`,
  summary: "Checks Node.js, prometheus/promtool/amtool, the Pulumi CLI and login, the AWS CLI and credentials, kubectl and Chromium, and says how to get each.",
  details: [`--for <task>  fail (exit 1) only for what <task> needs (default test):`, ...taskNames.map((t) => `  ${t.padEnd(11)} ${tasks[t].join(", ")}`)],
  options: { for: { type: "string", default: "test" } },
  positionals: [],
} as const satisfies CommandSpec;

void runCommand(doctorCommand, ({ values }) => {
  const report = doctor(oneOf("--for", values.for ?? "test", taskNames));
  console.log(formatDoctor(report));
  return report.blocking.length === 0 ? exitCodes.ok : exitCodes.failed;
});
