/**
 * `npx tsx scripts/synthDiff.ts <base out dir> <head out dir> [--stack <name>] [--out summary.md]`:
 * the pull request's synth-diff comment, from two offline renders (synth/diff.ts).
 */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { exitCodes, runCommand, type CommandSpec } from "../cli/command";
import { readRender, summarize } from "../synth/diff";

export const synthDiffCommand = {
  name: "synthDiff",
  invocation: "npx tsx scripts/synthDiff.ts",
  synopsis: "<base out dir> <head out dir> [--stack <name>] [--out summary.md]",
  summary: "Summarizes what changes in dashboards, alert and recording rules and Helm values between two offline renders, as Markdown.",
  details: ["--stack <name>  stack named in the summary (default: the head directory's name)", "--out <file>    write the summary there instead of stdout"],
  options: { stack: { type: "string" }, out: { type: "string" } },
  positionals: [{ name: "base out dir" }, { name: "head out dir" }],
} as const satisfies CommandSpec;

if (process.argv[1] && /synthDiff\.[cm]?[jt]s$/.test(process.argv[1])) {
  void runCommand(synthDiffCommand, ({ values, positionals: [baseDir, headDir] }) => {
    const text = summarize(values.stack ?? basename(headDir as string), readRender(baseDir as string), readRender(headDir as string));
    if (values.out) writeFileSync(values.out, `${text}\n`);
    else console.log(text);
    return exitCodes.ok;
  });
}
