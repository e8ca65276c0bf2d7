/**
 * The fleet section of `npm run bench`: what a full load of each dashboard
 * costs a real Prometheus at fleet scale, with the seed's raw expressions and
 * with the stack's own queries (recording rules included), in the same run
 * against the same server.
 *
 * 1. The synthetic fleet (bench/fleet/model.ts) is written as OpenMetrics in
 *    parts; each part is converted to TSDB blocks by `promtool tsdb
 *    create-blocks-from openmetrics` and deleted as soon as it is converted.
 *    Two conversions run at once (one per core) while the next part is
 *    written, so at most three parts are on disk at any time: the disk use is
 *    bounded by the part size, not by the fleet.
 * 2. Prometheus serves those blocks; `promtool tsdb create-blocks-from rules`
 *    backfills the stack's recording rules over the same window, in
 *    dependency order (a rule reading another recorded series needs that
 *    series loaded first), with a restart after each stage to load the blocks.
 * 3. Once Prometheus has merged the overlapping backfilled blocks (so the
 *    merge neither runs during nor distorts the timings), every query runs
 *    alone once (warm-up, and each panel's own cost), then each dashboard is
 *    loaded as Grafana loads it, all panels at once, raw and stack
 *    alternating; `stats=all` gives the samples processed.
 *
 * Everything runs on 127.0.0.1 under one temp dir, removed at the end with
 * Prometheus and promtool stopped, on failure and on SIGINT/SIGTERM too
 * (verify/prometheus.ts tracks them).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingRules } from "../../monitoring/recording";
import { longWindowInterval } from "../../monitoring/slo";
import { sum } from "../../lib/stats";
import { escapeRegexInPromqlString } from "../../lib/escapeRegex";
import { metricNamesIn, type GrafanaMacros } from "../../lib/promql";
import { removeOnExit, startPrometheus, type PrometheusServer } from "../../verify/prometheus";
import { benchContext, stackQueries } from "../context";
import { syntheticFleet, type FleetScale, type FleetShape } from "./model";
import { panelPlans, type PanelPlan } from "./plans";
import { blocksOnDisk, instantValue, instantVector, loadDashboard, runQuery, settle, type LoadResult, type QueryResult } from "./prometheusApi";
import { backfillRules, convertParts, parallelConversions } from "../../verify/backfill";

export interface FleetOptions {
  scale: FleetScale;
  /** Timed repetitions (after one untimed round of every query alone). */
  reps: number;
  /** Range-query step, seconds. */
  step: number;
  /** Passed as --query.max-samples when set; Prometheus' default (50 M) otherwise. */
  maxSamples?: number;
  /** Size of one OpenMetrics part, bytes. */
  partBytes: number;
  /** Where the temp dir goes. */
  tmpRoot?: string;
  /** One line per phase, as it finishes. */
  progress: (line: string) => void;
  /** Called once the fleet is built, before anything is written. */
  onFleet?: (shape: FleetShape) => void;
}

export interface DiskPlan {
  /** Estimated size of all the OpenMetrics the fleet is written as. */
  openMetricsBytes: number;
  partBytes: number;
  parts: number;
  /** Parts on disk at once at most: those being converted and the one being written. */
  partsOnDiskAtOnce: number;
  /** OpenMetrics on disk at once at most (estimate). */
  openMetricsBoundBytes: number;
}

export interface DiskUse extends DiskPlan {
  /** OpenMetrics written, measured. */
  openMetricsWrittenBytes: number;
  /** Largest OpenMetrics total on disk at one time, measured. */
  openMetricsPeakBytes: number;
  /** The TSDB at the end (raw and recorded blocks), measured. */
  tsdbBytes: number;
}

/** Raw runs of one dashboard variant. */
export interface VariantRuns {
  /** Each query alone, in plan order. */
  alone: QueryResult[];
  /** Each timed full load. */
  loads: LoadResult[];
}

export interface FleetMeasurement {
  fleet: FleetShape;
  disk: DiskUse;
  macros: GrafanaMacros;
  window: { start: number; end: number; step: number };
  plans: PanelPlan[];
  /** `<dashboard>/<raw|stack>` → runs. */
  runs: Record<string, VariantRuns>;
  failures: { id: string; message: string }[];
  tsdb: { series: number; recordedSeries: number; dcgmSeries: number; blocks: number; samples: number };
  /**
   * What the recording rules cost Prometheus: each rule's expression as one
   * evaluation at the window's end (the samples it reads, Prometheus' time),
   * summed per group (the series they store are `tsdb.recordedSeries`).
   */
  rules: {
    count: number;
    longCount: number;
    longInterval: string;
    samplesPerEvaluation: number;
    samplesPerLongEvaluation: number;
    execMs: number;
    perRule: { record: string; samples: number; execMs: number }[];
  };
  /**
   * Each dashboard with one model, then one GPU node picked (the others at
   * All): every query alone, raw (expanded, with the same pick) and stack.
   */
  picked: { variable: "model" | "node"; value: string; dashboard: string; raw: QueryResult[]; stack: QueryResult[] }[];
  /** Recorded series no panel, alert or other rule reads, and how many series they are. */
  unreadRecorded: { records: string[]; series: number };
  phases: { what: string; ms: number }[];
  ms: number;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size;
  }
  return total;
}

/** The disk a fleet will take in OpenMetrics, stated before anything is written. */
export function diskPlan(openMetricsBytes: number, parts: number, partBytes: number): DiskPlan {
  const partsOnDiskAtOnce = Math.min(parts, parallelConversions + 1);
  return { openMetricsBytes, partBytes, parts, partsOnDiskAtOnce, openMetricsBoundBytes: Math.min(openMetricsBytes, partsOnDiskAtOnce * partBytes) };
}

export async function measureFleet(opts: FleetOptions): Promise<FleetMeasurement> {
  const { scale } = opts;
  const started = performance.now();
  const phases: { what: string; ms: number }[] = [];
  let last = started;
  const phase = (what: string) => {
    const now = performance.now();
    phases.push({ what, ms: now - last });
    opts.progress(`[${((now - last) / 1000).toFixed(1)} s] ${what}`);
    last = now;
  };

  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), "infermesh-bench-fleet-"));
  const forgetDir = removeOnExit(dir);
  let server: PrometheusServer | undefined;
  try {
    const fleet = await syntheticFleet(scale);
    const shape = fleet.shape;
    opts.onFleet?.(shape);
    const window = { start: shape.end - scale.hours * 3600, end: shape.end, step: opts.step };
    const macros: GrafanaMacros = { rateInterval: "1m", range: `${scale.hours}h`, interval: `${opts.step}s` };
    const plans = panelPlans(macros, scale.hours * 3600);
    const rules = recordingRules(benchContext.scrapeIntervalSeconds);
    const missing = fleet.missing(
      plans.flatMap((p) => [...p.raw, ...p.stack].map((q) => q.expr)),
      rules,
    );
    if (missing.length > 0)
      throw new Error(
        `the synthetic fleet has no series for ${missing.join(", ")}, which the dashboards or recording rules read; add them to the fleet model (bench/fleet/model.ts)`,
      );
    const { parts, bytes } = fleet.parts(opts.partBytes);
    const plan = diskPlan(bytes, parts.length, opts.partBytes);
    phase(
      `planned ${shape.gpus.toLocaleString("en-US")} GPUs, ${shape.rawSeries.toLocaleString("en-US")} raw series x ${shape.samplesPerSeries} samples: ` +
        `${parts.length} OpenMetrics part(s), ${(bytes / 1e9).toFixed(2)} GB in all, at most ${plan.partsOnDiskAtOnce} on disk at once (~${(plan.openMetricsBoundBytes / 1e9).toFixed(2)} GB); temp dir ${dir}`,
    );

    // 1. Write and convert, pipelined; each part is deleted once converted.
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    const { written, peak } = await convertParts({ dir, dataDir, parts, writePart: (file, part) => fleet.writePart(file, part), progress: opts.progress });
    phase(`wrote ${parts.length} OpenMetrics part(s), ${(written / 1e9).toFixed(2)} GB (at most ${(peak / 1e9).toFixed(2)} GB on disk at once), and converted them with promtool`);

    // 2. Recording rules over the same window, in dependency order.
    const args = opts.maxSamples === undefined ? [] : [`--query.max-samples=${opts.maxSamples}`];
    const config = { global: { scrape_interval: `${shape.scrapeSeconds}s`, evaluation_interval: `${shape.scrapeSeconds}s` } };
    server = await backfillRules({
      dir,
      dataDir,
      rules,
      start: shape.start,
      end: shape.end,
      intervalSeconds: shape.scrapeSeconds,
      serve: () => startPrometheus({ config, dataDir, args, readyTimeoutMs: 300_000, stopTimeoutMs: 60_000 }),
      stageDone: (s, n, count, blocks) => phase(`backfilled recording-rule stage ${s}/${n} (${count} rules, ${blocks} blocks) and restarted Prometheus`),
    });
    opts.progress("waiting for Prometheus to merge the overlapping blocks (its first compaction starts a minute after start-up)");
    const settled = await settle(server.url, dataDir, 900_000);
    phase(`Prometheus merged the overlapping blocks into ${settled.blocks.length} block(s) (${sum(settled.blocks.map((b) => b.samples)).toLocaleString("en-US")} samples)`);

    // 3. Dashboards, raw and stack. First every query alone (a warm-up, and
    //    each panel's own cost without the others competing for the two
    //    cores), then full loads: all panels at once, variants alternating.
    const url = server.url;
    const dashboards = [...new Set(plans.map((p) => p.dashboard))];
    const variants = ["raw", "stack"] as const;
    const queriesOf = (d: string, v: (typeof variants)[number]) => plans.filter((p) => p.dashboard === d).flatMap((p) => p[v]);
    const runs: Record<string, VariantRuns> = {};
    const failures = new Map<string, string>();
    for (const d of dashboards) {
      for (const v of variants) {
        const id = `${d}/${v}`;
        try {
          const alone: QueryResult[] = [];
          for (const q of queriesOf(d, v)) alone.push(await runQuery(url, q, window));
          runs[id] = { alone, loads: [] };
        } catch (err) {
          failures.set(id, err instanceof Error ? err.message : String(err));
        }
      }
    }
    phase(`ran each of ${plans.reduce((n, p) => n + p.raw.length + p.stack.length, 0)} queries alone once`);
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const d of dashboards) {
        const order = rep % 2 === 1 ? variants : ([...variants].reverse() as readonly (typeof variants)[number][]);
        for (const v of order) {
          const id = `${d}/${v}`;
          const variant = runs[id];
          if (failures.has(id) || !variant) continue;
          try {
            variant.loads.push(await loadDashboard(url, queriesOf(d, v), window));
          } catch (err) {
            failures.set(id, err instanceof Error ? err.message : String(err));
          }
        }
      }
      phase(`full load ${rep}/${opts.reps} of ${dashboards.length} dashboards x 2 variants`);
    }

    const picked: FleetMeasurement["picked"] = [];
    const [model] = (await instantVector(url, "topk(1, count by (model) (infermesh_inferences_total))", shape.end)).map((s) => s.metric.model ?? "");
    const [node] = (await instantVector(url, "topk(1, count by (node) (DCGM_FI_DEV_GPU_UTIL))", shape.end)).map((s) => s.metric.node ?? "");
    for (const [variable, value] of [
      ["model", model],
      ["node", node],
    ] as const) {
      if (!value) throw new Error(`the fleet has no ${variable} to pick`);
      const pickedPlans = panelPlans(macros, scale.hours * 3600, { [variable]: escapeRegexInPromqlString(value) });
      for (const d of dashboards) {
        const mine = pickedPlans.filter((p) => p.dashboard === d);
        const run = async (v: "raw" | "stack") => {
          const out: QueryResult[] = [];
          for (const q of mine.flatMap((p) => p[v])) out.push(await runQuery(url, q, window));
          return out;
        };
        picked.push({ variable, value, dashboard: d, raw: await run("raw"), stack: await run("stack") });
      }
    }
    phase(`ran each dashboard's queries alone with one model (${model}) and one node (${node}) picked`);
    const perRule: FleetMeasurement["rules"]["perRule"] = [];
    for (const r of rules) {
      const q = await runQuery(url, { expr: r.expr, instant: true }, window);
      perRule.push({ record: r.record, samples: q.samples, execMs: q.execMs });
    }
    const isLong = new Set(rules.filter((r) => r.cadence === "long").map((r) => r.record));
    phase(`evaluated each of ${rules.length} recording rules once`);
    const series = await instantValue(url, 'count({__name__=~".+"})', shape.end);
    const recordedSeries = await instantValue(url, 'count({__name__=~".+:.+"})', shape.end);
    const dcgmSeries = await instantValue(url, 'count({__name__=~"DCGM_.+"})', shape.end);
    const read = new Set(stackQueries(benchContext).flatMap((q) => [...metricNamesIn(q.expr)]));
    const unread = rules.filter((r) => !read.has(r.record)).map((r) => r.record);
    const unreadSeries = unread.length === 0 ? 0 : await instantValue(url, `count({__name__=~"${unread.map(escapeRegexInPromqlString).join("|")}"})`, shape.end);
    const blocks = blocksOnDisk(dataDir);
    await server.stop();
    server = undefined;
    const tsdbBytes = dirBytes(dataDir);
    return {
      fleet: shape,
      disk: { ...plan, openMetricsWrittenBytes: written, openMetricsPeakBytes: peak, tsdbBytes },
      macros,
      window,
      plans,
      runs,
      failures: [...failures].map(([id, message]) => ({ id, message })),
      tsdb: { series, recordedSeries, dcgmSeries, blocks: blocks.length, samples: sum(blocks.map((b) => b.samples)) },
      unreadRecorded: { records: unread, series: unreadSeries },
      picked,
      rules: {
        count: rules.length,
        longCount: isLong.size,
        longInterval: longWindowInterval(benchContext.scrapeIntervalSeconds),
        samplesPerEvaluation: sum(perRule.filter((r) => !isLong.has(r.record)).map((r) => r.samples)),
        samplesPerLongEvaluation: sum(perRule.filter((r) => isLong.has(r.record)).map((r) => r.samples)),
        execMs: sum(perRule.map((r) => r.execMs)),
        perRule,
      },
      phases,
      ms: performance.now() - started,
    };
  } finally {
    if (server) await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  }
}
