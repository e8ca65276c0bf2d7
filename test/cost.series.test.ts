/**
 * The series estimate (cost/series.ts) against what a real Prometheus keeps:
 * the stack's simulated fleet scraped through the stack's own scrape configs
 * (after relabeling) with the stack's recording rules loaded, and
 * `prometheus_tsdb_head_series` read once every target and rule has written.
 * The estimate knows only the fleet's entity counts (cost/census.ts), the
 * metric contract and the rule expressions; it must land within 5 %.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { alertingPlan } from "../components/alerting.plan";
import { telemetryPlan } from "../components/telemetry.plan";
import type { StackConfig } from "../config";
import { estimateSeries } from "../cost/series";
import { escapeRegexInPromqlString } from "../lib/escapeRegex";
import { censusOfFleet } from "../sim/census";
import { Fleet } from "../sim/fleet";
import { discoveredPods, serveFleet, servedKubeStateMetricsScrapeConfig } from "../sim/http";
import { requireBinary, startPrometheus } from "../verify/prometheus";
import { loadStackConfig } from "../verify/run";
import { fleetSettings, stackScrapeConfigs } from "../verify/stackFleet";

const cases = [
  { stack: "dev", shape: { nodes: 4, gpusPerNode: 4, routers: 2, models: 4 } },
  // MIG instances (a100-mig), 8-GPU nodes, routers sharded by deployment.
  { stack: "prod", shape: { nodes: 9, gpusPerNode: 8, routers: 3, models: 6, routersPerDeployment: 2 } },
] as const;

const configs = new Map<string, StackConfig>();
const cleanup: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  requireBinary("prometheus");
  for (const { stack } of cases) configs.set(stack, await loadStackConfig(stack));
}, 120_000);

afterAll(async () => {
  for (const done of cleanup.reverse()) await done();
});

describe.each(cases)("$stack stack's fleet, $shape.nodes nodes", ({ stack, shape }) => {
  let headSeries = 0;
  let estimate: ReturnType<typeof estimateSeries>;
  let recordedStored = 0;

  beforeAll(async () => {
    const config = configs.get(stack) as StackConfig;
    const fleet = new Fleet({ settings: fleetSettings(config), shape: { ...shape, belowPoolMax: false } });
    const served = await serveFleet(fleet);
    cleanup.push(() => served.stop());
    const recording = alertingPlan(config)
      .groups.map((g) => ({ name: g.name, interval: "1s", rules: g.rules.filter((r) => "record" in r) }))
      .filter((g) => g.rules.length > 0);
    const scrapeConfigs = [...stackScrapeConfigs(config, discoveredPods(served), "1s"), servedKubeStateMetricsScrapeConfig(served, "1s")];
    const prom = await startPrometheus({
      config: JSON.parse(JSON.stringify({ global: { scrape_interval: "1s", evaluation_interval: "1s" }, rule_files: ["recording.yaml"], scrape_configs: scrapeConfigs })) as object,
      files: { "recording.yaml": YAML.stringify({ groups: recording }, { aliasDuplicateObjects: false, lineWidth: 0 }) },
    });
    cleanup.push(() => prom.stop());
    const targets = served.endpoints.length;
    await prom.waitFor(async () => (await prom.query("count(up)"))[0]?.value[1] === String(targets), `all ${targets} targets scraped`, 30_000);
    // Rates need two samples: let every rule see a few rounds.
    await new Promise((done) => setTimeout(done, 5000));
    // The head's series count, as prometheus_tsdb_head_series reports it (this Prometheus does not scrape itself).
    const status = (await (await fetch(`${prom.url}/api/v1/status/tsdb`)).json()) as { data: { headStats: { numSeries: number } } };
    headSeries = status.data.headStats.numSeries;
    const records = [...new Set(recording.flatMap((g) => g.rules.map((r) => (r as { record: string }).record)))];
    recordedStored = Number((await prom.query(`count({__name__=~"${records.map(escapeRegexInPromqlString).join("|")}"})`))[0]?.value[1] ?? 0);

    const rules = recording.flatMap((g) => g.rules as Array<{ record: string; expr: string }>);
    estimate = estimateSeries(censusOfFleet(fleet), telemetryPlan(config).counterFields, rules);
  }, 180_000);

  it("estimates the head series within 5 %", () => {
    expect(headSeries).toBeGreaterThan(500);
    const error = Math.abs(estimate.total - headSeries) / headSeries;
    expect(error, `estimate ${estimate.total} (${JSON.stringify(estimate.bySource)}), stored ${headSeries}`).toBeLessThanOrEqual(0.05);
  });

  it("estimates the recording rules' series within 10 % of those stored", () => {
    expect(recordedStored).toBeGreaterThan(0);
    const error = Math.abs(estimate.bySource["recording-rules"] - recordedStored) / recordedStored;
    expect(error, `estimate ${estimate.bySource["recording-rules"]}, stored ${recordedStored}`).toBeLessThanOrEqual(0.1);
  });
});
