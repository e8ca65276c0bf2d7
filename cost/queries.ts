/**
 * Samples a query processes, estimated from its selectors: each selector's
 * series, times the samples a range over it holds (`[5m]` at a 30 s scrape:
 * 10), times the subquery steps around it, times the steps of the query.
 * This is what AMP bills queries by (query samples processed) and what a
 * dashboard load or a rule evaluation costs Prometheus. Read with
 * Prometheus' own grammar.
 */
import { durationSeconds } from "../lib/duration";
import { descendants, matchesNothing, parsePromql, selectorInfo, type SyntaxNode } from "../lib/promql";

function durationsOf(node: SyntaxNode, source: string): number[] {
  return node.getChildren("DurationExpr").map((d) => durationSeconds(source.slice(d.from, d.to)));
}

/**
 * Samples one evaluation of `expr` reads: per selector, its series (from
 * `seriesOf`, 0 for a name it does not know) times the samples in each range
 * around it (the range over the interval its series are written at); a
 * selector that can match no series (`matchesNothing`) reads none.
 */
export function querySamples(expr: string, seriesOf: (metric: string) => number, sampleIntervalSeconds: number): number {
  let total = 0;
  for (const node of descendants(parsePromql(expr), "VectorSelector")) {
    const selector = selectorInfo(expr, node);
    // The off side of a switch between a coarse and a fine series (`coarseAtAll`) reads nothing.
    if (matchesNothing(selector)) continue;
    let samples = seriesOf(selector.metric ?? "");
    for (let up = node.parent; up; up = up.parent) {
      if (up.name === "MatrixSelector") {
        const [range] = durationsOf(up, expr);
        samples *= Math.max(1, (range ?? 0) / sampleIntervalSeconds);
      } else if (up.name === "SubqueryExpr") {
        const [range, step] = durationsOf(up, expr);
        samples *= Math.max(1, (range ?? 0) / (step ?? sampleIntervalSeconds));
      }
    }
    total += samples;
  }
  return total;
}

export interface PanelQuery {
  expr: string;
  instant: boolean;
}

/** Samples one load of `queries` reads: range queries at `steps` points, instant queries once. */
export function loadSamples(queries: readonly PanelQuery[], seriesOf: (metric: string) => number, sampleIntervalSeconds: number, steps: number): number {
  return queries.reduce((sum, q) => sum + querySamples(q.expr, seriesOf, sampleIntervalSeconds) * (q.instant ? 1 : steps), 0);
}
