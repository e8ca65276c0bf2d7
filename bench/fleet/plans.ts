/**
 * What the fleet-scale bench asks Prometheus: each dashboard panel as Grafana
 * issues it (the stack's targets) and its raw equivalent (the seed's
 * expression, or the stack's with every recorded series expanded to the
 * expression its rule records); and the order recording rules must be
 * backfilled in. Pure: no Prometheus.
 */
import { catalog } from "../../dashboards/common";
import { buildDashboards } from "../../dashboards/index";
import { seedPanels, type DashboardKey } from "../../dashboards/seed";
import type { PanelKey } from "../../monitoring/queries";
import { recordingRules, type RecordingRule } from "../../monitoring/recording";
import { catalogKeysOf, dashboardPanels } from "../../lib/dashboardJson";
import { grafanaToPromql, metricNamesIn, selectorsIn, withMatchers, type GrafanaMacros } from "../../lib/promql";
import { benchContext } from "../context";

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

export interface Query {
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

export function panelPlans(macros: GrafanaMacros, ruleIntervalSeconds = benchContext.scrapeIntervalSeconds): PanelPlan[] {
  const rules = new Map(recordingRules(benchContext.scrapeIntervalSeconds).map((r) => [r.record, r.expr]));
  const queriesByKey = catalog(benchContext);
  return dashboardPanels(buildDashboards(benchContext)).map((p) => {
    const [key] = catalogKeysOf(
      p.targets.map((t) => t.expr),
      queriesByKey,
    );
    const seed = key === undefined ? undefined : seedPanels.find((s) => s.panel === key);
    if (seed && seed.dashboard !== p.dashboard) throw new Error(`seed panel ${seed.number} belongs to ${seed.dashboard} but ${p.dashboard} shows it`);
    const stack = p.targets.map((t) => ({ expr: grafanaToPromql(t.expr, macros), instant: t.instant }));
    const instant = p.targets[0]?.instant ?? false;
    const common = { dashboard: p.dashboard, title: p.title, ...(key === undefined ? {} : { key }), stack };
    if (seed) return { ...common, rawSource: `seed #${seed.number}`, raw: [{ expr: seed.expr, instant }] };
    const raw = stack.map((q) => ({ expr: expandRecorded(q.expr, rules, `${ruleIntervalSeconds}s`), instant: q.instant }));
    const same = raw.every((q, i) => q.expr === stack[i]?.expr);
    return { ...common, rawSource: same ? "raw already" : "derived", raw };
  });
}
