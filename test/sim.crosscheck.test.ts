/**
 * The one simulator, two sinks, one result: a stack's fleet scraped over HTTP
 * by a real Prometheus through the stack's scrape configuration, and the same
 * fleet written as OpenMetrics through the same configuration by the backfill
 * sink (sim/openmetrics.ts, applyRelabelings) and loaded with `promtool tsdb
 * create-blocks-from openmetrics`, store the same series: names and label
 * sets. So the bench's backfill cannot drift from what the stack's relabel
 * rules really produce.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackConfig } from "../config";
import { Fleet } from "../sim/fleet";
import { discoveredPods, serveFleet, servedKubeStateMetricsScrapeConfig, type ServedFleet } from "../sim/http";
import type { FleetTarget } from "../sim/model";
import { Backfill, backfillWindow } from "../sim/openmetrics";
import type { ScenarioName } from "../sim/scenarios";
import { promtool, requireBinary, startPrometheus, type InstantSample, type PrometheusServer } from "../verify/prometheus";
import { loadStackConfig } from "../verify/run";
import { fleetSettings, stackScrapeConfigs } from "../verify/stackFleet";

const cases: Array<{ stack: "dev" | "prod"; scenario: ScenarioName }> = [
  { stack: "dev", scenario: "healthy" },
  // MIG instances, an idle GPU taken by a pod (dcgm-exporter attributes it), an exporter answering 503.
  { stack: "prod", scenario: "gpu-idle" },
  { stack: "prod", scenario: "dcgm-exporter-gone" },
];

const configs = new Map<string, StackConfig>();
const cleanup: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  requireBinary("prometheus");
  requireBinary("promtool");
  // The mock runtime holds one stack's config at a time: load them in turn.
  for (const stack of new Set(cases.map((c) => c.stack))) configs.set(stack, await loadStackConfig(stack));
}, 120_000);

afterAll(async () => {
  for (const done of cleanup.reverse()) await done();
});

/** Stored series as sorted `name{labels}` strings; Prometheus' own `scrape_*` series are the scrape path's alone. */
function seriesSet(samples: readonly InstantSample[]): string[] {
  return samples
    .map((s) => s.metric)
    .filter((m) => !(m.__name__ ?? "").startsWith("scrape_"))
    .map(
      (m) =>
        `${m.__name__}{${Object.keys(m)
          .filter((k) => k !== "__name__")
          .sort()
          .map((k) => `${k}="${m[k]}"`)
          .join(",")}}`,
    )
    .sort();
}

function loopbackAddress(served: ServedFleet): (target: FleetTarget) => string {
  const byId = new Map(served.endpoints.map((e) => [e.target.id, `127.0.0.1:${e.port}`]));
  return (t) => byId.get(t.id) as string;
}

describe.each(cases)("$stack stack, scenario $scenario", ({ stack, scenario }) => {
  let scraped: string[] = [];
  let backfilled: string[] = [];
  let targets = 0;

  beforeAll(async () => {
    const config = configs.get(stack) as StackConfig;
    const fleet = new Fleet({ settings: fleetSettings(config), scenario });
    const served = await serveFleet(fleet);
    cleanup.push(() => served.stop());
    const scrapeConfigs = [...stackScrapeConfigs(config, discoveredPods(served), "1s"), servedKubeStateMetricsScrapeConfig(served, "1s")];

    // HTTP path: a real Prometheus scrapes the loopback fleet.
    const live: PrometheusServer = await startPrometheus({ config: JSON.parse(JSON.stringify({ global: { scrape_interval: "1s" }, scrape_configs: scrapeConfigs })) as object });
    cleanup.push(() => live.stop());
    targets = served.endpoints.length;
    await live.waitFor(async () => (await live.query("count(up)"))[0]?.value[1] === String(targets), `all ${targets} targets scraped`, 30_000);
    // Two more scrape rounds, so every target's series are in.
    await new Promise((done) => setTimeout(done, 2500));
    scraped = seriesSet(await live.query('{__name__=~".+"}'));

    // Backfill path: OpenMetrics through the same configuration, promtool, a Prometheus over the blocks.
    const dir = mkdtempSync(join(tmpdir(), "sim-crosscheck-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const backfill = new Backfill(fleet, scrapeConfigs, loopbackAddress(served), backfillWindow(0.25, Date.now() / 1000, 15));
    const parts = backfill.planParts(Number.POSITIVE_INFINITY);
    expect(parts).toHaveLength(1);
    const file = join(dir, "fleet.om");
    await backfill.writePart(file, parts[0] as (typeof parts)[number]);
    const blocks = join(dir, "blocks");
    const result = await promtool(["tsdb", "create-blocks-from", "openmetrics", file, blocks], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const stored = await startPrometheus({ config: { global: { scrape_interval: "15s" } }, dataDir: blocks });
    cleanup.push(() => stored.stop());
    backfilled = seriesSet(await stored.query('{__name__=~".+"}', backfill.window.end));
  }, 180_000);

  it("stores the same series, names and label sets, through both paths", () => {
    expect(scraped.length).toBeGreaterThan(targets * 5);
    expect(backfilled).toEqual(scraped);
  });

  it("stores what the stack's relabeling makes of dcgm-exporter's labels, on both paths", () => {
    const dcgm = backfilled.filter((s) => s.startsWith("DCGM_FI_DEV_FB_TOTAL{"));
    expect(dcgm.length).toBeGreaterThan(0);
    for (const series of dcgm) {
      expect(series).toMatch(/gpu_uuid="GPU-/);
      expect(series).toMatch(/gpu_model="NVIDIA /);
      expect(series).not.toMatch(/\b(UUID|modelName|Hostname|hostname|pci_bus_id|DCGM_FI_DRIVER_VERSION)=/);
    }
  });
});
