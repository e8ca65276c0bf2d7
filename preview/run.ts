/**
 * `npm run preview -- <stack>` as a function: the stack's dashboards drawn
 * from its simulated fleet, a PNG and an HTML page per dashboard and an index,
 * and which panels showed no data.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackConfig } from "../config";
import { dashboardsFor } from "../components/grafanaContent.plan";
import { targetsOf } from "../lib/dashboardJson";
import type { ScenarioName } from "../sim/scenarios";
import { dashboardHours, evaluateTargets, previewSource, type PreviewSource } from "./data";
import { dashboardPage, gridHeight, indexPage, pageWidth, type PanelItem } from "./page";
import { startShooter, type PageReport, type Shooter } from "./shoot";

export interface PreviewOptions {
  stack: string;
  outDir: string;
  scenario?: ScenarioName;
  progress?: (line: string) => void;
}

export interface DashboardJson {
  uid: string;
  title: string;
  time?: { from?: string; to?: string };
  panels: Array<Record<string, unknown> & { type: string; title?: string; targets?: unknown[]; panels?: unknown[] }>;
}

export interface DashboardPreview {
  uid: string;
  title: string;
  png: string;
  html: string;
  size: { width: number; height: number };
  report: PageReport;
}

export interface PreviewResult {
  dashboards: DashboardPreview[];
  index: string;
  /** `<dashboard title>: <panel title>` of every panel drawn as "No data". */
  noData: string[];
  /** Panels whose queries failed or could not be drawn. */
  errors: string[];
}

/** Panels in display order, those inside collapsed rows included (drawn where the row would open them). */
function flatPanels(d: DashboardJson): DashboardJson["panels"] {
  return d.panels.flatMap((p) => [p, ...((p.panels ?? []) as DashboardJson["panels"])]);
}

/** The stack's dashboards as JSON, as the stack deploys them. */
export function stackDashboards(config: StackConfig): DashboardJson[] {
  return Object.values(dashboardsFor(config)).map((d) => JSON.parse(JSON.stringify(d)) as DashboardJson);
}

export interface DrawOptions {
  stack: string;
  outDir: string;
  scenario: string;
  progress?: (line: string) => void;
}

/** Draws `dashboards` from `source` into `outDir`: a page and a picture each, and the index. */
export async function drawDashboards(source: PreviewSource, shooter: Shooter, dashboards: readonly DashboardJson[], opts: DrawOptions): Promise<PreviewResult> {
  rmSync(opts.outDir, { recursive: true, force: true });
  mkdirSync(opts.outDir, { recursive: true });
  const out: DashboardPreview[] = [];
  for (const d of dashboards) {
    const window = { ...source.window, start: source.window.end - dashboardHours(d.time) * 3600 };
    const panels: PanelItem[] = [];
    for (const p of flatPanels(d)) {
      const { targets, panels: _children, ...panel } = p;
      panels.push({ panel, results: p.type === "row" ? [] : await evaluateTargets(source.server, targetsOf(p), window) });
    }
    const html = join(opts.outDir, `${d.uid}.html`);
    const png = join(opts.outDir, `${d.uid}.png`);
    writeFileSync(html, dashboardPage({ stack: opts.stack, uid: d.uid, title: d.title, scenario: opts.scenario, width: pageWidth, window, panels }));
    const size = { width: pageWidth, height: gridHeight(panels) };
    const report = await shooter.shoot(html, png, size);
    opts.progress?.(`${d.title}: ${report.drawn} panels drawn${report.noData.length > 0 ? `, no data: ${report.noData.join(", ")}` : ""}`);
    out.push({ uid: d.uid, title: d.title, png, html, size, report });
  }
  const index = join(opts.outDir, "index.html");
  writeFileSync(
    index,
    indexPage(
      opts.stack,
      opts.scenario,
      out.map((d) => ({ uid: d.uid, title: d.title, noData: d.report.noData })),
    ),
  );
  return {
    dashboards: out,
    index,
    noData: out.flatMap((d) => d.report.noData.map((t) => `${d.title}: ${t}`)),
    errors: out.flatMap((d) => d.report.errors.map((e) => `${d.title}: ${e.title}: ${e.errors.join("; ")}`)),
  };
}

/** A preview fails when any panel shows "No data" or cannot be drawn: a reviewer would see a broken dashboard. */
export function previewExitCode(result: Pick<PreviewResult, "noData" | "errors">): 0 | 1 {
  return result.noData.length > 0 || result.errors.length > 0 ? 1 : 0;
}

export async function runPreview(config: StackConfig, opts: PreviewOptions): Promise<PreviewResult> {
  const dashboards = stackDashboards(config);
  const hours = Math.max(...dashboards.map((d) => dashboardHours(d.time)));
  const scenario = opts.scenario ?? "healthy";
  const source = await previewSource(config, { hours, scenario, ...(opts.progress ? { progress: opts.progress } : {}) });
  try {
    const shooter = await startShooter();
    try {
      return await drawDashboards(source, shooter, dashboards, { stack: opts.stack, outDir: opts.outDir, scenario, ...(opts.progress ? { progress: opts.progress } : {}) });
    } finally {
      await shooter.close();
    }
  } finally {
    await source.stop();
  }
}
