/**
 * One measurement for scripts/bench.ts, in a process of its own: evaluates the
 * program once under the mock runtime with the options in the JSON file given
 * as the only argument, and prints `{"resources":n,"ms":t}` as one line.
 *
 *   node --import tsx scripts/bench-worker.ts <input.json>
 */
import { readFileSync } from "node:fs";
import { loadConfig } from "../config/load";
import { infermesh } from "../program";
import { offlineLookups } from "../synth/lookups";
import { runUnderMocks } from "../synth/runtime";
import type { WorkerInput, WorkerResult } from "../bench/mock";

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node --import tsx scripts/bench-worker.ts <input.json>");
  const input = JSON.parse(readFileSync(file, "utf8")) as WorkerInput;
  let start = 0n;
  const run = await runUnderMocks({ ...input, calls: offlineLookups }, () => {
    // Timed from here so module loading (done at import) and mock setup are left out.
    start = process.hrtime.bigint();
    return infermesh(loadConfig());
  });
  const result: WorkerResult = { resources: run.resources.length, ms: Number(process.hrtime.bigint() - start) / 1e6 };
  // Pipes are asynchronous on some platforms; exit only once the line is flushed.
  await new Promise<void>((done) => process.stdout.write(`${JSON.stringify(result)}\n`, () => done()));
}

// Exit explicitly: the mock runtime can leave handles open that would keep the process alive.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
