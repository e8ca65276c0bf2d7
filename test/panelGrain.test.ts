/**
 * What a dashboard load reads, decided from the dashboard JSON: every query
 * reads recorded series (or its catalog entry says why it reads raw ones),
 * with its variables at All and with a value picked, so a full load at
 * fleet scale reads about one sample per point it draws and a picked model
 * or node filters a recorded series rather than re-aggregating raw ones.
 * The bench measures the same on a real Prometheus at 1,024 GPUs.
 */
import { describe, expect, it } from "vitest";
import { benchContext } from "../bench/context";
import { catalog } from "../dashboards/common";
import { buildDashboards } from "../dashboards/index";
import { catalogKeysOf, dashboardPanels } from "../lib/dashboardJson";
import { grafanaToPromql, matchesNothing, selectorsIn, substituteVariables, type SelectorInfo } from "../lib/promql";
import { coarseAtAll, filterVariables, switchLabel } from "../monitoring/queries";
import { recordingRules } from "../monitoring/recording";

const macros = { rateInterval: "1m", range: "1h", interval: "30s" };
const recorded = new Set(recordingRules(benchContext.scrapeIntervalSeconds).map((r) => r.record));
const queries = catalog(benchContext);
const panels = dashboardPanels(buildDashboards(benchContext));

/** The selectors a query reads with the variables set to `values` (the rest at All): those that can match a series. */
function liveSelectors(expr: string, values: Record<string, string>): SelectorInfo[] {
  return selectorsIn(grafanaToPromql(substituteVariables(expr, values), macros)).filter((s) => !matchesNothing(s));
}

/** Every variable at All, each picked alone, and all picked at once. */
const settings: [string, Record<string, string>][] = [
  ["at All", {}],
  ...filterVariables.map((v): [string, Record<string, string>] => [`${v} picked`, { [v]: "x" }]),
  ["every variable picked", Object.fromEntries(filterVariables.map((v) => [v, "(x|y)"]))],
];

describe("every dashboard query reads recorded series, or says why not", () => {
  const targets = panels.flatMap((p) => {
    const [key] = catalogKeysOf(
      p.targets.map((t) => t.expr),
      queries,
    );
    return p.targets.map((t, i) => ({ panel: `${p.dashboard} › ${p.title} (${t.refId})`, expr: t.expr, query: key === undefined ? undefined : queries[key][i] }));
  });

  it("finds every panel's queries in the catalog", () => {
    expect(targets.filter((t) => t.query === undefined).map((t) => t.panel)).toEqual([]);
  });

  it.each(settings)("%s: raw series only where the catalog says why", (_what, values) => {
    const unexplained = targets
      .filter((t) => t.query?.readsRaw === undefined)
      .flatMap((t) =>
        liveSelectors(t.expr, values)
          .filter((s) => !recorded.has(s.metric ?? ""))
          .map((s) => `${t.panel} reads ${s.metric}`),
      );
    expect(unexplained).toEqual([]);
  });

  it("says why only where a query does read raw series", () => {
    const stale = targets.filter(
      (t) => t.query?.readsRaw !== undefined && settings.every(([, values]) => liveSelectors(t.expr, values).every((s) => recorded.has(s.metric ?? ""))),
    );
    expect(stale.map((t) => t.panel)).toEqual([]);
  });

  it("at All, a switched query reads only its coarse side, one recorded series; picked, only its fine side", () => {
    const switched = targets.filter((t) => t.expr.includes(switchLabel));
    expect(switched.length).toBeGreaterThan(10);
    // The coarse levels of monitoring/recording.ts (the per-model error ratio is one, at the `model` level).
    const coarseLevel = /^((fleet|le|reason|error|model_revision|node|pool|pool_namespace):|model:infermesh_inference_errors:ratio)/;
    for (const t of switched) {
      const atAll = liveSelectors(t.expr, {}).map((s) => s.metric);
      expect(atAll, t.panel).toEqual([expect.stringMatching(coarseLevel)]);
      const picked = liveSelectors(t.expr, Object.fromEntries(filterVariables.map((v) => [v, "x"]))).map((s) => s.metric);
      expect(picked.length, t.panel).toBeGreaterThan(0);
      expect(picked, t.panel).not.toContain(atAll[0]);
    }
  });
});

describe("panels that show now", () => {
  const nowTypes = new Set(["stat", "gauge", "bargauge", "table", "barchart", "piechart"]);
  it("gauges, stats, tables and bar charts run instant queries; time series and heatmaps range queries", () => {
    const wrong = panels.flatMap((p) => p.targets.filter((t) => t.instant !== nowTypes.has(p.type)).map((t) => `${p.dashboard} › ${p.title} (${p.type}) ${t.refId}`));
    expect(wrong).toEqual([]);
    expect(new Set(panels.map((p) => p.type))).toEqual(new Set(["stat", "gauge", "table", "barchart", "timeseries", "heatmap"]));
  });
});

describe("coarseAtAll", () => {
  const query = coarseAtAll(
    { coarse: ["model"], fine: ["model", "revision", "tenant"] },
    (m) => `coarse${m}`,
    (m) => `sum by (model) (fine${m})`,
  );

  it("writes the switch on the variables the coarse series cannot be filtered by", () => {
    expect(query).toBe(
      'sum by (model) (fine{__variables__!~"${revision}${tenant}", model=~"$model", revision=~"$revision", tenant=~"$tenant"}) or coarse{__variables__=~"${revision}${tenant}", model=~"$model"}',
    );
  });

  it.each([
    ["every variable at All", {}, ["coarse"]],
    ["the model picked: the coarse series carries it", { model: "m" }, ["coarse"]],
    ["a revision picked", { revision: "r1" }, ["fine"]],
    ["a tenant picked, two of them", { tenant: "(a|b)" }, ["fine"]],
  ])("%s", (_what, values: Record<string, string>, read) => {
    expect(liveSelectors(query, values).map((s) => s.metric)).toEqual(read);
  });

  it("without a variable to switch on, is the coarse query", () => {
    expect(
      coarseAtAll(
        { coarse: ["model"], fine: ["model"] },
        (m) => `coarse${m}`,
        () => "unused",
      ),
    ).toBe('coarse{model=~"$model"}');
  });
});

describe("matchesNothing", () => {
  it.each([
    ['x{__variables__=~".*.*"}', false],
    ['x{__variables__=~"a.*"}', true],
    ['x{__variables__!~".*.*"}', true],
    ['x{__variables__!~"a.*"}', false],
    ['x{__variables__="a"}', true],
    ['x{__variables__=""}', false],
    // Only labels no stored series can carry decide it.
    ['x{model=~"a.*"}', false],
    ['x{__name__=~"a.*"}', false],
  ])("%s: %s", (expr, nothing) => {
    expect(selectorsIn(expr).map(matchesNothing)).toEqual([nothing]);
  });
});
