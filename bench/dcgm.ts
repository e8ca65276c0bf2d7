/**
 * The DCGM section of `npm run bench`: what the stack's DCGM counters cost
 * per GPU, against dcgm-exporter's own default lists, and whether every
 * field it collects is read by something. Pure and fast: no Prometheus, no
 * timing. "Read" is decided by Prometheus' own PromQL grammar over every
 * query the stack runs (bench/context.ts stackQueries).
 */
import { contractDcgmFields, type CounterField } from "../components/dcgmCounters";
import type { DashboardContext } from "../dashboards/context";
import { metricNamesIn } from "../lib/promql";
import { dcgmDefaultLists, parseDcgmCounters, type DcgmCounterLine, type DcgmFieldType } from "../verify/dcgmDefaults";
import { benchContext, stackQueries } from "./context";

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

/** The DCGM report as text. */
export function formatDcgmReport(r: DcgmReport): string {
  const out: string[] = [];
  const log = (line: string) => out.push(line);
  log("DCGM series per GPU (one series per gauge/counter field; `label` fields add labels, not series)");
  log(`${"counters list".padEnd(24)}${"fields".padStart(8)}${"series/GPU".padStart(12)}${"per 1,024 GPUs".padStart(16)}`);
  const row = (name: string, fields: number, series: number) =>
    log(`${name.padEnd(24)}${String(fields).padStart(8)}${String(series).padStart(12)}${(series * 1024).toLocaleString("en-US").padStart(16)}`);
  row("stack (contract)", r.stackFields.length, r.stackSeriesPerGpu);
  for (const d of r.defaults) row(d.key, d.fields.length, d.seriesPerGpu);
  for (const d of r.defaults) {
    log(`  vs ${d.key} (${d.source}):`);
    log(
      `    stack series/GPU = ${((100 * r.stackSeriesPerGpu) / d.seriesPerGpu).toFixed(0)}% of the default's${d.labelFields.length > 0 ? `; default's label fields: ${d.labelFields.join(", ")}` : ""}`,
    );
    log(`    collected by the stack only (${d.onlyInStack.length}): ${d.onlyInStack.join(", ") || "none"}`);
    log(`    in the default only, not collected (${d.onlyInDefault.length}): ${d.onlyInDefault.join(", ") || "none"}`);
  }
  log("");
  const read = r.stackFields.length - r.unread.length;
  log(`Collected DCGM fields read by a panel, alert or recording rule (${r.queriesParsed} queries parsed with lezer-promql):`);
  log(
    `  ${read}/${r.stackFields.length} = ${(100 * r.readShare).toFixed(0)}%${r.unread.length > 0 ? `; collected but unread: ${r.unread.join(", ")}` : "; none collected but unread"}`,
  );
  for (const f of r.reads) log(`  ${f.field.padEnd(32)} ${f.readers.length} reader(s): ${f.readers.slice(0, 2).join("; ")}${f.readers.length > 2 ? "; …" : ""}`);
  if (r.readButNotCollected.length > 0) log(`  read but NOT collected (would return nothing): ${r.readButNotCollected.join(", ")}`);
  return out.join("\n");
}
