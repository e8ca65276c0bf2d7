/**
 * The review's cost and cardinality lines, base → head, from each render's
 * `cost.json` (cost/estimate.ts): monthly cost and active series at max
 * size, AMP's quota, each GPU pool whose bill at max moved, and the budget.
 */
import type { CostReport } from "../cost/estimate";
import { code } from "./text";

const usd = (n: number) => `$${Math.round(Math.abs(n)).toLocaleString("en-US")}`;
const signedUsd = (n: number) => `${n < 0 ? "-" : "+"}${usd(n)}`;

/** 1,234 under 10,000; 12.3 k under a million; 1.2 M above. */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${(a / 1e6).toFixed(1).replace(/\.0$/, "")} M`;
  if (a >= 1e4) return `${(a / 1e3).toFixed(1).replace(/\.0$/, "")} k`;
  return Math.round(a).toLocaleString("en-US");
}
const signed = (n: number) => `${n < 0 ? "-" : "+"}${compact(n)}`;

export interface CostReviewLines {
  /** One line for the top of the stack's review; absent when neither cost nor series moved. */
  summary?: string;
  lines: string[];
  attention: string[];
}

/**
 * What changed in cost and cardinality at max size. `baseRendered`: the base
 * renders the stack; if it has no cost.json (a render from before it was
 * written) the head's figures are shown alone, never as a rise from zero.
 */
export function costLines(base: CostReport | undefined, head: CostReport | undefined, baseRendered = base !== undefined): CostReviewLines {
  if (!head) return { lines: [], attention: [] };
  const seriesOf = (r: CostReport) => r.metrics.sizes.max.activeSeries;
  // From the whole dollars shown, so the change is the difference of the two figures beside it.
  const costDelta = Math.round(head.monthlyUsdAtMax) - Math.round(base?.monthlyUsdAtMax ?? 0);
  const seriesDelta = seriesOf(head) - (base ? seriesOf(base) : 0);
  const attention: string[] = [];
  if (head.budget.maxMonthlyCostUsd !== undefined && head.monthlyUsdAtMax > head.budget.maxMonthlyCostUsd) {
    attention.push(`over budget: ${usd(head.monthlyUsdAtMax)}/month at max size, budget ${usd(head.budget.maxMonthlyCostUsd)} (infermesh:budget.maxMonthlyCostUsd)`);
  }
  if (head.budget.maxActiveSeries !== undefined && seriesOf(head) > head.budget.maxActiveSeries) {
    attention.push(`over budget: ${compact(seriesOf(head))} active series at max size, budget ${compact(head.budget.maxActiveSeries)} (infermesh:budget.maxActiveSeries)`);
  }
  for (const f of head.findings.filter((x) => x.level === "error")) attention.push(`${code(f.path)}: ${f.message}`);
  if (base && Math.round(costDelta) === 0 && seriesDelta === 0) return { lines: [], attention };
  if (!base && baseRendered) {
    return {
      summary: `${usd(head.monthlyUsdAtMax)}/month at max size; ${compact(seriesOf(head))} active series (the base render has no cost.json to compare with)`,
      lines: [],
      attention,
    };
  }

  const amp = head.metrics.amp;
  const quota = amp ? `; AMP active-series quota ${compact(amp.activeSeriesQuota)}: ${amp.activeSeriesQuotaUsedPercent} % used` : "";
  const summary = `${signedUsd(costDelta)}/month at max size (${usd(base?.monthlyUsdAtMax ?? 0)} → ${usd(head.monthlyUsdAtMax)}); ${signed(seriesDelta)} active series (${compact(base ? seriesOf(base) : 0)} → ${compact(seriesOf(head))})${quota}`;

  const lines: string[] = [];
  const basePools = new Map((base?.compute.pools ?? []).map((p) => [p.pool, p]));
  const headPools = new Map(head.compute.pools.map((p) => [p.pool, p]));
  for (const name of [...new Set([...basePools.keys(), ...headPools.keys()])].sort()) {
    const a = basePools.get(name);
    const b = headPools.get(name);
    const at = (p: typeof a) => (p ? p.sizes.max.usd : 0);
    if (Math.round(at(b) - at(a)) === 0) continue;
    const shape = (p: NonNullable<typeof a>) => `${p.sizes.max.nodes} × ${p.instanceType} ${p.capacity}`;
    lines.push(`- pool ${code(name)}: ${a ? shape(a) : "(none)"} → ${b ? shape(b) : "(none)"} at max, ${signedUsd(at(b) - at(a))}/month (${usd(at(a))} → ${usd(at(b))})`);
  }
  const sources = Object.keys(head.metrics.sizes.max.bySource) as Array<keyof CostReport["metrics"]["sizes"]["max"]["bySource"]>;
  for (const s of sources) {
    const before = base?.metrics.sizes.max.bySource[s] ?? 0;
    const after = head.metrics.sizes.max.bySource[s];
    if (after !== before) lines.push(`- series from ${s}: ${compact(before)} → ${compact(after)} (${signed(after - before)})`);
  }
  if (amp && base?.metrics.amp) lines.push(`- AMP: ${usd(base.metrics.amp.monthlyUsd)} → ${usd(amp.monthlyUsd)}/month (ingestion, storage, queries)`);
  lines.push(`- prices of ${head.prices.takenOn} (cost/prices.ts); both sides at each pool's maximum size`);
  return { summary, lines, attention };
}
