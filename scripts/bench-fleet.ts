/**
 * Section B of `npm run bench`: what a full load of each dashboard costs a
 * real Prometheus at fleet scale, with the seed's raw expressions and with
 * the stack's own queries (recording rules included), in the same run against
 * the same server.
 *
 * 1. The synthetic fleet (sim/), built from the prod stack's pools and
 *    models at bench scale, is written as OpenMetrics through the stack's own
 *    scrape configuration and relabel rules (sim/openmetrics.ts), series
 *    sorted and each series' samples in time order, in parts of about 1.5 GB: `promtool tsdb
 *    create-blocks-from openmetrics` reads every input twice, so parts small
 *    enough to stay in the page cache are backfilled two at a time while the
 *    next one is written.
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
 * Prometheus and promtool stopped, on failure and on SIGINT/SIGTERM too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { catalog } from "../dashboards/common";
import { buildDashboards } from "../dashboards/index";
import { latencyBucketBoundsMs } from "../monitoring/metrics";
import type { PanelKey } from "../monitoring/queries";
import { recordingRules, type RecordingRule } from "../monitoring/recording";
import { prometheusRuleGroups } from "../alerts/prometheusRules";
import { seedPanels, type DashboardKey } from "../dashboards/seed";
import { fleetPods, kubeStateMetricsScrapeConfig } from "../sim/discovery";
import { Fleet } from "../sim/fleet";
import type { FleetTarget, GpuEntity } from "../sim/model";
import { Backfill, backfillWindow, promtoolBlockSeconds } from "../sim/openmetrics";
import { freeLoopbackPort, requireBinary } from "../verify/prometheus";
import { loadStackConfig } from "../verify/run";
import { fleetSettings, stackScrapeConfigs } from "../verify/stackFleet";
import { benchContext, benchScrapeIntervalSeconds, dashboardPanels, descendants, grafanaToPromql, metricNamesIn, parsePromql, selectorsIn, stackQueries, type GrafanaMacros } from "./bench-dcgm";

// ---------------------------------------------------------------------------
// Scale

export interface FleetScale {
  name: string;
  /** GPU nodes, spread over the stack's pools of `gpusPerNode`-GPU instances. */
  nodes: number;
  gpusPerNode: number;
  /** Models served: the stack's own, then generated ones. */
  models: number;
  routers: number;
  /** Routers that see a given deployment (routers are sharded by deployment). */
  routersPerDeployment: number;
  hours: number;
}

export const fleetScales: Record<"full" | "small", FleetScale> = {
  full: { name: "full", nodes: 128, gpusPerNode: 8, models: 64, routers: 32, routersPerDeployment: 4, hours: 6 },
  small: { name: "small", nodes: 8, gpusPerNode: 8, models: 4, routers: 4, routersPerDeployment: 2, hours: 1 },
};

/** The stack whose pools, models and scrape configuration (relabel rules included) the bench's fleet has. */
const fleetStack = "prod";
/** The scrape interval of the data, and the stack's (benchContext). */
const scrapeSeconds = benchScrapeIntervalSeconds;
/** The metric contract's bounds: the latency SLO reads the bucket at its target. */
const latencyBucketsMs = latencyBucketBoundsMs;

// ---------------------------------------------------------------------------
// The synthetic fleet (sim/), at bench scale

export interface BenchFleet {
  fleet: Fleet;
  /** The fleet over the window, as the stack's scrape configuration stores it. */
  backfill: Backfill;
  /** Sample timestamps, unix seconds. */
  start: number;
  end: number;
  steps: number;
  /** Physical GPUs. */
  gpus: number;
  /** Every GPU and MIG instance, held or free. */
  devices: GpuEntity[];
  /** MIG instances per GPU on the MIG pool (1 without one). */
  migPerGpu: number;
}

/**
 * The stack's fleet scaled up: its pools whose instances hold `gpusPerNode`
 * GPUs (pool maximum sizes ignored), written through its own scrape
 * configuration. Traffic swings by 10% over the window, each deployment in
 * its own phase; one GPU in 16 is held but barely used, a few GPU pods stay
 * Pending, and one node goes down for 20 minutes mid-window (gossip says so).
 */
export async function buildBenchFleet(scale: FleetScale, nowSeconds = Date.now() / 1000): Promise<BenchFleet> {
  const config = await loadStackConfig(fleetStack);
  const settings = fleetSettings(config);
  const pools = settings.pools.filter((p) => p.gpusPerInstance >= scale.gpusPerNode);
  if (pools.length === 0) throw new Error(`stack ${fleetStack} has no pool of ${scale.gpusPerNode}-GPU instances`);
  const window = backfillWindow(scale.hours, nowSeconds, scrapeSeconds);
  const down = window.start + Math.floor((window.end - window.start) / 2 / 60) * 60;
  const fleet = new Fleet({
    settings: { ...settings, pools },
    shape: { nodes: scale.nodes, gpusPerNode: scale.gpusPerNode, routers: scale.routers, models: scale.models, routersPerDeployment: scale.routersPerDeployment, gossipPeers: 4, belowPoolMax: false, idleEvery: 16, pendingPods: Math.max(1, Math.round(scale.nodes / 40)), traffic: { amplitude: 0.1, periodSeconds: scale.hours * 3600 } },
    timeline: [
      { from: window.start, scenario: "healthy" },
      { from: down, scenario: "node-down" },
      { from: Math.min(down + 1200, window.end), scenario: "healthy" },
    ],
  });
  const addressOf = (t: FleetTarget) => t.address;
  const scrapeConfigs = [...stackScrapeConfigs(config, fleetPods(fleet, addressOf), `${scrapeSeconds}s`), kubeStateMetricsScrapeConfig(fleet, addressOf, `${scrapeSeconds}s`)];
  const devices = fleet.gpuNodes.flatMap((n) => n.entities);
  return {
    fleet,
    backfill: new Backfill(fleet, scrapeConfigs, addressOf, window),
    start: window.start,
    end: window.end,
    steps: window.steps,
    gpus: new Set(devices.map((d) => d.uuid)).size,
    devices,
    migPerGpu: Math.max(1, ...fleet.pools.map((p) => p.mig?.instances ?? 1)),
  };
}

/**
 * Raw series the measured queries and the recording rules read but the
 * synthetic fleet lacks: a panel over them would time an empty answer.
 */
export function missingSeries(backfill: Backfill, queries: readonly string[], rules: readonly RecordingRule[]): string[] {
  const generated = new Set(backfill.families.map((f) => f.name));
  const recorded = new Set(rules.map((r) => r.record));
  const read = new Set([...queries, ...rules.map((r) => r.expr)].flatMap((q) => [...metricNamesIn(q)]));
  return [...read].filter((n) => !recorded.has(n) && !generated.has(n)).sort();
}

// ---------------------------------------------------------------------------
// Processes: Prometheus and promtool, tracked so every exit path stops them

const children = new Set<ChildProcess>();
let cleanupDir: string | undefined;

function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
}

function emergencyCleanup(): void {
  killChildren();
  if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
  cleanupDir = undefined;
}

function onSignal(signal: NodeJS.Signals): void {
  emergencyCleanup();
  process.exit(signal === "SIGINT" ? 130 : 143);
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary to completion, bounded by `timeoutMs`; output is kept (the tail of it) for error messages. */
function run(bin: string, args: string[], timeoutMs: number): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout = (stdout + c).slice(-65536)));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-65536)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${bin}: ${err.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function promtoolOrThrow(args: string[], timeoutMs: number): Promise<ToolRun> {
  const result = await run(requireBinary("promtool"), args, timeoutMs);
  if (result.code !== 0) throw new Error(`promtool ${args.join(" ")} failed (exit ${result.code}):\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`);
  return result;
}


const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

interface Server {
  url: string;
  stop(): Promise<void>;
}

/**
 * Prometheus on an existing data dir. verify/prometheus.ts' startPrometheus
 * always starts on a fresh data dir of its own and deletes it on stop, so it
 * cannot serve backfilled blocks across the restarts this needs.
 */
async function serve(dir: string, dataDir: string, extraArgs: string[]): Promise<Server> {
  const config = join(dir, "prometheus.yml");
  if (!existsSync(config)) writeFileSync(config, YAML.stringify({ global: { scrape_interval: `${scrapeSeconds}s`, evaluation_interval: `${scrapeSeconds}s` } }));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  let stderr = "";
  const child = track(
    spawn(requireBinary("prometheus"), [`--config.file=${config}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn", ...extraArgs], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-65536)));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const stopped = await Promise.race([exited.then(() => true), sleep(60_000).then(() => false)]);
    if (!stopped) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited early (${child.exitCode ?? child.signalCode}):\n${stderr.slice(-4000)}`);
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await response.text();
      if (response.status === 200) return { url, stop };
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`prometheus was not ready within 300 s:\n${stderr.slice(-4000)}`);
}

/** Moves every block (ULID-named dir) from `from` into `dataDir`; returns how many. */
function moveBlocks(from: string, dataDir: string): number {
  let moved = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory() && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name)) {
      renameSync(join(from, entry.name), join(dataDir, entry.name));
      moved++;
    }
  }
  return moved;
}

interface BlockMeta {
  dir: string;
  minTime: number;
  maxTime: number;
  series: number;
  samples: number;
}

function blocksOnDisk(dataDir: string): BlockMeta[] {
  const out: BlockMeta[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name)) continue;
    try {
      const meta = JSON.parse(readFileSync(join(dataDir, entry.name, "meta.json"), "utf8")) as { minTime: number; maxTime: number; stats?: { numSeries?: number; numSamples?: number } };
      out.push({ dir: entry.name, minTime: meta.minTime, maxTime: meta.maxTime, series: meta.stats?.numSeries ?? 0, samples: meta.stats?.numSamples ?? 0 });
    } catch {
      // Being written or removed.
    }
  }
  return out.sort((a, b) => a.minTime - b.minTime);
}

const overlapping = (blocks: BlockMeta[]) => blocks.some((b, i) => i > 0 && b.minTime < Math.max(...blocks.slice(0, i).map((x) => x.maxTime)));

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

/**
 * Waits until Prometheus has merged the overlapping backfilled blocks: its
 * first compaction starts a minute after start-up, and a merge running while
 * queries are timed would both slow them and change what they read from.
 */
async function settle(url: string, dataDir: string, timeoutMs: number): Promise<{ ms: number; blocks: BlockMeta[] }> {
  const started = Date.now();
  const hadOverlap = overlapping(blocksOnDisk(dataDir));
  while (Date.now() - started < timeoutMs) {
    const blocks = blocksOnDisk(dataDir);
    const pending = readdirSync(dataDir).some((name) => name.includes(".tmp"));
    const loaded = await metricValue(url, "prometheus_tsdb_blocks_loaded");
    const triggered = await metricValue(url, "prometheus_tsdb_compactions_triggered_total");
    if (!overlapping(blocks) && !pending && loaded === blocks.length && (!hadOverlap || triggered >= 1)) return { ms: Date.now() - started, blocks };
    await sleep(1_000);
  }
  throw new Error(`Prometheus did not merge the backfilled blocks within ${timeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------
// Recording rules: backfill order, and the raw expression behind a recorded series

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

/** Adds `matchers` to every vector selector of `expr`. */
function withMatchers(expr: string, matchers: readonly string[]): string {
  if (matchers.length === 0) return expr;
  const edits = descendants(parsePromql(expr), "VectorSelector").map((node) => {
    const list = node.getChild("LabelMatchers");
    if (!list) {
      const id = node.getChild("Identifier");
      if (!id) throw new Error(`selector without a name in ${expr}`);
      return { at: id.to, text: `{${matchers.join(", ")}}` };
    }
    const inside = expr.slice(list.from + 1, list.to - 1).trim();
    return { at: list.to - 1, text: `${inside === "" ? "" : ", "}${matchers.join(", ")}` };
  });
  let out = expr;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.at);
  return out;
}

/**
 * The raw equivalent of a query: every recorded series replaced by the
 * expression its rule records, with the query's label matchers moved onto
 * that expression's selectors (the stack only filters recorded series on
 * labels their rules keep, so this returns the same series).
 */
export function expandRecorded(expr: string, rules: ReadonlyMap<string, string>, ruleInterval: string): string {
  let current = expr;
  for (let depth = 0; depth < 8; depth++) {
    const recorded = selectorsIn(current).filter((s) => s.metric !== undefined && rules.has(s.metric));
    if (recorded.length === 0) return current;
    let out = current;
    for (const s of recorded.sort((a, b) => b.node.from - a.node.from)) {
      const raw = `(${withMatchers(rules.get(s.metric as string) as string, s.matchers)})`;
      const matrix = s.node.parent?.name === "MatrixSelector" ? s.node.parent : null;
      if (matrix) {
        // A range over a recorded series is that expression sampled at the
        // rule's interval: a subquery with that step.
        const range = current.slice(s.node.to, matrix.to).trim().replace(/^\[/, "").replace(/\]$/, "");
        out = `${out.slice(0, matrix.from)}${raw}[${range}:${ruleInterval}]${out.slice(matrix.to)}`;
      } else {
        out = `${out.slice(0, s.node.from)}${raw}${out.slice(s.node.to)}`;
      }
    }
    current = out;
  }
  throw new Error(`recorded series nested too deep in ${expr}`);
}

// ---------------------------------------------------------------------------
// Panels as Grafana issues them

interface Query {
  expr: string;
  instant: boolean;
}

export interface PanelPlan {
  dashboard: DashboardKey;
  title: string;
  /** The query catalog's key for the panel, when its targets are a catalog entry. */
  key?: PanelKey;
  /** `seed #n` (the seed's expression), `derived` (recorded series expanded) or `raw already` (no recorded series). */
  rawSource: string;
  stack: Query[];
  raw: Query[];
}

export function panelPlans(macros: GrafanaMacros): PanelPlan[] {
  const rules = new Map(recordingRules(benchContext.scrapeIntervalSeconds).map((r) => [r.record, r.expr]));
  const queriesByKey = catalog(benchContext);
  const keys = Object.keys(queriesByKey) as PanelKey[];
  return dashboardPanels(buildDashboards(benchContext)).map((p) => {
    const exprs = p.targets.map((t) => t.expr);
    const key = keys.find((k) => queriesByKey[k].length === exprs.length && queriesByKey[k].every((q, i) => q.expr === exprs[i]));
    const seed = key === undefined ? undefined : seedPanels.find((s) => s.panel === key);
    if (seed && seed.dashboard !== p.dashboard) throw new Error(`seed panel ${seed.number} belongs to ${seed.dashboard} but ${p.dashboard} shows it`);
    const stack = p.targets.map((t) => ({ expr: grafanaToPromql(t.expr, macros), instant: t.instant }));
    const instant = p.targets[0]?.instant ?? false;
    const common = { dashboard: p.dashboard, title: p.title, ...(key === undefined ? {} : { key }), stack };
    if (seed) return { ...common, rawSource: `seed #${seed.number}`, raw: [{ expr: seed.expr, instant }] };
    const raw = stack.map((q) => ({ expr: expandRecorded(q.expr, rules, `${scrapeSeconds}s`), instant: q.instant }));
    const same = raw.every((q, i) => q.expr === stack[i]?.expr);
    return { ...common, rawSource: same ? "raw already" : "derived", raw };
  });
}

interface QueryResult {
  ms: number;
  samples: number;
  peak: number;
  /** Prometheus' own execution time (no JSON encoding), ms. */
  execMs: number;
  series: number;
  bytes: number;
}

interface QueryStats {
  timings?: { execTotalTime?: number };
  samples?: { totalQueryableSamples?: number; peakSamples?: number };
}

/** The JSON object starting at `from` (stats hold no strings with braces). */
function objectAt(buf: Buffer, from: number): string {
  let depth = 0;
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return buf.subarray(from, i + 1).toString("utf8");
  }
  throw new Error("unterminated stats object");
}

/**
 * One query as Grafana sends it (POST, form-encoded) with `stats=all`. The
 * body is read in full but not parsed: on two cores, parsing tens of MB of
 * points here would be timed against Prometheus.
 */
async function runQuery(url: string, q: Query, window: { start: number; end: number; step: number }): Promise<QueryResult> {
  const params = new URLSearchParams(
    q.instant ? { query: q.expr, time: String(window.end), stats: "all" } : { query: q.expr, start: String(window.start), end: String(window.end), step: String(window.step), stats: "all" },
  );
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/${q.instant ? "query" : "query_range"}`, {
    method: "POST",
    body: params,
    signal: AbortSignal.timeout(600_000),
  });
  const body = Buffer.from(await response.arrayBuffer());
  const ms = performance.now() - started;
  if (!body.subarray(0, 40).toString("utf8").includes('"status":"success"')) throw new Error(`query failed (HTTP ${response.status}): ${body.subarray(0, 600).toString("utf8")}\n  query: ${q.expr}`);
  const at = body.lastIndexOf('"stats":');
  const stats = (at < 0 ? {} : JSON.parse(objectAt(body, at + 8))) as QueryStats;
  let series = 0;
  for (let i = body.indexOf('{"metric":'); i >= 0; i = body.indexOf('{"metric":', i + 10)) series++;
  return {
    ms,
    samples: stats.samples?.totalQueryableSamples ?? Number.NaN,
    peak: stats.samples?.peakSamples ?? Number.NaN,
    execMs: 1000 * (stats.timings?.execTotalTime ?? Number.NaN),
    series,
    bytes: body.length,
  };
}

interface LoadResult {
  ms: number;
  perQuery: QueryResult[];
}

/** A full dashboard load: every query of every panel at once, as Grafana does; done when the last one is. */
async function loadDashboard(url: string, queries: Query[], window: { start: number; end: number; step: number }): Promise<LoadResult> {
  const started = performance.now();
  const perQuery = await Promise.all(queries.map((q) => runQuery(url, q, window)));
  return { ms: performance.now() - started, perQuery };
}

async function instantValue(url: string, expr: string, time: number): Promise<number> {
  const body = (await (await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr, time: String(time) }), signal: AbortSignal.timeout(300_000) })).json()) as {
    status: string;
    data?: { result?: { value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? "failed"}`);
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

async function instantVector(url: string, expr: string, time: number): Promise<{ metric: Record<string, string>; value: number }[]> {
  const body = (await (await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr, time: String(time) }), signal: AbortSignal.timeout(300_000) })).json()) as {
    status: string;
    data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? "failed"}`);
  return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/**
 * What the measurement shows about the stack's queries and rules beyond
 * speed: recorded series nothing reads, per-GPU panels that merge MIG
 * instances, and device-level counters summed over MIG instances.
 */
async function stackChecks(url: string, fleet: BenchFleet, plans: readonly PanelPlan[], seriesOf: ReadonlyMap<PanelKey, number>, range: string): Promise<string[]> {
  const findings: string[] = [];
  const rules = recordingRules(benchContext.scrapeIntervalSeconds);
  const read = new Set(stackQueries(benchContext).flatMap((q) => [...metricNamesIn(q.expr)]));
  const unread = rules.filter((r) => !read.has(r.record)).map((r) => r.record);
  if (unread.length > 0) {
    const series = await instantValue(url, `count({__name__=~"${unread.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|")}"})`, fleet.end);
    findings.push(`recorded but read by no panel, alert or other rule: ${unread.join(", ")} (${fmt(series)} series evaluated every interval for nothing)`);
  }
  const devices = await instantValue(url, 'count(DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu_uuid!=""})', fleet.end);
  for (const p of plans) {
    if (p.key !== "gpuUtilization" && p.key !== "vramHeadroom") continue;
    const returned = seriesOf.get(p.key);
    if (returned !== undefined && returned < devices) {
      const why = p.stack.some((q) => q.expr.includes("mig_instance")) ? "" : "; its `by` has no mig_instance, so the MIG instances of one GPU with the same profile become one series";
      findings.push(`"${p.title}" returns ${fmt(returned)} series for ${fmt(devices)} GPUs and MIG instances${why}`);
    }
  }
  const ecc = plans.find((p) => p.key === "eccErrors");
  const migGpus = new Set(fleet.devices.filter((d) => d.mig).map((d) => d.uuid));
  for (const summed of ecc?.stack.filter((q) => /^\s*sum by \(/.test(q.expr)) ?? []) {
    const bySum = await instantVector(url, summed.expr, fleet.end);
    const byMax = new Map((await instantVector(url, summed.expr.replace(/^\s*sum by \(/, "max by ("), fleet.end)).map((r) => [r.metric.gpu_uuid, r.value]));
    const inflated = bySum.filter((r) => migGpus.has(r.metric.gpu_uuid ?? "") && r.value > (byMax.get(r.metric.gpu_uuid) ?? 0) * 1.000001);
    if (inflated.length > 0) {
      const field = [...metricNamesIn(summed.expr)].join(", ");
      findings.push(
        `"${ecc?.title}" sums ${field}, a device-level counter every MIG instance of a GPU repeats: on the ${inflated.length} MIG GPUs (of ${migGpus.size}) with such errors in ${range} it shows ${fleet.migPerGpu}x the device's count; max by (gpu_uuid, node) would not`,
      );
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------
// Report helpers

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(a / b >= 100 ? 0 : 1)}x` : "n/a");
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export interface FleetOptions {
  scale: FleetScale;
  /** Timed repetitions (after one untimed warm-up round). */
  reps: number;
  /** Range-query step, seconds. */
  step: number;
  /** Passed as --query.max-samples when set; Prometheus' default (50 M) otherwise. */
  maxSamples?: number;
  /** Where the temp dir goes. */
  tmpRoot?: string;
}

export async function runFleetSection(opts: FleetOptions): Promise<void> {
  const { scale } = opts;
  const phase = (() => {
    let last = performance.now();
    return (what: string) => {
      const now = performance.now();
      console.log(`  [${seconds(now - last)}] ${what}`);
      last = now;
    };
  })();
  const sectionStarted = performance.now();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", emergencyCleanup);
  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), "infermesh-bench-fleet-"));
  cleanupDir = dir;
  let server: Server | undefined;
  try {
    const fleet = await buildBenchFleet(scale);
    const { backfill } = fleet;
    const window = { start: fleet.end - scale.hours * 3600, end: fleet.end, step: opts.step };
    const macros: GrafanaMacros = { rateInterval: "1m", range: `${scale.hours}h`, interval: `${opts.step}s` };
    const plans = panelPlans(macros);
    const rules = recordingRules(benchContext.scrapeIntervalSeconds);
    const missing = missingSeries(backfill, plans.flatMap((p) => [...p.raw, ...p.stack].map((q) => q.expr)), rules);
    if (missing.length > 0) throw new Error(`the synthetic fleet has no series for ${missing.join(", ")}, which the dashboards or recording rules read; teach them to the simulator (sim/exporters/)`);
    const storedTotal = backfill.seriesCount;
    const dcgmSeries = sum(backfill.families.filter((f) => f.name.startsWith("DCGM_")).map((f) => f.series.length));
    const migInstances = fleet.devices.filter((e) => e.mig).length;
    const freeDevices = fleet.devices.filter((e) => !e.deployment).length;
    const poolNodes = fleet.fleet.pools.map((p) => `${p.name}: ${fleet.fleet.gpuNodes.filter((n) => n.pool === p).length} x ${p.gpu}${p.mig ? ` split into ${p.mig.instances}x ${p.mig.profile}` : ""}`);
    console.log(
      `fleet (${scale.name}, stack ${fleetStack}): ${fleet.gpus.toLocaleString("en-US")} GPUs on ${fleet.fleet.gpuNodes.length} nodes (${poolNodes.join(", ")}: ${migInstances} MIG instances; ${freeDevices} of ${fleet.devices.length} GPUs/instances free), ` +
        `${fleet.fleet.deployments.length} deployments (${fleet.fleet.models.length} models), ${scale.routers} routers (${scale.routersPerDeployment} per deployment), ` +
        `${scale.hours} h at ${scrapeSeconds} s (${fleet.steps} samples per series), window ${new Date(fleet.start * 1000).toISOString()} .. ${new Date(fleet.end * 1000).toISOString()}`,
    );
    console.log(
      `  ${fmt(storedTotal)} raw series (${fmt(dcgmSeries)} DCGM), ${fmt(storedTotal * fleet.steps)} samples; one serving pod per held GPU/instance; ` +
        `latency histogram with ${latencyBucketsMs.length + 1} buckets; temp dir ${dir}`,
    );

    // 1. Generate and backfill, pipelined: two promtools read finished parts while the next is written.
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    // Parts small enough to stay in the page cache between promtool's two
    // passes over each (one for the time range, one to append).
    const parts = backfill.planParts(1.5e9);
    let written = 0;
    let lines = 0;
    const backfills: Promise<void>[] = [];
    let failure: unknown;
    let running = 0;
    const waiting: (() => void)[] = [];
    const slot = async () => {
      while (running >= 2) await new Promise<void>((done) => waiting.push(done));
      running++;
    };
    const release = () => {
      running--;
      waiting.shift()?.();
    };
    for (const [k, part] of parts.entries()) {
      if (failure !== undefined) break;
      const file = join(dir, `part-${k}.om`);
      const result = await backfill.writePart(file, part);
      written += result.bytes;
      lines += result.lines;
      const out = join(dir, `blocks-${k}`);
      await slot();
      backfills.push(
        (async () => {
          try {
            await promtoolOrThrow(["tsdb", "create-blocks-from", "--quiet", `--max-block-duration=${promtoolBlockSeconds / 3600}h`, "openmetrics", file, out], 3_600_000);
          } finally {
            rmSync(file, { force: true });
            release();
          }
          moveBlocks(out, dataDir);
        })().catch((err: unknown) => {
          failure ??= err;
        }),
      );
    }
    await Promise.all(backfills);
    if (failure !== undefined) throw failure;
    phase(`generated ${parts.length} OpenMetrics part(s), ${(written / 1e9).toFixed(2)} GB, ${fmt(lines)} lines, and backfilled them with promtool`);

    // 2. Recording rules over the same window, in dependency order; each
    //    stage's rules in two files backfilled at once (one per core).
    const extraArgs = opts.maxSamples === undefined ? [] : [`--query.max-samples=${opts.maxSamples}`];
    server = await serve(dir, dataDir, extraArgs);
    const stages = ruleStages(rules);
    for (const [s, stage] of stages.entries()) {
      const halves = [stage.filter((_, i) => i % 2 === 0), stage.filter((_, i) => i % 2 === 1)].filter((h) => h.length > 0);
      const url = server.url;
      const moved = await Promise.all(
        halves.map(async (half, h) => {
          const ruleFile = join(dir, `rules-${s}-${h}.yml`);
          writeFileSync(ruleFile, YAML.stringify({ groups: prometheusRuleGroups([], half, `${scrapeSeconds}s`) }, { lineWidth: 0 }));
          const out = join(dir, `rule-blocks-${s}-${h}`);
          await promtoolOrThrow(["tsdb", "create-blocks-from", "rules", "--quiet", `--url=${url}`, `--start=${fleet.start}`, `--end=${fleet.end}`, `--output-dir=${out}`, ruleFile], 3_600_000);
          return moveBlocks(out, dataDir);
        }),
      );
      // Restart to load the new blocks (the next stage reads them; the last one is timed).
      await server.stop();
      server = await serve(dir, dataDir, extraArgs);
      phase(`backfilled recording-rule stage ${s + 1}/${stages.length} (${stage.length} rules, ${sum(moved)} blocks) and restarted Prometheus`);
    }
    const settled = await settle(server.url, dataDir, 900_000);
    phase(`Prometheus merged the overlapping blocks into ${settled.blocks.length} block(s) (${fmt(sum(settled.blocks.map((b) => b.samples)))} samples)`);

    // 3. Dashboards, raw and stack. First every query alone (a warm-up, and
    //    each panel's own cost without the others competing for the two
    //    cores), then full loads: all panels at once, variants alternating.
    const url = server.url;
    const dashboards = [...new Set(plans.map((p) => p.dashboard))];
    const variants = ["raw", "stack"] as const;
    type Variant = (typeof variants)[number];
    const queriesOf = (d: DashboardKey, v: Variant) => plans.filter((p) => p.dashboard === d).flatMap((p) => p[v]);
    const alone = new Map<string, QueryResult[]>();
    const loads = new Map<string, LoadResult[]>();
    const failures = new Map<string, string>();
    for (const d of dashboards) {
      for (const v of variants) {
        const id = `${d}/${v}`;
        try {
          const results: QueryResult[] = [];
          for (const q of queriesOf(d, v)) results.push(await runQuery(url, q, window));
          alone.set(id, results);
        } catch (err) {
          failures.set(id, err instanceof Error ? err.message : String(err));
        }
      }
    }
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const d of dashboards) {
        const order: readonly Variant[] = rep % 2 === 1 ? variants : [...variants].reverse();
        for (const v of order) {
          const id = `${d}/${v}`;
          if (failures.has(id)) continue;
          try {
            loads.set(id, [...(loads.get(id) ?? []), await loadDashboard(url, queriesOf(d, v), window)]);
          } catch (err) {
            failures.set(id, err instanceof Error ? err.message : String(err));
          }
        }
      }
    }
    phase(`ran every query alone once, then timed ${opts.reps} full loads of ${dashboards.length} dashboards x 2 variants`);

    const total = await instantValue(url, 'count({__name__=~".+"})', fleet.end);
    const recorded = await instantValue(url, 'count({__name__=~".+:.+"})', fleet.end);
    const dcgmStored = await instantValue(url, 'count({__name__=~"DCGM_.+"})', fleet.end);

    console.log("");
    console.log(
      `Full dashboard loads: range queries over ${scale.hours} h at step ${opts.step} s (Grafana's interval for a ~700 px panel over 6 h; --step to change), instant queries at the range's end for stat/gauge/table/bar panels; ` +
        `variables at All (.*), $__rate_interval=1m, $__range=${scale.hours}h; every panel of a dashboard at once; median of ${opts.reps}; ` +
        `--query.max-samples ${opts.maxSamples === undefined ? "left at Prometheus' default (50,000,000)" : `raised to ${fmt(opts.maxSamples)}`}.`,
    );
    console.log("raw = the seed's expression for seed panels, each recorded series expanded to the expression its rule records for the others; stack = the dashboard JSON's targets.");
    console.log("samples = totalQueryableSamples summed over the dashboard's queries (stats=all); peak = the largest peakSamples of one query; exec = Prometheus' own execution time summed over the queries (no JSON encoding).");
    const head = ["dashboard", "raw ms", "stack ms", "speed-up", "raw samples", "stack samples", "samples x", "raw exec ms", "stack exec ms", "raw peak", "stack peak", ">=10x"];
    const widths = [16, 9, 9, 9, 15, 15, 10, 12, 14, 12, 12, 7];
    const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(""));
    line(head);
    const summary = (d: DashboardKey, v: Variant) => {
      const runs = loads.get(`${d}/${v}`) ?? [];
      const first = alone.get(`${d}/${v}`) ?? [];
      return {
        ms: median(runs.map((r) => r.ms)),
        execMs: median(runs.map((r) => sum(r.perQuery.map((q) => q.execMs)))),
        samples: sum(first.map((q) => q.samples)),
        peak: Math.max(...first.map((q) => q.peak)),
        stable: runs.every((r) => sum(r.perQuery.map((q) => q.samples)) === sum(first.map((q) => q.samples))),
      };
    };
    const totals = { raw: { ms: 0, samples: 0 }, stack: { ms: 0, samples: 0 } };
    const shortfalls: string[] = [];
    for (const d of dashboards) {
      const raw = summary(d, "raw");
      const stack = summary(d, "stack");
      totals.raw.ms += raw.ms;
      totals.raw.samples += raw.samples;
      totals.stack.ms += stack.ms;
      totals.stack.samples += stack.samples;
      const speedUp = raw.ms / stack.ms;
      const met = Number.isFinite(speedUp) ? (speedUp >= 10 ? "yes" : "NO") : "n/a";
      if (met !== "yes") shortfalls.push(`${d} ${Number.isFinite(speedUp) ? `${speedUp.toFixed(1)}x` : "not measured"}`);
      line([d, fmt(raw.ms), fmt(stack.ms), ratio(raw.ms, stack.ms), fmt(raw.samples), fmt(stack.samples), ratio(raw.samples, stack.samples), fmt(raw.execMs), fmt(stack.execMs), fmt(raw.peak), fmt(stack.peak), met]);
      if (!raw.stable || !stack.stable) console.log(`  note: samples processed differed between repetitions for ${d}`);
    }
    line(["all four", fmt(totals.raw.ms), fmt(totals.stack.ms), ratio(totals.raw.ms, totals.stack.ms), fmt(totals.raw.samples), fmt(totals.stack.samples), ratio(totals.raw.samples, totals.stack.samples), "", "", "", "", ""]);
    console.log(shortfalls.length === 0 ? "Target (every dashboard >= 10x faster): met." : `Target (every dashboard >= 10x faster) NOT met for: ${shortfalls.join(", ")}.`);
    for (const [id, message] of failures) console.log(`FAILED ${id}: ${message}`);

    console.log("");
    console.log(
      "Per panel, each query run alone (ms = wall time of the panel's queries one after another; exec = Prometheus' execution time within it, the rest being JSON encoding and transfer; series and MB = what the stack's query returns; n-ex = share of the stack's time spent outside execution):",
    );
    const phead = ["dashboard", "panel", "raw from", "type", "raw ms", "stack ms", "speed-up", "raw exec", "stack exec", "raw samples", "stack samples", "samples x", "raw series", "stack series", "stack MB"];
    const pw = [16, 34, 12, 8, 9, 9, 9, 9, 11, 14, 14, 10, 11, 13, 9];
    const pline = (cells: string[]) => console.log(cells.map((c, i) => (i < 3 ? c.slice(0, (pw[i] as number) - 1).padEnd(pw[i] as number) : c.padStart(pw[i] as number))).join(""));
    pline(phead);
    const empty: string[] = [];
    const seriesOf = new Map<PanelKey, number>();
    for (const d of dashboards) {
      const offsets = { raw: 0, stack: 0 };
      for (const p of plans.filter((x) => x.dashboard === d)) {
        const slice = (v: Variant) => {
          const mine = (alone.get(`${d}/${v}`) ?? []).slice(offsets[v], offsets[v] + p[v].length);
          offsets[v] += p[v].length;
          mine.forEach((q, i) => q.series === 0 && empty.push(`${d} ${v} "${p.title}": ${p[v][i]?.expr ?? "?"}`));
          return {
            ms: sum(mine.map((q) => q.ms)),
            execMs: sum(mine.map((q) => q.execMs)),
            samples: sum(mine.map((q) => q.samples)),
            series: sum(mine.map((q) => q.series)),
            mb: sum(mine.map((q) => q.bytes)) / 1e6,
          };
        };
        const raw = slice("raw");
        const stack = slice("stack");
        if (p.key) seriesOf.set(p.key, stack.series);
        pline([
          d,
          p.title,
          p.rawSource,
          p.stack[0]?.instant ? "instant" : "range",
          fmt(raw.ms),
          fmt(stack.ms),
          ratio(raw.ms, stack.ms),
          fmt(raw.execMs),
          fmt(stack.execMs),
          fmt(raw.samples),
          fmt(stack.samples),
          ratio(raw.samples, stack.samples),
          fmt(raw.series),
          fmt(stack.series),
          stack.mb.toFixed(1),
        ]);
      }
      const totalOf = (v: Variant) => {
        const all = alone.get(`${d}/${v}`) ?? [];
        return { ms: sum(all.map((q) => q.ms)), execMs: sum(all.map((q) => q.execMs)) };
      };
      const [raw, stack] = [totalOf("raw"), totalOf("stack")];
      pline([
        d,
        "(all panels, one after another)",
        "",
        "",
        fmt(raw.ms),
        fmt(stack.ms),
        ratio(raw.ms, stack.ms),
        fmt(raw.execMs),
        fmt(stack.execMs),
        "",
        "",
        "",
        "",
        "",
        `${stack.ms > 0 ? Math.round((100 * (stack.ms - stack.execMs)) / stack.ms) : 0}% n-ex`,
      ]);
    }
    for (const q of empty) console.log(`note: no series returned by ${q}`);

    console.log("");
    console.log(
      `TSDB: ${fmt(total)} series at the end of the window (${fmt(total - recorded)} raw, ${fmt(recorded)} recorded; ${fmt(dcgmStored)} DCGM); ` +
        `${((total - recorded) / fleet.gpus).toFixed(1)} raw series per GPU (${(dcgmStored / fleet.gpus).toFixed(1)} DCGM), ${(total / fleet.gpus).toFixed(1)} with recorded.`,
    );
    for (const finding of await stackChecks(url, fleet, plans, seriesOf, `${scale.hours}h`)) console.log(`check: ${finding}`);
    console.log(`fleet section took ${seconds(performance.now() - sectionStarted)}`);
  } finally {
    if (server) await server.stop().catch(() => undefined);
    killChildren();
    rmSync(dir, { recursive: true, force: true });
    cleanupDir = undefined;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", emergencyCleanup);
  }
}
