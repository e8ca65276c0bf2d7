/**
 * Talking to the bench's Prometheus: queries as Grafana sends them with
 * `stats=all`, and the TSDB's blocks on disk (moving backfilled blocks in,
 * waiting for Prometheus to merge overlapping ones).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "../../lib/sleep";
import type { Query } from "./plans";

export interface BlockMeta {
  dir: string;
  minTime: number;
  maxTime: number;
  series: number;
  samples: number;
}

export function blocksOnDisk(dataDir: string): BlockMeta[] {
  const out: BlockMeta[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name)) continue;
    try {
      const meta = JSON.parse(readFileSync(join(dataDir, entry.name, "meta.json"), "utf8")) as {
        minTime: number;
        maxTime: number;
        stats?: { numSeries?: number; numSamples?: number };
      };
      out.push({ dir: entry.name, minTime: meta.minTime, maxTime: meta.maxTime, series: meta.stats?.numSeries ?? 0, samples: meta.stats?.numSamples ?? 0 });
    } catch {
      // Being written or removed.
    }
  }
  return out.sort((a, b) => a.minTime - b.minTime);
}

export const overlapping = (blocks: BlockMeta[]) => blocks.some((b, i) => i > 0 && b.minTime < Math.max(...blocks.slice(0, i).map((x) => x.maxTime)));

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
export async function settle(url: string, dataDir: string, timeoutMs: number): Promise<{ ms: number; blocks: BlockMeta[] }> {
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

export interface QueryResult {
  ms: number;
  samples: number;
  peak: number;
  /** Prometheus' own execution time (no JSON encoding), ms. */
  execMs: number;
  series: number;
  /** Points returned (one per series for an instant query): what the panel draws, the floor of samples to read. */
  points: number;
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
export async function runQuery(url: string, q: Query, window: { start: number; end: number; step: number }): Promise<QueryResult> {
  const params = new URLSearchParams(
    q.instant
      ? { query: q.expr, time: String(window.end), stats: "all" }
      : { query: q.expr, start: String(window.start), end: String(window.end), step: String(window.step), stats: "all" },
  );
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/${q.instant ? "query" : "query_range"}`, {
    method: "POST",
    body: params,
    signal: AbortSignal.timeout(600_000),
  });
  const body = Buffer.from(await response.arrayBuffer());
  const ms = performance.now() - started;
  if (!body.subarray(0, 40).toString("utf8").includes('"status":"success"'))
    throw new Error(`query failed (HTTP ${response.status}): ${body.subarray(0, 600).toString("utf8")}\n  query: ${q.expr}`);
  const at = body.lastIndexOf('"stats":');
  const stats = (at < 0 ? {} : JSON.parse(objectAt(body, at + 8))) as QueryStats;
  let series = 0;
  for (let i = body.indexOf('{"metric":'); i >= 0; i = body.indexOf('{"metric":', i + 10)) series++;
  // Every point is `[<time>,"<value>"]`; nothing else in a vector or matrix result ends in `"]`.
  let points = 0;
  const end = at < 0 ? body.length : at;
  for (let i = body.indexOf('"]'); i >= 0 && i < end; i = body.indexOf('"]', i + 2)) points++;
  return {
    ms,
    samples: stats.samples?.totalQueryableSamples ?? Number.NaN,
    peak: stats.samples?.peakSamples ?? Number.NaN,
    execMs: 1000 * (stats.timings?.execTotalTime ?? Number.NaN),
    series,
    points,
    bytes: body.length,
  };
}

export interface LoadResult {
  ms: number;
  /** CPU time Prometheus spent meanwhile (its `process_cpu_seconds_total`, 10 ms resolution), ms. */
  cpuMs: number;
  perQuery: QueryResult[];
}

/** Prometheus' own CPU time so far, from its /metrics. */
export async function cpuSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(60_000) })).text();
  const line = /^process_cpu_seconds_total (\S+)$/m.exec(text);
  if (!line) throw new Error(`${url}/metrics has no process_cpu_seconds_total`);
  return Number(line[1]);
}

/** A full dashboard load: every query of every panel at once, as Grafana does; done when the last one is. */
export async function loadDashboard(url: string, queries: Query[], window: { start: number; end: number; step: number }): Promise<LoadResult> {
  const cpuBefore = await cpuSeconds(url);
  const started = performance.now();
  const perQuery = await Promise.all(queries.map((q) => runQuery(url, q, window)));
  const ms = performance.now() - started;
  return { ms, cpuMs: 1000 * ((await cpuSeconds(url)) - cpuBefore), perQuery };
}

export async function instantValue(url: string, expr: string, time: number): Promise<number> {
  const body = (await (
    await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr, time: String(time) }), signal: AbortSignal.timeout(300_000) })
  ).json()) as {
    status: string;
    data?: { result?: { value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? "failed"}`);
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

export async function instantVector(url: string, expr: string, time: number): Promise<{ metric: Record<string, string>; value: number }[]> {
  const body = (await (
    await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr, time: String(time) }), signal: AbortSignal.timeout(300_000) })
  ).json()) as {
    status: string;
    data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? "failed"}`);
  return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}
