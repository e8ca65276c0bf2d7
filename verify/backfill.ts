/**
 * A real Prometheus holding a window of the synthetic fleet's past: the fleet
 * written as OpenMetrics parts (sim/openmetrics.ts) and converted to TSDB
 * blocks by `promtool tsdb create-blocks-from openmetrics`, then the stack's
 * recording rules backfilled over the same window by `promtool tsdb
 * create-blocks-from rules`, in dependency order. The bench measures queries
 * on it; the preview draws dashboards from it.
 */
import { readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { prometheusRuleGroups } from "../alerts/prometheusRules";
import { metricNamesIn } from "../lib/promql";
import { sum } from "../lib/stats";
import type { RecordingRule } from "../monitoring/recording";
import { promtoolBlockSeconds, type BackfillPart } from "../sim/openmetrics";
import { promtoolOrThrow, type PrometheusServer } from "./prometheus";

/** Conversions running at once (one per core of the reference machine). */
export const parallelConversions = 2;

/** Moves every block (ULID-named dir) from `from` into `dataDir`; returns how many. */
export function moveBlocks(from: string, dataDir: string): number {
  let moved = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory() && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name)) {
      renameSync(join(from, entry.name), join(dataDir, entry.name));
      moved++;
    }
  }
  return moved;
}

/** Rules in stages: each stage reads only raw series and recorded series of earlier stages. */
export function ruleStages(rules: readonly RecordingRule[]): RecordingRule[][] {
  const records = new Set(rules.map((r) => r.record));
  const stages: RecordingRule[][] = [];
  const done = new Set<string>();
  let left = [...rules];
  while (left.length > 0) {
    const ready = left.filter((r) => [...metricNamesIn(r.expr)].every((n) => !records.has(n) || done.has(n)));
    if (ready.length === 0) throw new Error(`recording rules depend on each other in a cycle: ${left.map((r) => r.record).join(", ")}`);
    stages.push(ready);
    for (const r of ready) done.add(r.record);
    left = left.filter((r) => !ready.includes(r));
  }
  return stages;
}

export interface ConvertOptions {
  /** Scratch dir for the parts (each deleted once converted). */
  dir: string;
  /** The TSDB the blocks go to. */
  dataDir: string;
  parts: readonly BackfillPart[];
  writePart: (file: string, part: BackfillPart) => Promise<{ bytes: number }>;
  progress?: (line: string) => void;
}

/**
 * Writes and converts the parts, pipelined: `parallelConversions` conversions
 * while the next part is written, so at most that many parts plus one are on
 * disk at once. Returns the bytes written and the most on disk at one time.
 */
export async function convertParts(opts: ConvertOptions): Promise<{ written: number; peak: number }> {
  let written = 0;
  let onDisk = 0;
  let peak = 0;
  let converted = 0;
  const conversions: Promise<void>[] = [];
  let failure: unknown;
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= parallelConversions) await new Promise<void>((done) => waiting.push(done));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  for (const [k, part] of opts.parts.entries()) {
    if (failure !== undefined) break;
    const file = join(opts.dir, `part-${k}.om`);
    const result = await opts.writePart(file, part);
    written += result.bytes;
    onDisk += result.bytes;
    peak = Math.max(peak, onDisk);
    const out = join(opts.dir, `blocks-${k}`);
    await slot();
    conversions.push(
      (async () => {
        try {
          await promtoolOrThrow(["tsdb", "create-blocks-from", "--quiet", `--max-block-duration=${promtoolBlockSeconds / 3600}h`, "openmetrics", file, out], {
            timeoutMs: 3_600_000,
          });
        } finally {
          rmSync(file, { force: true });
          onDisk -= result.bytes;
          release();
        }
        moveBlocks(out, opts.dataDir);
        converted++;
        opts.progress?.(`  part ${converted}/${opts.parts.length} converted (${(written / 1e9).toFixed(2)} GB written so far)`);
      })().catch((err: unknown) => {
        failure ??= err;
      }),
    );
  }
  await Promise.all(conversions);
  if (failure !== undefined) throw failure;
  return { written, peak };
}

/** promtool's block size for backfilled rules (its default, 2 h). */
export const ruleBlockSeconds = 2 * 3600;

/**
 * Where a rule backfill must start: at the 2 h block boundary at or before the
 * window. promtool (prometheus/prometheus v2.42.0, cmd/promtool/rules.go,
 * importRule) walks a rule's window block by block and, in the first block,
 * starts at the group's next evaluation slot; when that slot lies past the
 * block's end (the window starts less than one group interval before a
 * boundary), it `break`s out of the loop and writes nothing for the rule at
 * all, exit code 0. A 2-minute group over a window starting 60 s before a
 * boundary lost every sample that way. Starting on a boundary, the first block
 * is whole; before the data starts, rules simply record nothing.
 */
export function ruleBackfillStart(start: number): number {
  return Math.floor(start / ruleBlockSeconds) * ruleBlockSeconds;
}

export interface RuleBackfillOptions {
  dir: string;
  dataDir: string;
  rules: readonly RecordingRule[];
  /** The window, unix seconds, and the rules' evaluation interval. */
  start: number;
  end: number;
  intervalSeconds: number;
  /** Starts Prometheus on `dataDir` (again after each stage, to load its blocks). */
  serve: () => Promise<PrometheusServer>;
  /** Called after each stage. */
  stageDone?: (stage: number, stages: number, rules: number, blocks: number) => void;
}

/**
 * Backfills the recording rules stage by stage, each stage's rules in two
 * files at once (one per core), restarting Prometheus after each so the next
 * stage reads what the last one wrote. Returns the server serving it all.
 */
export async function backfillRules(opts: RuleBackfillOptions): Promise<PrometheusServer> {
  let server = await opts.serve();
  try {
    const stages = ruleStages(opts.rules);
    for (const [s, stage] of stages.entries()) {
      const halves = [stage.filter((_, i) => i % 2 === 0), stage.filter((_, i) => i % 2 === 1)].filter((h) => h.length > 0);
      const url = server.url;
      const moved = await Promise.all(
        halves.map(async (half, h) => {
          const ruleFile = join(opts.dir, `rules-${s}-${h}.yml`);
          writeFileSync(ruleFile, YAML.stringify({ groups: prometheusRuleGroups([], half, `${opts.intervalSeconds}s`) }, { lineWidth: 0 }));
          const out = join(opts.dir, `rule-blocks-${s}-${h}`);
          await promtoolOrThrow(
            ["tsdb", "create-blocks-from", "rules", "--quiet", `--url=${url}`, `--start=${ruleBackfillStart(opts.start)}`, `--end=${opts.end}`, `--output-dir=${out}`, ruleFile],
            {
              timeoutMs: 3_600_000,
            },
          );
          return moveBlocks(out, opts.dataDir);
        }),
      );
      await server.stop();
      server = await opts.serve();
      opts.stageDone?.(s + 1, stages.length, stage.length, sum(moved));
    }
    return server;
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
}
