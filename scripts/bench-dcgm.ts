/**
 * Section A of `npm run bench`: what the stack's DCGM counters cost per GPU,
 * against dcgm-exporter's own default lists, and whether every field it
 * collects is read by something. Pure and fast: no Prometheus, no timing.
 *
 * "Read" is decided by Prometheus' own PromQL grammar
 * (@prometheus-io/lezer-promql) over every query the stack runs: each target
 * of the four built dashboards, each alert and each recording rule.
 *
 * The PromQL helpers here (Grafana substitution, selector walking) are also
 * used by the fleet section (scripts/bench-fleet.ts).
 */
import type { Dashboard, Panel, RowPanel } from "@grafana/grafana-foundation-sdk/dashboard";
import { parser } from "@prometheus-io/lezer-promql";
import { contractDcgmFields, type CounterField } from "../components/dcgmCounters";
import { alertCatalog } from "../alerts/catalog";
import { defaultThresholds } from "../monitoring/thresholds";
import type { DashboardContext } from "../dashboards/context";
import { buildDashboards } from "../dashboards/index";
import { recordingRules } from "../monitoring/recording";
import type { DashboardKey } from "../dashboards/seed";
import { dcgmDefaultLists, parseDcgmCounters, type DcgmCounterLine, type DcgmFieldType } from "../verify/dcgmDefaults";

/**
 * The stack both sections measure: a 15 s scrape interval (so recorded rates
 * use a 1m window), default thresholds, no per-model overrides (those only
 * add alert terms over the same series).
 */
export const benchScrapeIntervalSeconds = 15;
export const benchContext: DashboardContext = {
  stack: "bench",
  environment: "bench",
  scrapeIntervalSeconds: benchScrapeIntervalSeconds,
  thresholds: defaultThresholds,
  models: {},
};

// ---------------------------------------------------------------------------
// PromQL helpers

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

export interface GrafanaMacros {
  /** What `$__rate_interval` becomes. */
  rateInterval: string;
  /** What `$__range` becomes. */
  range: string;
  /** What `$__interval` becomes. */
  interval: string;
}

const variableReference = /\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g;

/**
 * The query Grafana sends for a target with every variable at All: macros
 * become durations, and each variable its All value `.*` (dashboards/common.ts).
 */
export function grafanaToPromql(expr: string, macros: GrafanaMacros): string {
  return expr
    .replace(/\$__rate_interval\b/g, macros.rateInterval)
    .replace(/\$__range\b/g, macros.range)
    .replace(/\$__interval\b/g, macros.interval)
    .replace(variableReference, ".*");
}

/** Parses `expr`, throwing with the place of the first syntax error (lezer marks them "⚠"). */
export function parsePromql(expr: string): SyntaxNode {
  const tree = parser.parse(expr);
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) throw new Error(`PromQL syntax error at ${n.from} in ${JSON.stringify(expr)}: near ${JSON.stringify(expr.slice(Math.max(0, n.from - 15), n.to + 15))}`);
    },
  });
  return tree.topNode;
}

/** Every node named `name` under `node`, in source order. */
export function descendants(node: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const cursor = node.cursor();
  do {
    if (cursor.name === name) out.push(cursor.node);
  } while (cursor.next() && cursor.from <= node.to);
  return out.filter((n) => n.from >= node.from && n.to <= node.to);
}

export interface SelectorInfo {
  node: SyntaxNode;
  /** Metric name, from the identifier, a `__name__="…"` matcher or a bare quoted name; undefined if none. */
  metric: string | undefined;
  /** The other matchers, as written (`model=~".*"`). */
  matchers: string[];
}

function labelNameText(source: string, node: SyntaxNode): string {
  const raw = source.slice(node.from, node.to);
  return node.name === "QuotedLabelName" ? (JSON.parse(raw) as string) : raw;
}

export function selectorInfo(source: string, node: SyntaxNode): SelectorInfo {
  const identifier = node.getChild("Identifier");
  let metric = identifier ? source.slice(identifier.from, identifier.to) : undefined;
  const matchers: string[] = [];
  const list = node.getChild("LabelMatchers");
  for (let m = list?.firstChild ?? null; m; m = m.nextSibling) {
    if (m.name === "QuotedLabelName") {
      metric = labelNameText(source, m);
      continue;
    }
    if (m.name !== "UnquotedLabelMatcher" && m.name !== "QuotedLabelMatcher") continue;
    const nameNode = m.getChild("LabelName") ?? m.getChild("QuotedLabelName");
    const op = m.getChild("MatchOp")?.firstChild?.name;
    const value = m.getChild("StringLiteral");
    if (nameNode && labelNameText(source, nameNode) === "__name__" && op === "EqlSingle" && value) {
      metric = JSON.parse(source.slice(value.from, value.to)) as string;
    } else {
      matchers.push(source.slice(m.from, m.to));
    }
  }
  return { node, metric, matchers };
}

/** Every vector selector of a (Grafana-substituted) PromQL expression. */
export function selectorsIn(expr: string): SelectorInfo[] {
  return descendants(parsePromql(expr), "VectorSelector").map((n) => selectorInfo(expr, n));
}

/** The metric names an expression reads; a selector without a name is an error (it would read everything). */
export function metricNamesIn(expr: string): Set<string> {
  const names = new Set<string>();
  for (const s of selectorsIn(expr)) {
    if (s.metric === undefined) throw new Error(`selector without a metric name in ${JSON.stringify(expr)}`);
    names.add(s.metric);
  }
  return names;
}

// ---------------------------------------------------------------------------
// The stack's queries

export interface DashboardTarget {
  expr: string;
  refId: string;
  instant: boolean;
}

export interface DashboardPanel {
  dashboard: DashboardKey;
  title: string;
  type: string;
  targets: DashboardTarget[];
}

interface BuiltTarget {
  expr?: string;
  refId?: string;
  instant?: boolean;
}

const isRow = (p: Panel | RowPanel): p is RowPanel => p.type === "row";

/** The panels of built dashboards with their targets, exactly as the dashboard JSON holds them. */
export function dashboardPanels(dashboards: Record<DashboardKey, Dashboard>): DashboardPanel[] {
  return (Object.entries(dashboards) as [DashboardKey, Dashboard][]).flatMap(([dashboard, d]) =>
    (d.panels ?? [])
      .flatMap((p) => (isRow(p) ? (p.panels ?? []) : [p]))
      .map((p) => ({
        dashboard,
        title: p.title ?? "(untitled)",
        type: p.type,
        targets: ((p.targets ?? []) as unknown as BuiltTarget[]).map((t, i) => {
          if (!t.expr) throw new Error(`panel ${JSON.stringify(p.title)} of ${dashboard} has a target without expr`);
          return { expr: t.expr, refId: t.refId ?? String(i), instant: t.instant === true };
        }),
      })),
  );
}

export interface StackQuery {
  /** `dashboard <key>: <panel title>`, `alert <name>` or `rule <record>`. */
  origin: string;
  /** As sent to Prometheus (variables at All, macros substituted). */
  expr: string;
}

/** Macros for the static reading of queries; the durations do not change which series are read. */
const readingMacros: GrafanaMacros = { rateInterval: "1m", range: "6h", interval: "30s" };

/** Every query the stack runs: dashboard targets, alert expressions and recording-rule expressions. */
export function stackQueries(ctx: DashboardContext = benchContext): StackQuery[] {
  const panels = dashboardPanels(buildDashboards(ctx)).flatMap((p) =>
    p.targets.map((t) => ({ origin: `dashboard ${p.dashboard}: ${p.title} (${t.refId})`, expr: grafanaToPromql(t.expr, readingMacros) })),
  );
  const alerts = alertCatalog(ctx).map((a) => ({ origin: `alert ${a.name}`, expr: a.expr }));
  const rules = recordingRules(ctx.scrapeIntervalSeconds).map((r) => ({ origin: `rule ${r.record}`, expr: r.expr }));
  return [...panels, ...alerts, ...rules];
}

// ---------------------------------------------------------------------------
// Section A computations

/**
 * Series one GPU (or MIG instance) exports for a counters list: one per
 * gauge or counter field. A `label` field adds a label to the others, not a
 * series; histogram and summary fields are valid CSV but no list here has one
 * and their series count depends on buckets, so they are refused.
 */
export function seriesPerGpu(fields: readonly { name: string; type: DcgmFieldType }[]): number {
  let series = 0;
  for (const f of fields) {
    if (f.type === "gauge" || f.type === "counter") series += 1;
    else if (f.type !== "label") throw new Error(`${f.name}: ${f.type} fields are not counted (none is expected in a counters list)`);
  }
  return series;
}

export interface DefaultListComparison {
  key: string;
  source: string;
  fields: DcgmCounterLine[];
  seriesPerGpu: number;
  labelFields: string[];
  /** Fields of the stack's list that this default list lacks. */
  onlyInStack: string[];
  /** Series-producing fields of this default list that the stack does not collect. */
  onlyInDefault: string[];
}

export interface FieldReaders {
  field: string;
  readers: string[];
}

export interface DcgmReport {
  stackFields: CounterField[];
  stackSeriesPerGpu: number;
  defaults: DefaultListComparison[];
  queriesParsed: number;
  /** Each collected field with the queries that read it. */
  reads: FieldReaders[];
  unread: string[];
  /** Share of collected fields read by at least one query, 0–1. */
  readShare: number;
  /** DCGM fields the queries read that the stack does not collect (they would return nothing). */
  readButNotCollected: string[];
}

export function dcgmReport(ctx: DashboardContext = benchContext): DcgmReport {
  const stackFields = contractDcgmFields();
  const stackNames = new Set(stackFields.map((f) => f.name as string));
  const queries = stackQueries(ctx);
  const readersOf = new Map<string, string[]>();
  for (const q of queries) {
    for (const name of metricNamesIn(q.expr)) readersOf.set(name, [...(readersOf.get(name) ?? []), q.origin]);
  }
  const reads = stackFields.map((f) => ({ field: f.name as string, readers: readersOf.get(f.name) ?? [] }));
  const unread = reads.filter((r) => r.readers.length === 0).map((r) => r.field);
  const defaults = dcgmDefaultLists.map((list): DefaultListComparison => {
    const fields = parseDcgmCounters(list.csv);
    const names = new Set(fields.map((f) => f.name));
    return {
      key: list.key,
      source: list.source,
      fields,
      seriesPerGpu: seriesPerGpu(fields),
      labelFields: fields.filter((f) => f.type === "label").map((f) => f.name),
      onlyInStack: [...stackNames].filter((n) => !names.has(n)),
      onlyInDefault: fields.filter((f) => f.type !== "label" && !stackNames.has(f.name)).map((f) => f.name),
    };
  });
  return {
    stackFields,
    stackSeriesPerGpu: seriesPerGpu(stackFields),
    defaults,
    queriesParsed: queries.length,
    reads,
    unread,
    readShare: stackFields.length === 0 ? 1 : (stackFields.length - unread.length) / stackFields.length,
    readButNotCollected: [...readersOf.keys()].filter((n) => /^DCGM_/.test(n) && !stackNames.has(n)).sort(),
  };
}

export function printDcgmReport(r: DcgmReport): void {
  console.log("DCGM series per GPU (one series per gauge/counter field; `label` fields add labels, not series)");
  console.log(`${"counters list".padEnd(24)}${"fields".padStart(8)}${"series/GPU".padStart(12)}${"per 1,024 GPUs".padStart(16)}`);
  const row = (name: string, fields: number, series: number) =>
    console.log(`${name.padEnd(24)}${String(fields).padStart(8)}${String(series).padStart(12)}${(series * 1024).toLocaleString("en-US").padStart(16)}`);
  row("stack (contract)", r.stackFields.length, r.stackSeriesPerGpu);
  for (const d of r.defaults) row(d.key, d.fields.length, d.seriesPerGpu);
  for (const d of r.defaults) {
    console.log(`  vs ${d.key} (${d.source}):`);
    console.log(`    stack series/GPU = ${((100 * r.stackSeriesPerGpu) / d.seriesPerGpu).toFixed(0)}% of the default's${d.labelFields.length > 0 ? `; default's label fields: ${d.labelFields.join(", ")}` : ""}`);
    console.log(`    collected by the stack only (${d.onlyInStack.length}): ${d.onlyInStack.join(", ") || "none"}`);
    console.log(`    in the default only, not collected (${d.onlyInDefault.length}): ${d.onlyInDefault.join(", ") || "none"}`);
  }
  console.log("");
  const read = r.stackFields.length - r.unread.length;
  console.log(`Collected DCGM fields read by a panel, alert or recording rule (${r.queriesParsed} queries parsed with lezer-promql):`);
  console.log(`  ${read}/${r.stackFields.length} = ${(100 * r.readShare).toFixed(0)}%${r.unread.length > 0 ? `; collected but unread: ${r.unread.join(", ")}` : "; none collected but unread"}`);
  for (const f of r.reads) console.log(`  ${f.field.padEnd(32)} ${f.readers.length} reader(s): ${f.readers.slice(0, 2).join("; ")}${f.readers.length > 2 ? "; …" : ""}`);
  if (r.readButNotCollected.length > 0) console.log(`  read but NOT collected (would return nothing): ${r.readButNotCollected.join(", ")}`);
}

export function runDcgmSection(): DcgmReport {
  const report = dcgmReport();
  printDcgmReport(report);
  return report;
}
