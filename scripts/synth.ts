/**
 * Offline render of a stack: runs the real program under Pulumi's mock runtime
 * with `Pulumi.<stack>.yaml` and writes what it would deploy to `out/<stack>/`.
 *
 *   npm run synth -- <stack> [--out <dir>] [--root <dir with Pulumi.yaml and stack files>]
 */
import { parseArgs } from "node:util";
import { synthesize } from "../synth/synthesize";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { out: { type: "string" }, root: { type: "string" } } });
const stack = positionals[0];
if (!stack || positionals.length > 1) {
  console.error("usage: npm run synth -- <stack> [--out <dir>]");
  process.exit(2);
}
synthesize({ stack, outDir: values.out, root: values.root }).then(
  (result) => {
    console.log(result.summary);
    console.log(`wrote ${result.files.length} files to ${result.outDir}`);
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
