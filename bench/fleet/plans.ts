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
import { recordingRules } from "../../monitoring/recording";
import { catalogKeysOf, dashboardPanels } from "../../lib/dashboardJson";
import { durationSeconds } from "../../lib/duration";
import { grafanaToPromql, madeLabels, selectorsIn, substituteVariables, withMatchers, type GrafanaMacros, type SelectorInfo } from "../../lib/promql";
import { benchContext } from "../context";

/**
 * The raw equivalent of a query: every recorded series replaced by the
 * expression its rule records. The query's label matchers move onto that
 * expression's selectors, except on labels the rule makes (`label_replace`):
 * raw series do not carry those, so the expression is filtered on them
 * instead (`and on (slo) …`). A range over a recorded series becomes a
 * subquery at the rule's interval; `maxRangeSeconds` caps that range at the
 * data the bench holds (a 30-day window over one hour of data only adds empty
 * steps, so the cap makes the raw form cheaper, never dearer).
 */
export function expandRecorded(expr: string, rules: ReadonlyMap<string, string>, ruleInterval: string, maxRangeSeconds = Number.POSITIVE_INFINITY): string {
  let current = expr;
  for (let depth = 0; depth < 8; depth++) {
    const recorded = selectorsIn(current).filter((s) => s.metric !== undefined && rules.has(s.metric));
    if (recorded.length === 0) return current;
    let out = current;
    for (const s of recorded.sort((a, b) => b.node.from - a.node.from)) {
      const raw = rawOf(s, rules.get(s.metric as string) as string);
      const matrix = s.node.parent?.name === "MatrixSelector" ? s.node.parent : null;
      if (matrix) {
        const written = current.slice(s.node.to, matrix.to).trim().replace(/^\[/, "").replace(/\]$/, "");
        const range = durationSeconds(written) > maxRangeSeconds ? `${maxRangeSeconds}s` : written;
        out = `${out.slice(0, matrix.from)}${raw}[${range}:${ruleInterval}]${out.slice(matrix.to)}`;
      } else {
        out = `${out.slice(0, s.node.from)}${raw}${out.slice(s.node.to)}`;
      }
    }
    current = out;
  }
  throw new Error(`recorded series nested too deep in ${expr}`);
}

function rawOf(selector: SelectorInfo, ruleExpr: string): string {
  const made = madeLabels(ruleExpr);
  const onRaw = selector.parts.flatMap((p, i) => (made.has(p.label) ? [] : [selector.matchers[i] as string]));
  const onMade = selector.parts.filter((p) => made.has(p.label));
  let raw = `(${withMatchers(ruleExpr, onRaw)})`;
  for (const m of onMade) {
    if (m.op !== "=") throw new Error(`cannot expand ${selector.metric}: its rule makes "${m.label}", and only an equality matcher on it can be kept (got ${m.op})`);
    raw = `(${raw} and on (${m.label}) label_replace(vector(1), ${JSON.stringify(m.label)}, ${JSON.stringify(m.value)}, "", ""))`;
  }
  return raw;
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

/**
 * `maxRangeSeconds`: the data the bench holds; see `expandRecorded`.
 * `picked`: dashboard variables set to a value (the rest at All); the raw
 * side is then the stack's expanded for every panel, since the seed's
 * expressions cannot be filtered.
 */
export function panelPlans(macros: GrafanaMacros, maxRangeSeconds = Number.POSITIVE_INFINITY, picked: Readonly<Record<string, string>> = {}): PanelPlan[] {
  const ruleIntervalSeconds = benchContext.scrapeIntervalSeconds;
  const rules = new Map(recordingRules(benchContext.scrapeIntervalSeconds).map((r) => [r.record, r.expr]));
  const queriesByKey = catalog(benchContext);
  return dashboardPanels(buildDashboards(benchContext)).map((p) => {
    const [key] = catalogKeysOf(
      p.targets.map((t) => t.expr),
      queriesByKey,
    );
    const seed = key === undefined ? undefined : seedPanels.find((s) => s.panel === key);
    if (seed && seed.dashboard !== p.dashboard) throw new Error(`seed panel ${seed.number} belongs to ${seed.dashboard} but ${p.dashboard} shows it`);
    const stack = p.targets.map((t) => ({ expr: grafanaToPromql(substituteVariables(t.expr, picked), macros), instant: t.instant }));
    const instant = p.targets[0]?.instant ?? false;
    const common = { dashboard: p.dashboard, title: p.title, ...(key === undefined ? {} : { key }), stack };
    if (seed && Object.keys(picked).length === 0) return { ...common, rawSource: `seed #${seed.number}`, raw: [{ expr: seed.expr, instant }] };
    const raw = stack.map((q) => ({ expr: expandRecorded(q.expr, rules, `${ruleIntervalSeconds}s`, maxRangeSeconds), instant: q.instant }));
    const same = raw.every((q, i) => q.expr === stack[i]?.expr);
    return { ...common, rawSource: same ? "raw already" : "derived", raw };
  });
}
