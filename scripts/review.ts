/**
 * `npm run review -- <base render dir> <head render dir> [--stack <name>]`:
 * the pull request's review of every change of a stack, from two offline
 * renders (review/). The workflow posts exactly what this prints.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { exitCodes, runCommand, UsageError, type CommandSpec } from "../cli/command";
import { pairRenders } from "../review/render";
import { reviewStack, toMarkdown } from "../review/review";

export const reviewCommand = {
  name: "review",
  synopsis: "<base render dir> <head render dir> [--stack <name>] [--new-stack] [--artifact-url <url>] [--previews <folder>] [--out <file>] [--full <file>]",
  summary:
    "Reviews what changes between two offline renders (npm run synth -- <stack> --out <dir>; or two out/ directories holding one per stack): resources, dashboards, rules and Helm values, what needs attention first, as Markdown within GitHub's comment limit.",
  details: [
    "--stack <name>       review this stack only (default: every stack the head renders)",
    "--new-stack          the base does not render the stack (one the change adds): everything is new",
    "--artifact-url <url> where the full review and the renders are (linked from the comment)",
    "--previews <folder>  the artifact's folder of dashboard pictures (npm run preview): each changed dashboard links its before and after",
    "--out <file>         write the Markdown there instead of stdout",
    "--full <file>        also write the whole review, unshortened, there",
  ],
  options: {
    stack: { type: "string" },
    out: { type: "string" },
    previews: { type: "string" },
    "new-stack": { type: "boolean" },
    "artifact-url": { type: "string" },
    full: { type: "string" },
  },
  positionals: [{ name: "base render dir" }, { name: "head render dir" }],
} as const satisfies CommandSpec;

if (process.argv[1] && /review\.[cm]?[jt]s$/.test(process.argv[1])) {
  void runCommand(reviewCommand, ({ values, positionals: [baseDir, headDir] }) => {
    let pairs: ReturnType<typeof pairRenders>;
    try {
      pairs = pairRenders(baseDir as string, headDir as string, { ...(values.stack ? { stack: values.stack } : {}), newStack: values["new-stack"] === true });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const reviews = pairs.map((p) => reviewStack(p.stack, p.base, p.head, values.previews ? { previews: values.previews } : {}));
    const artifact = values["artifact-url"] ? { artifactUrl: values["artifact-url"] } : {};
    const write = (file: string, text: string) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${text}\n`);
    };
    const comment = reviews.map((r) => toMarkdown(r, artifact)).join("\n\n");
    if (values.out) write(values.out, comment);
    else console.log(comment);
    if (values.full) write(values.full, reviews.map((r) => toMarkdown(r, { limit: Number.POSITIVE_INFINITY })).join("\n\n"));
    return exitCodes.ok;
  });
}
