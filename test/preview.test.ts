import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackConfig } from "../config";
import { dashboardHours, previewSource, type PreviewSource } from "../preview/data";
import { gridHeight, headerHeight, pageWidth } from "../preview/page";
import { drawDashboards, previewExitCode, stackDashboards, type DashboardJson, type PreviewResult } from "../preview/run";
import { startShooter, type Shooter } from "../preview/shoot";
import { loadStackConfig } from "../verify/run";
import { recordingRules } from "../monitoring/recording";

/** A PNG's size, from its IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString("latin1")).toBe("PNG");
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Panels of a dashboard's JSON, rows' children included; typed loosely, as tests reach into any field. */
const panelsOf = (d: DashboardJson): any[] => d.panels.flatMap((p) => [p, ...((p.panels ?? []) as DashboardJson["panels"])]);

describe("dashboard previews of dev, drawn in a real headless Chromium", () => {
  const scratch = mkdtempSync(join(tmpdir(), "infermesh-preview-test-"));
  let config: StackConfig;
  let dashboards: DashboardJson[];
  let source: PreviewSource;
  let shooter: Shooter;
  let healthy: PreviewResult;
  const draw = (name: string, ds: DashboardJson[]) => drawDashboards(source, shooter, ds, { stack: "dev", outDir: join(scratch, name), scenario: "healthy" });
  const edited = (uid: string, change: (d: DashboardJson) => void) => {
    const d = structuredClone(dashboards.find((x) => x.uid === uid) as DashboardJson);
    change(d);
    return d;
  };

  beforeAll(async () => {
    config = await loadStackConfig("dev");
    dashboards = stackDashboards(config);
    source = await previewSource(config, { hours: Math.max(...dashboards.map((d) => dashboardHours(d.time))) });
    shooter = await startShooter();
    healthy = await draw("healthy", dashboards);
  }, 180_000);
  afterAll(async () => {
    await shooter?.close();
    await source?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("draws each dashboard to a PNG of its grid's size, every panel with data on the healthy fleet", () => {
    expect(healthy.dashboards.map((d) => d.uid).sort()).toEqual(dashboards.map((d) => d.uid).sort());
    for (const d of healthy.dashboards) {
      const json = dashboards.find((x) => x.uid === d.uid) as DashboardJson;
      const rows = Math.max(...panelsOf(json).map((p) => (p.gridPos as { y: number; h: number }).y + (p.gridPos as { y: number; h: number }).h));
      // Grafana's grid: 30 px rows with 8 px between them, under the page header.
      expect(pngSize(d.png)).toEqual({ width: pageWidth, height: rows * 38 + headerHeight });
      expect(d.report.noData, d.title).toEqual([]);
      expect(d.report.errors, d.title).toEqual([]);
      expect(d.report.drawn, d.title).toBe(panelsOf(json).filter((p) => p.type !== "row").length);
    }
    expect(previewExitCode(healthy)).toBe(0);
    expect(readFileSync(healthy.index, "utf8")).toContain(`${dashboards[0]?.uid}.png`);
  });

  it("draws a panel whose query returns nothing as No data, and the preview fails", async () => {
    const broken = edited("im-dev-overview", (d) => {
      const panel = panelsOf(d).find((p) => p.type === "timeseries") as { title: string; targets: { expr: string }[] };
      panel.targets = panel.targets.map((t) => ({ ...t, expr: "infermesh_no_such_metric_total" }));
    });
    const result = await draw("broken", [broken]);
    const title = (panelsOf(broken).find((p) => p.type === "timeseries") as { title: string }).title;
    expect(result.noData).toEqual([`${broken.title}: ${title}`]);
    expect(previewExitCode(result)).toBe(1);
  });

  it.each<[string, string, (d: DashboardJson) => void]>([
    [
      "a threshold",
      "im-dev-gpu",
      (d) => {
        const gauge = panelsOf(d).find((p) => p.type === "gauge") as { fieldConfig: { defaults: { thresholds: { steps: { value: number | null }[] } } } };
        const steps = gauge.fieldConfig.defaults.thresholds.steps;
        (steps[steps.length - 1] as { value: number | null }).value = 0.05;
      },
    ],
    [
      "a unit",
      "im-dev-overview",
      (d) => {
        const stat = panelsOf(d).find((p) => p.type === "stat") as { fieldConfig: { defaults: { unit: string } } };
        stat.fieldConfig.defaults.unit = "celsius";
      },
    ],
    [
      "a panel type",
      "im-dev-overview",
      (d) => {
        const stat = panelsOf(d).find((p) => p.type === "stat") as { type: string };
        stat.type = "gauge";
      },
    ],
  ])("reads %s from the dashboard JSON: change it and the picture changes", async (what, uid, change) => {
    const again = await draw(`same-${what}`, [edited(uid, () => undefined)]);
    const changed = await draw(`changed-${what}`, [edited(uid, change)]);
    const before = healthy.dashboards.find((d) => d.uid === uid)?.png as string;
    // Drawing is deterministic: the same JSON gives the same picture, so a difference is the change's.
    expect(readFileSync(again.dashboards[0]?.png as string).equals(readFileSync(before))).toBe(true);
    expect(readFileSync(changed.dashboards[0]?.png as string).equals(readFileSync(before))).toBe(false);
    expect(changed.noData).toEqual([]);
  });

  it("draws a fault in progress with --scenario: pending GPU pods appear where the healthy fleet has none", async () => {
    const gpu = dashboards.find((d) => d.uid === "im-dev-gpu") as DashboardJson;
    const faulty = await previewSource(config, { hours: dashboardHours(gpu.time), scenario: "gpu-pod-pending" });
    try {
      const result = await drawDashboards(faulty, shooter, [gpu], { stack: "dev", outDir: join(scratch, "scenario"), scenario: "gpu-pod-pending" });
      const before = healthy.dashboards.find((d) => d.uid === gpu.uid);
      expect(before?.report.series["Pending GPU Pods"]).toBe(0);
      expect(result.dashboards[0]?.report.series["Pending GPU Pods"]).toBeGreaterThan(0);
      expect(readFileSync(result.dashboards[0]?.png as string).equals(readFileSync(before?.png as string))).toBe(false);
    } finally {
      await faulty.stop();
    }
  });

  it("holds every recorded series, also when the window starts 60 s before one of promtool's 2 h rule blocks", async () => {
    // The window's start is 60 s before a 2 h boundary: promtool alone writes nothing for the 2-minute long-window group there (verify/backfill.ts).
    const start = 1796227200 + 7140;
    const edge = await previewSource(config, { hours: 1, nowSeconds: start + 3600 + 30 });
    try {
      expect(edge.window.start).toBe(start);
      const stored = await edge.server.query('count by (__name__) ({__name__=~".+:.+"})', edge.window.end);
      expect(stored.map((s) => s.metric.__name__).sort()).toEqual([...new Set(recordingRules(config.telemetry.scrapeIntervalSeconds).map((r) => r.record))].sort());
    } finally {
      await edge.stop();
    }
  });

  it("says how tall the page is from the panels' grid positions", () => {
    expect(gridHeight([{ panel: { type: "stat", gridPos: { x: 0, y: 3, w: 6, h: 8 } }, results: [] }])).toBe(11 * 38 + headerHeight);
  });
});
