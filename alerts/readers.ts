/**
 * Who reads each contract metric: the alerts, dashboard panels and dashboard
 * variables whose queries select it, directly or through recording rules.
 * The contract-metric absence alert names them, and `verify` lists them, so an
 * operator sees what goes silent when a metric is missing.
 *
 * Names are found by scanning each query for the identifiers of a known
 * vocabulary (contract series and recorded series) outside string literals;
 * test/readers.test.ts checks the result against Prometheus' own grammar
 * (@prometheus-io/lezer-promql) on every query the stack runs.
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { dashboardTitles } from "../dashboards/context";
import { metrics, seriesNames, type MetricName } from "../monitoring/metrics";
import type { DashboardKey } from "../dashboards/seed";
import { panelsOf, targetsOf } from "../lib/dashboardJson";

export interface MetricReaders {
  alerts: string[];
  /** `<Dashboard> / <panel title>`, and `variable <name>` for the dashboards' variables. */
  panels: string[];
}

export interface ReaderSources {
  alerts: ReadonlyArray<{ name: string; expr: string }>;
  recording: ReadonlyArray<{ record: string; expr: string }>;
  dashboards: Readonly<Record<DashboardKey, Dashboard>>;
}

/** PromQL string literals: double- or single-quoted (with escapes) and raw backtick strings. */
const stringLiteral = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;
const identifier = /[A-Za-z_:][A-Za-z0-9_:]*/g;

/** The names out of `vocabulary` that `expr` selects: identifiers outside string literals. */
export function namesIn(expr: string, vocabulary: ReadonlySet<string>): Set<string> {
  const code = expr.replace(stringLiteral, '""');
  return new Set([...code.matchAll(identifier)].map((m) => m[0]).filter((name) => vocabulary.has(name)));
}

/**
 * Every query a dashboard runs, named for people: panel targets as
 * `<Dashboard> / <panel>`, and variable queries as `variable <name>` (every
 * dashboard has the same variables).
 */
export function dashboardQueries(dashboards: Readonly<Record<DashboardKey, Dashboard>>): Array<{ reader: string; expr: string }> {
  return (Object.entries(dashboards) as Array<[DashboardKey, Dashboard]>).flatMap(([key, dashboard]) => {
    const title = dashboardTitles[key];
    const targets = panelsOf(dashboard).flatMap((p) => targetsOf(p).flatMap((t) => (t.expr ? [{ reader: `${title} / ${p.title ?? ""}`, expr: t.expr }] : [])));
    const variables = (dashboard.templating.list ?? []).flatMap((v) =>
      v.type === "query" && typeof v.query === "string" ? [{ reader: `variable ${v.name}`, expr: v.query }] : [],
    );
    return [...targets, ...variables];
  });
}

/** Series names (contract and recorded) each reader's queries select, directly or through recording rules. */
function readsBySource(sources: ReaderSources): { alerts: Map<string, Set<string>>; panels: Map<string, Set<string>> } {
  const contractSeries = (Object.keys(metrics) as MetricName[]).flatMap((m) => (metrics[m].type === "histogram" ? [`${m}_bucket`, `${m}_sum`, `${m}_count`] : [m]));
  const rules = new Map(sources.recording.map((r) => [r.record, r.expr]));
  const vocabulary = new Set([...contractSeries, ...rules.keys()]);
  const closure = new Map<string, Set<string>>();
  const seriesOf = (expr: string, seen: ReadonlySet<string> = new Set()): Set<string> => {
    const out = new Set<string>();
    for (const name of namesIn(expr, vocabulary)) {
      out.add(name);
      if (!rules.has(name)) continue;
      if (seen.has(name)) throw new Error(`recording rule ${name} reads itself`);
      let behind = closure.get(name);
      if (!behind) {
        behind = seriesOf(rules.get(name) as string, new Set([...seen, name]));
        closure.set(name, behind);
      }
      for (const n of behind) out.add(n);
    }
    return out;
  };
  const collect = (entries: ReadonlyArray<{ reader: string; expr: string }>) => {
    const map = new Map<string, Set<string>>();
    for (const { reader, expr } of entries) map.set(reader, new Set([...(map.get(reader) ?? []), ...seriesOf(expr)]));
    return map;
  };
  return { alerts: collect(sources.alerts.map((a) => ({ reader: a.name, expr: a.expr }))), panels: collect(dashboardQueries(sources.dashboards)) };
}

const readersOf = (reads: ReturnType<typeof readsBySource>, series: readonly string[]): MetricReaders => {
  const reading = (map: Map<string, Set<string>>) =>
    [...map.entries()]
      .filter(([, names]) => series.some((s) => names.has(s)))
      .map(([reader]) => reader)
      .sort();
  return { alerts: reading(reads.alerts), panels: reading(reads.panels) };
};

/** For every contract metric, the alerts and panels that read it; each list sorted, without repeats. */
export function contractReaders(sources: ReaderSources): Record<MetricName, MetricReaders> {
  const reads = readsBySource(sources);
  return Object.fromEntries((Object.keys(metrics) as MetricName[]).map((m) => [m, readersOf(reads, seriesNames(m))])) as Record<MetricName, MetricReaders>;
}

/** The alerts and panels that read any of `series` (contract or recorded names), directly or through recording rules. */
export function seriesReaders(sources: ReaderSources, series: readonly string[]): MetricReaders {
  return readersOf(readsBySource(sources), series);
}
