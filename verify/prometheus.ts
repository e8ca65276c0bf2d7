/**
 * A real Prometheus (and its promtool) for tests and tools: config, rules and
 * queries are checked by the same code that will run them in the cluster
 * rather than by a reimplementation. Only 127.0.0.1 is ever contacted, and
 * every wait is bounded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import YAML from "yaml";
import { findOnPath } from "../cli/prerequisites";
import { sleep } from "../lib/sleep";

export type BinaryName = "prometheus" | "promtool" | "amtool";

const debianPackage: Record<BinaryName, string> = {
  prometheus: "prometheus",
  promtool: "prometheus",
  amtool: "prometheus-alertmanager",
};

/** The absolute path of an executable on PATH, or an Error naming the Debian package that provides it. */
export function requireBinary(name: BinaryName): string {
  const found = findOnPath(name);
  if (found) return found;
  throw new Error(`${name} is missing: it was not found on PATH. On Debian, \`apt-get install ${debianPackage[name]}\` provides it.`);
}

// Query API types (the subset of https://prometheus.io/docs/prometheus/latest/querying/api/ the helpers return).

export interface InstantSample {
  metric: Record<string, string>;
  /** [unix seconds, value as Prometheus formats it]. */
  value: [number, string];
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface ActiveTarget {
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  health: "up" | "down" | "unknown";
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  scrapeInterval: string;
  scrapeTimeout: string;
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "inactive" | "pending" | "firing";
  activeAt?: string;
  value: string;
}

interface RuleCommon {
  name: string;
  query: string;
  labels?: Record<string, string>;
  health: "ok" | "err" | "unknown";
  lastError?: string;
  evaluationTime: number;
  lastEvaluation: string;
}

export interface AlertingRule extends RuleCommon {
  type: "alerting";
  duration: number;
  annotations: Record<string, string>;
  alerts: Alert[];
  state: "inactive" | "pending" | "firing";
}

export interface RecordingRule extends RuleCommon {
  type: "recording";
}

export interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: Array<AlertingRule | RecordingRule>;
  evaluationTime: number;
  lastEvaluation: string;
}

export interface PrometheusServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The temp dir holding prometheus.yml, the extra files and (without `dataDir`) the TSDB; removed by stop(). */
  dir: string;
  /** Instant query; `time` in unix seconds (default: now). Scalar results come back as one sample with no labels. */
  query(expr: string, time?: number): Promise<InstantSample[]>;
  /** Range query; times in unix seconds, step in seconds or as a duration (`"15s"`). */
  queryRange(expr: string, start: number, end: number, step: number | string): Promise<RangeSeries[]>;
  /** Active targets with their health, labels and last scrape error. */
  targets(): Promise<ActiveTarget[]>;
  /** Polls `predicate` until it returns true; throws `timed out waiting for <what>` after `timeoutMs` (default 15 s). */
  waitFor(predicate: () => Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** Loaded rule groups with each rule's health and last error. */
  rules(): Promise<RuleGroup[]>;
  /** Pending and firing alerts. */
  alerts(): Promise<Alert[]>;
  /** SIGTERM (SIGKILL if it lingers), wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** prometheus.yml as a JS object; written as YAML. */
  config: object;
  /** Extra files (e.g. rule files) written next to prometheus.yml, by relative name. */
  files?: Record<string, string>;
  /** Extra command-line flags. */
  args?: string[];
  /** How long to wait for /-/ready (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * An existing TSDB directory to serve (e.g. backfilled blocks), kept by
   * stop(); without it the TSDB is a fresh `data/` in the temp dir.
   */
  dataDir?: string;
  /** How long stop() waits after SIGTERM before SIGKILL (default 5 s; a large head takes longer to close). */
  stopTimeoutMs?: number;
  /** How long a query may take (default 10 s; hours of backfilled data on a busy machine take longer). */
  queryTimeoutMs?: number;
}

const httpTimeoutMs = 10_000;
const stderrLimit = 64 * 1024;

/**
 * Processes started here and not yet ended, and temp dirs not yet removed:
 * killed and removed when the process exits (a test that never calls stop(),
 * an exception), or on SIGINT/SIGTERM once stopOnSignals() is installed.
 */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function cleanupNow(): void {
  for (const child of liveChildren) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", cleanupNow);
}

/** Tracks a child until it exits, so no exit path leaves it running. */
export function trackChild<C extends ChildProcess>(child: C): C {
  installExitHook();
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  child.once("error", () => liveChildren.delete(child));
  return child;
}

/** Removes `dir` on exit (or signal) unless the returned function is called first, after the caller removed it. */
export function removeOnExit(dir: string): () => void {
  installExitHook();
  liveDirs.add(dir);
  return () => liveDirs.delete(dir);
}

/**
 * On SIGINT/SIGTERM: kill every tracked process, remove every tracked dir,
 * exit 130/143 (the shell's codes for those signals). For commands; tests
 * leave signals to their runner. Returns the uninstaller.
 */
export function stopOnSignals(): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    cleanupNow();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}

/** A port that was free a moment ago: the kernel's pick for 127.0.0.1:0. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls until `predicate` is true; bounded by time and by attempt count. */
async function poll(predicate: () => Promise<boolean>, what: string, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    try {
      if (await predicate()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const detail = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
  throw new Error(`timed out waiting for ${what} after ${timeoutMs} ms${detail}`);
}

/** Writes `files` under `dir`, refusing names that would land outside it. */
async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const target = resolve(dir, name);
    const rel = relative(dir, target);
    if (isAbsolute(name) || rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
      throw new Error(`file name ${JSON.stringify(name)} must be relative and stay inside the Prometheus dir`);
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

async function getJson(url: string, timeoutMs = httpTimeoutMs): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GET ${url}: HTTP ${response.status}, not JSON: ${text.slice(0, 500)}`);
  }
  return body;
}

interface ApiEnvelope {
  status: "success" | "error";
  data?: unknown;
  errorType?: string;
  error?: string;
}

/** Calls a /api/v1 endpoint and returns `data`, throwing with Prometheus's error text on status "error". */
async function api(base: string, path: string, params: Record<string, string> = {}, timeoutMs = httpTimeoutMs): Promise<unknown> {
  const url = `${base}${path}${Object.keys(params).length > 0 ? `?${new URLSearchParams(params)}` : ""}`;
  const body = (await getJson(url, timeoutMs)) as ApiEnvelope;
  if (body.status !== "success") {
    throw new Error(`Prometheus ${path} failed (${body.errorType ?? "unknown"}): ${body.error ?? JSON.stringify(body)}`);
  }
  return body.data;
}

function startOnce(bin: string, dir: string, dataDir: string, configPath: string, port: number, args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(bin, [`--config.file=${configPath}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn", ...args], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
  });
  trackChild(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrLimit);
  });
  return { child, stderr: () => stderr };
}

/** Starts Prometheus on a free loopback port with `config`, and resolves once /-/ready answers 200. */
export async function startPrometheus(opts: StartOptions): Promise<PrometheusServer> {
  const bin = requireBinary("prometheus");
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), "verify-prometheus-"));
  const forgetDir = removeOnExit(dir);
  const dataDir = opts.dataDir ?? join(dir, "data");
  const stopTimeoutMs = opts.stopTimeoutMs ?? 5_000;
  const configPath = join(dir, "prometheus.yml");
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;

  try {
    await writeFiles(dir, opts.files ?? {});
    await writeFile(configPath, YAML.stringify(opts.config));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    forgetDir();
    throw error;
  }

  // The port is probed then released, so another process can take it first;
  // a start that fails on "address already in use" is retried on a new port.
  const maxAttempts = 3;
  let lastFailure = "";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const port = await freeLoopbackPort();
    const url = `http://127.0.0.1:${port}`;
    const { child, stderr } = startOnce(bin, dir, dataDir, configPath, port, opts.args ?? []);

    let exited = false;
    let spawnError: Error | undefined;
    child.once("exit", () => {
      exited = true;
    });
    child.once("error", (error) => {
      spawnError = error;
      exited = true;
    });

    const kill = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null && !spawnError) {
        child.kill("SIGTERM");
        if (!(await waitForExit(child, stopTimeoutMs))) {
          child.kill("SIGKILL");
          await waitForExit(child, 2_000);
        }
      }
    };

    const deadline = Date.now() + readyTimeoutMs;
    let ready = false;
    for (let probe = 0; probe < Math.ceil(readyTimeoutMs / 100) + 1 && !exited && Date.now() < deadline; probe++) {
      try {
        const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
        await response.text();
        if (response.status === 200) {
          ready = true;
          break;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }

    if (ready) return makeServer(url, dir, kill, forgetDir, opts.queryTimeoutMs ?? httpTimeoutMs);

    await kill();
    const output = stderr().trim();
    if (spawnError) lastFailure = `could not run ${bin}: ${spawnError.message}`;
    else if (exited) lastFailure = `prometheus exited early (code ${child.exitCode ?? child.signalCode}):\n${output}`;
    else lastFailure = `prometheus was not ready at ${url}/-/ready within ${readyTimeoutMs} ms:\n${output}`;
    if (!(exited && /address already in use/i.test(output))) break;
  }
  await rm(dir, { recursive: true, force: true });
  forgetDir();
  throw new Error(lastFailure);
}

function makeServer(url: string, dir: string, kill: () => Promise<void>, forgetDir: () => void, queryTimeoutMs: number): PrometheusServer {
  let stopping: Promise<void> | undefined;
  return {
    url,
    dir,
    async query(expr, time) {
      const params: Record<string, string> = { query: expr };
      if (time !== undefined) params.time = String(time);
      const data = (await api(url, "/api/v1/query", params, queryTimeoutMs)) as { resultType: string; result: unknown };
      switch (data.resultType) {
        case "vector":
          return data.result as InstantSample[];
        case "scalar":
          return [{ metric: {}, value: data.result as [number, string] }];
        default:
          throw new Error(`query ${expr} returned a ${data.resultType}, not a vector or scalar`);
      }
    },
    async queryRange(expr, start, end, step) {
      const data = (await api(
        url,
        "/api/v1/query_range",
        {
          query: expr,
          start: String(start),
          end: String(end),
          step: String(step),
        },
        queryTimeoutMs,
      )) as { resultType: string; result: unknown };
      if (data.resultType !== "matrix") throw new Error(`range query ${expr} returned a ${data.resultType}, not a matrix`);
      return data.result as RangeSeries[];
    },
    async targets() {
      const data = (await api(url, "/api/v1/targets", { state: "active" })) as { activeTargets: ActiveTarget[] };
      return data.activeTargets;
    },
    waitFor(predicate, what, timeoutMs = 15_000) {
      return poll(predicate, what, timeoutMs);
    },
    async rules() {
      const data = (await api(url, "/api/v1/rules")) as { groups: RuleGroup[] };
      return data.groups;
    },
    async alerts() {
      const data = (await api(url, "/api/v1/alerts")) as { alerts: Alert[] };
      return data.alerts;
    },
    stop() {
      stopping ??= (async () => {
        await kill();
        await rm(dir, { recursive: true, force: true });
        forgetDir();
      })();
      return stopping;
    },
  };
}

export interface ToolResult {
  /** Exit code; -1 when the tool was killed by a signal (e.g. on timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface ToolOptions {
  cwd?: string;
  /** Written to the tool's stdin (e.g. exposition text for `promtool check metrics`). */
  input?: string;
  /** Kill the tool after this long (default 60 s). */
  timeoutMs?: number;
  /** Keep only the last this many characters of stdout and of stderr (default: all). */
  outputLimit?: number;
}

/** Runs promtool, amtool or prometheus and collects its output; a non-zero exit is a result, not an exception. */
export function runTool(name: BinaryName, args: string[], opts: ToolOptions = {}): Promise<ToolResult> {
  const bin = requireBinary(name);
  return new Promise((resolvePromise, reject) => {
    const child = trackChild(spawn(bin, args, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] }));
    const limit = opts.outputLimit ?? Number.POSITIVE_INFINITY;
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout = (stdout + chunk).slice(-limit)));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-limit)));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${bin}: ${error.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    // A tool that does not read stdin may close it first; that is not an error.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** `promtool <args>`; never throws on a non-zero exit. */
export function promtool(args: string[], opts?: ToolOptions): Promise<ToolResult> {
  return runTool("promtool", args, opts);
}

/** `promtool <args>`, throwing with the tail of its output on a non-zero exit. */
export async function promtoolOrThrow(args: string[], opts?: ToolOptions): Promise<ToolResult> {
  const result = await promtool(args, { outputLimit: 65_536, ...opts });
  if (result.code !== 0) throw new Error(`promtool ${args.join(" ")} failed (exit ${result.code}):\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`);
  return result;
}
