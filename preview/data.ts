/**
 * The data a stack's dashboards show in the preview: the stack's own
 * simulated fleet (sim/, built from its pools, models and scrape
 * configuration) over the dashboards' time range, backfilled into a real
 * Prometheus with the stack's recording rules (verify/backfill.ts), and every
 * panel's queries evaluated there as Grafana would issue them.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackConfig } from "../config";
import { durationSeconds } from "../lib/duration";
import type { TargetJson } from "../lib/dashboardJson";
import { grafanaToPromql } from "../lib/promql";
import { recordingRules } from "../monitoring/recording";
import { fleetPods, kubeStateMetricsScrapeConfig } from "../sim/discovery";
import { Fleet } from "../sim/fleet";
import type { FleetTarget } from "../sim/model";
import { Backfill, backfillWindow, type BackfillWindow } from "../sim/openmetrics";
import type { ScenarioName } from "../sim/scenarios";
import { backfillRules, convertParts } from "../verify/backfill";
import { removeOnExit, startPrometheus, type PrometheusServer } from "../verify/prometheus";
import { fleetSettings, stackScrapeConfigs } from "../verify/stackFleet";

/** A fault scenario plays over the last this many seconds of the window, so each dashboard shows it starting. */
export const scenarioSeconds = 20 * 60;

export interface PreviewSource {
  server: PrometheusServer;
  window: BackfillWindow;
  /** Stored series (raw, before recording rules). */
  series: number;
  stop(): Promise<void>;
}

/** The window a dashboard shows by default: `now-6h` → 6 h. */
export function dashboardHours(time: { from?: string; to?: string } | undefined): number {
  const m = /^now-(\d+[smhdw])$/.exec(time?.from ?? "");
  if (!m || (time?.to ?? "now") !== "now") throw new Error(`dashboard time range ${JSON.stringify(time)} is not "now-<duration>" to "now"`);
  return durationSeconds(m[1] as string) / 3600;
}

export async function previewSource(
  config: StackConfig,
  opts: { hours: number; scenario?: ScenarioName; nowSeconds?: number; progress?: (line: string) => void },
): Promise<PreviewSource> {
  const interval = config.telemetry.scrapeIntervalSeconds;
  const window = backfillWindow(opts.hours, opts.nowSeconds ?? Date.now() / 1000, interval);
  const faultFrom = window.end - scenarioSeconds;
  const fleet = new Fleet({
    settings: fleetSettings(config),
    timeline: [{ from: window.start, scenario: "healthy" }, ...(opts.scenario && opts.scenario !== "healthy" ? [{ from: faultFrom, scenario: opts.scenario }] : [])],
  });
  const addressOf = (t: FleetTarget) => t.address;
  const scrapeConfigs = [...stackScrapeConfigs(config, fleetPods(fleet, addressOf), `${interval}s`), kubeStateMetricsScrapeConfig(fleet, addressOf, `${interval}s`)];
  const backfill = new Backfill(fleet, scrapeConfigs, addressOf, window);
  const dir = mkdtempSync(join(tmpdir(), "infermesh-preview-"));
  const forget = removeOnExit(dir);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  try {
    const parts = backfill.planParts(500e6);
    const { written } = await convertParts({ dir, dataDir, parts, writePart: (file, part) => backfill.writePart(file, part) });
    opts.progress?.(
      `fleet: ${backfill.seriesCount.toLocaleString("en-US")} series over ${opts.hours} h at ${interval} s (${(written / 1e6).toFixed(0)} MB of OpenMetrics), converted by promtool`,
    );
    const prometheusConfig = { global: { scrape_interval: `${interval}s`, evaluation_interval: `${interval}s` } };
    const server = await backfillRules({
      dir,
      dataDir,
      rules: recordingRules(interval),
      start: window.start,
      end: window.end,
      intervalSeconds: interval,
      serve: () => startPrometheus({ config: prometheusConfig, dataDir, readyTimeoutMs: 120_000, stopTimeoutMs: 30_000, queryTimeoutMs: 120_000 }),
      stageDone: (s, n, count) => opts.progress?.(`recording rules: stage ${s}/${n} (${count} rules) backfilled`),
    });
    return {
      server,
      window,
      series: backfill.seriesCount,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
        forget();
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    forget();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Panels' queries

export interface TargetResult {
  refId: string;
  legendFormat: string;
  /** Grafana's result format: `time_series`, `table` or `heatmap` (cumulative buckets drawn per bucket). */
  format: string;
  instant: boolean;
  expr: string;
  /** Each series: labels and [unix seconds, value] points (one point for an instant query). */
  series: { labels: Record<string, string>; points: [number, number][] }[];
  error?: string;
}

/** Points a range query returns for a panel: about one per 4 px of a 1,600 px wide dashboard. */
export const rangePoints = 400;

/** Every target of a panel as Grafana issues it with variables at All, over `window`. */
export async function evaluateTargets(server: PrometheusServer, targets: readonly TargetJson[], window: BackfillWindow): Promise<TargetResult[]> {
  const range = window.end - window.start;
  const step = Math.max(window.step, Math.ceil(range / rangePoints / window.step) * window.step);
  const macros = { rateInterval: `${Math.max(4 * window.step, 60)}s`, range: `${range}s`, interval: `${step}s` };
  const out: TargetResult[] = [];
  for (const [i, t] of targets.entries()) {
    const base = { refId: t.refId ?? String(i), legendFormat: t.legendFormat ?? "", format: t.format ?? "time_series", instant: t.instant === true, expr: t.expr ?? "" };
    if (!t.expr) {
      out.push({ ...base, series: [], error: "target has no expr" });
      continue;
    }
    const expr = grafanaToPromql(t.expr, macros);
    try {
      const series = t.instant
        ? (await server.query(expr, window.end)).map((s) => ({ labels: s.metric, points: [[s.value[0], Number(s.value[1])]] as [number, number][] }))
        : (await server.queryRange(expr, window.start, window.end, step)).map((s) => ({ labels: s.metric, points: s.values.map(([t, v]): [number, number] => [t, Number(v)]) }));
      out.push({ ...base, expr, series });
    } catch (err) {
      out.push({ ...base, expr, series: [], error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}
